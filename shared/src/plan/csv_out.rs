//! The plan CSV: one line a row of the file, in the file's order. It holds row numbers, usernames, verdicts and
//! reasons, never a cell of the file beyond the username: no password can reach it.

use std::io::Write;

use super::{RowPlan, Verdict};
use crate::report::neutralise;

pub const PLAN_COLUMNS: [&str; 8] =
    ["Row", "Username", "Action", "Plan", "AmazonConnect", "Salesforce", "Reason", "Note"];

pub struct PlanWriter<W: Write> {
    writer: csv::Writer<W>,
}

impl<W: Write> PlanWriter<W> {
    pub fn new(out: W) -> Result<Self, csv::Error> {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(PLAN_COLUMNS)?;
        Ok(Self { writer })
    }

    pub fn row(&mut self, username: Option<&str>, plan: &RowPlan) -> Result<(), csv::Error> {
        let side = |change: &Option<super::Change>| match change {
            // A failing side's reason is in Reason, with its side named.
            Some(super::Change::Fail(_)) => Verdict::Fail.as_str().to_owned(),
            Some(change) => change.to_string(),
            None => String::new(),
        };
        let cells = [
            plan.row.to_string(),
            username.unwrap_or_default().to_owned(),
            plan.action.as_str().to_owned(),
            plan.verdict().as_str().to_owned(),
            side(&plan.connect),
            side(&plan.salesforce),
            plan.reason().unwrap_or_default(),
            plan.notes.join("; "),
        ];
        self.writer.write_record(cells.iter().map(|cell| neutralise(cell).into_owned()))
    }

    /// A row that does not validate: it would fail before either side, for these reasons.
    pub fn invalid(&mut self, row: u64, reasons: &str) -> Result<(), csv::Error> {
        let cells = [row.to_string(), String::new(), String::new(), Verdict::Fail.as_str().to_owned()];
        let reason = format!("invalid: {reasons}");
        self.writer.write_record(
            cells.iter().map(|c| c.as_str()).chain(["", "", &reason, ""]).map(|cell| neutralise(cell).into_owned()),
        )
    }

    pub fn finish(mut self) -> Result<W, csv::Error> {
        self.writer.flush()?;
        self.writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    }
}
