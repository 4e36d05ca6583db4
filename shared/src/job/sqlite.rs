//! The job store in one SQLite file (feature `sqlite`), for `ccbulk run` on a laptop. Its keys mirror the DynamoDB
//! design: rows keyed by (job, row), with an index by (job, status, row) so that the failed rows of a large job are
//! read without the others.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::model::{
    BulkJob, Counts, EmailChange, Job, JobId, JobState, ObjectRef, Pause, RowOutcome, RowRecord, RowStatus, now_epoch,
    stored_message,
};

/// SQLite integers are signed.
fn now() -> i64 {
    now_epoch() as i64
}
use super::store::{Created, JobStore, Lease, Page, Release, RowStart, StoreError};
use crate::domain::{Action, IdentityManagement, TelephonyModel};
use crate::format::Dialect;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    bucket TEXT NOT NULL, key TEXT NOT NULL, version TEXT NOT NULL,
    dialect TEXT NOT NULL, identity_management TEXT NOT NULL, telephony_model TEXT NOT NULL,
    state TEXT NOT NULL,
    pending INTEGER NOT NULL DEFAULT 0, in_progress INTEGER NOT NULL DEFAULT 0, succeeded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0, invalid INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    chunks_sent INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    paused_reason TEXT, paused_since INTEGER,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    job_id TEXT NOT NULL, row INTEGER NOT NULL,
    username TEXT, action TEXT, status TEXT NOT NULL,
    error_message TEXT, connect_user_id TEXT, connect_user_arn TEXT, salesforce_user_id TEXT,
    permission_set_assignment_id TEXT, quick_connect_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL,
    lease_owner TEXT, lease_until INTEGER,
    PRIMARY KEY (job_id, row)
);
CREATE INDEX IF NOT EXISTS rows_by_status ON rows (job_id, status, row);
CREATE TABLE IF NOT EXISTS bulk_jobs (
    job_id TEXT NOT NULL, chunk INTEGER NOT NULL, bulk_job TEXT NOT NULL, PRIMARY KEY (job_id, chunk)
);
CREATE TABLE IF NOT EXISTS shared (
    job_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (job_id, name)
);
CREATE TABLE IF NOT EXISTS email_changes (
    salesforce_user_id TEXT PRIMARY KEY, email TEXT NOT NULL, requested_at INTEGER NOT NULL
);
";

pub struct SqliteJobStore {
    connection: Mutex<Connection>,
}

fn store_error(err: rusqlite::Error) -> StoreError {
    StoreError(err.to_string())
}

impl SqliteJobStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::with(Connection::open(path).map_err(store_error)?)
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with(Connection::open_in_memory().map_err(store_error)?)
    }

    fn with(mut connection: Connection) -> Result<Self, StoreError> {
        // `ccbulk status` may read while a run writes: readers wait for a writer's transaction instead of failing.
        connection.busy_timeout(std::time::Duration::from_secs(10)).map_err(store_error)?;
        // Two runs may open one new state file at the same moment: switching it to WAL can find the other holding
        // the file, which SQLite reports at once rather than through the busy handler, so it is tried again.
        let mut tries = 0;
        while let Err(err) = connection.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;") {
            tries += 1;
            if tries >= 50 || !is_busy(&err) {
                return Err(store_error(err));
            }
            std::thread::sleep(std::time::Duration::from_millis(20 * tries.min(10)));
        }
        // The schema and its later columns under one write lock: the second opener waits, then finds them there.
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(store_error)?;
        tx.execute_batch(SCHEMA).map_err(store_error)?;
        add_missing_columns(&tx).map_err(store_error)?;
        tx.commit().map_err(store_error)?;
        Ok(Self { connection: Mutex::new(connection) })
    }

    fn with_connection<T>(&self, work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let mut connection = self.connection.lock().map_err(|_| StoreError("the store's lock is poisoned".into()))?;
        work(&mut connection).map_err(store_error)
    }
}

fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// Columns added since the first state files: (table, column, its definition). Such a file gets them, empty.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("jobs", "error", "TEXT"),
    ("jobs", "chunks_sent", "INTEGER NOT NULL DEFAULT 0"),
    ("rows", "lease_owner", "TEXT"),
    ("rows", "lease_until", "INTEGER"),
    ("jobs", "paused_reason", "TEXT"),
    ("jobs", "paused_since", "INTEGER"),
    ("rows", "note", "TEXT"),
    ("rows", "voice_provisioning_job_id", "TEXT"),
    ("jobs", "scrubbed_bucket", "TEXT"),
    ("jobs", "scrubbed_key", "TEXT"),
    ("jobs", "scrubbed_version", "TEXT"),
    ("rows", "undo_image", "TEXT"),
    ("bulk_jobs", "recorded_at", "INTEGER NOT NULL DEFAULT 0"),
];

