//! The ingest function (S3 ObjectCreated on `uploads/`): cold-start wiring only; the work is in `ccbulk_ingest`.

use ccbulk_ingest::Ingest;
use ccbulk_lambda::Env;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = ccbulk_lambda::aws::load().await;
    let ingest = Ingest::new(&config, &Env::process())?;
    run(service_fn(|event: LambdaEvent<_>| ingest.handle(event.payload))).await
}
