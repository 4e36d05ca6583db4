//! Validation of a whole file: every row against every rule, before anything is sent anywhere.

mod cells;
mod checks;
mod connect_side;
mod duplicates;
pub mod picklists;
mod rows;
pub mod rules;
mod salesforce_side;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use self::cells::Cells;
use self::duplicates::{DuplicateTracker, Key, keys};
pub use self::rules::{RowError, Rule};
use crate::domain::{IdentityManagement, SalesforceSync, TelephonyModel, UserRow};
use crate::format::{ByteRange, Chunk, ChunkPlanner, Dialect, DialectChoice, FileError, Header, Record, RecordReader};

/// The deployment a file is validated for: the rules differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setup {
    pub identity_management: IdentityManagement,
    pub telephony_model: TelephonyModel,
}

/// What the caller knows before reading the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// `None`: the dialect's usual one (SAML for bulkop, CONNECT_MANAGED otherwise).
    pub identity_management: Option<IdentityManagement>,
    pub telephony_model: TelephonyModel,
    pub dialect: DialectChoice,
    /// The most rows a chunk holds in direct mode.
    pub chunk_rows: u32,
    /// Decides, with the file's dialect, how many rows a chunk holds ([`SalesforceSync::chunk_rows`]).
    pub sync: SalesforceSync,
}

impl Options {
    /// The most rows a chunk of a `dialect` file holds.
    pub fn chunk_rows_for(&self, dialect: Dialect) -> u32 {
        self.sync.chunk_rows(dialect, self.chunk_rows)
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            identity_management: None,
            telephony_model: TelephonyModel::AmazonConnect,
            dialect: DialectChoice::Auto,
            // A chunk's Salesforce side goes in whole-collection calls (sObject Collections take 200 records: REST API
            // Developer Guide, "sObject Collections"): 200 rows cost the org about five calls.
            chunk_rows: 200,
            sync: SalesforceSync::Auto,
        }
    }
}

/// A file that can be read more than once (validation reads it twice, each time as a stream).
pub trait Source {
    fn open(&self) -> io::Result<impl Read + '_>;
}

impl Source for Path {
    fn open(&self) -> io::Result<impl Read + '_> {
        File::open(self).map(|file| BufReader::with_capacity(64 * 1024, file))
    }
}

impl Source for [u8] {
    fn open(&self) -> io::Result<impl Read + '_> {
        Ok(self)
    }
}

/// Receives what validation finds, as it finds it, in file order.
pub trait Visitor {
    fn header(&mut self, _header: &Header, _setup: Setup) {}
    fn row(&mut self, _range: ByteRange, _outcome: &Result<UserRow, Vec<RowError>>) {}
    fn chunk(&mut self, _chunk: &Chunk) {}
}

/// Ignores everything; for callers that want only the summary.
impl Visitor for () {}

/// What a whole file came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub dialect: Dialect,
    pub setup: Setup,
    pub rows: u64,
    pub valid: u64,
    pub invalid: u64,
    /// How many errors each rule produced.
    pub rules: BTreeMap<&'static str, u64>,
    pub chunks: u32,
}

/// Checks rows one at a time, remembering only what duplicate detection needs.
pub struct Validator {
    header: Header,
    setup: Setup,
    duplicates: DuplicateTracker,
}

