//! The forward Lambda's handler, in a library so that the Lambda binary, the local runner and
//! the end-to-end tests call the very same code.
//!
//! It maps an `SqsEvent` from the deliveries queue through
//! [`ecites_exchange::forward::forward_delivery`] and the outcome back to SQS: delivered or
//! refused for good -> acknowledged; retry -> `ChangeMessageVisibility` to the backoff delay and
//! reported in `batchItemFailures`; retries exhausted -> FAILED in the ledger and reported, so
//! the redrive policy moves the message to the DLQ where `ecites replay` finds it.

#![warn(missing_docs)]

pub mod http;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use ecites_aws::exchange_config::queue_url_from_arn;
use ecites_aws::exchange_store::DynamoExchangeStore;
use ecites_aws::signing::{
    load_signing_identity, load_signing_identity_from_secret, secrets_client, ssm_client,
};
use ecites_aws::telemetry::emit_emf;
use ecites_aws::S3PartnerDirectory;
use ecites_aws::{ClientOptions, Clients, Config, S3BlobStore};
use ecites_exchange::forward::{forward_delivery, ForwardOutcome, ForwardServices, RetryPolicy};
use ecites_exchange::protocol::SigningIdentity;
use ecites_exchange::{Clock, DeliveryMessage, SystemClock};
pub use http::HttpTransport;
use lambda_runtime::LambdaEvent;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Why the function could not start.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// A setting is missing or wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// The signing key could not be loaded (the message names the parameter, never the key).
    #[error(transparent)]
    Key(#[from] ecites_exchange::Error),
}

/// Where the signing key is kept.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A Secrets Manager secret (`ECITES_SIGNING_KEY_SECRET`): JSON `{"key_id", "private_key"}`
    /// or a bare base64 seed with `ECITES_SIGNING_KEY_ID`.
    Secret {
        /// Secret name or ARN.
        name: String,
        /// Key id for a bare seed.
        key_id: Option<String>,
    },
    /// An SSM `SecureString` parameter (`ECITES_SIGNING_KEY_PARAMETER`) holding the base64
    /// seed, with `ECITES_SIGNING_KEY_ID`.
    Parameter {
        /// Parameter name.
        name: String,
        /// Key id.
        key_id: String,
    },
}

/// The forward function's settings beyond the common [`Config`].
#[derive(Clone, Debug)]
pub struct ForwardSettings {
    /// Where the signing key is.
    pub key: KeySource,
    /// Per-request timeout (`ECITES_FORWARD_TIMEOUT_MS`, default 10 000).
    pub timeout: Duration,
    /// Retry policy (`ECITES_RETRY_BASE_MS` default 30 000; `ECITES_RETRY_CAP_MS` default
    /// 900 000). `max_receives` is the queue's `maxReceiveCount`, read from its redrive policy
    /// at cold start unless `ECITES_MAX_RECEIVES` sets it.
    pub policy: RetryPolicy,
    /// Whether `policy.max_receives` was set explicitly (else read from the queue).
    pub max_receives_explicit: bool,
    /// How long the partner directory is cached.
    pub directory_ttl: Duration,
}

fn env_number(name: &str, default: u64) -> Result<u64, ForwardError> {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| ForwardError::Config(format!("{name}={text:?} is not a number"))),
        Err(_) => Ok(default),
    }
}

impl ForwardSettings {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self, ForwardError> {
        let optional = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let key_id = optional("ECITES_SIGNING_KEY_ID");
        let key = match (
            optional("ECITES_SIGNING_KEY_SECRET"),
            optional("ECITES_SIGNING_KEY_PARAMETER"),
        ) {
            (Some(name), _) => KeySource::Secret { name, key_id },
            (None, Some(name)) => KeySource::Parameter {
                name,
                key_id: key_id.ok_or_else(|| {
                    ForwardError::Config("ECITES_SIGNING_KEY_ID is not set".into())
                })?,
            },
            (None, None) => {
                return Err(ForwardError::Config(
                    "set ECITES_SIGNING_KEY_SECRET or ECITES_SIGNING_KEY_PARAMETER".into(),
                ))
            }
        };
        let max_receives = optional("ECITES_MAX_RECEIVES");
        Ok(ForwardSettings {
            key,
            timeout: Duration::from_millis(env_number("ECITES_FORWARD_TIMEOUT_MS", 10_000)?),
            policy: RetryPolicy {
                max_receives: u32::try_from(env_number("ECITES_MAX_RECEIVES", 5)?).unwrap_or(5),
                base: Duration::from_millis(env_number("ECITES_RETRY_BASE_MS", 30_000)?),
                cap: Duration::from_millis(env_number("ECITES_RETRY_CAP_MS", 900_000)?),
            },
            max_receives_explicit: max_receives.is_some(),
            directory_ttl: Duration::from_secs(300),
        })
    }
}

