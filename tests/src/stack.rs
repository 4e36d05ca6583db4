//! The deployed stack, played locally: moto for what template.yaml creates, the sandboxes for Connect and
//! Salesforce, the three handlers configured as the template configures them.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::event::s3::S3Event;
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use ccbulk_ingest::Ingest;
use ccbulk_lambda::Env;
use ccbulk_provision::Provision;
use ccbulk_sandbox::connect::{ConnectSandbox, ConnectSeed, Knobs};
use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::{
    SANDBOX_CLIENT_SECRET, SANDBOX_CONSUMER_KEY, SalesforceKnobs, SalesforceSandbox, SalesforceSeed,
};
use ccbulk_status::Status;
use ccbulk_sweeper::Sweeper;
use ccbulk_testkit::{Moto, aws_config_for, create_jobs_table, create_versioned_bucket, moto, unique};
use lambda_http::Body;

use super::expanded::{ACCOUNT_ID, Expanded, Physical, REGION};
use super::iam::Iam;
use super::template::Template;

/// How the stack is set up; the defaults are the template's but for sizes that keep a test short.
#[derive(Clone)]
pub struct StackOptions {
    pub chunk_rows: u32,
    pub identity_management: &'static str,
    pub telephony_model: &'static str,
    /// Further template parameters (the rest take their defaults).
    pub parameters: Vec<(&'static str, String)>,
    /// Ingest's environment beyond the template's (a cap of a few megabytes, say, where the template's least is 100).
    pub ingest_env: Vec<(&'static str, String)>,
    /// Provision's environment beyond the test's own (the template's row lease, say, where a test keeps it short).
    pub provision_env: Vec<(&'static str, String)>,
    /// Provision containers working at once (ProvisionConcurrency).
    pub workers: usize,
    pub max_attempts: u32,
    pub inline_report_bytes: usize,
    pub connect_knobs: Option<Knobs>,
    pub salesforce_knobs: Option<SalesforceKnobs>,
    /// The connected app's secret as first put in Secrets Manager; `None`: the sandbox's.
    pub salesforce_secret: Option<&'static str>,
    /// Changes to the examples' seeds before the sandboxes start.
    pub seed: fn(&mut ConnectSeed, &mut SalesforceSeed),
    /// The chunk queue's visibility timeout; `None`: the template's (six times the function's Timeout), so that, as
    /// on AWS, a message never comes back while its invocation is still at work, however slow the machine. A killed
    /// invocation's message is made visible again by the driver, as its timeout would bring it back, only sooner.
    pub visibility_timeout_seconds: Option<u32>,
    /// How long a drain may take before it is called stuck.
    pub drain_within: Duration,
    /// Ingest and provision reach moto through a fault proxy ([`Stack::proxy`]), to be held at a chosen call.
    pub through_proxy: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            chunk_rows: 5,
            identity_management: "CONNECT_MANAGED",
            telephony_model: "amazon-connect",
            parameters: Vec::new(),
            ingest_env: Vec::new(),
            provision_env: Vec::new(),
            workers: 2,
            max_attempts: 5,
            inline_report_bytes: 4 * 1024 * 1024,
            connect_knobs: None,
            salesforce_knobs: None,
            salesforce_secret: None,
            seed: |_, _| {},
            visibility_timeout_seconds: None,
            drain_within: Duration::from_secs(240),
            through_proxy: false,
        }
    }
}

/// How the driver hands each chunk message to provision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Once,
    /// Every message handed over twice (SQS delivers at least once), the second time before it is deleted.
    Twice,
    /// Every message's first receive handed to two containers at the same moment (a duplicate delivery while the
    /// first is still being worked).
    TwiceAtOnce,
    /// The first invocation for each message is killed once it has made this many Connect writes (Lambda's
    /// timeout, or a container lost, in the middle of a chunk); the message comes back as its visibility timeout
    /// would bring it back, only sooner. An invocation that answers before is not killed.
    KilledAfterConnectWrites(u64),
    /// Every invocation's deadline this long after the time provision keeps back for its last row: a chunk is
    /// worked a few rows at a time.
    ShortDeadline(Duration),
}

/// How one invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Provision answered; `failed`: it reported the message as a batch item failure.
    Answered {
        failed: bool,
    },
    Killed,
}

