//! The status queries beyond what the job store answers directly: the report of a job.

use std::collections::BTreeMap;
use std::io::Write;

use crate::format::{DialectChoice, FileError, Header, RecordReader};
use crate::job::{Job, JobStore, RowRecord, StoreError};
use crate::report::{ReportError, write_report};
use crate::validate::Source;

/// Rows read from the store per call.
const PAGE: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("job {job} has no report: its file could not be read ({reason})")]
    NoReport { job: String, reason: String },
}

/// Writes the report of `job`; `source` is the job's file, read as a stream (the header once more first).
pub async fn job_report<S: JobStore>(
    store: &S,
    job: &Job,
    source: &(impl Source + ?Sized),
    out: impl Write,
) -> Result<(), StatusError> {
    let Some(dialect) = job.dialect else {
        let reason = job.error.clone().unwrap_or_else(|| "unknown dialect".into());
        return Err(StatusError::NoReport { job: job.id.to_string(), reason });
    };
    let mut records: BTreeMap<u64, RowRecord> = BTreeMap::new();
    let mut after = None;
    loop {
        let page = store.rows(&job.id, None, PAGE, after).await?;
        after = page.items.last().map(|r| r.row);
        records.extend(page.items.into_iter().map(|r| (r.row, r)));
        if page.next.is_none() {
            break;
        }
    }
    let unreadable = |e: std::io::Error| ReportError::File(FileError::Io(e));
    let names = RecordReader::new(source.open().map_err(unreadable)?).read_header().map_err(ReportError::File)?;
    // The job says which dialect and setup the file was read with.
    let header =
        Header::parse(names, DialectChoice::Fixed(dialect), Some(job.identity_management), job.telephony_model)
            .map_err(ReportError::File)?;
    write_report(&header, source.open().map_err(unreadable)?, |row| records.remove(&row), out)?;
    Ok(())
}
