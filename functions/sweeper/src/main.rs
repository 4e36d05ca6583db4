//! The sweeper function (an EventBridge schedule): cold-start wiring only; the work is in `ccbulk_sweeper`.

use ccbulk_lambda::Env;
use ccbulk_sweeper::Sweeper;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = ccbulk_lambda::aws::load().await;
    let sweeper = Sweeper::new(&config, &Env::process())?;
    run(service_fn(|_: LambdaEvent<serde::de::IgnoredAny>| async {
        sweeper.sweep(std::time::SystemTime::now()).await.map(|report| report.to_string())
    }))
    .await
}
