//! One record seen through its header: cells by field, and the errors found in them.

use csv::ByteRecord;

use super::checks::Broken;
use super::rules::{RowError, Rule};
use crate::format::{Field, Header, columns_in_doubt, has_line_break};

pub(crate) struct Cells<'a> {
    header: &'a Header,
    /// Each cell as text, decoded once; `None` where the bytes are not UTF-8.
    texts: Vec<Option<&'a str>>,
    row: u64,
    errors: Vec<RowError>,
    /// The cells may not be where the header says (`Record::columns_in_doubt`): messages then show no value.
    in_doubt: bool,
}

impl<'a> Cells<'a> {
    pub(crate) fn new(header: &'a Header, record: &'a ByteRecord, row: u64) -> Self {
        let texts = record.iter().map(|cell| std::str::from_utf8(cell).ok()).collect();
        let in_doubt = columns_in_doubt(record, header.len());
        let mut cells = Self { header, texts, row, errors: Vec::new(), in_doubt };
        cells.check_shape(record);
        cells
    }

    /// The column of a position, as the header spells it, or its number past the header's end.
    fn column_at(&self, position: usize) -> String {
        self.header.names().get(position).cloned().unwrap_or_else(|| format!("(column {})", position + 1))
    }

    /// A row with more fields than the header has columns has its values shifted (an unquoted comma), and a line
    /// break in a cell means a quote left open swallowed the lines below: both are errors, which name the column
    /// and never its value. Cells that are not UTF-8 are reported once here and read as blank afterwards.
    fn check_shape(&mut self, record: &ByteRecord) {
        if record.len() > self.header.len() {
            self.errors.push(RowError {
                row: self.row,
                column: self.column_at(self.header.len()),
                rule: Rule::TooManyFields,
                message: format!(
                    "the row has {} fields but the header names {} columns: an unquoted comma inside a value shifts \
                     the values after it (quote that value)",
                    record.len(),
                    self.header.len()
                ),
            });
        }
        if record.len() < self.header.len() {
            self.errors.push(RowError {
                row: self.row,
                column: self.column_at(record.len()),
                rule: Rule::TooFewFields,
                message: format!(
                    "the row has {} fields but the header names {} columns: a value left out moves the values after \
                     it, and so does an unquoted comma inside a value (give every column, blank if need be, and quote \
                     a value that holds a comma)",
                    record.len(),
                    self.header.len()
                ),
            });
        }
        if let Some(position) = record.iter().position(has_line_break) {
            let taken_in =
                |cell: &[u8]| cell.split(|b| *b == b'\n').skip(1).filter(|l| !l.trim_ascii().is_empty()).count();
            let lines = record.iter().map(taken_in).sum::<usize>().max(1);
            self.errors.push(RowError {
                row: self.row,
                column: self.column_at(position),
                rule: Rule::LineBreak,
                message: format!(
                    "the cell holds a line break, which no column takes: a quote (\") left open runs the lines below \
                     into this cell until the next quote, so this row takes in the next {lines} line(s) of the file \
                     (close the quote, or remove the line break)"
                ),
            });
        }
        for position in 0..record.len().min(self.header.len()) {
            if let (Some(text), Some(field)) = (self.texts[position], self.header.field_at(position))
                && text.len() > field.max_chars()
                && text.chars().count() > field.max_chars()
            {
                // Reported once, by its length only, and read as blank afterwards, as a cell that is not text is.
                self.texts[position] = None;
                self.errors.push(RowError {
                    row: self.row,
                    column: self.header.names()[position].clone(),
                    rule: Rule::CellTooLong,
                    message: format!(
                        "the cell has {} characters; this column takes at most {}",
                        text.chars().count(),
                        field.max_chars()
                    ),
                });
                continue;
            }
            if self.texts[position].is_none() {
                let column = self.header.names()[position].clone();
                self.errors.push(RowError {
                    row: self.row,
                    column,
                    rule: Rule::NotUtf8,
                    message: "the cell is not UTF-8 text (save the file as CSV UTF-8)".into(),
                });
            }
        }
    }

    pub(crate) fn header(&self) -> &'a Header {
        self.header
    }

    /// The cell exactly as written; `None` when the column is absent, the cell empty, or not UTF-8.
    pub(crate) fn raw(&self, field: Field) -> Option<&'a str> {
        let cell = (*self.texts.get(self.header.position(field)?)?)?;
        (!cell.is_empty()).then_some(cell)
    }

    /// The cell trimmed; `None` when blank.
    pub(crate) fn text(&self, field: Field) -> Option<&'a str> {
        self.raw(field).map(str::trim).filter(|text| !text.is_empty())
    }

    /// Records a broken rule. The same rule in the same column is recorded once (both halves of a row read some
    /// cells), and a cell that is not text gets no further errors: it reads as blank, and what follows is noise.
    pub(crate) fn fail(&mut self, field: Field, rule: Rule, message: impl Into<String>) {
        let column = self.header.column_name(field);
        let covered = self.errors.iter().any(|earlier| {
            earlier.column == column
                && (matches!(earlier.rule, Rule::NotUtf8 | Rule::CellTooLong) || earlier.rule == rule)
        });
        if !covered {
            let message = if self.in_doubt {
                format!("{} (the value is not shown: this row's columns are in doubt)", rule.title())
            } else {
                message.into()
            };
            self.errors.push(RowError { row: self.row, column, rule, message });
        }
    }

    /// Runs a check on a cell's text; on failure, records the error and yields `None`.
    pub(crate) fn check<T>(&mut self, field: Field, check: impl FnOnce(&'a str) -> Result<T, Broken>) -> Option<T> {
        let text = self.text(field)?;
        match check(text) {
            Ok(value) => Some(value),
            Err((rule, message)) => {
                self.fail(field, rule, message);
                None
            }
        }
    }

    /// Like `check`, for a cell that may be mandatory: blank where `required` is an error of its own.
    pub(crate) fn check_required<T>(
        &mut self,
        field: Field,
        required: bool,
        (missing_rule, missing_message): (Rule, &str),
        check: impl FnOnce(&'a str) -> Result<T, Broken>,
    ) -> Option<T> {
        if self.text(field).is_none() {
            if required {
                self.fail(field, missing_rule, missing_message);
            }
            return None;
        }
        self.check(field, check)
    }

    /// Records a broken rule of a value already read.
    pub(crate) fn record(&mut self, field: Field, outcome: Result<(), Broken>) {
        if let Err((rule, message)) = outcome {
            self.fail(field, rule, message);
        }
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub(crate) fn into_errors(self) -> Vec<RowError> {
        self.errors
    }
}
