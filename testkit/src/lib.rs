//! What ccbulk's tests and benchmarks share (a dev-dependency only): a moto_server on loopback, SDK configuration
//! pointing at it, the job table created from template.yaml's own definition, and generated input files.

mod faults;
mod moto;
mod table;

pub use faults::{Fault, FaultAnswer, FaultyDynamo, Held};

pub use moto::{Decision, Moto, aws_config_for, moto, unique};
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

/// A ccbulk-dialect file of `rows` valid adds, each with both sides (the Salesforce user in the examples' "Northwind
/// Support" contact center), for benchmarks.
pub fn agents_file(rows: usize) -> String {
    let mut text = String::from(
        "action,username,password,first_name,last_name,email,routing_profile,security_profiles,sf_username,contact_center,role\n",
    );
    for i in 0..rows {
        text.push_str(&format!(
            "add,agent{i:05},Welcome{i}!Aa,Agent,Number{i},agent{i:05}@bench.example.com,Basic Routing Profile,Agent,\
             agent{i:05}@bench.example.com,Northwind Support,Agent\n"
        ));
    }
    text
}
