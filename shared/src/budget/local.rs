//! Buckets in this process's memory: the budget of one `ccbulk run`, whose tasks share it.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{BucketState, Budget, BudgetError, BudgetFuture, Limit, Micros, now_micros};

#[derive(Debug, Default)]
pub struct LocalBudget {
    buckets: Mutex<HashMap<String, BucketState>>,
}

impl LocalBudget {
    fn with_state<T>(&self, bucket: &str, change: impl FnOnce(&mut BucketState) -> T) -> Result<T, BudgetError> {
        let mut buckets = self.buckets.lock().map_err(|_| BudgetError("a task panicked".into()))?;
        Ok(change(buckets.entry(bucket.to_owned()).or_default()))
    }
}

impl Budget for LocalBudget {
    fn reserve<'a>(&'a self, bucket: &'a str, limit: Limit, count: u32) -> BudgetFuture<'a, Vec<Micros>> {
        Box::pin(async move {
            self.with_state(bucket, |state| {
                let (next, slots) = state.reserve(limit, count, now_micros());
                *state = next;
                slots
            })
        })
    }

    fn throttled<'a>(&'a self, bucket: &'a str, limit: Limit, taken: Micros) -> BudgetFuture<'a, ()> {
        Box::pin(async move {
            self.with_state(bucket, |state| {
                if let Some(next) = state.throttled(limit, taken, now_micros()) {
                    *state = next;
                }
            })
        })
    }

    fn rate<'a>(&'a self, bucket: &'a str, limit: Limit) -> BudgetFuture<'a, f64> {
        Box::pin(async move { self.with_state(bucket, |state| state.rate_at(limit, now_micros())) })
    }
}
