//! Bulk API 2.0 ingest jobs, at the documented paths and with the documented shapes (Bulk API 2.0 and Bulk API
//! Developer Guide: Create a Job, Upload Job Data, Upload Complete, Get Job Info, Get All Jobs, Get Job
//! Successful/Failed/Unprocessed Record Results, Abort a Job, Delete a Job).
//!
//! A job runs Open → UploadComplete → InProgress → JobComplete | Failed, or Aborted. The sandbox takes `insert` of
//! ContactCenterBulkOp only, the one object ccbulk loads this way; anything else is refused, saying so.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::org::{Org, Record, SfError, schema};

/// The objects the sandbox's Bulk API loads.
const BULK_OBJECTS: &[&str] = &["ContactCenterBulkOp"];
/// "A request can provide CSV data that does not in total exceed 150 MB of base64 encoded content" (Limits): raw
/// CSV encodes to 4/3 of its size, so 100 MB raw is at least as strict.
pub const UPLOAD_MAX_BYTES: usize = 100 * 1024 * 1024;
/// Ingest job ids start with the AsyncApexJob key prefix (job ids in the guide's examples: `7505fEXAMPLE4C2AAM`).
const JOB_PREFIX: &str = "750";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Open,
    UploadComplete,
    InProgress,
    JobComplete,
    Failed,
    Aborted,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Open => "Open",
            JobState::UploadComplete => "UploadComplete",
            JobState::InProgress => "InProgress",
            JobState::JobComplete => "JobComplete",
            JobState::Failed => "Failed",
            JobState::Aborted => "Aborted",
        }
    }

    fn finished(self) -> bool {
        matches!(self, JobState::JobComplete | JobState::Failed | JobState::Aborted)
    }
}

/// What became of one uploaded record.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordResult {
    Created { id: String },
    Failed { error: String },
    Unprocessed,
}

#[derive(Debug, Clone)]
pub struct IngestJob {
    pub id: String,
    pub object: String,
    pub api_version: String,
    pub line_ending: String,
    pub state: JobState,
    pub created: u64,
    pub modified: u64,
    pub header: Vec<String>,
    /// The uploaded records, their cells in the header's order.
    pub records: Vec<Vec<String>>,
    /// One per record once the job has run; empty before.
    pub results: Vec<RecordResult>,
    pub error_message: Option<String>,
    uploaded: bool,
}

impl IngestJob {
    fn processed(&self) -> usize {
        self.results.iter().filter(|r| !matches!(r, RecordResult::Unprocessed)).count()
    }

    fn failed(&self) -> usize {
        self.results.iter().filter(|r| matches!(r, RecordResult::Failed { .. })).count()
    }

    /// The job's information, as Get Job Info answers it.
    pub fn info(&self, org: &Org) -> Value {
        let mut info = json!({
            "id": self.id,
            "operation": "insert",
            "object": self.object,
            "createdById": org.run_as_user(),
            "createdDate": timestamp(self.created),
            "systemModstamp": timestamp(self.modified),
            "state": self.state.as_str(),
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": self.api_version.trim_start_matches('v').parse::<f64>().unwrap_or(64.0),
            "jobType": "V2Ingest",
            "contentUrl": format!("services/data/{}/jobs/ingest/{}/batches", self.api_version, self.id),
            "lineEnding": self.line_ending,
            "columnDelimiter": "COMMA",
            "numberRecordsProcessed": self.processed(),
            "numberRecordsFailed": self.failed(),
            "retries": 0,
            "totalProcessingTime": 0,
            "apiActiveProcessingTime": 0,
            "apexProcessingTime": 0,
        });
        if let Some(message) = &self.error_message {
            info["errorMessage"] = json!(message);
        }
        info
    }

