//! Service Cloud Voice's own provisioning of Connect users. With Amazon Connect telephony, Salesforce creates the
//! Connect user of a Salesforce user who joins a contact center, under the same username, and ccbulk must then find
//! that user rather than create it (../shared/reference/amazon-connect.md, "Relation to Salesforce Service Cloud
//! Voice"). It is Salesforce's own call into the instance, not a client's: it passes no quota and no signature,
//! and it is not counted among the API's calls.

use std::time::Instant;

use super::model::{IdentityInfo, Instance, PhoneConfig, User};
use super::seed::{new_id, now_epoch};

/// The user Salesforce asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceUser {
    pub instance_id: String,
    /// Service Cloud Voice's username form.
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: String,
    pub email: Option<String>,
    /// The routing profile's id; `None`: the instance's "Basic Routing Profile".
    pub routing_profile_id: Option<String>,
    /// The security profile by name: the one that matches the Voice profile (Admin, Agent, CallCenterManager).
    pub security_profile: String,
}

/// Creates the user, or links an existing user of that username; returns its id and whether it was created.
pub fn provision(instance: &mut Instance, wanted: &VoiceUser) -> Result<(String, bool), String> {
    if let Some(user) = instance.user_by_username(&wanted.username) {
        return Ok((user.id.clone(), false));
    }
    let routing_profile_id = match &wanted.routing_profile_id {
        Some(id) => instance.routing_profiles.iter().find(|p| p.id == *id),
        None => instance.routing_profiles.iter().find(|p| p.name == "Basic Routing Profile"),
    }
    .map(|p| p.id.clone())
    .ok_or_else(|| format!("the instance {} has no such routing profile", instance.id))?;
    let security_profile = instance
        .security_profiles
        .iter()
        .find(|p| p.name == wanted.security_profile)
        .map(|p| p.id.clone())
        .ok_or_else(|| format!("the instance {} has no security profile {}", instance.id, wanted.security_profile))?;
    if instance.users.len() >= instance.max_users {
        return Err(format!("the instance {} has reached its maximum number of users", instance.id));
    }
    let id = new_id();
    let user = User {
        id: id.clone(),
        arn: instance.resource_arn("agent", &id),
        username: wanted.username.clone(),
        identity_info: IdentityInfo {
            first_name: wanted.first_name.clone(),
            last_name: Some(wanted.last_name.clone()),
            email: wanted.email.clone(),
            ..IdentityInfo::default()
        },
        phone_config: Some(PhoneConfig { phone_type: Some("SOFT_PHONE".into()), ..PhoneConfig::default() }),
        channel_configs: Default::default(),
        directory_user_id: None,
        security_profile_ids: vec![security_profile],
        routing_profile_id,
        hierarchy_group_id: None,
        tags: Default::default(),
        visible_at: Instant::now(),
        last_modified: now_epoch(),
    };
    instance.insert_user(user);
    Ok((id, true))
}
