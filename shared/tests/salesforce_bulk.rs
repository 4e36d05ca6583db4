//! ccbulk's Bulk API 2.0 client against the Salesforce sandbox, over reqwest on a real socket: ContactCenterBulkOp
//! rows loaded as one ingest job, followed to its end, then each row's Status as Salesforce worked it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ccbulk_sandbox::connect::ConnectSandbox;
use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::seed::UserSeed;
use ccbulk_sandbox::salesforce::{
    BulkKnobs, SANDBOX_CLIENT_SECRET, SANDBOX_CONSUMER_KEY, SalesforceKnobs, SalesforceSandbox, SalesforceSeed,
};
use ccbulk_shared::domain::VoiceRole;
use ccbulk_shared::salesforce::{
    BULKOP_MAX_ROWS, BulkOp, BulkOpStatus, Credentials, JobProgress, Loaded, SalesforceClient,
};

/// A routing profile of the example Connect sandbox's SAML instance, where Salesforce makes the Connect users.
const ARN: &str = "arn:aws:connect:us-west-2:123456789012:instance/8c7b5d2e-3f4a-4b6c-9d8e-1a2b3c4d5e6f/\
                   routing-profile/4b1d3c2a-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
const PARTNER_CENTER: &str = "Tailspin Partner Telephony";

fn user(name: &str, call_center: Option<&str>) -> UserSeed {
    UserSeed {
        call_center: call_center.map(str::to_owned),
        permission_sets: call_center.map(|_| vec!["ContactCenterAgent".to_owned()]).unwrap_or_default(),
        ..UserSeed::standard(name)
    }
}

/// The org, linked as Service Cloud Voice is to a Connect sandbox (kept alive by the caller) holding the instance
/// [`ARN`] names.
async fn sandbox() -> (SalesforceSandbox, ConnectSandbox) {
    let mut seed = SalesforceSeed::default();
    seed.call_centers.push(PARTNER_CENTER.into());
    seed.partner_telephony_centers.push(PARTNER_CENTER.into());
    seed.users.extend([user("ada", None), user("bob", Some("Support EMEA")), user("dana", None)]);
    let loopback = "127.0.0.1:0".parse().unwrap();
    let salesforce = SalesforceSandbox::start(seed, loopback).await.unwrap();
    let connect = ConnectSandbox::start(examples::connect_seed(), loopback).await.unwrap();
    salesforce.link_connect(connect.voice_link(), examples::SAML_INSTANCE_ID);
    (salesforce, connect)
}

fn client(sandbox: &SalesforceSandbox) -> SalesforceClient {
    SalesforceClient::new(Credentials::ClientCredentials {
        login_url: sandbox.endpoint().to_owned(),
        client_id: SANDBOX_CONSUMER_KEY.into(),
        client_secret: SANDBOX_CLIENT_SECRET.into(),
    })
}

