//! The ledger table's DynamoDB stream read the way Lambda reads it, outside Lambda: stream
//! records (`GetRecords`) to the `dynamodb::Event` Lambda would deliver ([`lambda_event`]: the
//! local runner plays the event-source mapping with it), and the replay of the notify failure
//! queue ([`replay_notify_failures`], `ecites replay --notify-failures`).
//!
//! When the notify function keeps failing on a batch, Lambda's event-source mapping gives up
//! and sends an *invocation record* to the on-failure destination (the stack's notify failure
//! queue). It names the batch, not its records:
//!
//! ```json
//! {"requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 4, ...},
//!  "version": "1.0", "timestamp": "2026-11-30T08:00:05.123Z",
//!  "DDBStreamBatchInfo": {"shardId": "shardId-00000001...", "startSequenceNumber": "8000...1",
//!    "endSequenceNumber": "8000...9", "approximateArrivalOfFirstRecord": "2026-11-30T08:00:00Z",
//!    "approximateArrivalOfLastRecord": "2026-11-30T08:00:01Z", "batchSize": 3,
//!    "streamArn": "arn:aws:dynamodb:...:table/<t>/stream/2026-..."}}
//! ```
//!
//! The replay reads those records again from the stream (`GetShardIterator`
//! `AT_SEQUENCE_NUMBER`, then `GetRecords` until past the end sequence number), hands them to
//! the notify function's own handler, and deletes the failure message only when every record
//! was handled. The stream keeps records 24 hours: records it no longer has are reported, and
//! their message stays on the queue.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::error::{DisplayErrorContext, ProvideErrorMetadata as _};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::future::Future;

/// How long DynamoDB Streams keeps a record.
pub const STREAM_RETENTION: chrono::Duration = chrono::Duration::hours(24);

/// Records asked for per `GetRecords` (the API's maximum is 1,000).
const RECORDS_PER_READ: i32 = 1000;

/// Empty `GetRecords` answers in a row after which an open shard is taken to have nothing more
/// in the range (a shard may answer empty before its next record).
const EMPTY_READS: usize = 3;

/// DynamoDB JSON of an attribute value, as Lambda puts it in stream events. (Binary values are
/// left out: the ledger stores none.)
fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::L(items) => {
            json!({ "L": items.iter().map(attribute_json).collect::<Vec<_>>() })
        }
        AttributeValue::M(map) => json!({ "M": item_json(Some(map)) }),
        _ => json!({ "NULL": true }),
    }
}

fn item_json(item: Option<&HashMap<String, AttributeValue>>) -> Value {
    let mut out = Map::new();
    for (name, value) in item.into_iter().flatten() {
        if !matches!(value, AttributeValue::B(_) | AttributeValue::Bs(_)) {
            out.insert(name.clone(), attribute_json(value));
        }
    }
    Value::Object(out)
}

/// One stream record as Lambda delivers it in a `dynamodb::Event` (`eventID`, `eventName`,
/// `dynamodb` with keys, images, sequence number and `ApproximateCreationDateTime` in epoch
/// seconds); `None` for a record without its `dynamodb` part.
pub fn lambda_record(record: &Record, stream_arn: &str, region: &str) -> Option<Value> {
    let change = record.dynamodb()?;
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": change.approximate_creation_date_time().map(|t| t.secs()).unwrap_or(0),
        "Keys": item_json(change.keys()),
        "SequenceNumber": change.sequence_number(),
        "SizeBytes": change.size_bytes().unwrap_or(0),
        "StreamViewType": change.stream_view_type().map(|v| v.as_str()),
    });
    if let Some(new) = change.new_image() {
        dynamodb["NewImage"] = item_json(Some(new));
    }
    if let Some(old) = change.old_image() {
        dynamodb["OldImage"] = item_json(Some(old));
    }
    Some(json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }))
}

/// The `dynamodb::Event` Lambda would deliver for `records` of the stream `stream_arn`.
/// Errors: the JSON is not an event (a change of `aws_lambda_events`), as text.
pub fn lambda_event(records: &[Record], stream_arn: &str, region: &str) -> Result<Event, String> {
    let records: Vec<Value> = records
        .iter()
        .filter_map(|r| lambda_record(r, stream_arn, region))
        .collect();
    serde_json::from_value(json!({ "Records": records }))
        .map_err(|e| format!("building the stream event: {e}"))
}

/// The region of a stream ARN (`arn:aws:dynamodb:<region>:...`), empty when it has none.
fn region_of(stream_arn: &str) -> &str {
    stream_arn.split(':').nth(3).unwrap_or("")
}

