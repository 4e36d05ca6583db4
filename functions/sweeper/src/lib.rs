//! The sweeper, as its schedule runs it: every job of the last two weeks that has not moved for longer than any of
//! its messages can stay out of sight is moved on or ended (`ccbulk_shared::pipeline::sweep` says how), and every
//! ended job whose upload still holds its passwords has its ending done again. One job's failure is logged and
//! leaves the others to go on; the invocation then fails, for the function's error metric and alarm.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use ccbulk_lambda::{ConfigError, Env, MetricsOut, Telemetry, after_ending, chunking, s3_client};
use ccbulk_shared::job::{DynamoJobStore, Job, JobStore, StoreError};
use ccbulk_shared::pipeline::{
    S3Objects, SqsQueue, SweepError, SweepRules, Verdict, fail_ingest, fail_unfinished, nudge, verdict,
};
use ccbulk_shared::validate::Options;
use tokio::runtime::Handle;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Jobs read from the table at a time, newest first.
const PAGE: usize = 100;

/// What the function holds between invocations.
pub struct Sweeper {
    store: Arc<DynamoJobStore>,
    queue: Arc<SqsQueue>,
    objects: S3Objects,
    options: Options,
    rules: SweepRules,
    telemetry: Telemetry,
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub looked_at: u32,
    pub nudged: u32,
    pub chunks_sent: u32,
    pub rows_failed: u64,
    pub ingests_failed: u32,
    pub tidied: u32,
    pub errors: u32,
}

impl fmt::Display for Swept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "looked at {} jobs: {} nudged ({} chunks sent), {} rows failed, {} ingests failed, {} endings done \
             again, {} errors",
            self.looked_at,
            self.nudged,
            self.chunks_sent,
            self.rows_failed,
            self.ingests_failed,
            self.tidied,
            self.errors
        )
    }
}

impl Sweeper {
    /// From `CCBULK_TABLE`, `CCBULK_QUEUE_URL`, `CCBULK_CHUNK_ROWS`, `CCBULK_SALESFORCE_SYNC` (the chunks a nudge
    /// sends are cut as ingest cut them) and, for tests, `CCBULK_STALLED_AFTER_SECONDS`.
    pub fn new(config: &SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        let defaults = SweepRules::default();
        let default = u32::try_from(defaults.stalled_after.as_secs()).unwrap_or(u32::MAX);
        let stalled = env.whole_number("CCBULK_STALLED_AFTER_SECONDS", Some(default), 1..=u32::MAX)?;
        Ok(Self {
            store: Arc::new(DynamoJobStore::new(aws_sdk_dynamodb::Client::new(config), env.required("CCBULK_TABLE")?)),
            queue: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(config), env.required("CCBULK_QUEUE_URL")?)),
            objects: S3Objects::new(s3_client(config)),
            options: chunking(env)?,
            rules: SweepRules { stalled_after: Duration::from_secs(stalled.into()), ..defaults },
            telemetry: Telemetry::new(config, env),
        })
    }

    /// The same function, writing its metric documents to `out` instead of standard output.
    pub fn with_metrics_out(mut self, out: MetricsOut) -> Self {
        self.telemetry = self.telemetry.with_metrics_out(out);
        self
    }

    /// Sweeps the jobs as they stand at `now`.
    pub async fn sweep(&self, now: SystemTime) -> Result<Swept, Error> {
        let now = now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
        let oldest = now.saturating_sub(self.rules.horizon.as_secs());
        let mut swept = Swept::default();
        let mut after: Option<String> = None;
        'pages: loop {
            let page = self.store.jobs(PAGE, after.as_deref()).await?;
            for job in &page.items {
                if job.created_at < oldest {
                    break 'pages;
                }
                swept.looked_at += 1;
                if let Err(err) = self.sweep_job(job, now, &mut swept).await {
                    tracing::error!(job = %job.id, error = %err, "could not sweep the job");
                    swept.errors += 1;
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        tracing::info!(%swept, "swept");
        if swept.errors > 0 {
            return Err(format!("{swept}").into());
        }
        Ok(swept)
    }

    async fn sweep_job(&self, job: &Job, now: u64, swept: &mut Swept) -> Result<(), SweepError> {
        match verdict(self.store.as_ref(), job, &self.rules, now).await? {
            Verdict::Leave => {}
            Verdict::Tidy => {
                tracing::warn!(job = %job.id, "an ended job still has its upload: its ending is done again");
                self.ended(job).await;
                swept.tidied += 1;
            }
            Verdict::Nudge { nudge: count } => {
                let sent = self.with_its_file(job, move |store, queue, source, job, options| {
                    Box::pin(nudge(store, queue, source, job, options, count))
                });
                let sent = sent.await?;
                tracing::warn!(job = %job.id, nudge = count, chunks = sent, "a stalled job's chunks were sent again");
                swept.nudged += 1;
                swept.chunks_sent += sent;
            }
            Verdict::FailRows { reason } => {
                let (failed, state) = fail_unfinished(self.store.as_ref(), job, &reason).await?;
                tracing::warn!(job = %job.id, rows = failed, %reason, "a stalled job's unfinished rows failed");
                swept.rows_failed += failed;
                if state.is_some_and(|s| s.has_ended()) {
                    self.ended(job).await;
                }
            }
            Verdict::FailIngest { reason } => {
                let why = reason.clone();
                let sent = self.with_its_file(job, move |store, queue, source, job, options| {
                    Box::pin(async move { fail_ingest(store, queue, source, job, options, &why).await })
                });
                let sent = sent.await?;
                tracing::warn!(job = %job.id, chunks = sent, %reason, "a job whose ingest stopped failed");
                swept.ingests_failed += 1;
                swept.chunks_sent += sent;
            }
        }
        Ok(())
    }

    /// Announces the job's end and replaces its upload by the copy without passwords, as the worker that ends a job
    /// does (each is done once however often it is asked).
    async fn ended(&self, job: &Job) {
        if let Err(err) = after_ending(self.store.as_ref(), &self.objects, &self.telemetry, &job.id).await {
            tracing::error!(job = %job.id, error = %err, "the job's end could not be announced");
        }
    }

    /// Runs `work` with the job's file as it recorded it, read as a stream on a blocking thread (the stream blocks
    /// its reader between pieces, which no task of the runtime may do).
    async fn with_its_file<T: Send + 'static>(
        &self,
        job: &Job,
        work: impl for<'a> FnOnce(
            &'a DynamoJobStore,
            &'a SqsQueue,
            &'a ccbulk_shared::pipeline::S3Stream,
            &'a Job,
            &'a Options,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, SweepError>> + Send + 'a>>
        + Send
        + 'static,
    ) -> Result<T, SweepError> {
        let (store, queue, options, job) = (self.store.clone(), self.queue.clone(), self.options, job.clone());
        let source = self.objects.stream(job.file().clone(), Handle::current());
        let runtime = Handle::current();
        tokio::task::spawn_blocking(move || {
            runtime.block_on(work(store.as_ref(), queue.as_ref(), &source, &job, &options))
        })
        .await
        .map_err(|e| SweepError::Store(StoreError(format!("the sweep of a job stopped: {e}"))))?
    }
}
