//! What every part of the benchmark sets up alike: the sandboxes' knobs and what is read off their counters.

use std::net::SocketAddr;

use ccbulk_sandbox::connect::{ConnectSandbox, Knobs, QuotaSpec};
use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::{SalesforceKnobs, SalesforceSandbox};

/// Sandboxes of a run's own: the examples' seeds, CreateUser throttled at `rate`, both answering with latency.
pub async fn sandboxes(rate: f64) -> (ConnectSandbox, SalesforceSandbox) {
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let mut seed = examples::connect_seed();
    seed.knobs = connect_knobs(rate);
    seed.instances.iter_mut().for_each(|instance| instance.max_users = 200_000);
    let connect = ConnectSandbox::start(seed, loopback).await.expect("the Connect sandbox");
    let salesforce =
        SalesforceSandbox::start(examples::salesforce_seed(), loopback).await.expect("the Salesforce sandbox");
    salesforce.set_knobs(salesforce_knobs());
    (connect, salesforce)
}

/// CreateUser throttled at `rate` with the account's burst of 5 (Service Quotas: "Rate of CreateUser API requests",
/// burst 5), every call answered in 80–300 ms; the other operations at the sandbox's defaults.
pub fn connect_knobs(rate: f64) -> Knobs {
    let quotas = [("CreateUser".to_owned(), QuotaSpec { rate, burst: 5 })].into();
    Knobs { latency: super::latency(), quotas, ..Knobs::default() }
}

pub fn salesforce_knobs() -> SalesforceKnobs {
    SalesforceKnobs { latency: super::latency(), ..SalesforceKnobs::default() }
}

/// CreateUser calls the sandbox took and the ones it throttled.
pub fn create_user_calls(connect: &ConnectSandbox) -> (u64, u64) {
    let counters = connect.counters();
    let of = |map: &std::collections::BTreeMap<&'static str, u64>| map.get("CreateUser").copied().unwrap_or(0);
    (of(&counters.calls), of(&counters.throttled))
}

/// When the sandbox admitted its first and last CreateUser, in seconds since the Unix epoch.
pub fn create_user_span(connect: &ConnectSandbox) -> Option<(f64, f64)> {
    let counters = connect.counters();
    let (first, last) = counters.admitted_between.get("CreateUser").copied()?;
    Some((first as f64 / 1000.0, last as f64 / 1000.0))
}

pub fn epoch_seconds() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

/// Salesforce API calls, sign-ins left out (they do not count against the org's allocation).
pub fn salesforce_calls(salesforce: &SalesforceSandbox) -> u64 {
    salesforce.snapshot().counters.calls.iter().filter(|(kind, _)| *kind != "token").map(|(_, n)| n).sum()
}

/// A failure message of a call the service throttled to the end.
pub fn is_throttle(message: &str) -> bool {
    ["Throttling", "TooManyRequests", "Rate exceeded"].iter().any(|mark| message.contains(mark))
}

/// CPU seconds a process has spent so far (user and system), from /proc; 0 for one not of this machine's view.
pub fn cpu_seconds(pid: Option<u32>) -> f64 {
    let Some(stat) = pid.and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()) else {
        return 0.0;
    };
    // The fields after the command's closing parenthesis: state is the 3rd field of the line, utime the 14th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |t| t.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    // SAFETY: sysconf reads a constant of the system and has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks / per_second.max(1) as f64
}
