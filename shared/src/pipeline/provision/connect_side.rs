//! The Connect side of a chunk's rows, several at a time under the pacer: the instance's names read once per job, users created, brought to their rows' settings, adopted or removed.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::connect::{ConnectOutcome, ConnectProvisioner, Directory};
use crate::domain::{Action, ConnectUser, ResourceRef, UserRow};
use crate::job::{ChunkMessage, JobStore, Reading, take_or_claim};
use crate::salesforce::SalesforceOutcome;

use super::*;

/// The job store's item for the instance's quick-connect index, and how long a worker waits for another that reads
/// it: DescribeQuickConnect once per quick connect, 10 a second (100 s for 1,000).
const SHARED_QUICK_CONNECTS: &str = "connect.quick_connects";
const SHARED_QUICK_CONNECTS_PATIENCE: Duration = Duration::from_secs(120);

/// How many rows the job has, for a process about to read the instance's directory for it: the job's count (still
/// growing while ingest runs), and at least about the rows up to this chunk's end. Not read once the directory is.
pub(super) async fn job_rows<S: JobStore>(store: &S, targets: &Targets, message: &ChunkMessage) -> u64 {
    let Some(target) = &targets.connect else { return 0 };
    let through_chunk = message.chunk.index as u64 * message.chunk.rows as u64 + message.chunk.rows as u64;
    if target.directories.has(message.job_id.as_str()) {
        return through_chunk;
    }
    match store.job(&message.job_id).await {
        Ok(Some(job)) => job.counts.total().max(through_chunk),
        _ => through_chunk,
    }
}

pub(super) struct ConnectResult {
    pub(super) user: ConnectOutcome,
    pub(super) quick_connect_id: Option<String>,
}

/// The Connect side of a chunk's rows, several at a time under the pacer; names are resolved once per job.
pub(super) struct ConnectSide<'t> {
    pub(super) target: Option<&'t ConnectTarget>,
    pub(super) message: &'t ChunkMessage,
    /// The job's rows as far as known, which sets how the directory finds users (see `UsersPath`).
    pub(super) job_rows: u64,
    pub(super) directory: OnceCell<Arc<Directory>>,
    /// Set once the directory's users were listed again for users Salesforce made after it was loaded.
    pub(super) reloaded: OnceCell<()>,
    /// When the chunk stops waiting for users Salesforce made: one settling time for them all, so that users that
    /// never appear (Salesforce made them elsewhere) cost a chunk that long, not that long a row.
    pub(super) adopt_until: OnceLock<Instant>,
}

impl<'t> ConnectSide<'t> {
    /// Reads the directory ahead of the rows that will need it. A failure is left to those rows, which read again and
    /// fail with its message.
    pub(super) async fn preload(&self, needed: bool) {
        if let Some(target) = self.target.filter(|_| needed) {
            let _ = self.loaded(target).await;
        }
    }

    /// Reads the instance's quick-connect index ahead of the rows that need it, once for the job's workers: taken
    /// up from the job store when another worker read it, or read here and shared. A failure is left to the rows,
    /// which read again and fail with its message.
    pub(super) async fn preload_quick_connects<S: JobStore>(&self, store: &S, needed: bool) {
        let Some(target) = self.target.filter(|_| needed) else { return };
        let Ok(directory) = self.loaded(target).await else { return };
        if directory.has_quick_connects() {
            return;
        }
        let job = &self.message.job_id;
        match take_or_claim(store, job, SHARED_QUICK_CONNECTS, SHARED_QUICK_CONNECTS_PATIENCE).await {
            Reading::Shared(text) if directory.adopt_quick_connects(&text) => {}
            Reading::Claimed => {
                let read = self.provisioner(target).index_quick_connects(directory).await;
                // Shared even when it cannot be (unread, or too large): the others then read alone at once rather
                // than wait for it.
                let text = read.ok().and_then(|()| directory.quick_connects_text()).unwrap_or_else(|| "-".into());
                if let Err(err) = store.share(job, SHARED_QUICK_CONNECTS, &text).await {
                    tracing::warn!(error = %err, "could not share the quick-connect index with the job");
                }
            }
            Reading::Shared(_) | Reading::Alone => {
                let _ = self.provisioner(target).index_quick_connects(directory).await;
            }
        }
    }

