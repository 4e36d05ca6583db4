//! One contract, two job stores: SQLite (what `ccbulk run` keeps) and DynamoDB on moto (what the Lambdas keep), the
//! table built from template.yaml's own definition. moto: `CCBULK_MOTO_ENDPOINT`, or a `moto_server` this test
//! starts (from `.ci/.venv/bin` or the PATH).

use aws_sdk_dynamodb::types::AttributeValue;
use ccbulk_shared::domain::{Action, IdentityManagement, TelephonyModel};
use ccbulk_shared::format::Dialect;
use ccbulk_shared::job::{
    BulkJob, Counts, Created, DynamoJobStore, EmailChange, Job, JobId, JobState, JobStore, Lease, ObjectRef, Release,
    RowOutcome, RowRecord, RowStart, RowStatus, SqliteJobStore, now_epoch,
};
use ccbulk_shared::validate::Setup;
use ccbulk_testkit::{Fault, FaultyDynamo, Moto, aws_config_for, create_jobs_table, moto, unique};

async fn dynamo(moto: &Moto, name: &str) -> DynamoJobStore {
    dynamo_table(moto, name).await.0
}

/// The store, with its client and table for what a test does behind its back.
async fn dynamo_table(moto: &Moto, name: &str) -> (DynamoJobStore, aws_sdk_dynamodb::Client, String) {
    let client = aws_sdk_dynamodb::Client::new(&aws_config_for(&moto.endpoint));
    // Each test its own table: moto's reset is global, and tests run in parallel.
    let table = unique(name);
    create_jobs_table(&client, &table).await;
    (DynamoJobStore::new(client.clone(), table.clone()), client, table)
}

// ---------------------------------------------------------------------------------------------------------------
// The contract

fn job(key: &str, created_at: u64) -> Job {
    let source = ObjectRef { bucket: "uploads-bucket".into(), key: key.into(), version: "v1".into() };
    Job {
        id: JobId::for_object(&source),
        source,
        dialect: Some(Dialect::Ccbulk),
        identity_management: IdentityManagement::Saml,
        telephony_model: TelephonyModel::AmazonConnect,
        state: JobState::Ingesting,
        counts: Counts::default(),
        chunks: 0,
        error: None,
        paused: None,
        scrubbed: None,
        created_at,
        updated_at: created_at,
    }
}

fn record(job: &Job, row: u64, status: RowStatus) -> RowRecord {
    RowRecord {
        job_id: job.id.clone(),
        row,
        username: Some(format!("user{row}")),
        action: Some(Action::Add),
        status,
        outcome: RowOutcome {
            error_message: (status == RowStatus::Invalid).then(|| "column \"username\": too long".into()),
            ..RowOutcome::default()
        },
        attempts: 0,
        updated_at: 0,
    }
}