/// State files written before a column existed get it, empty.
fn add_missing_columns(connection: &Connection) -> rusqlite::Result<()> {
    for (table, column, definition) in ADDED_COLUMNS {
        let present: bool = connection.query_row(
            &format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"),
            params![column],
            |r| r.get(0),
        )?;
        if !present {
            connection.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {definition}"))?;
        }
    }
    Ok(())
}

fn parse<T>(value: Option<T>, what: &str, text: &str) -> rusqlite::Result<T> {
    value.ok_or_else(|| rusqlite::Error::InvalidColumnType(0, format!("{what} {text:?}"), rusqlite::types::Type::Text))
}

/// A non-negative integer column.
fn count(row: &Row, name: &str) -> rusqlite::Result<u64> {
    Ok(row.get::<_, i64>(name)?.max(0) as u64)
}

fn job_from(row: &Row) -> rusqlite::Result<Job> {
    let text = |name: &str| row.get::<_, String>(name);
    let (dialect, identity, telephony, state) =
        (text("dialect")?, text("identity_management")?, text("telephony_model")?, text("state")?);
    Ok(Job {
        id: JobId::from_string(text("id")?),
        source: ObjectRef { bucket: text("bucket")?, key: text("key")?, version: text("version")? },
        dialect: match dialect.as_str() {
            "" => None,
            known => Some(parse(Dialect::parse(known), "dialect", known)?),
        },
        identity_management: parse(IdentityManagement::parse(&identity), "identity management", &identity)?,
        telephony_model: parse(TelephonyModel::parse(&telephony), "telephony model", &telephony)?,
        state: parse(JobState::parse(&state), "state", &state)?,
        counts: Counts {
            pending: count(row, "pending")?,
            in_progress: count(row, "in_progress")?,
            succeeded: count(row, "succeeded")?,
            failed: count(row, "failed")?,
            invalid: count(row, "invalid")?,
        },
        chunks: row.get("chunks")?,
        error: row.get("error")?,
        paused: match (row.get::<_, Option<String>>("paused_reason")?, row.get::<_, Option<i64>>("paused_since")?) {
            (Some(reason), Some(since)) => Some(Pause { reason, since: since.max(0) as u64 }),
            _ => None,
        },
        scrubbed: match (
            row.get::<_, Option<String>>("scrubbed_bucket")?,
            row.get::<_, Option<String>>("scrubbed_key")?,
            row.get::<_, Option<String>>("scrubbed_version")?,
        ) {
            (Some(bucket), Some(key), Some(version)) => Some(ObjectRef { bucket, key, version }),
            _ => None,
        },
        created_at: count(row, "created_at")?,
        updated_at: count(row, "updated_at")?,
    })
}

fn row_from(row: &Row) -> rusqlite::Result<RowRecord> {
    let status: String = row.get("status")?;
    let action: Option<String> = row.get("action")?;
    Ok(RowRecord {
        job_id: JobId::from_string(row.get("job_id")?),
        row: count(row, "row")?,
        username: row.get("username")?,
        action: action.as_deref().and_then(Action::parse),
        status: parse(RowStatus::parse(&status), "row status", &status)?,
        outcome: RowOutcome {
            error_message: row.get("error_message")?,
            note: row.get("note")?,
            connect_user_id: row.get("connect_user_id")?,
            connect_user_arn: row.get("connect_user_arn")?,
            salesforce_user_id: row.get("salesforce_user_id")?,
            permission_set_assignment_id: row.get("permission_set_assignment_id")?,
            quick_connect_id: row.get("quick_connect_id")?,
            voice_provisioning_job_id: row.get("voice_provisioning_job_id")?,
            undo: row.get("undo_image")?,
        },
        attempts: row.get("attempts")?,
        updated_at: count(row, "updated_at")?,
    })
}

fn column(status: RowStatus) -> &'static str {
    match status {
        RowStatus::Pending => "pending",
        RowStatus::InProgress => "in_progress",
        RowStatus::Succeeded => "succeeded",
        RowStatus::Failed => "failed",
        RowStatus::Invalid => "invalid",
    }
}

