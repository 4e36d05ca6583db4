//! What ccbulk's tests share (a dev-dependency only): a moto_server on loopback, SDK configuration pointing at it,
//! and the job table created from template.yaml's own definition.

mod moto;
mod table;

pub use moto::{Moto, aws_config_for, moto, unique};
pub use table::create_jobs_table;

/// A bucket with versioning on, as template.yaml's upload bucket has.
pub async fn create_versioned_bucket(s3: &aws_sdk_s3::Client, name: &str) {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    s3.create_bucket().bucket(name).send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .unwrap();
}

/// The repository's root (this crate sits one level below it).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
