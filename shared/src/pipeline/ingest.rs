//! Ingest: validate the file as a stream, record the job and every row (INVALID rows with their errors, valid rows
//! PENDING), and enqueue the chunks. A repeated event finds the job and does nothing twice; an ingest that died half
//! way is completed by the next event.

use std::collections::BTreeSet;

use super::queue::{ChunkQueue, QueueError};
use crate::domain::IdentityManagement;
use crate::format::{Chunk, ChunkPlanner, Dialect, DialectChoice, Field, FileError, RecordReader};
use crate::job::{
    ChunkMessage, Created, Job, JobId, JobState, JobStore, ObjectRef, RowOutcome, RowRecord, RowStatus, StoreError,
    now_epoch,
};
use crate::validate::{Options, RowError, Setup, Source, Validator};

/// Rows written to the store per call.
const ROW_BATCH: usize = 500;
/// Messages sent per call (SQS's batch limit).
const MESSAGE_BATCH: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    pub job: Job,
    /// False when the job existed and was past ingest: nothing was done.
    pub ingested: bool,
}

/// All of a row's errors in one message: `column "x": message [rule]; ...`.
pub fn error_message(errors: &[RowError]) -> String {
    errors
        .iter()
        .map(|e| format!("column {:?}: {} [{}]", e.column, e.message, e.rule.code()))
        .collect::<Vec<_>>()
        .join("; ")
}

pub async fn ingest<S: JobStore, Q: ChunkQueue>(
    store: &S,
    queue: &Q,
    source: &(impl Source + ?Sized),
    object: ObjectRef,
    options: &Options,
) -> Result<IngestOutcome, IngestError> {
    let id = JobId::for_object(&object);
    // A repeated event for a job past ingest costs one read, not a pass over the file.
    if let Some(existing) = store.job(&id).await?
        && existing.state != JobState::Ingesting
    {
        return Ok(IngestOutcome { job: existing, ingested: false });
    }
    let (validator, reader) = Validator::prepare(source, options)?;
    let job = Job::ingesting(object.clone(), validator.header().dialect(), validator.setup(), now_epoch());
    // Checked again on create: another ingest of the same object may have got there first.
    if let Created::Existing(existing) = store.create_job(&job).await?
        && existing.state != JobState::Ingesting
    {
        return Ok(IngestOutcome { job: *existing, ingested: false });
    }
    let (chunks, seen) = pass(store, queue, validator, reader, &id, &object, options, Pass::Ingest).await?;
    if seen == 0 {
        store.fail_job(&id, &FileError::NoRows.to_string()).await?;
        return Err(FileError::NoRows.into());
    }
    store.finish_ingest(&id, chunks, seen).await?;
    let job = store.job(&id).await?.ok_or_else(|| StoreError("the job vanished during ingest".into()))?;
    Ok(IngestOutcome { job, ingested: true })
}

/// Records a file that ingest found unusable as a FAILED job with the reason, for the status API to show; a
/// repeated event for it then does nothing. Returns the job as recorded (an earlier record wins).
pub async fn record_unusable<S: JobStore>(
    store: &S,
    object: ObjectRef,
    options: &Options,
    error: &FileError,
) -> Result<Job, StoreError> {
    let setup = Setup {
        identity_management: options.identity_management.unwrap_or(IdentityManagement::ConnectManaged),
        telephony_model: options.telephony_model,
    };
    let job = Job::unusable(object, setup, error.to_string(), now_epoch());
    match store.create_job(&job).await? {
        Created::New => Ok(job),
        // An ingest that died after creating the job, before it found the file unusable.
        Created::Existing(existing) if existing.state == JobState::Ingesting => {
            store.fail_job(&job.id, &error.to_string()).await?;
            Ok(store.job(&job.id).await?.unwrap_or(job))
        }
        Created::Existing(existing) => Ok(*existing),
    }
}

