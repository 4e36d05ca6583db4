//! Benchmark: validation + chunk planning of generated 100,000- and 1,000,000-row files.
//!
//! `cargo run --release -p ccbulk-shared --example validate_bench [-- ROWS...]`
//!
//! Each measurement runs in a child process of its own, so its peak RSS (VmHWM) is its alone. A baseline child
//! only parses the same file with the csv crate, so validation time is also reported as a ratio to bare parsing.
//! Figures are printed as ratios against the goals: 1 s per 100,000 rows on one core, 64 MiB peak RSS, and the
//! same peak RSS (within 20 %) for a ten times larger file.

use std::env;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ccbulk_shared::domain::UserRow;
use ccbulk_shared::format::{ByteRange, Chunk};
use ccbulk_shared::validate::{Options, RowError, Visitor, validate};

const TIME_GOAL_SECONDS_PER_100K: f64 = 1.0;
const RSS_GOAL_MIB: f64 = 64.0;

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--child") => child(Path::new(&args[1]), false),
        Some("--baseline") => child(Path::new(&args[1]), true),
        _ => {
            let sizes: Vec<u64> = if args.is_empty() {
                vec![100_000, 1_000_000]
            } else {
                args.iter().map(|a| a.parse().expect("row counts")).collect()
            };
            parent(&sizes);
        }
    }
}

fn parent(sizes: &[u64]) {
    let dir = env::temp_dir().join(format!("ccbulk-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut peaks = Vec::new();
    println!("rows       MB     parse s  validate s  ratio/parse  s per 100k / goal  peak RSS MiB / goal");
    for &rows in sizes {
        let path = dir.join(format!("users-{rows}.csv"));
        generate(&path, rows);
        let megabytes = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
        let baseline = run_child(&path, "--baseline");
        let measured = run_child(&path, "--child");
        let per_100k = measured.seconds * 100_000.0 / rows as f64;
        let rss_mib = measured.peak_rss_kib as f64 / 1024.0;
        let time_vs_goal =
            format!("{per_100k:.3} / {TIME_GOAL_SECONDS_PER_100K} = {:.2}", per_100k / TIME_GOAL_SECONDS_PER_100K);
        let rss_vs_goal = format!("{rss_mib:.1} / {RSS_GOAL_MIB} = {:.2}", rss_mib / RSS_GOAL_MIB);
        println!(
            "{rows:<10} {megabytes:<6.1} {:<8.3} {:<11.3} {:<12.2} {time_vs_goal:<18} {rss_vs_goal}",
            baseline.seconds,
            measured.seconds,
            measured.seconds / baseline.seconds,
        );
        println!(
            "           {} valid, {} invalid, {} chunks; parse-only peak RSS {:.1} MiB",
            measured.valid,
            measured.invalid,
            measured.chunks,
            baseline.peak_rss_kib as f64 / 1024.0
        );
        peaks.push((rows, rss_mib));
        std::fs::remove_file(&path).ok();
    }
    if let [(small_rows, small), .., (large_rows, large)] = peaks[..] {
        println!("peak RSS {large_rows} rows / {small_rows} rows = {:.3} (goal: 0.80 to 1.20)", large / small);
    }
    std::fs::remove_dir_all(&dir).ok();
}

struct Figures {
    seconds: f64,
    peak_rss_kib: u64,
    valid: u64,
    invalid: u64,
    chunks: u64,
}

fn run_child(path: &Path, mode: &str) -> Figures {
    let output = Command::new(env::current_exe().unwrap()).arg(mode).arg(path).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let numbers: Vec<f64> = text.split_whitespace().map(|n| n.parse().unwrap()).collect();
    Figures {
        seconds: numbers[0],
        peak_rss_kib: numbers[1] as u64,
        valid: numbers[2] as u64,
        invalid: numbers[3] as u64,
        chunks: numbers[4] as u64,
    }
}

/// Counts what validation reports without keeping it, as the CLI does.
#[derive(Default)]
struct Count {
    valid: u64,
    invalid: u64,
    chunks: u64,
}

impl Visitor for Count {
    fn row(&mut self, _range: ByteRange, outcome: &Result<UserRow, Vec<RowError>>) {
        if outcome.is_ok() { self.valid += 1 } else { self.invalid += 1 }
    }
    fn chunk(&mut self, _chunk: &Chunk) {
        self.chunks += 1;
    }
}

fn child(path: &Path, baseline: bool) {
    let started = Instant::now();
    let mut count = Count::default();
    if baseline {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_path(path).unwrap();
        let mut record = csv::ByteRecord::new();
        while reader.read_byte_record(&mut record).unwrap() {
            count.valid += 1;
        }
    } else {
        validate(path, &Options::default(), &mut count).expect("the generated file is usable");
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("{seconds} {} {} {} {}", peak_rss_kib(), count.valid, count.invalid, count.chunks);
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// A ccbulk file like the example: both sides, every tenth row with a desk phone, one row in a hundred invalid
/// and one in a thousand a duplicate.
fn generate(path: &PathBuf, rows: u64) {
    let mut out = BufWriter::new(File::create(path).unwrap());
    writeln!(
        out,
        "action,username,password,first_name,last_name,email,routing_profile,security_profiles,hierarchy_group,\
         phone_type,desk_phone_number,auto_accept,acw_timeout,tags,sf_username,sf_alias,contact_center,role"
    )
    .unwrap();
    let first = ["Amara", "Ben", "Carlos", "Deepa", "Elena", "Farid", "Grace", "Hiroshi"];
    let last = ["Okafor", "Schmidt", "Mendoza", "Iyer", "Petrova", "Haddad", "Kim", "Tanaka"];
    for n in 0..rows {
        let id = if n % 1000 == 999 { n - 1 } else { n };
        let (f, l) = (first[(n % 8) as usize], last[(n / 8 % 8) as usize]);
        let password = if n % 100 == 42 { "weak" } else { "Welcome123!" };
        let (phone_type, desk) =
            if n % 10 == 3 { ("desk", format!("+1415{:07}", n % 10_000_000)) } else { ("soft", String::new()) };
        writeln!(
            out,
            "add,agent{id},{password},{f},{l},agent{id}@example.com,Basic Routing Profile,Agent,Support/Tier 1,\
             {phone_type},{desk},yes,30,team=blue|site=austin,agent{id}@example.com.prod,a{},04vxx0000004EHIAA2,Agent",
            id % 1_000_000
        )
        .unwrap();
    }
    out.flush().unwrap();
}
