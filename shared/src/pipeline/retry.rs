//! Retrying a job's failed rows: they go back to PENDING with their attempts afresh, and only the chunks that hold
//! them are sent again. Provisioning skips every other row of those chunks, as on any redelivery, so the rows that
//! succeeded are not worked twice and the job's counters stay true.

use std::collections::BTreeSet;

use super::ingest::{IngestError, as_recorded, requeue_holding, valid_rows};
use super::queue::ChunkQueue;
use crate::job::{Job, JobKind, JobState, JobStore, RowStatus, StoreError, rows_with_status};
use crate::validate::{Options, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Retried {
    /// Rows put back from FAILED to PENDING.
    pub rows: u64,
    /// Chunks sent again.
    pub chunks: u32,
    /// Failed rows left FAILED: the file no longer gives them whole (the copy kept once the job ended has no
    /// passwords, and an add under CONNECT_MANAGED needs one). They go in a new file.
    #[serde(default)]
    pub left: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    /// The job cannot be retried as it stands (its file was never usable, or it is still being ingested).
    #[error("{0}")]
    Refused(String),
    /// The job's file was replaced by its copy without passwords while this retry read it (the job had ended, and
    /// the worker that ended it scrubbed the upload): the rows it reopened stay PENDING, and a retry from the copy
    /// sends them.
    #[error("job {0}'s file was replaced by its copy without passwords during the retry: retry it again")]
    FileMoved(crate::job::JobId),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Retries `job`'s FAILED rows from its file, `source`, with the chunk size and Salesforce path of `options` (the
/// file is read as the job recorded it: its dialect and setup). Rows still PENDING are sent again too: a retry that
/// died after reopening rows and before sending their chunks is finished by the next one, and a duplicate chunk of
/// a running job costs only its rows' reads.
pub async fn retry_failed<S: JobStore, Q: ChunkQueue>(
    store: &S,
    queue: &Q,
    source: &(impl Source + ?Sized),
    job: &Job,
    options: &Options,
) -> Result<Retried, RetryError> {
    let Some(dialect) = job.dialect else {
        let reason = job.error.as_deref().unwrap_or("unknown");
        return Err(RetryError::Refused(format!(
            "job {} has no rows to retry: its file could not be read ({reason})",
            job.id
        )));
    };
    if job.kind() == JobKind::Plan {
        return Err(RetryError::Refused(format!(
            "job {} is a plan and wrote nothing: upload the file again under plans/ to plan it afresh, or under \
             uploads/ to run it",
            job.id
        )));
    }
    if job.state == JobState::Ingesting {
        return Err(RetryError::Refused(format!("job {} is still being ingested: retry it once it runs", job.id)));
    }
    let options = as_recorded(job, dialect, options);
    let failed = rows_with_status(store, &job.id, RowStatus::Failed).await?;
    // A row the file no longer gives whole would be reopened into no chunk: it stays FAILED, and is counted.
    let valid = if failed.is_empty() { BTreeSet::new() } else { valid_rows(source, &options)? };
    let (workable, left): (Vec<u64>, Vec<u64>) = failed.iter().partition(|row| valid.contains(row));
    let mut selected = rows_with_status(store, &job.id, RowStatus::Pending).await?;
    let reopened = store.reopen_rows(&job.id, &workable).await?;
    store.settle_job(&job.id).await?;
    // A scrub that recorded the copy before these rows reopened deletes the upload the chunks would read; once they
    // are open, no scrub records one (the job has rows to work) until they are done.
    let now = store.job(&job.id).await?.ok_or_else(|| StoreError(format!("job {} is gone", job.id)))?;
    if now.file() != job.file() {
        return Err(RetryError::FileMoved(job.id.clone()));
    }
    selected.extend(reopened.iter().copied());
    let left = left.len() as u64;
    if selected.is_empty() {
        return Ok(Retried { rows: 0, chunks: 0, left });
    }
    let chunks = requeue_holding(store, queue, source, job, &options, &selected).await?;
    Ok(Retried { rows: reopened.len() as u64, chunks, left })
}
