//! The object store on S3 (feature `s3`). An object is read at the version the job recorded: its `versionId`, or
//! on an unversioned bucket its ETag (`etag:…`, sent quoted as `If-Match`), so a file replaced under a job is an error,
//! never a silent mix of two files.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder;

use super::objects::{ObjectError, ObjectStore};
use crate::format::ByteRange;
use crate::job::ObjectRef;

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
