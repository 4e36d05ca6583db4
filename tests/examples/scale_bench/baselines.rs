//! The two ways admins provision in bulk today (peers.md), written as their tools work: one row at a time, the same
//! Rust SDK for Connect, reqwest for Salesforce, each against sandboxes of its own at the default quota.
//! - The AWS blog's tool: a fixed 600 ms pause after each user, to stay under CreateUser's 2 req/s.
//! - The community scripts: no pause; the SDK's standard retry mode (3 attempts, exponential backoff) is all that
//!   stands between them and the quota.
//!
//! Per row, the calls such a script makes: the Salesforce user, its Voice permission set, its contact center (which
//! Salesforce takes only once the permission set is there), then the Connect user. Names are resolved to ids once, before the rows.

use std::time::{Duration, Instant};

use aws_sdk_connect::config::retry::RetryConfig;
use aws_sdk_connect::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_connect::types::{PhoneType, UserIdentityInfo, UserPhoneConfig};
use ccbulk_sandbox::connect::ConnectSandbox;
use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::{SANDBOX_CLIENT_SECRET, SANDBOX_CONSUMER_KEY, SalesforceSandbox};
use serde_json::{Value, json};

use super::setup;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    FixedPause,
    SdkRetries,
}

impl Baseline {
    fn name(self) -> &'static str {
        match self {
            Self::FixedPause => "one row at a time, a fixed 600 ms pause (the AWS blog's tool)",
            Self::SdkRetries => "one row at a time, SDK retries alone (the community scripts)",
        }
    }
}

/// The quota the baselines meet: the account's default.
const RATE: f64 = 2.0;
const PAUSE: Duration = Duration::from_millis(600);

pub struct Finished {
    pub baseline: Baseline,
    pub rows: usize,
    pub seconds: f64,
    pub failed: u64,
    pub throttle_failed: u64,
    pub throttled: u64,
    /// The first failure's message, to tell a broken script from a quota.
    pub first_failure: Option<String>,
}

impl Finished {
    pub fn print(&self) {
        println!(
            "{}: {} rows in {:.0} s = {:.2} rows/s, {} failed ({} on a throttle), {} calls throttled",
            self.baseline.name(),
            self.rows,
            self.seconds,
            self.rows as f64 / self.seconds,
            self.failed,
            self.throttle_failed,
            self.throttled
        );
        if let Some(failure) = &self.first_failure {
            println!("  first failure: {failure}");
        }
    }
}

