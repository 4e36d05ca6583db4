//! The Salesforce side of a chunk's rows, in batched calls: direct mode's writes, with the org's reference records read once per job.

use std::borrow::Cow;
use std::time::Duration;

use crate::domain::{Action, SalesforceUser, UserRow};
use crate::format::Dialect;
use crate::job::{
    ChunkMessage, EmailChange, JobId, JobStore, Reading, RowRecord, StoreError, now_epoch, take_or_claim,
};
use crate::salesforce::{EmailConfirmation, OrgReference, SHARED_REFERENCE, SalesforceOutcome, SalesforceSync};

use super::bulkop_side::bulkop_side;
use super::*;

/// Per row of the chunk, its Salesforce outcome (`None` for a row with no Salesforce side) or why it failed; `None`
/// while Salesforce is still working the row's bulk job.
pub(super) type SideResult = Option<Result<Option<SalesforceOutcome>, SideError>>;

/// The Salesforce side of a chunk's rows: per row, its result, or `None` while Salesforce is still working the
/// row's bulk job (`waiting` says which).
pub(super) struct Sides {
    pub(super) rows: Vec<SideResult>,
    pub(super) waiting: Option<String>,
    /// The bulk job Salesforce was seen working during this delivery.
    pub(super) watched: Option<String>,
    /// When the bulk job the rows wait on is next worth a look, where that is later than a delivery should wait.
    pub(super) look_again_in: Option<Duration>,
}

/// The Salesforce side of every row of the chunk, in batched calls.
pub(super) async fn salesforce_side<S: JobStore>(
    store: &S,
    targets: &Targets,
    message: &ChunkMessage,
    work: &[(UserRow, RowRecord)],
    connect: &ConnectSide<'_>,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<Sides, StoreError> {
    let sides = salesforce_users(targets, message.header.dialect(), work.iter().map(|(row, _)| row));
    let wanted: Vec<(Action, &SalesforceUser)> =
        work.iter().zip(&sides).filter_map(|((row, _), side)| side.as_deref().map(|s| (row.action, s))).collect();
    let mut waiting = None;
    let mut watched = None;
    let mut look_again_in = None;
    let mut results: std::vec::IntoIter<Option<Result<Option<SalesforceOutcome>, SideError>>> =
        match (&targets.salesforce, wanted.is_empty()) {
            (_, true) => Vec::new(),
            (None, false) => match &targets.salesforce_out {
                Some(out) => wanted.iter().map(|_| Some(Err(SideError::unreachable(&out.reason)))).collect(),
                None => {
                    wanted.iter().map(|_| Some(Err(SideError::of_row("Salesforce: no org is configured")))).collect()
                }
            },
            (Some(target), false) if target.sync.for_job(message.header.dialect()) == SalesforceSync::Bulkop => {
                let with_side = work.iter().zip(&sides).filter(|(_, side)| side.is_some()).map(|((row, _), _)| row);
                let arns = connect.routing_profile_arns(with_side).await;
                let instance = targets.connect.as_ref().map(|c| c.instance_id.as_str());
                // ContactCenterBulkOp only adds users: a remove row is worked as direct mode works it, and its
                // Connect user is the one Salesforce made, by Service Cloud Voice's username.
                let is_remove = |(action, _): &(Action, &SalesforceUser)| *action == Action::Remove;
                let (removes, adds): (Vec<_>, Vec<_>) = wanted.iter().zip(arns).partition(|(w, _)| is_remove(w));
                let (adds, add_arns): (Vec<_>, Vec<_>) = adds.into_iter().map(|(w, arn)| (*w, arn)).unzip();
                let removes: Vec<_> = removes.into_iter().map(|(w, _)| *w).collect();
                let bulk = bulkop_side(store, target, message, &adds, &add_arns, instance, keep_going).await?;
                let mut direct = direct_side(store, target, message, &removes, true).await?.into_iter();
                waiting = bulk.waiting;
                watched = bulk.watched;
                look_again_in = bulk.look_again_in;
                let mut bulk = bulk.rows.into_iter();
                wanted
                    .iter()
                    .map(|w| if is_remove(w) { direct.next() } else { bulk.next() })
                    .map(|side| side.unwrap_or(Some(Ok(None))))
                    .collect()
            }
            (Some(target), false) => direct_side(store, target, message, &wanted, target.voice_sync).await?,
        }
        .into_iter();
    let rows =
        sides.iter().map(|side| if side.is_some() { results.next().unwrap_or(Some(Ok(None))) } else { Some(Ok(None)) });
    Ok(Sides { rows: rows.collect(), waiting, watched, look_again_in })
}

