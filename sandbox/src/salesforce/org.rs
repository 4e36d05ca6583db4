//! The org's records and the rules a write must pass, as the REST API reports them.

use super::bulk::IngestJobs;
use super::picklists;
use ccbulk_shared::domain::bulkop_status;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use ccbulk_shared::sfid::SalesforceId;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// One error as a single-record call reports it (`errorCode`); collections rename it `statusCode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SfError {
    #[serde(rename = "errorCode")]
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

impl SfError {
    pub fn new(code: &str, message: impl Into<String>, fields: &[&str]) -> Self {
        Self { code: code.into(), message: message.into(), fields: fields.iter().map(|f| (*f).to_owned()).collect() }
    }
}

pub type Record = Map<String, Value>;

/// The objects the sandbox knows, with their key prefixes and fields.
pub struct Schema {
    pub name: &'static str,
    pub prefix: &'static str,
    pub fields: &'static [&'static str],
    pub required: &'static [&'static str],
    pub deletable: bool,
    /// Longest text per field, as Salesforce enforces with STRING_TOO_LONG.
    pub lengths: &'static [(&'static str, usize)],
}

pub const SCHEMAS: &[Schema] = &[
    Schema {
        name: "User",
        prefix: "005",
        fields: &[
            "Id",
            "Username",
            "Email",
            "FirstName",
            "LastName",
            "Name",
            "Alias",
            "ProfileId",
            "TimeZoneSidKey",
            "LocaleSidKey",
            "EmailEncodingKey",
            "LanguageLocaleKey",
            "FederationIdentifier",
            "CallCenterId",
            "IsActive",
        ],
        required: &[
            "Username",
            "Email",
            "LastName",
            "Alias",
            "ProfileId",
            "TimeZoneSidKey",
            "LocaleSidKey",
            "EmailEncodingKey",
            "LanguageLocaleKey",
        ],
        deletable: false,
        lengths: &[
            ("Username", 80),
            ("Email", 128),
            ("FirstName", 40),
            ("LastName", 80),
            ("Alias", 8),
            ("FederationIdentifier", 512),
        ],
    },
    Schema { name: "Profile", prefix: "00e", fields: &["Id", "Name"], required: &[], deletable: false, lengths: &[] },
    Schema {
        name: "PermissionSet",
        prefix: "0PS",
        fields: &["Id", "Name", "Label"],
        required: &[],
        deletable: false,
        lengths: &[],
    },
    Schema {
        name: "PermissionSetAssignment",
        prefix: "0Pa",
        fields: &["Id", "AssigneeId", "PermissionSetId"],
        required: &["AssigneeId", "PermissionSetId"],
        deletable: true,
        lengths: &[],
    },
    // Salesforce's bulk path for contact-center users (../shared/seeds/salesforce-voice-bulk-users.txt). Its key
    // prefix is not documented: this one is the sandbox's own. Argument1 and BulkAction are mandatory there.
    Schema {
        name: "ContactCenterBulkOp",
        prefix: "0Xb",
        fields: &[
            "Id",
            "Argument1",
            "Argument2",
            "Argument3",
            "Argument4",
            "Argument5",
            "BulkAction",
            "Status",
            "ErrorMessage",
            "VoiceProvisioningJobID",
        ],
        required: &["Argument1", "BulkAction"],
        deletable: true,
        lengths: &[("Argument1", 255), ("Argument2", 255), ("Argument3", 255), ("Argument4", 255), ("Argument5", 255)],
    },
    // Read-only: the org's permission set licenses, of which the sandbox knows one, "Salesforce Voice User", when the
    // seed counts its seats (Object Reference, PermissionSetLicense: TotalLicenses, UsedLicenses; query only).
    Schema {
        name: "PermissionSetLicense",
        prefix: "0PL",
        fields: &["Id", "DeveloperName", "MasterLabel", "TotalLicenses", "UsedLicenses", "Status"],
        required: &[],
        deletable: false,
        lengths: &[],
    },
    Schema {
        name: "CallCenter",
        prefix: "04v",
        fields: &["Id", "Name", "InternalName"],
        required: &[],
        deletable: false,
        lengths: &[],
    },
];

/// ContactCenterBulkOp's fields that only Salesforce writes ("You can add or update only the Argument1, Argument2,
/// Argument3, Argument4, Argument5, and BulkAction fields. The remaining fields are read-only",
/// ../shared/seeds/salesforce-voice-bulk-users.txt).
const BULKOP_READ_ONLY: &[&str] = &["Status", "ErrorMessage", "VoiceProvisioningJobID"];

