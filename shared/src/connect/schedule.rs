//! Whether a deployment's settings can work at all, judged before the first message: workers that share the
//! account's Connect quota must each finish a chunk well inside their time limit and keep back time enough for the
//! slowest row, even when all of them are busy and each gets only its share of the budget.

use std::fmt;
use std::time::Duration;

use super::pacing::RateBudget;

/// Write-family calls (2 req/s by default, each on its own bucket) the slowest row makes: an add that meets a
/// duplicate and adopts the user (CreateUser, SearchUsers), then changes every part of it (the five Update* calls,
/// UpdateUserConfig, TagResource), then creates its quick connect.
const SLOWEST_ROW_WRITES: u32 = 10;
/// Read-family calls of that row: DescribeUser, ListQuickConnects, DescribeQuickConnect.
const SLOWEST_ROW_READS: u32 = 3;
/// Time for what is not paced: Salesforce's calls for the row (a query, a save, a permission set assignment) and
/// round trips on a slow day.
const UNPACED_ALLOWANCE: Duration = Duration::from_secs(15);

/// How a deployment works its chunks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    /// The whole account's budget, which the workers share.
    pub budget: RateBudget,
    /// Workers at once (the provision function's maximum concurrency).
    pub workers: u32,
    pub chunk_rows: u32,
    /// The longest a worker may take over one chunk (the function's timeout).
    pub time_limit: Duration,
}

/// What the settings come to for one worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// One worker's part of the budget.
    pub share: RateBudget,
    /// The longest one row may take at that share: the time a worker keeps back from its deadline, so that a row
    /// it starts is a row it finishes.
    pub slowest_row: Duration,
    /// The longest a whole chunk may take at that share.
    pub chunk: Duration,
}

/// Settings that cannot work, with the figures that show it.
#[derive(Debug, Clone, PartialEq)]
pub enum Unworkable {
    /// A single row, at one worker's share, may take more than half the time limit.
    SlowRow { slowest_row: Duration, time_limit: Duration, share_per_second: f64 },
    /// A chunk, at one worker's share, does not finish well inside the time limit.
    SlowChunk { chunk: Duration, within: Duration, share_per_second: f64, rows_that_fit: u32 },
}

/// The names under which an admin sets each figure, for the message.
#[derive(Debug, Clone, Copy)]
pub struct SettingNames {
    pub rate: &'static str,
    pub workers: &'static str,
    pub chunk_rows: &'static str,
    pub time_limit: &'static str,
}

impl Workload {
    pub fn check(&self) -> Result<Schedule, Unworkable> {
        let workers = self.workers.max(1);
        let share = self.budget.shared_by(workers);
        let write = Duration::from_secs_f64(1.0 / share.write_per_second);
        let read = Duration::from_secs_f64(1.0 / share.read_per_second);
        let slowest_row = write * SLOWEST_ROW_WRITES + read * SLOWEST_ROW_READS + UNPACED_ALLOWANCE;
        if slowest_row * 2 > self.time_limit {
            return Err(Unworkable::SlowRow {
                slowest_row,
                time_limit: self.time_limit,
                share_per_second: share.write_per_second,
            });
        }
        // In the steady state every row waits about one period of the write buckets (its calls are on different
        // buckets, which refill while the row before is worked); the last row may be the slowest kind. "Well
        // inside" is half of what is left once the slowest row is kept back.
        let chunk_of = |rows: u32| write * rows + slowest_row;
        let chunk = chunk_of(self.chunk_rows);
        let within = (self.time_limit - slowest_row) / 2;
        if chunk > within {
            let mut rows_that_fit = (within.saturating_sub(slowest_row).as_secs_f64() * share.write_per_second) as u32;
            while rows_that_fit > 0 && chunk_of(rows_that_fit) > within {
                rows_that_fit -= 1;
            }
            while chunk_of(rows_that_fit + 1) <= within {
                rows_that_fit += 1;
            }
            return Err(Unworkable::SlowChunk {
                chunk,
                within,
                share_per_second: share.write_per_second,
                rows_that_fit,
            });
        }
        Ok(Schedule { share, slowest_row, chunk })
    }
}

impl Unworkable {
    /// The message for an admin, naming the settings to change.
    pub fn explain(&self, names: &SettingNames) -> String {
        match self {
            Unworkable::SlowRow { slowest_row, time_limit, share_per_second } => format!(
                "at {} ({share_per_second:.3} Connect writes a second for each worker), one row may take {}, more \
                 than half the {} of {}: raise {} or lower {}",
                Rate(names.rate, names.workers),
                Seconds(*slowest_row),
                names.time_limit,
                Seconds(*time_limit),
                names.rate,
                names.workers
            ),
            Unworkable::SlowChunk { chunk, within, share_per_second, rows_that_fit } => format!(
                "a chunk of {} at {} ({share_per_second:.3} Connect writes a second for each worker) may take {}, \
                 more than the {} that fit well inside {}: lower {} to at most {rows_that_fit}, raise {} or lower {}",
                names.chunk_rows,
                Rate(names.rate, names.workers),
                Seconds(*chunk),
                Seconds(*within),
                names.time_limit,
                names.chunk_rows,
                names.rate,
                names.workers
            ),
        }
    }
}

struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.0} s", self.0.as_secs_f64().ceil())
    }
}

struct Rate(&'static str, &'static str);

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} shared by {}", self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: SettingNames = SettingNames {
        rate: "ConnectWriteRate",
        workers: "ProvisionConcurrency",
        chunk_rows: "ChunkRows",
        time_limit: "function timeout",
    };

    fn workload(rate: f64, workers: u32, chunk_rows: u32) -> Workload {
        Workload {
            budget: RateBudget { write_per_second: rate, ..RateBudget::default() },
            workers,
            chunk_rows,
            time_limit: Duration::from_secs(900),
        }
    }

    #[test]
    fn the_template_defaults_work_with_room_to_spare() {
        let schedule = workload(2.0, 2, 200).check().unwrap();
        assert_eq!(schedule.share.write_per_second, 1.0);
        assert!(schedule.chunk < Duration::from_secs(900) / 3, "{schedule:?}");
        assert!(schedule.slowest_row >= Duration::from_secs(10), "ten paced writes at 1 a second: {schedule:?}");
    }

    #[test]
    fn more_workers_than_the_burst_work_now_that_they_share_one_bucket() {
        // The budget in the table holds the account's burst for all of them: no worker keeps one of its own.
        let schedule = workload(10.0, 8, 25).check().unwrap();
        assert_eq!(schedule.share.write_per_second, 10.0 / 8.0, "each one's part when all of them are busy");
    }

    #[test]
    fn a_chunk_too_big_for_the_timeout_names_the_rows_that_fit() {
        let err = workload(0.2, 4, 500).check().unwrap_err();
        let Unworkable::SlowChunk { rows_that_fit, .. } = err else { panic!("{err:?}") };
        let message = err.explain(&NAMES);
        assert!(message.contains("ChunkRows") && message.contains("ConnectWriteRate"), "{message}");
        assert!(workload(0.2, 4, rows_that_fit).check().is_ok(), "the advice works");
        assert!(workload(0.2, 4, rows_that_fit + 1).check().is_err(), "and is the most that does");
    }

    #[test]
    fn a_rate_too_low_for_even_one_row_is_refused() {
        let err = workload(0.1, 5, 1).check().unwrap_err();
        assert!(matches!(err, Unworkable::SlowRow { .. }), "{err:?}");
        assert!(err.explain(&NAMES).contains("ConnectWriteRate"));
    }
}
