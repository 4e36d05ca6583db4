//! The chunk queue on SQS (feature `sqs`): messages go out in batches of ten (SQS's limit), and a batch entry SQS
//! refuses is an error, so that ingest never believes a chunk was queued when it was not.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use super::queue::{ChunkQueue, QueueError};
use crate::job::ChunkMessage;

/// SQS's most messages per batch.
const BATCH: usize = 10;

pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }
}

impl SqsQueue {
    /// Sends messages of any kind the workers take (chunks, undo rows), each as its JSON.
    pub async fn send_json<T: serde::Serialize>(&self, messages: &[T]) -> Result<(), QueueError> {
        for batch in messages.chunks(BATCH) {
            let entries = batch
                .iter()
                .enumerate()
                .map(|(i, message)| {
                    let body = serde_json::to_string(message).map_err(|e| QueueError(e.to_string()))?;
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(|e| QueueError(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let answer = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| match (e.code(), e.message()) {
                    (Some(code), Some(message)) => QueueError(format!("SQS {code}: {message}")),
                    // An answer the SDK could not read as an SQS error (a proxy's page, a dropped connection).
                    _ => QueueError(format!("SQS: {}", aws_sdk_sqs::error::DisplayErrorContext(&e))),
                })?;
            if let Some(refused) = answer.failed().first() {
                return Err(QueueError(format!(
                    "SQS refused {} of {} messages: {} ({})",
                    answer.failed().len(),
                    batch.len(),
                    refused.message().unwrap_or_default(),
                    refused.code()
                )));
            }
        }
        Ok(())
    }
}

impl ChunkQueue for SqsQueue {
    async fn send(&self, messages: &[ChunkMessage]) -> Result<(), QueueError> {
        self.send_json(messages).await
    }
}
