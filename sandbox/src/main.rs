//! `ccbulk-sandbox`: starts the stand-in servers and prints one line of JSON naming their endpoints.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ccbulk_sandbox::connect::{ConnectSandbox, ConnectSeed};
use ccbulk_sandbox::salesforce::{SalesforceSandbox, SalesforceSeed};
use clap::Parser;
use serde::de::DeserializeOwned;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(name = "ccbulk-sandbox", version, about = "Amazon Connect and Salesforce stand-ins for tests and rehearsals")]
struct Args {
    /// Address to listen on; loopback by default.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Port of the Connect server (0: any free port).
    #[arg(long, default_value_t = 0)]
    connect_port: u16,
    /// Port of the Salesforce server (0: any free port).
    #[arg(long, default_value_t = 0)]
    salesforce_port: u16,
    /// JSON seed for Connect (instances, profiles, users, knobs); the built-in default otherwise.
    #[arg(long, value_name = "FILE")]
    connect_seed: Option<PathBuf>,
    /// JSON seed for Salesforce (connected apps, profiles, permission sets, call centers, users, knobs).
    #[arg(long, value_name = "FILE")]
    salesforce_seed: Option<PathBuf>,
    /// Seed both with what `ccbulk run` embeds: the defaults plus the users and ids `examples/` refer to.
    #[arg(long, conflicts_with_all = ["connect_seed", "salesforce_seed"])]
    examples: bool,
}

fn read_seed<T: DeserializeOwned + Default>(path: Option<&Path>) -> Result<T, String> {
    let Some(path) = path else { return Ok(T::default()) };
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let seeds = if args.examples {
        Ok((ccbulk_sandbox::examples::connect_seed(), ccbulk_sandbox::examples::salesforce_seed()))
    } else {
        read_seed::<ConnectSeed>(args.connect_seed.as_deref())
            .and_then(|connect| Ok((connect, read_seed::<SalesforceSeed>(args.salesforce_seed.as_deref())?)))
    };
    let (connect_seed, salesforce_seed) = match seeds {
        Ok(seeds) => seeds,
        Err(err) => {
            eprintln!("ccbulk-sandbox: cannot use the seed: {err}");
            return ExitCode::from(2);
        }
    };
    let connect = ConnectSandbox::start(connect_seed.clone(), SocketAddr::new(args.host, args.connect_port)).await;
    let salesforce =
        SalesforceSandbox::start(salesforce_seed.clone(), SocketAddr::new(args.host, args.salesforce_port)).await;
    let (connect, salesforce) = match (connect, salesforce) {
        (Ok(connect), Ok(salesforce)) => (connect, salesforce),
        (Err(err), _) | (_, Err(err)) => {
            eprintln!("ccbulk-sandbox: cannot start: {err}");
            return ExitCode::from(1);
        }
    };
    let instances: Vec<_> = connect_seed
        .instances
        .iter()
        .filter_map(|i| {
            connect
                .instance_id(&i.alias)
                .map(|id| json!({"alias": i.alias, "id": id, "identity_management": i.identity_management}))
        })
        .collect();
    // The org works as Service Cloud Voice does: its bulk operations (and, when the seed says the org syncs, its
    // users who join an Amazon Connect contact center) get Connect users that Salesforce makes in the instance
    // their routing profile names, or else the first one.
    salesforce.link_connect(connect.voice_link(), connect.default_instance_id());
    let app = salesforce_seed.connected_apps.first();
    let ready = json!({
        "connect": {
            "endpoint": connect.endpoint(),
            "region": connect_seed.region,
            "account_id": connect_seed.account_id,
            "instance_id": connect.default_instance_id(),
            "instances": instances,
        },
        "salesforce": {
            "login_url": salesforce.endpoint(),
            "instance_url": salesforce.endpoint(),
            "org_id": salesforce_seed.org_id,
            "client_id": app.map(|a| &a.consumer_key),
            "client_secret": app.map(|a| &a.client_secret),
            "jwt_subject": app.map(|a| &a.run_as),
        }
    });
    println!("{ready}");
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
