//! `ccbulk validate`: the offline check of a file, for people (a report) or machines (`--json`).

mod human;
mod json;
mod sink;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use ccbulk_shared::domain::{IdentityManagement, SalesforceSync, TelephonyModel};
use ccbulk_shared::format::{Dialect, DialectChoice, FileError};
use ccbulk_shared::validate::{Options, Rule, Summary, Visitor, validate};

/// Exit codes: every row valid, some rows invalid, the file itself unusable.
const EXIT_VALID: u8 = 0;
const EXIT_INVALID_ROWS: u8 = 1;
const EXIT_UNUSABLE: u8 = 2;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CSV file (bulkop, connect or ccbulk dialect).
    pub file: PathBuf,
    /// How the Connect instance manages identities: CONNECT_MANAGED, SAML or EXISTING_DIRECTORY
    /// [default: SAML for bulkop files, CONNECT_MANAGED otherwise].
    #[arg(long, value_name = "TYPE", value_parser = parse_identity)]
    pub identity_management: Option<IdentityManagement>,
    /// amazon-connect, partner-telephony-from-amazon-connect or partner-telephony.
    #[arg(long, value_name = "MODEL", value_parser = parse_telephony, default_value = "amazon-connect")]
    pub telephony_model: TelephonyModel,
    /// The file's dialect: auto (from the header), bulkop, connect or ccbulk.
    #[arg(long, value_name = "DIALECT", value_parser = parse_dialect, default_value = "auto")]
    pub dialect: DialectChoice,
    /// The most rows one chunk of work holds in direct mode (a bulkop chunk is one Bulk API request of 5,000).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub chunk_rows: u32,
    /// How the Salesforce side is provisioned: auto (bulkop for bulkop files, direct otherwise), direct or bulkop.
    #[arg(long, value_name = "MODE", value_parser = parse_sync, default_value = "auto")]
    pub salesforce_sync: SalesforceSync,
    /// Print one JSON document instead of a report.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn parse_identity(text: &str) -> Result<IdentityManagement, String> {
    IdentityManagement::parse(text).ok_or_else(|| "expected CONNECT_MANAGED, SAML or EXISTING_DIRECTORY".to_owned())
}

pub(crate) fn parse_telephony(text: &str) -> Result<TelephonyModel, String> {
    TelephonyModel::parse(text)
        .ok_or_else(|| "expected amazon-connect, partner-telephony-from-amazon-connect or partner-telephony".to_owned())
}

pub(crate) fn parse_sync(text: &str) -> Result<SalesforceSync, String> {
    SalesforceSync::parse(text).ok_or_else(|| "expected auto, direct or bulkop".to_owned())
}

pub(crate) fn parse_dialect(text: &str) -> Result<DialectChoice, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(DialectChoice::Auto);
    }
    Dialect::parse(text).map(DialectChoice::Fixed).ok_or_else(|| "expected auto, bulkop, connect or ccbulk".to_owned())
}

/// A report that streams as validation goes, so memory stays flat however long the file.
pub(crate) trait Report: Visitor {
    fn finish(&mut self, outcome: &Result<Summary, FileError>);
    /// The first write error, if any (a closed pipe ends the report early).
    fn write_error(&mut self) -> Option<io::Error>;
}

pub fn run(args: &Args) -> ExitCode {
    let options = Options {
        identity_management: args.identity_management,
        telephony_model: args.telephony_model,
        dialect: args.dialect,
        chunk_rows: args.chunk_rows,
        sync: args.salesforce_sync,
    };
    let out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        drive(json::JsonReport::new(out), args, &options)
    } else {
        drive(human::HumanReport::new(out, &args.file), args, &options)
    }
}

fn drive(mut report: impl Report, args: &Args, options: &Options) -> ExitCode {
    let outcome = validate(args.file.as_path(), options, &mut report);
    report.finish(&outcome);
    if let Some(err) = report.write_error()
        && err.kind() != io::ErrorKind::BrokenPipe
    {
        let _ = writeln!(io::stderr(), "ccbulk: cannot write the report: {err}");
        return ExitCode::from(EXIT_UNUSABLE);
    }
    ExitCode::from(match outcome {
        Ok(summary) if summary.invalid == 0 => EXIT_VALID,
        Ok(_) => EXIT_INVALID_ROWS,
        Err(_) => EXIT_UNUSABLE,
    })
}

pub fn list_rules() -> ExitCode {
    let mut out = io::stdout().lock();
    for rule in Rule::ALL {
        if writeln!(out, "{:<30} {}", rule.code(), rule.title()).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}
