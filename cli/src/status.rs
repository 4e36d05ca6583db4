//! `ccbulk status [JOB]`: the jobs in the local store (or, with `--api`, a deployed stack's), one job's counts, its
//! failed or invalid rows, its report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ccbulk_shared::job::{Job, JobId, JobStore, Page, RowRecord, RowStatus, SalesforceAllocation, SqliteJobStore};
use ccbulk_shared::pipeline::{LOCAL_BUCKET, job_report};

use crate::api::ApiClient;

const PAGE: usize = 500;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A job id, or the start of one; without it, the jobs newest first.
    pub job: Option<String>,
    /// List the job's failed rows.
    #[arg(long)]
    pub failed: bool,
    /// List the job's invalid rows.
    #[arg(long)]
    pub invalid: bool,
    /// Write the job's report (input columns and each row's outcome) to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The job store.
    #[arg(long, value_name = "FILE", default_value = ".ccbulk/state.db", conflicts_with = "api")]
    pub state: PathBuf,
    /// A deployed stack's status API (its StatusApiUrl output), called with SigV4 and the default AWS credentials.
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// The AWS profile for --api.
    #[arg(long, value_name = "NAME", requires = "api")]
    pub profile: Option<String>,
    /// Jobs listed at most.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

pub fn run(args: &Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return fail(format!("cannot start the async runtime: {err}")),
    };
    match runtime.block_on(execute(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(message),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// Where the jobs are: the local store, or a deployed stack's API.
pub(crate) enum Jobs {
    Local(SqliteJobStore),
    Api(ApiClient),
}

impl Jobs {
    pub(crate) async fn list(&self, limit: usize, after: Option<&str>) -> Result<Page<Job>, String> {
        match self {
            Jobs::Local(store) => store.jobs(limit, after).await.map_err(|e| e.to_string()),
            Jobs::Api(api) => api.jobs(limit, after).await,
        }
    }

    pub(crate) async fn job(&self, id: &str) -> Result<Option<Job>, String> {
        match self {
            Jobs::Local(store) => store.job(&JobId::from_string(id.to_owned())).await.map_err(|e| e.to_string()),
            Jobs::Api(api) => api.job(id).await,
        }
    }

    /// The org's API allocation as the job's workers last saw it.
    async fn salesforce_allocation(&self, job: &Job) -> Result<Option<SalesforceAllocation>, String> {
        match self {
            Jobs::Local(store) => SalesforceAllocation::of_job(store, &job.id).await.map_err(|e| e.to_string()),
            Jobs::Api(api) => api.salesforce_allocation(job.id.as_str()).await,
        }
    }

    pub(crate) async fn rows(
        &self,
        id: &JobId,
        status: Option<RowStatus>,
        limit: usize,
        after: Option<u64>,
    ) -> Result<Page<RowRecord>, String> {
        match self {
            Jobs::Local(store) => store.rows(id, status, limit, after).await.map_err(|e| e.to_string()),
            Jobs::Api(api) => api.rows(id, status, limit, after).await,
        }
    }

    async fn report(&self, job: &Job, out: &Path) -> Result<(), String> {
        let file = std::fs::File::create(out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        match self {
            Jobs::Local(store) => {
                if job.source.bucket != LOCAL_BUCKET {
                    return Err(format!("the job read {}, which is not a local file", source_name(job)));
                }
                let input = Path::new(&job.source.key);
                job_report(store, job, input, std::io::BufWriter::new(file)).await.map_err(|e| e.to_string())
            }
            Jobs::Api(api) => {
                let bytes = api.report(&job.id).await?;
                std::io::BufWriter::new(file)
                    .write_all(&bytes)
                    .map_err(|e| format!("cannot write {}: {e}", out.display()))
            }
        }
    }
}

async fn execute(args: &Args) -> Result<(), String> {
    let jobs = match &args.api {
        Some(url) => Jobs::Api(ApiClient::connect(url, args.profile.as_deref()).await?),
        None if !args.state.exists() => {
            return Err(format!("no job store at {}: run `ccbulk run FILE` first", args.state.display()));
        }
        None => Jobs::Local(SqliteJobStore::open(&args.state).map_err(|e| e.to_string())?),
    };
    let Some(wanted) = &args.job else {
        let page = jobs.list(args.limit, None).await?;
        if page.items.is_empty() {
            println!("no jobs yet");
        }
        for job in &page.items {
            println!("{}", job_line(job));
        }
        return Ok(());
    };
    let job = find(&jobs, wanted).await?;
    println!("{}", job_line(&job));
    println!("  file: {}", source_name(&job));
    if let Some(error) = &job.error {
        println!("  error: {error}");
    }
    if let Some(pause) = &job.paused {
        println!("  PAUSED since {}: {}", pause.since, pause.reason);
    }
    println!(
        "  rows: {} succeeded, {} failed, {} invalid, {} pending, {} in progress ({} in all, {} chunks)",
        job.counts.succeeded,
        job.counts.failed,
        job.counts.invalid,
        job.counts.pending,
        job.counts.in_progress,
        job.counts.total(),
        job.chunks
    );
    if let Some(allocation) = jobs.salesforce_allocation(&job).await? {
        let share = if allocation.max > 0 { allocation.used as f64 * 100.0 / allocation.max as f64 } else { 0.0 };
        println!(
            "  Salesforce API allocation: {} of {} used in the 24 hours before {} ({share:.1} %, the whole org's)",
            allocation.used, allocation.max, allocation.seen_at
        );
    }
    for (asked, status) in [(args.failed, RowStatus::Failed), (args.invalid, RowStatus::Invalid)] {
        if asked {
            list_rows(&jobs, &job, status).await?;
        }
    }
    if let Some(report) = &args.report {
        jobs.report(&job, report).await?;
        println!("  report: {}", report.display());
    }
    Ok(())
}

/// The job with this id, or the one job whose id starts so.
async fn find(jobs: &Jobs, wanted: &str) -> Result<Job, String> {
    if let Some(job) = jobs.job(wanted).await? {
        return Ok(job);
    }
    let mut matches = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = jobs.list(PAGE, after.as_deref()).await?;
        matches.extend(page.items.into_iter().filter(|j| j.id.as_str().starts_with(wanted)));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    match matches.len() {
        0 => Err(format!("no job {wanted:?}")),
        1 => Ok(matches.remove(0)),
        n => Err(format!("{n} jobs start with {wanted:?}: give more of the id")),
    }
}

pub(crate) async fn list_rows(jobs: &Jobs, job: &Job, status: RowStatus) -> Result<(), String> {
    println!("  {} rows:", status.as_str().to_lowercase());
    let mut after = None;
    loop {
        let page = jobs.rows(&job.id, Some(status), PAGE, after).await?;
        for row in &page.items {
            println!("    {}", row_line(row));
        }
        after = page.items.last().map(|r| r.row);
        if page.next.is_none() {
            return Ok(());
        }
    }
}

/// `row 3 jdoe: the error message` (or, for a succeeded row, its note).
pub(crate) fn row_line(row: &RowRecord) -> String {
    format!(
        "row {} {}: {}",
        row.row,
        row.username.as_deref().unwrap_or("-"),
        row.outcome.error_message.as_deref().or(row.outcome.note.as_deref()).unwrap_or_default()
    )
}

pub(crate) fn job_line(job: &Job) -> String {
    format!(
        "{}  {:<21} {:>6}/{:<6} rows done  {}",
        job.id,
        if job.paused.is_some() { format!("{} (paused)", job.state.as_str()) } else { job.state.as_str().to_owned() },
        job.counts.succeeded + job.counts.failed + job.counts.invalid,
        job.counts.total(),
        source_name(job)
    )
}

pub(crate) fn source_name(job: &Job) -> String {
    if job.source.bucket == LOCAL_BUCKET {
        job.source.key.clone()
    } else {
        format!("s3://{}/{}", job.source.bucket, job.source.key)
    }
}
