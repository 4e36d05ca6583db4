//! `ccbulk`: bulk provisioning of contact-center users in Amazon Connect and Salesforce.

mod api;
mod config;
mod exit;
mod export;
mod init;
mod logging;
mod plan;
mod progress;
mod retry;
mod run;
mod status;
mod submit;
mod undo;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ccbulk",
    version,
    about = "Bulk provisioning of contact-center users in Amazon Connect and Salesforce"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a CSV file offline: every row against every rule, without contacting anything.
    Validate(validate::Args),
    /// List the validation rules: each code and what it demands.
    Rules,
    /// Provision a file's users: into sandboxes started for the run, or with --config into a real instance and org.
    Run(run::Args),
    /// What a run of a file would do to each row (create, update, no change, remove, fail), read from the instance
    /// and org with nothing written.
    Plan(plan::Args),
    /// The jobs in the local store (or a deployed stack's, with --api), one job's rows and its report.
    Status(status::Args),
    /// Upload a file to a deployed stack's bucket and follow its job through the status API.
    Submit(submit::Args),
    /// Work a job's FAILED rows again, and no others: locally with the run's --config, or on a stack with --api.
    Retry(retry::Args),
    /// The instance's users, and their Salesforce side, as a ccbulk file of update rows: the start of a bulk change.
    Export(export::Args),
    /// Put back what a local job did: users it created removed, users it changed restored, unless changed since.
    Undo(undo::Args),
    /// Write a commented config template (ccbulk.toml).
    Init(init::Args),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Validate(args) => validate::run(&args),
        Command::Rules => validate::list_rules(),
        Command::Run(args) => run::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Submit(args) => submit::run(&args),
        Command::Retry(args) => retry::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Undo(args) => undo::run(&args),
        Command::Init(args) => init::run(&args),
    }
}
