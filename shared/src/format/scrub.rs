//! A copy of an uploaded file without its passwords, for what outlives the job's run (its report, a retry): every
//! byte as it was but the password cells, which are emptied. A row whose cells are in doubt (a shifted column, a
//! quote left open: a password may sit in any of its cells) keeps none of them, only a marker in its first cell, so
//! that the report still shows the row with its outcome. Rows keep their numbers: the report pairs the copy's rows
//! with the job's by number.

use std::io::{self, Read, Write};

use csv::{ByteRecord, WriterBuilder};

use super::{Field, FileError, Header, RecordReader, columns_in_doubt};

/// What stands in the first cell of a row whose cells were removed.
pub const REMOVED: &str = "[removed: the row's columns were in doubt]";

/// What the copy changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scrubbed {
    /// Password cells emptied.
    pub passwords: u64,
    /// Rows in doubt whose cells were all removed.
    pub rows_removed: u64,
}

/// Writes `out`, the file read twice over (`records` parsed as CSV, `raw` as its bytes, from the start both) with
/// `header`'s password cells emptied, and the rows `invalid` names (by number) kept as the marker alone: a row that
/// failed validation may have its cells shifted with its field count unchanged (an unquoted comma, and a trailing
/// value left out), a password in any of them.
pub fn scrub(
    records: impl Read,
    mut raw: impl Read,
    header: &Header,
    invalid: impl Fn(u64) -> bool,
    mut out: impl Write,
) -> Result<Scrubbed, FileError> {
    let mut reader = RecordReader::new(records);
    reader.read_header()?;
    let password_at = header.position(Field::Password);
    let columns = header.len();
    let mut scrubbed = Scrubbed::default();
    let mut copied = 0u64;
    while let Some(record) = reader.next_record()? {
        // What lies before the record (the header, blank lines) goes over as it is.
        copy(&mut raw, &mut out, record.range.start - copied)?;
        let mut bytes = Vec::with_capacity(record.range.len() as usize);
        (&mut raw).take(record.range.len()).read_to_end(&mut bytes)?;
        copied = record.range.end;
        let in_doubt = columns_in_doubt(record.fields, columns) || invalid(record.row);
        let has_password = password_at.and_then(|at| record.fields.get(at)).is_some_and(|cell| !cell.is_empty());
        if !in_doubt && !has_password {
            out.write_all(&bytes)?;
            continue;
        }
        let mut cells = ByteRecord::new();
        for (at, cell) in record.fields.iter().enumerate() {
            match (in_doubt, Some(at) == password_at) {
                (true, _) if at == 0 => cells.push_field(REMOVED.as_bytes()),
                (true, _) | (false, true) => cells.push_field(b""),
                (false, false) => cells.push_field(cell),
            }
        }
        if in_doubt {
            scrubbed.rows_removed += 1;
        } else {
            scrubbed.passwords += 1;
        }
        out.write_all(&rewritten(&bytes, &cells)?)?;
    }
    io::copy(&mut raw, &mut out)?;
    Ok(scrubbed)
}

/// The record's new bytes: its leading blank lines and its line ending as they were, its cells written anew.
fn rewritten(original: &[u8], cells: &ByteRecord) -> io::Result<Vec<u8>> {
    let leading = original.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
    let ending: &[u8] = if original.ends_with(b"\r\n") {
        b"\r\n"
    } else if original.ends_with(b"\n") {
        b"\n"
    } else {
        b""
    };
    let mut line = original[..leading].to_vec();
    let mut writer = WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    writer.write_byte_record(cells)?;
    let written = writer.into_inner().map_err(|e| io::Error::other(e.to_string()))?;
    line.extend_from_slice(written.strip_suffix(b"\n").unwrap_or(&written));
    line.extend_from_slice(ending);
    Ok(line)
}

fn copy(raw: &mut impl Read, out: &mut impl Write, len: u64) -> io::Result<()> {
    let copied = io::copy(&mut raw.take(len), out)?;
    if copied < len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file is shorter than its records"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TelephonyModel;
    use crate::format::DialectChoice;

    fn header_of(text: &str) -> Header {
        let names = RecordReader::new(text.as_bytes()).read_header().unwrap();
        Header::parse(names, DialectChoice::Auto, None, TelephonyModel::AmazonConnect).unwrap()
    }

    fn rows_of(text: &str) -> Vec<(u64, Vec<String>)> {
        let mut reader = RecordReader::new(text.as_bytes());
        reader.read_header().unwrap();
        let mut rows = Vec::new();
        while let Some(record) = reader.next_record().unwrap() {
            rows.push((record.row, record.fields.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect()));
        }
        rows
    }

    #[test]
    fn passwords_go_and_every_other_byte_and_row_number_stays() {
        let text = "action,username,password,first_name,last_name,routing_profile,security_profiles\r\n\
                    add,ann,Welcome1!Aa,Ann,Lee,Basic Routing Profile,Agent\r\n\
                    \r\n\
                    update,bob,,Bob,\"Ray, Jr\",Basic Routing Profile,Agent\r\n\
                    add,cy,\"Pass,word\"\"9\",Cy,\"Two\r\nLines\",Basic Routing Profile,Agent\r\n\
                    add,dee,Hunter2!Xx,Dee,Doe,Basic Routing Profile,Agent,Shifted!Pw1\r\n\
                    add,eve,Welcome2!Bb,Eve,Ng,Basic Routing Profile,Agent";
        let header = header_of(text);
        let mut out = Vec::new();
        let scrubbed = scrub(text.as_bytes(), text.as_bytes(), &header, |_| false, &mut out).unwrap();
        let copy = String::from_utf8(out).unwrap();
        assert_eq!(scrubbed, Scrubbed { passwords: 2, rows_removed: 2 }, "{copy}");
        for secret in ["Welcome1", "Pass,word", "Hunter2", "Shifted", "Welcome2"] {
            assert!(!copy.contains(secret), "{secret} left in {copy}");
        }
        assert!(copy.starts_with("action,username,password,"), "the header as it was");
        assert!(
            copy.contains("\r\nupdate,bob,,Bob,\"Ray, Jr\",Basic Routing Profile,Agent\r\n"),
            "untouched rows as they were"
        );
        assert!(copy.contains("add,ann,,Ann,Lee,"), "{copy}");
        let (before, after) = (rows_of(text), rows_of(&copy));
        let numbers = |rows: &[(u64, Vec<String>)]| rows.iter().map(|(row, _)| *row).collect::<Vec<_>>();
        assert_eq!(numbers(&before), numbers(&after), "every row keeps its number");
        assert_eq!(after[2].1[0], REMOVED, "a row in doubt keeps only the marker");
        assert!(copy.ends_with("add,eve,,Eve,Ng,Basic Routing Profile,Agent"), "no line ending added: {copy}");
    }
}
