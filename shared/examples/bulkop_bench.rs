//! Benchmark: bulkop mode's throughput against the rate at which the org works ContactCenterBulkOp records, through
//! the same pipeline `ccbulk run` drives (ingest → in-process queue → worker pool → the Salesforce sandbox's Bulk
//! API over loopback, SQLite job store). Partner Telephony rows, so the figure is Salesforce's path alone.
//!
//! `cargo run --release -p ccbulk-shared --all-features --example bulkop_bench [-- ROWS RECORDS_PER_SECOND]`
//!
//! The figure is rows done a second as a ratio of the processor's rate: the goal is near 1.0, ccbulk adding
//! little to the time Salesforce takes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::seed::UserSeed;
use ccbulk_sandbox::salesforce::{
    BulkKnobs, SANDBOX_CLIENT_SECRET, SANDBOX_CONSUMER_KEY, SalesforceKnobs, SalesforceSandbox,
};
use ccbulk_shared::domain::TelephonyModel;
use ccbulk_shared::job::{JobStore, SqliteJobStore};
use ccbulk_shared::pipeline::{LocalFiles, MemoryQueue, Pool, RetryPolicy, SalesforceTarget, Targets, ingest};
use ccbulk_shared::salesforce::{AliasChange, Credentials, SalesforceClient, SalesforceDefaults, SalesforceSync};
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
        salesforce: Some(SalesforceTarget {
            client: SalesforceClient::new(Credentials::ClientCredentials {
                login_url: salesforce.endpoint().to_owned(),
                client_id: SANDBOX_CONSUMER_KEY.into(),
                client_secret: SANDBOX_CLIENT_SECRET.into(),
            }),
            defaults: SalesforceDefaults::default(),
            implied: None,
            alias_change: AliasChange::Refuse,
            sync: SalesforceSync::Bulkop,
            voice_sync: false,
        }),
    };
    let store = Arc::new(SqliteJobStore::in_memory().expect("a store"));
    let queue = Arc::new(MemoryQueue::default());
    // Bulkop chunks are whole Bulk API requests, 5,000 rows, whatever the direct chunk size.
    let options = Options { telephony_model: TelephonyModel::PartnerTelephony, ..Options::default() };
    let object = LocalFiles::object(input.path()).expect("the file");
    let job = ingest(store.as_ref(), queue.as_ref(), input.path(), object, &options).await.expect("ingested").job;

    let started = Instant::now();
    let pool = Pool {
        store: store.clone(),
        objects: Arc::new(LocalFiles),
        targets: Arc::new(targets),
        queue,
        policy: RetryPolicy::default(),
        backoff: Duration::from_millis(200),
        stop: Arc::new(AtomicBool::new(false)),
    };
    pool.run(WORKERS).await.expect("the pool drained the queue");
    let seconds = started.elapsed().as_secs_f64();
    let job = store.job(&job.id).await.expect("read").expect("the job");
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