pub async fn run(baseline: Baseline, rows: usize) -> Finished {
    let (connect, salesforce) = setup::sandboxes(RATE).await;
    let script = Script::sign_in(&connect, &salesforce).await;

    let started = Instant::now();
    let (mut failed, mut throttle_failed, mut first_failure) = (0, 0, None);
    for row in 0..rows {
        if let Err(message) = script.add(row).await {
            failed += 1;
            throttle_failed += u64::from(setup::is_throttle(&message));
            first_failure.get_or_insert(format!("row {row}: {message}"));
        }
        if baseline == Baseline::FixedPause {
            tokio::time::sleep(PAUSE).await;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let throttled = setup::create_user_calls(&connect).1;
    Finished { baseline, rows, seconds, failed, throttle_failed, throttled, first_failure }
}

/// A script's state: its clients and the ids it looked up once.
struct Script {
    connect: aws_sdk_connect::Client,
    instance_id: String,
    routing_profile: String,
    security_profile: String,
    http: reqwest::Client,
    data: String,
    token: String,
    profile: String,
    call_center: String,
    permission_set: String,
}

impl Script {
    async fn sign_in(connect: &ConnectSandbox, salesforce: &SalesforceSandbox) -> Self {
        let config = aws_sdk_connect::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(examples::REGION))
            .credentials_provider(Credentials::new("AKIDBASELINE", "baseline", None, None, "baseline"))
            .endpoint_url(connect.endpoint())
            .retry_config(RetryConfig::standard())
            .build();
        let client = aws_sdk_connect::Client::from_conf(config);
        let instance_id = connect.instance_id("ccbulk-sandbox").expect("the instance").to_owned();
        let routing = client.list_routing_profiles().instance_id(&instance_id).send().await.expect("routing profiles");
        let routing_profile = routing.routing_profile_summary_list()[0].id().expect("an id").to_owned();
        let security = client.list_security_profiles().instance_id(&instance_id).send().await.expect("profiles");
        let agent = security.security_profile_summary_list().iter().find(|p| p.name() == Some("Agent"));
        let security_profile = agent.and_then(|p| p.id()).expect("the Agent profile").to_owned();

        let http = reqwest::Client::new();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", SANDBOX_CONSUMER_KEY),
            ("client_secret", SANDBOX_CLIENT_SECRET),
        ];
        let grant: Value = http
            .post(format!("{}/services/oauth2/token", salesforce.endpoint()))
            .form(&form)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("a token")
            .json()
            .await
            .expect("a grant");
        let data = format!("{}/services/data/v62.0", grant["instance_url"].as_str().expect("an instance"));
        let token = grant["access_token"].as_str().expect("a token").to_owned();
        let mut script = Self {
            connect: client,
            instance_id,
            routing_profile,
            security_profile,
            http,
            data,
            token,
            profile: String::new(),
            call_center: String::new(),
            permission_set: String::new(),
        };
        script.profile = script.id_of("SELECT Id FROM Profile WHERE Name = 'Standard User'").await;
        script.call_center = script.id_of("SELECT Id FROM CallCenter WHERE Name = 'Northwind Support'").await;
        script.permission_set = script.id_of("SELECT Id FROM PermissionSet WHERE Name = 'ContactCenterAgent'").await;
        script
    }

    async fn id_of(&self, soql: &str) -> String {
        let answer: Value = self
            .http
            .get(format!("{}/query", self.data))
            .query(&[("q", soql)])
            .bearer_auth(&self.token)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("a query")
            .json()
            .await
            .expect("records");
        answer["records"][0]["Id"].as_str().unwrap_or_else(|| panic!("nothing for {soql}")).to_owned()
    }

    /// One row of `ccbulk_testkit::agents_file`, as a script adds it; its failure message.
    async fn add(&self, row: usize) -> Result<(), String> {
        let username = format!("agent{row:05}");
        let email = format!("{username}@bench.example.com");
        let user = json!({
            "Username": email, "Email": email, "FirstName": "Agent", "LastName": format!("Number{row}"),
            "Alias": format!("a{row:05}"), "ProfileId": self.profile,
            "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8",
            "LanguageLocaleKey": "en_US",
        });
        let user_id = self.create("User", &user).await?;
        let assignment = json!({"AssigneeId": user_id, "PermissionSetId": self.permission_set});
        self.create("PermissionSetAssignment", &assignment).await?;
        // Salesforce takes a contact center's member only once the user holds a contact-center permission set.
        self.join_contact_center(&user_id).await?;
        let identity = UserIdentityInfo::builder().first_name("Agent").last_name(format!("Number{row}")).email(&email);
        let phone = UserPhoneConfig::builder().phone_type(PhoneType::SoftPhone).build();
        self.connect
            .create_user()
            .instance_id(&self.instance_id)
            .username(&username)
            .password(format!("Welcome{row}!Aa"))
            .identity_info(identity.build())
            .phone_config(phone)
            .routing_profile_id(&self.routing_profile)
            .security_profile_ids(&self.security_profile)
            .send()
            .await
            .map_err(|e| format!("{:?}", aws_sdk_connect::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn join_contact_center(&self, user_id: &str) -> Result<(), String> {
        let response = self
            .http
            .patch(format!("{}/sobjects/User/{user_id}", self.data))
            .bearer_auth(&self.token)
            .json(&json!({"CallCenterId": self.call_center}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match response.status() {
            status if status.is_success() => Ok(()),
            status => Err(format!("Salesforce {status}: {}", response.text().await.unwrap_or_default())),
        }
    }

    async fn create(&self, object: &str, record: &Value) -> Result<String, String> {
        let response = self
            .http
            .post(format!("{}/sobjects/{object}", self.data))
            .bearer_auth(&self.token)
            .json(record)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        match body["id"].as_str() {
            Some(id) if status.is_success() => Ok(id.to_owned()),
            _ => Err(format!("Salesforce {status}: {body}")),
        }
    }
}
