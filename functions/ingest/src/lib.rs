//! Ingest, as the S3 trigger runs it: each created object under `uploads/` becomes a job (its id derived from the
//! bucket, key and version, so a repeated event finds the job), its rows and its chunk messages. A file that cannot
//! be provisioned from is recorded as a FAILED job with the reason: retrying would not help, and the status API
//! must say why nothing happened. A store or queue failure fails the invocation, and Lambda's retry of the event
//! completes the job.

use aws_config::SdkConfig;
use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use ccbulk_lambda::{ConfigError, Env, MetricsOut, Telemetry, after_ending, chunking, decode_s3_key, s3_client};
use ccbulk_shared::domain::{IdentityManagement, TelephonyModel};
use ccbulk_shared::format::FileError;
use ccbulk_shared::job::{DynamoJobStore, JobId, JobState, JobStore, ObjectRef};
use ccbulk_shared::metrics::MetricSet;
use ccbulk_shared::pipeline::{IngestError, S3Objects, SqsQueue, ingest, record_unusable};
use ccbulk_shared::validate::Options;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The cap when the environment gives none: the template's smallest MaxUploadSize.
const DEFAULT_MAX_OBJECT_BYTES: u64 = 100 << 20;

/// What the function holds between invocations.
pub struct Ingest {
    store: DynamoJobStore,
    queue: SqsQueue,
    objects: S3Objects,
    options: Options,
    /// The largest object taken (the stack's MaxUploadSize); /tmp is sized to hold it.
    max_object_bytes: u64,
    telemetry: Telemetry,
}

impl Ingest {
    /// From `CCBULK_TABLE`, `CCBULK_QUEUE_URL`, `CCBULK_IDENTITY_MANAGEMENT`, `CCBULK_TELEPHONY_MODEL` and
    /// `CCBULK_CHUNK_ROWS` and `CCBULK_SALESFORCE_SYNC`.
    pub fn new(config: &SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        let identity = env.parsed("CCBULK_IDENTITY_MANAGEMENT", None, |v| {
            IdentityManagement::parse(v).ok_or("one of CONNECT_MANAGED, SAML, EXISTING_DIRECTORY")
        })?;
        let telephony = env.parsed("CCBULK_TELEPHONY_MODEL", Some(TelephonyModel::AmazonConnect), |v| {
            TelephonyModel::parse(v)
                .ok_or("one of amazon-connect, partner-telephony-from-amazon-connect, partner-telephony")
        })?;
        let chunking = chunking(env)?;
        let (table, queue_url) = (env.required("CCBULK_TABLE")?, env.required("CCBULK_QUEUE_URL")?);
        let max_object_bytes = env.parsed("CCBULK_MAX_OBJECT_BYTES", Some(DEFAULT_MAX_OBJECT_BYTES), |v| {
            v.parse::<u64>().ok().filter(|n| *n >= 1).ok_or("a number of bytes from 1")
        })?;
        Ok(Self {
            store: DynamoJobStore::new(aws_sdk_dynamodb::Client::new(config), table),
            queue: SqsQueue::new(aws_sdk_sqs::Client::new(config), queue_url),
            objects: S3Objects::new(s3_client(config)),
            options: Options { identity_management: Some(identity), telephony_model: telephony, ..chunking },
            max_object_bytes,
            telemetry: Telemetry::new(config, env),
        })
    }

    /// The same function, writing its metric documents to `out` instead of standard output.
    pub fn with_metrics_out(mut self, out: MetricsOut) -> Self {
        self.telemetry = self.telemetry.with_metrics_out(out);
        self
    }

    pub async fn handle(&self, event: S3Event) -> Result<(), Error> {
        for record in event.records {
            self.ingest_record(&record).await?;
        }
        Ok(())
    }

