//! The job store in one DynamoDB table (feature `dynamodb`), as template.yaml defines it.
//!
//! Job item: `pk = JOB#<id>`, `sk = JOB`, one counter per row status (moved with ADD in the same transaction as the
//! row), and `gsi2pk = JOBS`, `gsi2sk = <created, 10 digits>#<id>` for the newest-first listing (index
//! `JobsNewestFirst`). Row item: `pk = JOB#<id>`, `sk = ROW#<row, 10 digits>`, and `gsi1pk = JOB#<id>#<STATUS>`,
//! `gsi1sk = <row>` (index `RowsByStatus`), so the failed rows of a large job are read without the others.

mod conflicts;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, KeysAndAttributes, Put, TransactWriteItem, Update};

use super::model::{
    BulkJob, Counts, EmailChange, Job, JobId, JobState, ObjectRef, Pause, RowOutcome, RowRecord, RowStatus, now_epoch,
    stored_message,
};
use super::store::{Created, JobStore, Lease, Page, Release, RowStart, StoreError};
use crate::domain::{Action, IdentityManagement, TelephonyModel};
use crate::format::Dialect;

pub const ROWS_BY_STATUS: &str = "RowsByStatus";
pub const JOBS_NEWEST_FIRST: &str = "JobsNewestFirst";
/// Rows written per transaction (DynamoDB takes 100 items; one is the job's counters).
const ROWS_PER_TRANSACTION: usize = 99;
/// Attempts at a read-modify-write that lost a race.
const RACE_ATTEMPTS: u32 = 20;
/// Recounts one settle may make: a busy job's rows keep moving during a count, and the next settle tries again.
const RECOUNT_ATTEMPTS: u32 = 3;
/// The job item's attribute with the number of rows ingest recorded: what the counters add up to.
const ROWS: &str = "rows";
/// The job item's attribute with how many chunk messages (in file order) are known to have been sent.
const CHUNKS_SENT: &str = "chunks_sent";

type Item = HashMap<String, AttributeValue>;

/// Attempts at a transaction cancelled by a conflict or by throttling, and the delays between them.
const TRANSIENT_ATTEMPTS: u32 = 8;
const TRANSIENT_FIRST_DELAY: Duration = Duration::from_millis(25);
const TRANSIENT_MAX_DELAY: Duration = Duration::from_secs(2);

/// What a transaction came to.
#[derive(Debug)]
enum Transacted {
    Done,
    /// The conditions of these actions (by position) failed, and nothing else went wrong.
    ConditionsFailed(Vec<usize>),
}

/// Why DynamoDB cancelled a transaction, read from its reasons: one per action, in order, `None` for an action
/// that was fine (TransactWriteItems API reference, TransactionCanceledException: ConditionalCheckFailed,
/// ItemCollectionSizeLimitExceeded, TransactionConflict, ProvisionedThroughputExceeded, ThrottlingError,
/// ValidationError).
#[derive(Debug, PartialEq, Eq)]
enum Cancellation {
    Conditions(Vec<usize>),
    /// Another transaction on the same items, or capacity: the same request can go through later.
    Transient(String),
    /// A limit or a malformed request: trying again cannot help.
    Other(String),
}

