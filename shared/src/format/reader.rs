//! Streams the records of a CSV file with their row numbers and byte ranges, in constant memory.

use std::io::{self, Read};

use csv::{ByteRecord, ReaderBuilder};
use serde::{Deserialize, Serialize};

use super::bounded::{Bounded, RECORD_MAX_BYTES};
use super::error::FileError;

/// The most columns a header may name. The widest dialect has about 40; a header far wider is not one of ours, and
/// is refused before anything is built per column.
pub const HEADER_MAX_COLUMNS: usize = 1_000;

/// A `[start, end)` range of bytes in the input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// One record of the file.
#[derive(Debug)]
pub struct Record<'a> {
    /// The row number a spreadsheet shows: the header is row 1, and a quoted line break does not start a row.
    pub row: u64,
    /// Where the record lies in the file; consecutive records' ranges tile the file.
    pub range: ByteRange,
    pub fields: &'a ByteRecord,
}

impl Record<'_> {
    /// Whether this record's cells may not be where its header says: it has more fields than the header has
    /// columns (an unquoted comma shifts every value after it one column on, a password into `user login`), or
    /// fewer (a value left out shifts the rest back, and an unquoted comma with a trailing value left out shifts
    /// them on with the count unchanged but for the last), or a cell holds a line break (a quote left open runs the lines below into one cell, passwords and all). Such a
    /// row is invalid, and nothing from its cells is repeated anywhere: not in a message, not as its username.
    pub fn columns_in_doubt(&self, columns: usize) -> bool {
        columns_in_doubt(self.fields, columns)
    }
}

/// [`Record::columns_in_doubt`] for a bare record.
pub fn columns_in_doubt(fields: &ByteRecord, columns: usize) -> bool {
    fields.len() != columns || fields.iter().any(has_line_break)
}

/// No user field takes a line break; one in a cell is the mark of a quote left open.
pub fn has_line_break(cell: &[u8]) -> bool {
    cell.iter().any(|b| matches!(b, b'\n' | b'\r'))
}

/// Reads records one at a time, reusing one buffer: memory does not grow with the file.
pub struct RecordReader<R: Read> {
    csv: csv::Reader<io::Chain<&'static [u8], Bounded<R>>>,
    record: ByteRecord,
    next_row: u64,
    /// File offset of the first byte the reader sees after its prefix.
    base: u64,
    prefix_len: u64,
}

impl<R: Read> RecordReader<R> {
    /// Reads a whole file; its first record is the header.
    pub fn new(input: R) -> Self {
        Self::build(&[], input, 0, 1)
    }

    /// Reads the rows of a chunk: `input` yields the file's bytes from `start`, and the first record there is row
    /// `first_row`.
    pub fn for_range(input: R, start: u64, first_row: u64) -> Self {
        // A blank line in front keeps the CSV parser from taking a field that starts with U+FEFF for a byte-order
        // mark, which it strips only at the very start of its input; the blank line itself parses to nothing.
        Self::build(b"\n", input, start, first_row)
    }

    fn build(prefix: &'static [u8], input: R, base: u64, first_row: u64) -> Self {
        let input = prefix.chain(Bounded::new(input, RECORD_MAX_BYTES));
        let csv = ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input);
        Self { csv, record: ByteRecord::new(), next_row: first_row, base, prefix_len: prefix.len() as u64 }
    }

    /// Reads the first record as the header's column names.
    pub fn read_header(&mut self) -> Result<Vec<String>, FileError> {
        let record = self.next_record()?.ok_or(FileError::Empty)?;
        if record.fields.len() > HEADER_MAX_COLUMNS {
            return Err(FileError::HeaderTooWide { columns: record.fields.len(), max: HEADER_MAX_COLUMNS });
        }
        record
            .fields
            .iter()
            .map(|field| std::str::from_utf8(field).map(str::to_owned).map_err(|_| FileError::HeaderNotUtf8))
            .collect()
    }

    /// The next record with any field that is not blank; blank records (empty lines, rows of empty cells) are
    /// skipped, though rows of empty cells still count as rows, as they do in a spreadsheet.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, FileError> {
        loop {
            let row = self.next_row;
            let more = self.csv.read_byte_record(&mut self.record).map_err(|err| csv_error(err, row))?;
            if !more {
                return Ok(None);
            }
            self.next_row += 1;
            if self.record.iter().all(|field| field.trim_ascii().is_empty()) {
                continue;
            }
            let start = self.record.position().map_or(0, |p| p.byte());
            let end = self.csv.position().byte();
            let range = ByteRange { start: self.file_offset(start), end: self.file_offset(end) };
            return Ok(Some(Record { row, range, fields: &self.record }));
        }
    }

    fn file_offset(&self, reader_offset: u64) -> u64 {
        self.base + reader_offset.saturating_sub(self.prefix_len)
    }
}