impl Validator {
    /// Reads the header and runs the duplicate pre-scan; the returned validator takes the rows of a second pass.
    pub fn prepare<'a, S: Source + ?Sized>(
        source: &'a S,
        options: &Options,
    ) -> Result<(Self, RecordReader<impl Read + 'a>), FileError> {
        let mut reader = RecordReader::new(source.open()?);
        let names = reader.read_header()?;
        let header = Header::parse(names, options.dialect, options.identity_management, options.telephony_model)?;
        let setup = Setup {
            identity_management: options.identity_management.unwrap_or(header.dialect().default_identity_management()),
            telephony_model: options.telephony_model,
        };
        check_setup(header.dialect(), setup)?;
        let duplicates = DuplicateTracker::scan(source.open()?, &header)?;
        Ok((Self { header, setup, duplicates }, reader))
    }

    /// A validator for the rows of one chunk, whose file was validated whole at ingest: duplicates were found then,
    /// so none is looked for here.
    pub fn for_chunk(header: Header, setup: Setup) -> Self {
        Self { header, setup, duplicates: DuplicateTracker::default() }
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn setup(&self) -> Setup {
        self.setup
    }

    /// Checks one record (records must come in file order).
    pub fn check(&mut self, record: &Record) -> Result<UserRow, Vec<RowError>> {
        let mut cells = Cells::new(&self.header, record.fields, record.row);
        let halves = rows::read_row(&mut cells, self.setup);
        for key in keys(&self.header, record.fields) {
            if let Some(earlier) = self.duplicates.see(&key, record.row) {
                let (rule, what) = match key {
                    Key::Username(_) => (Rule::DuplicateUsername, "username"),
                    Key::SalesforceUser(_) => (Rule::DuplicateSalesforceUser, "Salesforce user"),
                    Key::FederationId(_) => (Rule::DuplicateFederationId, "federation id"),
                };
                cells.fail(key.field(), rule, format!("the same {what} is already in row {earlier}"));
            }
        }
        match halves {
            Some((action, connect, salesforce)) if !cells.has_errors() => {
                Ok(UserRow { row: record.row, action, connect, salesforce })
            }
            _ => Err(cells.into_errors()),
        }
    }
}

/// Dialects that cannot serve a setup at all are refused before any row is read.
fn check_setup(dialect: Dialect, setup: Setup) -> Result<(), FileError> {
    let reason = match dialect {
        Dialect::Connect if !setup.telephony_model.has_connect_side() => {
            "the Amazon Connect template creates Connect users, and partner-telephony has no Amazon Connect side"
        }
        Dialect::Bulkop
            if setup.telephony_model.has_connect_side()
                && setup.identity_management == IdentityManagement::ConnectManaged =>
        {
            "ContactCenterBulkOp rows carry no password, which a CONNECT_MANAGED instance needs for every new user; \
             use the connect template or the ccbulk dialect with a password column"
        }
        _ => return Ok(()),
    };
    Err(FileError::NotForSetup { dialect, reason: reason.to_owned() })
}

/// Validates a file and plans its chunks, reporting each row and chunk to `visitor` as it goes.
pub fn validate<S: Source + ?Sized>(
    source: &S,
    options: &Options,
    visitor: &mut impl Visitor,
) -> Result<Summary, FileError> {
    let (mut validator, mut reader) = Validator::prepare(source, options)?;
    visitor.header(validator.header(), validator.setup());
    let mut planner = ChunkPlanner::new(options.chunk_rows_for(validator.header().dialect()));
    let mut summary = Summary {
        dialect: validator.header().dialect(),
        setup: validator.setup(),
        rows: 0,
        valid: 0,
        invalid: 0,
        rules: BTreeMap::new(),
        chunks: 0,
    };
    while let Some(record) = reader.next_record()? {
        let outcome = validator.check(&record);
        summary.rows += 1;
        let closed = match &outcome {
            Ok(_) => {
                summary.valid += 1;
                planner.push_valid(record.row, record.range)
            }
            Err(errors) => {
                summary.invalid += 1;
                for error in errors {
                    *summary.rules.entry(error.rule.code()).or_default() += 1;
                }
                planner.push_invalid()
            }
        };
        // The row goes out before the chunk it completes, so a visitor has seen every row of a chunk it receives.
        visitor.row(record.range, &outcome);
        emit_chunk(closed, visitor, &mut summary);
    }
    emit_chunk(planner.finish(), visitor, &mut summary);
    if summary.rows == 0 {
        return Err(FileError::NoRows);
    }
    Ok(summary)
}

fn emit_chunk(chunk: Option<Chunk>, visitor: &mut impl Visitor, summary: &mut Summary) {
    if let Some(chunk) = chunk {
        summary.chunks += 1;
        visitor.chunk(&chunk);
    }
}
