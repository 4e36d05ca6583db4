//! CreateQuickConnect, DescribeQuickConnect, ListQuickConnects, DeleteQuickConnect.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ConnectError, ConnectResult, ErrorKind};
use super::model::{Instance, QuickConnect};
use super::paging::{page, with_next};
use super::rules;
use super::seed::{new_id, now_epoch};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRequest {
    name: Option<String>,
    description: Option<String>,
    quick_connect_config: Option<Value>,
    tags: Option<BTreeMap<String, String>>,
}

pub fn create(instance: &mut Instance, request: CreateRequest) -> ConnectResult<Value> {
    let name = request.name.ok_or_else(|| ConnectError::invalid_parameter("Name is required."))?;
    if !(1..=127).contains(&name.chars().count()) {
        return Err(ConnectError::invalid_parameter("Name must be between 1 and 127 characters."));
    }
    let config = request
        .quick_connect_config
        .ok_or_else(|| ConnectError::invalid_parameter("QuickConnectConfig is required."))?;
    match config.get("QuickConnectType").and_then(Value::as_str) {
        Some("USER") => {
            let user_id = config.pointer("/UserConfig/UserId").and_then(Value::as_str);
            let flow_id = config.pointer("/UserConfig/ContactFlowId").and_then(Value::as_str);
            let (Some(user_id), Some(flow_id)) = (user_id, flow_id) else {
                return Err(ConnectError::invalid_parameter("UserConfig with UserId and ContactFlowId is required."));
            };
            match instance.users.get(user_id) {
                None => return Err(ConnectError::not_found(format!("User {user_id} not found."))),
                // Eventual consistency: a user created moments ago is not yet a valid target (issue 11, "Connect
                // eventual consistency": writes that name a new user may answer InvalidRequestException a while).
                Some(user) if user.visible_at > Instant::now() => {
                    return Err(ConnectError::invalid_request(format!("UserId {user_id} is not valid.")));
                }
                Some(_) => {}
            }
            // A USER quick connect transfers through a flow of type AGENT_TRANSFER (API reference,
            // UserQuickConnectConfig: "The flow ID for the flow that the quick connect will use").
            if instance.other_flows.iter().any(|(flow, _)| flow.id == flow_id) {
                return Err(ConnectError::invalid_parameter(format!(
                    "Contact flow {flow_id} is not of type AGENT_TRANSFER, which a USER quick connect needs."
                )));
            }
            if !instance.contact_flows.iter().any(|flow| flow.id == flow_id) {
                return Err(ConnectError::not_found(format!("Contact flow {flow_id} not found.")));
            }
        }
        Some("QUEUE") | Some("PHONE_NUMBER") => {}
        _ => return Err(ConnectError::invalid_parameter("QuickConnectType must be USER, QUEUE or PHONE_NUMBER.")),
    }
    if let Some(tags) = &request.tags {
        rules::tags(tags)?;
    }
    if instance.quick_connects.values().any(|qc| qc.name == name) {
        return Err(ConnectError::new(ErrorKind::DuplicateResource, format!("Quick connect {name} already exists.")));
    }
    if instance.quick_connects.len() >= instance.max_quick_connects {
        return Err(ConnectError::new(
            ErrorKind::LimitExceeded,
            format!(
                "The maximum number of quick connects ({}) for this instance has been reached.",
                instance.max_quick_connects
            ),
        ));
    }
    let id = new_id();
    let arn = instance.resource_arn("transfer-destination", &id);
    instance.quick_connects.insert(
        id.clone(),
        QuickConnect {
            id: id.clone(),
            arn: arn.clone(),
            name,
            description: request.description,
            config,
            tags: request.tags.unwrap_or_default(),
            last_modified: now_epoch(),
        },
    );
    Ok(json!({ "QuickConnectARN": arn, "QuickConnectId": id }))
}

pub fn describe(instance: &Instance, id: &str, region: &str) -> ConnectResult<Value> {
    let qc = instance
        .quick_connects
        .get(id)
        .ok_or_else(|| ConnectError::not_found(format!("Quick connect {id} not found.")))?;
    let mut body = json!({
        "QuickConnectARN": qc.arn,
        "QuickConnectId": qc.id,
        "Name": qc.name,
        "QuickConnectConfig": qc.config,
        "Tags": qc.tags,
        "LastModifiedTime": qc.last_modified,
        "LastModifiedRegion": region,
    });
    if let Some(description) = &qc.description {
        body["Description"] = json!(description);
    }
    Ok(json!({ "QuickConnect": body }))
}

pub fn list(
    instance: &Instance,
    types: &[String],
    token: Option<&str>,
    max_results: Option<i64>,
    region: &str,
) -> ConnectResult<Value> {
    let selected: Vec<&QuickConnect> = instance
        .quick_connects
        .values()
        .filter(|qc| types.is_empty() || types.iter().any(|t| t == qc.kind()))
        .collect();
    let (items, next) = page(selected, token, max_results, 1000, 100)?;
    let summaries: Vec<Value> = items
        .into_iter()
        .map(|qc| {
            json!({
                "Id": qc.id,
                "Arn": qc.arn,
                "Name": qc.name,
                "QuickConnectType": qc.kind(),
                "LastModifiedTime": qc.last_modified,
                "LastModifiedRegion": region,
            })
        })
        .collect();
    Ok(with_next(json!({ "QuickConnectSummaryList": summaries }), next))
}

pub fn delete(instance: &mut Instance, id: &str) -> ConnectResult<Value> {
    instance
        .quick_connects
        .remove(id)
        .map(|_| json!({}))
        .ok_or_else(|| ConnectError::not_found(format!("Quick connect {id} not found.")))
}
