//! A cap on the bytes of one record, enforced below the CSV parser: the parser keeps a whole record in memory, so a
//! 300 MB file on one line, or a quote left open at the top of a large file, would otherwise be read into memory
//! whole before anything could say no.

use std::io::{self, Read};

/// The most bytes one record (a row, quoted line breaks and all) may have. The widest legitimate row is far
/// smaller: every column at its service's longest (see `Field::max_chars`) comes to about 40 KB; the room above that
/// lets a header far too wide be told by its width (`header.too_wide`) rather than its bytes.
pub const RECORD_MAX_BYTES: u64 = 4 << 20;

/// The error a [`Bounded`] reader fails with, found again by [`Bounded::overrun`] in the I/O error it travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordOverrun {
    pub cap: u64,
}

impl std::fmt::Display for RecordOverrun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a record runs over {} bytes", self.cap)
    }
}

impl std::error::Error for RecordOverrun {}

/// Passes bytes through while tracking where records end as the csv crate reads them (RFC 4180: a field is quoted
/// only when `"` is its first byte, `""` inside it is a quote, and a `"` in the middle of an unquoted field is just a
/// character), and fails the read once one record has run over `cap`. Toggling on every `"` would part ways with
/// the parser at the first `5'10"` in a cell: a legitimate file then reads as one endless record, or, worse, a quote
/// the parser keeps open for the rest of the file is taken for closed, and the parser holds it all in memory.
pub struct Bounded<R> {
    inner: R,
    cap: u64,
    state: Quoting,
    since_boundary: u64,
}

/// Where the reader stands within a record (csv-core's states, for the comma and either line ending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// At the start of a field: a `"` here opens a quoted field.
    FieldStart,
    Unquoted,
    Quoted,
    /// A `"` inside a quoted field: another makes it a literal quote; anything else closes the quotes.
    QuoteInQuoted,
}

impl<R: Read> Bounded<R> {
    pub fn new(inner: R, cap: u64) -> Self {
        Self { inner, cap, state: Quoting::FieldStart, since_boundary: 0 }
    }

    /// The overrun an I/O error from this reader carries, if it is one.
    pub fn overrun(err: &io::Error) -> Option<RecordOverrun> {
        err.get_ref().and_then(|inner| inner.downcast_ref::<RecordOverrun>()).copied()
    }

    /// Takes one byte; answers whether it ends a record.
    fn step(&mut self, byte: u8) -> bool {
        use Quoting::*;
        let (next, ends) = match (self.state, byte) {
            (Quoted, b'"') => (QuoteInQuoted, false),
            (Quoted, _) => (Quoted, false),
            (FieldStart, b'"') | (QuoteInQuoted, b'"') => (Quoted, false),
            (_, b',') => (FieldStart, false),
            (_, b'\n' | b'\r') => (FieldStart, true),
            (_, _) => (Unquoted, false),
        };
        self.state = next;
        ends
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        for &byte in &buf[..read] {
            if self.step(byte) {
                self.since_boundary = 0;
                continue;
            }
            self.since_boundary += 1;
            if self.since_boundary > self.cap {
                return Err(io::Error::new(io::ErrorKind::InvalidData, RecordOverrun { cap: self.cap }));
            }
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8], cap: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Bounded::new(data, cap).read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn records_within_the_cap_pass_whole() {
        let data = b"a,b\r\n\"x\ny\",\"q\"\"q\"\n12345,6\n";
        assert_eq!(read_all(data, 16).unwrap(), data);
    }

    #[test]
    fn a_long_line_and_a_long_quoted_cell_are_stopped() {
        let err = read_all(b"a,b\n1234567890\n", 8).unwrap_err();
        assert_eq!(Bounded::<&[u8]>::overrun(&err), Some(RecordOverrun { cap: 8 }));
        // Line breaks inside quotes do not end the record.
        let err = read_all(b"a\n\"12\n34\n56\n78\"\n", 8).unwrap_err();
        assert!(Bounded::<&[u8]>::overrun(&err).is_some());
    }

    /// Where the reader says records end is where the csv crate ends them, quotes in the middle of fields and
    /// all: the bytes of each record the parser reads, counted from the previous record's end, are what the
    /// reader counts.
    #[test]
    fn records_end_where_the_csv_parser_ends_them() {
        let data: &[u8] =
            b"h,eight\n5'10\",x\n\"a\"\"b\",c\n\"q\"tail,\"\"\nx\"y,\"open\nstill\ninside\",z\n\"\"\"\n\"\n";
        let mut parser = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data);
        let mut record = csv::ByteRecord::new();
        let mut starts = Vec::new();
        while parser.read_byte_record(&mut record).unwrap() {
            starts.push(record.position().unwrap().byte());
        }
        assert_eq!(starts.len(), 6, "the parser's records: {starts:?}");
        // Each record but the first starts right after the line break that ends the one before; the last ends the
        // data.
        let by_parser: Vec<u64> = starts.into_iter().skip(1).chain([data.len() as u64]).collect();
        let mut bounded = Bounded::new(data, u64::MAX);
        let by_reader: Vec<u64> =
            (0..data.len()).filter(|at| bounded.step(data[*at])).map(|at| at as u64 + 1).collect();
        assert_eq!(by_reader, by_parser, "where the reader ends records, against the parser");
    }
}
