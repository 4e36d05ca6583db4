//! What ccbulk tells the account when a job ends: an event on EventBridge's default bus, for rules to route to
//! email, chat or a pipeline of the admin's. Source `ccbulk`; detail-type `Job Finished` (every row done, whatever
//! the outcome) or `Job Failed` (the file could not be provisioned from). The detail names the job, its counts, how
//! long it took and where its report is; never a username or anything from the rows.
//!
//! A job is announced once per ending: the first worker to see it end claims the announcement in the job store; a
//! retry that ends the job again with other counts is a new ending.

#[cfg(feature = "events")]
mod eventbridge;

use std::future::Future;

use serde::Serialize;

use crate::job::{Counts, Job, JobId, JobKind, JobState, JobStore, StoreError, now_epoch};

#[cfg(feature = "events")]
pub use self::eventbridge::EventBridge;

/// The events' `source`.
pub const SOURCE: &str = "ccbulk";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEvent {
    Finished,
    Failed,
}

impl JobEvent {
    pub fn detail_type(self) -> &'static str {
        match self {
            JobEvent::Finished => "Job Finished",
            JobEvent::Failed => "Job Failed",
        }
    }

    /// The event a job in `state` calls for, if it has ended.
    pub fn of(state: JobState) -> Option<Self> {
        match state {
            JobState::Succeeded | JobState::CompletedWithErrors => Some(JobEvent::Finished),
            JobState::Failed => Some(JobEvent::Failed),
            JobState::Ingesting | JobState::Running => None,
        }
    }
}

/// The event's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobDetail {
    pub job_id: JobId,
    /// `provision`, or `plan` for a file dropped under plans/ (its job wrote nothing).
    pub kind: JobKind,
    pub state: &'static str,
    pub counts: Counts,
    /// From the job's creation (the upload picked up) to now.
    pub duration_seconds: u64,
    /// The status API's path of the job's report (none for a file that could not be read).
    pub report: Option<String>,
    /// The uploaded object's key: the admin's own name for the file.
    pub file: String,
    /// Why the file could not be provisioned from.
    pub error: Option<String>,
}

