//! The Salesforce side of a plan: what `apply` would do to each row's user, read in the same batched queries and
//! never written.

use std::collections::HashMap;

use serde_json::Value;

use super::client::{SalesforceClient, SalesforceError};
use super::provisioner::{
    ALIAS_IN_CONTACT_CENTER, AliasChange, SalesforceProvisioner, Work, member_elsewhere, names_all, no_contact_center,
    permission_set_label, text, voice_sets,
};
use super::reference::Reference;
use crate::domain::{Action, ContactCenterRef, SalesforceUser, SalesforceUserRef, TelephonyModel, VoiceRole};
use crate::plan::{Allowance, Change};

/// The permission set license every Voice permission set needs (../shared/reference/salesforce-rest.md, "Service
/// Cloud Voice contact centers": "Voice permission sets need a permission set license ("Salesforce Voice User")").
pub const VOICE_LICENSE: &str = "Salesforce Voice User";

/// The seats of the Voice license left, as PermissionSetLicense reads them (Object Reference, PermissionSetLicense:
/// TotalLicenses, UsedLicenses); `None` when the org shows no such license (or will not show it to this user), and
/// then no row is held to a count.
pub async fn free_voice_seats(client: &SalesforceClient) -> Option<u64> {
    let soql = format!(
        "SELECT MasterLabel, TotalLicenses, UsedLicenses FROM PermissionSetLicense WHERE MasterLabel = '{VOICE_LICENSE}'"
    );
    let records = client.query(&soql).await.ok()?;
    let license = records.first()?;
    let count = |field: &str| license[field].as_u64();
    Some(count("TotalLicenses")?.saturating_sub(count("UsedLicenses")?))
}

/// What a row's user holds and would get, as the planner reads it.
struct Seen<'a> {
    user: Option<&'a Value>,
    /// The user's permission set assignments' permission set ids.
    held: Vec<String>,
}

