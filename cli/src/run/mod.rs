//! `ccbulk run FILE`: ingest the file into the local job store, provision its rows with a pool of workers, write
//! the report beside the file and print a summary. Without `--config` the targets are sandboxes started in process.

mod progress;
pub(crate) mod targets;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ccbulk_shared::domain::{IdentityManagement, TelephonyModel};
use ccbulk_shared::format::{DialectChoice, Header, RecordReader};
use ccbulk_shared::job::{Job, JobId, JobState, JobStore, RowStatus, SqliteJobStore};
use ccbulk_shared::pipeline::{
    LocalFiles, MemoryQueue, Pool, RetryPolicy, Targets, ingest, job_report, requeue, retry_failed,
};
use ccbulk_shared::salesforce::{SalesforceSync, Usage};
use ccbulk_shared::validate::{Options, Source};
use tokio::sync::watch;

use crate::config::Config;
use crate::exit;
use crate::validate::{parse_dialect, parse_identity, parse_sync, parse_telephony};

/// Failed rows printed in the summary; `ccbulk status JOB --failed` lists them all.
const FAILED_SHOWN: usize = 10;
/// How long a run's hold on its rows lasts unless renewed: a run killed outright and started again takes the rows it
/// held over after this long (a live run renews its hold every third of it).
const CLI_ROW_LEASE: Duration = Duration::from_secs(15);

/// A file and where its rows go: what `run` and `plan` take alike.
#[derive(Debug, Clone, clap::Args)]
pub struct Targeting {
    /// The CSV file (bulkop, connect or ccbulk dialect).
    pub file: PathBuf,
    /// The Connect instance and Salesforce org this file names (see `ccbulk init`); without it, sandboxes started
    /// for this command.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How the Connect instance manages identities [default: the instance's own; SAML for bulkop files on the
    /// embedded sandboxes, CONNECT_MANAGED otherwise].
    #[arg(long, value_name = "TYPE", value_parser = parse_identity)]
    pub identity_management: Option<IdentityManagement>,
    /// amazon-connect, partner-telephony-from-amazon-connect or partner-telephony [default: the config's, or
    /// amazon-connect].
    #[arg(long, value_name = "MODEL", value_parser = parse_telephony)]
    pub telephony_model: Option<TelephonyModel>,
    /// How rows' Salesforce side is provisioned: direct (ccbulk writes it), bulkop (Salesforce's own bulk path,
    /// ContactCenterBulkOp through Bulk API 2.0) or auto (bulkop for a bulkop file, direct for the others)
    /// [default: the config's, or auto].
    #[arg(long, value_name = "MODE", value_parser = parse_sync)]
    pub salesforce_sync: Option<SalesforceSync>,
    /// The file's dialect: auto (from the header), bulkop, connect or ccbulk.
    #[arg(long, value_name = "DIALECT", value_parser = parse_dialect, default_value = "auto")]
    pub dialect: DialectChoice,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Targeting,
    /// The job store [default: the config's, or .ccbulk/state.db].
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Where to write the report [default: beside the input, as NAME.report.csv].
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Set by `ccbulk retry`: the job whose FAILED rows this run works again, and none of its other rows.
    #[arg(skip)]
    pub retry_of: Option<JobId>,
}

/// A run that could not start or go on, with the exit code it ends with.
pub(crate) struct Stop {
    pub code: u8,
    pub message: String,
}

pub(crate) fn unusable(message: impl Into<String>) -> Stop {
    Stop { code: exit::UNUSABLE, message: message.into() }
}

pub fn run(args: &Args) -> ExitCode {
    command(execute(args))
}

/// Runs a command's `work` on a runtime of its own, logging set up, and turns its outcome into the exit status; a
/// stop's message goes to standard error.
pub(crate) fn command(work: impl std::future::Future<Output = Result<u8, Stop>>) -> ExitCode {
    crate::logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(exit::UNUSABLE);
        }
    };
    match runtime.block_on(work) {
        Ok(code) => ExitCode::from(code),
        Err(stop) => {
            eprintln!("error: {}", stop.message);
            ExitCode::from(stop.code)
        }
    }
}