impl JobDetail {
    pub fn of(job: &Job, now: u64) -> Self {
        Self {
            job_id: job.id.clone(),
            kind: job.kind(),
            state: job.state.as_str(),
            counts: job.counts,
            duration_seconds: now.saturating_sub(job.created_at),
            report: job.dialect.map(|_| format!("/jobs/{}/report", job.id)),
            file: job.source.key.clone(),
            error: job.error.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the job's event could not be published: {0}")]
pub struct EventError(pub String);

/// Where events go (EventBridge on the stack).
pub trait EventSink: Send + Sync {
    fn publish(&self, event: JobEvent, detail: &JobDetail) -> impl Future<Output = Result<(), EventError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum AnnounceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Event(#[from] EventError),
}

/// Announces the job's ending (`job` as just read) if it has ended and no worker announced this ending yet.
/// Returns the event sent.
pub async fn announce_end<S: JobStore, E: EventSink>(
    store: &S,
    sink: &E,
    job: &Job,
) -> Result<Option<JobEvent>, AnnounceError> {
    let Some(event) = JobEvent::of(job.state) else { return Ok(None) };
    let id = &job.id;
    let c = job.counts;
    // One announcement per ending: a retry that ends the job again has other counts.
    let ending = format!("event.{}.{}.{}.{}", job.state.as_str(), c.succeeded, c.failed, c.invalid);
    if !store.claim_share(id, &ending).await? && store.shared(id, &ending).await?.as_deref() != Some(PUBLISH_FAILED) {
        return Ok(None);
    }
    // A failed publication is marked so, and the next worker to see the job ended publishes it again (events are
    // at least once: two such workers at once may both send it).
    if let Err(err) = sink.publish(event, &JobDetail::of(job, now_epoch())).await {
        store.share(id, &ending, PUBLISH_FAILED).await?;
        return Err(err.into());
    }
    store.share(id, &ending, "sent").await?;
    Ok(Some(event))
}

/// The mark of an ending whose event could not be published.
const PUBLISH_FAILED: &str = "failed";

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::job::{ObjectRef, SqliteJobStore};
    use crate::pipeline::{MemoryQueue, ingest};
    use crate::validate::Options;

    #[derive(Default)]
    struct Kept(Mutex<Vec<(JobEvent, JobDetail)>>);

    impl EventSink for Kept {
        async fn publish(&self, event: JobEvent, detail: &JobDetail) -> Result<(), EventError> {
            self.0.lock().unwrap().push((event, detail.clone()));
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_job_is_announced_once_when_it_ends_and_again_when_a_retry_ends_it_otherwise() {
        let store = SqliteJobStore::in_memory().unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "action,username\nremove,ann\nremove,bob\n").unwrap();
        let object = ObjectRef { bucket: "b".into(), key: "uploads/leavers.csv".into(), version: "v1".into() };
        let job = ingest(&store, &MemoryQueue::default(), file.path(), object, &Options::default()).await.unwrap().job;
        let sink = Kept::default();
        assert_eq!(
            announce_end(&store, &sink, &store.job(&job.id).await.unwrap().unwrap()).await.unwrap(),
            None,
            "still running"
        );

        let lease = crate::job::Lease::new(60);
        let failed = crate::job::RowOutcome { error_message: Some("no such user".into()), ..Default::default() };
        for (row, status) in [(2, crate::job::RowStatus::Succeeded), (3, crate::job::RowStatus::Failed)] {
            store.start_row(&job.id, row, &lease).await.unwrap();
            let outcome = if row == 3 { failed.clone() } else { Default::default() };
            store.finish_row(&job.id, row, status, &outcome, &lease.owner).await.unwrap();
        }
        assert_eq!(
            announce_end(&store, &sink, &store.job(&job.id).await.unwrap().unwrap()).await.unwrap(),
            Some(JobEvent::Finished)
        );
        assert_eq!(
            announce_end(&store, &sink, &store.job(&job.id).await.unwrap().unwrap()).await.unwrap(),
            None,
            "once per ending"
        );
        let (event, detail) = sink.0.lock().unwrap()[0].clone();
        assert_eq!((event.detail_type(), detail.state), ("Job Finished", "COMPLETED_WITH_ERRORS"));
        assert_eq!((detail.counts.succeeded, detail.counts.failed), (1, 1));
        assert_eq!(detail.report, Some(format!("/jobs/{}/report", job.id)));

        store.reopen_failed(&job.id).await.unwrap();
        let again = crate::job::Lease::new(60);
        store.start_row(&job.id, 3, &again).await.unwrap();
        store
            .finish_row(&job.id, 3, crate::job::RowStatus::Succeeded, &Default::default(), &again.owner)
            .await
            .unwrap();
        assert_eq!(
            announce_end(&store, &sink, &store.job(&job.id).await.unwrap().unwrap()).await.unwrap(),
            Some(JobEvent::Finished),
            "the retry's ending"
        );
        assert_eq!(sink.0.lock().unwrap()[1].1.state, "SUCCEEDED");
    }

    /// Fails its first publication, as EventBridge out of reach would.
    #[derive(Default)]
    struct Flaky {
        kept: Kept,
        failed_once: Mutex<bool>,
    }

    impl EventSink for Flaky {
        async fn publish(&self, event: JobEvent, detail: &JobDetail) -> Result<(), EventError> {
            let first = !std::mem::replace(&mut *self.failed_once.lock().unwrap(), true);
            if first {
                return Err(EventError("EventBridge is out of reach".into()));
            }
            self.kept.publish(event, detail).await
        }
    }

    #[tokio::test]
    async fn an_ending_whose_event_failed_is_published_by_the_next_worker_to_see_it() {
        let store = SqliteJobStore::in_memory().unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            file.path(),
            "action,username
remove,ann
",
        )
        .unwrap();
        let object = ObjectRef { bucket: "b".into(), key: "uploads/one.csv".into(), version: "v1".into() };
        let job = ingest(&store, &MemoryQueue::default(), file.path(), object, &Options::default()).await.unwrap().job;
        let lease = crate::job::Lease::new(60);
        store.start_row(&job.id, 2, &lease).await.unwrap();
        store
            .finish_row(&job.id, 2, crate::job::RowStatus::Succeeded, &Default::default(), &lease.owner)
            .await
            .unwrap();
        let ended = store.job(&job.id).await.unwrap().unwrap();
        let sink = Flaky::default();
        assert!(announce_end(&store, &sink, &ended).await.is_err(), "the first publication fails");
        assert_eq!(announce_end(&store, &sink, &ended).await.unwrap(), Some(JobEvent::Finished), "published again");
        assert_eq!(announce_end(&store, &sink, &ended).await.unwrap(), None, "and then once only");
        assert_eq!(sink.kept.0.lock().unwrap().len(), 1);
    }
}
