//! Working an undo job's rows (see `undo`): each from the undo image the undone job kept with the same row.

use super::provision::{ChunkReport, Targets};
use super::undo::UndoMessage;
use crate::connect::Directory;
use crate::job::{Job, JobStore, Lease, RowOutcome, RowRecord, RowStart, RowStatus, StoreError};
use crate::salesforce::undo_salesforce;
use crate::undo::{UndoImage, Undone};

/// Works the rows of one undo message: each started row is undone from its image and finished, SUCCEEDED when
/// everything was put back (or nothing was left to put back), FAILED when a user was left alone or a call failed.
pub async fn undo_rows<S: JobStore>(
    store: &S,
    targets: &Targets,
    message: &UndoMessage,
    lease: &Lease,
) -> Result<ChunkReport, StoreError> {
    let mut report = ChunkReport::default();
    let Some(job) = store.job(&message.of).await? else {
        return Err(StoreError(format!("the job undone, {}, is not in the store", message.of)));
    };
    let starts = store.start_rows(&message.undo, &message.rows, lease).await?;
    // Read once per undo job, not once per message.
    let directory = match &targets.connect {
        Some(target) => target.directory(message.undo.as_str(), job.counts.total()).await.map_err(|e| e.message),
        None => Err("no instance is configured".to_owned()),
    };
    for (row, start) in message.rows.iter().zip(starts) {
        let record = match start {
            RowStart::Go(record) => record,
            RowStart::Done(_) => {
                report.skipped += 1;
                continue;
            }
            RowStart::Held => {
                report.deferred += 1;
                report.held += 1;
                continue;
            }
        };
        let original = store.row(&message.of, *row).await?;
        let (status, outcome) = match original {
            Some(original) => undo_row(targets, &job, directory.as_deref(), &original).await,
            None => (RowStatus::Failed, failed("the row undone is not in the store")),
        };
        tracing::info!(job = %message.undo, row, outcome = status.as_str(), "row undone");
        let finished =
            store.finish_row_unsettled(&message.undo, record.row, status, &outcome, lease.owner.as_str()).await?;
        match (finished, status) {
            (false, _) => report.skipped += 1,
            (true, RowStatus::Succeeded) => report.succeeded += 1,
            (true, _) => report.failed += 1,
        }
    }
    report.job_state = Some(store.settle_job(&message.undo).await?);
    Ok(report)
}

fn failed(message: &str) -> RowOutcome {
    RowOutcome { error_message: Some(message.to_owned()), ..RowOutcome::default() }
}

/// One row's undo: its status (SUCCEEDED when put back or nothing was left to put back) and what each side did.
async fn undo_row(
    targets: &Targets,
    job: &Job,
    directory: Result<&Directory, &String>,
    row: &RowRecord,
) -> (RowStatus, RowOutcome) {
    let image = row.outcome.undo.as_deref().and_then(UndoImage::parse);
    let Some(image) = image else {
        let said = "nothing; a removed user is not made again (add it from a file)";
        return (RowStatus::Succeeded, RowOutcome { note: Some(said.to_owned()), ..RowOutcome::default() });
    };
    let connect = match (&image.connect, &targets.connect, directory) {
        (None, _, _) => None,
        (Some(side), Some(target), Ok(directory)) => {
            let provisioner = target.provisioner(job.identity_management);
            Some(Box::pin(provisioner.undo(directory, side)).await.map_err(|e| e.message))
        }
        (Some(_), None, _) => Some(Err("no instance is configured".to_owned())),
        (Some(_), Some(_), Err(err)) => Some(Err(err.clone())),
    };
    let salesforce = match (&image.salesforce, &targets.salesforce) {
        (None, _) => None,
        (Some(side), Some(target)) => {
            Some(Box::pin(undo_salesforce(&target.client, side)).await.map_err(|e| e.message))
        }
        (Some(_), None) => Some(Err("no org is configured".to_owned())),
    };
    let sides = [&connect, &salesforce];
    let verdict = if sides.iter().any(|s| matches!(s, Some(Err(_)))) {
        "failed"
    } else if sides.iter().any(|s| matches!(s, Some(Ok(Undone::LeftAlone(_))))) {
        "left alone"
    } else if sides.iter().any(|s| matches!(s, Some(Ok(Undone::Done(_))))) {
        "undone"
    } else {
        "nothing"
    };
    let said = |side: &Option<Result<Undone, String>>| match side {
        None => None,
        Some(Ok(Undone::Done(what) | Undone::LeftAlone(what) | Undone::Nothing(what))) => Some(what.clone()),
        Some(Err(err)) => Some(format!("failed: {err}")),
    };
    let detail: Vec<String> = [("Amazon Connect", said(&connect)), ("Salesforce", said(&salesforce))]
        .into_iter()
        .filter_map(|(side, text)| Some(format!("{side}: {}", text?)))
        .collect();
    let text = format!("{verdict}; {}", detail.join("; "));
    match verdict {
        "undone" | "nothing" => (RowStatus::Succeeded, RowOutcome { note: Some(text), ..RowOutcome::default() }),
        _ => (RowStatus::Failed, RowOutcome { error_message: Some(text), ..RowOutcome::default() }),
    }
}
