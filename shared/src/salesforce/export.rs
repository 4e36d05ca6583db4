//! The Salesforce side of an export: for each Connect user, the Salesforce user it signs in as, its contact center
//! and the role its Voice permission set gives.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::client::{SalesforceClient, SalesforceError};
use super::provisioner::{permission_set_label, text};
use crate::domain::{TelephonyModel, VoiceRole};

/// A Salesforce user as a ccbulk file gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportedSalesforce {
    pub username: String,
    pub alias: Option<String>,
    pub federation_id: Option<String>,
    /// The contact center's name.
    pub contact_center: Option<String>,
    pub role: Option<VoiceRole>,
}

/// The role a Voice permission set's label gives, under either kind of telephony: the labels the provisioner assigns.
fn role_of(label: &str) -> Option<VoiceRole> {
    [VoiceRole::Admin, VoiceRole::Agent, VoiceRole::CallCenterManager].into_iter().find(|role| {
        [TelephonyModel::AmazonConnect, TelephonyModel::PartnerTelephony]
            .into_iter()
            .any(|telephony| permission_set_label(*role, telephony) == label)
    })
}

/// The Salesforce users of `usernames` (Connect usernames), keyed by the Connect username lower-cased: the user
/// whose Username is it, or else the one whose FederationIdentifier is it (single sign-on's two ways of pairing them).
pub async fn salesforce_users_of(
    client: &SalesforceClient,
    usernames: &[String],
) -> Result<HashMap<String, ExportedSalesforce>, SalesforceError> {
    const SELECT: &str = "SELECT Id, Username, Alias, FederationIdentifier, CallCenterId FROM User WHERE";
    let lowered: Vec<String> = usernames.iter().map(|u| u.to_lowercase()).collect();
    let (by_username, by_federation) = tokio::try_join!(
        client.query_in(SELECT, "Username", &lowered),
        client.query_in(SELECT, "FederationIdentifier", usernames)
    )?;
    let wanted: HashSet<&String> = lowered.iter().collect();
    let mut paired: HashMap<String, &Value> = HashMap::new();
    for user in by_federation.iter().chain(&by_username) {
        // Username pairs win: they are inserted last.
        for field in ["FederationIdentifier", "Username"] {
            if let Some(name) = text(user, field).map(|n| n.to_lowercase()).filter(|n| wanted.contains(n))
                && (field == "Username" || !paired.contains_key(&name))
            {
                paired.insert(name, user);
            }
        }
    }
    if paired.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<String> = paired.values().filter_map(|u| text(u, "Id")).collect();
    let (centers, sets, assignments) = tokio::try_join!(
        client.query("SELECT Id, Name FROM CallCenter"),
        client.query("SELECT Id, Label FROM PermissionSet"),
        client.query_in("SELECT AssigneeId, PermissionSetId FROM PermissionSetAssignment WHERE", "AssigneeId", &ids),
    )?;
    let center_name: HashMap<String, String> =
        centers.iter().filter_map(|c| Some((text(c, "Id")?, text(c, "Name")?))).collect();
    let set_role: HashMap<String, VoiceRole> =
        sets.iter().filter_map(|s| Some((text(s, "Id")?, role_of(&text(s, "Label")?)?))).collect();
    let mut roles: HashMap<String, VoiceRole> = HashMap::new();
    for assignment in &assignments {
        if let (Some(user), Some(role)) =
            (text(assignment, "AssigneeId"), text(assignment, "PermissionSetId").and_then(|s| set_role.get(&s)))
        {
            roles.insert(user, *role);
        }
    }
    Ok(paired
        .into_iter()
        .map(|(connect, user)| {
            let id = text(user, "Id").unwrap_or_default();
            let exported = ExportedSalesforce {
                username: text(user, "Username").unwrap_or_default(),
                alias: text(user, "Alias"),
                federation_id: text(user, "FederationIdentifier").filter(|f| !f.is_empty()),
                contact_center: text(user, "CallCenterId").map(|c| center_name.get(&c).cloned().unwrap_or(c)),
                role: roles.get(&id).copied(),
            };
            (connect, exported)
        })
        .collect())
}
