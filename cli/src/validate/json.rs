//! The report a machine reads: one JSON document, written as validation goes.
//!
//! `{"dialect", "identity_management", "telephony_model", "errors": [{"row", "column", "rule", "message"}...],
//! "rows", "valid", "invalid", "rules": {code: count}, "chunks"}`, or `{"dialect"?, "error": {"rule", "message"}}`
//! when the file itself cannot be used.

use std::io::{self, Write};

use ccbulk_shared::domain::UserRow;
use ccbulk_shared::format::{ByteRange, FileError, Header};
use ccbulk_shared::validate::{RowError, Setup, Summary, Visitor};
use serde_json::json;

use super::Report;
use super::sink::Sink;

pub(crate) struct JsonReport<W: Write> {
    sink: Sink<W>,
    /// Whether the document's opening (up to the errors array) is out.
    opened: bool,
    first_error: bool,
}

impl<W: Write> JsonReport<W> {
    pub(crate) fn new(out: W) -> Self {
        Self { sink: Sink::new(out), opened: false, first_error: true }
    }
}

/// Writes `value` without its closing brace, so more keys can follow.
fn write_open_object(out: &mut impl Write, value: &serde_json::Value) -> io::Result<()> {
    let text = serde_json::to_string(value).map_err(io::Error::other)?;
    out.write_all(text.strip_suffix('}').unwrap_or(&text).as_bytes())
}

impl<W: Write> Visitor for JsonReport<W> {
    fn header(&mut self, header: &Header, setup: Setup) {
        let opening = json!({
            "dialect": header.dialect(),
            "identity_management": setup.identity_management,
            "telephony_model": setup.telephony_model,
        });
        self.sink.write(|out| {
            write_open_object(out, &opening)?;
            out.write_all(b",\"errors\":[")
        });
        self.opened = true;
    }

    fn row(&mut self, _range: ByteRange, outcome: &Result<UserRow, Vec<RowError>>) {
        let Err(errors) = outcome else { return };
        for error in errors {
            let separator: &[u8] = if self.first_error { b"" } else { b"," };
            self.first_error = false;
            self.sink.write(|out| {
                out.write_all(separator)?;
                serde_json::to_writer(&mut *out, error).map_err(io::Error::other)
            });
        }
    }
}

impl<W: Write> Report for JsonReport<W> {
    fn finish(&mut self, outcome: &Result<Summary, FileError>) {
        let tail = match outcome {
            Ok(summary) => json!({
                "rows": summary.rows,
                "valid": summary.valid,
                "invalid": summary.invalid,
                "rules": summary.rules,
                "chunks": summary.chunks,
            }),
            Err(err) => {
                let mut tail = json!({ "error": { "rule": err.code(), "message": err.to_string() } });
                if let (false, Some(dialect)) = (self.opened, dialect_of(err)) {
                    tail["dialect"] = json!(dialect);
                }
                tail
            }
        };
        let opened = self.opened;
        self.sink.write(|out| {
            let text = serde_json::to_string(&tail).map_err(io::Error::other)?;
            if opened {
                // Close the errors array and continue the opened object with the tail's keys.
                write!(out, "],{}", &text[1..])?;
            } else {
                out.write_all(text.as_bytes())?;
            }
            writeln!(out)
        });
        self.sink.flush();
    }

    fn write_error(&mut self) -> Option<io::Error> {
        self.sink.take_error()
    }
}

fn dialect_of(err: &FileError) -> Option<ccbulk_shared::format::Dialect> {
    match err {
        FileError::Columns { dialect, .. }
        | FileError::DuplicateColumn { dialect, .. }
        | FileError::NotForSetup { dialect, .. } => Some(*dialect),
        _ => None,
    }
}
