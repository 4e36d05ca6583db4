//! The status function (HTTP API, IAM auth): cold-start wiring only; the work is in `ccbulk_status`.

use ccbulk_lambda::Env;
use ccbulk_status::Status;
use lambda_http::{Error, Request, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = ccbulk_lambda::aws::load().await;
    let status = Status::new(&config, &Env::process())?;
    run(service_fn(|request: Request| status.handle(request))).await
}
