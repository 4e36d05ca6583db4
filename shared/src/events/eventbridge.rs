//! Events put on an EventBridge bus (PutEvents: `Source`, `DetailType`, `Detail` as a JSON string; a refused entry
//! is told by `FailedEntryCount` and its `ErrorCode`, not by an error of the call: EventBridge API Reference,
//! PutEvents).

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::{EventError, EventSink, JobDetail, JobEvent, SOURCE};

pub struct EventBridge {
    client: Client,
    bus: String,
}

impl EventBridge {
    /// Events on `bus` (`default`: the account's default bus).
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self { client, bus: bus.into() }
    }
}

impl EventSink for EventBridge {
    async fn publish(&self, event: JobEvent, detail: &JobDetail) -> Result<(), EventError> {
        let detail = serde_json::to_string(detail).map_err(|e| EventError(e.to_string()))?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(event.detail_type())
            .detail(detail)
            .build();
        let answer = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| EventError(e.into_service_error().to_string()))?;
        if answer.failed_entry_count() > 0 {
            let refused = answer.entries().first();
            let code = refused.and_then(|e| e.error_code()).unwrap_or("unknown");
            let message = refused.and_then(|e| e.error_message()).unwrap_or_default();
            return Err(EventError(format!("{code}: {message}")));
        }
        Ok(())
    }
}
