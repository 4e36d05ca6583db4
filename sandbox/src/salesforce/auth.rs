//! The OAuth 2.0 token endpoint: the JWT bearer flow (RS256, checked against the connected app's certificate) and
//! the client-credentials flow, answering with Salesforce's bodies.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use super::org::Org;
use super::seed::ConnectedApp;

/// The JWT bearer grant type.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How far ahead `exp` may lie.
const MAX_EXP_AHEAD_SECS: u64 = 180;

/// A refusal: HTTP 400 with `{"error", "error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self { error, description: description.into() }
    }

    pub fn body(&self) -> Value {
        json!({ "error": self.error, "error_description": self.description })
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Value>,
    exp: Option<u64>,
}

/// Who a granted token acts for.
pub struct Grant {
    pub user_id: String,
}

pub fn grant(
    form: &HashMap<String, String>,
    apps: &[ConnectedApp],
    org: &Org,
    audiences: &[String],
    now_secs: u64,
) -> Result<Grant, OAuthError> {
    match form.get("grant_type").map(String::as_str) {
        Some(JWT_BEARER) => {
            jwt_bearer(form.get("assertion").map(String::as_str).unwrap_or_default(), apps, org, audiences, now_secs)
        }
        Some("client_credentials") => client_credentials(form, apps, org),
        Some(other) => Err(OAuthError::new("unsupported_grant_type", format!("grant type not supported: {other}"))),
        None => Err(OAuthError::new("invalid_request", "grant_type is required")),
    }
}

fn jwt_bearer(
    assertion: &str,
    apps: &[ConnectedApp],
    org: &Org,
    audiences: &[String],
    now_secs: u64,
) -> Result<Grant, OAuthError> {
    // The issuer names the app whose certificate checks the signature, so it is read before verifying.
    let claims: Claims = assertion
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| OAuthError::new("invalid_grant", "invalid assertion"))?;
    let app = apps
        .iter()
        .find(|app| Some(&app.consumer_key) == claims.iss.as_ref())
        .ok_or_else(|| OAuthError::new("invalid_client_id", "client identifier invalid"))?;
    let key = DecodingKey::from_rsa_pem(app.certificate_pem.as_bytes())
        .map_err(|_| OAuthError::new("invalid_client", "the connected app's certificate is not usable"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|_| OAuthError::new("invalid_grant", "invalid assertion"))?;
    let audience_ok = match &claims.aud {
        Some(Value::String(aud)) => audiences.iter().any(|a| a.trim_end_matches('/') == aud.trim_end_matches('/')),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(|aud| audiences.iter().any(|a| a == aud)),
        _ => false,
    };
    if !audience_ok {
        return Err(OAuthError::new("invalid_grant", "audience is invalid"));
    }
    match claims.exp {
        Some(exp) if exp < now_secs => return Err(OAuthError::new("invalid_grant", "expired access/refresh token")),
        Some(exp) if exp > now_secs + MAX_EXP_AHEAD_SECS => {
            return Err(OAuthError::new("invalid_grant", "invalid assertion: exp is more than 3 minutes ahead"));
        }
        Some(_) => {}
        None => return Err(OAuthError::new("invalid_grant", "invalid assertion: exp is required")),
    }
    let subject = claims.sub.unwrap_or_default();
    user(org, &subject).ok_or_else(|| OAuthError::new("invalid_grant", "user hasn't approved this consumer"))
}

fn client_credentials(form: &HashMap<String, String>, apps: &[ConnectedApp], org: &Org) -> Result<Grant, OAuthError> {
    let app = apps
        .iter()
        .find(|app| Some(&app.consumer_key) == form.get("client_id"))
        .ok_or_else(|| OAuthError::new("invalid_client_id", "client identifier invalid"))?;
    if Some(&app.client_secret) != form.get("client_secret") {
        return Err(OAuthError::new("invalid_client", "invalid client credentials"));
    }
    user(org, &app.run_as).ok_or_else(|| OAuthError::new("invalid_grant", "authentication failure"))
}

fn user(org: &Org, username: &str) -> Option<Grant> {
    let record = org.find_by("User", "Username", username)?;
    if record.get("IsActive") == Some(&Value::Bool(false)) {
        return None;
    }
    Some(Grant { user_id: record.get("Id")?.as_str()?.to_owned() })
}
