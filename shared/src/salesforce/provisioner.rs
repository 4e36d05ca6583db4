//! The Salesforce side of a chunk of rows, in as few calls as the work allows: lookups once per chunk, writes in
//! sObject Collections, every record succeeding or failing alone.
//!
//! For each row: find (or, for `add`, create) the User; put it in the contact center (refusing a user who belongs
//! to another one); assign the Voice permission set for its role. `remove` clears the contact center and deletes the
//! Voice permission set assignments; Salesforce users are never deleted.

use std::collections::{BTreeSet, HashMap, HashSet};

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{CollectionResult, SalesforceClient, SalesforceError};
use super::reference::{OrgReference, Reference};
use crate::domain::{Action, ContactCenterRef, SalesforceUser, SalesforceUserRef, TelephonyModel, VoiceRole};
use crate::job::EmailChange;
use crate::undo::{SalesforceImage, SalesforceSettings};
use crate::validate::picklists::Picklist;

const USER_FIELDS: &str =
    "Id, Username, Email, FirstName, LastName, Alias, FederationIdentifier, CallCenterId, IsActive";

/// What a new user gets when its row leaves a field blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceDefaults {
    pub profile: String,
    pub time_zone: String,
    pub locale: String,
    pub language: String,
    pub email_encoding: String,
}

impl Default for SalesforceDefaults {
    fn default() -> Self {
        Self {
            profile: "Standard User".into(),
            time_zone: "America/Los_Angeles".into(),
            locale: "en_US".into(),
            language: "en_US".into(),
            email_encoding: "UTF-8".into(),
        }
    }
}

impl SalesforceDefaults {
    /// The first default Salesforce would refuse, its value and why: checked at start, so that a typo in a setting
    /// fails the deployment or the run instead of every new user.
    pub fn refused(&self) -> Option<(Picklist, String, String)> {
        [
            (Picklist::TimeZone, &self.time_zone),
            (Picklist::Locale, &self.locale),
            (Picklist::Language, &self.language),
            (Picklist::EmailEncoding, &self.email_encoding),
        ]
        .into_iter()
        .find_map(|(picklist, value)| picklist.check(value).err().map(|problem| (picklist, value.clone(), problem)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceOutcome {
    pub user_id: String,
    /// The user's record as it stands: a bulkop row's Connect user takes its username, names and email from it.
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub created: bool,
    pub permission_set_assignment_id: Option<String>,
    /// What became of a new email address for an existing user.
    pub email_confirmation: Option<EmailConfirmation>,
    /// The username of the Connect user Salesforce makes for this user (Service Cloud Voice, in bulkop mode).
    pub voice_username: Option<String>,
    /// In bulkop mode, what Salesforce made of the row's bulk operation.
    pub bulkop: Option<BulkopDone>,
    /// What the row did to the user, for undo (direct mode).
    pub image: Option<SalesforceImage>,
}

/// A bulk operation Salesforce completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkopDone {
    pub record_id: String,
    pub status: String,
    pub voice_provisioning_job_id: Option<String>,
}

/// Salesforce changes an existing user's email only once the owner of the new address confirms it, and each
/// request mails another link (Salesforce Help, knowledge article 000385115).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailConfirmation {
    /// Salesforce was asked for the change and mailed the new address a confirmation link.
    Sent { email: String },
    /// The same change was asked for at `requested_at` (seconds since the epoch) and waits for its owner: not asked
    /// again, so that the owner is not sent a second mail.
    AlreadySent { requested_at: u64 },
}

impl EmailConfirmation {
    /// The row's note, `now` in seconds since the epoch.
    pub fn note(&self, now: u64) -> String {
        match self {
            EmailConfirmation::Sent { .. } => "email: Salesforce sent a confirmation to the new address; the user's \
                 email changes once its owner confirms it (the link is valid 72 hours)"
                .into(),
            EmailConfirmation::AlreadySent { requested_at } => {
                let minutes = now.saturating_sub(*requested_at) / 60;
                let ago = if minutes < 60 { format!("{minutes} min") } else { format!("{} h", minutes / 60) };
                format!(
                    "email: the change to this address was asked for {ago} ago and waits for its owner's \
                     confirmation; ccbulk asks again only once the 72-hour link has run out"
                )
            }
        }
    }
}

pub struct SalesforceProvisioner<'a> {
    pub client: &'a SalesforceClient,
    pub telephony: TelephonyModel,
    pub defaults: &'a SalesforceDefaults,
    /// Email changes asked for within the confirmation window: not asked for again.
    pub email_changes: &'a [EmailChange],
    pub alias_change: AliasChange,
    /// The org makes the Connect user of each member of a contact center itself (Service Cloud Voice, under the
    /// Amazon Connect models): the outcome names that user (`voice_username`) for ccbulk to adopt, or to delete
    /// with a remove.
    pub voice_sync: bool,
    /// The org's profiles, contact centers and permission sets, read once per job.
    pub reference: &'a OrgReference,
}

/// What ccbulk does with a row that changes the alias of a contact-center member. Changing it in place breaks Amazon
/// Connect single sign-on; the documented way is to remove the user from the contact center, change the alias, and
/// add the user back (../shared/seeds/salesforce-add-remove-contact-center-users.txt).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AliasChange {
    /// The row fails, its message giving the procedure.
    #[default]
    Refuse,
    /// ccbulk carries the procedure out: out of the contact center, the new alias, back in.
    Rejoin,
}

