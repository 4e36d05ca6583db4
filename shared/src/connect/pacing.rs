//! Client-side pacing under Connect's per-API quotas, so that a run spends the account's buckets evenly instead of
//! bouncing off them, and keeps enough calls in flight to spend them. One pacer serves every task of a process and
//! draws from a budget all the processes share; a throttle (another tool spending the same quota) cuts that budget's
//! rate for all of them until it recovers.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::attempts::Retries;
use crate::budget::{Budget, Limit, LocalBudget, Micros, now_micros};

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
    UntagResource,
    ListRoutingProfiles,
    ListSecurityProfiles,
    SearchUserHierarchyGroups,
    ListContactFlows,
    CreateQuickConnect,
    DescribeQuickConnect,
    ListQuickConnects,
    DeleteQuickConnect,
    DescribeInstance,
}

impl Api {
    pub const ALL: [Api; 22] = [
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
        Api::UntagResource,
        Api::ListRoutingProfiles,
        Api::ListSecurityProfiles,
        Api::SearchUserHierarchyGroups,
        Api::ListContactFlows,
        Api::CreateQuickConnect,
        Api::DescribeQuickConnect,
        Api::ListQuickConnects,
        Api::DeleteQuickConnect,
        Api::DescribeInstance,
    ];

    /// The operation's name, which names its bucket.
    pub fn name(self) -> &'static str {
        match self {
            Api::CreateUser => "CreateUser",
            Api::DescribeUser => "DescribeUser",
            Api::ListUsers => "ListUsers",
            Api::SearchUsers => "SearchUsers",
            Api::UpdateUserIdentityInfo => "UpdateUserIdentityInfo",
            Api::UpdateUserPhoneConfig => "UpdateUserPhoneConfig",
            Api::UpdateUserRoutingProfile => "UpdateUserRoutingProfile",
            Api::UpdateUserSecurityProfiles => "UpdateUserSecurityProfiles",
            Api::UpdateUserHierarchy => "UpdateUserHierarchy",
            Api::UpdateUserConfig => "UpdateUserConfig",
            Api::DeleteUser => "DeleteUser",
            Api::TagResource => "TagResource",
            Api::UntagResource => "UntagResource",
            Api::ListRoutingProfiles => "ListRoutingProfiles",
            Api::ListSecurityProfiles => "ListSecurityProfiles",
            Api::SearchUserHierarchyGroups => "SearchUserHierarchyGroups",
            Api::ListContactFlows => "ListContactFlows",
            Api::CreateQuickConnect => "CreateQuickConnect",
            Api::DescribeQuickConnect => "DescribeQuickConnect",
            Api::ListQuickConnects => "ListQuickConnects",
            Api::DeleteQuickConnect => "DeleteQuickConnect",
            Api::DescribeInstance => "DescribeInstance",
        }
    }

    /// The 10 req/s family of the reference (reference/amazon-connect.md, "Quotas"; DescribeQuickConnect's 10 req/s
    /// from the admin guide's API throttling quotas, "Connect Customer service quotas"); every other call ccbulk
    /// makes is in the 2 req/s family.
    fn is_read(self) -> bool {
        matches!(
            self,
            Api::DescribeUser
                | Api::ListUsers
                | Api::ListRoutingProfiles
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
    /// The bucket of `api`: its family's rate and burst.
    fn of(self, api: Api) -> Limit {
        if api.is_read() {
            Limit { per_second: self.read_per_second, burst: self.read_burst }
        } else {
            Limit { per_second: self.write_per_second, burst: self.write_burst }
        }
    }

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

/// When a Connect call may be sent, and (see `attempts.rs`) whether to send it again. One pacer serves every task
/// of a process; its buckets live in a [`Budget`] that other processes may share.
pub struct Pacer {
    budget: Arc<dyn Budget>,
    /// The process's own buckets at its share of the rate, for when the shared budget cannot be reached: calls go on
    /// at a rate that is safe without it.
    fallback: LocalBudget,
    fallback_limits: RateBudget,
    limits: RateBudget,
    lanes: HashMap<Api, Lane>,
    retries: Retries,
    /// Seconds a call takes, smoothed.
    latency: Mutex<Option<f64>>,
    max_in_flight: usize,
    in_flight: AtomicUsize,
    freed: Notify,
    throttles: AtomicU64,
    calls: AtomicU64,
}

/// The slots one API's bucket gave this process, and the calls waiting for one.
#[derive(Default)]
struct Lane {
    /// Each slot's time, and when it was taken from the budget.
    slots: Mutex<VecDeque<(Micros, Micros)>>,
    waiting: AtomicU32,
    /// When this process last saw a call of the API throttled: slots taken before then were given at a rate that
    /// proved too high, and are given up rather than spent.
    cut_at: AtomicU64,
    /// Held by the task that takes slots from the budget for all the waiting calls.
    refill: tokio::sync::Mutex<()>,
}

/// A call counted among its lane's waiting ones while it waits for its slot; the count is given back however the
/// wait ends, a caller giving up on it (its deadline, a select) included: a count left behind would have every
/// later refill take slots for a call that is gone, spending the shared quota on nothing.
struct Waiting<'a>(&'a AtomicU32);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicU32) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Lane {
    /// The next slot that has not gone stale (its call would be late enough to crowd the slots after it).
    fn next_slot(&self, period: Micros) -> Option<(Micros, Micros)> {
        let mut slots = self.slots.lock().ok()?;
        let now = now_micros();
        while let Some((slot, taken)) = slots.pop_front() {
            if slot + period >= now {
                return Some((slot, taken));
            }
        }
        None
    }
}

