//! An Amazon Connect stand-in that speaks restJson1 as aws-sdk-connect and boto3 send it.

mod error;
pub mod gate;
mod iam;
mod lookups;
mod model;
mod paging;
mod quick_connects;
mod rules;
pub mod seed;
mod users;
mod voice;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use self::error::{ConnectError, ErrorKind};
use self::gate::Gate;
pub use self::gate::{Counters, FaultRates, Knobs, Latency, Op, QuotaSpec};
use self::lookups::Listing;
use self::model::Instance;
pub use self::model::{IdentityInfo, IdentityManagementType, PhoneConfig};
pub use self::seed::ConnectSeed;
use self::users::Update;
pub use self::voice::VoiceUser;
use crate::server::{Bound, Running};

struct World {
    region: String,
    instances: Vec<Instance>,
    /// Usernames of the users Service Cloud Voice created (through [`VoiceLink`]), in order.
    created_by_salesforce: Vec<String>,
}

impl World {
    fn instance(&mut self, id: &str) -> Result<&mut Instance, ConnectError> {
        self.instances
            .iter_mut()
            .find(|instance| instance.id == id)
            .ok_or_else(|| ConnectError::not_found(format!("Instance {id} not found.")))
    }
}

struct App {
    gate: Gate,
    world: Mutex<World>,
}

/// A running Connect sandbox. Dropping it stops the server.
pub struct ConnectSandbox {
    server: Running,
    app: Arc<App>,
    instance_ids: Vec<(String, String)>,
}

impl ConnectSandbox {
    /// Starts a server on `addr` (port 0: any free port).
    pub async fn start(seed: ConnectSeed, addr: SocketAddr) -> std::io::Result<Self> {
        let instances = seed.build().map_err(std::io::Error::other)?;
        let instance_ids = instances.iter().map(|i| (i.alias.clone(), i.id.clone())).collect();
        let app = Arc::new(App {
            gate: Gate::new(seed.knobs.clone()),
            world: Mutex::new(World { region: seed.region.clone(), instances, created_by_salesforce: Vec::new() }),
        });
        let server = Bound::bind(addr).await?.serve(router(app.clone()));
        Ok(Self { server, app, instance_ids })
    }

    /// The URL to give the SDK as its endpoint.
    pub fn endpoint(&self) -> &str {
        &self.server.endpoint
    }

    /// The id of the first seeded instance.
    pub fn default_instance_id(&self) -> &str {
        self.instance_ids.first().map(|(_, id)| id.as_str()).unwrap_or_default()
    }

    /// The id of the instance with this alias.
    pub fn instance_id(&self, alias: &str) -> Option<&str> {
        self.instance_ids.iter().find(|(a, _)| a == alias).map(|(_, id)| id.as_str())
    }

    pub fn set_knobs(&self, knobs: Knobs) {
        self.app.gate.set_knobs(knobs);
    }

    pub fn knobs(&self) -> Knobs {
        self.app.gate.knobs()
    }

    /// Holds calls signed with `access_key` to these IAM identity policy documents (`connect:` actions), as IAM holds
    /// a role's session; callers not named here are not checked.
    pub fn set_policies(&self, access_key: &str, documents: Vec<Value>) {
        self.app.gate.set_policies(access_key, documents);
    }

    /// The calls seen so far and how they ended, without the instances' contents (cheap enough to poll).
    pub fn counters(&self) -> Counters {
        self.app.gate.counters()
    }

    /// Calls that change an instance (creates, updates, deletes, tags), whether admitted or not: a plan makes none.
    pub fn writes(&self) -> u64 {
        let reads = ["Describe", "List", "Search"];
        self.counters().calls.iter().filter(|(op, _)| !reads.iter().any(|r| op.starts_with(r))).map(|(_, n)| n).sum()
    }

    /// What the sandbox holds and has seen.
    pub fn snapshot(&self) -> Snapshot {
        snapshot(&self.app)
    }

    /// The hold a Salesforce sandbox takes to create Connect users as Service Cloud Voice does.
    pub fn voice_link(&self) -> VoiceLink {
        VoiceLink { app: Arc::downgrade(&self.app) }
    }
}

/// Service Cloud Voice's way into the instances: Salesforce creates (or links) the Connect user of a user who joins
/// an Amazon Connect contact center. Holds the sandbox weakly: once it stops, every request fails.
#[derive(Clone)]
pub struct VoiceLink {
    app: Weak<App>,
}

impl std::fmt::Debug for VoiceLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VoiceLink")
    }
}

impl VoiceLink {
    /// The Connect user's id, created or found under the username.
    pub fn provision(&self, user: &VoiceUser) -> Result<String, String> {
        let app = self.app.upgrade().ok_or("the Connect sandbox has stopped")?;
        let mut world = app.world.lock().unwrap();
        let instance = world.instance(&user.instance_id).map_err(|_| format!("no instance {}", user.instance_id))?;
        let (id, created) = voice::provision(instance, user)?;
        if created {
            world.created_by_salesforce.push(user.username.clone());
        }
        Ok(id)
    }
}

