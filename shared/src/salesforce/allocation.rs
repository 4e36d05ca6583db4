//! The org's API request allocation, as every answer reports it (`Sforce-Limit-Info: api-usage=<used>/<max>`, over a
//! rolling 24 hours; reference/salesforce-rest.md, "Limits and status codes"). ccbulk slows down as the allocation
//! nears its end, so that the org's other integrations keep some of it, and pauses once it is spent
//! (`REQUEST_LIMIT_EXCEEDED`), for as long as it stays spent.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The error code of a call refused because the allocation is spent (403).
pub const ALLOCATION_SPENT: &str = "REQUEST_LIMIT_EXCEEDED";
/// Past this share of the allocation, calls are spaced out.
const SLOW_FROM: f64 = 0.9;
/// The allocation is counted over a rolling 24 hours: what was used a day ago comes back at the pace it was spent.
/// Spaced at `max / WINDOW` calls a second, ccbulk spends no more than the window gives back.
const WINDOW: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub used: u64,
    pub max: u64,
}

impl Usage {
    /// `api-usage=18/15000`, possibly among other `name=value` parts separated by commas.
    pub fn parse(header: &str) -> Option<Self> {
        let value = header.split(',').find_map(|part| part.trim().strip_prefix("api-usage="))?;
        let (used, max) = value.split_once('/')?;
        Some(Self { used: used.trim().parse().ok()?, max: max.trim().parse().ok()? })
    }

    fn nearly_spent(self) -> bool {
        self.max > 0 && self.used as f64 >= self.max as f64 * SLOW_FROM
    }
}

/// What the answers so far said of the allocation, and the spacing once it runs low.
#[derive(Default)]
pub(crate) struct Allocation {
    /// The last reading, and when it came (epoch seconds).
    last: Mutex<Option<(Usage, u64)>>,
    /// Made on first need, at the pace the org's allocation comes back.
    slow: Mutex<Option<(u64, std::sync::Arc<DefaultDirectRateLimiter>)>>,
    slowed: AtomicU64,
}

impl Allocation {
    pub(crate) fn record(&self, header: Option<&str>) {
        if let Some(usage) = header.and_then(Usage::parse)
            && let Ok(mut last) = self.last.lock()
        {
            *last = Some((usage, crate::job::now_epoch()));
        }
    }

    pub(crate) fn usage(&self) -> Option<Usage> {
        self.seen().map(|(usage, _)| usage)
    }

    /// The last reading, and when it came (epoch seconds).
    pub(crate) fn seen(&self) -> Option<(Usage, u64)> {
        self.last.lock().ok().and_then(|last| *last)
    }

    /// Calls that were spaced out because the allocation ran low.
    pub(crate) fn slowed(&self) -> u64 {
        self.slowed.load(Ordering::Relaxed)
    }

    /// Waits before a call while the allocation is nearly spent.
    pub(crate) async fn wait_turn(&self) {
        let Some(usage) = self.usage().filter(|usage| usage.nearly_spent()) else { return };
        let limiter = {
            let Ok(mut slow) = self.slow.lock() else { return };
            match slow.as_ref() {
                Some((max, limiter)) if *max == usage.max => limiter.clone(),
                _ => {
                    let limiter = std::sync::Arc::new(pace(usage.max));
                    *slow = Some((usage.max, limiter.clone()));
                    limiter
                }
            }
        };
        self.slowed.fetch_add(1, Ordering::Relaxed);
        limiter.until_ready().await;
    }
}

fn pace(max: u64) -> DefaultDirectRateLimiter {
    let period = WINDOW.div_f64(max.max(1) as f64);
    let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
    RateLimiter::direct(quota.allow_burst(NonZeroU32::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_read_as_salesforce_writes_it() {
        assert_eq!(Usage::parse("api-usage=18/15000"), Some(Usage { used: 18, max: 15000 }));
        assert_eq!(
            Usage::parse("per-app-api-usage=1/100(appName=x), api-usage=90/100"),
            Some(Usage { used: 90, max: 100 })
        );
        assert_eq!(Usage::parse("api-usage=lots"), None);
        assert!(!Usage { used: 89, max: 100 }.nearly_spent());
        assert!(Usage { used: 90, max: 100 }.nearly_spent());
        assert!(!Usage { used: 5, max: 0 }.nearly_spent(), "an org that reports no allocation is not slowed");
    }

    #[test]
    fn calls_are_spaced_at_the_pace_the_window_gives_back() {
        let limiter = pace(864_000);
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err(), "one call, then the next a tenth of a second later");
    }
}
