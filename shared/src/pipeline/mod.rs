//! The pipeline written once over ports (DESIGN §2): ingest a file; provision a chunk; answer status queries; retry
//! a job's failed rows; sweep jobs that stalled.

#[cfg(all(feature = "connect", feature = "salesforce"))]
mod drain;
#[cfg(all(feature = "connect", feature = "salesforce"))]
mod export;
mod ingest;
mod objects;
#[cfg(all(feature = "connect", feature = "salesforce"))]
mod plan;
#[cfg(all(feature = "connect", feature = "salesforce"))]
mod provision;
mod queue;
mod retry;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "s3")]
mod scrub;
#[cfg(feature = "sqs")]
mod sqs;
mod status;
mod sweep;
mod undo;
#[cfg(all(feature = "connect", feature = "salesforce"))]
mod undo_rows;

#[cfg(all(feature = "connect", feature = "salesforce"))]
pub use self::drain::Pool;
#[cfg(all(feature = "connect", feature = "salesforce"))]
pub use self::export::{EXPORT_COLUMNS, ExportError, Exported, export_users};
pub use self::ingest::{IngestError, IngestOutcome, error_message, ingest, record_unusable, requeue};
pub use self::objects::{LOCAL_BUCKET, LocalFiles, ObjectError, ObjectStore};
#[cfg(all(feature = "connect", feature = "salesforce"))]
pub use self::plan::{DEFAULT_USERS_QUOTA, PlanError, PlanSummary, RowPlanner, plan_file};
#[cfg(all(feature = "connect", feature = "salesforce"))]
pub use self::provision::{
    ChunkError, ChunkReport, ConnectTarget, ImpliedSalesforce, ImpliedSetting, RetryPolicy, SalesforceOut,
    SalesforceTarget, Targets, provision_chunk, unreachable_pause,
};
pub use self::queue::{ChunkQueue, MemoryQueue, QueueError};
pub use self::retry::{Retried, RetryError, retry_failed};
#[cfg(feature = "s3")]
pub use self::s3::{CONNECT_TIMEOUT, READ_TIMEOUT, S3Objects, S3Stream, s3_client};
#[cfg(feature = "s3")]
pub use self::scrub::{SCRUBBED_PREFIX, Scrub, ScrubError, scrub_upload};
#[cfg(feature = "sqs")]
pub use self::sqs::SqsQueue;
pub use self::status::{StatusError, job_report};
pub use self::sweep::{SweepError, SweepRules, Verdict, fail_ingest, fail_unfinished, nudge, verdict};
pub use self::undo::{UNDO_COLUMNS, UndoCounts, UndoError, UndoMessage, start_undo, undo_report};
#[cfg(all(feature = "connect", feature = "salesforce"))]
pub use self::undo_rows::undo_rows;