/// Sends a recorded job's chunks again, for a rerun of the same file: provisioning skips the rows already done, so
/// only the pending, interrupted and failed ones are worked on. Returns the number of chunks sent.
pub async fn requeue<S: JobStore, Q: ChunkQueue>(
    store: &S,
    queue: &Q,
    source: &(impl Source + ?Sized),
    job: &Job,
    options: &Options,
) -> Result<u32, IngestError> {
    let (validator, reader) = Validator::prepare(source, options)?;
    let (chunks, _) = pass(store, queue, validator, reader, &job.id, job.file(), options, Pass::Requeue).await?;
    Ok(chunks)
}

/// Sends again those of a recorded job's chunks that hold any of `rows`, in a round of their own, told apart from the
/// job's first sends and other rounds (retries, the sweeper's nudges) by its time. Returns the number sent.
pub(super) async fn requeue_holding<S: JobStore, Q: ChunkQueue>(
    store: &S,
    queue: &Q,
    source: &(impl Source + ?Sized),
    job: &Job,
    options: &Options,
    rows: &BTreeSet<u64>,
) -> Result<u32, IngestError> {
    let round = u32::try_from(now_epoch()).unwrap_or(u32::MAX);
    let (validator, reader) = Validator::prepare(source, options)?;
    let what = Pass::Retry { rows, round };
    let (chunks, _) = pass(store, queue, validator, reader, &job.id, job.file(), options, what).await?;
    Ok(chunks)
}

/// `options` as the job recorded its file: its dialect (`dialect`, the job's own) and setup.
pub(super) fn as_recorded(job: &Job, dialect: Dialect, options: &Options) -> Options {
    Options {
        identity_management: Some(job.identity_management),
        telephony_model: job.telephony_model,
        dialect: DialectChoice::Fixed(dialect),
        ..*options
    }
}

/// The rows of the file that validate (with `options`, as a job's worker would check them).
pub(super) fn valid_rows(source: &(impl Source + ?Sized), options: &Options) -> Result<BTreeSet<u64>, IngestError> {
    let (mut validator, mut reader) = Validator::prepare(source, options)?;
    let mut valid = BTreeSet::new();
    while let Some(record) = reader.next_record()? {
        if validator.check(&record).is_ok() {
            valid.insert(record.row);
        }
    }
    Ok(valid)
}

/// What a pass over a file is for.
#[derive(Clone, Copy)]
enum Pass<'a> {
    /// Record every row, and send the chunks not sent before.
    Ingest,
    /// Send every chunk again.
    Requeue,
    /// Send again, in a round of their own, the chunks that hold any of these rows.
    Retry { rows: &'a BTreeSet<u64>, round: u32 },
}

