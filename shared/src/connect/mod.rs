//! The Amazon Connect side of provisioning, over aws-sdk-connect (feature `connect`).

mod channels;
mod directory;
mod pacing;
mod provisioner;

pub use self::directory::Directory;
pub use self::pacing::{Api, Pacer, RateBudget};

/// Attempts the SDK makes per Connect call (throttles, 5xx, network), with its exponential backoff and jitter.
pub const SDK_ATTEMPTS: u32 = 8;

/// A Connect client whose SDK retries ride out throttles and passing errors ([`SDK_ATTEMPTS`] attempts a call),
/// but not a quota that is full.
pub fn client(builder: aws_sdk_connect::config::Builder) -> aws_sdk_connect::Client {
    use aws_sdk_connect::config::retry::RetryConfig;
    aws_sdk_connect::Client::from_conf(
        builder
            .retry_config(RetryConfig::standard().with_max_attempts(SDK_ATTEMPTS))
            .retry_classifier(QuotaIsNotARate)
            .build(),
    )
}

/// Connect's LimitExceededException means a resource quota is full ("The allowed limit for the resource has been
/// exceeded", Amazon Connect API reference, e.g. users or quick connects per instance), not a rate: it passes only
/// when an admin raises the quota. The SDK's standard classifier files it with the throttling errors and would try
/// it [`SDK_ATTEMPTS`] times; this classifier forbids the retry, so the row fails at once and says why.
#[derive(Debug)]
struct QuotaIsNotARate;

impl aws_sdk_connect::config::retry::ClassifyRetry for QuotaIsNotARate {
    fn classify_retry(
        &self,
        ctx: &aws_sdk_connect::config::interceptors::InterceptorContext,
    ) -> aws_sdk_connect::config::retry::RetryAction {
        use aws_sdk_connect::config::retry::RetryAction;
        // restJson1 names the error in `x-amzn-errortype`, possibly followed by `:` and a namespace.
        let error_type = ctx.response().and_then(|response| response.headers().get("x-amzn-errortype"));
        match error_type {
            Some(name) if name.split(':').next() == Some(QUOTA_FULL) => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "ccbulk: a full quota is not a rate"
    }
}

/// The error Connect answers when a resource quota is full.
pub(crate) const QUOTA_FULL: &str = "LimitExceededException";
pub use self::provisioner::{ConnectOutcome, ConnectProvisioner, ProvisionError};
