//! The job store port: what ingest, provisioning and the status queries need, whatever keeps the state (SQLite on
//! a laptop, DynamoDB in the cloud). Every method is idempotent where a retry can repeat it.

use std::future::Future;

use super::model::{BulkJob, EmailChange, Job, JobId, JobState, ObjectRef, RowOutcome, RowRecord, RowStatus};

#[derive(Debug, thiserror::Error)]
#[error("job store: {0}")]
pub struct StoreError(pub String);

/// Why a worker lets go of a row it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// It was tried and failed for a reason that may pass: the attempt counts.
    AfterAttempt,
    /// It was never tried (the worker's time ran out first): the attempt does not count.
    Untried,
}

pub enum Created {
    New,
    /// A job for the same object already exists (a repeated event, a rerun).
    Existing(Box<Job>),
}

/// What a worker about to provision a row may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowStart {
    /// Go ahead, holding the row's lease; the record shows the attempt (and, after a crash, what an earlier attempt
    /// left).
    Go(Box<RowRecord>),
    /// The row needs no work: it succeeded, failed for good, or is invalid.
    Done(RowStatus),
    /// Another worker holds the row's lease and is alive as far as anyone knows: leave the row to it, and look
    /// again later (SQS delivers a chunk twice at once; a rerun ingest sends its chunks again).
    Held,
}

/// A worker's hold on the rows it works: who (a token of its own) and until when (epoch seconds). Only the holder
/// finishes a row; a lease that runs out (a worker killed, a container lost) lets another worker take the row over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub until: u64,
}

impl Lease {
    /// A lease for a new owner, for `seconds` from now.
    pub fn new(seconds: u64) -> Self {
        let owner = format!("{:016x}{:016x}", super::model::now_epoch(), random_token());
        Self { owner, until: super::model::now_epoch() + seconds }
    }

    /// The same owner, for `seconds` from now.
    pub fn renewed(&self, seconds: u64) -> Self {
        Self { owner: self.owner.clone(), until: super::model::now_epoch() + seconds }
    }
}

/// 64 random bits, from the standard library's randomly seeded hasher (no generator crate needed for a token).
fn random_token() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.finish()
}

/// A page of results and the key to ask for the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

