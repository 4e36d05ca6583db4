//! What the three functions share beyond the `shared` crate: their configuration from the environment (how files
//! are cut into chunks among it), S3 event keys, and SDK clients that work against AWS and against a local endpoint alike.

pub mod aws;
mod chunking;
mod ending;
mod env;
mod s3_key;
mod telemetry;

pub use chunking::chunking;
pub use ending::after_ending;
pub use env::{ConfigError, Env};
pub use s3_key::decode_s3_key;
pub use telemetry::{MetricsOut, Telemetry};

/// Rows a chunk may have, as the template's ChunkRows parameter allows; ingest cuts chunks of it, provision plans
/// its time by it.
pub const CHUNK_ROWS: std::ops::RangeInclusive<u32> = 1..=500;

pub use aws::s3_client;
