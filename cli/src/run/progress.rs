//! The progress bar: it follows the job's counters in the store, as `ccbulk submit` will follow a deployed job.

use std::sync::Arc;
use std::time::Duration;

use ccbulk_shared::job::{Counts, JobId, JobStore, SqliteJobStore};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;

/// Draws until `done` turns true; hidden when stderr is not a terminal or `quiet`.
pub async fn follow(store: Arc<SqliteJobStore>, id: JobId, quiet: bool, mut done: watch::Receiver<bool>) {
    let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    loop {
        if let Ok(Some(job)) = store.job(&id).await {
            let counts = job.counts;
            bar.set_length(counts.total() - counts.invalid);
            bar.set_position(counts.succeeded + counts.failed);
            bar.set_message(message(&counts));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = done.changed() => break,
        }
    }
    bar.finish_and_clear();
}

fn message(counts: &Counts) -> String {
    format!("{} succeeded, {} failed, {} invalid", counts.succeeded, counts.failed, counts.invalid)
}
