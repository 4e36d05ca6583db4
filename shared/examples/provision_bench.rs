//! Benchmark: provisioning throughput against Connect's quotas, through the same pipeline `ccbulk run` drives
//! (ingest → in-process queue → worker pool → both sandboxes over loopback, SQLite job store).
//!
//! `cargo run --release -p ccbulk-shared --all-features --example provision_bench [-- ROWS ROWS ROWS]`
//!
//! Two scenarios, each on fresh sandboxes:
//! 1. the account's default quota (CreateUser 2 req/s, burst 5) and ccbulk's default budget: the figure is the
//!    CreateUser rate reached as a ratio of the quota, with the count of 429s met (the goal: near 1.0, and none);
//! 2. a raised quota (CreateUser 100 req/s) and a matching budget: whether ccbulk keeps up with a raised quota;
//! 3. no quota to speak of: the engine's own ceiling, also as a multiple of the default quota.

mod common;

use std::net::SocketAddr;

use ccbulk_sandbox::connect::{ConnectSandbox, Knobs, Latency, Op, QuotaSpec};
use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::SalesforceSandbox;
use ccbulk_shared::connect::{Pacer, RateBudget};
use ccbulk_shared::pipeline::Targets;
use ccbulk_shared::salesforce::SalesforceSync;
use ccbulk_shared::validate::Options;

const WORKERS: u32 = 4;

struct Scenario {
    name: &'static str,
    rows: usize,
    quota: QuotaSpec,
    budget: RateBudget,
    latency: Latency,
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("row counts")).collect();
    let default_quota = QuotaSpec { rate: 2.0, burst: 5 };
    let raised = QuotaSpec { rate: 100.0, burst: 100 };
    let unlimited = QuotaSpec { rate: 10_000.0, burst: 10_000 };
    let scenarios = [
        Scenario {
            name: "default quota (CreateUser 2/s, burst 5)",
            rows: args.first().copied().unwrap_or(60),
            quota: default_quota,
            budget: RateBudget::default(),
            latency: Latency::default(),
        },
        Scenario {
            name: "raised quota (CreateUser 50/s, burst 5) with 80–300 ms a call",
            rows: args.get(3).copied().unwrap_or(1000),
            quota: QuotaSpec { rate: 50.0, burst: 5 },
            budget: RateBudget { write_per_second: 50.0, write_burst: 5, read_per_second: 10.0, read_burst: 10 },
            latency: Latency { fixed_ms: 80, jitter_ms: 220 },
        },
        Scenario {
            name: "raised quota (CreateUser 100/s)",
            rows: args.get(1).copied().unwrap_or(1000),
            quota: raised,
            budget: RateBudget { write_per_second: 100.0, write_burst: 100, read_per_second: 100.0, read_burst: 100 },
            latency: Latency::default(),
        },
        Scenario {
            name: "no quota to speak of (10,000/s): the engine's own ceiling",
            rows: args.get(2).copied().unwrap_or(2000),
            quota: unlimited,
            budget: RateBudget {
                write_per_second: 10_000.0,
                write_burst: 10_000,
                read_per_second: 10_000.0,
                read_burst: 10_000,
            },
            latency: Latency::default(),
        },
    ];
    println!("{WORKERS} workers, {} rows per chunk, every row an add with both sides", Options::default().chunk_rows);
    for scenario in scenarios {
        run(&scenario).await;
    }
}

/// A ccbulk file of `rows` adds, each with a Salesforce side.
fn file(rows: usize) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".csv").tempfile().expect("a temporary file");
    std::fs::write(file.path(), ccbulk_testkit::agents_file(rows)).expect("written");
    file
}

async fn run(scenario: &Scenario) {
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let mut seed = examples::connect_seed();
    let mut quotas: std::collections::BTreeMap<String, QuotaSpec> =
        Op::ALL.iter().map(|op| (op.name().to_owned(), QuotaSpec { rate: 10_000.0, burst: 10_000 })).collect();
    quotas.insert(Op::CreateUser.name().to_owned(), scenario.quota);
    seed.knobs = Knobs { quotas, latency: scenario.latency, ..Knobs::default() };
    for instance in &mut seed.instances {
        instance.max_users = scenario.rows + 100;
    }
    let connect = ConnectSandbox::start(seed, loopback).await.expect("Connect sandbox");
    let salesforce = SalesforceSandbox::start(examples::salesforce_seed(), loopback).await.expect("Salesforce sandbox");
    let targets = Targets {
        connect: Some(common::connect_target(&connect, Pacer::new(scenario.budget))),
        salesforce: Some(common::salesforce_target(&salesforce, SalesforceSync::Direct)),
        salesforce_out: None,
    };
    let input = file(scenario.rows);
    let options = Options::default();
    let (job, seconds) = common::run(input.path(), &options, targets, WORKERS).await;
    let counters = connect.snapshot().counters;
    let salesforce_calls: u64 =
        salesforce.snapshot().counters.calls.iter().filter(|(kind, _)| *kind != "token").map(|(_, n)| n).sum();
    let creates = counters.calls.get("CreateUser").copied().unwrap_or(0);
    let throttled = counters.throttled.get("CreateUser").copied().unwrap_or(0);
    let reached = (creates - throttled) as f64 / seconds;
    println!("{}:", scenario.name);
    println!(
        "  {} rows: {} succeeded, {} failed in {seconds:.1} s = {:.1} rows/s",
        scenario.rows,
        job.counts.succeeded,
        job.counts.failed,
        job.counts.succeeded as f64 / seconds
    );
    println!(
        "  CreateUser: {reached:.2} req/s = {:.2} of the {} req/s quota (its burst of {} lifts short runs above 1.0), \
         {:.0}x the default 2 req/s; {throttled} throttled; {:.3} CreateUser calls per row",
        reached / scenario.quota.rate,
        scenario.quota.rate,
        scenario.quota.burst,
        reached / 2.0,
        creates as f64 / scenario.rows as f64
    );
    println!("  Salesforce: {:.1} calls per 200 rows", salesforce_calls as f64 * 200.0 / scenario.rows as f64);
}
