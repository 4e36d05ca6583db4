//! The Salesforce side of a chunk in bulkop mode: the rows go to Salesforce as ContactCenterBulkOp records in one
//! Bulk API job, and Salesforce does the work ccbulk does itself in direct mode (membership, the Voice permission
//! set, and under Service Cloud Voice the Connect user). ccbulk resolves each row to its bulk operation, then
//! follows the job and every operation to the Status Salesforce gives it.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::bulk::{BulkOp, BulkOpStatus, JobProgress, Loaded};
use super::client::{SalesforceClient, SalesforceError};
use super::provisioner::{BulkopDone, SalesforceOutcome};
use crate::domain::{Action, ContactCenterRef, SalesforceUser, SalesforceUserRef, TelephonyModel, bulkop_status};

/// The first wait between two looks at a job, doubled up to [`LONGEST_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(200);
const LONGEST_WAIT: Duration = Duration::from_secs(5);
/// Between two looks at a job, at least this share of its age: a job Salesforce leaves at work for hours is looked
/// at about `AGE_SHARE` times each time its age doubles, not every few seconds (a look is an API request, and the
/// org's allocation is shared with every other integration).
const AGE_SHARE: u32 = 20;
/// The longest a chunk waits before its next look: SQS's longest message delay (SendMessage `DelaySeconds`, at most
/// 900; Amazon SQS API Reference), the delay the chunk is sent on with.
pub const LONGEST_LOOK_AGAIN: Duration = Duration::from_secs(900);
/// How long after submitting a bulk job ccbulk follows it. Salesforce deletes jobs left Open or UploadComplete for
/// seven days (Bulk API 2.0 Developer Guide, "Close or Abort a Job"); a contact-center user who is not set up after a
/// day is a problem for an admin to look at, not a wait to hide.
pub const FOLLOW_FOR: Duration = Duration::from_secs(24 * 3600);

/// What following a bulk job came to: each row's outcome, or `None` when this delivery stopped following first;
/// whether Salesforce was still at work when the job was looked at (the delivery watched it make progress); and
/// when the next look is due, where that is later than a delivery should wait.
#[derive(Debug)]
pub struct Followed {
    pub outcomes: Option<Vec<Result<SalesforceOutcome, SalesforceError>>>,
    pub waited: bool,
    pub look_again_in: Option<Duration>,
}

impl Followed {
    fn stopped(waited: bool, look_again_in: Option<Duration>) -> Self {
        Self { outcomes: None, waited, look_again_in }
    }
}

/// A row's bulk operation, with the user it names as Salesforce holds it.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub op: BulkOp,
    user: Value,
}

pub struct BulkopProvisioner<'a> {
    pub client: &'a SalesforceClient,
    pub telephony: TelephonyModel,
}

fn text(record: &Value, field: &str) -> Option<String> {
    record[field].as_str().filter(|t| !t.is_empty()).map(str::to_owned)
}

