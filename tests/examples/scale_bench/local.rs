//! The same job through the pipeline `ccbulk run` drives (ingest → in-process queue → 4 workers, SQLite job store)
//! at the same quota and latency: the grid's figure with moto taken out. Where the two differ, moto (one Python
//! process serving every DynamoDB request in turn) is what holds the serverless cell back, not ccbulk.

use ccbulk_shared::connect::{Pacer, RateBudget};
use ccbulk_shared::pipeline::Targets;
use ccbulk_shared::salesforce::SalesforceSync;
use ccbulk_shared::validate::Options;

use super::{common, setup};

/// `ccbulk run`'s default.
const WORKERS: u32 = 4;

/// CreateUser calls a second over the rate, from the first worker's start to the last row's end.
pub async fn utilisation(rate: f64, rows: usize) -> f64 {
    let (connect, salesforce) = setup::sandboxes(rate).await;
    let budget = RateBudget { write_per_second: rate, ..RateBudget::default() };
    let targets = Targets {
        connect: Some(common::connect_target(&connect, Pacer::new(budget))),
        salesforce: Some(common::salesforce_target(&salesforce, SalesforceSync::Direct)),
        salesforce_out: None,
    };
    let input = tempfile::Builder::new().suffix(".csv").tempfile().expect("a file");
    std::fs::write(input.path(), ccbulk_testkit::agents_file(rows)).expect("the file");
    let (job, seconds) = common::run(input.path(), &Options::default(), targets, WORKERS).await;
    assert_eq!(job.counts.succeeded, rows as u64, "every row succeeded: {:?}", job.counts);
    let (calls, throttled) = setup::create_user_calls(&connect);
    (calls - throttled) as f64 / seconds / rate
}