/// Where a run (or a plan) of a file goes, and how its file is read.
pub(crate) struct Prepared {
    pub config: Config,
    pub targets: Targets,
    /// The sandboxes started for this process, when no config names a real instance and org.
    pub embedded: Option<targets::Embedded>,
    pub options: Options,
}

/// The targets `args` name (the config's instance and org, or sandboxes started in process), checked, and the
/// options the file is read with.
pub(crate) async fn prepare(args: &Targeting) -> Result<Prepared, Stop> {
    let config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| unusable(e.to_string()))?,
        None => Config::default(),
    };
    let embedded_run = args.config.is_none();
    let telephony = args.telephony_model.or(config.run.telephony_model).unwrap_or(TelephonyModel::AmazonConnect);
    let path = args.file.as_path();

    // Targets first: a config's instance says how it manages identities, which validation needs.
    let (targets, embedded, instance_identity) = if embedded_run {
        let identity = match args.identity_management {
            Some(identity) => identity,
            None => file_default_identity(path, args.dialect, telephony)?,
        };
        let embedded =
            targets::Embedded::start().await.map_err(|e| unusable(format!("cannot start the sandboxes: {e}")))?;
        let mut targets = embedded.targets(identity).map_err(unusable)?;
        if !telephony.has_connect_side() {
            targets.connect = None;
        }
        if let (Some(salesforce), Some(sync)) = (targets.salesforce.as_mut(), args.salesforce_sync) {
            salesforce.sync = sync;
        }
        (targets, Some(embedded), Some(identity))
    } else {
        let mut targets = targets::configured(&config, telephony.has_connect_side()).await;
        if let (Some(salesforce), Some(sync)) = (targets.salesforce.as_mut(), args.salesforce_sync) {
            salesforce.sync = sync;
        }
        let identity = targets::preflight(&targets).await.map_err(unusable)?;
        (targets, None, identity)
    };
    let identity =
        args.identity_management.or(config.connect.as_ref().and_then(|c| c.identity_management)).or(instance_identity);
    let options = Options {
        identity_management: identity,
        telephony_model: telephony,
        dialect: args.dialect,
        chunk_rows: config.run.chunk_rows,
        sync: targets.salesforce.as_ref().map_or(SalesforceSync::Auto, |s| s.sync),
    };
    Ok(Prepared { config, targets, embedded, options })
}