impl Cancellation {
    fn of(reasons: &[CancellationReason]) -> Self {
        let failed: Vec<(usize, &str)> = reasons
            .iter()
            .enumerate()
            .filter_map(|(at, reason)| reason.code().filter(|code| *code != "None").map(|code| (at, code)))
            .collect();
        let describe = || {
            failed
                .iter()
                .map(|(at, code)| match reasons[*at].message() {
                    Some(message) => format!("action {at}: {code} ({message})"),
                    None => format!("action {at}: {code}"),
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        if failed.is_empty() {
            return Cancellation::Other("no reason given".into());
        }
        let transient = ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"];
        if failed.iter().any(|(_, code)| transient.contains(code)) {
            Cancellation::Transient(describe())
        } else if failed.iter().all(|(_, code)| *code == "ConditionalCheckFailed") {
            Cancellation::Conditions(failed.iter().map(|(at, _)| *at).collect())
        } else {
            Cancellation::Other(describe())
        }
    }
}

/// What a row move came to.
enum Moved {
    /// The row moved; the record as it was read just before.
    From(Box<RowRecord>),
    Refused(RowStatus),
    /// Another worker's lease on the row is running.
    Held,
    Missing,
}

/// Rows started in one transaction, leaving room for the counters' update (100 actions a transaction).
const STARTS_PER_TRANSACTION: usize = 99;

/// A start's changes beyond the status: the attempt counted, the lease taken.
fn start_changes(lease: &Lease, sets: &mut Vec<String>, values: &mut Item) {
    sets.push("attempts = attempts + :one".into());
    sets.push("lease_owner = :owner".into());
    sets.push("lease_until = :until".into());
    values.insert(":one".into(), n(1));
    values.insert(":owner".into(), s(lease.owner.as_str()));
    values.insert(":until".into(), n(lease.until));
}

/// The row as a start's transaction left it, which held only if the row was as read: no read again.
fn started(mut record: RowRecord, now: u64) -> RowRecord {
    record.status = RowStatus::InProgress;
    record.attempts += 1;
    record.updated_at = now;
    record
}

fn lease_owner(item: &Item) -> Option<String> {
    text(item, "lease_owner")
}

pub struct DynamoJobStore {
    client: Client,
    table: String,
    /// Times this store found a job's counters not adding up to its rows, and counted them again.
    recounts: AtomicU64,
}

fn failed(err: impl ProvideErrorMetadata + std::fmt::Debug) -> StoreError {
    StoreError(described(err))
}

/// A DynamoDB error as its code and message say it (also for the rate budget kept in the same table).
pub(crate) fn described(err: impl ProvideErrorMetadata + std::fmt::Debug) -> String {
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("DynamoDB {code}: {message}"),
        _ => format!("DynamoDB: {err:?}"),
    }
}

/// A conditional UpdateItem whose condition failed changed nothing, which is all its caller needs to know: not an
/// error.
fn update_unless_condition_failed<R: std::fmt::Debug>(
    result: Result<UpdateItemOutput, SdkError<UpdateItemError, R>>,
) -> Result<(), StoreError> {
    match result {
        Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
        other => other.map(drop).map_err(failed),
    }
}

pub(crate) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub(crate) fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

fn job_pk(id: &JobId) -> String {
    format!("JOB#{id}")
}

fn row_sk(row: u64) -> String {
    format!("ROW#{row:010}")
}

fn status_key(id: &JobId, status: RowStatus) -> String {
    format!("JOB#{id}#{}", status.as_str())
}

/// The counter attribute of a status.
fn counter(status: RowStatus) -> &'static str {
    match status {
        RowStatus::Pending => "pending",
        RowStatus::InProgress => "in_progress",
        RowStatus::Succeeded => "succeeded",
        RowStatus::Failed => "failed",
        RowStatus::Invalid => "invalid",
    }
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn number(item: &Item, name: &str) -> u64 {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok()).map_or(0, |v| v.max(0) as u64)
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError(format!("the table holds an unreadable {what}: {value:?}"))
}

fn job_from(item: &Item) -> Result<Job, StoreError> {
    let field = |name: &str| text(item, name).ok_or_else(|| corrupt("job", name));
    let (identity, telephony, state) = (field("identity_management")?, field("telephony_model")?, field("state")?);
    let dialect = match text(item, "dialect") {
        None => None,
        Some(dialect) => Some(Dialect::parse(&dialect).ok_or_else(|| corrupt("dialect", &dialect))?),
    };
    Ok(Job {
        id: JobId::from_string(field("id")?),
        source: ObjectRef { bucket: field("bucket")?, key: field("key")?, version: field("version")? },
        dialect,
        identity_management: IdentityManagement::parse(&identity).ok_or_else(|| corrupt("identity", &identity))?,
        telephony_model: TelephonyModel::parse(&telephony).ok_or_else(|| corrupt("telephony model", &telephony))?,
        state: JobState::parse(&state).ok_or_else(|| corrupt("job state", &state))?,
        counts: Counts {
            pending: number(item, "pending"),
            in_progress: number(item, "in_progress"),
            succeeded: number(item, "succeeded"),
            failed: number(item, "failed"),
            invalid: number(item, "invalid"),
        },
        chunks: number(item, "chunks") as u32,
        error: text(item, "error"),
        paused: text(item, "paused_reason").map(|reason| Pause { reason, since: number(item, "paused_since") }),
        scrubbed: match (text(item, "scrubbed_bucket"), text(item, "scrubbed_key"), text(item, "scrubbed_version")) {
            (Some(bucket), Some(key), Some(version)) => Some(ObjectRef { bucket, key, version }),
            _ => None,
        },
        created_at: number(item, "created_at"),
        updated_at: number(item, "updated_at"),
    })
}

fn row_from(item: &Item) -> Result<RowRecord, StoreError> {
    let status = text(item, "status").unwrap_or_default();
    Ok(RowRecord {
        job_id: JobId::from_string(text(item, "job_id").ok_or_else(|| corrupt("row", "job_id"))?),
        row: number(item, "row"),
        username: text(item, "username"),
        action: text(item, "action").as_deref().and_then(Action::parse),
        status: RowStatus::parse(&status).ok_or_else(|| corrupt("row status", &status))?,
        outcome: RowOutcome {
            error_message: text(item, "error_message"),
            note: text(item, "note"),
            connect_user_id: text(item, "connect_user_id"),
            connect_user_arn: text(item, "connect_user_arn"),
            salesforce_user_id: text(item, "salesforce_user_id"),
            permission_set_assignment_id: text(item, "permission_set_assignment_id"),
            quick_connect_id: text(item, "quick_connect_id"),
            voice_provisioning_job_id: text(item, "voice_provisioning_job_id"),
            undo: text(item, "undo_image"),
        },
        attempts: number(item, "attempts") as u32,
        updated_at: number(item, "updated_at"),
    })
}

fn job_item(job: &Job) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(job_pk(&job.id)));
    item.insert("sk".into(), s("JOB"));
    item.insert("gsi2pk".into(), s("JOBS"));
    item.insert("gsi2sk".into(), s(format!("{:010}#{}", job.created_at, job.id)));
    item.insert("id".into(), s(job.id.as_str()));
    item.insert("bucket".into(), s(&job.source.bucket));
    item.insert("key".into(), s(&job.source.key));
    item.insert("version".into(), s(&job.source.version));
    if let Some(dialect) = job.dialect {
        item.insert("dialect".into(), s(dialect.as_str()));
    }
    if let Some(error) = &job.error {
        item.insert("error".into(), s(stored_message(error)));
    }
    item.insert("identity_management".into(), s(job.identity_management.as_str()));
    item.insert("telephony_model".into(), s(job.telephony_model.as_str()));
    item.insert("state".into(), s(job.state.as_str()));
    for status in RowStatus::ALL {
        item.insert(counter(status).into(), n(job.counts.get(status)));
    }
    item.insert("chunks".into(), n(job.chunks));
    item.insert("created_at".into(), n(job.created_at));
    item.insert("updated_at".into(), n(job.updated_at));
    item
}

fn row_item(record: &RowRecord) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(job_pk(&record.job_id)));
    item.insert("sk".into(), s(row_sk(record.row)));
    item.insert("gsi1pk".into(), s(status_key(&record.job_id, record.status)));
    item.insert("gsi1sk".into(), n(record.row));
    item.insert("job_id".into(), s(record.job_id.as_str()));
    item.insert("row".into(), n(record.row));
    item.insert("status".into(), s(record.status.as_str()));
    item.insert("attempts".into(), n(record.attempts));
    item.insert("updated_at".into(), n(now_epoch()));
    if let Some(username) = &record.username {
        item.insert("username".into(), s(username));
    }
    if let Some(action) = record.action {
        item.insert("action".into(), s(action.as_str()));
    }
    if let Some(message) = &record.outcome.error_message {
        item.insert("error_message".into(), s(stored_message(message)));
    }
    item
}

