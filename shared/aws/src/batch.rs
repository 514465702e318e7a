//! The Lambda batch loops, written once: an SQS batch (records handled with a given
//! concurrency, the same job twice in a batch handled once, failures in
//! `batchItemFailures`, one EMF metrics line) and a DynamoDB stream batch (records in order,
//! stopping at the first failure, whose sequence number is reported). The functions only map
//! a record to a use case and its outcome to a [`Handled`].

use crate::telemetry::emit_emf;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use ecites_exchange::Clock;
use futures::stream::{self, StreamExt};
use std::collections::HashSet;
use std::future::Future;

/// What became of one record, and what it adds to the batch's metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Handled {
    retry: bool,
    counts: Vec<(&'static str, f64)>,
}

impl Handled {
    /// Done with: acknowledged, so the queue deletes it (and a stream moves past it).
    pub fn done() -> Self {
        Handled::default()
    }

    /// Reported as a batch item failure: the queue delivers it again (its redrive policy moves
    /// it to the DLQ in the end); a stream is read again from this record.
    pub fn retry() -> Self {
        Handled {
            retry: true,
            counts: Vec::new(),
        }
    }

    /// Adds `n` to the metric `name`.
    pub fn count(mut self, name: &'static str, n: f64) -> Self {
        self.counts.push((name, n));
        self
    }

    /// Whether the record is reported as a failure.
    pub fn is_retry(&self) -> bool {
        self.retry
    }
}

/// The metrics of one batch, each declared up front (so the EMF line always carries all of
/// them, zero when nothing counted one).
struct Totals {
    names: &'static [&'static str],
    values: Vec<f64>,
}

impl Totals {
    fn new(names: &'static [&'static str]) -> Self {
        Totals {
            names,
            values: vec![0.0; names.len()],
        }
    }

    fn add(&mut self, handled: &Handled) {
        for (name, n) in &handled.counts {
            match self.names.iter().position(|known| known == name) {
                Some(index) => self.values[index] += n,
                None => debug_assert!(false, "metric {name} is not declared"),
            }
        }
    }

    fn emit(&self, function: &str, clock: &dyn Clock) {
        let metrics: Vec<(&str, f64)> = self
            .names
            .iter()
            .copied()
            .zip(self.values.iter().copied())
            .collect();
        emit_emf(function, &metrics, clock.now().timestamp_millis());
    }
}

/// The same job twice in one SQS batch: handled once, later copies acknowledged and counted
/// (across batches, the use case's own conditional writes do the same).
#[derive(Clone, Copy, Debug)]
pub struct Dedupe {
    /// The job's identity in a record's body (`None`: not de-duplicated).
    pub key: fn(&SqsMessage) -> Option<String>,
    /// The metric counting the copies skipped.
    pub metric: &'static str,
}

/// How a function runs its SQS batches.
#[derive(Clone, Copy)]
pub struct SqsBatch<'a> {
    /// The EMF `Function` dimension.
    pub function: &'static str,
    /// The batch's metrics, in the order of the EMF line.
    pub metrics: &'static [&'static str],
    /// Records handled at once (1: one after the other, in order).
    pub concurrency: usize,
    /// In-batch de-duplication, if any.
    pub dedupe: Option<Dedupe>,
    /// The clock of the EMF timestamp.
    pub clock: &'a dyn Clock,
}

impl SqsBatch<'_> {
    /// Handles every record of a batch (an `SqsEvent`'s records) with `handle`, then emits
    /// the EMF line and answers the records to retry in `batchItemFailures`.
    pub async fn run<'r, F, Fut>(&self, records: &'r [SqsMessage], handle: F) -> SqsBatchResponse
    where
        F: Fn(&'r SqsMessage) -> Fut,
        Fut: Future<Output = Handled>,
    {
        let mut seen = HashSet::new();
        let duplicates: Vec<bool> = records
            .iter()
            .map(|record| {
                self.dedupe
                    .is_some_and(|dedupe| (dedupe.key)(record).is_some_and(|key| !seen.insert(key)))
            })
            .collect();
        let handle = &handle;
        let handled: Vec<Handled> = stream::iter(records.iter().zip(duplicates))
            .map(|(record, duplicate)| async move {
                match self.dedupe {
                    Some(dedupe) if duplicate => {
                        tracing::info!(
                            message_id = record.message_id.as_deref().unwrap_or(""),
                            "the same job twice in a batch: skipped"
                        );
                        Handled::done().count(dedupe.metric, 1.0)
                    }
                    _ => handle(record).await,
                }
            })
            .buffered(self.concurrency.max(1))
            .collect()
            .await;
        let mut totals = Totals::new(self.metrics);
        let mut response = SqsBatchResponse::default();
        for (record, handled) in records.iter().zip(&handled) {
            totals.add(handled);
            if handled.retry {
                response.add_failure(record.message_id.clone().unwrap_or_default());
            }
        }
        totals.emit(self.function, self.clock);
        response
    }
}