impl AliasChange {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "refuse" => Some(AliasChange::Refuse),
            "rejoin" => Some(AliasChange::Rejoin),
            _ => None,
        }
    }
}

/// The Voice permission set a role gets, by label (the labels are the documented ones).
pub(super) fn permission_set_label(role: VoiceRole, telephony: TelephonyModel) -> String {
    let base = match role {
        VoiceRole::Admin => "Contact Center Admin",
        VoiceRole::Agent => "Contact Center Agent",
        VoiceRole::CallCenterManager => "Contact Center Supervisor",
    };
    match telephony {
        TelephonyModel::AmazonConnect => base.to_owned(),
        _ => format!("{base} (Partner Telephony)"),
    }
}

/// The org's Voice permission sets (the "Contact Center ..." labels), id by label.
pub(super) fn voice_sets(sets: &[Value]) -> HashMap<String, String> {
    sets.iter()
        .filter(|s| text(s, "Label").is_some_and(|l| l.starts_with("Contact Center ")))
        .filter_map(|s| Some((text(s, "Label")?, text(s, "Id")?)))
        .collect()
}

/// Whether `records` name every one of `wanted` in `field`, letter case aside.
pub(super) fn names_all(records: &[Value], field: &str, wanted: &[String]) -> bool {
    wanted.iter().all(|name| records.iter().any(|r| r[field].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name))))
}

pub(super) fn text(record: &Value, field: &str) -> Option<String> {
    record[field].as_str().map(str::to_owned)
}

pub(super) struct Work<'r> {
    pub(super) action: Action,
    pub(super) row: &'r SalesforceUser,
    pub(super) user: Option<Value>,
    created: bool,
    pub(super) failed: Option<SalesforceError>,
    assignment: Option<String>,
    email_confirmation: Option<EmailConfirmation>,
    /// The contact center a member leaves for an alias change, and joins again after it.
    rejoin: Option<String>,
    /// What the row changed, for undo: fields and contact center before and after, Voice sets held, added, taken.
    undo: UndoTrail,
}

#[derive(Default)]
struct UndoTrail {
    before: SalesforceSettings,
    after: SalesforceSettings,
    voice_held: Option<BTreeSet<String>>,
    voice_added: Option<String>,
    voice_taken: BTreeSet<String>,
}

impl Work<'_> {
    /// What the row did to its user, for undo; `None` when it changed nothing of an existing user.
    fn image(&self, user: &Value) -> Option<SalesforceImage> {
        let user_id = text(user, "Id")?;
        let trail = &self.undo;
        let voice_after = trail.voice_held.as_ref().map(|held| {
            let mut after: BTreeSet<String> = held.difference(&trail.voice_taken).cloned().collect();
            after.extend(trail.voice_added.clone());
            after
        });
        let voice_changed = voice_after.is_some() && voice_after != trail.voice_held;
        let mut after = trail.after.clone();
        let mut before = trail.before.clone();
        if voice_changed || self.created {
            after.voice_sets = voice_after.or_else(|| Some(trail.voice_added.iter().cloned().collect()));
            before.voice_sets = trail.voice_held.clone().or_else(|| Some(BTreeSet::new()));
        }
        if self.created {
            return Some(SalesforceImage::Created { user_id, after });
        }
        (after != SalesforceSettings::default()).then_some(SalesforceImage::Changed { user_id, before, after })
    }
}

