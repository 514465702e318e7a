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

mod http;

pub use http::HttpTransport;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use ecites_aws::notify::{
    DynamoClaims, DynamoSubscriptions, NotifyClients, S3XmlLinks, SnsTopic, SqsWebhookQueue,
    SsmSecrets,
};
use ecites_aws::telemetry::emit_emf;
use ecites_aws::{Clients, S3BlobStore};
use ecites_exchange::notify::{
    deliver_webhook, notify_change, Change, Image, NotifyServices, WebhookOutcome, WebhookPolicy,
    WebhookServices,
};
use ecites_exchange::{Clock, SystemClock};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use std::env;
use std::sync::Arc;
use std::time::Duration;

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// The notify functions' configuration, from the environment as Lambda passes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyConfig {
    /// This deployment's MA country (`ECITES_COUNTRY`), the CloudEvents source.
    pub country: String,
    /// The bucket with the outbox (`ECITES_BUCKET`).
    pub bucket: String,
    /// The ledger table (`ECITES_TABLE`): registry and claims live there too.
    pub table: String,
    /// The notifications topic (`ECITES_TOPIC_ARN`, as `infra/template.yaml` names it).
    pub topic_arn: String,
    /// The webhook queue (`ECITES_WEBHOOK_QUEUE_URL`).
    pub webhook_queue_url: String,
    /// How long the registry is cached in a warm function (`ECITES_SUBSCRIPTIONS_CACHE_S`,
    /// default 60).
    pub subscriptions_cache: Duration,
    /// First retry delay of a failed webhook, doubled per attempt (`ECITES_WEBHOOK_BACKOFF_S`,
    /// default 30, at most 900).
    pub webhook_backoff_s: i32,
    /// Webhook HTTP timeout (`ECITES_WEBHOOK_TIMEOUT_S`, default 10).
    pub webhook_timeout: Duration,
    /// Emulator endpoint (`AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// Region (`AWS_REGION`).
    pub region: String,
    /// Where webhooks may go ([`WebhookPolicy::from_env`]: `ECITES_ALLOW_LOOPBACK_WEBHOOKS`
    /// for local runs, `AWS_LAMBDA_RUNTIME_API`).
    pub webhook_policy: WebhookPolicy,
}

fn required(name: &str) -> Result<String, ConfigError> {
    env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ConfigError(format!("environment variable {name} is not set")))
}

fn number(name: &str, default: u64) -> Result<u64, ConfigError> {
    match env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("{name}={text:?} is not a number"))),
        Err(_) => Ok(default),
    }
}

impl NotifyConfig {
    /// Reads the configuration from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(NotifyConfig {
            country: required("ECITES_COUNTRY")?,
            bucket: required("ECITES_BUCKET")?,
            table: required("ECITES_TABLE")?,
            topic_arn: required("ECITES_TOPIC_ARN")?,
            webhook_queue_url: required("ECITES_WEBHOOK_QUEUE_URL")?,
            subscriptions_cache: Duration::from_secs(number("ECITES_SUBSCRIPTIONS_CACHE_S", 60)?),
            webhook_backoff_s: number("ECITES_WEBHOOK_BACKOFF_S", 30)?.min(900) as i32,
            webhook_timeout: Duration::from_secs(number("ECITES_WEBHOOK_TIMEOUT_S", 10)?),
            endpoint_url: env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()),
            region: env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned()),
            webhook_policy: WebhookPolicy::from_env(),
        })
    }
}

/// Flattens a stream image (DynamoDB JSON) to text: `S` and `N` values, the rest dropped.
fn flatten(item: &serde_dynamo::Item) -> Image {
    let mut image = Image::new();
    if let Ok(Value::Object(fields)) = serde_json::to_value(item) {
        for (name, value) in fields {
            let text = value
                .get("S")
                .or_else(|| value.get("N"))
                .and_then(Value::as_str);
            if let Some(text) = text {
                image.insert(name, text.to_owned());
            }
        }
    }
    image
}

/// The change a stream record carries.
pub fn change_of(record: &EventRecord) -> Change {
    Change {
        event_name: record.event_name.clone(),
        old: flatten(&record.change.old_image),
        new: flatten(&record.change.new_image),
    }
}

