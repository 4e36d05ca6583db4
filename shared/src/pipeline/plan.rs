//! Planning a file (`ccbulk plan`): every row validated, then read against the live instance and org in the run's
//! batches, and its verdict written to the plan CSV. Nothing is written to either side: a plan makes only the reads a
//! run makes before its writes, each paced as the run paces them.

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;

use std::sync::Mutex;

use futures_util::StreamExt;

use super::ingest::error_message;
use super::provision::{ChunkReport, Targets, let_go, salesforce_users};
use crate::domain::{Action, SalesforceUser, UserRow};
use crate::format::{Dialect, FileError};
use crate::job::{ChunkMessage, JobStore, RowOutcome, RowRecord, RowStatus, StoreError};
use crate::plan::{Allowance, Change, PlanCounts, PlanWriter, RowPlan, Verdict};
use crate::salesforce::{OrgReference, SalesforceSync, user_named};
use crate::validate::{Options, Setup, Source, Validator};

/// Amazon Connect's users per instance unless the account raised it (../shared/reference/amazon-connect.md,
/// "Quotas": "Users per instance: 500 by default (raisable)").
pub const DEFAULT_USERS_QUOTA: u64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("cannot write the plan: {0}")]
    Write(#[from] csv::Error),
}

/// What a plan of a whole file came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSummary {
    pub dialect: Dialect,
    pub setup: Setup,
    pub counts: PlanCounts,
    /// Rows that do not validate (counted in `counts.fail` too).
    pub invalid: u64,
    /// The first rows that would fail, and why.
    pub failures: Vec<(u64, String)>,
}

/// Rows that would fail a summary lists; the plan CSV has them all.
const FAILURES_KEPT: usize = 10;

/// Plans rows against the targets, batch after batch; the counts that rows use up (the instance's room for users,
/// the org's Voice seats) run across the batches in the file's order.
pub struct RowPlanner<'t> {
    targets: &'t Targets,
    setup: Setup,
    dialect: Dialect,
    /// The key the targets' per-job memos (directory, org reference) keep this plan's reads under.
    key: String,
    room: Allowance,
    seats: Allowance,
}

impl<'t> RowPlanner<'t> {
    pub fn new(targets: &'t Targets, setup: Setup, dialect: Dialect, key: String) -> Self {
        Self { targets, setup, dialect, key, room: Allowance::default(), seats: Allowance::default() }
    }

    /// One plan per row, in order.
    pub async fn plan(&self, rows: &[UserRow]) -> Vec<RowPlan> {
        let mut plans: Vec<RowPlan> = rows.iter().map(|row| RowPlan::new(row.row, row.action)).collect();
        let salesforce = self.salesforce(rows).await;
        for (plan, side) in plans.iter_mut().zip(salesforce) {
            plan.salesforce = side;
        }
        Self::note_creates(&mut plans);
        self.connect(rows, &mut plans).await;
        plans
    }

    async fn salesforce(&self, rows: &[UserRow]) -> Vec<Option<Change>> {
        let sides = salesforce_users(self.targets, self.dialect, rows.iter());
        let wanted: Vec<(Action, &SalesforceUser)> =
            rows.iter().zip(&sides).filter_map(|(row, side)| side.as_deref().map(|s| (row.action, s))).collect();
        let planned: Vec<Change> = match &self.targets.salesforce {
            _ if wanted.is_empty() => Vec::new(),
            None => wanted.iter().map(|_| Change::Fail("no org is configured".into())).collect(),
            Some(target) => {
                let reference = target
                    .reference
                    .for_job(&self.key, || async { Ok::<_, std::convert::Infallible>(OrgReference::default()) })
                    .await;
                let Ok(reference) = reference;
                let provisioner = target.provisioner(&reference, self.setup.telephony_model, &[], target.voice_sync);
                match provisioner.plan(&wanted, &self.seats).await {
                    Ok(planned) => planned,
                    Err(err) => wanted.iter().map(|_| Change::Fail(err.message.clone())).collect(),
                }
            }
        };
        let mut planned = planned.into_iter();
        sides.iter().map(|side| side.as_ref().and_then(|_| planned.next())).collect()
    }

    /// What the admin should know of a Salesforce create: no API tells a username taken in another org.
    fn note_creates(plans: &mut [RowPlan]) {
        for plan in plans.iter_mut().filter(|p| p.salesforce == Some(Change::Create)) {
            plan.notes.push(USERNAME_ACROSS_ORGS.to_owned());
        }
    }

