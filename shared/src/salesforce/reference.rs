//! The org's reference records, read once per job and shared by its chunks: profiles, contact centers, permission
//! sets. Three queries a chunk made each time before; with them read once, a 200-row chunk costs the org at most five
//! calls. A name a chunk needs and the records lack is read again once, for a record made after they were read.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Mutex;

use super::client::{SalesforceClient, SalesforceError};

#[derive(Debug)]
pub struct OrgReference {
    profiles: Cached,
    contact_centers: Cached,
    permission_sets: Cached,
}

impl Default for OrgReference {
    fn default() -> Self {
        Self {
            profiles: Cached::new("SELECT Id, Name FROM Profile"),
            contact_centers: Cached::new("SELECT Id, Name FROM CallCenter"),
            permission_sets: Cached::new("SELECT Id, Name, Label FROM PermissionSet"),
        }
    }
}

/// Which records `has_all` of: `true` when they hold every name the caller needs.
pub type Needs<'a> = &'a (dyn Fn(&[Value]) -> bool + Sync);

/// Which of the org's reference records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    Profiles,
    ContactCenters,
    PermissionSets,
}

impl OrgReference {
    /// The records of `which`, as read before for this job, or read now (see [`Cached::get`]).
    pub async fn read(
        &self,
        which: Reference,
        client: &SalesforceClient,
        needs: Needs<'_>,
    ) -> Result<Records, SalesforceError> {
        let cached = match which {
            Reference::Profiles => &self.profiles,
            Reference::ContactCenters => &self.contact_centers,
            Reference::PermissionSets => &self.permission_sets,
        };
        cached.get(client, needs).await
    }
}

pub type Records = Arc<Vec<Value>>;

#[derive(Debug)]
struct Cached {
    soql: &'static str,
    records: Mutex<Option<Records>>,
}

impl Cached {
    fn new(soql: &'static str) -> Self {
        Self { soql, records: Mutex::new(None) }
    }

    /// The records as read before, or read now: on first need, or when they lack what the caller needs.
    async fn get(&self, client: &SalesforceClient, needs: Needs<'_>) -> Result<Records, SalesforceError> {
        let mut held = self.records.lock().await;
        if let Some(records) = held.as_ref().filter(|records| needs(records)) {
            return Ok(records.clone());
        }
        let records = Arc::new(client.query(self.soql).await?);
        *held = Some(records.clone());
        Ok(records)
    }
}
