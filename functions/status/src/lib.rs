//! The status API (DESIGN §4): jobs newest first, one job with its counts, a job's rows by status (the failed rows
//! of a 100,000-row job without reading the others), one row, and the report CSV; and the one change it makes, a
//! retry of a job's failed rows. Everything comes from the job table, but the report, which is the uploaded file
//! joined with the rows' outcomes, and the retry, which cuts the file into chunks again. The contract is
//! `openapi.yaml` beside this crate.

mod answer;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use ccbulk_lambda::{ConfigError, Env, chunking, s3_client};
use ccbulk_shared::job::{DynamoJobStore, Job, JobId, JobKind, JobStore, RowRecord, RowStatus, SalesforceAllocation};
use ccbulk_shared::pipeline::{
    IngestError, Retried, RetryError, S3Objects, SqsQueue, UndoError, job_report, retry_failed, start_undo, undo_report,
};
use ccbulk_shared::validate::Options;
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tokio::runtime::Handle;

pub use self::answer::ApiError;
pub use self::routes::{Route, TEMPLATES};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

const DEFAULT_JOBS: usize = 50;
const DEFAULT_ROWS: usize = 100;
const MAX_PAGE: usize = 1000;
/// Lambda answers at most 6 MB; a larger report is put in the bucket and the answer points at it.
const DEFAULT_INLINE_REPORT: usize = 4 * 1024 * 1024;
const REPORT_LINK_LIFETIME: Duration = Duration::from_secs(900);

#[derive(Serialize)]
struct JobsPage {
    jobs: Vec<Job>,
    next: Option<String>,
}

/// `POST /jobs/{id}/undo`'s answer: the job undone, the undo job, and its rows.
#[derive(Serialize)]
struct UndoAnswer {
    job: JobId,
    undo: JobId,
    rows: u64,
}

/// One job as `GET /jobs/{id}` gives it: the job, and the org's API allocation as its workers last saw it.
#[derive(Serialize)]
struct JobSummary {
    #[serde(flatten)]
    job: Job,
    kind: JobKind,
    salesforce_allocation: Option<SalesforceAllocation>,
}

#[derive(Serialize)]
struct RowsPage {
    rows: Vec<RowRecord>,
    next: Option<String>,
}

/// What `POST /jobs/{id}/retry` did.
#[derive(Serialize)]
struct RetryAnswer {
    job: JobId,
    #[serde(flatten)]
    retried: Retried,
}

#[derive(Serialize)]
struct ReportLink {
    url: String,
    expires_in_seconds: u64,
}

/// What the function holds between invocations.
pub struct Status {
    /// Shared with the blocking threads that read the file as a stream (a report, a retry).
    store: Arc<DynamoJobStore>,
    s3: aws_sdk_s3::Client,
    objects: S3Objects,
    queue: Arc<SqsQueue>,
    /// How a retry cuts the file into chunks: as ingest did.
    chunking: Options,
    inline_report: usize,
}

