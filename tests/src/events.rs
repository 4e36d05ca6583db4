//! AWS-shaped events, made from the sample events in `events/` with this test's values put in (moto's own S3
//! notifications lack fields real ones carry, and it cannot run Lambda triggers at all).

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::SqsEvent;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::sample_event;

/// What S3 leaves as is in an event key; everything else is %-encoded, and a space becomes `+`.
const KEY_KEEPS: &AsciiSet = &NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.').remove(b' ');

/// An object key as S3 notifications write it.
pub fn form_encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_KEEPS).to_string().replace(' ', "+")
}

/// An `ObjectCreated:Put` event for this object version.
pub fn s3_event(bucket: &str, key: &str, version_id: Option<&str>, etag: &str, size: u64) -> S3Event {
    let mut event = sample_event("s3-object-created.json");
    let record = &mut event["Records"][0];
    record["s3"]["bucket"]["name"] = json!(bucket);
    record["s3"]["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
    let object = &mut record["s3"]["object"];
    object["key"] = json!(form_encode_key(key));
    object["eTag"] = json!(etag.trim_matches('"'));
    object["size"] = json!(size);
    match version_id {
        Some(version) => object["versionId"] = json!(version),
        None => {
            object.as_object_mut().unwrap().remove("versionId");
        }
    }
    serde_json::from_value(event).unwrap()
}

/// The event Lambda's SQS poller hands the function for one received message.
pub fn sqs_event(queue_arn: &str, message: &aws_sdk_sqs::types::Message) -> SqsEvent {
    let mut event = sample_event("sqs-chunk.json");
    let record = &mut event["Records"][0];
    record["messageId"] = json!(message.message_id());
    record["receiptHandle"] = json!(message.receipt_handle());
    record["body"] = json!(message.body());
    record["md5OfBody"] = json!(message.md5_of_body());
    record["eventSourceARN"] = json!(queue_arn);
    let received = message
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount))
        .cloned()
        .unwrap_or_else(|| "1".into());
    record["attributes"]["ApproximateReceiveCount"] = json!(received);
    serde_json::from_value(event).unwrap()
}

/// An HTTP API (payload 2.0) request for `method path?query`, as API Gateway sends it after IAM authorization.
pub fn api_request(method: &str, path_and_query: &str) -> lambda_http::Request {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut event = sample_event("apigw-http-failed-rows.json");
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["routeKey"] = json!("$default");
    event["requestContext"]["routeKey"] = json!("$default");
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    let parameters: serde_json::Map<String, Value> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (name.to_owned(), json!(percent_encoding::percent_decode_str(value).decode_utf8_lossy()))
        })
        .collect();
    let object = event.as_object_mut().unwrap();
    object.remove("pathParameters");
    if parameters.is_empty() {
        object.remove("queryStringParameters");
    } else {
        object.insert("queryStringParameters".into(), Value::Object(parameters));
    }
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_as_s3_writes_them_and_decoded_back() {
        let key = "uploads/new hires+contractors (é).csv";
        let encoded = form_encode_key(key);
        assert_eq!(encoded, "uploads/new+hires%2Bcontractors+%28%C3%A9%29.csv");
        assert_eq!(ccbulk_lambda::decode_s3_key(&encoded), key);
    }
}
