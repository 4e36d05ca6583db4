//! The Salesforce org's API allocation as a job's workers last saw it (`Sforce-Limit-Info: api-usage=<used>/<max>`,
//! over a rolling 24 hours; reference/salesforce-rest.md, "Limits and status codes"), kept with the job so that the
//! status API's job summary reports it. The count is the whole org's: other integrations' calls are in it too.

use serde::{Deserialize, Serialize};

use super::model::JobId;
use super::store::{JobStore, StoreError};

/// The job's shared item that holds it.
pub const SHARED_AS: &str = "salesforce.allocation";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesforceAllocation {
    /// API requests the org made in the 24 hours before `seen_at`.
    pub used: u64,
    /// The org's allocation over 24 hours.
    pub max: u64,
    /// When an answer reported it (epoch seconds).
    pub seen_at: u64,
}

impl SalesforceAllocation {
    /// What the job's workers last saw, if any saw it.
    pub async fn of_job<S: JobStore>(store: &S, job: &JobId) -> Result<Option<Self>, StoreError> {
        // An item that does not parse (written by another version) is as good as none: the summary goes without.
        Ok(store.shared(job, SHARED_AS).await?.and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// Keeps this reading unless the job holds a later one. Workers note their readings as their chunks end; two
    /// noting at the same moment may leave the earlier of their readings, a chunk behind.
    pub async fn note<S: JobStore>(self, store: &S, job: &JobId) -> Result<(), StoreError> {
        let kept = Self::of_job(store, job).await?;
        if kept.is_some_and(|kept| (kept.seen_at, kept.used) >= (self.seen_at, self.used)) {
            return Ok(());
        }
        let text = serde_json::to_string(&self).map_err(|err| StoreError(err.to_string()))?;
        store.share(job, SHARED_AS, &text).await
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::job::SqliteJobStore;

    #[tokio::test]
    async fn an_earlier_reading_never_replaces_a_later_one() {
        let store = SqliteJobStore::in_memory().unwrap();
        let job = JobId::from_string("job-1".into());
        assert_eq!(SalesforceAllocation::of_job(&store, &job).await.unwrap(), None);
        let later = SalesforceAllocation { used: 120, max: 15_000, seen_at: 1_000 };
        later.note(&store, &job).await.unwrap();
        SalesforceAllocation { used: 90, max: 15_000, seen_at: 999 }.note(&store, &job).await.unwrap();
        assert_eq!(SalesforceAllocation::of_job(&store, &job).await.unwrap(), Some(later));
        let newest = SalesforceAllocation { used: 80, max: 15_000, seen_at: 1_001 };
        newest.note(&store, &job).await.unwrap();
        assert_eq!(
            SalesforceAllocation::of_job(&store, &job).await.unwrap(),
            Some(newest),
            "a newer reading wins even if lower: the 24-hour window rolls on"
        );
    }
}
