//! The arithmetic of one shared bucket, kept apart from where its state lives: a generic cell rate algorithm
//! (GCRA) whose rate adapts. The state is one "theoretical arrival time" (TAT) and the last cut of the rate, so a
//! worker can take several slots with one conditional write, and every worker reading the same state agrees on
//! what the bucket holds.
//!
//! GCRA is the token bucket expressed in time: a call may go at `TAT - tolerance`, and each call moves TAT on by
//! one period. It never lets more than `burst` calls through at once, nor more than `rate` a second over time.

/// Microseconds since the Unix epoch: every worker's clock, so that state written by one is read by another.
pub type Micros = u64;

pub fn now_micros() -> Micros {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as Micros)
}

/// What a bucket may give: calls a second and calls at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub per_second: f64,
    pub burst: u32,
}

impl Limit {
    /// The time between two calls at the whole rate.
    pub fn period(self) -> Micros {
        period_micros(self.per_second)
    }
}

/// After a throttle that follows another cut closely, the rate is cut to this part of what it was: multiplicative
/// decrease, by the factor the AWS SDKs' adaptive retry mode uses (its client rate limiter's CUBIC beta, 0.7):
/// another caller is spending the same quota, and by how much is unknown.
const CUT: f64 = 0.7;
/// A throttle after a quiet spell only nudges the rate down to this part of itself. Calls that leave a period apart
/// at the very limit reach the service bunched now and then (a loaded machine, the network), and the service
/// throttles one; the full cut for each such throttle cost a run at 500 req/s a tenth of its time. A caller that
/// really shares the quota is throttled again within the quiet spell, and then the full cut follows.
const NUDGE: f64 = 0.95;
/// How long after a cut a throttle counts as the same trouble going on.
const QUIET_SECONDS: f64 = 2.0;
/// The rate is never cut below this part of the limit, so that a bucket always recovers by its own calls.
const FLOOR: f64 = 0.05;
/// Seconds a cut rate takes to climb back to the whole limit, linearly (additive increase).
const RECOVERY_SECONDS: f64 = 20.0;

/// A bucket's shared state. `Default` is a bucket nobody has drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BucketState {
    /// When the next call would be on time, were the bucket never ahead of itself.
    pub tat: Micros,
    /// The rate right after the last throttle, and when that was (`cut_at == 0`: never cut).
    pub cut_rate: f64,
    pub cut_at: Micros,
}

impl BucketState {
    /// The rate the bucket gives at `now`: the limit, or a cut rate on its way back to it.
    pub fn rate_at(&self, limit: Limit, now: Micros) -> f64 {
        if self.cut_at == 0 {
            return limit.per_second;
        }
        let since = now.saturating_sub(self.cut_at) as f64 / 1e6;
        (self.cut_rate + limit.per_second * since / RECOVERY_SECONDS).min(limit.per_second)
    }

    /// Takes `count` consecutive slots at `now`: the times at which each call may go, and the state after them.
    /// Slots may lie in the future; a caller sleeps until its slot.
    pub fn reserve(self, limit: Limit, count: u32, now: Micros) -> (BucketState, Vec<Micros>) {
        let period = period_micros(self.rate_at(limit, now));
        // The burst is the service's, measured at the whole rate: at a cut rate it is no longer in time (a burst of
        // long periods would let the slots after a cut overlap the ones given before it). One call of the burst is
        // left unspent: calls reach the service with varying delays, and two that leave a period apart may arrive
        // closer; the spare call absorbs that instead of a 429.
        let tolerance = limit.period() * u64::from(limit.burst.saturating_sub(2));
        let mut tat = self.tat.max(now);
        let mut slots = Vec::with_capacity(count as usize);
        for _ in 0..count {
            slots.push(tat.saturating_sub(tolerance).max(now));
            tat += period;
        }
        (BucketState { tat, ..self }, slots)
    }

    /// The state after the service throttled a call whose slot was taken at `taken`, or `None` when that slot was
    /// taken before the last cut (the cut already answered the crowd it was part of).
    pub fn throttled(self, limit: Limit, taken: Micros, now: Micros) -> Option<BucketState> {
        if self.cut_at != 0 && taken <= self.cut_at {
            return None;
        }
        let since_cut = now.saturating_sub(self.cut_at) as f64 / 1e6;
        let factor = if self.cut_at != 0 && since_cut < QUIET_SECONDS { CUT } else { NUDGE };
        let cut_rate = (self.rate_at(limit, now) * factor).max(limit.per_second * FLOOR);
        // Slots already handed out at the old rate stay valid; the next ones are spaced at the cut rate.
        Some(BucketState { cut_rate, cut_at: now.max(1), ..self })
    }
}

