//! The Connect client ccbulk builds, pointed at a sandbox: its calls are retried by the pacer, not by the SDK.
//! Included by the test files that call the Connect sandbox.

use aws_sdk_connect::Client;
use aws_sdk_connect::config::{BehaviorVersion, Credentials, Region};
use ccbulk_sandbox::connect::ConnectSandbox;

pub fn client(sandbox: &ConnectSandbox) -> Client {
    ccbulk_shared::connect::client(
        aws_sdk_connect::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .endpoint_url(sandbox.endpoint()),
    )
}
