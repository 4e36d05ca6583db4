//! Provision, as the SQS trigger runs it: each message is a chunk (DESIGN §6), provisioned with the engine
//! `ccbulk run` drives. A message fails alone (ReportBatchItemFailures): a body that is not a chunk, a chunk whose
//! rows wait for another attempt, a store or object error. A chunk to be tried again is made visible after a
//! backoff (not the queue's long visibility timeout); one that keeps failing ends in the dead-letter queue, its rows
//! left PENDING or IN_PROGRESS for a redrive.

mod secret;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use ccbulk_lambda::{ConfigError, Env, MetricsOut, Telemetry, after_ending, chunking, s3_client};
use ccbulk_shared::budget::DynamoBudget;
use ccbulk_shared::connect::{Pacer, RateBudget, SettingNames, Workload};
use ccbulk_shared::job::{ChunkMessage, DynamoJobStore, JobState, JobStore, Lease};
use ccbulk_shared::metrics::MetricSet;
use ccbulk_shared::pipeline::{
    ChunkReport, ConnectTarget, DEFAULT_USERS_QUOTA, ImpliedSalesforce, ImpliedSetting, RetryPolicy, S3Objects,
    SalesforceOut, SalesforceTarget, Targets, UndoMessage, provision_chunk, undo_rows, unreachable_pause,
};
use ccbulk_shared::salesforce::{AliasChange, SalesforceDefaults, SalesforceSync};
use ccbulk_shared::validate::picklists::Picklist;
use tokio::sync::Mutex;

pub use self::secret::SalesforceSettings;
use self::secret::SecretSource;

/// Time kept back from the invocation's deadline without a Connect side (Salesforce's calls for a row are not
/// paced); with one, the slowest row at the worker's share of the rate (see [`Workload::check`]).
const SALESFORCE_ONLY_MARGIN: Duration = Duration::from_secs(30);
/// How the settings behind an unworkable schedule are named in the template, and in the function's environment.
const SETTING_NAMES: SettingNames = SettingNames {
    rate: "ConnectWriteRate (CCBULK_CONNECT_WRITE_RATE)",
    workers: "ProvisionConcurrency (CCBULK_PROVISION_CONCURRENCY)",
    chunk_rows: "ChunkRows (CCBULK_CHUNK_ROWS)",
    time_limit: "provision function's Timeout (CCBULK_TIMEOUT_SECONDS)",
};
/// The longest a chunk waits before its next delivery.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(900);
/// How long an undo message's rows stay held: the function's longest run (its Timeout in template.yaml).
const UNDO_ROW_LEASE: Duration = Duration::from_secs(900);
/// How soon a paused chunk looks again, unless `CCBULK_PAUSED_RETRY_SECONDS` says: SQS's longest message delay.
/// Salesforce's allocation comes back over a rolling 24 hours, so a look every quarter of an hour costs one refused
/// call a chunk and loses little time.
const PAUSED_LOOK_AGAIN: Duration = Duration::from_secs(900);

fn salesforce_defaults(env: &Env) -> Result<SalesforceDefaults, ConfigError> {
    let fallback = SalesforceDefaults::default();
    let or = |name, value: String| env.optional(name).unwrap_or(value);
    let defaults = SalesforceDefaults {
        profile: or("CCBULK_SALESFORCE_DEFAULT_PROFILE", fallback.profile),
        time_zone: or("CCBULK_SALESFORCE_DEFAULT_TIME_ZONE", fallback.time_zone),
        locale: or("CCBULK_SALESFORCE_DEFAULT_LOCALE", fallback.locale),
        language: or("CCBULK_SALESFORCE_DEFAULT_LANGUAGE", fallback.language),
        email_encoding: or("CCBULK_SALESFORCE_DEFAULT_EMAIL_ENCODING", fallback.email_encoding),
    };
    match defaults.refused() {
        None => Ok(defaults),
        Some((picklist, value, reason)) => Err(ConfigError::Invalid {
            name: match picklist {
                Picklist::TimeZone => "CCBULK_SALESFORCE_DEFAULT_TIME_ZONE",
                Picklist::Locale => "CCBULK_SALESFORCE_DEFAULT_LOCALE",
                Picklist::Language => "CCBULK_SALESFORCE_DEFAULT_LANGUAGE",
                Picklist::EmailEncoding => "CCBULK_SALESFORCE_DEFAULT_EMAIL_ENCODING",
            },
            value,
            reason,
        }),
    }
}

