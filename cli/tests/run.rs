//! `ccbulk run` and `ccbulk status` end to end through the binary: on the embedded sandboxes, and with a config
//! pointing at sandboxes this test starts (the path a real instance and org take), with faults, kills and resumes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ccbulk_e2e::cases::{MIXED, seed_mixed};
use ccbulk_sandbox::connect::{ConnectSandbox, FaultRates, Knobs, Latency, Op, QuotaSpec};
use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::seed::UserSeed;
use ccbulk_sandbox::salesforce::{
    BulkKnobs, SANDBOX_CLIENT_SECRET, SANDBOX_CONSUMER_KEY, SalesforceFaults, SalesforceKnobs, SalesforceSandbox,
};
use ccbulk_shared::job::JobStore;

const SECRET_VARIABLE: &str = "CCBULK_TEST_SALESFORCE_SECRET";
/// A key no connected app of the sandbox trusts.
const WRONG_KEY: &str = include_str!("../../sandbox/fixtures/untrusted-test-key.pem");

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

/// A scratch folder holding a copy of the input (the report is written beside it) and the job store.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Empty AWS config and credentials files keep the default chain off the machine's own.
        for file in ["aws-config", "aws-credentials"] {
            std::fs::write(dir.path().join(file), "").unwrap();
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn copy_example(&self, name: &str) -> PathBuf {
        let to = self.path(name);
        std::fs::copy(example(name), &to).unwrap();
        to
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let to = self.path(name);
        std::fs::write(&to, text).unwrap();
        to
    }

    /// The binary, run in this folder, with the AWS default chain confined to fake environment credentials.
    fn ccbulk(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ccbulk"));
        command
            .current_dir(self.dir.path())
            .env("AWS_ACCESS_KEY_ID", "AKIDCCBULKTEST")
            .env("AWS_SECRET_ACCESS_KEY", "ccbulk-test-secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.path("aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.path("aws-credentials"))
            .env(SECRET_VARIABLE, SANDBOX_CLIENT_SECRET)
            .env_remove("CCBULK_LOG");
        command
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let Output { status, stdout, stderr } = self.ccbulk().args(args).output().unwrap();
        (status.code().unwrap_or(-1), String::from_utf8(stdout).unwrap(), String::from_utf8(stderr).unwrap())
    }

    /// The report's rows, as maps from column to cell.
    fn report(&self, name: &str) -> Vec<HashMap<String, String>> {
        let mut reader = csv::Reader::from_path(self.path(name)).unwrap();
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        reader.records().map(|r| header.iter().cloned().zip(r.unwrap().iter().map(str::to_owned)).collect()).collect()
    }
}

/// Sandboxes started by the test on their own runtime, as an admin would start `ccbulk-sandbox`.
struct Stage {
    connect: ConnectSandbox,
    salesforce: SalesforceSandbox,
    _runtime: tokio::runtime::Runtime,
}

fn roomy() -> Knobs {
    let quotas = Op::ALL.iter().map(|op| (op.name().to_owned(), QuotaSpec { rate: 10_000.0, burst: 10_000 })).collect();
    Knobs { quotas, ..Knobs::default() }
}

impl Stage {
    fn start(
        tune: impl FnOnce(&mut ccbulk_sandbox::connect::ConnectSeed, &mut ccbulk_sandbox::salesforce::SalesforceSeed),
    ) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (mut connect, mut salesforce) = (examples::connect_seed(), examples::salesforce_seed());
        connect.knobs = roomy();
        tune(&mut connect, &mut salesforce);
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (connect, salesforce) = runtime.block_on(async {
            (
                ConnectSandbox::start(connect, loopback).await.unwrap(),
                SalesforceSandbox::start(salesforce, loopback).await.unwrap(),
            )
        });
        // Service Cloud Voice's link: in bulkop mode Salesforce makes the Connect users of Amazon Connect rows in the
        // instance the bulkop example's routing-profile ARNs name.
        salesforce.link_connect(connect.voice_link(), examples::SAML_INSTANCE_ID);
        Self { connect, salesforce, _runtime: runtime }
    }

    fn instance_id(&self) -> String {
        self.connect.instance_id("ccbulk-sandbox").unwrap().to_owned()
    }

    /// A config for these sandboxes; quotas are the sandbox's own, so the client may go fast.
    fn config(&self, scratch: &Scratch) -> PathBuf {
        self.config_with(scratch, "ccbulk-sandbox", "")
    }

    /// A config for one of the sandbox's instances, with `extra` TOML after the `[salesforce]` table.
    fn config_with(&self, scratch: &Scratch, alias: &str, extra: &str) -> PathBuf {
        scratch.write(
            &format!("{alias}.toml"),
            &format!(
                r#"[connect]
instance_id = "{instance}"
region = "{region}"
endpoint_url = "{connect}"
write_rate = 500.0
write_burst = 50
read_rate = 500.0
read_burst = 50
max_in_flight = 3

[salesforce]
login_url = "{salesforce}"
client_id = "{client_id}"
client_secret_env = "{SECRET_VARIABLE}"
{extra}
[run]
chunk_rows = 5
workers = 3
retry_backoff_ms = 20
"#,
                instance = self.connect.instance_id(alias).unwrap(),
                region = examples::REGION,
                connect = self.connect.endpoint(),
                salesforce = self.salesforce.endpoint(),
                client_id = SANDBOX_CONSUMER_KEY,
            ),
        )
    }

    fn connect_users(&self) -> Vec<ccbulk_sandbox::connect::UserSnapshot> {
        self.users_of("ccbulk-sandbox")
    }

    fn users_of(&self, alias: &str) -> Vec<ccbulk_sandbox::connect::UserSnapshot> {
        let snapshot = self.connect.snapshot();
        snapshot.instance(self.connect.instance_id(alias).unwrap()).unwrap().users.clone()
    }
}

fn passwords_of(file: &Path) -> Vec<String> {
    let mut reader = csv::Reader::from_path(file).unwrap();
    let at = reader.headers().unwrap().iter().position(|h| h == "password").unwrap();
    reader.records().filter_map(|r| r.unwrap().get(at).map(str::to_owned)).filter(|p| !p.is_empty()).collect()
}

fn status_of(rows: &[HashMap<String, String>], column: &str, value: &str) -> String {
    rows.iter().find(|r| r[column] == value).unwrap_or_else(|| panic!("no row with {column} {value}"))["Status"].clone()
}

// ---------------------------------------------------------------------------------------------------------------
// The embedded default

