//! Added latency, a knob both sandboxes have.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Added latency per call: `fixed_ms` plus a uniform draw from `0..=jitter_ms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Latency {
    pub fixed_ms: u64,
    pub jitter_ms: u64,
}

impl Latency {
    pub async fn wait(self) {
        let delay = self.fixed_ms + if self.jitter_ms > 0 { fastrand::u64(0..=self.jitter_ms) } else { 0 };
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
    }
}
