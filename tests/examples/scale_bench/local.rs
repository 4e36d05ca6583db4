//! The same job through the pipeline `ccbulk run` drives (ingest → in-process queue → 4 workers, SQLite job store)
//! at the same quota and latency: the grid's figure with moto taken out. Where the two differ, moto (one Python
//! process serving every DynamoDB request in turn) is what holds the serverless cell back, not ccbulk.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use aws_sdk_connect::config::{BehaviorVersion, Credentials as AwsCredentials, Region};
use ccbulk_sandbox::connect::ConnectSandbox;
use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::{SANDBOX_CLIENT_SECRET, SANDBOX_CONSUMER_KEY, SalesforceSandbox};
use ccbulk_shared::connect::{Pacer, RateBudget};
use ccbulk_shared::job::{JobStore, SqliteJobStore};
use ccbulk_shared::pipeline::{
    ConnectTarget, LocalFiles, MemoryQueue, Pool, RetryPolicy, SalesforceTarget, Targets, ingest,
};
use ccbulk_shared::salesforce::{AliasChange, Credentials, SalesforceClient, SalesforceDefaults, SalesforceSync};
use ccbulk_shared::validate::Options;

use super::setup;

/// `ccbulk run`'s default.
const WORKERS: u32 = 4;

/// CreateUser calls a second over the rate, from the first worker's start to the last row's end.
pub async fn utilisation(rate: f64, rows: usize) -> f64 {
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let mut seed = examples::connect_seed();
    seed.knobs = setup::connect_knobs(rate);
    seed.instances.iter_mut().for_each(|instance| instance.max_users = 200_000);
    let connect = ConnectSandbox::start(seed, loopback).await.expect("the Connect sandbox");
    let salesforce =
        SalesforceSandbox::start(examples::salesforce_seed(), loopback).await.expect("the Salesforce sandbox");
    salesforce.set_knobs(setup::salesforce_knobs());
    let client = ccbulk_shared::connect::client(
        aws_sdk_connect::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(examples::REGION))
            .credentials_provider(AwsCredentials::new("AKIDLOCAL", "local", None, None, "local"))
            .endpoint_url(connect.endpoint()),
    );
    let budget = RateBudget { write_per_second: rate, ..RateBudget::default() };
    let targets = Targets {
        connect: Some(ConnectTarget::new(
            client,
            connect.instance_id("ccbulk-sandbox").expect("the instance"),
            Pacer::new(budget),
        )),
        salesforce: Some(SalesforceTarget {
            client: SalesforceClient::new(Credentials::ClientCredentials {
                login_url: salesforce.endpoint().to_owned(),
                client_id: SANDBOX_CONSUMER_KEY.into(),
                client_secret: SANDBOX_CLIENT_SECRET.into(),
            }),
            defaults: SalesforceDefaults::default(),
            implied: None,
            alias_change: AliasChange::Refuse,
            sync: SalesforceSync::Direct,
            voice_sync: false,
            reference: Default::default(),
        }),
    };

    let folder = tempfile::tempdir().expect("a folder");
    let input = folder.path().join("agents.csv");
    std::fs::write(&input, ccbulk_testkit::agents_file(rows)).expect("the file");
    let store = Arc::new(SqliteJobStore::in_memory().expect("a store"));
    let queue = Arc::new(MemoryQueue::default());
    let object = LocalFiles::object(&input).expect("the file");
    let job = ingest(store.as_ref(), queue.as_ref(), input.as_path(), object, &Options::default())
        .await
        .expect("ingested")
        .job;
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
    assert_eq!(job.counts.succeeded, rows as u64, "every row succeeded: {:?}", job.counts);
    let (calls, throttled) = setup::create_user_calls(&connect);
    (calls - throttled) as f64 / seconds / rate
}
