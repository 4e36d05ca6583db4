//! What Salesforce does in the background on the bulk path: an ingest job whose upload is complete loads its
//! records, and each ContactCenterBulkOp record is then worked at the org's pace, the way
//! ../shared/seeds/salesforce-voice-bulk-users.txt describes: its arguments checked, the user put in the contact
//! center with the permission set of its profile, and its Status and ErrorMessage set.

use std::time::{Duration, Instant};

use ccbulk_shared::domain::bulkop_status;
use serde_json::{Value, json};

use super::bulk::{JobState, RecordResult};
use super::knobs::{BulkKnobs, SalesforceKnobs};
use super::org::{Org, Record, canonical_id, schema};
use crate::connect::{VoiceLink, VoiceUser};

/// The Connect instance a Service Cloud Voice org provisions its Amazon Connect contact centers' users into.
#[derive(Debug, Clone)]
pub struct VoiceSync {
    pub link: VoiceLink,
    pub instance_id: String,
}

/// Service Cloud Voice's username for a user's Connect user: "default form `alias@UserId@OrgId`"
/// (../shared/reference/salesforce-rest.md).
pub fn voice_username(alias: &str, user_id: &str, org_id: &str) -> String {
    format!("{alias}@{user_id}@{org_id}")
}

/// Carries the fraction of a record the rate allowed but no tick has worked yet.
#[derive(Debug, Default)]
pub struct Processor {
    allowance: f64,
}

impl Processor {
    /// Moves every job, record and sync on by `elapsed` worth of work.
    pub fn tick(&mut self, org: &mut Org, knobs: &SalesforceKnobs, voice: Option<&VoiceSync>, elapsed: Duration) {
        sync_joins(org, voice, Duration::from_millis(knobs.voice_sync_delay_ms));
        let knobs = &knobs.bulk;
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
            work(org, &id, knobs, voice);
        }
    }
}

/// In a syncing org, Salesforce creates the Connect user of each user who joined an Amazon Connect contact center,
/// `delay` after the join, with the instance's Basic Routing Profile and the security profile of the user's Voice
/// permission set.
fn sync_joins(org: &mut Org, voice: Option<&VoiceSync>, delay: Duration) {
    let now = Instant::now();
    let (due, waiting): (Vec<_>, Vec<_>) = org.joins.drain(..).partition(|(_, joined)| now >= *joined + delay);
    org.joins = waiting;
    for (user_id, _) in due {
        let outcome = match (voice, org.get("User", &user_id).cloned()) {
            (None, _) => Err("no Amazon Connect instance is linked to the org".to_owned()),
            (_, None) => Err("the user is gone".to_owned()),
            (Some(voice), Some(user)) => {
                let security_profile = voice_profile(org, &user_id);
                voice.link.provision(&connect_user(org, &user, &voice.instance_id, None, security_profile)).map(|_| ())
            }
        };
        if let Err(message) = outcome {
            org.sync_failures.insert(user_id, message);
        }
    }
}

/// The security profile that matches the user's Voice permission set.
fn voice_profile(org: &Org, user_id: &str) -> &'static str {
    let held: Vec<String> = org
        .assignments_of(user_id)
        .filter_map(|a| org.get("PermissionSet", text(a, "PermissionSetId")?))
        .filter_map(|set| text(set, "Name").map(str::to_owned))
        .collect();
    if held.iter().any(|name| name.starts_with("ContactCenterAdmin")) {
        "Admin"
    } else if held.iter().any(|name| name.starts_with("ContactCenterSupervisor")) {
        "CallCenterManager"
    } else {
        "Agent"
    }
}

