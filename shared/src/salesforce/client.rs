//! A Salesforce REST client: OAuth (client credentials or JWT bearer), re-authentication when a session expires,
//! SOQL with paging, and sObject Collections.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::RwLock;

use super::allocation::{Allocation, Usage};

pub const API_VERSION: &str = "v62.0";

/// A request's body.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    Json(&'a Value),
    /// CSV data, as Bulk API 2.0's Upload Job Data takes it.
    Csv(&'a str),
}
/// Records per sObject Collections call.
pub const COLLECTION_LIMIT: usize = 200;
/// Attempts a call gets against server errors (5xx) before the error is the caller's.
const SERVER_ERROR_ATTEMPTS: u32 = 3;

/// Whether a failed call may be sent again without risking doing its work twice.
/// Salesforce could not lock the record (or a related one) for this write, and wrote nothing: a lock passes, so the
/// write is tried again (Salesforce's "Record Locking Cheat Sheet"; the REST API's UNABLE_TO_LOCK_ROW status code).
pub(crate) const ROW_LOCKED: &str = "UNABLE_TO_LOCK_ROW";

fn repeatable(method: &Method, status: Option<StatusCode>) -> bool {
    *method != Method::POST || status == Some(StatusCode::SERVICE_UNAVAILABLE)
}

/// How ccbulk signs in. Secrets never reach `Debug` output.
#[derive(Clone)]
pub enum Credentials {
    ClientCredentials {
        login_url: String,
        client_id: String,
        client_secret: String,
    },
    /// `audience` is the JWT's `aud`, for an Experience Cloud site's URL; unset, it is the one [`jwt_audience`]
    /// picks for the login URL.
    JwtBearer {
        login_url: String,
        client_id: String,
        username: String,
        private_key_pem: String,
        audience: Option<String>,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::ClientCredentials { login_url, client_id, .. } => {
                write!(
                    f,
                    "ClientCredentials {{ login_url: {login_url:?}, client_id: {client_id:?}, client_secret: <redacted> }}"
                )
            }
            Credentials::JwtBearer { login_url, client_id, username, .. } => write!(
                f,
                "JwtBearer {{ login_url: {login_url:?}, client_id: {client_id:?}, username: {username:?}, key: <redacted> }}"
            ),
        }
    }
}

/// The `aud` of a JWT bearer assertion. Salesforce takes https://login.salesforce.com, https://test.salesforce.com
/// for a sandbox, or an Experience Cloud site's URL, and never the My Domain host the token is asked for at
/// (Salesforce Help, "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration": "The audience identifies the
/// authorization server as an intended audience"). A sandbox is told by its login host: test.salesforce.com, or a
/// My Domain under `.sandbox.my.salesforce.com` (Salesforce Help, "My Domain URL Formats").
pub fn jwt_audience(login_url: &str) -> &'static str {
    let host = login_url.split("://").nth(1).unwrap_or(login_url).split(['/', ':']).next().unwrap_or_default();
    let host = host.to_ascii_lowercase();
    if host == "test.salesforce.com" || host.ends_with(".sandbox.my.salesforce.com") {
        "https://test.salesforce.com"
    } else {
        "https://login.salesforce.com"
    }
}

/// The code of a call that could not be made because the sign-in before it failed (the sign-in's own code is in the
/// message).
pub const CANNOT_SIGN_IN: &str = "CCBULK_CANNOT_SIGN_IN";

/// A refusal from Salesforce, with its code (`DUPLICATE_USERNAME`, `invalid_grant`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceError {
    pub code: String,
    pub message: String,
    /// Worth another attempt later (5xx, network), as opposed to a refusal.
    pub retryable: bool,
}

impl fmt::Display for SalesforceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salesforce: {} ({})", self.message, self.code)
    }
}

impl SalesforceError {
    /// A row ccbulk itself will not send, for the reason given: not worth another attempt.
    pub fn refused(message: impl Into<String>) -> Self {
        Self { code: "CCBULK_REFUSED".into(), message: message.into(), retryable: false }
    }

