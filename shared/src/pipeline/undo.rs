//! Undoing a job (`ccbulk undo`): for each row the job took through, what it did is put back from the row's undo
//! image: users it created are removed (Connect: quick connects first; Salesforce: out of the contact center, Voice
//! sets withdrawn, deactivated), users it changed get the changed parts back. A user changed again since the job is
//! left alone and reported: undo never overwrites newer work.

use std::io::Write;

use super::provision::Targets;
use crate::connect::{ConnectProvisioner, Directory};
use crate::domain::Action;
use crate::job::{Job, JobKind, JobStore, RowRecord, RowStatus, StoreError};
use crate::report::neutralise;
use crate::salesforce::undo_salesforce;
use crate::undo::{UndoImage, Undone};

pub const UNDO_COLUMNS: [&str; 6] = ["Row", "Username", "Action", "Undo", "AmazonConnect", "Salesforce"];

/// Rows read from the status index per call.
const PAGE: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum UndoError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the undo report: {0}")]
    Write(#[from] csv::Error),
}

/// Rows per way their undo ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UndoCounts {
    pub undone: u64,
    pub left_alone: u64,
    pub nothing: u64,
    pub failed: u64,
}

/// Undoes `job`'s rows against `targets`, writing one report line a row that had something to undo.
pub async fn undo_job<S: JobStore, W: Write>(
    store: &S,
    targets: &Targets,
    job: &Job,
    out: W,
) -> Result<(UndoCounts, W), UndoError> {
    if job.kind() == JobKind::Plan {
        return Err(UndoError::Refused(format!("job {} is a plan: it wrote nothing to undo", job.id)));
    }
    if !job.state.has_ended() {
        return Err(UndoError::Refused(format!("job {} is {}: undo it once it has ended", job.id, job.state.as_str())));
    }
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(UNDO_COLUMNS)?;
    let mut counts = UndoCounts::default();
    let directory = match &targets.connect {
        Some(target) => Some(
            Directory::load_for(&target.client, &target.instance_id, &target.pacer, job.counts.total())
                .await
                .map_err(|e| UndoError::Refused(format!("Amazon Connect: {}", e.message)))?,
        ),
        None => None,
    };
    let mut after = None;
    loop {
        let page = store.rows(&job.id, Some(RowStatus::Succeeded), PAGE, after).await?;
        after = page.items.last().map(|r| r.row).or(after);
        for row in &page.items {
            let Some(line) = undo_row(targets, job, directory.as_ref(), row).await else { continue };
            let (outcome, connect, salesforce) = line;
            match outcome {
                "undone" => counts.undone += 1,
                "left alone" => counts.left_alone += 1,
                "failed" => counts.failed += 1,
                _ => counts.nothing += 1,
            }
            let cells = [
                row.row.to_string(),
                row.username.clone().unwrap_or_default(),
                row.action.map(Action::as_str).unwrap_or_default().to_owned(),
                outcome.to_owned(),
                connect,
                salesforce,
            ];
            writer.write_record(cells.iter().map(|c| neutralise(c).into_owned()))?;
        }
        if page.next.is_none() {
            break;
        }
    }
    writer.flush().map_err(csv::Error::from)?;
    let out = writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok((counts, out))
}

/// One row's undo: how it ended overall, and per side; `None` for a row with nothing recorded to undo.
async fn undo_row(
    targets: &Targets,
    job: &Job,
    directory: Option<&Directory>,
    row: &RowRecord,
) -> Option<(&'static str, String, String)> {
    let image = row.outcome.undo.as_deref().and_then(UndoImage::parse);
    if image.is_none() && row.action == Some(Action::Remove) {
        let said = "not undone: a removed user is not made again (add it from a file)".to_owned();
        return Some(("nothing", said.clone(), String::new()));
    }
    let image = image?;
    let connect = match (&image.connect, &targets.connect, directory) {
        (None, _, _) => None,
        (Some(side), Some(target), Some(directory)) => {
            let provisioner = ConnectProvisioner {
                client: &target.client,
                instance_id: &target.instance_id,
                identity: job.identity_management,
                pacer: &target.pacer,
            };
            Some(provisioner.undo(directory, side).await.map_err(|e| e.message))
        }
        (Some(_), _, _) => Some(Err("no instance is configured".to_owned())),
    };
    let salesforce = match (&image.salesforce, &targets.salesforce) {
        (None, _) => None,
        (Some(side), Some(target)) => Some(undo_salesforce(&target.client, side).await.map_err(|e| e.message)),
        (Some(_), None) => Some(Err("no org is configured".to_owned())),
    };
    let sides = [&connect, &salesforce];
    let outcome = if sides.iter().any(|s| matches!(s, Some(Err(_)))) {
        "failed"
    } else if sides.iter().any(|s| matches!(s, Some(Ok(Undone::LeftAlone(_))))) {
        "left alone"
    } else if sides.iter().any(|s| matches!(s, Some(Ok(Undone::Done(_))))) {
        "undone"
    } else {
        "nothing"
    };
    let said = |side: &Option<Result<Undone, String>>| match side {
        None => String::new(),
        Some(Ok(Undone::Done(what))) => what.clone(),
        Some(Ok(Undone::LeftAlone(why))) => why.clone(),
        Some(Ok(Undone::Nothing(why))) => why.clone(),
        Some(Err(err)) => format!("failed: {err}"),
    };
    Some((outcome, said(&connect), said(&salesforce)))
}
