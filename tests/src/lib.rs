//! The driver that plays AWS's part for the end-to-end tests: it sets up what template.yaml deploys on moto (the
//! table from the template's own definition, the versioned bucket, the chunk queue with its dead-letter queue and
//! redrive, the Salesforce secret), starts the Connect and Salesforce sandboxes, and then does what the services
//! would: S3 notifications to ingest, SQS deliveries to provision (batch item failures, visibility, redrive to the
//! DLQ), and HTTP API requests to status. The functions are the real handlers, over real sockets.

pub mod cases;
mod events;
mod expanded;
mod gateway;
mod iam;
pub mod least_privilege;
mod logs;
mod openapi;
mod stack;
mod template;

pub use events::{api_request, form_encode_key, s3_event, sqs_event};
pub use gateway::{ApiGateway, TEST_ACCESS_KEY, TEST_SECRET_KEY};
pub use logs::LogCapture;
pub use openapi::OpenApi;
pub use stack::{Delivery, Drained, Stack, StackOptions};
pub use template::Template;

/// The repository's root.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A sample event from `events/`, as JSON to fill in.
pub fn sample_event(name: &str) -> serde_json::Value {
    let path = repo_root().join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}