/// Asks `read` again until `done`, for at most 10 s.
async fn until<T>(mut read: impl AsyncFnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = read().await;
        if done(&value) || Instant::now() > deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn ended(client: &SalesforceClient, job: &str) -> JobProgress {
    until(async || client.ingest_job_progress(job).await.unwrap(), |p| !matches!(p, JobProgress::Running(_))).await
}

async fn id_of(client: &SalesforceClient, object: &str, field: &str, value: &str) -> String {
    let records = client.query(&format!("SELECT Id FROM {object} WHERE {field} = '{value}'")).await.unwrap();
    records[0]["Id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_job_of_bulk_operations_is_followed_to_its_end_and_each_row_to_the_status_salesforce_gives_it() {
    let (sandbox, connect) = sandbox().await;
    let client = client(&sandbox);
    let ada = id_of(&client, "User", "Username", "ada@example.com").await;
    let bob = id_of(&client, "User", "Username", "bob@example.com").await;
    let dana = id_of(&client, "User", "Username", "dana@example.com").await;
    let northwind = id_of(&client, "CallCenter", "Name", "Northwind Support").await;
    let partner = id_of(&client, "CallCenter", "Name", PARTNER_CENTER).await;
    let op = |email: &str, user_id: &str, center: &str, amazon_connect: bool| BulkOp {
        email: email.into(),
        user_id: user_id.into(),
        profile: amazon_connect.then_some(VoiceRole::Agent),
        routing_profile_arn: amazon_connect.then(|| ARN.to_owned()),
        contact_center_id: center.into(),
    };
    let nobody = "005Sb0000009999AAA";
    let rows = [
        op("ada@example.com", &ada, &northwind, true),
        op("bob@example.com", &bob, &northwind, true),
        op("nobody@example.com", nobody, &northwind, true),
        op("dana@example.com", &dana, &partner, false),
    ];
    let job = client.submit_bulkops(&rows).await.unwrap();
    assert_eq!(ended(&client, &job).await, JobProgress::Complete);
    let loaded = client.ingest_job_results(&job).await.unwrap();
    assert_eq!(loaded.len(), 4, "{loaded:?}");
    let records: Vec<String> = loaded
        .values()
        .map(|l| match l {
            Loaded::Record(id) => id.clone(),
            other => panic!("every row loads: {other:?}"),
        })
        .collect();

    let statuses = until(
        async || client.bulkop_statuses(&records).await.unwrap(),
        |s: &Vec<BulkOpStatus>| s.iter().all(BulkOpStatus::finished),
    )
    .await;
    let by_user: HashMap<&str, &BulkOpStatus> = statuses.iter().map(|s| (s.user_id.as_str(), s)).collect();
    assert_eq!(by_user[ada.as_str()].status, "Completed");
    assert_eq!(by_user[dana.as_str()].status, "Completed");
    assert_eq!(by_user[bob.as_str()].status, "Failed");
    assert!(by_user[bob.as_str()].error_message.as_deref().unwrap().contains("another contact center"));
    assert!(by_user[nobody].error_message.as_deref().unwrap().contains("no user has the ID"));
    assert!(statuses.iter().all(|s| s.job_id.as_deref() == Some(job.as_str())), "each names its job");
    let made = connect.snapshot().created_by_salesforce;
    assert_eq!(made.len(), 1, "Salesforce made Ada's Connect user, and no other: {made:?}");
    let snapshot = sandbox.snapshot();
    assert_eq!(snapshot.user("ada@example.com").unwrap().call_center.as_deref(), Some("Northwind Support"));
    assert_eq!(snapshot.user("dana@example.com").unwrap().permission_sets, vec!["ContactCenterAgentPartnerTelephony"]);
}

#[tokio::test]
async fn a_job_salesforce_fails_leaves_every_row_unprocessed_and_a_request_holds_at_most_five_thousand() {
    let (sandbox, _connect) = sandbox().await;
    let client = client(&sandbox);
    let too_many = vec![
        BulkOp {
            email: "x@example.com".into(),
            user_id: "005Sb0000009999AAA".into(),
            profile: None,
            routing_profile_arn: None,
            contact_center_id: "04vSb0000009999AAA".into(),
        };
        BULKOP_MAX_ROWS + 1
    ];
    let err = client.submit_bulkops(&too_many).await.unwrap_err();
    assert!(err.message.contains("at most 5000"), "{err}");
    assert!(sandbox.snapshot().bulk_jobs.is_empty(), "refused before any call");

    let failing = BulkKnobs { job_failure: Some("InvalidBatch : the sandbox says no".into()), ..BulkKnobs::default() };
    sandbox.set_knobs(SalesforceKnobs { bulk: failing, ..SalesforceKnobs::default() });
    let job = client.submit_bulkops(&too_many[..2]).await.unwrap();
    let progress = ended(&client, &job).await;
    assert_eq!(
        progress,
        JobProgress::Ended { state: "Failed".into(), reason: "InvalidBatch : the sandbox says no".into() }
    );
    let loaded = client.ingest_job_results(&job).await.unwrap();
    assert_eq!(loaded.values().collect::<Vec<_>>(), vec![&Loaded::Unprocessed], "both rows name one user");
}