/// One pass over the rows: records them (at ingest) and sends the chunk messages, each after its rows.
#[allow(clippy::too_many_arguments)]
async fn pass<S: JobStore, Q: ChunkQueue>(
    store: &S,
    queue: &Q,
    mut validator: Validator,
    mut reader: RecordReader<impl std::io::Read>,
    id: &JobId,
    object: &ObjectRef,
    options: &Options,
    what: Pass<'_>,
) -> Result<(u32, u64), IngestError> {
    let now = now_epoch();
    let header = validator.header().clone();
    let setup = validator.setup();
    let username_at = header.position(Field::Username);
    let record_rows = matches!(what, Pass::Ingest);
    let round = match what {
        Pass::Retry { round, .. } => round,
        _ => 0,
    };
    let message = |chunk: Chunk| ChunkMessage {
        job_id: id.clone(),
        object: object.clone(),
        header: header.clone(),
        setup,
        chunk,
        round,
    };
    let wanted = |message: &ChunkMessage| match what {
        Pass::Retry { rows, .. } => rows.range(message.chunk.first_row..=message.chunk.last_row).next().is_some(),
        _ => true,
    };
    let mut planner = ChunkPlanner::new(options.chunk_rows_for(header.dialect()));
    // An ingest run again after it died half way sends only the chunks not yet sent (the planner cuts the same
    // chunks from the same file); a requeue sends them all on purpose.
    let already_sent = if record_rows { store.chunks_sent(id).await? } else { 0 };
    let (mut rows, mut messages, mut chunks, mut seen) = (Vec::new(), Vec::new(), 0u32, 0u64);
    while let Some(record) = reader.next_record()? {
        seen += 1;
        // A row whose columns are in doubt may hold anything where its username should be: a password, say.
        let clean = !record.columns_in_doubt(header.len());
        let username = username_at
            .filter(|_| clean)
            .and_then(|i| record.fields.get(i))
            .and_then(|cell| std::str::from_utf8(cell).ok())
            .map(|name| name.trim().to_owned())
            // A cell too long to be a username is not one, and is not stored as one.
            .filter(|name| !name.is_empty() && name.chars().count() <= Field::Username.max_chars());
        let (status, action, error, closed) = match validator.check(&record) {
            Ok(row) => (RowStatus::Pending, Some(row.action), None, planner.push_valid(record.row, record.range)),
            Err(errors) => (RowStatus::Invalid, None, Some(error_message(&errors)), planner.push_invalid()),
        };
        // Nor is a row that failed validation sure of its columns: an unquoted comma with a trailing value left out
        // shifts them with the field count unchanged, a password into the username's.
        let username = username.filter(|_| status != RowStatus::Invalid);
        if record_rows {
            rows.push(RowRecord {
                job_id: id.clone(),
                row: record.row,
                username,
                action,
                status,
                outcome: RowOutcome { error_message: error, ..RowOutcome::default() },
                attempts: 0,
                updated_at: now,
            });
        }
        messages.extend(closed.map(&message).filter(|m| wanted(m)));
        if rows.len() >= ROW_BATCH {
            store.put_rows(&rows).await?;
            rows.clear();
        }
        // Rows are recorded before the messages that name them go out.
        if messages.len() >= MESSAGE_BATCH {
            store.put_rows(&rows).await?;
            rows.clear();
            chunks += send_unsent(store, queue, id, &mut messages, already_sent, record_rows).await?;
        }
    }
    messages.extend(planner.finish().map(&message).filter(|m| wanted(m)));
    store.put_rows(&rows).await?;
    chunks += send_unsent(store, queue, id, &mut messages, already_sent, record_rows).await?;
    Ok((chunks, seen))
}

