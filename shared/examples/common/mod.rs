//! What the benchmarks share: ccbulk's Connect target on the sandbox instance, its Salesforce target on the sandbox org, and a file run through the pipeline
//! `ccbulk run` drives (ingest → in-process queue → worker pool, SQLite job store). The pipeline tests take the
//! target from here too.
#![allow(dead_code)] // each includer uses its own part

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use aws_sdk_connect::config::{BehaviorVersion, Credentials as AwsCredentials, Region};
use ccbulk_sandbox::connect::ConnectSandbox;
use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::{SANDBOX_CLIENT_SECRET, SANDBOX_CONSUMER_KEY, SalesforceSandbox};
use ccbulk_shared::connect::Pacer;
use ccbulk_shared::job::{Job, JobStore, SqliteJobStore};
use ccbulk_shared::pipeline::{
    ConnectTarget, LocalFiles, MemoryQueue, Pool, RetryPolicy, SalesforceTarget, Targets, ingest,
};
use ccbulk_shared::salesforce::{AliasChange, Credentials, SalesforceClient, SalesforceDefaults, SalesforceSync};
use ccbulk_shared::validate::Options;

/// The sandbox's `ccbulk-sandbox` instance as ccbulk's target, through the client ccbulk builds (its calls retried
/// by `pacer`, not by the SDK).
pub fn connect_target(connect: &ConnectSandbox, pacer: Pacer) -> ConnectTarget {
    let client = ccbulk_shared::connect::client(
        aws_sdk_connect::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(examples::REGION))
            .credentials_provider(AwsCredentials::new("AKIDTEST", "secret", None, None, "test"))
            .endpoint_url(connect.endpoint()),
    );
    ConnectTarget::new(client, connect.instance_id("ccbulk-sandbox").expect("the instance"), pacer)
}

/// The sandbox org as ccbulk's target, signed in as its connected app, in `sync` mode.
pub fn salesforce_target(salesforce: &SalesforceSandbox, sync: SalesforceSync) -> SalesforceTarget {
    SalesforceTarget {
        client: SalesforceClient::new(Credentials::ClientCredentials {
            login_url: salesforce.endpoint().to_owned(),
            client_id: SANDBOX_CONSUMER_KEY.into(),
            client_secret: SANDBOX_CLIENT_SECRET.into(),
        }),
        defaults: SalesforceDefaults::default(),
        implied: None,
        alias_change: AliasChange::Refuse,
        sync,
        voice_sync: false,
        reference: Default::default(),
    }
}

/// Ingests `input` into a fresh store and drains its chunks with `workers` workers: the job as it ended, and the
/// seconds the workers took (ingest left out).
pub async fn run(input: &Path, options: &Options, targets: Targets, workers: u32) -> (Job, f64) {
    let store = Arc::new(SqliteJobStore::in_memory().expect("a store"));
    let queue = Arc::new(MemoryQueue::default());
    let object = LocalFiles::object(input).expect("the file");
    let job = ingest(store.as_ref(), queue.as_ref(), input, object, options).await.expect("ingested").job;
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
    pool.run(workers).await.expect("the pool drained the queue");
    let seconds = started.elapsed().as_secs_f64();
    (store.job(&job.id).await.expect("read").expect("the job"), seconds)
}
