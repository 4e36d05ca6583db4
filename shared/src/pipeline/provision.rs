//! Provisioning a chunk (DESIGN §7): every row once, whatever the delivery count. Each row is started in the job
//! store (a row already done is skipped), its Salesforce side is done for the whole chunk in batched calls, then its
//! Connect side, and it is finished SUCCEEDED or FAILED with a message naming the system and its reason. A failure
//! worth retrying (throttle past the SDK's retries, 5xx, network) leaves the row IN_PROGRESS for the next delivery
//! of the chunk, until its attempts run out.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_connect::Client as ConnectClient;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::OnceCell;

use super::objects::{ObjectError, ObjectStore};
use crate::connect::{ConnectOutcome, ConnectProvisioner, Directory, Pacer, ProvisionError, RowPermit};
use crate::domain::{
    Action, ConnectUser, ContactCenterRef, IdentityManagement, ResourceRef, SalesforceUser, SalesforceUserFields,
    SalesforceUserRef, TelephonyModel, UserRow, VoiceRole,
};
use crate::format::Dialect;
use crate::job::{
    BulkJob, ChunkMessage, EmailChange, JobId, JobKind, JobMemo, JobState, JobStore, Lease, Reading, Release,
    RowOutcome, RowRecord, RowStart, RowStatus, SalesforceAllocation, StoreError, now_epoch, take_or_claim,
};
use crate::salesforce::{
    AliasChange, BulkOp, BulkopProvisioner, EmailConfirmation, FOLLOW_FOR, Followed, JobProgress, OrgReference,
    SHARED_REFERENCE, SalesforceClient, SalesforceDefaults, SalesforceError, SalesforceOutcome, SalesforceProvisioner,
    SalesforceSync,
};
use crate::sfid::{CALL_CENTER_PREFIX, SalesforceId};
use crate::undo::UndoImage;

use super::ingest::error_message;

/// The Amazon Connect instance rows go to.
pub struct ConnectTarget {
    pub client: ConnectClient,
    pub instance_id: String,
    pub pacer: Pacer,
    /// The instance's "Users per instance" quota, which a plan holds its creates against.
    pub users_quota: u64,
    /// The instance's names, read once per job.
    pub(super) directories: JobMemo<Directory>,
}

impl ConnectTarget {
    pub fn new(client: ConnectClient, instance_id: impl Into<String>, pacer: Pacer) -> Self {
        Self {
            client,
            instance_id: instance_id.into(),
            pacer,
            users_quota: super::plan::DEFAULT_USERS_QUOTA,
            directories: JobMemo::default(),
        }
    }

    pub fn with_users_quota(mut self, quota: u64) -> Self {
        self.users_quota = quota;
        self
    }

    /// This instance's provisioner, for rows of an instance that manages identities as `identity`.
    pub(super) fn provisioner(&self, identity: IdentityManagement) -> ConnectProvisioner<'_> {
        ConnectProvisioner { client: &self.client, instance_id: &self.instance_id, identity, pacer: &self.pacer }
    }

    /// The instance's names for the job (or plan, or undo) `key`, read once however many chunks and rows ask; `rows`
    /// is the job's size, which picks how its users are found.
    pub(super) async fn directory(&self, key: &str, rows: u64) -> Result<Arc<Directory>, ProvisionError> {
        self.directories
            .for_job(key, || Box::pin(Directory::load_for(&self.client, &self.instance_id, &self.pacer, rows)))
            .await
    }
}

/// The Salesforce org rows go to.
pub struct SalesforceTarget {
    pub client: SalesforceClient,
    pub defaults: SalesforceDefaults,
    /// The Salesforce side of Connect-template rows, which carry none; `None`: such rows have no Salesforce side.
    pub implied: Option<ImpliedSalesforce>,
    pub alias_change: AliasChange,
    pub sync: SalesforceSync,
    /// The org makes its members' Connect users itself (Service Cloud Voice with Amazon Connect): in direct mode
    /// ccbulk waits for each and adopts it, and never creates one.
    pub voice_sync: bool,
    /// The org's reference records, read once per job (start with the default: nothing read).
    pub reference: JobMemo<OrgReference>,
}

impl SalesforceTarget {
    /// This org's provisioner for a job's rows: its reference records, its telephony, the email changes that wait.
    pub(super) fn provisioner<'a>(
        &'a self,
        reference: &'a OrgReference,
        telephony: TelephonyModel,
        email_changes: &'a [EmailChange],
        voice_sync: bool,
    ) -> SalesforceProvisioner<'a> {
        SalesforceProvisioner {
            reference,
            client: &self.client,
            telephony,
            defaults: &self.defaults,
            email_changes,
            alias_change: self.alias_change,
            voice_sync,
        }
    }
}

/// What a Connect-template row gets in Salesforce when the deployment says so: the user whose username is the
/// Connect username (an email form, as under SAML single sign-on) or else the row's email, found or created with
/// the row's names and email, put in this contact center with this role's Voice permission set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpliedSalesforce {
    pub contact_center: ContactCenterRef,
    pub role: Option<VoiceRole>,
}

/// Which setting of [`ImpliedSalesforce`] is wrong, so that each front end names its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImpliedSetting {
    ContactCenter,
    Role,
}

impl ImpliedSalesforce {
    /// From the settings as an admin writes them: a contact center's name or `04v` Id, and a role name.
    pub fn from_settings(contact_center: &str, role: Option<&str>) -> Result<Self, (ImpliedSetting, String)> {
        let center = contact_center.trim();
        if center.is_empty() {
            return Err((ImpliedSetting::ContactCenter, "is empty; give a contact center's name or Id".into()));
        }
        let contact_center = match SalesforceId::parse(center) {
            Ok(id) if id.as_str().starts_with(CALL_CENTER_PREFIX) => ContactCenterRef::Id(id),
            _ => ContactCenterRef::Name(center.to_owned()),
        };
        let role = role
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| {
                VoiceRole::parse(r).ok_or_else(|| {
                    (ImpliedSetting::Role, format!("{r:?} is not one of Admin, Agent, CallCenterManager (Supervisor)"))
                })
            })
            .transpose()?;
        Ok(Self { contact_center, role })
    }

    fn user_for(&self, row: &UserRow) -> Option<SalesforceUser> {
        let connect = row.connect.as_ref()?;
        let username = connect.username.as_ref()?;
        let salesforce_username =
            if username.contains('@') { username.clone() } else { connect.identity.email.clone()? };
        Some(SalesforceUser {
            bulkop_email: None,
            // Salesforce requires an email; a SAML file often has none but a username that is the address.
            fields: SalesforceUserFields {
                email: connect.identity.email.clone().or_else(|| Some(salesforce_username.clone())),
                first_name: connect.identity.first_name.clone(),
                last_name: connect.identity.last_name.clone(),
                ..SalesforceUserFields::default()
            },
            user: SalesforceUserRef::Username(salesforce_username),
            contact_center: Some(self.contact_center.clone()),
            role: self.role,
        })
    }
}

