//! Stand-ins for the two SaaS APIs ccbulk calls, faithful on the wire so that the real clients run unchanged
//! against them: Amazon Connect (restJson1, as aws-sdk-connect sends it) and Salesforce REST.

pub mod connect;
pub mod examples;
mod latency;
pub mod salesforce;
mod server;