/// The `ApproximateReceiveCount` of a record (1 when absent).
pub fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

#[cfg(feature = "notify")]
pub use streams::{stream_response, StreamBatch};

#[cfg(feature = "notify")]
mod streams {
    use super::{Handled, Totals};
    use aws_lambda_events::event::dynamodb::EventRecord;
    use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
    use ecites_exchange::Clock;
    use std::future::Future;

    /// The stream batch response naming the failed record's sequence number, if any.
    pub fn stream_response(failed_sequence: Option<String>) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        if let Some(sequence) = failed_sequence {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence);
            response.batch_item_failures.push(failure);
        }
        response
    }

    /// How a function runs its DynamoDB stream batches.
    #[derive(Clone, Copy)]
    pub struct StreamBatch<'a> {
        /// The EMF `Function` dimension.
        pub function: &'static str,
        /// The batch's metrics, in the order of the EMF line.
        pub metrics: &'static [&'static str],
        /// The clock of the EMF timestamp.
        pub clock: &'a dyn Clock,
    }

    impl StreamBatch<'_> {
        /// Handles the records in order. At the first record to retry, its sequence number is
        /// reported and the rest of the batch is left alone: Lambda retries from that record,
        /// keeping the order of the changes.
        pub async fn run<'r, F, Fut>(
            &self,
            records: &'r [EventRecord],
            handle: F,
        ) -> DynamoDbEventResponse
        where
            F: Fn(&'r EventRecord) -> Fut,
            Fut: Future<Output = Handled>,
        {
            let mut totals = Totals::new(self.metrics);
            let mut failed_sequence = None;
            for record in records {
                let handled = handle(record).await;
                totals.add(&handled);
                if handled.retry {
                    failed_sequence =
                        Some(record.change.sequence_number.clone().unwrap_or_default());
                    break;
                }
            }
            totals.emit(self.function, self.clock);
            stream_response(failed_sequence)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecites_exchange::SystemClock;
    use std::sync::Mutex;

    fn sqs_event(bodies: &[&str]) -> aws_lambda_events::event::sqs::SqsEvent {
        let records: Vec<serde_json::Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| serde_json::json!({"messageId": format!("m{i}"), "body": body}))
            .collect();
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    #[tokio::test]
    async fn an_sqs_batch_reports_what_to_retry_and_handles_a_job_once() {
        let batch = SqsBatch {
            function: "test",
            metrics: &["Done", "Skipped"],
            concurrency: 4,
            dedupe: Some(Dedupe {
                key: |record| record.body.clone(),
                metric: "Skipped",
            }),
            clock: &SystemClock,
        };
        let calls = Mutex::new(Vec::new());
        let response = batch
            .run(&sqs_event(&["a", "fail", "a", "b"]).records, |record| {
                let body = record.body.clone().unwrap_or_default();
                calls.lock().unwrap().push(body.clone());
                async move {
                    if body == "fail" {
                        Handled::retry()
                    } else {
                        Handled::done().count("Done", 1.0)
                    }
                }
            })
            .await;
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["m1"]);
        let mut calls = calls.into_inner().unwrap();
        calls.sort();
        assert_eq!(calls, ["a", "b", "fail"], "the second \"a\" is skipped");
    }

    #[cfg(feature = "notify")]
    #[tokio::test]
    async fn a_stream_batch_reports_the_first_failed_record_and_stops_there() {
        use aws_lambda_events::event::dynamodb::EventRecord;
        let records: Vec<EventRecord> = (1..=3)
            .map(|n| {
                let mut record = EventRecord::default();
                record.change.sequence_number = Some(format!("seq-{n}"));
                record
            })
            .collect();
        let batch = StreamBatch {
            function: "test",
            metrics: &["Done", "Failed"],
            clock: &SystemClock,
        };
        let seen = Mutex::new(Vec::new());
        let response = batch
            .run(&records, |record| {
                let sequence = record.change.sequence_number.clone().unwrap_or_default();
                seen.lock().unwrap().push(sequence.clone());
                async move {
                    if sequence == "seq-2" {
                        Handled::retry().count("Failed", 1.0)
                    } else {
                        Handled::done().count("Done", 1.0)
                    }
                }
            })
            .await;
        // What Lambda reads: a failure the response loses would acknowledge the record.
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "seq-2"}]})
        );
        assert_eq!(seen.into_inner().unwrap(), ["seq-1", "seq-2"]);
        let ok = batch
            .run(&records[..1], |_| async { Handled::done() })
            .await;
        assert!(ok.batch_item_failures.is_empty());
    }
}