impl DynamoJobStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client: conflicts::conflict_tolerant(client), table: table.into(), recounts: AtomicU64::new(0) }
    }

    /// Times this store found a job's counters not adding up to its rows: 0 where DynamoDB's transactions hold.
    pub fn recounts(&self) -> u64 {
        self.recounts.load(Ordering::Relaxed)
    }

    fn key(&self, pk: String, sk: String) -> Item {
        HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
    }

    /// An UpdateItem on the job's `JOB` item, for the caller to give its expressions and condition.
    fn update_job(&self, id: &JobId) -> UpdateItemFluentBuilder {
        self.client.update_item().table_name(&self.table).set_key(Some(self.key(job_pk(id), "JOB".into())))
    }

    /// One of a job's items (its `JOB` item, a row, a shared reading), read consistently.
    async fn job_entry(&self, id: &JobId, sk: String) -> Result<Option<Item>, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(job_pk(id), sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed)?;
        Ok(got.item)
    }

    async fn job_item(&self, id: &JobId) -> Result<Option<Item>, StoreError> {
        self.job_entry(id, "JOB".into()).await
    }

    async fn row_item(&self, id: &JobId, row: u64) -> Result<Option<Item>, StoreError> {
        self.job_entry(id, row_sk(row)).await
    }

    /// The counters' update of a transaction: `moves` are (status, change).
    fn count_update(&self, id: &JobId, moves: &[(RowStatus, i64)]) -> Result<TransactWriteItem, StoreError> {
        let mut expression = Vec::new();
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        for (i, (status, change)) in moves.iter().enumerate() {
            expression.push(format!("#c{i} :c{i}"));
            names.insert(format!("#c{i}"), counter(*status).to_owned());
            values.insert(format!(":c{i}"), n(change));
        }
        names.insert("#u".into(), "updated_at".into());
        values.insert(":now".into(), n(now_epoch()));
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.key(job_pk(id), "JOB".into())))
            .update_expression(format!("ADD {} SET #u = :now", expression.join(", ")))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Sets the counters to what the rows say, unless a row moved meanwhile (the counters then differ from
    /// `seen`, and the caller looks again). Each move changes a row and the counters in one transaction, so counters
    /// that did not change during the count match the rows counted.
    async fn recount(&self, id: &JobId, seen: &Counts) -> Result<(), StoreError> {
        let mut counted = Counts::default();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :k AND begins_with(sk, :rows)")
                .expression_attribute_values(":k", s(job_pk(id)))
                .expression_attribute_values(":rows", s("ROW#"))
                .projection_expression("#st")
                .expression_attribute_names("#st", "status")
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(failed)?;
            for item in page.items() {
                let status = text(item, "status").unwrap_or_default();
                *counted.slot(RowStatus::parse(&status).ok_or_else(|| corrupt("row status", &status))?) += 1;
            }
            match page.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => break,
            }
        }
        tracing::warn!(job = %id, ?seen, ?counted, "the job's counters did not add up to its rows: counted again");
        let mut update = self.update_job(id).expression_attribute_values(":now", n(now_epoch()));
        let (mut sets, mut conditions) = (vec!["updated_at = :now".to_owned()], Vec::new());
        for status in RowStatus::ALL {
            let name = counter(status);
            sets.push(format!("#{name} = :{name}"));
            conditions.push(format!("#{name} = :was_{name}"));
            update = update
                .expression_attribute_names(format!("#{name}"), name)
                .expression_attribute_values(format!(":{name}"), n(counted.get(status)))
                .expression_attribute_values(format!(":was_{name}"), n(seen.get(status)));
        }
        let result = update
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(conditions.join(" AND "))
            .send()
            .await;
        // Counted again and written while no row moved, or a row moved meanwhile: the caller looks again.
        update_unless_condition_failed(result)
    }

    /// Puts the job's state where its counters say, once ingest is over; a race with another writer is retried.
    /// Counters that do not add up to the job's rows are counted again from the rows first.
    async fn settle(&self, id: &JobId) -> Result<JobState, StoreError> {
        let mut recounts = 0;
        for _ in 0..RACE_ATTEMPTS {
            let item = self.job_item(id).await?.ok_or_else(|| StoreError(format!("no job {id}")))?;
            let job = job_from(&item)?;
            let settled = match job.state {
                JobState::Ingesting | JobState::Failed => return Ok(job.state),
                _ => job.counts.state(),
            };
            if let Some(rows) = item.get(ROWS).map(|_| number(&item, ROWS))
                && job.counts.total() != rows
                && recounts < RECOUNT_ATTEMPTS
            {
                recounts += 1;
                self.recounts.fetch_add(1, Ordering::Relaxed);
                self.recount(id, &job.counts).await?;
                continue;
            }
            if settled == job.state {
                return Ok(settled);
            }
            let result = self
                .update_job(id)
                .update_expression("SET #s = :new")
                .condition_expression("#s = :old AND #p = :p AND #ip = :ip")
                .expression_attribute_names("#s", "state")
                .expression_attribute_names("#p", "pending")
                .expression_attribute_names("#ip", "in_progress")
                .expression_attribute_values(":new", s(settled.as_str()))
                .expression_attribute_values(":old", s(job.state.as_str()))
                .expression_attribute_values(":p", n(job.counts.pending))
                .expression_attribute_values(":ip", n(job.counts.in_progress))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(settled),
                Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(err) => return Err(failed(err)),
            }
        }
        Err(StoreError(format!("job {id}: too many concurrent writers to settle its state")))
    }

    /// Moves one row from its status (if `allowed`) to another, with its counters, in one transaction; `extra` adds
    /// to the row's update (SET clauses, REMOVE names, values).
    async fn move_row(
        &self,
        id: &JobId,
        row: u64,
        to: RowStatus,
        gate: impl Fn(&RowRecord, &Item) -> Option<Moved>,
        extra: impl Fn(&mut Vec<String>, &mut Vec<&'static str>, &mut Item),
    ) -> Result<Moved, StoreError> {
        for _ in 0..RACE_ATTEMPTS {
            let Some(item) = self.row_item(id, row).await? else { return Ok(Moved::Missing) };
            let record = row_from(&item)?;
            let from = record.status;
            if let Some(stop) = gate(&record, &item) {
                return Ok(stop);
            }
            let update = self.row_move(id, &record, to, &extra)?;
            let mut items = vec![TransactWriteItem::builder().update(update).build()];
            if from != to {
                items.push(self.count_update(id, &[(from, -1), (to, 1)])?);
            }
            match self.transact(items).await? {
                Transacted::Done => return Ok(Moved::From(Box::new(record))),
                // The row moved since it was read (another worker): read it again.
                Transacted::ConditionsFailed(failed) if failed == [0] => {}
                Transacted::ConditionsFailed(_) => return Err(StoreError(format!("job {id} is not in the table"))),
            }
        }
        Err(StoreError(format!("job {id} row {row}: too many concurrent writers")))
    }

    /// The update that moves a row, as read in `record`, to `to`, with the caller's `extra` changes; it holds only
    /// if the row is still as read.
    fn row_move(
        &self,
        id: &JobId,
        record: &RowRecord,
        to: RowStatus,
        extra: &impl Fn(&mut Vec<String>, &mut Vec<&'static str>, &mut Item),
    ) -> Result<Update, StoreError> {
        let values =
            Item::from([(":from".to_owned(), s(record.status.as_str())), (":attempts".to_owned(), n(record.attempts))]);
        // The attempt count versions the row: every start raises it, so a row taken over by another worker since it
        // was read fails this condition even though its status is the same.
        self.row_update(id, record.row, to, "#st = :from AND attempts = :attempts", values, extra)
    }

    /// The update that moves a row to `to` (its status, its place in the status index, its time) with the caller's
    /// `extra` changes, if `condition` holds on the row with `values`.
    fn row_update(
        &self,
        id: &JobId,
        row: u64,
        to: RowStatus,
        condition: &str,
        mut values: Item,
        extra: &impl Fn(&mut Vec<String>, &mut Vec<&'static str>, &mut Item),
    ) -> Result<Update, StoreError> {
        let mut sets = vec!["#st = :to".to_owned(), "gsi1pk = :g".to_owned(), "updated_at = :now".to_owned()];
        let mut removes = Vec::new();
        values.insert(":to".to_owned(), s(to.as_str()));
        values.insert(":g".to_owned(), s(status_key(id, to)));
        values.insert(":now".to_owned(), n(now_epoch()));
        extra(&mut sets, &mut removes, &mut values);
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.key(job_pk(id), row_sk(row))))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_names("#st", "status")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError(e.to_string()))
    }

    /// Rows' items, read consistently in as few requests as BatchGetItem allows (100 keys each, API reference),
    /// by row number; a row without an item is left out.
    async fn row_items(&self, id: &JobId, rows: &[u64]) -> Result<HashMap<u64, Item>, StoreError> {
        let mut found = HashMap::with_capacity(rows.len());
        for keys in rows.chunks(100) {
            let mut keys: Vec<Item> = keys.iter().map(|row| self.key(job_pk(id), row_sk(*row))).collect();
            // Keys the service did not get to (throttling, size) are asked for again.
            for _ in 0..RACE_ATTEMPTS {
                if keys.is_empty() {
                    break;
                }
                let wanted = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError(e.to_string()))?;
                let answer =
                    self.client.batch_get_item().request_items(&self.table, wanted).send().await.map_err(failed)?;
                for item in answer.responses().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                    let record = row_from(item)?;
                    found.insert(record.row, item.clone());
                }
                keys = answer
                    .unprocessed_keys()
                    .and_then(|unprocessed| unprocessed.get(&self.table))
                    .map(|left| left.keys().to_vec())
                    .unwrap_or_default();
            }
            if !keys.is_empty() {
                return Err(StoreError(format!("job {id}: rows left unread after {RACE_ATTEMPTS} requests")));
            }
        }
        Ok(found)
    }

    /// What starting the row as read (`item`) comes to without a write: done, held by another lease, or `None`
    /// when it is to be started.
    fn start_gate(record: &RowRecord, item: &Item, lease: &Lease, now: u64) -> Option<Moved> {
        match record.status {
            RowStatus::Succeeded | RowStatus::Failed | RowStatus::Invalid => Some(Moved::Refused(record.status)),
            RowStatus::InProgress
                if lease_owner(item).is_some_and(|holder| holder != lease.owner)
                    && number(item, "lease_until") >= now =>
            {
                Some(Moved::Held)
            }
            _ => None,
        }
    }

    /// Starts one row without settling the job.
    async fn start_one(&self, id: &JobId, row: u64, lease: &Lease) -> Result<RowStart, StoreError> {
        let now = now_epoch();
        let moved = self
            .move_row(
                id,
                row,
                RowStatus::InProgress,
                |record, item| Self::start_gate(record, item, lease, now),
                |sets, _, values| start_changes(lease, sets, values),
            )
            .await?;
        Ok(match moved {
            Moved::Missing => return Err(StoreError(format!("job {id} has no row {row}"))),
            Moved::Refused(status) => RowStart::Done(status),
            Moved::Held => RowStart::Held,
            Moved::From(record) => RowStart::Go(Box::new(started(*record, now))),
        })
    }

    /// Starts up to 99 rows in one transaction, with the counters they move (a transaction holds 100 actions, API
    /// reference, TransactWriteItems). Should any row have moved since it was read (another worker), the rows go
    /// one by one instead.
    async fn start_group(&self, id: &JobId, rows: &[u64], lease: &Lease) -> Result<Vec<RowStart>, StoreError> {
        let now = now_epoch();
        let items = self.row_items(id, rows).await?;
        let mut starts: Vec<Option<RowStart>> = Vec::with_capacity(rows.len());
        let mut moving = Vec::new();
        let mut actions = Vec::new();
        let mut moves: HashMap<RowStatus, i64> = HashMap::new();
        for row in rows {
            let item = items.get(row).ok_or_else(|| StoreError(format!("job {id} has no row {row}")))?;
            let record = row_from(item)?;
            if let Some(stop) = Self::start_gate(&record, item, lease, now) {
                starts.push(Some(match stop {
                    Moved::Refused(status) => RowStart::Done(status),
                    _ => RowStart::Held,
                }));
                continue;
            }
            let extra = |sets: &mut Vec<String>, _: &mut Vec<&'static str>, values: &mut Item| {
                start_changes(lease, sets, values)
            };
            actions.push(
                TransactWriteItem::builder().update(self.row_move(id, &record, RowStatus::InProgress, &extra)?).build(),
            );
            if record.status != RowStatus::InProgress {
                *moves.entry(record.status).or_default() -= 1;
                *moves.entry(RowStatus::InProgress).or_default() += 1;
            }
            moving.push((starts.len(), record));
            starts.push(None);
        }
        if !actions.is_empty() {
            let counted = actions.len();
            let moves: Vec<(RowStatus, i64)> = moves.into_iter().filter(|(_, change)| *change != 0).collect();
            if !moves.is_empty() {
                actions.push(self.count_update(id, &moves)?);
            }
            match self.transact(actions).await? {
                Transacted::Done => {
                    for (at, record) in moving {
                        starts[at] = Some(RowStart::Go(Box::new(started(record, now))));
                    }
                }
                Transacted::ConditionsFailed(failed) if failed.iter().all(|at| *at < counted) => {
                    for (at, record) in moving {
                        starts[at] = Some(self.start_one(id, record.row, lease).await?);
                    }
                }
                Transacted::ConditionsFailed(_) => return Err(StoreError(format!("job {id} is not in the table"))),
            }
        }
        Ok(starts.into_iter().map(|start| start.expect("every row has its start")).collect())
    }

    /// One text attribute of one of a job's items, read consistently.
    async fn text_of(&self, id: &JobId, sk: String, attribute: &str) -> Result<Option<String>, StoreError> {
        Ok(self.job_entry(id, sk).await?.and_then(|item| text(&item, attribute)))
    }

    /// One transaction: the rows that are new, and the counters they add. Fails whole if any row exists, and then
    /// says which (by their place in `rows`).
    async fn put_new_rows(&self, rows: &[RowRecord]) -> Result<Vec<usize>, StoreError> {
        let Some(first) = rows.first() else { return Ok(Vec::new()) };
        let mut items = Vec::with_capacity(rows.len() + 1);
        let mut added: HashMap<RowStatus, i64> = HashMap::new();
        for record in rows {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(row_item(record)))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| StoreError(e.to_string()))?;
            items.push(TransactWriteItem::builder().put(put).build());
            *added.entry(record.status).or_default() += 1;
        }
        let moves: Vec<(RowStatus, i64)> = added.into_iter().collect();
        items.push(self.count_update(&first.job_id, &moves)?);
        match self.transact(items).await? {
            Transacted::Done => Ok(Vec::new()),
            // Only a row's own put failing its condition means "already recorded".
            Transacted::ConditionsFailed(failed) if !failed.is_empty() && failed.iter().all(|at| *at < rows.len()) => {
                Ok(failed)
            }
            Transacted::ConditionsFailed(_) => Err(StoreError(format!("job {} is not in the table", first.job_id))),
        }
    }

    /// Runs a transaction, waiting out the cancellations that pass by themselves (a conflicting transaction,
    /// throttling) with a growing, jittered delay. Failed conditions are the caller's to judge; any other
    /// cancellation is an error, so that the event that brought the work is tried again.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Transacted, StoreError> {
        let mut delay = TRANSIENT_FIRST_DELAY;
        for attempt in 1..=TRANSIENT_ATTEMPTS {
            // The same token on the SDK's own retries of this request: a transaction that went through but whose
            // answer was lost is not applied twice (TransactWriteItems, ClientRequestToken).
            let token = format!("{:032x}", fastrand::u128(..));
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(token)
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(Transacted::Done),
                Err(err) => err,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() else {
                return Err(failed(err));
            };
            match Cancellation::of(cancelled.cancellation_reasons()) {
                Cancellation::Conditions(at) => return Ok(Transacted::ConditionsFailed(at)),
                Cancellation::Transient(why) if attempt < TRANSIENT_ATTEMPTS => {
                    tracing::debug!(attempt, why, "a transaction was cancelled for now; trying again");
                    tokio::time::sleep(delay.mul_f64(0.5 + fastrand::f64())).await;
                    delay = (delay * 2).min(TRANSIENT_MAX_DELAY);
                }
                Cancellation::Transient(why) | Cancellation::Other(why) => {
                    return Err(StoreError(format!("DynamoDB cancelled a transaction: {why}")));
                }
            }
        }
        unreachable!("the last attempt returns")
    }
}

