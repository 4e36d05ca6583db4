//! Names resolved to ids once per chunk: routing profiles, security profiles, hierarchy groups, agent-transfer flows,
//! and the instance's users by username. Lookups are never made once per row.

use std::collections::HashMap;

use aws_sdk_connect::Client;

use super::pacing::{Api, Pacer};
use super::provisioner::ProvisionError;
use crate::domain::ResourceRef;

#[derive(Debug, Default, Clone)]
pub struct Directory {
    routing_profiles: HashMap<String, String>,
    security_profiles: HashMap<String, String>,
    hierarchy_groups: HashMap<String, String>,
    pub(crate) transfer_flow: Option<String>,
    /// Lower-cased username → user id.
    users: HashMap<String, String>,
    /// User id → the quick connects (type USER) that point at that user; read on first need.
    pub(crate) quick_connects: Option<HashMap<String, Vec<String>>>,
    instance_id: String,
}

fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Directory {
    pub async fn load(client: &Client, instance: &str, pacer: &Pacer) -> Result<Self, ProvisionError> {
        let mut directory = Directory { instance_id: instance.to_owned(), ..Directory::default() };
        pacer.wait(Api::ListRoutingProfiles).await;
        let mut pages = client.list_routing_profiles().instance_id(instance).max_results(1000).into_paginator().send();
        while let Some(page) = pages.next().await {
            for profile in page.map_err(ProvisionError::from_sdk)?.routing_profile_summary_list() {
                if let (Some(name), Some(id)) = (profile.name(), profile.id()) {
                    directory.routing_profiles.insert(key(name), id.to_owned());
                }
            }
        }
        pacer.wait(Api::ListSecurityProfiles).await;
        let mut pages = client.list_security_profiles().instance_id(instance).max_results(1000).into_paginator().send();
        while let Some(page) = pages.next().await {
            for profile in page.map_err(ProvisionError::from_sdk)?.security_profile_summary_list() {
                if let (Some(name), Some(id)) = (profile.name(), profile.id()) {
                    directory.security_profiles.insert(key(name), id.to_owned());
                }
            }
        }
        pacer.wait(Api::ListUserHierarchyGroups).await;
        let mut pages =
            client.list_user_hierarchy_groups().instance_id(instance).max_results(1000).into_paginator().send();
        while let Some(page) = pages.next().await {
            for group in page.map_err(ProvisionError::from_sdk)?.user_hierarchy_group_summary_list() {
                if let (Some(name), Some(id)) = (group.name(), group.id()) {
                    directory.hierarchy_groups.insert(key(name), id.to_owned());
                }
            }
        }
        pacer.wait(Api::ListContactFlows).await;
        let flows = client
            .list_contact_flows()
            .instance_id(instance)
            .contact_flow_types(aws_sdk_connect::types::ContactFlowType::AgentTransfer)
            .send()
            .await
            .map_err(ProvisionError::from_sdk)?;
        directory.transfer_flow = flows.contact_flow_summary_list().first().and_then(|f| f.id()).map(str::to_owned);
        directory.reload_users(client, instance, pacer).await?;
        Ok(directory)
    }

    pub async fn reload_users(&mut self, client: &Client, instance: &str, pacer: &Pacer) -> Result<(), ProvisionError> {
        self.users.clear();
        pacer.wait(Api::ListUsers).await;
        let mut pages = client.list_users().instance_id(instance).max_results(1000).into_paginator().send();
        while let Some(page) = pages.next().await {
            for user in page.map_err(ProvisionError::from_sdk)?.user_summary_list() {
                if let (Some(name), Some(id)) = (user.username(), user.id()) {
                    self.users.insert(key(name), id.to_owned());
                }
            }
        }
        Ok(())
    }

    pub fn user_id(&self, username: &str) -> Option<&str> {
        self.users.get(&key(username)).map(String::as_str)
    }

    pub(crate) fn remember_user(&mut self, username: &str, id: &str) {
        self.users.insert(key(username), id.to_owned());
    }

    pub(crate) fn forget_user(&mut self, username: &str) {
        self.users.remove(&key(username));
    }

    fn resolve(
        &self,
        map: &HashMap<String, String>,
        reference: &ResourceRef,
        what: &str,
    ) -> Result<String, ProvisionError> {
        match reference {
            ResourceRef::Id(id) => Ok(id.clone()),
            // arn:aws:connect:<region>:<account>:instance/<instance id>/<kind>/<resource id>
            ResourceRef::Arn(arn) => {
                let mut parts = arn.split('/');
                let (_, instance, id) = (parts.next(), parts.next(), parts.nth(1));
                match (instance, id) {
                    (Some(instance), Some(id)) if instance == self.instance_id => Ok(id.to_owned()),
                    (Some(instance), Some(_)) => Err(ProvisionError::permanent(format!(
                        "the {what} ARN {arn:?} belongs to instance {instance}, not to {}",
                        self.instance_id
                    ))),
                    _ => Err(ProvisionError::permanent(format!("the {what} ARN {arn:?} names no resource"))),
                }
            }
            ResourceRef::Name(name) => {
                // A hierarchy path (level1/level2) names its last level's group.
                let last = name.rsplit('/').next().unwrap_or(name);
                map.get(&key(name))
                    .or_else(|| map.get(&key(last)))
                    .cloned()
                    .ok_or_else(|| ProvisionError::permanent(format!("the instance has no {what} named {name:?}")))
            }
        }
    }

    pub fn routing_profile(&self, reference: &ResourceRef) -> Result<String, ProvisionError> {
        self.resolve(&self.routing_profiles, reference, "routing profile")
    }

    pub fn security_profile(&self, reference: &ResourceRef) -> Result<String, ProvisionError> {
        self.resolve(&self.security_profiles, reference, "security profile")
    }

    pub fn hierarchy_group(&self, reference: &ResourceRef) -> Result<String, ProvisionError> {
        self.resolve(&self.hierarchy_groups, reference, "hierarchy group")
    }
}