/// Compares two stream sequence numbers (decimal strings of up to 40 digits, beyond `u128`'s
/// reach in principle): by length, then digit by digit.
pub fn compare_sequence_numbers(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The batch an invocation record of the on-failure destination names (`DDBStreamBatchInfo`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedBatch {
    /// The stream.
    pub stream_arn: String,
    /// The shard the records are in.
    pub shard_id: String,
    /// The first record's sequence number.
    pub start_sequence_number: String,
    /// The last record's sequence number.
    pub end_sequence_number: String,
    /// How many records the batch had.
    #[serde(default)]
    pub batch_size: Option<u64>,
    /// When the first record reached the stream (RFC 3339), when given.
    #[serde(default)]
    pub approximate_arrival_of_first_record: Option<String>,
}

/// An invocation record, as far as the replay reads it.
#[derive(Deserialize)]
struct InvocationRecord {
    #[serde(rename = "DDBStreamBatchInfo")]
    batch: FailedBatch,
}

impl FailedBatch {
    /// Reads an on-failure invocation record. Errors name what is missing or wrong (the body
    /// is not JSON, has no `DDBStreamBatchInfo`, or lacks one of its fields).
    pub fn from_message(body: &str) -> Result<Self, String> {
        let record: InvocationRecord = serde_json::from_str(body).map_err(|e| {
            format!("not a DynamoDB stream invocation record (DDBStreamBatchInfo): {e}")
        })?;
        let batch = record.batch;
        for (field, value) in [
            ("streamArn", &batch.stream_arn),
            ("shardId", &batch.shard_id),
            ("startSequenceNumber", &batch.start_sequence_number),
            ("endSequenceNumber", &batch.end_sequence_number),
        ] {
            if value.trim().is_empty() {
                return Err(format!("DDBStreamBatchInfo.{field} is empty"));
            }
        }
        Ok(batch)
    }

    /// Whether the stream has dropped the first record by `now` (it arrived more than
    /// [`STREAM_RETENTION`] ago); `false` when the arrival time is not given or unreadable.
    pub fn older_than_retention(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.approximate_arrival_of_first_record
            .as_deref()
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
            .is_some_and(|at| now.signed_duration_since(at) > STREAM_RETENTION)
    }
}

/// Why the records of a failed batch could not all be read again.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The stream no longer has (or never had) the batch's first record: trimmed after 24
    /// hours, or a sequence number of another stream or shard.
    #[error("the stream no longer has the records from {start} to {end} ({why}): records older than 24 hours are trimmed")]
    Trimmed {
        /// The first sequence number asked for.
        start: String,
        /// The last.
        end: String,
        /// What the stream answered.
        why: String,
    },
    /// A call to DynamoDB Streams failed otherwise (throttled, unreachable, denied).
    #[error("{0}")]
    Stream(String),
}

/// Reads the records of `batch` again: `GetShardIterator` `AT_SEQUENCE_NUMBER` its start, then
/// `GetRecords` until a record past its end (or the shard's end). Errors:
/// [`ReadError::Trimmed`] when the stream refuses the position (`TrimmedDataAccessException`,
/// `ResourceNotFoundException`) or its first record is not the batch's first;
/// [`ReadError::Stream`] when the records read stop before the batch's last, or for other
/// failures.
pub async fn read_batch(
    streams: &aws_sdk_dynamodbstreams::Client,
    batch: &FailedBatch,
) -> Result<Vec<Record>, ReadError> {
    let trimmed = |why: String| ReadError::Trimmed {
        start: batch.start_sequence_number.clone(),
        end: batch.end_sequence_number.clone(),
        why,
    };
    let refused = |operation: &str, code: Option<&str>, text: String| match code {
        Some("TrimmedDataAccessException" | "ResourceNotFoundException") => {
            trimmed(format!("{operation}: {text}"))
        }
        _ => ReadError::Stream(format!(
            "dynamodb:{operation} on {}: {text}",
            batch.shard_id
        )),
    };
    let started = streams
        .get_shard_iterator()
        .stream_arn(&batch.stream_arn)
        .shard_id(&batch.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&batch.start_sequence_number)
        .send()
        .await
        .map_err(|e| {
            let text = DisplayErrorContext(&e).to_string();
            refused("GetShardIterator", e.code(), text)
        })?;
    let mut iterator = started.shard_iterator;
    let mut records: Vec<Record> = Vec::new();
    let mut empty = 0;
    while let Some(position) = iterator.take() {
        let read = streams
            .get_records()
            .shard_iterator(position)
            .limit(RECORDS_PER_READ)
            .send()
            .await
            .map_err(|e| {
                let text = DisplayErrorContext(&e).to_string();
                refused("GetRecords", e.code(), text)
            })?;
        if read.records().is_empty() {
            empty += 1;
            if empty >= EMPTY_READS {
                break;
            }
        } else {
            empty = 0;
        }
        let mut past_end = false;
        for record in read.records() {
            let sequence = record
                .dynamodb()
                .and_then(|d| d.sequence_number())
                .unwrap_or("");
            if compare_sequence_numbers(sequence, &batch.end_sequence_number) == Ordering::Greater {
                past_end = true;
                break;
            }
            records.push(record.clone());
        }
        if past_end {
            break;
        }
        iterator = read.next_shard_iterator;
    }
    let sequence = |record: Option<&Record>| {
        record
            .and_then(|r| r.dynamodb()?.sequence_number())
            .map(str::to_owned)
    };
    match sequence(records.first()) {
        Some(first) if first == batch.start_sequence_number => {}
        Some(first) => {
            return Err(trimmed(format!(
                "its first record there is {first}, after the batch's first"
            )))
        }
        None => return Err(trimmed("no record in that range".to_owned())),
    }
    // The stream may answer empty before its next record: a batch read only in part is not
    // replayed, so its message is never deleted with records left out.
    match sequence(records.last()) {
        Some(last) if last == batch.end_sequence_number => Ok(records),
        last => Err(ReadError::Stream(format!(
            "the stream gave the records of shard {} from {} up to {} only, not to the batch's last, {}: replay again",
            batch.shard_id,
            batch.start_sequence_number,
            last.unwrap_or_default(),
            batch.end_sequence_number
        ))),
    }
}

/// What happened to one failure message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchReplay {
    /// Every record was handled: the message was deleted.
    Replayed {
        /// The shard.
        shard_id: String,
        /// Records handed to the notify function.
        records: usize,
    },
    /// The handler failed on a record: the message stays (replay again later).
    HandlerFailed {
        /// The shard.
        shard_id: String,
        /// The first record not handled.
        sequence_number: String,
    },
    /// The records could not be read again: the message stays.
    NotRead {
        /// The shard.
        shard_id: String,
        /// Why, for the operator.
        reason: ReadError,
        /// The first record arrived more than 24 hours ago (by the message).
        expired: bool,
    },
    /// Not an invocation record: the message stays, for a person.
    Unreadable {
        /// The SQS message id.
        message_id: String,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for BatchReplay {
    /// One sentence for the operator.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchReplay::Replayed { shard_id, records } => write!(
                f,
                "Replayed {records} record{} of shard {shard_id}; the failure message was deleted.",
                if *records == 1 { "" } else { "s" }
            ),
            BatchReplay::HandlerFailed {
                shard_id,
                sequence_number,
            } => write!(
                f,
                "Notify failed again on record {sequence_number} of shard {shard_id}; the failure message was kept (see the notify logs, then replay again)."
            ),
            BatchReplay::NotRead {
                shard_id,
                reason,
                expired,
            } => write!(
                f,
                "Could not read the records of shard {shard_id} again: {reason}{}; the failure message was kept: these changes cannot be notified by a replay (tell the subscribers by other means, then delete the message).",
                if *expired {
                    " (the batch arrived more than 24 hours ago)"
                } else {
                    ""
                }
            ),
            BatchReplay::Unreadable { message_id, reason } => write!(
                f,
                "Message {message_id} was left on the queue: {reason}."
            ),
        }
    }
}

