//! `ccbulk`: bulk provisioning of contact-center users in Amazon Connect and Salesforce.

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
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Validate(args) => validate::run(&args),
        Command::Rules => validate::list_rules(),
    }
}
