//! The Amazon Connect side of provisioning, over aws-sdk-connect (feature `connect`).

mod attempts;
mod changes;
mod channels;
mod directory;
mod export;
mod hierarchy;
mod pacing;
mod planner;
mod provisioner;
mod schedule;
mod undo;
mod updates;

pub use self::attempts::Retries;
pub use self::directory::{Directory, UsersPath};
pub use self::export::ExportedUser;
pub use self::pacing::{Api, MAX_IN_FLIGHT, Pacer, RateBudget, RowPermit};
pub use self::provisioner::{CREATED_BY_TAG, ConnectOutcome, ConnectProvisioner, ProvisionError};
pub use self::schedule::{Schedule, SettingNames, Unworkable, Workload};

/// A Connect client for ccbulk's calls. The SDK's own retry loop is switched off: it would send its retries without
/// waiting for the pacer, eight tries of one call in a burst on top of the account's rate, and its standard
/// classifier would retry a full quota (LimitExceededException) as a throttle. Every call is retried instead by
/// [`Pacer::send`], each attempt paced.
pub fn client(builder: aws_sdk_connect::config::Builder) -> aws_sdk_connect::Client {
    use aws_sdk_connect::config::retry::RetryConfig;
    aws_sdk_connect::Client::from_conf(builder.retry_config(RetryConfig::disabled()).build())
}

/// The error Connect answers when a resource quota is full.
pub(crate) const QUOTA_FULL: &str = "LimitExceededException";