fn connect_user(
    org: &Org,
    user: &Record,
    instance_id: &str,
    routing_profile_id: Option<String>,
    security_profile: &str,
) -> VoiceUser {
    let field = |name: &str| text(user, name).map(str::to_owned);
    VoiceUser {
        instance_id: instance_id.to_owned(),
        username: voice_username(
            text(user, "Alias").unwrap_or_default(),
            text(user, "Id").unwrap_or_default(),
            &org.id,
        ),
        first_name: field("FirstName"),
        last_name: field("LastName").unwrap_or_default(),
        email: field("Email"),
        routing_profile_id,
        security_profile: security_profile.to_owned(),
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
fn work(org: &mut Org, id: &str, knobs: &BulkKnobs, voice: Option<&VoiceSync>) {
    let Some(record) = org.get("ContactCenterBulkOp", id).cloned() else { return };
    let outcome = if fastrand::f64() < knobs.record_failure_rate {
        Err("An unexpected error occurred while adding the user to the contact center (sandbox fault)".to_owned())
    } else {
        add_user(org, &record, voice)
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
fn add_user(org: &mut Org, record: &Record, voice: Option<&VoiceSync>) -> Result<(), String> {
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
    // Checked before anything is made: a refused record leaves no Connect user behind.
    match text(&user, "CallCenterId") {
        Some(current) if canonical_id(current).as_deref() != Some(center.as_str()) => {
            return Err("the user belongs to another contact center; a user belongs to one contact center".into());
        }
        _ => {}
    }
    let permission_set = if org.partner_centers.contains(&center) {
        if arg(3).is_some() || arg(4).is_some() {
            return Err("Argument3 and Argument4 are for Amazon Connect contact centers, not Partner Telephony".into());
        }
        // "In this case, the Partner Telephony Permission Set is also automatically assigned to the user."
        "ContactCenterAgentPartnerTelephony"
    } else {
        // "This is a case-sensitive field, and the only possible values are Admin, Agent, and CallCenterManager."
        let (set, profile) = match arg(3) {
            Some("Admin") => ("ContactCenterAdmin", "Admin"),
            Some("Agent") => ("ContactCenterAgent", "Agent"),
            Some("CallCenterManager") => ("ContactCenterSupervisor", "CallCenterManager"),
            _ => return Err("Argument3: the profile is Admin, Agent or CallCenterManager, in that case".into()),
        };
        let (instance_id, routing_profile_id) =
            arg(4).and_then(routing_profile_arn).ok_or("Argument4: not an Amazon Connect routing-profile ARN")?;
        // Salesforce creates (or links) the Connect user with the row's routing profile and the security profile
        // that matches its profile, in the instance the ARN names.
        // An org on Service Cloud Voice with Amazon Connect always has its instance; one with none cannot say it
        // made a Connect user, so the record fails rather than claim what did not happen.
        let voice = voice.ok_or("Amazon Connect: no instance is linked to the org")?;
        let wanted = connect_user(org, &user, &instance_id, Some(routing_profile_id), profile);
        voice.link.provision(&wanted).map_err(|reason| format!("Amazon Connect: {reason}"))?;
        set
    };
    grant(org, &user_id, permission_set)?;
    let schema = schema("User").expect("a known object");
    let mut fields = Record::new();
    fields.insert("CallCenterId".into(), json!(center));
    org.update(schema, &user_id, &fields).map_err(|errs| errs[0].message.clone())?;
    if voice.is_some() {
        // This join's Connect user is made already.
        org.joins.retain(|(joined, _)| *joined != user_id);
    }
    Ok(())
}

/// Assigns `set` (an assignment already there counts) and takes back any other contact-center set: a profile changed.
fn grant(org: &mut Org, user_id: &str, set: &str) -> Result<(), String> {
    let set_id = |org: &Org, name: &str| {
        org.find_by("PermissionSet", "Name", name).and_then(|s| text(s, "Id")).map(str::to_owned)
    };
    let wanted = set_id(org, set).ok_or_else(|| format!("the org has no permission set {set}"))?;
    let held: Vec<(String, String)> = org
        .assignments_of(user_id)
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

/// The instance and routing-profile ids of `arn:aws:connect:<region>:<account>:instance/<id>/routing-profile/<id>`
/// (IAM's resource types for Amazon Connect: routing-profile).
fn routing_profile_arn(text: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = text.split(':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else { return None };
    let well_formed = arn == "arn"
        && partition.starts_with("aws")
        && service == "connect"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit());
    match resource.split('/').collect::<Vec<_>>()[..] {
        ["instance", instance, "routing-profile", profile]
            if well_formed && !instance.is_empty() && !profile.is_empty() =>
        {
            Some((instance.to_owned(), profile.to_owned()))
        }
        _ => None,
    }
}
