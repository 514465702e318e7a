//! Plays Lambda's SQS event-source mapping: long-polls a queue, builds real `SqsEvent` batches,
//! calls the handler, deletes what succeeded and leaves reported failures to reappear after the
//! visibility timeout, so the queue's redrive policy moves poison messages to the DLQ exactly as
//! on AWS.

use anyhow::Context as _;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

/// What one poll did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollOutcome {
    /// Messages received.
    pub received: usize,
    /// Messages the handler reported as failed (left for redelivery).
    pub failed: usize,
    /// Messages deleted.
    pub deleted: usize,
}

impl std::fmt::Display for PollOutcome {
    /// `5 messages handled: 5 done, 0 left for a retry`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = if self.received == 1 { "" } else { "s" };
        write!(
            f,
            "{} message{plural} handled: {} done, {} left for a retry",
            self.received, self.deleted, self.failed
        )
    }
}

/// An event-source mapping for one queue.
#[derive(Clone, Debug)]
pub struct EventSource {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    region: String,
    /// Messages per batch (Lambda's BatchSize, at most 10 per receive).
    pub batch_size: i32,
    /// Long-poll wait per receive, in seconds.
    pub wait_time_s: i32,
    /// Lambda's `MaximumBatchingWindowInSeconds`: when not zero, messages are gathered by
    /// several receives until the batch is full or the window has passed (zero: one receive
    /// per batch, whatever it returns).
    pub batching_window: Duration,
}

impl EventSource {
    /// A mapping for `queue_url`.
    pub async fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: &str,
        region: &str,
    ) -> anyhow::Result<Self> {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await?;
        let queue_arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        Ok(EventSource {
            sqs,
            queue_url: queue_url.to_owned(),
            queue_arn,
            region: region.to_owned(),
            batch_size: 10,
            wait_time_s: 1,
            batching_window: Duration::ZERO,
        })
    }

    /// Receives one batch and runs the handler on it.
    pub async fn poll_once<F, Fut>(&self, handler: &F) -> anyhow::Result<PollOutcome>
    where
        F: Fn(LambdaEvent<SqsEvent>) -> Fut,
        Fut: Future<Output = Result<SqsBatchResponse, lambda_runtime::Error>>,
    {
        let size = self.batch_size.clamp(1, 10);
        let window_ends = Instant::now() + self.batching_window;
        let mut messages = Vec::new();
        loop {
            let mut receive = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(size - i32::try_from(messages.len()).unwrap_or(0))
                .wait_time_seconds(self.wait_time_s)
                .message_system_attribute_names(MessageSystemAttributeName::All);
            if !self.batching_window.is_zero() {
                // Held while the batch fills, whatever the queue's own timeout.
                let held = self.batching_window.as_secs().saturating_add(30);
                receive = receive.visibility_timeout(i32::try_from(held).unwrap_or(i32::MAX));
            }
            let output = receive.send().await.context("receiving messages")?;
            let received = output.messages.unwrap_or_default();
            let empty = received.is_empty();
            messages.extend(received);
            if messages.len() >= usize::try_from(size).unwrap_or(10)
                || self.batching_window.is_zero()
                || Instant::now() >= window_ends
                || (empty && !messages.is_empty())
            {
                break;
            }
        }
        if messages.is_empty() {
            return Ok(PollOutcome::default());
        }
        // Built from JSON, as Lambda delivers it: the event structs are #[non_exhaustive].
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: Map<String, Value> = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "md5OfBody": m.md5_of_body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": self.region,
                })
            })
            .collect();
        let event: SqsEvent = serde_json::from_value(json!({ "Records": records }))?;
        let result = handler(LambdaEvent::new(event, Context::default())).await;
        let failed: HashSet<String> = match result {
            Ok(response) => response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect(),
            // A handler error fails the whole batch, as in Lambda.
            Err(error) => {
                tracing::warn!(%error, "handler failed: the whole batch will be retried");
                messages
                    .iter()
                    .filter_map(|m| m.message_id().map(str::to_owned))
                    .collect()
            }
        };
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.message_id().is_some_and(|id| failed.contains(id)))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        let deleted = entries.len();
        if !entries.is_empty() {
            self.sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .context("deleting processed messages")?;
        }
        Ok(PollOutcome {
            received: messages.len(),
            failed: failed.len(),
            deleted,
        })
    }

    /// Messages visible plus in flight (received, not yet deleted).
    pub async fn backlog(&self) -> anyhow::Result<u64> {
        let output = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await?;
        let attributes = output.attributes();
        let count = |name: QueueAttributeName| -> u64 {
            attributes
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(count(QueueAttributeName::ApproximateNumberOfMessages)
            + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
    }

    /// Polls until the queue is empty with nothing in flight (or `timeout` passes), and returns
    /// the totals.
    pub async fn run_until_quiet<F, Fut>(
        &self,
        handler: &F,
        timeout: Duration,
    ) -> anyhow::Result<PollOutcome>
    where
        F: Fn(LambdaEvent<SqsEvent>) -> Fut,
        Fut: Future<Output = Result<SqsBatchResponse, lambda_runtime::Error>>,
    {
        let deadline = Instant::now() + timeout;
        let mut total = PollOutcome::default();
        while Instant::now() < deadline {
            let outcome = self.poll_once(handler).await?;
            total.received += outcome.received;
            total.failed += outcome.failed;
            total.deleted += outcome.deleted;
            if outcome.received == 0 && self.backlog().await? == 0 {
                return Ok(total);
            }
        }
        anyhow::bail!(
            "queue {} was not quiet after {timeout:?} ({total:?})",
            self.queue_url
        )
    }
}