/// The batch response: the failed record's sequence number, if any. Built from JSON because
/// the response structs are `#[non_exhaustive]` and (unlike SQS's) have no `add_failure`.
pub fn stream_response(failed_sequence: Option<String>) -> DynamoDbEventResponse {
    let failures: Vec<Value> = failed_sequence
        .into_iter()
        .map(|s| serde_json::json!({ "itemIdentifier": s }))
        .collect();
    serde_json::from_value(serde_json::json!({ "batchItemFailures": failures })).unwrap_or_default()
}

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

    /// Handles one stream batch, in order. At the first record that fails, its sequence number
    /// is reported and the rest of the batch is left alone: Lambda retries from that record,
    /// keeping the order of a permit's changes, and the claims make the records already done
    /// harmless when seen again.
    pub async fn handle(
        &self,
        event: LambdaEvent<Event>,
    ) -> Result<DynamoDbEventResponse, lambda_runtime::Error> {
        let services = NotifyServices {
            blobs: &self.blobs,
            registry: &self.registry,
            claims: &self.claims,
            topic: &self.topic,
            webhooks: &self.webhooks,
            clock: self.clock.as_ref(),
        };
        let mut failed_sequence: Option<String> = None;
        let (mut events, mut published, mut queued, mut duplicates, mut failed) =
            (0u32, 0u32, 0usize, 0usize, 0u32);
        for record in &event.payload.records {
            let sequence = record.change.sequence_number.clone().unwrap_or_default();
            match notify_change(services, &self.country, &change_of(record)).await {
                Ok(outcome) => {
                    if let Some((kind, id)) = &outcome.event {
                        events += 1;
                        tracing::info!(event = %kind, event_id = %id, published = outcome.published, webhooks = outcome.webhooks_queued, "notified");
                    }
                    published += u32::from(outcome.published);
                    queued += outcome.webhooks_queued;
                    duplicates += outcome.duplicates;
                }
                Err(error) => {
                    failed += 1;
                    tracing::warn!(sequence = %sequence, transient = error.is_transient(), error = %error, "notification failed: the stream will retry from this record");
                    failed_sequence = Some(sequence);
                    break;
                }
            }
        }
        emit_emf(
            "notify",
            &[
                ("NotificationEvents", f64::from(events)),
                ("NotificationsPublished", f64::from(published)),
                ("WebhooksQueued", queued as f64),
                ("NotificationDuplicates", duplicates as f64),
                ("StreamRecordsFailed", f64::from(failed)),
            ],
            self.clock.now().timestamp_millis(),
        );
        Ok(stream_response(failed_sequence))
    }

    /// The registry (for tests and the local tools).
    pub fn registry(&self) -> &DynamoSubscriptions {
        &self.registry
    }
}

/// The webhook queue consumer, built once per process.
pub struct WebhookFunction {
    links: S3XmlLinks,
    registry: DynamoSubscriptions,
    secrets: SsmSecrets,
    transport: HttpTransport,
    queue: SqsWebhookQueue,
    backoff_s: i32,
    clock: Arc<dyn Clock>,
    policy: WebhookPolicy,
}

impl WebhookFunction {
    /// Wires the AWS implementations and the HTTP client.
    pub fn new(
        config: &NotifyConfig,
        clients: &Clients,
        notify: &NotifyClients,
    ) -> Result<Self, ecites_exchange::Error> {
        Ok(WebhookFunction {
            links: S3XmlLinks::new(clients.s3.clone()),
            registry: DynamoSubscriptions::new(
                clients.dynamodb.clone(),
                &config.table,
                Duration::ZERO,
            ),
            secrets: SsmSecrets::new(notify.ssm.clone()),
            transport: HttpTransport::new(config.webhook_timeout, config.webhook_policy)?,
            queue: SqsWebhookQueue::new(clients.sqs.clone(), &config.webhook_queue_url),
            backoff_s: config.webhook_backoff_s,
            clock: Arc::new(SystemClock),
            policy: config.webhook_policy,
        })
    }

    /// Handles one batch of webhook jobs; failures are returned in `batchItemFailures` with
    /// their next attempt postponed by `backoff * 2^(receives - 1)` seconds (at most 15 min).
    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let services = WebhookServices {
            links: Some(&self.links),
            registry: &self.registry,
            secrets: &self.secrets,
            transport: &self.transport,
            clock: self.clock.as_ref(),
            policy: self.policy,
        };
        let mut response = SqsBatchResponse::default();
        let (mut delivered, mut unsubscribed, mut failed) = (0u32, 0u32, 0u32);
        for record in event.payload.records {
            let message_id = record.message_id.clone().unwrap_or_default();
            let body = record.body.as_deref().unwrap_or("");
            match deliver_webhook(services, body).await {
                Ok(WebhookOutcome::Delivered { status }) => {
                    delivered += 1;
                    tracing::info!(message_id = %message_id, status, "webhook delivered");
                }
                Ok(WebhookOutcome::Unsubscribed) => {
                    unsubscribed += 1;
                    tracing::info!(message_id = %message_id, "subscription removed: webhook dropped");
                }
                Err(error) => {
                    failed += 1;
                    let receives: u32 = record
                        .attributes
                        .get("ApproximateReceiveCount")
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(1);
                    let delay = self
                        .backoff_s
                        .saturating_mul(1 << receives.saturating_sub(1).min(10))
                        .min(900);
                    tracing::warn!(message_id = %message_id, receives, retry_in_s = delay, error = %error, "webhook failed: retried later, then the DLQ");
                    if let Some(handle) = record.receipt_handle.as_deref() {
                        if let Err(error) = self.queue.retry_after(handle, delay).await {
                            tracing::warn!(%error, "could not postpone the retry: the queue's visibility timeout applies");
                        }
                    }
                    response.add_failure(message_id);
                }
            }
        }
        emit_emf(
            "webhooks",
            &[
                ("WebhooksDelivered", f64::from(delivered)),
                ("WebhooksUnsubscribed", f64::from(unsubscribed)),
                ("WebhooksFailed", f64::from(failed)),
            ],
            self.clock.now().timestamp_millis(),
        );
        Ok(response)
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
    fn sample_stream_is_an_issued_permit_then_its_delivery() {
        let event = sample();
        let changes: Vec<_> = event.records.iter().map(change_of).collect();
        assert_eq!(changes.len(), 3);
        let issued = state_change(&changes[0]).expect("the version is an event");
        assert_eq!(issued.event, EventType::Issued);
        assert_eq!(issued.id, "XA/25XA000123/v1/issued");
        assert!(issued.xml_key.is_some());
        // A new PENDING delivery is not news; its move to DELIVERED is.
        assert_eq!(state_change(&changes[1]), None);
        let delivered = state_change(&changes[2]).expect("the delivery is an event");
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
