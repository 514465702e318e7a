//! Plays Lambda's DynamoDB-stream event-source mapping: reads the ledger table's stream
//! (DescribeStream, GetShardIterator, GetRecords), builds the `dynamodb::Event` Lambda would
//! deliver (from JSON: the structs are `#[non_exhaustive]`), calls the handler, and on a
//! reported failure re-reads the shard from the failed sequence number, as Lambda does with
//! `ReportBatchItemFailures`.

use anyhow::Context as _;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use ecites_aws::streams::lambda_record;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What one poll did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamOutcome {
    /// Records handed to the handler.
    pub records: usize,
    /// Batches the handler reported a failure in.
    pub failed_batches: usize,
}

/// An event-source mapping for a table's stream, starting at TRIM_HORIZON.
pub struct StreamSource {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    region: String,
    /// Shard id -> next iterator (`None` once the shard is closed and read to its end).
    iterators: Mutex<HashMap<String, Option<String>>>,
    /// Shard id -> the last sequence number handed to the handler (and not failed), to resume
    /// after it when an iterator is lost.
    last_sequence: Mutex<HashMap<String, String>>,
    /// Shard id -> the record the handler last failed at and how many times in a row: what
    /// a stream that is not quiet is stuck on.
    failing: Mutex<HashMap<String, (String, u32)>>,
    /// Records per batch (Lambda's BatchSize).
    pub batch_size: i32,
    /// Hands each batch over out of order and twice (its records reversed, then the reversed
    /// records again), as a test of what Lambda promises not to do: notifications must still
    /// be told once each.
    pub disorder: bool,
}

impl std::fmt::Debug for StreamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSource")
            .field("stream_arn", &self.stream_arn)
            .finish()
    }
}

/// A DynamoDB Streams client built like the others: the endpoint override (the emulator serves
/// the Streams API on its one port) and, for the emulator, the static `test` credentials.
pub async fn streams_client(
    endpoint_url: Option<&str>,
    region: &str,
    emulator_credentials: bool,
) -> aws_sdk_dynamodbstreams::Client {
    let options = ecites_aws::ClientOptions {
        emulator_credentials,
        ..ecites_aws::ClientOptions::default()
    };
    ecites_aws::AwsConfig::load(options.at(endpoint_url, region))
        .await
        .dynamodb_streams()
}

impl StreamSource {
    /// A mapping for the stream of `table`.
    pub async fn new(
        dynamodb: &aws_sdk_dynamodb::Client,
        client: aws_sdk_dynamodbstreams::Client,
        table: &str,
        region: &str,
    ) -> anyhow::Result<Self> {
        let described = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .context("describing the table")?;
        let stream_arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .context("the table has no stream")?
            .to_owned();
        Ok(StreamSource {
            client,
            stream_arn,
            region: region.to_owned(),
            iterators: Mutex::new(HashMap::new()),
            last_sequence: Mutex::new(HashMap::new()),
            failing: Mutex::new(HashMap::new()),
            batch_size: 100,
            disorder: false,
        })
    }

    /// Forgets every position: the next poll reads each shard from TRIM_HORIZON again, which is
    /// what an operator's replay (or a stream consumer restarted without checkpoint) does.
    pub fn rewind(&self) {
        if let Ok(mut iterators) = self.iterators.lock() {
            iterators.clear();
        }
        if let Ok(mut last) = self.last_sequence.lock() {
            last.clear();
        }
        if let Ok(mut failing) = self.failing.lock() {
            failing.clear();
        }
    }

    /// An iterator resuming `shard` after the last record handed over (TRIM_HORIZON when none
    /// was).
    async fn resume(&self, shard: &str) -> anyhow::Result<Option<String>> {
        let last = self
            .last_sequence
            .lock()
            .map_err(|_| anyhow::anyhow!("sequence lock poisoned"))?
            .get(shard)
            .cloned();
        match last {
            Some(sequence) => {
                self.iterator(
                    shard,
                    ShardIteratorType::AfterSequenceNumber,
                    Some(&sequence),
                )
                .await
            }
            None => {
                self.iterator(shard, ShardIteratorType::TrimHorizon, None)
                    .await
            }
        }
    }