    /// The CSV of one kind of result: `sf__Id,sf__Created` (successful), `sf__Id,sf__Error` (failed) or none
    /// (unprocessed), then the record's own fields.
    pub fn results_csv(&self, kind: ResultKind) -> String {
        let mut out = csv::Writer::from_writer(Vec::new());
        let lead: &[&str] = match kind {
            ResultKind::Successful => &["sf__Id", "sf__Created"],
            ResultKind::Failed => &["sf__Id", "sf__Error"],
            ResultKind::Unprocessed => &[],
        };
        let header: Vec<&str> = lead.iter().copied().chain(self.header.iter().map(String::as_str)).collect();
        let _ = out.write_record(&header);
        for (i, record) in self.records.iter().enumerate() {
            let result = self.results.get(i).unwrap_or(&RecordResult::Unprocessed);
            let lead = match (kind, result) {
                (ResultKind::Successful, RecordResult::Created { id }) => vec![id.clone(), "true".into()],
                (ResultKind::Failed, RecordResult::Failed { error }) => vec![String::new(), error.clone()],
                (ResultKind::Unprocessed, RecordResult::Unprocessed) => vec![],
                _ => continue,
            };
            let _ = out.write_record(lead.iter().chain(record));
        }
        String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    Successful,
    Failed,
    Unprocessed,
}

/// Salesforce's timestamp form in Bulk API answers: `2024-01-03T23:52:01.000+0000`.
fn timestamp(epoch: u64) -> String {
    let (days, seconds) = ((epoch / 86_400) as i64, epoch % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000+0000", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn refused(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(json!([SfError::new(code, message, &[])]))).into_response()
}

fn invalid_state(message: impl Into<String>) -> Response {
    // The guide names no status for a request the job's state does not allow; 409 Conflict, with Bulk API's
    // InvalidJobState exception code.
    refused(StatusCode::CONFLICT, "INVALIDJOBSTATE", message)
}

fn no_job(id: &str) -> Response {
    refused(StatusCode::NOT_FOUND, "NOT_FOUND", format!("The requested resource does not exist: {id}"))
}

/// The ingest jobs of an org, by id.
#[derive(Debug, Clone, Default)]
pub struct IngestJobs {
    pub jobs: BTreeMap<String, IngestJob>,
    counter: u64,
}

/// Create a Job: `{object, operation, contentType?, lineEnding?, columnDelimiter?}`.
pub fn create(org: &mut Org, version: &str, body: &[u8]) -> Response {
    let request: Record = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(err) => return refused(StatusCode::BAD_REQUEST, "JSON_PARSER_ERROR", err.to_string()),
    };
    let text = |field: &str| request.get(field).and_then(Value::as_str);
    let Some(object) = text("object") else {
        return refused(StatusCode::BAD_REQUEST, "INVALIDJOB", "Object is required");
    };
    let Some(object) = schema(object).map(|s| s.name).filter(|name| BULK_OBJECTS.contains(name)) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "INVALIDJOB",
            format!("Entity '{object}' is not supported by the sandbox's Bulk API (ContactCenterBulkOp only)"),
        );
    };
    if text("operation") != Some("insert") {
        return refused(StatusCode::BAD_REQUEST, "INVALIDJOB", "the sandbox's Bulk API takes operation insert only");
    }
    if text("contentType").is_some_and(|c| c != "CSV") {
        return refused(StatusCode::BAD_REQUEST, "INVALIDJOB", "contentType: the only valid value is CSV");
    }
    if text("columnDelimiter").is_some_and(|c| c != "COMMA") {
        return refused(StatusCode::BAD_REQUEST, "INVALIDJOB", "the sandbox takes columnDelimiter COMMA only");
    }
    let line_ending = text("lineEnding").unwrap_or("LF");
    if !["LF", "CRLF"].contains(&line_ending) {
        return refused(StatusCode::BAD_REQUEST, "INVALIDJOB", "lineEnding: valid values are LF and CRLF");
    }
    org.bulk.counter += 1;
    let id = ccbulk_shared::sfid::SalesforceId::parse(&format!("{JOB_PREFIX}Sb{:010}", org.bulk.counter))
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default();
    let at = now();
    let job = IngestJob {
        id: id.clone(),
        object: object.to_owned(),
        api_version: version.to_owned(),
        line_ending: line_ending.to_owned(),
        state: JobState::Open,
        created: at,
        modified: at,
        header: Vec::new(),
        records: Vec::new(),
        results: Vec::new(),
        error_message: None,
        uploaded: false,
    };
    let info = job.info(org);
    org.bulk.jobs.insert(id, job);
    axum::Json(info).into_response()
}

