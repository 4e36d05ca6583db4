//! The object store on S3 (feature `s3`). An object is read at the version the job recorded: its `versionId`, or
//! on an unversioned bucket its ETag (`etag:…`, sent quoted as `If-Match`), so a file replaced under a job is an error,
//! never a silent mix of two files.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder;

use super::objects::{ObjectError, ObjectStore};
use crate::format::ByteRange;
use crate::job::ObjectRef;
use crate::validate::Source;

/// A connection that does not open in this long is a failed attempt (the SDK's own default, kept explicit).
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);
/// No answer's next bytes may take longer than this.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// An S3 client for `config`: path-style addressing where the endpoint is overridden (`AWS_ENDPOINT_URL`, a local
/// stand-in), since bucket subdomains of 127.0.0.1 do not resolve. An attempt is not bounded as a whole (a scrubbed
/// copy of a large upload is put within one), only its connection and each read.
pub fn s3_client(config: &aws_types::SdkConfig) -> Client {
    let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .disable_operation_attempt_timeout()
        .build();
    let builder = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(config.endpoint_url().is_some())
        .timeout_config(timeouts);
    Client::from_conf(builder.build())
}

const ETAG: &str = "etag:";

pub struct S3Objects {
    client: Client,
}

impl S3Objects {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The reference for an object as an S3 event names it.
    pub fn object(bucket: &str, key: &str, version_id: Option<&str>, etag: Option<&str>) -> ObjectRef {
        let version = match (version_id.filter(|v| !v.is_empty() && *v != "null"), etag) {
            (Some(version), _) => version.to_owned(),
            // Events carry the ETag bare, PutObject and HeadObject quoted: one job either way.
            (None, Some(etag)) => format!("{ETAG}{}", etag.trim_matches('"')),
            (None, None) => String::new(),
        };
        ObjectRef { bucket: bucket.to_owned(), key: key.to_owned(), version }
    }
}

impl S3Objects {
    /// Copies the whole object, at the version the reference names, into `file` (validation reads a file twice,
    /// each time as a stream, and a Lambda's /tmp holds far more than its memory). Returns the bytes written.
    pub async fn download(&self, object: &ObjectRef, file: &mut std::fs::File) -> Result<u64, ObjectError> {
        self.download_at_most(object, file, u64::MAX).await
    }

    /// Like [`download`](Self::download), but stops once more than `limit` bytes have come: the count returned is
    /// then above `limit`, and the file holds no whole object.
    pub async fn download_at_most(
        &self,
        object: &ObjectRef,
        file: &mut std::fs::File,
        limit: u64,
    ) -> Result<u64, ObjectError> {
        use std::io::Write;
        let request = at_version(self.client.get_object().bucket(&object.bucket).key(&object.key), object);
        let mut answer = request.send().await.map_err(|e| failed(object, e.into_service_error()))?;
        let broken = |e: &dyn std::fmt::Display| ObjectError(format!("s3://{}/{}: {e}", object.bucket, object.key));
        let mut written = 0u64;
        while let Some(bytes) = answer.body.try_next().await.map_err(|e| broken(&e))? {
            file.write_all(&bytes).map_err(|e| broken(&e))?;
            written += bytes.len() as u64;
            if written > limit {
                return Ok(written);
            }
        }
        file.flush().map_err(|e| broken(&e))?;
        Ok(written)
    }
}

impl S3Objects {
    /// Puts the file at `path` as `key` in `bucket`, and answers the reference of the version made.
    pub async fn put_file(&self, bucket: &str, key: &str, path: &std::path::Path) -> Result<ObjectRef, ObjectError> {
        let broken = |e: &dyn std::fmt::Display| ObjectError(format!("s3://{bucket}/{key}: {e}"));
        let body = aws_sdk_s3::primitives::ByteStream::from_path(path).await.map_err(|e| broken(&e))?;
        let put = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("text/csv; charset=utf-8")
            .body(body)
            .send()
            .await
            .map_err(|e| broken(&e.into_service_error()))?;
        Ok(Self::object(bucket, key, put.version_id(), put.e_tag()))
    }

    /// Deletes the object's version the reference names, for good: on a versioned bucket a DeleteObject with a
    /// versionId removes that version and leaves no delete marker (S3 User Guide, "Deleting object versions").
    /// A version already gone is no error.
    pub async fn delete_version(&self, object: &ObjectRef) -> Result<(), ObjectError> {
        let mut request = self.client.delete_object().bucket(&object.bucket).key(&object.key);
        if !object.version.is_empty() && !object.version.starts_with(ETAG) {
            request = request.version_id(&object.version);
        }
        request.send().await.map(drop).map_err(|e| failed(object, e.into_service_error()))
    }
}

