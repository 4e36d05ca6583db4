//! Provisioning chunks over the ports (SQLite job store, in-process queue, local files) into both sandboxes:
//! redelivered chunks do nothing twice, a failure worth retrying waits for the next delivery until its attempts
//! run out, and the last row settles the job.

#[path = "../examples/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ccbulk_sandbox::connect::{ConnectSandbox, FaultRates, Knobs, Op, QuotaSpec};
use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::seed::{PermissionSetSeed, SalesforceSeed, UserSeed};
use ccbulk_sandbox::salesforce::{BulkKnobs, SalesforceFaults, SalesforceKnobs, SalesforceSandbox};
use ccbulk_shared::connect::{Pacer, RateBudget, Retries};
use ccbulk_shared::domain::{IdentityManagement, TelephonyModel};
use ccbulk_shared::job::{DynamoJobStore, Job, JobState, JobStore, RowRecord, RowStatus, SqliteJobStore};
use ccbulk_shared::pipeline::{
    LocalFiles, MemoryQueue, RetryError, RetryPolicy, SweepRules, Targets, Verdict, fail_ingest, fail_unfinished,
    ingest, nudge, provision_chunk, retry_failed, verdict,
};
use ccbulk_shared::salesforce::SalesforceSync;
use ccbulk_shared::validate::Options;
use ccbulk_testkit::{Fault, FaultyDynamo, aws_config_for, create_jobs_table, moto, unique};

const FAST: RateBudget =
    RateBudget { write_per_second: 10_000.0, write_burst: 10_000, read_per_second: 10_000.0, read_burst: 10_000 };

struct World {
    connect: ConnectSandbox,
    salesforce: SalesforceSandbox,
    targets: Targets,
}

async fn world() -> World {
    world_with(examples::salesforce_seed()).await
}

async fn world_with(org: SalesforceSeed) -> World {
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut seed = examples::connect_seed();
    seed.knobs = Knobs {
        quotas: Op::ALL.iter().map(|op| (op.name().to_owned(), QuotaSpec { rate: 10_000.0, burst: 10_000 })).collect(),
        ..Knobs::default()
    };
    let connect = ConnectSandbox::start(seed, loopback).await.unwrap();
    let salesforce = SalesforceSandbox::start(org, loopback).await.unwrap();
    let targets = Targets {
        // Two tries a call, soon after each other: a fault that lasts is the next delivery's to retry.
        connect: Some(common::connect_target(
            &connect,
            Pacer::new(FAST).with_retries(Retries {
                attempts: 2,
                first: Duration::from_millis(20),
                ..Retries::default()
            }),
        )),
        salesforce: Some(common::salesforce_target(&salesforce, SalesforceSync::Direct)),
        salesforce_out: None,
    };
    World { connect, salesforce, targets }
}

fn never_stop() -> bool {
    true
}

/// The agents example ingested into a fresh store, its chunks of `chunk_rows` rows on a fresh queue.
async fn ingest_example(chunk_rows: u32) -> (SqliteJobStore, MemoryQueue, Job) {
    let store = SqliteJobStore::in_memory().unwrap();
    let queue = MemoryQueue::default();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ccbulk-agents.csv");
    let object = LocalFiles::object(&path).unwrap();
    let options = Options { chunk_rows, ..Options::default() };
    let job = ingest(&store, &queue, path.as_path(), object, &options).await.unwrap().job;
    (store, queue, job)
}

#[tokio::test]
async fn every_chunk_delivered_twice_does_its_rows_once() {
    let world = world().await;
    let (store, queue, job) = ingest_example(6).await;
    let mut messages = Vec::new();
    while let Some(message) = queue.receive() {
        messages.push(message);
    }
    assert_eq!(messages.len(), 5);
    let policy = RetryPolicy::default();
    let mut first = 0;
    for message in &messages {
        let report = provision_chunk(&store, &LocalFiles, &world.targets, message, policy, &never_stop).await.unwrap();
        assert!(!report.needs_redelivery(), "{report:?}");
        first += report.succeeded;
    }
    assert_eq!(first, 28);
    let creates = world.connect.snapshot().counters.calls.get("CreateUser").copied();
    for message in &messages {
        let report = provision_chunk(&store, &LocalFiles, &world.targets, message, policy, &never_stop).await.unwrap();
        assert_eq!((report.skipped, report.succeeded), (message.chunk.rows, 0));
    }
    assert_eq!(world.connect.snapshot().counters.calls.get("CreateUser").copied(), creates);
    let job = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((job.state, job.counts.succeeded), (JobState::Succeeded, 28));
    let row = store.row(&job.id, 2).await.unwrap().unwrap();
    assert!(row.outcome.connect_user_id.is_some() && row.outcome.salesforce_user_id.is_some());
    assert!(row.outcome.permission_set_assignment_id.is_some());
    assert!(row.outcome.quick_connect_id.is_some(), "row 2 asks for a quick connect");
}

#[tokio::test]
async fn a_retryable_failure_waits_for_the_next_delivery_until_its_attempts_run_out() {
    let world = world().await;
    let mut knobs = world.connect.knobs();
    knobs
        .faults
        .insert("CreateUser".into(), FaultRates { internal_error: 1.0, throttle: 0.0, ..FaultRates::default() });
    world.connect.set_knobs(knobs);
    let store = SqliteJobStore::in_memory().unwrap();
    let queue = MemoryQueue::default();
    let file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    std::fs::write(
        file.path(),
        "action,username,password,first_name,last_name,routing_profile,security_profiles\n\
         add,retry.me,Welcome123!Ab,Rita,Retry,Basic Routing Profile,Agent\n\
         update,uqureshi,,Umar,Qureshi,Support Tier 1,Agent\n",
    )
    .unwrap();
    let object = LocalFiles::object(file.path()).unwrap();
    let job = ingest(&store, &queue, file.path(), object, &Options::default()).await.unwrap().job;
    let message = queue.receive().unwrap();
    let policy = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };

    let first = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
    assert_eq!((first.succeeded, first.deferred, first.failed), (1, 1, 0), "{first:?}");
    assert!(first.retry_reason.unwrap().contains("InternalServiceException"));
    assert_eq!(store.row(&job.id, 2).await.unwrap().unwrap().status, RowStatus::InProgress);
    assert_eq!(store.job(&job.id).await.unwrap().unwrap().state, JobState::Running);

    let second = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
    assert_eq!((second.skipped, second.failed, second.deferred), (1, 1, 0), "{second:?}");
    let row = store.row(&job.id, 2).await.unwrap().unwrap();
    assert_eq!((row.status, row.attempts), (RowStatus::Failed, 2));
    assert!(row.outcome.error_message.unwrap().starts_with("Amazon Connect: InternalServiceException"));
    assert_eq!(second.job_state, Some(JobState::CompletedWithErrors));

    // A redelivery leaves the failed row alone; after a rerun reopens it, a stop asked for before the row's calls
    // leaves it for the next delivery.
    let again = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
    assert_eq!((again.skipped, again.deferred, again.failed), (2, 0, 0), "{again:?}");
    assert_eq!(store.reopen_failed(&job.id).await.unwrap(), 1);
    let stopped = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &|| false).await.unwrap();
    assert_eq!((stopped.deferred, stopped.failed, stopped.succeeded), (1, 0, 0));
}

