//! Client-side pacing under Connect's per-API quotas, so that a run spends the account's buckets evenly instead of
//! bouncing off them. One pacer is shared by every task of a process; the SDK's retry still absorbs the throttles
//! other tools in the account cause.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::attempts::Retries;

/// The Connect APIs ccbulk calls, grouped by nothing: each has its own bucket at the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    CreateUser,
    DescribeUser,
    ListUsers,
    SearchUsers,
    UpdateUserIdentityInfo,
    UpdateUserPhoneConfig,
    UpdateUserRoutingProfile,
    UpdateUserSecurityProfiles,
    UpdateUserHierarchy,
    UpdateUserConfig,
    DeleteUser,
    TagResource,
    ListRoutingProfiles,
    ListSecurityProfiles,
    ListUserHierarchyGroups,
    ListContactFlows,
    CreateQuickConnect,
    DescribeQuickConnect,
    ListQuickConnects,
    DeleteQuickConnect,
    DescribeInstance,
}

impl Api {
    pub const ALL: [Api; 21] = [
        Api::CreateUser,
        Api::DescribeUser,
        Api::ListUsers,
        Api::SearchUsers,
        Api::UpdateUserIdentityInfo,
        Api::UpdateUserPhoneConfig,
        Api::UpdateUserRoutingProfile,
        Api::UpdateUserSecurityProfiles,
        Api::UpdateUserHierarchy,
        Api::UpdateUserConfig,
        Api::DeleteUser,
        Api::TagResource,
        Api::ListRoutingProfiles,
        Api::ListSecurityProfiles,
        Api::ListUserHierarchyGroups,
        Api::ListContactFlows,
        Api::CreateQuickConnect,
        Api::DescribeQuickConnect,
        Api::ListQuickConnects,
        Api::DeleteQuickConnect,
        Api::DescribeInstance,
    ];

    /// The 10 req/s family of the reference (reference/amazon-connect.md, "Quotas"; DescribeQuickConnect's 10 req/s
    /// from the admin guide's API throttling quotas, "Connect Customer service quotas"); every other call ccbulk
    /// makes is in the 2 req/s family.
    fn is_read(self) -> bool {
        matches!(
            self,
            Api::DescribeUser
                | Api::ListUsers
                | Api::ListRoutingProfiles
                | Api::ListUserHierarchyGroups
                | Api::ListQuickConnects
                | Api::DescribeQuickConnect
        )
    }
}

/// Requests per second and burst, for the write family (`ConnectWriteRate`) and the read family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateBudget {
    pub write_per_second: f64,
    pub write_burst: u32,
    pub read_per_second: f64,
    pub read_burst: u32,
}

impl RateBudget {
    /// Each one's part when `workers` processes share this budget without talking to each other (the Lambdas at
    /// their maximum concurrency): rates divided, bursts too, but never below one request.
    pub fn shared_by(self, workers: u32) -> Self {
        let workers = workers.max(1);
        let part = |burst: u32| (burst / workers).max(1);
        Self {
            write_per_second: self.write_per_second / f64::from(workers),
            write_burst: part(self.write_burst),
            read_per_second: self.read_per_second / f64::from(workers),
            read_burst: part(self.read_burst),
        }
    }
}

impl Default for RateBudget {
    /// The account's default quotas (2 req/s burst 5; 10 req/s).
    fn default() -> Self {
        Self { write_per_second: 2.0, write_burst: 5, read_per_second: 10.0, read_burst: 10 }
    }
}

/// When a Connect call may be sent, and (see `attempts.rs`) whether to send it again.
pub struct Pacer {
    limiters: HashMap<Api, DefaultDirectRateLimiter>,
    retries: Retries,
}

impl Pacer {
    pub fn new(budget: RateBudget) -> Self {
        let limiters = Api::ALL
            .into_iter()
            .map(|api| {
                let (rate, burst) = if api.is_read() {
                    (budget.read_per_second, budget.read_burst)
                } else {
                    (budget.write_per_second, budget.write_burst)
                };
                (api, limiter(rate, burst))
            })
            .collect();
        Self { limiters, retries: Retries::default() }
    }

    /// The same pacer with other retries (tests shorten the waits).
    pub fn with_retries(self, retries: Retries) -> Self {
        Self { retries, ..self }
    }

    pub fn retries(&self) -> Retries {
        self.retries
    }

    /// Waits until `api` may be called.
    pub async fn wait(&self, api: Api) {
        if let Some(limiter) = self.limiters.get(&api) {
            limiter.until_ready().await;
        }
    }
}

/// One token of the service's burst is left unspent: requests reach the service with varying delays, and two that
/// leave half a period apart may arrive closer; the spare token absorbs that instead of a 429.
fn limiter(rate: f64, burst: u32) -> DefaultDirectRateLimiter {
    let period = Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let burst = NonZeroU32::new(burst.saturating_sub(1).max(1)).unwrap_or(NonZeroU32::MIN);
    RateLimiter::direct(
        Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)).allow_burst(burst),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_shared_by_workers_adds_up_to_at_most_the_whole() {
        let whole = RateBudget { write_per_second: 2.0, write_burst: 5, read_per_second: 10.0, read_burst: 10 };
        let part = whole.shared_by(4);
        assert_eq!((part.write_per_second, part.write_burst), (0.5, 1));
        assert_eq!((part.read_per_second, part.read_burst), (2.5, 2));
        assert!(part.write_per_second * 4.0 <= whole.write_per_second);
        assert_eq!(whole.shared_by(0), whole, "no workers is one");
    }
}
