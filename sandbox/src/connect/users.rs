//! CreateUser, DescribeUser, ListUsers, SearchUsers, the Update* calls and DeleteUser.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ConnectError, ConnectResult, ErrorKind};
use super::model::{ChannelConfigs, IdentityInfo, IdentityManagementType, Instance, PhoneConfig, User};
use super::paging::{page, with_next};
use super::rules;
use super::seed::{new_id, now_epoch};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserRequest {
    username: Option<String>,
    password: Option<String>,
    identity_info: Option<IdentityInfo>,
    phone_config: Option<PhoneConfig>,
    directory_user_id: Option<String>,
    security_profile_ids: Option<Vec<String>>,
    routing_profile_id: Option<String>,
    hierarchy_group_id: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    channel_configs: ChannelConfigs,
}

pub fn create(instance: &mut Instance, request: CreateUserRequest, visibility_delay: Duration) -> ConnectResult<Value> {
    let identity = instance.identity_management;
    let username = request.username.ok_or_else(|| ConnectError::invalid_parameter("Username is required."))?;
    rules::username(&username, identity)?;
    match (&request.password, identity) {
        (None, IdentityManagementType::ConnectManaged) => {
            return Err(ConnectError::invalid_parameter(
                "Password is required for CONNECT_MANAGED identity management.",
            ));
        }
        (Some(secret), IdentityManagementType::ConnectManaged) => rules::password(secret)?,
        (Some(_), other) => {
            return Err(ConnectError::invalid_parameter(format!(
                "Password is not supported for {} identity management.",
                rules::identity_name(other)
            )));
        }
        (None, _) => {}
    }
    let identity_info = request.identity_info.unwrap_or_default();
    rules::identity_info(&identity_info, identity, true)?;
    if request.directory_user_id.is_some() && identity == IdentityManagementType::Saml {
        return Err(ConnectError::invalid_parameter("DirectoryUserId is not supported for SAML identity management."));
    }
    if request.phone_config.is_none() && request.channel_configs.phone_number_configs.is_none() {
        return Err(ConnectError::invalid_parameter("PhoneConfig is required."));
    }
    if let Some(config) = &request.phone_config {
        rules::phone_config(config)?;
    }
    rules::channel_conflicts(request.phone_config.as_ref(), &request.channel_configs)?;
    rules::voice_only_lists(&request.channel_configs)?;
    let security_profile_ids = security_profiles(instance, request.security_profile_ids)?;
    let routing_profile_id =
        request.routing_profile_id.ok_or_else(|| ConnectError::invalid_parameter("RoutingProfileId is required."))?;
    routing_profile(instance, &routing_profile_id)?;
    if let Some(group) = &request.hierarchy_group_id {
        hierarchy_group(instance, group)?;
    }
    if let Some(tags) = &request.tags {
        rules::tags(tags)?;
    }
    if instance.user_by_username(&username).is_some() {
        return Err(ConnectError::new(
            ErrorKind::DuplicateResource,
            format!("The user {username} is already associated with the Amazon Connect instance {}", instance.id),
        ));
    }
    if instance.users.len() >= instance.max_users {
        return Err(ConnectError::new(
            ErrorKind::LimitExceeded,
            format!("The maximum number of users ({}) for this instance has been reached.", instance.max_users),
        ));
    }
    let id = new_id();
    let arn = instance.resource_arn("agent", &id);
    let user = User {
        id: id.clone(),
        arn: arn.clone(),
        username,
        identity_info,
        phone_config: request.phone_config,
        channel_configs: request.channel_configs,
        directory_user_id: request.directory_user_id,
        security_profile_ids,
        routing_profile_id,
        hierarchy_group_id: request.hierarchy_group_id,
        tags: request.tags.unwrap_or_default(),
        visible_at: Instant::now() + visibility_delay,
        last_modified: now_epoch(),
    };
    instance.insert_user(user);
    Ok(json!({ "UserId": id, "UserArn": arn }))
}