/// A setting that takes one of a few words (`values` says which, for the message); unset, its default.
fn one_of<T: Default>(
    env: &Env,
    name: &'static str,
    parse: fn(&str) -> Option<T>,
    values: &str,
) -> Result<T, ConfigError> {
    match env.optional(name) {
        None => Ok(T::default()),
        Some(value) => parse(&value).ok_or_else(|| ConfigError::Invalid { name, value, reason: values.into() }),
    }
}

fn implied_salesforce(env: &Env) -> Result<Option<ImpliedSalesforce>, ConfigError> {
    const CENTER: &str = "CCBULK_CONNECT_TEMPLATE_CONTACT_CENTER";
    const ROLE: &str = "CCBULK_CONNECT_TEMPLATE_ROLE";
    let Some(center) = env.optional(CENTER) else { return Ok(None) };
    let role = env.optional(ROLE);
    ImpliedSalesforce::from_settings(&center, role.as_deref()).map(Some).map_err(|(setting, reason)| {
        let (name, value) = match setting {
            ImpliedSetting::ContactCenter => (CENTER, center.clone()),
            ImpliedSetting::Role => (ROLE, role.clone().unwrap_or_default()),
        };
        ConfigError::Invalid { name, value, reason }
    })
}

/// Calls the function's clients have sent so far: a chunk's are the difference across it.
#[derive(Debug, Clone, Copy, Default)]
struct Calls {
    connect: u64,
    connect_throttled: u64,
    salesforce: u64,
}

impl Calls {
    fn of(targets: &Targets) -> Self {
        let connect = targets.connect.as_ref().map(|c| &c.pacer);
        Self {
            connect: connect.map_or(0, |p| p.calls()),
            connect_throttled: connect.map_or(0, |p| p.throttles()),
            salesforce: targets.salesforce.as_ref().map_or(0, |s| s.client.calls()),
        }
    }

    fn since(self, before: Self) -> Self {
        Self {
            connect: self.connect.saturating_sub(before.connect),
            connect_throttled: self.connect_throttled.saturating_sub(before.connect_throttled),
            salesforce: self.salesforce.saturating_sub(before.salesforce),
        }
    }
}

/// One delivery's figures: the rows it ended, the calls it made, and how long it took.
fn chunk_metrics(chunk: &ChunkMessage, report: &ChunkReport, calls: Calls, took: Duration) -> MetricSet {
    MetricSet::new("provision")
        .count("RowsSucceeded", report.succeeded.into())
        .count("RowsFailed", report.failed.into())
        .count("RowsDeferred", report.deferred.into())
        .count("ConnectCalls", calls.connect)
        .count("ConnectThrottles", calls.connect_throttled)
        .count("SalesforceCalls", calls.salesforce)
        .millis("ChunkDuration", took.as_secs_f64() * 1000.0)
        .property("job", chunk.job_id.as_str())
        .property("chunk", chunk.chunk.index)
}

/// What the function holds between invocations.
pub struct Provision {
    store: DynamoJobStore,
    objects: S3Objects,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    policy: RetryPolicy,
    /// Time kept back from each invocation's deadline, for the row under way.
    deadline_margin: Duration,
    /// The first retry's delay; each further delivery doubles it.
    retry_delay: Duration,
    held_retry: Duration,
    /// How soon a chunk of a paused job looks again.
    paused_look_again: Duration,
    salesforce: Option<SecretSource>,
    /// What new Salesforce users get for fields their rows leave blank.
    salesforce_defaults: SalesforceDefaults,
    /// The Salesforce side of Connect-template rows, when the deployment gives one.
    implied: Option<ImpliedSalesforce>,
    alias_change: AliasChange,
    sync: SalesforceSync,
    voice_sync: bool,
    /// Connect's target is fixed; Salesforce's is (re)made from the secret when missing or stale. Lambda hands a
    /// container one event at a time, so the lock is never contended there.
    targets: Mutex<Held>,
    telemetry: Telemetry,
}