pub fn schema(name: &str) -> Option<&'static Schema> {
    SCHEMAS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

impl Schema {
    /// The field's canonical spelling (field names are case-insensitive).
    pub fn field(&self, name: &str) -> Option<&'static str> {
        self.fields.iter().find(|f| f.eq_ignore_ascii_case(name)).copied()
    }
}

#[derive(Clone, Default)]
pub struct Org {
    pub id: String,
    records: BTreeMap<&'static str, BTreeMap<String, Record>>,
    counter: u64,
    /// Usernames taken in other orgs: Salesforce usernames are unique across all orgs.
    pub taken_elsewhere: HashSet<String>,
    /// Seats of the "Salesforce Voice User" permission set license; `None`: unlimited.
    pub voice_seats: Option<usize>,
    /// Permission sets that need a Voice seat.
    pub voice_permission_sets: HashSet<String>,
    /// The share of collection records the current call refuses with `UNABLE_TO_LOCK_ROW` (a knob, set per call).
    pub row_lock_rate: f64,
    /// Per user id, the new email address that waits for its owner's confirmation, and the confirmation mails sent.
    pub email_changes: BTreeMap<String, EmailChange>,
    /// Bulk API 2.0 ingest jobs.
    pub bulk: IngestJobs,
    /// Contact centers (canonical ids) under Partner Telephony; the others are Amazon Connect's.
    pub partner_centers: HashSet<String>,
    /// "Service Cloud Voice with Amazon Connect": a user who joins an Amazon Connect contact center gets a Connect
    /// user that Salesforce creates (../shared/reference/salesforce-rest.md).
    pub voice_sync: bool,
    /// Users who joined an Amazon Connect contact center in a syncing org, and when: Salesforce's sync is to come.
    pub joins: Vec<(String, Instant)>,
    /// What the sync could not do, per user id.
    pub sync_failures: BTreeMap<String, String>,
    /// Users whose alias changed while they were in a contact center: "Updating the alias of the Salesforce user
    /// breaks AWS single sign-on" (../shared/seeds/salesforce-add-remove-contact-center-users.txt). Salesforce takes
    /// the change; the sandbox remembers the damage so that tests can see it.
    pub sso_broken: HashSet<String>,
    /// PermissionSetAssignment ids per assignee: a user's sets are looked up on every membership change and grant,
    /// and a scan of every assignment there made an org of thousands of members crawl.
    assignments: HashMap<String, BTreeSet<String>>,
    /// User ids per (field, value, ASCII letter case aside as SOQL compares) for the fields users are looked up by:
    /// an org of 100,000 users answers a lookup or a uniqueness check without reading them all.
    users_by: HashMap<(&'static str, String), BTreeSet<String>>,
}

/// The User fields ccbulk looks users up by, and the ones Salesforce keeps unique.
pub const INDEXED_USER_FIELDS: [&str; 2] = ["Username", "FederationIdentifier"];

/// A user's email change: Salesforce keeps the old address until the owner of the new one confirms it, even when
/// the API made the change, and each change sends another confirmation mail (Salesforce Help, knowledge article
/// 000385115). A new user's address takes no confirmation.
#[derive(Debug, Clone, Default)]
pub struct EmailChange {
    pub pending: Option<String>,
    pub confirmations_sent: u32,
}

/// A record's value of an indexed field, as the index keys it.
fn indexed(record: &Record, field: &str) -> Option<String> {
    record.get(field).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_ascii_lowercase)
}

/// The user a permission set assignment is indexed under.
fn assignee(assignment: &Record) -> Option<String> {
    assignment.get("AssigneeId").and_then(Value::as_str).and_then(canonical_id)
}

impl Org {
    pub fn new(id: String) -> Self {
        Self { id, ..Self::default() }
    }

    pub fn new_id(&mut self, schema: &Schema) -> String {
        // A seed may hold ids of this very form: a new record never takes one of them over.
        loop {
            self.counter += 1;
            let short = format!("{}Sb{:010}", schema.prefix, self.counter);
            let id = SalesforceId::parse(&short).map(|id| id.as_str().to_owned()).unwrap_or(short);
            if self.get(schema.name, &id).is_none() {
                return id;
            }
        }
    }