    /// Whether the org's API allocation is spent: nothing is wrong with the row, and the work waits until the
    /// rolling window gives calls back.
    pub fn allocation_spent(&self) -> bool {
        self.code == super::ALLOCATION_SPENT
    }

    /// Whether the call never reached the org because ccbulk could not sign in (a rotated secret, a locked or
    /// deactivated integration user, the login service down): nothing is wrong with the row.
    pub fn cannot_sign_in(&self) -> bool {
        self.code == CANNOT_SIGN_IN
    }

    /// A sign-in refused or failed while a call was being made: its own code and message kept in the text.
    fn sign_in_failed(self) -> Self {
        Self {
            code: CANNOT_SIGN_IN.into(),
            message: format!("cannot sign in: {} ({})", self.message, self.code),
            retryable: self.retryable,
        }
    }

    fn transport(err: reqwest::Error) -> Self {
        // reqwest's own text does not say which way a call failed; an operator reading the row's reason needs to.
        let message = if err.is_timeout() {
            format!("no answer in time (timed out): {err}")
        } else if err.is_connect() {
            format!("could not connect: {err}")
        } else {
            err.to_string()
        };
        Self { code: "TRANSPORT".into(), message, retryable: true }
    }
}

/// One record's outcome in a Collections answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionResult {
    pub id: Option<String>,
    pub error: Option<SalesforceError>,
}

#[derive(Clone)]
struct Session {
    access_token: String,
    instance_url: String,
    /// The org's id, from the token answer's identity URL (`…/id/<org id>/<user id>`).
    org_id: Option<String>,
}

pub struct SalesforceClient {
    http: reqwest::Client,
    credentials: Credentials,
    session: RwLock<Option<Session>>,
    allocation: Allocation,
    /// API calls sent so far (sign-ins left out: they count against no allocation).
    calls: std::sync::atomic::AtomicU64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    instance_url: String,
    #[serde(default)]
    id: Option<String>,
}

/// How long a connection may take to open. A login host or instance that does not answer at all is a failed call,
/// tried again as any transport error is, not a worker stuck until Lambda kills it with its leases held.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call may take, answer included. Salesforce ends a synchronous request itself after 10 minutes
/// ("Execution Governors and Limits", Apex Developer Guide: the synchronous request limit); ccbulk's calls are
/// bounded batches (200 records, a query page, a chunk's CSV) that take seconds, so a call this slow is lost.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

impl SalesforceClient {
    pub fn new(credentials: Credentials) -> Self {
        Self::with_request_timeout(credentials, REQUEST_TIMEOUT)
    }

