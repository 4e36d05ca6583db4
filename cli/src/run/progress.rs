//! The bar of a run: it follows the job's counters in the store.

use std::sync::Arc;
use std::time::Duration;

use ccbulk_shared::job::{JobId, JobStore, SqliteJobStore};
use tokio::sync::watch;

use crate::progress::Bar;

/// Draws until `done` turns true.
pub async fn follow(store: Arc<SqliteJobStore>, id: JobId, quiet: bool, mut done: watch::Receiver<bool>) {
    let bar = Bar::new(quiet);
    loop {
        if let Ok(Some(job)) = store.job(&id).await {
            bar.show(&job.counts);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = done.changed() => break,
        }
    }
    bar.finish();
}
