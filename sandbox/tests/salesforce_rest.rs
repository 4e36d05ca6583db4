//! The Salesforce sandbox driven with reqwest over a real socket, through the JSON shapes of the REST API guide.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use ccbulk_sandbox::salesforce::{
    JWT_BEARER, SANDBOX_CLIENT_SECRET, SANDBOX_CONSUMER_KEY, SalesforceFaults, SalesforceKnobs, SalesforceSeed,
};
use common::{Api, start, token_response};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TEST_KEY: &str = include_str!("../fixtures/jwt-test-key.pem");
const INTEGRATION_USER: &str = "integration@ccbulk-sandbox.example.com";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn assertion(claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(TEST_KEY.as_bytes()).unwrap(),
    )
    .unwrap()
}

async fn new_user(api: &Api, username: &str) -> Value {
    let profile = api.id_of("Profile", "Standard User").await;
    json!({
        "Username": username, "Email": "agent@example.com", "LastName": "Agent", "FirstName": "Ada",
        "Alias": "aagent", "ProfileId": profile, "TimeZoneSidKey": "America/New_York", "LocaleSidKey": "en_US",
        "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
    })
}

fn error_code(body: &Value) -> &str {
    body[0]["errorCode"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn client_credentials_and_jwt_bearer_grant_tokens_with_salesforce_errors() {
    let sandbox = start(SalesforceSeed::default()).await;
    let (status, body) = token_response(
        &sandbox,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SANDBOX_CONSUMER_KEY),
            ("client_secret", SANDBOX_CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["instance_url"], sandbox.endpoint());
    assert!(body["issued_at"].as_str().is_some() && body["signature"].as_str().is_some());

    let refused = |form: Vec<(&'static str, String)>| {
        let sandbox = &sandbox;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, body) = token_response(sandbox, &form).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            (body["error"].as_str().unwrap().to_owned(), body["error_description"].as_str().unwrap().to_owned())
        }
    };
    let wrong_secret = vec![
        ("grant_type", "client_credentials".to_owned()),
        ("client_id", SANDBOX_CONSUMER_KEY.to_owned()),
        ("client_secret", "nope".to_owned()),
    ];
    assert_eq!(refused(wrong_secret).await.0, "invalid_client");

    let jwt = |claims: Value| vec![("grant_type", JWT_BEARER.to_owned()), ("assertion", assertion(claims))];
    let good = json!({"iss": SANDBOX_CONSUMER_KEY, "sub": INTEGRATION_USER, "aud": "https://login.salesforce.com", "exp": now() + 120});
    let form: Vec<(&str, String)> = jwt(good.clone());
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = token_response(&sandbox, &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].as_str().unwrap().starts_with("00D"));

    let mut claims = good.clone();
    claims["aud"] = json!("https://evil.example.com");
    assert_eq!(refused(jwt(claims)).await, ("invalid_grant".into(), "audience is invalid".into()));
    // The My Domain host the token is asked for at is no audience either.
    let mut claims = good.clone();
    claims["aud"] = json!(sandbox.endpoint());
    assert_eq!(refused(jwt(claims)).await, ("invalid_grant".into(), "audience is invalid".into()));
    let mut claims = good.clone();
    claims["exp"] = json!(now() - 10);
    assert_eq!(refused(jwt(claims)).await.1, "expired access/refresh token");
    let mut claims = good.clone();
    claims["sub"] = json!("nobody@example.com");
    assert_eq!(refused(jwt(claims)).await.1, "user hasn't approved this consumer");
    let mut claims = good.clone();
    claims["iss"] = json!("unknown-consumer");
    assert_eq!(refused(jwt(claims)).await.0, "invalid_client_id");
    // A signature that does not match the payload.
    let signed = assertion(good.clone());
    let mut parts: Vec<&str> = signed.split('.').collect();
    let other = assertion(
        json!({"iss": SANDBOX_CONSUMER_KEY, "sub": "x@example.com", "aud": "https://login.salesforce.com", "exp": now() + 60}),
    );
    let other_payload = other.split('.').nth(1).unwrap().to_owned();
    parts[1] = &other_payload;
    let tampered = vec![("grant_type", JWT_BEARER.to_owned()), ("assertion", parts.join("."))];
    assert_eq!(refused(tampered).await, ("invalid_grant".into(), "invalid assertion".into()));
}

