//! `ccbulk export`: the instance's users, and their Salesforce side when an org is configured, as a ccbulk file of
//! `update` rows on standard output (or `--out`): edit it, `ccbulk plan` it, `ccbulk run` it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use ccbulk_shared::domain::IdentityManagement;
use ccbulk_shared::pipeline::export_users;

use crate::config::Config;
use crate::exit;
use crate::run::targets::{Embedded, configured, preflight};
use crate::run::{Stop, unusable};
use crate::validate::parse_identity;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read the Connect instance and Salesforce org this file names (see `ccbulk init`); without it, sandboxes
    /// started for this export (their seeded users).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How the Connect instance manages identities [default: the instance's own; CONNECT_MANAGED on the embedded
    /// sandboxes].
    #[arg(long, value_name = "TYPE", value_parser = parse_identity)]
    pub identity_management: Option<IdentityManagement>,
    /// Where to write the file [default: standard output].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &Args) -> ExitCode {
    crate::run::command(async { execute(args).await.map(|()| exit::ALL_SUCCEEDED) })
}

async fn execute(args: &Args) -> Result<(), Stop> {
    let (targets, identity, _embedded) = match &args.config {
        Some(path) => {
            let config = Config::load(path).map_err(|e| unusable(e.to_string()))?;
            let targets = configured(&config, true).await;
            let instance_identity = preflight(&targets).await.map_err(unusable)?;
            let identity = args
                .identity_management
                .or(config.connect.as_ref().and_then(|c| c.identity_management))
                .or(instance_identity)
                .unwrap_or(IdentityManagement::ConnectManaged);
            (targets, identity, None)
        }
        None => {
            let identity = args.identity_management.unwrap_or(IdentityManagement::ConnectManaged);
            let embedded = Embedded::start().await.map_err(|e| unusable(format!("cannot start the sandboxes: {e}")))?;
            (embedded.targets(identity).map_err(unusable)?, identity, Some(embedded))
        }
    };
    let out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| unusable(format!("cannot write {}: {e}", path.display())))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let (exported, mut out) = export_users(&targets, identity, out).await.map_err(|e| unusable(e.to_string()))?;
    out.flush().map_err(|e| unusable(format!("cannot write the export: {e}")))?;
    eprintln!(
        "exported {} users ({} with their Salesforce user), as update rows: a run of the file unchanged changes nothing",
        exported.users, exported.with_salesforce
    );
    Ok(())
}
