//! What the three functions share beyond the `shared` crate: their configuration from the environment (how files
//! are cut into chunks among it), S3 event keys, and SDK clients that work against AWS and against a local endpoint alike.

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

use aws_config::SdkConfig;

/// An S3 client; path-style addressing where the endpoint is overridden (`AWS_ENDPOINT_URL`, a local stand-in),
/// since bucket subdomains of 127.0.0.1 do not resolve.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let builder = aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some());
    aws_sdk_s3::Client::from_conf(builder.build())
}