#[tokio::test]
async fn sessions_expire_and_the_daily_allocation_runs_out() {
    let sandbox = start(SalesforceSeed { daily_api_requests: 3, ..SalesforceSeed::default() }).await;
    let api = Api::new(&sandbox).await;
    for _ in 0..3 {
        let response = api
            .http
            .get(api.url("/query"))
            .query(&[("q", "SELECT Id FROM User")])
            .bearer_auth(&api.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["sforce-limit-info"].to_str().unwrap().starts_with("api-usage="));
    }
    let response = api
        .http
        .get(api.url("/query"))
        .query(&[("q", "SELECT Id FROM User")])
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.headers()["sforce-limit-info"], "api-usage=3/3");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "REQUEST_LIMIT_EXCEEDED");

    let sandbox = start(SalesforceSeed::default()).await;
    sandbox.set_knobs(SalesforceKnobs { token_ttl_secs: 0, ..SalesforceKnobs::default() });
    let api = Api::new(&sandbox).await;
    let (status, body) = api.query("SELECT Id FROM User").await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "INVALID_SESSION_ID"));
    let (status, _) = Api { token: "00D!forged".into(), ..api }.query("SELECT Id FROM User").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn users_are_created_read_and_patched_with_the_services_rules() {
    let sandbox = start(SalesforceSeed::default()).await;
    let api = Api::new(&sandbox).await;
    let user = new_user(&api, "ada.agent@example.com").await;
    let (status, created) = api.post("/sobjects/User", user.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("005") && id.len() == 18);

    let (status, again) = api.post("/sobjects/User", user.clone()).await;
    assert_eq!((status, error_code(&again)), (StatusCode::BAD_REQUEST, "DUPLICATE_USERNAME"));
    assert_eq!(again[0]["fields"], json!(["Username"]));
    let mut elsewhere = user.clone();
    elsewhere["Username"] = json!("taken@elsewhere.example.com");
    assert_eq!(error_code(&api.post("/sobjects/User", elsewhere).await.1), "DUPLICATE_USERNAME");
    // A federation id is one user's in the org, whatever its case.
    let mut federated = user.clone();
    federated["Username"] = json!("fed.one@example.com");
    federated["FederationIdentifier"] = json!("ada@idp.example.com");
    assert_eq!(api.post("/sobjects/User", federated.clone()).await.0, StatusCode::CREATED);
    federated["Username"] = json!("fed.two@example.com");
    federated["FederationIdentifier"] = json!("ADA@idp.example.com");
    let (status, clash) = api.post("/sobjects/User", federated).await;
    assert_eq!((status, error_code(&clash)), (StatusCode::BAD_REQUEST, "DUPLICATE_VALUE"), "{clash}");
    assert_eq!(clash[0]["fields"], json!(["FederationIdentifier"]));
    let mut missing = user.clone();
    missing.as_object_mut().unwrap().remove("Alias");
    missing["Username"] = json!("other@example.com");
    let (_, body) = api.post("/sobjects/User", missing).await;
    assert_eq!((error_code(&body), &body[0]["fields"]), ("REQUIRED_FIELD_MISSING", &json!(["Alias"])));
    let mut long = user.clone();
    long["Username"] = json!("long@example.com");
    long["Alias"] = json!("waytoolong");
    assert_eq!(error_code(&api.post("/sobjects/User", long).await.1), "STRING_TOO_LONG");
    let mut bad_profile = user.clone();
    bad_profile["Username"] = json!("badprofile@example.com");
    bad_profile["ProfileId"] = json!("00eSb0000000999");
    assert_eq!(error_code(&api.post("/sobjects/User", bad_profile).await.1), "INVALID_CROSS_REFERENCE_KEY");
    // Restricted picklists take their listed values only, on create and on update.
    for (field, value) in [
        ("TimeZoneSidKey", json!("America/NewYork")),
        ("LocaleSidKey", json!("en-US")),
        ("LanguageLocaleKey", json!("eu")),
        ("EmailEncodingKey", json!("utf-8")),
    ] {
        let mut off_list = user.clone();
        off_list["Username"] = json!("picklist@example.com");
        off_list[field] = value.clone();
        let (status, body) = api.post("/sobjects/User", off_list).await;
        assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"));
        assert_eq!(body[0]["fields"], json!([field]));
        assert!(
            body[0]["message"]
                .as_str()
                .unwrap()
                .ends_with(&format!("restricted picklist field: {}", value.as_str().unwrap()))
        );
        let (_, body) = api.patch(&format!("/sobjects/User/{id}"), json!({ field: value })).await;
        assert_eq!(error_code(&body), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "{field} on update");
    }
    let (status, _) = api.patch(&format!("/sobjects/User/{id}"), json!({"TimeZoneSidKey": "Asia/Kolkata"})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A new email address waits for its owner's confirmation, even when the API sets it.
    let (status, _) = api.patch(&format!("/sobjects/User/{id}"), json!({"Email": "ada@new.example.com"})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, read) = api.send(api.http.get(api.url(&format!("/sobjects/User/{id}")))).await;
    assert_eq!(read["Email"], "agent@example.com");
    let held = sandbox.snapshot().user("ada.agent@example.com").cloned().unwrap();
    assert_eq!((held.pending_email.as_deref(), held.email_confirmations_sent), (Some("ada@new.example.com"), 1));
    assert!(sandbox.confirm_email("ada.agent@example.com"));
    assert_eq!(sandbox.snapshot().user("ada.agent@example.com").unwrap().email, "ada@new.example.com");
    let mut unknown = user.clone();
    unknown["Username"] = json!("unknown@example.com");
    unknown["Nickname__c"] = json!("x");
    assert_eq!(error_code(&api.post("/sobjects/User", unknown).await.1), "INVALID_FIELD");

    // A contact center takes a user who holds a contact-center permission set, and no other.
    let center = api.id_of("CallCenter", "Northwind Support").await;
    let (status, refused) = api.patch(&format!("/sobjects/User/{id}"), json!({"CallCenterId": &center[..15]})).await;
    assert_eq!((status, error_code(&refused)), (StatusCode::BAD_REQUEST, "FIELD_INTEGRITY_EXCEPTION"), "{refused}");
    let agent = api.id_of("PermissionSet", "ContactCenterAgent").await;
    let assignment = json!({"AssigneeId": id, "PermissionSetId": agent});
    assert_eq!(api.post("/sobjects/PermissionSetAssignment", assignment).await.0, StatusCode::CREATED);
    let (status, _) = api.patch(&format!("/sobjects/User/{id}"), json!({"CallCenterId": &center[..15]})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, read) = api.send(api.http.get(api.url(&format!("/sobjects/User/{id}")))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["CallCenterId"], json!(center), "lookups are stored in 18-character form");
    // Salesforce takes an alias change in place; the sandbox marks what it breaks.
    assert!(!sandbox.snapshot().user("ada.agent@example.com").unwrap().sso_broken);
    assert_eq!(api.patch(&format!("/sobjects/User/{id}"), json!({"Alias": "adaa"})).await.0, StatusCode::NO_CONTENT);
    assert!(sandbox.snapshot().user("ada.agent@example.com").unwrap().sso_broken);
    assert_eq!(read["attributes"]["type"], "User");
    let (status, body) = api.send(api.http.delete(api.url(&format!("/sobjects/User/{id}")))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "users cannot be deleted: {body}");
    let (status, body) = api.send(api.http.get(api.url("/sobjects/User/005Sb0000000999"))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    assert_eq!(
        sandbox.snapshot().user("ada.agent@example.com").unwrap().call_center.as_deref(),
        Some("Northwind Support")
    );
}

#[tokio::test]
async fn permission_set_assignments_are_unique_and_limited_by_voice_seats() {
    let sandbox = start(SalesforceSeed { voice_seats: Some(1), ..SalesforceSeed::default() }).await;
    let api = Api::new(&sandbox).await;
    let agent_set = api.id_of("PermissionSet", "ContactCenterAgent").await;
    let mut ids = Vec::new();
    for username in ["one@example.com", "two@example.com"] {
        let (_, created) = api.post("/sobjects/User", new_user(&api, username).await).await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let (status, assignment) = api
        .post("/sobjects/PermissionSetAssignment", json!({"AssigneeId": ids[0], "PermissionSetId": agent_set}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{assignment}");
    let (_, again) = api
        .post("/sobjects/PermissionSetAssignment", json!({"AssigneeId": ids[0], "PermissionSetId": agent_set}))
        .await;
    assert_eq!(error_code(&again), "DUPLICATE_VALUE");
    let (_, full) = api
        .post("/sobjects/PermissionSetAssignment", json!({"AssigneeId": ids[1], "PermissionSetId": agent_set}))
        .await;
    assert_eq!(error_code(&full), "LICENSE_LIMIT_EXCEEDED");
    assert_eq!(sandbox.snapshot().user("one@example.com").unwrap().permission_sets, vec!["ContactCenterAgent"]);

    let (_, found) = api
        .query(&format!("SELECT Id, AssigneeId FROM PermissionSetAssignment WHERE AssigneeId = '{}' AND PermissionSetId = '{agent_set}'", ids[0]))
        .await;
    assert_eq!(found["totalSize"], 1);
    let (status, _) = api
        .send(
            api.http
                .delete(api.url(&format!("/sobjects/PermissionSetAssignment/{}", assignment["id"].as_str().unwrap()))),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(sandbox.snapshot().user("one@example.com").unwrap().permission_sets.is_empty());
}

#[tokio::test]
async fn collections_report_per_record_and_honour_all_or_none() {
    let sandbox = start(SalesforceSeed::default()).await;
    let api = Api::new(&sandbox).await;
    let record = |username: &str, user: &Value| {
        let mut record = user.clone();
        record["attributes"] = json!({"type": "User"});
        record["Username"] = json!(username);
        record
    };
    let template = new_user(&api, "template@example.com").await;
    let mut bad = record("bad@example.com", &template);
    bad.as_object_mut().unwrap().remove("LastName");
    let records = json!([record("c1@example.com", &template), bad.clone(), record("c2@example.com", &template)]);

    let (status, results) = api.post("/composite/sobjects", json!({"allOrNone": true, "records": records})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(results[0]["errors"][0]["statusCode"], "ALL_OR_NONE_OPERATION_ROLLED_BACK");
    assert_eq!(results[1]["errors"][0]["statusCode"], "REQUIRED_FIELD_MISSING");
    assert!(sandbox.snapshot().user("c1@example.com").is_none(), "nothing was kept");

    let (_, results) = api.post("/composite/sobjects", json!({"allOrNone": false, "records": records})).await;
    assert_eq!(
        results.as_array().unwrap().iter().map(|r| r["success"].as_bool().unwrap()).collect::<Vec<_>>(),
        vec![true, false, true]
    );
    let c1 = results[0]["id"].as_str().unwrap().to_owned();

    let (_, updated) = api
        .patch(
            "/composite/sobjects",
            json!({"allOrNone": false, "records": [{"attributes": {"type": "User"}, "id": c1, "Alias": "cee1"}]}),
        )
        .await;
    assert_eq!(updated[0]["success"], true, "{updated}");
    assert_eq!(sandbox.snapshot().user("c1@example.com").unwrap().alias, "cee1");

    let upserts = json!({"allOrNone": false, "records": [
        {"attributes": {"type": "User"}, "Username": "c2@example.com", "Alias": "cee2"},
        record("c3@example.com", &template),
    ]});
    let (_, upserted) = api.patch("/composite/sobjects/User/Username", upserts).await;
    assert_eq!(
        (upserted[0]["created"].as_bool(), upserted[1]["created"].as_bool()),
        (Some(false), Some(true)),
        "{upserted}"
    );

    let too_many: Vec<Value> = (0..201).map(|n| record(&format!("many{n}@example.com"), &template)).collect();
    let (status, body) = api.post("/composite/sobjects", json!({"allOrNone": false, "records": too_many})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "EXCEEDED_ID_LIMIT"));

    let set = api.id_of("PermissionSet", "ContactCenterAgent").await;
    let (_, assigned) = api
        .post("/composite/sobjects", json!({"records": [{"attributes": {"type": "PermissionSetAssignment"}, "AssigneeId": c1, "PermissionSetId": set}]}))
        .await;
    let assignment = assigned[0]["id"].as_str().unwrap();
    let (_, deleted) = api
        .send(
            api.http
                .delete(api.url("/composite/sobjects"))
                .query(&[("ids", format!("{assignment},{c1}")), ("allOrNone", "false".into())]),
        )
        .await;
    assert_eq!(deleted[0]["success"], true);
    assert_eq!(deleted[1]["success"], false, "users cannot be deleted");
}

#[tokio::test]
async fn queries_page_past_two_thousand_records_and_report_malformed_soql() {
    let sandbox = start(SalesforceSeed::default()).await;
    let api = Api::new(&sandbox).await;
    let template = new_user(&api, "x@example.com").await;
    for batch in 0..11 {
        let records: Vec<Value> = (0..200)
            .map(|n| {
                let mut record = template.clone();
                record["attributes"] = json!({"type": "User"});
                record["Username"] = json!(format!("bulk{batch}-{n}@example.com"));
                record
            })
            .collect();
        let (status, _) = api.post("/composite/sobjects", json!({"allOrNone": true, "records": records})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, first) = api.query("SELECT Id, Username FROM User WHERE IsActive = true").await;
    assert_eq!(first["totalSize"], 2201, "2,200 new users and the integration user");
    assert_eq!(first["done"], false);
    assert_eq!(first["records"].as_array().unwrap().len(), 2000);
    let next = first["nextRecordsUrl"].as_str().unwrap();
    let (status, second) = api.send(api.http.get(format!("{}{next}", api.base))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((second["done"].as_bool(), second["records"].as_array().unwrap().len()), (Some(true), 201));

    let (_, some) =
        api.query("SELECT Id FROM User WHERE Username IN ('bulk0-1@example.com', 'BULK0-2@example.com')").await;
    assert_eq!(some["totalSize"], 2);
    // A URI past 16,384 bytes is refused before the query is read (Salesforce Help, article 000386264).
    let many: Vec<String> = (0..600).map(|n| format!("'someone{n}@example.com'")).collect();
    let (status, _) = api.query(&format!("SELECT Id FROM User WHERE Username IN ({})", many.join(","))).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    let (status, body) = api.query("SELECT Id FROM User WHERE").await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "MALFORMED_QUERY"));
    assert_eq!(error_code(&api.query("SELECT Id FROM Opportunity").await.1), "INVALID_TYPE");
}

#[tokio::test]
async fn injected_faults_answer_with_server_errors() {
    let sandbox = start(SalesforceSeed::default()).await;
    let api = Api::new(&sandbox).await;
    let mut knobs = SalesforceKnobs::default();
    knobs.faults.insert("query".into(), SalesforceFaults { server_error: 1.0, ..SalesforceFaults::default() });
    sandbox.set_knobs(knobs);
    let (status, body) = api.query("SELECT Id FROM User").await;
    assert_eq!((status, error_code(&body)), (StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN_EXCEPTION"));
    let mut knobs = SalesforceKnobs::default();
    knobs.faults.insert("*".into(), SalesforceFaults { unavailable: 1.0, ..SalesforceFaults::default() });
    sandbox.set_knobs(knobs);
    let (status, _) = api.post("/sobjects/User", json!({})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(sandbox.snapshot().counters.injected_errors.values().sum::<u64>(), 2);
}
