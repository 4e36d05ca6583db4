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

/// Passes bytes through while tracking where records end (a line break outside quotes, the quote being `"` and
/// `""` its escape, as RFC 4180 and the csv crate read it), and fails the read once one record has run over `cap`.
pub struct Bounded<R> {
    inner: R,
    cap: u64,
    in_quotes: bool,
    since_boundary: u64,
}

impl<R: Read> Bounded<R> {
    pub fn new(inner: R, cap: u64) -> Self {
        Self { inner, cap, in_quotes: false, since_boundary: 0 }
    }

    /// The overrun an I/O error from this reader carries, if it is one.
    pub fn overrun(err: &io::Error) -> Option<RecordOverrun> {
        err.get_ref().and_then(|inner| inner.downcast_ref::<RecordOverrun>()).copied()
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        for &byte in &buf[..read] {
            match byte {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' | b'\r' if !self.in_quotes => {
                    self.since_boundary = 0;
                    continue;
                }
                _ => {}
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
}
