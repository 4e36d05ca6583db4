//! What the Salesforce sandbox's tests share: a sandbox on loopback and an authenticated REST caller.
#![allow(dead_code)] // each test crate uses its own part

use ccbulk_sandbox::salesforce::{SANDBOX_CLIENT_SECRET, SANDBOX_CONSUMER_KEY, SalesforceSandbox, SalesforceSeed};
use reqwest::StatusCode;
use serde_json::Value;

pub const VERSION: &str = "v62.0";

pub async fn start(seed: SalesforceSeed) -> SalesforceSandbox {
    SalesforceSandbox::start(seed, "127.0.0.1:0".parse().unwrap()).await.expect("the sandbox starts")
}

pub async fn token_response(sandbox: &SalesforceSandbox, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/services/oauth2/token", sandbox.endpoint()))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

pub async fn client_credentials(sandbox: &SalesforceSandbox) -> String {
    let (status, body) = token_response(
        sandbox,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SANDBOX_CONSUMER_KEY),
            ("client_secret", SANDBOX_CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// An authenticated REST caller.
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn new(sandbox: &SalesforceSandbox) -> Self {
        Self {
            base: sandbox.endpoint().to_owned(),
            token: client_credentials(sandbox).await,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/services/data/{VERSION}{path}", self.base)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.bearer_auth(&self.token).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }

    pub async fn query(&self, soql: &str) -> (StatusCode, Value) {
        self.send(self.http.get(self.url("/query")).query(&[("q", soql)])).await
    }

    pub async fn id_of(&self, object: &str, name: &str) -> String {
        let (_, body) = self.query(&format!("SELECT Id FROM {object} WHERE Name = '{name}'")).await;
        body["records"][0]["Id"].as_str().unwrap_or_else(|| panic!("{object} {name}: {body}")).to_owned()
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.http.patch(self.url(path)).json(&body)).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.get(self.url(path))).await
    }

    /// A GET whose answer is text (a CSV of results).
    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let response = self.http.get(self.url(path)).bearer_auth(&self.token).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// A PUT of CSV data, as Upload Job Data sends it.
    pub async fn put_csv(&self, path: &str, csv: &str) -> (StatusCode, Value) {
        self.send(self.http.put(self.url(path)).header("content-type", "text/csv").body(csv.to_owned())).await
    }
}