/// The inspection view: users, quick connects (dangling ones marked), and the counters.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub instances: Vec<InstanceSnapshot>,
    pub counters: Counters,
    /// Usernames of the users Service Cloud Voice created, not a client's CreateUser.
    pub created_by_salesforce: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceSnapshot {
    pub id: String,
    pub alias: String,
    pub identity_management: IdentityManagementType,
    pub users: Vec<UserSnapshot>,
    pub quick_connects: Vec<QuickConnectSnapshot>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserSnapshot {
    pub id: String,
    pub username: String,
    pub identity_info: IdentityInfo,
    pub phone_config: Option<PhoneConfig>,
    pub routing_profile: String,
    pub security_profiles: Vec<String>,
    /// The group's path, `level1/level2/...`.
    pub hierarchy_group: Option<String>,
    pub tags: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuickConnectSnapshot {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub user_id: Option<String>,
    /// A USER quick connect whose user no longer exists.
    pub dangling: bool,
}

impl Snapshot {
    pub fn instance(&self, id: &str) -> Option<&InstanceSnapshot> {
        self.instances.iter().find(|i| i.id == id)
    }
}

impl InstanceSnapshot {
    pub fn user(&self, username: &str) -> Option<&UserSnapshot> {
        self.users.iter().find(|u| u.username.eq_ignore_ascii_case(username))
    }
}

fn snapshot(app: &App) -> Snapshot {
    let world = app.world.lock().unwrap();
    let name_of = |list: &[model::Named], id: &str| {
        list.iter().find(|n| n.id == id).map(|n| n.name.clone()).unwrap_or_else(|| id.to_owned())
    };
    let instances = world
        .instances
        .iter()
        .map(|instance| InstanceSnapshot {
            id: instance.id.clone(),
            alias: instance.alias.clone(),
            identity_management: instance.identity_management,
            users: instance
                .users
                .values()
                .map(|user| UserSnapshot {
                    id: user.id.clone(),
                    username: user.username.clone(),
                    identity_info: user.identity_info.clone(),
                    phone_config: user.phone_config.clone(),
                    routing_profile: name_of(&instance.routing_profiles, &user.routing_profile_id),
                    security_profiles: user
                        .security_profile_ids
                        .iter()
                        .map(|id| name_of(&instance.security_profiles, id))
                        .collect(),
                    hierarchy_group: user.hierarchy_group_id.as_deref().map(|id| {
                        let path: Vec<&str> = instance.hierarchy_path(id).iter().map(|g| g.name.as_str()).collect();
                        if path.is_empty() { id.to_owned() } else { path.join("/") }
                    }),
                    tags: user.tags.clone(),
                })
                .collect(),
            quick_connects: instance
                .quick_connects
                .values()
                .map(|qc| QuickConnectSnapshot {
                    id: qc.id.clone(),
                    name: qc.name.clone(),
                    kind: qc.kind().to_owned(),
                    user_id: qc.user_id().map(str::to_owned),
                    dangling: qc.user_id().is_some_and(|id| !instance.users.contains_key(id)),
                })
                .collect(),
        })
        .collect();
    Snapshot { instances, counters: app.gate.counters(), created_by_salesforce: world.created_by_salesforce.clone() }
}

pub(crate) fn request_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).unwrap_or(HeaderValue::from_static("0"))
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/users/{instance}", put(create_user))
        .route("/users/{instance}/{user}", get(describe_user).delete(delete_user))
        .route("/users/{instance}/{user}/identity-info", post(update_identity_info))
        .route("/users/{instance}/{user}/phone-config", post(update_phone_config))
        .route("/users/{instance}/{user}/config", post(update_config))
        .route("/users/{instance}/{user}/routing-profile", post(update_routing_profile))
        .route("/users/{instance}/{user}/security-profiles", post(update_security_profiles))
        .route("/users/{instance}/{user}/hierarchy", post(update_hierarchy))
        .route("/users-summary/{instance}", get(list_users))
        .route("/search-users", post(search_users))
        .route("/tags/{arn}", post(tag_resource).delete(untag_resource))
        .route("/routing-profiles-summary/{instance}", get(list_routing_profiles))
        .route("/security-profiles-summary/{instance}", get(list_security_profiles))
        .route("/user-hierarchy-groups-summary/{instance}", get(list_hierarchy_groups))
        .route("/search-user-hierarchy-groups", post(search_hierarchy_groups))
        .route("/contact-flows-summary/{instance}", get(list_contact_flows))
        .route("/quick-connects/{instance}", put(create_quick_connect).get(list_quick_connects))
        .route("/quick-connects/{instance}/{quick_connect}", get(describe_quick_connect).delete(delete_quick_connect))
        .route("/instance/{instance}", get(describe_instance))
        .route("/_sandbox/state", get(inspect_state))
        .route("/_sandbox/knobs", get(inspect_knobs).put(replace_knobs))
        .with_state(app)
}

