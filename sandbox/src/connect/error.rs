//! Connect's error shape on the wire: a status by type, `x-amzn-errortype`, and `{"Message": ...}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidParameter,
    InvalidRequest,
    AccessDenied,
    MissingAuthenticationToken,
    ResourceNotFound,
    DuplicateResource,
    LimitExceeded,
    Throttling,
    InternalService,
    /// UpdateUserConfig's "Request processing failed because dependent condition failed" (API reference: 409).
    ConditionalOperationFailed,
}

impl ErrorKind {
    pub fn type_name(self) -> &'static str {
        match self {
            ErrorKind::InvalidParameter => "InvalidParameterException",
            ErrorKind::InvalidRequest => "InvalidRequestException",
            ErrorKind::AccessDenied => "AccessDeniedException",
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorKind::ResourceNotFound => "ResourceNotFoundException",
            ErrorKind::DuplicateResource => "DuplicateResourceException",
            ErrorKind::LimitExceeded => "LimitExceededException",
            ErrorKind::Throttling => "ThrottlingException",
            ErrorKind::InternalService => "InternalServiceException",
            ErrorKind::ConditionalOperationFailed => "ConditionalOperationFailedException",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidParameter | ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::AccessDenied | ErrorKind::MissingAuthenticationToken => StatusCode::FORBIDDEN,
            ErrorKind::ResourceNotFound => StatusCode::NOT_FOUND,
            ErrorKind::DuplicateResource | ErrorKind::ConditionalOperationFailed => StatusCode::CONFLICT,
            ErrorKind::LimitExceeded | ErrorKind::Throttling => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::InternalService => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl ConnectError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceNotFound, message)
    }
}

impl IntoResponse for ConnectError {
    fn into_response(self) -> Response {
        let mut response = (self.kind.status(), axum::Json(json!({ "Message": self.message }))).into_response();
        let headers = response.headers_mut();
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.kind.type_name()));
        headers.insert("x-amzn-requestid", super::request_id());
        response
    }
}

pub type ConnectResult<T> = Result<T, ConnectError>;