/// Calls in flight a pacer allows at most, whatever the rate and latency (a Lambda container's sockets and memory).
pub const MAX_IN_FLIGHT: usize = 64;

impl Pacer {
    /// A pacer whose buckets are this process's alone.
    pub fn new(limits: RateBudget) -> Self {
        Self::shared(limits, Arc::new(LocalBudget::default()), 1)
    }

    /// A pacer that draws from `budget`, shared with up to `workers` processes in all (each falls back to its
    /// share when the budget cannot be reached).
    pub fn shared(limits: RateBudget, budget: Arc<dyn Budget>, workers: u32) -> Self {
        Self {
            budget,
            fallback: LocalBudget::default(),
            fallback_limits: limits.shared_by(workers),
            limits,
            lanes: Api::ALL.into_iter().map(|api| (api, Lane::default())).collect(),
            retries: Retries::default(),
            latency: Mutex::new(None),
            max_in_flight: MAX_IN_FLIGHT,
            in_flight: AtomicUsize::new(0),
            freed: Notify::new(),
            throttles: AtomicU64::new(0),
            calls: AtomicU64::new(0),
        }
    }

    /// The same pacer with other retries (tests shorten the waits).
    pub fn with_retries(self, retries: Retries) -> Self {
        Self { retries, ..self }
    }

    /// The same pacer with another ceiling on calls in flight.
    pub fn with_max_in_flight(self, max_in_flight: usize) -> Self {
        Self { max_in_flight: max_in_flight.max(1), ..self }
    }

    /// The rates and bursts this pacer keeps to.
    pub fn limits(&self) -> RateBudget {
        self.limits
    }

    pub fn retries(&self) -> Retries {
        self.retries
    }

    /// Calls the service throttled so far.
    pub fn throttles(&self) -> u64 {
        self.throttles.load(Ordering::Relaxed)
    }

    /// Calls sent so far (each attempt counts, every API's).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Waits until `api` may be called; answers when its slot was taken from the budget (a throttle of the call
    /// is judged by that: see [`crate::budget::BucketState::throttled`]).
    pub async fn wait(&self, api: Api) -> Micros {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let lane = &self.lanes[&api];
        let limit = self.limits.of(api);
        let period = limit.period();
        let waiting = Waiting::enter(&lane.waiting);
        let (slot, taken) = loop {
            if let Some(slot) = lane.next_slot(period) {
                break slot;
            }
            let _refilling = lane.refill.lock().await;
            if let Some(slot) = lane.next_slot(period) {
                break slot;
            }
            // Slots for every call waiting now, up to a second's worth: one trip to the budget serves them all,
            // and none is taken for calls that may never come.
            let count = lane.waiting.load(Ordering::SeqCst).clamp(1, limit.per_second.ceil().max(1.0) as u32);
            let taken = now_micros();
            let mut slots = match self.budget.reserve(api.name(), limit, count).await {
                Ok(slots) => slots,
                Err(err) => {
                    tracing::warn!(error = %err, "the shared rate budget is out of reach: this worker paces alone at its share");
                    self.fallback.reserve(api.name(), self.fallback_limits.of(api), count).await.unwrap_or_default()
                }
            };
            // The first slot is this caller's own, however long the budget took to answer: every trip to the
            // budget lets one call through.
            let mine = (!slots.is_empty()).then(|| slots.remove(0));
            if let Ok(mut lane_slots) = lane.slots.lock() {
                lane_slots.extend(slots.into_iter().map(|slot| (slot, taken)));
            }
            if let Some(mine) = mine {
                break (mine, taken);
            }
        };
        drop(waiting);
        let wait = slot.saturating_sub(now_micros());
        if wait > 0 {
            tokio::time::sleep(Duration::from_micros(wait)).await;
        }
        if lane.cut_at.load(Ordering::SeqCst) >= taken {
            // A throttle came while this call waited for its slot: it waits for one at the cut rate instead.
            return Box::pin(self.wait(api)).await;
        }
        taken
    }

