//! Undoing a job: a job of its own (kind `undo`, source key `undo/<the job undone>`), whose rows are the undone
//! job's rows that did something, worked like any job's rows (leases, attempts, counters) from the undo images the
//! undone job kept. For each: users it created are removed (Connect: quick connects first; Salesforce: out of the
//! contact center, Voice sets withdrawn, deactivated), users it changed get the changed parts back. A user changed
//! again since the job is left alone and reported: undo never overwrites newer work.

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::queue::QueueError;
use crate::domain::Action;
use crate::job::{
    Job, JobId, JobKind, JobStore, ObjectRef, RowOutcome, RowRecord, RowStatus, StoreError, UNDO_PREFIX, now_epoch,
};
use crate::report::neutralise;
use crate::validate::Setup;

pub const UNDO_COLUMNS: [&str; 5] = ["Row", "Username", "Action", "Undo", "Detail"];

/// Rows per undo message: each row costs a few calls on each side.
const ROWS_PER_MESSAGE: usize = 100;
/// Rows read from the status index per call.
const PAGE: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum UndoError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("cannot write the undo report: {0}")]
    Write(#[from] csv::Error),
}

/// Some rows of an undo job to work, as the queue carries them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoMessage {
    /// The undo job.
    pub undo: JobId,
    /// The job undone, whose rows hold the images.
    pub of: JobId,
    pub rows: Vec<u64>,
}

/// Starts undoing `job`: records the undo job and its rows (the rows of `job` that created or changed users, and its
/// removes, which are reported as not undone) and returns it with its messages. Each undo is a job of its own: a
/// second one finds every user as the first left it, so changed since the job, and leaves it alone.
pub async fn start_undo<S: JobStore>(store: &S, job: &Job) -> Result<(Job, Vec<UndoMessage>), UndoError> {
    match job.kind() {
        JobKind::Plan => return Err(UndoError::Refused(format!("job {} is a plan: it wrote nothing to undo", job.id))),
        JobKind::Undo => {
            return Err(UndoError::Refused(format!("job {} is an undo: run the job again instead", job.id)));
        }
        JobKind::Provision => {}
    }
    if !job.state.has_ended() {
        return Err(UndoError::Refused(format!("job {} is {}: undo it once it has ended", job.id, job.state.as_str())));
    }
    let dialect = job.dialect.ok_or_else(|| {
        UndoError::Refused(format!("job {} read no rows (its file could not be read): nothing to undo", job.id))
    })?;
    let now = now_epoch();
    let source = ObjectRef {
        bucket: job.source.bucket.clone(),
        key: format!("{UNDO_PREFIX}{}", job.id),
        // Told apart by when they started: two undos of one job are two jobs.
        version: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos().to_string())
            .unwrap_or_default(),
    };
    let setup = Setup { identity_management: job.identity_management, telephony_model: job.telephony_model };
    let undo = Job::ingesting(source, dialect, setup, now);
    store.create_job(&undo).await?;
    let mut rows = Vec::new();
    // A FAILED row may have done half its work (the Salesforce side, before its Connect side failed): its image says
    // what, and that half is put back too.
    for status in [RowStatus::Succeeded, RowStatus::Failed] {
        let mut after = None;
        loop {
            let page = store.rows(&job.id, Some(status), PAGE, after).await?;
            after = page.items.last().map(|r| r.row).or(after);
            let wanted: Vec<RowRecord> = page
                .items
                .into_iter()
                .filter(|row| {
                    row.outcome.undo.is_some() || (status == RowStatus::Succeeded && row.action == Some(Action::Remove))
                })
                .map(|row| RowRecord {
                    job_id: undo.id.clone(),
                    status: RowStatus::Pending,
                    outcome: RowOutcome::default(),
                    attempts: 0,
                    updated_at: now,
                    ..row
                })
                .collect();
            store.put_rows(&wanted).await?;
            rows.extend(wanted.iter().map(|r| r.row));
            if page.next.is_none() {
                break;
            }
        }
    }
    // Rows go to the undo's messages in the file's order.
    rows.sort_unstable();
    let messages: Vec<UndoMessage> = rows
        .chunks(ROWS_PER_MESSAGE)
        .map(|rows| UndoMessage { undo: undo.id.clone(), of: job.id.clone(), rows: rows.to_vec() })
        .collect();
    store.finish_ingest(&undo.id, messages.len() as u32, rows.len() as u64).await?;
    let undo = store.job(&undo.id).await?.unwrap_or(undo);
    Ok((undo, messages))
}

/// Rows per way their undo ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UndoCounts {
    pub undone: u64,
    pub left_alone: u64,
    pub nothing: u64,
    pub failed: u64,
}

/// The undo job's report: one line a row, how its undo ended and what each side did.
pub async fn undo_report<S: JobStore, W: Write>(store: &S, undo: &Job, out: W) -> Result<(UndoCounts, W), UndoError> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(UNDO_COLUMNS)?;
    let mut counts = UndoCounts::default();
    let mut after = None;
    loop {
        let page = store.rows(&undo.id, None, PAGE, after).await?;
        after = page.items.last().map(|r| r.row).or(after);
        for row in &page.items {
            let text = row.outcome.error_message.as_deref().or(row.outcome.note.as_deref()).unwrap_or_default();
            let (verdict, detail) = match row.status {
                RowStatus::Pending | RowStatus::InProgress => ("not done yet", ""),
                _ => text.split_once("; ").unwrap_or((text, "")),
            };
            match verdict {
                "undone" => counts.undone += 1,
                "left alone" => counts.left_alone += 1,
                "nothing" => counts.nothing += 1,
                _ => counts.failed += 1,
            }
            let cells = [
                row.row.to_string(),
                row.username.clone().unwrap_or_default(),
                row.action.map(Action::as_str).unwrap_or_default().to_owned(),
                verdict.to_owned(),
                detail.to_owned(),
            ];
            writer.write_record(cells.iter().map(|c| neutralise(c).into_owned()))?;
        }
        if page.next.is_none() {
            break;
        }
    }
    writer.flush().map_err(csv::Error::from)?;
    let out = writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok((counts, out))
}
