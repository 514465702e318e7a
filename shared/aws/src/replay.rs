//! Replaying the deliveries DLQ after a partner outage (`ecites replay`): every message on the
//! DLQ whose delivery is FAILED is put back to PENDING (conditionally, with an audit row) and
//! sent to the deliveries queue again; then it is deleted from the DLQ. A message whose
//! delivery is no longer FAILED (delivered meanwhile, or unknown) is just removed.
//!
//! And sending what waited for a partner (`ecites replay --no-partner XC`): deliveries recorded
//! NO_PARTNER because XC was not in the directory are reopened and queued once it is.

use crate::dynamo::DynamoLedger;
use crate::sqs::SqsDeliveryQueue;
use ecites_exchange::forward::DeliveryTracker;
use ecites_exchange::ledger::DeliveryState;
use ecites_exchange::{DeliveryMessage, DeliveryQueue as _, Error};

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

impl std::fmt::Display for ReplayReport {
    /// `1 delivery put back on the deliveries queue, 0 discarded (delivered or unknown),
    /// 0 unreadable left on the DLQ`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = if self.requeued == 1 { "y" } else { "ies" };
        write!(
            f,
            "{} deliver{plural} put back on the deliveries queue, {} discarded (delivered or unknown), {} unreadable left on the DLQ",
            self.requeued, self.discarded, self.unreadable
        )
    }
}

/// Moves the DLQ's delivery messages back to the deliveries queue (at most `limit`).
pub async fn replay_dlq(
    sqs: &aws_sdk_sqs::Client,
    store: &DynamoLedger,
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

/// Queues the NO_PARTNER deliveries to `recipient` (at most `limit`), each reopened to PENDING
/// first: for after the partner has been added to the directory. `requeued` counts what was
/// sent; `discarded` what another operator or process reopened meanwhile.
pub async fn requeue_no_partner(
    sqs: &aws_sdk_sqs::Client,
    store: &DynamoLedger,
    bucket: &str,
    queue_url: &str,
    recipient: ecites_domain::CountryCode,
    limit: usize,
) -> Result<ReplayReport, Error> {
    let queue = SqsDeliveryQueue::new(sqs.clone(), queue_url);
    let mut report = ReplayReport::default();
    for delivery in store
        .no_partner_deliveries(recipient, bucket, limit)
        .await?
    {
        if !store
            .reopen_no_partner(&delivery, chrono::Utc::now())
            .await?
        {
            report.discarded += 1;
            continue;
        }
        // Queued exactly as ingest queues deliveries.
        queue.send(std::slice::from_ref(&delivery)).await?;
        report.requeued += 1;
    }
    Ok(report)
}
