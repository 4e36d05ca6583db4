//! One rate budget for every worker of a deployment: the port, and where its buckets live. `ccbulk run`'s tasks
//! share a bucket in memory ([`LocalBudget`]); the provision Lambdas share one in the job table (`DynamoBudget`,
//! feature `dynamodb`), so that a busy worker takes the whole rate while the others are idle and all of them
//! together never take more than the account's quota.

mod bucket;
#[cfg(feature = "dynamodb")]
mod dynamodb;
mod local;

use std::future::Future;
use std::pin::Pin;

pub use self::bucket::{BucketState, Limit, Micros, now_micros};
#[cfg(feature = "dynamodb")]
pub use self::dynamodb::DynamoBudget;
pub use self::local::LocalBudget;

#[derive(Debug, thiserror::Error)]
#[error("rate budget: {0}")]
pub struct BudgetError(pub String);

pub type BudgetFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BudgetError>> + Send + 'a>>;

/// Where the buckets of a budget live, one bucket per name (an API, for Connect: each has its own quota).
pub trait Budget: Send + Sync {
    /// Takes `count` consecutive slots of `bucket` under `limit`: the times at which each call may go.
    fn reserve<'a>(&'a self, bucket: &'a str, limit: Limit, count: u32) -> BudgetFuture<'a, Vec<Micros>>;

    /// Tells the bucket that the service throttled a call whose slot was taken at `taken`: its rate is cut, for
    /// every worker.
    fn throttled<'a>(&'a self, bucket: &'a str, limit: Limit, taken: Micros) -> BudgetFuture<'a, ()>;

    /// The rate `bucket` gives now.
    fn rate<'a>(&'a self, bucket: &'a str, limit: Limit) -> BudgetFuture<'a, f64>;
}
