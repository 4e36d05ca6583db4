//! Problems that make a whole file unusable (as opposed to a row).

use std::io;

use super::dialect::Dialect;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read the file: {0}")]
    Io(#[from] io::Error),
    #[error("the file is empty: the first row must be a header naming the columns")]
    Empty,
    #[error("the header row is blank: the first row must name the columns")]
    EmptyHeader,
    #[error("the header row is not UTF-8 text (save the file as CSV UTF-8)")]
    HeaderNotUtf8,
    #[error(
        "the header matches none of the dialects (bulkop: Argument1..5 and BulkAction; connect: the Amazon Connect \
         template, e.g. \"first name\", \"user login\"; ccbulk: action, username, ...); it has: {}",
        listed(.columns)
    )]
    UnknownDialect { columns: Vec<String> },
    /// The first row looks like a user row: the file has no header. Nothing of the row is repeated (it may hold a
    /// password); `clue` names the column that gave it away.
    #[error(
        "the first row is not a header but looks like a user row ({clue}; its {columns} cells are not shown): the \
         file needs a header row naming its columns first, e.g. action,username,password,... (see examples/)"
    )]
    NoHeader { columns: usize, clue: String },
    #[error("{}", columns_message(*.dialect, .missing, .unknown))]
    Columns { dialect: Dialect, missing: Vec<String>, unknown: Vec<String> },
    #[error("the {dialect} header has the column {column:?} twice (first as {first:?})")]
    DuplicateColumn { dialect: Dialect, column: String, first: String },
    #[error("the file has a header but no user rows")]
    NoRows,
    /// An upload whose name does not end in `.csv` (in any case): a spreadsheet or a text file put there by mistake.
    /// Refused before a byte is read.
    #[error("{name:?} is not a CSV file: ccbulk takes files named *.csv (save the sheet as CSV UTF-8)")]
    NotCsv { name: String },
    /// Refused before a byte is read: the object is over the deployment's cap.
    #[error("the file has {bytes} bytes, more than the {cap} bytes this deployment takes: split it into smaller files")]
    TooLarge { bytes: u64, cap: u64 },
    /// One record runs over [`super::RECORD_MAX_BYTES`]: a line far longer than any row, or a quote left open that
    /// runs the rest of the file into one cell. Nothing after it can be read as rows.
    #[error(
        "row {row} runs over {cap} bytes without ending, far longer than any row can be: a quote (\") left open runs \
         the lines below into one cell, or the file is not a CSV of users"
    )]
    RecordTooLarge { row: u64, cap: u64 },
    #[error("the header has {columns} columns; a header names at most {max} (is the first row a header?)")]
    HeaderTooWide { columns: usize, max: usize },
    #[error("a {dialect} file cannot be used here: {reason}")]
    NotForSetup { dialect: Dialect, reason: String },
}

impl FileError {
    /// A stable code, like the row rules have.
    pub fn code(&self) -> &'static str {
        match self {
            FileError::Io(_) => "file.unreadable",
            FileError::Empty => "file.empty",
            FileError::EmptyHeader => "header.blank",
            FileError::HeaderNotUtf8 => "header.not_utf8",
            FileError::UnknownDialect { .. } => "header.unknown_dialect",
            FileError::NoHeader { .. } => "header.missing",
            FileError::Columns { .. } => "header.columns",
            FileError::DuplicateColumn { .. } => "header.duplicate_column",
            FileError::NoRows => "file.no_rows",
            FileError::NotCsv { .. } => "file.not_csv",
            FileError::TooLarge { .. } => "file.too_large",
            FileError::RecordTooLarge { .. } => "row.too_large",
            FileError::HeaderTooWide { .. } => "header.too_wide",
            FileError::NotForSetup { .. } => "file.not_for_setup",
        }
    }
}

// Compared in tests; I/O errors compare by kind, which is all a test can know of them.
impl PartialEq for FileError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (FileError::Io(a), FileError::Io(b)) => a.kind() == b.kind(),
            _ => self.code() == other.code() && self.to_string() == other.to_string(),
        }
    }
}

/// The columns of an unknown header, as a message lists them: the first few, each cut short.
fn listed(columns: &[String]) -> String {
    const SHOWN_COLUMNS: usize = 20;
    let mut shown: Vec<String> = columns
        .iter()
        .take(SHOWN_COLUMNS)
        .map(|name| match name.char_indices().nth(super::shown::NAME_MAX) {
            Some((cut, _)) => format!("{}…", &name[..cut]),
            None => name.clone(),
        })
        .collect();
    if columns.len() > SHOWN_COLUMNS {
        shown.push(format!("and {} more", columns.len() - SHOWN_COLUMNS));
    }
    shown.join(", ")
}

fn columns_message(dialect: Dialect, missing: &[String], unknown: &[String]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing column(s): {}", missing.join(", ")));
    }
    if !unknown.is_empty() {
        parts.push(format!("unknown column(s): {}", unknown.join(", ")));
    }
    let hint = match dialect {
        Dialect::Connect if missing.iter().any(|m| m == "password") => {
            " (the template of a SAML or EXISTING_DIRECTORY instance has no password column: give the instance's \
             identity management)"
        }
        Dialect::Bulkop if missing.iter().any(|m| m == "Argument3" || m == "Argument4") => {
            " (the Partner Telephony variant has no Argument3 or Argument4: give the telephony model)"
        }
        _ => "",
    };
    format!("the header does not fit the {dialect} dialect: {}{hint}", parts.join("; "))
}
