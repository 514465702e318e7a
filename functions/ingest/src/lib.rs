//! The ingest Lambda's handler, in a library so that the Lambda binary, the local runner and
//! the end-to-end tests call the very same code.
//!
//! The handler only maps: each record of an `SqsEvent` through
//! [`ecites_exchange::ingest_message`], its outcome to a [`Handled`]; the batch loop
//! ([`SqsBatch`]) answers the failed records in `batchItemFailures` and writes one EMF metrics
//! line per batch.

#![warn(missing_docs)]

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use ecites_aws::batch::{Handled, SqsBatch, DEFAULT_CONCURRENCY};
use ecites_aws::{
    Clients, Config, DynamoLedger, S3BlobStore, S3PartnerDirectory, S3SpeciesChecklist,
    SqsDeliveryQueue,
};
use ecites_exchange::messages::permit_named;
use ecites_exchange::{ingest_message, Clock, IngestServices, IngestSettings, SystemClock};
use lambda_runtime::LambdaEvent;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// How long the partner directory is cached in a warm function.
pub const PARTNER_CACHE_TTL: Duration = Duration::from_secs(300);

/// The metrics of a batch, in the order of its EMF line.
const METRICS: &[&str] = &[
    "PermitsIngested",
    "PermitsDuplicate",
    "PermitsRejected",
    "MessagesFailed",
    "DeliveriesQueued",
    "DeliveriesNoPartner",
    "CancellationsWaiting",
    "UsesRecorded",
    "UseAlerts",
];

/// The ingest function's state, built once per process (Lambda cold start).
pub struct IngestFunction {
    blobs: S3BlobStore,
    ledger: DynamoLedger,
    queue: SqsDeliveryQueue,
    partners: S3PartnerDirectory,
    species: S3SpeciesChecklist,
    clock: Arc<dyn Clock>,
    settings: IngestSettings,
}

impl IngestFunction {
    /// Wires the AWS implementations from the configuration and clients.
    pub fn new(config: &Config, clients: &Clients) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        IngestFunction {
            blobs: S3BlobStore::new(clients.s3.clone(), &config.bucket),
            ledger: DynamoLedger::new(clients.dynamodb.clone(), &config.table, clock.clone()),
            queue: SqsDeliveryQueue::new(clients.sqs.clone(), &config.deliveries_queue_url),
            partners: S3PartnerDirectory::new(
                clients.s3.clone(),
                &config.bucket,
                &config.partners_key,
                PARTNER_CACHE_TTL,
            ),
            species: S3SpeciesChecklist::for_deployment(
                clients.s3.clone(),
                &config.bucket,
                PARTNER_CACHE_TTL,
            ),
            clock,
            settings: IngestSettings {
                own_country: config.country,
                max_object_bytes: config.max_object_bytes,
            },
        }
    }

    /// The ledger, for status queries next to the handler.
    pub fn ledger(&self) -> &DynamoLedger {
        &self.ledger
    }

    /// Ingests one record. Records that failed transiently (or by an infrastructure fault)
    /// are retried; permanent input problems were reported by the use case and are
    /// acknowledged.
    async fn record(&self, record: &SqsMessage) -> Handled {
        let services = IngestServices {
            blobs: &self.blobs,
            ledger: &self.ledger,
            queue: &self.queue,
            partners: &self.partners,
            species: &self.species,
            uses: &self.ledger,
            clock: self.clock.as_ref(),
        };
        let message_id = record.message_id.as_deref().unwrap_or("");
        let body = record.body.as_deref().unwrap_or("");
        let sent_at = record
            .attributes
            .get("SentTimestamp")
            .and_then(|ms| ms.parse::<i64>().ok())
            .and_then(chrono::DateTime::from_timestamp_millis);
        let span = tracing::info_span!("ingest", message_id = %message_id);
        match ingest_message(services, &self.settings, message_id, body, sent_at)
            .instrument(span)
            .await
        {
            Ok(report) => {
                let duplicates = report.ingested.iter().filter(|p| p.duplicate).count();
                Handled::done()
                    .count(
                        "PermitsIngested",
                        (report.ingested.len() - duplicates) as f64,
                    )
                    .count("PermitsDuplicate", duplicates as f64)
                    .count("PermitsRejected", report.rejected.len() as f64)
                    .count("DeliveriesQueued", report.deliveries_queued as f64)
                    .count("DeliveriesNoPartner", report.no_partner as f64)
                    .count("CancellationsWaiting", report.waiting_cancellations as f64)
                    .count(
                        "UsesRecorded",
                        report.uses.iter().filter(|u| !u.duplicate).count() as f64,
                    )
                    .count(
                        "UseAlerts",
                        report
                            .uses
                            .iter()
                            .filter(|u| !u.duplicate && !u.alerts.is_empty())
                            .count() as f64,
                    )
            }
            Err(error) => {
                if error.is_transient() {
                    tracing::warn!(message_id = %message_id, error = %error, "transient failure: the message will be retried");
                } else {
                    tracing::error!(message_id = %message_id, error = %error, "infrastructure failure: the message will be retried and reach the DLQ if it persists");
                }
                Handled::retry().count("MessagesFailed", 1.0)
            }
        }
    }

    /// Handles one SQS batch: its records at the same time, at most [`DEFAULT_CONCURRENCY`],
    /// those that name the same permit (a use, a cancellation) one after the other in batch
    /// order.
    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let batch = SqsBatch {
            function: "ingest",
            metrics: METRICS,
            concurrency: DEFAULT_CONCURRENCY,
            order: Some(|record| record.body.as_deref().and_then(permit_named)),
            dedupe: None,
            clock: self.clock.as_ref(),
        };
        Ok(batch
            .run(&event.payload.records, |record| self.record(record))
            .await)
    }
}
