//! ccbulk's library: the domain of contact-center user provisioning, the CSV dialects admins already have,
//! offline validation and chunk planning. It knows nothing of Lambda.

pub mod budget;
#[cfg(feature = "connect")]
pub mod connect;
pub mod domain;
pub mod events;
pub mod format;
pub mod job;
pub mod metrics;
pub mod pipeline;
pub mod plan;
pub mod report;
#[cfg(feature = "salesforce")]
pub mod salesforce;
pub mod sfid;
pub mod undo;
pub mod validate;
