//! `ccbulk init`: writes the commented config template.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write it.
    #[arg(default_value = "ccbulk.toml")]
    pub path: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &Args) -> ExitCode {
    if args.path.exists() && !args.force {
        eprintln!("error: {} exists; --force replaces it", args.path.display());
        return ExitCode::from(2);
    }
    match std::fs::write(&args.path, crate::config::TEMPLATE) {
        Ok(()) => {
            println!(
                "wrote {}: fill in [connect] and [salesforce], then `ccbulk run --config {} FILE`",
                args.path.display(),
                args.path.display()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: cannot write {}: {err}", args.path.display());
            ExitCode::from(2)
        }
    }
}
