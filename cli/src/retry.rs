//! `ccbulk retry JOB`: the job's FAILED rows again, and no others. Locally, against the instance and org the job ran
//! against (`--config`), with the same workers and report as `ccbulk run`; on a stack, through its status API
//! (`--api`), then following the job. A file fixed and uploaded again is a new job, not a retry.

use std::path::PathBuf;
use std::process::ExitCode;

use ccbulk_shared::format::DialectChoice;
use ccbulk_shared::job::{JobId, JobStore, SqliteJobStore};
use ccbulk_shared::pipeline::LOCAL_BUCKET;

use crate::api::ApiClient;
use crate::config::Config;
use crate::exit;
use crate::status::Jobs;
use crate::submit::{Following, follow_to_the_end};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job (its id, as `ccbulk run` and `ccbulk status` print it).
    pub job: String,
    /// The instance and org the job ran against (the run's --config). A job run on the embedded sandboxes cannot be
    /// retried: they ended with its run.
    #[arg(long, value_name = "FILE", conflicts_with = "api")]
    pub config: Option<PathBuf>,
    /// The job store [default: the config's, or .ccbulk/state.db].
    #[arg(long, value_name = "FILE", conflicts_with = "api")]
    pub state: Option<PathBuf>,
    /// Where to write the report [default: beside the input, as NAME.report.csv].
    #[arg(long, value_name = "FILE", conflicts_with = "api")]
    pub report: Option<PathBuf>,
    /// Retry a job of a deployed stack, through its status API (its StatusApiUrl output), and follow it.
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// The AWS profile for --api (default: the default credential chain).
    #[arg(long, value_name = "NAME", requires = "api")]
    pub profile: Option<String>,
    #[command(flatten)]
    pub following: Following,
}

pub fn run(args: &Args) -> ExitCode {
    if args.api.is_none() {
        return match local_run(args) {
            Ok(run) => crate::run::run(&run),
            Err(message) => fail(message),
        };
    }
    crate::logging::init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return fail(format!("cannot start the async runtime: {err}")),
    };
    match runtime.block_on(on_stack(args)) {
        Ok(code) => ExitCode::from(code),
        Err(message) => fail(message),
    }
}

/// What a retry says of the failed rows it left FAILED.
pub fn left_failed(left: u64) -> String {
    format!(
        "left FAILED: {left} rows the job's file no longer gives whole (their passwords went with the upload once the \
         job ended): put them in a new file"
    )
}

fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(exit::UNUSABLE)
}

/// The `ccbulk run` that retries the job: its file, read as the job read it, against the configured targets.
fn local_run(args: &Args) -> Result<crate::run::Args, String> {
    let Some(config_path) = &args.config else {
        return Err(format!(
            "retrying job {} needs the instance and org it ran against: pass the run's --config (a job run on the \
             embedded sandboxes cannot be retried, they ended with its run), or --api for a stack's job",
            args.job
        ));
    };
    let config = Config::load(config_path).map_err(|e| e.to_string())?;
    let state = args.state.clone().unwrap_or_else(|| config.run.state.clone());
    if !state.is_file() {
        return Err(format!("no job store at {}: pass the run's --state", state.display()));
    }
    let store = SqliteJobStore::open(&state).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|e| e.to_string())?;
    let job = runtime
        .block_on(store.job(&JobId::from_string(args.job.clone())))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no job {} in {}", args.job, state.display()))?;
    if job.source.bucket != LOCAL_BUCKET {
        return Err(format!("job {} is a stack's job: retry it with --api", job.id));
    }
    let dialect = job.dialect.ok_or_else(|| {
        format!(
            "job {} has no rows to retry: its file could not be read ({})",
            job.id,
            job.error.as_deref().unwrap_or("unknown")
        )
    })?;
    Ok(crate::run::Args {
        target: crate::run::Targeting {
            file: PathBuf::from(&job.source.key),
            config: Some(config_path.clone()),
            identity_management: Some(job.identity_management),
            telephony_model: Some(job.telephony_model),
            salesforce_sync: None,
            dialect: DialectChoice::Fixed(dialect),
        },
        state: Some(state),
        report: args.report.clone(),
        quiet: args.following.quiet,
        retry_of: Some(job.id),
    })
}

async fn on_stack(args: &Args) -> Result<u8, String> {
    let url = args.api.as_deref().unwrap_or_default();
    let api = ApiClient::connect(url, args.profile.as_deref()).await?;
    let retried = api.retry(&args.job).await?.ok_or_else(|| format!("no job {} on {url}", args.job))?;
    println!("job {}: failed rows back to PENDING: {}; chunks sent again: {}", args.job, retried.rows, retried.chunks);
    if retried.left > 0 {
        println!("  {}", left_failed(retried.left));
    }
    follow_to_the_end(&Jobs::Api(api), &JobId::from_string(args.job.clone()), url, args.following).await
}
