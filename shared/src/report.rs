//! The report CSV: the input's columns (less any password) and each row's outcome. Cells that a spreadsheet would
//! run as a formula are neutralised.

use std::io::{self, Read, Write};

use crate::format::{Field, FileError, Header, RecordReader};
use crate::job::RowRecord;

/// The columns added after the input's own.
pub const OUTCOME_COLUMNS: [&str; 7] =
    ["Status", "ErrorMessage", "ConnectUserId", "ConnectUserArn", "SalesforceUserId", "Note", "VoiceProvisioningJobID"];

/// A cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return, which some spreadsheets skip before
/// looking) is prefixed with `'`, so that opening the report runs nothing.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("cannot write the report: {0}")]
    Write(#[from] io::Error),
    #[error("cannot write the report: {0}")]
    Csv(#[from] csv::Error),
}

/// Writes a report row by row, so that the outcomes can be fetched as the rows come (in the file's order) and
/// nothing grows with the file.
pub struct ReportWriter<R: Read, W: Write> {
    reader: RecordReader<R>,
    writer: csv::Writer<W>,
    password: Option<usize>,
    columns: usize,
    /// The input cells of the row last read.
    cells: Vec<String>,
}

impl<R: Read, W: Write> ReportWriter<R, W> {
    /// Starts the report of `input` (the job's file, header included) on `out`, with the header row.
    pub fn new(header: &Header, input: R, out: W) -> Result<Self, ReportError> {
        let password = header.position(Field::Password);
        let mut writer = csv::WriterBuilder::new().from_writer(out);
        let mut columns: Vec<&str> =
            header.names().iter().enumerate().filter(|(i, _)| Some(*i) != password).map(|(_, n)| n.as_str()).collect();
        columns.extend(OUTCOME_COLUMNS);
        writer.write_record(&columns)?;
        let mut reader = RecordReader::new(input);
        reader.read_header()?;
        Ok(Self { reader, writer, password, columns: header.len(), cells: Vec::new() })
    }

    /// Reads the file's next row and returns its number; `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<u64>, ReportError> {
        let Some(record) = self.reader.next_record()? else { return Ok(None) };
        let password = self.password;
        // A row whose columns are in doubt may have a password in any of them (its error says why): none is shown.
        let in_doubt = record.columns_in_doubt(self.columns);
        self.cells = (0..self.columns)
            .filter(|i| Some(*i) != password)
            .map(|i| match record.fields.get(i) {
                Some(cell) if !in_doubt => neutralise(&String::from_utf8_lossy(cell)).into_owned(),
                _ => String::new(),
            })
            .collect();
        Ok(Some(record.row))
    }

    /// Writes the row last read with its outcome; a row without one is reported PENDING.
    pub fn write_row(&mut self, outcome: Option<&RowRecord>) -> Result<(), ReportError> {
        let text = |value: Option<&str>| neutralise(value.unwrap_or_default()).into_owned();
        let mut cells = std::mem::take(&mut self.cells);
        // A row that failed validation may have its columns shifted with its field count unchanged, a password in
        // any of them: none of its cells is shown, only its number's place and its outcome.
        if outcome.is_some_and(|row| row.status == crate::job::RowStatus::Invalid) {
            cells.iter_mut().for_each(String::clear);
        }
        match outcome {
            Some(row) => cells.extend([
                row.status.as_str().to_owned(),
                text(row.outcome.error_message.as_deref()),
                text(row.outcome.connect_user_id.as_deref()),
                text(row.outcome.connect_user_arn.as_deref()),
                text(row.outcome.salesforce_user_id.as_deref()),
                text(row.outcome.note.as_deref()),
                text(row.outcome.voice_provisioning_job_id.as_deref()),
            ]),
            None => {
                cells.push("PENDING".to_owned());
                cells.extend(std::iter::repeat_n(String::new(), OUTCOME_COLUMNS.len() - 1));
            }
        }
        self.writer.write_record(&cells)?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), ReportError> {
        self.writer.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Action, TelephonyModel};
    use crate::format::DialectChoice;
    use crate::job::{JobId, RowOutcome, RowStatus};

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        for cell in ["+1", "-1", "@SUM(A1)", "\t=1"] {
            assert!(neutralise(cell).starts_with('\''), "{cell}");
        }
        assert_eq!(neutralise("jdoe"), "jdoe");
        assert_eq!(neutralise(""), "");
    }

    #[test]
    fn the_report_keeps_the_input_columns_but_the_password_and_adds_the_outcome() {
        let input = "action,username,password,first_name\nadd,jdoe,S3cret!pass,=cmd|' /C calc'!A0\nadd,asmith,An0ther!pass,Ann\n";
        let names = input.lines().next().unwrap().split(',').map(str::to_owned).collect();
        let header = Header::parse(names, DialectChoice::Auto, None, TelephonyModel::AmazonConnect).unwrap();
        let outcome = |row: u64| {
            (row == 2).then(|| RowRecord {
                job_id: JobId::from_string("j".into()),
                row,
                username: Some("jdoe".into()),
                action: Some(Action::Add),
                status: RowStatus::Failed,
                outcome: RowOutcome { error_message: Some("Amazon Connect: denied".into()), ..RowOutcome::default() },
                attempts: 1,
                updated_at: 0,
            })
        };
        let mut out = Vec::new();
        let mut report = ReportWriter::new(&header, input.as_bytes(), &mut out).unwrap();
        while let Some(row) = report.next_row().unwrap() {
            report.write_row(outcome(row).as_ref()).unwrap();
        }
        report.finish().unwrap();
        let report = String::from_utf8(out).unwrap();
        assert!(!report.contains("S3cret") && !report.contains("An0ther") && !report.contains("password"), "{report}");
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(
            lines[0],
            "action,username,first_name,Status,ErrorMessage,ConnectUserId,ConnectUserArn,SalesforceUserId,Note,\
             VoiceProvisioningJobID"
        );
        assert!(lines[1].starts_with("add,jdoe,'=cmd|' /C calc'!A0,FAILED,Amazon Connect: denied"), "{}", lines[1]);
        assert_eq!(lines[2], "add,asmith,Ann,PENDING,,,,,,");
    }
}
