//! The chunk queue port, and the in-process queue `ccbulk run` uses.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;

use crate::job::ChunkMessage;

#[derive(Debug, thiserror::Error)]
#[error("chunk queue: {0}")]
pub struct QueueError(pub String);

pub trait ChunkQueue: Send + Sync {
    /// Sends messages (SQS takes 10 a call; adapters batch as they must).
    fn send(&self, messages: &[ChunkMessage]) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// A FIFO in memory. Delivery is at least once: a consumer that fails a message puts it back.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    messages: Mutex<VecDeque<ChunkMessage>>,
}

impl MemoryQueue {
    pub fn receive(&self) -> Option<ChunkMessage> {
        self.messages.lock().ok()?.pop_front()
    }

    /// Returns a message whose processing failed, to be delivered again.
    pub fn redeliver(&self, message: ChunkMessage) {
        if let Ok(mut messages) = self.messages.lock() {
            messages.push_back(message);
        }
    }

    pub fn len(&self) -> usize {
        self.messages.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ChunkQueue for MemoryQueue {
    async fn send(&self, messages: &[ChunkMessage]) -> Result<(), QueueError> {
        let mut queue = self.messages.lock().map_err(|_| QueueError("the queue's lock is poisoned".into()))?;
        queue.extend(messages.iter().cloned());
        Ok(())
    }
}
