//! The forward Lambda's handler, in a library so that the Lambda binary, the local runner and
//! the end-to-end tests call the very same code.
//!
//! It maps an `SqsEvent` from the deliveries queue through
//! [`ecites_exchange::forward::forward_delivery`] and the outcome back to SQS: delivered or
//! refused for good -> acknowledged; retry -> `ChangeMessageVisibility` to the backoff delay and
//! reported in `batchItemFailures`; retries exhausted -> FAILED in the ledger and reported, so
//! the redrive policy moves the message to the DLQ where `ecites replay` finds it.

#![warn(missing_docs)]

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use ecites_aws::batch::{receive_count, Dedupe, Handled, SqsBatch, DEFAULT_CONCURRENCY};
use ecites_aws::client_certificates::SecretClientCertificates;
pub use ecites_aws::http::HyperTransport;
use ecites_aws::signing::{load_signing_identity, load_signing_identity_from_secret};
use ecites_aws::sqs::{self, queue_url_from_arn};
use ecites_aws::DynamoLedger;
use ecites_aws::S3PartnerDirectory;
use ecites_aws::{AwsConfig, Clients, Config, ConfigError, S3BlobStore};
use ecites_exchange::forward::{
    forward_delivery, ClientCertificates, ForwardOutcome, ForwardServices,
};
use ecites_exchange::protocol::SigningIdentity;
use ecites_exchange::retry::RetryPolicy;
use ecites_exchange::{Clock, DeliveryMessage, SystemClock};
use lambda_runtime::LambdaEvent;
use std::sync::Arc;
use tracing::Instrument;

pub use ecites_aws::config::{ForwardSettings, KeySource};

/// Why the function could not start.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// A setting is missing or wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Transport(#[from] ecites_exchange::http::HttpError),
    /// The signing key could not be loaded (the message names the parameter, never the key).
    #[error(transparent)]
    Key(#[from] ecites_exchange::Error),
}

/// The metrics of a batch, in the order of its EMF line.
const METRICS: &[&str] = &[
    "DeliveriesDelivered",
    "DeliveriesFailed",
    "DeliveriesRetried",
    "DeliveriesSkipped",
    "DeliveriesAwaitingPull",
];

/// The delivery a record carries, for in-batch de-duplication.
fn delivery_id(record: &SqsMessage) -> Option<String> {
    serde_json::from_str::<DeliveryMessage>(record.body.as_deref().unwrap_or(""))
        .ok()
        .map(|message| message.delivery_id)
}

/// What forward needs before it sends anything, made on the first batch that carries a
/// delivery rather than at start-up: the signing key (a Secrets Manager or SSM read), the retry
/// budget (the queue's redrive policy) and the HTTP client (its TLS roots). A cold start that
/// answers an empty or warming batch pays none of them.
struct Ready {
    signer: SigningIdentity,
    policy: RetryPolicy,
    transport: HyperTransport,
}

/// Where [`Ready`] comes from.
enum Loader {
    /// Given whole (tests, the local runner with a key already loaded).
    Given,
    /// Read from the deployment on first use.
    Deployment {
        key: KeyClient,
        settings: ForwardSettings,
    },
}

/// The signing key's store and name.
enum KeyClient {
    Secret {
        client: aws_sdk_secretsmanager::Client,
        name: String,
        key_id: Option<String>,
    },
    Parameter {
        client: aws_sdk_ssm::Client,
        name: String,
        key_id: String,
    },
}

/// The forward function's state, built once per process.
pub struct ForwardFunction {
    blobs: S3BlobStore,
    ledger: DynamoLedger,
    partners: S3PartnerDirectory,
    ready: tokio::sync::OnceCell<Ready>,
    loader: Loader,
    clock: Arc<dyn Clock>,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    /// The client certificates for partners requiring mutual TLS (Secrets Manager); `None`
    /// for a function wired without a secret store (then such a partner's deliveries fail,
    /// saying so).
    certificates: Option<SecretClientCertificates>,
}

