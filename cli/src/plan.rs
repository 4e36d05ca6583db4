//! `ccbulk plan FILE`: what a run of the file would do to each row, read from the instance and org (or from sandboxes
//! started for the plan) with nothing written; a summary on the terminal and the plan CSV beside the file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ccbulk_shared::pipeline::{PlanSummary, plan_file};

use crate::exit;
use crate::run::{Prepared, Stop, Targeting, prepare, unusable};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Targeting,
    /// Where to write the plan CSV [default: beside the input, as NAME.plan.csv].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &Args) -> ExitCode {
    crate::run::command(execute(args))
}

async fn execute(args: &Args) -> Result<u8, Stop> {
    let Prepared { targets, embedded, options, .. } = prepare(&args.target).await?;
    let path = args.target.file.as_path();
    let out_path = args.out.clone().unwrap_or_else(|| plan_path(path));
    let out =
        std::fs::File::create(&out_path).map_err(|e| unusable(format!("cannot write {}: {e}", out_path.display())))?;
    let writes_before = embedded.as_ref().map(|e| e.writes());
    let (summary, _) = plan_file(path, &options, &targets, std::io::BufWriter::new(out))
        .await
        .map_err(|e| unusable(format!("{}: {e}", path.display())))?;
    print_summary(path, &summary, &out_path, embedded.is_some());
    if let (Some(before), Some(embedded)) = (writes_before, &embedded) {
        // The embedded sandboxes count every write: a plan that made one is a defect, said out loud.
        let made = embedded.writes().saturating_sub(before);
        if made > 0 {
            return Err(Stop { code: exit::UNUSABLE, message: format!("the plan made {made} writes: a defect") });
        }
    }
    Ok(if summary.counts.fail == 0 { exit::ALL_SUCCEEDED } else { exit::SOME_FAILED })
}

fn print_summary(path: &Path, summary: &PlanSummary, out: &Path, embedded: bool) {
    let target = if embedded { "the embedded sandboxes" } else { "the configured instance and org" };
    println!(
        "{}: {} rows ({} dialect, {}, {}) against {target}",
        path.display(),
        summary.counts.total(),
        summary.dialect.as_str(),
        summary.setup.identity_management.as_str(),
        summary.setup.telephony_model.as_str(),
    );
    println!("plan: {}", summary.counts);
    if !summary.failures.is_empty() {
        println!("rows that would fail:");
        for (row, reason) in &summary.failures {
            println!("  row {row}: {reason}");
        }
        if summary.counts.fail as usize > summary.failures.len() {
            println!("  … and {} more, in the plan", summary.counts.fail as usize - summary.failures.len());
        }
    }
    println!("nothing was written; the plan per row: {}", out.display());
}

/// `dir/name.csv` → `dir/name.plan.csv`.
pub fn plan_path(input: &Path) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "ccbulk".into());
    input.with_file_name(format!("{stem}.plan.csv"))
}
