//! `ccbulk-sandbox`: starts the stand-in servers and prints one line of JSON naming their endpoints.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use ccbulk_sandbox::connect::{ConnectSandbox, ConnectSeed};
use clap::Parser;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(name = "ccbulk-sandbox", version, about = "Amazon Connect stand-in for tests and rehearsals")]
struct Args {
    /// Address to listen on; loopback by default.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Port of the Connect server (0: any free port).
    #[arg(long, default_value_t = 0)]
    connect_port: u16,
    /// JSON seed for Connect (instances, profiles, users, knobs); the built-in default otherwise.
    #[arg(long, value_name = "FILE")]
    connect_seed: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let seed = match &args.connect_seed {
        None => ConnectSeed::default(),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<ConnectSeed>(&text).map_err(|e| e.to_string()))
        {
            Ok(seed) => seed,
            Err(err) => {
                eprintln!("ccbulk-sandbox: cannot use the seed {}: {err}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let connect = match ConnectSandbox::start(seed.clone(), SocketAddr::new(args.host, args.connect_port)).await {
        Ok(sandbox) => sandbox,
        Err(err) => {
            eprintln!("ccbulk-sandbox: cannot start the Connect sandbox: {err}");
            return ExitCode::from(1);
        }
    };
    let instances: Vec<_> = seed
        .instances
        .iter()
        .filter_map(|i| {
            connect
                .instance_id(&i.alias)
                .map(|id| json!({"alias": i.alias, "id": id, "identity_management": i.identity_management}))
        })
        .collect();
    let ready = json!({
        "connect": {
            "endpoint": connect.endpoint(),
            "region": seed.region,
            "account_id": seed.account_id,
            "instance_id": connect.default_instance_id(),
            "instances": instances,
        }
    });
    println!("{ready}");
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