    /// The Connect side of each row, read several rows at once as the run reads them, then held against the
    /// instance's room in the file's order.
    async fn connect(&self, rows: &[UserRow], plans: &mut [RowPlan]) {
        let salesforce_makes = self.salesforce_makes_connect_users();
        let wanted: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].connect.is_some()).collect();
        if wanted.is_empty() {
            return;
        }
        let Some(target) = &self.targets.connect else {
            for i in wanted {
                plans[i].connect = Some(Change::Fail("no instance is configured".into()));
            }
            return;
        };
        let provisioner = target.provisioner(self.setup.identity_management);
        let directory = match target.directory(&self.key, rows.len() as u64).await {
            Ok(directory) => directory,
            Err(err) => {
                for i in wanted {
                    plans[i].connect = Some(Change::Fail(err.message.clone()));
                }
                return;
            }
        };
        // Boxed as Send: the rows' futures borrow the planner, and a chunk's future must stay Send for the workers
        // that spawn it.
        let planned: Vec<Pin<Box<dyn Future<Output = Option<Change>> + Send + '_>>> = wanted
            .iter()
            .map(|&i| {
                let row = &rows[i];
                let (provisioner, directory) = (&provisioner, &*directory);
                Box::pin(async move {
                    let user = row.connect.as_ref()?;
                    let username = user.username.as_deref()?;
                    Some(provisioner.plan(directory, row.action, username, user).await)
                }) as Pin<Box<dyn Future<Output = Option<Change>> + Send + '_>>
            })
            .collect();
        let mut planned = futures_util::stream::iter(planned).buffered(target.pacer.reads_in_flight());
        let mut changes = Vec::with_capacity(wanted.len());
        while let Some(change) = planned.next().await {
            changes.push(change);
        }
        drop(planned);
        if changes.iter().any(|c| matches!(c, Some(Change::Create | Change::Remove))) && !self.room.is_read() {
            let count = provisioner.user_count().await;
            self.room.set(count.ok().map(|users| target.users_quota.saturating_sub(users)));
        }
        for (i, change) in wanted.into_iter().zip(changes) {
            plans[i].connect = match change {
                // A bulkop row's Connect user goes by the Salesforce user's name, known once Salesforce has it.
                None => {
                    plans[i].notes.push(connect_made_by_salesforce(salesforce_makes));
                    None
                }
                Some(Change::Create) if salesforce_makes => {
                    plans[i].notes.push(connect_made_by_salesforce(true));
                    Some(Change::Create)
                }
                // A run works a row's Connect side only once its Salesforce side went through: a row failing there
                // takes no room.
                Some(Change::Create) if matches!(plans[i].salesforce, Some(Change::Fail(_))) => Some(Change::Create),
                Some(Change::Create) if !self.room.take() => Some(Change::Fail(quota_full(target.users_quota))),
                Some(Change::Remove) if !matches!(plans[i].salesforce, Some(Change::Fail(_))) => {
                    self.room.give();
                    Some(Change::Remove)
                }
                other => other,
            };
        }
    }

    /// Whether Salesforce makes the Connect users of this plan's rows (Service Cloud Voice), which ccbulk adopts.
    fn salesforce_makes_connect_users(&self) -> bool {
        self.targets
            .salesforce
            .as_ref()
            .is_some_and(|target| target.voice_sync || target.sync.for_job(self.dialect) == SalesforceSync::Bulkop)
    }
}

fn connect_made_by_salesforce(salesforce_makes: bool) -> String {
    if salesforce_makes {
        "Amazon Connect: Salesforce makes the user (Service Cloud Voice) and ccbulk brings it to the row's settings"
            .into()
    } else {
        "Amazon Connect: the username is the Salesforce user's, known once Salesforce has the user".into()
    }
}

/// Salesforce usernames are unique across every org (../shared/reference/salesforce-rest.md, "Records"), and no read
/// tells whether another org holds one: only the create finds out (DUPLICATE_USERNAME).
const USERNAME_ACROSS_ORGS: &str =
    "Salesforce: the username is free in this org; whether another org holds it shows only when the user is created";

fn quota_full(quota: u64) -> String {
    format!(
        "the instance would hold more users than its quota of {quota} (counting the rows above): raise \"Users per \
         instance\" in Service Quotas (and users_quota in the config with it), or remove users first"
    )
}

/// Plans the file `source` against `targets` and writes the plan CSV to `out`, row by row in the file's order.
pub async fn plan_file<W: Write>(
    source: &(impl Source + ?Sized),
    options: &Options,
    targets: &Targets,
    out: W,
) -> Result<(PlanSummary, W), PlanError> {
    let (mut validator, mut reader) = Validator::prepare(source, options)?;
    let dialect = validator.header().dialect();
    let setup = validator.setup();
    let batch_rows = options.chunk_rows_for(dialect).clamp(1, 200) as usize;
    let planner = RowPlanner::new(targets, setup, dialect, format!("plan-{}", std::process::id()));
    let mut writer = PlanWriter::new(out)?;
    let mut summary = PlanSummary { dialect, setup, counts: PlanCounts::default(), invalid: 0, failures: Vec::new() };
    let mut waiting: VecDeque<Result<UserRow, (u64, String)>> = VecDeque::new();
    let mut valid_waiting = 0;
    loop {
        let record = reader.next_record()?;
        if let Some(record) = &record {
            match validator.check(record) {
                Ok(row) => {
                    valid_waiting += 1;
                    waiting.push_back(Ok(row));
                }
                Err(errors) => waiting.push_back(Err((record.row, error_message(&errors)))),
            }
        }
        if valid_waiting >= batch_rows || (record.is_none() && !waiting.is_empty()) {
            flush(&planner, &mut waiting, &mut writer, &mut summary).await?;
            valid_waiting = 0;
        }
        if record.is_none() {
            break;
        }
    }
    if summary.counts.total() == 0 {
        return Err(FileError::NoRows.into());
    }
    Ok((summary, writer.finish()?))
}