/// Upload Job Data: the job's CSV, in one request while the job is Open.
pub fn upload(org: &mut Org, id: &str, content_type: Option<&str>, body: &[u8]) -> Response {
    let Some(job) = org.bulk.jobs.get_mut(id) else { return no_job(id) };
    if !content_type.is_some_and(|t| t.starts_with("text/csv")) {
        return refused(StatusCode::BAD_REQUEST, "INVALIDJOB", "Content-Type must be text/csv");
    }
    if job.state != JobState::Open {
        return invalid_state(format!("Job {id} is not open: {}", job.state.as_str()));
    }
    if job.uploaded {
        // The guide's flow uploads once per job; a second upload is refused, at least as strict as the service.
        return invalid_state(format!("Job {id} already has its data"));
    }
    if body.len() > UPLOAD_MAX_BYTES {
        return refused(StatusCode::BAD_REQUEST, "INVALIDJOB", "the upload is over the 150 MB (base64) limit");
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(body);
    let header: Vec<String> = match reader.headers() {
        Ok(header) => header.iter().map(str::to_owned).collect(),
        Err(err) => return refused(StatusCode::BAD_REQUEST, "INVALIDJOB", format!("the CSV cannot be read: {err}")),
    };
    let mut records = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => records.push(record.iter().map(str::to_owned).collect()),
            Err(err) => {
                return refused(StatusCode::BAD_REQUEST, "INVALIDJOB", format!("the CSV cannot be read: {err}"));
            }
        }
    }
    job.header = header;
    job.records = records;
    job.uploaded = true;
    job.modified = now();
    StatusCode::CREATED.into_response()
}

/// Upload Complete or Abort: `{"state": "UploadComplete" | "Aborted"}`.
pub fn change_state(org: &mut Org, id: &str, body: &[u8]) -> Response {
    let wanted = serde_json::from_slice::<Record>(body)
        .ok()
        .and_then(|r| r.get("state").and_then(Value::as_str).map(str::to_owned));
    let Some(job) = org.bulk.jobs.get_mut(id) else { return no_job(id) };
    match (wanted.as_deref(), job.state) {
        (Some("UploadComplete"), JobState::Open) => {
            job.state = JobState::UploadComplete;
        }
        (Some("UploadComplete"), state) => {
            return invalid_state(format!("Job {id} is {}, not Open", state.as_str()));
        }
        (Some("Aborted"), state) if state.finished() => {
            return invalid_state(format!("Aborting already {} Job not allowed", state.as_str()));
        }
        (Some("Aborted"), _) => {
            job.state = JobState::Aborted;
            job.results.resize(job.records.len(), RecordResult::Unprocessed);
        }
        _ => {
            return refused(StatusCode::BAD_REQUEST, "INVALIDJOB", "state: give UploadComplete or Aborted");
        }
    }
    job.modified = now();
    info(org, id)
}

pub fn info(org: &Org, id: &str) -> Response {
    match org.bulk.jobs.get(id) {
        Some(job) => axum::Json(job.info(org)).into_response(),
        None => no_job(id),
    }
}

/// Get All Jobs: one page holds every job the sandbox has.
pub fn list(org: &Org) -> Response {
    let records: Vec<Value> = org.bulk.jobs.values().map(|job| job.info(org)).collect();
    axum::Json(json!({"done": true, "records": records, "nextRecordsUrl": null})).into_response()
}

pub fn results(org: &Org, id: &str, kind: ResultKind) -> Response {
    let Some(job) = org.bulk.jobs.get(id) else { return no_job(id) };
    if !job.state.finished() {
        return invalid_state(format!("Job {id} is {}: results come once it has finished", job.state.as_str()));
    }
    ([("content-type", "text/csv")], job.results_csv(kind)).into_response()
}

/// Delete a Job: only one that is no longer taking data or running.
pub fn delete(org: &mut Org, id: &str) -> Response {
    let Some(job) = org.bulk.jobs.get(id) else { return no_job(id) };
    if matches!(job.state, JobState::Open | JobState::InProgress) {
        return invalid_state(format!("Job {id} is {} and cannot be deleted", job.state.as_str()));
    }
    org.bulk.jobs.remove(id);
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_salesforces_form() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000+0000");
        assert_eq!(timestamp(1_704_325_921), "2024-01-03T23:52:01.000+0000");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00.000+0000");
    }
}