/// The queue's `maxReceiveCount` from its redrive policy, when it has one.
async fn max_receive_count(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Option<u32> {
    let output = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .ok()?;
    let policy = output
        .attributes()?
        .get(&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)?;
    let policy: serde_json::Value = serde_json::from_str(policy).ok()?;
    match policy.get("maxReceiveCount")? {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// What became of one record.
enum RecordResult {
    Delivered,
    Skipped,
    /// Failed for good; `report` leaves it for the redrive policy (retries exhausted).
    Failed {
        report: bool,
    },
    Retry,
}

/// The forward function's state, built once per process.
pub struct ForwardFunction {
    blobs: S3BlobStore,
    store: DynamoExchangeStore,
    partners: S3PartnerDirectory,
    transport: HttpTransport,
    signer: SigningIdentity,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl ForwardFunction {
    /// Wires the function with a signing key already loaded.
    pub fn new(
        config: &Config,
        clients: &Clients,
        settings: &ForwardSettings,
        signer: SigningIdentity,
    ) -> Result<Self, ForwardError> {
        Ok(ForwardFunction {
            blobs: S3BlobStore::new(clients.s3.clone(), &config.bucket),
            store: DynamoExchangeStore::new(clients.dynamodb.clone(), &config.table),
            partners: S3PartnerDirectory::new(
                clients.s3.clone(),
                &config.bucket,
                &config.partners_key,
                settings.directory_ttl,
            ),
            transport: HttpTransport::new(settings.timeout).map_err(ForwardError::Config)?,
            signer,
            clock: Arc::new(SystemClock),
            policy: settings.policy,
            sqs: clients.sqs.clone(),
            queue_url: config.deliveries_queue_url.clone(),
        })
    }

    /// Wires the function, reading the signing key from Secrets Manager or SSM, and the
    /// retry budget from the deliveries queue's redrive policy (unless set explicitly).
    pub async fn from_env(
        config: &Config,
        clients: &Clients,
        options: &ClientOptions,
        mut settings: ForwardSettings,
    ) -> Result<Self, ForwardError> {
        let endpoint = config.endpoint_url.as_deref();
        let signer = match &settings.key {
            KeySource::Secret { name, key_id } => {
                let secrets = secrets_client(endpoint, &config.region, options).await;
                load_signing_identity_from_secret(&secrets, name, key_id.as_deref()).await?
            }
            KeySource::Parameter { name, key_id } => {
                let ssm = ssm_client(endpoint, &config.region, options).await;
                load_signing_identity(&ssm, name, key_id).await?
            }
        };
        if !settings.max_receives_explicit && !config.deliveries_queue_url.is_empty() {
            if let Some(count) = max_receive_count(&clients.sqs, &config.deliveries_queue_url).await
            {
                settings.policy.max_receives = count;
            }
        }
        tracing::info!(key_id = %signer.key_id, max_receives = settings.policy.max_receives, "forward ready");
        Self::new(config, clients, &settings, signer)
    }

    /// The tracking store (for tests and status next to the handler).
    pub fn store(&self) -> &DynamoExchangeStore {
        &self.store
    }

    /// Forwards one record and applies the backoff to its message.
    async fn process(
        &self,
        services: ForwardServices<'_>,
        record: &aws_lambda_events::event::sqs::SqsMessage,
    ) -> (String, RecordResult) {
        let sqs_id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or("");
        let message: DeliveryMessage = match serde_json::from_str(body) {
            Ok(message) => message,
            Err(error) => {
                // Nothing to record it against: log and acknowledge (retrying cannot help).
                tracing::error!(message_id = %sqs_id, %error, "not a delivery message: dropped");
                return (sqs_id, RecordResult::Failed { report: false });
            }
        };
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1u32);
        let envelope_id = uuid::Uuid::new_v4().to_string();
        let span = tracing::info_span!(
            "forward",
            message_id = %sqs_id,
            delivery_id = %message.delivery_id,
            recipient = %message.recipient,
            permit = %message.permit_number,
            envelope_id = %envelope_id,
        );
        let outcome = forward_delivery(
            services,
            &self.policy,
            &message,
            &envelope_id,
            receive_count,
        )
        .instrument(span)
        .await;
        let result = match outcome {
            Ok(ForwardOutcome::Delivered {
                tracking_number, ..
            }) => {
                tracing::info!(delivery_id = %message.delivery_id, %tracking_number, "delivered");
                RecordResult::Delivered
            }
            Ok(ForwardOutcome::AlreadyDone { state }) => {
                tracing::info!(delivery_id = %message.delivery_id, ?state, "not pending: skipped");
                RecordResult::Skipped
            }
            Ok(ForwardOutcome::Failed { reason, exhausted }) => {
                tracing::warn!(delivery_id = %message.delivery_id, %reason, exhausted, "delivery failed");
                // Exhausted: left on the queue, the redrive policy moves it to the DLQ.
                RecordResult::Failed { report: exhausted }
            }
            Ok(ForwardOutcome::Retry { delay, reason }) => {
                tracing::warn!(delivery_id = %message.delivery_id, %reason, delay_ms = delay.as_millis() as u64, "will retry");
                let queue_url = if self.queue_url.is_empty() {
                    record
                        .event_source_arn
                        .as_deref()
                        .and_then(queue_url_from_arn)
                } else {
                    Some(self.queue_url.clone())
                };
                if let (Some(handle), Some(queue_url)) =
                    (record.receipt_handle.as_deref(), queue_url)
                {
                    let seconds = i32::try_from(delay.as_secs().min(43_200)).unwrap_or(0);
                    if let Err(error) = self
                        .sqs
                        .change_message_visibility()
                        .queue_url(queue_url)
                        .receipt_handle(handle)
                        .visibility_timeout(seconds)
                        .send()
                        .await
                    {
                        tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(error), "could not set the backoff; the queue's visibility timeout applies");
                    }
                }
                RecordResult::Retry
            }
            Err(error) => {
                tracing::warn!(delivery_id = %message.delivery_id, %error, "our own infrastructure failed: retry");
                RecordResult::Retry
            }
        };
        (sqs_id, result)
    }

    /// Handles one batch of delivery messages.
    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let services = ForwardServices {
            blobs: &self.blobs,
            tracker: &self.store,
            partners: &self.partners,
            transport: &self.transport,
            signer: &self.signer,
            clock: self.clock.as_ref(),
        };
        // The records of a batch are independent deliveries: send them concurrently (a slow
        // partner must not hold up the others beyond the timeout).
        // The same delivery twice in one batch is sent once: later copies are acknowledged
        // (across batches the conditional state transition does the same).
        let mut seen = std::collections::HashSet::new();
        let duplicates: Vec<bool> = event
            .payload
            .records
            .iter()
            .map(|record| {
                serde_json::from_str::<DeliveryMessage>(record.body.as_deref().unwrap_or(""))
                    .is_ok_and(|message| !seen.insert(message.delivery_id))
            })
            .collect();
        let results = futures::future::join_all(
            event
                .payload
                .records
                .iter()
                .zip(duplicates)
                .map(|(record, duplicate)| async move {
                    if duplicate {
                        let sqs_id = record.message_id.clone().unwrap_or_default();
                        tracing::info!(message_id = %sqs_id, "the same delivery twice in a batch: skipped");
                        (sqs_id, RecordResult::Skipped)
                    } else {
                        self.process(services, record).await
                    }
                }),
        )
        .await;
        let mut response = SqsBatchResponse::default();
        let (mut delivered, mut failed, mut retried, mut skipped) = (0u32, 0u32, 0u32, 0u32);
        for (sqs_id, result) in results {
            match result {
                RecordResult::Delivered => delivered += 1,
                RecordResult::Skipped => skipped += 1,
                RecordResult::Failed { report } => {
                    failed += 1;
                    if report {
                        response.add_failure(sqs_id);
                    }
                }
                RecordResult::Retry => {
                    retried += 1;
                    response.add_failure(sqs_id);
                }
            }
        }
        emit_emf(
            "forward",
            &[
                ("DeliveriesDelivered", f64::from(delivered)),
                ("DeliveriesFailed", f64::from(failed)),
                ("DeliveriesRetried", f64::from(retried)),
                ("DeliveriesSkipped", f64::from(skipped)),
            ],
            self.clock.now().timestamp_millis(),
        );
        Ok(response)
    }
}
