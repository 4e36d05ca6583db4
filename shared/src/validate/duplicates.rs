//! Finds users named twice in one file, in memory that does not grow with the file.
//!
//! A first pass puts every key (username, Salesforce user id, federation id) through a fixed-size Bloom filter; a key the filter
//! claims to have seen is a suspect. Every key that really repeats is a suspect (Bloom filters have no false
//! negatives), so the second pass only needs to track suspects exactly to name, for each repeat, its first row.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use csv::ByteRecord;
use fastbloom::BloomFilter;

use crate::format::{Field, FileError, Header, RecordReader};
use crate::sfid::SalesforceId;

/// 8 MiB of filter, whatever the file: memory stays flat.
const FILTER_BITS: usize = 64 * 1024 * 1024;
const FILTER_SEED: u128 = 0x00cc_b01c;
/// Few hashes keep the scan fast; at 32 bits a key (a million rows) 8 hashes still give about 6 false suspects in
/// a million keys.
const FILTER_HASHES: u32 = 8;

/// A key under which two rows clash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Username(String),
    SalesforceUser(String),
    /// A Salesforce user's federation id, unique in an org (DUPLICATE_VALUE otherwise).
    FederationId(String),
}

impl Key {
    pub(crate) fn field(&self) -> Field {
        match self {
            Key::Username(_) => Field::Username,
            Key::SalesforceUser(_) => Field::SalesforceUserId,
            Key::FederationId(_) => Field::SalesforceFederationId,
        }
    }
}

/// The keys of a record. Computed from the raw cells alone, so both passes agree whatever else is wrong in a row.
pub(crate) fn keys(header: &Header, record: &ByteRecord) -> impl Iterator<Item = Key> {
    let cell = |field: Field| {
        let position = header.position(field)?;
        let text = std::str::from_utf8(record.get(position)?).ok()?.trim();
        (!text.is_empty()).then_some(text)
    };
    // Salesforce and SAML usernames are case-insensitive; treating Connect's the same way errs on the safe side.
    let username = cell(Field::Username).map(|name| Key::Username(name.to_lowercase()));
    let user_id = cell(Field::SalesforceUserId)
        .and_then(|id| SalesforceId::parse(id).ok())
        .map(|id| Key::SalesforceUser(id.as_str().to_owned()));
    // Salesforce compares federation ids without regard to case when it refuses a duplicate; so does this check.
    let federation_id = cell(Field::SalesforceFederationId).map(|id| Key::FederationId(id.to_lowercase()));
    username.into_iter().chain(user_id).chain(federation_id)
}

/// Tracks the first row of each suspect key during the second pass.
#[derive(Debug, Default)]
pub(crate) struct DuplicateTracker {
    first_rows: HashMap<Key, Option<u64>>,
}

impl DuplicateTracker {
    /// The first pass: reads every record after the header of `input`.
    pub(crate) fn scan<R: Read>(input: R, header: &Header) -> Result<Self, FileError> {
        let mut reader = RecordReader::new(input);
        reader.read_header()?;
        let mut filter = BloomFilter::with_num_bits(FILTER_BITS).seed(&FILTER_SEED).hashes(FILTER_HASHES);
        let mut suspects = HashSet::new();
        while let Some(record) = reader.next_record()? {
            for key in keys(header, record.fields) {
                if filter.insert(&key) {
                    suspects.insert(key);
                }
            }
        }
        Ok(Self { first_rows: suspects.into_iter().map(|key| (key, None)).collect() })
    }

    /// Notes `key` at `row`; returns the earlier row that had it, if any.
    pub(crate) fn see(&mut self, key: &Key, row: u64) -> Option<u64> {
        let first = self.first_rows.get_mut(key)?;
        match first {
            Some(earlier) => Some(*earlier),
            None => {
                *first = Some(row);
                None
            }
        }
    }
}
