//! The pipeline written once over ports (DESIGN §2): ingest a file; provision a chunk; answer status queries.

mod ingest;
mod queue;

pub use self::ingest::{IngestError, IngestOutcome, ingest};
pub use self::queue::{ChunkQueue, MemoryQueue, QueueError};