/// What a drain of the queue saw.
#[derive(Debug, Default)]
pub struct Drained {
    pub invocations: u32,
    /// Messages provision reported as batch item failures.
    pub failures: u32,
    /// Invocations killed before they answered.
    pub killed: u32,
    /// The most times any one message was received (SQS's ApproximateReceiveCount): the redrive sends a message to
    /// the dead-letter queue at the template's maxReceiveCount.
    pub most_receives: u32,
}

pub struct Stack {
    pub moto: Moto,
    pub connect: ConnectSandbox,
    pub salesforce: SalesforceSandbox,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub bucket: String,
    pub table: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub dead_letter_url: String,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub secret_arn: String,
    pub instance_id: String,
    pub ingest: Ingest,
    pub provisions: Vec<Arc<Provision>>,
    /// A second container beside each, for the duplicate of a delivery that arrives while the first is worked.
    pub twins: Vec<Arc<Provision>>,
    pub status: Arc<Status>,
    pub sweeper: Sweeper,
    /// The proxy ingest and provision reach moto through, when [`StackOptions::through_proxy`] asks for one.
    pub proxy: Option<ccbulk_testkit::FaultyDynamo>,
    /// The access key each provision container signs with (its role session's), by container: the twins follow.
    container_keys: Vec<String>,
    /// Which function each role session's access key is.
    callers: HashMap<String, &'static str>,
    /// Each function's role policy documents, as the expanded template gives them.
    role_documents: HashMap<&'static str, Vec<serde_json::Value>>,
    /// template.yaml, as the stack was set up from it (its S3 filters decide which uploads reach ingest).
    template: Template,
    /// Every chunk message body the queue delivered.
    pub bodies: Mutex<Vec<String>>,
    /// Every metric document the functions wrote (to standard output in Lambda).
    pub metrics: Arc<Mutex<Vec<String>>>,
    drain_within: Duration,
}

