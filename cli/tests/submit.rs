//! `ccbulk submit` and `ccbulk status --api` against the serverless stack played locally (moto, the sandboxes, the
//! three handlers, and an API gateway on loopback that checks SigV4 as IAM authorization does).

use std::process::Output;
use std::time::{Duration, Instant};

use ccbulk_e2e::{ApiGateway, Delivery, Stack, StackOptions, TEST_ACCESS_KEY, TEST_SECRET_KEY, repo_root, s3_event};

/// The binary with the default AWS chain confined to the test's keys, S3 at moto.
fn ccbulk(stack: &Stack, home: &std::path::Path, secret: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ccbulk"));
    command
        .current_dir(home)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
        .env("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", &stack.moto.endpoint);
    command
}

fn text(output: &Output) -> (i32, String, String) {
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Plays S3's notification for the first upload under `uploads/`, once it is there.
async fn notify_when_uploaded(stack: &Stack) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "nothing was uploaded");
        let listed = stack.s3.list_object_versions().bucket(&stack.bucket).prefix("uploads/").send().await.unwrap();
        if let Some(version) = listed.versions().first() {
            let event = s3_event(
                &stack.bucket,
                version.key().unwrap(),
                version.version_id(),
                version.e_tag().unwrap(),
                version.size().unwrap_or(0) as u64,
            );
            stack.notify(event).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn submit_uploads_and_follows_the_job_and_status_reads_it_through_the_signed_api() {
    let stack = Stack::start(StackOptions::default()).await;
    let gateway = ApiGateway::start(stack.status.clone()).await;
    let home = tempfile::tempdir().unwrap();
    let input = home.path().join("errors.csv");
    std::fs::copy(repo_root().join("examples/errors.csv"), &input).unwrap();

    let submit = ccbulk(&stack, home.path(), TEST_SECRET_KEY)
        .args(["submit", input.to_str().unwrap(), "--bucket", &stack.bucket, "--api", &gateway.url])
        .args(["--interval", "0.2", "--timeout", "120", "--quiet"])
        .output();
    let aws = async {
        notify_when_uploaded(&stack).await;
        stack.drain(Delivery::Once).await
    };
    let (output, _) = tokio::join!(submit, aws);
    let (code, out, err) = text(&output.unwrap());
    assert_eq!(code, 1, "some rows of errors.csv are invalid: {out}\n{err}");
    let job = out.split("job ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    assert!(out.contains(&format!("uploaded s3://{}/uploads/errors.csv", stack.bucket)), "{out}");
    assert!(
        out.contains("COMPLETED_WITH_ERRORS") && out.contains("21 invalid") && out.contains("[username.too_long]"),
        "{out}"
    );

    let listed = stack.s3.list_object_versions().bucket(&stack.bucket).send().await.unwrap();
    assert_eq!(listed.versions().len(), 1, "one upload");

    let report = home.path().join("report.csv");
    let status = ccbulk(&stack, home.path(), TEST_SECRET_KEY)
        .args(["status", "--api", &gateway.url, &job[..8], "--invalid", "--report", report.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    let (code, out, err) = text(&status);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(&job) && out.contains("invalid rows:") && out.contains("row "), "{out}");
    let report = std::fs::read_to_string(report).unwrap();
    let (_, _, _, inline) = stack.api("GET", &format!("/jobs/{job}/report")).await;
    assert_eq!(report, inline, "the report through the signed API is the status function's");

    let forged = ccbulk(&stack, home.path(), "not-the-secret").args(["status", "--api", &gateway.url]).output();
    let (code, _, err) = text(&forged.await.unwrap());
    assert_eq!(code, 2);
    assert!(err.contains("the API refused (403") && err.contains("signature"), "{err}");
}

/// A job whose adds failed on a Connect fault, retried through the signed API once the fault is gone: only the
/// failed rows' chunks go out again (from the copy of the file that replaced the upload when the job ended), the
/// row that succeeded is not started again, and the job ends SUCCEEDED. SAML: the rows need no password, which the
/// copy no longer has.
#[tokio::test]
async fn retry_works_a_stacks_failed_rows_again_through_the_signed_api() {
    use ccbulk_sandbox::connect::FaultRates;
    let options = StackOptions {
        chunk_rows: 1,
        max_attempts: 1,
        identity_management: "SAML",
        seed: |connect, _| {
            use ccbulk_sandbox::connect::IdentityManagementType;
            use ccbulk_sandbox::connect::seed::UserSeed as ConnectUserSeed;
            let saml = connect.instances.iter_mut().find(|i| i.identity_management == IdentityManagementType::Saml);
            saml.unwrap().users.push(ConnectUserSeed {
                username: "umar.qureshi@example.com".into(),
                first_name: None,
                last_name: Some("Qureshi".into()),
                email: None,
                routing_profile: "Basic Routing Profile".into(),
                security_profiles: vec!["Agent".into()],
            });
        },
        ..StackOptions::default()
    };
    let stack = Stack::start(options).await;
    let gateway = ApiGateway::start(stack.status.clone()).await;
    let mut knobs = stack.connect.knobs();
    let broken = FaultRates { condition_failed: 1.0, ..FaultRates::default() };
    knobs.faults.insert("CreateUser".into(), broken);
    stack.connect.set_knobs(knobs.clone());
    let file = "action,username,first_name,last_name,routing_profile,security_profiles\n\
                update,umar.qureshi@example.com,Umar,Qureshi,Basic Routing Profile,Agent\n\
                add,retry.one@example.com,Rita,One,Basic Routing Profile,Agent\n\
                add,retry.two@example.com,Rory,Two,Basic Routing Profile,Agent\n";
    stack.notify(stack.upload("uploads/retry.csv", file.as_bytes().to_vec()).await).await;
    stack.drain(Delivery::Once).await;
    let (_, _, _, body) = stack.api("GET", "/jobs").await;
    let job: serde_json::Value = serde_json::from_str(&body).unwrap();
    let scrubbed = job["jobs"][0]["scrubbed"]["key"].as_str().unwrap_or_default().to_owned();
    assert!(scrubbed.starts_with("scrubbed/"), "the ended job reads its copy now: {job}");
    let (job, counts) = (job["jobs"][0]["id"].as_str().unwrap().to_owned(), job["jobs"][0]["counts"].clone());
    assert_eq!((counts["succeeded"].as_u64(), counts["failed"].as_u64()), (Some(1), Some(2)), "{counts}");

    knobs.faults.clear();
    stack.connect.set_knobs(knobs);
    let creates_before = stack.connect.counters().calls.get("CreateUser").copied().unwrap_or(0);
    let home = tempfile::tempdir().unwrap();
    let retry = ccbulk(&stack, home.path(), TEST_SECRET_KEY)
        .args(["retry", &job, "--api", &gateway.url, "--interval", "0.2", "--timeout", "120", "--quiet"])
        .output();
    let aws = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while stack.queue_depth(&stack.queue_url).await == 0 {
            assert!(Instant::now() < deadline, "the retry sent nothing");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stack.drain(Delivery::Once).await
    };
    let (output, drained) = tokio::join!(retry, aws);
    let (code, out, err) = text(&output.unwrap());
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("failed rows back to PENDING: 2; chunks sent again: 2") && out.contains("SUCCEEDED"), "{out}");
    assert_eq!(drained.invocations, 2, "the two failed rows' chunks, not the first");
    let creates = stack.connect.counters().calls.get("CreateUser").copied().unwrap_or(0) - creates_before;
    assert_eq!(creates, 2);
    let (_, _, _, row) = stack.api("GET", &format!("/jobs/{job}/rows/2")).await;
    let row: serde_json::Value = serde_json::from_str(&row).unwrap();
    assert_eq!((row["status"].as_str(), row["attempts"].as_u64()), (Some("SUCCEEDED"), Some(1)), "not started again");

    // Nothing failed is left: a retry now queues nothing, and says so in the documented shape.
    let (code, content_type, _, body) = stack.api("POST", &format!("/jobs/{job}/retry")).await;
    assert_eq!(code, 202, "{body}");
    ccbulk_e2e::OpenApi::load().check_method("post", "/jobs/{id}/retry", code, &content_type, &body);
    assert!(body.contains("\"rows\":0") && body.contains("\"chunks\":0"), "{body}");
    assert_eq!(stack.queue_depth(&stack.queue_url).await, 0);
}