/// A retry puts the failed rows back and sends only the chunks that hold them, in a round of their own; the row
/// that succeeded is not worked again, and the counters stay true throughout.
#[tokio::test]
async fn a_retry_works_the_failed_rows_again_and_no_others() {
    let world = world().await;
    let (store, queue) = (SqliteJobStore::in_memory().unwrap(), MemoryQueue::default());
    let options = Options { chunk_rows: 1, ..Options::default() };
    let policy = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
    let (file, failed, mut knobs) = two_adds_failed(&world, &store, &queue, &options).await;
    let job = failed.clone();

    // The file as a stack keeps it once the job ended, without passwords, no longer gives the adds whole: they stay
    // FAILED, counted, and nothing is sent.
    let copy = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    std::fs::write(copy.path(), std::fs::read_to_string(file.path()).unwrap().replace("Welcome123!Ab", "")).unwrap();
    let left = retry_failed(&store, &queue, copy.path(), &failed, &options).await.unwrap();
    assert_eq!((left.rows, left.chunks, left.left, queue.len()), (0, 0, 2, 0));
    assert_eq!(store.job(&job.id).await.unwrap().unwrap().counts.failed, 2, "still FAILED");

    knobs.faults.clear();
    world.connect.set_knobs(knobs);
    let calls_before = world.connect.counters().calls;
    let retried = retry_failed(&store, &queue, file.path(), &failed, &options).await.unwrap();
    assert_eq!((retried.rows, retried.chunks), (2, 2), "the two chunks of the failed rows, not the first");
    let running = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!(running.state, JobState::Running);
    assert_eq!((running.counts.succeeded, running.counts.pending, running.counts.failed), (1, 2, 0));
    let mut rows = Vec::new();
    while let Some(message) = queue.receive() {
        assert_ne!(message.round, 0, "a round of its own");
        rows.push(message.chunk.first_row);
        let report = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
        assert_eq!((report.succeeded, report.skipped), (1, 0), "{report:?}");
    }
    assert_eq!(rows, [3, 4]);
    let done = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((done.state, done.counts.succeeded, done.counts.failed), (JobState::Succeeded, 3, 0));
    let calls = world.connect.counters().calls;
    let since = |op: &str| calls.get(op).copied().unwrap_or(0) - calls_before.get(op).copied().unwrap_or(0);
    assert_eq!(since("CreateUser"), 2);
    assert_eq!(store.row(&job.id, 2).await.unwrap().unwrap().attempts, 1, "row 2 was not started again");

    // Nothing failed is left: another retry sends nothing.
    let again = retry_failed(&store, &queue, file.path(), &done, &options).await.unwrap();
    assert_eq!((again.rows, again.chunks, queue.len()), (0, 0, 0));
}

/// A job of three rows whose two adds failed (CreateUser answered InternalServiceException, the fault still on),
/// COMPLETED_WITH_ERRORS; its file, the job, and the Connect sandbox's knobs with the fault.
async fn two_adds_failed(
    world: &World,
    store: &SqliteJobStore,
    queue: &MemoryQueue,
    options: &Options,
) -> (tempfile::NamedTempFile, Job, Knobs) {
    let broken = FaultRates { internal_error: 1.0, throttle: 0.0, ..FaultRates::default() };
    let mut knobs = world.connect.knobs();
    knobs.faults.insert("CreateUser".into(), broken);
    world.connect.set_knobs(knobs.clone());
    let file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    std::fs::write(
        file.path(),
        "action,username,password,first_name,last_name,routing_profile,security_profiles\n\
         update,uqureshi,,Umar,Qureshi,Support Tier 1,Agent\n\
         add,retry.one,Welcome123!Ab,Rita,One,Basic Routing Profile,Agent\n\
         add,retry.two,Welcome123!Ab,Rory,Two,Basic Routing Profile,Agent\n",
    )
    .unwrap();
    let object = LocalFiles::object(file.path()).unwrap();
    let job = ingest(store, queue, file.path(), object, options).await.unwrap().job;
    let policy = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
    while let Some(message) = queue.receive() {
        provision_chunk(store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
    }
    let failed = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((failed.state, failed.counts.succeeded, failed.counts.failed), (JobState::CompletedWithErrors, 1, 2));
    (file, failed, knobs)
}

/// A retry that read the job before the worker that ended it recorded the copy without passwords (and so went on to
/// delete the upload): the rows it reopens stay PENDING, it sends nothing from the upload and says the file moved,
/// and a retry from the copy sends them.
#[tokio::test]
async fn a_retry_that_read_the_job_before_its_copy_was_recorded_sends_nothing_from_the_upload() {
    let world = world().await;
    let (store, queue) = (SqliteJobStore::in_memory().unwrap(), MemoryQueue::default());
    let options = Options { chunk_rows: 1, ..Options::default() };
    let (file, read_before, _) = two_adds_failed(&world, &store, &queue, &options).await;
    let copy_file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    std::fs::copy(file.path(), copy_file.path()).unwrap();
    let copy = LocalFiles::object(copy_file.path()).unwrap();
    assert!(store.set_scrubbed(&read_before.id, &copy).await.unwrap(), "no row to work: the copy is recorded");

    let moved = retry_failed(&store, &queue, file.path(), &read_before, &options).await;
    assert!(matches!(moved, Err(RetryError::FileMoved(_))), "{moved:?}");
    assert_eq!(queue.len(), 0, "no chunk points at the upload the scrub deletes");
    let now = store.job(&read_before.id).await.unwrap().unwrap();
    assert_eq!((now.counts.pending, now.counts.failed), (2, 0), "the reopened rows wait for the next retry");
    assert!(!store.set_scrubbed(&now.id, &copy).await.unwrap(), "rows to work: no copy is recorded over them");

    let retried = retry_failed(&store, &queue, copy_file.path(), &now, &options).await.unwrap();
    assert_eq!(retried.chunks, 2, "{retried:?}");
    while let Some(message) = queue.receive() {
        assert_eq!(&message.object, now.file(), "the chunks read the copy");
    }
}

/// Salesforce refuses records it cannot lock (UNABLE_TO_LOCK_ROW) and writes nothing for them: those rows wait for
/// the chunk's next delivery instead of failing, and end SUCCEEDED with one Salesforce user each.
#[tokio::test]
async fn rows_salesforce_could_not_lock_wait_for_the_next_delivery_and_succeed() {
    use ccbulk_sandbox::salesforce::{SalesforceFaults, SalesforceKnobs};
    let world = world().await;
    let users_before = world.salesforce.snapshot().users.len();
    let faults = SalesforceFaults { row_lock: 0.4, ..SalesforceFaults::default() };
    let knobs = SalesforceKnobs { faults: [("collections".to_owned(), faults)].into(), ..SalesforceKnobs::default() };
    world.salesforce.set_knobs(knobs);
    let (store, queue, job) = ingest_example(28).await;
    let message = queue.receive().unwrap();
    let policy = RetryPolicy { max_attempts: 50, ..RetryPolicy::default() };
    let mut deliveries = 0;
    let mut deferred_for_locks = 0;
    loop {
        deliveries += 1;
        assert!(deliveries <= 50, "the locks never let go");
        let report = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
        if !report.needs_redelivery() {
            break;
        }
        assert!(report.retry_reason.as_deref().unwrap_or_default().contains("UNABLE_TO_LOCK_ROW"), "{report:?}");
        deferred_for_locks += report.deferred;
    }
    assert!(deferred_for_locks > 0, "some rows met a lock");
    let job = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((job.state, job.counts.succeeded), (JobState::Succeeded, 28), "no row failed for a lock");
    let org = world.salesforce.snapshot();
    assert!(org.users.len() > users_before, "the adds' users were made");
    let mut usernames: Vec<String> = org.users.iter().map(|u| u.username.to_lowercase()).collect();
    usernames.sort();
    let count = usernames.len();
    usernames.dedup();
    assert_eq!(count, usernames.len(), "no Salesforce user made twice");
}

/// The org's API allocation spent (REQUEST_LIMIT_EXCEEDED) is a pause, not a failure: no row is worked or charged an
/// attempt, the job says it is paused and why, and once calls come back the chunk goes on and the pause is cleared.
/// Nearing the end of the allocation, calls are spaced out first.
#[tokio::test]
async fn a_spent_salesforce_allocation_pauses_the_job_until_calls_come_back() {
    let world = world().await;
    let (store, queue, job) = ingest_example(28).await;
    let message = queue.receive().unwrap();
    let policy = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };

    world.salesforce.set_api_usage(100_000, 100_000);
    for _ in 0..3 {
        let report = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
        let reason = report.paused.as_deref().unwrap_or_else(|| panic!("the chunk paused: {report:?}"));
        assert!(reason.contains("REQUEST_LIMIT_EXCEEDED"), "{reason}");
        assert_eq!((report.succeeded, report.failed), (0, 0));
    }
    let paused = store.job(&job.id).await.unwrap().unwrap();
    assert!(paused.paused.as_ref().is_some_and(|p| p.reason.contains("used up")), "{paused:?}");
    assert_eq!(paused.state, JobState::Running);
    let rows = store.rows(&job.id, None, 100, None).await.unwrap().items;
    assert!(rows.iter().all(|r| r.attempts == 0), "three paused deliveries charged no attempt: {rows:?}");

    // The rolling window gives calls back, though few: calls are spaced out near the end, and the chunk finishes.
    world.salesforce.set_api_usage(950_000, 1_000_000);
    let report = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
    assert_eq!((report.paused.as_deref(), report.deferred), (None, 0), "{report:?}");
    let resumed = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((resumed.state, resumed.paused), (JobState::Succeeded, None));
    let client = &world.targets.salesforce.as_ref().unwrap().client;
    assert!(client.slowed_calls() > 0, "calls near the end of the allocation were spaced out");
    assert!(client.usage().is_some_and(|u| u.max == 1_000_000 && u.used > 950_000), "{:?}", client.usage());
}