impl SalesforceProvisioner<'_> {
    /// What a run would do to each of `rows`, in order. A row whose user would take a Voice seat takes one of
    /// `seats`; once none is left, it would fail.
    pub async fn plan(
        &self,
        rows: &[(Action, &SalesforceUser)],
        seats: &Allowance,
    ) -> Result<Vec<Change>, SalesforceError> {
        let mut work: Vec<Work> = rows.iter().map(|(action, row)| Work::new(*action, row)).collect();
        let (found, ()) = tokio::join!(self.find_users(&mut work), self.read_reference_ahead(rows));
        found?;
        let profiles = self.reference.read(Reference::Profiles, self.client, &|_| true).await?;
        let centers = self.reference.read(Reference::ContactCenters, self.client, &|_| true).await?;
        let sets = self.reference.read(Reference::PermissionSets, self.client, &|_| true).await?;
        let voice: HashMap<String, String> = voice_sets(&sets);
        let users: Vec<String> = work.iter().filter_map(|w| w.user.as_ref().and_then(|u| text(u, "Id"))).collect();
        let assignments = self
            .client
            .query_in("SELECT Id, AssigneeId, PermissionSetId FROM PermissionSetAssignment WHERE", "AssigneeId", &users)
            .await?;
        if !seats.is_read() {
            seats.set(free_voice_seats(self.client).await);
        }
        let mut plans = Vec::with_capacity(work.len());
        for item in &work {
            if let Some(err) = &item.failed {
                plans.push(Change::Fail(err.message.clone()));
                continue;
            }
            let user_id = item.user.as_ref().and_then(|u| text(u, "Id"));
            let held = assignments
                .iter()
                .filter(|a| user_id.is_some() && text(a, "AssigneeId") == user_id)
                .filter_map(|a| text(a, "PermissionSetId"))
                .collect();
            let seen = Seen { user: item.user.as_ref(), held };
            let planned = match item.action {
                Action::Remove => Ok(self.removal(&seen, &voice)),
                _ => self.joining(item.row, &seen, &profiles, &centers, &voice, seats),
            };
            plans.push(planned.unwrap_or_else(Change::Fail));
        }
        Ok(plans)
    }

    /// A remove takes the user out of its contact center and withdraws its Voice permission sets; Salesforce users
    /// themselves are never deleted.
    fn removal(&self, seen: &Seen, voice: &HashMap<String, String>) -> Change {
        let member = seen.user.and_then(|u| text(u, "CallCenterId")).is_some();
        let holds_voice = seen.held.iter().any(|set| voice.values().any(|v| v == set));
        if member || holds_voice { Change::Remove } else { Change::NoChange }
    }

    /// An add or an update: the user created or brought to the row's fields, in its contact center, with its role's
    /// Voice permission set.
    fn joining(
        &self,
        row: &SalesforceUser,
        seen: &Seen,
        profiles: &[Value],
        centers: &[Value],
        voice: &HashMap<String, String>,
        seats: &Allowance,
    ) -> Result<Change, String> {
        let mut fields: Vec<&'static str> = Vec::new();
        let current_center = seen.user.and_then(|u| text(u, "CallCenterId"));
        match seen.user {
            None => {
                let profile = row.fields.profile.clone().unwrap_or_else(|| self.defaults.profile.clone());
                if !names_all(profiles, "Name", std::slice::from_ref(&profile)) {
                    return Err(format!("the org has no profile named {profile:?}"));
                }
            }
            Some(user) => fields.extend(self.field_changes(row, user, current_center.is_some())?),
        }
        if let Some(center) = &row.contact_center {
            let target = match center {
                ContactCenterRef::Id(id) => centers
                    .iter()
                    .find(|c| text(c, "Id").is_some_and(|i| i.get(..15) == id.as_str().get(..15)))
                    .and_then(|c| text(c, "Id")),
                ContactCenterRef::Name(name) => centers
                    .iter()
                    .find(|c| text(c, "Name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
                    .and_then(|c| text(c, "Id")),
            };
            let target = target.ok_or_else(|| no_contact_center(center))?;
            match current_center {
                Some(current) if current.get(..15) != target.get(..15) => {
                    let name = centers
                        .iter()
                        .find(|c| text(c, "Id").as_deref() == Some(current.as_str()))
                        .and_then(|c| text(c, "Name"))
                        .unwrap_or(current);
                    return Err(member_elsewhere(&name));
                }
                Some(_) => {}
                None => fields.push("contact center"),
            }
        }
        let holds_voice = seen.held.iter().any(|set| voice.values().any(|v| v == set));
        let role = match row.role {
            Some(role) => Some(role),
            // As `apply` does: a Partner Telephony member with no contact-center set gets the agent one.
            None if self.telephony == TelephonyModel::PartnerTelephony
                && row.contact_center.is_some()
                && !holds_voice =>
            {
                Some(VoiceRole::Agent)
            }
            None => None,
        };
        if let Some(role) = role {
            let label = permission_set_label(role, self.telephony);
            let set = voice.get(&label).ok_or_else(|| format!("the org has no permission set labelled {label:?}"))?;
            let others = seen.held.iter().any(|held| held != set && voice.values().any(|v| v == held));
            if !seen.held.contains(set) || others {
                fields.push("permission set");
            }
            // A seat is taken per user, by the first Voice permission set it holds (the sandbox counts the same).
            if !holds_voice && !seats.take() {
                return Err(format!(
                    "no {VOICE_LICENSE} permission set license is left for this user's {label:?} permission set \
                     (the org's seats are all taken, counting the rows above): free or buy seats first"
                ));
            }
        }
        Ok(match seen.user {
            None => Change::Create,
            Some(_) if fields.is_empty() => Change::NoChange,
            Some(_) => Change::Update(fields),
        })
    }

    /// The User fields a row sets that differ from the user's, as `update_users` would send them.
    fn field_changes(&self, row: &SalesforceUser, user: &Value, member: bool) -> Result<Vec<&'static str>, String> {
        let user_id = text(user, "Id").unwrap_or_default();
        let mut fields = Vec::new();
        for (field, label, value) in [
            ("Email", "email", &row.fields.email),
            ("FirstName", "first name", &row.fields.first_name),
            ("LastName", "last name", &row.fields.last_name),
            ("Alias", "alias", &row.fields.alias),
            ("FederationIdentifier", "federation id", &row.fields.federation_id),
        ] {
            let Some(value) = value else { continue };
            if text(user, field).as_deref() == Some(value.as_str()) {
                continue;
            }
            // An email change already asked for waits for its owner: a run does not ask again.
            if field == "Email"
                && self
                    .email_changes
                    .iter()
                    .any(|change| change.salesforce_user_id == user_id && change.email.eq_ignore_ascii_case(value))
            {
                continue;
            }
            if field == "Alias" && member && self.alias_change == AliasChange::Refuse {
                return Err(ALIAS_IN_CONTACT_CENTER.to_owned());
            }
            fields.push(label);
        }
        Ok(fields)
    }
}

/// A row's user by how the row names it, for the plan's Username column.
pub fn named(user: &SalesforceUserRef) -> &str {
    match user {
        SalesforceUserRef::Id(id) => id.as_str(),
        SalesforceUserRef::Username(name) => name,
    }
}
