//! The notify Lambdas' handlers, in a library so that the Lambda binaries, the local runner and
//! the end-to-end tests call the very same code.
//!
//! - [`NotifyFunction`] consumes the ledger table's DynamoDB stream (outbox pattern): each
//!   committed state change becomes a CloudEvent on the SNS topic and one queued webhook per
//!   matching webhook subscription. Failures are reported by stream sequence number.
//! - [`WebhookFunction`] consumes the webhook queue: signs and POSTs, leaves failures on the
//!   queue with exponential backoff, and the queue's redrive policy moves what keeps failing to
//!   the webhook DLQ.

#![warn(missing_docs)]

pub use ecites_aws::http::HyperTransport;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use ecites_aws::batch::{receive_count, Handled, SqsBatch, StreamBatch, DEFAULT_CONCURRENCY};
use ecites_aws::dynamo::stream::{ledger_change, partition_key};
use ecites_aws::notify::{
    DynamoClaims, DynamoSubscriptions, NotifyClients, S3XmlLinks, SnsTopic, SqsWebhookQueue,
    SsmSecrets,
};
use ecites_aws::{Clients, S3BlobStore};
use ecites_exchange::notify::{
    deliver_webhook, notify_change, Notified, NotifyServices, WebhookOutcome, WebhookPolicy,
    WebhookServices,
};
use ecites_exchange::retry::RetryPolicy;
use ecites_exchange::{Clock, SystemClock};
use lambda_runtime::LambdaEvent;
use std::sync::Arc;
use std::time::Duration;

pub use ecites_aws::config::NotifyConfig;

pub use ecites_aws::batch::stream_response;

/// The metrics of a stream batch, in the order of its EMF line.
const NOTIFY_METRICS: &[&str] = &[
    "NotificationEvents",
    "NotificationsPublished",
    "WebhooksQueued",
    "NotificationDuplicates",
    "StreamRecordsFailed",
];

/// The metrics of a webhook batch, in the order of its EMF line.
const WEBHOOK_METRICS: &[&str] = &[
    "WebhooksDelivered",
    "WebhooksUnsubscribed",
    "WebhooksFailed",
];

/// Longest wait before a failed webhook's next attempt.
pub const WEBHOOK_BACKOFF_CAP: Duration = Duration::from_secs(900);

/// The stream consumer, built once per process.
pub struct NotifyFunction {
    country: String,
    blobs: S3BlobStore,
    registry: DynamoSubscriptions,
    claims: DynamoClaims,
    topic: SnsTopic,
    webhooks: SqsWebhookQueue,
    clock: Arc<dyn Clock>,
}

impl NotifyFunction {
    /// Wires the AWS implementations.
    pub fn new(config: &NotifyConfig, clients: &Clients, notify: &NotifyClients) -> Self {
        NotifyFunction {
            country: config.country.clone(),
            blobs: S3BlobStore::new(clients.s3.clone(), &config.bucket),
            registry: DynamoSubscriptions::new(
                clients.dynamodb.clone(),
                &config.table,
                config.subscriptions_cache,
            ),
            claims: DynamoClaims::new(clients.dynamodb.clone(), &config.table),
            topic: SnsTopic::new(notify.sns.clone(), &config.topic_arn),
            webhooks: SqsWebhookQueue::new(clients.sqs.clone(), &config.webhook_queue_url),
            clock: Arc::new(SystemClock),
        }
    }

    /// Notifies one stream record's change.
    async fn record(&self, record: &EventRecord) -> Handled {
        let services = NotifyServices {
            blobs: &self.blobs,
            registry: &self.registry,
            claims: &self.claims,
            topic: &self.topic,
            webhooks: &self.webhooks,
            clock: self.clock.as_ref(),
        };
        // Items agencies are never told of (hash rows, audit, claims, removals) decode to no
        // change: nothing to notify, the record is done.
        let notified = match ledger_change(record) {
            Some(change) => notify_change(services, &self.country, &change).await,
            None => Ok(Notified::default()),
        };
        match notified {
            Ok(outcome) => {
                if let Some((kind, id)) = &outcome.event {
                    tracing::info!(event = %kind, event_id = %id, published = outcome.published, webhooks = outcome.webhooks_queued, "notified");
                }
                Handled::done()
                    .count(
                        "NotificationEvents",
                        f64::from(u8::from(outcome.event.is_some())),
                    )
                    .count(
                        "NotificationsPublished",
                        f64::from(u8::from(outcome.published)),
                    )
                    .count("WebhooksQueued", outcome.webhooks_queued as f64)
                    .count("NotificationDuplicates", outcome.duplicates as f64)
            }
            Err(error) => {
                let sequence = record.change.sequence_number.as_deref().unwrap_or("");
                tracing::warn!(sequence = %sequence, transient = error.is_transient(), error = %error, "notification failed: the stream will retry from this record");
                Handled::retry().count("StreamRecordsFailed", 1.0)
            }
        }
    }