impl JobStore for DynamoJobStore {
    async fn create_job(&self, job: &Job) -> Result<Created, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_item(job)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::New),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                let item = self.job_item(&job.id).await?.ok_or_else(|| StoreError("the job vanished".into()))?;
                Ok(Created::Existing(Box::new(job_from(&item)?)))
            }
            Err(err) => Err(failed(err)),
        }
    }

    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        self.job_item(id).await?.as_ref().map(job_from).transpose()
    }

    async fn jobs(&self, limit: usize, after: Option<&str>) -> Result<Page<Job>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(JOBS_NEWEST_FIRST)
            .key_condition_expression("gsi2pk = :jobs")
            .expression_attribute_values(":jobs", s("JOBS"))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32);
        if let Some(after) = after {
            let id = after.split_once('#').map(|(_, id)| id).unwrap_or_default();
            query = query.set_exclusive_start_key(Some(HashMap::from([
                ("gsi2pk".to_owned(), s("JOBS")),
                ("gsi2sk".to_owned(), s(after)),
                ("pk".to_owned(), s(format!("JOB#{id}"))),
                ("sk".to_owned(), s("JOB")),
            ])));
        }
        let answer = query.send().await.map_err(failed)?;
        let items: Vec<Job> = answer.items().iter().map(job_from).collect::<Result<_, _>>()?;
        let next = answer.last_evaluated_key().and_then(|key| text(key, "gsi2sk"));
        Ok(Page { items, next })
    }

    async fn put_rows(&self, rows: &[RowRecord]) -> Result<(), StoreError> {
        for batch in rows.chunks(ROWS_PER_TRANSACTION) {
            // The usual case, a first ingest, is one transaction per batch. A repeated ingest meets rows that exist:
            // the cancellation names each (its reasons are in the order of the actions), and the rest go in again
            // without them, leaving the existing ones (and their progress) alone. A rerun after a crash thus costs
            // two transactions per batch it had recorded, not one per row.
            let mut left: Vec<RowRecord> = batch.to_vec();
            loop {
                let existing = self.put_new_rows(&left).await?;
                if existing.is_empty() {
                    break;
                }
                left =
                    left.into_iter().enumerate().filter(|(at, _)| !existing.contains(at)).map(|(_, row)| row).collect();
            }
        }
        Ok(())
    }

    async fn finish_ingest(&self, id: &JobId, chunks: u32, rows: u64) -> Result<(), StoreError> {
        self.update_job(id)
            .update_expression("SET #s = :s, updated_at = :now, chunks = :c, #r = :r")
            .expression_attribute_names("#s", "state")
            .expression_attribute_names("#r", ROWS)
            .expression_attribute_values(":s", s(JobState::Running.as_str()))
            .expression_attribute_values(":now", n(now_epoch()))
            .expression_attribute_values(":c", n(chunks))
            .expression_attribute_values(":r", n(rows))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(failed)?;
        // A job whose rows are all done by now (all invalid, say) finishes at once.
        self.settle(id).await?;
        Ok(())
    }

    async fn chunks_sent(&self, id: &JobId) -> Result<u32, StoreError> {
        Ok(self.job_item(id).await?.map_or(0, |item| number(&item, CHUNKS_SENT) as u32))
    }

    async fn record_chunks_sent(&self, id: &JobId, sent: u32) -> Result<(), StoreError> {
        let result = self
            .update_job(id)
            .update_expression("SET #c = :n")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(#c) OR #c < :n)")
            .expression_attribute_names("#c", CHUNKS_SENT)
            .expression_attribute_values(":n", n(sent))
            .send()
            .await;
        // A failed condition: already recorded as far or further (an ingest that ran twice).
        update_unless_condition_failed(result)
    }

    async fn pause_job(&self, id: &JobId, reason: &str) -> Result<(), StoreError> {
        self.update_job(id)
            .update_expression(
                "SET paused_reason = :r, paused_since = if_not_exists(paused_since, :now), updated_at = :now",
            )
            .expression_attribute_values(":r", s(stored_message(reason)))
            .expression_attribute_values(":now", n(now_epoch()))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map(drop)
            .map_err(failed)
    }

    async fn set_scrubbed(&self, id: &JobId, copy: &ObjectRef) -> Result<bool, StoreError> {
        let result = self
            .update_job(id)
            .update_expression("SET scrubbed_bucket = :b, scrubbed_key = :k, scrubbed_version = :v")
            .expression_attribute_values(":b", s(&copy.bucket))
            .expression_attribute_values(":k", s(&copy.key))
            .expression_attribute_values(":v", s(&copy.version))
            .expression_attribute_names("#p", counter(RowStatus::Pending))
            .expression_attribute_names("#i", counter(RowStatus::InProgress))
            .expression_attribute_values(":zero", n(0))
            // Each row's move changes the counters in the same transaction, so they say whether a retry reopened
            // rows since the job ended.
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#p) OR #p = :zero) \
                 AND (attribute_not_exists(#i) OR #i = :zero)",
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(failed(err)),
        }
    }

    async fn resume_job(&self, id: &JobId) -> Result<(), StoreError> {
        let result = self
            .update_job(id)
            .update_expression("REMOVE paused_reason, paused_since")
            .condition_expression("attribute_exists(paused_reason)")
            .send()
            .await;
        // A failed condition: the job was not paused.
        update_unless_condition_failed(result)
    }

    async fn fail_job(&self, id: &JobId, reason: &str) -> Result<(), StoreError> {
        self.update_job(id)
            .update_expression("SET #s = :s, #e = :e, updated_at = :now")
            .expression_attribute_names("#s", "state")
            .expression_attribute_names("#e", "error")
            .expression_attribute_values(":s", s(JobState::Failed.as_str()))
            .expression_attribute_values(":e", s(stored_message(reason)))
            .expression_attribute_values(":now", n(now_epoch()))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn start_row(&self, id: &JobId, row: u64, lease: &Lease) -> Result<RowStart, StoreError> {
        let start = self.start_one(id, row, lease).await?;
        if matches!(start, RowStart::Go(_)) {
            self.settle(id).await?;
        }
        Ok(start)
    }

    /// A chunk's rows in a few requests rather than three each: read in batches, started 99 to a transaction, the
    /// job settled once.
    async fn start_rows(&self, id: &JobId, rows: &[u64], lease: &Lease) -> Result<Vec<RowStart>, StoreError> {
        let mut starts = Vec::with_capacity(rows.len());
        for group in rows.chunks(STARTS_PER_TRANSACTION) {
            starts.extend(self.start_group(id, group, lease).await?);
        }
        if starts.iter().any(|start| matches!(start, RowStart::Go(_))) {
            self.settle(id).await?;
        }
        Ok(starts)
    }

    async fn renew_rows(&self, id: &JobId, rows: &[u64], lease: &Lease) -> Result<(), StoreError> {
        for row in rows {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(self.key(job_pk(id), row_sk(*row))))
                .update_expression("SET lease_until = :until")
                .condition_expression("lease_owner = :owner AND #st = :in_progress")
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":until", n(lease.until))
                .expression_attribute_values(":owner", s(lease.owner.as_str()))
                .expression_attribute_values(":in_progress", s(RowStatus::InProgress.as_str()))
                .send()
                .await;
            // A failed condition: the row finished meanwhile, or was taken over; nothing to renew.
            update_unless_condition_failed(result)?;
        }
        Ok(())
    }

    async fn release_row(&self, id: &JobId, row: u64, owner: &str, release: Release) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(job_pk(id), row_sk(row))))
            .condition_expression("lease_owner = :owner")
            .expression_attribute_values(":owner", s(owner));
        update = match release {
            Release::AfterAttempt => update.update_expression("REMOVE lease_owner, lease_until"),
            Release::Untried => update
                .update_expression("SET attempts = attempts - :one REMOVE lease_owner, lease_until")
                .expression_attribute_values(":one", n(1)),
        };
        let result = update.send().await;
        // A failed condition: the row is not the owner's to let go.
        update_unless_condition_failed(result)
    }

    async fn finish_row(
        &self,
        id: &JobId,
        row: u64,
        status: RowStatus,
        outcome: &RowOutcome,
        owner: &str,
    ) -> Result<Option<JobState>, StoreError> {
        if !self.finish_row_unsettled(id, row, status, outcome, owner).await? {
            return Ok(None);
        }
        self.settle(id).await.map(Some)
    }

    /// One transaction, and no read: the row's update holds only while the owner's lease is on it, and moves the
    /// counters from IN_PROGRESS with it.
    async fn finish_row_unsettled(
        &self,
        id: &JobId,
        row: u64,
        status: RowStatus,
        outcome: &RowOutcome,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let fields = [
            ("connect_user_id", &outcome.connect_user_id),
            ("connect_user_arn", &outcome.connect_user_arn),
            ("salesforce_user_id", &outcome.salesforce_user_id),
            ("permission_set_assignment_id", &outcome.permission_set_assignment_id),
            ("quick_connect_id", &outcome.quick_connect_id),
            ("voice_provisioning_job_id", &outcome.voice_provisioning_job_id),
            ("undo_image", &outcome.undo),
        ];
        let values =
            Item::from([(":held".to_owned(), s(RowStatus::InProgress.as_str())), (":owner".to_owned(), s(owner))]);
        let extra = |sets: &mut Vec<String>, removes: &mut Vec<&'static str>, values: &mut Item| {
            removes.extend(["lease_owner", "lease_until"]);
            // Outcome ids are kept from an earlier attempt unless this one says otherwise.
            for (i, (name, value)) in fields.iter().enumerate() {
                if let Some(value) = value {
                    sets.push(format!("{name} = :f{i}"));
                    values.insert(format!(":f{i}"), s(value.as_str()));
                }
            }
            match &outcome.error_message {
                Some(message) => {
                    sets.push("error_message = :e".into());
                    values.insert(":e".into(), s(stored_message(message)));
                }
                None => removes.push("error_message"),
            }
            match &outcome.note {
                Some(note) => {
                    sets.push("note = :n".into());
                    values.insert(":n".into(), s(stored_message(note)));
                }
                None => removes.push("note"),
            }
        };
        let update = self.row_update(id, row, status, "#st = :held AND lease_owner = :owner", values, &extra)?;
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.count_update(id, &[(RowStatus::InProgress, -1), (status, 1)])?,
        ];
        match self.transact(items).await? {
            Transacted::Done => Ok(true),
            // Not the owner's (its lease ran out and another worker took the row over), or no such row.
            Transacted::ConditionsFailed(failed) if failed == [0] => match self.row_item(id, row).await? {
                Some(_) => Ok(false),
                None => Err(StoreError(format!("job {id} has no row {row}"))),
            },
            Transacted::ConditionsFailed(_) => Err(StoreError(format!("job {id} is not in the table"))),
        }
    }

    async fn settle_job(&self, id: &JobId) -> Result<JobState, StoreError> {
        self.settle(id).await
    }

    async fn reopen_rows(&self, id: &JobId, rows: &[u64]) -> Result<Vec<u64>, StoreError> {
        let mut reopened = Vec::new();
        for &row in rows {
            let moved = self
                .move_row(
                    id,
                    row,
                    RowStatus::Pending,
                    |record, _| (record.status != RowStatus::Failed).then_some(Moved::Refused(record.status)),
                    |sets, removes, values| {
                        sets.push("attempts = :fresh".into());
                        values.insert(":fresh".into(), n(0));
                        removes.extend(["lease_owner", "lease_until"]);
                    },
                )
                .await?;
            if let Moved::From(_) = moved {
                reopened.push(row);
            }
        }
        Ok(reopened)
    }

    async fn row(&self, id: &JobId, row: u64) -> Result<Option<RowRecord>, StoreError> {
        self.row_item(id, row).await?.as_ref().map(row_from).transpose()
    }

    async fn rows(
        &self,
        id: &JobId,
        status: Option<RowStatus>,
        limit: usize,
        after: Option<u64>,
    ) -> Result<Page<RowRecord>, StoreError> {
        let limit = limit.max(1);
        let mut items: Vec<RowRecord> = Vec::new();
        let mut start: Option<Item> = None;
        // One more than asked, to know whether there is a next page; DynamoDB may stop early at 1 MB.
        loop {
            let query = self.client.query().table_name(&self.table).limit((limit + 1 - items.len()) as i32);
            let query = match status {
                Some(status) => query
                    .index_name(ROWS_BY_STATUS)
                    .key_condition_expression("gsi1pk = :k AND gsi1sk > :after")
                    .expression_attribute_values(":k", s(status_key(id, status)))
                    .expression_attribute_values(":after", n(after.unwrap_or(0))),
                None => query
                    .key_condition_expression("pk = :k AND sk BETWEEN :from AND :to")
                    .expression_attribute_values(":k", s(job_pk(id)))
                    .expression_attribute_values(":from", s(row_sk(after.map_or(0, |a| a + 1))))
                    .expression_attribute_values(":to", s(row_sk(9_999_999_999))),
            };
            let answer = query.set_exclusive_start_key(start.take()).send().await.map_err(failed)?;
            for item in answer.items() {
                items.push(row_from(item)?);
            }
            match answer.last_evaluated_key() {
                Some(key) if items.len() <= limit => start = Some(key.clone()),
                _ => break,
            }
        }
        let next = (items.len() > limit).then(|| items[limit - 1].row.to_string());
        items.truncate(limit);
        Ok(Page { items, next })
    }

    async fn bulk_job(&self, id: &JobId, chunk: u64) -> Result<Option<BulkJob>, StoreError> {
        let item = self.job_entry(id, bulk_job_sk(chunk)).await?;
        Ok(item
            .and_then(|item| Some(BulkJob { id: text(&item, "bulk_job")?, recorded_at: number(&item, "recorded_at") })))
    }

    async fn record_bulk_job(
        &self,
        id: &JobId,
        chunk: u64,
        bulk_job: &str,
        replacing: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut item = self.key(job_pk(id), bulk_job_sk(chunk));
        item.insert("bulk_job".into(), s(bulk_job));
        item.insert("recorded_at".into(), n(now_epoch()));
        let put = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let put = match replacing {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(old) => put.condition_expression("bulk_job = :old").expression_attribute_values(":old", s(old)),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(failed(err)),
        }
    }

    async fn shared(&self, id: &JobId, name: &str) -> Result<Option<String>, StoreError> {
        self.text_of(id, shared_sk(name), "value").await
    }

    async fn share(&self, id: &JobId, name: &str, value: &str) -> Result<(), StoreError> {
        let mut item = self.key(job_pk(id), shared_sk(name));
        item.insert("value".into(), s(value));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(failed)?;
        Ok(())
    }

    async fn claim_share(&self, id: &JobId, name: &str) -> Result<bool, StoreError> {
        let mut item = self.key(job_pk(id), shared_sk(name));
        item.insert("value".into(), s(""));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(failed(err)),
        }
    }

    async fn email_changes(&self, since: u64) -> Result<Vec<EmailChange>, StoreError> {
        let mut latest: HashMap<String, EmailChange> = HashMap::new();
        let mut start: Option<Item> = None;
        loop {
            let answer = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :k AND sk >= :since")
                .expression_attribute_values(":k", s(EMAIL_CHANGES_PK))
                .expression_attribute_values(":since", s(email_change_sk(since, "")))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(failed)?;
            // Sort keys lead with the time: a later request for the same user comes later and replaces the earlier.
            for item in answer.items() {
                let change = EmailChange {
                    salesforce_user_id: text(item, "salesforce_user_id")
                        .ok_or_else(|| corrupt("email change", "id"))?,
                    email: text(item, "email").ok_or_else(|| corrupt("email change", "email"))?,
                    requested_at: number(item, "requested_at"),
                };
                latest.insert(change.salesforce_user_id.clone(), change);
            }
            match answer.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => break,
            }
        }
        Ok(latest.into_values().collect())
    }

    async fn record_email_change(&self, change: &EmailChange) -> Result<(), StoreError> {
        let item = HashMap::from([
            ("pk".to_owned(), s(EMAIL_CHANGES_PK)),
            ("sk".to_owned(), s(email_change_sk(change.requested_at, &change.salesforce_user_id))),
            ("salesforce_user_id".to_owned(), s(&change.salesforce_user_id)),
            ("email".to_owned(), s(&change.email)),
            ("requested_at".to_owned(), n(change.requested_at)),
            // The table's time to live removes the item once no rerun can need it.
            ("expires_at".to_owned(), n(change.requested_at + 2 * EmailChange::CONFIRMATION_WINDOW_SECONDS)),
        ]);
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(failed)?;
        Ok(())
    }
}