    /// The service throttled a call of `api` whose slot was taken at `taken`: every worker's rate for it is cut,
    /// then recovers. The slots this process holds were given at the old rate: they are given up.
    pub(crate) async fn throttled(&self, api: Api, taken: Micros) {
        self.throttles.fetch_add(1, Ordering::Relaxed);
        let lane = &self.lanes[&api];
        lane.cut_at.fetch_max(now_micros(), Ordering::SeqCst);
        if let Ok(mut slots) = lane.slots.lock() {
            slots.clear();
        }
        if let Err(err) = self.budget.throttled(api.name(), self.limits.of(api), taken).await {
            tracing::warn!(error = %err, "could not share a throttle with the other workers");
        }
    }

    /// Records how long a call took.
    pub(crate) fn took(&self, elapsed: Duration) {
        if let Ok(mut latency) = self.latency.lock() {
            let seconds = elapsed.as_secs_f64();
            *latency = Some(latency.map_or(seconds, |smoothed| smoothed * 0.8 + seconds * 0.2));
        }
    }

    /// How many rows may be worked at once to spend the write rate: by Little's law, the rate times the time a call
    /// takes, doubled for the row's other work (its store writes) and the latency's spread, within
    /// [`Pacer::with_max_in_flight`]. Before the first answer, one.
    pub fn in_flight_target(&self) -> usize {
        self.in_flight_at(self.limits.write_per_second, 1)
    }

    /// How many read calls (DescribeQuickConnect over a whole index, say) to have in flight to spend the read rate:
    /// the same rule at the read rate. Before the first answer, two.
    pub fn reads_in_flight(&self) -> usize {
        self.in_flight_at(self.limits.read_per_second, 2)
    }

    /// Calls in flight that spend `rate`: the rate times the smoothed time a call takes, doubled, within
    /// [`Pacer::with_max_in_flight`]; `unknown` before the first answer.
    fn in_flight_at(&self, rate: f64, unknown: usize) -> usize {
        let latency = self.latency.lock().ok().and_then(|l| *l);
        let Some(latency) = latency else { return unknown };
        let wanted = (rate * latency * 2.0).ceil() as usize + 1;
        wanted.clamp(1, self.max_in_flight)
    }

    /// Waits for room to work one more row (see [`Pacer::in_flight_target`]); the room is given back when the
    /// permit is dropped.
    pub async fn row_permit(&self) -> RowPermit<'_> {
        loop {
            let freed = self.freed.notified();
            let current = self.in_flight.load(Ordering::SeqCst);
            if current < self.in_flight_target()
                && self.in_flight.compare_exchange(current, current + 1, Ordering::SeqCst, Ordering::SeqCst).is_ok()
            {
                return RowPermit { pacer: self };
            }
            // The target moves with the latency: look again now and then even if no row ends.
            let _ = tokio::time::timeout(Duration::from_millis(100), freed).await;
        }
    }
}

/// Room for one row in flight.
pub struct RowPermit<'a> {
    pacer: &'a Pacer,
}

impl Drop for RowPermit<'_> {
    fn drop(&mut self) {
        self.pacer.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.pacer.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shared budget whose table never answers (a DynamoDB call hung): a wait on it ends only when its caller
    /// gives up on it.
    struct Unanswered;

    impl Budget for Unanswered {
        fn reserve<'a>(&'a self, _: &'a str, _: Limit, _: u32) -> crate::budget::BudgetFuture<'a, Vec<Micros>> {
            Box::pin(std::future::pending())
        }
        fn throttled<'a>(&'a self, _: &'a str, _: Limit, _: Micros) -> crate::budget::BudgetFuture<'a, ()> {
            Box::pin(std::future::pending())
        }
        fn rate<'a>(&'a self, _: &'a str, _: Limit) -> crate::budget::BudgetFuture<'a, f64> {
            Box::pin(std::future::pending())
        }
    }

    #[tokio::test]
    async fn a_wait_given_up_leaves_no_call_counted_as_waiting() {
        let limits = RateBudget { write_per_second: 2.0, write_burst: 5, read_per_second: 10.0, read_burst: 10 };
        let pacer = Pacer::shared(limits, Arc::new(Unanswered), 1);
        // Three callers give up on their waits: one inside the budget's call, two queued behind it for the refill.
        let waits = futures_util::future::join_all(
            (0..3).map(|_| tokio::time::timeout(Duration::from_millis(50), pacer.wait(Api::CreateUser))),
        );
        assert!(waits.await.iter().all(Result::is_err), "no slot could be had");
        assert_eq!(pacer.lanes[&Api::CreateUser].waiting.load(Ordering::SeqCst), 0, "every count given back");
    }

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
