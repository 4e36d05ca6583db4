//! A job and its rows. Never a password: nothing here can hold one.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{Action, IdentityManagement, TelephonyModel};
use crate::format::Dialect;

/// The stored object a job reads: a bucket (or a local folder) and a key, at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    /// The object version, or its ETag (or a local file's content hash) where there is no versioning.
    pub version: String,
}

/// Where files go to be planned (`ccbulk plan` on a stack) rather than provisioned: their jobs write nothing.
pub const PLANS_PREFIX: &str = "plans/";

/// Where an undo job's source key points: `undo/<the job undone>`. No object is there: an undo job's rows are the
/// undone job's, read from the job store.
pub const UNDO_PREFIX: &str = "undo/";

/// What a job does with its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Each row's users are created, updated or removed.
    Provision,
    /// Each row gets the verdict a run would reach, read from the targets with nothing written.
    Plan,
    /// Each row puts back what another job did to its users.
    Undo,
}

impl JobKind {
    /// A file's kind follows from where it was dropped.
    pub fn of(object: &ObjectRef) -> Self {
        if object.key.starts_with(PLANS_PREFIX) {
            JobKind::Plan
        } else if object.key.starts_with(UNDO_PREFIX) {
            JobKind::Undo
        } else {
            JobKind::Provision
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Provision => "provision",
            JobKind::Plan => "plan",
            JobKind::Undo => "undo",
        }
    }
}

/// A job's id is derived from what it reads, so that a repeated event finds the job instead of starting another.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    pub fn for_object(object: &ObjectRef) -> Self {
        let digest = Sha256::new()
            .chain_update(object.bucket.as_bytes())
            .chain_update([0])
            .chain_update(object.key.as_bytes())
            .chain_update([0])
            .chain_update(object.version.as_bytes())
            .finalize();
        Self(digest.iter().take(12).map(|b| format!("{b:02x}")).collect())
    }

    pub fn from_string(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Ingesting,
    Running,
    Succeeded,
    CompletedWithErrors,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Ingesting => "INGESTING",
            JobState::Running => "RUNNING",
            JobState::Succeeded => "SUCCEEDED",
            JobState::CompletedWithErrors => "COMPLETED_WITH_ERRORS",
            JobState::Failed => "FAILED",
        }
    }

    /// Whether the job is over: every row done, or its file unusable.
    pub fn has_ended(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::CompletedWithErrors | JobState::Failed)
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Ingesting, Self::Running, Self::Succeeded, Self::CompletedWithErrors, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RowStatus {
    Pending,
    InProgress,
    Succeeded,
    Failed,
    Invalid,
}

impl RowStatus {
    pub const ALL: [RowStatus; 5] =
        [RowStatus::Pending, RowStatus::InProgress, RowStatus::Succeeded, RowStatus::Failed, RowStatus::Invalid];

    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Pending => "PENDING",
            RowStatus::InProgress => "IN_PROGRESS",
            RowStatus::Succeeded => "SUCCEEDED",
            RowStatus::Failed => "FAILED",
            RowStatus::Invalid => "INVALID",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

/// Rows per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub pending: u64,
    pub in_progress: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub invalid: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.pending + self.in_progress + self.succeeded + self.failed + self.invalid
    }

    pub fn get(&self, status: RowStatus) -> u64 {
        match status {
            RowStatus::Pending => self.pending,
            RowStatus::InProgress => self.in_progress,
            RowStatus::Succeeded => self.succeeded,
            RowStatus::Failed => self.failed,
            RowStatus::Invalid => self.invalid,
        }
    }

    pub fn slot(&mut self, status: RowStatus) -> &mut u64 {
        match status {
            RowStatus::Pending => &mut self.pending,
            RowStatus::InProgress => &mut self.in_progress,
            RowStatus::Succeeded => &mut self.succeeded,
            RowStatus::Failed => &mut self.failed,
            RowStatus::Invalid => &mut self.invalid,
        }
    }

    /// The state a job with these counts is in once ingest is over.
    pub fn state(&self) -> JobState {
        if self.pending + self.in_progress > 0 {
            JobState::Running
        } else if self.failed + self.invalid > 0 {
            JobState::CompletedWithErrors
        } else {
            JobState::Succeeded
        }
    }
}

/// The Salesforce Bulk API job a chunk's rows went into, and when ccbulk recorded it (epoch seconds): it is
/// recorded as soon as Salesforce gives it an id, before any row is uploaded to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkJob {
    pub id: String,
    pub recorded_at: u64,
}

impl BulkJob {
    pub fn submitted(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.recorded_at)
    }

    pub fn age(&self) -> std::time::Duration {
        std::time::Duration::from_secs(now_epoch().saturating_sub(self.recorded_at))
    }
}

/// Why a job waits, and since when (epoch seconds): it resumes by itself once the limit lifts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub reason: String,
    pub since: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub source: ObjectRef,
    /// `None` when the file could not be read far enough to tell.
    pub dialect: Option<Dialect>,
    pub identity_management: IdentityManagement,
    pub telephony_model: TelephonyModel,
    pub state: JobState,
    pub counts: Counts,
    pub chunks: u32,
    /// Why a FAILED job failed (an unusable file).
    pub error: Option<String>,
    /// Set while the job's chunks wait for a limit that lifts by itself (the Salesforce org's API allocation).
    #[serde(default)]
    pub paused: Option<Pause>,
    /// The copy of the file without passwords that replaced the upload once the job ended (`source` is then gone);
    /// the report and a retry read it.
    #[serde(default)]
    pub scrubbed: Option<ObjectRef>,
    /// Epoch seconds.
    pub created_at: u64,
    pub updated_at: u64,
}