    /// Handles one stream batch: different permits' changes at the same time (at most
    /// [`DEFAULT_CONCURRENCY`]), one permit's in order. The first record, in batch order, that
    /// failed (or waited behind a failure of its permit) is reported: Lambda retries from that
    /// record, and the claims make the records already done harmless when seen again.
    pub async fn handle(
        &self,
        event: LambdaEvent<Event>,
    ) -> Result<DynamoDbEventResponse, lambda_runtime::Error> {
        Ok(self.notify_batch(&event.payload).await)
    }

    /// [`NotifyFunction::handle`] without the Lambda context: what `ecites replay
    /// --notify-failures` hands the records read again from the stream to, so a replay runs
    /// exactly the function's code. The answer names the first record not handled, if any.
    pub async fn notify_batch(&self, event: &Event) -> DynamoDbEventResponse {
        let batch = StreamBatch {
            function: "notify",
            metrics: NOTIFY_METRICS,
            concurrency: DEFAULT_CONCURRENCY,
            order: Some(partition_key),
            clock: self.clock.as_ref(),
        };
        batch
            .run(&event.records, |record| self.record(record))
            .await
    }

    /// The registry (for tests and the local tools).
    pub fn registry(&self) -> &DynamoSubscriptions {
        &self.registry
    }
}

/// A webhook job's ordering key: its subscription and the event's subject (the permit), so one
/// subscriber hears of one permit's events in the order they were queued.
fn webhook_order(record: &SqsMessage) -> Option<String> {
    let job: serde_json::Value = serde_json::from_str(record.body.as_deref()?).ok()?;
    let subscription = job.get("subscription_id")?.as_str()?;
    let subject = job.get("event")?.get("subject")?.as_str().unwrap_or("");
    Some(format!("{subscription} {subject}"))
}

/// The webhook queue consumer, built once per process.
pub struct WebhookFunction {
    links: S3XmlLinks,
    registry: DynamoSubscriptions,
    secrets: SsmSecrets,
    /// The HTTP client, made by the first job (not at start: its TLS set-up with the native
    /// root certificates is a cold start's largest cost).
    transport: tokio::sync::OnceCell<HyperTransport>,
    timeout: Duration,
    queue: SqsWebhookQueue,
    backoff: RetryPolicy,
    clock: Arc<dyn Clock>,
    policy: WebhookPolicy,
}

impl WebhookFunction {
    /// Wires the AWS implementations; the HTTP client is made by the first job.
    pub fn new(config: &NotifyConfig, clients: &Clients, notify: &NotifyClients) -> Self {
        WebhookFunction {
            links: S3XmlLinks::new(clients.s3.clone()),
            registry: DynamoSubscriptions::new(
                clients.dynamodb.clone(),
                &config.table,
                Duration::ZERO,
            ),
            secrets: SsmSecrets::new(notify.ssm.clone()),
            transport: tokio::sync::OnceCell::new(),
            timeout: config.webhook_timeout,
            queue: SqsWebhookQueue::new(clients.sqs.clone(), &config.webhook_queue_url),
            backoff: RetryPolicy {
                // The webhook queue's redrive policy counts the receives.
                max_receives: u32::MAX,
                base: Duration::from_secs(u64::try_from(config.webhook_backoff_s).unwrap_or(0)),
                cap: WEBHOOK_BACKOFF_CAP,
            },
            clock: Arc::new(SystemClock),
            policy: config.webhook_policy,
        }
    }

    /// Whether the HTTP client has been made: only a job makes it.
    pub fn client_made(&self) -> bool {
        self.transport.initialized()
    }

    /// The HTTP client, made on the first call. Errors: the TLS set-up failing (no root
    /// certificates, [`ecites_exchange::http::HttpError::Setup`]); the next call tries again.
    async fn transport(&self) -> Result<&HyperTransport, ecites_exchange::http::HttpError> {
        self.transport
            .get_or_try_init(|| async { HyperTransport::for_webhooks(self.timeout, self.policy) })
            .await
    }

