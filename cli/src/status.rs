//! `ccbulk status [JOB]`: the jobs in the local store, one job's counts, its failed or invalid rows, its report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ccbulk_shared::job::{Job, JobStore, RowRecord, RowStatus, SqliteJobStore};
use ccbulk_shared::pipeline::{LOCAL_BUCKET, job_report};

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
    #[arg(long, value_name = "FILE", default_value = ".ccbulk/state.db")]
    pub state: PathBuf,
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

async fn execute(args: &Args) -> Result<(), String> {
    if !args.state.exists() {
        return Err(format!("no job store at {}: run `ccbulk run FILE` first", args.state.display()));
    }
    let store = SqliteJobStore::open(&args.state).map_err(|e| e.to_string())?;
    let Some(wanted) = &args.job else {
        let jobs = store.jobs(args.limit, None).await.map_err(|e| e.to_string())?;
        if jobs.items.is_empty() {
            println!("no jobs yet");
        }
        for job in &jobs.items {
            println!("{}", job_line(job));
        }
        return Ok(());
    };
    let job = find(&store, wanted).await?;
    println!("{}", job_line(&job));
    println!("  file: {}", source_name(&job));
    if let Some(error) = &job.error {
        println!("  error: {error}");
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
    for (asked, status) in [(args.failed, RowStatus::Failed), (args.invalid, RowStatus::Invalid)] {
        if asked {
            list_rows(&store, &job, status).await?;
        }
    }
    if let Some(report) = &args.report {
        if job.source.bucket != LOCAL_BUCKET {
            return Err(format!("the job read {}, which is not a local file", source_name(&job)));
        }
        let input = Path::new(&job.source.key);
        let out = std::fs::File::create(report).map_err(|e| format!("cannot write {}: {e}", report.display()))?;
        job_report(&store, &job, input, std::io::BufWriter::new(out)).await.map_err(|e| e.to_string())?;
        println!("  report: {}", report.display());
    }
    Ok(())
}

async fn find(store: &SqliteJobStore, wanted: &str) -> Result<Job, String> {
    let mut matches = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.jobs(PAGE, after.as_deref()).await.map_err(|e| e.to_string())?;
        matches.extend(page.items.into_iter().filter(|j| j.id.as_str().starts_with(wanted)));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    match matches.len() {
        0 => Err(format!("no job {wanted:?} in the store")),
        1 => Ok(matches.remove(0)),
        n => Err(format!("{n} jobs start with {wanted:?}: give more of the id")),
    }
}

async fn list_rows(store: &SqliteJobStore, job: &Job, status: RowStatus) -> Result<(), String> {
    println!("  {} rows:", status.as_str().to_lowercase());
    let mut after = None;
    loop {
        let page = store.rows(&job.id, Some(status), PAGE, after).await.map_err(|e| e.to_string())?;
        for row in &page.items {
            println!("    {}", row_line(row));
        }
        after = page.items.last().map(|r| r.row);
        if page.next.is_none() {
            return Ok(());
        }
    }
}

/// `row 3 jdoe: the error message`.
pub(crate) fn row_line(row: &RowRecord) -> String {
    format!(
        "row {} {}: {}",
        row.row,
        row.username.as_deref().unwrap_or("-"),
        row.outcome.error_message.as_deref().unwrap_or_default()
    )
}

fn job_line(job: &Job) -> String {
    format!(
        "{}  {:<21} {:>6}/{:<6} rows done  {}",
        job.id,
        job.state.as_str(),
        job.counts.succeeded + job.counts.failed + job.counts.invalid,
        job.counts.total(),
        source_name(job)
    )
}

fn source_name(job: &Job) -> String {
    if job.source.bucket == LOCAL_BUCKET {
        job.source.key.clone()
    } else {
        format!("s3://{}/{}", job.source.bucket, job.source.key)
    }
}