    async fn ingest_record(&self, record: &S3EventRecord) -> Result<(), Error> {
        let event_name = record.event_name.as_deref().unwrap_or_default();
        let (Some(bucket), Some(encoded_key)) = (&record.s3.bucket.name, &record.s3.object.key) else {
            return Err(format!("an S3 event record without a bucket or key ({event_name})").into());
        };
        if !event_name.starts_with("ObjectCreated") {
            tracing::info!(event_name, bucket, "not an object creation: ignored");
            return Ok(());
        }
        let key = decode_s3_key(encoded_key);
        let object =
            S3Objects::object(bucket, &key, record.s3.object.version_id.as_deref(), record.s3.object.e_tag.as_deref());
        let id = JobId::for_object(&object);
        // A repeated event (S3 delivers at least once) costs one read, not a download.
        if let Some(job) = self.store.job(&id).await?
            && job.state != JobState::Ingesting
        {
            tracing::info!(job = %id, state = job.state.as_str(), "the job exists: nothing to ingest");
            // An ended job's announcement and scrub, should the delivery that ended it have failed at them (each is
            // done once: the announcement is claimed, the upload gone once scrubbed).
            if job.state.has_ended() {
                after_ending(&self.store, &self.objects, &self.telemetry, &id).await?;
            }
            return Ok(());
        }
        // The bucket's notification takes every object under the prefixes, since S3's suffix filter is case-sensitive
        // and `agents.CSV` would otherwise sit there with its passwords, never seen. A folder marker is no upload.
        if key.ends_with('/') {
            tracing::info!(key, "a folder marker: ignored");
            return Ok(());
        }
        if !key.to_ascii_lowercase().ends_with(".csv") {
            let name = key.rsplit('/').next().unwrap_or(&key).to_owned();
            return self.refuse(object, FileError::NotCsv { name }).await;
        }
        // An object over the cap is refused before a byte is read, by the size S3 announced; and should the event
        // say less than the object holds, the download stops at the cap all the same.
        let announced = record.s3.object.size.map_or(0, |size| size.max(0) as u64);
        if announced > self.max_object_bytes {
            return self.refuse(object, FileError::TooLarge { bytes: announced, cap: self.max_object_bytes }).await;
        }
        // Validation reads the file twice, each time as a stream; /tmp holds far more than the function's memory.
        let mut copy = tempfile::NamedTempFile::new()?;
        let size = self.objects.download_at_most(&object, copy.as_file_mut(), self.max_object_bytes).await?;
        if size > self.max_object_bytes {
            return self.refuse(object, FileError::TooLarge { bytes: size, cap: self.max_object_bytes }).await;
        }
        tracing::info!(job = %id, bucket, key, size, "ingesting");
        match ingest(&self.store, &self.queue, copy.path(), object.clone(), &self.options).await {
            Ok(outcome) => {
                let counts = outcome.job.counts;
                let figures = MetricSet::new("ingest")
                    .count("RowsIngested", counts.total())
                    .count("RowsInvalid", counts.invalid)
                    .property("job", id.as_str());
                self.telemetry.metrics(&figures);
                // A job ends here when no chunk is left to end it: a file whose rows are all invalid, or chunks the
                // workers finished before this pass recorded its last count (the job then ends in finish_ingest,
                // and no worker saw it end). Its announcement and its upload's removal are then this function's.
                let announced = if outcome.job.state.has_ended() {
                    after_ending(&self.store, &self.objects, &self.telemetry, &id).await
                } else {
                    Ok(())
                };
                tracing::info!(
                    job = %id,
                    rows = counts.total(),
                    invalid = counts.invalid,
                    chunks = outcome.job.chunks,
                    state = outcome.job.state.as_str(),
                    "ingested"
                );
                // S3's event is delivered again on an error, and a repeated event for an ended job announces it.
                announced.map_err(Error::from)
            }
            Err(IngestError::File(unusable)) => self.refuse(object, unusable).await,
            Err(err) => Err(err.into()),
        }
    }

    /// Records a file that cannot be provisioned from as a FAILED job with the reason.
    async fn refuse(&self, object: ObjectRef, unusable: FileError) -> Result<(), Error> {
        let job = record_unusable(&self.store, object, &self.options, &unusable).await?;
        tracing::warn!(job = %job.id, code = unusable.code(), reason = %unusable, "the file cannot be provisioned from: job FAILED");
        self.telemetry.metrics(&MetricSet::new("ingest").count("FilesRefused", 1).property("job", job.id.as_str()));
        let _ = after_ending(&self.store, &self.objects, &self.telemetry, &job.id).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_event_names_an_object_version() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/s3-object-created.json");
        let event: S3Event = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let object = &event.records[0].s3.object;
        assert_eq!(decode_s3_key(object.key.as_deref().unwrap()), "uploads/northwind/new hires+contractors.csv");
        let reference = S3Objects::object(
            event.records[0].s3.bucket.name.as_deref().unwrap(),
            &decode_s3_key(object.key.as_deref().unwrap()),
            object.version_id.as_deref(),
            object.e_tag.as_deref(),
        );
        assert_eq!(reference.version, "096fKKXTRTtl3on89fVO.nfljtsv6qko", "the version, not the ETag");
    }

    #[test]
    fn configuration_errors_name_the_variable() {
        let config = aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build();
        let env = Env::from_pairs([
            ("CCBULK_TABLE", "jobs"),
            ("CCBULK_QUEUE_URL", "http://127.0.0.1:1/q"),
            ("CCBULK_IDENTITY_MANAGEMENT", "LDAP"),
        ]);
        let error = Ingest::new(&config, &env).err().unwrap().to_string();
        assert!(error.contains("CCBULK_IDENTITY_MANAGEMENT") && error.contains("LDAP"), "{error}");
        let env = Env::from_pairs([("CCBULK_IDENTITY_MANAGEMENT", "SAML"), ("CCBULK_QUEUE_URL", "q")]);
        assert_eq!(Ingest::new(&config, &env).err().unwrap(), ConfigError::Missing("CCBULK_TABLE"));
    }
}
