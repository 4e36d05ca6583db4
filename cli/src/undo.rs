//! `ccbulk undo JOB --config F`: what a local job did, put back from its rows' undo images, against the instance and
//! org it ran against; a user changed again since is left alone and reported. The undo report goes beside the job's
//! file as NAME.undo.csv.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ccbulk_shared::job::{JobId, JobStore, Lease, SqliteJobStore};
use ccbulk_shared::pipeline::{LOCAL_BUCKET, start_undo, undo_report, undo_rows};

use crate::config::Config;
use crate::exit;
use crate::run::targets::{configured, preflight};
use crate::run::{Stop, unusable};

/// How long the undo holds a row unless it finishes it: an undo killed and started again takes the rows over after.
const UNDO_ROW_LEASE_SECONDS: u64 = 60;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job (its id, as `ccbulk run` and `ccbulk status` print it).
    pub job: String,
    /// The instance and org the job ran against (the run's --config). A job run on the embedded sandboxes cannot be
    /// undone: they ended with its run.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The job store [default: the config's, or .ccbulk/state.db].
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Where to write the undo report [default: beside the job's file, as NAME.undo.csv].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &Args) -> ExitCode {
    crate::run::command(execute(args))
}

async fn execute(args: &Args) -> Result<u8, Stop> {
    let Some(config_path) = &args.config else {
        return Err(unusable(format!(
            "undoing job {} needs the instance and org it ran against: pass the run's --config (a job run on the \
             embedded sandboxes cannot be undone, they ended with its run)",
            args.job
        )));
    };
    let config = Config::load(config_path).map_err(|e| unusable(e.to_string()))?;
    let state = args.state.clone().unwrap_or_else(|| config.run.state.clone());
    if !state.is_file() {
        return Err(unusable(format!("no job store at {}: pass the run's --state", state.display())));
    }
    let store = SqliteJobStore::open(&state).map_err(|e| unusable(e.to_string()))?;
    let job = store
        .job(&JobId::from_string(args.job.clone()))
        .await
        .map_err(|e| unusable(e.to_string()))?
        .ok_or_else(|| unusable(format!("no job {} in {}", args.job, state.display())))?;
    if job.source.bucket != LOCAL_BUCKET {
        return Err(unusable(format!("job {} is a stack's job: undo it through the stack", job.id)));
    }
    let targets = configured(&config, job.telephony_model.has_connect_side()).await;
    preflight(&targets).await.map_err(unusable)?;
    let out_path = args.out.clone().unwrap_or_else(|| undo_path(Path::new(&job.source.key)));
    let out =
        std::fs::File::create(&out_path).map_err(|e| unusable(format!("cannot write {}: {e}", out_path.display())))?;
    let (undo, messages) = start_undo(&store, &job).await.map_err(|e| unusable(e.to_string()))?;
    println!("undo of job {}: job {}, {} rows", job.id, undo.id, undo.counts.total());
    let lease = Lease::new(UNDO_ROW_LEASE_SECONDS);
    for message in &messages {
        undo_rows(&store, &targets, message, &lease).await.map_err(|e| unusable(e.to_string()))?;
    }
    let undo = store.job(&undo.id).await.map_err(|e| unusable(e.to_string()))?.unwrap_or(undo);
    let (counts, _) =
        undo_report(&store, &undo, std::io::BufWriter::new(out)).await.map_err(|e| unusable(e.to_string()))?;
    println!(
        "{}: {} rows undone, {} left alone (changed since the job), {} with nothing to put back, {} failed",
        undo.state.as_str(),
        counts.undone,
        counts.left_alone,
        counts.nothing,
        counts.failed
    );
    println!("undo report: {}", out_path.display());
    Ok(if counts.failed + counts.left_alone == 0 { exit::ALL_SUCCEEDED } else { exit::SOME_FAILED })
}

/// `dir/name.csv` → `dir/name.undo.csv`.
fn undo_path(input: &Path) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "ccbulk".into());
    input.with_file_name(format!("{stem}.undo.csv"))
}
