//! The Salesforce sandbox's bulk path, driven with reqwest over a real socket: Bulk API 2.0 ingest jobs of
//! ContactCenterBulkOp records, then Salesforce working each record in the background.

mod common;

use std::time::{Duration, Instant};

use ccbulk_sandbox::connect::ConnectSandbox;
use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::seed::UserSeed;
use ccbulk_sandbox::salesforce::{BulkKnobs, SalesforceKnobs, SalesforceSandbox, SalesforceSeed};
use common::{Api, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A routing profile of the example Connect sandbox's SAML instance, to which [`linked`] links the org.
const ARN: &str = "arn:aws:connect:us-west-2:123456789012:instance/8c7b5d2e-3f4a-4b6c-9d8e-1a2b3c4d5e6f/\
                   routing-profile/4b1d3c2a-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
const HEADER: &str = "Argument1,Argument2,Argument3,Argument4,Argument5,BulkAction";
const PARTNER_CENTER: &str = "Tailspin Partner Telephony";

fn user(name: &str, call_center: Option<&str>, permission_sets: &[&str]) -> UserSeed {
    UserSeed {
        call_center: call_center.map(str::to_owned),
        permission_sets: permission_sets.iter().map(|s| (*s).to_owned()).collect(),
        ..UserSeed::standard(name)
    }
}

/// The default org with a Partner Telephony contact center and four users; bob already belongs to Support EMEA.
fn seed() -> SalesforceSeed {
    let mut seed = SalesforceSeed::default();
    seed.call_centers.push(PARTNER_CENTER.into());
    seed.partner_telephony_centers.push(PARTNER_CENTER.into());
    seed.users.extend([
        user("ada", None, &[]),
        user("bob", Some("Support EMEA"), &["ContactCenterAgent"]),
        user("carl", None, &[]),
        user("dana", None, &[]),
    ]);
    seed
}

/// The org of `seed` on Service Cloud Voice with Amazon Connect, linked to an example Connect sandbox (returned so
/// that the caller keeps it running).
async fn linked(seed: SalesforceSeed) -> (SalesforceSandbox, ConnectSandbox) {
    let connect = ConnectSandbox::start(examples::connect_seed(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let sandbox = start(seed).await;
    sandbox.link_connect(connect.voice_link(), examples::SAML_INSTANCE_ID);
    (sandbox, connect)
}

/// Polls `read` until `done` holds, for at most 10 s.
async fn until<T>(what: &str, mut read: impl AsyncFnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} did not happen in 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn create_job(api: &Api, object: &str) -> (StatusCode, Value) {
    api.post("/jobs/ingest", json!({"object": object, "operation": "insert", "contentType": "CSV", "lineEnding": "LF"}))
        .await
}

async fn finished_job(api: &Api, id: &str) -> Value {
    until(
        "the job's end",
        async || api.get(&format!("/jobs/ingest/{id}")).await.1,
        |info| ["JobComplete", "Failed", "Aborted"].contains(&info["state"].as_str().unwrap_or_default()),
    )
    .await
}

/// Every ContactCenterBulkOp record once none is pending.
async fn worked_bulkops(api: &Api) -> Vec<Value> {
    let soql = "SELECT Id, Argument1, Status, ErrorMessage, VoiceProvisioningJobID FROM ContactCenterBulkOp";
    let body = until(
        "every record worked",
        async || api.query(soql).await.1,
        |body| body["records"].as_array().is_some_and(|r| r.iter().all(|r| r["Status"] != "Pending")),
    )
    .await;
    body["records"].as_array().unwrap().clone()
}

fn csv_lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[tokio::test]
async fn an_ingest_job_loads_bulk_operations_that_salesforce_then_works_one_by_one() {
    let (sandbox, connect) = linked(seed()).await;
    let api = Api::new(&sandbox).await;
    let id_of_user = async |name: &str| {
        let (_, body) = api.query(&format!("SELECT Id FROM User WHERE Username = '{name}@example.com'")).await;
        body["records"][0]["Id"].as_str().unwrap().to_owned()
    };
    let (ada, bob, carl, dana) =
        (id_of_user("ada").await, id_of_user("bob").await, id_of_user("carl").await, id_of_user("dana").await);
    let northwind = api.id_of("CallCenter", "Northwind Support").await;
    let partner = api.id_of("CallCenter", PARTNER_CENTER).await;

    let (status, job) = create_job(&api, "ContactCenterBulkOp").await;
    assert_eq!(status, StatusCode::OK, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("750") && id.len() == 18, "{id}");
    assert_eq!((job["state"].as_str(), job["object"].as_str()), (Some("Open"), Some("ContactCenterBulkOp")));
    let (status, early) = api.get_text(&format!("/jobs/ingest/{id}/successfulResults/")).await;
    assert_eq!(status, StatusCode::CONFLICT, "no results before the job ends: {early}");

    let csv = format!(
        "{HEADER}\n\
         ada@example.com,{ada},Agent,{ARN},{northwind},AddUsers\n\
         carl@example.com,{carl},agent,{ARN},{northwind},AddUsers\n\
         bob@example.com,{bob},Agent,{ARN},{northwind},AddUsers\n\
         ,{ada},Agent,{ARN},{northwind},AddUsers\n\
         dana@example.com,{dana},,,{partner},AddUsers\n\
         ada@example.com,{ada},Agent,{ARN},{northwind},RemoveUsers\n"
    );
    assert_eq!(api.put_csv(&format!("/jobs/ingest/{id}/batches"), &csv).await.0, StatusCode::CREATED);
    let (status, closed) = api.patch(&format!("/jobs/ingest/{id}"), json!({"state": "UploadComplete"})).await;
    assert_eq!((status, closed["state"].as_str()), (StatusCode::OK, Some("UploadComplete")));
    let (status, again) = api.put_csv(&format!("/jobs/ingest/{id}/batches"), &csv).await;
    assert_eq!((status, again[0]["errorCode"].as_str()), (StatusCode::CONFLICT, Some("INVALIDJOBSTATE")));

    let done = finished_job(&api, &id).await;
    assert_eq!(done["state"], "JobComplete", "{done}");
    assert_eq!((done["numberRecordsProcessed"].as_u64(), done["numberRecordsFailed"].as_u64()), (Some(6), Some(2)));
    let (_, successful) = api.get_text(&format!("/jobs/ingest/{id}/successfulResults/")).await;
    let successful = csv_lines(&successful);
    assert_eq!(successful[0], format!("sf__Id,sf__Created,{HEADER}"));
    assert_eq!(successful.len(), 5, "{successful:?}");
    let (_, failed) = api.get_text(&format!("/jobs/ingest/{id}/failedResults/")).await;
    let failed = csv_lines(&failed);
    assert_eq!(failed[0], format!("sf__Id,sf__Error,{HEADER}"));
    assert!(failed[1].contains("REQUIRED_FIELD_MISSING") && failed[1].contains("Argument1"), "{failed:?}");
    assert!(failed[2].contains("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"), "{failed:?}");
    let (_, unprocessed) = api.get_text(&format!("/jobs/ingest/{id}/unprocessedrecords/")).await;
    assert_eq!(csv_lines(&unprocessed), vec![HEADER]);

    let records = worked_bulkops(&api).await;
    let outcome = |email: &str| {
        let record = records.iter().find(|r| r["Argument1"] == email).unwrap_or_else(|| panic!("{email}"));
        assert_eq!(record["VoiceProvisioningJobID"], json!(id));
        (record["Status"].as_str().unwrap().to_owned(), record["ErrorMessage"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(outcome("ada@example.com"), ("Completed".to_owned(), String::new()));
    assert_eq!(outcome("dana@example.com"), ("Completed".to_owned(), String::new()));
    let (status, message) = outcome("carl@example.com");
    assert!(status == "Failed" && message.contains("Argument3"), "the profile is case-sensitive: {message}");
    let (status, message) = outcome("bob@example.com");
    assert!(status == "Failed" && message.contains("another contact center"), "{message}");

    let snapshot = sandbox.snapshot();
    let held = |name: &str| snapshot.user(&format!("{name}@example.com")).unwrap().clone();
    assert_eq!(
        (held("ada").call_center.as_deref(), held("ada").permission_sets),
        (Some("Northwind Support"), vec!["ContactCenterAgent".to_owned()])
    );
    assert_eq!(held("dana").call_center.as_deref(), Some(PARTNER_CENTER));
    assert_eq!(held("dana").permission_sets, vec!["ContactCenterAgentPartnerTelephony"], "assigned automatically");
    assert_eq!(held("bob").call_center.as_deref(), Some("Support EMEA"), "one contact center per user");
    assert_eq!(held("carl").call_center, None);
    assert_eq!(snapshot.bulk_jobs.len(), 1);
    assert_eq!((snapshot.bulk_jobs[0].state.as_str(), snapshot.bulk_jobs[0].records), ("JobComplete", 6));
    let made = connect.snapshot().created_by_salesforce;
    assert_eq!(made.len(), 1, "only Ada's record made a Connect user; the refused ones made none: {made:?}");
}

#[tokio::test]
async fn job_states_refuse_what_they_do_not_allow_and_the_knobs_fail_jobs_and_records() {
    let sandbox: SalesforceSandbox = start(seed()).await;
    let api = Api::new(&sandbox).await;
    let (status, body) = create_job(&api, "Account").await;
    assert_eq!((status, body[0]["errorCode"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALIDJOB")));
    let (status, _) = api.get("/jobs/ingest/750Sb0000000999AAA").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Abort, once; then the job may go.
    let id = create_job(&api, "ContactCenterBulkOp").await.1["id"].as_str().unwrap().to_owned();
    let (_, aborted) = api.patch(&format!("/jobs/ingest/{id}"), json!({"state": "Aborted"})).await;
    assert_eq!(aborted["state"], "Aborted");
    let (status, again) = api.patch(&format!("/jobs/ingest/{id}"), json!({"state": "Aborted"})).await;
    assert_eq!((status, again[0]["errorCode"].as_str()), (StatusCode::CONFLICT, Some("INVALIDJOBSTATE")));
    let listed = api.get("/jobs/ingest").await.1;
    assert_eq!(listed["records"].as_array().map(Vec::len), Some(1), "{listed}");
    let deleted = api.send(api.http.delete(api.url(&format!("/jobs/ingest/{id}")))).await.0;
    assert_eq!(deleted, StatusCode::NO_CONTENT);

    // Only Salesforce writes a bulk operation's outcome.
    let (status, body) = api
        .post(
            "/sobjects/ContactCenterBulkOp",
            json!({"Argument1": "ada@example.com", "BulkAction": "AddUsers", "Status": "Completed"}),
        )
        .await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_FIELD_FOR_INSERT_UPDATE"))
    );

    // A job Salesforce fails as a whole loads nothing: every record is unprocessed.
    let failing = BulkKnobs { job_failure: Some("InvalidBatch : sandbox says no".into()), ..BulkKnobs::default() };
    sandbox.set_knobs(SalesforceKnobs { bulk: failing, ..SalesforceKnobs::default() });
    let id = create_job(&api, "ContactCenterBulkOp").await.1["id"].as_str().unwrap().to_owned();
    let csv = format!("{HEADER}\nada@example.com,,Agent,{ARN},,AddUsers\n");
    assert_eq!(api.put_csv(&format!("/jobs/ingest/{id}/batches/"), &csv).await.0, StatusCode::CREATED);
    api.patch(&format!("/jobs/ingest/{id}"), json!({"state": "UploadComplete"})).await;
    let failed = finished_job(&api, &id).await;
    assert_eq!(
        (failed["state"].as_str(), failed["errorMessage"].as_str()),
        (Some("Failed"), Some("InvalidBatch : sandbox says no"))
    );
    let (_, unprocessed) = api.get_text(&format!("/jobs/ingest/{id}/unprocessedrecords/")).await;
    assert_eq!(csv_lines(&unprocessed).len(), 2, "{unprocessed}");
    assert_eq!(api.query("SELECT Id FROM ContactCenterBulkOp").await.1["totalSize"], 0);

    // Per-record failures of Salesforce's own.
    let flaky = BulkKnobs { record_failure_rate: 1.0, ..BulkKnobs::default() };
    sandbox.set_knobs(SalesforceKnobs { bulk: flaky, ..SalesforceKnobs::default() });
    let (status, _) = api
        .post("/sobjects/ContactCenterBulkOp", json!({"Argument1": "ada@example.com", "BulkAction": "AddUsers"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "the REST API inserts bulk operations too");
    let records = worked_bulkops(&api).await;
    assert_eq!(records[0]["Status"], "Failed");
    assert!(records[0]["ErrorMessage"].as_str().unwrap().contains("sandbox fault"), "{records:?}");
}

/// A Service Cloud Voice org linked to a Connect instance: Salesforce creates the Connect user of every bulk
/// operation it works (the row's routing profile, the security profile of its profile) and, after the sync's delay,
/// of every user who joins an Amazon Connect contact center another way; never through the Connect API.
#[tokio::test]
async fn service_cloud_voice_creates_the_connect_users_of_the_bulk_path_and_of_users_who_join() {
    use ccbulk_shared::sfid::SalesforceId;

    let seed = SalesforceSeed {
        service_cloud_voice_sync: true,
        knobs: SalesforceKnobs { voice_sync_delay_ms: 60_000, ..SalesforceKnobs::default() },
        ..examples::salesforce_seed()
    };
    let (sandbox, connect) = linked(seed).await;
    let api = Api::new(&sandbox).await;
    let org_id = sandbox.snapshot().org_id;

    // The example file, its 15-character ids widened to 18 as Salesforce asks.
    let example = include_str!("../../examples/bulkop-amazon-connect.csv");
    let mut csv = String::new();
    for (i, line) in example.lines().enumerate() {
        let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        if i > 0 {
            cells[1] = SalesforceId::parse(&cells[1]).unwrap().as_str().to_owned();
        }
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    let rows = example.lines().count() - 1;
    let id = create_job(&api, "ContactCenterBulkOp").await.1["id"].as_str().unwrap().to_owned();
    api.put_csv(&format!("/jobs/ingest/{id}/batches"), &csv).await;
    api.patch(&format!("/jobs/ingest/{id}"), json!({"state": "UploadComplete"})).await;
    assert_eq!(finished_job(&api, &id).await["state"], "JobComplete");
    let records = worked_bulkops(&api).await;
    let failed: Vec<&Value> = records.iter().filter(|r| r["Status"] != "Completed").collect();
    assert!(failed.is_empty(), "{failed:?}");

    let snapshot = connect.snapshot();
    assert_eq!(snapshot.created_by_salesforce.len(), rows, "one Connect user per row");
    assert_eq!(snapshot.counters.calls.get("CreateUser"), None, "Salesforce does not go through the API");
    let instance = snapshot.instance(examples::SAML_INSTANCE_ID).unwrap();
    let first = example.lines().nth(1).unwrap().split(',').collect::<Vec<_>>();
    let user_id = SalesforceId::parse(first[1]).unwrap().as_str().to_owned();
    let alias = sandbox.snapshot().users.iter().find(|u| u.id == user_id).unwrap().alias.clone();
    let made = instance.user(&format!("{alias}@{user_id}@{org_id}")).expect("Service Cloud Voice's username form");
    assert_eq!(made.security_profiles, vec![first[2].to_owned()], "the security profile that matches the profile");
    let saml_seed =
        examples::connect_seed().instances.into_iter().find(|i| i.id.as_deref() == Some(examples::SAML_INSTANCE_ID));
    let routing_profile_id = first[3].rsplit('/').next().unwrap();
    let named = saml_seed.unwrap().ids.into_iter().find(|(_, id)| id == routing_profile_id).map(|(name, _)| name);
    assert_eq!(named.as_deref(), Some(made.routing_profile.as_str()), "the row's routing profile");
    assert_eq!(sandbox.snapshot().voice_syncs_waiting, 0, "the bulk path's joins found their users made");

    // A user who joins through the REST API gets a Connect user once the sync's delay has passed.
    let ines = "005Hn0000d53x83IAA";
    let agent_set = api.id_of("PermissionSet", "ContactCenterAgent").await;
    let (status, _) =
        api.post("/sobjects/PermissionSetAssignment", json!({"AssigneeId": ines, "PermissionSetId": agent_set})).await;
    assert_eq!(status, StatusCode::CREATED, "a contact center takes users who hold a Voice set");
    let (status, _) = api.patch(&format!("/sobjects/User/{ines}"), json!({"CallCenterId": "04vHn000000Z4aBIAS"})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let username = |alias: &str| format!("{alias}@{ines}@{org_id}");
    let ines_alias = sandbox.snapshot().users.iter().find(|u| u.id == ines).unwrap().alias.clone();
    assert_eq!(sandbox.snapshot().voice_syncs_waiting, 1);
    let instance_has = |name: &str| {
        connect.snapshot().instance(examples::SAML_INSTANCE_ID).unwrap().user(name).map(|u| u.routing_profile.clone())
    };
    assert_eq!(instance_has(&username(&ines_alias)), None, "not before the sync's delay");
    sandbox.set_knobs(SalesforceKnobs { voice_sync_delay_ms: 0, ..SalesforceKnobs::default() });
    let routing = until("the sync", async || instance_has(&username(&ines_alias)), Option::is_some).await;
    assert_eq!(routing.as_deref(), Some("Basic Routing Profile"));
    assert!(sandbox.snapshot().voice_sync_failures.is_empty());
}
