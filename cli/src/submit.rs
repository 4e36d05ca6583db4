//! `ccbulk submit FILE --bucket B --api URL`: upload a file where a deployed stack picks it up, then follow its job
//! through the status API with the progress bar until it ends. The job's id is known at once: it is derived from
//! the bucket, key and version the upload returns, as ingest derives it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_s3::primitives::ByteStream;
use ccbulk_shared::job::{Job, JobId, JobState, RowStatus};
use ccbulk_shared::pipeline::S3Objects;

use crate::api::ApiClient;
use crate::exit;
use crate::progress::Bar;
use crate::status::{Jobs, job_line, row_line};

/// Failed rows printed at the end; `ccbulk status --api URL JOB --failed` lists them all.
const FAILED_SHOWN: usize = 10;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CSV file.
    pub file: PathBuf,
    /// The stack's upload bucket (its UploadBucketName output).
    #[arg(long)]
    pub bucket: String,
    /// Where in the bucket uploads trigger ingest.
    #[arg(long, default_value = "uploads/")]
    pub prefix: String,
    /// The stack's status API (its StatusApiUrl output), to follow the job; without it, submit uploads and prints
    /// the job's id.
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// The AWS profile (default: the default credential chain).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    #[command(flatten)]
    pub following: Following,
}

pub fn run(args: &Args) -> ExitCode {
    crate::logging::init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return fail(format!("cannot start the async runtime: {err}")),
    };
    match runtime.block_on(execute(args)) {
        Ok(code) => ExitCode::from(code),
        Err(message) => fail(message),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(exit::UNUSABLE)
}

async fn execute(args: &Args) -> Result<u8, String> {
    let name = args
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: not a file name", args.file.display()))?;
    if !args.file.is_file() {
        return Err(format!("{}: no such file", args.file.display()));
    }
    let key = format!("{}{name}", args.prefix);
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    let s3 = ccbulk_shared::pipeline::s3_client(&loader.load().await);
    let body = ByteStream::from_path(&args.file).await.map_err(|e| format!("{}: {e}", args.file.display()))?;
    let put = s3
        .put_object()
        .bucket(&args.bucket)
        .key(&key)
        .content_type("text/csv")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("cannot upload to s3://{}/{key}: {}", args.bucket, e.into_service_error()))?;
    let object = S3Objects::object(&args.bucket, &key, put.version_id(), put.e_tag());
    let id = JobId::for_object(&object);
    println!("uploaded s3://{}/{key} ({}): job {id}", args.bucket, object.version);
    let Some(url) = &args.api else {
        return Ok(exit::ALL_SUCCEEDED);
    };
    let jobs = Jobs::Api(ApiClient::connect(url, args.profile.as_deref()).await?);
    follow_to_the_end(&jobs, &id, url, args.following).await
}

/// How a job on a stack is followed.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Following {
    /// Seconds between two looks at the job.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub interval: f64,
    /// Stop following after this many seconds (the job goes on).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Follows the job until it ends and prints its summary, or says how to follow it on; the exit code says which.
pub async fn follow_to_the_end(jobs: &Jobs, id: &JobId, url: &str, following: Following) -> Result<u8, String> {
    let Some(job) = follow(jobs, id, following).await? else {
        println!("job {id} is still running; follow it with: ccbulk status --api {url} {id}");
        return Ok(exit::STILL_RUNNING);
    };
    summary(jobs, &job).await
}

/// Looks at the job until it ends (`Some`) or the timeout passes (`None`).
async fn follow(jobs: &Jobs, id: &JobId, args: Following) -> Result<Option<Job>, String> {
    let bar = Bar::new(args.quiet);
    let started = Instant::now();
    let interval = Duration::from_secs_f64(args.interval.max(0.05));
    let ended = loop {
        match jobs.job(id.as_str()).await? {
            None => bar.say("waiting for ingest to pick the file up"),
            Some(job) if matches!(job.state, JobState::Ingesting) => bar.say("ingesting"),
            Some(job) if matches!(job.state, JobState::Running) => bar.show(&job.counts),
            Some(job) => break Some(job),
        }
        if args.timeout.is_some_and(|limit| started.elapsed() >= Duration::from_secs(limit)) {
            break None;
        }
        tokio::time::sleep(interval).await;
    };
    bar.finish();
    Ok(ended)
}

async fn summary(jobs: &Jobs, job: &Job) -> Result<u8, String> {
    println!("{}", job_line(job));
    if let Some(error) = &job.error {
        println!("  the file cannot be provisioned from: {error}");
        return Ok(exit::UNUSABLE);
    }
    let c = job.counts;
    println!("  {} rows: {} succeeded, {} failed, {} invalid", c.total(), c.succeeded, c.failed, c.invalid);
    for status in [RowStatus::Failed, RowStatus::Invalid] {
        if c.get(status) == 0 {
            continue;
        }
        let page = jobs.rows(&job.id, Some(status), FAILED_SHOWN, None).await?;
        println!("  {} rows{}:", status.as_str().to_lowercase(), if page.next.is_some() { " (the first)" } else { "" });
        for row in &page.items {
            println!("    {}", row_line(row));
        }
    }
    Ok(if job.state == JobState::Succeeded { exit::ALL_SUCCEEDED } else { exit::SOME_FAILED })
}