impl Job {
    pub fn kind(&self) -> JobKind {
        JobKind::of(&self.source)
    }

    /// The file the job's rows are read from now: the copy without passwords once there is one, else the upload.
    pub fn file(&self) -> &ObjectRef {
        self.scrubbed.as_ref().unwrap_or(&self.source)
    }

    /// A job that starts ingesting `source` at `now`, for a file of this dialect and setup.
    pub fn ingesting(source: ObjectRef, dialect: Dialect, setup: crate::validate::Setup, now: u64) -> Self {
        Self {
            id: JobId::for_object(&source),
            source,
            dialect: Some(dialect),
            identity_management: setup.identity_management,
            telephony_model: setup.telephony_model,
            state: JobState::Ingesting,
            counts: Counts::default(),
            chunks: 0,
            error: None,
            paused: None,
            scrubbed: None,
            created_at: now,
            updated_at: now,
        }
    }
}

impl Job {
    /// The record of a file that cannot be provisioned from at all (no header, unknown columns, no rows): a job
    /// FAILED from the start, so that whoever dropped it finds out why through the status API.
    pub fn unusable(source: ObjectRef, setup: crate::validate::Setup, error: String, now: u64) -> Self {
        Self {
            id: JobId::for_object(&source),
            source,
            dialect: None,
            identity_management: setup.identity_management,
            telephony_model: setup.telephony_model,
            state: JobState::Failed,
            counts: Counts::default(),
            chunks: 0,
            error: Some(error),
            paused: None,
            scrubbed: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// An email change ccbulk asked Salesforce for. Salesforce keeps the old address until the owner of the new one
/// confirms it through a link valid 72 hours, and each request sends another mail (Salesforce Help, knowledge
/// article 000385115), so a rerun within that time does not ask again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChange {
    /// The 18-character id of the Salesforce user.
    pub salesforce_user_id: String,
    pub email: String,
    pub requested_at: u64,
}

impl EmailChange {
    /// How long a confirmation link stays valid.
    pub const CONFIRMATION_WINDOW_SECONDS: u64 = 72 * 3600;
}

/// One row's status and what provisioning it produced.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RowOutcome {
    pub error_message: Option<String>,
    /// What a succeeded row's admin should know, such as an email change that waits for its owner's confirmation.
    #[serde(default)]
    pub note: Option<String>,
    pub connect_user_id: Option<String>,
    pub connect_user_arn: Option<String>,
    pub salesforce_user_id: Option<String>,
    pub permission_set_assignment_id: Option<String>,
    pub quick_connect_id: Option<String>,
    /// In bulkop mode, the row's ContactCenterBulkOp's VoiceProvisioningJobID.
    #[serde(default)]
    pub voice_provisioning_job_id: Option<String>,
    /// What the row did to existing users, or the users it created, for `ccbulk undo` (an [`crate::undo::UndoImage`]
    /// as JSON; ids and settings, never a password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowRecord {
    pub job_id: JobId,
    pub row: u64,
    pub username: Option<String>,
    /// `None` for a row too broken to say.
    pub action: Option<Action>,
    pub status: RowStatus,
    #[serde(flatten)]
    pub outcome: RowOutcome,
    pub attempts: u32,
    pub updated_at: u64,
}

pub fn now_epoch() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The most characters of a message (a job's error, a row's) the stores keep. DynamoDB takes 400 KB an item and
/// 4 MB a transaction (Developer Guide, "Service, account, and table quotas in Amazon DynamoDB"): at this length a
/// row item stays a few KB, and ingest's batches of rows fit a transaction many times over, whatever a file holds.
pub const STORED_MESSAGE_MAX: usize = 4_000;

/// A message as the stores keep it: cut at [`STORED_MESSAGE_MAX`] characters, the cut marked.
pub fn stored_message(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(STORED_MESSAGE_MAX) {
        Some((cut, _)) => {
            format!("{} … (cut: the message has {} characters)", &text[..cut], text.chars().count()).into()
        }
        None => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_follow_the_object_version() {
        let object = ObjectRef { bucket: "b".into(), key: "uploads/a.csv".into(), version: "v1".into() };
        let same = JobId::for_object(&object);
        assert_eq!(same, JobId::for_object(&object.clone()));
        assert_eq!(same.as_str().len(), 24);
        let newer = ObjectRef { version: "v2".into(), ..object.clone() };
        assert_ne!(same, JobId::for_object(&newer));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        let a = ObjectRef { bucket: "ab".into(), key: "c".into(), version: "v".into() };
        let b = ObjectRef { bucket: "a".into(), key: "bc".into(), version: "v".into() };
        assert_ne!(JobId::for_object(&a), JobId::for_object(&b));
    }

    #[test]
    fn counts_decide_the_final_state() {
        let mut counts = Counts { pending: 1, succeeded: 2, ..Counts::default() };
        assert_eq!(counts.state(), JobState::Running);
        counts.pending = 0;
        assert_eq!(counts.state(), JobState::Succeeded);
        counts.invalid = 1;
        assert_eq!(counts.state(), JobState::CompletedWithErrors);
        assert_eq!(counts.total(), 3);
    }

    #[test]
    fn stored_messages_are_cut_to_a_size_any_item_takes() {
        let short = "column \"x\": too long [cell.too_long]";
        assert_eq!(stored_message(short), short);
        let long = "é".repeat(STORED_MESSAGE_MAX * 3);
        let stored = stored_message(&long);
        assert!(stored.chars().count() < STORED_MESSAGE_MAX + 60, "{}", stored.len());
        assert!(stored.ends_with(&format!("(cut: the message has {} characters)", STORED_MESSAGE_MAX * 3)));
    }
}
