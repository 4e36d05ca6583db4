//! What a test or benchmark may turn at run time in the Salesforce sandbox.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::latency::Latency;

/// Injected faults for one kind of call, as fractions of calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SalesforceFaults {
    /// 500 `UNKNOWN_EXCEPTION`.
    pub server_error: f64,
    /// 503 `SERVER_UNAVAILABLE`.
    pub unavailable: f64,
    /// Per record of an sObject Collections call: `UNABLE_TO_LOCK_ROW`, the record untouched (another transaction
    /// held a lock on it or a related record; Salesforce's advice is to try again).
    pub row_lock: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SalesforceKnobs {
    pub latency: Latency,
    /// Per kind of call (`token`, `query`, `sobject`, `collections`, `bulk`, `bulk_data` for a job's data upload), or
    /// `*` for all.
    pub faults: BTreeMap<String, SalesforceFaults>,
    /// Access tokens expire this long after they are issued.
    pub token_ttl_secs: u64,
    pub bulk: BulkKnobs,
    /// In a Service Cloud Voice org, how long after a user joins an Amazon Connect contact center Salesforce creates
    /// the Connect user.
    pub voice_sync_delay_ms: u64,
    /// Where set, faults are drawn from a generator seeded with it: the same calls, in any order, meet the same
    /// number of faults, so a test that needs some faults to happen does not depend on luck.
    pub fault_seed: Option<u64>,
}

impl Default for SalesforceKnobs {
    fn default() -> Self {
        Self {
            latency: Latency::default(),
            faults: BTreeMap::new(),
            token_ttl_secs: 7200,
            bulk: BulkKnobs::default(),
            voice_sync_delay_ms: 500,
            fault_seed: None,
        }
    }
}

/// How Salesforce works Bulk API jobs and ContactCenterBulkOp records in the background.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BulkKnobs {
    /// ContactCenterBulkOp records Salesforce works a second.
    pub records_per_second: f64,
    /// When set, every ingest job that completes its upload fails as a whole with this message, no record loaded.
    pub job_failure: Option<String>,
    /// The share of ContactCenterBulkOp records that fail for a reason of Salesforce's own.
    pub record_failure_rate: f64,
}

impl Default for BulkKnobs {
    fn default() -> Self {
        Self { records_per_second: 500.0, job_failure: None, record_failure_rate: 0.0 }
    }
}
