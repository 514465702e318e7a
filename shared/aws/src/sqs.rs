//! SQS: the deliveries queue.

use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use ecites_exchange::{DeliveryMessage, DeliveryQueue, Error};

/// The deliveries queue.
#[derive(Clone, Debug)]
pub struct SqsDeliveryQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDeliveryQueue {
    /// The queue at `queue_url`.
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsDeliveryQueue {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl DeliveryQueue for SqsDeliveryQueue {
    async fn send(&self, messages: &[DeliveryMessage]) -> Result<(), Error> {
        // SendMessageBatch takes at most 10 entries: one request per 10 recipients.
        for chunk in messages.chunks(10) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (index, message) in chunk.iter().enumerate() {
                let body = serde_json::to_string(message)
                    .map_err(|e| Error::permanent("serialize delivery message", e))?;
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(body)
                    .build()
                    .map_err(|e| Error::permanent("sqs:SendMessageBatch entry", e))?;
                entries.push(entry);
            }
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| classify("sqs:SendMessageBatch", e))?;
            if let Some(failed) = output.failed().first() {
                return Err(Error::transient(
                    "sqs:SendMessageBatch",
                    format!(
                        "{} of {} messages not accepted, first: {} {}",
                        output.failed().len(),
                        chunk.len(),
                        failed.code(),
                        failed.message().unwrap_or("")
                    ),
                ));
            }
        }
        Ok(())
    }
}
