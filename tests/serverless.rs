//! The serverless path end to end: a file dropped in the bucket, ingest, provision and status as Lambda runs them,
//! against moto (S3, DynamoDB, SQS, Secrets Manager) and the Connect and Salesforce sandboxes, with the driver
//! playing S3's notifications, Lambda's SQS poller and API Gateway.

use ccbulk_e2e::cases::{MIXED, seed_mixed};
use ccbulk_e2e::{Delivery, LogCapture, OpenApi, Stack, StackOptions, repo_root};
use ccbulk_sandbox::connect::{FaultRates, Knobs};
use ccbulk_sandbox::salesforce::{BulkKnobs, SalesforceFaults, SalesforceKnobs};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

fn example(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("examples").join(name)).unwrap()
}

/// The passwords a file holds (the `password` column).
fn passwords(csv: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(csv);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == "password").unwrap();
    lines.filter_map(|l| l.split(',').nth(at)).filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Every row of a job through the API, `limit` at a time, checked against the document page by page.
async fn all_rows(stack: &Stack, api: &OpenApi, job: &str, status: Option<&str>, limit: usize) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut path = format!("/jobs/{job}/rows?limit={limit}");
        if let Some(status) = status {
            path.push_str(&format!("&status={status}"));
        }
        if let Some(next) = &next {
            path.push_str(&format!("&next={next}"));
        }
        let (code, content_type, _, body) = stack.api("GET", &path).await;
        assert_eq!(code, 200, "{body}");
        api.check("/jobs/{id}/rows", code, &content_type, &body);
        let page = json(&body);
        assert!(page["rows"].as_array().unwrap().len() <= limit);
        rows.extend(page["rows"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(token) => next = Some(token.to_owned()),
            None => return rows,
        }
    }
}

