//! The sandbox's state and the JSON shapes of the wire (PascalCase, as restJson1 sends them).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdentityManagementType {
    ConnectManaged,
    Saml,
    ExistingDirectory,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdentityInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PhoneConfig {
    pub phone_type: Option<String>,
    /// The SDK leaves out `false`; the service reads absence as false.
    #[serde(default)]
    pub auto_accept: bool,
    /// The SDK leaves out 0; the service reads absence as 0.
    #[serde(default)]
    pub after_contact_work_time_limit: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desk_phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_connection: Option<bool>,
}

/// The per-channel lists, kept as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelConfigs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_accept_configs: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_contact_work_configs: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_configs: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_connection_configs: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_enhancement_configs: Option<Vec<Value>>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub arn: String,
    pub username: String,
    pub identity_info: IdentityInfo,
    pub phone_config: Option<PhoneConfig>,
    pub channel_configs: ChannelConfigs,
    pub directory_user_id: Option<String>,
    pub security_profile_ids: Vec<String>,
    pub routing_profile_id: String,
    pub hierarchy_group_id: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// DescribeUser, ListUsers and SearchUsers see the user from then on (eventual consistency).
    pub visible_at: Instant,
    pub last_modified: f64,
}

/// A named resource the seed provides (routing profile, security profile, hierarchy group, contact flow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuickConnect {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub description: Option<String>,
    /// As sent: `{"QuickConnectType", "UserConfig" | "QueueConfig" | "PhoneConfig"}`.
    pub config: Value,
    pub tags: BTreeMap<String, String>,
    pub last_modified: f64,
}

impl QuickConnect {
    pub fn kind(&self) -> &str {
        self.config.get("QuickConnectType").and_then(Value::as_str).unwrap_or("")
    }

    /// The user a USER quick connect points at.
    pub fn user_id(&self) -> Option<&str> {
        self.config.pointer("/UserConfig/UserId").and_then(Value::as_str)
    }
}

pub struct Instance {
    pub id: String,
    pub arn: String,
    pub alias: String,
    pub identity_management: IdentityManagementType,
    pub routing_profiles: Vec<Named>,
    pub security_profiles: Vec<Named>,
    pub hierarchy_groups: Vec<Named>,
    /// Hierarchy group id → its parent's id; level-one groups have none.
    pub hierarchy_parents: HashMap<String, String>,
    /// Flows of type AGENT_TRANSFER, the only type a USER quick connect takes.
    pub contact_flows: Vec<Named>,
    /// The instance's flows of the other types, with their type (the service model's ContactFlowType).
    pub other_flows: Vec<(Named, &'static str)>,
    /// Read freely; written only through [`Instance::insert_user`] and [`Instance::remove_user`], which keep the
    /// username index with it.
    pub users: BTreeMap<String, User>,
    /// Lower-cased username → user id: lookups by username stay constant-time with 100,000 users and more.
    pub usernames: HashMap<String, String>,
    pub quick_connects: BTreeMap<String, QuickConnect>,
    pub max_users: usize,
    pub max_quick_connects: usize,
}

impl Instance {
    pub fn resource_arn(&self, kind: &str, id: &str) -> String {
        format!("{}/{kind}/{id}", self.arn)
    }

    /// A hierarchy group's path, level one first and the group itself last (empty for an unknown id).
    pub fn hierarchy_path(&self, id: &str) -> Vec<&Named> {
        let mut path = Vec::new();
        let mut next = Some(id);
        while let Some(id) = next {
            let Some(group) = self.hierarchy_groups.iter().find(|group| group.id == id) else { break };
            path.push(group);
            next = self.hierarchy_parents.get(id).map(String::as_str);
        }
        path.reverse();
        path
    }

    /// Usernames are unique in an instance whatever their case (CreateUser answers DuplicateResourceException).
    pub fn user_by_username(&self, username: &str) -> Option<&User> {
        self.usernames.get(&username.to_lowercase()).and_then(|id| self.users.get(id))
    }

    pub fn insert_user(&mut self, user: User) {
        self.usernames.insert(user.username.to_lowercase(), user.id.clone());
        self.users.insert(user.id.clone(), user);
    }

    pub fn remove_user(&mut self, id: &str) -> Option<User> {
        let user = self.users.remove(id)?;
        self.usernames.remove(&user.username.to_lowercase());
        Some(user)
    }
}