impl BulkopProvisioner<'_> {
    /// Each row's bulk operation, or why it has none: the user by Id or username (Argument1 is the row's own, or
    /// else the email Salesforce holds for that user), the contact center by Id or name, and under the Amazon
    /// Connect models the profile and the routing profile's ARN (`routing_profile_arns`, one per row).
    pub async fn operations(
        &self,
        rows: &[(Action, &SalesforceUser)],
        routing_profile_arns: &[Option<&str>],
    ) -> Result<Vec<Result<Prepared, SalesforceError>>, SalesforceError> {
        let users = self.users(rows).await?;
        let centers = self.client.query("SELECT Id, Name FROM CallCenter").await?;
        let connect = self.telephony.has_connect_side();
        Ok(rows
            .iter()
            .zip(routing_profile_arns)
            .map(|((action, row), arn)| {
                // The pipeline works remove rows the direct way: ContactCenterBulkOp only adds users.
                if *action == Action::Remove {
                    return Err(SalesforceError::refused(
                        "ContactCenterBulkOp only adds or updates contact-center users (AddUsers)",
                    ));
                }
                let user = match &row.user {
                    SalesforceUserRef::Id(id) => users.iter().find(|u| text(u, "Id").as_deref() == Some(id.as_str())),
                    SalesforceUserRef::Username(name) => {
                        users.iter().find(|u| text(u, "Username").is_some_and(|n| n.eq_ignore_ascii_case(name)))
                    }
                }
                .ok_or_else(|| {
                    SalesforceError::refused("the org has no such user; ContactCenterBulkOp adds existing users only")
                })?;
                let contact_center_id = match &row.contact_center {
                    Some(ContactCenterRef::Id(id)) => id.as_str().to_owned(),
                    Some(ContactCenterRef::Name(name)) => centers
                        .iter()
                        .find(|c| text(c, "Name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
                        .and_then(|c| text(c, "Id"))
                        .ok_or_else(|| SalesforceError::refused(format!("the org has no contact center {name:?}")))?,
                    None => {
                        return Err(SalesforceError::refused(
                            "ContactCenterBulkOp needs the contact center (Argument5)",
                        ));
                    }
                };
                let (profile, routing_profile_arn) = if connect {
                    let profile = row
                        .role
                        .ok_or_else(|| SalesforceError::refused("ContactCenterBulkOp needs the profile (Argument3)"))?;
                    let arn = arn.ok_or_else(|| {
                        SalesforceError::refused(
                            "ContactCenterBulkOp needs the routing profile (Argument4); the row names none",
                        )
                    })?;
                    (Some(profile), Some(arn.to_owned()))
                } else {
                    (None, None)
                };
                Ok(Prepared {
                    op: BulkOp {
                        // A row of another dialect names its user otherwise: the org's email is the one to check.
                        email: row.bulkop_email.clone().or_else(|| text(user, "Email")).unwrap_or_default(),
                        user_id: text(user, "Id").unwrap_or_default(),
                        profile,
                        routing_profile_arn,
                        contact_center_id,
                    },
                    user: user.clone(),
                })
            })
            .collect())
    }

    async fn users(&self, rows: &[(Action, &SalesforceUser)]) -> Result<Vec<Value>, SalesforceError> {
        let fields = "Id, Username, Email, FirstName, LastName, Alias";
        let mut ids = Vec::new();
        let mut names = Vec::new();
        for (_, row) in rows {
            match &row.user {
                SalesforceUserRef::Id(id) => ids.push(id.as_str().to_owned()),
                SalesforceUserRef::Username(name) => names.push(name.to_lowercase()),
            }
        }
        let select = format!("SELECT {fields} FROM User WHERE");
        let mut found = self.client.query_in(&select, "Id", &ids).await?;
        found.extend(self.client.query_in(&select, "Username", &names).await?);
        Ok(found)
    }

    /// Follows `job`, submitted at `submitted`, until every prepared row's operation has ended, one result per
    /// row. It stops first (`outcomes: None`) when `keep_going` says so (the job goes on in Salesforce, and a later
    /// delivery follows it again), or when the next look is due later than [`LONGEST_WAIT`] (`look_again_in`).
    /// [`FOLLOW_FOR`] after the submit it gives up: a job still at work is aborted, and each row not finished
    /// fails, saying so. `known` is the job's progress where the caller has just read it.
    pub async fn follow(
        &self,
        job: &str,
        submitted: SystemTime,
        prepared: &[&Prepared],
        keep_going: &(dyn Fn() -> bool + Sync),
        mut known: Option<JobProgress>,
    ) -> Result<Followed, SalesforceError> {
        let age = || SystemTime::now().duration_since(submitted).unwrap_or_default();
        let mut wait = FIRST_WAIT;
        let mut waited = false;
        let ended = loop {
            let progress = match known.take() {
                Some(progress) => progress,
                None => self.client.ingest_job_progress(job).await?,
            };
            match progress {
                JobProgress::Running(_) => {}
                progress => break progress,
            }
            waited = true;
            if age() >= FOLLOW_FOR {
                // Aborted, the rows it has not reached are never worked: a later retry submits them afresh.
                if let Err(err) = self.client.abort_ingest_job(job).await {
                    tracing::warn!(job, error = %err, "could not abort a bulk job given up on");
                }
                let gave_up = gave_up(job, "the bulk job itself was still being worked; ccbulk aborted it");
                return Ok(Followed {
                    outcomes: Some(prepared.iter().map(|_| Err(gave_up.clone())).collect()),
                    waited,
                    look_again_in: None,
                });
            }
            if !keep_going() {
                return Ok(Followed::stopped(waited, None));
            }
            let due = match paced_by_age(wait, age()) {
                Ok(due) => due,
                Err(later) => return Ok(Followed::stopped(waited, Some(later))),
            };
            tokio::time::sleep(due).await;
            wait = (wait * 2).min(LONGEST_WAIT);
        };
        let loaded = self.client.ingest_job_results(job).await?;
        let records: Vec<String> = prepared
            .iter()
            .filter_map(|p| match loaded.get(&p.op.user_id) {
                Some(Loaded::Record(id)) => Some(id.clone()),
                _ => None,
            })
            .collect();
        let mut wait = FIRST_WAIT;
        // Each look asks only for the operations not yet finished: a status once final stays so, and a 5,000-row
        // job would otherwise cost 25 queries a look to its last record.
        let mut statuses: HashMap<String, BulkOpStatus> = HashMap::new();
        let mut last_look: Option<Instant> = None;
        let mut given_up = false;
        let statuses = loop {
            let open: Vec<String> = records.iter().filter(|r| !statuses.contains_key(*r)).cloned().collect();
            if open.is_empty() {
                break statuses;
            }
            let looked = self.client.bulkop_statuses(&open).await?;
            let finished_before = statuses.len();
            statuses.extend(looked.into_iter().filter(BulkOpStatus::finished).map(|s| (s.record_id.clone(), s)));
            if records.iter().all(|r| statuses.contains_key(r)) {
                break statuses;
            }
            waited = true;
            if age() >= FOLLOW_FOR {
                given_up = true;
                break statuses;
            }
            if !keep_going() {
                return Ok(Followed::stopped(waited, None));
            }
            let progress = last_look.map(|at| (statuses.len() - finished_before, at.elapsed()));
            wait = next_wait(wait, progress, records.len() - statuses.len());
            let due = match paced_by_age(wait, age()) {
                Ok(due) => due,
                Err(later) => return Ok(Followed::stopped(waited, Some(later))),
            };
            last_look = Some(Instant::now());
            tokio::time::sleep(due).await;
        };
        let org_id = self.client.org_id().await?;
        let outcomes = prepared
            .iter()
            .map(|p| {
                let loaded = loaded.get(&p.op.user_id);
                match loaded {
                    Some(Loaded::Record(record)) if given_up && !statuses.contains_key(record) => {
                        Err(gave_up(job, &format!("its ContactCenterBulkOp record {record} was not finished")))
                    }
                    _ => outcome(job, &org_id, &ended, p, loaded, &statuses),
                }
            })
            .collect();
        Ok(Followed { outcomes: Some(outcomes), waited, look_again_in: None })
    }
}

/// The wait before the next look at a job `age` old, at least [`AGE_SHARE`]'s share of its age: `Ok` to wait it out
/// in this delivery, `Err` with the wait for a later delivery when it is longer than [`LONGEST_WAIT`].
fn paced_by_age(wait: Duration, age: Duration) -> Result<Duration, Duration> {
    let due = wait.max(age / AGE_SHARE);
    if due > LONGEST_WAIT { Err(due.min(LONGEST_LOOK_AGAIN)) } else { Ok(due) }
}

/// Why a row whose bulk job ccbulk stopped following failed.
fn gave_up(job: &str, what: &str) -> SalesforceError {
    SalesforceError {
        code: "BULKOP_GAVE_UP".into(),
        message: format!(
            "Salesforce had not finished the row {} hours after ccbulk submitted it in bulk job {job} ({what}); see \
             the job in Setup (Bulk Data Load Jobs) and retry the row once Salesforce works again",
            FOLLOW_FOR.as_secs() / 3600
        ),
        retryable: false,
    }
}

/// The wait before the next look at a job's operations: as long as the `left` ones should take at the pace the last
/// look showed (`progress`: operations finished since the look before, and the time between), so that a job is
/// looked at about once more when it should be done; [`FIRST_WAIT`] after the first look, and doubling from
/// `previous` while looks show no progress. Always within [`FIRST_WAIT`, `LONGEST_WAIT`].
fn next_wait(previous: Duration, progress: Option<(usize, Duration)>, left: usize) -> Duration {
    let paced = match progress {
        None => FIRST_WAIT,
        Some((0, _)) => previous * 2,
        Some((finished, over)) => over.mul_f64(left as f64 / finished as f64),
    };
    paced.clamp(FIRST_WAIT, LONGEST_WAIT)
}

/// What a row came to: its load, then its operation's Status.
fn outcome(
    job: &str,
    org_id: &str,
    ended: &JobProgress,
    prepared: &Prepared,
    loaded: Option<&Loaded>,
    statuses: &HashMap<String, BulkOpStatus>,
) -> Result<SalesforceOutcome, SalesforceError> {
    let failed = |code: &str, message: String| SalesforceError { code: code.into(), message, retryable: false };
    let record = match loaded {
        Some(Loaded::Record(id)) => id,
        Some(Loaded::Refused(error)) => {
            return Err(failed(
                "BULKOP_REFUSED",
                format!("Salesforce refused the bulk operation (job {job}): {error}"),
            ));
        }
        Some(Loaded::Unprocessed) | None => {
            let why = match ended {
                JobProgress::Ended { state, reason } => format!("{state}: {reason}"),
                _ => "its results do not name this row".into(),
            };
            return Err(failed("BULKOP_UNPROCESSED", format!("the bulk job {job} ended ({why}) before this row")));
        }
    };
    let status = statuses.get(record).ok_or_else(|| failed("BULKOP_MISSING", format!("{record} is gone")))?;
    if status.status != bulkop_status::COMPLETED {
        let message = status.error_message.as_deref().unwrap_or("no ErrorMessage");
        return Err(failed(
            "BULKOP_FAILED",
            format!("ContactCenterBulkOp {record} (job {job}) ended {}: {message}", status.status),
        ));
    }
    let user = &prepared.user;
    Ok(SalesforceOutcome {
        user_id: text(user, "Id").unwrap_or_default(),
        username: text(user, "Username").unwrap_or_default(),
        first_name: text(user, "FirstName"),
        last_name: text(user, "LastName"),
        email: text(user, "Email"),
        created: false,
        permission_set_assignment_id: None,
        email_confirmation: None,
        // Salesforce's bulk path does what it does; undo in bulkop mode is not offered.
        image: None,
        voice_username: Some(voice_username(
            &text(user, "Alias").unwrap_or_default(),
            &text(user, "Id").unwrap_or_default(),
            org_id,
        )),
        bulkop: Some(BulkopDone {
            record_id: record.clone(),
            status: status.status.clone(),
            voice_provisioning_job_id: status.job_id.clone(),
        }),
    })
}

/// The username Service Cloud Voice gives the Connect user it makes: "default form `alias@UserId@OrgId`"
/// (../shared/reference/salesforce-rest.md).
pub fn voice_username(alias: &str, user_id: &str, org_id: &str) -> String {
    format!("{alias}@{user_id}@{org_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_are_paced_to_the_operations_left() {
        assert_eq!(next_wait(LONGEST_WAIT, None, 2_000), FIRST_WAIT, "the first look comes soon");
        // 100 finished in 0.2 s: 1,900 left take 3.8 s.
        let paced = next_wait(FIRST_WAIT, Some((100, Duration::from_millis(200))), 1_900);
        assert_eq!(paced, Duration::from_millis(3_800));
        assert_eq!(next_wait(FIRST_WAIT, Some((1, Duration::from_secs(1))), 5_000), LONGEST_WAIT, "never past 5 s");
        assert_eq!(next_wait(FIRST_WAIT, Some((1_000, Duration::from_millis(10))), 1), FIRST_WAIT, "nor under 0.2 s");
        // No progress since the last look: back off.
        assert_eq!(
            next_wait(Duration::from_millis(400), Some((0, Duration::from_secs(1))), 10),
            Duration::from_millis(800)
        );
    }
}