/// Where provisioning writes. A side left out fails the rows that need it, with a message saying so.
#[derive(Default)]
pub struct Targets {
    pub connect: Option<ConnectTarget>,
    pub salesforce: Option<SalesforceTarget>,
    /// Salesforce is configured but out of reach (`salesforce` is then `None`): the rows that need it wait.
    pub salesforce_out: Option<SalesforceOut>,
}

/// Why a configured Salesforce cannot be reached now (its secret unreadable, its sign-in refused), and the side it
/// would give Connect-template rows, so that those rows wait too instead of going on without it.
pub struct SalesforceOut {
    pub reason: String,
    pub implied: Option<ImpliedSalesforce>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts a row gets before a retryable failure becomes its outcome.
    pub max_attempts: u32,
    /// How long a worker's hold on its rows lasts unless renewed (it is renewed every third of it while the worker
    /// is alive): how long a row whose worker died waits before another delivery takes it over.
    pub lease: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, lease: Duration::from_secs(60) }
    }
}

/// What one delivery of a chunk did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkReport {
    pub succeeded: u32,
    pub failed: u32,
    /// Rows that needed no work (done by an earlier delivery).
    pub skipped: u32,
    /// Rows left for another delivery of the chunk.
    pub deferred: u32,
    /// Of those, rows another live delivery holds (their next look is worth making once it is over).
    pub held: u32,
    /// Of those, rows left untouched because the time ran out (the deadline, or a stop).
    pub out_of_time: u32,
    /// Why the whole chunk waits untouched for a limit that lifts by itself (the Salesforce org's API allocation
    /// spent); the job is marked paused meanwhile.
    pub paused: Option<String>,
    /// Why the last deferred row was deferred.
    pub retry_reason: Option<String>,
    /// The Salesforce bulk job the chunk's rows wait on, still being worked when the time ran out.
    pub waiting_on: Option<String>,
    /// When the chunk's next delivery is due, where Salesforce's bulk job is worth a look only then (it has been at
    /// work a long while); the job is marked paused meanwhile.
    pub look_again_in: Option<Duration>,
    /// The job's state after the chunk's last finished row.
    pub job_state: Option<JobState>,
}

impl ChunkReport {
    /// Whether the chunk must be delivered again.
    pub fn needs_redelivery(&self) -> bool {
        self.deferred > 0
    }

