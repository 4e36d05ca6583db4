//! What the functions tell the account besides their logs: job events on EventBridge (`CCBULK_EVENT_BUS`, the
//! template's `default`; unset, none) and metrics in CloudWatch's embedded metric format, one document a line on
//! standard output, where Lambda's log stream picks them up.

use std::sync::Arc;

use aws_config::SdkConfig;
use ccbulk_shared::events::{EventBridge, announce_end};
use ccbulk_shared::job::{Job, JobStore};
use ccbulk_shared::metrics::MetricSet;

use super::Env;

/// Where metric documents are written: standard output in Lambda; tests keep them.
pub type MetricsOut = Arc<dyn Fn(&str) + Send + Sync>;

pub struct Telemetry {
    events: Option<EventBridge>,
    out: MetricsOut,
}

impl Telemetry {
    pub fn new(config: &SdkConfig, env: &Env) -> Self {
        let events =
            env.optional("CCBULK_EVENT_BUS").map(|bus| EventBridge::new(aws_sdk_eventbridge::Client::new(config), bus));
        Self { events, out: Arc::new(|line| println!("{line}")) }
    }

    /// The same, writing metric documents to `out`.
    pub fn with_metrics_out(mut self, out: MetricsOut) -> Self {
        self.out = out;
        self
    }

    pub fn metrics(&self, set: &MetricSet) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        (self.out)(&set.document(u64::try_from(now.as_millis()).unwrap_or(u64::MAX)));
    }

    /// Announces the job's ending if it has ended (once per ending, whichever worker sees it first). A failure is
    /// logged and returned: the job's rows are done either way, and the next worker to see the job ended publishes
    /// the event again.
    pub async fn announce<S: JobStore>(&self, store: &S, job: &Job) -> Result<(), String> {
        let Some(events) = &self.events else { return Ok(()) };
        match announce_end(store, events, job).await {
            Ok(Some(event)) => {
                tracing::info!(job = %job.id, event = event.detail_type(), "job event published");
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(err) => {
                tracing::error!(job = %job.id, error = %err, "the job's event was not published");
                Err(err.to_string())
            }
        }
    }
}