/// `text` as a file of its own, ingested into `store` under Partner Telephony (rows with a Salesforce side only).
async fn ingest_partner_file(store: &SqliteJobStore, dir: &Path, name: &str, text: &str) -> (MemoryQueue, Job) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let queue = MemoryQueue::default();
    let options = Options { telephony_model: TelephonyModel::PartnerTelephony, ..Options::default() };
    let job = ingest(store, &queue, path.as_path(), LocalFiles::object(&path).unwrap(), &options).await.unwrap().job;
    (queue, job)
}

/// Salesforce keeps an existing user's email until the new address's owner confirms it, and every request mails
/// another link: the row says a confirmation was sent, a rerun within the link's 72 hours does not ask again, and
/// once the owner has confirmed there is nothing left to change.
#[tokio::test]
async fn an_email_change_waits_for_its_confirmation_and_a_rerun_does_not_send_another() {
    let world = world().await;
    let store = SqliteJobStore::in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let user = "ines.ferreira@tailspin.io";
    let file = |first_name: &str| {
        format!("action,sf_user_id,first_name,email\nupdate,005Hn0000d53x83IAA,{first_name},ines@new.example.com\n")
    };
    let mut notes = Vec::new();
    for (run, first_name) in ["Ines", "Inês", "Inês"].into_iter().enumerate() {
        if run == 2 {
            assert!(world.salesforce.confirm_email(user), "the owner follows the link");
        }
        let (queue, job) = ingest_partner_file(&store, dir.path(), &format!("run{run}.csv"), &file(first_name)).await;
        let message = queue.receive().unwrap();
        let report =
            provision_chunk(&store, &LocalFiles, &world.targets, &message, RetryPolicy::default(), &never_stop)
                .await
                .unwrap();
        assert_eq!(report.succeeded, 1, "run {run}: {report:?}");
        notes.push(store.row(&job.id, 2).await.unwrap().unwrap().outcome.note);
        let held = world.salesforce.snapshot().user(user).cloned().unwrap();
        assert_eq!(held.email_confirmations_sent, 1, "run {run}: one mail, however often the file runs");
        if run < 2 {
            assert_eq!(held.email, user, "run {run}: the address stays until confirmed");
            assert_eq!(held.pending_email.as_deref(), Some("ines@new.example.com"));
        } else {
            assert_eq!((held.email.as_str(), held.pending_email), ("ines@new.example.com", None));
        }
    }
    assert!(notes[0].as_deref().is_some_and(|n| n.contains("sent a confirmation")), "{notes:?}");
    assert!(notes[1].as_deref().is_some_and(|n| n.contains("was asked for 0 min ago")), "{notes:?}");
    assert_eq!(notes[2], None, "confirmed: nothing to say");
}

/// The world in bulkop mode: rows' Salesforce side goes through Salesforce's own bulk path, and the org is linked
/// to the Connect sandbox as Service Cloud Voice is.
async fn bulkop_world() -> World {
    let mut world = world().await;
    world.targets.salesforce.as_mut().unwrap().sync = SalesforceSync::Bulkop;
    // The instance the example's routing-profile ARNs name, in which Salesforce makes the users.
    world.targets.connect.as_mut().unwrap().instance_id = examples::SAML_INSTANCE_ID.into();
    world.salesforce.link_connect(world.connect.voice_link(), examples::SAML_INSTANCE_ID);
    world
}

async fn ingest_file(store: &SqliteJobStore, path: &Path, options: &Options) -> (MemoryQueue, Job) {
    let queue = MemoryQueue::default();
    let job = ingest(store, &queue, path, LocalFiles::object(path).unwrap(), options).await.unwrap().job;
    (queue, job)
}