    async fn iterator(
        &self,
        shard: &str,
        kind: ShardIteratorType,
        sequence: Option<&str>,
    ) -> anyhow::Result<Option<String>> {
        let output = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard)
            .shard_iterator_type(kind)
            .set_sequence_number(sequence.map(str::to_owned))
            .send()
            .await
            .context("GetShardIterator")?;
        Ok(output.shard_iterator)
    }

    /// Reads one batch from every shard and runs the handler on each non-empty batch.
    pub async fn poll_once<F, Fut>(&self, handler: &F) -> anyhow::Result<StreamOutcome>
    where
        F: Fn(LambdaEvent<Event>) -> Fut,
        Fut: Future<Output = Result<DynamoDbEventResponse, lambda_runtime::Error>>,
    {
        let described = self
            .client
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .context("DescribeStream")?;
        // (shard id, still open): an open shard has no ending sequence number.
        let shards: Vec<(String, bool)> = described
            .stream_description()
            .map(|d| {
                d.shards()
                    .iter()
                    .filter_map(|s| {
                        let open = s
                            .sequence_number_range()
                            .and_then(|r| r.ending_sequence_number())
                            .is_none();
                        s.shard_id().map(|id| (id.to_owned(), open))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut outcome = StreamOutcome::default();
        for (shard, open) in shards {
            let known = self
                .iterators
                .lock()
                .map_err(|_| anyhow::anyhow!("iterator lock poisoned"))?
                .get(&shard)
                .cloned();
            let iterator = match known {
                Some(Some(iterator)) => iterator,
                // A closed shard read to its end is done; an open one never is: Lambda's
                // mapping keeps reading it, so resume after the last record seen.
                Some(None) if !open => continue,
                Some(None) | None => match self.resume(&shard).await? {
                    Some(iterator) => iterator,
                    None => continue,
                },
            };
            let output = match self
                .client
                .get_records()
                .shard_iterator(&iterator)
                .limit(self.batch_size)
                .send()
                .await
            {
                Ok(output) => output,
                Err(error) => {
                    // An expired or trimmed iterator (AWS expires them after 15 minutes): start
                    // again after the last record seen rather than stop feeding the function.
                    tracing::warn!(shard, error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(&error), "GetRecords failed: resuming after the last record seen");
                    let resumed = self.resume(&shard).await?;
                    self.iterators
                        .lock()
                        .map_err(|_| anyhow::anyhow!("iterator lock poisoned"))?
                        .insert(shard, resumed);
                    continue;
                }
            };
            let mut next = output.next_shard_iterator.clone();
            let mut records: Vec<Value> = output
                .records()
                .iter()
                .filter_map(|r| lambda_record(r, &self.stream_arn, &self.region))
                .collect();
            if self.disorder {
                records.reverse();
                records.extend(records.clone());
            }
            if !records.is_empty() {
                outcome.records += records.len();
                let event: Event = serde_json::from_value(json!({ "Records": records }))
                    .context("building the stream event")?;
                let failed = match handler(LambdaEvent::new(event, Context::default())).await {
                    Ok(response) => response
                        .batch_item_failures
                        .into_iter()
                        .filter_map(|f| f.item_identifier)
                        .next(),
                    Err(error) => {
                        tracing::warn!(%error, "handler failed: the whole batch will be retried");
                        output
                            .records()
                            .first()
                            .and_then(|r| r.dynamodb()?.sequence_number().map(str::to_owned))
                    }
                };
                if let Some(sequence) = failed {
                    outcome.failed_batches += 1;
                    if let Ok(mut failing) = self.failing.lock() {
                        let entry = failing
                            .entry(shard.clone())
                            .or_insert_with(|| (sequence.clone(), 0));
                        if entry.0 != sequence {
                            *entry = (sequence.clone(), 0);
                        }
                        entry.1 += 1;
                    }
                    next = self
                        .iterator(&shard, ShardIteratorType::AtSequenceNumber, Some(&sequence))
                        .await?;
                } else if let Some(last) = output
                    .records()
                    .last()
                    .and_then(|r| r.dynamodb()?.sequence_number())
                {
                    self.last_sequence
                        .lock()
                        .map_err(|_| anyhow::anyhow!("sequence lock poisoned"))?
                        .insert(shard.clone(), last.to_owned());
                    if let Ok(mut failing) = self.failing.lock() {
                        failing.remove(&shard);
                    }
                }
            }
            self.iterators
                .lock()
                .map_err(|_| anyhow::anyhow!("iterator lock poisoned"))?
                .insert(shard, next);
        }
        Ok(outcome)
    }

    /// Polls until a poll finds no new record; returns the totals. `timeout` is how long the
    /// stream may go without progress ([`StreamSource::checkpoints`]: a large backlog under
    /// faults is slow, not stuck); past it, the error names each shard's record the handler keeps
    /// failing at and how many times in a row, or says that none is failing (the handler is
    /// slower than the limit).
    pub async fn run_until_quiet<F, Fut>(
        &self,
        handler: &F,
        timeout: Duration,
    ) -> anyhow::Result<StreamOutcome>
    where
        F: Fn(LambdaEvent<Event>) -> Fut,
        Fut: Future<Output = Result<DynamoDbEventResponse, lambda_runtime::Error>>,
    {
        let started = Instant::now();
        let mut deadline = started + timeout;
        let mut total = StreamOutcome::default();
        let mut checkpoints = self.checkpoints();
        while Instant::now() < deadline {
            let outcome = self.poll_once(handler).await?;
            total.records += outcome.records;
            total.failed_batches += outcome.failed_batches;
            if outcome.records == 0 {
                return Ok(total);
            }
            let now = self.checkpoints();
            if now != checkpoints {
                checkpoints = now;
                deadline = Instant::now() + timeout;
            }
            if outcome.failed_batches > 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let failing: Vec<String> = self
            .failing
            .lock()
            .map(|failing| {
                failing
                    .iter()
                    .map(|(shard, (sequence, times))| {
                        format!(
                            "shard {shard} at sequence {sequence}, failed {times} times in a row"
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        anyhow::bail!(
            "the stream was not quiet: no shard moved on for {} s ({} records handed over, {} batches failed, in {} s); {}",
            timeout.as_secs(),
            total.records,
            total.failed_batches,
            started.elapsed().as_secs(),
            if failing.is_empty() {
                "no record is failing: the handler is slower than the limit".to_owned()
            } else {
                format!("stuck on {}", failing.join("; "))
            }
        )
    }

    /// Where each shard stands: the record it is failing at, else the last record it moved
    /// past. A change is progress (a failure further on is progress too); the same failing
    /// record again is not.
    fn checkpoints(&self) -> HashMap<String, String> {
        let mut at = self
            .last_sequence
            .lock()
            .map(|last| last.clone())
            .unwrap_or_default();
        if let Ok(failing) = self.failing.lock() {
            for (shard, (sequence, _)) in failing.iter() {
                at.insert(shard.clone(), format!("failing at {sequence}"));
            }
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Local, LocalOptions, REGION};
    use aws_sdk_dynamodb::types::AttributeValue as Item;

    async fn put(local: &Local, sk: &str) {
        local
            .clients
            .dynamodb
            .put_item()
            .table_name(&local.stack.table)
            .item("PK", Item::S("PERMIT#XA#STREAMTEST".into()))
            .item("SK", Item::S(sk.into()))
            .send()
            .await
            .expect("a ledger write");
    }

    /// Counts the records handed over, acknowledging them all.
    async fn poll(source: &StreamSource) -> usize {
        let handler = |_event: LambdaEvent<Event>| async {
            Ok::<_, lambda_runtime::Error>(DynamoDbEventResponse::default())
        };
        source.poll_once(&handler).await.expect("a poll").records
    }

    async fn caught_up_source() -> (Local, StreamSource) {
        let local = Local::start(LocalOptions::new("st"))
            .await
            .expect("moto starts (make .venv/bin/moto_server)");
        let streams = streams_client(Some(&local.endpoint), REGION, true).await;
        let source =
            StreamSource::new(&local.clients.dynamodb, streams, &local.stack.table, REGION)
                .await
                .unwrap();
        put(&local, "ONE").await;
        assert_eq!(poll(&source).await, 1);
        assert_eq!(poll(&source).await, 0, "caught up");
        (local, source)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_open_shard_that_gave_no_next_iterator_is_read_again_after_its_last_record() {
        let (local, source) = caught_up_source().await;
        // What a stream answers when it hands out no next iterator after catching up: the
        // mapping must not take the open shard for finished.
        for next in source.iterators.lock().unwrap().values_mut() {
            *next = None;
        }
        put(&local, "TWO").await;
        assert_eq!(
            poll(&source).await,
            1,
            "the change committed later is handed over"
        );
        assert_eq!(poll(&source).await, 0, "and only once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_expired_iterator_resumes_after_the_last_record_instead_of_failing() {
        let (local, source) = caught_up_source().await;
        for next in source.iterators.lock().unwrap().values_mut() {
            *next = Some("expired-or-trimmed-iterator".into());
        }
        put(&local, "TWO").await;
        let mut handed = 0;
        for _ in 0..2 {
            handed += poll(&source).await;
        }
        assert_eq!(handed, 1, "resumed after ONE: TWO once, ONE not again");
    }
}
