//! A Salesforce stand-in: OAuth token endpoint, sObject rows, SOQL queries and sObject Collections, with the REST
//! API's error bodies, session expiry and the daily request allocation.

mod auth;
mod bulk;
mod bulkop;
pub mod knobs;
mod org;
mod picklists;
pub mod seed;
mod soql;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::server::{Bound, Running};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use serde::Serialize;
use serde_json::{Value, json};

pub use self::auth::JWT_BEARER;
pub use self::knobs::{BulkKnobs, SalesforceFaults, SalesforceKnobs};
use self::org::{Org, Record, SfError, schema};
pub use self::seed::{SANDBOX_CLIENT_SECRET, SANDBOX_CONSUMER_KEY, SalesforceSeed};

/// Records per query page, as the service pages them.
const QUERY_PAGE: usize = 2000;
/// Records per sObject Collections call.
const COLLECTION_LIMIT: usize = 200;

struct Session {
    expires: Instant,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SalesforceCounters {
    pub api_used: u64,
    pub api_max: u64,
    /// Calls per kind (`token`, `query`, `sobject`, `collections`).
    pub calls: BTreeMap<String, u64>,
    pub injected_errors: BTreeMap<String, u64>,
    /// Queries per object queried (the SOQL's FROM), whether answered or not: which reads a client repeats.
    pub queries: BTreeMap<String, u64>,
    pub expired_or_invalid_sessions: u64,
    pub tokens_issued: u64,
}

struct World {
    org: Org,
    sessions: HashMap<String, Session>,
    counters: SalesforceCounters,
}

struct App {
    endpoint: String,
    seed: SalesforceSeed,
    knobs: Mutex<SalesforceKnobs>,
    /// Draws the injected faults: seeded from the knobs' `fault_seed` where they name one.
    faults_drawn: Mutex<fastrand::Rng>,
    world: Mutex<World>,
    voice: Mutex<Option<bulkop::VoiceSync>>,
    /// Requests that may change the org: every one but GETs and the token endpoint's sign-ins.
    writes: std::sync::atomic::AtomicU64,
}

impl App {
    fn replace_knobs(&self, knobs: SalesforceKnobs) {
        *self.faults_drawn.lock().unwrap() = fault_generator(&knobs);
        *self.knobs.lock().unwrap() = knobs;
    }

    /// Whether this call meets a fault that comes at `rate`.
    fn meets_fault(&self, rate: f64) -> bool {
        rate > 0.0 && self.faults_drawn.lock().unwrap().f64() < rate
    }
}

fn fault_generator(knobs: &SalesforceKnobs) -> fastrand::Rng {
    knobs.fault_seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed)
}

/// How often the background processor moves bulk jobs and records on.
const PROCESSOR_TICK: Duration = Duration::from_millis(50);

/// A running Salesforce sandbox. Dropping it stops the server and its background processor.
pub struct SalesforceSandbox {
    server: Running,
    app: Arc<App>,
    processor: tokio::task::AbortHandle,
}

impl Drop for SalesforceSandbox {
    fn drop(&mut self) {
        self.processor.abort();
    }
}

/// Works bulk jobs and ContactCenterBulkOp records in the background, as Salesforce does, until the app is gone.
fn spawn_processor(app: &Arc<App>) -> tokio::task::AbortHandle {
    let app = Arc::downgrade(app);
    tokio::spawn(async move {
        let mut processor = bulkop::Processor::default();
        let mut last = Instant::now();
        loop {
            tokio::time::sleep(PROCESSOR_TICK).await;
            let Some(app) = app.upgrade() else { break };
            let knobs = app.knobs.lock().unwrap().clone();
            let voice = app.voice.lock().unwrap().clone();
            let now = Instant::now();
            processor.tick(&mut app.world.lock().unwrap().org, &knobs, voice.as_ref(), now - last);
            last = now;
        }
    })
    .abort_handle()
}