    /// Whether the chunk only ran out of time, having finished rows: it is worth going on with at once, and its
    /// next delivery is progress, not another failed attempt (a dead-letter queue counts receives, and a chunk
    /// worked a few rows at a time would otherwise end there with nothing wrong).
    pub fn ran_out_of_time_after_progress(&self) -> bool {
        self.out_of_time > 0
            && self.deferred == self.out_of_time
            && (self.succeeded + self.failed > 0 || self.waiting_on.is_some())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error(transparent)]
    Object(#[from] ObjectError),
    #[error("the chunk cannot be read: {0}")]
    File(#[from] crate::format::FileError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a row's attempt ended.
enum Verdict {
    Done(RowStatus, RowOutcome),
    /// Worth another attempt; the message says why, for when the attempts run out.
    Retry(String),
}

/// A failure of one system for one row.
#[derive(Clone)]
struct SideError {
    message: String,
    retryable: bool,
    /// A state of the whole org, not a fault of the row: the chunk pauses, and the job says why.
    pause: Option<String>,
}

impl SideError {
    fn of_row(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: false, pause: None }
    }

    /// Salesforce cannot be reached at all (its secret, or the sign-in): the row waits untouched.
    fn unreachable(reason: &str) -> Self {
        Self { message: format!("Salesforce: {reason}"), retryable: true, pause: Some(unreachable_pause(reason)) }
    }
}

/// Why a job (a provisioning job or an undo) waits on a Salesforce it cannot sign in to, for the job's summary.
pub fn unreachable_pause(reason: &str) -> String {
    format!(
        "{reason} (ccbulk cannot sign in to Salesforce: the rows that need it wait, untouched, and go on once it can; \
         check the connected app's secret and its integration user)"
    )
}

impl From<ProvisionError> for SideError {
    fn from(err: ProvisionError) -> Self {
        Self { message: err.to_string(), retryable: err.retryable, pause: None }
    }
}

impl From<SalesforceError> for SideError {
    fn from(err: SalesforceError) -> Self {
        let message = err.to_string();
        let pause = if err.allocation_spent() {
            Some(format!(
                "{message} (the org's API requests over the last 24 hours are used up: the rows wait and go on once \
                 Salesforce gives calls back)"
            ))
        } else if err.cannot_sign_in() {
            Some(unreachable_pause(&message))
        } else {
            None
        };
        Self { message, retryable: err.retryable, pause }
    }
}

pub async fn provision_chunk<S: JobStore, O: ObjectStore>(
    store: &S,
    objects: &O,
    targets: &Targets,
    message: &ChunkMessage,
    policy: RetryPolicy,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<ChunkReport, ChunkError> {
    let bytes = match objects.read_range(&message.object, message.chunk.range).await {
        Ok(bytes) => bytes,
        Err(err) => return moved_away(store, message).await?.ok_or(ChunkError::Object(err)),
    };
    let lease_seconds = policy.lease.as_secs().max(1);
    let lease = Lease::new(lease_seconds);
    let held = Mutex::new(Vec::new());
    let work = Box::pin(work_chunk(store, targets, message, policy, keep_going, bytes.as_slice(), &lease, &held));
    // The rows this delivery holds stay its own while it works them, however long the pacer makes that.
    let renew = async {
        loop {
            tokio::time::sleep(policy.lease / 3).await;
            let rows = held.lock().map(|rows| rows.clone()).unwrap_or_default();
            if !rows.is_empty()
                && let Err(err) = store.renew_rows(&message.job_id, &rows, &lease.renewed(lease_seconds)).await
            {
                tracing::warn!(chunk = message.chunk.index, error = %err, "could not renew the rows' lease");
            }
        }
    };
    let started = now_epoch();
    let result = tokio::select! {
        result = work => result,
        never = renew => never,
    };
    note_allocation(store, targets, &message.job_id, started).await;
    if result.is_err() {
        give_back(store, message, &lease, &held).await;
    }
    result
}

/// A chunk that failed half-way lets go of the rows it still holds, so that its next delivery (or another chunk's
/// worker) takes them at once rather than finding them held until the leases run out, which a renewing worker may
/// have stretched far. Each was tried, so the attempt counts; a row whose work was done before the failure is
/// adopted by the next attempt. A store that cannot take the release is the likely cause of the failure itself:
/// the leases then run out as before.
async fn give_back<S: JobStore>(store: &S, message: &ChunkMessage, lease: &Lease, held: &Mutex<Vec<u64>>) {
    let rows = held.lock().map(|rows| rows.clone()).unwrap_or_default();
    for row in rows {
        if let Err(err) = store.release_row(&message.job_id, row, &lease.owner, Release::AfterAttempt).await {
            tracing::warn!(chunk = message.chunk.index, row, error = %err, "could not let go of a row");
        }
    }
}

/// A delivery of a chunk whose file the job no longer reads: once a job ends, its upload is replaced by a copy
/// without passwords and deleted, and a retry sends its chunks anew from the copy. The rows of this message are
/// done, or in those chunks: nothing is left for it.
async fn moved_away<S: JobStore>(store: &S, message: &ChunkMessage) -> Result<Option<ChunkReport>, StoreError> {
    match store.job(&message.job_id).await? {
        Some(job) if *job.file() != message.object => {
            Ok(Some(ChunkReport { skipped: message.chunk.rows, job_state: Some(job.state), ..ChunkReport::default() }))
        }
        _ => Ok(None),
    }
}

/// Keeps with the job what the chunk's Salesforce answers said of the org's API allocation, for the job's summary.
/// A reading older than the chunk is another job's and is left out; a store that cannot keep it costs only the note.
async fn note_allocation<S: JobStore>(store: &S, targets: &Targets, job: &JobId, started: u64) {
    let Some((usage, seen_at)) = targets.salesforce.as_ref().and_then(|target| target.client.usage_seen()) else {
        return;
    };
    if seen_at < started {
        return;
    }
    let reading = SalesforceAllocation { used: usage.used, max: usage.max, seen_at };
    if let Err(err) = reading.note(store, job).await {
        tracing::warn!(error = %err, "could not keep the Salesforce allocation with the job");
    }
}

/// Marks a row done in `held` (finished or released).
pub(super) fn let_go(held: &Mutex<Vec<u64>>, row: u64) {
    if let Ok(mut rows) = held.lock() {
        rows.retain(|r| *r != row);
    }
}

#[allow(clippy::too_many_arguments)]
async fn work_chunk<S: JobStore>(
    store: &S,
    targets: &Targets,
    message: &ChunkMessage,
    policy: RetryPolicy,
    keep_going: &(dyn Fn() -> bool + Sync),
    bytes: &[u8],
    lease: &Lease,
    held: &Mutex<Vec<u64>>,
) -> Result<ChunkReport, ChunkError> {
    let owner = lease.owner.as_str();
    let mut report = ChunkReport::default();
    let mut work: Vec<(UserRow, RowRecord)> = Vec::new();
    // The rows' leases are taken together: one round trip each, at 200 rows a chunk, would hold the chunk's Connect
    // side back by as many round trips.
    let parsed = message.rows(bytes)?;
    let numbers: Vec<u64> = parsed.iter().filter_map(|parsed| parsed.as_ref().ok().map(|row| row.row)).collect();
    let mut starts = store.start_rows(&message.job_id, &numbers, lease).await?.into_iter();
    for parsed in parsed {
        match parsed {
            Ok(row) => match starts.next().ok_or_else(|| StoreError("a row's start went missing".into()))? {
                RowStart::Go(record) => {
                    held.lock().map_err(|_| StoreError("a worker panicked".into()))?.push(row.row);
                    work.push((row, *record));
                }
                RowStart::Done(_) => report.skipped += 1,
                RowStart::Held => {
                    report.deferred += 1;
                    report.held += 1;
                    report.retry_reason = Some(format!("row {} is being worked by another delivery", row.row));
                }
            },
            // The object is read at the version ingest validated, so this means the bytes changed under us.
            Err(errors) => {
                let row = errors.first().map_or(message.chunk.first_row, |e| e.row);
                let outcome = RowOutcome {
                    error_message: Some(format!("the row no longer validates: {}", error_message(&errors))),
                    ..RowOutcome::default()
                };
                if let RowStart::Go(_) = store.start_row(&message.job_id, row, lease).await?
                    && let Some(state) =
                        store.finish_row(&message.job_id, row, RowStatus::Failed, &outcome, owner).await?
                {
                    report.job_state = Some(state);
                    report.failed += 1;
                }
            }
        }
    }
    if work.is_empty() {
        // Every row was done or held: an earlier delivery may have finished the last of them without settling.
        report.job_state = Some(store.settle_job(&message.job_id).await?);
        return Ok(report);
    }
    if message.kind() == JobKind::Plan {
        super::plan::finish_planned(store, targets, message, &work, owner, held, &mut report).await?;
        report.job_state = Some(store.settle_job(&message.job_id).await?);
        return Ok(report);
    }

    // The Connect side's directory is loaded once, by whichever side needs it first (a bulk operation carries the
    // routing profile's ARN).
    let connect = ConnectSide::new(targets, message, job_rows(store, targets, message).await);
    // The directory is read while Salesforce works the chunk's rows, not after.
    let needs_quick_connects = work.iter().any(|(row, _)| {
        row.connect.as_ref().is_some_and(|c| c.quick_connect == Some(true) || row.action == Action::Remove)
    });
    let (sides, ()) =
        tokio::join!(Box::pin(salesforce_side(store, targets, message, &work, &connect, keep_going)), async {
            connect.preload(work.iter().any(|(row, _)| row.connect.is_some())).await;
            connect.preload_quick_connects(store, needs_quick_connects).await;
        });
    let Sides { rows: salesforce, waiting, watched, look_again_in } = sides?;
    if let Some(reason) = waiting {
        // A bulk job Salesforce takes long over is the job's visible state, not a loop of looks no one sees.
        if look_again_in.is_some() {
            store.pause_job(&message.job_id, &reason).await?;
        }
        report.retry_reason = Some(reason.clone());
        report.waiting_on = Some(reason);
        report.look_again_in = look_again_in;
    }
    // The org's API allocation is spent, or ccbulk cannot sign in: no row is at fault, and none is worked or
    // charged an attempt; the job says it is paused and why until a chunk gets through again.
    if let Some(reason) = salesforce.iter().find_map(|side| side.as_ref()?.as_ref().err()?.pause.clone()) {
        for (row, _) in &work {
            store.release_row(&message.job_id, row.row, owner, Release::Untried).await?;
            let_go(held, row.row);
            report.deferred += 1;
        }
        store.pause_job(&message.job_id, &reason).await?;
        report.retry_reason = Some(reason.clone());
        report.paused = Some(reason);
        return Ok(report);
    }
    // Salesforce answered for a row (none of the answers is a pause): whatever the job waited on is over.
    if salesforce.iter().any(|side| matches!(side, Some(Ok(Some(_)) | Err(_)))) {
        store.resume_job(&message.job_id).await?;
    }
    // Rows are worked several at once, as many as the Connect pacer finds it takes to spend the rate (each row waits
    // on its calls' answers); rows finish in any order.
    let connect = &connect;
    let pacer = targets.connect.as_ref().map(|c| &c.pacer);
    let mut pending = work.iter().zip(salesforce);
    let mut running = FuturesUnordered::new();
    let mut next = pending.next();
    loop {
        let ended = match next.take() {
            Some(item) => {
                let room = async {
                    match pacer {
                        Some(pacer) => Some(pacer.row_permit().await),
                        None => None,
                    }
                };
                tokio::select! {
                    biased;
                    ended = running.next(), if !running.is_empty() => {
                        next = Some(item);
                        ended
                    }
                    permit = room, if running.len() < MAX_ROWS_AT_ONCE => {
                        let ((row, record), salesforce) = item;
                        let started = work_row(store, connect, message, policy, keep_going, row, record, salesforce, owner, permit);
                        // Boxed: a row's future nests the whole Connect side, deeper than the compiler lays out
                        // inline within the chunk's.
                        running.push(Box::pin(started));
                        next = pending.next();
                        continue;
                    }
                }
            }
            None => running.next().await,
        };
        let Some(ended) = ended else { break };
        let (row, ended) = ended?;
        let_go(held, row);
        match ended {
            RowEnd::Finished(status) => match status {
                RowStatus::Succeeded => report.succeeded += 1,
                _ => report.failed += 1,
            },
            RowEnd::TakenOver => report.skipped += 1,
            RowEnd::Retry(reason) => {
                report.deferred += 1;
                report.retry_reason = Some(reason);
            }
            RowEnd::OutOfTime => {
                report.deferred += 1;
                report.out_of_time += 1;
            }
        }
    }
    // Rows left for lack of time after watching Salesforce work their job: the delivery made progress all the same.
    if report.out_of_time > 0 && report.waiting_on.is_none() {
        report.waiting_on = watched;
    }
    // Once for the chunk's rows, not once a row: the job's last chunk ends it.
    report.job_state = Some(store.settle_job(&message.job_id).await?);
    Ok(report)
}

/// Rows a chunk works at once when no Connect pacer sets the number (rows with a Salesforce side only).
const MAX_ROWS_AT_ONCE: usize = crate::connect::MAX_IN_FLIGHT;

/// How a row's turn in this delivery ended.
enum RowEnd {
    Finished(RowStatus),
    /// The lease ran out and another delivery took the row over: that one finishes it.
    TakenOver,
    /// Worth another attempt, for this reason.
    Retry(String),
    /// Left untried for the next delivery (time ran out, or Salesforce is still working its bulk job).
    OutOfTime,
}

/// Works one row's Connect side, now that its Salesforce side is known, and records how it ended.
#[allow(clippy::too_many_arguments)]
async fn work_row<S: JobStore>(
    store: &S,
    connect: &ConnectSide<'_>,
    message: &ChunkMessage,
    policy: RetryPolicy,
    keep_going: &(dyn Fn() -> bool + Sync),
    row: &UserRow,
    record: &RowRecord,
    salesforce: SideResult,
    owner: &str,
    room: Option<RowPermit<'_>>,
) -> Result<(u64, RowEnd), StoreError> {
    // Stopping (Ctrl-C, a Lambda's deadline) leaves the rest IN_PROGRESS for the next delivery, which reconciles them
    // like a crash's leftovers; so does a row whose Salesforce bulk job is still being worked, for the next delivery
    // to follow the same job. A row that has already failed is finished: that takes no call.
    let Some(salesforce) = salesforce.filter(|side| side.is_err() || keep_going()) else {
        store.release_row(&message.job_id, row.row, owner, Release::Untried).await?;
        return Ok((row.row, RowEnd::OutOfTime));
    };
    // In bulkop mode a row's Connect user is Salesforce's to make (Service Cloud Voice): ccbulk adopts it, by the
    // username only a bulk operation's outcome carries.
    let salesforce_makes_connect = row.connect.is_some()
        && row.action != Action::Remove
        && matches!(&salesforce, Ok(Some(outcome)) if outcome.voice_username.is_some());
    // What the Salesforce side did, kept for a row whose Connect side then fails for good: the row ends FAILED, and
    // undo puts the Salesforce half back all the same.
    let salesforce_half = match &salesforce {
        Ok(Some(outcome)) => outcome.image.clone().map(|image| (outcome.user_id.clone(), image)),
        _ => None,
    };
    let verdict = match salesforce {
        Err(err) => Err(err),
        Ok(salesforce) => Box::pin(connect.apply(row, salesforce.as_ref())).await.map(|connect| (salesforce, connect)),
    };
    // The room is for Connect calls in flight: the row's outcome is written while another row's calls go.
    drop(room);
    let verdict = match verdict {
        Ok((salesforce, connect)) => Verdict::Done(
            RowStatus::Succeeded,
            RowOutcome {
                error_message: None,
                note: salesforce.as_ref().and_then(|s| row_note(s, salesforce_makes_connect)),
                connect_user_id: connect.user.user_id,
                connect_user_arn: connect.user.user_arn,
                salesforce_user_id: salesforce.as_ref().map(|s| s.user_id.clone()),
                voice_provisioning_job_id: salesforce
                    .as_ref()
                    .and_then(|s| s.bulkop.as_ref())
                    .and_then(|b| b.voice_provisioning_job_id.clone()),
                undo: UndoImage {
                    connect: connect.user.image,
                    salesforce: salesforce.as_ref().and_then(|s| s.image.clone()),
                }
                .stored(),
                permission_set_assignment_id: salesforce.and_then(|s| s.permission_set_assignment_id),
                quick_connect_id: connect.quick_connect_id,
            },
        ),
        Err(err) if err.retryable && record.attempts < policy.max_attempts => Verdict::Retry(err.message),
        Err(err) => {
            let (salesforce_user_id, image) = salesforce_half.unzip();
            Verdict::Done(
                RowStatus::Failed,
                RowOutcome {
                    error_message: Some(err.message),
                    salesforce_user_id,
                    undo: UndoImage { connect: None, salesforce: image }.stored(),
                    ..RowOutcome::default()
                },
            )
        }
    };
    // One line a row: its job, number and action, and how it ended. The user's name is for the status API and the
    // report, which the admin's IAM guards; at INFO the log names no one (at DEBUG, the reason may).
    let (ended_as, reason) = match &verdict {
        Verdict::Done(status, outcome) => (status.as_str(), outcome.error_message.as_deref()),
        Verdict::Retry(reason) => ("RETRY", Some(reason.as_str())),
    };
    tracing::info!(job = %message.job_id, row = row.row, action = row.action.as_str(), outcome = ended_as, "row");
    tracing::debug!(job = %message.job_id, row = row.row, reason, "row's reason");
    let ended = match verdict {
        Verdict::Done(status, outcome) => {
            // The job is settled once, when the chunk's rows are done (`work_chunk`).
            match store.finish_row_unsettled(&message.job_id, row.row, status, &outcome, owner).await? {
                true => RowEnd::Finished(status),
                false => RowEnd::TakenOver,
            }
        }
        Verdict::Retry(reason) => {
            store.release_row(&message.job_id, row.row, owner, Release::AfterAttempt).await?;
            RowEnd::Retry(reason)
        }
    };
    Ok((row.row, ended))
}

/// What a succeeded row's admin should know: an email change that waits for its owner, or what Salesforce made of the
/// row's bulk operation (and that the Connect user is the one Salesforce made).
fn row_note(salesforce: &SalesforceOutcome, salesforce_made_connect: bool) -> Option<String> {
    let parts: Vec<String> = [
        salesforce.email_confirmation.as_ref().map(|confirmation| confirmation.note(now_epoch())),
        salesforce.bulkop.as_ref().map(|b| format!("Salesforce: ContactCenterBulkOp {} {}", b.record_id, b.status)),
        salesforce_made_connect.then(|| {
            "Amazon Connect: the user is the one Salesforce made for it (Service Cloud Voice): ccbulk adopted it and \
             created none"
                .to_owned()
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Per row of the chunk, its Salesforce outcome (`None` for a row with no Salesforce side) or why it failed; `None`
/// while Salesforce is still working the row's bulk job.
type SideResult = Option<Result<Option<SalesforceOutcome>, SideError>>;

/// The Salesforce side of a chunk's rows: per row, its result, or `None` while Salesforce is still working the
/// row's bulk job (`waiting` says which).
struct Sides {
    rows: Vec<SideResult>,
    waiting: Option<String>,
    /// The bulk job Salesforce was seen working during this delivery.
    watched: Option<String>,
    /// When the bulk job the rows wait on is next worth a look, where that is later than a delivery should wait.
    look_again_in: Option<Duration>,
}

/// The Salesforce side of every row of the chunk, in batched calls.
async fn salesforce_side<S: JobStore>(
    store: &S,
    targets: &Targets,
    message: &ChunkMessage,
    work: &[(UserRow, RowRecord)],
    connect: &ConnectSide<'_>,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<Sides, StoreError> {
    let sides = salesforce_users(targets, message.header.dialect(), work.iter().map(|(row, _)| row));
    let wanted: Vec<(Action, &SalesforceUser)> =
        work.iter().zip(&sides).filter_map(|((row, _), side)| side.as_deref().map(|s| (row.action, s))).collect();
    let mut waiting = None;
    let mut watched = None;
    let mut look_again_in = None;
    let mut results: std::vec::IntoIter<Option<Result<Option<SalesforceOutcome>, SideError>>> =
        match (&targets.salesforce, wanted.is_empty()) {
            (_, true) => Vec::new(),
            (None, false) => match &targets.salesforce_out {
                Some(out) => wanted.iter().map(|_| Some(Err(SideError::unreachable(&out.reason)))).collect(),
                None => {
                    wanted.iter().map(|_| Some(Err(SideError::of_row("Salesforce: no org is configured")))).collect()
                }
            },
            (Some(target), false) if target.sync.for_job(message.header.dialect()) == SalesforceSync::Bulkop => {
                let with_side = work.iter().zip(&sides).filter(|(_, side)| side.is_some()).map(|((row, _), _)| row);
                let arns = connect.routing_profile_arns(with_side).await;
                let instance = targets.connect.as_ref().map(|c| c.instance_id.as_str());
                // ContactCenterBulkOp only adds users: a remove row is worked as direct mode works it, and its
                // Connect user is the one Salesforce made, by Service Cloud Voice's username.
                let is_remove = |(action, _): &(Action, &SalesforceUser)| *action == Action::Remove;
                let (removes, adds): (Vec<_>, Vec<_>) = wanted.iter().zip(arns).partition(|(w, _)| is_remove(w));
                let (adds, add_arns): (Vec<_>, Vec<_>) = adds.into_iter().map(|(w, arn)| (*w, arn)).unzip();
                let removes: Vec<_> = removes.into_iter().map(|(w, _)| *w).collect();
                let bulk = bulkop_side(store, target, message, &adds, &add_arns, instance, keep_going).await?;
                let mut direct = direct_side(store, target, message, &removes, true).await?.into_iter();
                waiting = bulk.waiting;
                watched = bulk.watched;
                look_again_in = bulk.look_again_in;
                let mut bulk = bulk.rows.into_iter();
                wanted
                    .iter()
                    .map(|w| if is_remove(w) { direct.next() } else { bulk.next() })
                    .map(|side| side.unwrap_or(Some(Ok(None))))
                    .collect()
            }
            (Some(target), false) => direct_side(store, target, message, &wanted, target.voice_sync).await?,
        }
        .into_iter();
    let rows =
        sides.iter().map(|side| if side.is_some() { results.next().unwrap_or(Some(Ok(None))) } else { Some(Ok(None)) });
    Ok(Sides { rows: rows.collect(), waiting, watched, look_again_in })
}

/// Each row's Salesforce side: the row's own, or else the one the deployment implies for a Connect-template row
/// ([`ImpliedSalesforce`]); `None` for a row with none.
pub(super) fn salesforce_users<'r>(
    targets: &Targets,
    dialect: Dialect,
    rows: impl Iterator<Item = &'r UserRow>,
) -> Vec<Option<Cow<'r, SalesforceUser>>> {
    let implied = match (&targets.salesforce, &targets.salesforce_out) {
        (Some(target), _) => target.implied.as_ref(),
        (None, Some(out)) => out.implied.as_ref(),
        (None, None) => None,
    };
    let implied = implied.filter(|_| dialect == Dialect::Connect);
    rows.map(|row| match (&row.salesforce, implied) {
        (Some(side), _) => Some(Cow::Borrowed(side)),
        (None, Some(implied)) => implied.user_for(row).map(Cow::Owned),
        (None, None) => None,
    })
    .collect()
}

/// Direct mode: ccbulk writes the rows' Salesforce side itself, in batched calls. With `voice_sync` the outcome names
/// the Connect user Salesforce makes (or made) for each member.
async fn direct_side<S: JobStore>(
    store: &S,
    target: &SalesforceTarget,
    message: &ChunkMessage,
    wanted: &[(Action, &SalesforceUser)],
    voice_sync: bool,
) -> Result<Vec<SideResult>, StoreError> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    // Only the changes still inside their confirmation window matter; they are few.
    let email_changes = if wanted.iter().any(|(action, side)| *action != Action::Remove && side.fields.email.is_some())
    {
        store.email_changes(now_epoch().saturating_sub(EmailChange::CONFIRMATION_WINDOW_SECONDS)).await?
    } else {
        Vec::new()
    };
    let job = message.job_id.to_string();
    let reference = target
        .reference
        .for_job(&job, || async { Ok::<_, std::convert::Infallible>(shared_reference(store, &message.job_id).await) })
        .await;
    let Ok(reference) = reference;
    let provisioner = target.provisioner(&reference, message.setup.telephony_model, &email_changes, voice_sync);
    // Boxed, as the Connect calls below are: a chunk's future nests every step, and on a 2 MiB thread stack (the
    // Lambda runtime's workers, a test's thread) the steps' frames must not all sit inline.
    let applied = Box::pin(provisioner.apply(wanted)).await;
    // Sharing saves the others some reads; a share refused costs them only those reads, not the chunk.
    if let Some(fresh) = reference.fresh().await
        && let Err(err) = store.share(&message.job_id, SHARED_REFERENCE, &fresh).await
    {
        tracing::warn!(error = %err, "could not share the org's reference records with the job");
    }
    match applied {
        Ok(results) => {
            for outcome in results.iter().flatten() {
                if let Some(EmailConfirmation::Sent { email }) = &outcome.email_confirmation {
                    let change = EmailChange {
                        salesforce_user_id: outcome.user_id.clone(),
                        email: email.clone(),
                        requested_at: now_epoch(),
                    };
                    store.record_email_change(&change).await?;
                }
            }
            Ok(results.into_iter().map(|r| Some(r.map(Some).map_err(SideError::from))).collect())
        }
        Err(err) => {
            let shared = SideError::from(err);
            Ok(wanted.iter().map(|_| Some(Err(shared.clone()))).collect())
        }
    }
}

/// How long a worker waits for the org's reference records another worker of the job is reading: the reading is
/// three queries, about a second.
const SHARED_REFERENCE_PATIENCE: Duration = Duration::from_secs(10);

/// The job store's item for the instance's quick-connect index, and how long a worker waits for another that reads
/// it: DescribeQuickConnect once per quick connect, 10 a second (100 s for 1,000).
const SHARED_QUICK_CONNECTS: &str = "connect.quick_connects";
const SHARED_QUICK_CONNECTS_PATIENCE: Duration = Duration::from_secs(120);

/// The org's reference records for a process new to the job: taken up from the job store when another worker shared
/// them, waited for while another worker reads them, or else claimed and left to be read here (and shared after).
/// A store that cannot say costs only the reads.
async fn shared_reference<S: JobStore>(store: &S, job: &JobId) -> OrgReference {
    let reference = OrgReference::default();
    match take_or_claim(store, job, SHARED_REFERENCE, SHARED_REFERENCE_PATIENCE).await {
        Reading::Shared(shared) => reference.adopt(&shared).await,
        Reading::Claimed => reference.claimed(),
        Reading::Alone => {}
    }
    reference
}

/// Bulkop mode: the rows go to Salesforce as one Bulk API job of ContactCenterBulkOp records, recorded with the
/// chunk before it is followed, so that a later delivery follows the same job rather than submitting the rows again.
async fn bulkop_side<S: JobStore>(
    store: &S,
    target: &SalesforceTarget,
    message: &ChunkMessage,
    wanted: &[(Action, &SalesforceUser)],
    arns: &[Result<Option<String>, String>],
    instance: Option<&str>,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<Sides, StoreError> {
    if wanted.is_empty() {
        return Ok(Sides { rows: Vec::new(), waiting: None, watched: None, look_again_in: None });
    }
    let provisioner = BulkopProvisioner { client: &target.client, telephony: message.setup.telephony_model };
    // Salesforce makes the Connect user in the instance the routing profile's ARN names: ccbulk can adopt it only
    // in the instance it works in.
    let elsewhere = |arn: &Option<&str>| match (arn, instance) {
        (Some(arn), Some(instance)) => !arn.contains(&format!(":instance/{instance}/")),
        _ => false,
    };
    let every_row = |err: SalesforceError| {
        let shared = SideError::from(err);
        Sides {
            rows: wanted.iter().map(|_| Some(Err(shared.clone()))).collect(),
            waiting: None,
            watched: None,
            look_again_in: None,
        }
    };
    let known: Vec<Option<&str>> = arns.iter().map(|arn| arn.as_ref().ok().and_then(Option::as_deref)).collect();
    let prepared = match provisioner.operations(wanted, &known).await {
        Ok(prepared) => prepared,
        Err(err) => return Ok(every_row(err)),
    };
    let prepared: Vec<_> = prepared
        .into_iter()
        .zip(arns.iter().zip(&known))
        .map(|(p, (named, arn))| match p {
            // A routing profile the instance could not name to an ARN: the row's own reason.
            _ if named.is_err() => Err(SalesforceError::refused(named.clone().err().unwrap_or_default())),
            Ok(_) if elsewhere(arn) => Err(SalesforceError::refused(format!(
                "the routing profile's ARN names another Amazon Connect instance than {}",
                instance.unwrap_or_default()
            ))),
            other => other,
        })
        .collect();
    let ready: Vec<_> = prepared.iter().filter_map(|p| p.as_ref().ok()).collect();
    let mut followed = Vec::new().into_iter();
    let mut waiting = None;
    let mut watched = None;
    let mut look_again_in = None;
    if !ready.is_empty() {
        // A failure of the job as a whole is each submitted row's; a row refused before keeps its own reason.
        let each = |err: SalesforceError| ready.iter().map(|_| Err(err.clone())).collect::<Vec<_>>().into_iter();
        let ops: Vec<_> = ready.iter().map(|p| p.op.clone()).collect();
        match chunk_bulk_job(store, &target.client, message, &ops).await? {
            Ok(job) => match provisioner.follow(&job.id, job.submitted(), &ready, keep_going).await {
                Ok(Followed { outcomes, waited, look_again_in: next_look }) => {
                    // Watching Salesforce work is this delivery's progress, whether or not the job ended in its time.
                    watched = waited.then(|| format!("Salesforce worked the bulk job {}", job.id));
                    match outcomes {
                        Some(outcomes) => followed = outcomes.into_iter(),
                        None => {
                            waiting = Some(match next_look {
                                Some(due) => format!(
                                    "Salesforce is still working the bulk job {} (submitted {} minutes ago): ccbulk \
                                     looks again in {} minutes, and fails the rows it has not finished {} hours \
                                     after the submit",
                                    job.id,
                                    job.age().as_secs() / 60,
                                    due.as_secs().div_ceil(60),
                                    FOLLOW_FOR.as_secs() / 3600
                                ),
                                None => format!("Salesforce is still working the bulk job {}", job.id),
                            });
                            look_again_in = next_look;
                        }
                    }
                }
                Err(err) => followed = each(err),
            },
            Err(err) => followed = each(err),
        }
    }
    let missing = || SalesforceError {
        code: "BULKOP_MISSING".into(),
        message: "the bulk job gave no outcome for this row".into(),
        retryable: false,
    };
    let rows = prepared
        .into_iter()
        .map(|p| match p {
            // While the job is being worked its rows have no outcome yet.
            Ok(_) if waiting.is_some() => None,
            Ok(_) => Some(followed.next().unwrap_or_else(|| Err(missing())).map(Some).map_err(SideError::from)),
            Err(err) => Some(Err(SideError::from(err))),
        })
        .collect();
    Ok(Sides { rows, waiting, watched, look_again_in })
}

/// The chunk's bulk job: the one a delivery recorded for it, or a new one. A job is recorded as soon as Salesforce
/// opens it, before any row is uploaded, so that a delivery lost at any point leaves no job ccbulk does not know
/// of holding the rows. A recorded job still Open was left by a delivery lost before it closed the job (this one
/// holds the rows' leases): what it uploaded is unknown, so it is aborted, and Salesforce then processes none of it
/// (Bulk API 2.0 Developer Guide, "Close or Abort a Job"); the rows go into a new job that replaces it.
async fn chunk_bulk_job<S: JobStore>(
    store: &S,
    client: &SalesforceClient,
    message: &ChunkMessage,
    ops: &[BulkOp],
) -> Result<Result<BulkJob, SalesforceError>, StoreError> {
    let (job_id, key) = (&message.job_id, message.bulk_key());
    let mut replacing = None;
    if let Some(recorded) = store.bulk_job(job_id, key).await? {
        match client.ingest_job_progress(&recorded.id).await {
            Ok(JobProgress::Running(state)) if state == "Open" => {
                if let Err(err) = client.abort_ingest_job(&recorded.id).await {
                    return Ok(Err(err));
                }
                replacing = Some(recorded.id);
            }
            Ok(_) => return Ok(Ok(recorded)),
            Err(err) => return Ok(Err(err)),
        }
    }
    let opened = match client.open_bulkop_job().await {
        Ok(opened) => opened,
        Err(err) => return Ok(Err(err)),
    };
    if !store.record_bulk_job(job_id, key, &opened, replacing.as_deref()).await? {
        // Another delivery recorded its job first: that one is the chunk's, and this one is never loaded.
        if let Err(err) = client.abort_ingest_job(&opened).await {
            tracing::warn!(bulk_job = %opened, error = %err, "could not abort an unused bulk job; it holds no rows");
        }
        let theirs = store.bulk_job(job_id, key).await?;
        return Ok(theirs.ok_or_else(|| SalesforceError::refused("the chunk's bulk job was replaced meanwhile")));
    }
    if let Err(err) = client.load_bulkops(&opened, ops).await {
        return Ok(Err(err));
    }
    Ok(Ok(BulkJob { id: opened, recorded_at: now_epoch() }))
}

/// How many rows the job has, for a process about to read the instance's directory for it: the job's count (still
/// growing while ingest runs), and at least about the rows up to this chunk's end. Not read once the directory is.
async fn job_rows<S: JobStore>(store: &S, targets: &Targets, message: &ChunkMessage) -> u64 {
    let Some(target) = &targets.connect else { return 0 };
    let through_chunk = message.chunk.index as u64 * message.chunk.rows as u64 + message.chunk.rows as u64;
    if target.directories.has(message.job_id.as_str()) {
        return through_chunk;
    }
    match store.job(&message.job_id).await {
        Ok(Some(job)) => job.counts.total().max(through_chunk),
        _ => through_chunk,
    }
}

struct ConnectResult {
    user: ConnectOutcome,
    quick_connect_id: Option<String>,
}

/// The Connect side of a chunk's rows, several at a time under the pacer; names are resolved once per job.
struct ConnectSide<'t> {
    target: Option<&'t ConnectTarget>,
    message: &'t ChunkMessage,
    /// The job's rows as far as known, which sets how the directory finds users (see `UsersPath`).
    job_rows: u64,
    directory: OnceCell<Arc<Directory>>,
    /// Set once the directory's users were listed again for users Salesforce made after it was loaded.
    reloaded: OnceCell<()>,
    /// When the chunk stops waiting for users Salesforce made: one settling time for them all, so that users that
    /// never appear (Salesforce made them elsewhere) cost a chunk that long, not that long a row.
    adopt_until: OnceLock<Instant>,
}

impl<'t> ConnectSide<'t> {
    /// Reads the directory ahead of the rows that will need it. A failure is left to those rows, which read again and
    /// fail with its message.
    async fn preload(&self, needed: bool) {
        if let Some(target) = self.target.filter(|_| needed) {
            let _ = self.loaded(target).await;
        }
    }

    /// Reads the instance's quick-connect index ahead of the rows that need it, once for the job's workers: taken
    /// up from the job store when another worker read it, or read here and shared. A failure is left to the rows,
    /// which read again and fail with its message.
    async fn preload_quick_connects<S: JobStore>(&self, store: &S, needed: bool) {
        let Some(target) = self.target.filter(|_| needed) else { return };
        let Ok(directory) = self.loaded(target).await else { return };
        if directory.has_quick_connects() {
            return;
        }
        let job = &self.message.job_id;
        match take_or_claim(store, job, SHARED_QUICK_CONNECTS, SHARED_QUICK_CONNECTS_PATIENCE).await {
            Reading::Shared(text) if directory.adopt_quick_connects(&text) => {}
            Reading::Claimed => {
                let read = self.provisioner(target).index_quick_connects(directory).await;
                // Shared even when it cannot be (unread, or too large): the others then read alone at once rather
                // than wait for it.
                let text = read.ok().and_then(|()| directory.quick_connects_text()).unwrap_or_else(|| "-".into());
                if let Err(err) = store.share(job, SHARED_QUICK_CONNECTS, &text).await {
                    tracing::warn!(error = %err, "could not share the quick-connect index with the job");
                }
            }
            Reading::Shared(_) | Reading::Alone => {
                let _ = self.provisioner(target).index_quick_connects(directory).await;
            }
        }
    }

    fn provisioner(&self, target: &'t ConnectTarget) -> ConnectProvisioner<'t> {
        target.provisioner(self.message.setup.identity_management)
    }

    /// The instance's names, read on first need, once per job however many chunks and rows ask.
    async fn loaded(&self, target: &ConnectTarget) -> Result<&Directory, SideError> {
        let job = self.message.job_id.to_string();
        let directory = self.directory.get_or_try_init(|| target.directory(&job, self.job_rows)).await?;
        Ok(directory)
    }

    /// Each row's routing profile as the ARN a ContactCenterBulkOp record carries (`None`: the row names none), or
    /// why it has none. A name or id is resolved in the instance's directory.
    async fn routing_profile_arns<'r>(
        &self,
        rows: impl Iterator<Item = &'r UserRow>,
    ) -> Vec<Result<Option<String>, String>> {
        let mut arns = Vec::new();
        for row in rows {
            let arn = match (row.connect.as_ref().and_then(|c| c.routing_profile.as_ref()), self.target) {
                (None, _) => Ok(None),
                (Some(ResourceRef::Arn(arn)), _) => Ok(Some(arn.clone())),
                (Some(_), None) => Err("Amazon Connect: no instance is configured to name the routing profile".into()),
                (Some(reference), Some(target)) => match self.loaded(target).await {
                    Ok(directory) => directory
                        .routing_profile_arn(reference)
                        .map(Some)
                        .map_err(|e| format!("Amazon Connect: {}", e.message)),
                    Err(err) => Err(err.message),
                },
            };
            arns.push(arn);
        }
        arns
    }

    fn new(targets: &'t Targets, message: &'t ChunkMessage, job_rows: u64) -> Self {
        Self {
            target: targets.connect.as_ref(),
            message,
            job_rows,
            directory: OnceCell::new(),
            reloaded: OnceCell::new(),
            adopt_until: OnceLock::new(),
        }
    }

    async fn apply(&self, row: &UserRow, salesforce: Option<&SalesforceOutcome>) -> Result<ConnectResult, SideError> {
        let Some(wanted) = &row.connect else {
            return Ok(ConnectResult { user: ConnectOutcome::default(), quick_connect_id: None });
        };
        let target = self.target.ok_or_else(|| SideError::of_row("Amazon Connect: no instance is configured"))?;
        let (username, user) = connect_user(wanted, salesforce)?;
        let provisioner = self.provisioner(target);
        let directory = self.loaded(target).await?;
        // The user Salesforce made for a bulk operation goes by Service Cloud Voice's username; the chunk's users
        // are listed again once (it is cheaper than a search per row) should the directory predate them.
        let voice = salesforce.and_then(|s| s.voice_username.clone());
        let username = voice.clone().unwrap_or(username);
        if voice.is_some() && directory.users_listed() && directory.user_id(&username).is_none() {
            self.reloaded
                .get_or_try_init(|| directory.reload_users(&target.client, &target.instance_id, &target.pacer))
                .await?;
        }
        let outcome = match row.action {
            Action::Add | Action::Update if voice.is_some() => {
                let until = *self.adopt_until.get_or_init(|| Instant::now() + target.pacer.retries().settling);
                Box::pin(provisioner.adopt(directory, &username, &user, until)).await?
            }
            Action::Add => {
                let mark = format!("{}/{}", self.message.job_id, row.row);
                Box::pin(provisioner.add(directory, &username, &user, &mark)).await?
            }
            Action::Update => {
                let existing = provisioner.existing(directory, &username).await?.ok_or_else(|| {
                    SideError::of_row(format!("Amazon Connect: the instance has no user named {username:?} to update"))
                })?;
                Box::pin(provisioner.bring_to(&existing, &user, directory)).await?
            }
            Action::Remove => Box::pin(provisioner.remove(directory, &username)).await?,
        };
        let quick_connect_id = match (row.action, user.quick_connect, &outcome.user_id) {
            (Action::Add | Action::Update, Some(true), Some(user_id)) => {
                Some(provisioner.ensure_quick_connect(directory, user_id, &username).await?)
            }
            _ => None,
        };
        Ok(ConnectResult { user: outcome, quick_connect_id })
    }
}

/// The Connect username and settings of a row. A bulkop row names no Connect user: it takes the Salesforce user's
/// username (the single sign-on pairing) and, where the row is silent, its names and email.
fn connect_user(
    wanted: &ConnectUser,
    salesforce: Option<&SalesforceOutcome>,
) -> Result<(String, ConnectUser), SideError> {
    if let Some(username) = &wanted.username {
        return Ok((username.clone(), wanted.clone()));
    }
    let record = salesforce.ok_or_else(|| {
        SideError::of_row(
            "Amazon Connect: the row names no Connect username and has no Salesforce user to take it from",
        )
    })?;
    let mut user = wanted.clone();
    let identity = &mut user.identity;
    identity.first_name = identity.first_name.take().or_else(|| record.first_name.clone());
    identity.last_name = identity.last_name.take().or_else(|| record.last_name.clone());
    identity.email = identity.email.take().or_else(|| record.email.clone());
    Ok((record.username.clone(), user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_settings_take_a_contact_center_by_name_or_id_and_name_the_bad_setting() {
        let by_id = ImpliedSalesforce::from_settings("04vHn000000Z4aBIAS", Some("supervisor")).unwrap();
        assert!(matches!(by_id.contact_center, ContactCenterRef::Id(_)), "{by_id:?}");
        assert_eq!(by_id.role, Some(VoiceRole::CallCenterManager));
        let by_name = ImpliedSalesforce::from_settings(" Support EMEA ", Some(" ")).unwrap();
        assert_eq!(by_name.contact_center, ContactCenterRef::Name("Support EMEA".into()));
        assert_eq!(by_name.role, None, "a blank role is no role");
        // A user's Id is not a contact center's: taken as a name, and the lookup will say there is none.
        let user_id = ImpliedSalesforce::from_settings("005Hn0000ribxUd", None).unwrap();
        assert_eq!(user_id.contact_center, ContactCenterRef::Name("005Hn0000ribxUd".into()));
        assert_eq!(ImpliedSalesforce::from_settings("  ", None).unwrap_err().0, ImpliedSetting::ContactCenter);
        let (setting, problem) = ImpliedSalesforce::from_settings("Support", Some("boss")).unwrap_err();
        assert_eq!(setting, ImpliedSetting::Role);
        assert!(problem.contains("\"boss\""), "{problem}");
    }
}