async fn execute(args: &Args) -> Result<u8, Stop> {
    let path = args.target.file.as_path();
    let object = LocalFiles::object(path).map_err(|e| unusable(e.to_string()))?;
    let Prepared { config, targets, embedded, options } = prepare(&args.target).await?;

    let state = args.state.clone().unwrap_or_else(|| config.run.state.clone());
    if let Some(folder) = state.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|e| unusable(format!("cannot create {}: {e}", folder.display())))?;
    }
    let store = Arc::new(SqliteJobStore::open(&state).map_err(|e| unusable(e.to_string()))?);
    let id = JobId::for_object(&object);
    if embedded.is_some() {
        // The sandboxes a former embedded run provisioned into are gone: its job describes nothing that exists.
        store.forget_job(&id).map_err(|e| unusable(e.to_string()))?;
    }

    let queue = Arc::new(MemoryQueue::default());
    let resume = |job: Job| {
        let (store, queue) = (store.clone(), queue.clone());
        async move {
            let left = job.counts.pending + job.counts.in_progress + job.counts.failed;
            if left > 0 {
                // A rerun is the admin's word to try the failed rows again; a redelivery never reopens them.
                store.reopen_failed(&job.id).await.map_err(|e| unusable(e.to_string()))?;
                let chunks = requeue(store.as_ref(), queue.as_ref(), path, &job, &options)
                    .await
                    .map_err(|e| unusable(e.to_string()))?;
                println!("{}: resuming job {} ({left} rows left, {chunks} chunks)", path.display(), job.id);
            } else {
                println!("{}: job {} is already done", path.display(), job.id);
            }
            Ok::<_, Stop>(job)
        }
    };
    let job = match (store.job(&id).await.map_err(|e| unusable(e.to_string()))?, &args.retry_of) {
        (Some(job), Some(wanted)) if *wanted == id => {
            let retried = retry_failed(store.as_ref(), queue.as_ref(), path, &job, &options)
                .await
                .map_err(|e| unusable(e.to_string()))?;
            println!(
                "{}: retrying job {}: failed rows back to PENDING: {}; chunks sent again: {}",
                path.display(),
                job.id,
                retried.rows,
                retried.chunks
            );
            if retried.left > 0 {
                println!("  {}", crate::retry::left_failed(retried.left));
            }
            store.job(&id).await.map_err(|e| unusable(e.to_string()))?.unwrap_or(job)
        }
        (_, Some(wanted)) => {
            return Err(unusable(format!(
                "{} changed since job {wanted} read it (it is job {id} now): run it with `ccbulk run` as a new job",
                path.display()
            )));
        }
        (Some(job), None) if job.state != JobState::Ingesting => resume(job).await?,
        (_, None) => {
            let outcome = ingest(store.as_ref(), queue.as_ref(), path, object.clone(), &options)
                .await
                .map_err(|e| unusable(format!("{}: {e}", path.display())))?;
            // Another run of the same file on the same state got through ingest first: work along with it.
            if outcome.ingested { outcome.job } else { resume(outcome.job).await? }
        }
    };
    println!(
        "{}: job {}, {} rows ({} dialect, {}, {}) → {}",
        path.display(),
        job.id,
        job.counts.total(),
        job.dialect.map_or("unknown", |d| d.as_str()),
        job.identity_management.as_str(),
        job.telephony_model.as_str(),
        if embedded.is_some() { "the embedded sandboxes" } else { "the configured instance and org" }
    );

    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let interrupt = tokio::spawn({
        let stop = stop.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::SeqCst);
                eprintln!("\nstopping after the rows in flight (Ctrl-C again to quit at once)");
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(exit::INTERRUPTED.into());
                }
            }
        }
    });
    let (done_tx, done_rx) = watch::channel(false);
    let follower = tokio::spawn(progress::follow(store.clone(), job.id.clone(), args.quiet, done_rx));
    // What the org's Sforce-Limit-Info said before the rows: the summary says what the run took of the allocation.
    let salesforce_before = targets.salesforce.as_ref().and_then(|s| s.client.usage());
    let targets = Arc::new(targets);
    let pool = Pool {
        store: store.clone(),
        objects: Arc::new(LocalFiles),
        targets: targets.clone(),
        queue,
        // Short, so that a run killed outright and started again takes its rows over soon.
        policy: RetryPolicy { max_attempts: config.run.max_attempts, lease: CLI_ROW_LEASE },
        backoff: Duration::from_millis(config.run.retry_backoff_ms),
        stop: stop.clone(),
    };
    let worked = pool.run(config.run.workers).await;
    let _ = done_tx.send(true);
    let _ = follower.await;
    interrupt.abort();

    let job = store.job(&id).await.map_err(|e| unusable(e.to_string()))?.ok_or_else(|| unusable("the job vanished"))?;
    let report = args.report.clone().unwrap_or_else(|| report_path(path));
    write_report(store.as_ref(), &job, path, &report).await?;
    print_summary(store.as_ref(), &job, &report, started.elapsed()).await;
    print_quota_use(&targets, salesforce_before);
    if let Err(err) = worked {
        return Err(Stop { code: exit::SOME_FAILED, message: format!("{err}; run the same command again to resume") });
    }
    if stop.load(Ordering::SeqCst) {
        let hint = if embedded.is_some() {
            "the embedded sandboxes end with this run, so running it again starts afresh"
        } else {
            "run the same command again to resume"
        };
        eprintln!("stopped: {} rows not done; {hint}", job.counts.pending + job.counts.in_progress);
        return Ok(exit::INTERRUPTED);
    }
    Ok(if job.state == JobState::Succeeded { exit::ALL_SUCCEEDED } else { exit::SOME_FAILED })
}

