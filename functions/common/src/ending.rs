//! What the functions do once a job has ended, whichever of them sees it end (provision after the last chunk,
//! ingest for a file with no row to work): announce the ending, then replace the upload by its copy without
//! passwords. Neither undoes the rows' work should it fail: a failure is logged, and the next worker to see the job
//! ended (a redelivery, a retry's last chunk) does it again.

use ccbulk_shared::job::{JobId, JobKind, JobStore};
use ccbulk_shared::pipeline::{S3Objects, Scrub, scrub_upload};

use super::Telemetry;

/// Returns why the job's event could not be published, if it could not: a provision worker then has its message
/// delivered again, and that delivery, finding the job ended, publishes it.
pub async fn after_ending<S: JobStore>(
    store: &S,
    objects: &S3Objects,
    telemetry: &Telemetry,
    id: &JobId,
) -> Result<(), String> {
    // Read once, for both: the announcement's detail and the upload's removal.
    let job = match store.job(id).await {
        Ok(Some(job)) if job.state.has_ended() => job,
        Ok(_) => return Ok(()),
        Err(err) => {
            tracing::error!(job = %id, error = %err, "could not read the job to announce its end and remove its upload");
            return Ok(());
        }
    };
    let announced = telemetry.announce(store, &job).await;
    // An undo job reads no upload: its rows are the undone job's.
    if job.kind() == JobKind::Undo {
        return announced;
    }
    match scrub_upload(store, objects, &job).await {
        Ok(Scrub::NotYet) => {}
        Ok(Scrub::Copied { scrubbed, .. }) => tracing::info!(
            job = %id,
            passwords = scrubbed.passwords,
            rows_removed = scrubbed.rows_removed,
            "the upload was replaced by its copy without passwords and deleted"
        ),
        Ok(Scrub::Deleted) => tracing::info!(job = %id, "the unreadable upload was deleted"),
        Err(err) => tracing::error!(job = %id, error = %err, "the upload still holds its passwords: not removed"),
    }
    announced
}
