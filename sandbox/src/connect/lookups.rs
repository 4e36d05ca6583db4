//! The List* lookups, DescribeInstance, TagResource and UntagResource.

use std::collections::BTreeMap;

use serde::Deserialize;
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
}

impl Listing {
    fn key(self) -> &'static str {
        match self {
            Listing::RoutingProfiles => "RoutingProfileSummaryList",
            Listing::SecurityProfiles => "SecurityProfileSummaryList",
            Listing::HierarchyGroups => "UserHierarchyGroupSummaryList",
        }
    }

    fn arn_segment(self) -> &'static str {
        match self {
            Listing::RoutingProfiles => "routing-profile",
            Listing::SecurityProfiles => "security-profile",
            Listing::HierarchyGroups => "agent-group",
        }
    }

    fn items(self, instance: &Instance) -> &[Named] {
        match self {
            Listing::RoutingProfiles => &instance.routing_profiles,
            Listing::SecurityProfiles => &instance.security_profiles,
            Listing::HierarchyGroups => &instance.hierarchy_groups,
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
            json!({
                "Id": item.id,
                "Arn": instance.resource_arn(listing.arn_segment(), &item.id),
                "Name": item.name,
                "LastModifiedTime": now_epoch(),
                "LastModifiedRegion": region,
            })
        })
        .collect();
    Ok(with_next(json!({ listing.key(): summaries }), next))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchHierarchyGroupsRequest {
    pub instance_id: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    search_criteria: Option<Value>,
    search_filter: Option<Value>,
}

/// SearchUserHierarchyGroups without criteria: every group with its path (API reference,
/// SearchUserHierarchyGroups: `MaxResults` 1 to 100; each `HierarchyGroup` carries `LevelId` and a `HierarchyPath`
/// whose levels run from `LevelOne` down to the group itself).
pub fn search_hierarchy_groups(
    instance: &Instance,
    request: &SearchHierarchyGroupsRequest,
    region: &str,
) -> ConnectResult<Value> {
    if request.search_criteria.is_some() || request.search_filter.is_some() {
        // Not served rather than ignored: a client relying on a filter would otherwise be told every group matched.
        return Err(ConnectError::invalid_request(
            "the sandbox serves SearchUserHierarchyGroups without criteria only.",
        ));
    }
    let total = instance.hierarchy_groups.len();
    let (groups, next) =
        page(instance.hierarchy_groups.iter().collect(), request.next_token.as_deref(), request.max_results, 100, 100)?;
    let summary = |group: &Named| {
        json!({
            "Id": group.id,
            "Arn": instance.resource_arn("agent-group", &group.id),
            "Name": group.name,
            "LastModifiedTime": now_epoch(),
            "LastModifiedRegion": region,
        })
    };
    const LEVELS: [&str; 5] = ["LevelOne", "LevelTwo", "LevelThree", "LevelFour", "LevelFive"];
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|group| {
            let path = instance.hierarchy_path(&group.id);
            let levels: serde_json::Map<String, Value> =
                LEVELS.iter().zip(&path).map(|(level, group)| ((*level).to_owned(), summary(group))).collect();
            let mut body = summary(group);
            body["LevelId"] = json!(path.len().to_string());
            body["HierarchyPath"] = Value::Object(levels);
            body["Tags"] = json!({});
            body
        })
        .collect();
    Ok(with_next(json!({ "UserHierarchyGroups": groups, "ApproximateTotalCount": total }), next))
}

/// The ContactFlowType values of the service model (botocore `connect` service-2.json, `ContactFlowType`).
const FLOW_TYPES: [&str; 10] = [
    "CONTACT_FLOW",
    "CUSTOMER_QUEUE",
    "CUSTOMER_HOLD",
    "CUSTOMER_WHISPER",
    "AGENT_HOLD",
    "AGENT_WHISPER",
    "OUTBOUND_WHISPER",
    "AGENT_TRANSFER",
    "QUEUE_TRANSFER",
    "CAMPAIGN",
];

/// ListContactFlows: every flow of the instance, or those of the types asked for (`contactFlowTypes`, repeated).
/// The other types come first, as nothing in the API promises an order.
pub fn list_flows(
    instance: &Instance,
    types: &[String],
    token: Option<&str>,
    max_results: Option<i64>,
) -> ConnectResult<Value> {
    if let Some(unknown) = types.iter().find(|kind| !FLOW_TYPES.contains(&kind.as_str())) {
        return Err(ConnectError::invalid_parameter(format!(
            "contactFlowTypes: {unknown} is not one of {}.",
            FLOW_TYPES.join(", ")
        )));
    }
    let flows: Vec<(&Named, &str)> = instance
        .other_flows
        .iter()
        .map(|(flow, kind)| (flow, *kind))
        .chain(instance.contact_flows.iter().map(|flow| (flow, "AGENT_TRANSFER")))
        .filter(|(_, kind)| types.is_empty() || types.iter().any(|wanted| wanted == kind))
        .collect();
    let (flows, next) = page(flows, token, max_results, 1000, 100)?;
    let summaries: Vec<Value> = flows
        .into_iter()
        .map(|(flow, kind)| {
            json!({
                "Id": flow.id,
                "Arn": instance.resource_arn("contact-flow", &flow.id),
                "Name": flow.name,
                "ContactFlowType": kind,
                "ContactFlowState": "ACTIVE",
                "ContactFlowStatus": "PUBLISHED",
            })
        })
        .collect();
    Ok(with_next(json!({ "ContactFlowSummaryList": summaries }), next))
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
            // A user created moments ago may not be found yet (eventual consistency, as for the Update* calls).
            if user.visible_at > std::time::Instant::now() {
                break;
            }
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

/// UntagResource (`DELETE /tags/{resourceArn}?tagKeys=...`): `tagKeys` is required, 1 to 50 keys (service model,
/// UntagResourceRequest, TagKeyList); keys the resource does not carry are no error.
pub fn untag_resource(instances: &mut [Instance], arn: &str, keys: &[String]) -> ConnectResult<Value> {
    if keys.is_empty() || keys.len() > 50 {
        return Err(ConnectError::invalid_parameter("tagKeys takes 1 to 50 keys."));
    }
    for instance in instances {
        if let Some(user) = instance.users.values_mut().find(|user| user.arn == arn) {
            if user.visible_at > std::time::Instant::now() {
                break;
            }
            for key in keys {
                user.tags.remove(key);
            }
            return Ok(json!({}));
        }
        if let Some(quick_connect) = instance.quick_connects.values_mut().find(|qc| qc.arn == arn) {
            for key in keys {
                quick_connect.tags.remove(key);
            }
            return Ok(json!({}));
        }
    }
    Err(ConnectError::not_found(format!("Resource {arn} not found.")))
}
