//! Jobs and their rows: the state a run keeps (DESIGN §5), and the store it is kept in.

mod allocation;
#[cfg(feature = "dynamodb")]
pub(crate) mod dynamodb;
#[cfg(any(feature = "connect", feature = "salesforce"))]
mod memo;
mod message;
mod model;
#[cfg(any(feature = "connect", feature = "salesforce"))]
mod share;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

pub use self::allocation::{SHARED_AS as SHARED_ALLOCATION, SalesforceAllocation};
#[cfg(feature = "dynamodb")]
pub use self::dynamodb::{DynamoJobStore, JOBS_NEWEST_FIRST, ROWS_BY_STATUS};
#[cfg(any(feature = "connect", feature = "salesforce"))]
pub use self::memo::JobMemo;
pub use self::message::ChunkMessage;
pub use self::model::{
    BulkJob, Counts, EmailChange, Job, JobId, JobKind, JobState, ObjectRef, PLANS_PREFIX, Pause, RowOutcome, RowRecord,
    RowStatus, STORED_MESSAGE_MAX, UNDO_PREFIX, now_epoch, stored_message,
};
#[cfg(any(feature = "connect", feature = "salesforce"))]
pub use self::share::{Reading, SHARED_VALUE_MAX, take_or_claim};
#[cfg(feature = "sqlite")]
pub use self::sqlite::SqliteJobStore;
pub use self::store::{Created, JobStore, Lease, Page, Release, RowStart, StoreError, rows_with_status};
