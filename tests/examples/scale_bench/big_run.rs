//! BIG_ROWS adds through `ccbulk run`, the release binary in a process of its own (so that its peak RSS is its
//! alone), against sandboxes in this process: CreateUser at 500 req/s with a burst of 5, into an instance that
//! already holds 10,000 users, both answering at loopback speed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ccbulk_sandbox::connect::seed::UserSeed;
use ccbulk_sandbox::connect::{ConnectSandbox, Knobs, QuotaSpec};
use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::{SANDBOX_CLIENT_SECRET, SANDBOX_CONSUMER_KEY, SalesforceSandbox};

use super::setup;

const RATE: f64 = 500.0;
const EXISTING_USERS: usize = 10_000;
/// The goals: the floor N / RATE times this, and this much peak RSS.
const FLOOR_GOAL: f64 = 1.05;
const RSS_GOAL_MIB: f64 = 256.0;

pub struct BigRun {
    pub rows: usize,
    pub seconds: f64,
    pub peak_rss_mib: f64,
    pub succeeded: usize,
    pub failed: usize,
    pub throttle_failed: u64,
    pub throttled: u64,
    pub creates: u64,
    pub summary: String,
    /// CreateUser calls a second over the rate, per 20 s window.
    pub windows: Vec<f64>,
    /// CPU seconds: `ccbulk run`'s (user and system, from wait4), and this process's (the sandboxes) over the run.
    pub ccbulk_cpu: f64,
    pub sandboxes_cpu: f64,
}

impl BigRun {
    pub fn print(&self) {
        let floor = self.rows as f64 / RATE;
        println!(
            "ccbulk run, {} adds at {RATE} req/s into an instance of {EXISTING_USERS} users: {:.1} s = {:.3} × the \
             floor of {floor:.0} s (goal ≤ {FLOOR_GOAL}); peak RSS {:.0} MiB = {:.2} of the {RSS_GOAL_MIB} MiB goal; \
             {} succeeded, {} failed ({} on a throttle); CreateUser {} calls, {} throttled",
            self.rows,
            self.seconds,
            self.seconds / floor,
            self.peak_rss_mib,
            self.peak_rss_mib / RSS_GOAL_MIB,
            self.succeeded,
            self.failed,
            self.throttle_failed,
            self.creates,
            self.throttled
        );
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        println!(
            "  CPU: ccbulk {:.0} s = {:.2} of a core, the sandboxes {:.0} s = {:.2} of a core; together {:.2} of the \
             machine's {cores} cores",
            self.ccbulk_cpu,
            self.ccbulk_cpu / self.seconds,
            self.sandboxes_cpu,
            self.sandboxes_cpu / self.seconds,
            (self.ccbulk_cpu + self.sandboxes_cpu) / self.seconds / cores
        );
        let windows: Vec<String> = self.windows.iter().map(|w| format!("{w:.2}")).collect();
        println!("  CreateUser per {} s window, as a part of the rate: {}", WINDOW.as_secs(), windows.join(" "));
        for line in self.summary.lines() {
            println!("  | {line}");
        }
    }
}

/// The release build of `ccbulk` beside this example's binary.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("this binary's path");
    let release = exe.parent().and_then(Path::parent).expect("target/<profile>/examples");
    let ccbulk = release.join("ccbulk");
    assert!(ccbulk.exists(), "{} is missing: run `cargo build --release -p ccbulk-cli` first", ccbulk.display());
    ccbulk
}

