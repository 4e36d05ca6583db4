//! What ccbulk's tests share (a dev-dependency only): a moto_server on loopback, SDK configuration pointing at it,
//! and the job table created from template.yaml's own definition.

mod moto;
mod table;

pub use moto::{Moto, aws_config_for, moto, unique};
pub use table::create_jobs_table;

/// The repository's root (this crate sits one level below it).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
