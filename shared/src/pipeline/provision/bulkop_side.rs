//! Bulkop mode's Salesforce side: the chunk's rows as one Bulk API job of ContactCenterBulkOp records, recorded before any row is uploaded, then followed.

use crate::domain::{Action, SalesforceUser};
use crate::job::{BulkJob, ChunkMessage, JobStore, StoreError, now_epoch};
use crate::salesforce::{
    BulkOp, BulkopProvisioner, FOLLOW_FOR, Followed, JobProgress, SalesforceClient, SalesforceError,
};

use super::*;

/// Bulkop mode: the rows go to Salesforce as one Bulk API job of ContactCenterBulkOp records, recorded with the
/// chunk before it is followed, so that a later delivery follows the same job rather than submitting the rows again.
pub(super) async fn bulkop_side<S: JobStore>(
    store: &S,
    target: &SalesforceTarget,
    message: &ChunkMessage,
    wanted: &[(Action, &SalesforceUser)],
    arns: &[Result<Option<String>, String>],
    instance: Option<&str>,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<Sides, StoreError> {
    if wanted.is_empty() {
        return Ok(Sides { rows: Vec::new(), waiting: None, watched: None, look_again_in: None });
    }
    let provisioner = BulkopProvisioner { client: &target.client, telephony: message.setup.telephony_model };
    // Salesforce makes the Connect user in the instance the routing profile's ARN names: ccbulk can adopt it only
    // in the instance it works in.
    let elsewhere = |arn: &Option<&str>| match (arn, instance) {
        (Some(arn), Some(instance)) => !arn.contains(&format!(":instance/{instance}/")),
        _ => false,
    };
    let every_row = |err: SalesforceError| {
        let shared = SideError::from(err);
        Sides {
            rows: wanted.iter().map(|_| Some(Err(shared.clone()))).collect(),
            waiting: None,
            watched: None,
            look_again_in: None,
        }
    };
    let known: Vec<Option<&str>> = arns.iter().map(|arn| arn.as_ref().ok().and_then(Option::as_deref)).collect();
    let prepared = match provisioner.operations(wanted, &known).await {
        Ok(prepared) => prepared,
        Err(err) => return Ok(every_row(err)),
    };
    let prepared: Vec<_> = prepared
        .into_iter()
        .zip(arns.iter().zip(&known))
        .map(|(p, (named, arn))| match p {
            // A routing profile the instance could not name to an ARN: the row's own reason.
            _ if named.is_err() => Err(SalesforceError::refused(named.clone().err().unwrap_or_default())),
            Ok(_) if elsewhere(arn) => Err(SalesforceError::refused(format!(
                "the routing profile's ARN names another Amazon Connect instance than {}",
                instance.unwrap_or_default()
            ))),
            other => other,
        })
        .collect();
    let ready: Vec<_> = prepared.iter().filter_map(|p| p.as_ref().ok()).collect();
    let mut followed = Vec::new().into_iter();
    let mut waiting = None;
    let mut watched = None;
    let mut look_again_in = None;
    if !ready.is_empty() {
        // A failure of the job as a whole is each submitted row's; a row refused before keeps its own reason.
        let each = |err: SalesforceError| ready.iter().map(|_| Err(err.clone())).collect::<Vec<_>>().into_iter();
        let ops: Vec<_> = ready.iter().map(|p| p.op.clone()).collect();
        match chunk_bulk_job(store, &target.client, message, &ops).await? {
            Ok((job, known)) => match provisioner.follow(&job.id, job.submitted(), &ready, keep_going, known).await {
                Ok(Followed { outcomes, waited, look_again_in: next_look }) => {
                    // Watching Salesforce work is this delivery's progress, whether or not the job ended in its time.
                    watched = waited.then(|| format!("Salesforce worked the bulk job {}", job.id));
                    match outcomes {
                        Some(outcomes) => followed = outcomes.into_iter(),
                        None => {
                            waiting = Some(match next_look {
                                Some(due) => format!(
                                    "Salesforce is still working the bulk job {} (submitted {} minutes ago): ccbulk \
                                     looks again in {} minutes, and fails the rows it has not finished {} hours \
                                     after the submit",
                                    job.id,
                                    job.age().as_secs() / 60,
                                    due.as_secs().div_ceil(60),
                                    FOLLOW_FOR.as_secs() / 3600
                                ),
                                None => format!("Salesforce is still working the bulk job {}", job.id),
                            });
                            look_again_in = next_look;
                        }
                    }
                }
                Err(err) => followed = each(err),
            },
            Err(err) => followed = each(err),
        }
    }
    let missing = || SalesforceError {
        code: "BULKOP_MISSING".into(),
        message: "the bulk job gave no outcome for this row".into(),
        retryable: false,
    };
    let rows = prepared
        .into_iter()
        .map(|p| match p {
            // While the job is being worked its rows have no outcome yet.
            Ok(_) if waiting.is_some() => None,
            Ok(_) => Some(followed.next().unwrap_or_else(|| Err(missing())).map(Some).map_err(SideError::from)),
            Err(err) => Some(Err(SideError::from(err))),
        })
        .collect();
    Ok(Sides { rows, waiting, watched, look_again_in })
}

/// The chunk's bulk job: the one a delivery recorded for it, or a new one. A job is recorded as soon as Salesforce
/// opens it, before any row is uploaded, so that a delivery lost at any point leaves no job ccbulk does not know
/// of holding the rows. A recorded job still Open was left by a delivery lost before it closed the job (this one
/// holds the rows' leases): what it uploaded is unknown, so it is aborted, and Salesforce then processes none of it
/// (Bulk API 2.0 Developer Guide, "Close or Abort a Job"); the rows go into a new job that replaces it. With the job
/// comes its progress where it was just read, for the follow to start from.
async fn chunk_bulk_job<S: JobStore>(
    store: &S,
    client: &SalesforceClient,
    message: &ChunkMessage,
    ops: &[BulkOp],
) -> Result<Result<(BulkJob, Option<JobProgress>), SalesforceError>, StoreError> {
    let (job_id, key) = (&message.job_id, message.bulk_key());
    let mut replacing = None;
    if let Some(recorded) = store.bulk_job(job_id, key).await? {
        match client.ingest_job_progress(&recorded.id).await {
            Ok(JobProgress::Running(state)) if state == "Open" => {
                if let Err(err) = client.abort_ingest_job(&recorded.id).await {
                    return Ok(Err(err));
                }
                replacing = Some(recorded.id);
            }
            Ok(progress) => return Ok(Ok((recorded, Some(progress)))),
            Err(err) => return Ok(Err(err)),
        }
    }
    let opened = match client.open_bulkop_job().await {
        Ok(opened) => opened,
        Err(err) => return Ok(Err(err)),
    };
    if !store.record_bulk_job(job_id, key, &opened, replacing.as_deref()).await? {
        // Another delivery recorded its job first: that one is the chunk's, and this one is never loaded.
        if let Err(err) = client.abort_ingest_job(&opened).await {
            tracing::warn!(bulk_job = %opened, error = %err, "could not abort an unused bulk job; it holds no rows");
        }
        let theirs = store.bulk_job(job_id, key).await?;
        let theirs = theirs.ok_or_else(|| SalesforceError::refused("the chunk's bulk job was replaced meanwhile"));
        return Ok(theirs.map(|job| (job, None)));
    }
    if let Err(err) = client.load_bulkops(&opened, ops).await {
        return Ok(Err(err));
    }
    Ok(Ok((BulkJob { id: opened, recorded_at: now_epoch() }, None)))
}