impl<'r> Work<'r> {
    pub(super) fn new(action: Action, row: &'r SalesforceUser) -> Self {
        Self {
            action,
            row,
            user: None,
            created: false,
            failed: None,
            assignment: None,
            email_confirmation: None,
            rejoin: None,
            undo: UndoTrail::default(),
        }
    }
}

/// Why a row names a contact center the org does not have.
pub(super) fn no_contact_center(center: &ContactCenterRef) -> String {
    format!("the org has no contact center {center:?}")
}

/// Why a row cannot join its contact center: its user is a member of `name`.
pub(super) fn member_elsewhere(name: &str) -> String {
    format!(
        "the user belongs to the contact center {name:?}; a user belongs to one contact center, so remove them from it \
         first"
    )
}

/// The username of the Connect user Salesforce makes (or made) for a row's user, in an org that syncs: a user who
/// ends as a member of a contact center goes by its alias as the row leaves it; one a remove takes out of its
/// contact center, by the alias it had there (its Connect user goes with it).
fn synced_username(action: Action, row: &SalesforceUser, user: &Value, org_id: &str) -> Option<String> {
    let was_member = text(user, "CallCenterId").is_some();
    let (member, alias) = match action {
        Action::Remove => (was_member, text(user, "Alias")),
        _ => (row.contact_center.is_some() || was_member, row.fields.alias.clone().or_else(|| text(user, "Alias"))),
    };
    if !member {
        return None;
    }
    let alias = alias?;
    Some(super::bulkop_provisioner::voice_username(&alias, &text(user, "Id")?, org_id))
}

