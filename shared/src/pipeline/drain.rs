//! The in-process stand-in for the provision Lambdas: N workers take chunks from the in-process queue; a chunk with
//! rows left for a retry goes back on the queue after a backoff, as SQS would make it visible again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::objects::ObjectStore;
use super::provision::{RetryPolicy, Targets, provision_chunk};
use super::queue::MemoryQueue;
use crate::job::JobStore;

/// Deliveries a chunk gets when reading it or recording its rows keeps failing.
const MAX_DELIVERIES: u32 = 5;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub struct Pool<S, O> {
    pub store: Arc<S>,
    pub objects: Arc<O>,
    pub targets: Arc<Targets>,
    pub queue: Arc<MemoryQueue>,
    pub policy: RetryPolicy,
    pub backoff: Duration,
    pub stop: Arc<AtomicBool>,
}

impl<S: JobStore + 'static, O: ObjectStore + 'static> Pool<S, O> {
    /// Works until the queue is drained (or a stop is asked for); an error is a chunk that could not be handled.
    pub async fn run(self, workers: u32) -> Result<(), String> {
        let shared =
            Arc::new(Shared { pool: self, in_flight: AtomicUsize::new(0), deliveries: Mutex::new(HashMap::new()) });
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let shared = shared.clone();
            set.spawn(async move { shared.work().await });
        }
        let mut outcome = Ok(());
        while let Some(done) = set.join_next().await {
            let result = done.map_err(|e| format!("a worker died: {e}")).and_then(|r| r);
            if let Err(err) = result {
                // One fatal chunk stops the others after their current chunk.
                shared.pool.stop.store(true, Ordering::SeqCst);
                outcome = outcome.and(Err(err));
            }
        }
        outcome
    }
}

struct Shared<S, O> {
    pool: Pool<S, O>,
    in_flight: AtomicUsize,
    deliveries: Mutex<HashMap<u32, u32>>,
}

impl<S: JobStore + 'static, O: ObjectStore + 'static> Shared<S, O> {
    async fn work(&self) -> Result<(), String> {
        let pool = &self.pool;
        let keep_going = || !pool.stop.load(Ordering::SeqCst);
        loop {
            if !keep_going() {
                return Ok(());
            }
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            let Some(message) = pool.queue.receive() else {
                let others = self.in_flight.fetch_sub(1, Ordering::SeqCst) - 1;
                if others == 0 && pool.queue.is_empty() {
                    return Ok(());
                }
                // Another worker may yet put its chunk back.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let delivery = {
                let mut deliveries = self.deliveries.lock().map_err(|_| "a worker panicked")?;
                let count = deliveries.entry(message.chunk.index).or_default();
                *count += 1;
                *count
            };
            let result = provision_chunk(
                pool.store.as_ref(),
                pool.objects.as_ref(),
                pool.targets.as_ref(),
                &message,
                pool.policy,
                &keep_going,
            )
            .await;
            let backoff = pool.backoff.saturating_mul(1 << (delivery - 1).min(16)).min(MAX_BACKOFF);
            let again = match result {
                Ok(report) if report.needs_redelivery() && keep_going() => {
                    if let Some(reason) = &report.retry_reason {
                        tracing::info!(chunk = message.chunk.index, delivery, deferred = report.deferred, %reason, "chunk retried later");
                    }
                    // A bulk job Salesforce has worked on for long is looked at again only when due.
                    Some(report.look_again_in.map_or(backoff, |due| due.max(backoff)))
                }
                Ok(_) => None,
                Err(err) if delivery < MAX_DELIVERIES => {
                    tracing::warn!(chunk = message.chunk.index, delivery, error = %err, "chunk failed; retried later");
                    Some(backoff)
                }
                Err(err) => {
                    self.in_flight.fetch_sub(1, Ordering::SeqCst);
                    return Err(format!(
                        "chunk {} (rows {}–{}): {err}",
                        message.chunk.index, message.chunk.first_row, message.chunk.last_row
                    ));
                }
            };
            if let Some(wait) = again {
                tokio::time::sleep(wait).await;
                pool.queue.redeliver(message);
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
