//! How a file is cut into chunks, from the environment: every function that sends chunks (ingest, and the status
//! API's retry) cuts them alike.

use ccbulk_shared::domain::SalesforceSync;
use ccbulk_shared::validate::Options;

use super::{CHUNK_ROWS, ConfigError, Env};

/// `CCBULK_CHUNK_ROWS` and `CCBULK_SALESFORCE_SYNC` (bulkop jobs are cut into chunks of a whole Bulk API request,
/// so the mode provision runs in decides), over the defaults.
pub fn chunking(env: &Env) -> Result<Options, ConfigError> {
    let chunk_rows = env.whole_number("CCBULK_CHUNK_ROWS", Some(Options::default().chunk_rows), CHUNK_ROWS)?;
    let sync = env.parsed("CCBULK_SALESFORCE_SYNC", Some(SalesforceSync::Auto), |v| {
        SalesforceSync::parse(v).ok_or("one of auto, direct or bulkop")
    })?;
    Ok(Options { chunk_rows, sync, ..Options::default() })
}
