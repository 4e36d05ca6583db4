//! The SDK configuration the functions run with: the default chain, with a deadline on every call. Without one, a
//! request to a service that accepted the connection and never answered would hold the invocation (and its rows'
//! leases) until Lambda's own timeout kills it, and its message would wait out the queue's visibility timeout.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
// The S3 client is the library's, which the command line builds too.
pub use ccbulk_shared::pipeline::s3_client;
use ccbulk_shared::pipeline::{CONNECT_TIMEOUT as CONNECT, READ_TIMEOUT as READ};

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