/// Plans the waiting valid rows in one batch, then writes every waiting row in order.
async fn flush<W: Write>(
    planner: &RowPlanner<'_>,
    waiting: &mut VecDeque<Result<UserRow, (u64, String)>>,
    writer: &mut PlanWriter<W>,
    summary: &mut PlanSummary,
) -> Result<(), PlanError> {
    let rows: Vec<UserRow> = waiting.iter().filter_map(|w| w.as_ref().ok().cloned()).collect();
    let mut plans = planner.plan(&rows).await.into_iter();
    for entry in waiting.drain(..) {
        match entry {
            Ok(row) => {
                let plan = plans.next().unwrap_or_else(|| RowPlan::failed(row.row, row.action, "not planned".into()));
                summary.counts.add(plan.verdict());
                if let (Some(reason), true) = (plan.reason(), summary.failures.len() < FAILURES_KEPT) {
                    summary.failures.push((plan.row, reason));
                }
                writer.row(username(&row), &plan)?;
            }
            Err((row, reasons)) => {
                summary.counts.add(Verdict::Fail);
                summary.invalid += 1;
                if summary.failures.len() < FAILURES_KEPT {
                    summary.failures.push((row, format!("invalid: {reasons}")));
                }
                writer.invalid(row, &reasons)?;
            }
        }
    }
    Ok(())
}

/// The name a plan line goes by: the Connect username, or else how the row names its Salesforce user.
fn username(row: &UserRow) -> Option<&str> {
    row.connect
        .as_ref()
        .and_then(|c| c.username.as_deref())
        .or_else(|| row.salesforce.as_ref().map(|s| user_named(&s.user)))
}

/// A plan job's chunk: each started row gets its verdict, recorded as its outcome. A row that would go through ends
/// SUCCEEDED, one that would fail FAILED with the reason; the verdict per side is the row's note, which the report
/// shows. Nothing is written to either target.
pub(super) async fn finish_planned<S: JobStore>(
    store: &S,
    targets: &Targets,
    message: &ChunkMessage,
    work: &[(UserRow, RowRecord)],
    owner: &str,
    held: &Mutex<Vec<u64>>,
    report: &mut ChunkReport,
) -> Result<(), StoreError> {
    // Seats and room are counted within the chunk: chunks are planned apart, each against the targets as they are.
    let planner = RowPlanner::new(targets, message.setup, message.header.dialect(), message.job_id.to_string());
    let rows: Vec<UserRow> = work.iter().map(|(row, _)| row.clone()).collect();
    for plan in planner.plan(&rows).await {
        let verdict = plan.verdict();
        let status = if verdict == Verdict::Fail { RowStatus::Failed } else { RowStatus::Succeeded };
        let outcome =
            RowOutcome { error_message: plan.reason(), note: Some(plan_note(&plan)), ..RowOutcome::default() };
        tracing::info!(job = %message.job_id, row = plan.row, action = plan.action.as_str(), plan = verdict.as_str(), "row");
        let finished = store.finish_row_unsettled(&message.job_id, plan.row, status, &outcome, owner).await?;
        let_go(held, plan.row);
        match (finished, status) {
            (false, _) => report.skipped += 1,
            (true, RowStatus::Succeeded) => report.succeeded += 1,
            (true, _) => report.failed += 1,
        }
    }
    Ok(())
}

/// A planned row's note: its verdict, each side's change, and what the admin should know.
pub fn plan_note(plan: &RowPlan) -> String {
    let side = |change: &Option<Change>| match change {
        Some(Change::Fail(_)) => Some(Verdict::Fail.as_str().to_owned()),
        Some(change) => Some(change.to_string()),
        None => None,
    };
    let mut parts = vec![format!("plan: {}", plan.verdict().as_str())];
    parts.extend(side(&plan.connect).map(|c| format!("Amazon Connect: {c}")));
    parts.extend(side(&plan.salesforce).map(|c| format!("Salesforce: {c}")));
    parts.extend(plan.notes.iter().cloned());
    parts.join("; ")
}