impl ForwardFunction {
    /// Wires the function with a signing key already loaded.
    pub fn new(
        config: &Config,
        clients: &Clients,
        settings: &ForwardSettings,
        signer: SigningIdentity,
    ) -> Result<Self, ForwardError> {
        let ready = Ready {
            signer,
            policy: settings.policy,
            transport: HyperTransport::for_partners(settings.timeout)?,
        };
        Ok(Self::wire(
            config,
            clients,
            settings.directory_ttl,
            tokio::sync::OnceCell::new_with(Some(ready)),
            Loader::Given,
        ))
    }

    /// Wires the function for a deployment: the signing key (Secrets Manager or SSM), the retry
    /// budget (the deliveries queue's redrive policy, unless set explicitly) and the HTTP client
    /// are made on the first batch with a delivery, not here, so a cold start makes no AWS
    /// request before its first event. A key that cannot be read fails that batch as an
    /// invocation error (the `forward-errors` alarm) and is tried again on the next.
    pub fn from_env(config: &Config, aws: &AwsConfig, settings: ForwardSettings) -> Self {
        let key = match &settings.key {
            KeySource::Secret { name, key_id } => KeyClient::Secret {
                client: aws.secrets_manager(),
                name: name.clone(),
                key_id: key_id.clone(),
            },
            KeySource::Parameter { name, key_id } => KeyClient::Parameter {
                client: aws.ssm(),
                name: name.clone(),
                key_id: key_id.clone(),
            },
        };
        let timeout = settings.timeout;
        Self::wire(
            config,
            &aws.clients(),
            settings.directory_ttl,
            tokio::sync::OnceCell::new(),
            Loader::Deployment { key, settings },
        )
        .with_client_certificates(aws.secrets_manager(), timeout)
    }

    /// The stores and queue every forward function has, around its [`Ready`] part.
    fn wire(
        config: &Config,
        clients: &Clients,
        directory_ttl: std::time::Duration,
        ready: tokio::sync::OnceCell<Ready>,
        loader: Loader,
    ) -> Self {
        ForwardFunction {
            blobs: S3BlobStore::new(clients.s3.clone(), &config.bucket),
            ledger: DynamoLedger::on_table(clients.dynamodb.clone(), &config.table),
            partners: S3PartnerDirectory::new(
                clients.s3.clone(),
                &config.bucket,
                &config.partners_key,
                directory_ttl,
            ),
            ready,
            loader,
            clock: Arc::new(SystemClock),
            sqs: clients.sqs.clone(),
            queue_url: config.deliveries_queue_url.clone(),
            certificates: None,
        }
    }

    /// Reads the client certificates partners' directory entries name
    /// (`client_certificate_secret`) with `secrets`, each request timing out after `timeout`.
    /// [`ForwardFunction::from_env`] does this with the deployment's Secrets Manager.
    pub fn with_client_certificates(
        mut self,
        secrets: aws_sdk_secretsmanager::Client,
        timeout: std::time::Duration,
    ) -> Self {
        self.certificates = Some(SecretClientCertificates::new(secrets, timeout));
        self
    }

    /// The signing key, retry budget and HTTP client, made on first use (see [`Ready`]).
    async fn ready(&self) -> Result<&Ready, ForwardError> {
        self.ready
            .get_or_try_init(|| async {
                let Loader::Deployment { key, settings } = &self.loader else {
                    unreachable!("a function built with its key is ready from the start")
                };
                let signer = match key {
                    KeyClient::Secret {
                        client,
                        name,
                        key_id,
                    } => load_signing_identity_from_secret(client, name, key_id.as_deref()).await?,
                    KeyClient::Parameter {
                        client,
                        name,
                        key_id,
                    } => load_signing_identity(client, name, key_id).await?,
                };
                let mut policy = settings.policy;
                if !settings.max_receives_explicit && !self.queue_url.is_empty() {
                    if let Some(count) = sqs::max_receive_count(&self.sqs, &self.queue_url).await {
                        policy.max_receives = count;
                    }
                }
                let transport = HyperTransport::for_partners(settings.timeout)?;
                tracing::info!(key_id = %signer.key_id, max_receives = policy.max_receives, "forward ready");
                Ok(Ready {
                    signer,
                    policy,
                    transport,
                })
            })
            .await
    }

