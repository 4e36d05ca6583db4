//! Benchmark: ccbulk against the account's Connect quota, at scale (issue 13's figures, in one run).
//!
//! ```sh
//! cargo build --release -p ccbulk-cli && cargo run --release -p ccbulk-e2e --example scale_bench [-- ROWS BIG_ROWS]
//! ```
//!
//! 1. **The grid.** A job of ROWS (1,000) adds, each with its Salesforce side, through the serverless driver: ingest,
//!    then provision containers drawing on one budget in the job table (moto), Connect and Salesforce sandboxes on
//!    loopback. ConnectWriteRate 2, 10 and 50 req/s, each with 1, 2, 4 and 8 containers. The Connect sandbox
//!    answers every call in 80–300 ms and throttles CreateUser at that rate with a burst of 5; Salesforce answers in
//!    80–300 ms too.
//! 2. **Two baselines** work the same job one row at a time with the same SDK, against sandboxes of their own: the
//!    AWS blog's tool (a fixed 600 ms pause after each user) and the community scripts (no pause, the SDK's
//!    standard retries alone). Each row makes the calls such a script makes: the Salesforce user, its Voice
//!    permission set, its contact center, the Connect user.
//!    Above the default quota the same job also goes through `ccbulk run`'s pipeline (SQLite, no moto): where the
//!    grid falls short of that figure, moto is the limit, and the cells print how busy moto's process was.
//! 3. **BIG_ROWS (100,000) adds through `ccbulk run`** (the release binary, in its own process) at a CreateUser quota
//!    of 500 req/s, into an instance that already holds 10,000 users: time against the floor N / rate, and peak
//!    RSS.
//!
//! For a quicker look: `CCBULK_BENCH_RATES=50` runs those rates of the grid only (`CCBULK_BENCH_WORKERS=1,2` those
//! container counts; empty, no cell but the pipeline's figure), `CCBULK_BENCH_BASELINES=0` leaves
//! the baselines out, and BIG_ROWS 0 the `ccbulk run`; the last line then stands for what ran.
//!
//! Figures are ratios: CreateUser calls a second over the configured rate for the whole provisioning (its tail
//! included), and ccbulk's time for the whole job (ingest included) against each baseline's.

mod baselines;
mod big_run;
// ccbulk run's pipeline and its Salesforce target, as the shared crate's benchmarks run them.
#[path = "../../../shared/examples/common/mod.rs"]
mod common;
mod grid;
mod local;
mod setup;

use std::time::Duration;

use baselines::Baseline;
use grid::Cell;