/// What [`replay_notify_failures`] did, message by message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifyReplayReport {
    /// One entry per failure message read, in the order read.
    pub batches: Vec<BatchReplay>,
}

impl NotifyReplayReport {
    /// Whether every message read was replayed and deleted.
    pub fn all_replayed(&self) -> bool {
        self.batches
            .iter()
            .all(|b| matches!(b, BatchReplay::Replayed { .. }))
    }
}

/// Replays up to `limit` messages of the notify failure queue at `queue_url`: each batch's
/// records are read again from the stream ([`read_batch`]) and handed to `notify` (the notify
/// function's batch handler, whose claims make records already notified harmless); the message
/// is deleted only when the handler reports no failure. Each message is received with a
/// 5-minute visibility timeout, so one kept reappears for the next replay. Errors: the queue
/// cannot be read or a message deleted (transient or permanent as SQS said, naming the call).
pub async fn replay_notify_failures<F, Fut>(
    sqs: &aws_sdk_sqs::Client,
    streams: &aws_sdk_dynamodbstreams::Client,
    queue_url: &str,
    limit: usize,
    notify: F,
) -> Result<NotifyReplayReport, ecites_exchange::Error>
where
    F: Fn(Event) -> Fut,
    Fut: Future<Output = DynamoDbEventResponse>,
{
    let mut report = NotifyReplayReport::default();
    while report.batches.len() < limit {
        let wanted = (limit - report.batches.len()).min(10) as i32;
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(wanted)
            .visibility_timeout(300)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| crate::classify("sqs:ReceiveMessage", e))?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let outcome = replay_one(streams, message.body().unwrap_or(""), &notify).await;
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(reason) => BatchReplay::Unreadable {
                    message_id: message.message_id().unwrap_or("").to_owned(),
                    reason,
                },
            };
            if matches!(outcome, BatchReplay::Replayed { .. }) {
                if let Some(handle) = message.receipt_handle() {
                    sqs.delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(|e| crate::classify("sqs:DeleteMessage", e))?;
                }
            }
            report.batches.push(outcome);
        }
    }
    Ok(report)
}