    /// Signs and POSTs one webhook job. A failure is retried after the backoff of
    /// [`RetryPolicy::delay`] (first `backoff`, doubled per receive, at most 15 min, with
    /// jitter), then the queue's redrive policy moves it to the DLQ.
    async fn record(&self, record: &SqsMessage) -> Handled {
        let message_id = record.message_id.as_deref().unwrap_or("");
        let transport = match self.transport().await {
            Ok(transport) => transport,
            Err(error) => {
                let error = error.into_error("webhook HTTP client");
                return self.failed(record, message_id, &error).await;
            }
        };
        let services = WebhookServices {
            links: Some(&self.links),
            registry: &self.registry,
            secrets: &self.secrets,
            transport,
            clock: self.clock.as_ref(),
            policy: self.policy,
        };
        let body = record.body.as_deref().unwrap_or("");
        match deliver_webhook(services, body).await {
            Ok(WebhookOutcome::Delivered { status }) => {
                tracing::info!(message_id = %message_id, status, "webhook delivered");
                Handled::done().count("WebhooksDelivered", 1.0)
            }
            Ok(WebhookOutcome::Unsubscribed) => {
                tracing::info!(message_id = %message_id, "subscription removed: webhook dropped");
                Handled::done().count("WebhooksUnsubscribed", 1.0)
            }
            Err(error) => self.failed(record, message_id, &error).await,
        }
    }

    /// A job that failed: retried after the backoff, then the queue's redrive policy moves it
    /// to the DLQ.
    async fn failed(
        &self,
        record: &SqsMessage,
        message_id: &str,
        error: &dyn std::fmt::Display,
    ) -> Handled {
        let receives = receive_count(record);
        let delay = self.backoff.delay(receives, None);
        tracing::warn!(message_id = %message_id, receives, retry_in_s = delay.as_secs(), error = %error, "webhook failed: retried later, then the DLQ");
        if let Some(handle) = record.receipt_handle.as_deref() {
            if let Err(error) = self.queue.postpone(handle, delay).await {
                tracing::warn!(%error, "could not postpone the retry: the queue's visibility timeout applies");
            }
        }
        Handled::retry().count("WebhooksFailed", 1.0)
    }

    /// Handles one batch of webhook jobs at the same time (at most [`DEFAULT_CONCURRENCY`]),
    /// the jobs of one subscription about one permit one after the other, in batch order;
    /// failures are returned in `batchItemFailures`.
    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let batch = SqsBatch {
            function: "webhooks",
            metrics: WEBHOOK_METRICS,
            concurrency: DEFAULT_CONCURRENCY,
            order: Some(webhook_order),
            dedupe: None,
            clock: self.clock.as_ref(),
        };
        Ok(batch
            .run(&event.payload.records, |record| self.record(record))
            .await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecites_exchange::notify::{state_change, EventType};

    fn sample() -> Event {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events/notify-ledger-stream.json");
        serde_json::from_str(&std::fs::read_to_string(path).expect("sample event"))
            .expect("a DynamoDB stream event")
    }

    #[test]
    fn webhook_jobs_keep_their_order_per_subscription_and_permit() {
        let job = |subscription: &str, subject: &str| {
            let mut record = SqsMessage::default();
            record.body = Some(
                serde_json::json!({"type": "webhook", "version": 1, "subscription_id": subscription,
                    "event": {"subject": subject}})
                .to_string(),
            );
            webhook_order(&record)
        };
        assert_eq!(job("ma", "XA/1"), job("ma", "XA/1"));
        assert_ne!(job("ma", "XA/1"), job("ma", "XA/2"));
        assert_ne!(job("ma", "XA/1"), job("customs", "XA/1"));
        assert_eq!(webhook_order(&SqsMessage::default()), None);
    }

    #[test]
    fn sample_stream_is_an_issued_permit_then_its_delivery() {
        let event = sample();
        let changes: Vec<_> = event.records.iter().map(ledger_change).collect();
        assert_eq!(changes.len(), 3);
        let issued = changes[0]
            .as_ref()
            .and_then(state_change)
            .expect("the version is an event");
        assert_eq!(issued.event, EventType::Issued);
        assert_eq!(issued.id, "XA/25XA000123/v1/issued");
        assert!(issued.xml_key.is_some());
        // A new PENDING delivery is not news; its move to DELIVERED is.
        assert_eq!(changes[1].as_ref().and_then(state_change), None);
        let delivered = changes[2]
            .as_ref()
            .and_then(state_change)
            .expect("the delivery is an event");
        assert_eq!(delivered.event, EventType::Delivered);
        assert_eq!(delivered.detail["recipient"], "XB");
    }

    #[test]
    fn batch_response_names_the_failed_sequence_number() {
        let json = serde_json::to_value(stream_response(Some("42".into()))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "42"}]})
        );
        let json = serde_json::to_value(stream_response(None)).unwrap();
        assert_eq!(json, serde_json::json!({"batchItemFailures": []}));
    }
}
