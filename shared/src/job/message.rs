//! The chunk message (DESIGN §6): which job, which object, the header, and the byte range and first row of the
//! chunk's rows. No row data and no secret travels in it; the worker reads exactly that range.

use std::io::Read;

use serde::{Deserialize, Serialize};

use super::model::{JobId, JobKind, ObjectRef};
use crate::domain::UserRow;
use crate::format::{Chunk, FileError, Header, RecordReader};
use crate::validate::{RowError, Setup, Validator};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkMessage {
    pub job_id: JobId,
    pub object: ObjectRef,
    pub header: Header,
    pub setup: Setup,
    pub chunk: Chunk,
    /// 0 as ingest sends the chunk; a retry of the job's failed rows sends it again with a round of its own (the
    /// retry's time), so that its rows go into a Salesforce bulk job of their own and do not follow the one whose
    /// outcome failed them.
    #[serde(default, skip_serializing_if = "is_first_round")]
    pub round: u32,
}

fn is_first_round(round: &u32) -> bool {
    *round == 0
}

impl ChunkMessage {
    /// What the chunk's rows are for: a plan's chunk writes nothing.
    pub fn kind(&self) -> JobKind {
        JobKind::of(&self.object)
    }

    /// The key of the chunk's Salesforce bulk job in the job store: the chunk, in its round.
    pub fn bulk_key(&self) -> u64 {
        (u64::from(self.round) << 32) | u64::from(self.chunk.index)
    }

    /// The chunk's rows, from `bytes`: the object's bytes from `chunk.range.start` (at least to `chunk.range.end`).
    /// Each row is checked again, as ingest did, so a worker never provisions a row it should not.
    pub fn rows(&self, bytes: impl Read) -> Result<Vec<Result<UserRow, Vec<RowError>>>, FileError> {
        let range = self.chunk.range;
        let mut reader = RecordReader::for_range(bytes.take(range.len()), range.start, self.chunk.first_row);
        let mut validator = Validator::for_chunk(self.header.clone(), self.setup);
        let mut rows = Vec::with_capacity(self.chunk.rows as usize);
        while let Some(record) = reader.next_record()? {
            rows.push(validator.check(&record));
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::format::ByteRange;
    use crate::validate::{Options, Visitor, validate};

    #[derive(Default)]
    struct Seen {
        header: Option<(Header, Setup)>,
        rows: Vec<UserRow>,
        chunks: Vec<Chunk>,
    }

    impl Visitor for Seen {
        fn header(&mut self, header: &Header, setup: Setup) {
            self.header = Some((header.clone(), setup));
        }
        fn row(&mut self, _range: ByteRange, outcome: &Result<UserRow, Vec<RowError>>) {
            if let Ok(row) = outcome {
                self.rows.push(row.clone());
            }
        }
        fn chunk(&mut self, chunk: &Chunk) {
            self.chunks.push(*chunk);
        }
    }

    #[test]
    fn a_message_carries_no_row_data_and_yields_exactly_its_rows() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ccbulk-agents.csv");
        let bytes = std::fs::read(&path).unwrap();
        let mut seen = Seen::default();
        validate(path.as_path(), &Options { chunk_rows: 5, ..Options::default() }, &mut seen).unwrap();
        let (header, setup) = seen.header.clone().unwrap();
        let object =
            ObjectRef { bucket: "local".into(), key: "examples/ccbulk-agents.csv".into(), version: "v".into() };
        let mut from_chunks = Vec::new();
        for chunk in &seen.chunks {
            let message = ChunkMessage {
                job_id: JobId::for_object(&object),
                object: object.clone(),
                header: header.clone(),
                setup,
                chunk: *chunk,
                round: 0,
            };
            let json = serde_json::to_string(&message).unwrap();
            assert!(
                !json.contains("Welcome") && !json.contains("northwind-support.com"),
                "no row data or secret: {json}"
            );
            let message: ChunkMessage = serde_json::from_str(&json).unwrap();
            let rows = message.rows(&bytes[chunk.range.start as usize..]).unwrap();
            assert_eq!(rows.len(), chunk.rows as usize);
            from_chunks.extend(rows.into_iter().map(|r| r.expect("chunks hold valid rows only")));
        }
        assert!(seen.chunks.len() >= 5, "several chunks");
        assert_eq!(from_chunks, seen.rows, "the chunks give back exactly the valid rows, passwords included");
    }
}
