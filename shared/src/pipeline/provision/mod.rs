//! Provisioning a chunk (DESIGN §7): every row once, whatever the delivery count. Each row is started in the job
//! store (a row already done is skipped), its Salesforce side is done for the whole chunk in batched calls, then its
//! Connect side, and it is finished SUCCEEDED or FAILED with a message naming the system and its reason. A failure
//! worth retrying (throttle past the SDK's retries, 5xx, network) leaves the row IN_PROGRESS for the next delivery
//! of the chunk, until its attempts run out.

use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::objects::{ObjectError, ObjectStore};
use crate::connect::{ProvisionError, RowPermit};
use crate::domain::{Action, UserRow};
use crate::job::{
    ChunkMessage, JobId, JobKind, JobState, JobStore, Lease, Release, RowOutcome, RowRecord, RowStart, RowStatus,
    SalesforceAllocation, StoreError, now_epoch,
};
use crate::salesforce::{SalesforceError, SalesforceOutcome};
use crate::undo::UndoImage;

use super::ingest::error_message;

mod bulkop_side;
mod connect_side;
mod salesforce_side;
mod targets;

use self::connect_side::{ConnectSide, job_rows};
pub(super) use self::salesforce_side::salesforce_users;
use self::salesforce_side::{SideResult, Sides, salesforce_side};
pub use self::targets::{ConnectTarget, ImpliedSalesforce, ImpliedSetting, SalesforceOut, SalesforceTarget, Targets};

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
pub(super) struct SideError {
    pub(super) message: String,
    pub(super) retryable: bool,
    /// A state of the whole org, not a fault of the row: the chunk pauses, and the job says why.
    pub(super) pause: Option<String>,
}

impl SideError {
    pub(super) fn of_row(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: false, pause: None }
    }

    /// Salesforce cannot be reached at all (its secret, or the sign-in): the row waits untouched.
    pub(super) fn unreachable(reason: &str) -> Self {
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