async fn a_job_moves_through_its_rows(store: &impl JobStore) {
    let job = job("uploads/agents.csv", 100);
    assert!(matches!(store.create_job(&job).await.unwrap(), Created::New));
    assert!(matches!(store.create_job(&job).await.unwrap(), Created::Existing(existing) if *existing == job));
    let rows =
        [record(&job, 2, RowStatus::Pending), record(&job, 3, RowStatus::Pending), record(&job, 4, RowStatus::Invalid)];
    store.put_rows(&rows).await.unwrap();
    store.put_rows(&rows[1..]).await.unwrap();
    let counts = store.job(&job.id).await.unwrap().unwrap().counts;
    assert_eq!((counts.pending, counts.invalid, counts.total()), (2, 1, 3), "a repeated ingest counts nothing twice");
    assert_eq!(store.chunks_sent(&job.id).await.unwrap(), 0);
    store.record_chunks_sent(&job.id, 3).await.unwrap();
    store.record_chunks_sent(&job.id, 2).await.unwrap();
    assert_eq!(store.chunks_sent(&job.id).await.unwrap(), 3, "an ingest that ran twice never lowers the record");
    store.finish_ingest(&job.id, 1, 3).await.unwrap();

    let first = Lease::new(60);
    let RowStart::Go(started) = store.start_row(&job.id, 2, &first).await.unwrap() else { panic!("row 2 needs work") };
    assert_eq!((started.status, started.attempts), (RowStatus::InProgress, 1));
    let second = Lease::new(60);
    assert_eq!(store.start_row(&job.id, 2, &second).await.unwrap(), RowStart::Held, "a live lease keeps others off");
    // The first worker dies: its lease runs out, and another worker takes the row over.
    let lapsed = Lease { owner: first.owner.clone(), until: 0 };
    store.renew_rows(&job.id, &[2], &lapsed).await.unwrap();
    let RowStart::Go(again) = store.start_row(&job.id, 2, &second).await.unwrap() else { panic!("row 2 taken over") };
    assert_eq!(again.attempts, 2, "a crashed attempt is taken up again");
    let counts = store.job(&job.id).await.unwrap().unwrap().counts;
    assert_eq!((counts.pending, counts.in_progress), (1, 1), "no count moves twice");

    let done = RowOutcome {
        connect_user_id: Some("u-1".into()),
        salesforce_user_id: Some("005x".into()),
        note: Some("Salesforce sent a confirmation to the new email address".into()),
        ..RowOutcome::default()
    };
    assert_eq!(
        store.finish_row(&job.id, 2, RowStatus::Succeeded, &done, &first.owner).await.unwrap(),
        None,
        "the worker whose lease ran out cannot finish the row"
    );
    assert_eq!(
        store.finish_row(&job.id, 2, RowStatus::Succeeded, &done, &second.owner).await.unwrap(),
        Some(JobState::Running)
    );
    assert_eq!(store.start_row(&job.id, 2, &first).await.unwrap(), RowStart::Done(RowStatus::Succeeded));
    assert_eq!(store.start_row(&job.id, 4, &first).await.unwrap(), RowStart::Done(RowStatus::Invalid));
    assert_eq!(
        store.finish_row(&job.id, 2, RowStatus::Failed, &RowOutcome::default(), &second.owner).await.unwrap(),
        None,
        "a finished row is not finished twice"
    );

    // A row left for a later delivery is let go, so that delivery need not wait for the lease. One tried counts its
    // attempt; one the worker had no time left for does not.
    store.start_row(&job.id, 3, &first).await.unwrap();
    store.release_row(&job.id, 3, &first.owner, Release::AfterAttempt).await.unwrap();
    let RowStart::Go(tried) = store.start_row(&job.id, 3, &second).await.unwrap() else { panic!("row 3 let go") };
    assert_eq!(tried.attempts, 2);
    store.release_row(&job.id, 3, &second.owner, Release::Untried).await.unwrap();
    let RowStart::Go(untried) = store.start_row(&job.id, 3, &second).await.unwrap() else { panic!("row 3 let go") };
    assert_eq!(untried.attempts, 2, "the untried start gave its attempt back");
    assert_eq!(store.row(&job.id, 3).await.unwrap().unwrap().attempts, 2);
    let failed =
        RowOutcome { error_message: Some("Amazon Connect: InvalidParameterException".into()), ..RowOutcome::default() };
    assert_eq!(
        store.finish_row(&job.id, 3, RowStatus::Failed, &failed, &second.owner).await.unwrap(),
        Some(JobState::CompletedWithErrors)
    );
    let finished = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((finished.counts.succeeded, finished.counts.failed, finished.counts.invalid), (1, 1, 1));
    assert_eq!(finished.chunks, 1);
    let row = store.row(&job.id, 2).await.unwrap().unwrap();
    assert_eq!((row.outcome.connect_user_id.as_deref(), row.outcome.error_message), (Some("u-1"), None));
    assert_eq!(row.outcome.note, done.note);
    assert_eq!(store.row(&job.id, 3).await.unwrap().unwrap().outcome.error_message, failed.error_message);

    // A redelivery never reopens a failed row; a rerun of the file does, and the job runs until it ends.
    assert_eq!(store.start_row(&job.id, 3, &first).await.unwrap(), RowStart::Done(RowStatus::Failed));
    assert_eq!(store.reopen_failed(&job.id).await.unwrap(), 1);
    assert_eq!(store.job(&job.id).await.unwrap().unwrap().state, JobState::Running);
    let rerun = Lease::new(60);
    let RowStart::Go(retry) = store.start_row(&job.id, 3, &rerun).await.unwrap() else { panic!("reopened") };
    assert_eq!(retry.attempts, 1, "a reopened row has its attempts afresh");
    assert_eq!(
        store.finish_row(&job.id, 3, RowStatus::Succeeded, &done, &rerun.owner).await.unwrap(),
        Some(JobState::CompletedWithErrors)
    );
    let row = store.row(&job.id, 3).await.unwrap().unwrap();
    assert_eq!((row.status, row.outcome.error_message), (RowStatus::Succeeded, None), "a success clears the error");
    assert_eq!(store.reopen_rows(&job.id, &[2, 3, 4]).await.unwrap(), Vec::<u64>::new(), "only FAILED rows reopen");

    // The copy without passwords that replaces the upload is kept beside the upload's reference, which stays.
    let copy =
        ObjectRef { bucket: "uploads-bucket".into(), key: format!("scrubbed/{}.csv", job.id), version: "v9".into() };
    store.set_scrubbed(&job.id, &copy).await.unwrap();
    let scrubbed = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((scrubbed.file(), &scrubbed.source), (&copy, &job.source));
}

