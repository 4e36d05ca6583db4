//! The object store port: where the files a job reads live (S3 in the cloud, the local disk for `ccbulk run`).

use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::format::ByteRange;
use crate::job::ObjectRef;

#[derive(Debug, thiserror::Error)]
#[error("object store: {0}")]
pub struct ObjectError(pub String);

pub trait ObjectStore: Send + Sync {
    /// The bytes of `range` of the object, at the version the reference names.
    fn read_range(
        &self,
        object: &ObjectRef,
        range: ByteRange,
    ) -> impl Future<Output = Result<Vec<u8>, ObjectError>> + Send;
}

/// Files on the local disk. The "bucket" is `file`, the key the file's absolute path, and the version the SHA-256
/// of its content, so that an edited file is a new job and a rerun of the same file resumes the old one.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalFiles;

pub const LOCAL_BUCKET: &str = "file";

impl LocalFiles {
    /// The reference for a local file, as it is now.
    pub fn object(path: &Path) -> Result<ObjectRef, ObjectError> {
        let absolute = std::fs::canonicalize(path).map_err(|e| ObjectError(format!("{}: {e}", path.display())))?;
        let mut file = std::fs::File::open(&absolute).map_err(|e| ObjectError(format!("{}: {e}", path.display())))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0; 1 << 16];
        loop {
            let read = file.read(&mut buffer).map_err(|e| ObjectError(format!("{}: {e}", path.display())))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        let digest: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(ObjectRef {
            bucket: LOCAL_BUCKET.into(),
            key: absolute.to_string_lossy().into_owned(),
            version: format!("sha256:{digest}"),
        })
    }
}

impl ObjectStore for LocalFiles {
    async fn read_range(&self, object: &ObjectRef, range: ByteRange) -> Result<Vec<u8>, ObjectError> {
        if object.bucket != LOCAL_BUCKET {
            return Err(ObjectError(format!("{}/{} is not a local file", object.bucket, object.key)));
        }
        let failed = |e: std::io::Error| ObjectError(format!("{}: {e}", object.key));
        let mut file = std::fs::File::open(&object.key).map_err(failed)?;
        file.seek(SeekFrom::Start(range.start)).map_err(failed)?;
        let mut bytes = Vec::with_capacity(range.len() as usize);
        file.take(range.len()).read_to_end(&mut bytes).map_err(failed)?;
        if (bytes.len() as u64) < range.len() {
            return Err(ObjectError(format!("{} is shorter than when it was read: it changed", object.key)));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_file_is_versioned_by_content_and_read_by_range() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), b"header\nrow one\nrow two\n").unwrap();
        let object = LocalFiles::object(file.path()).unwrap();
        assert!(object.version.starts_with("sha256:"));
        let bytes = LocalFiles.read_range(&object, ByteRange { start: 7, end: 15 }).await.unwrap();
        assert_eq!(bytes, b"row one\n");
        let past_the_end = LocalFiles.read_range(&object, ByteRange { start: 20, end: 40 }).await;
        assert!(past_the_end.unwrap_err().to_string().contains("changed"));
        std::fs::write(file.path(), b"header\nrow one\n").unwrap();
        assert_ne!(LocalFiles::object(file.path()).unwrap().version, object.version, "an edit is a new version");
    }
}
