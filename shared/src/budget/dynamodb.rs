//! Buckets in the job table (feature `dynamodb`), shared by every provision Lambda of the stack.
//!
//! Item: `pk = BUDGET#<scope>`, `sk = <bucket>`, with the bucket's state (`tat`, `cut_rate`, `cut_at`) and a
//! `version` that every write moves on. A change is a read-modify-write under the condition that the version is
//! still the one read (optimistic concurrency: DynamoDB developer guide, "Condition expressions"); a worker that
//! loses the race reads the item its condition failed on, which DynamoDB returns with
//! `ReturnValuesOnConditionCheckFailure = ALL_OLD` (PutItem API reference), and tries again. A worker takes the
//! slots for all of its waiting calls in one write, so the table sees a few writes a second, not one per call.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::{BucketState, Budget, BudgetError, BudgetFuture, Limit, Micros, now_micros};
use crate::job::dynamodb::{described, n, s};

type Item = HashMap<String, AttributeValue>;

/// Tries at a change that keeps losing races (each loss means another worker's change went through).
const RACE_ATTEMPTS: u32 = 50;

pub struct DynamoBudget {
    client: Client,
    table: String,
    pk: String,
    /// The last state and version seen per bucket: the first try of a change needs no read when nobody else wrote.
    seen: Mutex<HashMap<String, (BucketState, u64)>>,
    /// Microseconds a write to the table takes, smoothed.
    round_trip: AtomicU64,
}

impl DynamoBudget {
    /// The buckets of `scope` (for Connect, the instance: its quotas are the account's, and one stack works one
    /// instance) in `table`.
    pub fn new(client: Client, table: impl Into<String>, scope: &str) -> Self {
        Self {
            client,
            table: table.into(),
            pk: format!("BUDGET#{scope}"),
            seen: Mutex::default(),
            round_trip: AtomicU64::new(0),
        }
    }

    fn round_trip(&self) -> Micros {
        self.round_trip.load(Ordering::Relaxed)
    }

    fn took(&self, elapsed: Duration) {
        let sample = elapsed.as_micros() as Micros;
        let smoothed = match self.round_trip() {
            0 => sample,
            before => (before * 4 + sample) / 5,
        };
        self.round_trip.store(smoothed, Ordering::Relaxed);
    }

    fn key(&self, bucket: &str) -> Item {
        HashMap::from([("pk".to_owned(), s(self.pk.as_str())), ("sk".into(), s(bucket))])
    }

    async fn read(&self, bucket: &str) -> Result<(BucketState, u64), BudgetError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(bucket)))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed)?;
        Ok(got.item.as_ref().map(state_of).unwrap_or_default())
    }

    /// Applies `change` to the bucket's state as it is in the table; `change` answers the new state (`None`: leave
    /// it) and what the caller gets.
    async fn change<T>(
        &self,
        bucket: &str,
        change: impl Fn(BucketState, Micros) -> (Option<BucketState>, T),
    ) -> Result<T, BudgetError> {
        let cached = self.seen.lock().ok().and_then(|seen| seen.get(bucket).copied());
        let (mut state, mut version) = match cached {
            Some(seen) => seen,
            None => self.read(bucket).await?,
        };
        for attempt in 0..RACE_ATTEMPTS {
            // Slots are given from when the answer is back with the caller, a round trip from now: a slot already
            // past on arrival would be spent late, crowding the slots after it.
            let started = Instant::now();
            let (next, answer) = change(state, now_micros() + self.round_trip());
            let Some(next) = next else { return Ok(answer) };
            let mut item = self.key(bucket);
            item.insert("tat".into(), n(next.tat));
            item.insert("cut_rate".into(), n(next.cut_rate));
            item.insert("cut_at".into(), n(next.cut_at));
            item.insert("version".into(), n(version + 1));
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            let put = if version == 0 {
                put.condition_expression("attribute_not_exists(pk)")
            } else {
                put.condition_expression("#version = :v")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":v", n(version))
            };
            let sent = put.send().await;
            self.took(started.elapsed());
            let err = match sent {
                Ok(_) => {
                    if let Ok(mut seen) = self.seen.lock() {
                        seen.insert(bucket.to_owned(), (next, version + 1));
                    }
                    return Ok(answer);
                }
                Err(err) => err,
            };
            let Some(PutItemError::ConditionalCheckFailedException(lost)) = err.as_service_error() else {
                return Err(failed(err));
            };
            (state, version) = match lost.item().map(state_of) {
                Some(current) => current,
                None => self.read(bucket).await?,
            };
            // Workers that collided would collide again in step: a little jitter parts them.
            tokio::time::sleep(Duration::from_micros(fastrand::u64(0..=500 * u64::from(attempt.min(10))))).await;
        }
        Err(BudgetError(format!("the bucket {bucket} kept changing under {RACE_ATTEMPTS} tries")))
    }
}

impl Budget for DynamoBudget {
    fn reserve<'a>(&'a self, bucket: &'a str, limit: Limit, count: u32) -> BudgetFuture<'a, Vec<Micros>> {
        Box::pin(self.change(bucket, move |state, now| {
            let (next, slots) = state.reserve(limit, count, now);
            (Some(next), slots)
        }))
    }

    fn throttled<'a>(&'a self, bucket: &'a str, limit: Limit, taken: Micros) -> BudgetFuture<'a, ()> {
        Box::pin(self.change(bucket, move |state, now| (state.throttled(limit, taken, now), ())))
    }

    fn rate<'a>(&'a self, bucket: &'a str, limit: Limit) -> BudgetFuture<'a, f64> {
        Box::pin(async move { Ok(self.read(bucket).await?.0.rate_at(limit, now_micros())) })
    }
}

fn state_of(item: &Item) -> (BucketState, u64) {
    let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).map(String::as_str);
    let state = BucketState {
        tat: number("tat").and_then(|v| v.parse().ok()).unwrap_or_default(),
        cut_rate: number("cut_rate").and_then(|v| v.parse().ok()).unwrap_or_default(),
        cut_at: number("cut_at").and_then(|v| v.parse().ok()).unwrap_or_default(),
    };
    (state, number("version").and_then(|v| v.parse().ok()).unwrap_or_default())
}

fn failed(err: impl ProvideErrorMetadata + std::fmt::Debug) -> BudgetError {
    BudgetError(described(err))
}
