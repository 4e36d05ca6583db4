//! What a process works out once per job and keeps while it works the job's chunks: the Connect instance's names,
//! the Salesforce org's reference records. A Lambda container keeps them between invocations; only the latest few
//! jobs are kept.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

/// Jobs whose values a process keeps.
const JOBS_KEPT: usize = 4;

/// One value per job, made by the first caller that asks for it; a failed attempt is made again by the next caller.
#[derive(Debug)]
pub struct JobMemo<T> {
    jobs: Mutex<VecDeque<(String, Arc<Slot<T>>)>>,
}

/// One job's value, once made.
type Slot<T> = OnceCell<Arc<T>>;

impl<T> Default for JobMemo<T> {
    fn default() -> Self {
        Self { jobs: Mutex::default() }
    }
}

impl<T> JobMemo<T> {
    /// Whether the job's value is made.
    pub fn has(&self, job: &str) -> bool {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        jobs.iter().any(|(id, cell)| id == job && cell.initialized())
    }

    pub async fn for_job<E, F>(&self, job: &str, make: impl FnOnce() -> F) -> Result<Arc<T>, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let cell = {
            let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
            match jobs.iter().find(|(id, _)| id == job) {
                Some((_, cell)) => cell.clone(),
                None => {
                    let cell = Arc::new(OnceCell::new());
                    jobs.push_back((job.to_owned(), cell.clone()));
                    if jobs.len() > JOBS_KEPT {
                        jobs.pop_front();
                    }
                    cell
                }
            }
        };
        cell.get_or_try_init(|| async { make().await.map(Arc::new) }).await.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_is_made_once_per_job_a_failure_is_tried_again_and_old_jobs_go() {
        let memo = JobMemo::<u32>::default();
        let made = std::sync::atomic::AtomicU32::new(0);
        let make = || async { Ok::<_, ()>(made.fetch_add(1, std::sync::atomic::Ordering::SeqCst)) };
        assert_eq!(*memo.for_job("a", make).await.unwrap(), 0);
        assert_eq!(*memo.for_job("a", make).await.unwrap(), 0, "made once for job a");
        assert_eq!(memo.for_job("b", || async { Err::<u32, _>("down") }).await, Err("down"));
        assert_eq!(*memo.for_job("b", make).await.unwrap(), 1, "a failure is tried again");
        for job in ["c", "d", "e", "f"] {
            memo.for_job(job, make).await.unwrap();
        }
        assert_eq!(*memo.for_job("a", make).await.unwrap(), 6, "the oldest job was let go");
    }
}