impl Status {
    /// From `CCBULK_TABLE`, `CCBULK_QUEUE_URL`, ingest's `CCBULK_CHUNK_ROWS` and `CCBULK_SALESFORCE_SYNC`, and,
    /// optionally, `CCBULK_REPORT_INLINE_BYTES` (reports larger than this go through S3).
    pub fn new(config: &SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        let table = env.required("CCBULK_TABLE")?;
        let queue = Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(config), env.required("CCBULK_QUEUE_URL")?));
        let inline_report = env.number("CCBULK_REPORT_INLINE_BYTES", Some(DEFAULT_INLINE_REPORT))?;
        let s3 = s3_client(config);
        Ok(Self {
            store: Arc::new(DynamoJobStore::new(aws_sdk_dynamodb::Client::new(config), table)),
            objects: S3Objects::new(s3.clone()),
            s3,
            queue,
            chunking: chunking(env)?,
            inline_report,
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Response<Body>, Error> {
        let route = Route::parse(request.uri().path());
        let answer = match (request.method(), route) {
            (_, None) => Err(ApiError::not_found(format!("no such resource: {}", request.uri().path()))),
            (method, Some(route)) if method.as_str() == route.method() => self.answer(&request, route).await,
            (_, Some(_)) => Err(ApiError::method_not_allowed()),
        };
        Ok(answer.unwrap_or_else(ApiError::into_response))
    }

    async fn answer(&self, request: &Request, route: Route) -> Result<Response<Body>, ApiError> {
        let query = request.query_string_parameters();
        let limit = |default: usize| -> Result<usize, ApiError> {
            match query.first("limit") {
                None => Ok(default),
                Some(text) => text.parse().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| {
                    ApiError::bad_request(format!("limit={text:?}: a whole number from 1 to {MAX_PAGE}"))
                }),
            }
        };
        match route {
            Route::Jobs => {
                let page = self
                    .store
                    .jobs(limit(DEFAULT_JOBS)?, query.first("next"))
                    .await
                    .map_err(|e| ApiError::internal("listing jobs", e))?;
                Ok(answer::json(StatusCode::OK, &JobsPage { jobs: page.items, next: page.next }))
            }
            Route::Job(id) => {
                let job = self.job(&id).await?;
                let salesforce_allocation = SalesforceAllocation::of_job(self.store.as_ref(), &job.id)
                    .await
                    .map_err(|e| ApiError::internal("reading the job's Salesforce allocation", e))?;
                Ok(answer::json(StatusCode::OK, &JobSummary { kind: job.kind(), job, salesforce_allocation }))
            }
            Route::Rows(id) => {
                let status = match query.first("status") {
                    None => None,
                    Some(text) => Some(RowStatus::parse(text).ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "status={text:?}: one of PENDING, IN_PROGRESS, SUCCEEDED, FAILED, INVALID"
                        ))
                    })?),
                };
                let after = match query.first("next") {
                    None => None,
                    Some(text) => Some(
                        text.parse::<u64>()
                            .map_err(|_| ApiError::bad_request(format!("next={text:?}: not a token this API gave")))?,
                    ),
                };
                let job = self.job(&id).await?;
                let page = self
                    .store
                    .rows(&job.id, status, limit(DEFAULT_ROWS)?, after)
                    .await
                    .map_err(|e| ApiError::internal("listing rows", e))?;
                Ok(answer::json(StatusCode::OK, &RowsPage { rows: page.items, next: page.next }))
            }
            Route::Row(id, row) => {
                let number: u64 =
                    row.parse().map_err(|_| ApiError::bad_request(format!("row {row:?}: not a row number")))?;
                let job = self.job(&id).await?;
                let record = self
                    .store
                    .row(&job.id, number)
                    .await
                    .map_err(|e| ApiError::internal("reading a row", e))?
                    .ok_or_else(|| ApiError::not_found(format!("job {id} has no row {number}")))?;
                Ok(answer::json(StatusCode::OK, &record))
            }
            Route::Report(id) => self.report(&self.job(&id).await?).await,
            Route::Retry(id) => self.retry(&self.job(&id).await?).await,
            Route::Undo(id) => self.undo(&self.job(&id).await?).await,
        }
    }

    /// Puts the job's failed rows back to PENDING and sends the chunks that hold them again; answers 202 with how
    /// many, the work itself being the provision function's.
    async fn retry(&self, job: &Job) -> Result<Response<Body>, ApiError> {
        if job.dialect.is_some() {
            self.readable(job).await?;
        }
        let mut retried = self.retry_from_its_file(job).await?;
        // The job ended, and its upload was replaced by the copy without passwords, while the retry read it: once
        // more, from the copy.
        let moved = |retried: &Result<Retried, RetryError>| {
            matches!(retried, Err(RetryError::FileMoved(_)) | Err(RetryError::Ingest(IngestError::File(_))))
        };
        if moved(&retried) {
            let now = self.job(job.id.as_str()).await?;
            if now.file() != job.file() {
                retried = self.retry_from_its_file(&now).await?;
            }
        }
        let retried = match retried {
            Ok(retried) => retried,
            Err(RetryError::Refused(reason)) => return Err(ApiError::conflict(reason)),
            Err(RetryError::Ingest(IngestError::File(err))) => {
                return Err(ApiError::conflict(format!("job {}'s file can no longer be read: {err}", job.id)));
            }
            Err(err) => return Err(ApiError::internal("retrying the job", err)),
        };
        tracing::info!(job = %job.id, rows = retried.rows, chunks = retried.chunks, "failed rows retried");
        Ok(answer::json(StatusCode::ACCEPTED, &RetryAnswer { job: job.id.clone(), retried }))
    }

    async fn retry_from_its_file(&self, job: &Job) -> Result<Result<Retried, RetryError>, ApiError> {
        let (store, queue, chunking, copy) = (self.store.clone(), self.queue.clone(), self.chunking, job.clone());
        let source = self.objects.stream(job.file().clone(), Handle::current());
        off_the_runtime(move |runtime| {
            runtime.block_on(retry_failed(store.as_ref(), queue.as_ref(), &source, &copy, &chunking))
        })
        .await
    }

    /// Starts an undo of the job, a job of its own whose rows the provision function works; answers 202 with it.
    async fn undo(&self, job: &Job) -> Result<Response<Body>, ApiError> {
        let (undo, messages) = match start_undo(self.store.as_ref(), job).await {
            Ok(started) => started,
            Err(UndoError::Refused(reason)) => return Err(ApiError::conflict(reason)),
            Err(err) => return Err(ApiError::internal("starting the undo", err)),
        };
        self.queue.send_json(&messages).await.map_err(|e| ApiError::internal("sending the undo's rows", e))?;
        let rows = undo.counts.total();
        tracing::info!(job = %job.id, undo = %undo.id, rows, "undo started");
        Ok(answer::json(StatusCode::ACCEPTED, &UndoAnswer { job: job.id.clone(), undo: undo.id, rows }))
    }

    /// 409 unless the job's file is there to read.
    async fn readable(&self, job: &Job) -> Result<(), ApiError> {
        match self.objects.exists(job.file()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ApiError::conflict(format!("job {}'s file can no longer be read: it is gone", job.id))),
            Err(e) => Err(ApiError::conflict(format!("job {}'s file can no longer be read: {e}", job.id))),
        }
    }

    async fn job(&self, id: &str) -> Result<Job, ApiError> {
        self.store
            .job(&JobId::from_string(id.to_owned()))
            .await
            .map_err(|e| ApiError::internal("reading the job", e))?
            .ok_or_else(|| ApiError::not_found(format!("no job {id}")))
    }

    /// The report: inline when it fits in a Lambda answer, else put beside the upload under `reports/` and
    /// answered with a 303 to a short-lived link.
    async fn report(&self, job: &Job) -> Result<Response<Body>, ApiError> {
        // The report goes to a file, not to memory: a 100,000-row job's is tens of megabytes.
        let report = tempfile::NamedTempFile::new().map_err(|e| ApiError::internal("making room for the report", e))?;
        let out = report.reopen().map_err(|e| ApiError::internal("the report", e))?;
        if job.kind() == JobKind::Undo {
            // An undo job's report is its rows': it read no file.
            undo_report(self.store.as_ref(), job, std::io::BufWriter::new(out))
                .await
                .map_err(|e| ApiError::internal("the undo report", e))?;
        } else {
            if job.dialect.is_none() {
                let reason = job.error.as_deref().unwrap_or("unknown");
                return Err(ApiError::conflict(format!(
                    "job {} has no report: its file could not be read ({reason})",
                    job.id
                )));
            }
            self.readable(job).await?;
            // The file is read as a stream, never copied.
            let (store, copy) = (self.store.clone(), job.clone());
            let source = self.objects.stream(job.file().clone(), Handle::current());
            off_the_runtime(move |runtime| {
                runtime.block_on(job_report(store.as_ref(), &copy, &source, std::io::BufWriter::new(out)))
            })
            .await?
            .map_err(|e| ApiError::internal("the report", e))?;
        }
        let size = report.as_file().metadata().map_err(|e| ApiError::internal("the report", e))?.len();
        if size <= self.inline_report as u64 {
            let csv = std::fs::read(report.path()).map_err(|e| ApiError::internal("the report", e))?;
            let mut response = Response::new(Body::Text(String::from_utf8_lossy(&csv).into_owned()));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/csv; charset=utf-8"));
            if let Ok(disposition) = format!("attachment; filename=\"{}.report.csv\"", job.id).parse() {
                headers.insert(header::CONTENT_DISPOSITION, disposition);
            }
            return Ok(response);
        }
        let key = format!("reports/{}.csv", job.id);
        self.s3
            .put_object()
            .bucket(&job.source.bucket)
            .key(&key)
            .content_type("text/csv; charset=utf-8")
            .body(ByteStream::from_path(report.path()).await.map_err(|e| ApiError::internal("the report", e))?)
            .send()
            .await
            .map_err(|e| ApiError::internal("storing the report", e.into_service_error()))?;
        let lifetime = PresigningConfig::expires_in(REPORT_LINK_LIFETIME)
            .map_err(|e| ApiError::internal("signing the report's link", e))?;
        let link = self
            .s3
            .get_object()
            .bucket(&job.source.bucket)
            .key(&key)
            .presigned(lifetime)
            .await
            .map_err(|e| ApiError::internal("signing the report's link", e))?;
        let url = link.uri().to_owned();
        let mut response = answer::json(
            StatusCode::SEE_OTHER,
            &ReportLink { url: url.clone(), expires_in_seconds: REPORT_LINK_LIFETIME.as_secs() },
        );
        if let Ok(location) = url.parse() {
            response.headers_mut().insert(header::LOCATION, location);
        }
        Ok(response)
    }
}

