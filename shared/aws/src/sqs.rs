//! SQS: the deliveries queue, and the queue calls the functions make on the messages they
//! receive (postponing a retry, reading the redrive policy).

use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use ecites_exchange::{DeliveryMessage, DeliveryQueue, Error};
use std::time::Duration;

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
/// The longest visibility timeout SQS accepts (12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(43_200);

/// Postpones the next receive of a received message by `delay` (in whole seconds, at most
/// [`MAX_VISIBILITY`]): the backoff between two attempts.
pub async fn postpone(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    receipt_handle: &str,
    delay: Duration,
) -> Result<(), Error> {
    let seconds = i32::try_from(delay.min(MAX_VISIBILITY).as_secs()).unwrap_or(0);
    client
        .change_message_visibility()
        .queue_url(queue_url)
        .receipt_handle(receipt_handle)
        .visibility_timeout(seconds)
        .send()
        .await
        .map_err(|e| classify("sqs:ChangeMessageVisibility", e))?;
    Ok(())
}

/// The queue's `maxReceiveCount` from its redrive policy, when it has one (and can be read).
pub async fn max_receive_count(client: &aws_sdk_sqs::Client, queue_url: &str) -> Option<u32> {
    let output = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .ok()?;
    let policy = output
        .attributes()?
        .get(&QueueAttributeName::RedrivePolicy)?;
    let policy: serde_json::Value = serde_json::from_str(policy).ok()?;
    match policy.get("maxReceiveCount")? {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The queue URL for a queue ARN (`arn:aws:sqs:<region>:<account>:<name>`), in the form the
/// SQS API accepts in every region.
pub fn queue_url_from_arn(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [_, partition, _, region, account, name] = parts.as_slice() else {
        return None;
    };
    let domain = if partition.ends_with("-cn") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Some(format!("https://sqs.{region}.{domain}/{account}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_come_from_arns() {
        assert_eq!(
            queue_url_from_arn("arn:aws:sqs:eu-west-1:123456789012:ecites-deliveries").as_deref(),
            Some("https://sqs.eu-west-1.amazonaws.com/123456789012/ecites-deliveries")
        );
        assert_eq!(queue_url_from_arn("nonsense"), None);
    }
}
