//! The status queries beyond what the job store answers directly: the report of a job.

use std::collections::VecDeque;
use std::io::Write;

use crate::format::{DialectChoice, FileError, Header, RecordReader};
use crate::job::{Job, JobStore, RowRecord, StoreError};
use crate::report::{ReportError, ReportWriter};
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
    let unreadable = |e: std::io::Error| ReportError::File(FileError::Io(e));
    let names = RecordReader::new(source.open().map_err(unreadable)?).read_header().map_err(ReportError::File)?;
    // The job says which dialect and setup the file was read with.
    let header =
        Header::parse(names, DialectChoice::Fixed(dialect), Some(job.identity_management), job.telephony_model)
            .map_err(ReportError::File)?;
    // The file and the store's pages are both in row order: a page at a time is all that is held.
    let mut report = ReportWriter::new(&header, source.open().map_err(unreadable)?, out)?;
    let mut page: VecDeque<RowRecord> = VecDeque::new();
    let (mut after, mut more) = (None, true);
    while let Some(row) = report.next_row()? {
        while more && page.back().is_none_or(|r| r.row < row) {
            let next = store.rows(&job.id, None, PAGE, after).await?;
            after = next.items.last().map(|r| r.row).or(after);
            more = next.next.is_some();
            page.extend(next.items);
        }
        while page.front().is_some_and(|r| r.row < row) {
            page.pop_front();
        }
        report.write_row(page.front().filter(|r| r.row == row))?;
    }
    report.finish()?;
    Ok(())
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::job::{ObjectRef, SqliteJobStore};
    use crate::pipeline::{MemoryQueue, ingest};
    use crate::validate::Options;

    /// A file over several store pages, with invalid rows and blank lines scattered through it: each report line
    /// carries its own row's outcome.
    #[tokio::test]
    async fn the_report_pairs_each_row_with_its_outcome_across_store_pages() {
        let mut text =
            String::from("action,username,password,first_name,last_name,email,routing_profile,security_profiles\n");
        let mut expected = Vec::new();
        for i in 0..2_600 {
            if i % 501 == 0 {
                text.push('\n');
            }
            let username = if i % 7 == 3 { format!("agent{i}-with-a-name-too-long") } else { format!("agent{i}") };
            text.push_str(&format!(
                "add,{username},Welcome{i}!Aa,Ann,Lee{i},agent{i}@example.com,Basic Routing Profile,Agent\n"
            ));
            expected.push((username, if i % 7 == 3 { "INVALID" } else { "PENDING" }));
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &text).unwrap();
        let store = SqliteJobStore::in_memory().unwrap();
        let object = ObjectRef { bucket: "local".into(), key: "agents.csv".into(), version: "v1".into() };
        let job = ingest(&store, &MemoryQueue::default(), file.path(), object, &Options::default()).await.unwrap().job;

        let mut out = Vec::new();
        job_report(&store, &job, file.path(), &mut out).await.unwrap();
        let report = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = report.lines().skip(1).collect();
        assert_eq!(lines.len(), expected.len());
        for (line, (username, status)) in lines.iter().zip(&expected) {
            // An invalid row repeats none of its cells, only its outcome.
            let cells = if *status == "INVALID" { ",,,,,,,".to_owned() } else { format!("add,{username},") };
            assert!(line.starts_with(&cells), "{line}");
            assert!(line.contains(&format!(",{status},")), "{username} is {status}: {line}");
        }
    }
}