/// Moves one row's count from one status to another, and settles the job's state once nothing is left to do.
fn move_count(tx: &rusqlite::Transaction, id: &str, from: RowStatus, to: RowStatus) -> rusqlite::Result<JobState> {
    let sql = format!(
        "UPDATE jobs SET {from} = {from} - 1, {to} = {to} + 1, updated_at = ?2 WHERE id = ?1",
        from = column(from),
        to = column(to)
    );
    tx.execute(&sql, params![id, now()])?;
    settle(tx, id)
}

fn settle(tx: &rusqlite::Transaction, id: &str) -> rusqlite::Result<JobState> {
    let job = tx.query_row("SELECT * FROM jobs WHERE id = ?1", params![id], job_from)?;
    let state = match job.state {
        JobState::Ingesting | JobState::Failed => job.state,
        _ => job.counts.state(),
    };
    tx.execute("UPDATE jobs SET state = ?2 WHERE id = ?1", params![id, state.as_str()])?;
    Ok(state)
}

impl SqliteJobStore {
    /// Deletes a job and its rows: for a run whose targets did not outlive it (the embedded sandboxes), so that the
    /// next run of the same file starts afresh.
    pub fn forget_job(&self, id: &JobId) -> Result<(), StoreError> {
        self.with_connection(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM rows WHERE job_id = ?1", params![id.as_str()])?;
            tx.execute("DELETE FROM shared WHERE job_id = ?1", params![id.as_str()])?;
            tx.execute("DELETE FROM jobs WHERE id = ?1", params![id.as_str()])?;
            tx.commit()
        })
    }
}

