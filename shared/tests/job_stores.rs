//! One contract, two job stores: SQLite (what `ccbulk run` keeps) and DynamoDB on moto (what the Lambdas keep), the
//! table built from template.yaml's own definition. moto: `CCBULK_MOTO_ENDPOINT`, or a `moto_server` this test
//! starts (from `.ci/.venv/bin` or the PATH).

use ccbulk_shared::domain::{Action, IdentityManagement, TelephonyModel};
use ccbulk_shared::format::Dialect;
use ccbulk_shared::job::{
    Counts, Created, DynamoJobStore, Job, JobId, JobState, JobStore, ObjectRef, RowOutcome, RowRecord, RowStart,
    RowStatus, SqliteJobStore,
};
use ccbulk_shared::validate::Setup;
use ccbulk_testkit::{Moto, aws_config_for, create_jobs_table, moto, unique};

async fn dynamo(moto: &Moto, name: &str) -> DynamoJobStore {
    let client = aws_sdk_dynamodb::Client::new(&aws_config_for(&moto.endpoint));
    // Each test its own table: moto's reset is global, and tests run in parallel.
    let table = unique(name);
    create_jobs_table(&client, &table).await;
    DynamoJobStore::new(client, table)
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
    assert!(matches!(store.create_job(&job).await.unwrap(), Created::Existing(existing) if existing == job));
    let rows =
        [record(&job, 2, RowStatus::Pending), record(&job, 3, RowStatus::Pending), record(&job, 4, RowStatus::Invalid)];
    store.put_rows(&rows).await.unwrap();
    store.put_rows(&rows[1..]).await.unwrap();
    let counts = store.job(&job.id).await.unwrap().unwrap().counts;
    assert_eq!((counts.pending, counts.invalid, counts.total()), (2, 1, 3), "a repeated ingest counts nothing twice");
    store.set_state(&job.id, JobState::Running, Some(1)).await.unwrap();

    let RowStart::Go(started) = store.start_row(&job.id, 2).await.unwrap() else { panic!("row 2 needs work") };
    assert_eq!((started.status, started.attempts), (RowStatus::InProgress, 1));
    let RowStart::Go(again) = store.start_row(&job.id, 2).await.unwrap() else { panic!("row 2 still needs work") };
    assert_eq!(again.attempts, 2, "a crashed attempt is taken up again");
    let counts = store.job(&job.id).await.unwrap().unwrap().counts;
    assert_eq!((counts.pending, counts.in_progress), (1, 1), "no count moves twice");

    let done = RowOutcome {
        connect_user_id: Some("u-1".into()),
        salesforce_user_id: Some("005x".into()),
        ..RowOutcome::default()
    };
    assert_eq!(store.finish_row(&job.id, 2, RowStatus::Succeeded, &done).await.unwrap(), JobState::Running);
    assert_eq!(store.start_row(&job.id, 2).await.unwrap(), RowStart::Done(RowStatus::Succeeded));
    assert_eq!(store.start_row(&job.id, 4).await.unwrap(), RowStart::Done(RowStatus::Invalid));

    store.start_row(&job.id, 3).await.unwrap();
    let failed =
        RowOutcome { error_message: Some("Amazon Connect: InvalidParameterException".into()), ..RowOutcome::default() };
    assert_eq!(store.finish_row(&job.id, 3, RowStatus::Failed, &failed).await.unwrap(), JobState::CompletedWithErrors);
    let finished = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((finished.counts.succeeded, finished.counts.failed, finished.counts.invalid), (1, 1, 1));
    assert_eq!(finished.chunks, 1);
    let row = store.row(&job.id, 2).await.unwrap().unwrap();
    assert_eq!((row.outcome.connect_user_id.as_deref(), row.outcome.error_message), (Some("u-1"), None));
    assert_eq!(store.row(&job.id, 3).await.unwrap().unwrap().outcome.error_message, failed.error_message);

    // A rerun takes the failed row up again, and the job is running until it ends.
    let RowStart::Go(retry) = store.start_row(&job.id, 3).await.unwrap() else { panic!("failed rows are retried") };
    assert_eq!(retry.attempts, 2);
    assert_eq!(store.job(&job.id).await.unwrap().unwrap().state, JobState::Running);
    assert_eq!(store.finish_row(&job.id, 3, RowStatus::Succeeded, &done).await.unwrap(), JobState::CompletedWithErrors);
    let row = store.row(&job.id, 3).await.unwrap().unwrap();
    assert_eq!((row.status, row.outcome.error_message), (RowStatus::Succeeded, None), "a success clears the error");
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

#[tokio::test]
async fn sqlite_keeps_the_contract() {
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
    a_job_moves_through_its_rows(&dynamo(&moto, "lifecycle").await).await;
    rows_and_jobs_page(&dynamo(&moto, "paging").await).await;
    an_unusable_file_is_a_failed_job_with_its_reason(&dynamo(&moto, "unusable").await).await;
}