async fn rows_and_jobs_page(store: &impl JobStore) {
    let first = job("uploads/a.csv", 10);
    let second = job("uploads/b.csv", 20);
    let third = job("uploads/c.csv", 30);
    for job in [&first, &second, &third] {
        store.create_job(job).await.unwrap();
    }
    let rows: Vec<RowRecord> = (2..252)
        .map(|row| record(&second, row, if row % 10 == 0 { RowStatus::Invalid } else { RowStatus::Pending }))
        .collect();
    store.put_rows(&rows).await.unwrap();
    let counts = store.job(&second.id).await.unwrap().unwrap().counts;
    assert_eq!((counts.pending, counts.invalid), (225, 25));

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.rows(&second.id, None, 100, after).await.unwrap();
        assert!(page.items.len() <= 100);
        seen.extend(page.items.iter().map(|r| r.row));
        match page.next {
            Some(next) => after = Some(next.parse().unwrap()),
            None => break,
        }
    }
    assert_eq!(seen, (2..252).collect::<Vec<_>>(), "every row once, in order");

    let invalid = store.rows(&second.id, Some(RowStatus::Invalid), 10, None).await.unwrap();
    assert_eq!(invalid.items.iter().map(|r| r.row).collect::<Vec<_>>(), (1..=10).map(|i| i * 10).collect::<Vec<_>>());
    let rest = store.rows(&second.id, Some(RowStatus::Invalid), 100, invalid.next.unwrap().parse().ok()).await.unwrap();
    assert_eq!((rest.items.len(), rest.next), (15, None));
    assert!(rest.items.iter().all(|r| r.status == RowStatus::Invalid));

    let page = store.jobs(2, None).await.unwrap();
    assert_eq!(page.items.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), vec![third.id.clone(), second.id.clone()]);
    let page = store.jobs(2, page.next.as_deref()).await.unwrap();
    assert_eq!(page.items.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), vec![first.id.clone()], "newest first");
}

async fn an_unusable_file_is_a_failed_job_with_its_reason(store: &impl JobStore) {
    let setup = Setup { identity_management: IdentityManagement::Saml, telephony_model: TelephonyModel::AmazonConnect };
    let source = ObjectRef { bucket: "uploads-bucket".into(), key: "uploads/notes.csv".into(), version: "v".into() };
    let unusable = Job::unusable(source, setup, "the file has no header row".into(), 50);
    assert!(matches!(store.create_job(&unusable).await.unwrap(), Created::New));
    let read = store.job(&unusable.id).await.unwrap().unwrap();
    assert_eq!(read, unusable, "no dialect, the reason kept");
    assert_eq!(
        (read.state, read.dialect, read.error.as_deref()),
        (JobState::Failed, None, Some("the file has no header row"))
    );

    // A job that died while ingesting, whose file then turns out to have no rows.
    let ingesting = job("uploads/empty.csv", 60);
    store.create_job(&ingesting).await.unwrap();
    store.fail_job(&ingesting.id, "the file has a header but no rows").await.unwrap();
    let failed = store.job(&ingesting.id).await.unwrap().unwrap();
    assert_eq!((failed.state, failed.error.as_deref()), (JobState::Failed, Some("the file has a header but no rows")));
    assert_eq!(failed.dialect, Some(Dialect::Ccbulk));
}

