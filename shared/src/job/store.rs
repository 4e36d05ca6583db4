//! The job store port: what ingest, provisioning and the status queries need, whatever keeps the state (SQLite on
//! a laptop, DynamoDB in the cloud). Every method is idempotent where a retry can repeat it.

use std::future::Future;

use super::model::{Job, JobId, JobState, RowOutcome, RowRecord, RowStatus};

#[derive(Debug, thiserror::Error)]
#[error("job store: {0}")]
pub struct StoreError(pub String);

pub enum Created {
    New,
    /// A job for the same object already exists (a repeated event, a rerun).
    Existing(Job),
}

/// What a worker about to provision a row may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowStart {
    /// Go ahead; the record shows the attempt (and, after a crash, what an earlier attempt left).
    Go(Box<RowRecord>),
    /// The row needs no work: it succeeded already, or it is invalid.
    Done(RowStatus),
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
    /// Ends a job FAILED, saying why (its file turned out unusable).
    fn fail_job(&self, id: &JobId, reason: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Marks a row IN_PROGRESS and counts the attempt, unless it needs no work.
    fn start_row(&self, id: &JobId, row: u64) -> impl Future<Output = Result<RowStart, StoreError>> + Send;
    /// Ends a row SUCCEEDED or FAILED; the counters move in the same transaction, and the last row finishes the job.
    /// Returns the job's state afterwards.
    fn finish_row(
        &self,
        id: &JobId,
        row: u64,
        status: RowStatus,
        outcome: &RowOutcome,
    ) -> impl Future<Output = Result<JobState, StoreError>> + Send;
    fn row(&self, id: &JobId, row: u64) -> impl Future<Output = Result<Option<RowRecord>, StoreError>> + Send;
    /// Rows in row order, optionally of one status only, without reading the others.
    fn rows(
        &self,
        id: &JobId,
        status: Option<RowStatus>,
        limit: usize,
        after: Option<u64>,
    ) -> impl Future<Output = Result<Page<RowRecord>, StoreError>> + Send;
}
