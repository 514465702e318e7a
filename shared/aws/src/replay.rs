//! Replaying the deliveries DLQ after a partner outage (`ecites replay`): every message on the
//! DLQ whose delivery is FAILED is put back to PENDING (conditionally, with an audit row) and
//! sent to the deliveries queue again; then it is deleted from the DLQ. A message whose
//! delivery is no longer FAILED (delivered meanwhile, or unknown) is just removed.

use crate::exchange_store::DynamoExchangeStore;
use ecites_exchange::forward::DeliveryTracker;
use ecites_exchange::ledger::DeliveryState;
use ecites_exchange::{DeliveryMessage, Error};

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Messages put back on the deliveries queue.
    pub requeued: usize,
    /// Messages removed because their delivery needs nothing (already delivered, unknown).
    pub discarded: usize,
    /// Messages that are not delivery messages, left on the DLQ for a person.
    pub unreadable: usize,
}

/// Moves the DLQ's delivery messages back to the deliveries queue (at most `limit`).
pub async fn replay_dlq(
    sqs: &aws_sdk_sqs::Client,
    store: &DynamoExchangeStore,
    dlq_url: &str,
    queue_url: &str,
    limit: usize,
) -> Result<ReplayReport, Error> {
    let mut report = ReplayReport::default();
    let mut seen = 0usize;
    while seen < limit {
        let output = sqs
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| crate::classify("sqs:ReceiveMessage", e))?;
        let messages = output.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            seen += 1;
            let body = message.body().unwrap_or_default();
            let Ok(delivery) = serde_json::from_str::<DeliveryMessage>(body) else {
                report.unreadable += 1;
                continue;
            };
            let now = chrono::Utc::now();
            let state = store.delivery_state(&delivery).await?;
            let requeue = match state {
                Some(DeliveryState::Failed) => store.reopen(&delivery, now).await?,
                Some(DeliveryState::Pending) => true,
                _ => false,
            };
            if requeue {
                sqs.send_message()
                    .queue_url(queue_url)
                    .message_body(body)
                    .send()
                    .await
                    .map_err(|e| crate::classify("sqs:SendMessage", e))?;
                report.requeued += 1;
            } else {
                report.discarded += 1;
            }
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(dlq_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| crate::classify("sqs:DeleteMessage", e))?;
            }
        }
    }
    Ok(report)
}