/// Each row's Salesforce side: the row's own, or else the one the deployment implies for a Connect-template row
/// ([`ImpliedSalesforce`]); `None` for a row with none.
pub(in crate::pipeline) fn salesforce_users<'r>(
    targets: &Targets,
    dialect: Dialect,
    rows: impl Iterator<Item = &'r UserRow>,
) -> Vec<Option<Cow<'r, SalesforceUser>>> {
    let implied = match (&targets.salesforce, &targets.salesforce_out) {
        (Some(target), _) => target.implied.as_ref(),
        (None, Some(out)) => out.implied.as_ref(),
        (None, None) => None,
    };
    let implied = implied.filter(|_| dialect == Dialect::Connect);
    rows.map(|row| match (&row.salesforce, implied) {
        (Some(side), _) => Some(Cow::Borrowed(side)),
        (None, Some(implied)) => implied.user_for(row).map(Cow::Owned),
        (None, None) => None,
    })
    .collect()
}

/// Direct mode: ccbulk writes the rows' Salesforce side itself, in batched calls. With `voice_sync` the outcome names
/// the Connect user Salesforce makes (or made) for each member.
async fn direct_side<S: JobStore>(
    store: &S,
    target: &SalesforceTarget,
    message: &ChunkMessage,
    wanted: &[(Action, &SalesforceUser)],
    voice_sync: bool,
) -> Result<Vec<SideResult>, StoreError> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    // Only the changes still inside their confirmation window matter; they are few.
    let email_changes = if wanted.iter().any(|(action, side)| *action != Action::Remove && side.fields.email.is_some())
    {
        store.email_changes(now_epoch().saturating_sub(EmailChange::CONFIRMATION_WINDOW_SECONDS)).await?
    } else {
        Vec::new()
    };
    let job = message.job_id.to_string();
    let reference = target
        .reference
        .for_job(&job, || async { Ok::<_, std::convert::Infallible>(shared_reference(store, &message.job_id).await) })
        .await;
    let Ok(reference) = reference;
    let provisioner = target.provisioner(&reference, message.setup.telephony_model, &email_changes, voice_sync);
    // Boxed, as the Connect calls below are: a chunk's future nests every step, and on a 2 MiB thread stack (the
    // Lambda runtime's workers, a test's thread) the steps' frames must not all sit inline.
    let applied = Box::pin(provisioner.apply(wanted)).await;
    // Sharing saves the others some reads; a share refused costs them only those reads, not the chunk.
    if let Some(fresh) = reference.fresh().await
        && let Err(err) = store.share(&message.job_id, SHARED_REFERENCE, &fresh).await
    {
        tracing::warn!(error = %err, "could not share the org's reference records with the job");
    }
    match applied {
        Ok(results) => {
            for outcome in results.iter().flatten() {
                if let Some(EmailConfirmation::Sent { email }) = &outcome.email_confirmation {
                    let change = EmailChange {
                        salesforce_user_id: outcome.user_id.clone(),
                        email: email.clone(),
                        requested_at: now_epoch(),
                    };
                    store.record_email_change(&change).await?;
                }
            }
            Ok(results.into_iter().map(|r| Some(r.map(Some).map_err(SideError::from))).collect())
        }
        Err(err) => {
            let shared = SideError::from(err);
            Ok(wanted.iter().map(|_| Some(Err(shared.clone()))).collect())
        }
    }
}

/// How long a worker waits for the org's reference records another worker of the job is reading: the reading is
/// three queries, about a second.
const SHARED_REFERENCE_PATIENCE: Duration = Duration::from_secs(10);

/// The org's reference records for a process new to the job: taken up from the job store when another worker shared
/// them, waited for while another worker reads them, or else claimed and left to be read here (and shared after).
/// A store that cannot say costs only the reads.
async fn shared_reference<S: JobStore>(store: &S, job: &JobId) -> OrgReference {
    let reference = OrgReference::default();
    match take_or_claim(store, job, SHARED_REFERENCE, SHARED_REFERENCE_PATIENCE).await {
        Reading::Shared(shared) => reference.adopt(&shared).await,
        Reading::Claimed => reference.claimed(),
        Reading::Alone => {}
    }
    reference
}
