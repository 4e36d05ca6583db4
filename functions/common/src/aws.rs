//! The SDK configuration the functions run with: the default chain, with a deadline on every call. Without one, a
//! request to a service that accepted the connection and never answered would hold the invocation (and its rows'
//! leases) until Lambda's own timeout kills it, and its message would wait out the queue's visibility timeout.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// A connection that does not open in this long is a failed attempt (the SDK's own default, kept explicit).
const CONNECT: Duration = Duration::from_millis(3_100);
/// No answer's next bytes may take longer than this.
const READ: Duration = Duration::from_secs(30);
/// One attempt of a call (DynamoDB, SQS, Secrets Manager, EventBridge, Connect answer in milliseconds; this is
/// far past any healthy answer, and the SDK tries the call again). S3 clients lift it, since a large upload's body
/// is sent within its attempt.
const ATTEMPT: Duration = Duration::from_secs(60);

/// The timeouts of [`load`].
pub fn call_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder().connect_timeout(CONNECT).read_timeout(READ).operation_attempt_timeout(ATTEMPT).build()
}

/// The default chain's configuration, every call bounded in time.
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(call_timeouts()).load().await
}

/// An S3 client; path-style addressing where the endpoint is overridden (`AWS_ENDPOINT_URL`, a local stand-in),
/// since bucket subdomains of 127.0.0.1 do not resolve. An attempt is not bounded as a whole (a scrubbed copy of a
/// large upload is put within one), only its connection and each read.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT)
        .read_timeout(READ)
        .disable_operation_attempt_timeout()
        .build();
    let builder = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(config.endpoint_url().is_some())
        .timeout_config(timeouts);
    aws_sdk_s3::Client::from_conf(builder.build())
}
