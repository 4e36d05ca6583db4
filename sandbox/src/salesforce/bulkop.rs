//! What Salesforce does in the background on the bulk path: an ingest job whose upload is complete loads its
//! records, and each ContactCenterBulkOp record is then worked at the org's pace, the way
//! ../shared/seeds/salesforce-voice-bulk-users.txt describes: its arguments checked, the user put in the contact
//! center with the permission set of its profile, and its Status and ErrorMessage set.

use std::time::Duration;

use ccbulk_shared::domain::bulkop_status;
use serde_json::{Value, json};

use super::bulk::{JobState, RecordResult};
use super::knobs::BulkKnobs;
use super::org::{Org, Record, canonical_id, schema};

/// Carries the fraction of a record the rate allowed but no tick has worked yet.
#[derive(Debug, Default)]
pub struct Processor {
    allowance: f64,
}

impl Processor {
    /// Moves every job and record on by `elapsed` worth of work.
    pub fn tick(&mut self, org: &mut Org, knobs: &BulkKnobs, elapsed: Duration) {
        run_jobs(org, knobs);
        self.allowance += knobs.records_per_second * elapsed.as_secs_f64();
        let due = self.allowance.floor() as usize;
        if due == 0 {
            return;
        }
        let pending: Vec<String> = org
            .records("ContactCenterBulkOp")
            .filter(|r| text(r, "Status") == Some(bulkop_status::PENDING))
            .filter_map(|r| text(r, "Id").map(str::to_owned))
            .take(due)
            .collect();
        // An idle processor saves no allowance for a burst later.
        self.allowance = if pending.len() < due { 0.0 } else { self.allowance - due as f64 };
        for id in pending {
            work(org, &id, knobs);
        }
    }
}

fn text<'r>(record: &'r Record, field: &str) -> Option<&'r str> {
    record.get(field).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty())
}

/// A job whose upload is complete shows as InProgress for a tick, then loads its records and completes (or, under
/// the `job_failure` knob, fails as a whole with none loaded).
fn run_jobs(org: &mut Org, knobs: &BulkKnobs) {
    let due: Vec<(String, JobState)> = org
        .bulk
        .jobs
        .values()
        .filter(|job| matches!(job.state, JobState::UploadComplete | JobState::InProgress))
        .map(|job| (job.id.clone(), job.state))
        .collect();
    for (id, state) in due {
        if state == JobState::UploadComplete {
            if let Some(job) = org.bulk.jobs.get_mut(&id) {
                job.state = JobState::InProgress;
            }
            continue;
        }
        let Some(job) = org.bulk.jobs.get(&id).cloned() else { continue };
        let (state, results, error) = match load(org, &job.object, &job.header, &job.records, &id, knobs) {
            Ok(results) => (JobState::JobComplete, results, None),
            Err(message) => (JobState::Failed, vec![RecordResult::Unprocessed; job.records.len()], Some(message)),
        };
        if let Some(job) = org.bulk.jobs.get_mut(&id) {
            job.state = state;
            job.results = results;
            job.error_message = error;
        }
    }
}

/// Inserts a job's records, each succeeding or failing alone; the error form is Bulk API's `CODE:message:fields --`.
fn load(
    org: &mut Org,
    object: &str,
    header: &[String],
    records: &[Vec<String>],
    job_id: &str,
    knobs: &BulkKnobs,
) -> Result<Vec<RecordResult>, String> {
    if let Some(message) = &knobs.job_failure {
        return Err(message.clone());
    }
    let schema = schema(object).ok_or_else(|| format!("InvalidBatch : Unknown object {object}"))?;
    if let Some(unknown) = header.iter().find(|name| schema.field(name).is_none()) {
        return Err(format!("InvalidBatch : Field name not found : {unknown}"));
    }
    let mut results = Vec::with_capacity(records.len());
    for record in records {
        // An empty cell is no value (Bulk API 2.0 "Prepare CSV Files": empty field values are ignored on insert).
        let fields: Record = header
            .iter()
            .zip(record)
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name.clone(), json!(value)))
            .collect();
        results.push(match org.create(schema, &fields) {
            Ok(id) => {
                org.write_system_field(schema.name, &id, "VoiceProvisioningJobID", json!(job_id));
                RecordResult::Created { id }
            }
            Err(errs) => RecordResult::Failed {
                error: errs.iter().map(|e| format!("{}:{}:{} --", e.code, e.message, e.fields.join(","))).collect(),
            },
        });
    }
    Ok(results)
}

/// Works one ContactCenterBulkOp record and sets its Status and ErrorMessage.
fn work(org: &mut Org, id: &str, knobs: &BulkKnobs) {
    let Some(record) = org.get("ContactCenterBulkOp", id).cloned() else { return };
    let outcome = if fastrand::f64() < knobs.record_failure_rate {
        Err("An unexpected error occurred while adding the user to the contact center (sandbox fault)".to_owned())
    } else {
        add_user(org, &record)
    };
    let (status, message) = match outcome {
        Ok(()) => (bulkop_status::COMPLETED, Value::Null),
        Err(message) => (bulkop_status::FAILED, json!(message)),
    };
    org.write_system_field("ContactCenterBulkOp", id, "Status", json!(status));
    org.write_system_field("ContactCenterBulkOp", id, "ErrorMessage", message);
}

