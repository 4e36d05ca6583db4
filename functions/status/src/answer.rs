//! Responses: JSON bodies, and errors as `{"error": {"code", "message"}}` with their HTTP status.

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

/// A request the API refuses, or a failure behind it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code: "BadRequest", message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, code: "NotFound", message: message.into() }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self { status: StatusCode::CONFLICT, code: "Conflict", message: message.into() }
    }

    pub fn method_not_allowed() -> Self {
        Self { status: StatusCode::METHOD_NOT_ALLOWED, code: "MethodNotAllowed", message: "only GET is served".into() }
    }

    /// A failure of the table or the bucket: logged in full, answered in general.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(%err, context, "request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalError",
            message: format!("{context} failed; the function's log has the details"),
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut response = json(self.status, &body);
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("GET"));
        }
        response
    }
}

pub fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    response
}
