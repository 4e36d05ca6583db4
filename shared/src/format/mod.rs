//! Reading input files: dialects, headers, records with their byte ranges, and chunks.

mod bounded;
pub mod chunk;
pub mod dialect;
pub mod error;
pub mod header;
pub mod reader;
pub mod scrub;
mod shown;

pub use bounded::RECORD_MAX_BYTES;
pub use chunk::{Chunk, ChunkPlanner};
pub use dialect::{Dialect, Field};
pub use error::FileError;
pub use header::{DialectChoice, Header};
pub use reader::{ByteRange, HEADER_MAX_COLUMNS, Record, RecordReader, columns_in_doubt, has_line_break};