fn security_profiles(instance: &Instance, ids: Option<Vec<String>>) -> ConnectResult<Vec<String>> {
    let ids = ids.unwrap_or_default();
    if !(1..=10).contains(&ids.len()) {
        return Err(ConnectError::invalid_parameter("SecurityProfileIds must contain between 1 and 10 items."));
    }
    for id in &ids {
        if !instance.security_profiles.iter().any(|sp| &sp.id == id) {
            return Err(ConnectError::not_found(format!("Security profile {id} not found.")));
        }
    }
    Ok(ids)
}

fn routing_profile(instance: &Instance, id: &str) -> ConnectResult<()> {
    if instance.routing_profiles.iter().any(|rp| rp.id == id) {
        Ok(())
    } else {
        Err(ConnectError::not_found(format!("Routing profile {id} not found.")))
    }
}

fn hierarchy_group(instance: &Instance, id: &str) -> ConnectResult<()> {
    if instance.hierarchy_groups.iter().any(|group| group.id == id) {
        Ok(())
    } else {
        Err(ConnectError::not_found(format!("Hierarchy group {id} not found.")))
    }
}

fn user_mut<'a>(instance: &'a mut Instance, id: &str) -> ConnectResult<&'a mut User> {
    instance.users.get_mut(id).ok_or_else(|| ConnectError::not_found(format!("User {id} not found.")))
}

/// A user the reads can see: eventual consistency hides a new user for a while.
fn visible<'a>(instance: &'a Instance, id: &str) -> ConnectResult<&'a User> {
    instance
        .users
        .get(id)
        .filter(|user| user.visible_at <= Instant::now())
        .ok_or_else(|| ConnectError::not_found(format!("User {id} not found.")))
}

fn user_json(user: &User, region: &str, full: bool) -> Value {
    let mut body = json!({
        "Id": user.id,
        "Arn": user.arn,
        "Username": user.username,
        "IdentityInfo": user.identity_info,
        "SecurityProfileIds": user.security_profile_ids,
        "RoutingProfileId": user.routing_profile_id,
        "Tags": user.tags,
    });
    if let Some(config) = &user.phone_config {
        body["PhoneConfig"] = json!(config);
    }
    if let Some(group) = &user.hierarchy_group_id {
        body["HierarchyGroupId"] = json!(group);
    }
    if let Some(directory_id) = &user.directory_user_id {
        body["DirectoryUserId"] = json!(directory_id);
    }
    if let Value::Object(channels) = json!(user.channel_configs) {
        body.as_object_mut().expect("an object").extend(channels);
    }
    if full {
        body["LastModifiedTime"] = json!(user.last_modified);
        body["LastModifiedRegion"] = json!(region);
    }
    body
}

pub fn describe(instance: &Instance, id: &str, region: &str) -> ConnectResult<Value> {
    Ok(json!({ "User": user_json(visible(instance, id)?, region, true) }))
}