/// Sends the messages whose chunks were not sent before (`already_sent` of them were), records how far the
/// sending got when `record` (ingest, not a requeue), and empties `messages`. Returns how many chunks they were.
async fn send_unsent<S: JobStore, Q: ChunkQueue>(
    store: &S,
    queue: &Q,
    id: &JobId,
    messages: &mut Vec<ChunkMessage>,
    already_sent: u32,
    record: bool,
) -> Result<u32, IngestError> {
    let Some(last) = messages.last().map(|m| m.chunk.index) else { return Ok(0) };
    let count = messages.len() as u32;
    messages.retain(|m| m.chunk.index >= already_sent);
    queue.send(messages).await?;
    if record && !messages.is_empty() {
        store.record_chunks_sent(id, last + 1).await?;
    }
    messages.clear();
    Ok(count)
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::job::SqliteJobStore;
    use crate::pipeline::MemoryQueue;

    fn example(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
    }

    fn object(key: &str) -> ObjectRef {
        ObjectRef { bucket: "local".into(), key: key.into(), version: "v1".into() }
    }

    #[tokio::test]
    async fn ingest_records_every_row_and_enqueues_the_valid_ones_once() {
        let store = SqliteJobStore::in_memory().unwrap();
        let queue = MemoryQueue::default();
        let path = example("errors.csv");
        let options = Options { chunk_rows: 5, ..Options::default() };
        let outcome = ingest(&store, &queue, path.as_path(), object("errors.csv"), &options).await.unwrap();
        assert!(outcome.ingested);
        let job = outcome.job;
        assert_eq!((job.state, job.counts.pending, job.counts.invalid), (JobState::Running, 1, 21));
        assert_eq!((job.chunks as usize, queue.len()), (1, 1), "row 20 alone is valid: one chunk");

        let invalid = store.row(&job.id, 3).await.unwrap().unwrap();
        assert_eq!(invalid.status, RowStatus::Invalid);
        assert_eq!(invalid.username, None, "a row that failed validation repeats none of its cells");
        assert!(invalid.outcome.error_message.unwrap().contains("[username.too_long]"));
        let valid = store.row(&job.id, 20).await.unwrap().unwrap();
        assert_eq!((valid.status, valid.action), (RowStatus::Pending, Some(crate::domain::Action::Add)));
        let line_break = store.row(&job.id, 2).await.unwrap().unwrap();
        assert_eq!((line_break.status, line_break.username), (RowStatus::Invalid, None), "columns in doubt");

        // The same event again: the job is found, nothing is recorded or sent twice.
        let again = ingest(&store, &queue, path.as_path(), object("errors.csv"), &options).await.unwrap();
        assert!(!again.ingested);
        assert_eq!(queue.len(), 1);
        assert_eq!(store.job(&job.id).await.unwrap().unwrap().counts.total(), 22);
    }

    #[tokio::test]
    async fn an_ingest_that_died_half_way_is_completed_and_a_file_of_only_bad_rows_finishes_at_once() {
        let store = SqliteJobStore::in_memory().unwrap();
        let queue = MemoryQueue::default();
        let path = example("ccbulk-agents.csv");
        let options = Options { chunk_rows: 10, ..Options::default() };
        // A first attempt got as far as recording the job, then died.
        let (validator, _) = Validator::prepare(path.as_path(), &options).unwrap();
        let half = Job::ingesting(object("agents.csv"), validator.header().dialect(), validator.setup(), 0);
        store.create_job(&half).await.unwrap();
        let outcome = ingest(&store, &queue, path.as_path(), object("agents.csv"), &options).await.unwrap();
        assert!(outcome.ingested);
        assert_eq!((outcome.job.counts.pending, outcome.job.chunks), (28, 3));

        let bad = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(bad.path(), "action,username\nexplode,x\n").unwrap();
        let outcome = ingest(&store, &queue, bad.path(), object("bad.csv"), &options).await.unwrap();
        assert_eq!((outcome.job.state, outcome.job.chunks), (JobState::CompletedWithErrors, 0));
    }

    /// A queue that takes `sends` calls, then fails: SQS out of reach half way through an ingest.
    struct DiesAfter {
        queue: MemoryQueue,
        sends: std::sync::atomic::AtomicU32,
    }

    impl ChunkQueue for DiesAfter {
        async fn send(&self, messages: &[ChunkMessage]) -> Result<(), QueueError> {
            if self.sends.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                return Err(QueueError("SQS is out of reach".into()));
            }
            self.queue.send(messages).await
        }
    }

    #[tokio::test]
    async fn an_ingest_run_again_after_it_died_sends_only_the_chunks_not_yet_sent() {
        let store = SqliteJobStore::in_memory().unwrap();
        let path = example("ccbulk-agents.csv");
        // A chunk a row: 28 chunks, sent ten at a time.
        let options = Options { chunk_rows: 1, ..Options::default() };
        let dying = DiesAfter { queue: MemoryQueue::default(), sends: 1.into() };
        let err = ingest(&store, &dying, path.as_path(), object("agents.csv"), &options).await.unwrap_err();
        assert!(matches!(err, IngestError::Queue(_)), "{err}");
        assert_eq!(dying.queue.len(), 10, "the first ten went out before SQS fell away");

        let queue = MemoryQueue::default();
        let outcome = ingest(&store, &queue, path.as_path(), object("agents.csv"), &options).await.unwrap();
        assert!(outcome.ingested);
        assert_eq!((outcome.job.chunks, queue.len()), (28, 18), "only the 18 chunks not yet sent go out again");
        let mut indexes: Vec<u32> = std::iter::from_fn(|| queue.receive()).map(|m| m.chunk.index).collect();
        indexes.sort();
        assert_eq!(indexes, (10..28).collect::<Vec<_>>());
        assert_eq!(store.job(&outcome.job.id).await.unwrap().unwrap().counts.total(), 28, "every row recorded once");
    }
}