impl SalesforceProvisioner<'_> {
    /// Provisions the Salesforce side of `rows`; one result per row, in order.
    pub async fn apply(
        &self,
        rows: &[(Action, &SalesforceUser)],
    ) -> Result<Vec<Result<SalesforceOutcome, SalesforceError>>, SalesforceError> {
        let mut work: Vec<Work> = rows.iter().map(|(action, row)| Work::new(*action, row)).collect();
        let (found, ()) = tokio::join!(self.find_users(&mut work), self.read_reference_ahead(rows));
        found?;
        self.create_users(&mut work).await?;
        // The Voice permission set comes before the contact center, and goes after it: a contact center takes
        // only users who hold one (../shared/seeds/salesforce-add-remove-contact-center-users.txt: "You can add
        // reps who have the right permission set").
        self.permission_sets(&mut work, Phase::Grant).await?;
        self.update_users(&mut work).await?;
        self.permission_sets(&mut work, Phase::Withdraw).await?;
        let synced_by =
            if self.voice_sync && self.telephony.has_connect_side() { Some(self.client.org_id().await?) } else { None };
        Ok(work
            .into_iter()
            .map(|w| match (&w.failed, &w.user) {
                (Some(err), _) => Err(err.clone()),
                (None, Some(user)) => Ok(SalesforceOutcome {
                    image: w.image(user),
                    user_id: text(user, "Id").unwrap_or_default(),
                    username: text(user, "Username").unwrap_or_default(),
                    first_name: text(user, "FirstName"),
                    last_name: text(user, "LastName"),
                    email: text(user, "Email"),
                    created: w.created,
                    permission_set_assignment_id: w.assignment.clone(),
                    email_confirmation: w.email_confirmation.clone(),
                    voice_username: synced_by.as_deref().and_then(|org| synced_username(w.action, w.row, user, org)),
                    bulkop: None,
                }),
                (None, None) => Err(SalesforceError::refused("the user was not found")),
            })
            .collect())
    }

    pub(super) async fn find_users(&self, work: &mut [Work<'_>]) -> Result<(), SalesforceError> {
        let ids: HashSet<String> = work
            .iter()
            .filter_map(|w| match &w.row.user {
                SalesforceUserRef::Id(id) => Some(id.as_str().to_owned()),
                _ => None,
            })
            .collect();
        let names: HashSet<String> = work
            .iter()
            .filter_map(|w| match &w.row.user {
                SalesforceUserRef::Username(name) => Some(name.to_lowercase()),
                _ => None,
            })
            .collect();
        let select = format!("SELECT {USER_FIELDS} FROM User WHERE");
        let mut found = self.client.query_in(&select, "Id", &ids.into_iter().collect::<Vec<_>>()).await?;
        found.extend(self.client.query_in(&select, "Username", &names.into_iter().collect::<Vec<_>>()).await?);
        for item in work.iter_mut() {
            item.user = found
                .iter()
                .find(|user| match &item.row.user {
                    SalesforceUserRef::Id(id) => text(user, "Id").as_deref() == Some(id.as_str()),
                    SalesforceUserRef::Username(name) => {
                        text(user, "Username").is_some_and(|u| u.eq_ignore_ascii_case(name))
                    }
                })
                .cloned();
            if item.user.is_none() {
                match (&item.row.user, item.action) {
                    (SalesforceUserRef::Username(_), Action::Add) => {}
                    (reference, _) => {
                        let named = match reference {
                            SalesforceUserRef::Id(id) => format!("Id {id}"),
                            SalesforceUserRef::Username(name) => format!("username {name}"),
                        };
                        item.failed = Some(SalesforceError::refused(format!("no user with {named}")));
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads the org's reference records the rows will need, if they are not read yet, while their users are looked
    /// up: each is read then in the same round trip as the users, not in one of its own between the steps. The
    /// steps ask again for what they need and find it here. A failure is left to them, which read again and fail
    /// with its message.
    pub(super) async fn read_reference_ahead(&self, rows: &[(Action, &SalesforceUser)]) {
        let adding = rows.iter().filter(|(action, _)| *action == Action::Add);
        let profiles: Vec<String> = adding
            .map(|(_, row)| row.fields.profile.clone().unwrap_or_else(|| self.defaults.profile.clone()))
            .collect();
        let mut sets: Vec<String> = rows
            .iter()
            .filter_map(|(_, row)| row.role.map(|role| permission_set_label(role, self.telephony)))
            .collect();
        if self.telephony == TelephonyModel::PartnerTelephony {
            sets.push(permission_set_label(VoiceRole::Agent, self.telephony));
        }
        let centers: Vec<String> = rows
            .iter()
            .filter(|(action, _)| *action != Action::Remove)
            .filter_map(|(_, row)| match &row.contact_center {
                Some(ContactCenterRef::Name(name)) => Some(name.clone()),
                _ => None,
            })
            .collect();
        let read = |which, field: &'static str, wanted: Vec<String>| async move {
            if !wanted.is_empty() {
                let _ = self.reference.read(which, self.client, &|records| names_all(records, field, &wanted)).await;
            }
        };
        tokio::join!(
            read(Reference::Profiles, "Name", profiles),
            read(Reference::PermissionSets, "Label", sets),
            read(Reference::ContactCenters, "Name", centers),
        );
    }

    async fn create_users(&self, work: &mut [Work<'_>]) -> Result<(), SalesforceError> {
        let pending: Vec<usize> =
            (0..work.len()).filter(|&i| work[i].failed.is_none() && work[i].user.is_none()).collect();
        if pending.is_empty() {
            return Ok(());
        }
        let wanted: Vec<String> = pending
            .iter()
            .map(|&i| work[i].row.fields.profile.clone().unwrap_or_else(|| self.defaults.profile.clone()))
            .collect();
        let profiles = self
            .reference
            .read(Reference::Profiles, self.client, &|records| names_all(records, "Name", &wanted))
            .await?;
        let mut records = Vec::new();
        let mut creating = Vec::new();
        for &i in &pending {
            let SalesforceUserRef::Username(username) = &work[i].row.user else { continue };
            let fields = &work[i].row.fields;
            let profile_name = fields.profile.clone().unwrap_or_else(|| self.defaults.profile.clone());
            let Some(profile) = profiles
                .iter()
                .find(|p| text(p, "Name").is_some_and(|n| n.eq_ignore_ascii_case(&profile_name)))
                .and_then(|p| text(p, "Id"))
            else {
                work[i].failed =
                    Some(SalesforceError::refused(format!("the org has no profile named {profile_name:?}")));
                continue;
            };
            let alias = fields
                .alias
                .clone()
                .unwrap_or_else(|| derive_alias(fields.first_name.as_deref(), fields.last_name.as_deref(), username));
            records.push(json!({
                "attributes": {"type": "User"},
                "Username": username,
                "Email": fields.email,
                "FirstName": fields.first_name,
                "LastName": fields.last_name,
                "Alias": alias,
                "ProfileId": profile,
                "FederationIdentifier": fields.federation_id,
                "TimeZoneSidKey": fields.time_zone.clone().unwrap_or_else(|| self.defaults.time_zone.clone()),
                "LocaleSidKey": fields.locale.clone().unwrap_or_else(|| self.defaults.locale.clone()),
                "LanguageLocaleKey": fields.language.clone().unwrap_or_else(|| self.defaults.language.clone()),
                "EmailEncodingKey": fields.email_encoding.clone().unwrap_or_else(|| self.defaults.email_encoding.clone()),
            }));
            creating.push(i);
        }
        let results = self.client.collection(Method::POST, records.clone()).await?;
        for ((i, result), record) in creating.into_iter().zip(results).zip(records) {
            match (result.id, result.error) {
                (_, Some(err)) => work[i].failed = Some(err),
                (Some(id), None) => {
                    let mut user = record;
                    user["Id"] = json!(id);
                    user["CallCenterId"] = Value::Null;
                    work[i].user = Some(user);
                    work[i].created = true;
                }
                (None, None) => work[i].failed = Some(SalesforceError::refused("the create returned no id")),
            }
        }
        self.adopt_duplicates(work).await
    }

    /// A DUPLICATE_USERNAME for a user this org holds means an earlier attempt created it (its answer was lost):
    /// adopt it. A username taken in another org stays a failure.
    async fn adopt_duplicates(&self, work: &mut [Work<'_>]) -> Result<(), SalesforceError> {
        let duplicates: Vec<usize> = (0..work.len())
            .filter(|&i| work[i].failed.as_ref().is_some_and(|e| e.code == "DUPLICATE_USERNAME"))
            .collect();
        let names: Vec<String> = duplicates
            .iter()
            .filter_map(|&i| match &work[i].row.user {
                SalesforceUserRef::Username(name) => Some(name.to_lowercase()),
                SalesforceUserRef::Id(_) => None,
            })
            .collect();
        if !names.is_empty() {
            let found =
                self.client.query_in(&format!("SELECT {USER_FIELDS} FROM User WHERE"), "Username", &names).await?;
            for &i in &duplicates {
                let SalesforceUserRef::Username(name) = &work[i].row.user else { continue };
                if let Some(user) =
                    found.iter().find(|u| text(u, "Username").is_some_and(|n| n.eq_ignore_ascii_case(name)))
                {
                    work[i].user = Some(user.clone());
                    work[i].failed = None;
                }
            }
        }
        Ok(())
    }

    /// Contact-center membership and the fields the row sets, one PATCH per user that needs one.
    async fn update_users(&self, work: &mut [Work<'_>]) -> Result<(), SalesforceError> {
        let wanted: Vec<String> = work
            .iter()
            .filter(|w| w.failed.is_none() && w.action != Action::Remove)
            .filter_map(|w| match &w.row.contact_center {
                Some(ContactCenterRef::Name(name)) => Some(name.clone()),
                _ => None,
            })
            .collect();
        let centers = self
            .reference
            .read(Reference::ContactCenters, self.client, &|records| names_all(records, "Name", &wanted))
            .await?;
        let center_name =
            |id: &str| centers.iter().find(|c| text(c, "Id").as_deref() == Some(id)).and_then(|c| text(c, "Name"));
        let mut patches = Vec::new();
        let mut patched = Vec::new();
        for (i, item) in work.iter_mut().enumerate() {
            let (Some(user), None) = (&item.user, &item.failed) else { continue };
            let user_id = text(user, "Id").unwrap_or_default();
            let current_center = text(user, "CallCenterId");
            let mut patch = serde_json::Map::new();
            if item.action == Action::Remove {
                if current_center.is_some() {
                    patch.insert("CallCenterId".into(), Value::Null);
                }
            } else {
                if let Some(center) = &item.row.contact_center {
                    let target = match center {
                        ContactCenterRef::Id(id) => Some(id.as_str().to_owned()),
                        ContactCenterRef::Name(name) => centers
                            .iter()
                            .find(|c| text(c, "Name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
                            .and_then(|c| text(c, "Id")),
                    };
                    let Some(target) = target else {
                        item.failed = Some(SalesforceError::refused(no_contact_center(center)));
                        continue;
                    };
                    match current_center.as_deref() {
                        Some(current) if current != target => {
                            let name = center_name(current).unwrap_or_else(|| current.to_owned());
                            item.failed = Some(SalesforceError::refused(member_elsewhere(&name)));
                            continue;
                        }
                        Some(_) => {}
                        None => {
                            patch.insert("CallCenterId".into(), json!(target));
                        }
                    }
                }
                if !item.created {
                    let fields = &item.row.fields;
                    if let (Some(alias), Some(center)) = (&fields.alias, &current_center)
                        && text(user, "Alias").as_deref() != Some(alias.as_str())
                    {
                        match self.alias_change {
                            AliasChange::Refuse => {
                                item.failed = Some(SalesforceError::refused(ALIAS_IN_CONTACT_CENTER.to_owned()));
                                continue;
                            }
                            AliasChange::Rejoin => item.rejoin = Some(center.clone()),
                        }
                    }
                    for (field, value) in [
                        ("Email", &fields.email),
                        ("FirstName", &fields.first_name),
                        ("LastName", &fields.last_name),
                        ("Alias", &fields.alias),
                        ("FederationIdentifier", &fields.federation_id),
                    ] {
                        let Some(value) = value else { continue };
                        if text(user, field).as_deref() == Some(value.as_str()) {
                            continue;
                        }
                        if field == "Email" {
                            let asked = self.email_changes.iter().find(|change| {
                                change.salesforce_user_id == user_id && change.email.eq_ignore_ascii_case(value)
                            });
                            if let Some(asked) = asked {
                                item.email_confirmation =
                                    Some(EmailConfirmation::AlreadySent { requested_at: asked.requested_at });
                                continue;
                            }
                            item.email_confirmation = Some(EmailConfirmation::Sent { email: value.clone() });
                        }
                        patch.insert(field.into(), json!(value));
                    }
                }
            }
            for (field, value) in &patch {
                if field == "Email" {
                    continue;
                }
                let (before, after) = (text(user, field), value.as_str().map(str::to_owned));
                if field == "CallCenterId" {
                    item.undo.before.call_center_id = Some(before);
                    item.undo.after.call_center_id = Some(after);
                } else {
                    item.undo.before.fields.insert(field.clone(), before);
                    item.undo.after.fields.insert(field.clone(), after);
                }
            }
            if !patch.is_empty() {
                patch.insert("attributes".into(), json!({"type": "User"}));
                patch.insert("id".into(), json!(user_id));
                patches.push(Value::Object(patch));
                patched.push(i);
            }
        }
        // An alias changes only while its user is out of the contact center: a member that could not leave keeps
        // its alias, and every member that left joins again, whether or not the alias took.
        let leaving: Vec<usize> = patched.iter().copied().filter(|&i| work[i].rejoin.is_some()).collect();
        let left = self.set_call_centers(work, &leaving, |_| None).await?;
        let mut sent = Vec::new();
        let patches: Vec<Value> = patches
            .into_iter()
            .zip(patched)
            .filter(|(_, i)| work[*i].rejoin.is_none() || left.contains(i))
            .map(|(patch, i)| {
                sent.push(i);
                patch
            })
            .collect();
        for (i, result) in sent.into_iter().zip(self.client.collection(Method::PATCH, patches).await?) {
            if let Some(err) = result.error {
                work[i].failed = Some(err);
            }
        }
        self.set_call_centers(work, &left, |w| w.rejoin.clone()).await?;
        Ok(())
    }

    /// Sets the contact center of `rows`' users to what `center` says (`None`: out of any), in one collection call;
    /// returns the rows that took it. A row that did not has its error, which tells where its user stands.
    async fn set_call_centers(
        &self,
        work: &mut [Work<'_>],
        rows: &[usize],
        center: impl Fn(&Work<'_>) -> Option<String>,
    ) -> Result<Vec<usize>, SalesforceError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let patches: Vec<Value> = rows
            .iter()
            .map(|&i| {
                let id = work[i].user.as_ref().and_then(|u| text(u, "Id"));
                json!({"attributes": {"type": "User"}, "id": id, "CallCenterId": center(&work[i])})
            })
            .collect();
        let mut took = Vec::new();
        for (&i, result) in rows.iter().zip(self.client.collection(Method::PATCH, patches).await?) {
            match result.error {
                None => took.push(i),
                Some(err) => {
                    let step = if center(&work[i]).is_some() {
                        "the user left the contact center for the alias change and could not join it again \
                         (run the row again to finish)"
                    } else {
                        "the user could not leave the contact center for the alias change; nothing was changed"
                    };
                    work[i].failed = Some(SalesforceError { message: format!("{step}: {}", err.message), ..err });
                }
            }
        }
        Ok(took)
    }

    /// Assigns the role's Voice permission set (an existing assignment counts) and takes back any other Voice one (a
    /// role changed); or, for `remove` rows, deletes every Voice one.
    async fn permission_sets(&self, work: &mut [Work<'_>], phase: Phase) -> Result<(), SalesforceError> {
        let in_phase = |action: Action| (action == Action::Remove) == (phase == Phase::Withdraw);
        if !work.iter().any(|w| w.failed.is_none() && w.user.is_some() && in_phase(w.action)) {
            return Ok(());
        }
        let mut wanted: Vec<String> = work
            .iter()
            .filter(|w| w.failed.is_none() && in_phase(w.action))
            .filter_map(|w| w.row.role.map(|role| permission_set_label(role, self.telephony)))
            .collect();
        if self.telephony == TelephonyModel::PartnerTelephony {
            wanted.push(permission_set_label(VoiceRole::Agent, self.telephony));
        }
        let sets = self
            .reference
            .read(Reference::PermissionSets, self.client, &|records| names_all(records, "Label", &wanted))
            .await?;
        let voice: HashMap<String, String> = voice_sets(&sets);
        // A user this chunk just created holds no permission set yet: only the others' are read.
        let users: Vec<String> = work
            .iter()
            .filter(|w| w.failed.is_none() && in_phase(w.action) && !w.created)
            .filter_map(|w| w.user.as_ref().and_then(|u| text(u, "Id")))
            .collect();
        let assignments = self
            .client
            .query_in("SELECT Id, AssigneeId, PermissionSetId FROM PermissionSetAssignment WHERE", "AssigneeId", &users)
            .await?;
        let voice_ids: HashSet<&String> = voice.values().collect();
        let mut creates = Vec::new();
        let mut creating = Vec::new();
        let mut deletes = Vec::new();
        for (i, item) in work.iter_mut().enumerate() {
            let (Some(user), None, true) = (&item.user, &item.failed, in_phase(item.action)) else { continue };
            let user_id = text(user, "Id").unwrap_or_default();
            let held: Vec<&Value> =
                assignments.iter().filter(|a| text(a, "AssigneeId").as_deref() == Some(user_id.as_str())).collect();
            let voice_held: BTreeSet<String> =
                held.iter().filter_map(|a| text(a, "PermissionSetId")).filter(|p| voice_ids.contains(p)).collect();
            item.undo.voice_held = Some(voice_held.clone());
            if item.action == Action::Remove {
                item.undo.voice_taken = voice_held;
                deletes.extend(
                    held.iter()
                        .filter(|a| text(a, "PermissionSetId").is_some_and(|p| voice_ids.contains(&p)))
                        .filter_map(|a| text(a, "Id"))
                        .map(|id| (i, id)),
                );
                continue;
            }
            let holds_voice =
                || held.iter().any(|a| text(a, "PermissionSetId").is_some_and(|p| voice_ids.contains(&p)));
            let role = match item.row.role {
                Some(role) => role,
                // A Partner Telephony row names no role, and Salesforce's own bulk op assigns the Partner Telephony
                // permission set itself ("In this case, the Partner Telephony Permission Set is also automatically
                // assigned to the user", ../shared/seeds/salesforce-voice-bulk-users.txt): a joining user who holds
                // no contact-center set gets the agent one, and one who holds a set keeps it.
                None if self.telephony == TelephonyModel::PartnerTelephony
                    && item.row.contact_center.is_some()
                    && !holds_voice() =>
                {
                    VoiceRole::Agent
                }
                None => continue,
            };
            let label = permission_set_label(role, self.telephony);
            let Some(set) = voice.get(&label) else {
                item.failed =
                    Some(SalesforceError::refused(format!("the org has no permission set labelled {label:?}")));
                continue;
            };
            item.undo.voice_taken = voice_held.iter().filter(|p| *p != set).cloned().collect();
            match held.iter().find(|a| text(a, "PermissionSetId").as_deref() == Some(set.as_str())) {
                Some(existing) => item.assignment = text(existing, "Id"),
                None => {
                    item.undo.voice_added = Some(set.clone());
                    creates.push(json!({"attributes": {"type": "PermissionSetAssignment"}, "AssigneeId": user_id, "PermissionSetId": set}));
                    creating.push(i);
                }
            }
            // A role changed: the old role's Voice permission set goes, once the new one is there (below).
            deletes.extend(
                held.iter()
                    .filter(|a| text(a, "PermissionSetId").is_some_and(|p| voice_ids.contains(&p) && p != set.as_str()))
                    .filter_map(|a| text(a, "Id"))
                    .map(|id| (i, id)),
            );
        }
        for (i, result) in creating.into_iter().zip(self.client.collection(Method::POST, creates).await?) {
            match result.error {
                None => work[i].assignment = result.id,
                // Assigned meanwhile (another worker, an earlier attempt): the goal holds.
                Some(err) if err.code == "DUPLICATE_VALUE" => {}
                Some(err) => work[i].failed = Some(err),
            }
        }
        // A row whose new permission set could not be assigned keeps its old one.
        let deletes: Vec<(usize, String)> = deletes.into_iter().filter(|(i, _)| work[*i].failed.is_none()).collect();
        if !deletes.is_empty() {
            let ids: Vec<String> = deletes.iter().map(|(_, id)| id.clone()).collect();
            let results = self.client.delete(&ids).await?;
            for (i, err) in refused_deletes(&deletes, results) {
                work[i].failed = Some(err);
            }
        }
        Ok(())
    }
}

/// The rows whose assignment Salesforce would not delete, with its reason. A delete answers 200 with one result per
/// id, in the order given ("Delete Records Using sObject Collections", REST API Developer Guide: "Error information
/// is returned in the errors array"), so a refusal is found only there; one already deleted (ENTITY_IS_DELETED, by
/// another worker or an earlier attempt) is the goal reached.
fn refused_deletes(deletes: &[(usize, String)], results: Vec<CollectionResult>) -> Vec<(usize, SalesforceError)> {
    deletes
        .iter()
        .zip(results)
        .filter_map(|((row, _), result)| result.error.map(|err| (*row, err)))
        .filter(|(_, err)| err.code != "ENTITY_IS_DELETED")
        .collect()
}

/// Why a row that changes a contact-center user's alias is refused, with the procedure
/// (../shared/seeds/salesforce-add-remove-contact-center-users.txt: "Updating the alias of the Salesforce user breaks
/// AWS single sign-on").
pub(super) const ALIAS_IN_CONTACT_CENTER: &str = "changing the alias of a contact-center user breaks Amazon Connect single \
     sign-on: remove the user from the contact center (Setup > Contact Centers, the center, Remove), change the alias, \
     then add the user back to the contact center; or let ccbulk do so with alias_change = \"rejoin\" ([salesforce] in the \
     config, the stack's SalesforceAliasChange)";

/// Which rows [`SalesforceProvisioner::permission_sets`] serves: before the contact center is set, the rows that
/// join or stay (their permission set granted); after it is cleared, the rows that leave (theirs withdrawn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Grant,
    Withdraw,
}

/// Salesforce's own rule of thumb: first letter of the first name and up to seven of the last, from the characters
/// Voice accepts; the username's local part when there are no names.
fn derive_alias(first: Option<&str>, last: Option<&str>, username: &str) -> String {
    let keep = |text: &str| text.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
    let from_names = format!(
        "{}{}",
        keep(first.unwrap_or_default()).chars().take(1).collect::<String>(),
        keep(last.unwrap_or_default())
    );
    let alias = if from_names.is_empty() { keep(username.split('@').next().unwrap_or(username)) } else { from_names };
    alias.chars().take(8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Voice permission set Salesforce would not take away fails its row (the user keeps the Voice licence), while
    /// the others' withdrawals stand and an assignment already gone is no failure.
    #[test]
    fn a_refused_withdrawal_fails_its_row_and_no_other() {
        let refused = |code: &str| CollectionResult {
            id: None,
            error: Some(SalesforceError { code: code.into(), message: format!("{code} here"), retryable: false }),
        };
        let deleted = CollectionResult { id: Some("0Pa000000000001AAA".into()), error: None };
        let deletes = [(0, "0Pa1".to_owned()), (1, "0Pa2".to_owned()), (2, "0Pa3".to_owned()), (3, "0Pa4".to_owned())];
        let results =
            vec![deleted.clone(), refused("INSUFFICIENT_ACCESS_OR_READONLY"), refused("ENTITY_IS_DELETED"), deleted];
        let failed = refused_deletes(&deletes, results);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!((failed[0].0, failed[0].1.code.as_str()), (1, "INSUFFICIENT_ACCESS_OR_READONLY"));
    }

    #[test]
    fn aliases_fit_voices_rules() {
        assert_eq!(derive_alias(Some("Zoë"), Some("Laurent-Dubois"), "z@x.com"), "zlaurent");
        assert_eq!(derive_alias(None, None, "jean.pierre@x.com"), "jeanpier");
        assert_eq!(
            permission_set_label(VoiceRole::CallCenterManager, TelephonyModel::PartnerTelephony),
            "Contact Center Supervisor (Partner Telephony)"
        );
    }
}
