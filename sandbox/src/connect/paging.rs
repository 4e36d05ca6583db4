//! `NextToken` / `MaxResults` paging over a list the sandbox holds in a stable order.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::error::{ConnectError, ConnectResult};

/// One page of `items`, with the token for the next when there is one.
pub fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
    max_results: Option<i64>,
    limit: i64,
    default: i64,
) -> ConnectResult<(Vec<T>, Option<String>)> {
    let size = max_results.unwrap_or(default);
    if !(1..=limit).contains(&size) {
        return Err(ConnectError::invalid_parameter(format!("MaxResults must be between 1 and {limit}.")));
    }
    let start = match token {
        None => 0,
        Some(token) => decode(token).ok_or_else(|| ConnectError::invalid_parameter("The NextToken is not valid."))?,
    };
    let total = items.len();
    let end = (start + size as usize).min(total);
    let page = items.into_iter().skip(start).take(end.saturating_sub(start)).collect();
    let next = (end < total).then(|| URL_SAFE_NO_PAD.encode(format!("offset:{end}")));
    Ok((page, next))
}

fn decode(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("offset:")?.parse().ok()
}

/// Adds `"NextToken"` to a response object when there is a next page.
pub fn with_next(mut body: Value, next: Option<String>) -> Value {
    if let Some(next) = next {
        body["NextToken"] = json!(next);
    }
    body
}
