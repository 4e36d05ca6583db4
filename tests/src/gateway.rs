//! API Gateway's part for the status API over a real socket: an HTTP server on loopback that refuses requests
//! without a valid SigV4 signature (service execute-api, the test's key) as IAM authorization does, and hands the
//! others to the status handler as HTTP API (payload 2.0) events.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::body::Body as AxumBody;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ccbulk_status::Status;
use lambda_http::Body;

/// The credentials callers sign with (moto accepts them too).
pub const TEST_ACCESS_KEY: &str = "testing";
pub const TEST_SECRET_KEY: &str = "testing";
const REGION: &str = "us-east-1";

pub struct ApiGateway {
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ApiGateway {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct Gateway {
    status: Arc<Status>,
    address: SocketAddr,
}

impl ApiGateway {
    pub async fn start(status: Arc<Status>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let gateway = Arc::new(Gateway { status, address });
        let app = axum::Router::new().fallback(forward).with_state(gateway);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url: format!("http://{address}"), server }
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, [("content-type", "application/json")], serde_json::json!({"message": message}).to_string())
        .into_response()
}

async fn forward(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let method = request.method().as_str().to_owned();
    let path_and_query = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    if let Err(reason) = check_signature(&gateway, &method, &path_and_query, request.headers()) {
        return refuse(StatusCode::FORBIDDEN, &reason);
    }
    let answer = gateway.status.handle(super::api_request(&method, &path_and_query)).await.unwrap();
    let (parts, body) = answer.into_parts();
    let body = match body {
        Body::Text(text) => AxumBody::from(text),
        Body::Binary(bytes) => AxumBody::from(bytes),
        _ => AxumBody::empty(),
    };
    Response::from_parts(parts, body)
}

/// Recomputes the signature the caller should have sent for this request, at the time it says it signed, with the
/// test's secret; a different key, region, service, path or a stale date is refused.
fn check_signature(gateway: &Gateway, method: &str, path_and_query: &str, headers: &HeaderMap) -> Result<(), String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let authorization = header("authorization").ok_or("Missing Authentication Token")?;
    let date = header("x-amz-date").ok_or("no x-amz-date")?;
    let scope =
        format!("Credential={TEST_ACCESS_KEY}/{}/{REGION}/execute-api/aws4_request", &date[..8.min(date.len())]);
    if !authorization.starts_with("AWS4-HMAC-SHA256 ") || !authorization.contains(&scope) {
        return Err(format!("The security token included in the request is invalid ({authorization})"));
    }
    let signed_at = parse_amz_date(&date).ok_or("x-amz-date is not a date")?;
    let skew = SystemTime::now().duration_since(signed_at).unwrap_or_else(|e| e.duration());
    if skew > Duration::from_secs(300) {
        return Err("Signature expired".into());
    }
    let credentials = aws_sdk_s3::config::Credentials::new(TEST_ACCESS_KEY, TEST_SECRET_KEY, None, None, "gateway");
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("execute-api")
        .time(signed_at)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let url = format!("http://{}{}", gateway.address, path_and_query);
    let signable = SignableRequest::new(method, url.as_str(), std::iter::empty(), SignableBody::Bytes(&[])).unwrap();
    let (_, signature) = sign(signable, &params).unwrap().into_parts();
    if !authorization.ends_with(&format!("Signature={signature}")) {
        return Err("The request signature we calculated does not match the signature you provided".into());
    }
    Ok(())
}

/// `20261122T091504Z`.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let digits = |range: std::ops::Range<usize>| text.get(range)?.parse::<u64>().ok();
    let (year, month, day) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (hour, minute, second) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    // Days from the civil date (Howard Hinnant's algorithm), for the years this test runs in.
    let (y, m) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(days * 86_400 + hour * 3600 + minute * 60 + second))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_are_read() {
        let at = parse_amz_date("20261122T091504Z").unwrap();
        assert_eq!(at.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(), 1_795_338_904);
        assert_eq!(parse_amz_date("2026-11-22"), None);
    }
}