/// The object as the job read it: at its versionId, or while its ETag still matches.
fn at_version(request: GetObjectFluentBuilder, object: &ObjectRef) -> GetObjectFluentBuilder {
    match object.version.strip_prefix(ETAG) {
        Some(etag) => request.if_match(format!("\"{etag}\"")),
        None if object.version.is_empty() => request,
        None => request.version_id(&object.version),
    }
}

fn failed(object: &ObjectRef, err: impl ProvideErrorMetadata + std::fmt::Debug) -> ObjectError {
    let reason = match (err.code(), err.message()) {
        (Some("PreconditionFailed"), _) => "the object changed since the job read it".to_owned(),
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => format!("{err:?}"),
    };
    ObjectError(format!("s3://{}/{}: {reason}", object.bucket, object.key))
}

impl S3Objects {
    /// Whether the object is there at the version the reference names.
    pub async fn exists(&self, object: &ObjectRef) -> Result<bool, ObjectError> {
        let request = self.client.head_object().bucket(&object.bucket).key(&object.key);
        let request = match object.version.strip_prefix(ETAG) {
            Some(etag) => request.if_match(format!("\"{etag}\"")),
            None if object.version.is_empty() => request,
            None => request.version_id(&object.version),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(err) => match err.into_service_error() {
                err if err.is_not_found() || err.code() == Some("PreconditionFailed") => Ok(false),
                err => Err(failed(object, err)),
            },
        }
    }

    /// The object as a [`Source`] for the synchronous CSV reader, streamed rather than copied to disk. Each `open`
    /// starts a GET on `runtime`, and its body comes through a small channel; the reading must happen off the
    /// runtime's own threads (under `spawn_blocking`), where waiting for the next piece blocks no task. The channel
    /// is std's, not tokio's: the reader may run inside `Handle::block_on` (a report built by an async function that
    /// reads the file synchronously), where tokio's blocking receive refuses to run.
    pub fn stream(&self, object: ObjectRef, runtime: tokio::runtime::Handle) -> S3Stream {
        S3Stream { client: self.client.clone(), object, runtime }
    }
}

/// See [`S3Objects::stream`].
pub struct S3Stream {
    client: Client,
    object: ObjectRef,
    runtime: tokio::runtime::Handle,
}

/// Pieces of a body in flight between the GET and the reader.
const PIECES_IN_FLIGHT: usize = 8;

impl Source for S3Stream {
    fn open(&self) -> std::io::Result<impl std::io::Read + '_> {
        let (pieces, received) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(PIECES_IN_FLIGHT);
        let request =
            at_version(self.client.get_object().bucket(&self.object.bucket).key(&self.object.key), &self.object);
        let object = self.object.clone();
        self.runtime.spawn(async move {
            let broken = |e: &dyn std::fmt::Display| {
                std::io::Error::other(format!("s3://{}/{}: {e}", object.bucket, object.key))
            };
            let mut answer = match request.send().await {
                Ok(answer) => answer,
                Err(err) => {
                    let _ = pieces.try_send(Err(std::io::Error::other(failed(&object, err.into_service_error()).0)));
                    return;
                }
            };
            loop {
                let mut piece = match answer.body.try_next().await {
                    Ok(Some(bytes)) => Ok(bytes.to_vec()),
                    Ok(None) => return,
                    Err(err) => Err(broken(&err)),
                };
                // Never a blocking send on the runtime: a full channel waits here, asynchronously, for the reader.
                loop {
                    match pieces.try_send(piece) {
                        Ok(()) => break,
                        Err(std::sync::mpsc::TrySendError::Full(back)) => {
                            piece = back;
                            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                        }
                        // The reader is done with the object (it read the header only, say).
                        Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return,
                    }
                }
            }
        });
        Ok(PieceReader { received, piece: Vec::new(), at: 0 })
    }
}

struct PieceReader {
    received: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    piece: Vec<u8>,
    /// How much of `piece` was read.
    at: usize,
}

impl std::io::Read for PieceReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.piece.len() {
            match self.received.recv() {
                Ok(piece) => (self.piece, self.at) = (piece?, 0),
                // The body ended.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.piece.len() - self.at);
        buf[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl ObjectStore for S3Objects {
    async fn read_range(&self, object: &ObjectRef, range: ByteRange) -> Result<Vec<u8>, ObjectError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let mut request = self.client.get_object().bucket(&object.bucket).key(&object.key).range(format!(
            "bytes={}-{}",
            range.start,
            range.end - 1
        ));
        request = at_version(request, object);
        let answer = request.send().await.map_err(|e| failed(object, e.into_service_error()))?;
        let bytes = answer
            .body
            .collect()
            .await
            .map_err(|e| ObjectError(format!("s3://{}/{}: {e}", object.bucket, object.key)))?
            .to_vec();
        if bytes.len() as u64 != range.len() {
            return Err(ObjectError(format!(
                "s3://{}/{}: {} bytes where the range holds {}: the object changed",
                object.bucket,
                object.key,
                bytes.len(),
                range.len()
            )));
        }
        Ok(bytes)
    }
}