fn period_micros(rate: f64) -> Micros {
    (1e6 / rate.max(1e-3)).ceil() as Micros
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Micros = 1_000_000;
    const T0: Micros = 1_700_000_000 * SECOND;

    fn limit(per_second: f64, burst: u32) -> Limit {
        Limit { per_second, burst }
    }

    /// Calls in any window of `window` microseconds, at most.
    fn most_in_window(slots: &[Micros], window: Micros) -> usize {
        let mut sorted = slots.to_vec();
        sorted.sort_unstable();
        (0..sorted.len())
            .map(|i| sorted[i..].iter().take_while(|&&t| t < sorted[i] + window).count())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn a_fresh_bucket_gives_its_burst_less_one_at_once_then_one_a_period() {
        let (_, slots) = BucketState::default().reserve(limit(2.0, 5), 7, T0);
        assert_eq!(&slots[..4], &[T0; 4], "burst 5, one kept back");
        assert_eq!(slots[4], T0 + SECOND / 2);
        assert_eq!(slots[6], T0 + 3 * SECOND / 2);
    }

    #[test]
    fn many_takers_of_one_state_never_exceed_the_rate_or_the_burst() {
        let limit = limit(10.0, 5);
        let mut state = BucketState::default();
        let mut all = Vec::new();
        // Takers of varying sizes at varying times, each from the state the one before left.
        for i in 0..200u64 {
            let now = T0 + i * 37_000;
            let (next, slots) = state.reserve(limit, (i % 4) as u32 + 1, now);
            assert!(slots.iter().all(|&t| t >= now), "no slot in the past");
            state = next;
            all.extend(slots);
        }
        assert!(most_in_window(&all, 1) <= 4, "at once: {}", most_in_window(&all, 1));
        // Over any second: the rate, plus what the burst allows on top.
        assert!(most_in_window(&all, SECOND) <= 10 + 4, "in a second: {}", most_in_window(&all, SECOND));
        let span = (all.iter().max().unwrap() - all.iter().min().unwrap()) as f64 / 1e6;
        let rate = all.len() as f64 / span;
        assert!((9.0..=10.5).contains(&rate), "over the whole run: {rate}");
    }

    #[test]
    fn an_idle_bucket_lends_its_whole_rate_to_the_first_caller() {
        let limit = limit(4.0, 5);
        let (state, _) = BucketState::default().reserve(limit, 8, T0);
        // Long after, one caller alone takes a second's worth at the burst and the full rate.
        let later = T0 + 60 * SECOND;
        let (_, slots) = state.reserve(limit, 5, later);
        assert_eq!(&slots[..4], &[later; 4]);
        assert_eq!(slots[4], later + SECOND / 4);
    }

    #[test]
    fn a_throttle_cuts_the_rate_once_per_crowd_and_the_rate_climbs_back() {
        let limit = limit(10.0, 5);
        let state = BucketState::default();
        let nudged = state.throttled(limit, T0, T0 + 1_000).expect("a first throttle nudges the rate down");
        assert!((nudged.rate_at(limit, T0 + 1_000) - 9.5).abs() < 0.01);
        assert_eq!(
            nudged.throttled(limit, T0 + 500, T0 + 2_000),
            None,
            "a slot taken before the cut does not cut again"
        );
        let cut = nudged.throttled(limit, T0 + 5_000, T0 + 6_000).expect("a slot taken after the cut does, fully");
        assert!((cut.rate_at(limit, T0 + 6_000) - 9.5 * 0.7).abs() < 0.01);
        let again = cut.throttled(limit, T0 + 7_000, T0 + 8_000).expect("and again");
        assert!((again.rate_at(limit, T0 + 8_000) - 9.5 * 0.49).abs() < 0.01);
        let mid = again.rate_at(limit, T0 + 8_000 + 10 * SECOND);
        assert!((mid - (9.5 * 0.49 + 5.0)).abs() < 0.01, "half of the limit back in half the recovery: {mid}");
        assert_eq!(again.rate_at(limit, T0 + 60 * SECOND), 10.0, "and never above the limit");
        let mut floor = again;
        for i in 0..20 {
            let at = T0 + 9_000 + i * 1_000;
            floor = floor.throttled(limit, at, at).unwrap();
        }
        assert!(floor.rate_at(limit, T0 + 30_000) >= 0.5, "never below the floor");
    }

    #[test]
    fn a_throttle_after_a_quiet_spell_only_nudges_the_rate() {
        let limit = limit(500.0, 5);
        let first = BucketState::default().throttled(limit, T0, T0).unwrap();
        // Long after, when the rate is whole again, a lone throttle of a call sent at the limit: a nudge again.
        let later = T0 + 30 * SECOND;
        let second = first.throttled(limit, later, later).unwrap();
        assert!((second.rate_at(limit, later) - 475.0).abs() < 0.01);
        // One right after it: the quota is shared after all.
        let soon = later + SECOND / 2;
        let third = second.throttled(limit, soon, soon).unwrap();
        assert!(third.rate_at(limit, soon) < 0.75 * 500.0, "{}", third.rate_at(limit, soon));
    }

    #[test]
    fn slots_after_a_cut_are_spaced_at_the_cut_rate() {
        let limit = limit(10.0, 2);
        let cut = BucketState::default().throttled(limit, T0, T0).unwrap();
        let (_, slots) = cut.reserve(limit, 3, T0);
        let period = (SECOND as f64 / 9.5).ceil() as Micros;
        assert_eq!(slots, vec![T0, T0 + period, T0 + 2 * period]);
    }
}