struct Held {
    targets: Targets,
    /// When the Salesforce secret was last read.
    salesforce_read_at: Option<Instant>,
}

/// What became of one message.
enum Delivery {
    Done(ChunkReport),
    /// Deliver it again after this delay.
    Again {
        delay: Duration,
        reason: String,
    },
    /// The time ran out after some rows: go on with the rest in a fresh message, whose receive count starts again.
    GoOn(ChunkReport),
    /// The whole chunk waits for a limit that lifts by itself: look again later in a fresh message, so that a
    /// pause of hours never uses up the receives that end in the dead-letter queue.
    Paused(String),
}

/// A delivery done with a job whose ending could not be announced is delivered again instead: the next delivery finds
/// the job ended, its rows done, and publishes the event.
fn announced_or_again(delivery: Delivery, unannounced: Option<String>, delay: Duration) -> Delivery {
    match (delivery, unannounced) {
        (Delivery::Done(_), Some(reason)) => Delivery::Again { delay, reason },
        (delivery, _) => delivery,
    }
}

impl Provision {
    /// From `CCBULK_TABLE`, `CCBULK_QUEUE_URL`, `CCBULK_CONNECT_INSTANCE_ID` (and, for tests or private endpoints,
    /// `CCBULK_CONNECT_ENDPOINT_URL`), `CCBULK_CONNECT_WRITE_RATE` and `CCBULK_CONNECT_WRITE_BURST` for all
    /// `CCBULK_PROVISION_CONCURRENCY` workers together, `CCBULK_SALESFORCE_{LOGIN_URL,CLIENT_ID,JWT_USERNAME,JWT_AUDIENCE,SECRET_ARN}`,
    /// `CCBULK_SECRET_TTL_SECONDS`, `CCBULK_MAX_ATTEMPTS`, `CCBULK_RETRY_DELAY_SECONDS`, new users' defaults
    /// `CCBULK_SALESFORCE_DEFAULT_{PROFILE,TIME_ZONE,LOCALE,LANGUAGE,EMAIL_ENCODING}` and the Salesforce side of
    /// Connect-template rows, `CCBULK_CONNECT_TEMPLATE_{CONTACT_CENTER,ROLE}` (none when the contact center is unset).
    pub fn new(config: &SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        let table = env.required("CCBULK_TABLE")?;
        let queue_url = env.required("CCBULK_QUEUE_URL")?;
        let rate = env.parsed("CCBULK_CONNECT_WRITE_RATE", Some(2.0), |v| {
            v.parse::<f64>().ok().filter(|r| *r > 0.0 && r.is_finite()).ok_or("a number of requests per second above 0")
        })?;
        let workers = env.number::<u32>("CCBULK_PROVISION_CONCURRENCY", Some(1))?;
        let burst =
            env.whole_number("CCBULK_CONNECT_WRITE_BURST", Some(RateBudget::default().write_burst), 1..=u32::MAX)?;
        // How ingest cut the chunks: the size plans the invocation's time, the Salesforce path is the rows'.
        let chunking = chunking(env)?;
        let chunk_rows = chunking.chunk_rows;
        let time_limit = Duration::from_secs(env.number::<u64>("CCBULK_TIMEOUT_SECONDS", Some(900))?);
        let max_attempts =
            env.whole_number("CCBULK_MAX_ATTEMPTS", Some(RetryPolicy::default().max_attempts), 1..=u32::MAX)?;
        let retry_delay =
            Duration::from_secs_f64(env.number::<f64>("CCBULK_RETRY_DELAY_SECONDS", Some(30.0))?.max(0.0));
        let lease = Duration::from_secs(env.number::<u64>("CCBULK_ROW_LEASE_SECONDS", Some(60))?.max(1));
        // A chunk whose rows another invocation holds looks again once that invocation is surely over.
        let held_retry = Duration::from_secs(env.number::<u64>("CCBULK_HELD_RETRY_SECONDS", Some(900))?);
        let paused_look_again = Duration::from_secs(
            env.number::<u64>("CCBULK_PAUSED_RETRY_SECONDS", Some(PAUSED_LOOK_AGAIN.as_secs()))?.min(900),
        );
        // The account's quota is per account and API: the workers draw from one budget in the table, so that a busy
        // worker takes the whole rate while the others idle. Settings that cannot work even when every worker is
        // busy (each then gets its share) are refused here, at cold start, not found out from a dead-letter queue.
        let workload = Workload {
            budget: RateBudget { write_per_second: rate, write_burst: burst, ..RateBudget::default() },
            workers,
            chunk_rows,
            time_limit,
        };
        let mut deadline_margin = SALESFORCE_ONLY_MARGIN;
        let connect = match env.optional("CCBULK_CONNECT_INSTANCE_ID") {
            Some(instance_id) => {
                let schedule = workload.check().map_err(|err| ConfigError::Unworkable(err.explain(&SETTING_NAMES)))?;
                deadline_margin = schedule.slowest_row;
                let shared = DynamoBudget::new(aws_sdk_dynamodb::Client::new(config), &table, &instance_id);
                let mut builder = aws_sdk_connect::config::Builder::from(config);
                if let Some(url) = env.optional("CCBULK_CONNECT_ENDPOINT_URL") {
                    builder = builder.endpoint_url(url);
                }
                let pacer = Pacer::shared(workload.budget, Arc::new(shared), workers);
                let users_quota = env.number::<u64>("CCBULK_USERS_QUOTA", Some(DEFAULT_USERS_QUOTA))?;
                Some(
                    ConnectTarget::new(ccbulk_shared::connect::client(builder), instance_id, pacer)
                        .with_users_quota(users_quota),
                )
            }
            None => None,
        };
        let salesforce = match env.optional("CCBULK_SALESFORCE_CLIENT_ID") {
            Some(client_id) => Some(SecretSource::new(
                aws_sdk_secretsmanager::Client::new(config),
                SalesforceSettings {
                    login_url: env.required("CCBULK_SALESFORCE_LOGIN_URL")?,
                    client_id,
                    jwt_username: env.optional("CCBULK_SALESFORCE_JWT_USERNAME"),
                    jwt_audience: env.optional("CCBULK_SALESFORCE_JWT_AUDIENCE"),
                    secret_id: env.required("CCBULK_SALESFORCE_SECRET_ARN")?,
                    ttl: Duration::from_secs(env.number::<u64>("CCBULK_SECRET_TTL_SECONDS", Some(900))?),
                },
            )),
            None => None,
        };
        Ok(Self {
            store: DynamoJobStore::new(aws_sdk_dynamodb::Client::new(config), table),
            objects: S3Objects::new(s3_client(config)),
            sqs: aws_sdk_sqs::Client::new(config),
            queue_url,
            policy: RetryPolicy { max_attempts, lease },
            deadline_margin,
            retry_delay,
            held_retry,
            paused_look_again,
            salesforce,
            salesforce_defaults: salesforce_defaults(env)?,
            implied: implied_salesforce(env)?,
            alias_change: one_of(env, "CCBULK_SALESFORCE_ALIAS_CHANGE", AliasChange::parse, "refuse or rejoin")?,
            sync: chunking.sync,
            voice_sync: env.parsed("CCBULK_SALESFORCE_VOICE_SYNC", Some(false), |v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err("true or false"),
            })?,
            targets: Mutex::new(Held {
                targets: Targets { connect, salesforce: None, salesforce_out: None },
                salesforce_read_at: None,
            }),
            telemetry: Telemetry::new(config, env),
        })
    }

    /// The same function, writing its metric documents to `out` instead of standard output.
    pub fn with_metrics_out(mut self, out: MetricsOut) -> Self {
        self.telemetry = self.telemetry.with_metrics_out(out);
        self
    }

    /// The time each invocation keeps back from its deadline for the row under way.
    pub fn deadline_margin(&self) -> Duration {
        self.deadline_margin
    }

    /// Provisions each message's chunk, stopping between rows in time for `deadline`; returns the messages to
    /// deliver again.
    pub async fn handle(&self, event: SqsEvent, deadline: SystemTime) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let mut held = self.targets.lock().await;
        // Without Salesforce, the rows that need it wait, untouched, until ccbulk can sign in again (a secret put
        // right, an integration user unlocked, the login service back): their jobs say they are paused and why, as
        // for a spent allocation, and no receive is used up. Rows with no Salesforce side go on.
        held.targets.salesforce_out = match self.refresh_salesforce(&mut held).await {
            Ok(()) => None,
            Err(reason) => {
                tracing::error!(%reason, "Salesforce is out of reach; the rows that need it wait");
                Some(SalesforceOut { reason, implied: self.implied.clone() })
            }
        };
        let keep_going = || SystemTime::now() + self.deadline_margin < deadline;
        for message in &event.records {
            match self.deliver(&held.targets, message, &keep_going).await {
                Delivery::Done(report) => tracing::info!(
                    message = message.message_id.as_deref().unwrap_or_default(),
                    succeeded = report.succeeded,
                    failed = report.failed,
                    skipped = report.skipped,
                    job_state = report.job_state.map(|s| s.as_str()),
                    "chunk done"
                ),
                Delivery::Again { delay, reason } => {
                    self.again_after(message, delay, &reason, &mut response).await;
                }
                Delivery::GoOn(report) => {
                    tracing::info!(
                        message = message.message_id.as_deref().unwrap_or_default(),
                        succeeded = report.succeeded,
                        failed = report.failed,
                        left = report.out_of_time,
                        "the invocation's time ran out, or Salesforce's bulk job is worth a look only later; the \
                         chunk goes on in a new message"
                    );
                    let delay = report.look_again_in.unwrap_or_default();
                    self.send_on(message, delay, "the time ran out", &mut response).await;
                }
                Delivery::Paused(reason) => {
                    tracing::warn!(
                        message = message.message_id.as_deref().unwrap_or_default(),
                        %reason,
                        "the job is paused; the chunk looks again in a new message"
                    );
                    self.send_on(message, self.paused_look_again, "the job is paused", &mut response).await;
                }
            }
        }
        response
    }

    async fn refresh_salesforce(&self, held: &mut Held) -> Result<(), String> {
        let Some(source) = &self.salesforce else { return Ok(()) };
        let fresh = held.salesforce_read_at.is_some_and(|read| read.elapsed() < source.settings.ttl);
        if fresh && held.targets.salesforce.is_some() {
            return Ok(());
        }
        match source.client().await {
            Ok(client) => {
                held.targets.salesforce = Some(SalesforceTarget {
                    client,
                    defaults: self.salesforce_defaults.clone(),
                    implied: self.implied.clone(),
                    alias_change: self.alias_change,
                    sync: self.sync,
                    voice_sync: self.voice_sync,
                    reference: Default::default(),
                });
                held.salesforce_read_at = Some(Instant::now());
                Ok(())
            }
            // The client in hand worked until now: keep it and try the secret again next time.
            Err(reason) if held.targets.salesforce.is_some() => {
                tracing::warn!(%reason, "could not read the Salesforce secret again; the current sign-in stays");
                Ok(())
            }
            Err(reason) => Err(reason),
        }
    }

    async fn deliver(
        &self,
        targets: &Targets,
        message: &SqsMessage,
        keep_going: &(dyn Fn() -> bool + Sync),
    ) -> Delivery {
        let delay = self.delay_for(message);
        let body = message.body.as_deref().unwrap_or_default();
        let chunk: ChunkMessage = match serde_json::from_str(body) {
            Ok(chunk) => chunk,
            Err(err) => match serde_json::from_str::<UndoMessage>(body) {
                Ok(undo) => match &targets.salesforce_out {
                    // An undo message's rows are read one at a time; it waits whole while Salesforce is out.
                    Some(out) => return self.pause_undo(&undo, &out.reason, delay).await,
                    None => return Box::pin(self.undo(targets, &undo, delay)).await,
                },
                // Redelivery will not mend it; it goes to the dead-letter queue after the queue's receive limit.
                Err(_) => return Delivery::Again { delay, reason: format!("not a chunk message: {err}") },
            },
        };
        let (started, calls_before) = (Instant::now(), Calls::of(targets));
        // Boxed: the chunk's work nests every step of both sides, too deep for a thread's stack inline.
        let provisioned =
            Box::pin(provision_chunk(&self.store, &self.objects, targets, &chunk, self.policy, keep_going)).await;
        let mut unannounced = None;
        if let Ok(report) = &provisioned {
            let calls = Calls::of(targets).since(calls_before);
            self.telemetry.metrics(&chunk_metrics(&chunk, report, calls, started.elapsed()));
            if report.job_state.is_some_and(JobState::has_ended) {
                unannounced = after_ending(&self.store, &self.objects, &self.telemetry, &chunk.job_id).await.err();
            }
        }
        let delivery = match provisioned {
            Ok(ChunkReport { paused: Some(reason), .. }) => Delivery::Paused(reason),
            Ok(report) if report.ran_out_of_time_after_progress() => Delivery::GoOn(report),
            Ok(report) if report.needs_redelivery() => Delivery::Again {
                delay: if report.held > 0 { delay.max(self.held_retry) } else { delay },
                reason: format!(
                    "{} rows of job {} wait for another attempt: {}",
                    report.deferred,
                    chunk.job_id,
                    report.retry_reason.as_deref().unwrap_or("the invocation's time ran out")
                ),
            },
            Ok(report) => Delivery::Done(report),
            Err(err) => Delivery::Again { delay, reason: format!("job {}: {err}", chunk.job_id) },
        };
        announced_or_again(delivery, unannounced, delay)
    }

    /// Some rows of an undo job. Their hold lasts the function's longest run, not renewed: a container lost mid-way
    /// lets them go after that.
    async fn undo(&self, targets: &Targets, message: &UndoMessage, delay: Duration) -> Delivery {
        let lease = Lease::new(UNDO_ROW_LEASE.as_secs());
        match undo_rows(&self.store, targets, message, &lease).await {
            Ok(report) => {
                let mut unannounced = None;
                if report.job_state.is_some_and(JobState::has_ended) {
                    unannounced = after_ending(&self.store, &self.objects, &self.telemetry, &message.undo).await.err();
                }
                let delivery = if report.needs_redelivery() {
                    Delivery::Again {
                        delay: delay.max(self.held_retry),
                        reason: format!(
                            "{} rows of undo job {} are held by another delivery",
                            report.deferred, message.undo
                        ),
                    }
                } else {
                    Delivery::Done(report)
                };
                announced_or_again(delivery, unannounced, delay)
            }
            Err(err) => Delivery::Again { delay, reason: format!("undo job {}: {err}", message.undo) },
        }
    }

    /// An undo waits for Salesforce as a chunk does: untouched, its job marked paused.
    async fn pause_undo(&self, message: &UndoMessage, reason: &str, delay: Duration) -> Delivery {
        let reason = unreachable_pause(reason);
        match self.store.pause_job(&message.undo, &reason).await {
            Ok(()) => Delivery::Paused(reason),
            Err(err) => Delivery::Again { delay, reason: format!("undo job {}: {err}", message.undo) },
        }
    }

    /// The retry delay after this message's deliveries so far: the base, doubled per delivery, capped.
    fn delay_for(&self, message: &SqsMessage) -> Duration {
        let received: u32 = message.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1);
        let doubled = self.retry_delay.saturating_mul(1 << received.saturating_sub(1).min(10));
        doubled.min(MAX_RETRY_DELAY)
    }

    /// Sends the chunk again as a new message, visible after `delay`, and lets this one be deleted. Should the send
    /// fail, this one is delivered again instead, as any other retry. Should the deletion fail after the send, two
    /// messages carry the chunk; the rows' leases and states make the second one a no-op.
    async fn send_on(&self, message: &SqsMessage, delay: Duration, why: &str, response: &mut SqsBatchResponse) {
        let sent = self
            .sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(message.body.as_deref().unwrap_or_default())
            .delay_seconds(delay.as_secs().min(900) as i32)
            .send()
            .await;
        if let Err(err) = sent {
            let reason = format!("{why}, and the chunk could not be sent on: {}", err.into_service_error());
            self.again_after(message, delay, &reason, response).await;
        }
    }

    async fn again_after(&self, message: &SqsMessage, delay: Duration, reason: &str, response: &mut SqsBatchResponse) {
        let id = message.message_id.clone().unwrap_or_default();
        tracing::warn!(message = %id, delay_seconds = delay.as_secs(), %reason, "chunk to be delivered again");
        if let Some(receipt) = &message.receipt_handle {
            // Without this the message would wait out the queue's visibility timeout (six times the function's).
            let changed = self
                .sqs
                .change_message_visibility()
                .queue_url(&self.queue_url)
                .receipt_handle(receipt)
                .visibility_timeout(delay.as_secs().min(43_200) as i32)
                .send()
                .await;
            if let Err(err) = changed {
                tracing::warn!(message = %id, error = %err.into_service_error(), "could not shorten the wait");
            }
        }
        response.add_failure(id);
    }
}

