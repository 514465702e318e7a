//! Replaying the deliveries DLQ after a partner outage (`ecites replay`): every message on the
//! DLQ whose delivery is FAILED is put back to PENDING (conditionally, with an audit row) and
//! sent to the deliveries queue again; then it is deleted from the DLQ. A message whose
//! delivery is no longer FAILED (delivered meanwhile, or unknown) is just removed.
//!
//! And sending again, from the ledger, deliveries that ended without reaching the DLQ
//! ([`requeue_ended`]): those recorded NO_PARTNER because the recipient was not in the
//! directory (`ecites replay --no-partner XC`, once it is), and those a partner refused for good
//! (FAILED after a 401, 403 or 422: a wrong key, a stale endpoint; `ecites replay --failed XB`,
//! once the cause is fixed), selected by recipient, state and time.

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

/// Which deliveries to send again: to one recipient, in one state (NO_PARTNER or FAILED, or
/// PENDING for the ones a pull partner never fetched), moved there at or after `since` when
/// given.
#[derive(Clone, Copy, Debug)]
pub struct EndedDeliveries {
    /// The recipient country.
    pub recipient: ecites_domain::CountryCode,
    /// The state they ended in.
    pub state: DeliveryState,
    /// Only those that ended at or after this time.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

/// Reopens (PENDING, with an audit row) and queues, exactly as ingest queues them, up to `limit`
/// of the deliveries `which` selects. A delivery someone else reopened meanwhile is counted as
/// discarded and not sent twice.
///
/// PENDING deliveries (a partner that pulled and now takes pushes: forward had deleted their
/// messages, `docs/exchange.md` "Pull partners") are queued as they are, with no state to
/// reopen: forward sends one only while it is still PENDING, so a copy queued twice, or one the
/// partner fetched meanwhile, is dropped as already done.
pub async fn requeue_ended(
    sqs: &aws_sdk_sqs::Client,
    store: &DynamoLedger,
    bucket: &str,
    queue_url: &str,
    which: EndedDeliveries,
    limit: usize,
) -> Result<ReplayReport, Error> {
    let queue = SqsDeliveryQueue::new(sqs.clone(), queue_url);
    let mut report = ReplayReport::default();
    let ended = store
        .deliveries_in_state(which.recipient, which.state, which.since, bucket, limit)
        .await?;
    for delivery in ended {
        if which.state != DeliveryState::Pending
            && !store
                .reopen_ended(&delivery, chrono::Utc::now(), which.state)
                .await?
        {
            report.discarded += 1;
            continue;
        }
        queue.send(std::slice::from_ref(&delivery)).await?;
        report.requeued += 1;
    }
    Ok(report)
}