impl Stack {
    pub async fn start(options: StackOptions) -> Self {
        let template = Template::load();
        let moto = moto();
        let config = aws_config_for(&moto.endpoint);
        let s3 = ccbulk_lambda::s3_client(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let secrets = aws_sdk_secretsmanager::Client::new(&config);

        // The template names the bucket PREFIX-ACCOUNT-REGION, and its roles' grants name it so.
        let bucket_prefix = unique("ccbulk");
        let bucket = format!("{bucket_prefix}-{ACCOUNT_ID}-{REGION}");
        create_versioned_bucket(&s3, &bucket).await;
        let table = unique("ccbulk-jobs");
        create_jobs_table(&dynamodb, &table).await;
        let dead_letter_url =
            sqs.create_queue().queue_name(unique("ccbulk-dlq")).send().await.unwrap().queue_url.unwrap();
        let dead_letter_arn = queue_arn(&sqs, &dead_letter_url).await;
        // The template's redrive: receives before a message goes to the dead-letter queue.
        let max_receive_count =
            template.resource("ChunkQueue")["Properties"]["RedrivePolicy"]["maxReceiveCount"].as_i64().unwrap();
        let redrive = serde_json::json!({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receive_count});
        let visibility_timeout = options
            .visibility_timeout_seconds
            .map(i64::from)
            .unwrap_or_else(|| template.resource("ChunkQueue")["Properties"]["VisibilityTimeout"].as_i64().unwrap());
        let queue_url = sqs
            .create_queue()
            .queue_name(unique("ccbulk-chunks"))
            .attributes(QueueAttributeName::VisibilityTimeout, visibility_timeout.to_string())
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let queue_arn = queue_arn(&sqs, &queue_url).await;
        let secret_arn = secrets
            .create_secret()
            .name(unique("ccbulk-salesforce"))
            .secret_string(
                serde_json::json!({"client_secret": options.salesforce_secret.unwrap_or(SANDBOX_CLIENT_SECRET)})
                    .to_string(),
            )
            .send()
            .await
            .unwrap()
            .arn
            .unwrap();

        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (mut connect_seed, mut salesforce_seed) = (examples::connect_seed(), examples::salesforce_seed());
        (options.seed)(&mut connect_seed, &mut salesforce_seed);
        let connect = ConnectSandbox::start(connect_seed, loopback).await.unwrap();
        if let Some(knobs) = options.connect_knobs.clone() {
            connect.set_knobs(knobs);
        }
        let salesforce = SalesforceSandbox::start(salesforce_seed, loopback).await.unwrap();
        if let Some(knobs) = options.salesforce_knobs.clone() {
            salesforce.set_knobs(knobs);
        }
        // The org works as Service Cloud Voice does: its bulk operations get Connect users Salesforce makes.
        salesforce.link_connect(connect.voice_link(), examples::SAML_INSTANCE_ID);
        let alias = if options.identity_management == "SAML" { "ccbulk-sandbox-saml" } else { "ccbulk-sandbox" };
        let instance_id = connect.instance_id(alias).unwrap().to_owned();

        let (chunk_rows, workers) = (options.chunk_rows.to_string(), options.workers.to_string());
        let mut parameters: HashMap<&str, String> = [
            ("ConnectInstanceId", instance_id.clone()),
            ("IdentityManagement", options.identity_management.to_owned()),
            ("TelephonyModel", options.telephony_model.to_owned()),
            ("SalesforceLoginUrl", salesforce.endpoint().to_owned()),
            ("SalesforceClientId", SANDBOX_CONSUMER_KEY.to_owned()),
            ("ConnectWriteRate", "2".to_owned()),
            ("ChunkRows", chunk_rows),
            ("ProvisionConcurrency", workers),
            ("BucketNamePrefix", bucket_prefix),
        ]
        .into();
        parameters.extend(options.parameters.iter().map(|(name, value)| (*name, value.clone())));
        let resources: HashMap<&str, String> = [
            ("JobsTable", table.clone()),
            ("ChunkQueue", queue_url.clone()),
            ("SalesforceSecret", secret_arn.clone()),
            ("UploadBucket", bucket.clone()),
        ]
        .into();
        let arns: HashMap<&str, String> = [
            ("JobsTable", format!("arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}")),
            ("ChunkQueue", queue_arn.clone()),
            ("SalesforceSecret", secret_arn.clone()),
            // Lambda's own on-failure destination for ingest: the service sends to it, not the function.
            ("IngestFailedEventsQueue", format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:ingest-failed-events")),
        ]
        .into();
        // Each function runs as its role from the expanded template, in a session of its own per container.
        let roles =
            FunctionRoles::create(&moto.endpoint, &Physical { parameters: &parameters, ids: &resources, arns: &arns })
                .await;
        // ... with the timeouts the functions' own configuration gives every call.
        let as_role = |credentials: Credentials| {
            config
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(credentials))
                .timeout_config(ccbulk_lambda::aws::call_timeouts())
                .build()
        };
        // The template's environment, plus what only a test sets: the sandbox's endpoint, and sizes and delays
        // that keep a test short.
        let env = |function: &str, extra: &[(&str, String)]| {
            let mut pairs = template.environment(function, &parameters, &resources);
            pairs.extend(extra.iter().map(|(name, value)| ((*name).to_owned(), value.clone())));
            Env::from_pairs(pairs)
        };
        let metrics: Arc<Mutex<Vec<String>>> = Arc::default();
        let keep = {
            let metrics = metrics.clone();
            Arc::new(move |line: &str| metrics.lock().unwrap().push(line.to_owned())) as ccbulk_lambda::MetricsOut
        };
        let mut callers = HashMap::new();
        let ingest_credentials = roles.session(&roles.ingest, "ingest").await;
        callers.insert(ingest_credentials.access_key_id().to_owned(), "ingest");
        let proxy = match options.through_proxy {
            true => Some(ccbulk_testkit::FaultyDynamo::start(&moto.endpoint).await),
            false => None,
        };
        let proxied = |config: aws_config::SdkConfig| match &proxy {
            Some(proxy) => config.to_builder().endpoint_url(&proxy.endpoint).build(),
            None => config,
        };
        let ingest_config = proxied(as_role(ingest_credentials));
        let ingest = Ingest::new(&ingest_config, &env("IngestFunction", &options.ingest_env))
            .unwrap()
            .with_metrics_out(keep.clone());
        let mut provision_test_env = vec![
            ("CCBULK_CONNECT_ENDPOINT_URL", connect.endpoint().to_owned()),
            ("CCBULK_MAX_ATTEMPTS", options.max_attempts.to_string()),
            // Retries at once: the test waits for nobody's backoff.
            ("CCBULK_RETRY_DELAY_SECONDS", "0".to_owned()),
            // A killed invocation's rows are taken over within seconds, and a chunk whose rows another
            // invocation holds looks again as soon.
            ("CCBULK_ROW_LEASE_SECONDS", "2".to_owned()),
            ("CCBULK_HELD_RETRY_SECONDS", "2".to_owned()),
            // A paused job's chunks look again within a second, not a quarter of an hour.
            ("CCBULK_PAUSED_RETRY_SECONDS", "1".to_owned()),
        ];
        provision_test_env.extend(options.provision_env.iter().cloned());
        let provision_env = env("ProvisionFunction", &provision_test_env);
        // Each container has a session of its own, so the Connect sandbox tells their calls apart, and holds each to
        // the provision role's connect: grants as IAM would.
        let mut containers = Vec::new();
        let mut container_keys = Vec::new();
        for index in 0..2 * options.workers {
            let credentials = roles.session(&roles.provision, &format!("provision-{index}")).await;
            connect.set_policies(credentials.access_key_id(), roles.documents["provision"].clone());
            container_keys.push(credentials.access_key_id().to_owned());
            let config = proxied(as_role(credentials));
            containers.push(Arc::new(Provision::new(&config, &provision_env).unwrap().with_metrics_out(keep.clone())));
        }
        let twins = containers.split_off(options.workers);
        let provisions = containers;
        let status_env =
            env("StatusFunction", &[("CCBULK_REPORT_INLINE_BYTES", options.inline_report_bytes.to_string())]);
        let status_credentials = roles.session(&roles.status, "status").await;
        callers.insert(status_credentials.access_key_id().to_owned(), "status");
        callers.extend(container_keys.iter().map(|key| (key.clone(), "provision")));
        let status_config = as_role(status_credentials);
        let status = Arc::new(Status::new(&status_config, &status_env).unwrap());
        let sweeper_credentials = roles.session(&roles.sweeper, "sweeper").await;
        callers.insert(sweeper_credentials.access_key_id().to_owned(), "sweeper");
        let sweeper = Sweeper::new(&as_role(sweeper_credentials), &env("SweeperFunction", &[]))
            .unwrap()
            .with_metrics_out(keep.clone());
        Self {
            moto,
            connect,
            salesforce,
            s3,
            sqs,
            dynamodb,
            bucket,
            table,
            queue_url,
            queue_arn,
            dead_letter_url,
            secrets,
            secret_arn,
            instance_id,
            ingest,
            provisions,
            twins,
            status,
            sweeper,
            proxy,
            container_keys,
            callers,
            role_documents: roles.documents,
            template,
            bodies: Mutex::new(Vec::new()),
            metrics,
            drain_within: options.drain_within,
        }
    }

    /// Puts a file in the bucket and returns the event S3 would send for it.
    pub async fn upload(&self, key: &str, bytes: Vec<u8>) -> S3Event {
        let size = bytes.len() as u64;
        let put =
            self.s3.put_object().bucket(&self.bucket).key(key).body(ByteStream::from(bytes)).send().await.unwrap();
        super::s3_event(&self.bucket, key, put.version_id(), put.e_tag().unwrap(), size)
    }

    /// S3's notification, delivered to ingest, as the template's filters let it through (a key they do not take
    /// fails the test: the deployed stack would never see that upload).
    pub async fn notify(&self, event: S3Event) {
        for record in &event.records {
            let key = ccbulk_lambda::decode_s3_key(record.s3.object.key.as_deref().unwrap_or_default());
            assert!(self.template.s3_notifies("IngestFunction", &key), "S3 would not notify ingest of {key}");
        }
        self.ingest.handle(event).await.unwrap();
    }

    /// Plays Lambda's SQS poller until the chunk queue is empty, as the template sets it up (BatchSize 1,
    /// MaximumConcurrency = ProvisionConcurrency): each provision container takes the next message as soon as it is
    /// free, what succeeded is deleted, and failures are left to their visibility timeout and the queue's redrive.
    pub async fn drain(&self, delivery: Delivery) -> Drained {
        let deadline = Instant::now() + self.drain_within;
        let seen = Mutex::new(HashSet::new());
        let busy = std::sync::atomic::AtomicUsize::new(0);
        let pollers =
            (0..self.provisions.len()).map(|container| self.poll(container, delivery, deadline, &seen, &busy));
        let mut drained = Drained::default();
        for one in futures_util::future::join_all(pollers).await {
            drained.invocations += one.invocations;
            drained.failures += one.failures;
            drained.killed += one.killed;
            drained.most_receives = drained.most_receives.max(one.most_receives);
        }
        self.assert_authorized();
        drained
    }

    /// Every call the functions made so far, in moto and the Connect sandbox, was one their roles allow: a refusal
    /// is a grant missing from template.yaml (or a call the code should not make), whatever else the test sees.
    pub fn assert_authorized(&self) {
        let mut refused: std::collections::BTreeMap<String, u32> = std::collections::BTreeMap::new();
        for decision in self.moto.decisions().into_iter().filter(|decision| !decision.allowed) {
            let function = self.callers.get(&decision.key).copied().unwrap_or("an unknown caller");
            *refused.entry(format!("{function}: {} on {}", decision.action, decision.resource)).or_default() += 1;
        }
        for (op, calls) in self.connect.counters().denied {
            *refused.entry(format!("provision: connect:{op}")).or_default() += calls as u32;
        }
        assert!(refused.is_empty(), "IAM refused calls the template's roles do not allow: {refused:#?}");
    }

    /// What each function was seen to use so far: (action, resource) of every call its role allowed, in moto and
    /// in the Connect sandbox (whose calls carry no resource: `*`).
    pub fn used(&self, function: &str) -> HashSet<(String, String)> {
        let mut used: HashSet<(String, String)> = self
            .moto
            .decisions()
            .into_iter()
            .filter(|decision| decision.allowed && self.callers.get(&decision.key) == Some(&function))
            .map(|decision| (decision.action, decision.resource))
            .collect();
        let counters = self.connect.counters();
        for (key, calls) in &counters.calls_by_access_key {
            if self.callers.get(key) == Some(&function) {
                used.extend(calls.keys().map(|op| (format!("connect:{op}"), "*".to_owned())));
            }
        }
        used
    }

    /// The grants of `function`'s role that nothing the stack did so far used, less those template.yaml marks as
    /// untested with a reason.
    pub fn unused_grants(&self, function: &str) -> Vec<super::least_privilege::Grant> {
        use super::least_privilege::{documented_untested, grants, unused};
        let granted = grants(&self.role_documents[function]);
        let logical_id = format!("{}{}Function", function[..1].to_uppercase(), &function[1..]);
        let untested = documented_untested(
            &std::fs::read_to_string(super::repo_root().join("template.yaml")).unwrap(),
            &logical_id,
        );
        let used = self.used(function);
        unused(&granted, &used).into_iter().filter(|grant| !untested.contains(&grant.action)).cloned().collect()
    }

    /// One container's share of [`drain`](Self::drain); it stops when the queue is empty and no other container
    /// holds a message that could come back.
    async fn poll(
        &self,
        container: usize,
        delivery: Delivery,
        deadline: Instant,
        seen: &Mutex<HashSet<String>>,
        busy: &std::sync::atomic::AtomicUsize,
    ) -> Drained {
        use std::sync::atomic::Ordering;
        let (provision, twin) = (self.provisions[container].as_ref(), self.twins[container].as_ref());
        let mut drained = Drained::default();
        loop {
            assert!(Instant::now() < deadline, "the chunk queue did not drain: {drained:?}");
            busy.fetch_add(1, Ordering::SeqCst);
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap();
            let Some(message) = received.messages().first().cloned() else {
                busy.fetch_sub(1, Ordering::SeqCst);
                if busy.load(Ordering::SeqCst) == 0 && self.queue_depth(&self.queue_url).await == 0 {
                    return drained;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            self.bodies.lock().unwrap().extend(message.body().map(str::to_owned));
            let receives = message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(1);
            drained.most_receives = drained.most_receives.max(receives);
            let first = seen.lock().unwrap().insert(message.message_id().unwrap().to_owned());
            let invoke = || self.invoke(provision, &message, delivery);
            let mut outcome = match delivery {
                Delivery::TwiceAtOnce if first => {
                    let (one, other) = tokio::join!(invoke(), self.invoke(twin, &message, delivery));
                    drained.invocations += 1;
                    // The message is deleted only if both answered without a failure.
                    match (one, other) {
                        (Outcome::Answered { failed: false }, Outcome::Answered { failed: false }) => one,
                        _ => Outcome::Answered { failed: true },
                    }
                }
                Delivery::KilledAfterConnectWrites(writes) if first => {
                    let before = self.connect_writes_by(container);
                    tokio::select! {
                        outcome = invoke() => outcome,
                        () = self.connect_writes_reach(container, before + writes) => Outcome::Killed,
                    }
                }
                _ => invoke().await,
            };
            drained.invocations += 1;
            if delivery == Delivery::Twice && first && outcome == (Outcome::Answered { failed: false }) {
                outcome = invoke().await;
                drained.invocations += 1;
            }
            let receipt = message.receipt_handle().unwrap();
            match outcome {
                Outcome::Answered { failed: false } => {
                    let deleted =
                        self.sqs.delete_message().queue_url(&self.queue_url).receipt_handle(receipt).send().await;
                    // An invocation that outlived the queue's visibility timeout (a loaded machine) finds its message
                    // received again meanwhile: its receipt no longer deletes it, and SQS delivers it once more, as
                    // it would to Lambda. Provisioning does nothing twice, so that is no failure of the test.
                    if let Err(err) = deleted {
                        let invalid = err.as_service_error().is_some_and(|e| e.is_receipt_handle_is_invalid());
                        assert!(invalid, "deleting a handled message failed: {err:?}");
                    }
                }
                Outcome::Answered { failed: true } => drained.failures += 1,
                Outcome::Killed => {
                    drained.killed += 1;
                    self.sqs
                        .change_message_visibility()
                        .queue_url(&self.queue_url)
                        .receipt_handle(receipt)
                        .visibility_timeout(0)
                        .send()
                        .await
                        .unwrap();
                }
            }
            busy.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The Connect writes (calls other than Describe*, List* and Search*) a container has made so far.
    pub fn connect_writes_by(&self, container: usize) -> u64 {
        let counters = self.connect.counters();
        let calls = counters.calls_by_access_key.get(&self.container_keys[container]);
        calls.into_iter().flatten().filter(|(op, _)| !is_read(op)).map(|(_, n)| n).sum()
    }

    async fn connect_writes_reach(&self, container: usize, writes: u64) {
        while self.connect_writes_by(container) < writes {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// One invocation of a provision container with one message, as Lambda's SQS poller makes it.
    async fn invoke(
        &self,
        provision: &Provision,
        message: &aws_sdk_sqs::types::Message,
        delivery: Delivery,
    ) -> Outcome {
        let event = super::sqs_event(&self.queue_arn, message);
        let time = match delivery {
            Delivery::ShortDeadline(left) => provision.deadline_margin() + left,
            _ => Duration::from_secs(900),
        };
        let response = provision.handle(event, SystemTime::now() + time).await;
        Outcome::Answered { failed: !response.batch_item_failures.is_empty() }
    }

    /// Messages in a queue, visible or in flight.
    pub async fn queue_depth(&self, url: &str) -> u64 {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let attributes = attributes.attributes().unwrap();
        let count = |name: QueueAttributeName| attributes.get(&name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        count(QueueAttributeName::ApproximateNumberOfMessages)
            + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
    }

    /// What an operator does once the cause is put right: the dead-letter queue's messages moved back to the chunk
    /// queue (the console's "Start DLQ redrive"). Returns how many were moved.
    pub async fn redrive(&self) -> usize {
        let mut moved = 0;
        loop {
            let received = self.receive_dead_letters().await;
            if received.is_empty() {
                return moved;
            }
            for message in &received {
                self.sqs
                    .send_message()
                    .queue_url(&self.queue_url)
                    .message_body(message.body().unwrap())
                    .send()
                    .await
                    .unwrap();
                let receipt = message.receipt_handle().unwrap();
                self.sqs
                    .delete_message()
                    .queue_url(&self.dead_letter_url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .unwrap();
                moved += 1;
            }
        }
    }

    /// The bodies of the messages in the dead-letter queue.
    pub async fn dead_letters(&self) -> Vec<String> {
        self.receive_dead_letters().await.iter().filter_map(|m| m.body().map(str::to_owned)).collect()
    }

    async fn receive_dead_letters(&self) -> Vec<aws_sdk_sqs::types::Message> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.dead_letter_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        received.messages.unwrap_or_default()
    }

    /// A request to the status API: (status, content type, Location, body).
    /// Runs the sweeper as its schedule would, `later` from now (the sweeper reads the time it is given: a test
    /// moves it on rather than waits hours).
    pub async fn sweep(&self, later: Duration) -> ccbulk_sweeper::Swept {
        let swept = self.sweeper.sweep(std::time::SystemTime::now() + later).await.unwrap();
        self.assert_authorized();
        swept
    }

    pub async fn api(&self, method: &str, path_and_query: &str) -> (u16, String, Option<String>, String) {
        let response = self.status.handle(super::api_request(method, path_and_query)).await.unwrap();
        self.assert_authorized();
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (content_type, location) = (header("content-type").unwrap_or_default(), header("location"));
        let body = match response.body() {
            Body::Empty => String::new(),
            Body::Text(text) => text.clone(),
            Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            _ => String::new(),
        };
        (response.status().as_u16(), content_type, location, body)
    }

    /// A queue of the test's own that receives every event ccbulk puts on the default bus (a rule on `source`
    /// `ccbulk`, as an admin would write one); returns its URL for [`events_seen`](Self::events_seen).
    pub async fn watch_events(&self) -> String {
        let events = aws_sdk_eventbridge::Client::new(&aws_config_for(&self.moto.endpoint));
        let queue = self.sqs.create_queue().queue_name("ccbulk-events").send().await.unwrap();
        let url = queue.queue_url().unwrap().to_owned();
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        let arn = attributes.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
        let pattern = serde_json::json!({"source": [ccbulk_shared::events::SOURCE]}).to_string();
        events.put_rule().name("ccbulk-jobs").event_pattern(pattern).send().await.unwrap();
        let target = aws_sdk_eventbridge::types::Target::builder().id("queue").arn(arn).build().unwrap();
        events.put_targets().rule("ccbulk-jobs").targets(target).send().await.unwrap();
        url
    }

    /// The events the watching queue received, as EventBridge delivers them (the whole event, detail inside), once
    /// there are at least `count`.
    pub async fn events_seen(&self, queue_url: &str, count: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while seen.len() < count {
            assert!(Instant::now() < deadline, "{} events of {count}: {seen:?}", seen.len());
            let received =
                self.sqs.receive_message().queue_url(queue_url).max_number_of_messages(10).send().await.unwrap();
            for message in received.messages() {
                seen.push(serde_json::from_str(message.body().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            if received.messages().is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        seen
    }

    /// Every item of the job table, as text to search.
    pub async fn table_text(&self) -> String {
        let mut text = String::new();
        let mut start = None;
        loop {
            let page =
                self.dynamodb.scan().table_name(&self.table).set_exclusive_start_key(start).send().await.unwrap();
            text.push_str(&format!("{:?}", page.items()));
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return text;
            }
        }
    }
}

/// The three functions' roles, made in moto's IAM from the expanded template.
struct FunctionRoles {
    iam: Iam,
    ingest: String,
    provision: String,
    status: String,
    sweeper: String,
    /// Each role's policy documents: the provision role's for the Connect sandbox, which moto's IAM does not reach,
    /// and all three for the least-privilege check.
    documents: HashMap<&'static str, Vec<serde_json::Value>>,
}

impl FunctionRoles {
    async fn create(endpoint: &str, physical: &Physical<'_>) -> Self {
        let expanded = Expanded::load();
        let iam = Iam::new(endpoint);
        let functions = ["IngestFunction", "ProvisionFunction", "StatusFunction", "SweeperFunction"];
        let roles = functions.map(|function| expanded.role_of(function, physical));
        let documents = ["ingest", "provision", "status", "sweeper"]
            .into_iter()
            .zip(&roles)
            .map(|(function, role)| (function, role.policies.iter().map(|(_, document)| document.clone()).collect()))
            .collect();
        Self {
            ingest: iam.create_role(&unique("ingest"), &roles[0]).await,
            provision: iam.create_role(&unique("provision"), &roles[1]).await,
            status: iam.create_role(&unique("status"), &roles[2]).await,
            sweeper: iam.create_role(&unique("sweeper"), &roles[3]).await,
            documents,
            iam,
        }
    }

    async fn session(&self, role_arn: &str, name: &str) -> Credentials {
        self.iam.assume(role_arn, name).await
    }
}

fn is_read(op: &str) -> bool {
    ["Describe", "List", "Search"].iter().any(|prefix| op.starts_with(prefix))
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    let attributes =
        sqs.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::QueueArn).send().await.unwrap();
    attributes.attributes().unwrap()[&QueueAttributeName::QueueArn].clone()
}