/// What a job's workers share sits beside its rows: `sk = SHARED#<name>`, outside the `ROW#` range.
fn shared_sk(name: &str) -> String {
    format!("SHARED#{name}")
}

/// A chunk's Bulk API job sits beside its job's rows: `sk = BULK#<chunk, 10 digits>`, outside the `ROW#` range.
fn bulk_job_sk(chunk: u64) -> String {
    format!("BULK#{chunk:010}")
}

/// Email changes share one partition, sorted by the time they were asked for: a run reads only the last 72 hours'.
const EMAIL_CHANGES_PK: &str = "EMAILCHANGES";

fn email_change_sk(requested_at: u64, salesforce_user_id: &str) -> String {
    format!("{requested_at:010}#{salesforce_user_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(codes: &[&str]) -> Vec<CancellationReason> {
        codes.iter().map(|code| CancellationReason::builder().code(*code).build()).collect()
    }

    #[test]
    fn a_cancellation_is_judged_by_every_reason() {
        assert_eq!(Cancellation::of(&reasons(&["None", "ConditionalCheckFailed"])), Cancellation::Conditions(vec![1]));
        assert!(matches!(Cancellation::of(&reasons(&["TransactionConflict", "None"])), Cancellation::Transient(_)));
        assert!(matches!(Cancellation::of(&reasons(&["None", "ThrottlingError"])), Cancellation::Transient(_)));
        assert!(matches!(
            Cancellation::of(&reasons(&["ConditionalCheckFailed", "ProvisionedThroughputExceeded"])),
            Cancellation::Transient(_)
        ));
        assert!(matches!(
            Cancellation::of(&reasons(&["ConditionalCheckFailed", "ValidationError"])),
            Cancellation::Other(why) if why.contains("action 1: ValidationError")
        ));
        assert!(matches!(Cancellation::of(&reasons(&["None"])), Cancellation::Other(_)));
        assert!(matches!(Cancellation::of(&[]), Cancellation::Other(_)));
    }
}