impl SalesforceSandbox {
    pub async fn start(seed: SalesforceSeed, addr: SocketAddr) -> std::io::Result<Self> {
        let org = seed.build().map_err(std::io::Error::other)?;
        // The app needs the endpoint (the instance URL its tokens name) before the server runs.
        let bound = Bound::bind(addr).await?;
        let counters = SalesforceCounters { api_max: seed.daily_api_requests, ..SalesforceCounters::default() };
        let app = Arc::new(App {
            endpoint: bound.endpoint.clone(),
            knobs: Mutex::new(seed.knobs.clone()),
            faults_drawn: Mutex::new(fault_generator(&seed.knobs)),
            seed,
            world: Mutex::new(World { org, sessions: HashMap::new(), counters }),
            voice: Mutex::new(None),
            writes: Default::default(),
        });
        let server = bound.serve(router(app.clone()));
        let processor = spawn_processor(&app);
        Ok(Self { server, app, processor })
    }

    /// Requests that may change the org (all but GETs and sign-ins), answered or refused: a plan makes none.
    pub fn writes(&self) -> u64 {
        self.app.writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Both the login host (token endpoint) and the instance URL.
    pub fn endpoint(&self) -> &str {
        &self.server.endpoint
    }

    pub fn set_knobs(&self, knobs: SalesforceKnobs) {
        self.app.replace_knobs(knobs);
    }

    pub fn knobs(&self) -> SalesforceKnobs {
        self.app.knobs.lock().unwrap().clone()
    }

    /// Sets the org's API usage over the rolling 24 hours, as time passing (or other integrations) would: `used` at
    /// `max` or above spends the allocation, and every call is refused with REQUEST_LIMIT_EXCEEDED.
    pub fn set_api_usage(&self, used: u64, max: u64) {
        let mut world = self.app.world.lock().unwrap();
        world.counters.api_used = used;
        world.counters.api_max = max;
    }

    pub fn snapshot(&self) -> SalesforceSnapshot {
        snapshot(&self.app)
    }

    /// Links the org to a Connect sandbox's instance, as Service Cloud Voice with Amazon Connect is: the bulk
    /// path's records, and in a syncing org every user who joins an Amazon Connect contact center, get a Connect
    /// user that Salesforce creates there.
    pub fn link_connect(&self, link: crate::connect::VoiceLink, instance_id: &str) {
        *self.app.voice.lock().unwrap() = Some(bulkop::VoiceSync { link, instance_id: instance_id.to_owned() });
    }

    /// The owner of `username`'s pending email address confirms it; false when none is pending.
    pub fn confirm_email(&self, username: &str) -> bool {
        let mut world = self.app.world.lock().unwrap();
        let id = world.org.find_by("User", "Username", username).and_then(|u| text(u, "Id"));
        id.is_some_and(|id| world.org.confirm_email(&id))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SalesforceSnapshot {
    pub org_id: String,
    pub users: Vec<SalesforceUserSnapshot>,
    pub counters: SalesforceCounters,
    pub bulk_jobs: Vec<BulkJobSnapshot>,
    /// In a Service Cloud Voice org: joins whose Connect user Salesforce has yet to create.
    pub voice_syncs_waiting: usize,
    /// What the Service Cloud Voice sync could not do, per user id.
    pub voice_sync_failures: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BulkJobSnapshot {
    pub id: String,
    pub object: String,
    pub state: String,
    pub records: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SalesforceUserSnapshot {
    pub id: String,
    pub username: String,
    pub email: String,
    pub alias: String,
    pub active: bool,
    pub federation_id: Option<String>,
    /// The contact center's name.
    pub call_center: Option<String>,
    /// Names of the assigned permission sets.
    pub permission_sets: Vec<String>,
    /// The new email address waiting for its owner's confirmation.
    pub pending_email: Option<String>,
    /// Confirmation mails Salesforce has sent for email changes.
    pub email_confirmations_sent: u32,
    /// The alias changed while the user was in a contact center, which breaks Amazon Connect single sign-on.
    pub sso_broken: bool,
}

impl SalesforceSnapshot {
    pub fn user(&self, username: &str) -> Option<&SalesforceUserSnapshot> {
        self.users.iter().find(|u| u.username.eq_ignore_ascii_case(username))
    }
}

fn text(record: &Record, field: &str) -> Option<String> {
    record.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn snapshot(app: &App) -> SalesforceSnapshot {
    let world = app.world.lock().unwrap();
    let org = &world.org;
    let users = org
        .records("User")
        .map(|user| {
            let id = text(user, "Id").unwrap_or_default();
            let permission_sets = org
                .assignments_of(&id)
                .filter_map(|a| org.get("PermissionSet", &text(a, "PermissionSetId")?).and_then(|ps| text(ps, "Name")))
                .collect();
            SalesforceUserSnapshot {
                username: text(user, "Username").unwrap_or_default(),
                email: text(user, "Email").unwrap_or_default(),
                alias: text(user, "Alias").unwrap_or_default(),
                active: user.get("IsActive") != Some(&Value::Bool(false)),
                federation_id: text(user, "FederationIdentifier"),
                call_center: text(user, "CallCenterId")
                    .and_then(|cc| org.get("CallCenter", &cc).and_then(|c| text(c, "Name"))),
                permission_sets,
                pending_email: org.email_changes.get(&id).and_then(|change| change.pending.clone()),
                email_confirmations_sent: org.email_changes.get(&id).map_or(0, |change| change.confirmations_sent),
                sso_broken: org.sso_broken.contains(&id),
                id,
            }
        })
        .collect();
    let bulk_jobs = org
        .bulk
        .jobs
        .values()
        .map(|job| BulkJobSnapshot {
            id: job.id.clone(),
            object: job.object.clone(),
            state: job.state.as_str().to_owned(),
            records: job.records.len(),
        })
        .collect();
    SalesforceSnapshot {
        org_id: org.id.clone(),
        users,
        counters: world.counters.clone(),
        bulk_jobs,
        voice_syncs_waiting: org.joins.len(),
        voice_sync_failures: org.sync_failures.clone(),
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/services/oauth2/token", post(token))
        // The REST guide's examples end collection paths with a slash; the service takes both forms.
        .route("/services/data/{version}/query", get(query))
        .route("/services/data/{version}/query/", get(query))
        .route("/services/data/{version}/query/{locator}", get(query_more))
        .route("/services/data/{version}/sobjects/{object}", post(create_record))
        .route("/services/data/{version}/sobjects/{object}/", post(create_record))
        .route(
            "/services/data/{version}/sobjects/{object}/{id}",
            get(get_record).patch(update_record).delete(delete_record),
        )
        .route(
            "/services/data/{version}/composite/sobjects",
            post(collection_create).patch(collection_update).delete(collection_delete),
        )
        .route(
            "/services/data/{version}/composite/sobjects/",
            post(collection_create).patch(collection_update).delete(collection_delete),
        )
        .route("/services/data/{version}/composite/sobjects/{object}/{field}", patch(collection_upsert))
        .route("/services/data/{version}/jobs/ingest", post(create_ingest_job).get(list_ingest_jobs))
        .route("/services/data/{version}/jobs/ingest/", post(create_ingest_job).get(list_ingest_jobs))
        .route(
            "/services/data/{version}/jobs/ingest/{id}",
            get(ingest_job_info).patch(change_ingest_job).delete(delete_ingest_job),
        )
        .route(
            "/services/data/{version}/jobs/ingest/{id}/",
            get(ingest_job_info).patch(change_ingest_job).delete(delete_ingest_job),
        )
        // Axum's own 2 MB body limit would refuse job data the service takes; the handler enforces the service's.
        .route(
            "/services/data/{version}/jobs/ingest/{id}/batches",
            put(upload_ingest_data).layer(DefaultBodyLimit::max(bulk::UPLOAD_MAX_BYTES + 1)),
        )
        .route(
            "/services/data/{version}/jobs/ingest/{id}/batches/",
            put(upload_ingest_data).layer(DefaultBodyLimit::max(bulk::UPLOAD_MAX_BYTES + 1)),
        )
        .route("/services/data/{version}/jobs/ingest/{id}/{results}", get(ingest_job_results))
        .route("/services/data/{version}/jobs/ingest/{id}/{results}/", get(ingest_job_results))
        .route("/_sandbox/state", get(inspect_state))
        .route("/_sandbox/knobs", get(inspect_knobs).put(replace_knobs))
        .layer(axum::middleware::from_fn(request_size))
        .layer(axum::middleware::from_fn_with_state(app.clone(), count_writes))
        .with_state(app)
}

/// The most a request's URI and headers together may take (Salesforce Help, knowledge article 000386264: "In each
/// REST call, the maximum length for the combined URI and headers is 16,384 bytes").
const URI_AND_HEADERS_MAX: usize = 16_384;

/// A URI past the limit is answered 414 URI Too Long, and a URI and headers past it together 431 Request Header
/// Fields Too Large, as the article says; the request goes no further.
async fn count_writes(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    if request.method() != axum::http::Method::GET && path != "/services/oauth2/token" && !path.starts_with("/_sandbox")
    {
        app.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    next.run(request).await
}

async fn request_size(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = request.uri().to_string().len();
    let headers: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if uri > URI_AND_HEADERS_MAX {
        return StatusCode::URI_TOO_LONG.into_response();
    }
    if uri + headers > URI_AND_HEADERS_MAX {
        return StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.into_response();
    }
    next.run(request).await
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn errors(status: StatusCode, errors: &[SfError]) -> Response {
    (status, axum::Json(json!(errors))).into_response()
}

/// Runs the checks every REST call passes: a live session, the daily allocation, latency and injected faults.
async fn admit(app: &App, headers: &HeaderMap, kind: &str) -> Result<(), Response> {
    let (latency, faults) = {
        let knobs = app.knobs.lock().unwrap();
        (knobs.latency, knobs.faults.get(kind).or_else(|| knobs.faults.get("*")).copied().unwrap_or_default())
    };
    {
        let mut world = app.world.lock().unwrap();
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let live = world.sessions.get(token).is_some_and(|s| s.expires > Instant::now());
        if !live {
            world.counters.expired_or_invalid_sessions += 1;
            return Err(with_limit_info(
                errors(
                    StatusCode::UNAUTHORIZED,
                    &[SfError::new("INVALID_SESSION_ID", "Session expired or invalid", &[])],
                ),
                &world.counters,
            ));
        }
        if world.counters.api_used >= world.counters.api_max {
            return Err(with_limit_info(
                errors(
                    StatusCode::FORBIDDEN,
                    &[SfError::new("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", &[])],
                ),
                &world.counters,
            ));
        }
        world.counters.api_used += 1;
        *world.counters.calls.entry(kind.to_owned()).or_default() += 1;
    }
    latency.wait().await;
    let injected = if app.meets_fault(faults.server_error) {
        Some((
            StatusCode::INTERNAL_SERVER_ERROR,
            SfError::new("UNKNOWN_EXCEPTION", "An unexpected error occurred.", &[]),
        ))
    } else if app.meets_fault(faults.unavailable) {
        Some((
            StatusCode::SERVICE_UNAVAILABLE,
            SfError::new("SERVER_UNAVAILABLE", "Server is temporarily unavailable.", &[]),
        ))
    } else {
        None
    };
    if let Some((status, error)) = injected {
        let mut world = app.world.lock().unwrap();
        *world.counters.injected_errors.entry(kind.to_owned()).or_default() += 1;
        return Err(with_limit_info(errors(status, &[error]), &world.counters));
    }
    Ok(())
}

fn with_limit_info(mut response: Response, counters: &SalesforceCounters) -> Response {
    if let Ok(value) = HeaderValue::from_str(&format!("api-usage={}/{}", counters.api_used, counters.api_max)) {
        response.headers_mut().insert("sforce-limit-info", value);
    }
    response
}

/// Admits the call, runs `work` on the org, and stamps `Sforce-Limit-Info` on the answer.
async fn rest(app: &App, headers: &HeaderMap, kind: &str, work: impl FnOnce(&mut Org) -> Response) -> Response {
    if let Err(refusal) = admit(app, headers, kind).await {
        return refusal;
    }
    let row_lock = {
        let knobs = app.knobs.lock().unwrap();
        knobs.faults.get(kind).or_else(|| knobs.faults.get("*")).map_or(0.0, |f| f.row_lock)
    };
    let mut world = app.world.lock().unwrap();
    world.org.row_lock_rate = row_lock;
    let response = work(&mut world.org);
    with_limit_info(response, &world.counters)
}

async fn token(State(app): State<Arc<App>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let faults = app.knobs.lock().unwrap().faults.get("token").copied().unwrap_or_default();
    if app.meets_fault(faults.server_error) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "server_error", "error_description": "internal error"})),
        )
            .into_response();
    }
    // What Salesforce takes as a JWT's audience: its login hosts, or an Experience Cloud site's URL; not the My
    // Domain host the token is asked for at (Salesforce Help, "OAuth 2.0 JWT Bearer Flow for Server-to-Server
    // Integration").
    let mut audiences = vec!["https://login.salesforce.com".to_owned(), "https://test.salesforce.com".to_owned()];
    audiences.extend(app.seed.site_urls.iter().cloned());
    let ttl = Duration::from_secs(app.knobs.lock().unwrap().token_ttl_secs);
    let mut world = app.world.lock().unwrap();
    *world.counters.calls.entry("token".into()).or_default() += 1;
    match auth::grant(&form, &app.seed.connected_apps, &world.org, &audiences, now_secs()) {
        Ok(grant) => {
            let access_token = format!("{}!{}", world.org.id, uuid::Uuid::new_v4().simple());
            world.sessions.insert(access_token.clone(), Session { expires: Instant::now() + ttl });
            world.counters.tokens_issued += 1;
            let mut body = json!({
                "access_token": access_token,
                "scope": "api",
                "instance_url": app.endpoint,
                "id": format!("{}/id/{}/{}", app.endpoint, world.org.id, grant.user_id),
                "token_type": "Bearer",
            });
            if form.get("grant_type").map(String::as_str) == Some("client_credentials") {
                body["issued_at"] = json!((now_secs() * 1000).to_string());
                body["signature"] = json!(uuid::Uuid::new_v4().simple().to_string());
            }
            axum::Json(body).into_response()
        }
        Err(err) => (StatusCode::BAD_REQUEST, axum::Json(err.body())).into_response(),
    }
}

fn run_query(org: &Org, soql: &str, offset: usize, version: &str) -> Response {
    let query = match soql::parse(soql) {
        Ok(query) => query,
        Err(err) => return errors(StatusCode::BAD_REQUEST, &[err]),
    };
    // Licenses are counted as they are read.
    let licenses = if query.object == "PermissionSetLicense" { org.permission_set_licenses() } else { Vec::new() };
    // A query by Id reads its records straight away, in the order a scan would give them.
    let candidates: Box<dyn Iterator<Item = &Record>> = match query.ids() {
        _ if query.object == "PermissionSetLicense" => Box::new(licenses.iter()),
        Some(ids) => {
            let ids: BTreeSet<String> = ids.iter().filter_map(|id| org::canonical_id(id)).collect();
            let object = query.object;
            Box::new(ids.into_iter().filter_map(move |id| org.get(object, &id)))
        }
        None => match query.object.eq_ignore_ascii_case("User").then(|| query.keyed(&org::INDEXED_USER_FIELDS)) {
            // A query of users by an indexed field reads them from the index, in the order a scan would give them.
            Some(Some((field, values))) => {
                let ids: BTreeSet<String> = values
                    .iter()
                    .flat_map(|value| org.users_with(field, value))
                    .filter_map(|user| user.get("Id").and_then(Value::as_str).map(str::to_owned))
                    .collect();
                Box::new(ids.into_iter().filter_map(move |id| org.get("User", &id)))
            }
            _ => Box::new(org.records(query.object)),
        },
    };
    let matched: Vec<&Record> =
        candidates.filter(|r| query.matches(r)).take(query.limit.unwrap_or(usize::MAX)).collect();
    let total = matched.len();
    let end = (offset + QUERY_PAGE).min(total);
    let records: Vec<Value> = matched[offset.min(total)..end].iter().map(|r| query.project(r, version)).collect();
    let mut body = json!({ "totalSize": total, "done": end >= total, "records": records });
    if end < total {
        let locator: String = soql.bytes().map(|b| format!("{b:02x}")).collect();
        body["nextRecordsUrl"] = json!(format!("/services/data/{version}/query/{locator}-{end}"));
    }
    axum::Json(body).into_response()
}

async fn query(
    State(app): State<Arc<App>>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let soql = params.get("q").cloned().unwrap_or_default();
    if let Ok(parsed) = soql::parse(&soql) {
        *app.world.lock().unwrap().counters.queries.entry(parsed.object.to_owned()).or_default() += 1;
    }
    rest(&app, &headers, "query", |org| run_query(org, &soql, 0, &version)).await
}

async fn query_more(
    State(app): State<Arc<App>>,
    Path((version, locator)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let decoded = locator.rsplit_once('-').and_then(|(hex, offset)| {
        let bytes: Option<Vec<u8>> =
            (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
        Some((String::from_utf8(bytes?).ok()?, offset.parse::<usize>().ok()?))
    });
    rest(&app, &headers, "query", |org| match decoded {
        Some((soql, offset)) => run_query(org, &soql, offset, &version),
        None => errors(StatusCode::BAD_REQUEST, &[SfError::new("INVALID_QUERY_LOCATOR", "invalid query locator", &[])]),
    })
    .await
}

/// A single-record write's answer: 204, 404 for a record that is not there, 400 for the rest.
fn no_content(result: Result<(), Vec<SfError>>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(errs) if errs[0].code == "NOT_FOUND" => errors(StatusCode::NOT_FOUND, &errs),
        Err(errs) => errors(StatusCode::BAD_REQUEST, &errs),
    }
}

fn parse_record(body: &Bytes) -> Result<Record, SfError> {
    serde_json::from_slice::<Record>(body).map_err(|err| SfError::new("JSON_PARSER_ERROR", err.to_string(), &[]))
}

fn unknown_object(object: &str) -> Response {
    errors(
        StatusCode::NOT_FOUND,
        &[SfError::new("NOT_FOUND", format!("The requested resource does not exist: {object}"), &[])],
    )
}

async fn create_record(
    State(app): State<Arc<App>>,
    Path((_, object)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    rest(&app, &headers, "sobject", |org| {
        let Some(schema) = schema(&object) else { return unknown_object(&object) };
        let fields = match parse_record(&body) {
            Ok(fields) => fields,
            Err(err) => return errors(StatusCode::BAD_REQUEST, &[err]),
        };
        match org.create(schema, &fields) {
            Ok(id) => {
                (StatusCode::CREATED, axum::Json(json!({"id": id, "success": true, "errors": []}))).into_response()
            }
            Err(errs) => errors(StatusCode::BAD_REQUEST, &errs),
        }
    })
    .await
}

async fn get_record(
    State(app): State<Arc<App>>,
    Path((version, object, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    rest(&app, &headers, "sobject", |org| {
        let Some(schema) = schema(&object) else { return unknown_object(&object) };
        match org.get(schema.name, &id) {
            Some(record) => {
                let mut body = record.clone();
                let url = format!(
                    "/services/data/{version}/sobjects/{}/{}",
                    schema.name,
                    text(record, "Id").unwrap_or_default()
                );
                body.insert("attributes".into(), json!({"type": schema.name, "url": url}));
                axum::Json(Value::Object(body)).into_response()
            }
            None => errors(StatusCode::NOT_FOUND, &[org::not_found(&id)]),
        }
    })
    .await
}

async fn update_record(
    State(app): State<Arc<App>>,
    Path((_, object, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    rest(&app, &headers, "sobject", |org| {
        let Some(schema) = schema(&object) else { return unknown_object(&object) };
        let fields = match parse_record(&body) {
            Ok(fields) => fields,
            Err(err) => return errors(StatusCode::BAD_REQUEST, &[err]),
        };
        no_content(org.update(schema, &id, &fields))
    })
    .await
}

async fn delete_record(
    State(app): State<Arc<App>>,
    Path((_, object, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    rest(&app, &headers, "sobject", |org| {
        let Some(schema) = schema(&object) else { return unknown_object(&object) };
        no_content(org.delete(schema, &id))
    })
    .await
}

/// One record's outcome in a Collections answer (`statusCode`, not `errorCode`).
fn outcome(result: &Result<(String, Option<bool>), Vec<SfError>>) -> Value {
    match result {
        Ok((id, created)) => {
            let mut body = json!({"id": id, "success": true, "errors": []});
            if let Some(created) = created {
                body["created"] = json!(created);
            }
            body
        }
        Err(errs) => json!({
            "success": false,
            "errors": errs.iter().map(|e| json!({"statusCode": e.code, "message": e.message, "fields": e.fields})).collect::<Vec<_>>(),
        }),
    }
}

type Outcome = Result<(String, Option<bool>), Vec<SfError>>;

/// Applies `each` to every item; with all-or-none, one failure undoes the others and marks them rolled back.
fn collection<T>(
    org: &mut Org,
    items: &[T],
    all_or_none: bool,
    mut each: impl FnMut(&mut Org, &T) -> Outcome,
) -> Response {
    if items.len() > COLLECTION_LIMIT {
        return errors(
            StatusCode::BAD_REQUEST,
            &[SfError::new(
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
                &[],
            )],
        );
    }
    let before = all_or_none.then(|| org.clone());
    let mut results: Vec<Outcome> = items
        .iter()
        .map(|item| {
            if fastrand::f64() < org.row_lock_rate {
                return Err(vec![SfError::new(
                    "UNABLE_TO_LOCK_ROW",
                    "unable to obtain exclusive access to this record or 1 records",
                    &[],
                )]);
            }
            each(org, item)
        })
        .collect();
    if let Some(before) = before
        && results.iter().any(Result::is_err)
    {
        *org = before;
        for result in &mut results {
            if result.is_ok() {
                *result = Err(vec![SfError::new(
                    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "Record rolled back because not all records were valid and the request was using AllOrNone header",
                    &[],
                )]);
            }
        }
    }
    axum::Json(Value::Array(results.iter().map(outcome).collect())).into_response()
}

struct CollectionBody {
    all_or_none: bool,
    records: Vec<Record>,
}

fn collection_body(body: &Bytes) -> Result<CollectionBody, SfError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|err| SfError::new("JSON_PARSER_ERROR", err.to_string(), &[]))?;
    let records = value
        .get("records")
        .and_then(Value::as_array)
        .map(|records| records.iter().filter_map(|r| r.as_object().cloned()).collect())
        .ok_or_else(|| SfError::new("INVALID_FIELD", "records is required", &[]))?;
    Ok(CollectionBody { all_or_none: value.get("allOrNone").and_then(Value::as_bool).unwrap_or(false), records })
}

/// Runs `work` on a parsed Collections body, or answers 400 for one that does not parse.
fn with_collection_body(body: &Bytes, work: impl FnOnce(CollectionBody) -> Response) -> Response {
    match collection_body(body) {
        Ok(body) => work(body),
        Err(err) => errors(StatusCode::BAD_REQUEST, &[err]),
    }
}

fn record_type(record: &Record) -> Result<&'static org::Schema, Vec<SfError>> {
    let name = record.get("attributes").and_then(|a| a.get("type")).and_then(Value::as_str).unwrap_or_default();
    schema(name)
        .ok_or_else(|| vec![SfError::new("INVALID_TYPE", format!("sObject type '{name}' is not supported."), &[])])
}

async fn collection_create(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    rest(&app, &headers, "collections", |org| {
        with_collection_body(&body, |body| {
            collection(org, &body.records, body.all_or_none, |org, record| {
                let schema = record_type(record)?;
                org.create(schema, record).map(|id| (id, None))
            })
        })
    })
    .await
}

async fn collection_update(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    rest(&app, &headers, "collections", |org| {
        with_collection_body(&body, |body| {
            collection(org, &body.records, body.all_or_none, |org, record| {
                let schema = record_type(record)?;
                let id = record
                    .get("id")
                    .or_else(|| record.get("Id"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let mut fields = record.clone();
                fields.remove("id");
                org.update(schema, &id, &fields)?;
                Ok((org::canonical_id(&id).unwrap_or(id), None))
            })
        })
    })
    .await
}

async fn collection_delete(
    State(app): State<Arc<App>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let ids: Vec<String> = params.get("ids").map(|ids| ids.split(',').map(str::to_owned).collect()).unwrap_or_default();
    let all_or_none = params.get("allOrNone").is_some_and(|v| v == "true");
    rest(&app, &headers, "collections", |org| {
        collection(org, &ids, all_or_none, |org, id| {
            let canonical = org::canonical_id(id).ok_or_else(|| vec![org::malformed(id)])?;
            let schema = org::SCHEMAS
                .iter()
                .find(|s| canonical.starts_with(s.prefix))
                .ok_or_else(|| vec![org::not_found(id)])?;
            org.delete(schema, &canonical).map(|()| (canonical, None))
        })
    })
    .await
}

async fn collection_upsert(
    State(app): State<Arc<App>>,
    Path((_, object, field)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    rest(&app, &headers, "collections", |org| {
        let Some(schema) = schema(&object) else { return unknown_object(&object) };
        let Some(key) = schema.field(&field) else {
            return errors(
                StatusCode::BAD_REQUEST,
                &[SfError::new("INVALID_FIELD", format!("No such column '{field}'"), &[])],
            );
        };
        with_collection_body(&body, |body| {
            collection(org, &body.records, body.all_or_none, |org, record| {
                let value = record.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
                let existing = org.find_by(schema.name, key, &value).and_then(|r| text(r, "Id"));
                match existing {
                    Some(id) => org.update(schema, &id, record).map(|()| (id, Some(false))),
                    None => org.create(schema, record).map(|id| (id, Some(true))),
                }
            })
        })
    })
    .await
}

async fn create_ingest_job(
    State(app): State<Arc<App>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    rest(&app, &headers, "bulk", |org| bulk::create(org, &version, &body)).await
}

async fn list_ingest_jobs(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    rest(&app, &headers, "bulk", |org| bulk::list(org)).await
}

async fn ingest_job_info(
    State(app): State<Arc<App>>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    rest(&app, &headers, "bulk", |org| bulk::info(org, &id)).await
}

async fn change_ingest_job(
    State(app): State<Arc<App>>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    rest(&app, &headers, "bulk", |org| bulk::change_state(org, &id, &body)).await
}

async fn delete_ingest_job(
    State(app): State<Arc<App>>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    rest(&app, &headers, "bulk", |org| bulk::delete(org, &id)).await
}

async fn upload_ingest_data(
    State(app): State<Arc<App>>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    rest(&app, &headers, "bulk_data", |org| bulk::upload(org, &id, content_type.as_deref(), &body)).await
}

async fn ingest_job_results(
    State(app): State<Arc<App>>,
    Path((_, id, results)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let kind = match results.as_str() {
        "successfulResults" => bulk::ResultKind::Successful,
        "failedResults" => bulk::ResultKind::Failed,
        "unprocessedrecords" => bulk::ResultKind::Unprocessed,
        other => return unknown_object(other),
    };
    rest(&app, &headers, "bulk", |org| bulk::results(org, &id, kind)).await
}

async fn inspect_state(State(app): State<Arc<App>>) -> Response {
    axum::Json(json!(snapshot(&app))).into_response()
}

async fn inspect_knobs(State(app): State<Arc<App>>) -> Response {
    axum::Json(json!(app.knobs.lock().unwrap().clone())).into_response()
}

async fn replace_knobs(State(app): State<Arc<App>>, body: Bytes) -> Response {
    match serde_json::from_slice::<SalesforceKnobs>(&body) {
        Ok(knobs) => {
            app.replace_knobs(knobs.clone());
            axum::Json(json!(knobs)).into_response()
        }
        Err(err) => (StatusCode::BAD_REQUEST, axum::Json(json!({"message": err.to_string()}))).into_response(),
    }
}