pub async fn run(ccbulk: &Path, rows: usize) -> BigRun {
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let mut seed = examples::connect_seed();
    seed.knobs =
        Knobs { quotas: [("CreateUser".to_owned(), QuotaSpec { rate: RATE, burst: 5 })].into(), ..Knobs::default() };
    let instance = seed.instances.iter_mut().find(|i| i.alias == "ccbulk-sandbox").expect("the instance");
    instance.max_users = rows + EXISTING_USERS + 1_000;
    instance.users.extend((0..EXISTING_USERS).map(|i| UserSeed {
        username: format!("existing{i:05}"),
        first_name: Some("Old".into()),
        last_name: Some(format!("User{i}")),
        email: None,
        routing_profile: "Basic Routing Profile".into(),
        security_profiles: vec!["Agent".into()],
    }));
    let connect = Arc::new(ConnectSandbox::start(seed, loopback).await.expect("the Connect sandbox"));
    let mut salesforce_seed = examples::salesforce_seed();
    salesforce_seed.daily_api_requests = 1_000_000;
    let salesforce = SalesforceSandbox::start(salesforce_seed, loopback).await.expect("the Salesforce sandbox");

    let folder = tempfile::tempdir().expect("a folder");
    let input = folder.path().join("agents.csv");
    std::fs::write(&input, ccbulk_testkit::agents_file(rows)).expect("the file");
    let config = folder.path().join("ccbulk.toml");
    std::fs::write(
        &config,
        format!(
            "[connect]\ninstance_id = \"{}\"\nregion = \"{}\"\nendpoint_url = \"{}\"\nwrite_rate = {RATE}\n\
             write_burst = 5\n\n[salesforce]\nlogin_url = \"{}\"\nclient_id = \"{SANDBOX_CONSUMER_KEY}\"\n\
             client_secret_env = \"CCBULK_BENCH_SF_SECRET\"\n",
            connect.instance_id("ccbulk-sandbox").expect("the instance"),
            examples::REGION,
            connect.endpoint(),
            salesforce.endpoint()
        ),
    )
    .expect("the config");
    let stdout = std::fs::File::create(folder.path().join("run.out")).expect("an output file");
    let report = folder.path().join("agents.report.csv");
    let started = Instant::now();
    let sandboxes_before = setup::cpu_seconds(Some(std::process::id()));
    // Reaped by wait4 in `wait_with_peak_rss`, which std's own wait would race.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(ccbulk)
        .arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--state")
        .arg(folder.path().join("state.db"))
        .arg("--report")
        .arg(&report)
        .arg("-q")
        .arg(&input)
        .env("CCBULK_BENCH_SF_SECRET", SANDBOX_CLIENT_SECRET)
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("ccbulk started");
    let waited = tokio::task::spawn_blocking(move || wait_with_peak_rss(child.id()));
    let windows = Arc::new(Mutex::new(Vec::new()));
    let sampler = tokio::spawn(rate_by_window(connect.clone(), windows.clone()));
    let (code, peak_rss_kib, ccbulk_cpu) = waited.await.expect("waited for ccbulk");
    sampler.abort();
    let sandboxes_cpu = setup::cpu_seconds(Some(std::process::id())) - sandboxes_before;
    let windows = windows.lock().expect("the windows").clone();
    let seconds = started.elapsed().as_secs_f64();
    let summary = std::fs::read_to_string(folder.path().join("run.out")).unwrap_or_default();
    assert!(code == 0 || code == 1, "ccbulk run ended with {code}:\n{summary}");

    let report = std::fs::read_to_string(&report).expect("the report");
    let failed_lines: Vec<&str> = report.lines().filter(|line| line.contains(",FAILED,")).collect();
    let (creates, throttled) = setup::create_user_calls(&connect);
    BigRun {
        rows,
        seconds,
        peak_rss_mib: peak_rss_kib as f64 / 1024.0,
        succeeded: report.lines().filter(|line| line.contains(",SUCCEEDED,")).count(),
        failed: failed_lines.len(),
        throttle_failed: failed_lines.iter().filter(|line| setup::is_throttle(line)).count() as u64,
        throttled,
        creates: creates - throttled,
        summary,
        windows,
        ccbulk_cpu,
        sandboxes_cpu,
    }
}

/// CreateUser calls the service took in each window of the run, as a part of the rate: where a long run loses its
/// time (a slow start, a slowing middle, a tail).
const WINDOW: std::time::Duration = std::time::Duration::from_secs(20);

async fn rate_by_window(connect: Arc<ConnectSandbox>, windows: Arc<Mutex<Vec<f64>>>) {
    let mut before = 0;
    loop {
        tokio::time::sleep(WINDOW).await;
        let (calls, throttled) = setup::create_user_calls(&connect);
        let taken = calls - throttled;
        windows.lock().expect("the windows").push((taken - before) as f64 / WINDOW.as_secs_f64() / RATE);
        before = taken;
    }
}

/// Waits for the child and returns its exit code, peak resident set (KiB) and CPU seconds, as the kernel accounted
/// them: wait4's rusage is the child's alone, unlike a poll of /proc that could miss the last moments.
fn wait_with_peak_rss(pid: u32) -> (i32, i64, f64) {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of that plain C struct, and wait4 only writes into the two
    // locals it is handed, for a child of this process that nothing else waits for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid as libc::pid_t, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (code, usage.ru_maxrss, seconds(usage.ru_utime) + seconds(usage.ru_stime))
}