/// Replays one message's batch; `Err` when the message is not an invocation record.
async fn replay_one<F, Fut>(
    streams: &aws_sdk_dynamodbstreams::Client,
    body: &str,
    notify: &F,
) -> Result<BatchReplay, String>
where
    F: Fn(Event) -> Fut,
    Fut: Future<Output = DynamoDbEventResponse>,
{
    let batch = FailedBatch::from_message(body)?;
    let shard_id = batch.shard_id.clone();
    let records = match read_batch(streams, &batch).await {
        Ok(records) => records,
        Err(reason) => {
            return Ok(BatchReplay::NotRead {
                shard_id,
                reason,
                expired: batch.older_than_retention(chrono::Utc::now()),
            })
        }
    };
    let event = lambda_event(&records, &batch.stream_arn, region_of(&batch.stream_arn))?;
    let failed = notify(event)
        .await
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier.unwrap_or_default())
        .next();
    Ok(match failed {
        None => BatchReplay::Replayed {
            shard_id,
            records: records.len(),
        },
        Some(sequence_number) => BatchReplay::HandlerFailed {
            shard_id,
            sequence_number,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An invocation record as Lambda sends it to the on-failure destination (the shape of
    /// AWS's documentation, "Retaining discarded batches for a DynamoDB event source").
    const INVOCATION_RECORD: &str = r#"{
      "requestContext": {"requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
        "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:ecites-notify",
        "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 4},
      "responseContext": {"statusCode": 200, "executedVersion": "7", "functionError": "Unhandled"},
      "version": "1.0", "timestamp": "2026-11-30T08:00:49.717Z",
      "DDBStreamBatchInfo": {"shardId": "shardId-00000001573689847184-864758bb",
        "startSequenceNumber": "800000000003126276362", "endSequenceNumber": "800000000003126276370",
        "approximateArrivalOfFirstRecord": "2026-11-30T08:00:19Z",
        "approximateArrivalOfLastRecord": "2026-11-30T08:00:20Z", "batchSize": 3,
        "streamArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/ecites-ledger/stream/2026-11-01T00:04:06.388"}
    }"#;

    #[test]
    fn an_invocation_record_names_the_stream_shard_and_sequence_range() {
        let batch = FailedBatch::from_message(INVOCATION_RECORD).unwrap();
        assert_eq!(batch.shard_id, "shardId-00000001573689847184-864758bb");
        assert_eq!(batch.start_sequence_number, "800000000003126276362");
        assert_eq!(batch.end_sequence_number, "800000000003126276370");
        assert_eq!(batch.batch_size, Some(3));
        assert_eq!(region_of(&batch.stream_arn), "eu-west-1");
        let at = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc();
        assert!(!batch.older_than_retention(at("2026-12-01T08:00:00Z")));
        assert!(batch.older_than_retention(at("2026-12-01T08:00:20Z")));
    }

    #[test]
    fn a_message_that_is_no_invocation_record_is_refused_naming_what_is_missing() {
        let refused = FailedBatch::from_message(r#"{"hello": 1}"#).unwrap_err();
        assert!(refused.contains("DDBStreamBatchInfo"), "{refused}");
        let empty = INVOCATION_RECORD.replace("shardId-00000001573689847184-864758bb", "");
        let refused = FailedBatch::from_message(&empty).unwrap_err();
        assert!(
            refused.contains("DDBStreamBatchInfo.shardId is empty"),
            "{refused}"
        );
    }

    #[test]
    fn sequence_numbers_compare_as_numbers_of_any_length() {
        assert_eq!(compare_sequence_numbers("9", "10"), Ordering::Less);
        assert_eq!(
            compare_sequence_numbers("800000000003126276370", "800000000003126276362"),
            Ordering::Greater
        );
        assert_eq!(compare_sequence_numbers("0042", "42"), Ordering::Equal);
    }
}