    /// A client whose calls give up after `timeout` (tests use a short one).
    pub fn with_request_timeout(credentials: Credentials, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            .build()
            // Only a TLS back end that cannot start fails here; the defaults are kept rather than no client.
            .unwrap_or_default();
        Self {
            http,
            credentials,
            session: RwLock::new(None),
            allocation: Allocation::default(),
            calls: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// API calls sent so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The org's API allocation as the last answer reported it.
    pub fn usage(&self) -> Option<Usage> {
        self.allocation.usage()
    }

    /// The org's API allocation as the last answer reported it, and when that answer came (epoch seconds).
    pub fn usage_seen(&self) -> Option<(Usage, u64)> {
        self.allocation.seen()
    }

    /// Calls spaced out so far because the allocation was nearly spent.
    pub fn slowed_calls(&self) -> u64 {
        self.allocation.slowed()
    }

    async fn login(&self) -> Result<Session, SalesforceError> {
        let (login_url, form) = match &self.credentials {
            Credentials::ClientCredentials { login_url, client_id, client_secret } => (
                login_url,
                vec![
                    ("grant_type", "client_credentials".to_owned()),
                    ("client_id", client_id.clone()),
                    ("client_secret", client_secret.clone()),
                ],
            ),
            Credentials::JwtBearer { login_url, client_id, username, private_key_pem, audience } => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                let audience = audience.as_deref().unwrap_or_else(|| jwt_audience(login_url));
                let claims = json!({"iss": client_id, "sub": username, "aud": audience, "exp": now + 120});
                let key = EncodingKey::from_rsa_pem(private_key_pem.as_bytes()).map_err(|err| SalesforceError {
                    code: "INVALID_KEY".into(),
                    message: format!("the JWT signing key is not an RSA private key in PEM form: {err}"),
                    retryable: false,
                })?;
                let assertion = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).map_err(|err| {
                    SalesforceError { code: "INVALID_KEY".into(), message: err.to_string(), retryable: false }
                })?;
                (
                    login_url,
                    vec![
                        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned()),
                        ("assertion", assertion),
                    ],
                )
            }
        };
        let response = self
            .http
            .post(format!("{}/services/oauth2/token", login_url.trim_end_matches('/')))
            .form(&form)
            .send()
            .await
            .map_err(SalesforceError::transport)?;
        let status = response.status();
        let body: Value = response.json().await.map_err(SalesforceError::transport)?;
        if !status.is_success() {
            return Err(SalesforceError {
                code: body["error"].as_str().unwrap_or("oauth_error").to_owned(),
                message: format!("sign-in refused: {}", body["error_description"].as_str().unwrap_or_default()),
                retryable: status.is_server_error(),
            });
        }
        let answer: TokenAnswer = serde_json::from_value(body).map_err(|err| SalesforceError {
            code: "OAUTH_ANSWER".into(),
            message: err.to_string(),
            retryable: false,
        })?;
        let org_id = answer.id.as_deref().and_then(|id| id.rsplit('/').nth(1)).map(str::to_owned);
        Ok(Session { access_token: answer.access_token, instance_url: answer.instance_url, org_id })
    }

    /// The org's id, as the sign-in names it.
    pub async fn org_id(&self) -> Result<String, SalesforceError> {
        self.session(false).await?.org_id.ok_or_else(|| SalesforceError {
            code: "OAUTH_ANSWER".into(),
            message: "the sign-in did not name the org".into(),
            retryable: false,
        })
    }

    /// Signs in now (not at the first call), so that wrong credentials are one clear error before any row.
    pub async fn sign_in(&self) -> Result<(), SalesforceError> {
        self.session(true).await.map(drop)
    }

    async fn session(&self, renew: bool) -> Result<Session, SalesforceError> {
        if !renew && let Some(session) = self.session.read().await.clone() {
            return Ok(session);
        }
        let session = self.login().await?;
        *self.session.write().await = Some(session.clone());
        Ok(session)
    }

    /// Sends a REST call; an expired session is renewed once and the call repeated. A server error is retried with
    /// backoff where repeating cannot do a thing twice: reads, PATCH and DELETE always, POST only on 503 (the request
    /// was not processed).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, SalesforceError> {
        self.send(method, path, query, body.map(Payload::Json)).await
    }

    /// Like [`call`](Self::call), with a body of any kind (CSV for Bulk API job data). An answer that is not JSON
    /// (a CSV of results) comes back as a JSON string.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Payload<'_>>,
    ) -> Result<Value, SalesforceError> {
        let mut attempt = 1;
        loop {
            match self.call_once(method.clone(), path, query, body).await {
                Err((err, status))
                    if err.retryable && attempt < SERVER_ERROR_ATTEMPTS && repeatable(&method, status) =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(100 << (2 * attempt))).await;
                    attempt += 1;
                }
                result => return result.map_err(|(err, _)| err),
            }
        }
    }

    async fn call_once(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Payload<'_>>,
    ) -> Result<Value, (SalesforceError, Option<StatusCode>)> {
        let mut renew = false;
        loop {
            let session = self.session(renew).await.map_err(|e| (e.sign_in_failed(), None))?;
            let url = if path.starts_with("/services/") {
                format!("{}{path}", session.instance_url)
            } else {
                format!("{}/services/data/{API_VERSION}{path}", session.instance_url)
            };
            let mut request = self.http.request(method.clone(), url).bearer_auth(&session.access_token).query(query);
            request = match body {
                Some(Payload::Json(body)) => request.json(body),
                Some(Payload::Csv(text)) => request.header("content-type", "text/csv").body(text.to_owned()),
                None => request,
            };
            self.allocation.wait_turn().await;
            self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let response = request.send().await.map_err(|e| (SalesforceError::transport(e), None))?;
            self.allocation.record(response.headers().get("sforce-limit-info").and_then(|v| v.to_str().ok()));
            let status = response.status();
            let text = response.text().await.map_err(|e| (SalesforceError::transport(e), Some(status)))?;
            let value: Value =
                if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
            if status == StatusCode::UNAUTHORIZED && !renew {
                renew = true;
                continue;
            }
            if status.is_success() {
                return Ok(value);
            }
            let first = value.get(0).unwrap_or(&Value::Null);
            let code = first["errorCode"].as_str().unwrap_or("HTTP_ERROR").to_owned();
            let err = SalesforceError {
                message: first["message"].as_str().map(str::to_owned).unwrap_or_else(|| format!("HTTP {status}")),
                retryable: status.is_server_error() || code == ROW_LOCKED,
                code,
            };
            return Err((err, Some(status)));
        }
    }

    /// Runs a SOQL query and follows `nextRecordsUrl` to the end.
    pub async fn query(&self, soql: &str) -> Result<Vec<Value>, SalesforceError> {
        let mut page = self.call(Method::GET, "/query", &[("q", soql)], None).await?;
        let mut records = Vec::new();
        loop {
            records.extend(page["records"].as_array().cloned().unwrap_or_default());
            match page["nextRecordsUrl"].as_str() {
                Some(next) if page["done"] == Value::Bool(false) => {
                    let next = next.to_owned();
                    page = self.call(Method::GET, &next, &[], None).await?;
                }
                _ => return Ok(records),
            }
        }
    }

    /// The records `select` (a `SELECT ... WHERE` without its condition) finds with `field` among `values`, in as
    /// few queries as the URI allows: each query names as many values as fit in [`QUERY_URI_BUDGET`].
    pub async fn query_in(&self, select: &str, field: &str, values: &[String]) -> Result<Vec<Value>, SalesforceError> {
        let mut records = Vec::new();
        for list in packed(&format!("{select} {field} IN ()"), values) {
            records.extend(self.query(&format!("{select} {field} IN ({list})")).await?);
        }
        Ok(records)
    }

    /// Creates (`POST`) or updates (`PATCH`, records carrying `id`) up to 200 records, each succeeding or failing alone.
    pub async fn collection(
        &self,
        method: Method,
        records: Vec<Value>,
    ) -> Result<Vec<CollectionResult>, SalesforceError> {
        let mut results = Vec::with_capacity(records.len());
        for batch in records.chunks(COLLECTION_LIMIT) {
            let answer = self
                .call(method.clone(), "/composite/sobjects", &[], Some(&json!({"allOrNone": false, "records": batch})))
                .await?;
            results.extend(answer.as_array().into_iter().flatten().map(collection_result));
        }
        Ok(results)
    }

    pub async fn delete(&self, ids: &[String]) -> Result<Vec<CollectionResult>, SalesforceError> {
        let mut results = Vec::with_capacity(ids.len());
        for batch in ids.chunks(COLLECTION_LIMIT) {
            let joined = batch.join(",");
            let answer = self
                .call(Method::DELETE, "/composite/sobjects", &[("ids", &joined), ("allOrNone", "false")], None)
                .await?;
            results.extend(answer.as_array().into_iter().flatten().map(collection_result));
        }
        Ok(results)
    }
}