const RATES: [f64; 3] = [2.0, 10.0, 50.0];
const WORKERS: [usize; 4] = [1, 2, 4, 8];

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("row counts")).collect();
    let (rows, big_rows) = (args.first().copied().unwrap_or(1_000), args.get(1).copied().unwrap_or(100_000));
    let ccbulk = if big_rows > 0 { big_run::binary() } else { Default::default() };
    println!("{rows} adds per job, both sides per row; Connect and Salesforce answer in 80–300 ms\n");

    // The baselines pace themselves below the default quota by their own waits, so they run beside the grid on
    // sandboxes of their own: the runs share nothing but the machine's cores, of which they take little.
    let with_baselines = std::env::var("CCBULK_BENCH_BASELINES").map_or(true, |v| v != "0");
    let baseline = |kind| with_baselines.then(|| tokio::spawn(baselines::run(kind, rows)));
    let (fixed_pause, sdk_retries) = (baseline(Baseline::FixedPause), baseline(Baseline::SdkRetries));
    let rates: Vec<f64> = numbers("CCBULK_BENCH_RATES").unwrap_or_else(|| RATES.to_vec());
    let workers: Vec<usize> = numbers("CCBULK_BENCH_WORKERS").unwrap_or_else(|| WORKERS.to_vec());

    let (mut cells, mut locals) = (Vec::new(), Vec::new());
    for &rate in &rates {
        // At the default quota a cell is minutes of waiting for the quota: its four run at once, each on its own
        // moto and sandboxes. Above it, one at a time, so that no cell's figure is another's load.
        if rate <= 2.0 {
            let runs = workers.iter().map(|&workers| grid::run(rate, workers, rows));
            cells.extend(futures_util::future::join_all(runs).await);
        } else {
            for &workers in &workers {
                cells.push(grid::run(rate, workers, rows).await);
            }
        }
        for cell in cells.iter().filter(|c| c.rate == rate) {
            cell.print();
        }
        // Above the default quota, the same job without moto: where the grid falls short of this, moto is the limit.
        if rate > 2.0 {
            let local = local::utilisation(rate, rows).await;
            println!(
                "{rate:>4} req/s through ccbulk run's pipeline (4 workers, SQLite, no moto): {local:.2} of the quota"
            );
            locals.push((rate, local));
        }
    }
    let mut speedups = Vec::new();
    if let (Some(fixed_pause), Some(sdk_retries)) = (fixed_pause, sdk_retries) {
        let fixed_pause = fixed_pause.await.expect("the fixed-pause baseline");
        let sdk_retries = sdk_retries.await.expect("the SDK-retries baseline");
        println!();
        for baseline in [&fixed_pause, &sdk_retries] {
            baseline.print();
        }
        println!("\nccbulk's whole job (ingest included, its slowest cell per rate) against each baseline:");
        for &rate in &rates {
            let slowest = cells.iter().filter(|c| c.rate == rate).map(Cell::job_seconds).fold(0.0, f64::max);
            let (pause, retries) = (fixed_pause.seconds / slowest, sdk_retries.seconds / slowest);
            println!(
                "  {rate:>4} req/s: {slowest:.0} s; {pause:.1}× the fixed pause, {retries:.1}× SDK retries alone \
                 (the floor N / rate alone allows {:.1}× the fixed pause)",
                fixed_pause.seconds * rate / rows as f64
            );
            speedups.push((rate, pause));
        }
    }

    let big = if big_rows > 0 {
        println!();
        let big = big_run::run(&ccbulk, big_rows).await;
        big.print();
        Some(big)
    } else {
        None
    };

    let utilisation_min = cells.iter().map(Cell::utilisation).reduce(f64::min).unwrap_or(0.0);
    let throttle_failed: u64 =
        cells.iter().map(|c| c.throttle_failed).sum::<u64>() + big.as_ref().map_or(0, |b| b.throttle_failed);
    let creates: u64 = cells.iter().map(|c| c.creates).sum();
    let added: u64 = cells.iter().map(|c| c.succeeded).sum();
    let sf_per_200 = cells.iter().map(Cell::salesforce_per_200).fold(0.0, f64::max);
    // The quota sets the floor for every tool: at the default 2 req/s no tool can be 3× one that already runs at
    // 0.8 row/s, so the figure is taken at the lowest raised quota.
    let speedup = speedups.iter().find(|(rate, _)| *rate > 2.0).map_or(0.0, |(_, s)| *s);
    let local_min = locals.iter().map(|(_, u)| *u).fold(f64::INFINITY, f64::min);
    if local_min.is_finite() {
        println!("quota utilisation without moto (ccbulk run's pipeline, raised quotas), least: {local_min:.2}");
    }
    println!(
        "quota_utilisation_min={utilisation_min:.2} throttle_failed_rows={throttle_failed} \
         connect_calls_per_row={:.3} sf_calls_per_200={sf_per_200:.1} speedup_vs_fixed_pause={speedup:.1} \
         rss_100k_mib={:.0}",
        creates as f64 / added.max(1) as f64,
        big.as_ref().map_or(0.0, |b| b.peak_rss_mib)
    );
}

/// A comma-separated list from the environment, to narrow the run (an empty list: none).
fn numbers<T: std::str::FromStr>(name: &str) -> Option<Vec<T>> {
    let list = std::env::var(name).ok()?;
    let parsed = list.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::parse);
    Some(parsed.collect::<Result<_, _>>().unwrap_or_else(|_| panic!("{name}: numbers separated by commas")))
}

/// Every call of the sandboxes takes this long, the spread of a Connect or Salesforce answer seen from a Lambda in
/// the same region.
fn latency() -> ccbulk_sandbox::connect::Latency {
    ccbulk_sandbox::connect::Latency { fixed_ms: 80, jitter_ms: 220 }
}

/// How long a run of `rows` at `rate` may take before the benchmark calls it stuck: ten times its floor.
fn patience(rows: usize, rate: f64) -> Duration {
    Duration::from_secs_f64((rows as f64 / rate * 10.0).max(300.0))
}