    /// The ledger its deliveries are tracked in (for tests and status next to the handler).
    pub fn ledger(&self) -> &DynamoLedger {
        &self.ledger
    }

    /// Forwards one record and applies the backoff to its message.
    async fn record(&self, ready: &Ready, record: &SqsMessage) -> Handled {
        let services = ForwardServices {
            blobs: &self.blobs,
            tracker: &self.ledger,
            partners: &self.partners,
            transport: &ready.transport,
            client_certificates: self
                .certificates
                .as_ref()
                .map(|c| c as &dyn ClientCertificates),
            signer: &ready.signer,
            clock: self.clock.as_ref(),
        };
        let sqs_id = record.message_id.as_deref().unwrap_or("");
        let body = record.body.as_deref().unwrap_or("");
        let message: DeliveryMessage = match serde_json::from_str(body) {
            Ok(message) => message,
            Err(error) => {
                // Nothing to record it against: log and acknowledge (retrying cannot help).
                tracing::error!(message_id = %sqs_id, %error, "not a delivery message: dropped");
                return Handled::done().count("DeliveriesFailed", 1.0);
            }
        };
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
            &ready.policy,
            &message,
            &envelope_id,
            receive_count(record),
        )
        .instrument(span)
        .await;
        match outcome {
            Ok(ForwardOutcome::Delivered {
                tracking_number, ..
            }) => {
                tracing::info!(delivery_id = %message.delivery_id, %tracking_number, "delivered");
                Handled::done().count("DeliveriesDelivered", 1.0)
            }
            Ok(ForwardOutcome::AwaitingPull) => {
                tracing::info!(delivery_id = %message.delivery_id, "the partner pulls: left PENDING for it to fetch");
                Handled::done().count("DeliveriesAwaitingPull", 1.0)
            }
            Ok(ForwardOutcome::AlreadyDone { state }) => {
                tracing::info!(delivery_id = %message.delivery_id, ?state, "not pending: skipped");
                Handled::done().count("DeliveriesSkipped", 1.0)
            }
            Ok(ForwardOutcome::Failed { reason, exhausted }) => {
                tracing::warn!(delivery_id = %message.delivery_id, %reason, exhausted, "delivery failed");
                // Exhausted: left on the queue, the redrive policy moves it to the DLQ.
                let handled = if exhausted {
                    Handled::retry()
                } else {
                    Handled::done()
                };
                handled.count("DeliveriesFailed", 1.0)
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
                    if let Err(error) = sqs::postpone(&self.sqs, &queue_url, handle, delay).await {
                        tracing::warn!(%error, "could not set the backoff; the queue's visibility timeout applies");
                    }
                }
                Handled::retry().count("DeliveriesRetried", 1.0)
            }
            Err(error) => {
                tracing::warn!(delivery_id = %message.delivery_id, %error, "our own infrastructure failed: retry");
                Handled::retry().count("DeliveriesRetried", 1.0)
            }
        }
    }

    /// Handles one batch of delivery messages. The records of a batch are independent
    /// deliveries: they are sent concurrently (a slow partner must not hold up the others
    /// beyond the timeout), and the same delivery twice in one batch is sent once.
    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        if event.payload.records.is_empty() {
            return Ok(SqsBatchResponse::default());
        }
        let ready = self.ready().await.map_err(|error| {
            tracing::error!(%error, "forward cannot start: the batch is retried");
            error
        })?;
        let batch = SqsBatch {
            function: "forward",
            metrics: METRICS,
            concurrency: DEFAULT_CONCURRENCY,
            order: None,
            dedupe: Some(Dedupe {
                key: delivery_id,
                metric: "DeliveriesSkipped",
            }),
            clock: self.clock.as_ref(),
        };
        Ok(batch
            .run(&event.payload.records, |record| self.record(ready, record))
            .await)
    }
}
