//! Benchmark: the serverless path, with the driver playing AWS over moto and the sandboxes.
//!
//! `cargo run --release -p ccbulk-e2e --example serverless_bench [-- INGEST_ROWS PROVISION_ROWS WORKERS]`
//!
//! 1. Ingest: a file of INGEST_ROWS rows (1,000) through the ingest handler (download, validate, one item per row
//!    in transactions of 99, chunk messages in batches of 10); the figure is its rate as a ratio of the same
//!    transactions sent raw, in the same run on the same moto. (moto's transactions are slow and slow further as a
//!    table grows, so the absolute rate says nothing of DynamoDB's.)
//! 2. Provision: PROVISION_ROWS adds (60) drained by WORKERS provision containers (4) that share the account's
//!    CreateUser quota (2 req/s, burst 5) through ConnectWriteRate; the figure is the CreateUser rate reached as a
//!    ratio of the quota, with the 429s met (the goal: near 1.0 and none, however many containers).

use std::collections::HashMap;
use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use ccbulk_e2e::{Delivery, Stack, StackOptions};
use ccbulk_testkit::unique;

fn file(rows: usize) -> Vec<u8> {
    ccbulk_testkit::agents_file(rows).into_bytes()
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("numbers")).collect();
    let (ingest_rows, provision_rows, workers) =
        (args.first().copied().unwrap_or(1_000), args.get(1).copied().unwrap_or(60), args.get(2).copied().unwrap_or(4));
    ingest(ingest_rows).await;
    provision(provision_rows, workers).await;
}

async fn ingest(rows: usize) {
    let stack = Stack::start(StackOptions { chunk_rows: 25, ..StackOptions::default() }).await;
    // A row item as the store writes it, from a small file.
    stack.notify(stack.upload("uploads/sample.csv", file(1)).await).await;
    let row_item = first_row_item(&stack).await;

    // The same writes as ingest's, raw: one TransactWriteItems of 99 row items and the job's counter per 99 rows,
    // into a fresh table of the same keys on the same moto, dropped afterwards. moto's transactions slow as its
    // data grows, so both runs start from the same state, and only the ratio means anything, not the rate.
    let baseline = unique("bench-baseline");
    ccbulk_testkit::create_jobs_table(&stack.dynamodb, &baseline).await;
    let counter = [("pk", "BASELINE"), ("sk", "JOB")].map(|(k, v)| (k.to_owned(), AttributeValue::S(v.into())));
    let started = Instant::now();
    for batch in (0..rows).collect::<Vec<_>>().chunks(99) {
        let mut items: Vec<TransactWriteItem> = batch
            .iter()
            .map(|i| {
                let mut item = row_item.clone();
                item.insert("pk".into(), AttributeValue::S(format!("BENCH#{i}")));
                let put = Put::builder()
                    .table_name(&baseline)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .expect("a put");
                TransactWriteItem::builder().put(put).build()
            })
            .collect();
        let update = Update::builder()
            .table_name(&baseline)
            .set_key(Some(counter.clone().into()))
            .update_expression("ADD pending :n")
            .expression_attribute_values(":n", AttributeValue::N(batch.len().to_string()))
            .build()
            .expect("an update");
        items.push(TransactWriteItem::builder().update(update).build());
        stack.dynamodb.transact_write_items().set_transact_items(Some(items)).send().await.expect("a transaction");
    }
    let baseline_seconds = started.elapsed().as_secs_f64();
    stack.dynamodb.delete_table().table_name(&baseline).send().await.expect("the baseline table dropped");

    let event = stack.upload("uploads/bench.csv", file(rows)).await;
    let started = Instant::now();
    stack.notify(event).await;
    let ingest_seconds = started.elapsed().as_secs_f64();
    let chunks = stack.queue_depth(&stack.queue_url).await - 1;
    let (ingest_rate, raw_rate) = (rows as f64 / ingest_seconds, rows as f64 / baseline_seconds);
    println!("ingest, {rows} rows in chunks of 25 ({chunks} messages):");
    println!("  the handler: {ingest_seconds:.1} s = {ingest_rate:.0} rows/s");
    println!(
        "  its row writes alone, raw, on the same moto: {baseline_seconds:.1} s = {raw_rate:.0} rows/s; the handler \
         reaches {:.2} of that (the rest: download, validation, the job item, the chunk messages)",
        ingest_rate / raw_rate
    );
}

/// A row item as the store wrote it.
async fn first_row_item(stack: &Stack) -> HashMap<String, AttributeValue> {
    let scan = stack.dynamodb.scan().table_name(&stack.table).send().await.expect("a scan");
    let is_row = |item: &&HashMap<String, AttributeValue>| {
        item.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk.starts_with("ROW#"))
    };
    scan.items().iter().find(is_row).cloned().expect("a row item")
}

async fn provision(rows: usize, workers: usize) {
    let stack = Stack::start(StackOptions { chunk_rows: 5, workers, ..StackOptions::default() }).await;
    stack.notify(stack.upload("uploads/bench.csv", file(rows)).await).await;
    let started = Instant::now();
    let drained = stack.drain(Delivery::Once).await;
    let seconds = started.elapsed().as_secs_f64();
    let counters = stack.connect.snapshot().counters;
    let creates = counters.calls.get("CreateUser").copied().unwrap_or(0);
    let throttled = counters.throttled.get("CreateUser").copied().unwrap_or(0);
    let reached = (creates - throttled) as f64 / seconds;
    println!("provision, {rows} adds in chunks of 5, {workers} containers sharing ConnectWriteRate 2:");
    println!(
        "  {} invocations, {} batch item failures, {seconds:.1} s = {:.1} rows/s",
        drained.invocations,
        drained.failures,
        rows as f64 / seconds
    );
    println!(
        "  CreateUser: {reached:.2} req/s = {:.2} of the 2 req/s quota (its burst of 5 lifts short runs above 1.0); \
         {throttled} throttled",
        reached / 2.0
    );
}
