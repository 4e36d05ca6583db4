//! Groups valid rows into chunks: byte ranges that, read alone with the header, parse to exactly their rows.

use serde::{Deserialize, Serialize};

use super::reader::ByteRange;

/// A run of consecutive valid rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// 0-based, in file order.
    pub index: u32,
    pub range: ByteRange,
    /// Row number of the first row in the range.
    pub first_row: u64,
    /// Row number of the last row in the range.
    pub last_row: u64,
    /// How many rows the range holds.
    pub rows: u32,
}

/// Builds chunks as rows stream by. An invalid row ends the chunk before it, so that no chunk holds a row it must
/// not provision; blank rows inside a range parse to nothing and do not matter.
#[derive(Debug)]
pub struct ChunkPlanner {
    max_rows: u32,
    next_index: u32,
    open: Option<Chunk>,
}

impl ChunkPlanner {
    /// `max_rows` below 1 counts as 1: a chunk holds at least one row.
    pub fn new(max_rows: u32) -> Self {
        Self { max_rows: max_rows.max(1), next_index: 0, open: None }
    }

    /// Adds a valid row; returns the chunk it completed, if it filled one.
    pub fn push_valid(&mut self, row: u64, range: ByteRange) -> Option<Chunk> {
        match &mut self.open {
            Some(chunk) => {
                chunk.range.end = range.end;
                chunk.last_row = row;
                chunk.rows += 1;
            }
            None => {
                self.open = Some(Chunk { index: self.next_index, range, first_row: row, last_row: row, rows: 1 });
                self.next_index += 1;
            }
        }
        if self.open.is_some_and(|chunk| chunk.rows >= self.max_rows) { self.open.take() } else { None }
    }

    /// Notes a row that must not be provisioned; returns the chunk it closed, if one was open.
    pub fn push_invalid(&mut self) -> Option<Chunk> {
        self.open.take()
    }

    /// Closes the last chunk.
    pub fn finish(mut self) -> Option<Chunk> {
        self.open.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    #[test]
    fn fills_chunks_up_to_the_limit() {
        let mut planner = ChunkPlanner::new(2);
        assert_eq!(planner.push_valid(2, range(10, 20)), None);
        let first = planner.push_valid(3, range(20, 30)).unwrap();
        assert_eq!(first, Chunk { index: 0, range: range(10, 30), first_row: 2, last_row: 3, rows: 2 });
        assert_eq!(planner.push_valid(4, range(30, 40)), None);
        let last = planner.finish().unwrap();
        assert_eq!(last, Chunk { index: 1, range: range(30, 40), first_row: 4, last_row: 4, rows: 1 });
    }

    #[test]
    fn an_invalid_row_closes_the_open_chunk() {
        let mut planner = ChunkPlanner::new(10);
        planner.push_valid(2, range(10, 20));
        assert_eq!(planner.push_invalid().map(|c| c.range), Some(range(10, 20)));
        assert_eq!(planner.push_invalid(), None);
        planner.push_valid(4, range(30, 40));
        assert_eq!(planner.finish().map(|c| (c.index, c.first_row)), Some((1, 4)));
    }
}
