//! moto_server: `CCBULK_MOTO_ENDPOINT`, or a server started here on a free loopback port, stopped on drop. It runs
//! through `moto_server.py` beside this crate, which gives moto's DynamoDB the isolation the real service has, with
//! the Python of `.ci/.venv` (where `.ci/run` installs moto) or else `python3` from the PATH.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};

pub struct Moto {
    pub endpoint: String,
    child: Option<Child>,
    /// Where moto_server.py writes each IAM decision it makes (none for a server given by CCBULK_MOTO_ENDPOINT).
    audit: Option<PathBuf>,
}

/// One decision of moto's IAM: a caller (its access key), an action and a resource, allowed or refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Decision {
    pub key: String,
    pub action: String,
    pub resource: String,
    pub allowed: bool,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(audit) = &self.audit {
            let _ = std::fs::remove_file(audit);
        }
    }
}

impl Moto {
    /// The server's process, when this test started it (not when it was given by CCBULK_MOTO_ENDPOINT).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Every IAM decision so far on calls signed by IAM principals (the account root's calls are not checked).
    pub fn decisions(&self) -> Vec<Decision> {
        let Some(path) = &self.audit else { return Vec::new() };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // A line being written as this reads it is left for the next reading.
        text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
    }
}

pub fn moto() -> Moto {
    if let Ok(endpoint) = std::env::var("CCBULK_MOTO_ENDPOINT") {
        return Moto { endpoint, child: None, audit: None };
    }
    let local = super::repo_root().join(".ci/.venv/bin/python");
    let program = if local.exists() { local } else { PathBuf::from("python3") };
    let launcher = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("moto_server.py");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let audit = std::env::temp_dir().join(format!("ccbulk-moto-iam-{}-{port}.jsonl", std::process::id()));
    let mut child = Command::new(&program)
        .arg(&launcher)
        .env("CCBULK_MOTO_AUDIT", &audit)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {} ({e}): run .ci/run, or set CCBULK_MOTO_ENDPOINT", program.display())
        });
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{} {} exited ({status}): is moto installed there? run .ci/run",
                program.display(),
                launcher.display()
            );
        }
        assert!(Instant::now() < deadline, "moto_server did not open its port");
        std::thread::sleep(Duration::from_millis(50));
    }
    Moto { endpoint: format!("http://127.0.0.1:{port}"), child: Some(child), audit: Some(audit) }
}

/// SDK configuration for `endpoint` (moto), with test credentials; S3 clients built from it still need path style.
pub fn aws_config_for(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "test",
        )))
        .endpoint_url(endpoint)
        .build()
}

/// A name no other test uses: moto's reset is global and tests run in parallel, so each gets its own resources.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{nanos:x}")
}
