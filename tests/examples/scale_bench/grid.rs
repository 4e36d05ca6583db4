//! One cell of the grid: a job of adds through the serverless driver at one write rate with a number of provision
//! containers.

use std::time::Instant;

use std::time::Duration;

use ccbulk_e2e::{Delivery, Stack, StackOptions};
use ccbulk_shared::connect::{RateBudget, Unworkable, Workload};
use ccbulk_shared::job::{DynamoJobStore, JobStore, RowStatus};

use super::setup;

pub struct Cell {
    pub rate: f64,
    pub workers: usize,
    pub chunk_rows: u32,
    pub rows: usize,
    pub ingest_seconds: f64,
    pub provision_seconds: f64,
    /// CreateUser calls the service took (throttled ones left out).
    pub creates: u64,
    pub throttled: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Rows whose failure was a throttle: the goal is none.
    pub throttle_failed: u64,
    pub salesforce_calls: u64,
    /// The part of one core moto's process used while the rows were provisioned: near 1.0, moto (one Python
    /// process serving DynamoDB one request at a time) is what holds the cell back.
    pub moto_busy: f64,
    /// The same for this process: the provision containers, the driver and the sandboxes.
    pub driver_busy: f64,
    /// Seconds from the first delivery to the first CreateUser the quota admitted, and from the last one to the
    /// queue's end: where a cell's time outside the quota goes.
    pub head_seconds: f64,
    pub tail_seconds: f64,
}

impl Cell {
    /// CreateUser calls a second over the configured rate, from the first delivery to the last row's end.
    pub fn utilisation(&self) -> f64 {
        self.creates as f64 / self.provision_seconds / self.rate
    }

    /// CreateUser calls a second over the configured rate between the first one and the last.
    pub fn utilisation_between(&self) -> f64 {
        let between = self.provision_seconds - self.head_seconds - self.tail_seconds;
        self.creates.saturating_sub(1) as f64 / between.max(1e-3) / self.rate
    }

    pub fn job_seconds(&self) -> f64 {
        self.ingest_seconds + self.provision_seconds
    }

    pub fn salesforce_per_200(&self) -> f64 {
        self.salesforce_calls as f64 * 200.0 / self.rows as f64
    }

    pub fn print(&self) {
        println!(
            "{:>4} req/s, {} container(s), chunks of {}: ingest {:.0} s, provision {:.1} s = {:.1} rows/s; CreateUser at {:.2} of \
             the quota, {} throttled, {:.3} a row; Salesforce {:.1} calls per 200 rows; {} succeeded, {} failed \
             ({} on a throttle); CPU: moto {:.2} of a core, the containers with the sandboxes {:.2}; first \
             CreateUser after {:.1} s, last {:.1} s before the end, {:.2} of the quota in between",
            self.rate,
            self.workers,
            self.chunk_rows,
            self.ingest_seconds,
            self.provision_seconds,
            self.succeeded as f64 / self.provision_seconds,
            self.utilisation(),
            self.throttled,
            (self.creates + self.throttled) as f64 / self.succeeded.max(1) as f64,
            self.salesforce_per_200(),
            self.succeeded,
            self.failed,
            self.throttle_failed,
            self.moto_busy,
            self.driver_busy,
            self.head_seconds,
            self.tail_seconds,
            self.utilisation_between(),
        );
    }
}

/// The template's ChunkRows (200), or as many rows as the provision function's cold start accepts for these
/// settings, as its message tells an admin to set: a chunk must finish inside the function's timeout even when every
/// container is busy and gets only its share of the budget.
fn chunk_rows(rate: f64, workers: usize) -> u32 {
    let workload = Workload {
        budget: RateBudget { write_per_second: rate, ..RateBudget::default() },
        workers: workers as u32,
        chunk_rows: 200,
        time_limit: Duration::from_secs(900),
    };
    match workload.check() {
        Ok(_) => workload.chunk_rows,
        Err(Unworkable::SlowChunk { rows_that_fit, .. }) => rows_that_fit,
        Err(other) => panic!("{rate} req/s and {workers} containers cannot work: {other:?}"),
    }
}

pub async fn run(rate: f64, workers: usize, rows: usize) -> Cell {
    let chunk_rows = chunk_rows(rate, workers);
    let stack = Stack::start(StackOptions {
        chunk_rows,
        workers,
        // The template's row lease: the tests' 2 s would renew a chunk's 200 leases three times a second.
        provision_env: vec![("CCBULK_ROW_LEASE_SECONDS", "60".to_owned())],
        parameters: vec![("ConnectWriteRate", rate.to_string())],
        connect_knobs: Some(setup::connect_knobs(rate)),
        salesforce_knobs: Some(setup::salesforce_knobs()),
        seed: |connect, _| connect.instances.iter_mut().for_each(|instance| instance.max_users = 200_000),
        drain_within: super::patience(rows, rate),
        ..StackOptions::default()
    })
    .await;
    let event = stack.upload("uploads/bench.csv", ccbulk_testkit::agents_file(rows).into_bytes()).await;
    let started = Instant::now();
    stack.notify(event).await;
    let ingest_seconds = started.elapsed().as_secs_f64();
    let (moto, driver) = (stack.moto.pid(), Some(std::process::id()));
    let (started, moto_before, driver_before) = (Instant::now(), setup::cpu_seconds(moto), setup::cpu_seconds(driver));
    let drain_began = setup::epoch_seconds();
    stack.drain(Delivery::Once).await;
    let provision_seconds = started.elapsed().as_secs_f64();
    let (first, last) = setup::create_user_span(&stack.connect).unwrap_or((drain_began, drain_began));
    let head_seconds = (first - drain_began).max(0.0);
    let tail_seconds = (drain_began + provision_seconds - last).max(0.0);
    let moto_busy = (setup::cpu_seconds(moto) - moto_before) / provision_seconds;
    let driver_busy = (setup::cpu_seconds(driver) - driver_before) / provision_seconds;

    let (calls, throttled) = setup::create_user_calls(&stack.connect);
    let store = DynamoJobStore::new(stack.dynamodb.clone(), &stack.table);
    let job = store.jobs(1, None).await.expect("the jobs").items.pop().expect("the job");
    let (mut throttle_failed, mut after) = (0, None);
    loop {
        let page = store.rows(&job.id, Some(RowStatus::Failed), 500, after).await.expect("the failed rows");
        throttle_failed += page
            .items
            .iter()
            .filter(|row| row.outcome.error_message.as_deref().is_some_and(setup::is_throttle))
            .count() as u64;
        after = page.items.last().map(|row| row.row);
        if page.next.is_none() {
            break;
        }
    }
    Cell {
        rate,
        workers,
        chunk_rows,
        rows,
        ingest_seconds,
        provision_seconds,
        creates: calls - throttled,
        throttled,
        succeeded: job.counts.succeeded,
        failed: job.counts.failed,
        throttle_failed,
        salesforce_calls: setup::salesforce_calls(&stack.salesforce),
        moto_busy,
        driver_busy,
        head_seconds,
        tail_seconds,
    }
}