pub fn list(instance: &Instance, token: Option<&str>, max_results: Option<i64>, region: &str) -> ConnectResult<Value> {
    let now = Instant::now();
    let users: Vec<&User> = instance.users.values().filter(|user| user.visible_at <= now).collect();
    let (users, next) = page(users, token, max_results, 1000, 100)?;
    let summaries: Vec<Value> = users
        .iter()
        .map(|user| {
            json!({
                "Id": user.id,
                "Arn": user.arn,
                "Username": user.username,
                "LastModifiedTime": user.last_modified,
                "LastModifiedRegion": region,
            })
        })
        .collect();
    Ok(with_next(json!({ "UserSummaryList": summaries }), next))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchUsersRequest {
    pub instance_id: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    search_criteria: Option<Value>,
}

pub fn search(instance: &Instance, request: &SearchUsersRequest, region: &str) -> ConnectResult<Value> {
    let now = Instant::now();
    let mut matched = Vec::new();
    // One exact username (how ccbulk looks a user up) is read from the index; any other criteria scan the users.
    let candidates: Box<dyn Iterator<Item = &User>> = match request.search_criteria.as_ref().and_then(exact_username) {
        Some(username) => Box::new(instance.user_by_username(username).into_iter()),
        None => Box::new(instance.users.values()),
    };
    for user in candidates.filter(|user| user.visible_at <= now) {
        let keep = match &request.search_criteria {
            Some(criteria) => matches(criteria, user)?,
            None => true,
        };
        if keep {
            matched.push(user);
        }
    }
    let total = matched.len();
    let (users, next) = page(matched, request.next_token.as_deref(), request.max_results, 500, 100)?;
    let users: Vec<Value> = users.into_iter().map(|user| search_summary(user, region)).collect();
    Ok(with_next(json!({ "Users": users, "ApproximateTotalCount": total }), next))
}

/// A user as SearchUsers gives it (UserSearchSummary, service model 2025-04): its identity is UserIdentityInfoLite,
/// first and last name only, and the per-channel configs are left out. Email and the rest take a DescribeUser.
fn search_summary(user: &User, region: &str) -> Value {
    let mut body = user_json(user, region, false);
    let lite = json!({
        "FirstName": user.identity_info.first_name,
        "LastName": user.identity_info.last_name,
    });
    body["IdentityInfo"] = lite;
    if let Some(body) = body.as_object_mut() {
        body.retain(|key, _| {
            ["Arn", "DirectoryUserId", "HierarchyGroupId", "Id", "IdentityInfo", "PhoneConfig", "RoutingProfileId"]
                .into_iter()
                .chain(["SecurityProfileIds", "Tags", "Username"])
                .any(|kept| kept == key)
        });
    }
    body
}

/// The username a criteria asks for alone and exactly, if that is all it asks.
fn exact_username(criteria: &Value) -> Option<&str> {
    let condition = criteria.as_object().filter(|c| c.len() == 1)?.get("StringCondition")?;
    let field = condition.get("FieldName")?.as_str()?;
    let comparison = condition.get("ComparisonType").and_then(Value::as_str).unwrap_or("EXACT");
    (field.eq_ignore_ascii_case("username") && comparison == "EXACT").then_some(())?;
    condition.get("Value")?.as_str()
}

/// The subset of UserSearchCriteria ccbulk needs: string conditions on username, names and id, combined with
/// `OrConditions` / `AndConditions`.
fn matches(criteria: &Value, user: &User) -> ConnectResult<bool> {
    if let Some(any) = criteria.get("OrConditions").and_then(Value::as_array) {
        for inner in any {
            if matches(inner, user)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(all) = criteria.get("AndConditions").and_then(Value::as_array) {
        for inner in all {
            if !matches(inner, user)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    let Some(condition) = criteria.get("StringCondition") else { return Ok(true) };
    let field = condition.get("FieldName").and_then(Value::as_str).unwrap_or_default();
    let value = condition.get("Value").and_then(Value::as_str).unwrap_or_default();
    let comparison = condition.get("ComparisonType").and_then(Value::as_str).unwrap_or("EXACT");
    let actual = match field.to_ascii_lowercase().as_str() {
        "username" => user.username.as_str(),
        "firstname" => user.identity_info.first_name.as_deref().unwrap_or(""),
        "lastname" => user.identity_info.last_name.as_deref().unwrap_or(""),
        "resourceid" => user.id.as_str(),
        _ => return Err(ConnectError::invalid_parameter(format!("FieldName {field} is not supported."))),
    };
    let (actual, value) = (actual.to_lowercase(), value.to_lowercase());
    Ok(match comparison {
        "EXACT" => actual == value,
        "CONTAINS" => actual.contains(&value),
        "STARTS_WITH" => actual.starts_with(&value),
        other => return Err(ConnectError::invalid_parameter(format!("ComparisonType {other} is not valid."))),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateRequest {
    identity_info: Option<IdentityInfo>,
    phone_config: Option<PhoneConfig>,
    routing_profile_id: Option<String>,
    security_profile_ids: Option<Vec<String>>,
    hierarchy_group_id: Option<String>,
    #[serde(flatten)]
    channel_configs: ChannelConfigs,
}

/// Which Update* call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    IdentityInfo,
    PhoneConfig,
    RoutingProfile,
    SecurityProfiles,
    Hierarchy,
    /// UpdateUserConfig: the per-channel lists; each list given replaces the user's.
    Config,
}

pub fn update(instance: &mut Instance, id: &str, what: Update, request: UpdateRequest) -> ConnectResult<Value> {
    let identity = instance.identity_management;
    // Eventual consistency reaches the writes too: an Update* call on a user created moments ago may answer
    // ResourceNotFoundException for a while, as DescribeUser does (reference/amazon-connect.md; issue 11).
    visible(instance, id)?;
    match what {
        Update::IdentityInfo => {
            let info =
                request.identity_info.ok_or_else(|| ConnectError::invalid_parameter("IdentityInfo is required."))?;
            let current = &instance.users[id].identity_info;
            let directory_owned = info.first_name != current.first_name
                || info.last_name != current.last_name
                || info.email != current.email;
            if identity == IdentityManagementType::ExistingDirectory && directory_owned {
                return Err(ConnectError::invalid_request(
                    "FirstName, LastName and Email are managed by the directory and cannot be updated.",
                ));
            }
            rules::identity_info(&info, identity, false)?;
            // The call replaces the whole IdentityInfo; fields left out are cleared (as a PUT would). Callers keep
            // what they do not change by sending it again.
            user_mut(instance, id)?.identity_info = info;
        }
        Update::PhoneConfig => {
            let config =
                request.phone_config.ok_or_else(|| ConnectError::invalid_parameter("PhoneConfig is required."))?;
            rules::phone_config(&config)?;
            // One model behind both calls: "While UpdateUserPhoneConfig applies the same ACW timeout to all
            // channels, UpdateUserConfig allows you to set different ... values for each channel type" (API
            // reference, UpdateUserConfig). The per-channel ACW entries the user has all take the phone config's.
            let user = user_mut(instance, id)?;
            for entry in user.channel_configs.after_contact_work_configs.iter_mut().flatten() {
                entry["AfterContactWorkConfig"] =
                    json!({ "AfterContactWorkTimeLimit": config.after_contact_work_time_limit });
            }
            user.phone_config = Some(config);
        }
        Update::Config => {
            let given = request.channel_configs;
            let lists = [
                given.auto_accept_configs.is_some(),
                given.after_contact_work_configs.is_some(),
                given.phone_number_configs.is_some(),
                given.persistent_connection_configs.is_some(),
                given.voice_enhancement_configs.is_some(),
            ];
            if !lists.contains(&true) {
                return Err(ConnectError::invalid_parameter("At least one configuration list is required."));
            }
            rules::voice_only_lists(&given)?;
            let user = user_mut(instance, id)?;
            let current = &mut user.channel_configs;
            for (slot, list) in [
                (&mut current.auto_accept_configs, given.auto_accept_configs),
                (&mut current.after_contact_work_configs, given.after_contact_work_configs),
                (&mut current.phone_number_configs, given.phone_number_configs),
                (&mut current.persistent_connection_configs, given.persistent_connection_configs),
                (&mut current.voice_enhancement_configs, given.voice_enhancement_configs),
            ] {
                if list.is_some() {
                    *slot = list;
                }
            }
        }
        Update::RoutingProfile => {
            let profile = request
                .routing_profile_id
                .ok_or_else(|| ConnectError::invalid_parameter("RoutingProfileId is required."))?;
            routing_profile(instance, &profile)?;
            user_mut(instance, id)?.routing_profile_id = profile;
        }
        Update::SecurityProfiles => {
            let ids = security_profiles(instance, request.security_profile_ids)?;
            user_mut(instance, id)?.security_profile_ids = ids;
        }
        Update::Hierarchy => {
            if let Some(group) = &request.hierarchy_group_id {
                hierarchy_group(instance, group)?;
            }
            user_mut(instance, id)?.hierarchy_group_id = request.hierarchy_group_id;
        }
    }
    user_mut(instance, id)?.last_modified = now_epoch();
    Ok(json!({}))
}

/// Deletes the user. Quick connects that point at it stay, dangling, as the service leaves them.
pub fn delete(instance: &mut Instance, id: &str) -> ConnectResult<Value> {
    instance.remove_user(id).map(|_| json!({})).ok_or_else(|| ConnectError::not_found(format!("User {id} not found.")))
}