    /// Stores a record under its id, keeping the indexes true.
    fn put(&mut self, object: &'static str, id: String, record: Record) {
        if object == "User" {
            for field in INDEXED_USER_FIELDS {
                if let Some(old) = self.get(object, &id).and_then(|r| indexed(r, field)) {
                    self.users_by.entry((field, old)).or_default().remove(&id);
                }
                if let Some(new) = indexed(&record, field) {
                    self.users_by.entry((field, new)).or_default().insert(id.clone());
                }
            }
        }
        if object == "PermissionSetAssignment" {
            if let Some(old) = self.get(object, &id).and_then(assignee) {
                self.assignments.entry(old).or_default().remove(&id);
            }
            if let Some(new) = assignee(&record) {
                self.assignments.entry(new).or_default().insert(id.clone());
            }
        }
        self.records.entry(object).or_default().insert(id, record);
    }

    /// A user's permission set assignments.
    pub fn assignments_of<'a>(&'a self, user_id: &str) -> impl Iterator<Item = &'a Record> + 'a {
        let ids = canonical_id(user_id).and_then(|id| self.assignments.get(&id));
        ids.into_iter().flatten().filter_map(|id| self.get("PermissionSetAssignment", id))
    }

    /// The users whose `field` (one of [`INDEXED_USER_FIELDS`]) holds `value`, ASCII letter case aside, in id order.
    pub fn users_with<'a>(&'a self, field: &str, value: &str) -> impl Iterator<Item = &'a Record> + 'a {
        let field = INDEXED_USER_FIELDS.into_iter().find(|f| *f == field);
        let ids = field.and_then(|field| self.users_by.get(&(field, value.to_ascii_lowercase())));
        ids.into_iter().flatten().filter_map(|id| self.get("User", id))
    }

    pub fn records(&self, object: &str) -> impl Iterator<Item = &Record> {
        self.records.get(object).into_iter().flat_map(|records| records.values())
    }

    pub fn get(&self, object: &str, id: &str) -> Option<&Record> {
        self.records.get(object)?.get(&canonical_id(id)?)
    }

    /// Inserts a record as seeded, bypassing the rules; an `Id` in the record is kept (as 18 characters).
    pub fn seed(&mut self, schema: &'static Schema, mut record: Record) -> String {
        let given = record.get("Id").and_then(Value::as_str).and_then(canonical_id);
        let id = given.unwrap_or_else(|| self.new_id(schema));
        record.insert("Id".into(), json!(id));
        self.put(schema.name, id.clone(), with_name(schema, record));
        id
    }

    pub fn find_by(&self, object: &str, field: &str, value: &str) -> Option<&Record> {
        if object == "User" && INDEXED_USER_FIELDS.contains(&field) {
            return self.users_with(field, value).next();
        }
        self.records(object)
            .find(|r| r.get(field).and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case(value)))
    }

    /// Creates a record after the checks Salesforce makes; returns its id.
    pub fn create(&mut self, schema: &'static Schema, fields: &Record) -> Result<String, Vec<SfError>> {
        let record = self.check(schema, None, fields)?;
        let id = self.new_id(schema);
        let mut record = record;
        record.insert("Id".into(), json!(id));
        if schema.name == "User" && self.joins_amazon_connect_center(&Record::new(), &record) {
            self.joins.push((id.clone(), Instant::now()));
        }
        if schema.name == "User" && !record.contains_key("IsActive") {
            record.insert("IsActive".into(), json!(true));
        }
        if schema.name == "ContactCenterBulkOp" {
            record.insert("Status".into(), json!(bulkop_status::PENDING));
        }
        self.put(schema.name, id.clone(), with_name(schema, record));
        Ok(id)
    }

    pub fn update(&mut self, schema: &'static Schema, id: &str, fields: &Record) -> Result<(), Vec<SfError>> {
        let Some(existing) = self.get(schema.name, id).cloned() else {
            return Err(vec![not_found(id)]);
        };
        let mut merged = existing;
        let mut changes = self.check(schema, Some(&merged), fields)?;
        if schema.name == "User"
            && let Some(email) = changes.remove("Email")
            && merged.get("Email") != Some(&email)
        {
            let change = self.email_changes.entry(canonical_id(id).unwrap_or_default()).or_default();
            change.pending = email.as_str().map(str::to_owned);
            change.confirmations_sent += 1;
        }
        let member =
            |record: &Record| record.get("CallCenterId").and_then(Value::as_str).is_some_and(|c| !c.is_empty());
        let stays_member = member(&merged) && changes.get("CallCenterId").is_none_or(|c| !c.is_null());
        if schema.name == "User"
            && stays_member
            && changes.get("Alias").is_some_and(|alias| merged.get("Alias") != Some(alias))
        {
            self.sso_broken.insert(canonical_id(id).unwrap_or_default());
        }
        let joined = schema.name == "User" && self.joins_amazon_connect_center(&merged, &changes);
        merged.extend(changes);
        let id = merged["Id"].as_str().unwrap_or_default().to_owned();
        if joined {
            self.joins.push((id.clone(), Instant::now()));
        }
        self.put(schema.name, id, with_name(schema, merged));
        Ok(())
    }

    /// The owner of a pending address follows the confirmation link: the user's Email becomes that address.
    pub fn confirm_email(&mut self, id: &str) -> bool {
        let Some(id) = canonical_id(id) else { return false };
        let Some(email) = self.email_changes.get_mut(&id).and_then(|change| change.pending.take()) else {
            return false;
        };
        match self.records.get_mut("User").and_then(|users| users.get_mut(&id)) {
            Some(user) => {
                user.insert("Email".into(), json!(email));
                true
            }
            None => false,
        }
    }

    pub fn delete(&mut self, schema: &'static Schema, id: &str) -> Result<(), Vec<SfError>> {
        if !schema.deletable {
            return Err(vec![SfError::new(
                "INVALID_TYPE_FOR_OPERATION",
                format!("entity type {} does not support delete", schema.name),
                &[],
            )]);
        }
        let key = canonical_id(id).ok_or_else(|| vec![malformed(id)])?;
        let removed = self.records.get_mut(schema.name).and_then(|records| records.remove(&key));
        let removed = removed.ok_or_else(|| vec![not_found(id)])?;
        if let Some(ids) = assignee(&removed).and_then(|user| self.assignments.get_mut(&user)) {
            ids.remove(&key);
        }
        if schema.name == "User" {
            for field in INDEXED_USER_FIELDS {
                if let Some(value) = indexed(&removed, field) {
                    self.users_by.entry((field, value)).or_default().remove(&key);
                }
            }
        }
        Ok(())
    }

    /// Validates `fields` for a create (`existing` is `None`) or an update; returns them with canonical names.
    fn check(
        &self,
        schema: &'static Schema,
        existing: Option<&Record>,
        fields: &Record,
    ) -> Result<Record, Vec<SfError>> {
        let mut record = Record::new();
        for (name, value) in fields {
            if name == "attributes" || (name == "Id" && existing.is_some()) {
                continue;
            }
            match schema.field(name) {
                Some("Id") | Some("Name") | None => {
                    return Err(vec![SfError::new(
                        "INVALID_FIELD",
                        format!("No such column '{name}' on sobject of type {}", schema.name),
                        &[],
                    )]);
                }
                Some(field) => {
                    record.insert(field.to_owned(), value.clone());
                }
            }
        }
        let merged = |field: &str| record.get(field).or_else(|| existing.and_then(|e| e.get(field)));
        let missing: Vec<&str> =
            schema.required.iter().copied().filter(|f| merged(f).is_none_or(|v| v.is_null() || v == "")).collect();
        if !missing.is_empty() {
            return Err(vec![SfError::new(
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{}]", missing.join(", ")),
                &missing,
            )]);
        }
        for (field, max) in schema.lengths {
            if let Some(text) = record.get(*field).and_then(Value::as_str)
                && text.chars().count() > *max
            {
                return Err(vec![SfError::new(
                    "STRING_TOO_LONG",
                    format!("{field}: data value too large: {text} (max length={max})"),
                    &[field],
                )]);
            }
        }
        match schema.name {
            "User" => self.check_user(existing, &record),
            "ContactCenterBulkOp" => check_bulkop(&record),
            "PermissionSetAssignment" => self.check_assignment(&record),
            _ => Ok(()),
        }?;
        // Lookups are stored in their 18-character form, whatever form the caller sent.
        for (name, value) in record.iter_mut() {
            if name.ends_with("Id")
                && let Some(id) = value.as_str().and_then(canonical_id)
            {
                *value = json!(id);
            }
        }
        Ok(record)
    }

    fn check_user(&self, existing: Option<&Record>, record: &Record) -> Result<(), Vec<SfError>> {
        picklists::check_user(record).map_err(|err| vec![err])?;
        for field in ["Username", "Email"] {
            if let Some(text) = record.get(field).and_then(Value::as_str)
                && !email_form(text)
            {
                return Err(vec![SfError::new(
                    "INVALID_EMAIL_ADDRESS",
                    format!("{field}: invalid email address: {text}"),
                    &[field],
                )]);
            }
        }
        let own_id = existing.and_then(|e| e.get("Id")).and_then(Value::as_str);
        if let Some(username) = record.get("Username").and_then(Value::as_str) {
            let taken_here = self.other_user_with("Username", username, own_id).is_some();
            if taken_here || self.taken_elsewhere.contains(&username.to_lowercase()) {
                return Err(vec![SfError::new(
                    "DUPLICATE_USERNAME",
                    "Duplicate Username.<br>The username already exists in this or another Salesforce organization. \
                     Usernames must be unique across all Salesforce organizations.",
                    &["Username"],
                )]);
            }
        }
        // FederationIdentifier is unique in an org (Salesforce Help, "Federation ID": no two users share one); the
        // comparison here ignores case, at least as strict as the service.
        if let Some(federation_id) =
            record.get("FederationIdentifier").and_then(Value::as_str).filter(|f| !f.is_empty())
            && let Some(holder) = self.other_user_with("FederationIdentifier", federation_id, own_id)
        {
            return Err(vec![SfError::new(
                "DUPLICATE_VALUE",
                format!(
                    "duplicate value found: FederationIdentifier duplicates value on record with id: {}",
                    holder.get("Id").and_then(Value::as_str).unwrap_or_default()
                ),
                &["FederationIdentifier"],
            )]);
        }
        for (field, object) in [("ProfileId", "Profile"), ("CallCenterId", "CallCenter")] {
            self.reference(record, field, object)?;
        }
        self.check_membership(existing, record)
    }

    /// Whether a User write puts its user in an Amazon Connect contact center that syncs: one it was not in before.
    fn joins_amazon_connect_center(&self, before: &Record, changes: &Record) -> bool {
        let center = |record: &Record| {
            record.get("CallCenterId").and_then(Value::as_str).filter(|c| !c.is_empty()).and_then(canonical_id)
        };
        self.voice_sync
            && center(changes).is_some_and(|to| !self.partner_centers.contains(&to) && center(before) != Some(to))
    }

    /// Sets a field only Salesforce writes (a bulk operation's Status), past the rules a caller's write passes.
    pub fn write_system_field(&mut self, object: &str, id: &str, field: &str, value: Value) {
        let record = canonical_id(id).and_then(|id| self.records.get_mut(object)?.get_mut(&id));
        if let Some(record) = record {
            record.insert(field.to_owned(), value);
        }
    }

    /// The user calls run as: the org's first user, which the default seed makes the integration user.
    pub fn run_as_user(&self) -> String {
        self.records("User").next().and_then(|u| u.get("Id")).and_then(Value::as_str).unwrap_or_default().to_owned()
    }

    /// Another user than `own_id` whose `field` holds `value`, letter case aside.
    fn other_user_with(&self, field: &str, value: &str, own_id: Option<&str>) -> Option<&Record> {
        self.users_with(field, value).find(|u| u.get("Id").and_then(Value::as_str) != own_id)
    }

    /// A contact center takes only users who hold a contact-center (Voice) permission set
    /// (../shared/seeds/salesforce-add-remove-contact-center-users.txt: "You can add reps who have the right
    /// permission set"). The setup page enforces it; whether the API does is not documented, so the sandbox does, at
    /// least as strict as the service, with an error code of its own choosing.
    fn check_membership(&self, existing: Option<&Record>, record: &Record) -> Result<(), Vec<SfError>> {
        let joining = record.get("CallCenterId").and_then(Value::as_str).is_some_and(|id| !id.is_empty());
        if !joining {
            return Ok(());
        }
        let user_id = existing.and_then(|e| e.get("Id")).and_then(Value::as_str).unwrap_or_default();
        let holds_voice = self
            .assignments_of(user_id)
            .any(|a| a["PermissionSetId"].as_str().is_some_and(|set| self.voice_permission_sets.contains(set)));
        if holds_voice || self.voice_permission_sets.is_empty() {
            return Ok(());
        }
        Err(vec![SfError::new(
            "FIELD_INTEGRITY_EXCEPTION",
            "CallCenterId: a contact center's users need a contact-center permission set first",
            &["CallCenterId"],
        )])
    }

    fn check_assignment(&self, record: &Record) -> Result<(), Vec<SfError>> {
        self.reference(record, "AssigneeId", "User")?;
        self.reference(record, "PermissionSetId", "PermissionSet")?;
        let assignee = canonical_id(record["AssigneeId"].as_str().unwrap_or_default()).unwrap_or_default();
        let permission_set = canonical_id(record["PermissionSetId"].as_str().unwrap_or_default()).unwrap_or_default();
        let same = |r: &&Record| r["PermissionSetId"] == json!(permission_set);
        if let Some(duplicate) = self.assignments_of(&assignee).find(same) {
            return Err(vec![SfError::new(
                "DUPLICATE_VALUE",
                format!(
                    "duplicate value found: <unknown> duplicates value on record with id: {}",
                    duplicate["Id"].as_str().unwrap_or("")
                ),
                &[],
            )]);
        }
        if let Some(seats) = self.voice_seats
            && self.voice_permission_sets.contains(&permission_set)
        {
            let voice_users = self.voice_users();
            if !voice_users.contains(assignee.as_str()) && voice_users.len() >= seats {
                return Err(vec![SfError::new(
                    "LICENSE_LIMIT_EXCEEDED",
                    "License Limit Exceeded: no Salesforce Voice User permission set licenses are left",
                    &[],
                )]);
            }
        }
        Ok(())
    }

    /// The users who hold a Voice permission set: each takes one seat of the license, whatever sets they hold.
    fn voice_users(&self) -> HashSet<&str> {
        self.records("PermissionSetAssignment")
            .filter(|r| r["PermissionSetId"].as_str().is_some_and(|ps| self.voice_permission_sets.contains(ps)))
            .filter_map(|r| r["AssigneeId"].as_str())
            .collect()
    }

    /// The org's permission set licenses as a query reads them: the Voice one, its seats used counted now.
    pub fn permission_set_licenses(&self) -> Vec<Record> {
        let Some(seats) = self.voice_seats else { return Vec::new() };
        let record = json!({
            "Id": "0PL000000000001AAA", "DeveloperName": "SalesforceVoiceUser", "MasterLabel": "Salesforce Voice User",
            "TotalLicenses": seats, "UsedLicenses": self.voice_users().len(), "Status": "Active",
        });
        record.as_object().cloned().into_iter().collect()
    }

    /// A lookup field must hold a well-formed id of an existing record of `object`.
    fn reference(&self, record: &Record, field: &str, object: &str) -> Result<(), Vec<SfError>> {
        let Some(value) = record.get(field) else { return Ok(()) };
        let Some(text) = value.as_str().filter(|t| !t.is_empty()) else { return Ok(()) };
        if canonical_id(text).is_none() {
            return Err(vec![SfError::new(
                "MALFORMED_ID",
                format!("{field}: id value of incorrect type: {text}"),
                &[field],
            )]);
        }
        if self.get(object, text).is_none() {
            return Err(vec![SfError::new("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", &[field])]);
        }
        Ok(())
    }
}

