//! Benchmark: bulkop mode's throughput against the rate at which the org works ContactCenterBulkOp records, through
//! the same pipeline `ccbulk run` drives (ingest → in-process queue → worker pool → the Salesforce sandbox's Bulk
//! API over loopback, SQLite job store). Partner Telephony rows, so the figure is Salesforce's path alone.
//!
//! `cargo run --release -p ccbulk-shared --all-features --example bulkop_bench [-- ROWS RECORDS_PER_SECOND]`
//!
//! The figure is rows done a second as a ratio of the processor's rate: the goal is near 1.0, ccbulk adding
//! little to the time Salesforce takes.

mod common;

use std::net::SocketAddr;

use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::seed::UserSeed;
use ccbulk_sandbox::salesforce::{BulkKnobs, SalesforceKnobs, SalesforceSandbox};
use ccbulk_shared::domain::TelephonyModel;
use ccbulk_shared::pipeline::Targets;
use ccbulk_shared::salesforce::SalesforceSync;
use ccbulk_shared::sfid::SalesforceId;
use ccbulk_shared::validate::Options;

const WORKERS: u32 = 4;

#[tokio::main]
async fn main() {
    let args: Vec<f64> = std::env::args().skip(1).map(|a| a.parse().expect("numbers")).collect();
    let rows = args.first().copied().unwrap_or(2000.0) as usize;
    let rate = args.get(1).copied().unwrap_or(500.0);

    let mut seed = examples::salesforce_seed();
    let ids: Vec<String> = (0..rows)
        .map(|i| SalesforceId::parse(&format!("005Sb{:010}", 1_000_000 + i)).expect("an id").as_str().to_owned())
        .collect();
    for (i, id) in ids.iter().enumerate() {
        seed.users.push(UserSeed { id: Some(id.clone()), ..UserSeed::standard(&format!("bench{i}")) });
    }
    seed.knobs = SalesforceKnobs {
        bulk: BulkKnobs { records_per_second: rate, ..BulkKnobs::default() },
        ..SalesforceKnobs::default()
    };
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let salesforce = SalesforceSandbox::start(seed, loopback).await.expect("the Salesforce sandbox");

    let mut csv = String::from("Argument1,Argument2,Argument5,BulkAction\n");
    for (i, id) in ids.iter().enumerate() {
        csv.push_str(&format!("bench{i}@example.com,{id},{},AddUsers\n", examples::PARTNER_CONTACT_CENTER.1));
    }
    let input = tempfile::Builder::new().suffix(".csv").tempfile().expect("a temporary file");
    std::fs::write(input.path(), csv).expect("written");

    let targets = Targets {
        connect: None,
        salesforce: Some(common::salesforce_target(&salesforce, SalesforceSync::Bulkop)),
        salesforce_out: None,
    };
    // Bulkop chunks are whole Bulk API requests, 5,000 rows, whatever the direct chunk size.
    let options = Options { telephony_model: TelephonyModel::PartnerTelephony, ..Options::default() };
    let (job, seconds) = common::run(input.path(), &options, targets, WORKERS).await;
    let snapshot = salesforce.snapshot();
    let done = job.counts.succeeded as f64 / seconds;
    println!(
        "bulkop mode, {rows} Partner Telephony rows in {} chunks, {WORKERS} workers, the org working {rate} \
         records/s:",
        job.chunks
    );
    println!(
        "  {} succeeded, {} failed in {seconds:.1} s = {done:.1} rows/s = {:.2} of the processor's rate; {} bulk \
         jobs; {} API calls",
        job.counts.succeeded,
        job.counts.failed,
        done / rate,
        snapshot.bulk_jobs.len(),
        snapshot.counters.api_used
    );
}
