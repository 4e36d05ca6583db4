//! The Amazon Connect side of provisioning, over aws-sdk-connect (feature `connect`).

mod channels;
mod directory;
mod pacing;
mod provisioner;

pub use self::directory::Directory;
pub use self::pacing::{Api, Pacer, RateBudget};

/// Attempts the SDK makes per Connect call (throttles, 5xx, network), with its exponential backoff and jitter.
pub const SDK_ATTEMPTS: u32 = 8;

/// A Connect client whose SDK retries ride out throttles and passing errors ([`SDK_ATTEMPTS`] attempts a call).
pub fn client(builder: aws_sdk_connect::config::Builder) -> aws_sdk_connect::Client {
    use aws_sdk_connect::config::retry::RetryConfig;
    aws_sdk_connect::Client::from_conf(
        builder.retry_config(RetryConfig::standard().with_max_attempts(SDK_ATTEMPTS)).build(),
    )
}
pub use self::provisioner::{ConnectOutcome, ConnectProvisioner, ProvisionError};
