//! The sweeper's use case: no job stays INGESTING or RUNNING with nothing queued to move it on. A job that has not
//! moved for longer than any of its messages can stay out of sight is stalled: its messages were lost (a chunk in
//! the dead-letter queue, an ingest that died for good). A stalled job is nudged (the chunks that hold its unfinished
//! rows are sent again, which provisioning makes harmless should one still be out there); a job that nudges do not
//! move has its unfinished rows failed, saying why, and ends. An ended job whose upload still holds its passwords is
//! handed back for its ending to be done again.

use std::collections::BTreeSet;
use std::time::Duration;

use super::ingest::{IngestError, as_recorded, requeue_holding};
use super::queue::ChunkQueue;
use crate::job::{Job, JobKind, JobState, JobStore, Lease, RowOutcome, RowStart, RowStatus, StoreError};
use crate::job::{now_epoch, rows_with_status};
use crate::validate::{Options, Source};

/// When the sweeper takes a job for stalled, and what it does then.
#[derive(Debug, Clone, Copy)]
pub struct SweepRules {
    /// A job that has not moved for this long has nothing queued to move it on. A chunk message is out of sight at
    /// most the queue's visibility timeout (5,400 s, template.yaml) after a receive, or SQS's longest delay (900 s,
    /// SendMessage `DelaySeconds`) after a send; a paused job moves each time a chunk looks again.
    pub stalled_after: Duration,
    /// Nudges a stalled job gets before its unfinished rows fail.
    pub nudges: u32,
    /// Jobs created longer ago than this are not looked at.
    pub horizon: Duration,
}

impl Default for SweepRules {
    fn default() -> Self {
        Self { stalled_after: Duration::from_secs(2 * 3600), nudges: 3, horizon: Duration::from_secs(14 * 86_400) }
    }
}

/// What the sweeper does about a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Moving, or ended and tidy.
    Leave,
    /// Ended with its upload still there: its ending (the announcement, the copy without passwords) is done again.
    Tidy,
    /// Stalled: the chunks holding its unfinished rows are sent again; this is its `nudge`th nudge.
    Nudge { nudge: u32 },
    /// Stalled after its nudges (or an undo, whose messages are not sent again): its unfinished rows fail.
    FailRows { reason: String },
    /// Its ingest stopped and did not come back: the chunks holding the rows it recorded are sent (again), and the
    /// job fails, saying why; those rows are worked all the same.
    FailIngest { reason: String },
}

/// The job's shared value under which the sweeper keeps its nudges: `count@epoch` of the last one.
const NUDGES: &str = "sweeper.nudges";

/// What the sweeper should do about `job` at `now` (epoch seconds).
pub async fn verdict<S: JobStore>(store: &S, job: &Job, rules: &SweepRules, now: u64) -> Result<Verdict, StoreError> {
    let quiet = Duration::from_secs(now.saturating_sub(job.updated_at));
    if job.state.has_ended() {
        let tidy = job.scrubbed.is_none() && job.kind() != JobKind::Undo && job.dialect.is_some();
        return Ok(if tidy && quiet >= rules.stalled_after { Verdict::Tidy } else { Verdict::Leave });
    }
    if quiet < rules.stalled_after {
        return Ok(Verdict::Leave);
    }
    let hours = quiet.as_secs() / 3600;
    if job.state == JobState::Ingesting {
        return Ok(Verdict::FailIngest {
            reason: format!(
                "ingest stopped after recording {} rows and has not gone on for {hours} hours: the rows it recorded \
                 are worked, the rest of the file is not read; upload the file again for those",
                job.counts.total()
            ),
        });
    }
    if job.kind() == JobKind::Undo {
        return Ok(Verdict::FailRows {
            reason: format!("the undo has not moved for {hours} hours; start it again to finish it"),
        });
    }
    // Nudges count only while the job does not move: one it moved since starts the count afresh.
    let (nudged, at) = last_nudge(store, job).await?;
    let nudged = if at >= job.updated_at { nudged } else { 0 };
    if nudged >= rules.nudges {
        return Ok(Verdict::FailRows {
            reason: format!(
                "no worker took this row up for {hours} hours, through {nudged} sends of its chunk again (see the \
                 chunk queue's dead-letter queue for why); retry the job once the cause is fixed"
            ),
        });
    }
    Ok(Verdict::Nudge { nudge: nudged + 1 })
}

async fn last_nudge<S: JobStore>(store: &S, job: &Job) -> Result<(u32, u64), StoreError> {
    let mark = store.shared(&job.id, NUDGES).await?.unwrap_or_default();
    let (count, at) = mark.split_once('@').unwrap_or(("0", "0"));
    Ok((count.parse().unwrap_or(0), at.parse().unwrap_or(0)))
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The job's unfinished rows: PENDING, and IN_PROGRESS with a lease that ran out.
async fn unfinished<S: JobStore>(store: &S, job: &Job) -> Result<BTreeSet<u64>, StoreError> {
    let mut rows = rows_with_status(store, &job.id, RowStatus::Pending).await?;
    rows.extend(rows_with_status(store, &job.id, RowStatus::InProgress).await?);
    Ok(rows)
}

/// Sends again the chunks that hold the job's unfinished rows, read from its file `source` as the job recorded it,
/// and counts the nudge. Returns the chunks sent.
pub async fn nudge<S: JobStore, Q: ChunkQueue>(
    store: &S,
    queue: &Q,
    source: &(impl Source + ?Sized),
    job: &Job,
    options: &Options,
    nudge: u32,
) -> Result<u32, SweepError> {
    let rows = unfinished(store, job).await?;
    let chunks = match (job.dialect, rows.is_empty()) {
        (Some(dialect), false) => {
            requeue_holding(store, queue, source, job, &as_recorded(job, dialect, options), &rows).await?
        }
        // Every row is done, and the job was not settled: settling ends it.
        _ => {
            store.settle_job(&job.id).await?;
            0
        }
    };
    store.share(&job.id, NUDGES, &format!("{nudge}@{}", now_epoch())).await?;
    Ok(chunks)
}

/// Fails the job's unfinished rows with `reason`, leaving any a worker holds right now; returns the job's state
/// after the last, and how many failed.
pub async fn fail_unfinished<S: JobStore>(
    store: &S,
    job: &Job,
    reason: &str,
) -> Result<(u64, Option<JobState>), StoreError> {
    let lease = Lease::new(60);
    let outcome = RowOutcome { error_message: Some(reason.to_owned()), ..RowOutcome::default() };
    let (mut failed, mut state) = (0, None);
    for row in unfinished(store, job).await? {
        if let RowStart::Go(_) = store.start_row(&job.id, row, &lease).await? {
            state = store.finish_row(&job.id, row, RowStatus::Failed, &outcome, &lease.owner).await?.or(state);
            failed += 1;
        }
    }
    Ok((failed, Some(store.settle_job(&job.id).await?).or(state)))
}

/// Ends a job whose ingest stopped for good: the rows it recorded are sent to be worked (some may never have been),
/// and the job fails with `reason`, which says the rest of the file was not read.
pub async fn fail_ingest<S: JobStore, Q: ChunkQueue>(
    store: &S,
    queue: &Q,
    source: &(impl Source + ?Sized),
    job: &Job,
    options: &Options,
    reason: &str,
) -> Result<u32, SweepError> {
    let chunks = nudge(store, queue, source, job, options, 1).await?;
    store.fail_job(&job.id, reason).await?;
    Ok(chunks)
}
