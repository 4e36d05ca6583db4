//! The status function (HTTP API, IAM auth): cold-start wiring only; the work is in `ccbulk_status`.

use aws_config::BehaviorVersion;
use ccbulk_lambda::Env;
use ccbulk_status::Status;
use lambda_http::{Error, Request, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let status = Status::new(&config, &Env::process())?;
    run(service_fn(|request: Request| status.handle(request))).await
}