/// A chunk's bulk job is recorded once: a second delivery's job is refused while the first stands, and replaces it
/// only by naming it (the first was left open, and aborted).
async fn a_chunks_bulk_job_is_remembered(store: &impl JobStore) {
    let job = job("uploads/bulk.csv", 1);
    let id_of = |found: Option<BulkJob>| found.map(|b| b.id);
    assert_eq!(store.bulk_job(&job.id, 3).await.unwrap(), None);
    let before = now_epoch();
    assert!(store.record_bulk_job(&job.id, 3, "750Sb0000000001AAA", None).await.unwrap());
    let recorded = store.bulk_job(&job.id, 3).await.unwrap().unwrap();
    assert_eq!(recorded.id, "750Sb0000000001AAA");
    assert!((before..=now_epoch()).contains(&recorded.recorded_at), "{recorded:?}");
    assert!(!store.record_bulk_job(&job.id, 3, "750Sb0000000002AAA", None).await.unwrap(), "the first one stands");
    let stale = store.record_bulk_job(&job.id, 3, "750Sb0000000003AAA", Some("750Sb0000000009AAA")).await.unwrap();
    assert!(!stale, "replacing a job that is not the chunk's");
    assert_eq!(id_of(store.bulk_job(&job.id, 3).await.unwrap()).as_deref(), Some("750Sb0000000001AAA"));
    assert!(store.record_bulk_job(&job.id, 3, "750Sb0000000002AAA", Some("750Sb0000000001AAA")).await.unwrap());
    assert_eq!(id_of(store.bulk_job(&job.id, 3).await.unwrap()).as_deref(), Some("750Sb0000000002AAA"));
    assert_eq!(store.bulk_job(&job.id, 4).await.unwrap(), None);
    assert!(!store.record_bulk_job(&job.id, 4, "750Sb0000000004AAA", Some("750Sb0000000001AAA")).await.unwrap());
}

