//! Something a job's workers read once for them all (the org's reference records, the instance's quick connects),
//! passed on through the job store: the first worker claims the reading and shares what it read; the others wait for
//! it and take it up.

use std::time::{Duration, Instant};

use super::model::JobId;
use super::store::JobStore;

/// The largest text a worker shares through the job store: a DynamoDB item holds 400 KB, its keys and attribute names
/// included (DynamoDB Developer Guide, "Service, account, and table quotas in Amazon DynamoDB"); the rest is room
/// for them. What does not fit is not shared, and each worker reads it for itself.
pub const SHARED_VALUE_MAX: usize = 300_000;

/// What a worker new to the job does about a shared reading.
#[derive(Debug, PartialEq, Eq)]
pub enum Reading {
    /// Another worker shared it: take it up.
    Shared(String),
    /// This worker claimed it: read, then share what was read.
    Claimed,
    /// Nobody shared it in time (the reader is slow or died), or the store cannot say: read, for this worker alone.
    Alone,
}

/// How often a waiting worker looks for the shared reading.
const POLL: Duration = Duration::from_millis(250);

/// Takes up `name` for the job, waiting up to `patience` while another worker reads it, or else claims it.
pub async fn take_or_claim<S: JobStore>(store: &S, job: &JobId, name: &str, patience: Duration) -> Reading {
    let give_up = Instant::now() + patience;
    loop {
        match store.shared(job, name).await {
            Ok(Some(shared)) if !shared.is_empty() => return Reading::Shared(shared),
            // Claimed and not shared yet.
            Ok(Some(_)) if Instant::now() < give_up => tokio::time::sleep(POLL).await,
            Ok(None) => match store.claim_share(job, name).await {
                Ok(true) => return Reading::Claimed,
                // Claimed by another worker just now: wait for it like the others.
                Ok(false) => {}
                Err(_) => return Reading::Alone,
            },
            _ => return Reading::Alone,
        }
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::job::SqliteJobStore;

    #[tokio::test]
    async fn the_first_worker_claims_the_others_wait_for_what_it_shares_or_read_alone_past_their_patience() {
        let store = SqliteJobStore::in_memory().unwrap();
        let job = JobId::from_string("job-1".into());
        assert_eq!(take_or_claim(&store, &job, "thing", Duration::from_secs(5)).await, Reading::Claimed);
        assert_eq!(take_or_claim(&store, &job, "thing", Duration::ZERO).await, Reading::Alone, "claimed, unshared");
        let waiting = take_or_claim(&store, &job, "thing", Duration::from_secs(30));
        let sharing = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            store.share(&job, "thing", "read once").await.unwrap();
        };
        let (waited, ()) = tokio::join!(waiting, sharing);
        assert_eq!(waited, Reading::Shared("read once".into()));
    }
}