#[tokio::test]
async fn bulkop_mode_sends_each_chunk_as_one_bulk_job_and_each_row_ends_as_salesforce_worked_it() {
    let world = bulkop_world().await;
    let store = SqliteJobStore::in_memory().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bulkop-amazon-connect.csv");
    let (queue, job) = ingest_file(&store, &path, &Options { chunk_rows: 10, ..Options::default() }).await;
    let mut messages = Vec::new();
    while let Some(message) = queue.receive() {
        messages.push(message);
    }
    let policy = RetryPolicy::default();
    let mut succeeded = 0;
    for message in &messages {
        let report = provision_chunk(&store, &LocalFiles, &world.targets, message, policy, &never_stop).await.unwrap();
        assert!(!report.needs_redelivery(), "{report:?}");
        succeeded += report.succeeded;
    }
    assert_eq!(succeeded, 26);
    assert_eq!(world.salesforce.snapshot().bulk_jobs.len(), messages.len(), "one bulk job per chunk");
    // Delivered again: nothing is submitted twice.
    for message in &messages {
        let report = provision_chunk(&store, &LocalFiles, &world.targets, message, policy, &never_stop).await.unwrap();
        assert_eq!(report.skipped, message.chunk.rows);
    }
    assert_eq!(world.salesforce.snapshot().bulk_jobs.len(), messages.len());

    let connect = world.connect.snapshot();
    assert_eq!(connect.created_by_salesforce.len(), 26, "Salesforce made every Connect user");
    assert_eq!(connect.counters.calls.get("CreateUser"), None, "ccbulk made none");
    let rows = store.rows(&job.id, None, 100, None).await.unwrap().items;
    assert!(rows.iter().all(|r| r.outcome.salesforce_user_id.is_some() && r.outcome.connect_user_id.is_some()));
    assert!(rows.iter().all(|r| r.outcome.note.as_deref().is_some_and(|n| n.contains("ccbulk adopted it"))));
    let jobs: std::collections::HashSet<_> =
        rows.iter().map(|r| r.outcome.voice_provisioning_job_id.clone().unwrap_or_default()).collect();
    assert_eq!(jobs.len(), messages.len(), "each row names its chunk's job: {jobs:?}");
    // Each row names the Connect user Salesforce made, under Service Cloud Voice's username.
    let saml = connect.instance(examples::SAML_INSTANCE_ID).unwrap();
    let made: std::collections::HashSet<&str> =
        connect.created_by_salesforce.iter().filter_map(|name| saml.user(name)).map(|u| u.id.as_str()).collect();
    assert!(rows.iter().all(|r| made.contains(r.outcome.connect_user_id.as_deref().unwrap())), "{rows:?}");
    let org = world.salesforce.snapshot();
    let amara = org.user("amara.okafor@northwind-support.com").unwrap();
    assert_eq!(amara.call_center.as_deref(), Some("Northwind Support"));
    assert_eq!(amara.permission_sets, vec!["ContactCenterSupervisor"]);
}

#[tokio::test]
async fn a_bulk_job_that_outlives_a_delivery_is_followed_by_the_next_and_bad_rows_fail_alone() {
    let world = bulkop_world().await;
    let store = SqliteJobStore::in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Two users of the example org's Partner Telephony contact center, one user the org does not have, and one
    // who belongs to another contact center by the time Salesforce works the row.
    let csv = "Argument1,Argument2,Argument5,BulkAction\n\
               ines.ferreira@tailspin.io,005Hn0000d53x83IAA,04vHn000000Z4aCIAS,AddUsers\n\
               jamal.brooks@tailspin.io,005Hn0000rzjZZZIA2,04vHn000000Z4aCIAS,AddUsers\n\
               nobody@tailspin.io,005Hn0000zzzzzzIAA,04vHn000000Z4aCIAS,AddUsers\n";
    let path = dir.path().join("partner.csv");
    std::fs::write(&path, csv).unwrap();
    let options = Options { telephony_model: TelephonyModel::PartnerTelephony, ..Options::default() };
    let (queue, job) = ingest_file(&store, &path, &options).await;
    let message = queue.receive().unwrap();

    // Salesforce works nothing while the first delivery looks: its time runs out waiting, and the rows go untried.
    let stalled = BulkKnobs { records_per_second: 0.0, ..BulkKnobs::default() };
    world.salesforce.set_knobs(SalesforceKnobs { bulk: stalled, ..SalesforceKnobs::default() });
    let started = std::time::Instant::now();
    let soon = move || started.elapsed() < Duration::from_millis(300);
    let policy = RetryPolicy::default();
    let first = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &soon).await.unwrap();
    assert!(first.waiting_on.as_deref().is_some_and(|w| w.contains("bulk job 750")), "{first:?}");
    assert!(first.ran_out_of_time_after_progress(), "waiting on Salesforce is worth going on with: {first:?}");
    assert_eq!(first.failed, 1, "the user the org lacks fails at once: {first:?}");
    let rows = store.rows(&job.id, None, 10, None).await.unwrap().items;
    assert!(rows.iter().all(|r| r.attempts <= 1), "{rows:?}");

    world.salesforce.set_knobs(SalesforceKnobs::default());
    let second = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
    assert_eq!((second.succeeded, second.waiting_on.as_deref()), (2, None), "{second:?}");
    assert_eq!(world.salesforce.snapshot().bulk_jobs.len(), 1, "the second delivery followed the first's job");
    let nobody = store.row(&job.id, 4).await.unwrap().unwrap();
    assert_eq!(nobody.status, RowStatus::Failed);
    assert!(nobody.outcome.error_message.as_deref().unwrap().contains("no such user"), "{nobody:?}");
    let org = world.salesforce.snapshot();
    assert_eq!(
        org.user("ines.ferreira@tailspin.io").unwrap().permission_sets,
        vec!["ContactCenterAgentPartnerTelephony"]
    );
}