/// `row` is the row being read when the error came.
fn csv_error(err: csv::Error, row: u64) -> FileError {
    match err.into_kind() {
        csv::ErrorKind::Io(err) => match Bounded::<io::Empty>::overrun(&err) {
            Some(overrun) => FileError::RecordTooLarge { row, cap: overrun.cap },
            None => FileError::Io(err),
        },
        // With byte records and flexible rows the parser reports nothing but I/O errors.
        other => FileError::Io(io::Error::other(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[u8]) -> Vec<(u64, ByteRange, Vec<String>)> {
        let mut reader = RecordReader::new(data);
        let mut out = Vec::new();
        while let Some(record) = reader.next_record().unwrap() {
            let fields = record.fields.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
            out.push((record.row, record.range, fields));
        }
        out
    }

    #[test]
    fn numbers_rows_like_a_spreadsheet() {
        let data = b"\xEF\xBB\xBFa,b\r\n1,2\r\n\"x\r\ny\",3\r\n,\r\n4,5\r\n\r\n\r\n";
        let got = rows(data);
        let numbers: Vec<u64> = got.iter().map(|r| r.0).collect();
        // header 1, "1,2" 2, quoted line break stays row 3, the row of empty cells is row 4, "4,5" row 5.
        assert_eq!(numbers, vec![1, 2, 3, 5]);
        assert_eq!(got[0].2, vec!["a", "b"], "the byte-order mark is not part of the first column's name");
        assert_eq!(got[2].2, vec!["x\r\ny", "3"]);
    }

    #[test]
    fn ranges_tile_the_file_and_reparse_alone() {
        let data = b"a,b\n1,2\n\"x\ny\",3\n4,5";
        let got = rows(data);
        for window in got.windows(2) {
            assert_eq!(window[0].1.end, window[1].1.start);
        }
        assert_eq!(got.last().unwrap().1.end, data.len() as u64);
        for (row, range, fields) in &got[1..] {
            let slice = &data[range.start as usize..range.end as usize];
            let mut reader = RecordReader::for_range(slice, range.start, *row);
            let record = reader.next_record().unwrap().unwrap();
            assert_eq!(record.row, *row);
            assert_eq!(record.range, *range);
            let reparsed: Vec<String> = record.fields.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
            assert_eq!(&reparsed, fields);
            assert!(reader.next_record().unwrap().is_none());
        }
    }

    #[test]
    fn a_field_starting_with_a_bom_survives_a_range_read() {
        let data = "a\n\u{feff}x\n".as_bytes();
        let got = rows(data);
        let range = got[1].1;
        let mut reader = RecordReader::for_range(&data[range.start as usize..], range.start, 2);
        assert_eq!(reader.next_record().unwrap().unwrap().fields.get(0), Some("\u{feff}x".as_bytes()));
    }

    /// Files that would have the parser hold hundreds of megabytes are refused after a few megabytes, with the row.
    #[test]
    fn records_too_large_for_any_row_are_refused_early() {
        let single_line = io::repeat(b'x').take(300 << 20);
        let err = RecordReader::new(single_line).read_header().unwrap_err();
        assert_eq!(err, FileError::RecordTooLarge { row: 1, cap: RECORD_MAX_BYTES });
        assert_eq!(err.code(), "row.too_large");

        let cell = b"action,username\nadd,\"".chain(io::repeat(b'y').take(100 << 20)).chain(&b"\"\n"[..]);
        let mut reader = RecordReader::new(cell);
        reader.read_header().unwrap();
        let err = reader.next_record().err().unwrap();
        assert_eq!(err, FileError::RecordTooLarge { row: 2, cap: RECORD_MAX_BYTES });
        assert!(!err.to_string().contains("yyyy"), "{err}");
    }

    /// A quote in the middle of a cell (a height, `5'10"`) is a character to the parser: the rows after it are small
    /// records of their own, not one record run over the cap.
    #[test]
    fn a_quote_inside_a_cell_does_not_join_the_rows_after_it() {
        let rows = RECORD_MAX_BYTES as usize / 16 + 1000;
        let mut file = String::from("action,username,notes\nadd,tall,5'10\"\n");
        file.extend((0..rows).map(|i| format!("add,user{i:07},\n")));
        assert!(file.len() as u64 > RECORD_MAX_BYTES);
        let mut reader = RecordReader::new(file.as_bytes());
        reader.read_header().unwrap();
        let mut read = 0;
        while let Some(record) = reader.next_record().unwrap() {
            assert_eq!(record.fields.len(), 3);
            read += 1;
        }
        assert_eq!(read, rows + 1);
    }

    /// A quote the parser keeps open for the rest of the file, after a quote inside a cell, is stopped at the cap
    /// like any other, however short the lines it runs over: the parser would hold all of them in one record.
    #[test]
    fn a_quote_left_open_after_a_quote_inside_a_cell_is_stopped_at_the_cap() {
        let mut file = b"action,username\nadd,x\"y,\"open\n".to_vec();
        file.extend(std::iter::repeat_n(b"ww\n".as_slice(), RECORD_MAX_BYTES as usize / 3 + 10).flatten());
        let mut reader = RecordReader::new(file.as_slice());
        reader.read_header().unwrap();
        let err = reader.next_record().err().unwrap();
        assert_eq!(err, FileError::RecordTooLarge { row: 2, cap: RECORD_MAX_BYTES });
    }

    #[test]
    fn a_header_of_a_hundred_thousand_columns_is_refused_by_its_width() {
        let header: Vec<String> = (0..100_000).map(|i| format!("c{i}")).collect();
        let text = format!("{}\n", header.join(","));
        let err = RecordReader::new(text.as_bytes()).read_header().unwrap_err();
        assert_eq!(err, FileError::HeaderTooWide { columns: 100_000, max: HEADER_MAX_COLUMNS });
        assert_eq!(err.code(), "header.too_wide");
    }

    #[test]
    fn an_empty_input_has_no_header() {
        assert_eq!(RecordReader::new(&b""[..]).read_header().unwrap_err(), FileError::Empty);
        assert_eq!(RecordReader::new(&b"\n\n"[..]).read_header().unwrap_err(), FileError::Empty);
        assert_eq!(RecordReader::new(&b"\xff\xfe,a\n"[..]).read_header().unwrap_err(), FileError::HeaderNotUtf8);
    }
}
