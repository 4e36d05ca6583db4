//! The report a person reads: each error on its own line as it is found, then a summary.

use std::io::{self, Write};
use std::path::Path;

use ccbulk_shared::domain::UserRow;
use ccbulk_shared::format::{ByteRange, FileError, Header};
use ccbulk_shared::validate::{RowError, Rule, Setup, Summary, Visitor};

use super::Report;
use super::sink::Sink;

pub(crate) struct HumanReport<W: Write> {
    sink: Sink<W>,
    file: String,
    errors: u64,
}

impl<W: Write> HumanReport<W> {
    pub(crate) fn new(out: W, file: &Path) -> Self {
        Self { sink: Sink::new(out), file: file.display().to_string(), errors: 0 }
    }
}

impl<W: Write> Visitor for HumanReport<W> {
    fn header(&mut self, header: &Header, setup: Setup) {
        let file = &self.file;
        self.sink.write(|out| {
            writeln!(
                out,
                "{file}: {} dialect, {} identity management, {} telephony",
                header.dialect(),
                setup.identity_management,
                setup.telephony_model
            )
        });
    }

    fn row(&mut self, _range: ByteRange, outcome: &Result<UserRow, Vec<RowError>>) {
        let Err(errors) = outcome else { return };
        self.errors += errors.len() as u64;
        self.sink.write(|out| {
            for error in errors {
                writeln!(
                    out,
                    "row {}, column {:?}: {} [{}]",
                    error.row,
                    error.column,
                    error.message,
                    error.rule.code()
                )?;
            }
            Ok(())
        });
    }
}

impl<W: Write> Report for HumanReport<W> {
    fn finish(&mut self, outcome: &Result<Summary, FileError>) {
        match outcome {
            Ok(summary) => {
                let errors = self.errors;
                self.sink.write(|out| write_summary(out, summary, errors));
            }
            Err(err) => {
                self.sink.flush();
                let file = &self.file;
                let _ = writeln!(io::stderr(), "{file}: error: {err} [{}]", err.code());
            }
        }
        self.sink.flush();
    }

    fn write_error(&mut self) -> Option<io::Error> {
        self.sink.take_error()
    }
}

fn write_summary(out: &mut impl Write, summary: &Summary, errors: u64) -> io::Result<()> {
    if summary.invalid == 0 {
        writeln!(out, "all {} rows are valid", summary.rows)?;
    } else {
        writeln!(out)?;
        writeln!(
            out,
            "{} rows: {} valid, {} invalid ({errors} error{})",
            summary.rows,
            summary.valid,
            summary.invalid,
            if errors == 1 { "" } else { "s" }
        )?;
        for rule in Rule::ALL {
            if let Some(count) = summary.rules.get(rule.code()) {
                writeln!(out, "  {count:>7}  {:<30} {}", rule.code(), rule.title())?;
            }
        }
    }
    writeln!(out, "the valid rows make {} chunk{} of work", summary.chunks, if summary.chunks == 1 { "" } else { "s" })
}