/// A delivery lost after Salesforce opened the chunk's bulk job and before it closed it (here, its upload refused by
/// a Salesforce at fault) leaves the job Open, and recorded: the next delivery aborts it, so that Salesforce
/// processes none of it, and submits the rows once, in a new job. Before, a job was recorded only once it was
/// closed: the open one was left behind unknown (and a delivery lost between the close and the record submitted
/// the rows twice).
#[tokio::test]
async fn a_bulk_job_a_lost_delivery_left_open_is_aborted_and_the_rows_go_to_salesforce_once() {
    let world = bulkop_world().await;
    let store = SqliteJobStore::in_memory().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bulkop-partner-telephony.csv");
    let options = Options { telephony_model: TelephonyModel::PartnerTelephony, ..Options::default() };
    let (queue, job) = ingest_file(&store, &path, &options).await;
    let message = queue.receive().unwrap();
    let mut refusing = SalesforceKnobs::default();
    refusing.faults.insert("bulk_data".into(), SalesforceFaults { unavailable: 1.0, ..SalesforceFaults::default() });
    world.salesforce.set_knobs(refusing);
    let policy = RetryPolicy::default();
    let first = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
    assert!(first.needs_redelivery() && first.succeeded == 0, "{first:?}");
    let opened = world.salesforce.snapshot().bulk_jobs;
    assert_eq!(opened.iter().map(|j| j.state.as_str()).collect::<Vec<_>>(), ["Open"], "{opened:?}");

    world.salesforce.set_knobs(SalesforceKnobs::default());
    let second = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
    assert_eq!((second.succeeded, second.deferred), (message.chunk.rows, 0), "{second:?}");
    let jobs = world.salesforce.snapshot().bulk_jobs;
    let states: Vec<(&str, &str, usize)> = jobs.iter().map(|j| (j.id.as_str(), j.state.as_str(), j.records)).collect();
    assert_eq!(states.len(), 2, "{states:?}");
    assert_eq!((states[0].0, states[0].1), (opened[0].id.as_str(), "Aborted"), "the open job is never processed");
    assert_eq!((states[1].1, states[1].2), ("JobComplete", message.chunk.rows as usize), "each row once: {states:?}");
    let rows = store.rows(&job.id, None, 100, None).await.unwrap().items;
    assert!(rows.iter().all(|r| r.status == RowStatus::Succeeded), "{rows:?}");
    assert!(rows.iter().all(|r| r.outcome.voice_provisioning_job_id.as_deref() == Some(jobs[1].id.as_str())));
}

/// A bulk job whose ContactCenterBulkOp records Salesforce leaves Pending is not looked at for ever: each look
/// comes after a twentieth of the job's age, a look due later than a delivery should wait ends the delivery, which
/// says when the next is due and marks the job paused with the reason, and a day after the submit the rows that are
/// still not finished fail, saying so. Before, the chunk looked every 5 s and went on in a new message each time
/// its time ran out, for as long as Salesforce left the records Pending, spending the org's API allocation.
#[tokio::test]
async fn a_bulk_job_salesforce_leaves_pending_is_looked_at_less_and_less_and_given_up_after_a_day() {
    let world = bulkop_world().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ccbulk.sqlite");
    let store = SqliteJobStore::open(&state).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bulkop-partner-telephony.csv");
    let options = Options { telephony_model: TelephonyModel::PartnerTelephony, ..Options::default() };
    let (queue, job) = ingest_file(&store, &path, &options).await;
    let message = queue.receive().unwrap();
    let stalled = BulkKnobs { records_per_second: 0.0, ..BulkKnobs::default() };
    world.salesforce.set_knobs(SalesforceKnobs { bulk: stalled, ..SalesforceKnobs::default() });
    let policy = RetryPolicy::default();
    let started = std::time::Instant::now();
    let soon = move || started.elapsed() < Duration::from_millis(500);
    let first = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &soon).await.unwrap();
    assert!(first.ran_out_of_time_after_progress() && first.look_again_in.is_none(), "{first:?}");

    // Time passes: the job was submitted two hours ago (the clock the record keeps is the store's).
    let submitted_ago = |hours: u64| {
        let connection = rusqlite::Connection::open(&state).unwrap();
        let at = ccbulk_shared::job::now_epoch() - hours * 3600;
        connection.execute("UPDATE bulk_jobs SET recorded_at = ?1", [at as i64]).unwrap();
    };
    submitted_ago(2);
    let calls_before = world.salesforce.snapshot().counters.api_used;
    let looking = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop);
    let second = tokio::time::timeout(Duration::from_secs(60), looking).await.expect("the delivery ends").unwrap();
    let due = second.look_again_in.expect("the next look is due later");
    assert!((Duration::from_secs(300)..=Duration::from_secs(420)).contains(&due), "2 h / 20 = 6 min: {due:?}");
    assert!(second.ran_out_of_time_after_progress(), "sent on, not failed: {second:?}");
    let calls = world.salesforce.snapshot().counters.api_used - calls_before;
    // The rows' users and the contact centers (3 queries), the job and its 3 result lists, and one look at
    // the operations: not a loop.
    assert!(calls <= 8, "one look, not a loop: {calls} API requests");
    let paused = store.job(&job.id).await.unwrap().unwrap().paused.expect("the job says it waits");
    assert!(paused.reason.contains("looks again in 6 minutes"), "{paused:?}");
    let rows = store.rows(&job.id, None, 100, None).await.unwrap().items;
    let untouched = |r: &RowRecord| matches!(r.status, RowStatus::Pending | RowStatus::InProgress) && r.attempts == 0;
    assert!(rows.iter().all(untouched), "untouched, uncharged: {rows:?}");

    submitted_ago(25);
    let third = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
    assert_eq!((third.failed, third.deferred), (message.chunk.rows, 0), "{third:?}");
    let rows = store.rows(&job.id, None, 100, None).await.unwrap().items;
    for row in &rows {
        let reason = row.outcome.error_message.as_deref().unwrap_or_default();
        assert!(row.status == RowStatus::Failed && reason.contains("24 hours after ccbulk submitted it"), "{row:?}");
    }
    let ended = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((ended.state, ended.paused), (JobState::CompletedWithErrors, None), "ended, not waiting");
}

#[tokio::test]
async fn a_bulk_job_salesforce_fails_fails_its_rows_with_salesforces_reason() {
    let world = bulkop_world().await;
    let store = SqliteJobStore::in_memory().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bulkop-partner-telephony.csv");
    let options = Options { telephony_model: TelephonyModel::PartnerTelephony, ..Options::default() };
    let (queue, job) = ingest_file(&store, &path, &options).await;
    let failing = BulkKnobs { job_failure: Some("InvalidBatch : the sandbox says no".into()), ..BulkKnobs::default() };
    world.salesforce.set_knobs(SalesforceKnobs { bulk: failing, ..SalesforceKnobs::default() });
    let message = queue.receive().unwrap();
    let report = provision_chunk(&store, &LocalFiles, &world.targets, &message, RetryPolicy::default(), &never_stop)
        .await
        .unwrap();
    assert_eq!((report.succeeded, report.failed), (0, message.chunk.rows), "{report:?}");
    let row = store.row(&job.id, 2).await.unwrap().unwrap();
    assert!(row.outcome.error_message.as_deref().unwrap().contains("InvalidBatch : the sandbox says no"), "{row:?}");
}

#[tokio::test]
async fn a_bulkop_row_whose_routing_profile_is_in_another_instance_fails_before_any_job() {
    let mut world = bulkop_world().await;
    let other = world.connect.instance_id("ccbulk-sandbox").unwrap().to_owned();
    world.targets.connect.as_mut().unwrap().instance_id = other;
    let store = SqliteJobStore::in_memory().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bulkop-amazon-connect.csv");
    let (queue, job) = ingest_file(&store, &path, &Options { chunk_rows: 30, ..Options::default() }).await;
    let message = queue.receive().unwrap();
    let report = provision_chunk(&store, &LocalFiles, &world.targets, &message, RetryPolicy::default(), &never_stop)
        .await
        .unwrap();
    assert_eq!(report.failed, 26, "{report:?}");
    assert!(world.salesforce.snapshot().bulk_jobs.is_empty(), "nothing went to Salesforce");
    let row = store.row(&job.id, 2).await.unwrap().unwrap();
    assert!(row.outcome.error_message.as_deref().unwrap().contains("another Amazon Connect instance"), "{row:?}");
}

