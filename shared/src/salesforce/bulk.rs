//! Salesforce's own bulk path for contact-center users: ContactCenterBulkOp records loaded through a Bulk API 2.0
//! ingest job (../shared/seeds/salesforce-voice-bulk-users.txt), then worked by Salesforce one by one, each ending
//! with a Status and an ErrorMessage.
//!
//! The calls follow the Bulk API 2.0 and Bulk API Developer Guide: Create a Job (`POST /jobs/ingest`), Upload Job
//! Data (`PUT .../batches`, text/csv), Upload Complete (`PATCH`, `{"state":"UploadComplete"}`), Get Job Info, and
//! the successful, failed and unprocessed results, whose rows come in no particular order: a row is known by its
//! Argument2, the user's Id, which a file holds once.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::json;

use super::client::{Payload, SalesforceClient, SalesforceError};
use crate::domain::{VoiceRole, bulkop_status};

/// "It's best to keep the maximum number of users per request at 5,000" (the seed).
pub const BULKOP_MAX_ROWS: usize = 5_000;
/// Records per SOQL `IN` list when reading the operations' statuses.
const STATUS_BATCH: usize = 200;

/// One ContactCenterBulkOp, as AddUsers takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkOp {
    /// Argument1: the user's email.
    pub email: String,
    /// Argument2: the user's 18-character Id.
    pub user_id: String,
    /// Argument3: Admin, Agent or CallCenterManager; none under Partner Telephony.
    pub profile: Option<VoiceRole>,
    /// Argument4: the Amazon Connect routing profile's ARN; none under Partner Telephony.
    pub routing_profile_arn: Option<String>,
    /// Argument5: the contact center's Id.
    pub contact_center_id: String,
}

/// Where an ingest job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobProgress {
    /// Open, UploadComplete or InProgress.
    Running(String),
    Complete,
    /// Failed or Aborted, with Salesforce's reason.
    Ended {
        state: String,
        reason: String,
    },
}

/// What loading one row came to, by the row's user Id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// The ContactCenterBulkOp record's Id: Salesforce has yet to work it.
    Record(String),
    /// The insert failed: `CODE:message:fields --`.
    Refused(String),
    /// The job ended before the row was loaded.
    Unprocessed,
}

/// A worked (or waiting) ContactCenterBulkOp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkOpStatus {
    pub record_id: String,
    pub user_id: String,
    pub status: String,
    pub error_message: Option<String>,
    pub job_id: Option<String>,
}

impl BulkOpStatus {
    pub fn finished(&self) -> bool {
        self.status != bulkop_status::PENDING
    }
}

