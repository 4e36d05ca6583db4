//! The Amazon Connect side of provisioning, over aws-sdk-connect (feature `connect`).

mod channels;
mod directory;
mod pacing;
mod provisioner;

pub use self::directory::Directory;
pub use self::pacing::{Api, Pacer, RateBudget};
pub use self::provisioner::{ConnectOutcome, ConnectProvisioner, ProvisionError};