#[tokio::test]
async fn a_12000_row_bulkop_file_becomes_exactly_three_bulk_jobs_and_every_row_ends_as_salesforce_worked_it() {
    const ROWS: usize = 12_000;
    let mut org = examples::salesforce_seed();
    // 15-character ids, as admins export them: ccbulk widens them to the 18 characters Argument2 takes.
    let id = |i: usize| format!("005Sb{i:010}");
    org.users.extend((0..ROWS).map(|i| UserSeed { id: Some(id(i)), ..UserSeed::standard(&format!("agent{i}")) }));
    let mut world = world_with(org).await;
    // The default mode: a file of ContactCenterBulkOp rows takes Salesforce's own path.
    world.targets.salesforce.as_mut().unwrap().sync = SalesforceSync::Auto;
    let fast = BulkKnobs { records_per_second: 1_000_000.0, ..BulkKnobs::default() };
    world.salesforce.set_knobs(SalesforceKnobs { bulk: fast, ..SalesforceKnobs::default() });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("partner.csv");
    let mut csv = String::from("Argument1,Argument2,Argument5,BulkAction\n");
    for i in 0..ROWS {
        // One row in a thousand names an email the user does not have: Salesforce refuses that record alone.
        let email =
            if i % 1000 == 7 { format!("someone.else{i}@example.com") } else { format!("agent{i}@example.com") };
        csv.push_str(&format!("{email},{},{},AddUsers\n", id(i), examples::PARTNER_CONTACT_CENTER.1));
    }
    std::fs::write(&path, csv).unwrap();
    let store = SqliteJobStore::in_memory().unwrap();
    // The direct chunk size does not apply: a bulkop job's chunk is one Bulk API request.
    let options = Options { telephony_model: TelephonyModel::PartnerTelephony, chunk_rows: 10, ..Options::default() };
    let (queue, job) = ingest_file(&store, &path, &options).await;
    let messages: Vec<_> = std::iter::from_fn(|| queue.receive()).collect();
    let sizes: Vec<u32> = messages.iter().map(|m| m.chunk.rows).collect();
    assert_eq!(sizes, vec![5_000, 5_000, 2_000]);

    let policy = RetryPolicy::default();
    let mut settled = 0;
    for message in &messages {
        let report = provision_chunk(&store, &LocalFiles, &world.targets, message, policy, &never_stop).await.unwrap();
        assert!(!report.needs_redelivery(), "{report:?}");
        settled += report.succeeded + report.failed;
    }
    assert_eq!(settled as usize, ROWS);
    let org = world.salesforce.snapshot();
    let records: Vec<usize> = org.bulk_jobs.iter().map(|j| j.records).collect();
    assert_eq!(records, vec![5_000, 5_000, 2_000], "exactly three ingest jobs: {:?}", org.bulk_jobs);

    // Every row ends with the status the sandbox gave its record.
    let job = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((job.counts.succeeded, job.counts.failed), ((ROWS - 12) as u64, 12), "{job:?}");
    let failed = store.rows(&job.id, Some(RowStatus::Failed), 100, None).await.unwrap().items;
    assert_eq!(
        failed.iter().map(|r| r.row).collect::<Vec<_>>(),
        (0..12).map(|k| k as u64 * 1000 + 9).collect::<Vec<_>>()
    );
    assert!(
        failed.iter().all(|r| r.outcome.error_message.as_deref().is_some_and(|m| m.contains("Argument1"))),
        "{failed:?}"
    );
    let sample = store.row(&job.id, 2).await.unwrap().unwrap();
    assert!(sample.outcome.note.as_deref().is_some_and(|n| n.contains(" Completed")), "{sample:?}");
    assert_eq!(
        org.user("agent0@example.com").unwrap().call_center.as_deref(),
        Some(examples::PARTNER_CONTACT_CENTER.0)
    );
}

#[tokio::test]
async fn direct_mode_in_a_self_syncing_org_adopts_the_connect_users_salesforce_makes_and_creates_none() {
    // Service Cloud Voice with Amazon Connect: a user who joins the contact center gets a Connect user Salesforce
    // makes, a moment later.
    let org = SalesforceSeed {
        service_cloud_voice_sync: true,
        knobs: SalesforceKnobs { voice_sync_delay_ms: 200, ..SalesforceKnobs::default() },
        ..examples::salesforce_seed()
    };
    let mut world = world_with(org).await;
    let instance = world.targets.connect.as_ref().unwrap().instance_id.clone();
    world.salesforce.link_connect(world.connect.voice_link(), &instance);
    world.targets.salesforce.as_mut().unwrap().voice_sync = true;
    let (store, queue, job) = ingest_example(10).await;
    let messages: Vec<_> = std::iter::from_fn(|| queue.receive()).collect();
    let policy = RetryPolicy::default();
    for message in &messages {
        let report = provision_chunk(&store, &LocalFiles, &world.targets, message, policy, &never_stop).await.unwrap();
        assert!(!report.needs_redelivery(), "{report:?}");
    }
    let job = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((job.state, job.counts.succeeded), (JobState::Succeeded, 28), "{job:?}");

    let connect = world.connect.snapshot();
    assert_eq!(connect.counters.calls.get("CreateUser"), None, "ccbulk made no Connect user");
    assert_eq!(connect.created_by_salesforce.len(), 25, "Salesforce made one for each of the 25 who joined");
    let rows = store.rows(&job.id, None, 100, None).await.unwrap().items;
    let adopted: Vec<&str> = rows
        .iter()
        .filter(|r| r.outcome.note.as_deref().is_some_and(|n| n.contains("ccbulk adopted it")))
        .filter_map(|r| r.outcome.connect_user_id.as_deref())
        .collect();
    let distinct: std::collections::HashSet<&str> = adopted.iter().copied().collect();
    assert_eq!((adopted.len(), distinct.len()), (25, 25), "each Connect user adopted once, by one row");
    // What the row asks beyond the sync is applied to the user Salesforce made.
    let made = connect.instance(&instance).unwrap();
    let amara = made.users.iter().find(|u| u.username.starts_with("aokafor@005")).unwrap();
    assert!(distinct.contains(amara.id.as_str()));
    assert_eq!(amara.security_profiles.len(), 2, "{amara:?}");
    assert_eq!(amara.tags.get("site").map(String::as_str), Some("Austin"), "{amara:?}");

    // Delivered again: nothing is made or adopted twice.
    for message in &messages {
        let report = provision_chunk(&store, &LocalFiles, &world.targets, message, policy, &never_stop).await.unwrap();
        assert_eq!(report.skipped, message.chunk.rows);
    }
    assert_eq!(world.connect.snapshot().created_by_salesforce.len(), 25);
}