impl JobStore for SqliteJobStore {
    async fn create_job(&self, job: &Job) -> Result<Created, StoreError> {
        self.with_connection(|connection| {
            let inserted = connection.execute(
                "INSERT OR IGNORE INTO jobs (id, bucket, key, version, dialect, identity_management, telephony_model, state, \
                 chunks, error, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
                params![
                    job.id.as_str(),
                    job.source.bucket,
                    job.source.key,
                    job.source.version,
                    job.dialect.map_or("", |d| d.as_str()),
                    job.identity_management.as_str(),
                    job.telephony_model.as_str(),
                    job.state.as_str(),
                    job.chunks,
                    job.error.as_deref().map(stored_message),
                    job.created_at as i64,
                ],
            )?;
            if inserted == 1 {
                return Ok(Created::New);
            }
            connection.query_row("SELECT * FROM jobs WHERE id = ?1", params![job.id.as_str()], job_from).map(|job| Created::Existing(Box::new(job)))
        })
    }

    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        self.with_connection(|c| {
            c.query_row("SELECT * FROM jobs WHERE id = ?1", params![id.as_str()], job_from).optional()
        })
    }

    async fn jobs(&self, limit: usize, after: Option<&str>) -> Result<Page<Job>, StoreError> {
        let after: i64 = after.and_then(|a| a.parse().ok()).unwrap_or(i64::MAX);
        self.with_connection(|c| {
            let mut statement = c.prepare("SELECT * FROM jobs WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2")?;
            let mut seqs = Vec::new();
            let items = statement
                .query_map(params![after, limit as i64 + 1], |row| {
                    seqs.push(row.get::<_, i64>("seq")?);
                    job_from(row)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut items = items;
            let next = (items.len() > limit).then(|| seqs[limit - 1].to_string());
            items.truncate(limit);
            Ok(Page { items, next })
        })
    }

    async fn put_rows(&self, rows: &[RowRecord]) -> Result<(), StoreError> {
        self.with_connection(|c| {
            let tx = c.transaction()?;
            for record in rows {
                let inserted = tx.execute(
                    "INSERT OR IGNORE INTO rows (job_id, row, username, action, status, error_message, attempts, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
                    params![
                        record.job_id.as_str(),
                        record.row as i64,
                        record.username,
                        record.action.map(Action::as_str),
                        record.status.as_str(),
                        record.outcome.error_message.as_deref().map(stored_message),
                        now(),
                    ],
                )?;
                if inserted == 1 {
                    let sql = format!("UPDATE jobs SET {0} = {0} + 1 WHERE id = ?1", column(record.status));
                    tx.execute(&sql, params![record.job_id.as_str()])?;
                }
            }
            tx.commit()
        })
    }

    /// `rows` is not kept: here the counters move in the same SQLite transaction as their rows, one writer at a
    /// time, so they cannot drift from them.
    async fn finish_ingest(&self, id: &JobId, chunks: u32, _rows: u64) -> Result<(), StoreError> {
        self.with_connection(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE jobs SET state = ?2, chunks = ?3, updated_at = ?4 WHERE id = ?1",
                params![id.as_str(), JobState::Running.as_str(), chunks, now()],
            )?;
            // A job whose rows are all done by now (all invalid, say) finishes at once.
            settle(&tx, id.as_str())?;
            tx.commit()
        })
    }

    async fn chunks_sent(&self, id: &JobId) -> Result<u32, StoreError> {
        self.with_connection(|c| {
            c.query_row("SELECT chunks_sent FROM jobs WHERE id = ?1", params![id.as_str()], |r| r.get(0))
                .optional()
                .map(Option::unwrap_or_default)
        })
    }

    async fn record_chunks_sent(&self, id: &JobId, sent: u32) -> Result<(), StoreError> {
        self.with_connection(|c| {
            c.execute("UPDATE jobs SET chunks_sent = MAX(chunks_sent, ?2) WHERE id = ?1", params![id.as_str(), sent])
                .map(drop)
        })
    }

    async fn pause_job(&self, id: &JobId, reason: &str) -> Result<(), StoreError> {
        self.with_connection(|c| {
            c.execute(
                "UPDATE jobs SET paused_reason = ?2, paused_since = COALESCE(paused_since, ?3), updated_at = ?3 \
                 WHERE id = ?1",
                params![id.as_str(), stored_message(reason), now()],
            )
            .map(drop)
        })
    }

    async fn set_scrubbed(&self, id: &JobId, copy: &ObjectRef) -> Result<bool, StoreError> {
        self.with_connection(|c| {
            c.execute(
                "UPDATE jobs SET scrubbed_bucket = ?2, scrubbed_key = ?3, scrubbed_version = ?4 \
                 WHERE id = ?1 AND pending = 0 AND in_progress = 0",
                params![id.as_str(), copy.bucket, copy.key, copy.version],
            )
            .map(|changed| changed == 1)
        })
    }

    async fn resume_job(&self, id: &JobId) -> Result<(), StoreError> {
        self.with_connection(|c| {
            c.execute(
                "UPDATE jobs SET paused_reason = NULL, paused_since = NULL WHERE id = ?1 AND paused_reason IS NOT NULL",
                params![id.as_str()],
            )
            .map(drop)
        })
    }

    async fn fail_job(&self, id: &JobId, reason: &str) -> Result<(), StoreError> {
        self.with_connection(|c| {
            c.execute(
                "UPDATE jobs SET state = ?2, error = ?3, updated_at = ?4 WHERE id = ?1",
                params![id.as_str(), JobState::Failed.as_str(), stored_message(reason), now()],
            )
            .map(drop)
        })
    }

    async fn start_row(&self, id: &JobId, row: u64, lease: &Lease) -> Result<RowStart, StoreError> {
        self.with_connection(|c| {
            // Immediate: another process on the same file waits here instead of racing this read to the write.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let found = tx
                .query_row(
                    "SELECT status, lease_owner, lease_until FROM rows WHERE job_id = ?1 AND row = ?2",
                    params![id.as_str(), row as i64],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, Option<i64>>(2)?)),
                )
                .optional()?;
            let Some((status, holder, until)) = found else {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            };
            let status = parse(RowStatus::parse(&status), "row status", &status)?;
            if matches!(status, RowStatus::Succeeded | RowStatus::Failed | RowStatus::Invalid) {
                return Ok(RowStart::Done(status));
            }
            let held_by_another = status == RowStatus::InProgress
                && holder.as_deref().is_some_and(|holder| holder != lease.owner)
                && until.is_some_and(|until| until >= now());
            if held_by_another {
                return Ok(RowStart::Held);
            }
            tx.execute(
                "UPDATE rows SET status = 'IN_PROGRESS', attempts = attempts + 1, updated_at = ?3, lease_owner = ?4, \
                 lease_until = ?5 WHERE job_id = ?1 AND row = ?2",
                params![id.as_str(), row as i64, now(), lease.owner, lease.until as i64],
            )?;
            if status != RowStatus::InProgress {
                move_count(&tx, id.as_str(), status, RowStatus::InProgress)?;
            }
            let started = tx.query_row(
                "SELECT * FROM rows WHERE job_id = ?1 AND row = ?2",
                params![id.as_str(), row as i64],
                row_from,
            )?;
            tx.commit()?;
            Ok(RowStart::Go(Box::new(started)))
        })
    }

    async fn renew_rows(&self, id: &JobId, rows: &[u64], lease: &Lease) -> Result<(), StoreError> {
        self.with_connection(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for row in rows {
                tx.execute(
                    "UPDATE rows SET lease_until = ?4 WHERE job_id = ?1 AND row = ?2 AND lease_owner = ?3 \
                     AND status = 'IN_PROGRESS'",
                    params![id.as_str(), *row as i64, lease.owner, lease.until as i64],
                )?;
            }
            tx.commit()
        })
    }

    async fn release_row(&self, id: &JobId, row: u64, owner: &str, release: Release) -> Result<(), StoreError> {
        let given_back = i64::from(release == Release::Untried);
        self.with_connection(|c| {
            c.execute(
                "UPDATE rows SET lease_owner = NULL, lease_until = NULL, attempts = attempts - ?4 \
                 WHERE job_id = ?1 AND row = ?2 AND lease_owner = ?3",
                params![id.as_str(), row as i64, owner, given_back],
            )
            .map(drop)
        })
    }

    async fn finish_row(
        &self,
        id: &JobId,
        row: u64,
        status: RowStatus,
        outcome: &RowOutcome,
        owner: &str,
    ) -> Result<Option<JobState>, StoreError> {
        self.with_connection(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (previous, holder): (String, Option<String>) = tx.query_row(
                "SELECT status, lease_owner FROM rows WHERE job_id = ?1 AND row = ?2",
                params![id.as_str(), row as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let previous = parse(RowStatus::parse(&previous), "row status", &previous)?;
            if previous != RowStatus::InProgress || holder.as_deref() != Some(owner) {
                return Ok(None);
            }
            tx.execute(
                "UPDATE rows SET status = ?3, error_message = ?4, connect_user_id = COALESCE(?5, connect_user_id), \
                 connect_user_arn = COALESCE(?6, connect_user_arn), salesforce_user_id = COALESCE(?7, salesforce_user_id), \
                 permission_set_assignment_id = COALESCE(?8, permission_set_assignment_id), \
                 quick_connect_id = COALESCE(?9, quick_connect_id), updated_at = ?10, lease_owner = NULL, \
                 lease_until = NULL, note = ?11, \
                 voice_provisioning_job_id = COALESCE(?12, voice_provisioning_job_id), undo_image = COALESCE(?13, undo_image) \
                 WHERE job_id = ?1 AND row = ?2",
                params![
                    id.as_str(),
                    row as i64,
                    status.as_str(),
                    outcome.error_message.as_deref().map(stored_message),
                    outcome.connect_user_id,
                    outcome.connect_user_arn,
                    outcome.salesforce_user_id,
                    outcome.permission_set_assignment_id,
                    outcome.quick_connect_id,
                    now(),
                    outcome.note.as_deref().map(stored_message),
                    outcome.voice_provisioning_job_id,
                    outcome.undo,
                ],
            )?;
            let state = move_count(&tx, id.as_str(), previous, status)?;
            tx.commit()?;
            Ok(Some(state))
        })
    }

    /// Every move settles the job in its own transaction here: the state is read.
    async fn settle_job(&self, id: &JobId) -> Result<JobState, StoreError> {
        let job = self.job(id).await?.ok_or_else(|| StoreError(format!("no job {id}")))?;
        Ok(job.state)
    }

    async fn reopen_rows(&self, id: &JobId, rows: &[u64]) -> Result<Vec<u64>, StoreError> {
        self.with_connection(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut reopened = Vec::new();
            for &row in rows {
                let moved = tx.execute(
                    "UPDATE rows SET status = 'PENDING', attempts = 0, lease_owner = NULL, lease_until = NULL, \
                     updated_at = ?3 WHERE job_id = ?1 AND row = ?2 AND status = 'FAILED'",
                    params![id.as_str(), row as i64, now()],
                )?;
                if moved > 0 {
                    reopened.push(row);
                }
            }
            tx.execute(
                "UPDATE jobs SET failed = failed - ?2, pending = pending + ?2, updated_at = ?3 WHERE id = ?1",
                params![id.as_str(), reopened.len() as i64, now()],
            )?;
            settle(&tx, id.as_str())?;
            tx.commit()?;
            Ok(reopened)
        })
    }

    async fn row(&self, id: &JobId, row: u64) -> Result<Option<RowRecord>, StoreError> {
        self.with_connection(|c| {
            c.query_row("SELECT * FROM rows WHERE job_id = ?1 AND row = ?2", params![id.as_str(), row as i64], row_from)
                .optional()
        })
    }

    async fn rows(
        &self,
        id: &JobId,
        status: Option<RowStatus>,
        limit: usize,
        after: Option<u64>,
    ) -> Result<Page<RowRecord>, StoreError> {
        self.with_connection(|c| {
            let after = after.map_or(-1, |a| a as i64);
            let mut items = match status {
                Some(status) => c
                    .prepare("SELECT * FROM rows WHERE job_id = ?1 AND status = ?2 AND row > ?3 ORDER BY row LIMIT ?4")?
                    .query_map(params![id.as_str(), status.as_str(), after, limit as i64 + 1], row_from)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
                None => c
                    .prepare("SELECT * FROM rows WHERE job_id = ?1 AND row > ?2 ORDER BY row LIMIT ?3")?
                    .query_map(params![id.as_str(), after, limit as i64 + 1], row_from)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            };
            let next = (items.len() > limit).then(|| items[limit - 1].row.to_string());
            items.truncate(limit);
            Ok(Page { items, next })
        })
    }

    async fn bulk_job(&self, id: &JobId, chunk: u64) -> Result<Option<BulkJob>, StoreError> {
        self.with_connection(|c| {
            c.query_row(
                "SELECT bulk_job, recorded_at FROM bulk_jobs WHERE job_id = ?1 AND chunk = ?2",
                params![id.as_str(), chunk as i64],
                |r| Ok(BulkJob { id: r.get(0)?, recorded_at: r.get::<_, i64>(1)?.max(0) as u64 }),
            )
            .optional()
        })
    }

    async fn record_bulk_job(
        &self,
        id: &JobId,
        chunk: u64,
        bulk_job: &str,
        replacing: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.with_connection(|c| {
            let changed = match replacing {
                None => c.execute(
                    "INSERT OR IGNORE INTO bulk_jobs (job_id, chunk, bulk_job, recorded_at) VALUES (?1, ?2, ?3, ?4)",
                    params![id.as_str(), chunk as i64, bulk_job, now()],
                )?,
                Some(old) => c.execute(
                    "UPDATE bulk_jobs SET bulk_job = ?3, recorded_at = ?4 WHERE job_id = ?1 AND chunk = ?2 \
                     AND bulk_job = ?5",
                    params![id.as_str(), chunk as i64, bulk_job, now(), old],
                )?,
            };
            Ok(changed == 1)
        })
    }

    async fn shared(&self, id: &JobId, name: &str) -> Result<Option<String>, StoreError> {
        self.with_connection(|c| {
            c.query_row("SELECT value FROM shared WHERE job_id = ?1 AND name = ?2", params![id.as_str(), name], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    async fn share(&self, id: &JobId, name: &str, value: &str) -> Result<(), StoreError> {
        self.with_connection(|c| {
            c.execute(
                "INSERT OR REPLACE INTO shared (job_id, name, value) VALUES (?1, ?2, ?3)",
                params![id.as_str(), name, value],
            )?;
            Ok(())
        })
    }

    async fn claim_share(&self, id: &JobId, name: &str) -> Result<bool, StoreError> {
        self.with_connection(|c| {
            let added = c.execute(
                "INSERT OR IGNORE INTO shared (job_id, name, value) VALUES (?1, ?2, '')",
                params![id.as_str(), name],
            )?;
            Ok(added == 1)
        })
    }

    async fn email_changes(&self, since: u64) -> Result<Vec<EmailChange>, StoreError> {
        self.with_connection(|c| {
            c.prepare("SELECT salesforce_user_id, email, requested_at FROM email_changes WHERE requested_at >= ?1")?
                .query_map(params![since as i64], |r| {
                    Ok(EmailChange {
                        salesforce_user_id: r.get(0)?,
                        email: r.get(1)?,
                        requested_at: count(r, "requested_at")?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
    }

    async fn record_email_change(&self, change: &EmailChange) -> Result<(), StoreError> {
        self.with_connection(|c| {
            c.execute(
                "INSERT OR REPLACE INTO email_changes (salesforce_user_id, email, requested_at) VALUES (?1, ?2, ?3)",
                params![change.salesforce_user_id, change.email, change.requested_at as i64],
            )?;
            Ok(())
        })
    }
}

// The store's contract (rows, counters, paging, the state surviving in its file) is tested in tests/job_stores.rs.