/// Passes the gate, then runs `work` on the world under its lock.
async fn call(
    app: &App,
    op: Op,
    headers: &HeaderMap,
    work: impl FnOnce(&mut World) -> Result<Value, ConnectError>,
) -> Response {
    let result = match app.gate.admit(op, headers).await {
        Ok(()) => work(&mut app.world.lock().unwrap()),
        Err(err) => Err(err),
    };
    match result {
        Ok(_) if app.gate.loses_answer(op) => (
            StatusCode::BAD_GATEWAY,
            [("content-type", "text/html")],
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
            .into_response(),
        Ok(body) => {
            let mut response = (StatusCode::OK, axum::Json(body)).into_response();
            response.headers_mut().insert("x-amzn-requestid", request_id());
            response
        }
        Err(err) => err.into_response(),
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ConnectError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body)
        .map_err(|err| ConnectError::new(ErrorKind::InvalidRequest, format!("Malformed request body: {err}")))
}

/// The query string's pairs, percent-decoded; repeated keys stay repeated.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Paging {
    token: Option<String>,
    max_results: Option<i64>,
}

fn paging(query: &[(String, String)]) -> Result<Paging, ConnectError> {
    let value = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let max_results = value("maxResults")
        .map(|v| v.parse::<i64>().map_err(|_| ConnectError::invalid_parameter("maxResults must be a number.")))
        .transpose()?;
    Ok(Paging { token: value("nextToken"), max_results })
}

type AppState = State<Arc<App>>;

async fn create_user(State(app): AppState, Path(instance): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let delay = Duration::from_millis(app.gate.knobs().visibility_delay_ms);
    call(&app, Op::CreateUser, &headers, |world| users::create(world.instance(&instance)?, parse(&body)?, delay)).await
}