pub trait JobStore: Send + Sync {
    /// Records a new job, unless one with its id exists.
    fn create_job(&self, job: &Job) -> impl Future<Output = Result<Created, StoreError>> + Send;
    fn job(&self, id: &JobId) -> impl Future<Output = Result<Option<Job>, StoreError>> + Send;
    /// Jobs, newest first.
    fn jobs(&self, limit: usize, after: Option<&str>) -> impl Future<Output = Result<Page<Job>, StoreError>> + Send;
    /// Records rows that are not yet recorded (a repeated ingest leaves progress alone) and counts them.
    fn put_rows(&self, rows: &[RowRecord]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Ends ingest: the job is RUNNING with its `chunks` and its `rows` (every row recorded, invalid ones too), or
    /// done at once when no row needs work. `rows` is what the counters must add up to, whatever happens later.
    fn finish_ingest(&self, id: &JobId, chunks: u32, rows: u64) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// How many of a job's chunk messages (in file order) are known to have been sent: an ingest run again after
    /// it died half way sends only the others.
    fn chunks_sent(&self, id: &JobId) -> impl Future<Output = Result<u32, StoreError>> + Send;
    /// Records that the first `sent` chunk messages have gone out (never lowering the record).
    fn record_chunks_sent(&self, id: &JobId, sent: u32) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Ends a job FAILED, saying why (its file turned out unusable).
    fn fail_job(&self, id: &JobId, reason: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Marks a job paused for `reason` (a limit that lifts by itself); a job already paused keeps the time it
    /// paused at. Each mark is the job's latest move: a paused job whose chunks look again is not stalled.
    fn pause_job(&self, id: &JobId, reason: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records the copy of the job's file without passwords that replaces its upload ([`Job::scrubbed`]), unless
    /// the job has rows to work again (PENDING or IN_PROGRESS: a retry reopened some since the job ended, and its
    /// chunks read the upload, which must then stay): answers whether it was recorded.
    fn set_scrubbed(&self, id: &JobId, copy: &ObjectRef) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Clears a job's pause, if it has one.
    fn resume_job(&self, id: &JobId) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Marks a row IN_PROGRESS under `lease` and counts the attempt, unless it needs no work or another worker's
    /// lease on it is still running.
    fn start_row(
        &self,
        id: &JobId,
        row: u64,
        lease: &Lease,
    ) -> impl Future<Output = Result<RowStart, StoreError>> + Send;
    /// Starts each of `rows` as [`JobStore::start_row`] does, in order. A store may take them in fewer round trips;
    /// the outcome per row is the same.
    fn start_rows(
        &self,
        id: &JobId,
        rows: &[u64],
        lease: &Lease,
    ) -> impl Future<Output = Result<Vec<RowStart>, StoreError>> + Send {
        async move {
            let mut starts = Vec::with_capacity(rows.len());
            for row in rows {
                starts.push(self.start_row(id, *row, lease).await?);
            }
            Ok(starts)
        }
    }
    /// Extends `lease` (already renewed) on those of `rows` its owner still holds.
    fn renew_rows(
        &self,
        id: &JobId,
        rows: &[u64],
        lease: &Lease,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Lets go of a row its owner leaves IN_PROGRESS for a later delivery, so that one need not wait for the lease.
    /// A row let go [`Release::Untried`] gets back the attempt its start counted.
    fn release_row(
        &self,
        id: &JobId,
        row: u64,
        owner: &str,
        release: Release,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Ends a row SUCCEEDED or FAILED, if `owner` still holds it; the counters move in the same transaction, and the
    /// last row finishes the job. Returns the job's state afterwards, or `None` when the row is not the owner's
    /// (its lease ran out and another worker took it over): that worker finishes it.
    fn finish_row(
        &self,
        id: &JobId,
        row: u64,
        status: RowStatus,
        outcome: &RowOutcome,
        owner: &str,
    ) -> impl Future<Output = Result<Option<JobState>, StoreError>> + Send;
    /// As [`JobStore::finish_row`], but leaves the job's state to [`JobStore::settle_job`]: a worker that finishes
    /// many rows settles the job once after them. Whether the row was the owner's to finish.
    fn finish_row_unsettled(
        &self,
        id: &JobId,
        row: u64,
        status: RowStatus,
        outcome: &RowOutcome,
        owner: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async move { Ok(self.finish_row(id, row, status, outcome, owner).await?.is_some()) }
    }
    /// Moves the job to the state its counters call for (the last row done finishes it), and returns that state.
    fn settle_job(&self, id: &JobId) -> impl Future<Output = Result<JobState, StoreError>> + Send;
    /// Puts those of `rows` that FAILED back to PENDING, with their attempts afresh, for a deliberate retry (a
    /// redelivery never reopens a failed row); the counters move with them. Leaves the job's state to
    /// [`JobStore::settle_job`]. Returns the rows reopened.
    fn reopen_rows(&self, id: &JobId, rows: &[u64]) -> impl Future<Output = Result<Vec<u64>, StoreError>> + Send;
    /// Puts every FAILED row of the job back to PENDING (see [`JobStore::reopen_rows`]) and settles the job.
    /// Returns how many.
    fn reopen_failed(&self, id: &JobId) -> impl Future<Output = Result<u64, StoreError>> + Send {
        async move {
            let (mut reopened, mut after) = (0, None);
            loop {
                // The status index is read page by page, never from the start again: it may lag behind the moves.
                let page = self.rows(id, Some(RowStatus::Failed), 100, after).await?;
                after = page.items.last().map(|r| r.row).or(after);
                let numbers: Vec<u64> = page.items.iter().map(|r| r.row).collect();
                reopened += self.reopen_rows(id, &numbers).await?.len() as u64;
                if page.next.is_none() {
                    self.settle_job(id).await?;
                    return Ok(reopened);
                }
            }
        }
    }
    fn row(&self, id: &JobId, row: u64) -> impl Future<Output = Result<Option<RowRecord>, StoreError>> + Send;
    /// The Salesforce Bulk API job a chunk's rows went into, so that a later delivery follows it instead of
    /// submitting the rows again; `chunk` is the message's [`bulk_key`](super::ChunkMessage::bulk_key).
    fn bulk_job(&self, id: &JobId, chunk: u64) -> impl Future<Output = Result<Option<BulkJob>, StoreError>> + Send;
    /// Records the chunk's bulk job, stamped now: only where the chunk has none yet, or (with `replacing`) where it
    /// still has that one. Answers whether it was recorded; `false` means another delivery's job is the chunk's.
    fn record_bulk_job(
        &self,
        id: &JobId,
        chunk: u64,
        bulk_job: &str,
        replacing: Option<&str>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// What a worker read once for a job and shares with the job's other workers (the org's reference records, say),
    /// under a name; never a secret.
    fn shared(&self, id: &JobId, name: &str) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    fn share(&self, id: &JobId, name: &str, value: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Claims the reading of a shared value: `true` for the first caller of a job and name, which then [`share`]s
    /// it; until then, [`shared`] answers an empty value to the others.
    ///
    /// [`share`]: JobStore::share
    /// [`shared`]: JobStore::shared
    fn claim_share(&self, id: &JobId, name: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The email changes requested at `since` or later, the latest per user.
    fn email_changes(&self, since: u64) -> impl Future<Output = Result<Vec<EmailChange>, StoreError>> + Send;
    fn record_email_change(&self, change: &EmailChange) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Rows in row order, optionally of one status only, without reading the others.
    fn rows(
        &self,
        id: &JobId,
        status: Option<RowStatus>,
        limit: usize,
        after: Option<u64>,
    ) -> impl Future<Output = Result<Page<RowRecord>, StoreError>> + Send;
}

/// Rows read from the status index per call by [`rows_with_status`].
const PAGE: usize = 1000;

/// The numbers of a job's rows of one status, read from the status index (never the other rows): what a retry
/// reopens, and what the copy without passwords leaves out.
pub async fn rows_with_status<S: JobStore>(
    store: &S,
    id: &JobId,
    status: RowStatus,
) -> Result<std::collections::BTreeSet<u64>, StoreError> {
    let (mut rows, mut after) = (std::collections::BTreeSet::new(), None);
    loop {
        let page = store.rows(id, Some(status), PAGE, after).await?;
        after = page.items.last().map(|r| r.row).or(after);
        rows.extend(page.items.iter().map(|r| r.row));
        if page.next.is_none() {
            return Ok(rows);
        }
    }
}