    pub(super) fn provisioner(&self, target: &'t ConnectTarget) -> ConnectProvisioner<'t> {
        target.provisioner(self.message.setup.identity_management)
    }

    /// The instance's names, read on first need, once per job however many chunks and rows ask.
    pub(super) async fn loaded(&self, target: &ConnectTarget) -> Result<&Directory, SideError> {
        let job = self.message.job_id.to_string();
        let directory = self.directory.get_or_try_init(|| target.directory(&job, self.job_rows)).await?;
        Ok(directory)
    }

    /// Each row's routing profile as the ARN a ContactCenterBulkOp record carries (`None`: the row names none), or
    /// why it has none. A name or id is resolved in the instance's directory.
    pub(super) async fn routing_profile_arns<'r>(
        &self,
        rows: impl Iterator<Item = &'r UserRow>,
    ) -> Vec<Result<Option<String>, String>> {
        let mut arns = Vec::new();
        for row in rows {
            let arn = match (row.connect.as_ref().and_then(|c| c.routing_profile.as_ref()), self.target) {
                (None, _) => Ok(None),
                (Some(ResourceRef::Arn(arn)), _) => Ok(Some(arn.clone())),
                (Some(_), None) => Err("Amazon Connect: no instance is configured to name the routing profile".into()),
                (Some(reference), Some(target)) => match self.loaded(target).await {
                    Ok(directory) => directory
                        .routing_profile_arn(reference)
                        .map(Some)
                        .map_err(|e| format!("Amazon Connect: {}", e.message)),
                    Err(err) => Err(err.message),
                },
            };
            arns.push(arn);
        }
        arns
    }

    pub(super) fn new(targets: &'t Targets, message: &'t ChunkMessage, job_rows: u64) -> Self {
        Self {
            target: targets.connect.as_ref(),
            message,
            job_rows,
            directory: OnceCell::new(),
            reloaded: OnceCell::new(),
            adopt_until: OnceLock::new(),
        }
    }

    pub(super) async fn apply(
        &self,
        row: &UserRow,
        salesforce: Option<&SalesforceOutcome>,
    ) -> Result<ConnectResult, SideError> {
        let Some(wanted) = &row.connect else {
            return Ok(ConnectResult { user: ConnectOutcome::default(), quick_connect_id: None });
        };
        let target = self.target.ok_or_else(|| SideError::of_row("Amazon Connect: no instance is configured"))?;
        let (username, user) = connect_user(wanted, salesforce)?;
        let provisioner = self.provisioner(target);
        let directory = self.loaded(target).await?;
        // The user Salesforce made for a bulk operation goes by Service Cloud Voice's username; the chunk's users
        // are listed again once (it is cheaper than a search per row) should the directory predate them.
        let voice = salesforce.and_then(|s| s.voice_username.clone());
        let username = voice.clone().unwrap_or(username);
        if voice.is_some() && directory.users_listed() && directory.user_id(&username).is_none() {
            self.reloaded
                .get_or_try_init(|| directory.reload_users(&target.client, &target.instance_id, &target.pacer))
                .await?;
        }
        let outcome = match row.action {
            Action::Add | Action::Update if voice.is_some() => {
                let until = *self.adopt_until.get_or_init(|| Instant::now() + target.pacer.retries().settling);
                Box::pin(provisioner.adopt(directory, &username, &user, until)).await?
            }
            Action::Add => {
                let mark = format!("{}/{}", self.message.job_id, row.row);
                Box::pin(provisioner.add(directory, &username, &user, &mark)).await?
            }
            Action::Update => {
                let existing = provisioner.existing(directory, &username).await?.ok_or_else(|| {
                    SideError::of_row(format!("Amazon Connect: the instance has no user named {username:?} to update"))
                })?;
                Box::pin(provisioner.bring_to(&existing, &user, directory)).await?
            }
            Action::Remove => Box::pin(provisioner.remove(directory, &username)).await?,
        };
        let quick_connect_id = match (row.action, user.quick_connect, &outcome.user_id) {
            (Action::Add | Action::Update, Some(true), Some(user_id)) => {
                Some(provisioner.ensure_quick_connect(directory, user_id, &username).await?)
            }
            _ => None,
        };
        Ok(ConnectResult { user: outcome, quick_connect_id })
    }
}

/// The Connect username and settings of a row. A bulkop row names no Connect user: it takes the Salesforce user's
/// username (the single sign-on pairing) and, where the row is silent, its names and email.
fn connect_user(
    wanted: &ConnectUser,
    salesforce: Option<&SalesforceOutcome>,
) -> Result<(String, ConnectUser), SideError> {
    if let Some(username) = &wanted.username {
        return Ok((username.clone(), wanted.clone()));
    }
    let record = salesforce.ok_or_else(|| {
        SideError::of_row(
            "Amazon Connect: the row names no Connect username and has no Salesforce user to take it from",
        )
    })?;
    let mut user = wanted.clone();
    let identity = &mut user.identity;
    identity.first_name = identity.first_name.take().or_else(|| record.first_name.clone());
    identity.last_name = identity.last_name.take().or_else(|| record.last_name.clone());
    identity.email = identity.email.take().or_else(|| record.email.clone());
    Ok((record.username.clone(), user))
}