#[cfg(test)]
mod tests {
    use ccbulk_shared::domain::{ContactCenterRef, VoiceRole};

    use super::*;

    fn sample_event() -> SqsEvent {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/sqs-chunk.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn provision(env: &[(&str, &str)]) -> Result<Provision, ConfigError> {
        let config = SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build();
        let base = [("CCBULK_TABLE", "jobs"), ("CCBULK_QUEUE_URL", "http://127.0.0.1:1/123456789012/chunks")];
        Provision::new(&config, &Env::from_pairs(base.iter().chain(env).copied()))
    }

    #[test]
    fn the_sample_event_carries_a_chunk_and_no_row_data() {
        let event = sample_event();
        let body = event.records[0].body.as_deref().unwrap();
        let chunk: ChunkMessage = serde_json::from_str(body).unwrap();
        assert_eq!((chunk.chunk.first_row, chunk.chunk.rows), (2, 25));
        assert!(!body.contains("Welcome") && !body.contains('@'), "no password, no address: {body}");
    }

    #[test]
    fn retries_back_off_per_delivery_up_to_a_cap() {
        let provision = provision(&[("CCBULK_RETRY_DELAY_SECONDS", "30")]).unwrap();
        let mut message = sample_event().records.remove(0);
        let mut delays = Vec::new();
        for received in ["1", "2", "3", "6", "40"] {
            message.attributes.insert("ApproximateReceiveCount".into(), received.into());
            delays.push(provision.delay_for(&message).as_secs());
        }
        assert_eq!(delays, [30, 60, 120, 900, 900]);
    }

    #[test]
    fn configuration_is_checked_before_any_message() {
        let error = provision(&[("CCBULK_CONNECT_WRITE_RATE", "0")]).err().unwrap().to_string();
        assert!(error.contains("CCBULK_CONNECT_WRITE_RATE"), "{error}");
        let error = provision(&[("CCBULK_SALESFORCE_CLIENT_ID", "3MVG9")]).err().unwrap();
        assert_eq!(error, ConfigError::Missing("CCBULK_SALESFORCE_LOGIN_URL"), "a Salesforce side needs its login URL");
        assert!(provision(&[("CCBULK_CONNECT_INSTANCE_ID", "8c7b5d2e-3f4a-4b6c-9d8e-1a2b3c4d5e6f")]).is_ok());
        let error = provision(&[
            ("CCBULK_CONNECT_TEMPLATE_CONTACT_CENTER", "Support"),
            ("CCBULK_CONNECT_TEMPLATE_ROLE", "boss"),
        ])
        .err()
        .unwrap()
        .to_string();
        assert!(error.contains("CCBULK_CONNECT_TEMPLATE_ROLE") && error.contains("\"boss\""), "{error}");
    }

    #[test]
    fn settings_that_cannot_work_together_are_refused_at_cold_start_and_named() {
        const INSTANCE: (&str, &str) = ("CCBULK_CONNECT_INSTANCE_ID", "8c7b5d2e-3f4a-4b6c-9d8e-1a2b3c4d5e6f");
        // More workers than the burst: they share one bucket in the table, which holds the burst for all of them.
        assert!(provision(&[INSTANCE, ("CCBULK_PROVISION_CONCURRENCY", "8"), ("CCBULK_CHUNK_ROWS", "25")]).is_ok());

        let slow = provision(&[
            INSTANCE,
            ("CCBULK_CONNECT_WRITE_RATE", "0.5"),
            ("CCBULK_PROVISION_CONCURRENCY", "4"),
            ("CCBULK_CHUNK_ROWS", "500"),
        ])
        .err()
        .unwrap()
        .to_string();
        for name in ["ChunkRows (CCBULK_CHUNK_ROWS)", "CCBULK_CONNECT_WRITE_RATE", "CCBULK_TIMEOUT_SECONDS"] {
            assert!(slow.contains(name), "{name} in: {slow}");
        }

        // Without a Connect side nothing is paced, and the margin is Salesforce's.
        let salesforce_only = provision(&[("CCBULK_PROVISION_CONCURRENCY", "8")]).unwrap();
        assert_eq!(salesforce_only.deadline_margin(), SALESFORCE_ONLY_MARGIN);
        // With one, the margin is the slowest row at the worker's share: 10 writes at 1 a second, and more.
        let paced = provision(&[INSTANCE, ("CCBULK_PROVISION_CONCURRENCY", "2")]).unwrap();
        assert!(paced.deadline_margin() > Duration::from_secs(10), "{:?}", paced.deadline_margin());
    }

    #[test]
    fn connect_template_rows_get_a_salesforce_side_only_when_a_contact_center_is_given() {
        assert_eq!(provision(&[("CCBULK_CONNECT_TEMPLATE_ROLE", "Agent")]).unwrap().implied, None);
        let provision = provision(&[
            ("CCBULK_CONNECT_TEMPLATE_CONTACT_CENTER", " Support EMEA "),
            ("CCBULK_CONNECT_TEMPLATE_ROLE", "Supervisor"),
            ("CCBULK_SALESFORCE_DEFAULT_TIME_ZONE", "Europe/Paris"),
        ])
        .unwrap();
        let implied = provision.implied.unwrap();
        assert_eq!(implied.contact_center, ContactCenterRef::Name("Support EMEA".into()));
        assert_eq!(implied.role, Some(VoiceRole::CallCenterManager));
        assert_eq!(provision.salesforce_defaults.time_zone, "Europe/Paris");
        assert_eq!(
            provision.salesforce_defaults.profile,
            SalesforceDefaults::default().profile,
            "unset keeps the default"
        );
    }

    #[test]
    fn salesforce_goes_direct_unless_the_deployment_asks_for_its_bulk_path() {
        assert_eq!(provision(&[]).unwrap().sync, SalesforceSync::Auto);
        assert_eq!(provision(&[("CCBULK_SALESFORCE_SYNC", "bulkop")]).unwrap().sync, SalesforceSync::Bulkop);
        let err = provision(&[("CCBULK_SALESFORCE_SYNC", "bulk")]).err().unwrap().to_string();
        assert!(err.contains("CCBULK_SALESFORCE_SYNC") && err.contains("direct or bulkop"), "{err}");
        assert!(!provision(&[]).unwrap().voice_sync);
        assert!(provision(&[("CCBULK_SALESFORCE_VOICE_SYNC", "true")]).unwrap().voice_sync);
        let err = provision(&[("CCBULK_SALESFORCE_VOICE_SYNC", "yes")]).err().unwrap().to_string();
        assert!(err.contains("CCBULK_SALESFORCE_VOICE_SYNC") && err.contains("true or false"), "{err}");
    }

    #[test]
    fn the_alias_change_is_refused_unless_the_deployment_opts_in() {
        assert_eq!(provision(&[]).unwrap().alias_change, AliasChange::Refuse);
        let rejoin = provision(&[("CCBULK_SALESFORCE_ALIAS_CHANGE", "rejoin")]).unwrap();
        assert_eq!(rejoin.alias_change, AliasChange::Rejoin);
        let err = provision(&[("CCBULK_SALESFORCE_ALIAS_CHANGE", "yes")]).err().unwrap().to_string();
        assert!(err.contains("CCBULK_SALESFORCE_ALIAS_CHANGE") && err.contains("refuse or rejoin"), "{err}");
    }

    #[test]
    fn a_default_salesforce_would_refuse_stops_the_cold_start() {
        let err = provision(&[("CCBULK_SALESFORCE_DEFAULT_EMAIL_ENCODING", "utf8")]).err().unwrap().to_string();
        assert!(err.contains("CCBULK_SALESFORCE_DEFAULT_EMAIL_ENCODING"), "{err}");
        assert!(err.contains("EmailEncodingKey"), "{err}");
    }
}
