//! The Lambda batch loops, written once: an SQS batch (failures in `batchItemFailures`, the
//! same job twice in a batch handled once, one EMF metrics line) and a DynamoDB stream batch
//! (the first failure's sequence number reported). Both run their records concurrently through
//! one engine, [`run_ordered`]: records that share an ordering key (the same permit, the same
//! subscription) run one after the other in batch order and stop at the first failure; other
//! records run at the same time, at most [`DEFAULT_CONCURRENCY`] at once. On Lambda an
//! invocation is billed for its whole duration, so a batch of ten that waits on forty sequential
//! AWS round trips costs ten times what it should. The functions only map a record to a use case
//! and its outcome to a [`Handled`], and say which records must keep their order.

use crate::telemetry::emit_emf;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use ecites_exchange::Clock;
use futures::stream::{self, StreamExt};
use std::collections::{HashMap, HashSet};
use std::future::Future;

/// Records of one batch handled at once when a function does not say otherwise: an SQS batch
/// holds at most 10 records; a stream batch's 100 share this bound so its downstream calls
/// (SNS, SQS) stay well under the services' per-connection limits.
pub const DEFAULT_CONCURRENCY: usize = 10;

/// Runs `handle` over `records` and returns each record's outcome, in the records' order.
///
/// `keys[i]` is record `i`'s ordering key. Records with the same key run one after the other,
/// in batch order; at the first that must be retried, the later records of that key are not
/// run (`None`), so they cannot overtake it. Records without a key, and records of different
/// keys, run concurrently, at most `concurrency` (at least 1) at once.
///
/// # Panics
/// Never; `keys` shorter than `records` leaves the missing records without a key.
pub async fn run_ordered<'r, R, F, Fut>(
    records: &'r [R],
    keys: &[Option<String>],
    concurrency: usize,
    handle: F,
) -> Vec<Option<Handled>>
where
    F: Fn(&'r R) -> Fut,
    Fut: Future<Output = Handled>,
{
    // Groups in order of first appearance: one per key, one per record without a key.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for index in 0..records.len() {
        match keys.get(index).and_then(Option::as_deref) {
            Some(key) => match group_of.get(key) {
                Some(&group) => groups[group].push(index),
                None => {
                    group_of.insert(key, groups.len());
                    groups.push(vec![index]);
                }
            },
            None => groups.push(vec![index]),
        }
    }
    let handle = &handle;
    let finished: Vec<Vec<(usize, Handled)>> = stream::iter(groups)
        .map(|group| async move {
            let mut outcomes = Vec::with_capacity(group.len());
            for index in group {
                let handled = handle(&records[index]).await;
                let stop = handled.retry;
                outcomes.push((index, handled));
                if stop {
                    break;
                }
            }
            outcomes
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut outcomes: Vec<Option<Handled>> = vec![None; records.len()];
    for (index, handled) in finished.into_iter().flatten() {
        outcomes[index] = Some(handled);
    }
    outcomes
}

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
    /// Records handled at once, at most (1: one after the other, in order); usually
    /// [`DEFAULT_CONCURRENCY`].
    pub concurrency: usize,
    /// A record's ordering key: records with the same key run one after the other, in batch
    /// order, and a failure defers the later ones ([`run_ordered`]). `None`: no order kept.
    pub order: Option<fn(&SqsMessage) -> Option<String>>,
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
        let keys: Vec<Option<String>> = records
            .iter()
            .map(|record| self.order.and_then(|order| order(record)))
            .collect();
        let handle = &handle;
        let duplicates = &duplicates;
        let indexed: Vec<(usize, &SqsMessage)> = records.iter().enumerate().collect();
        let handled = run_ordered(
            &indexed,
            &keys,
            self.concurrency,
            |&(index, record)| async move {
                match self.dedupe {
                    Some(dedupe) if duplicates[index] => {
                        tracing::info!(
                            message_id = record.message_id.as_deref().unwrap_or(""),
                            "the same job twice in a batch: skipped"
                        );
                        Handled::done().count(dedupe.metric, 1.0)
                    }
                    _ => handle(record).await,
                }
            },
        )
        .await;
        let mut totals = Totals::new(self.metrics);
        let mut response = SqsBatchResponse::default();
        for (record, handled) in records.iter().zip(&handled) {
            match handled {
                Some(handled) => {
                    totals.add(handled);
                    if handled.retry {
                        response.add_failure(record.message_id.clone().unwrap_or_default());
                    }
                }
                None => {
                    tracing::info!(
                        message_id = record.message_id.as_deref().unwrap_or(""),
                        "not run: an earlier record of the same permit failed, so this one waits for its retry"
                    );
                    response.add_failure(record.message_id.clone().unwrap_or_default());
                }
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
    use super::{run_ordered, Handled, Totals};
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
        /// Records handled at once, at most (1: strictly in order).
        pub concurrency: usize,
        /// A record's ordering key (for the ledger: the item's partition key, so the changes of
        /// one permit keep their order). `None`: every record in order, one after the other.
        pub order: Option<fn(&EventRecord) -> Option<String>>,
        /// The clock of the EMF timestamp.
        pub clock: &'a dyn Clock,
    }

    impl StreamBatch<'_> {
        /// Handles the records, those of one ordering key in order. The sequence number reported
        /// is that of the first record, in batch order, that failed or was not run (an earlier
        /// record of its key failed): Lambda retries the batch from there, so every later
        /// change is seen again and none is lost. Records after it that had succeeded run again
        /// on that retry, so the handler must be idempotent (notify claims each event once).
        pub async fn run<'r, F, Fut>(
            &self,
            records: &'r [EventRecord],
            handle: F,
        ) -> DynamoDbEventResponse
        where
            F: Fn(&'r EventRecord) -> Fut,
            Fut: Future<Output = Handled>,
        {
            // Without an ordering key, every record shares one: the whole batch in order.
            let keys: Vec<Option<String>> = records
                .iter()
                .map(|record| match self.order {
                    Some(order) => order(record),
                    None => Some(String::new()),
                })
                .collect();
            let handled = run_ordered(records, &keys, self.concurrency, handle).await;
            let mut totals = Totals::new(self.metrics);
            for outcome in handled.iter().flatten() {
                totals.add(outcome);
            }
            let failed_sequence = records
                .iter()
                .zip(&handled)
                .find(|(_, handled)| handled.as_ref().is_none_or(Handled::is_retry))
                .map(|(record, _)| record.change.sequence_number.clone().unwrap_or_default());
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
            order: None,
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

    /// Records of different keys must be in flight together: three handlers that each wait
    /// for the other two (a barrier) finish only if they run at the same time.
    #[tokio::test]
    async fn records_of_different_keys_run_at_the_same_time() {
        let records = ["a", "b", "c"];
        let keys: Vec<Option<String>> = records.iter().map(|r| Some(r.to_string())).collect();
        let barrier = tokio::sync::Barrier::new(3);
        let outcomes = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            run_ordered(&records, &keys, DEFAULT_CONCURRENCY, |_| async {
                barrier.wait().await;
                Handled::done()
            }),
        )
        .await
        .expect("the three records ran at the same time, not one after the other");
        assert_eq!(outcomes, vec![Some(Handled::done()); 3]);
    }

    /// The concurrency bound holds: never more records in flight than it allows.
    #[tokio::test]
    async fn no_more_records_run_at_once_than_the_bound() {
        let records: Vec<usize> = (0..12).collect();
        let in_flight = std::sync::atomic::AtomicUsize::new(0);
        let most = std::sync::atomic::AtomicUsize::new(0);
        let outcomes = run_ordered(&records, &[], 3, |_| async {
            use std::sync::atomic::Ordering::SeqCst;
            let now = in_flight.fetch_add(1, SeqCst) + 1;
            most.fetch_max(now, SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            in_flight.fetch_sub(1, SeqCst);
            Handled::done()
        })
        .await;
        assert_eq!(outcomes.iter().flatten().count(), 12);
        assert_eq!(most.into_inner(), 3);
    }

    /// One key's records run in batch order even when the first is the slowest, and a failure
    /// holds back the rest of its key (they must not overtake it) but not other keys.
    #[tokio::test]
    async fn a_key_keeps_its_order_and_stops_at_its_first_failure() {
        let records = ["p1-slow", "q1", "p2-fail", "q2", "p3", "r1"];
        let keys: Vec<Option<String>> = records
            .iter()
            .map(|r| (!r.starts_with('r')).then(|| r[..1].to_owned()))
            .collect();
        let seen = Mutex::new(Vec::new());
        let outcomes = run_ordered(&records, &keys, DEFAULT_CONCURRENCY, |record| {
            let seen = &seen;
            async move {
                if record.ends_with("slow") {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                seen.lock().unwrap().push(*record);
                if record.ends_with("fail") {
                    Handled::retry()
                } else {
                    Handled::done()
                }
            }
        })
        .await;
        let seen = seen.into_inner().unwrap();
        let p: Vec<_> = seen.iter().filter(|r| r.starts_with('p')).collect();
        assert_eq!(p, [&"p1-slow", &"p2-fail"], "p3 waits for p2's retry");
        assert!(
            seen.iter().position(|r| *r == "q1") < seen.iter().position(|r| *r == "p1-slow"),
            "q does not wait for p's slow record: {seen:?}"
        );
        let retried: Vec<bool> = outcomes
            .iter()
            .map(|o| o.as_ref().is_none_or(Handled::is_retry))
            .collect();
        assert_eq!(retried, [false, false, true, false, true, false]);
        assert_eq!(outcomes[4], None, "p3 did not run");
    }

    #[tokio::test]
    async fn an_sqs_batch_retries_the_records_held_back_behind_a_failure_of_their_key() {
        let batch = SqsBatch {
            function: "test",
            metrics: &["Done"],
            concurrency: DEFAULT_CONCURRENCY,
            order: Some(|record| record.body.as_ref().map(|b| b[..1].to_owned())),
            dedupe: None,
            clock: &SystemClock,
        };
        let runs = Mutex::new(Vec::new());
        let response = batch
            .run(&sqs_event(&["p-fail", "q", "p-later"]).records, |record| {
                let body = record.body.clone().unwrap_or_default();
                runs.lock().unwrap().push(body.clone());
                async move {
                    if body.ends_with("fail") {
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
        assert_eq!(failed, ["m0", "m2"]);
        let mut runs = runs.into_inner().unwrap();
        runs.sort();
        assert_eq!(runs, ["p-fail", "q"]);
    }

    #[cfg(feature = "notify")]
    #[tokio::test]
    async fn a_concurrent_stream_batch_reports_the_first_record_failed_or_held_back() {
        use aws_lambda_events::event::dynamodb::EventRecord;
        // seq-1 (permit A) fails; seq-2 (B) runs; seq-3 (A) is held back; seq-4 (B) runs.
        let records: Vec<EventRecord> = ["A", "B", "A", "B"]
            .iter()
            .enumerate()
            .map(|(n, pk)| {
                let mut record = EventRecord::default();
                record.change.sequence_number = Some(format!("seq-{}", n + 1));
                record.change.keys = serde_dynamo::Item::from(std::collections::HashMap::from([(
                    crate::dynamo::table::PK.to_owned(),
                    serde_dynamo::AttributeValue::S((*pk).to_owned()),
                )]));
                record
            })
            .collect();
        let batch = StreamBatch {
            function: "test",
            metrics: &["Done", "Failed"],
            concurrency: DEFAULT_CONCURRENCY,
            order: Some(crate::dynamo::stream::partition_key),
            clock: &SystemClock,
        };
        let seen = Mutex::new(Vec::new());
        let response = batch
            .run(&records, |record| {
                let sequence = record.change.sequence_number.clone().unwrap_or_default();
                seen.lock().unwrap().push(sequence.clone());
                async move {
                    if sequence == "seq-1" {
                        Handled::retry().count("Failed", 1.0)
                    } else {
                        Handled::done().count("Done", 1.0)
                    }
                }
            })
            .await;
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "seq-1"}]})
        );
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        assert_eq!(seen, ["seq-1", "seq-2", "seq-4"]);
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
            concurrency: 4,
            order: None,
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