#[tokio::test]
async fn a_dropped_file_is_provisioned_once_and_reported_through_the_api() {
    let logs = LogCapture::default();
    let _capture = logs.start();
    let stack = Stack::start(StackOptions::default()).await;
    let api = OpenApi::load();
    let csv = example("ccbulk-agents.csv");

    let event = stack.upload("uploads/northwind/new hires+2026.csv", csv.clone()).await;
    stack.notify(event.clone()).await;
    let chunks = stack.queue_depth(&stack.queue_url).await;
    assert!(chunks >= 5, "a 28-row file in chunks of 5: {chunks} messages");
    stack.notify(event).await;
    assert_eq!(stack.queue_depth(&stack.queue_url).await, chunks, "a repeated S3 event sends nothing again");

    let drained = stack.drain(Delivery::Twice).await;
    assert_eq!(drained.failures, 0, "{drained:?}");
    assert_eq!(drained.invocations as u64, 2 * chunks, "every chunk was delivered twice");

    let (code, content_type, _, body) = stack.api("GET", "/jobs?limit=10").await;
    assert_eq!(code, 200, "{body}");
    api.check("/jobs", code, &content_type, &body);
    let jobs = json(&body)["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 1, "one job for one file, whatever the events: {body}");
    let job_id = jobs[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(jobs[0]["source"]["key"], "uploads/northwind/new hires+2026.csv", "the key decoded from the event");

    let (code, content_type, _, body) = stack.api("GET", &format!("/jobs/{job_id}")).await;
    api.check("/jobs/{id}", code, &content_type, &body);
    let job = json(&body);
    assert_eq!(job["state"], "SUCCEEDED", "{body}");
    let rows = all_rows(&stack, &api, &job_id, None, 7).await;
    assert_eq!(rows.len() as u64, job["counts"]["succeeded"].as_u64().unwrap());
    assert_eq!(
        rows.iter().map(|r| r["row"].as_u64().unwrap()).collect::<Vec<_>>(),
        (2..2 + rows.len() as u64).collect::<Vec<_>>()
    );

    // What the API says is what the sandboxes hold.
    let connect = stack.connect.snapshot();
    let instance = connect.instance(&stack.instance_id).unwrap();
    let org = stack.salesforce.snapshot();
    let mut adds = 0;
    for row in &rows {
        let username = row["username"].as_str().unwrap();
        match row["action"].as_str().unwrap() {
            "remove" => assert!(instance.user(username).is_none(), "{username} removed from Connect"),
            action => {
                adds += u64::from(action == "add");
                let user = instance.user(username).unwrap_or_else(|| panic!("{username} is in Connect"));
                assert_eq!(row["connect_user_id"].as_str(), Some(user.id.as_str()), "{username}");
                // Rows with a Salesforce side (every add here; the updates name none) are in the org as reported.
                if let Some(salesforce_id) = row["salesforce_user_id"].as_str() {
                    let in_org = org.users.iter().find(|u| u.id == salesforce_id).unwrap();
                    assert!(in_org.call_center.is_some(), "{username} is in a contact center in Salesforce");
                } else {
                    assert_eq!(action, "update", "{username}: an add has its Salesforce user");
                }
            }
        }
    }
    // The job's summary gives the org's API allocation as Sforce-Limit-Info last told the workers: some used, no more
    // than the org counted, read while the job ran.
    let allocation = &job["salesforce_allocation"];
    assert_eq!(allocation["max"].as_u64(), Some(org.counters.api_max), "{body}");
    let used = allocation["used"].as_u64().unwrap();
    assert!(used > 0 && used <= org.counters.api_used, "{used} of {} counted by the org", org.counters.api_used);
    assert!(allocation["seen_at"].as_u64() >= job["created_at"].as_u64(), "{body}");
    assert!(jobs[0].get("salesforce_allocation").is_none(), "the job list goes without it");
    let create_calls = connect.counters.calls.get("CreateUser").copied().unwrap_or(0);
    assert!(create_calls <= adds, "no user created twice though every chunk came twice: {create_calls} > {adds}");
    assert_eq!(connect.counters.throttled.get("CreateUser").copied().unwrap_or(0), 0, "2 workers kept to 2 req/s");

    let (code, content_type, _, one) = stack.api("GET", &format!("/jobs/{job_id}/rows/3")).await;
    api.check("/jobs/{id}/rows/{row}", code, &content_type, &one);
    assert_eq!(json(&one), rows[1]);

    let (code, content_type, _, report) = stack.api("GET", &format!("/jobs/{job_id}/report")).await;
    assert_eq!((code, content_type.as_str()), (200, "text/csv; charset=utf-8"), "{report}");
    api.check("/jobs/{id}/report", code, &content_type, &report);
    assert_eq!(report.lines().count(), rows.len() + 1);
    assert!(report.lines().skip(1).all(|l| l.contains(",SUCCEEDED,")), "{report}");

    for password in passwords(&csv) {
        assert!(!report.contains(&password), "a password in the report");
        assert!(!stack.table_text().await.contains(&password), "a password in the table");
        assert!(!stack.bodies.lock().unwrap().iter().any(|b| b.contains(&password)), "a password in the queue");
        assert!(!logs.text().contains(&password), "a password in the logs");
    }
    assert!(logs.text().contains("chunk done"), "the functions' logs were captured");
}

#[tokio::test]
async fn a_large_report_is_handed_out_through_the_bucket() {
    let stack = Stack::start(StackOptions { inline_report_bytes: 100, ..StackOptions::default() }).await;
    let api = OpenApi::load();
    let csv = example("errors.csv");
    stack.notify(stack.upload("uploads/errors.csv", csv).await).await;
    stack.drain(Delivery::Once).await;
    let (_, _, _, body) = stack.api("GET", "/jobs").await;
    let job_id = json(&body)["jobs"][0]["id"].as_str().unwrap().to_owned();

    let invalid = all_rows(&stack, &api, &job_id, Some("INVALID"), 2).await;
    assert!(!invalid.is_empty() && invalid.iter().all(|r| r["status"] == "INVALID"));
    assert!(invalid.iter().all(|r| r["error_message"].as_str().unwrap().contains("column ")), "{invalid:?}");

    let (code, content_type, location, body) = stack.api("GET", &format!("/jobs/{job_id}/report")).await;
    assert_eq!(code, 303, "{body}");
    api.check("/jobs/{id}/report", code, &content_type, &body);
    let location = location.unwrap();
    assert_eq!(json(&body)["url"].as_str(), Some(location.as_str()));
    assert!(location.starts_with(&stack.moto.endpoint) && location.contains("X-Amz-Signature"), "{location}");
    let report = reqwest::get(&location).await.unwrap().text().await.unwrap();
    assert!(report.starts_with("action,") && report.contains(",INVALID,"), "{report}");

    let (code, content_type, _, body) = stack.api("GET", &format!("/jobs/{job_id}/rows?status=LOST")).await;
    assert_eq!(code, 400);
    api.check("/jobs/{id}/rows", code, &content_type, &body);
    assert!(body.contains("status=\\\"LOST\\\""), "the parameter is named: {body}");
    let (code, content_type, _, body) = stack.api("GET", "/jobs/0123456789abcdef01234567").await;
    assert_eq!(code, 404);
    api.check("/jobs/{id}", code, &content_type, &body);
    let (code, _, _, _) = stack.api("DELETE", &format!("/jobs/{job_id}")).await;
    assert_eq!(code, 405);
    let (code, _, _, _) = stack.api("GET", "/admin").await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn an_unusable_file_is_a_failed_job_whose_reason_the_api_gives() {
    let stack = Stack::start(StackOptions::default()).await;
    let api = OpenApi::load();
    let event = stack.upload("uploads/minutes.csv", b"Meeting minutes\nnothing to provision here\n".to_vec()).await;
    stack.notify(event.clone()).await;
    stack.notify(event).await;
    assert_eq!(stack.queue_depth(&stack.queue_url).await, 0, "no chunk for an unusable file");
    let (_, _, _, body) = stack.api("GET", "/jobs").await;
    let jobs = json(&body)["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 1, "{body}");
    let job = &jobs[0];
    assert_eq!((job["state"].as_str(), job["dialect"].as_str()), (Some("FAILED"), None), "{job}");
    assert!(job["error"].as_str().unwrap().contains("the header matches none of the dialects"), "the reason: {job}");
    let (code, content_type, _, body) =
        stack.api("GET", &format!("/jobs/{}/report", job["id"].as_str().unwrap())).await;
    assert_eq!(code, 409, "{body}");
    api.check("/jobs/{id}/report", code, &content_type, &body);
    let (code, content_type, _, body) =
        stack.api("POST", &format!("/jobs/{}/retry", job["id"].as_str().unwrap())).await;
    assert_eq!(code, 409, "nothing to retry: {body}");
    api.check_method("post", "/jobs/{id}/retry", code, &content_type, &body);
    assert!(body.contains("its file could not be read"), "{body}");
    let (code, _, _, _) = stack.api("GET", &format!("/jobs/{}/retry", job["id"].as_str().unwrap())).await;
    assert_eq!(code, 405, "a retry is a POST");
}

/// Uploads no row can come from end as FAILED jobs that say why, with no crash and nothing left INGESTING: one over
/// the deployment's size cap (refused by the size its event announces, or at the cap when the event gives none), a
/// line of megabytes, a header of 100,000 columns. And 99 rows with a 50 KB cell each are 99 invalid rows whose
/// messages are short and quote nothing.
#[tokio::test]
async fn uploads_too_large_to_work_end_as_failed_jobs_that_say_why() {
    const CAP: u64 = 8 << 20;
    let stack = Stack::start(StackOptions {
        ingest_env: vec![("CCBULK_MAX_OBJECT_BYTES", CAP.to_string())],
        ..StackOptions::default()
    })
    .await;
    let over_cap = vec![b'x'; CAP as usize + 1];
    stack.notify(stack.upload("uploads/over-cap.csv", over_cap.clone()).await).await;
    let mut unannounced = stack.upload("uploads/over-cap-unannounced.csv", over_cap).await;
    unannounced.records[0].s3.object.size = None;
    stack.notify(unannounced).await;
    stack.notify(stack.upload("uploads/one-line.csv", vec![b'x'; 5 << 20]).await).await;
    let wide: Vec<String> = (0..100_000).map(|i| format!("column{i}")).collect();
    stack.notify(stack.upload("uploads/wide.csv", format!("{}\nx\n", wide.join(",")).into_bytes()).await).await;
    let mut cells = String::from("action,username,password,first_name,last_name,routing_profile,security_profiles\n");
    for i in 0..99 {
        let long = "q".repeat(50 * 1024);
        cells.push_str(&format!("add,user{i},Passw0rd!,{long},Doe,Basic Routing Profile,Agent\n"));
    }
    stack.notify(stack.upload("uploads/cells.csv", cells.into_bytes()).await).await;

    let (_, _, _, body) = stack.api("GET", "/jobs").await;
    let jobs = json(&body)["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 5, "{body}");
    let job = |key: &str| {
        jobs.iter().find(|j| j["source"]["key"] == format!("uploads/{key}")).unwrap_or_else(|| panic!("{key}: {body}"))
    };
    for (key, says) in [
        ("over-cap.csv", "more than the 8388608 bytes this deployment takes"),
        ("over-cap-unannounced.csv", "more than the 8388608 bytes this deployment takes"),
        ("one-line.csv", "row 1 runs over"),
        ("wide.csv", "the header has 100000 columns"),
    ] {
        let job = job(key);
        assert_eq!(job["state"], "FAILED", "{job}");
        assert!(job["error"].as_str().unwrap().contains(says), "{key}: {job}");
    }
    let cells = job("cells.csv");
    assert_ne!(cells["state"], "INGESTING", "{cells}");
    assert_eq!(cells["counts"]["invalid"], 99, "{cells}");
    let rows = all_rows(&stack, &OpenApi::load(), cells["id"].as_str().unwrap(), None, 100).await;
    for row in &rows {
        let message = row["error_message"].as_str().unwrap();
        assert!(message.contains("[cell.too_long]") && message.len() < 300, "{row}");
        assert!(!message.contains("qqqq") && !message.contains("Passw0rd!"), "{row}");
    }
    assert_eq!(stack.queue_depth(&stack.queue_url).await, 0, "no chunk for any of them");
}

#[tokio::test]
async fn a_poison_message_goes_to_the_dead_letter_queue_alone_and_faults_are_ridden_out() {
    let mut knobs = Knobs::default();
    knobs.faults.insert("*".into(), FaultRates { internal_error: 0.15, throttle: 0.1, ..FaultRates::default() });
    let stack = Stack::start(StackOptions { connect_knobs: Some(knobs), ..StackOptions::default() }).await;
    stack
        .sqs
        .send_message()
        .queue_url(&stack.queue_url)
        .message_body("{\"job_id\": \"not a chunk\"}")
        .send()
        .await
        .unwrap();
    stack.notify(stack.upload("uploads/agents.csv", example("ccbulk-agents.csv")).await).await;
    let drained = stack.drain(Delivery::Once).await;
    assert!(drained.failures >= 5, "the poison message failed on each of its receives: {drained:?}");
    assert_eq!(stack.dead_letters().await, ["{\"job_id\": \"not a chunk\"}"], "only the poison message");

    let (_, _, _, body) = stack.api("GET", "/jobs").await;
    let job = &json(&body)["jobs"][0];
    assert_eq!(job["state"], "SUCCEEDED", "injected 5xx and throttles were retried to success: {job}");
    let counters = stack.connect.snapshot().counters;
    let injected: u64 = counters.injected_errors.values().sum();
    assert!(injected > 0, "faults were injected: {counters:?}");
}

/// The one job of a stack, as the API gives it, once its chunks are drained.
async fn the_job(stack: &Stack) -> Value {
    let (_, _, _, body) = stack.api("GET", "/jobs").await;
    let jobs = json(&body)["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 1, "{body}");
    jobs[0].clone()
}

#[tokio::test]
async fn bulkop_rows_on_a_saml_instance_take_their_connect_identity_from_salesforce() {
    // Direct mode: ccbulk makes the Connect users itself, under the Salesforce usernames.
    let stack = Stack::start(StackOptions {
        identity_management: "SAML",
        parameters: vec![("SalesforceSync", "direct".to_owned())],
        ..StackOptions::default()
    })
    .await;
    let api = OpenApi::load();
    stack.notify(stack.upload("uploads/bulkop.csv", example("bulkop-amazon-connect.csv")).await).await;
    let drained = stack.drain(Delivery::Once).await;
    assert_eq!(drained.failures, 0, "{drained:?}");
    let job = the_job(&stack).await;
    assert_eq!((job["state"].as_str(), job["dialect"].as_str()), (Some("SUCCEEDED"), Some("bulkop")), "{job}");

    let rows = all_rows(&stack, &api, job["id"].as_str().unwrap(), Some("SUCCEEDED"), 50).await;
    assert_eq!(rows.len(), 26);
    let connect = stack.connect.snapshot();
    let instance = connect.instance(&stack.instance_id).unwrap();
    let org = stack.salesforce.snapshot();
    for row in &rows {
        let salesforce_id = row["salesforce_user_id"].as_str().unwrap();
        let in_org = org.users.iter().find(|u| u.id.starts_with(salesforce_id) || salesforce_id.starts_with(&u.id));
        let in_org = in_org.unwrap_or_else(|| panic!("{salesforce_id} is in the org"));
        // Under SAML the Connect username is the Salesforce username, and the names come from that record.
        let user = instance.user(&in_org.username).unwrap_or_else(|| panic!("{} in Connect", in_org.username));
        assert_eq!(row["connect_user_id"].as_str(), Some(user.id.as_str()));
        assert!(in_org.call_center.is_some() && in_org.permission_sets.iter().any(|p| p.starts_with("ContactCenter")));
    }
    assert_eq!(connect.counters.throttled.get("CreateUser").copied().unwrap_or(0), 0);
}

#[tokio::test]
async fn partner_telephony_rows_have_no_connect_side() {
    let stack = Stack::start(StackOptions { telephony_model: "partner-telephony", ..StackOptions::default() }).await;
    stack.notify(stack.upload("uploads/partner.csv", example("bulkop-partner-telephony.csv")).await).await;
    stack.drain(Delivery::Once).await;
    let job = the_job(&stack).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    let (_, _, _, report) = stack.api("GET", &format!("/jobs/{}/report", job["id"].as_str().unwrap())).await;
    assert_eq!(report.lines().count(), 23, "{report}");

    let connect = stack.connect.snapshot();
    let writes: u64 = ["CreateUser", "DeleteUser", "UpdateUserRoutingProfile"]
        .iter()
        .map(|api| connect.counters.calls.get(*api).copied().unwrap_or(0))
        .sum();
    assert_eq!(writes, 0, "Partner Telephony sends nothing to Connect: {:?}", connect.counters.calls);
    let org = stack.salesforce.snapshot();
    for line in String::from_utf8(example("bulkop-partner-telephony.csv")).unwrap().lines().skip(1) {
        let username = line.split(',').next().unwrap();
        let user = org.user(username).unwrap();
        assert_eq!(user.call_center.as_deref(), Some("Tailspin Partner Telephony"), "{user:?}");
        // The Partner Telephony file names no role; the Partner Telephony set comes with the membership, as
        // Salesforce's own bulk op assigns it.
        assert_eq!(user.permission_sets, ["ContactCenterAgentPartnerTelephony"], "{user:?}");
    }
}

#[tokio::test]
async fn connect_template_rows_get_the_deployments_salesforce_side_through_salesforce_faults() {
    // Seeded: the same calls meet the same faults, whatever order they come in, so some are always met.
    let mut faults = SalesforceKnobs { fault_seed: Some(25), ..SalesforceKnobs::default() };
    faults
        .faults
        .insert("*".into(), SalesforceFaults { server_error: 0.1, unavailable: 0.1, ..SalesforceFaults::default() });
    let stack = Stack::start(StackOptions {
        identity_management: "SAML",
        parameters: vec![
            ("ConnectTemplateContactCenter", "Support EMEA".into()),
            ("ConnectTemplateRole", "Agent".into()),
        ],
        salesforce_knobs: Some(faults),
        ..StackOptions::default()
    })
    .await;
    let api = OpenApi::load();
    let csv = example("connect-template-saml.csv");
    let users_before = stack.salesforce.snapshot().users.len();
    stack.notify(stack.upload("uploads/fabrikam.csv", csv.clone()).await).await;
    stack.drain(Delivery::Once).await;
    let job = the_job(&stack).await;
    let rows = all_rows(&stack, &api, job["id"].as_str().unwrap(), None, 100).await;
    let failed: Vec<&Value> = rows.iter().filter(|r| r["status"] != "SUCCEEDED").collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!((job["state"].as_str(), job["dialect"].as_str()), (Some("SUCCEEDED"), Some("connect")), "{job}");
    assert_eq!(rows.len(), 24);

    let org = stack.salesforce.snapshot();
    assert!(org.counters.injected_errors.values().sum::<u64>() > 0, "faults were injected: {:?}", org.counters);
    assert_eq!(org.users.len(), users_before + rows.len(), "one Salesforce user per row, none twice");
    let connect = stack.connect.snapshot();
    let instance = connect.instance(&stack.instance_id).unwrap();
    for row in &rows {
        let username = row["username"].as_str().unwrap();
        let user = org.user(username).unwrap_or_else(|| panic!("{username} in Salesforce"));
        assert_eq!(row["salesforce_user_id"].as_str(), Some(user.id.as_str()));
        assert_eq!(user.call_center.as_deref(), Some("Support EMEA"));
        assert_eq!(user.permission_sets, ["ContactCenterAgent"]);
        assert_eq!(row["connect_user_id"].as_str(), Some(instance.user(username).unwrap().id.as_str()));
    }
}

#[tokio::test]
async fn invocations_killed_mid_chunk_are_completed_by_redelivery_without_duplicates() {
    let stack = Stack::start(StackOptions::default()).await;
    let api = OpenApi::load();
    let ids_before: Vec<String> = stack.salesforce.snapshot().users.into_iter().map(|u| u.id).collect();
    let connect_before = stack.connect.snapshot().instance(&stack.instance_id).unwrap().users.len();
    stack.notify(stack.upload("uploads/agents.csv", example("ccbulk-agents.csv")).await).await;
    let chunks = stack.queue_depth(&stack.queue_url).await;
    // Every chunk here makes more than two Connect writes (each has an add): the kill lands between two of them.
    let drained = stack.drain(Delivery::KilledAfterConnectWrites(2)).await;
    assert_eq!(drained.killed as u64, chunks, "each chunk's first invocation was killed mid-chunk: {drained:?}");

    let job = the_job(&stack).await;
    let rows = all_rows(&stack, &api, job["id"].as_str().unwrap(), None, 100).await;
    let unfinished: Vec<&Value> = rows.iter().filter(|r| r["status"] != "SUCCEEDED").collect();
    assert!(unfinished.is_empty(), "{unfinished:?}");
    assert_eq!(job["state"], "SUCCEEDED", "{job}");

    let connect = stack.connect.snapshot();
    let instance = connect.instance(&stack.instance_id).unwrap();
    let org = stack.salesforce.snapshot();
    let adds: Vec<&Value> = rows.iter().filter(|r| r["action"] == "add").collect();
    for row in &adds {
        let username = row["username"].as_str().unwrap();
        let user = instance.user(username).unwrap_or_else(|| panic!("{username} in Connect"));
        assert_eq!(row["connect_user_id"].as_str(), Some(user.id.as_str()), "the row names the one user there is");
        let salesforce_id = row["salesforce_user_id"].as_str().unwrap();
        assert_eq!(org.users.iter().filter(|u| u.id == salesforce_id).count(), 1);
    }
    let created = adds.iter().filter(|r| !ids_before.iter().any(|id| r["salesforce_user_id"] == **id)).count();
    assert_eq!(org.users.len(), ids_before.len() + created, "no Salesforce user but the rows' own was created");
    let removes = rows.iter().filter(|r| r["action"] == "remove").count();
    assert_eq!(instance.users.len(), connect_before + adds.len() - removes, "no Connect user created twice");
}

/// An invocation whose time runs out after a few rows sends the rest of its chunk on in a new message, instead of
/// failing the delivery: a chunk worked a few rows at a time takes more invocations than the queue's five receives
/// before the dead-letter queue, and still finishes, each row once.
#[tokio::test]
async fn a_chunk_worked_a_few_rows_per_invocation_finishes_without_using_up_its_receives() {
    // At one Connect write a second, and no burst to speak of, an invocation with two seconds left gets through a row
    // or two, however many rows it works at once.
    let parameters = vec![("ConnectWriteRate", "1".to_owned()), ("ConnectWriteBurst", "1".to_owned())];
    let stack = Stack::start(StackOptions { chunk_rows: 20, parameters, ..StackOptions::default() }).await;
    let api = OpenApi::load();
    stack.notify(stack.upload("uploads/agents.csv", example("ccbulk-agents.csv")).await).await;
    let drained = stack.drain(Delivery::ShortDeadline(Duration::from_secs(2))).await;
    // A delivery may still fail now and then: the rest of a chunk sent on can reach a container while the invocation
    // that sent it finishes its last rows, and finds them held (a loaded machine makes that likelier). What matters
    // is that no message came near the redrive's receives.
    assert!(drained.most_receives < 5, "no message used up its receives: {drained:?}");
    assert!(drained.invocations > 5 + 2, "the chunks took more invocations than their receives allow: {drained:?}");
    assert!(stack.dead_letters().await.is_empty());

    let job = the_job(&stack).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    let rows = all_rows(&stack, &api, job["id"].as_str().unwrap(), None, 100).await;
    assert!(rows.iter().all(|row| row["attempts"] == 1), "each row worked once: {rows:?}");
    let connect = stack.connect.snapshot();
    let instance = connect.instance(&stack.instance_id).unwrap();
    for row in rows.iter().filter(|r| r["action"] == "add") {
        assert!(instance.user(row["username"].as_str().unwrap()).is_some(), "{row}");
    }
}

/// The Salesforce org's API allocation spent: the API shows the job paused and why, its chunks look again in new
/// messages (no receive is used up, nothing reaches the dead-letter queue, no row is charged an attempt), and once
/// calls come back the job goes on by itself and the pause is cleared.
#[tokio::test]
async fn a_spent_salesforce_allocation_shows_as_a_pause_and_the_job_goes_on_when_calls_come_back() {
    let stack = Stack::start(StackOptions::default()).await;
    stack.salesforce.set_api_usage(100_000, 100_000);
    stack.notify(stack.upload("uploads/agents.csv", example("ccbulk-agents.csv")).await).await;
    let watch = async {
        let paused = loop {
            let (_, _, _, body) = stack.api("GET", "/jobs").await;
            let job = json(&body)["jobs"][0].clone();
            if !job["paused"].is_null() {
                break job;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        stack.salesforce.set_api_usage(0, 100_000);
        paused
    };
    let (drained, paused) = tokio::join!(stack.drain(Delivery::Once), watch);
    assert_eq!(paused["state"], "RUNNING", "{paused}");
    assert!(paused["paused"]["reason"].as_str().unwrap().contains("REQUEST_LIMIT_EXCEEDED"), "{paused}");
    OpenApi::load().check(
        "/jobs",
        200,
        "application/json",
        &json!({"jobs": [paused.clone()], "next": null}).to_string(),
    );
    assert_eq!(drained.failures, 0, "a pause uses up no receive: {drained:?}");
    assert!(stack.dead_letters().await.is_empty());

    let job = the_job(&stack).await;
    assert_eq!((job["state"].as_str(), &job["paused"]), (Some("SUCCEEDED"), &Value::Null), "{job}");
    let rows = all_rows(&stack, &OpenApi::load(), job["id"].as_str().unwrap(), None, 100).await;
    assert!(rows.iter().all(|row| row["attempts"] == 1), "the paused deliveries charged no attempt: {rows:?}");
}

#[tokio::test]
async fn each_row_fails_alone_through_the_lambdas_with_the_system_and_the_reason() {
    let stack = Stack::start(StackOptions { seed: seed_mixed, ..StackOptions::default() }).await;
    let api = OpenApi::load();
    let users_before = stack.connect.snapshot().instance(&stack.instance_id).unwrap().users.len();
    stack.notify(stack.upload("uploads/mixed.csv", MIXED.as_bytes().to_vec()).await).await;
    let drained = stack.drain(Delivery::Once).await;
    assert_eq!(drained.failures, 0, "a failed row is an outcome, not a failed message: {drained:?}");
    let job = the_job(&stack).await;
    assert_eq!(job["state"], "COMPLETED_WITH_ERRORS", "{job}");
    assert_eq!(
        job["counts"],
        serde_json::json!({"succeeded": 2, "failed": 2, "invalid": 1, "pending": 0, "in_progress": 0})
    );

    let job_id = job["id"].as_str().unwrap();
    let rows = all_rows(&stack, &api, job_id, None, 10).await;
    let row = |username: &str| rows.iter().find(|r| r["username"] == username).unwrap().clone();
    let connect = stack.connect.snapshot();
    let instance = connect.instance(&stack.instance_id).unwrap();
    let existing = instance.user("existing.agent").unwrap();
    assert_eq!(row("existing.agent")["connect_user_id"].as_str(), Some(existing.id.as_str()), "adopted");
    assert_eq!(
        (existing.routing_profile.as_str(), existing.security_profiles.as_slice()),
        ("Sales Inbound", &["Agent".to_owned()][..])
    );

    let other = row("other.center");
    let message = other["error_message"].as_str().unwrap();
    assert!(message.starts_with("Salesforce:") && message.contains("Support EMEA"), "{other}");
    assert!(instance.user("other.center").is_none(), "a row refused by Salesforce creates no Connect user");
    let taken = row("taken");
    assert!(taken["error_message"].as_str().unwrap().contains("DUPLICATE_USERNAME"), "{taken}");
    assert_eq!(row("fine.agent")["status"], "SUCCEEDED");
    // The invalid row repeats none of its cells (they may be shifted, a password among them): not its username.
    let invalid = rows.iter().find(|r| r["status"] == "INVALID").unwrap();
    assert!(invalid["error_message"].as_str().unwrap().contains("username.too_long"), "{invalid}");
    assert!(invalid["username"].is_null(), "{invalid}");
    assert_eq!(instance.users.len(), users_before + 1, "only fine.agent is new");

    let (code, content_type, _, failed) = stack.api("GET", &format!("/jobs/{job_id}/rows?status=FAILED")).await;
    api.check("/jobs/{id}/rows", code, &content_type, &failed);
    let failed: Vec<u64> =
        json(&failed)["rows"].as_array().unwrap().iter().map(|r| r["row"].as_u64().unwrap()).collect();
    assert_eq!(failed, [3, 4], "the failed rows, and only they, by the status index");
}

/// A Salesforce ccbulk cannot sign in to (a rotated secret here; a locked integration user, or the login service down
/// for an hour, are the same to it) pauses the jobs that need it, as a spent allocation does: their rows wait
/// untouched, no receive is used up and nothing goes to the dead-letter queue, and the job says why. A Connect-only
/// job does not wait at all. Once the secret is put right, the paused job goes on by itself.
#[tokio::test]
async fn a_salesforce_that_cannot_be_signed_in_to_pauses_its_jobs_and_connect_only_jobs_go_on() {
    let logs = LogCapture::default();
    let _capture = logs.start();
    let stack =
        Stack::start(StackOptions { salesforce_secret: Some("not-the-secret"), ..StackOptions::default() }).await;
    stack.notify(stack.upload("uploads/agents.csv", example("ccbulk-agents.csv")).await).await;
    let connect_only = "action,username,password,first_name,last_name,routing_profile,security_profiles\n\
                        add,conly.one,Welcome123!Ab,Con,Only,Basic Routing Profile,Agent\n\
                        add,conly.two,Welcome123!Ab,Cora,Only,Basic Routing Profile,Agent\n";
    stack.notify(stack.upload("uploads/connect-only.csv", connect_only.as_bytes().to_vec()).await).await;
    // Both jobs seen at once: the one needing Salesforce paused, the Connect-only one already done. Then the secret
    // is put right, as an admin would.
    let watch = async {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let jobs = all_jobs(&stack).await;
            let job = |key: &str| jobs.iter().find(|job| job["source"]["key"] == key).unwrap().clone();
            let (agents, only) = (job("uploads/agents.csv"), job("uploads/connect-only.csv"));
            if !agents["paused"].is_null() && only["state"] == "SUCCEEDED" {
                let right = json!({"client_secret": ccbulk_sandbox::salesforce::SANDBOX_CLIENT_SECRET}).to_string();
                stack
                    .secrets
                    .put_secret_value()
                    .secret_id(&stack.secret_arn)
                    .secret_string(right)
                    .send()
                    .await
                    .unwrap();
                return (agents, only);
            }
            assert!(std::time::Instant::now() < deadline, "not paused beside a finished Connect-only job: {jobs:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (drained, (paused, only)) = tokio::join!(stack.drain(Delivery::Once), watch);
    assert_eq!(paused["state"], "RUNNING", "{paused}");
    let reason = paused["paused"]["reason"].as_str().unwrap();
    assert!(reason.contains("cannot sign in to Salesforce") && reason.contains("invalid_client"), "{reason}");
    assert_eq!(paused["counts"]["failed"], 0, "no row failed for want of Salesforce: {paused}");
    assert_eq!(only["counts"]["succeeded"], 2, "{only}");
    assert_eq!(drained.failures, 0, "a pause uses up no receive: {drained:?}");
    assert!(stack.dead_letters().await.is_empty(), "nothing went to the dead-letter queue");

    let jobs = all_jobs(&stack).await;
    let agents = jobs.iter().find(|job| job["source"]["key"] == "uploads/agents.csv").unwrap();
    assert_eq!((agents["state"].as_str(), &agents["paused"]), (Some("SUCCEEDED"), &Value::Null), "{agents}");
    let rows = all_rows(&stack, &OpenApi::load(), agents["id"].as_str().unwrap(), None, 100).await;
    assert!(rows.iter().all(|row| row["attempts"] == 1), "the paused deliveries charged no attempt: {rows:?}");
    assert!(logs.text().contains("Salesforce is out of reach"), "the cause was logged");
    assert!(!logs.text().contains("not-the-secret"), "the secret's value was not");
}

/// The login service down in the middle of a job (sessions expiring every second, every sign-in answered 500) pauses
/// the job, its rows untouched and uncharged, instead of failing them or spending the chunks' receives; when sign-ins
/// come back, the job goes on by itself.
#[tokio::test]
async fn a_login_outage_mid_job_pauses_it_until_sign_ins_come_back() {
    let knobs = SalesforceKnobs { token_ttl_secs: 1, ..SalesforceKnobs::default() };
    let stack = Stack::start(StackOptions { salesforce_knobs: Some(knobs.clone()), ..StackOptions::default() }).await;
    stack.notify(stack.upload("uploads/agents.csv", example("ccbulk-agents.csv")).await).await;
    let outage = SalesforceFaults { server_error: 1.0, ..SalesforceFaults::default() };
    let watch = async {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let mut down = false;
        loop {
            let (_, _, _, body) = stack.api("GET", "/jobs").await;
            let job = json(&body)["jobs"][0].clone();
            if !down && job["counts"]["succeeded"].as_u64() > Some(0) {
                let faults = [("token".to_owned(), outage)].into();
                stack.salesforce.set_knobs(SalesforceKnobs { faults, ..knobs.clone() });
                down = true;
            }
            if down && !job["paused"].is_null() {
                stack.salesforce.set_knobs(knobs.clone());
                return job;
            }
            assert!(std::time::Instant::now() < deadline, "the job did not pause: {job}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let (drained, paused) = tokio::join!(stack.drain(Delivery::Once), watch);
    let reason = paused["paused"]["reason"].as_str().unwrap();
    assert!(reason.contains("cannot sign in") && reason.contains("server_error"), "{reason}");
    assert_eq!(drained.failures, 0, "a pause uses up no receive: {drained:?}");
    assert!(stack.dead_letters().await.is_empty());
    let job = the_job(&stack).await;
    assert_eq!((job["state"].as_str(), &job["paused"]), (Some("SUCCEEDED"), &Value::Null), "{job}");
    assert_eq!(job["counts"]["failed"], 0, "{job}");
}

#[tokio::test]
async fn a_broken_file_keeps_its_passwords_out_of_the_table_the_queue_the_reports_and_the_logs() {
    use ccbulk_e2e::cases::BROKEN_FILES;
    let logs = LogCapture::default();
    let _capture = logs.start();
    let stack = Stack::start(StackOptions::default()).await;
    let api = OpenApi::load();
    for broken in &BROKEN_FILES {
        let event = stack.upload(&format!("uploads/{}", broken.name), broken.csv.as_bytes().to_vec()).await;
        stack.notify(event).await;
    }
    let drained = stack.drain(Delivery::Once).await;
    assert_eq!(drained.failures, 0, "{drained:?}");

    let (code, content_type, _, jobs) = stack.api("GET", "/jobs?limit=10").await;
    api.check("/jobs", code, &content_type, &jobs);
    let jobs = json(&jobs)["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), BROKEN_FILES.len());
    let mut everything = String::new();
    for broken in &BROKEN_FILES {
        let key = format!("uploads/{}", broken.name);
        let job = jobs.iter().find(|j| j["source"]["key"] == key.as_str()).unwrap();
        let id = job["id"].as_str().unwrap();
        let (_, _, _, one) = stack.api("GET", &format!("/jobs/{id}")).await;
        if !broken.usable {
            assert_eq!(job["state"], "FAILED", "{job}");
            assert!(job["error"].as_str().unwrap().contains("not a header"), "the reason is described: {job}");
            broken.assert_no_password_in("the job through the API", &one);
            continue;
        }
        assert_eq!(job["state"], "COMPLETED_WITH_ERRORS", "{job}");
        assert_eq!((job["counts"]["succeeded"].as_u64(), job["counts"]["invalid"].as_u64()), (Some(1), Some(1)));
        let rows = all_rows(&stack, &api, id, None, 10).await;
        let invalid = rows.iter().find(|r| r["status"] == "INVALID").unwrap();
        assert!(invalid.get("username").is_none_or(Value::is_null), "no username from a row in doubt: {invalid}");
        let (code, _, _, report) = stack.api("GET", &format!("/jobs/{id}/report")).await;
        assert_eq!(code, 200);
        broken.assert_no_password_in(
            "the job, its rows and its report through the API",
            &format!("{one}{rows:?}{report}"),
        );
        everything.push_str(&report);
        // The copy without passwords the bucket keeps for 90 days, read as it lies there.
        let copy = job["scrubbed"]["key"].as_str().unwrap_or_else(|| panic!("{}: not scrubbed: {job}", broken.name));
        let object = stack.s3.get_object().bucket(&stack.bucket).key(copy).send().await.unwrap();
        let text = String::from_utf8(object.body.collect().await.unwrap().to_vec()).unwrap();
        broken.assert_no_password_in("the scrubbed copy", &text);
    }
    everything.push_str(&stack.table_text().await);
    everything.push_str(&stack.bodies.lock().unwrap().join("\n"));
    everything.push_str(&logs.text());
    for broken in &BROKEN_FILES {
        broken.assert_no_password_in("the table, the queue's messages, the reports or the logs", &everything);
    }
}

#[tokio::test]
async fn two_deliveries_of_a_chunk_at_once_make_each_user_once_and_count_each_attempt_once() {
    let latency = ccbulk_sandbox::connect::Latency { fixed_ms: 40, jitter_ms: 40 };
    let knobs = Knobs { latency, ..Knobs::default() };
    let stack = Stack::start(StackOptions { connect_knobs: Some(knobs), ..StackOptions::default() }).await;
    let api = OpenApi::load();
    let ids_before: Vec<String> = stack.salesforce.snapshot().users.into_iter().map(|u| u.id).collect();
    let connect_before = stack.connect.snapshot().instance(&stack.instance_id).unwrap().users.len();
    stack.notify(stack.upload("uploads/agents.csv", example("ccbulk-agents.csv")).await).await;
    let chunks = stack.queue_depth(&stack.queue_url).await;
    let drained = stack.drain(Delivery::TwiceAtOnce).await;
    assert!(drained.invocations as u64 >= 2 * chunks, "{drained:?}");

    let job = the_job(&stack).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    let rows = all_rows(&stack, &api, job["id"].as_str().unwrap(), None, 100).await;
    let retried: Vec<&Value> = rows.iter().filter(|r| r["attempts"] != 1).collect();
    assert!(retried.is_empty(), "each row was attempted once, by one of the two deliveries: {retried:?}");

    let connect = stack.connect.snapshot();
    let instance = connect.instance(&stack.instance_id).unwrap();
    let adds: Vec<&Value> = rows.iter().filter(|r| r["action"] == "add").collect();
    let removes = rows.iter().filter(|r| r["action"] == "remove").count();
    assert_eq!(instance.users.len(), connect_before + adds.len() - removes, "no Connect user created twice");
    let create_calls = connect.counters.calls.get("CreateUser").copied().unwrap_or(0);
    let throttled = connect.counters.throttled.get("CreateUser").copied().unwrap_or(0);
    assert_eq!(create_calls - throttled, adds.len() as u64, "one CreateUser per add went through");
    let org = stack.salesforce.snapshot();
    let created = adds.iter().filter(|r| !ids_before.iter().any(|id| r["salesforce_user_id"] == **id)).count();
    assert_eq!(org.users.len(), ids_before.len() + created, "no Salesforce user created twice");
}

/// Bulkop mode through the Lambdas: the chunk's rows go to Salesforce as one ContactCenterBulkOp job; Salesforce
/// works it slower than an invocation lives, so each invocation follows the same job until its time runs out and
/// the chunk goes on in a new message (no receive used up, no attempt charged); the job is submitted once, and
/// every Connect user is the one Salesforce made, adopted.
#[tokio::test]
async fn bulkop_mode_follows_a_slow_bulk_job_across_invocations_and_submits_it_once() {
    let slow = SalesforceKnobs {
        bulk: BulkKnobs { records_per_second: 8.0, ..BulkKnobs::default() },
        ..SalesforceKnobs::default()
    };
    let stack = Stack::start(StackOptions {
        chunk_rows: 30,
        identity_management: "SAML",
        parameters: vec![("SalesforceSync", "bulkop".to_owned())],
        salesforce_knobs: Some(slow),
        ..StackOptions::default()
    })
    .await;
    let api = OpenApi::load();
    stack.notify(stack.upload("uploads/bulkop.csv", example("bulkop-amazon-connect.csv")).await).await;
    // An invocation lives 1.5 s past the time it keeps back for a row; Salesforce needs over 3 s for the 26 rows.
    let drained = stack.drain(Delivery::ShortDeadline(Duration::from_millis(1500))).await;
    assert_eq!(drained.failures, 0, "{drained:?}");
    assert!(drained.invocations > 1, "Salesforce outlived the first invocation: {drained:?}");
    assert!(stack.dead_letters().await.is_empty());

    let job = the_job(&stack).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    let rows = all_rows(&stack, &api, job["id"].as_str().unwrap(), None, 100).await;
    assert_eq!(rows.len(), 26);
    assert!(rows.iter().all(|row| row["attempts"] == 1), "waiting charged no attempt: {rows:?}");
    assert!(rows.iter().all(|row| row["voice_provisioning_job_id"].as_str().is_some_and(|j| j.starts_with("750"))));
    assert_eq!(stack.salesforce.snapshot().bulk_jobs.len(), 1, "one job, followed by every invocation");
    let connect = stack.connect.snapshot();
    assert_eq!(connect.created_by_salesforce.len(), 26);
    assert_eq!(connect.counters.calls.get("CreateUser"), None, "ccbulk created no Connect user");
    assert!(rows.iter().all(|row| row["connect_user_id"].is_string()), "each adopted: {rows:?}");
}

/// Partner Telephony through the Lambdas in the default mode, which sends a bulkop file down Salesforce's own path:
/// rows Salesforce refuses (a member of another contact center) and rows the org cannot take (a user it lacks) fail
/// alone with their reasons; then a job Salesforce fails as a whole fails each row it carried, with Salesforce's
/// reason.
#[tokio::test]
async fn partner_telephony_bulkop_rows_end_as_salesforce_worked_them_and_a_failed_job_fails_its_rows() {
    let stack = Stack::start(StackOptions {
        telephony_model: "partner-telephony",
        seed: |_, org| {
            let keiko = org.users.iter_mut().find(|u| u.username == "keiko.sato@tailspin.io").unwrap();
            keiko.call_center = Some("Northwind Support".into());
            keiko.permission_sets = vec!["ContactCenterAgent".into()];
        },
        ..StackOptions::default()
    })
    .await;
    let api = OpenApi::load();
    let header = "Argument1,Argument2,Argument5,BulkAction";
    let csv = format!(
        "{header}\n\
         ines.ferreira@tailspin.io,005Hn0000d53x83IAA,04vHn000000Z4aCIAS,AddUsers\n\
         jamal.brooks@tailspin.io,005Hn0000rzjZZZIA2,04vHn000000Z4aCIAS,AddUsers\n\
         keiko.sato@tailspin.io,005Hn0000ZGeoZDIQZ,04vHn000000Z4aCIAS,AddUsers\n\
         nobody@tailspin.io,005Hn0000zzzzzzIAA,04vHn000000Z4aCIAS,AddUsers\n"
    );
    stack.notify(stack.upload("uploads/partner.csv", csv.into_bytes()).await).await;
    let drained = stack.drain(Delivery::Once).await;
    assert_eq!(drained.failures, 0, "{drained:?}");
    let job = the_job(&stack).await;
    assert_eq!(job["state"], "COMPLETED_WITH_ERRORS", "{job}");
    let first = job["id"].as_str().unwrap().to_owned();
    let rows = all_rows(&stack, &api, &first, None, 100).await;
    let row = |n: u64| rows.iter().find(|r| r["row"] == n).unwrap_or_else(|| panic!("row {n}: {rows:?}"));
    for n in [2, 3] {
        assert_eq!(row(n)["status"], "SUCCEEDED", "{rows:?}");
        assert!(row(n)["note"].as_str().unwrap().contains(" Completed"), "{rows:?}");
    }
    assert_eq!(row(4)["status"], "FAILED");
    assert!(row(4)["error_message"].as_str().unwrap().contains("another contact center"), "{rows:?}");
    assert!(row(4)["error_message"].as_str().unwrap().contains("ContactCenterBulkOp 0Xb"), "{rows:?}");
    assert!(row(5)["error_message"].as_str().unwrap().contains("no such user"), "{rows:?}");
    let org = stack.salesforce.snapshot();
    assert_eq!(org.bulk_jobs.len(), 1, "the unknown user never went to Salesforce: {:?}", org.bulk_jobs);
    assert_eq!(org.bulk_jobs[0].records, 3);
    let ines = org.user("ines.ferreira@tailspin.io").unwrap();
    assert_eq!(ines.permission_sets, vec!["ContactCenterAgentPartnerTelephony"], "assigned with the membership");
    assert_eq!(org.user("keiko.sato@tailspin.io").unwrap().call_center.as_deref(), Some("Northwind Support"));

    // Salesforce fails the next job as a whole.
    let failing =
        BulkKnobs { job_failure: Some("InvalidBatch : the org refused the batch".into()), ..BulkKnobs::default() };
    stack.salesforce.set_knobs(SalesforceKnobs { bulk: failing, ..SalesforceKnobs::default() });
    let again = format!("{header}\nines.ferreira@tailspin.io,005Hn0000d53x83IAA,04vHn000000Z4aCIAS,AddUsers\n");
    stack.notify(stack.upload("uploads/again.csv", again.into_bytes()).await).await;
    let drained = stack.drain(Delivery::Once).await;
    assert_eq!(drained.failures, 0, "{drained:?}");
    let (_, _, _, body) = stack.api("GET", "/jobs").await;
    let jobs = json(&body)["jobs"].as_array().unwrap().clone();
    let second = jobs.iter().find(|j| j["id"] != first.as_str()).unwrap_or_else(|| panic!("{body}"));
    assert_eq!(second["state"], "COMPLETED_WITH_ERRORS", "{second}");
    let rows = all_rows(&stack, &api, second["id"].as_str().unwrap(), None, 10).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "FAILED");
    assert!(rows[0]["error_message"].as_str().unwrap().contains("the org refused the batch"), "{rows:?}");
    assert_eq!(stack.salesforce.snapshot().bulk_jobs.len(), 2);
}

/// Partner Telephony from Amazon Connect through the Lambdas in bulkop mode: a profile in the wrong case is refused
/// before anything is sent (Salesforce would refuse it: Argument3 is case-sensitive), and every other row's Connect
/// user is the one Salesforce made, adopted.
#[tokio::test]
async fn partner_telephony_from_amazon_connect_in_bulkop_mode_adopts_salesforces_users_and_refuses_a_miscased_profile()
{
    let stack = Stack::start(StackOptions {
        chunk_rows: 30,
        identity_management: "SAML",
        telephony_model: "partner-telephony-from-amazon-connect",
        // Each adopted user takes a write or two to bring to its row: a quota that lets the chunk finish within the
        // driver's visibility timeout, so that no second delivery finds its rows held.
        parameters: vec![("SalesforceSync", "bulkop".to_owned()), ("ConnectWriteRate", "40".to_owned())],
        ..StackOptions::default()
    })
    .await;
    let api = OpenApi::load();
    let text = String::from_utf8(example("bulkop-amazon-connect.csv")).unwrap();
    let miscased = text.replacen(",CallCenterManager,", ",callcentermanager,", 1);
    assert_ne!(miscased, text);
    stack.notify(stack.upload("uploads/bulkop.csv", miscased.into_bytes()).await).await;
    let drained = stack.drain(Delivery::Once).await;
    assert_eq!(drained.failures, 0, "{drained:?}");
    let job = the_job(&stack).await;
    assert_eq!(job["state"], "COMPLETED_WITH_ERRORS", "{job}");
    let rows = all_rows(&stack, &api, job["id"].as_str().unwrap(), None, 100).await;
    let invalid: Vec<&Value> = rows.iter().filter(|r| r["status"] == "INVALID").collect();
    assert_eq!(invalid.len(), 1, "{rows:?}");
    assert!(invalid[0]["error_message"].as_str().unwrap().contains("write CallCenterManager"), "{invalid:?}");
    let succeeded: Vec<&Value> = rows.iter().filter(|r| r["status"] == "SUCCEEDED").collect();
    assert_eq!(succeeded.len(), 25, "{rows:?}");
    assert!(succeeded.iter().all(|r| r["connect_user_id"].is_string()), "{succeeded:?}");
    let connect = stack.connect.snapshot();
    assert_eq!(connect.created_by_salesforce.len(), 25);
    assert_eq!(connect.counters.calls.get("CreateUser"), None, "ccbulk created no Connect user");
    let org = stack.salesforce.snapshot();
    let records: Vec<usize> = org.bulk_jobs.iter().map(|j| j.records).collect();
    // The invalid row splits the file in two chunks, each one Bulk API job.
    assert_eq!(records.iter().sum::<usize>(), 25, "{records:?}");
    let amara = org.user("amara.okafor@northwind-support.com").unwrap();
    assert!(amara.permission_sets.iter().all(|s| s.ends_with("PartnerTelephony")), "{amara:?}");
}

/// Direct mode through the Lambdas in an org on Service Cloud Voice with Amazon Connect (SalesforceVoiceSync): the
/// users join their contact center, Salesforce makes their Connect users a moment later, and ccbulk adopts each
/// once and creates none, redelivered or not.
#[tokio::test]
async fn direct_mode_in_a_self_syncing_org_adopts_each_connect_user_once_and_creates_none() {
    let stack = Stack::start(StackOptions {
        identity_management: "SAML",
        parameters: vec![("SalesforceVoiceSync", "true".to_owned()), ("ConnectWriteRate", "40".to_owned())],
        salesforce_knobs: Some(SalesforceKnobs { voice_sync_delay_ms: 300, ..SalesforceKnobs::default() }),
        seed: |_, org| org.service_cloud_voice_sync = true,
        ..StackOptions::default()
    })
    .await;
    let api = OpenApi::load();
    let header = "action,username,first_name,last_name,email,routing_profile,security_profiles,sf_username,\
                  contact_center,role";
    let row = |first: &str, last: &str, profile: &str| {
        let email = format!("{}.{}@northwind-support.com", first.to_lowercase(), last.to_lowercase());
        format!("add,{email},{first},{last},{email},{profile},Agent,{email},Northwind Support,Agent")
    };
    let csv = format!(
        "{header}\n{}\n{}\n{}\n",
        row("Amara", "Okafor", "Sales Inbound"),
        row("Ben", "Schmidt", "Basic Routing Profile"),
        row("Carlos", "Mendoza", "Support Tier 1")
    );
    let logs = LogCapture::default();
    let _capture = logs.start();
    stack.notify(stack.upload("uploads/agents.csv", csv.into_bytes()).await).await;
    let drained = stack.drain(Delivery::Twice).await;
    let text = logs.text();
    let again: Vec<&str> = text.lines().filter(|l| l.contains("delivered again")).collect();
    assert_eq!(drained.failures, 0, "{drained:?} {again:#?}");
    let job = the_job(&stack).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    let rows = all_rows(&stack, &api, job["id"].as_str().unwrap(), None, 10).await;
    assert!(rows.iter().all(|r| r["note"].as_str().is_some_and(|n| n.contains("ccbulk adopted it"))), "{rows:?}");

    let connect = stack.connect.snapshot();
    assert_eq!(connect.counters.calls.get("CreateUser"), None, "ccbulk created no Connect user");
    assert_eq!(connect.created_by_salesforce.len(), 3, "{:?}", connect.created_by_salesforce);
    let instance = connect.instance(&stack.instance_id).unwrap();
    let made: Vec<_> = instance.users.iter().filter(|u| connect.created_by_salesforce.contains(&u.username)).collect();
    assert_eq!(made.len(), 3, "one Connect user each, adopted, not doubled: {made:?}");
    for user in &made {
        let adopted_by: Vec<_> = rows.iter().filter(|r| r["connect_user_id"] == user.id.as_str()).collect();
        assert_eq!(adopted_by.len(), 1, "{} adopted once: {rows:?}", user.username);
    }
    let amara = made.iter().find(|u| u.username.starts_with("aokafor@")).unwrap();
    assert_eq!(amara.routing_profile, "Sales Inbound", "the row's routing profile, applied to Salesforce's user");
}

/// Containers that start on a job together read the org's reference records (profiles, contact centers, permission
/// sets) once between them: one claims the reading and shares what it read through the job table, the others wait
/// for it. Each container read them on its own before.
#[tokio::test]
async fn containers_starting_together_read_the_orgs_reference_records_and_the_quick_connects_once_per_job() {
    let stack = Stack::start(StackOptions { workers: 4, ..StackOptions::default() }).await;
    // Every row keeps a quick connect: the instance's quick-connect index is needed by every chunk.
    let csv = ccbulk_testkit::agents_file(20)
        .replacen(",role\n", ",role,quick_connect\n", 1)
        .replace(",Agent\n", ",Agent,yes\n");
    stack.notify(stack.upload("uploads/reference.csv", csv.into_bytes()).await).await;
    let drained = stack.drain(Delivery::Once).await;
    assert_eq!(drained.failures, 0, "{drained:?}");
    let job = the_job(&stack).await;
    assert_eq!(job["counts"]["succeeded"], 20, "{job}");
    let queries = stack.salesforce.snapshot().counters.queries;
    for object in ["Profile", "CallCenter", "PermissionSet"] {
        assert_eq!(
            queries.get(object).copied(),
            Some(1),
            "{object} read once for 4 chunks on 4 containers: {queries:?}"
        );
    }
    assert_eq!(queries.get("User").copied(), Some(4), "the users, once per chunk: {queries:?}");
    let connect = stack.connect.snapshot();
    let calls = &connect.counters.calls;
    assert_eq!(calls.get("ListQuickConnects").copied(), Some(1), "the quick-connect index read once: {calls:?}");
    assert_eq!(calls.get("CreateQuickConnect").copied(), Some(20), "{calls:?}");
    let instance = connect.instance(&stack.instance_id).unwrap();
    assert_eq!(instance.quick_connects.iter().filter(|qc| qc.kind == "USER" && !qc.dangling).count(), 20);
}

/// A job's ending goes on EventBridge's default bus once (a rule of the admin's routes it), an unusable file's as
/// `Job Failed`; every chunk and file leaves a metric document (CloudWatch's embedded metric format) whose figures
/// add up to the job's counts. Neither names a user or holds a password.
#[tokio::test]
async fn jobs_are_announced_on_the_default_bus_and_chunks_leave_metric_documents() {
    let logs = LogCapture::default();
    let _capture = logs.start();
    let stack = Stack::start(StackOptions { chunk_rows: 4, ..StackOptions::default() }).await;
    let watching = stack.watch_events().await;
    let csv = example("ccbulk-agents.csv");
    let text = String::from_utf8(csv.clone()).unwrap();
    stack.notify(stack.upload("uploads/agents.csv", csv).await).await;
    stack.drain(Delivery::Once).await;
    stack.notify(stack.upload("uploads/minutes.csv", b"Meeting minutes\nnothing here\n".to_vec()).await).await;
    let (_, _, _, body) = stack.api("GET", "/jobs").await;
    let jobs = json(&body)["jobs"].as_array().unwrap().clone();
    let agents = jobs.iter().find(|j| j["source"]["key"] == "uploads/agents.csv").unwrap().clone();
    let id = agents["id"].as_str().unwrap();

    let mut events = stack.events_seen(&watching, 2).await;
    events.sort_by_key(|e| e["detail-type"].as_str().unwrap().to_owned());
    let (failed, finished) = (&events[0], &events[1]);
    assert_eq!((finished["source"].as_str(), finished["detail-type"].as_str()), (Some("ccbulk"), Some("Job Finished")));
    let detail = &finished["detail"];
    assert_eq!(detail["job_id"].as_str(), Some(id));
    assert_eq!(detail["state"], agents["state"]);
    assert_eq!(detail["counts"], agents["counts"]);
    assert_eq!(detail["report"].as_str(), Some(format!("/jobs/{id}/report").as_str()));
    assert_eq!(detail["file"].as_str(), Some("uploads/agents.csv"));
    assert!(detail["duration_seconds"].is_u64(), "{detail}");
    assert_eq!(failed["detail-type"].as_str(), Some("Job Failed"));
    assert!(failed["detail"]["error"].as_str().unwrap().contains("the header matches none"), "{failed}");
    assert_eq!(failed["detail"]["report"], serde_json::Value::Null);
    // Once per ending: the bus delivers as it is put to, and nothing more came.
    let received = stack.sqs.receive_message().queue_url(&watching).send().await.unwrap();
    assert!(received.messages().is_empty(), "announced twice: {:?}", received.messages());

    let documents: Vec<Value> = stack.metrics.lock().unwrap().iter().map(|line| json(line)).collect();
    let of = |function: &str, name: &str| -> f64 {
        documents
            .iter()
            .filter(|d| d["Function"] == function && d["job"].as_str() == Some(id))
            .map(|d| d[name].as_f64().unwrap_or(0.0))
            .sum()
    };
    let counts = &agents["counts"];
    assert_eq!(of("provision", "RowsSucceeded"), counts["succeeded"].as_f64().unwrap());
    assert_eq!(of("provision", "RowsFailed"), counts["failed"].as_f64().unwrap());
    assert_eq!(of("ingest", "RowsInvalid"), counts["invalid"].as_f64().unwrap());
    assert!(of("provision", "ConnectCalls") >= counts["succeeded"].as_f64().unwrap(), "at least a call a row");
    for document in &documents {
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ccbulk");
        for metric in directive["Metrics"].as_array().unwrap() {
            assert!(document[metric["Name"].as_str().unwrap()].is_number(), "{document}");
        }
    }
    // No passwords left behind: the upload's version is gone, and the copy that replaced it, which the report reads,
    // has none.
    let versions = stack.s3.list_object_versions().bucket(&stack.bucket).prefix("uploads/").send().await.unwrap();
    assert!(versions.versions().is_empty(), "an upload's version remains: {:?}", versions.versions());
    let (_, _, _, job) = stack.api("GET", &format!("/jobs/{id}")).await;
    let copy = json(&job)["scrubbed"].clone();
    assert!(copy["key"].as_str().unwrap().starts_with("scrubbed/"), "{job}");
    let kept = stack.s3.get_object().bucket(&stack.bucket).key(copy["key"].as_str().unwrap()).send().await.unwrap();
    let kept = String::from_utf8(kept.body.collect().await.unwrap().to_vec()).unwrap();
    assert_eq!(kept.lines().count(), text.lines().count(), "every row kept");
    assert!(!kept.contains("Welcome"), "a password in the copy");
    let (code, _, _, report) = stack.api("GET", &format!("/jobs/{id}/report")).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report.lines().count(), text.lines().count(), "the report reads the copy");
    let said = format!("{events:?}{documents:?}");
    // Each row left one line at INFO with its job, number and action, and no line at INFO names a user.
    let info: Vec<String> = logs.text().lines().filter(|l| l.contains(" INFO ")).map(str::to_owned).collect();
    let row_lines: Vec<&String> =
        info.iter().filter(|l| l.contains(&format!("job={id}")) && l.contains(" row=")).collect();
    let worked = counts["succeeded"].as_u64().unwrap() + counts["failed"].as_u64().unwrap();
    assert!(row_lines.len() as u64 >= worked, "{} row lines for {worked} rows", row_lines.len());
    assert!(row_lines.iter().all(|l| l.contains("action=") && l.contains("outcome=")), "{row_lines:?}");
    let info = info.join("\n");
    for row in text.lines().skip(1) {
        let username = row.split(',').nth(1).unwrap();
        assert!(!said.contains(username), "{username} in an event or a metric");
        assert!(!info.contains(username), "{username} at INFO");
    }
    assert!(!said.contains("Welcome") && !logs.text().contains("Welcome"), "a password in an event, a metric or a log");
}

#[tokio::test]
async fn a_file_under_plans_is_planned_by_the_lambdas_and_nothing_is_written() {
    let stack = Stack::start(StackOptions::default()).await;
    let api = OpenApi::load();
    let csv = example("ccbulk-agents.csv");
    let event = stack.upload("plans/northwind.csv", csv.clone()).await;
    stack.notify(event).await;
    let drained = stack.drain(Delivery::Once).await;
    assert_eq!(drained.failures, 0, "{drained:?}");
    assert_eq!(stack.connect.writes(), 0, "no Connect write: {:?}", stack.connect.counters().calls);
    assert_eq!(stack.salesforce.writes(), 0, "no Salesforce write");

    let job = the_job(&stack).await;
    let job_id = job["id"].as_str().unwrap().to_owned();
    let (code, content_type, _, body) = stack.api("GET", &format!("/jobs/{job_id}")).await;
    api.check("/jobs/{id}", code, &content_type, &body);
    let summary = json(&body);
    assert_eq!((summary["kind"].as_str(), summary["state"].as_str()), (Some("plan"), Some("SUCCEEDED")), "{body}");
    let rows = all_rows(&stack, &api, &job_id, None, 50).await;
    assert_eq!(rows.len(), 28);
    let note = |row: u64| rows.iter().find(|r| r["row"] == row).unwrap()["note"].as_str().unwrap().to_owned();
    assert_eq!(
        note(2),
        "plan: create; Amazon Connect: create; Salesforce: update (contact center, permission set)",
        "a new agent whose Salesforce user exists"
    );
    let verdicts = |verdict: &str| rows.iter().filter(|r| r["note"].as_str().unwrap().starts_with(verdict)).count();
    assert_eq!(
        (verdicts("plan: create;"), verdicts("plan: update;"), verdicts("plan: remove;")),
        (25, 2, 1),
        "as `ccbulk plan` says of the same file on the same seeds"
    );

    let (code, _, _, report) = stack.api("GET", &format!("/jobs/{job_id}/report")).await;
    assert_eq!(code, 200, "{report}");
    assert!(report.lines().skip(1).all(|l| l.contains("plan: ")), "{report}");
    for password in passwords(&csv) {
        assert!(!report.contains(&password), "a password in the plan's report");
    }
    let (code, _, _, body) = stack.api("POST", &format!("/jobs/{job_id}/retry")).await;
    assert_eq!(code, 409, "a plan is not retried: {body}");
    assert!(body.contains("is a plan and wrote nothing"), "{body}");
}

#[tokio::test]
async fn a_job_is_undone_through_the_api_as_a_job_of_its_own() {
    let stack = Stack::start(StackOptions::default()).await;
    let api = OpenApi::load();
    let users = |stack: &Stack| {
        let snapshot = stack.connect.snapshot();
        let mut users = snapshot.instance(&stack.instance_id).unwrap().users.clone();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        json!(users)
    };
    let (connect_before, salesforce_before) = (users(&stack), json!(stack.salesforce.snapshot().users));
    let csv = "action,username,password,first_name,last_name,routing_profile,security_profiles,hierarchy_group,sf_username,contact_center,role\n\
               add,undo.lambda,Welcome123!Ab,Ula,Lambda,Basic Routing Profile,Agent,,,,\n\
               update,uqureshi,,Umar,,Support Tier 2,Agent,Support/Tier 1,,,\n\
               update,bcosta,,,,,,,amara.okafor@northwind-support.com,Northwind Support,Agent\n";
    stack.notify(stack.upload("uploads/to-undo.csv", csv.as_bytes().to_vec()).await).await;
    assert_eq!(stack.drain(Delivery::Once).await.failures, 0);
    let job = the_job(&stack).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    let job_id = job["id"].as_str().unwrap().to_owned();
    assert_ne!(users(&stack), connect_before, "the job changed the instance");

    let (code, content_type, _, body) = stack.api("POST", &format!("/jobs/{job_id}/undo")).await;
    api.check_method("post", "/jobs/{id}/undo", code, &content_type, &body);
    assert_eq!(code, 202, "{body}");
    let started = json(&body);
    assert_eq!(started["rows"], 3, "{body}");
    let undo_id = started["undo"].as_str().unwrap().to_owned();
    let drained = stack.drain(Delivery::Twice).await;
    assert_eq!(drained.failures, 0, "{drained:?}");

    let (code, _, _, body) = stack.api("GET", &format!("/jobs/{undo_id}")).await;
    assert_eq!(code, 200, "{body}");
    let undo = json(&body);
    assert_eq!((undo["kind"].as_str(), undo["state"].as_str()), (Some("undo"), Some("SUCCEEDED")), "{body}");
    let (code, _, _, report) = stack.api("GET", &format!("/jobs/{undo_id}/report")).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report.lines().next(), Some("Row,Username,Action,Undo,Detail"));
    assert_eq!(report.lines().filter(|l| l.contains(",undone,")).count(), 3, "{report}");
    assert_eq!(users(&stack), connect_before, "the instance is as before the job");
    assert_eq!(json!(stack.salesforce.snapshot().users), salesforce_before, "the org is as before the job");

    let (code, _, _, body) = stack.api("POST", &format!("/jobs/{undo_id}/undo")).await;
    assert_eq!(code, 409, "an undo is not undone: {body}");
}

/// S3's suffix filter is case-sensitive, so the template takes every object under uploads/ and ingest judges the
/// name: `agents.CSV` is worked like any CSV, and a spreadsheet put there by mistake is a FAILED job that says why,
/// its upload deleted (it may hold passwords no one would otherwise remove).
#[tokio::test]
async fn an_upload_named_in_capitals_is_worked_and_one_not_named_csv_is_refused_and_deleted() {
    let stack = Stack::start(StackOptions::default()).await;
    stack.notify(stack.upload("uploads/agents.CSV", example("errors.csv")).await).await;
    stack.notify(stack.upload("uploads/agents.xlsx", b"PK\x03\x04 agent01,Welcome1!Aa".to_vec()).await).await;
    stack.drain(Delivery::Once).await;
    let (_, _, _, body) = stack.api("GET", "/jobs").await;
    let jobs = json(&body)["jobs"].as_array().unwrap().clone();
    let job_of = |key: &str| jobs.iter().find(|job| job["source"]["key"] == key).unwrap_or_else(|| panic!("{body}"));
    let capitals = job_of("uploads/agents.CSV");
    assert_eq!(capitals["state"], "COMPLETED_WITH_ERRORS", "errors.csv's valid rows were worked: {capitals}");
    let sheet = job_of("uploads/agents.xlsx");
    assert_eq!(sheet["state"], "FAILED", "{sheet}");
    assert!(sheet["error"].as_str().unwrap().contains("\"agents.xlsx\" is not a CSV file"), "{sheet}");
    assert!(!body.contains("Welcome1"), "nothing of the file is quoted: {body}");
    let left =
        stack.s3.list_object_versions().bucket(&stack.bucket).prefix("uploads/agents.xlsx").send().await.unwrap();
    assert!(left.versions().is_empty(), "the refused upload is deleted, every version: {left:?}");
}

/// Least privilege, measured: a tour of what each function does on a deployed stack (uploads and plans, files that
/// end in ingest, a chunk worked a few rows at a time, a duplicate delivery, reports inline and by link, retry and
/// undo through the API). Every call is made under the function's role as the expanded template grants it, so a call
/// it is not granted fails the tour (`used ⊆ granted`); and every grant of all three roles must be used by it, or
/// say on its own line of template.yaml why no test can use it (`granted ⊆ used ∪ documented`).
#[tokio::test]
async fn every_grant_of_every_function_is_used_and_nothing_else() {
    let stack =
        Stack::start(StackOptions { seed: seed_mixed, inline_report_bytes: 2_000, ..StackOptions::default() }).await;
    // A plan, and an upload, each reported while its job still reads the file.
    stack.notify(stack.upload("plans/tour.csv", example("ccbulk-agents.csv")).await).await;
    stack.notify(stack.upload("uploads/tour.csv", example("ccbulk-agents.csv")).await).await;
    for job in all_jobs(&stack).await {
        let (code, _, _, report) = stack.api("GET", &format!("/jobs/{}/report", job["id"].as_str().unwrap())).await;
        assert!(code == 200 || code == 303, "{report}");
    }
    // A chunk worked a few rows per invocation goes on in a message of its own; a duplicate delivery finds its rows
    // held and is made visible again after a backoff.
    let drained = stack.drain(Delivery::ShortDeadline(Duration::from_millis(1_500))).await;
    assert!(drained.invocations > 0, "{drained:?}");
    stack.notify(stack.upload("uploads/mixed.csv", MIXED.as_bytes().to_vec()).await).await;
    stack.drain(Delivery::TwiceAtOnce).await;
    // An existing user's tags and per-channel settings changed (TagResource, UpdateUserConfig), to be undone.
    // A row Salesforce refuses (Otto is in another contact center) fails, for a retry to read the file's copy.
    let changes = "action,username,tags,acw_timeout_per_channel,sf_username,contact_center,role\n\
                   update,uqureshi,team=gold,CHAT=30,,,\n\
                   update,existing.agent,,,otto@northwind-support.com,Northwind Support,Agent\n";
    stack.notify(stack.upload("uploads/changes.csv", changes.as_bytes().to_vec()).await).await;
    stack.drain(Delivery::Once).await;
    // Files that end in ingest: no valid row; not a CSV (under plans/, deleted).
    stack.notify(stack.upload("uploads/nothing-valid.csv", b"action,username\nadd,\n".to_vec()).await).await;
    stack.notify(stack.upload("plans/agents.xlsx", b"PK\x03\x04".to_vec()).await).await;

    let jobs = all_jobs(&stack).await;
    let job_of = |key: &str| jobs.iter().find(|job| job["source"]["key"] == key).unwrap()["id"].as_str().unwrap();
    for job in &jobs {
        let id = job["id"].as_str().unwrap();
        let (code, _, location, body) = stack.api("GET", &format!("/jobs/{id}/report")).await;
        if code == 303 {
            let report = reqwest::get(location.unwrap()).await.unwrap();
            assert_eq!(report.status(), 200, "the report's link is served under the status role's grant");
        } else {
            // A job whose file could not be read has no report, and says why.
            assert!(code == 200 || (code == 409 && job["state"] == "FAILED"), "{body}");
        }
        let (code, _, _, body) = stack.api("GET", &format!("/jobs/{id}/rows?status=FAILED")).await;
        assert_eq!(code, 200, "{body}");
    }
    let (code, _, _, body) = stack.api("POST", &format!("/jobs/{}/retry", job_of("uploads/changes.csv"))).await;
    assert_eq!((code, json(&body)["rows"].as_u64()), (202, Some(1)), "{body}");
    stack.drain(Delivery::Once).await;
    for undone in ["uploads/tour.csv", "uploads/changes.csv"] {
        let (code, _, _, body) = stack.api("POST", &format!("/jobs/{}/undo", job_of(undone))).await;
        assert_eq!(code, 202, "{body}");
    }
    stack.drain(Delivery::Once).await;

    let unused: Vec<String> = ["ingest", "provision", "status"]
        .into_iter()
        .flat_map(|function| {
            stack.unused_grants(function).into_iter().map(move |grant| format!("{function}: {grant:?}"))
        })
        .collect();
    assert!(unused.is_empty(), "granted, never used, and not marked `# untested:` in template.yaml: {unused:#?}");
}

async fn all_jobs(stack: &Stack) -> Vec<Value> {
    let (code, _, _, body) = stack.api("GET", "/jobs?limit=50").await;
    assert_eq!(code, 200, "{body}");
    json(&body)["jobs"].as_array().unwrap().clone()
}

/// A job whose rows are all done before ingest has finished (the workers are quick, the file small) ends inside
/// ingest's last step: ingest then announces it and scrubs its upload, as the worker that ends a job does. Ingest is
/// held just before that step while the workers finish every row.
#[tokio::test]
async fn a_job_that_ends_inside_ingest_is_announced_and_its_upload_scrubbed() {
    let stack = Stack::start(StackOptions { through_proxy: true, ..StackOptions::default() }).await;
    let events = stack.watch_events().await;
    let proxy = stack.proxy.as_ref().unwrap();
    // The job's last ingest write (finish_ingest: its state, chunk and row totals).
    let held = proxy.hold("UpdateItem", "chunks = :c, #r = :r");
    let csv = "action,username,password,first_name,last_name,routing_profile,security_profiles\n\
               add,quick.one,Welcome123!Ab,Quinn,One,Basic Routing Profile,Agent\n\
               add,quick.two,Welcome123!Ab,Quinn,Two,Basic Routing Profile,Agent\n";
    let event = stack.upload("uploads/quick.csv", csv.as_bytes().to_vec()).await;
    let ingest = stack.notify(event);
    let finish = async {
        held.wait_reached(Duration::from_secs(60)).await;
        let drained = stack.drain(Delivery::Once).await;
        assert_eq!((drained.invocations, drained.failures), (1, 0), "{drained:?}");
        let job = the_job(&stack).await;
        assert_eq!((job["state"].as_str(), job["counts"]["succeeded"].as_u64()), (Some("INGESTING"), Some(2)), "{job}");
        held.let_go();
    };
    tokio::join!(ingest, finish);

    let job = the_job(&stack).await;
    assert_eq!(job["state"], "SUCCEEDED", "{job}");
    assert!(!job["scrubbed"].is_null(), "the upload gave way to its copy without passwords: {job}");
    let left = stack.s3.list_object_versions().bucket(&stack.bucket).prefix("uploads/quick.csv").send().await.unwrap();
    assert!(left.versions().is_empty(), "the upload's version is deleted: {left:?}");
    let seen = stack.events_seen(&events, 1).await;
    assert_eq!(seen[0]["detail"]["job_id"], job["id"], "the job's ending was announced: {seen:?}");
}

/// A retry that arrives while the worker that ended the job is scrubbing its upload: the retry's chunks read the
/// upload, so the scrub must not delete it under them. The ending worker is held just before it records the copy;
/// the retry reopens the failed row and sends its chunk; then the scrub goes on. The row is worked again and the job
/// ends again, scrubbed then (before, the scrub deleted the upload, the chunk found it gone and counted its row
/// done, and the job stayed RUNNING with the row PENDING for ever).
#[tokio::test]
async fn a_retry_during_the_scrub_keeps_the_upload_its_chunks_read() {
    let stack = Stack::start(StackOptions { seed: seed_mixed, through_proxy: true, ..StackOptions::default() }).await;
    let proxy = stack.proxy.as_ref().unwrap();
    let held = proxy.hold("UpdateItem", "scrubbed_key = :k");
    // Salesforce refuses the row: Otto is in another contact center.
    let csv = "action,username,sf_username,contact_center,role\n\
               update,existing.agent,otto@northwind-support.com,Northwind Support,Agent\n";
    stack.notify(stack.upload("uploads/refused.csv", csv.as_bytes().to_vec()).await).await;
    let retry = async {
        held.wait_reached(Duration::from_secs(120)).await;
        let job = the_job(&stack).await;
        assert_eq!((job["state"].as_str(), job["scrubbed"].is_null()), (Some("COMPLETED_WITH_ERRORS"), true), "{job}");
        let (code, _, _, body) = stack.api("POST", &format!("/jobs/{}/retry", job["id"].as_str().unwrap())).await;
        assert_eq!((code, json(&body)["rows"].as_u64()), (202, Some(1)), "{body}");
        held.let_go();
    };
    let (drained, ()) = tokio::join!(stack.drain(Delivery::Once), retry);
    assert_eq!(drained.failures, 0, "{drained:?}");

    let job = the_job(&stack).await;
    assert_eq!(job["state"], "COMPLETED_WITH_ERRORS", "the retried row was worked again: {job}");
    let rows = all_rows(&stack, &OpenApi::load(), job["id"].as_str().unwrap(), None, 10).await;
    assert_eq!((rows[0]["status"].as_str(), rows[0]["attempts"].as_u64()), (Some("FAILED"), Some(1)), "{rows:?}");
    assert!(!job["scrubbed"].is_null(), "the job's second ending scrubbed the upload: {job}");
    let left =
        stack.s3.list_object_versions().bucket(&stack.bucket).prefix("uploads/refused.csv").send().await.unwrap();
    assert!(left.versions().is_empty(), "the upload's version is deleted: {left:?}");
}

/// Throws away every chunk message, as a lost send or a chunk left in the dead-letter queue does.
async fn lose_the_chunks(stack: &Stack) {
    // Received and deleted: SQS takes one PurgeQueue a minute.
    while stack.queue_depth(&stack.queue_url).await > 0 {
        let received = stack.sqs.receive_message().queue_url(&stack.queue_url).max_number_of_messages(10).send();
        for message in received.await.unwrap().messages() {
            let receipt = message.receipt_handle().unwrap();
            stack.sqs.delete_message().queue_url(&stack.queue_url).receipt_handle(receipt).send().await.unwrap();
        }
    }
}

/// The sweeper, on a stack whose chunk messages are lost again and again. A job with nothing queued is nudged (its
/// unfinished rows' chunks sent again, read from the upload, or from the copy without passwords once the job has
/// ended and a retry reopened rows) and ends. Jobs whose nudges go nowhere (an upload and a plan) have their rows
/// failed after three, with the reason on each row, and their endings announced and their files scrubbed by the
/// sweeper. Before, each of these jobs stayed RUNNING for ever, its rows PENDING. Every grant of the sweeper's role
/// is used, and none is missing.
#[tokio::test]
async fn the_sweeper_moves_on_jobs_with_nothing_queued_and_ends_those_it_cannot() {
    let stack = Stack::start(StackOptions { seed: seed_mixed, ..StackOptions::default() }).await;
    let api = OpenApi::load();
    let events = stack.watch_events().await;
    let later = Duration::from_secs(3 * 3600);
    // Salesforce refuses the row (Otto is in another contact center), and a retry can work it again from the copy
    // without passwords.
    let refused = "action,username,sf_username,contact_center,role\n\
                   update,existing.agent,otto@northwind-support.com,Northwind Support,Agent\n";
    stack.notify(stack.upload("uploads/refused.csv", refused.as_bytes().to_vec()).await).await;
    lose_the_chunks(&stack).await;
    let swept = stack.sweep(Duration::from_secs(60)).await;
    assert_eq!(swept.nudged, 0, "a job quiet for a minute is left alone: {swept}");
    let swept = stack.sweep(later).await;
    assert_eq!((swept.nudged, swept.chunks_sent), (1, 1), "{swept}");
    stack.drain(Delivery::Once).await;
    let job = the_job(&stack).await;
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["state"], "COMPLETED_WITH_ERRORS", "the nudged chunk was worked: {job}");
    assert!(!job["scrubbed"].is_null(), "{job}");

    // A retry whose chunks are lost: the nudge reads the copy without passwords.
    let (code, _, _, body) = stack.api("POST", &format!("/jobs/{id}/retry")).await;
    assert_eq!((code, json(&body)["rows"].as_u64()), (202, Some(1)), "{body}");
    lose_the_chunks(&stack).await;
    let swept = stack.sweep(later).await;
    assert_eq!(swept.nudged, 1, "{swept}");
    stack.drain(Delivery::Once).await;
    let job = the_job(&stack).await;
    assert_eq!(job["state"], "COMPLETED_WITH_ERRORS", "{job}");

    // An upload and a plan whose chunks never get through: three nudges each, then their rows fail.
    let csv = "action,username,password,first_name,last_name,routing_profile,security_profiles\n\
               add,never.one,Welcome123!Ab,Nell,One,Basic Routing Profile,Agent\n\
               add,never.two,Welcome123!Ab,Nell,Two,Basic Routing Profile,Agent\n";
    stack.notify(stack.upload("uploads/never.csv", csv.as_bytes().to_vec()).await).await;
    stack.notify(stack.upload("plans/never.csv", csv.as_bytes().to_vec()).await).await;
    for nudge in 1..=3 {
        lose_the_chunks(&stack).await;
        let swept = stack.sweep(later).await;
        assert_eq!((swept.nudged, swept.rows_failed), (2, 0), "nudge {nudge}: {swept}");
    }
    lose_the_chunks(&stack).await;
    let swept = stack.sweep(later).await;
    assert_eq!((swept.nudged, swept.rows_failed), (0, 4), "{swept}");
    let (_, _, _, body) = stack.api("GET", "/jobs?limit=10").await;
    let jobs = json(&body)["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 3, "{body}");
    for job in jobs.iter().filter(|j| j["id"] != id.as_str()) {
        assert_eq!(job["state"], "COMPLETED_WITH_ERRORS", "{job}");
        assert!(!job["scrubbed"].is_null(), "the sweeper scrubbed its file: {job}");
        let rows = all_rows(&stack, &api, job["id"].as_str().unwrap(), None, 10).await;
        for row in &rows {
            let reason = row["error_message"].as_str().unwrap_or_default();
            assert!(row["status"] == "FAILED" && reason.contains("dead-letter queue"), "{row}");
        }
    }
    // The first job ended twice with the same counts: one announcement (events.rs: one per ending's counts).
    let seen = stack.events_seen(&events, 3).await;
    let ended: HashSet<&str> = seen.iter().filter_map(|e| e["detail"]["job_id"].as_str()).collect();
    assert_eq!(ended.len(), 3, "each job's ending announced once: {seen:?}");
    let unused = stack.unused_grants("sweeper");
    assert!(unused.is_empty(), "granted to the sweeper, never used: {unused:#?}");
}