async fn what_one_worker_read_is_shared_per_job_and_name(store: &impl JobStore) {
    let (one, other) = (job("uploads/shared.csv", 1), job("uploads/other.csv", 1));
    assert_eq!(store.shared(&one.id, "salesforce.reference").await.unwrap(), None);
    // Workers that start together: one claims the reading, the others see it under way.
    let claims = futures_util::future::join_all((0..4).map(|_| store.claim_share(&one.id, "salesforce.reference")));
    let won = claims.await.into_iter().map(Result::unwrap).filter(|won| *won).count();
    assert_eq!(won, 1, "one claim of four wins");
    assert_eq!(store.shared(&one.id, "salesforce.reference").await.unwrap().as_deref(), Some(""), "being read");
    store.share(&one.id, "salesforce.reference", r#"{"profiles":[]}"#).await.unwrap();
    store.share(&one.id, "salesforce.reference", r#"{"profiles":[{"Id":"00e"}]}"#).await.unwrap();
    let read = store.shared(&one.id, "salesforce.reference").await.unwrap();
    assert_eq!(read.as_deref(), Some(r#"{"profiles":[{"Id":"00e"}]}"#), "the last value shared");
    assert_eq!(store.shared(&one.id, "connect.directory").await.unwrap(), None, "another name");
    assert_eq!(store.shared(&other.id, "salesforce.reference").await.unwrap(), None, "another job");
}

async fn email_changes_are_remembered_the_latest_per_user(store: &impl JobStore) {
    let change = |user: &str, email: &str, requested_at| EmailChange {
        salesforce_user_id: user.into(),
        email: email.into(),
        requested_at,
    };
    assert_eq!(store.email_changes(0).await.unwrap(), vec![]);
    for requested in [change("005A", "a@example.com", 100), change("005B", "b@example.com", 200)] {
        store.record_email_change(&requested).await.unwrap();
    }
    store.record_email_change(&change("005A", "c@example.com", 300)).await.unwrap();
    let mut recent = store.email_changes(150).await.unwrap();
    recent.sort_by(|a, b| a.salesforce_user_id.cmp(&b.salesforce_user_id));
    assert_eq!(recent, vec![change("005A", "c@example.com", 300), change("005B", "b@example.com", 200)]);
    assert_eq!(store.email_changes(250).await.unwrap(), vec![change("005A", "c@example.com", 300)]);
}

#[tokio::test]
async fn sqlite_keeps_the_contract() {
    email_changes_are_remembered_the_latest_per_user(&SqliteJobStore::in_memory().unwrap()).await;
    a_chunks_bulk_job_is_remembered(&SqliteJobStore::in_memory().unwrap()).await;
    what_one_worker_read_is_shared_per_job_and_name(&SqliteJobStore::in_memory().unwrap()).await;
    a_job_moves_through_its_rows(&SqliteJobStore::in_memory().unwrap()).await;
    rows_and_jobs_page(&SqliteJobStore::in_memory().unwrap()).await;
    an_unusable_file_is_a_failed_job_with_its_reason(&SqliteJobStore::in_memory().unwrap()).await;
}

#[tokio::test]
async fn sqlite_keeps_its_state_in_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let job = job("uploads/c.csv", 5);
    {
        let store = SqliteJobStore::open(&path).unwrap();
        store.create_job(&job).await.unwrap();
        store.put_rows(&[record(&job, 2, RowStatus::Pending)]).await.unwrap();
    }
    let reopened = SqliteJobStore::open(&path).unwrap();
    assert_eq!(reopened.job(&job.id).await.unwrap().unwrap().counts.pending, 1);
}

#[tokio::test]
async fn dynamodb_keeps_the_contract_on_the_template_table() {
    let moto = moto();
    email_changes_are_remembered_the_latest_per_user(&dynamo(&moto, "emails").await).await;
    a_chunks_bulk_job_is_remembered(&dynamo(&moto, "bulkjobs").await).await;
    what_one_worker_read_is_shared_per_job_and_name(&dynamo(&moto, "shared").await).await;
    a_job_moves_through_its_rows(&dynamo(&moto, "lifecycle").await).await;
    rows_and_jobs_page(&dynamo(&moto, "paging").await).await;
    an_unusable_file_is_a_failed_job_with_its_reason(&dynamo(&moto, "unusable").await).await;
}

/// A job of `rows` pending rows, ingested.
async fn ingested(store: &impl JobStore, key: &str, rows: u64) -> Job {
    let job = job(key, 1);
    store.create_job(&job).await.unwrap();
    let records: Vec<RowRecord> = (2..2 + rows).map(|row| record(&job, row, RowStatus::Pending)).collect();
    store.put_rows(&records).await.unwrap();
    store.finish_ingest(&job.id, 1, rows).await.unwrap();
    job
}

#[tokio::test]
async fn dynamodb_counters_that_drift_from_the_rows_are_counted_again_and_the_job_still_ends() {
    let moto = moto();
    let (store, client, table) = dynamo_table(&moto, "drift").await;
    let job = ingested(&store, "uploads/drift.csv", 4).await;
    // Whatever the cause (a store that lost an update, a hand edit), the counters say one row more than there is.
    client
        .update_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("JOB#{}", job.id)))
        .key("sk", AttributeValue::S("JOB".into()))
        .update_expression("ADD pending :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(store.job(&job.id).await.unwrap().unwrap().counts.pending, 5, "drifted on purpose");
    let mut state = JobState::Running;
    for row in 2..6 {
        let lease = Lease::new(60);
        store.start_row(&job.id, row, &lease).await.unwrap();
        state = store
            .finish_row(&job.id, row, RowStatus::Succeeded, &RowOutcome::default(), &lease.owner)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(state, JobState::Succeeded, "nothing is left to run, so the job ends");
    let counts = store.job(&job.id).await.unwrap().unwrap().counts;
    assert_eq!((counts.succeeded, counts.pending, counts.total()), (4, 0, 4), "the counters are the rows' again");
    assert_eq!(store.recounts(), 1, "counted again once, not on every move");
}

/// Workers handed the same rows at the same moment (SQS delivers at least once), each starting and finishing every
/// row: whoever wins each move, the counters stay exact and the job ends.
async fn workers_on_the_same_rows_keep_the_counters_exact(store: &(impl JobStore + 'static)) {
    const ROWS: u64 = 30;
    const WORKERS: usize = 4;
    let job = ingested(store, "uploads/twice.csv", ROWS).await;
    let work = |_| {
        let id = job.id.clone();
        async move {
            let lease = Lease::new(60);
            let mut finished = 0;
            for row in 2..2 + ROWS {
                if let RowStart::Go(_) = store.start_row(&id, row, &lease).await.unwrap()
                    && let Some(_) = store
                        .finish_row(&id, row, RowStatus::Succeeded, &RowOutcome::default(), &lease.owner)
                        .await
                        .unwrap()
                {
                    finished += 1;
                }
            }
            finished
        }
    };
    let finished: u64 = futures_util::future::join_all((0..WORKERS).map(work)).await.into_iter().sum();
    assert_eq!(finished, ROWS, "each row finished once, by one worker");
    for row in 2..2 + ROWS {
        assert_eq!(store.row(&job.id, row).await.unwrap().unwrap().attempts, 1, "row {row}: one attempt, counted once");
    }
    let finished = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!(
        (finished.state, finished.counts.succeeded, finished.counts.total()),
        (JobState::Succeeded, ROWS, ROWS),
        "{:?}",
        finished.counts
    );
}

/// Rows started together say, row by row, what starting each alone would: done, held by another lease, or started.
async fn a_batch_start_says_per_row_what_a_start_would(store: &impl JobStore) {
    let job = ingested(store, "uploads/batch.csv", 5).await;
    let (first, second, third) = (Lease::new(60), Lease::new(60), Lease::new(60));
    assert!(matches!(store.start_row(&job.id, 3, &first).await.unwrap(), RowStart::Go(_)));
    store.finish_row(&job.id, 3, RowStatus::Succeeded, &RowOutcome::default(), &first.owner).await.unwrap();
    assert!(matches!(store.start_row(&job.id, 4, &second).await.unwrap(), RowStart::Go(_)));
    let starts = store.start_rows(&job.id, &[2, 3, 4, 5, 6], &third).await.unwrap();
    let kinds: Vec<String> = starts
        .iter()
        .map(|start| match start {
            RowStart::Go(record) => format!("go:{}:{}", record.row, record.attempts),
            RowStart::Done(status) => format!("done:{}", status.as_str()),
            RowStart::Held => "held".into(),
        })
        .collect();
    assert_eq!(kinds, ["go:2:1", "done:SUCCEEDED", "held", "go:5:1", "go:6:1"]);
    let counts = store.job(&job.id).await.unwrap().unwrap().counts;
    assert_eq!((counts.pending, counts.in_progress, counts.succeeded), (0, 4, 1), "{counts:?}");
    assert_eq!(store.row(&job.id, 5).await.unwrap().unwrap().status, RowStatus::InProgress);
    // Row 4 is the second lease's: the third cannot finish it, and the job is not done while rows are in progress.
    let outcome = RowOutcome::default();
    assert!(!store.finish_row_unsettled(&job.id, 4, RowStatus::Succeeded, &outcome, &third.owner).await.unwrap());
    assert!(store.finish_row_unsettled(&job.id, 4, RowStatus::Failed, &outcome, &second.owner).await.unwrap());
    assert_eq!(store.settle_job(&job.id).await.unwrap(), JobState::Running);
    assert!(store.finish_row_unsettled(&job.id, 99, RowStatus::Failed, &outcome, &second.owner).await.is_err());
}

/// Workers handed the same 150 rows at the same moment each start them all together (more than one transaction's
/// worth), then finish the rows they got and settle the job once: each row is got by one worker, once, and the last
/// settle ends the job.
async fn workers_starting_the_same_rows_together_get_each_once(store: &(impl JobStore + 'static)) {
    const ROWS: u64 = 150;
    const WORKERS: usize = 3;
    let job = ingested(store, "uploads/together.csv", ROWS).await;
    let rows: Vec<u64> = (2..2 + ROWS).collect();
    let work = |_| {
        let (id, rows) = (job.id.clone(), rows.clone());
        async move {
            let lease = Lease::new(60);
            let mut got = 0;
            for start in store.start_rows(&id, &rows, &lease).await.unwrap() {
                if let RowStart::Go(record) = start {
                    let outcome = RowOutcome::default();
                    let finished = store
                        .finish_row_unsettled(&id, record.row, RowStatus::Succeeded, &outcome, &lease.owner)
                        .await
                        .unwrap();
                    assert!(finished, "row {}: the starter's to finish", record.row);
                    got += 1;
                }
            }
            // Settled once, after the worker's rows, as a chunk does.
            store.settle_job(&id).await.unwrap();
            got
        }
    };
    let got: u64 = futures_util::future::join_all((0..WORKERS).map(work)).await.into_iter().sum();
    assert_eq!(got, ROWS, "each row got by one worker");
    for row in rows {
        assert_eq!(store.row(&job.id, row).await.unwrap().unwrap().attempts, 1, "row {row}: one attempt");
    }
    let finished = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((finished.state, finished.counts.succeeded, finished.counts.total()), (JobState::Succeeded, ROWS, ROWS));
}

#[tokio::test]
async fn dynamodb_starts_rows_together_as_one_by_one() {
    let moto = moto();
    a_batch_start_says_per_row_what_a_start_would(&dynamo(&moto, "batch").await).await;
    let store = dynamo(&moto, "together").await;
    workers_starting_the_same_rows_together_get_each_once(&store).await;
    assert_eq!(store.recounts(), 0, "the transactions kept the counters exact by themselves");
}

#[tokio::test]
async fn sqlite_starts_rows_together_as_one_by_one() {
    a_batch_start_says_per_row_what_a_start_would(&SqliteJobStore::in_memory().unwrap()).await;
    workers_starting_the_same_rows_together_get_each_once(&SqliteJobStore::in_memory().unwrap()).await;
}

#[tokio::test]
async fn dynamodb_counters_stay_exact_under_concurrent_workers() {
    let moto = moto();
    let store = dynamo(&moto, "concurrent").await;
    workers_on_the_same_rows_keep_the_counters_exact(&store).await;
    assert_eq!(store.recounts(), 0, "the transactions kept the counters exact by themselves");
}

#[tokio::test]
async fn sqlite_counters_stay_exact_under_concurrent_workers() {
    workers_on_the_same_rows_keep_the_counters_exact(&SqliteJobStore::in_memory().unwrap()).await;
}

/// A store on its own table, its calls through a proxy that answers what the test injects (and passes the rest to
/// moto, which must outlive them both).
async fn behind_faults(name: &str) -> (Moto, FaultyDynamo, DynamoJobStore) {
    let moto = moto();
    let proxy = FaultyDynamo::start(&moto.endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&aws_config_for(&proxy.endpoint));
    let table = unique(name);
    create_jobs_table(&client, &table).await;
    (moto, proxy, DynamoJobStore::new(client, table))
}

/// An ingest that died part-way is run again over the same file: the rows it recorded are found in the
/// cancellation of each batch's transaction, and the rest of the batch goes in without them. A rerun costs two
/// transactions per batch already recorded, not one per row (before, 1,000 recorded rows cost about 1,010
/// transactions; an ingest that died after 40,000 could never finish within its time).
#[tokio::test]
async fn a_repeated_ingest_costs_two_transactions_per_recorded_batch_not_one_per_row() {
    let (_moto, proxy, store) = behind_faults("rerun").await;
    let job = job("uploads/rerun.csv", 1);
    store.create_job(&job).await.unwrap();
    let records: Vec<RowRecord> = (2..1_002).map(|row| record(&job, row, RowStatus::Pending)).collect();
    // The first run recorded 700 rows before it died; the rerun records all 1,000.
    store.put_rows(&records[..700]).await.unwrap();
    let first = proxy.calls("TransactWriteItems");
    store.put_rows(&records).await.unwrap();
    let rerun = proxy.calls("TransactWriteItems") - first;
    let batches = records.len().div_ceil(99);
    assert!(rerun <= 2 * batches, "{rerun} transactions for {batches} batches");
    let counts = store.job(&job.id).await.unwrap().unwrap().counts;
    assert_eq!((counts.pending, counts.total()), (1_000, 1_000), "each row counted once: {counts:?}");
}

/// DynamoDB cancels transactions for more than "the row exists": each cancellation is read by its reasons, through
/// the real SDK's parsing of the service's answer.
#[tokio::test]
async fn dynamodb_cancellations_are_judged_by_their_reasons_and_no_row_is_lost() {
    let (_moto, proxy, store) = behind_faults("cancellations").await;
    let job = job("uploads/cancel.csv", 1);
    store.create_job(&job).await.unwrap();
    let rows = |numbers: &[u64]| numbers.iter().map(|row| record(&job, *row, RowStatus::Pending)).collect::<Vec<_>>();
    let counts = || async { store.job(&job.id).await.unwrap().unwrap().counts };

    // A conflicting transaction (provision moving a row of the same job): the batch is tried again, whole.
    proxy.inject(Fault::cancel_transaction("ROW#0000000002", &["None", "TransactionConflict", "None", "None"]));
    store.put_rows(&rows(&[2, 3, 4])).await.unwrap();
    assert_eq!((proxy.pending(), counts().await.pending), (0, 3), "the conflict passed, and every row is recorded");

    // Throttling on a row's move: waited out; the move happens once.
    proxy.inject(Fault::cancel_transaction("ROW#0000000002", &["ThrottlingError", "None"]));
    let RowStart::Go(started) = store.start_row(&job.id, 2, &Lease::new(60)).await.unwrap() else {
        panic!("row 2 needs work")
    };
    assert_eq!((proxy.pending(), started.attempts), (0, 1));
    assert_eq!((counts().await.pending, counts().await.in_progress), (2, 1));

    // A real duplicate (rows 2 to 4 exist, moto refuses the batch), and in the row-by-row fallback that follows, a
    // conflict on a new row's own put: it is tried again, not taken for "already there".
    proxy.inject(Fault::cancel_transaction("ROW#0000000006", &["TransactionConflict", "None"]).after(1));
    store.put_rows(&rows(&[2, 3, 4, 5, 6])).await.unwrap();
    assert_eq!(proxy.pending(), 0);
    let after = counts().await;
    assert_eq!(
        (after.pending, after.in_progress, after.total()),
        (4, 1, 5),
        "rows 5 and 6 added, row 2 left as it was"
    );
    assert_eq!(store.row(&job.id, 2).await.unwrap().unwrap().status, RowStatus::InProgress);
    assert!(store.row(&job.id, 6).await.unwrap().is_some(), "no row lost in the fallback");

    // A limit that does not pass by itself: an error for the caller (ingest's S3 event is tried again), and the
    // batch is recorded on that retry.
    proxy.inject(Fault::cancel_transaction("ROW#0000000007", &["None", "ItemCollectionSizeLimitExceeded", "None"]));
    let err = store.put_rows(&rows(&[7, 8])).await.unwrap_err();
    assert!(err.to_string().contains("ItemCollectionSizeLimitExceeded"), "{err}");
    assert!(store.row(&job.id, 7).await.unwrap().is_none(), "nothing of a cancelled transaction is kept");
    store.put_rows(&rows(&[7, 8])).await.unwrap();
    assert_eq!(counts().await.total(), 7);
    assert_eq!(proxy.given().len(), 4, "each injected cancellation reached the store");
}

/// A plain write of a job's `JOB` item that meets one of its rows' transactions is refused by DynamoDB with
/// TransactionConflictException, having changed nothing: each such write is sent again, not failed (a chunk failed
/// for it would keep its leases and wait out the queue's visibility timeout).
#[tokio::test]
async fn dynamodb_job_writes_that_meet_a_transaction_are_sent_again() {
    const CONFLICT: &str = "TransactionConflictException";
    let job_item = r#""sk":{"S":"JOB"}"#;
    let (_moto, proxy, store) = behind_faults("conflicts").await;
    let job = job("uploads/conflicts.csv", 1);
    store.create_job(&job).await.unwrap();
    store.put_rows(&(2..5).map(|row| record(&job, row, RowStatus::Pending)).collect::<Vec<_>>()).await.unwrap();

    // Two conflicts in a row on each write: the item may be inside transactions back to back.
    let conflicted = |operation| {
        proxy.inject(Fault::error(operation, job_item, CONFLICT));
        proxy.inject(Fault::error(operation, job_item, CONFLICT));
    };
    conflicted("UpdateItem");
    store.finish_ingest(&job.id, 1, 3).await.unwrap();
    conflicted("UpdateItem");
    store.record_chunks_sent(&job.id, 1).await.unwrap();
    conflicted("UpdateItem");
    store.pause_job(&job.id, "the org's API allocation is spent").await.unwrap();
    assert!(store.job(&job.id).await.unwrap().unwrap().paused.is_some(), "the pause went through");
    conflicted("UpdateItem");
    store.resume_job(&job.id).await.unwrap();
    assert!(store.job(&job.id).await.unwrap().unwrap().paused.is_none(), "the resume went through");
    let copy = ObjectRef { bucket: "uploads-bucket".into(), key: "scrubbed/x.csv".into(), version: "v2".into() };
    conflicted("UpdateItem");
    // Its three rows are still to work: the write goes through the conflicts and is then refused by its condition.
    assert!(!store.set_scrubbed(&job.id, &copy).await.unwrap(), "no copy recorded over rows still to work");
    conflicted("UpdateItem");
    store.fail_job(&job.id, "the file cannot be read").await.unwrap();
    let ended = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((ended.state, ended.chunks, ended.scrubbed.as_ref()), (JobState::Failed, 1, None));

    // Items of their own, put whole: a shared reading, an email change.
    proxy.inject(Fault::error("PutItem", "SHARED#", CONFLICT));
    store.share(&job.id, "reference", "{}").await.unwrap();
    assert_eq!(store.shared(&job.id, "reference").await.unwrap().as_deref(), Some("{}"));
    assert_eq!(proxy.pending(), 0, "every injected conflict was met: {:?}", proxy.given().len());
    assert_eq!(proxy.given().len(), 13);
}