/// The rows as the seed's CSV: Argument1..5 and BulkAction, Partner Telephony's rows leaving 3 and 4 blank.
pub fn bulkop_csv(rows: &[BulkOp]) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let _ = out.write_record(["Argument1", "Argument2", "Argument3", "Argument4", "Argument5", "BulkAction"]);
    for row in rows {
        let _ = out.write_record([
            row.email.as_str(),
            row.user_id.as_str(),
            row.profile.map(VoiceRole::as_str).unwrap_or_default(),
            row.routing_profile_arn.as_deref().unwrap_or_default(),
            row.contact_center_id.as_str(),
            "AddUsers",
        ]);
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn answer_error(what: &str) -> SalesforceError {
    SalesforceError { code: "BULK_ANSWER".into(), message: format!("Bulk API: {what}"), retryable: false }
}

fn within_one_job(rows: &[BulkOp]) -> Result<(), SalesforceError> {
    if rows.len() > BULKOP_MAX_ROWS {
        return Err(answer_error(&format!("{} rows in one job; at most {BULKOP_MAX_ROWS}", rows.len())));
    }
    Ok(())
}

impl SalesforceClient {
    /// Creates an ingest job of `rows` (at most [`BULKOP_MAX_ROWS`]), uploads them and closes the upload; returns
    /// the job's id. Salesforce works the job from there.
    /// Opens a Bulk API 2.0 ingest job for ContactCenterBulkOp records, with no data yet: its id can be recorded
    /// before any row goes to Salesforce, so that no crash leaves a job ccbulk does not know of holding rows.
    pub async fn open_bulkop_job(&self) -> Result<String, SalesforceError> {
        let request =
            json!({"object": "ContactCenterBulkOp", "operation": "insert", "contentType": "CSV", "lineEnding": "LF"});
        let job = self.call(Method::POST, "/jobs/ingest", &[], Some(&request)).await?;
        Ok(job["id"].as_str().ok_or_else(|| answer_error("the job has no id"))?.to_owned())
    }

    /// Uploads the rows to an open job and closes it (UploadComplete), which queues it for processing.
    pub async fn load_bulkops(&self, id: &str, rows: &[BulkOp]) -> Result<(), SalesforceError> {
        within_one_job(rows)?;
        let csv = bulkop_csv(rows);
        self.send(Method::PUT, &format!("/jobs/ingest/{id}/batches"), &[], Some(Payload::Csv(&csv))).await?;
        self.call(Method::PATCH, &format!("/jobs/ingest/{id}"), &[], Some(&json!({"state": "UploadComplete"}))).await?;
        Ok(())
    }

    /// Opens a job, uploads the rows and closes it, in one go (for callers with nowhere to record the job first).
    pub async fn submit_bulkops(&self, rows: &[BulkOp]) -> Result<String, SalesforceError> {
        within_one_job(rows)?;
        let id = self.open_bulkop_job().await?;
        self.load_bulkops(&id, rows).await?;
        Ok(id)
    }

    /// Aborts a job that has not finished: Salesforce then processes none of it, and deletes data uploaded to it
    /// (Bulk API 2.0 Developer Guide, "Close or Abort a Job").
    pub async fn abort_ingest_job(&self, id: &str) -> Result<(), SalesforceError> {
        self.call(Method::PATCH, &format!("/jobs/ingest/{id}"), &[], Some(&json!({"state": "Aborted"}))).await?;
        Ok(())
    }

    pub async fn ingest_job_progress(&self, id: &str) -> Result<JobProgress, SalesforceError> {
        let info = self.call(Method::GET, &format!("/jobs/ingest/{id}"), &[], None).await?;
        let state = info["state"].as_str().unwrap_or_default().to_owned();
        Ok(match state.as_str() {
            "JobComplete" => JobProgress::Complete,
            "Failed" | "Aborted" => JobProgress::Ended {
                reason: info["errorMessage"].as_str().unwrap_or("no reason given").to_owned(),
                state,
            },
            _ => JobProgress::Running(state),
        })
    }

    /// What loading each row came to, by the row's user Id, once the job has ended.
    pub async fn ingest_job_results(&self, id: &str) -> Result<HashMap<String, Loaded>, SalesforceError> {
        let mut loaded = HashMap::new();
        for kind in ["successfulResults", "failedResults", "unprocessedrecords"] {
            let answer = self.call(Method::GET, &format!("/jobs/ingest/{id}/{kind}/"), &[], None).await?;
            let text = answer.as_str().unwrap_or_default();
            let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
            let header = reader.headers().map_err(|e| answer_error(&e.to_string()))?.clone();
            let column = |name: &str| header.iter().position(|h| h == name);
            let user = column("Argument2").ok_or_else(|| answer_error(&format!("{kind} has no Argument2")))?;
            for record in reader.records() {
                let record = record.map_err(|e| answer_error(&e.to_string()))?;
                let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or_default().to_owned();
                let outcome = match kind {
                    "successfulResults" => Loaded::Record(cell(column("sf__Id"))),
                    "failedResults" => Loaded::Refused(cell(column("sf__Error"))),
                    _ => Loaded::Unprocessed,
                };
                loaded.insert(cell(Some(user)), outcome);
            }
        }
        Ok(loaded)
    }

    /// The ContactCenterBulkOp records' statuses, by record Id.
    pub async fn bulkop_statuses(&self, record_ids: &[String]) -> Result<Vec<BulkOpStatus>, SalesforceError> {
        let mut statuses = Vec::with_capacity(record_ids.len());
        for batch in record_ids.chunks(STATUS_BATCH) {
            let ids = batch.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
            let records = self
                .query(&format!(
                    "SELECT Id, Argument2, Status, ErrorMessage, VoiceProvisioningJobID FROM ContactCenterBulkOp \
                     WHERE Id IN ({ids})"
                ))
                .await?;
            statuses.extend(records.iter().map(|r| {
                let text = |field: &str| r[field].as_str().filter(|t| !t.is_empty()).map(str::to_owned);
                BulkOpStatus {
                    record_id: text("Id").unwrap_or_default(),
                    user_id: text("Argument2").unwrap_or_default(),
                    status: text("Status").unwrap_or_default(),
                    error_message: text("ErrorMessage"),
                    job_id: text("VoiceProvisioningJobID"),
                }
            }));
        }
        Ok(statuses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_is_the_seeds_with_partner_rows_leaving_profile_and_routing_profile_blank() {
        let rows = [
            BulkOp {
                email: "ada@example.com".into(),
                user_id: "005Hn0000ribxUdIAI".into(),
                profile: Some(VoiceRole::CallCenterManager),
                routing_profile_arn: Some("arn:aws:connect:us-west-2:123456789012:instance/i/routing-profile/r".into()),
                contact_center_id: "04vHn000000Z4aBIAS".into(),
            },
            BulkOp {
                email: "bo, \"the\" agent@example.com".into(),
                user_id: "005Hn0000l7dXTPIA2".into(),
                profile: None,
                routing_profile_arn: None,
                contact_center_id: "04vHn000000Z4aCIAS".into(),
            },
        ];
        let csv = bulkop_csv(&rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "Argument1,Argument2,Argument3,Argument4,Argument5,BulkAction");
        assert!(lines[1].starts_with("ada@example.com,005Hn0000ribxUdIAI,CallCenterManager,arn:aws:connect:"));
        assert_eq!(lines[2], "\"bo, \"\"the\"\" agent@example.com\",005Hn0000l7dXTPIA2,,,04vHn000000Z4aCIAS,AddUsers");
    }
}
