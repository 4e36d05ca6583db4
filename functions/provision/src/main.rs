//! The provision function (SQS, ReportBatchItemFailures): cold-start wiring only; the work is in `ccbulk_provision`.

use std::time::{Duration, UNIX_EPOCH};

use ccbulk_lambda::Env;
use ccbulk_provision::Provision;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = ccbulk_lambda::aws::load().await;
    let provision = Provision::new(&config, &Env::process())?;
    run(service_fn(|event: LambdaEvent<_>| {
        let deadline = UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        let provision = &provision;
        async move { Ok::<_, Error>(provision.handle(event.payload, deadline).await) }
    }))
    .await
}