#[tokio::test]
async fn bulkop_mode_removes_a_user_the_direct_way_and_deletes_the_connect_user_salesforce_made() {
    let world = bulkop_world().await;
    let store = SqliteJobStore::in_memory().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bulkop-amazon-connect.csv");
    let policy = RetryPolicy::default();
    let run = async |path: &Path| {
        let (queue, job) = ingest_file(&store, path, &Options::default()).await;
        while let Some(message) = queue.receive() {
            let report =
                provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
            assert!(!report.needs_redelivery(), "{report:?}");
        }
        store.rows(&job.id, None, 100, None).await.unwrap().items
    };
    let added = run(&example).await;
    assert!(added.iter().all(|r| r.status == RowStatus::Succeeded), "{added:?}");
    let amara_connect = added.iter().find(|r| r.row == 2).unwrap().outcome.connect_user_id.clone().unwrap();

    // Amara is removed; Ben's row is added again, in the same file: the remove goes direct, the add in a job.
    let lines: Vec<&str> = std::fs::read_to_string(&example).unwrap().leak().lines().collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changes.csv");
    std::fs::write(&path, format!("{}\n{}\n{}\n", lines[0], lines[1].replace("AddUsers", "RemoveUsers"), lines[2]))
        .unwrap();
    let changed = run(&path).await;
    assert!(changed.iter().all(|r| r.status == RowStatus::Succeeded), "{changed:?}");
    assert_eq!(changed[0].outcome.note, None, "a remove adopts nothing: {changed:?}");
    assert!(changed[1].outcome.voice_provisioning_job_id.is_some(), "{changed:?}");

    let org = world.salesforce.snapshot();
    assert_eq!(org.bulk_jobs.len(), 2, "the remove went to no bulk job: {:?}", org.bulk_jobs);
    let amara = org.user("amara.okafor@northwind-support.com").unwrap();
    assert_eq!(amara.call_center, None);
    assert!(amara.permission_sets.iter().all(|s| !s.starts_with("ContactCenter")), "{amara:?}");
    let connect = world.connect.snapshot();
    let saml = connect.instance(examples::SAML_INSTANCE_ID).unwrap();
    assert!(saml.users.iter().all(|u| u.id != amara_connect), "the Connect user Salesforce made is gone");
    assert_eq!(connect.counters.calls.get("DeleteUser"), Some(&1));
    assert_eq!(connect.counters.calls.get("CreateUser"), None);
}

#[tokio::test]
async fn bulkop_mode_names_a_routing_profile_given_by_name_by_its_arn() {
    let world = bulkop_world().await;
    let store = SqliteJobStore::in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("native.csv");
    // ccbulk rows for users the org has, their routing profiles by name; one names a profile the instance lacks.
    std::fs::write(
        &path,
        "action,username,first_name,last_name,email,routing_profile,security_profiles,sf_username,contact_center,role\n\
         add,amara.okafor@northwind-support.com,Amara,Okafor,amara.okafor@northwind-support.com,Sales Inbound,Agent,\
         amara.okafor@northwind-support.com,Northwind Support,Agent\n\
         add,ben.schmidt@northwind-support.com,Ben,Schmidt,ben.schmidt@northwind-support.com,Nowhere,Agent,\
         ben.schmidt@northwind-support.com,Northwind Support,Agent\n",
    )
    .unwrap();
    let options = Options { identity_management: Some(IdentityManagement::Saml), ..Options::default() };
    let (queue, job) = ingest_file(&store, &path, &options).await;
    let message = queue.receive().unwrap();
    let report = provision_chunk(&store, &LocalFiles, &world.targets, &message, RetryPolicy::default(), &never_stop)
        .await
        .unwrap();
    assert_eq!((report.succeeded, report.failed), (1, 1), "{report:?}");
    let ben = store.row(&job.id, 3).await.unwrap().unwrap();
    assert!(ben.outcome.error_message.as_deref().unwrap().contains("no routing profile named \"Nowhere\""), "{ben:?}");
    let org = world.salesforce.snapshot();
    assert_eq!(org.bulk_jobs.iter().map(|j| j.records).collect::<Vec<_>>(), vec![1], "Ben's row went to no job");
    let connect = world.connect.snapshot();
    let amara =
        connect.instance(examples::SAML_INSTANCE_ID).unwrap().users.iter().find(|u| u.username.starts_with("aokafor@"));
    assert_eq!(amara.map(|u| u.routing_profile.as_str()), Some("Sales Inbound"), "Salesforce took the ARN");
}

/// The example agents file ingested into a new job table at `endpoint`, in chunks of 6 rows.
async fn agents_in_dynamodb(endpoint: &str, table: &str) -> (DynamoJobStore, MemoryQueue, Job) {
    let client = aws_sdk_dynamodb::Client::new(&aws_config_for(endpoint));
    let table = unique(table);
    create_jobs_table(&client, &table).await;
    let store = DynamoJobStore::new(client, table);
    let queue = MemoryQueue::default();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ccbulk-agents.csv");
    let options = Options { chunk_rows: 6, ..Options::default() };
    let job = ingest(&store, &queue, path.as_path(), LocalFiles::object(&path).unwrap(), &options).await.unwrap().job;
    (store, queue, job)
}

/// An org with more reference records than one item of the job table holds (DynamoDB: 400 KB; about 1,800
/// permission sets and profiles). The worker that read them shares what fits, the kinds that do not are read by each
/// worker itself, and no chunk fails for it. Before, the share was refused as too large and every chunk failed with
/// it, for ever.
#[tokio::test]
async fn reference_records_too_large_for_one_item_are_shared_as_far_as_they_fit() {
    let mut org = examples::salesforce_seed();
    let pad = "x".repeat(60);
    org.permission_sets.extend((0..3_000).map(|i| PermissionSetSeed {
        name: format!("Team_Set_{i:04}_{pad}"),
        label: format!("Team set {i:04} {pad}"),
        voice: false,
    }));
    let world = world_with(org).await;
    let moto = moto();
    let (store, queue, job) = agents_in_dynamodb(&moto.endpoint, "reference").await;
    let (first, second) = (queue.receive().unwrap(), queue.receive().unwrap());

    let policy = RetryPolicy::default();
    let one = provision_chunk(&store, &LocalFiles, &world.targets, &first, policy, &never_stop).await.unwrap();
    assert_eq!((one.succeeded, one.deferred), (first.chunk.rows, 0), "{one:?}");
    let shared = store.shared(&job.id, "salesforce.reference").await.unwrap().expect("shared");
    assert!(shared.len() < 400_000 && shared.contains("\"profiles\""), "{} bytes", shared.len());
    // Another worker (another container: its own memory) takes up what was shared.
    let other = Targets {
        connect: Some(common::connect_target(&world.connect, Pacer::new(FAST))),
        salesforce: Some(common::salesforce_target(&world.salesforce, SalesforceSync::Direct)),
        salesforce_out: None,
    };
    let two = provision_chunk(&store, &LocalFiles, &other, &second, policy, &never_stop).await.unwrap();
    assert_eq!((two.succeeded, two.deferred), (second.chunk.rows, 0), "{two:?}");
    let queries = world.salesforce.snapshot().counters.queries;
    for (object, times) in [("Profile", 1), ("CallCenter", 1), ("PermissionSet", 2)] {
        assert_eq!(queries.get(object).copied(), Some(times), "{object}: {queries:?}");
    }
}