fn collection_result(result: &Value) -> CollectionResult {
    if result["success"] == Value::Bool(true) {
        return CollectionResult { id: result["id"].as_str().map(str::to_owned), error: None };
    }
    let first = &result["errors"][0];
    CollectionResult {
        id: result["id"].as_str().map(str::to_owned),
        error: Some(SalesforceError {
            code: first["statusCode"].as_str().unwrap_or("UNKNOWN").to_owned(),
            message: first["message"].as_str().unwrap_or_default().to_owned(),
            retryable: first["statusCode"].as_str() == Some(ROW_LOCKED),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jwt_audience_is_a_login_host_whatever_the_login_url() {
        assert_eq!(jwt_audience("https://login.salesforce.com"), "https://login.salesforce.com");
        assert_eq!(jwt_audience("https://acme.my.salesforce.com/"), "https://login.salesforce.com");
        assert_eq!(jwt_audience("https://test.salesforce.com"), "https://test.salesforce.com");
        assert_eq!(jwt_audience("https://acme--uat.sandbox.my.salesforce.com"), "https://test.salesforce.com");
        assert_eq!(jwt_audience("http://127.0.0.1:4567"), "https://login.salesforce.com");
    }
}

/// The most a query's own part of a URI may take, encoded. Salesforce refuses a request whose URI and headers pass
/// 16,384 bytes (414 URI Too Long, 431 Request Header Fields Too Large: Salesforce Help, knowledge article 000386264);
/// half of that leaves the path, the token and the other headers ample room.
pub const QUERY_URI_BUDGET: usize = 8_000;

/// A SOQL string literal.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `values` as comma-separated literals, in lists that each keep `query` (the query around the list) within
/// [`QUERY_URI_BUDGET`] once encoded; no list is empty, and a value too long for any list goes alone.
fn packed(query: &str, values: &[String]) -> Vec<String> {
    let fixed = encoded_len(query);
    let mut lists = Vec::new();
    let mut list = String::new();
    for value in values {
        let literal = quoted(value);
        if !list.is_empty() && fixed + encoded_len(&list) + encoded_len(",") + encoded_len(&literal) > QUERY_URI_BUDGET
        {
            lists.push(std::mem::take(&mut list));
        }
        if !list.is_empty() {
            list.push(',');
        }
        list.push_str(&literal);
    }
    if !list.is_empty() {
        lists.push(list);
    }
    lists
}

/// Bytes `text` takes in a URI's query, form-encoded as reqwest sends it (letters, digits and `*-._` as they are,
/// a space as `+`, every other byte as `%XX`).
fn encoded_len(text: &str) -> usize {
    text.bytes().map(|b| if b.is_ascii_alphanumeric() || b" *-._".contains(&b) { 1 } else { 3 }).sum()
}

#[cfg(test)]
mod query_tests {
    use super::*;

    #[test]
    fn lists_fill_the_uri_budget_and_never_pass_it() {
        let query = "SELECT Id FROM User WHERE Username IN ()";
        let usernames: Vec<String> = (0..1_000).map(|i| format!("agent.{i:04}@example.com")).collect();
        let lists = packed(query, &usernames);
        let named: usize = lists.iter().map(|l| l.split(',').count()).sum();
        assert_eq!(named, 1_000, "every value once");
        for list in &lists {
            assert!(encoded_len(query) + encoded_len(list) <= QUERY_URI_BUDGET, "{} bytes", encoded_len(list));
        }
        // 200 usernames of this length (a chunk's worth) go in one query: the budget, not a count, decides.
        assert!(lists[0].split(',').count() >= 200, "{}", lists[0].split(',').count());
        assert!(packed(query, &[]).is_empty());
        let huge = vec!["x".repeat(QUERY_URI_BUDGET)];
        assert_eq!(packed(query, &huge).len(), 1, "a value too long for any list still goes, alone");
        assert_eq!(quoted("o'brien\\x"), "'o\\'brien\\\\x'");
    }
}
