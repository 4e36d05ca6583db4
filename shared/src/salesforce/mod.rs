//! The Salesforce side of provisioning, over the REST API with reqwest (feature `salesforce`).

mod allocation;
mod client;
mod provisioner;

pub use self::allocation::{ALLOCATION_SPENT, Usage};
pub use self::client::{CollectionResult, Credentials, SalesforceClient, SalesforceError, jwt_audience};
pub use self::provisioner::{
    AliasChange, EmailConfirmation, SalesforceDefaults, SalesforceOutcome, SalesforceProvisioner,
};