/// A chunk whose work fails half-way (the job table refuses a row's outcome for a reason that does not pass) gives
/// back the leases of the rows it still holds: its next delivery works them at once, instead of finding them held by
/// a worker that is gone until the leases run out.
#[tokio::test]
async fn a_chunk_that_fails_half_way_gives_its_rows_leases_back() {
    let world = world().await;
    let moto = moto();
    let proxy = FaultyDynamo::start(&moto.endpoint).await;
    let (store, queue, job) = agents_in_dynamodb(&proxy.endpoint, "leases").await;
    let message = queue.receive().unwrap();

    // The first row outcome the chunk records is refused as malformed: the chunk fails with the rest in hand.
    proxy.inject(Fault::cancel_transaction("#SUCCEEDED", &["ValidationError", "None"]));
    let policy = RetryPolicy::default();
    let failed = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(proxy.pending(), 0, "the refusal was met");
    let counts = store.job(&job.id).await.unwrap().unwrap().counts;
    assert!(counts.in_progress > 0, "rows were left unfinished: {counts:?}");

    // Leases last a minute by default; the next delivery comes at once and finds nothing held.
    let again = provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
    assert_eq!(again.held, 0, "no row is held by the failed delivery: {again:?}");
    let counts = store.job(&job.id).await.unwrap().unwrap().counts;
    assert_eq!((counts.in_progress, counts.succeeded), (0, message.chunk.rows as u64), "{counts:?}");
}

/// A job whose chunk messages were lost (a chunk left in the dead-letter queue, a send that never happened) stays
/// RUNNING with nothing to move it on. The sweeper finds it once it has not moved for longer than any message can
/// stay out of sight, sends the chunks holding its unfinished rows again, and the job ends; a job its nudges do not
/// move has its unfinished rows failed, saying why, and ends too.
#[tokio::test]
async fn a_job_whose_chunks_were_lost_is_nudged_and_one_nudges_do_not_move_ends_with_its_rows_failed() {
    let world = world().await;
    let store = SqliteJobStore::in_memory().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ccbulk-agents.csv");
    let options = Options { chunk_rows: 6, ..Options::default() };
    let (queue, job) = ingest_file(&store, &path, &options).await;
    while queue.receive().is_some() {}
    let rules = SweepRules::default();
    let later = |hours: u64| ccbulk_shared::job::now_epoch() + hours * 3600;
    let stalled = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!(verdict(&store, &stalled, &rules, later(1)).await.unwrap(), Verdict::Leave, "not stalled yet");
    assert_eq!(verdict(&store, &stalled, &rules, later(3)).await.unwrap(), Verdict::Nudge { nudge: 1 });

    let sent = nudge(&store, &queue, path.as_path(), &stalled, &options, 1).await.unwrap();
    assert_eq!(sent, stalled.chunks, "every chunk holds unfinished rows");
    let policy = RetryPolicy::default();
    while let Some(message) = queue.receive() {
        provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
    }
    let ended = store.job(&job.id).await.unwrap().unwrap();
    assert!(ended.state.has_ended(), "{ended:?}");
    assert_eq!(verdict(&store, &ended, &rules, later(3)).await.unwrap(), Verdict::Tidy, "its upload is still there");

    // Another job whose nudges go nowhere (the chunks fail every time): after three, its rows fail.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("agents.csv");
    std::fs::copy(&path, &copy).unwrap();
    let (queue, job) = ingest_file(&store, &copy, &options).await;
    while queue.receive().is_some() {}
    for expected in 1..=3 {
        let stuck = store.job(&job.id).await.unwrap().unwrap();
        assert_eq!(verdict(&store, &stuck, &rules, later(3)).await.unwrap(), Verdict::Nudge { nudge: expected });
        nudge(&store, &queue, copy.as_path(), &stuck, &options, expected).await.unwrap();
        while queue.receive().is_some() {}
    }
    let stuck = store.job(&job.id).await.unwrap().unwrap();
    let Verdict::FailRows { reason } = verdict(&store, &stuck, &rules, later(3)).await.unwrap() else {
        panic!("the rows fail after three nudges")
    };
    let (failed, state) = fail_unfinished(&store, &stuck, &reason).await.unwrap();
    assert_eq!((failed, state), (stuck.counts.pending, Some(JobState::CompletedWithErrors)));
    let rows = store.rows(&job.id, Some(RowStatus::Failed), 100, None).await.unwrap().items;
    assert!(rows.iter().all(|r| r.outcome.error_message.as_deref() == Some(reason.as_str())), "{rows:?}");
    assert!(reason.contains("dead-letter queue"), "{reason}");
}

/// An ingest that stopped for good leaves its job INGESTING: the sweeper sends the rows it recorded to be worked and
/// fails the job, saying the rest of the file was not read.
#[tokio::test]
async fn a_job_whose_ingest_stopped_for_good_fails_saying_so_and_its_recorded_rows_are_worked() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ccbulk.sqlite");
    let store = SqliteJobStore::open(&state).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ccbulk-agents.csv");
    let options = Options { chunk_rows: 6, ..Options::default() };
    let (queue, job) = ingest_file(&store, &path, &options).await;
    while queue.receive().is_some() {}
    // As an ingest that died before its last step leaves the job: its rows recorded, the job still INGESTING.
    let connection = rusqlite::Connection::open(&state).unwrap();
    connection.execute("UPDATE jobs SET state = 'INGESTING'", []).unwrap();
    let stuck = store.job(&job.id).await.unwrap().unwrap();
    let later = ccbulk_shared::job::now_epoch() + 3 * 3600;
    let Verdict::FailIngest { reason } = verdict(&store, &stuck, &SweepRules::default(), later).await.unwrap() else {
        panic!("a stalled ingest fails")
    };
    let sent = fail_ingest(&store, &queue, path.as_path(), &stuck, &options, &reason).await.unwrap();
    assert_eq!(sent, stuck.chunks.max(1), "the recorded rows are sent to be worked");
    let policy = RetryPolicy::default();
    while let Some(message) = queue.receive() {
        provision_chunk(&store, &LocalFiles, &world.targets, &message, policy, &never_stop).await.unwrap();
    }
    let ended = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((ended.state, ended.error.as_deref()), (JobState::Failed, Some(reason.as_str())));
    assert!(reason.contains("the rest of the file is not read"), "{reason}");
    assert_eq!(ended.counts.pending + ended.counts.in_progress, 0, "its rows were worked: {:?}", ended.counts);
}