async fn describe_user(
    State(app): AppState,
    Path((instance, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    call(&app, Op::DescribeUser, &headers, |world| {
        let region = world.region.clone();
        users::describe(world.instance(&instance)?, &user, &region)
    })
    .await
}

async fn delete_user(
    State(app): AppState,
    Path((instance, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    call(&app, Op::DeleteUser, &headers, |world| users::delete(world.instance(&instance)?, &user)).await
}

async fn update_user(
    app: &App,
    op: Op,
    what: Update,
    instance: &str,
    user: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    call(app, op, headers, |world| users::update(world.instance(instance)?, user, what, parse(body)?)).await
}

async fn update_identity_info(
    State(app): AppState,
    Path((instance, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    update_user(&app, Op::UpdateUserIdentityInfo, Update::IdentityInfo, &instance, &user, &headers, &body).await
}

async fn update_phone_config(
    State(app): AppState,
    Path((instance, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    update_user(&app, Op::UpdateUserPhoneConfig, Update::PhoneConfig, &instance, &user, &headers, &body).await
}

async fn update_config(
    State(app): AppState,
    Path((instance, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    update_user(&app, Op::UpdateUserConfig, Update::Config, &instance, &user, &headers, &body).await
}

async fn update_routing_profile(
    State(app): AppState,
    Path((instance, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    update_user(&app, Op::UpdateUserRoutingProfile, Update::RoutingProfile, &instance, &user, &headers, &body).await
}

async fn update_security_profiles(
    State(app): AppState,
    Path((instance, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    update_user(&app, Op::UpdateUserSecurityProfiles, Update::SecurityProfiles, &instance, &user, &headers, &body).await
}

async fn update_hierarchy(
    State(app): AppState,
    Path((instance, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    update_user(&app, Op::UpdateUserHierarchy, Update::Hierarchy, &instance, &user, &headers, &body).await
}

async fn list_users(
    State(app): AppState,
    Path(instance): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    call(&app, Op::ListUsers, &headers, |world| {
        let paging = paging(&query_pairs(query.as_deref()))?;
        let region = world.region.clone();
        users::list(world.instance(&instance)?, paging.token.as_deref(), paging.max_results, &region)
    })
    .await
}

async fn search_users(State(app): AppState, headers: HeaderMap, body: Bytes) -> Response {
    call(&app, Op::SearchUsers, &headers, |world| {
        let request: users::SearchUsersRequest = parse(&body)?;
        let instance =
            request.instance_id.clone().ok_or_else(|| ConnectError::invalid_parameter("InstanceId is required."))?;
        let region = world.region.clone();
        users::search(world.instance(&instance)?, &request, &region)
    })
    .await
}

async fn tag_resource(State(app): AppState, Path(arn): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    call(&app, Op::TagResource, &headers, |world| lookups::tag_resource(&mut world.instances, &arn, &parse(&body)?))
        .await
}

async fn untag_resource(
    State(app): AppState,
    Path(arn): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    call(&app, Op::UntagResource, &headers, |world| {
        let keys: Vec<String> =
            query_pairs(query.as_deref()).into_iter().filter(|(k, _)| k == "tagKeys").map(|(_, v)| v).collect();
        lookups::untag_resource(&mut world.instances, &arn, &keys)
    })
    .await
}

async fn list_named(
    app: &App,
    op: Op,
    listing: Listing,
    instance: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    call(app, op, headers, |world| {
        let paging = paging(&query_pairs(query))?;
        let region = world.region.clone();
        lookups::list(world.instance(instance)?, listing, paging.token.as_deref(), paging.max_results, &region)
    })
    .await
}

async fn list_routing_profiles(
    State(app): AppState,
    Path(instance): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    list_named(&app, Op::ListRoutingProfiles, Listing::RoutingProfiles, &instance, query.as_deref(), &headers).await
}

async fn list_security_profiles(
    State(app): AppState,
    Path(instance): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    list_named(&app, Op::ListSecurityProfiles, Listing::SecurityProfiles, &instance, query.as_deref(), &headers).await
}

async fn list_hierarchy_groups(
    State(app): AppState,
    Path(instance): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    list_named(&app, Op::ListUserHierarchyGroups, Listing::HierarchyGroups, &instance, query.as_deref(), &headers).await
}

async fn search_hierarchy_groups(State(app): AppState, headers: HeaderMap, body: Bytes) -> Response {
    call(&app, Op::SearchUserHierarchyGroups, &headers, |world| {
        let request: lookups::SearchHierarchyGroupsRequest = parse(&body)?;
        let instance =
            request.instance_id.clone().ok_or_else(|| ConnectError::invalid_parameter("InstanceId is required."))?;
        let region = world.region.clone();
        lookups::search_hierarchy_groups(world.instance(&instance)?, &request, &region)
    })
    .await
}

async fn list_contact_flows(
    State(app): AppState,
    Path(instance): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    call(&app, Op::ListContactFlows, &headers, |world| {
        let query = query_pairs(query.as_deref());
        let paging = paging(&query)?;
        let types: Vec<String> =
            query.iter().filter(|(key, _)| key == "contactFlowTypes").map(|(_, value)| value.clone()).collect();
        lookups::list_flows(world.instance(&instance)?, &types, paging.token.as_deref(), paging.max_results)
    })
    .await
}

async fn create_quick_connect(
    State(app): AppState,
    Path(instance): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    call(&app, Op::CreateQuickConnect, &headers, |world| {
        quick_connects::create(world.instance(&instance)?, parse(&body)?)
    })
    .await
}

async fn list_quick_connects(
    State(app): AppState,
    Path(instance): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    call(&app, Op::ListQuickConnects, &headers, |world| {
        let pairs = query_pairs(query.as_deref());
        let paging = paging(&pairs)?;
        let types: Vec<String> = pairs.into_iter().filter(|(k, _)| k == "QuickConnectTypes").map(|(_, v)| v).collect();
        let region = world.region.clone();
        quick_connects::list(world.instance(&instance)?, &types, paging.token.as_deref(), paging.max_results, &region)
    })
    .await
}

async fn describe_quick_connect(
    State(app): AppState,
    Path((instance, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    call(&app, Op::DescribeQuickConnect, &headers, |world| {
        let region = world.region.clone();
        quick_connects::describe(world.instance(&instance)?, &id, &region)
    })
    .await
}

async fn delete_quick_connect(
    State(app): AppState,
    Path((instance, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    call(&app, Op::DeleteQuickConnect, &headers, |world| quick_connects::delete(world.instance(&instance)?, &id)).await
}

async fn describe_instance(State(app): AppState, Path(instance): Path<String>, headers: HeaderMap) -> Response {
    call(&app, Op::DescribeInstance, &headers, |world| Ok(lookups::describe_instance(world.instance(&instance)?))).await
}

async fn inspect_state(State(app): AppState) -> Response {
    axum::Json(json!(snapshot(&app))).into_response()
}

async fn inspect_knobs(State(app): AppState) -> Response {
    axum::Json(json!(app.gate.knobs())).into_response()
}

async fn replace_knobs(State(app): AppState, body: Bytes) -> Response {
    match serde_json::from_slice::<Knobs>(&body) {
        Ok(knobs) => {
            app.gate.set_knobs(knobs.clone());
            axum::Json(json!(knobs)).into_response()
        }
        Err(err) => (StatusCode::BAD_REQUEST, axum::Json(json!({ "message": err.to_string() }))).into_response(),
    }
}