#[test]
fn the_native_example_provisions_on_the_embedded_sandboxes() {
    let scratch = Scratch::new();
    let input = scratch.copy_example("ccbulk-agents.csv");
    let (code, out, err) = scratch.run(&["run", input.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("the embedded sandboxes"), "{out}");
    assert!(out.contains("SUCCEEDED: 28 rows: 28 succeeded, 0 failed, 0 invalid, 0 not done"), "{out}");
    let report = scratch.report("ccbulk-agents.report.csv");
    assert_eq!(report.len(), 28);
    assert!(report.iter().all(|r| r["Status"] == "SUCCEEDED"), "{report:?}");
    assert!(!report[0].contains_key("password"), "the report has no password column");
    let adds: Vec<_> = report.iter().filter(|r| r["action"] == "add").collect();
    assert!(adds.iter().all(|r| r["ConnectUserId"].len() == 36 && r["SalesforceUserId"].starts_with("005")));
    assert!(adds.iter().all(|r| r["ConnectUserArn"].contains("/agent/")));

    // `ccbulk status` reads the same store.
    let job = out.split("job ").nth(1).unwrap().split(',').next().unwrap().to_owned();
    let (code, status, _) = scratch.run(&["status", &job[..8]]);
    assert_eq!(code, 0);
    assert!(
        status.contains("SUCCEEDED") && status.contains("28 succeeded, 0 failed, 0 invalid, 0 pending"),
        "{status}"
    );
    assert!(
        status.contains("Salesforce API allocation: ") && status.contains(" used in the 24 hours before "),
        "{status}"
    );
    let (code, listed, _) = scratch.run(&["status"]);
    assert_eq!(code, 0);
    assert!(listed.contains(&job), "{listed}");
}

#[test]
fn the_bulkop_examples_provision_on_the_embedded_sandboxes() {
    let scratch = Scratch::new();
    // By default a file of ContactCenterBulkOp rows goes down Salesforce's own path, and Salesforce makes the
    // Connect users.
    let input = scratch.copy_example("bulkop-amazon-connect.csv");
    let (code, out, err) = scratch.run(&["run", "-q", input.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("(bulkop dialect, SAML, amazon-connect)"), "{out}");
    let report = scratch.report("bulkop-amazon-connect.report.csv");
    assert!(report.iter().all(|r| r["Status"] == "SUCCEEDED" && !r["ConnectUserId"].is_empty()), "{report:?}");
    assert!(report.iter().all(|r| r["VoiceProvisioningJobID"].starts_with("750")), "{report:?}");
    assert!(report.iter().all(|r| r["Note"].contains("ccbulk adopted it")), "{report:?}");

    // Direct mode, chosen: ccbulk does the Salesforce side itself, and no bulk job is made.
    let input = scratch.copy_example("bulkop-partner-telephony.csv");
    let (code, out, err) = scratch.run(&[
        "run",
        "-q",
        "--telephony-model",
        "partner-telephony",
        "--salesforce-sync",
        "direct",
        input.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let report = scratch.report("bulkop-partner-telephony.report.csv");
    assert!(report.iter().all(|r| r["Status"] == "SUCCEEDED"), "{report:?}");
    assert!(report.iter().all(|r| r["ConnectUserId"].is_empty()), "Partner Telephony has no Connect side");
    assert!(report.iter().all(|r| r["VoiceProvisioningJobID"].is_empty() && r["Note"].is_empty()), "{report:?}");
}

#[test]
fn bulkop_mode_sends_the_bulkop_examples_through_salesforces_own_bulk_path() {
    let scratch = Scratch::new();
    for (name, telephony) in
        [("bulkop-amazon-connect.csv", "amazon-connect"), ("bulkop-partner-telephony.csv", "partner-telephony")]
    {
        let input = scratch.copy_example(name);
        let (code, out, err) = scratch.run(&[
            "run",
            "-q",
            "--salesforce-sync",
            "bulkop",
            "--telephony-model",
            telephony,
            input.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{name}: {out}\n{err}");
        let report = scratch.report(&name.replace(".csv", ".report.csv"));
        assert!(report.iter().all(|r| r["Status"] == "SUCCEEDED" && !r["SalesforceUserId"].is_empty()), "{report:?}");
        // Under Amazon Connect the Connect user is the one Salesforce made: ccbulk adopts it and says so.
        let amazon_connect = telephony == "amazon-connect";
        let adopted = report.iter().filter(|r| r["Note"].contains("ccbulk adopted it")).count();
        assert_eq!(adopted, if amazon_connect { report.len() } else { 0 }, "{name}");
        assert!(report.iter().all(|r| r["ConnectUserId"].is_empty() != amazon_connect), "{report:?}");
        assert!(report.iter().all(|r| r["VoiceProvisioningJobID"].starts_with("750")), "{report:?}");
        assert!(report.iter().all(|r| r["Note"].starts_with("Salesforce: ContactCenterBulkOp ")), "{report:?}");
    }
    let (code, _, err) = scratch.run(&["run", "--salesforce-sync", "bulk", "x.csv"]);
    assert_eq!(code, 2);
    assert!(err.contains("'bulk'") && err.contains("expected auto, direct or bulkop"), "{err}");
}

#[test]
fn the_connect_templates_provision_on_the_embedded_sandboxes() {
    let scratch = Scratch::new();
    for name in ["connect-template.csv", "connect-template-saml.csv"] {
        let input = scratch.copy_example(name);
        let (code, out, err) = scratch.run(&["run", "-q", input.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {out}\n{err}");
        let report = scratch.report(&name.replace(".csv", ".report.csv"));
        assert!(report.iter().all(|r| r["Status"] == "SUCCEEDED"), "{name}: {report:?}");
        assert!(report.iter().all(|r| r["SalesforceUserId"].is_empty()), "no Salesforce columns, no Salesforce side");
    }
}

/// A Connect-template file written here, unlike the examples: other names, profiles by name and by id, blank
/// optional cells, and rows that break rules. Valid rows succeed, invalid ones are reported and touch nothing.
#[test]
fn an_unseen_connect_template_file_runs_valid_rows_and_reports_invalid_ones() {
    let scratch = Scratch::new();
    let mut text = String::from(
        "first name,last name,email address,password,user login,routing profile name,security_profile_name_1|security_profile_name_2,user_hierarchy_1|user_hierarchy_2,phone type (soft/desk),phone number,soft phone auto accept (yes/no),ACW timeout (seconds),tags\n",
    );
    let mut expected = Vec::new();
    for i in 0..14 {
        let (line, valid) = match i % 7 {
            3 => (
                format!("Kai,Lee{i},kai{i}@fabrikam.example,short,kai.lee{i},Support Tier 1,Agent,,soft,,yes,10,\n"),
                false,
            ),
            5 => {
                (format!("Mo,Ng{i},mo{i}@fabrikam,Fabrikam!{i}Aa,mo.ng{i},Support Tier 1,Agent,,desk,,no,0,\n"), false)
            }
            _ => (
                format!(
                    "Ana,Moreau{i},ana{i}@fabrikam.example,Fabrikam!{i}Aa,ana.moreau{i},{profile},Agent|QualityAnalyst,Support|Tier 2,soft,,no,{acw},site=Lyon\n",
                    profile = if i % 2 == 0 { "Support Tier 1" } else { "Basic Routing Profile" },
                    acw = i * 5
                ),
                true,
            ),
        };
        text.push_str(&line);
        expected.push(valid);
    }
    let input = scratch.write("fabrikam-agents.csv", &text);
    let (code, out, err) = scratch.run(&["run", "-q", input.to_str().unwrap()]);
    assert_eq!(code, 1, "invalid rows make the exit code 1: {out}\n{err}");
    assert!(out.contains("(connect dialect, CONNECT_MANAGED, amazon-connect)"), "{out}");
    let report = scratch.report("fabrikam-agents.report.csv");
    for (row, valid) in report.iter().zip(expected) {
        let want = if valid { "SUCCEEDED" } else { "INVALID" };
        assert_eq!(row["Status"], want, "{row:?}");
        assert_eq!(row["ConnectUserId"].is_empty(), !valid);
        if !valid {
            assert!(row["ErrorMessage"].contains('['), "an invalid row says which rule: {row:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// A config pointing at sandboxes started separately

#[test]
fn a_config_run_matches_what_the_sandboxes_hold_and_keeps_passwords_out() {
    let stage = Stage::start(|_, _| {});
    let scratch = Scratch::new();
    let config = stage.config(&scratch);
    let input = scratch.copy_example("ccbulk-agents.csv");
    let output = scratch
        .ccbulk()
        .env("CCBULK_LOG", "debug")
        .args(["run", "--config", config.to_str().unwrap(), input.to_str().unwrap()])
        .output()
        .unwrap();
    let (out, err) = (String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap());
    assert_eq!(output.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("the configured instance and org"), "{out}");

    let report = scratch.report("ccbulk-agents.report.csv");
    let users = stage.connect_users();
    let org = stage.salesforce.snapshot();
    for row in &report {
        assert_eq!(row["Status"], "SUCCEEDED", "{row:?}");
        let in_connect = users.iter().find(|u| u.username == row["username"]);
        match row["action"].as_str() {
            "add" => {
                let user = in_connect.unwrap_or_else(|| panic!("{} is in Connect", row["username"]));
                assert_eq!(user.id, row["ConnectUserId"]);
                assert_eq!(user.routing_profile, row["routing_profile"]);
                assert_eq!(user.identity_info.first_name.as_deref(), Some(row["first_name"].as_str()));
                let salesforce = org.user(&row["sf_username"]).unwrap();
                assert_eq!(salesforce.id, row["SalesforceUserId"]);
                assert_eq!(salesforce.call_center.as_deref(), Some("Northwind Support"));
                let set = match row["role"].as_str() {
                    "Supervisor" => "ContactCenterSupervisor",
                    "Admin" => "ContactCenterAdmin",
                    _ => "ContactCenterAgent",
                };
                assert!(salesforce.permission_sets.iter().any(|p| p == set), "{salesforce:?}");
            }
            "update" => assert_eq!(in_connect.unwrap().routing_profile, "Support Tier 2"),
            "remove" => assert!(in_connect.is_none(), "{} was removed", row["username"]),
            other => panic!("unexpected action {other}"),
        }
    }
    let snapshot = stage.connect.snapshot();
    let instance = snapshot.instance(&stage.instance_id()).unwrap();
    let asked = report.iter().filter(|r| r["action"] == "add" && r["quick_connect"] == "yes").count();
    assert_eq!(instance.quick_connects.iter().filter(|q| q.kind == "USER").count(), asked);
    assert!(instance.quick_connects.iter().all(|q| !q.dangling));

    // Passwords reach Connect's CreateUser and nothing else: not the store, the report or the logs.
    let passwords = passwords_of(&input);
    assert!(passwords.len() >= 20);
    let mut places = vec![("stdout", out.clone().into_bytes()), ("stderr", err.clone().into_bytes())];
    for file in ["ccbulk-agents.report.csv", ".ccbulk/state.db", ".ccbulk/state.db-wal"] {
        if let Ok(bytes) = std::fs::read(scratch.path(file)) {
            places.push((file, bytes));
        }
    }
    assert!(places.len() >= 4, "the store and the report were written");
    assert!(err.contains("DEBUG") || err.contains("INFO") || err.is_empty() || err.contains("WARN"));
    for (place, bytes) in &places {
        let text = String::from_utf8_lossy(bytes);
        for password in &passwords {
            assert!(!text.contains(password.as_str()), "a password is in {place}");
        }
    }

    // A second run of the same file finds the job done and calls nothing.
    let creates = stage.connect.snapshot().counters.calls.get("CreateUser").copied();
    let (code, out, _) = scratch.run(&["run", "--config", config.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("is already done"), "{out}");
    assert_eq!(stage.connect.snapshot().counters.calls.get("CreateUser").copied(), creates);
}

#[test]
fn each_row_fails_alone_with_the_system_and_the_reason() {
    let stage = Stage::start(seed_mixed);
    let scratch = Scratch::new();
    let config = stage.config(&scratch);
    let input = scratch.write("mixed.csv", MIXED);
    let users_before = stage.connect_users().len();
    let (code, out, err) = scratch.run(&["run", "--config", config.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("COMPLETED_WITH_ERRORS: 5 rows: 2 succeeded, 2 failed, 1 invalid"), "{out}");
    let report = scratch.report("mixed.report.csv");
    let message = |username: &str| report.iter().find(|r| r["username"] == username).unwrap()["ErrorMessage"].clone();

    // Adopted, not duplicated, and brought to the row's settings.
    assert_eq!(status_of(&report, "username", "existing.agent"), "SUCCEEDED");
    let users = stage.connect_users();
    let existing: Vec<_> = users.iter().filter(|u| u.username == "existing.agent").collect();
    assert_eq!(existing.len(), 1);
    assert_eq!(existing[0].routing_profile, "Sales Inbound");
    assert_eq!(existing[0].security_profiles, vec!["Agent".to_owned()]);

    assert_eq!(status_of(&report, "username", "other.center"), "FAILED");
    assert!(message("other.center").starts_with("Salesforce:") && message("other.center").contains("Support EMEA"));
    assert!(users.iter().all(|u| u.username != "other.center"), "a row refused by Salesforce creates no Connect user");

    assert_eq!(status_of(&report, "username", "taken"), "FAILED");
    assert!(message("taken").contains("DUPLICATE_USERNAME"), "{}", message("taken"));

    assert_eq!(status_of(&report, "username", "fine.agent"), "SUCCEEDED");
    // The invalid row repeats none of its cells (they may be shifted, a password among them): only its outcome.
    let invalid: Vec<_> = report.iter().filter(|r| r["Status"] == "INVALID").collect();
    assert_eq!(invalid.len(), 1, "{report:?}");
    assert_eq!((invalid[0]["username"].as_str(), invalid[0]["first_name"].as_str()), ("", ""), "{invalid:?}");
    assert_eq!(users.len(), users_before + 1, "only fine.agent is new");

    let job = out.split("job ").nth(1).unwrap().split(',').next().unwrap().to_owned();
    let (_, failed, _) = scratch.run(&["status", &job, "--failed"]);
    assert!(failed.contains("row 3 other.center: Salesforce:") && failed.contains("row 4 taken:"), "{failed}");
    assert!(!failed.contains("fine.agent"));
}

#[test]
fn injected_server_errors_and_throttles_are_retried_to_success_without_duplicates() {
    let stage = Stage::start(|connect, salesforce| {
        connect
            .knobs
            .faults
            .insert("*".into(), FaultRates { internal_error: 0.15, throttle: 0.15, ..FaultRates::default() });
        salesforce.knobs.faults.insert(
            "*".into(),
            SalesforceFaults { server_error: 0.08, unavailable: 0.08, ..SalesforceFaults::default() },
        );
    });
    let scratch = Scratch::new();
    let config = stage.config(&scratch);
    let input = scratch.copy_example("ccbulk-agents.csv");
    let (code, out, err) = scratch.run(&["run", "--config", config.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let counters = stage.connect.snapshot().counters;
    let injected: u64 = counters.injected_errors.values().sum::<u64>() + counters.throttled.values().sum::<u64>();
    assert!(injected > 5, "faults were injected: {counters:?}");
    assert!(stage.salesforce.snapshot().counters.injected_errors.values().sum::<u64>() > 0);
    assert_eq!(scratch.report("ccbulk-agents.report.csv").iter().filter(|r| r["Status"] != "SUCCEEDED").count(), 0);
    assert_unique(&stage);
}

fn assert_unique(stage: &Stage) {
    let users = stage.connect_users();
    let mut names: Vec<String> = users.iter().map(|u| u.username.to_lowercase()).collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "no Connect username twice");
    let org = stage.salesforce.snapshot();
    let mut names: Vec<String> = org.users.iter().map(|u| u.username.to_lowercase()).collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "no Salesforce username twice");
}

/// Starts a run, waits until some users exist, and stops it with `signal`.
fn interrupted_run(stage: &Stage, scratch: &Scratch, config: &Path, input: &Path, signal: &str) -> Output {
    let mut child: Child = scratch
        .ccbulk()
        .args(["run", "-q", "--config", config.to_str().unwrap(), input.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let before = stage.connect_users().len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while stage.connect_users().len() < before + 6 {
        assert!(Instant::now() < deadline, "the run made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let _ = &mut child;
    child.wait_with_output().unwrap()
}

fn slow(stage: &Stage) {
    let mut knobs = stage.connect.knobs();
    knobs.latency = Latency { fixed_ms: 60, jitter_ms: 20 };
    stage.connect.set_knobs(knobs);
}

#[test]
fn a_killed_run_resumes_without_duplicates() {
    let stage = Stage::start(|_, _| {});
    slow(&stage);
    let scratch = Scratch::new();
    let config = stage.config(&scratch);
    let input = scratch.copy_example("ccbulk-agents.csv");
    let killed = interrupted_run(&stage, &scratch, &config, &input, "-KILL");
    assert_eq!(killed.status.code(), None, "killed by a signal");
    let part = stage.connect_users().len();

    let (code, out, err) = scratch.run(&["run", "--config", config.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("resuming job"), "{out}");
    assert!(out.contains("SUCCEEDED: 28 rows: 28 succeeded"), "{out}");
    assert!(stage.connect_users().len() > part);
    assert_unique(&stage);
    // At most the rows in flight at the kill (three, by the config) are tried twice.
    let creates = stage.connect.snapshot().counters.calls.get("CreateUser").copied().unwrap_or(0);
    assert!(creates <= 25 + 3, "at most the interrupted rows are tried twice: {creates}");
}

#[test]
fn ctrl_c_stops_cleanly_and_the_same_command_resumes() {
    let stage = Stage::start(|_, _| {});
    slow(&stage);
    let scratch = Scratch::new();
    let config = stage.config(&scratch);
    let input = scratch.copy_example("ccbulk-agents.csv");
    let stopped = interrupted_run(&stage, &scratch, &config, &input, "-INT");
    let err = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(130), "{err}");
    assert!(err.contains("stopped:") && err.contains("run the same command again to resume"), "{err}");
    let partial = scratch.report("ccbulk-agents.report.csv");
    assert!(partial.iter().any(|r| r["Status"] == "SUCCEEDED"));
    assert!(partial.iter().any(|r| r["Status"] != "SUCCEEDED"), "stopped before the end");

    let (code, out, err) = scratch.run(&["run", "--config", config.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(scratch.report("ccbulk-agents.report.csv").iter().all(|r| r["Status"] == "SUCCEEDED"));
    assert_unique(&stage);
}

// ---------------------------------------------------------------------------------------------------------------
// Config, init and status errors

#[test]
fn init_writes_a_template_and_config_errors_name_the_key() {
    let scratch = Scratch::new();
    let (code, out, _) = scratch.run(&["init"]);
    assert_eq!(code, 0, "{out}");
    assert!(std::fs::read_to_string(scratch.path("ccbulk.toml")).unwrap().contains("[salesforce]"));
    let (code, _, err) = scratch.run(&["init"]);
    assert_eq!(code, 2);
    assert!(err.contains("exists; --force"), "{err}");

    let input = scratch.copy_example("ccbulk-agents.csv");
    let bad = scratch.write("bad.toml", "[connect]\ninstance_id = \"x\"\nwrite_rate = -1.0\n");
    let (code, _, err) = scratch.run(&["run", "--config", bad.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml: [connect] write_rate: must be a number above 0"), "{err}");

    // A config whose instance does not exist stops before any row is touched.
    let stage = Stage::start(|_, _| {});
    let config = stage.config(&scratch);
    let text = std::fs::read_to_string(&config).unwrap().replace(&stage.instance_id(), "0000-missing");
    assert!(text.contains("0000-missing"));
    let config = scratch.write("missing.toml", &text);
    let (code, _, err) = scratch.run(&["run", "--config", config.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot reach the Connect instance 0000-missing") && err.contains("ResourceNotFound"),
        "{err}"
    );

    let (code, _, err) = scratch.run(&["status", "--state", "nowhere.db"]);
    assert_eq!(code, 2);
    assert!(err.contains("no job store at nowhere.db"), "{err}");
}

#[test]
fn bulkop_rows_add_update_and_remove_on_a_saml_instance() {
    let stage = Stage::start(|_, _| {});
    let scratch = Scratch::new();
    let config = stage.config_with(&scratch, "ccbulk-sandbox-saml", "");
    let lines: Vec<String> =
        std::fs::read_to_string(example("bulkop-amazon-connect.csv")).unwrap().lines().map(str::to_owned).collect();
    let adds = scratch.write("adds.csv", &format!("{}\n{}\n{}\n{}\n", lines[0], lines[1], lines[2], lines[3]));
    // Direct mode: ccbulk makes the Connect users itself, under the Salesforce usernames.
    let direct = ["run", "--salesforce-sync", "direct", "--config", config.to_str().unwrap()];
    let (code, out, err) = scratch.run(&[&direct[..], &[adds.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("(bulkop dialect, SAML, amazon-connect)"), "DescribeInstance said SAML: {out}");
    let users = stage.users_of("ccbulk-sandbox-saml");
    let amara = users.iter().find(|u| u.username == "amara.okafor@northwind-support.com").unwrap();
    assert_eq!(amara.identity_info.first_name.as_deref(), Some("Amara"), "names come from the Salesforce user");
    assert_eq!(amara.security_profiles, vec!["CallCenterManager".to_owned()]);
    let first_profile = amara.routing_profile.clone();

    // Amara moves to Ben's routing profile; Ben is removed.
    let ben_arn = lines[2].split(',').nth(3).unwrap();
    let mut update: Vec<&str> = lines[1].split(',').collect();
    update[3] = ben_arn;
    update[5] = "UpdateUsers";
    let remove = lines[2].replace("AddUsers", "RemoveUsers");
    let changes = scratch.write("changes.csv", &format!("{}\n{}\n{}\n", lines[0], update.join(","), remove));
    let (code, out, err) = scratch.run(&[&direct[..], &[changes.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{out}\n{err}");
    let users = stage.users_of("ccbulk-sandbox-saml");
    let amara = users.iter().find(|u| u.username == "amara.okafor@northwind-support.com").unwrap();
    assert_ne!(amara.routing_profile, first_profile);
    assert!(users.iter().all(|u| u.username != "ben.schmidt@northwind-support.com"), "Ben left Connect");
    let org = stage.salesforce.snapshot();
    let ben = org.user("ben.schmidt@northwind-support.com").unwrap();
    assert_eq!(ben.call_center, None, "Ben left the contact center");
    assert!(ben.permission_sets.iter().all(|p| !p.starts_with("ContactCenter")), "{ben:?}");
    assert!(ben.active, "Salesforce users are never deleted");
    let amara = org.user("amara.okafor@northwind-support.com").unwrap();
    assert!(amara.permission_sets.iter().any(|p| p == "ContactCenterSupervisor"), "{amara:?}");
}

#[test]
fn partner_telephony_from_amazon_connect_gives_both_sides_and_the_partner_sets() {
    let stage = Stage::start(|_, _| {});
    let scratch = Scratch::new();
    let config = stage.config(&scratch);
    let input = scratch.copy_example("ccbulk-agents.csv");
    let (code, out, err) = scratch.run(&[
        "run",
        "--telephony-model",
        "partner-telephony-from-amazon-connect",
        "--config",
        config.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(stage.connect_users().iter().any(|u| u.username == "aokafor"));
    let org = stage.salesforce.snapshot();
    let amara = org.user("amara.okafor@northwind-support.com").unwrap();
    assert_eq!(amara.permission_sets, vec!["ContactCenterSupervisorPartnerTelephony".to_owned()]);
}

#[test]
fn connect_template_rows_get_the_salesforce_side_the_config_implies() {
    let stage = Stage::start(|_, _| {});
    let scratch = Scratch::new();
    let extra = "\n[salesforce.connect_template]\ncontact_center = \"Support EMEA\"\nrole = \"Agent\"\n";
    let config = stage.config_with(&scratch, "ccbulk-sandbox", extra);
    let input = scratch.copy_example("connect-template.csv");
    let (code, out, err) = scratch.run(&["run", "--config", config.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let report = scratch.report("connect-template.report.csv");
    let org = stage.salesforce.snapshot();
    for row in &report {
        assert!(row["SalesforceUserId"].starts_with("005"), "{row:?}");
        let user = org.user(&row["email address"]).unwrap_or_else(|| panic!("{} in Salesforce", row["email address"]));
        assert_eq!(user.call_center.as_deref(), Some("Support EMEA"));
        assert!(user.permission_sets.iter().any(|p| p == "ContactCenterAgent"));
    }
}

#[test]
fn the_jwt_bearer_flow_signs_in_with_a_key_file() {
    let stage = Stage::start(|_, _| {});
    let scratch = Scratch::new();
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandbox/fixtures/jwt-test-key.pem");
    let client_credentials = std::fs::read_to_string(stage.config(&scratch)).unwrap();
    let jwt = client_credentials.replace(
        &format!("client_secret_env = \"{SECRET_VARIABLE}\""),
        &format!("jwt_username = \"{}\"\njwt_key_file = {:?}", ccbulk_sandbox::salesforce::seed::INTEGRATION_USER, key),
    );
    assert!(jwt.contains("jwt_key_file"));
    let config = scratch.write("jwt.toml", &jwt);
    let input = scratch.write(
        "one.csv",
        "action,username,password,first_name,last_name,email,routing_profile,security_profiles,sf_username,contact_center,role\n\
         add,jwt.agent,Welcome123!Ab,Jo,Token,jo.token@northwind-support.com,Basic Routing Profile,Agent,jo.token@northwind-support.com,Northwind Support,Agent\n",
    );
    let (code, out, err) = scratch.run(&["run", "--config", config.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(stage.salesforce.snapshot().user("jo.token@northwind-support.com").is_some());

    // A key the connected app does not trust is one clear error before any row.
    let wrong = jwt.replace(&format!("{key:?}"), &format!("{:?}", scratch.write("wrong.pem", WRONG_KEY)));
    let config = scratch.write("wrong.toml", &wrong);
    let (code, _, err) = scratch.run(&["run", "--config", config.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot sign in to Salesforce") && err.contains("invalid_grant"), "{err}");
}

#[test]
fn a_broken_file_runs_its_sound_rows_and_its_passwords_stay_out_of_every_output() {
    use ccbulk_e2e::cases::BROKEN_FILES;
    for broken in BROKEN_FILES {
        let scratch = Scratch::new();
        let input = scratch.write(broken.name, broken.csv);
        let state = scratch.path("state.db");
        let (code, out, err) = scratch.run(&["run", input.to_str().unwrap(), "--state", state.to_str().unwrap()]);
        broken.assert_no_password_in("run's output", &format!("{out}\n{err}"));
        // The whole state file, freed pages included: what SQLite ever wrote there.
        if let Ok(bytes) = std::fs::read(&state) {
            broken.assert_no_password_in("the state file", &String::from_utf8_lossy(&bytes));
        }
        if !broken.usable {
            assert_eq!(code, 2, "a file without a header cannot be run: {out}\n{err}");
            assert!(err.contains("is not a header"), "{out}\n{err}");
            continue;
        }
        assert_eq!(code, 1, "the broken row is invalid, the sound one succeeds: {out}\n{err}");
        let report_name = broken.name.replace(".csv", ".report.csv");
        broken.assert_no_password_in("the report", &std::fs::read_to_string(scratch.path(&report_name)).unwrap());
        let report = scratch.report(&report_name);
        assert_eq!(report.len(), 2, "{report:?}");
        assert_eq!((report[0]["Status"].as_str(), report[1]["Status"].as_str()), ("SUCCEEDED", "INVALID"));
        let shifted = &report[1];
        assert!(
            shifted.iter().filter(|(column, _)| !column.starts_with(char::is_uppercase)).all(|(_, v)| v.is_empty()),
            "a row whose columns are in doubt shows none of its cells: {shifted:?}"
        );
    }
}

#[test]
fn two_runs_of_one_file_on_one_state_file_at_once_make_each_user_once() {
    let stage = Stage::start(|_, _| {});
    slow(&stage);
    let scratch = Scratch::new();
    let config = stage.config(&scratch);
    let input = scratch.copy_example("ccbulk-agents.csv");
    let state = scratch.path("shared-state.db");
    let start = || {
        scratch
            .ccbulk()
            .args(["run", "-q", "--config", config.to_str().unwrap(), "--state", state.to_str().unwrap()])
            .arg(&input)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (start(), start());
    for run in [first.wait_with_output().unwrap(), second.wait_with_output().unwrap()] {
        let (out, err) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
        assert_eq!(run.status.code(), Some(0), "both runs see the job through:\n{out}\n{err}");
    }
    assert_unique(&stage);
    let counters = stage.connect.snapshot().counters;
    let creates = counters.calls.get("CreateUser").copied().unwrap_or(0)
        - counters.throttled.get("CreateUser").copied().unwrap_or(0);
    // 26 adds, one of whose users the examples' instance already holds (adopted, not created).
    assert_eq!(creates, 25, "one CreateUser per new user, though two runs worked the file");

    let store = ccbulk_shared::job::SqliteJobStore::open(&state).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let jobs = runtime.block_on(store.jobs(10, None)).unwrap().items;
    assert_eq!(jobs.len(), 1, "one job for one file");
    let rows = runtime.block_on(store.rows(&jobs[0].id, None, 100, None)).unwrap().items;
    assert_eq!(rows.len(), 28);
    let twice: Vec<_> = rows.iter().filter(|r| r.attempts != 1).map(|r| (r.row, r.attempts)).collect();
    assert!(twice.is_empty(), "each row attempted once, by one of the runs: {twice:?}");
}

/// Bulkop files through `ccbulk run` in the default mode, which sends them down Salesforce's own path: under
/// Partner Telephony from Amazon Connect, a miscased profile is refused before anything is sent and a member of
/// another contact center fails with Salesforce's reason; under Partner Telephony, a 12,000-row file is exactly
/// three ingest jobs and every row ends as Salesforce worked it; then a job Salesforce fails fails its rows.
#[test]
fn bulkop_files_through_ccbulk_run_end_as_salesforce_works_them_in_jobs_of_5000() {
    const ROWS: usize = 12_000;
    let id = |i: usize| format!("005Xb{i:010}");
    let stage = Stage::start(|_, org| {
        let ben = org.users.iter_mut().find(|u| u.username == "ben.schmidt@northwind-support.com").unwrap();
        ben.call_center = Some("Support EMEA".into());
        ben.permission_sets = vec!["ContactCenterAgent".into()];
        org.users.extend((0..ROWS).map(|i| UserSeed { id: Some(id(i)), ..UserSeed::standard(&format!("agent{i}")) }));
        org.knobs.bulk = BulkKnobs { records_per_second: 1_000_000.0, ..BulkKnobs::default() };
    });
    let scratch = Scratch::new();
    let config = stage.config_with(&scratch, "ccbulk-sandbox-saml", "");
    let config = config.to_str().unwrap();

    let example = std::fs::read_to_string(example("bulkop-amazon-connect.csv")).unwrap();
    let miscased = example.replacen(",CallCenterManager,", ",callcentermanager,", 1);
    let input = scratch.write("pt-from-ac.csv", &miscased);
    let run = |model: &str, input: &Path| {
        scratch.run(&["run", "-q", "--config", config, "--telephony-model", model, input.to_str().unwrap()])
    };
    let (code, out, err) = run("partner-telephony-from-amazon-connect", &input);
    assert_eq!(code, 1, "{out}\n{err}");
    let report = scratch.report("pt-from-ac.report.csv");
    // The report keeps the file's order: Amara's row first, then Ben's.
    assert_eq!(report[0]["Status"], "INVALID", "{:?}", report[0]);
    let ben = &report[1];
    assert_eq!(ben["Status"], "FAILED", "{ben:?}");
    assert!(ben["ErrorMessage"].contains("another contact center"), "{ben:?}");
    let done: Vec<_> = report.iter().filter(|r| r["Status"] == "SUCCEEDED").collect();
    assert_eq!(done.len(), 24, "{report:?}");
    assert!(
        done.iter().all(|r| r["Note"].contains("ccbulk adopted it") && r["VoiceProvisioningJobID"].starts_with("750"))
    );
    assert_eq!(stage.connect.snapshot().counters.calls.get("CreateUser"), None);

    let mut csv = String::from("Argument1,Argument2,Argument5,BulkAction\n");
    for i in 0..ROWS {
        csv.push_str(&format!("agent{i}@example.com,{},{},AddUsers\n", id(i), examples::PARTNER_CONTACT_CENTER.1));
    }
    let input = scratch.write("partner.csv", &csv);
    let (code, out, err) = run("partner-telephony", &input);
    assert_eq!(code, 0, "{out}\n{err}");
    let report = scratch.report("partner.report.csv");
    assert_eq!(report.len(), ROWS);
    assert!(report.iter().all(|r| r["Status"] == "SUCCEEDED" && r["VoiceProvisioningJobID"].starts_with("750")));
    // The workers submit the chunks' jobs in any order.
    let mut jobs: Vec<usize> = stage.salesforce.snapshot().bulk_jobs.iter().skip(1).map(|j| j.records).collect();
    jobs.sort_unstable();
    assert_eq!(jobs, vec![2_000, 5_000, 5_000], "exactly three ingest jobs");

    let failing =
        BulkKnobs { job_failure: Some("InvalidBatch : the org refused the batch".into()), ..BulkKnobs::default() };
    stage.salesforce.set_knobs(SalesforceKnobs { bulk: failing, ..SalesforceKnobs::default() });
    let input = scratch
        .write("again.csv", &format!("Argument1,Argument2,Argument5,BulkAction\n{}", csv.lines().nth(1).unwrap()));
    let (code, out, err) = run("partner-telephony", &input);
    assert_eq!(code, 1, "{out}\n{err}");
    let report = scratch.report("again.report.csv");
    assert!(
        report[0]["Status"] == "FAILED" && report[0]["ErrorMessage"].contains("the org refused the batch"),
        "{report:?}"
    );
}

/// Adds that failed on a Connect fault, retried with the run's config once the fault is gone: the failed rows are
/// worked again and the one that succeeded is not; a job of the embedded sandboxes, or of a file changed since,
/// is not retried.
#[test]
fn retry_works_a_local_jobs_failed_rows_again_against_its_config() {
    let stage = Stage::start(|connect, _| {
        let broken = FaultRates { condition_failed: 1.0, ..FaultRates::default() };
        connect.knobs.faults.insert("CreateUser".into(), broken);
    });
    let scratch = Scratch::new();
    let config = stage.config(&scratch);
    let input = scratch.write(
        "retry.csv",
        "action,username,password,first_name,last_name,routing_profile,security_profiles\n\
         update,uqureshi,,Umar,Qureshi,Support Tier 1,Agent\n\
         add,retry.one,Welcome123!Ab,Rita,One,Basic Routing Profile,Agent\n\
         add,retry.two,Welcome123!Ab,Rory,Two,Basic Routing Profile,Agent\n",
    );
    let (code, out, err) = scratch.run(&["run", "-q", "--config", config.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("3 rows: 1 succeeded, 2 failed"), "{out}");
    let job = out.split("job ").nth(1).unwrap().split(',').next().unwrap().to_owned();

    let (code, _, err) = scratch.run(&["retry", &job]);
    assert_eq!(code, 2);
    assert!(err.contains("--config") && err.contains("embedded sandboxes"), "{err}");

    let mut knobs = stage.connect.knobs();
    knobs.faults.clear();
    stage.connect.set_knobs(knobs);
    let creates_before = stage.connect.counters().calls.get("CreateUser").copied().unwrap_or(0);
    let (code, out, err) = scratch.run(&["retry", "-q", &job, "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(&format!("retrying job {job}: failed rows back to PENDING: 2")), "{out}");
    assert!(out.contains("SUCCEEDED: 3 rows: 3 succeeded, 0 failed"), "{out}");
    assert_eq!(stage.connect.counters().calls.get("CreateUser").copied().unwrap_or(0) - creates_before, 2);
    let report = scratch.report("retry.report.csv");
    assert!(report.iter().all(|row| row["Status"] == "SUCCEEDED"), "{report:?}");
    let store = ccbulk_shared::job::SqliteJobStore::open(&scratch.path(".ccbulk/state.db")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let row = runtime.block_on(store.row(&ccbulk_shared::job::JobId::from_string(job.clone()), 2)).unwrap().unwrap();
    assert_eq!(row.attempts, 1, "the row that succeeded was not started again");

    std::fs::write(&input, "action,username\nremove,retry.one\n").unwrap();
    let (code, _, err) = scratch.run(&["retry", &job, "--config", config.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("changed since job"), "{err}");
}

// ---------------------------------------------------------------------------------------------------------------
// Plan

#[test]
fn plan_names_every_verdict_against_a_seeded_org_and_writes_nothing() {
    let stage = Stage::start(|connect, salesforce| {
        // Room for one more user in the instance, as its quota says.
        for instance in &mut connect.instances {
            instance.max_users = instance.users.len() + 1;
        }
        salesforce.users.push(UserSeed {
            id: None,
            username: "member.elsewhere@plan.example.com".into(),
            email: "member.elsewhere@plan.example.com".into(),
            first_name: Some("Mel".into()),
            last_name: "Elsewhere".into(),
            alias: "melse".into(),
            profile: "Standard User".into(),
            call_center: Some("Support EMEA".into()),
            permission_sets: Vec::new(),
            active: true,
        });
        // One Voice seat: the first new member takes it.
        salesforce.voice_seats = Some(1);
    });
    let scratch = Scratch::new();
    let quota = stage.connect_users().len() + 1;
    let config = stage.config(&scratch);
    let text = std::fs::read_to_string(&config).unwrap();
    // One chunk, one row at a time: the run then hands out the last seat and the last room in the file's order, as
    // the plan counts them (chunks and rows worked at once may hand them to later rows).
    let text = text.replace("chunk_rows = 5", "chunk_rows = 20");
    std::fs::write(
        &config,
        text.replace("max_in_flight = 3\n", &format!("max_in_flight = 1\nusers_quota = {quota}\n")),
    )
    .unwrap();
    let input = scratch.write(
        "plan.csv",
        "action,username,password,first_name,last_name,email,routing_profile,security_profiles,sf_username,contact_center,role\n\
         add,plan.new,Welcome123!Ab,Nia,New,nia.new@plan.example.com,Basic Routing Profile,Agent,nia.new@plan.example.com,Northwind Support,Agent\n\
         update,uqureshi,,,,,Basic Routing Profile,Agent,,,\n\
         update,vrossi,,,,,Support Tier 2,Agent,,,\n\
         add,plan.ghost,Welcome123!Ab,Gus,Ghost,,No Such Profile,Agent,,,\n\
         add,plan.member,Welcome123!Ab,Mel,Elsewhere,member.elsewhere@plan.example.com,Basic Routing Profile,Agent,member.elsewhere@plan.example.com,Northwind Support,Agent\n\
         add,plan.seatless,Welcome123!Ab,Sam,Seatless,sam.seatless@plan.example.com,Basic Routing Profile,Agent,sam.seatless@plan.example.com,Northwind Support,Agent\n\
         add,plan.over,Welcome123!Ab,Ola,Over,,Basic Routing Profile,Agent,,,\n\
         add,plan.weak,weakpass,Wes,Weak,,Basic Routing Profile,Agent,,,\n\
         remove,bcosta,,,,,,,,,\n\
         add,plan.after,Welcome123!Ab,Abe,After,,Basic Routing Profile,Agent,,,\n",
    );
    let connect_before = stage.connect.snapshot();
    let salesforce_users_before = stage.salesforce.snapshot().users;

    let (code, out, err) = scratch.run(&["plan", "--config", config.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 1, "rows would fail: {out}\n{err}");
    assert!(out.contains("plan: 2 to create, 1 to update, 1 unchanged, 1 to remove, 5 would fail"), "{out}");
    assert_eq!(stage.connect.writes(), 0, "no Connect write: {:?}", stage.connect.counters().calls);
    assert_eq!(stage.salesforce.writes(), 0, "no Salesforce write");
    let unchanged = |now: serde_json::Value, before: serde_json::Value| assert_eq!(now, before, "nothing changed");
    unchanged(serde_json::json!(stage.connect.snapshot().instances), serde_json::json!(connect_before.instances));
    unchanged(serde_json::json!(stage.salesforce.snapshot().users), serde_json::json!(salesforce_users_before));

    let plan = scratch.report("plan.plan.csv");
    let line = |row: &str| plan.iter().find(|l| l["Row"] == row).unwrap_or_else(|| panic!("no row {row}: {plan:?}"));
    let expect = |row: &str, verdict: &str, reason: &str| {
        let line = line(row);
        assert_eq!(line["Plan"], verdict, "row {row}: {line:?}");
        assert!(line["Reason"].contains(reason), "row {row}: {line:?}");
    };
    expect("2", "create", "");
    assert_eq!((line("2")["AmazonConnect"].as_str(), line("2")["Salesforce"].as_str()), ("create", "create"));
    expect("3", "no change", "");
    expect("4", "update", "");
    assert_eq!(line("4")["AmazonConnect"], "update (routing profile)");
    expect("5", "fail", "Amazon Connect: the instance has no routing profile named \"No Such Profile\"");
    expect("6", "fail", "Salesforce: the user belongs to the contact center \"Support EMEA\"");
    expect("7", "fail", "Salesforce: no Salesforce Voice User permission set license is left");
    expect("8", "fail", &format!("Amazon Connect: the instance would hold more users than its quota of {quota}"));
    expect("9", "fail", "invalid: column \"password\"");
    expect("10", "remove", "");
    // The remove above makes room for one more.
    expect("11", "create", "");
    let everything = format!("{out}{err}{}", std::fs::read_to_string(scratch.path("plan.plan.csv")).unwrap());
    for password in passwords_of(&input) {
        assert!(!everything.contains(&password), "a password reached the plan's output");
    }

    // The run does what the plan said: the rows it said would fail fail, the others succeed.
    let (_, out, err) = scratch.run(&["run", "-q", "--config", config.to_str().unwrap(), input.to_str().unwrap()]);
    assert!(stage.connect.writes() > 0 && stage.salesforce.writes() > 0, "the counters see a run's writes");
    let report = scratch.report("plan.report.csv");
    for (line, outcome) in plan.iter().zip(&report) {
        let expected: &[&str] = if line["Plan"] == "fail" { &["FAILED", "INVALID"] } else { &["SUCCEEDED"] };
        assert!(expected.contains(&outcome["Status"].as_str()), "plan {line:?}, run {outcome:?}\n{out}\n{err}");
    }
}

#[test]
fn the_native_example_plans_on_the_embedded_sandboxes() {
    let scratch = Scratch::new();
    let input = scratch.copy_example("ccbulk-agents.csv");
    let (code, out, err) = scratch.run(&["plan", input.to_str().unwrap()]);
    // The binary fails a plan that made any write on its embedded sandboxes (exit 2).
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("plan: 25 to create, 2 to update, 0 unchanged, 1 to remove, 0 would fail"), "{out}");
    assert!(out.contains("nothing was written"), "{out}");
    let plan = scratch.report("ccbulk-agents.plan.csv");
    assert_eq!(plan.len(), 28);
    assert!(plan.iter().all(|line| !line["Plan"].is_empty()), "{plan:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// Export

#[test]
fn an_export_run_unchanged_writes_nothing_and_carries_both_sides() {
    let stage = Stage::start(|_, _| {});
    let scratch = Scratch::new();
    let config = stage.config(&scratch);
    let config = config.to_str().unwrap();
    let seed = scratch.write(
        "seed.csv",
        "action,username,password,first_name,last_name,email,mobile,routing_profile,security_profiles,hierarchy_group,phone_type,desk_phone_number,auto_accept,acw_timeout,tags,contact_center,role\n\
         add,ana.lima@ex.io,Welcome123!Ab,Ana,Lima,ana.lima@ex.io,+14155550101,Support Tier 1,Agent|CallCenterManager,Support/Tier 1,desk,+14155550123,yes,30,team=blue|site=Austin,Northwind Support,Supervisor\n\
         add,bo.chen@ex.io,Welcome123!Ab,Bo,Chen,bo.chen@ex.io,,Sales Inbound,Agent,Sales/East,soft,,no,45,team=green,Northwind Support,Agent\n\
         add,cy.dube,Welcome123!Ab,Cy,Dube,,,Basic Routing Profile,Agent,,soft,,no,0,,,\n",
    );
    let (code, out, err) = scratch.run(&["run", "-q", "--config", config, seed.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");

    let export = scratch.path("export.csv");
    let (code, out, err) = scratch.run(&["export", "--config", config, "--out", export.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let users = stage.connect_users().len();
    assert!(err.contains(&format!("exported {users} users (2 with their Salesforce user)")), "{err}");
    let rows = scratch.report("export.csv");
    assert_eq!(rows.len(), users);
    let row = |name: &str| rows.iter().find(|r| r["username"] == name).unwrap_or_else(|| panic!("{name}: {rows:?}"));
    let ana = row("ana.lima@ex.io");
    let expected = [
        ("action", "update"),
        ("first_name", "Ana"),
        ("email", "ana.lima@ex.io"),
        ("mobile", "+14155550101"),
        ("routing_profile", "Support Tier 1"),
        ("hierarchy_group", "Support/Tier 1"),
        ("phone_type", "desk"),
        ("desk_phone_number", "+14155550123"),
        ("auto_accept", "yes"),
        ("acw_timeout", "30"),
        ("tags", "site=Austin|team=blue"),
        ("sf_username", "ana.lima@ex.io"),
        ("contact_center", "Northwind Support"),
        ("role", "CallCenterManager"),
    ];
    for (column, value) in expected {
        assert_eq!(ana[column], value, "{column}: {ana:?}");
    }
    let mut profiles: Vec<&str> = ana["security_profiles"].split('|').collect();
    profiles.sort_unstable();
    assert_eq!(profiles, ["Agent", "CallCenterManager"]);
    assert_eq!((row("cy.dube")["sf_username"].as_str(), row("cy.dube")["role"].as_str()), ("", ""));

    // The export, planned and run as it is: nothing to change, nothing written.
    let (code, out, err) = scratch.run(&["plan", "--config", config, export.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(&format!("plan: 0 to create, 0 to update, {users} unchanged")), "{out}");
    let writes = (stage.connect.writes(), stage.salesforce.writes());
    let (code, out, err) = scratch.run(&["run", "-q", "--config", config, export.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(&format!("SUCCEEDED: {users} rows: {users} succeeded")), "{out}");
    assert_eq!((stage.connect.writes(), stage.salesforce.writes()), writes, "a run of the export wrote something");
}

// ---------------------------------------------------------------------------------------------------------------
// Undo

#[test]
fn undo_puts_both_sides_back_and_leaves_a_user_changed_since_alone() {
    let stage = Stage::start(|_, _| {});
    let scratch = Scratch::new();
    let config = stage.config(&scratch);
    let config = config.to_str().unwrap();
    let member = "amara.okafor@northwind-support.com";
    let connect_before = stage.connect_users();
    let salesforce_before = stage.salesforce.snapshot().users;
    let job_file = scratch.write(
        "job.csv",
        &format!(
            "action,username,password,first_name,last_name,email,routing_profile,security_profiles,hierarchy_group,acw_timeout,tags,sf_username,contact_center,role\n\
             add,undo.new,Welcome123!Ab,Una,New,,Basic Routing Profile,Agent,,,team=blue,,,\n\
             update,uqureshi,,Umar,,,Support Tier 2,Agent|CallCenterManager,Support/Tier 1,45,team=red|site=Oslo,,,\n\
             update,vrossi,,,,,Support Tier 2,,,,,,,\n\
             update,bcosta,,,,,,,,,,{member},Northwind Support,Agent\n\
             add,undo.sf,Welcome123!Ab,Sol,Force,undo.sf@undo.example.com,Basic Routing Profile,Agent,,,,undo.sf@undo.example.com,Northwind Support,Agent\n"
        ),
    );
    let (code, out, err) = scratch.run(&["run", "-q", "--config", config, job_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let job = out.split("job ").nth(1).unwrap().split(',').next().unwrap().to_owned();
    let joined = stage.salesforce.snapshot().users.into_iter().find(|u| u.username == member).unwrap();
    assert_eq!(joined.call_center.as_deref(), Some("Northwind Support"), "the job put the member in");

    // Someone changes vrossi again after the job.
    let later = scratch.write("later.csv", "action,username,routing_profile\nupdate,vrossi,Sales Inbound\n");
    let (code, out, err) = scratch.run(&["run", "-q", "--config", config, later.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");

    let (code, out, err) = scratch.run(&["undo", &job, "--config", config]);
    assert_eq!(code, 1, "one user was left alone: {out}\n{err}");
    assert!(out.contains("4 rows undone, 1 left alone (changed since the job)"), "{out}");
    let report = scratch.report("job.undo.csv");
    let line =
        |user: &str| report.iter().find(|l| l["Username"] == user).unwrap_or_else(|| panic!("{user}: {report:?}"));
    assert_eq!(line("vrossi")["Undo"], "left alone", "{report:?}");
    assert!(line("vrossi")["Detail"].contains("Amazon Connect: changed since the job (routing profile)"), "{report:?}");
    assert_eq!(line("undo.new")["Detail"], "Amazon Connect: removed the user the job created");

    // Both sides stand as before the job, but for vrossi (the later job's) and the Salesforce user the job created,
    // which Salesforce cannot delete: it is out of the contact center, without a Voice set, and inactive.
    let comparable = |users: Vec<ccbulk_sandbox::connect::UserSnapshot>| {
        let mut users: Vec<_> = users.into_iter().filter(|u| u.username != "vrossi").collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        serde_json::json!(users)
    };
    assert_eq!(comparable(stage.connect_users()), comparable(connect_before.clone()));
    let vrossi = stage.connect_users().into_iter().find(|u| u.username == "vrossi").unwrap();
    assert_eq!(vrossi.routing_profile, "Sales Inbound", "newer work is kept");
    let salesforce_after = stage.salesforce.snapshot().users;
    let created = salesforce_after.iter().find(|u| u.username == "undo.sf@undo.example.com").unwrap();
    assert!(!created.active && created.call_center.is_none(), "{created:?}");
    assert!(created.permission_sets.iter().all(|set| !set.contains("Contact Center")), "{created:?}");
    let others = |users: Vec<ccbulk_sandbox::salesforce::SalesforceUserSnapshot>| {
        let mut users: Vec<_> = users.into_iter().filter(|u| u.username != "undo.sf@undo.example.com").collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        serde_json::json!(users)
    };
    assert_eq!(others(salesforce_after), others(salesforce_before));

    // Undone twice, nothing more happens: every user stands as undo left it.
    let writes = (stage.connect.writes(), stage.salesforce.writes());
    let (_, out, _) = scratch.run(&["undo", &job, "--config", config]);
    // The users the first undo put back stand as before the job: nothing to put back; the rest are left alone.
    assert!(out.contains("0 rows undone, 3 left alone (changed since the job), 2 with nothing to put back"), "{out}");
    let (_, jobs, _) = scratch.run(&["status"]);
    assert_eq!(jobs.matches("undo/").count(), 2, "each undo is a job of its own: {jobs}");
    assert_eq!((stage.connect.writes(), stage.salesforce.writes()), writes);
}

/// A Connect user created by an attempt whose answer was lost (the call went through, and the 502 that came back
/// leaves the attempt no user to record) is found by the next attempt under the row's own mark: its undo image says
/// created, and undo removes it. Before, the next attempt took it for a user that was there before the job, and undo
/// left it in place.
#[test]
fn a_user_created_by_an_attempt_whose_answer_was_lost_is_the_jobs_own_and_undo_removes_it() {
    let stage = Stage::start(|connect, _| {
        connect.knobs.faults.insert("CreateUser".into(), FaultRates { lost_answer: 1.0, ..FaultRates::default() });
    });
    let scratch = Scratch::new();
    let config = stage.config(&scratch);
    let config = config.to_str().unwrap();
    let before = stage.connect_users();
    let job_file = scratch.write(
        "lost.csv",
        "action,username,password,first_name,last_name,routing_profile,security_profiles,tags\n\
         add,lost.answer,Welcome123!Ab,Lou,Answer,Basic Routing Profile,Agent,team=blue\n",
    );
    let (code, out, err) = scratch.run(&["run", "-q", "--config", config, job_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let job = out.split("job ").nth(1).unwrap().split(',').next().unwrap().to_owned();
    let counters = stage.connect.counters();
    assert!(counters.injected_errors.get("CreateUser").copied().unwrap_or(0) >= 1, "{counters:?}");
    let made = stage.connect_users().into_iter().filter(|u| u.username == "lost.answer").count();
    assert_eq!(made, 1, "one user, adopted by the next attempt");

    let (code, out, err) = scratch.run(&["undo", &job, "--config", config]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("1 rows undone"), "{out}");
    let report = scratch.report("lost.undo.csv");
    assert_eq!(report[0]["Detail"], "Amazon Connect: removed the user the job created", "{report:?}");
    assert_eq!(stage.connect_users().len(), before.len(), "the user the job created is gone");
}

/// An undo that died half-way (it put back the routing profile, not yet the security profiles) is finished by the
/// next: a part that already stands as it was before the job counts as put back, not as changed since. Before, the
/// next undo left the user alone ("changed since the job: routing profile"), half put back for good.
#[test]
fn an_undo_finishes_what_a_half_finished_one_put_back() {
    let stage = Stage::start(|_, _| {});
    let scratch = Scratch::new();
    let config = stage.config(&scratch);
    let config = config.to_str().unwrap();
    let user = |stage: &Stage| stage.connect_users().into_iter().find(|u| u.username == "uqureshi").unwrap();
    let before = user(&stage);
    assert_ne!(before.routing_profile, "Support Tier 2");
    let job_file = scratch.write(
        "job.csv",
        "action,username,routing_profile,security_profiles\nupdate,uqureshi,Support Tier 2,Agent|CallCenterManager\n",
    );
    let (code, out, err) = scratch.run(&["run", "-q", "--config", config, job_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let job = out.split("job ").nth(1).unwrap().split(',').next().unwrap().to_owned();
    assert_ne!(user(&stage).security_profiles, before.security_profiles);

    // The first undo put the routing profile back, and died before the security profiles.
    let half = scratch
        .write("half.csv", &format!("action,username,routing_profile\nupdate,uqureshi,{}\n", before.routing_profile));
    let (code, out, err) = scratch.run(&["run", "-q", "--config", config, half.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");

    let (code, out, err) = scratch.run(&["undo", &job, "--config", config]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("1 rows undone"), "{out}");
    let report = scratch.report("job.undo.csv");
    assert_eq!(report[0]["Detail"], "Amazon Connect: put back security profiles", "{report:?}");
    let after = user(&stage);
    assert_eq!((after.routing_profile, after.security_profiles), (before.routing_profile, before.security_profiles));
}

/// A row whose Salesforce side is done and whose Connect side then fails for good (a hierarchy group the instance
/// does not have) ends FAILED with what the Salesforce side did: undo puts that half back. Before, a FAILED row kept
/// no undo image, and undo left the Salesforce user it created in the contact center.
#[test]
fn undo_puts_back_the_half_a_failed_row_did() {
    let stage = Stage::start(|_, _| {});
    let scratch = Scratch::new();
    let config = stage.config(&scratch);
    let config = config.to_str().unwrap();
    let job_file = scratch.write(
        "half.csv",
        "action,username,password,first_name,last_name,email,routing_profile,security_profiles,hierarchy_group,\
         sf_username,contact_center,role\n\
         add,half.done,Welcome123!Ab,Hal,Done,half.done@undo.example.com,Basic Routing Profile,Agent,No/Such/Group,\
         half.done@undo.example.com,Northwind Support,Agent\n",
    );
    let (code, out, err) = scratch.run(&["run", "-q", "--config", config, job_file.to_str().unwrap()]);
    assert_eq!(code, 1, "the row fails: {out}\n{err}");
    assert!(out.contains("No/Such/Group"), "{out}");
    let job = out.split("job ").nth(1).unwrap().split(',').next().unwrap().to_owned();
    let joined = |stage: &Stage| {
        stage.salesforce.snapshot().users.into_iter().find(|u| u.username == "half.done@undo.example.com").unwrap()
    };
    assert_eq!(joined(&stage).call_center.as_deref(), Some("Northwind Support"), "the Salesforce half was done");

    let (code, out, err) = scratch.run(&["undo", &job, "--config", config]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("1 rows undone"), "{out}");
    let user = joined(&stage);
    assert!(!user.active && user.call_center.is_none(), "the Salesforce user the row created is put back: {user:?}");
}
