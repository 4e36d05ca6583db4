//! No passwords left behind (feature `s3`): once a job has ended, its upload is replaced by a copy without passwords
//! (`scrubbed/<job>.csv`, see [`crate::format::scrub`]), the job records the copy ([`Job::scrubbed`]), and the
//! uploaded version, which held the passwords, is deleted for good. A file that could not be read at all is deleted without a copy: it has
//! no report. Any worker that sees the job ended may do it; done twice, it makes a second identical copy and deletes
//! a version already gone.

use super::S3Objects;
use crate::format::scrub::{Scrubbed, scrub};
use crate::format::{DialectChoice, FileError, Header, RecordReader};
use crate::job::{Job, JobStore, ObjectRef, RowStatus, StoreError, rows_with_status};
use crate::pipeline::ObjectError;

/// Where the copies without passwords go, beside `uploads/` (which triggers ingest) in the same bucket.
pub const SCRUBBED_PREFIX: &str = "scrubbed/";

#[derive(Debug, thiserror::Error)]
pub enum ScrubError {
    #[error(transparent)]
    Object(#[from] ObjectError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the upload cannot be read for its copy: {0}")]
    File(#[from] FileError),
    #[error("the upload cannot be copied: {0}")]
    Io(#[from] std::io::Error),
}

/// What became of the upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scrub {
    /// The job has not ended, or its file was scrubbed already.
    NotYet,
    /// The upload was replaced by this copy and deleted.
    Copied { copy: ObjectRef, scrubbed: Scrubbed },
    /// The upload, unreadable as rows, was deleted.
    Deleted,
}

pub async fn scrub_upload<S: JobStore>(store: &S, objects: &S3Objects, job: &Job) -> Result<Scrub, ScrubError> {
    if !job.state.has_ended() || job.scrubbed.is_some() {
        return Ok(Scrub::NotYet);
    }
    let Some(dialect) = job.dialect else {
        objects.delete_version(&job.source).await?;
        return Ok(Scrub::Deleted);
    };
    let mut upload = tempfile::NamedTempFile::new()?;
    objects.download(&job.source, upload.as_file_mut()).await?;
    let open = || std::fs::File::open(upload.path()).map(|f| std::io::BufReader::with_capacity(64 * 1024, f));
    let names = RecordReader::new(open()?).read_header()?;
    let header =
        Header::parse(names, DialectChoice::Fixed(dialect), Some(job.identity_management), job.telephony_model)?;
    // Rows that failed validation repeat nothing of their cells (their columns may be shifted with the field count
    // unchanged): the job's own verdict, read from its INVALID rows.
    let invalid = rows_with_status(store, &job.id, RowStatus::Invalid).await?;
    let copy = tempfile::NamedTempFile::new()?;
    let scrubbed =
        scrub(open()?, open()?, &header, |row| invalid.contains(&row), std::io::BufWriter::new(copy.as_file()))?;
    let key = format!("{SCRUBBED_PREFIX}{}.csv", job.id);
    let copied = objects.put_file(&job.source.bucket, &key, copy.path()).await?;
    // The job points at the copy before the upload goes: a report or a retry never finds neither. A retry that
    // reopened rows since the job ended sent chunks that read the upload: it stays until the job ends again (the
    // copy made meanwhile holds no password, and the next ending puts the copy's key anew).
    if !store.set_scrubbed(&job.id, &copied).await? {
        return Ok(Scrub::NotYet);
    }
    objects.delete_version(&job.source).await?;
    Ok(Scrub::Copied { copy: copied, scrubbed })
}
