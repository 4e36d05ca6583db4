//! The Salesforce side of provisioning, over the REST API with reqwest (feature `salesforce`).

mod allocation;
mod bulk;
mod bulkop_provisioner;
mod client;
mod export;
mod planner;
mod provisioner;
mod reference;
mod undo;

pub use self::allocation::{ALLOCATION_SPENT, Usage};
pub use self::bulk::{BULKOP_MAX_ROWS, BulkOp, BulkOpStatus, JobProgress, Loaded, bulkop_csv};
pub use self::bulkop_provisioner::{BulkopProvisioner, FOLLOW_FOR, Followed, LONGEST_LOOK_AGAIN, Prepared};
pub use self::client::{CollectionResult, Credentials, Payload, SalesforceClient, SalesforceError, jwt_audience};
pub use self::export::{ExportedSalesforce, salesforce_users_of};
pub use self::planner::{VOICE_LICENSE, free_voice_seats, named as user_named};
pub use self::provisioner::{
    AliasChange, BulkopDone, EmailConfirmation, SalesforceDefaults, SalesforceOutcome, SalesforceProvisioner,
};
pub use self::reference::{OrgReference, SHARED_AS as SHARED_REFERENCE};
pub use self::undo::undo_salesforce;
pub use crate::domain::SalesforceSync;