/// The 18-character form of a 15- or 18-character id.
/// Only Salesforce writes a bulk operation's outcome, and `AddUsers` is the one action ("Allowed value is
/// AddUsers", ../shared/seeds/salesforce-voice-bulk-users.txt).
fn check_bulkop(record: &Record) -> Result<(), Vec<SfError>> {
    if let Some(field) = BULKOP_READ_ONLY.iter().find(|f| record.contains_key(**f)) {
        return Err(vec![SfError::new(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            format!("Unable to create/update fields: {field}. Please check the security settings of this field."),
            &[field],
        )]);
    }
    match record.get("BulkAction").and_then(Value::as_str) {
        None | Some("AddUsers") => Ok(()),
        Some(other) => Err(vec![SfError::new(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            format!("Bulk Action: bad value for restricted picklist field: {other}"),
            &["BulkAction"],
        )]),
    }
}

pub fn canonical_id(id: &str) -> Option<String> {
    SalesforceId::parse(id).ok().map(|id| id.as_str().to_owned())
}

pub fn not_found(id: &str) -> SfError {
    SfError::new("NOT_FOUND", format!("The requested resource does not exist: {id}"), &[])
}

pub fn malformed(id: &str) -> SfError {
    SfError::new("MALFORMED_ID", format!("malformed id {id}"), &[])
}

fn with_name(schema: &Schema, mut record: Record) -> Record {
    if schema.name == "User" {
        let first = record.get("FirstName").and_then(Value::as_str).unwrap_or_default();
        let last = record.get("LastName").and_then(Value::as_str).unwrap_or_default();
        record.insert("Name".into(), json!(format!("{first} {last}").trim().to_owned()));
    }
    record
}

fn email_form(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.contains(' ')
}