/// AddUsers: the seed's checks, then the permission set and the contact center, in the order Salesforce's own setup
/// follows (the set first: a contact center takes only users who hold one).
fn add_user(org: &mut Org, record: &Record) -> Result<(), String> {
    let arg = |n: u8| text(record, &format!("Argument{n}"));
    // "The user ID must be 18 characters".
    let given = arg(2).ok_or("Argument2: the user ID is missing")?;
    if given.len() != 18 {
        return Err(format!("Argument2: the user ID must be 18 characters, not {}", given.len()));
    }
    let user = canonical_id(given)
        .filter(|id| id == given)
        .and_then(|id| org.get("User", &id).cloned())
        .ok_or_else(|| format!("Argument2: no user has the ID {given}"))?;
    let user_id = text(&user, "Id").unwrap_or_default().to_owned();
    let email = arg(1).unwrap_or_default();
    if !text(&user, "Email").is_some_and(|e| e.eq_ignore_ascii_case(email)) {
        return Err(format!("Argument1: {email} is not the email address of user {user_id}"));
    }
    let center = arg(5).ok_or("Argument5: the contact center ID is missing")?;
    let center = canonical_id(center)
        .filter(|id| org.get("CallCenter", id).is_some())
        .ok_or_else(|| format!("Argument5: no contact center has the ID {center}"))?;
    let permission_set = if org.partner_centers.contains(&center) {
        if arg(3).is_some() || arg(4).is_some() {
            return Err("Argument3 and Argument4 are for Amazon Connect contact centers, not Partner Telephony".into());
        }
        // "In this case, the Partner Telephony Permission Set is also automatically assigned to the user."
        "ContactCenterAgentPartnerTelephony"
    } else {
        // "This is a case-sensitive field, and the only possible values are Admin, Agent, and CallCenterManager."
        let set = match arg(3) {
            Some("Admin") => "ContactCenterAdmin",
            Some("Agent") => "ContactCenterAgent",
            Some("CallCenterManager") => "ContactCenterSupervisor",
            _ => return Err("Argument3: the profile is Admin, Agent or CallCenterManager, in that case".into()),
        };
        if !arg(4).is_some_and(routing_profile_arn) {
            return Err("Argument4: not an Amazon Connect routing-profile ARN".into());
        }
        set
    };
    match text(&user, "CallCenterId") {
        Some(current) if canonical_id(current).as_deref() != Some(center.as_str()) => {
            return Err("the user belongs to another contact center; a user belongs to one contact center".into());
        }
        _ => {}
    }
    grant(org, &user_id, permission_set)?;
    let schema = schema("User").expect("a known object");
    let mut fields = Record::new();
    fields.insert("CallCenterId".into(), json!(center));
    org.update(schema, &user_id, &fields).map_err(|errs| errs[0].message.clone())
}

/// Assigns `set` (an assignment already there counts) and takes back any other contact-center set: a profile changed.
fn grant(org: &mut Org, user_id: &str, set: &str) -> Result<(), String> {
    let set_id = |org: &Org, name: &str| {
        org.find_by("PermissionSet", "Name", name).and_then(|s| text(s, "Id")).map(str::to_owned)
    };
    let wanted = set_id(org, set).ok_or_else(|| format!("the org has no permission set {set}"))?;
    let held: Vec<(String, String)> = org
        .records("PermissionSetAssignment")
        .filter(|a| text(a, "AssigneeId") == Some(user_id))
        .filter_map(|a| Some((text(a, "Id")?.to_owned(), text(a, "PermissionSetId")?.to_owned())))
        .collect();
    if !held.iter().any(|(_, set)| *set == wanted) {
        let schema = schema("PermissionSetAssignment").expect("a known object");
        let mut fields = Record::new();
        fields.insert("AssigneeId".into(), json!(user_id));
        fields.insert("PermissionSetId".into(), json!(wanted));
        org.create(schema, &fields).map_err(|errs| errs[0].message.clone())?;
    }
    for (assignment, set) in held.iter().filter(|(_, set)| *set != wanted) {
        let is_voice = org
            .get("PermissionSet", set)
            .and_then(|s| text(s, "Name"))
            .is_some_and(|name| name.starts_with("ContactCenter"));
        if is_voice {
            let schema = schema("PermissionSetAssignment").expect("a known object");
            let _ = org.delete(schema, assignment);
        }
    }
    Ok(())
}

/// `arn:aws:connect:<region>:<account>:instance/<id>/routing-profile/<id>` (IAM's resource types for Amazon
/// Connect: routing-profile).
fn routing_profile_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else { return false };
    let path: Vec<&str> = resource.split('/').collect();
    arn == "arn"
        && partition.starts_with("aws")
        && service == "connect"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && matches!(path[..], ["instance", instance, "routing-profile", profile] if !instance.is_empty() && !profile.is_empty())
}
