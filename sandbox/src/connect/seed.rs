//! What a Connect sandbox starts with: instances, their profiles, groups, flows and users. Read from JSON; the
//! default mirrors a new account with a CONNECT_MANAGED instance and a SAML one.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::gate::Knobs;
use super::model::{IdentityInfo, IdentityManagementType, Instance, Named, PhoneConfig, User};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectSeed {
    #[serde(default = "default_account")]
    pub account_id: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub instances: Vec<InstanceSeed>,
    #[serde(default)]
    pub knobs: Knobs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSeed {
    /// Generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub alias: String,
    pub identity_management: IdentityManagementType,
    pub routing_profiles: Vec<String>,
    pub security_profiles: Vec<String>,
    /// Hierarchy groups by their path, `level1/level2/...`; a group's parent is listed before it.
    #[serde(default)]
    pub hierarchy_groups: Vec<String>,
    /// Flows of type AGENT_TRANSFER, which USER quick connects need.
    #[serde(default)]
    pub agent_transfer_flows: Vec<String>,
    #[serde(default)]
    pub users: Vec<UserSeed>,
    /// Users per instance (the service's default quota is 500).
    #[serde(default = "default_max_users")]
    pub max_users: usize,
    /// Quick connects per instance (the service's quota is 100).
    #[serde(default = "default_max_quick_connects")]
    pub max_quick_connects: usize,
    /// Fixed ids for named resources (routing profiles, security profiles, groups, flows), by name, so that files
    /// holding ARNs find them; the others get generated ids.
    #[serde(default)]
    pub ids: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSeed {
    pub username: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    pub routing_profile: String,
    pub security_profiles: Vec<String>,
}

fn default_account() -> String {
    "123456789012".into()
}

fn default_region() -> String {
    "us-east-1".into()
}

fn default_max_users() -> usize {
    500
}

fn default_max_quick_connects() -> usize {
    100
}

impl Default for ConnectSeed {
    fn default() -> Self {
        let profiles = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let instance = |alias: &str, identity| InstanceSeed {
            id: None,
            alias: alias.into(),
            identity_management: identity,
            routing_profiles: profiles(&["Basic Routing Profile", "Sales Inbound", "Support Tier 1", "Support Tier 2"]),
            security_profiles: profiles(&["Admin", "Agent", "CallCenterManager", "QualityAnalyst"]),
            hierarchy_groups: profiles(&[
                "Support",
                "Sales",
                "Support/Tier 1",
                "Support/Tier 2",
                "Sales/East",
                "Sales/West",
            ]),
            agent_transfer_flows: profiles(&["Default agent transfer"]),
            users: vec![UserSeed {
                username: if identity == IdentityManagementType::Saml { "admin@example.com" } else { "admin" }.into(),
                first_name: Some("Instance".into()),
                last_name: Some("Admin".into()),
                email: None,
                routing_profile: "Basic Routing Profile".into(),
                security_profiles: vec!["Admin".into()],
            }],
            max_users: default_max_users(),
            max_quick_connects: default_max_quick_connects(),
            ids: BTreeMap::new(),
        };
        Self {
            account_id: default_account(),
            region: default_region(),
            instances: vec![
                instance("ccbulk-sandbox", IdentityManagementType::ConnectManaged),
                instance("ccbulk-sandbox-saml", IdentityManagementType::Saml),
            ],
            knobs: Knobs::default(),
        }
    }
}

/// Flows of other types than AGENT_TRANSFER that every new instance has (Connect admin guide, "Default flows"), so
/// that a client which does not filter ListContactFlows by type, or takes the first flow listed, gets the wrong one.
const DEFAULT_OTHER_FLOWS: [(&str, &str); 3] = [
    ("Default customer queue", "CUSTOMER_QUEUE"),
    ("Default queue transfer", "QUEUE_TRANSFER"),
    ("Sample inbound flow (first contact experience)", "CONTACT_FLOW"),
];

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn now_epoch() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl ConnectSeed {
    /// Builds the instances; a user naming an unknown profile is a seed error.
    pub(crate) fn build(&self) -> Result<Vec<Instance>, String> {
        self.instances.iter().map(|seed| self.build_instance(seed)).collect()
    }

    fn build_instance(&self, seed: &InstanceSeed) -> Result<Instance, String> {
        let id = seed.id.clone().unwrap_or_else(new_id);
        let named = |names: &[String]| {
            names
                .iter()
                .map(|name| Named { id: seed.ids.get(name).cloned().unwrap_or_else(new_id), name: name.clone() })
                .collect()
        };
        let mut instance = Instance {
            arn: format!("arn:aws:connect:{}:{}:instance/{id}", self.region, self.account_id),
            id,
            alias: seed.alias.clone(),
            identity_management: seed.identity_management,
            routing_profiles: named(&seed.routing_profiles),
            security_profiles: named(&seed.security_profiles),
            hierarchy_groups: Vec::new(),
            hierarchy_parents: HashMap::new(),
            contact_flows: named(&seed.agent_transfer_flows),
            other_flows: DEFAULT_OTHER_FLOWS
                .iter()
                .map(|(name, kind)| (Named { id: new_id(), name: (*name).to_owned() }, *kind))
                .collect(),
            users: BTreeMap::new(),
            usernames: Default::default(),
            quick_connects: BTreeMap::new(),
            max_users: seed.max_users,
            max_quick_connects: seed.max_quick_connects,
        };
        hierarchy(&mut instance, seed)?;
        for user in &seed.users {
            let find = |list: &[Named], name: &str| {
                list.iter().find(|n| n.name == name).map(|n| n.id.clone()).ok_or_else(|| {
                    format!(
                        "seed user {:?} names {name:?}, which instance {:?} does not have",
                        user.username, seed.alias
                    )
                })
            };
            let routing_profile_id = find(&instance.routing_profiles, &user.routing_profile)?;
            let security_profile_ids = user
                .security_profiles
                .iter()
                .map(|sp| find(&instance.security_profiles, sp))
                .collect::<Result<_, _>>()?;
            let user_id = new_id();
            let arn = instance.resource_arn("agent", &user_id);
            instance.insert_user(User {
                arn,
                id: user_id,
                username: user.username.clone(),
                identity_info: IdentityInfo {
                    first_name: user.first_name.clone(),
                    last_name: user.last_name.clone(),
                    email: user.email.clone(),
                    ..IdentityInfo::default()
                },
                phone_config: Some(PhoneConfig { phone_type: Some("SOFT_PHONE".into()), ..PhoneConfig::default() }),
                channel_configs: Default::default(),
                directory_user_id: None,
                security_profile_ids,
                routing_profile_id,
                hierarchy_group_id: None,
                tags: BTreeMap::new(),
                visible_at: Instant::now(),
                last_modified: now_epoch(),
            });
        }
        Ok(instance)
    }
}

/// Connect's agent hierarchies have at most five levels (admin guide, "Set up agent hierarchies").
const HIERARCHY_LEVELS: usize = 5;

/// The seed's hierarchy groups, each under the group its path names before its own name.
fn hierarchy(instance: &mut Instance, seed: &InstanceSeed) -> Result<(), String> {
    let mut ids: HashMap<Vec<&str>, String> = HashMap::new();
    for path in &seed.hierarchy_groups {
        let levels: Vec<&str> = path.split('/').map(str::trim).collect();
        if levels.len() > HIERARCHY_LEVELS || levels.iter().any(|level| level.is_empty()) {
            return Err(format!("seed hierarchy group {path:?} needs 1 to {HIERARCHY_LEVELS} non-empty levels"));
        }
        if ids.contains_key(&levels) {
            return Err(format!("seed hierarchy group {path:?} is listed twice"));
        }
        let (name, parents) = levels.split_last().expect("one level at least");
        let parent = match parents {
            [] => None,
            parents => Some(ids.get(parents).cloned().ok_or_else(|| {
                format!("seed hierarchy group {path:?} comes before its parent {:?}", parents.join("/"))
            })?),
        };
        let id = seed.ids.get(path).cloned().unwrap_or_else(new_id);
        instance.hierarchy_groups.push(Named { id: id.clone(), name: (*name).to_owned() });
        if let Some(parent) = parent {
            instance.hierarchy_parents.insert(id.clone(), parent);
        }
        ids.insert(levels, id);
    }
    Ok(())
}
