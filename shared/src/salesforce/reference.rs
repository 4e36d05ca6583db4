//! The org's reference records, read once per job and shared by its chunks: profiles, contact centers, permission
//! sets. Three queries a chunk made each time before; with them read once, a 200-row chunk costs the org at most five
//! calls. A name a chunk needs and the records lack is read again once, for a record made after they were read.
//!
//! Workers in other processes (the provision Lambda's containers) share them through the job store: a worker that
//! read records from the org shares them ([`OrgReference::fresh`]), and one that starts on the job takes them up
//! ([`OrgReference::adopt`]) instead of reading them again. They are names and ids, nothing secret.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;

use super::client::{SalesforceClient, SalesforceError};
use crate::job::SHARED_VALUE_MAX;

#[derive(Debug)]
pub struct OrgReference {
    profiles: Cached,
    contact_centers: Cached,
    permission_sets: Cached,
    /// This worker claimed the reading for the job: it owes the others what it read, even if that is nothing.
    owed: AtomicBool,
}

impl Default for OrgReference {
    fn default() -> Self {
        Self {
            owed: AtomicBool::new(false),
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

/// The name under which a job's workers share the records in the job store.
pub const SHARED_AS: &str = "salesforce.reference";

/// The records as they are shared: the kinds read so far.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Shared {
    profiles: Option<Vec<Value>>,
    contact_centers: Option<Vec<Value>>,
    permission_sets: Option<Vec<Value>>,
}

impl OrgReference {
    fn kinds(&self) -> [&Cached; 3] {
        [&self.profiles, &self.contact_centers, &self.permission_sets]
    }

    /// Takes up the records another worker shared, for the kinds not read here yet. Text that does not parse (a
    /// store written by another version) is ignored: the records are then read from the org.
    pub async fn adopt(&self, shared: &str) {
        let Ok(shared) = serde_json::from_str::<Shared>(shared) else { return };
        for (cached, records) in
            self.kinds().into_iter().zip([shared.profiles, shared.contact_centers, shared.permission_sets])
        {
            if let Some(records) = records {
                cached.adopt(records).await;
            }
        }
    }

    /// Marks this worker as the one that reads the records for the job's workers (see [`fresh`](Self::fresh)).
    pub fn claimed(&self) {
        self.owed.store(true, Ordering::SeqCst);
    }

    /// Every kind read so far, as text to share, if any was read from the org since the last call or the reading
    /// was claimed: `None` when this worker owes the others nothing.
    pub async fn fresh(&self) -> Option<String> {
        // Every flag is taken down, not only up to the first that was up.
        let fresh = self.kinds().iter().filter(|cached| cached.fresh.swap(false, Ordering::SeqCst)).count();
        if fresh == 0 && !self.owed.swap(false, Ordering::SeqCst) {
            return None;
        }
        let [profiles, contact_centers, permission_sets] = self.kinds();
        let mut shared = Shared {
            profiles: compact(profiles.records().await),
            contact_centers: compact(contact_centers.records().await),
            permission_sets: compact(permission_sets.records().await),
        };
        // An org with thousands of permission sets or profiles: the largest kinds are left out until the rest fits
        // one item of the job store, and each worker reads those for itself.
        loop {
            let text = serde_json::to_string(&shared).ok()?;
            if text.len() <= SHARED_VALUE_MAX {
                return Some(text);
            }
            let kinds = [&mut shared.profiles, &mut shared.contact_centers, &mut shared.permission_sets];
            let largest = kinds.into_iter().filter(|kind| kind.is_some()).max_by_key(|kind| size_of_kind(kind))?;
            *largest = None;
        }
    }

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

/// The records as they are shared: without the `attributes` (type and URL) every SOQL record carries, which no worker
/// reads and which take up about half the text.
fn compact(records: Option<Vec<Value>>) -> Option<Vec<Value>> {
    let mut records = records?;
    for record in &mut records {
        if let Some(fields) = record.as_object_mut() {
            fields.remove("attributes");
        }
    }
    Some(records)
}

fn size_of_kind(records: &Option<Vec<Value>>) -> usize {
    records.as_ref().map_or(0, |records| serde_json::to_string(records).map_or(0, |text| text.len()))
}

#[derive(Debug)]
struct Cached {
    soql: &'static str,
    records: Mutex<Option<Records>>,
    /// Set when the records were read from the org, until they are shared.
    fresh: AtomicBool,
}

impl Cached {
    fn new(soql: &'static str) -> Self {
        Self { soql, records: Mutex::new(None), fresh: AtomicBool::new(false) }
    }

    async fn adopt(&self, records: Vec<Value>) {
        let mut held = self.records.lock().await;
        if held.is_none() {
            *held = Some(Arc::new(records));
        }
    }

    async fn records(&self) -> Option<Vec<Value>> {
        self.records.lock().await.as_ref().map(|records| records.as_ref().clone())
    }

    /// The records as read before, or read now: on first need, or when they lack what the caller needs.
    async fn get(&self, client: &SalesforceClient, needs: Needs<'_>) -> Result<Records, SalesforceError> {
        let mut held = self.records.lock().await;
        if let Some(records) = held.as_ref().filter(|records| needs(records)) {
            return Ok(records.clone());
        }
        let records = Arc::new(client.query(self.soql).await?);
        *held = Some(records.clone());
        self.fresh.store(true, Ordering::SeqCst);
        Ok(records)
    }
}