/// What the run spent of the quotas it shares with the account's and the org's other tools: Connect calls the
/// service throttled, and the Salesforce API allocation as Sforce-Limit-Info reported it (its count is the whole
/// org's, other integrations included).
fn print_quota_use(targets: &Targets, salesforce_before: Option<Usage>) {
    if let Some(connect) = &targets.connect {
        println!("Amazon Connect: {} calls throttled", connect.pacer.throttles());
    }
    let Some(after) = targets.salesforce.as_ref().and_then(|s| s.client.usage()) else { return };
    let share = |used: u64| if after.max > 0 { used as f64 * 100.0 / after.max as f64 } else { 0.0 };
    match salesforce_before {
        Some(before) => println!(
            "Salesforce API allocation: {} calls during the run; {} of {} used in the last 24 hours ({:.1} %)",
            after.used.saturating_sub(before.used),
            after.used,
            after.max,
            share(after.used)
        ),
        None => println!(
            "Salesforce API allocation: {} of {} used in the last 24 hours ({:.1} %)",
            after.used,
            after.max,
            share(after.used)
        ),
    }
}

/// The identity management a file implies when nothing says otherwise: its dialect's usual one, or SAML for a
/// Connect template without a password column (the SAML template).
fn file_default_identity(
    path: &Path,
    choice: DialectChoice,
    telephony: TelephonyModel,
) -> Result<IdentityManagement, Stop> {
    let failed = |e: &dyn std::fmt::Display| unusable(format!("{}: {e}", path.display()));
    let file = path.open().map_err(|e| failed(&e))?;
    let names = RecordReader::new(file).read_header().map_err(|e| failed(&e))?;
    match Header::parse(names.clone(), choice, None, telephony) {
        Ok(header) => Ok(header.dialect().default_identity_management()),
        Err(err) => match Header::parse(names, choice, Some(IdentityManagement::Saml), telephony) {
            Ok(_) => Ok(IdentityManagement::Saml),
            Err(_) => Err(failed(&err)),
        },
    }
}

/// `dir/name.csv` → `dir/name.report.csv`.
pub fn report_path(input: &Path) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "ccbulk".into());
    input.with_file_name(format!("{stem}.report.csv"))
}

async fn write_report(store: &SqliteJobStore, job: &Job, input: &Path, report: &Path) -> Result<(), Stop> {
    let out = std::fs::File::create(report).map_err(|e| unusable(format!("cannot write {}: {e}", report.display())))?;
    job_report(store, job, input, std::io::BufWriter::new(out))
        .await
        .map_err(|e| unusable(format!("{}: {e}", report.display())))
}

async fn print_summary(store: &SqliteJobStore, job: &Job, report: &Path, took: Duration) {
    let c = job.counts;
    println!(
        "{}: {} rows: {} succeeded, {} failed, {} invalid, {} not done",
        job.state.as_str(),
        c.total(),
        c.succeeded,
        c.failed,
        c.invalid,
        c.pending + c.in_progress
    );
    for (status, label) in [(RowStatus::Failed, "failed"), (RowStatus::Invalid, "invalid")] {
        let count = c.get(status) as usize;
        if count == 0 {
            continue;
        }
        if let Ok(page) = store.rows(&job.id, Some(status), FAILED_SHOWN, None).await {
            println!("{label} rows:");
            for row in &page.items {
                println!("  {}", crate::status::row_line(row));
            }
            if count > page.items.len() {
                println!("  … and {} more: ccbulk status {} --{label}", count - page.items.len(), job.id);
            }
        }
    }
    let done = (c.succeeded + c.failed) as f64;
    println!("report: {}", report.display());
    println!("took {:.1} s ({:.1} rows/s)", took.as_secs_f64(), done / took.as_secs_f64().max(1e-3));
}
