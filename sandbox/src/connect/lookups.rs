//! The List* lookups, DescribeInstance and TagResource.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::error::{ConnectError, ConnectResult};
use super::model::{Instance, Named};
use super::paging::{page, with_next};
use super::rules;
use super::seed::now_epoch;

/// What kind of named resource a List* call returns, and the names of its list key and ARN segment.
#[derive(Debug, Clone, Copy)]
pub enum Listing {
    RoutingProfiles,
    SecurityProfiles,
    HierarchyGroups,
    ContactFlows,
}

impl Listing {
    fn key(self) -> &'static str {
        match self {
            Listing::RoutingProfiles => "RoutingProfileSummaryList",
            Listing::SecurityProfiles => "SecurityProfileSummaryList",
            Listing::HierarchyGroups => "UserHierarchyGroupSummaryList",
            Listing::ContactFlows => "ContactFlowSummaryList",
        }
    }

    fn arn_segment(self) -> &'static str {
        match self {
            Listing::RoutingProfiles => "routing-profile",
            Listing::SecurityProfiles => "security-profile",
            Listing::HierarchyGroups => "agent-group",
            Listing::ContactFlows => "contact-flow",
        }
    }

    fn items(self, instance: &Instance) -> &[Named] {
        match self {
            Listing::RoutingProfiles => &instance.routing_profiles,
            Listing::SecurityProfiles => &instance.security_profiles,
            Listing::HierarchyGroups => &instance.hierarchy_groups,
            Listing::ContactFlows => &instance.contact_flows,
        }
    }
}

pub fn list(
    instance: &Instance,
    listing: Listing,
    token: Option<&str>,
    max_results: Option<i64>,
    region: &str,
) -> ConnectResult<Value> {
    let (items, next) = page(listing.items(instance).iter().collect(), token, max_results, 1000, 100)?;
    let summaries: Vec<Value> = items
        .into_iter()
        .map(|item| {
            let mut summary = json!({
                "Id": item.id,
                "Arn": instance.resource_arn(listing.arn_segment(), &item.id),
                "Name": item.name,
            });
            match listing {
                Listing::ContactFlows => {
                    summary["ContactFlowType"] = json!("AGENT_TRANSFER");
                    summary["ContactFlowState"] = json!("ACTIVE");
                    summary["ContactFlowStatus"] = json!("PUBLISHED");
                }
                _ => {
                    summary["LastModifiedTime"] = json!(now_epoch());
                    summary["LastModifiedRegion"] = json!(region);
                }
            }
            summary
        })
        .collect();
    Ok(with_next(json!({ listing.key(): summaries }), next))
}

pub fn describe_instance(instance: &Instance) -> Value {
    json!({
        "Instance": {
            "Id": instance.id,
            "Arn": instance.arn,
            "IdentityManagementType": instance.identity_management,
            "InstanceAlias": instance.alias,
            "InstanceStatus": "ACTIVE",
            "InboundCallsEnabled": true,
            "OutboundCallsEnabled": true,
        }
    })
}

/// Adds tags to the user or quick connect the ARN names.
pub fn tag_resource(instances: &mut [Instance], arn: &str, body: &Value) -> ConnectResult<Value> {
    let tags: BTreeMap<String, String> = body
        .get("tags")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|_| ConnectError::invalid_parameter("tags must map strings to strings."))?
        .ok_or_else(|| ConnectError::invalid_parameter("tags is required."))?;
    rules::tags(&tags)?;
    for instance in instances {
        if let Some(user) = instance.users.values_mut().find(|user| user.arn == arn) {
            user.tags.extend(tags);
            return Ok(json!({}));
        }
        if let Some(quick_connect) = instance.quick_connects.values_mut().find(|qc| qc.arn == arn) {
            quick_connect.tags.extend(tags);
            return Ok(json!({}));
        }
    }
    Err(ConnectError::not_found(format!("Resource {arn} not found.")))
}