/// Runs `work` on a blocking thread, handing it the runtime to wait on: a file read as a stream (`S3Stream`) blocks
/// its reader between pieces, which no task of the runtime may do.
async fn off_the_runtime<T: Send + 'static>(work: impl FnOnce(Handle) -> T + Send + 'static) -> Result<T, ApiError> {
    let runtime = Handle::current();
    tokio::task::spawn_blocking(move || work(runtime)).await.map_err(|e| ApiError::internal("reading the file", e))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_norway::Value;

    use super::*;

    fn yaml(path: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_openapi_document_the_routes_and_the_template_agree() {
        let document = yaml("openapi.yaml");
        let paths = document["paths"].as_mapping().unwrap();
        let documented: BTreeSet<&str> = paths.keys().map(|k| k.as_str().unwrap()).collect();
        assert_eq!(documented, TEMPLATES.into_iter().collect(), "the document and the handler serve the same paths");
        for (path, operations) in paths {
            let methods: Vec<&str> = operations.as_mapping().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
            let concrete = path.as_str().unwrap().replace("{id}", "b53ca2a8787286638b99b46b").replace("{row}", "7");
            let route = Route::parse(&concrete).unwrap();
            assert_eq!(route.template(), path.as_str().unwrap());
            assert_eq!(methods, [route.method().to_lowercase()], "{path:?}: the one method the handler answers");
        }
        let template = yaml("../../template.yaml");
        let events = template["Resources"]["StatusFunction"]["Properties"]["Events"].as_mapping().unwrap();
        let routed: BTreeSet<(&str, &str)> = events
            .values()
            .map(|e| (e["Properties"]["Path"].as_str().unwrap(), e["Properties"]["Method"].as_str().unwrap()))
            .collect();
        let answered: BTreeSet<(&str, &str)> = TEMPLATES
            .iter()
            .map(|t| (*t, Route::parse(&t.replace("{id}", "x").replace("{row}", "7")).unwrap().method()))
            .collect();
        assert_eq!(routed, answered, "API Gateway routes every documented path, by its method, to the function");
    }
}

#[cfg(test)]
mod sample_event {
    use lambda_http::RequestExt;

    use super::Route;

    #[test]
    fn the_sample_request_routes_with_its_query() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/apigw-http-failed-rows.json");
        let request = lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(Route::parse(request.uri().path()), Some(Route::Rows("b53ca2a8787286638b99b46b".into())));
        let query = request.query_string_parameters();
        assert_eq!((query.first("status"), query.first("limit")), (Some("FAILED"), Some("2")));
    }
}
