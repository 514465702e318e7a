//! The message formats on the ingest and deliveries queues (documented in `docs/pipeline.md`).
//!
//! The ingest queue carries S3 event notifications for `inbox/`, however an operator wires S3 to
//! the queue (as AWS documents the wirings):
//!
//! - S3 -> SQS: the body is the S3 notification (`{"Records": [...]}`, keys form-urlencoded);
//! - S3 -> SNS -> SQS: SNS's envelope (`{"Type": "Notification", "Message": "<the S3
//!   notification as a string>"}`, raw message delivery off, SNS's default), or the notification
//!   itself with raw delivery on;
//! - S3 -> EventBridge -> SQS: the EventBridge event (`{"detail-type": "Object Created",
//!   "source": "aws.s3", "detail": {...}}`, keys percent-encoded, `+` kept), also inside SNS;
//!
//! or messages that MA systems send directly (on their own, or wrapped by SNS or EventBridge the
//! same way), tagged with `type` and `version` so the format can grow:
//!
//! ```json
//! {"type": "permit", "version": 1, "file_name": "24XA0001.json", "content": "{...}"}
//! {"type": "permit_ref", "version": 1, "bucket": "b", "key": "large/24XA0001.xml"}
//! {"type": "cancel", "version": 1, "issuer": "XA", "permit_number": "24XA0001", "reason": "..."}
//! ```
//!
//! An S3 event names one object version (`versionId`, EventBridge's `version-id`): ingest reads
//! exactly that version, so a key overwritten before ingest runs loses neither permit. Keys
//! ending in `/` are folders (the S3 console makes them as 0-byte objects): not files, skipped.

use crate::keys::{decode_event_key, decode_eventbridge_key};
use crate::ledger::{DeliveryKind, PendingDelivery};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One thing to ingest, as read from an ingest queue message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A permit file in S3 (from an S3 notification or a `permit_ref` message).
    Object {
        /// The bucket.
        bucket: String,
        /// The decoded key.
        key: String,
        /// The object version the event names (`None` for an unversioned bucket or a
        /// `permit_ref` without one): the version read, never "the latest".
        version_id: Option<String>,
        /// The size the notification announced, when it did.
        size: Option<u64>,
        /// When S3 says the object was written (the event's time), when it says.
        event_time: Option<DateTime<Utc>>,
    },
    /// A permit file sent inline in the message.
    Inline {
        /// The file name the sender gives (helps format detection); optional.
        file_name: Option<String>,
        /// The file's content (XML, JSON or CSV text).
        content: String,
    },
    /// A customs use of a permit ([`ecites_domain::usage::PermitUse`], JSON), read by ingest
    /// so that a broken one is refused field by field.
    Use {
        /// The use's JSON.
        content: String,
    },
    /// A cancellation of a permit by its issuer.
    Cancel {
        /// Issuing country (ISO 3166-1 alpha-2).
        issuer: String,
        /// Permit number.
        permit_number: String,
        /// Why it is cancelled.
        reason: String,
    },
}

/// What an ingest queue message holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngestMessage {
    /// Nothing to do, with the reason (S3's `s3:TestEvent`, non-ObjectCreated events).
    Skip(String),
    /// Inputs to ingest, in order.
    Inputs(Vec<Input>),
}

/// A direct message from an MA system.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Direct {
    Permit {
        version: u32,
        #[serde(default)]
        file_name: Option<String>,
        content: String,
    },
    PermitRef {
        version: u32,
        bucket: String,
        key: String,
        #[serde(default)]
        version_id: Option<String>,
    },
    Cancel {
        version: u32,
        issuer: String,
        permit_number: String,
        #[serde(default)]
        reason: String,
    },
    Use {
        version: u32,
        #[serde(rename = "use")]
        used: Value,
    },
}

/// The only version of the direct message format so far.
pub const DIRECT_MESSAGE_VERSION: u32 = 1;

/// How many wrappers (SNS envelopes, EventBridge events) may stand around a message: S3 -> SNS
/// -> EventBridge -> SQS is the deepest wiring AWS offers; more is a loop or an attack.
const MAX_WRAPPERS: usize = 3;

/// Reads an ingest queue message body. An unreadable body is a permanent error (the caller
/// reports and acknowledges it).
pub fn parse_ingest_message(body: &str) -> Result<IngestMessage, crate::Error> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| crate::Error::InvalidMessage(format!("the message body is not JSON: {e}")))?;
    parse_value(value, 0)
}

/// The permit a direct message names without a file to read (`ISSUER/number`): a
/// cancellation's, or the permit of a customs use. `None` for anything else (a permit's number
/// is known only once its file is read; the ledger orders versions by their time).
///
/// Ingest runs the messages of one permit in batch order ([`crate`]'s callers pass this as the
/// batch's ordering key), so a use and a cancellation of the same permit in one batch are
/// recorded in the order they were sent.
pub fn permit_named(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let text = |value: &Value, field: &str| value.get(field)?.as_str().map(str::to_owned);
    match value.get("type")?.as_str()? {
        "cancel" => Some(format!(
            "{}/{}",
            text(&value, "issuer")?,
            text(&value, "permit_number")?
        )),
        "use" => {
            let permit = value.get("use")?.get("permit")?;
            Some(format!(
                "{}/{}",
                text(permit, "issuer")?,
                text(permit, "number")?
            ))
        }
        _ => None,
    }
}

fn invalid(reason: impl Into<String>) -> crate::Error {
    crate::Error::InvalidMessage(reason.into())
}

fn parse_value(value: Value, wrappers: usize) -> Result<IngestMessage, crate::Error> {
    if let Some(sns_type) = sns_type(&value) {
        return parse_sns(&value, sns_type, wrappers);
    }
    if is_eventbridge(&value) {
        return parse_eventbridge(value, wrappers);
    }
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(IngestMessage::Skip("s3:TestEvent".into()));
    }
    if let Some(records) = value.get("Records").and_then(Value::as_array) {
        return Ok(parse_s3_records(records));
    }
    if value.get("type").is_some() {
        return parse_direct(value);
    }
    Err(invalid(
        "neither an S3 event notification (direct, through SNS or through EventBridge) nor a direct message (no `Records`, `detail` or `type`)",
    ))
}

/// SNS's envelope (raw message delivery off): `Type` is `Notification` (or a subscription
/// message) and `TopicArn` names the topic.
fn sns_type(value: &Value) -> Option<&str> {
    let sns_type = value.get("Type")?.as_str()?;
    value.get("TopicArn")?.as_str()?;
    Some(sns_type)
}

fn parse_sns(
    value: &Value,
    sns_type: &str,
    wrappers: usize,
) -> Result<IngestMessage, crate::Error> {
    if sns_type != "Notification" {
        // SubscriptionConfirmation / UnsubscribeConfirmation: SNS confirms SQS subscriptions
        // itself; nothing to ingest.
        return Ok(IngestMessage::Skip(format!("SNS {sns_type} message")));
    }
    if wrappers >= MAX_WRAPPERS {
        return Err(invalid(format!(
            "more than {MAX_WRAPPERS} SNS/EventBridge wrappers around the message"
        )));
    }
    let message = value
        .get("Message")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the SNS notification has no `Message` string"))?;
    let inner: Value = serde_json::from_str(message)
        .map_err(|e| invalid(format!("the SNS notification's `Message` is not JSON: {e}")))?;
    parse_value(inner, wrappers + 1)
}

/// An EventBridge event: `detail-type`, `source` and a `detail` object.
fn is_eventbridge(value: &Value) -> bool {
    value.get("detail-type").is_some_and(Value::is_string)
        && value.get("source").is_some_and(Value::is_string)
        && value.get("detail").is_some_and(Value::is_object)
}

fn parse_eventbridge(mut value: Value, wrappers: usize) -> Result<IngestMessage, crate::Error> {
    let source = value.get("source").and_then(Value::as_str).unwrap_or("");
    let detail_type = value
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if source == "aws.s3" {
        if detail_type != "Object Created" {
            return Ok(IngestMessage::Skip(format!(
                "EventBridge {detail_type} event"
            )));
        }
        let detail = &value["detail"];
        let bucket = detail.pointer("/bucket/name").and_then(Value::as_str);
        let key = detail.pointer("/object/key").and_then(Value::as_str);
        let (Some(bucket), Some(key)) = (bucket, key) else {
            return Err(invalid(
                "the EventBridge Object Created event has no detail.bucket.name or detail.object.key",
            ));
        };
        let key = decode_eventbridge_key(key);
        if is_folder(&key) {
            return Ok(IngestMessage::Skip(format!("folder {key} (not a file)")));
        }
        return Ok(IngestMessage::Inputs(vec![Input::Object {
            bucket: bucket.to_owned(),
            key,
            version_id: detail
                .pointer("/object/version-id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            size: detail.pointer("/object/size").and_then(Value::as_u64),
            event_time: time_of(value.get("time")),
        }]));
    }
    // A producer's own event (PutEvents) carrying a direct message, or an S3 notification, as
    // its detail.
    if wrappers >= MAX_WRAPPERS {
        return Err(invalid(format!(
            "more than {MAX_WRAPPERS} SNS/EventBridge wrappers around the message"
        )));
    }
    let detail = value["detail"].take();
    parse_value(detail, wrappers + 1)
}

fn time_of(value: Option<&Value>) -> Option<DateTime<Utc>> {
    value
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A key that names a folder, not a file: the S3 console's "Create folder" writes a 0-byte
/// object whose key ends in `/`.
fn is_folder(key: &str) -> bool {
    key.ends_with('/')
}

fn parse_direct(value: Value) -> Result<IngestMessage, crate::Error> {
    let direct: Direct = serde_json::from_value(value)
        .map_err(|e| invalid(format!("not a valid direct message: {e}")))?;
    let version = match &direct {
        Direct::Permit { version, .. }
        | Direct::PermitRef { version, .. }
        | Direct::Cancel { version, .. }
        | Direct::Use { version, .. } => *version,
    };
    if version != DIRECT_MESSAGE_VERSION {
        return Err(invalid(format!(
            "direct message version {version} is not supported (expected {DIRECT_MESSAGE_VERSION})"
        )));
    }
    let input = match direct {
        Direct::Permit {
            file_name, content, ..
        } => Input::Inline { file_name, content },
        Direct::PermitRef {
            bucket,
            key,
            version_id,
            ..
        } => {
            if is_folder(&key) {
                return Err(invalid(format!(
                    "permit_ref names {key}, a folder, not a file"
                )));
            }
            Input::Object {
                bucket,
                key,
                version_id,
                size: None,
                event_time: None,
            }
        }
        Direct::Cancel {
            issuer,
            permit_number,
            reason,
            ..
        } => Input::Cancel {
            issuer,
            permit_number,
            reason,
        },
        Direct::Use { used, .. } => Input::Use {
            content: used.to_string(),
        },
    };
    Ok(IngestMessage::Inputs(vec![input]))
}

/// Reads S3 notification records leniently: only the fields we use are required (moto's records
/// lack `userIdentity` and `requestParameters`, which the strict `aws_lambda_events` type needs).
fn parse_s3_records(records: &[Value]) -> IngestMessage {
    let mut inputs = Vec::new();
    let mut skipped = Vec::new();
    for record in records {
        let event = record
            .get("eventName")
            .and_then(Value::as_str)
            .unwrap_or("");
        let bucket = record.pointer("/s3/bucket/name").and_then(Value::as_str);
        let key = record
            .pointer("/s3/object/key")
            .and_then(Value::as_str)
            .map(decode_event_key);
        match (event.starts_with("ObjectCreated"), bucket, key) {
            (true, Some(_), Some(key)) if is_folder(&key) => {
                skipped.push(format!("folder {key} (not a file)"));
            }
            (true, Some(bucket), Some(key)) => inputs.push(Input::Object {
                bucket: bucket.to_owned(),
                key,
                version_id: record
                    .pointer("/s3/object/versionId")
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned),
                size: record.pointer("/s3/object/size").and_then(Value::as_u64),
                event_time: time_of(record.get("eventTime")),
            }),
            _ => skipped.push(
                if event.is_empty() {
                    "unnamed event"
                } else {
                    event
                }
                .to_owned(),
            ),
        }
    }
    if inputs.is_empty() {
        IngestMessage::Skip(format!(
            "no ObjectCreated records of files ({})",
            skipped.join(", ")
        ))
    } else {
        IngestMessage::Inputs(inputs)
    }
}

/// The message put on the deliveries queue, one per recipient: what the forward function needs
/// to deliver, with `delivery_id` as its idempotency key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMessage {
    /// Always `delivery`.
    #[serde(rename = "type")]
    pub message_type: String,
    /// Format version, 1.
    pub version: u32,
    /// Stable id of the delivery.
    pub delivery_id: String,
    /// `permit`, `replacement` or `cancellation`.
    pub kind: DeliveryKind,
    /// Issuing country.
    pub issuer: String,
    /// Permit number.
    pub permit_number: String,
    /// Version delivered (or cancelled).
    pub permit_version: u32,
    /// For a replacement: the version it replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_version: Option<u32>,
    /// Recipient country.
    pub recipient: String,
    /// Recipient endpoint from the partner directory.
    pub endpoint: String,
    /// Bucket of the canonical XML.
    pub xml_bucket: String,
    /// Key of the canonical XML.
    pub xml_key: String,
    /// SHA-256 of the canonical XML.
    pub content_sha256: String,
    /// For a cancellation: the issuer's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a use: its key within the permit ([`crate::usage::use_key`]); `xml_key` then names
    /// the use's JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_key: Option<String>,
    /// For a use: the sending MA's country (this deployment), which is not the permit's issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// For a use: the use itself (its JSON, a few hundred bytes), carried in the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

impl DeliveryMessage {
    /// The message for a pending delivery.
    pub fn from_pending(pending: &PendingDelivery, bucket: &str) -> Self {
        DeliveryMessage {
            message_type: "delivery".into(),
            version: 1,
            delivery_id: pending.delivery_id.clone(),
            kind: pending.kind,
            issuer: pending.id.issuer.to_string(),
            permit_number: pending.id.number.clone(),
            permit_version: pending.version,
            replaces_version: pending.replaces_version,
            recipient: pending.recipient.to_string(),
            endpoint: pending.endpoint.clone(),
            xml_bucket: bucket.to_owned(),
            xml_key: pending.xml_key.clone(),
            content_sha256: pending.content_sha256.clone(),
            reason: pending.reason.clone(),
            use_key: None,
            sender: None,
            payload: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancellation_and_a_use_name_their_permit_and_a_permit_file_does_not() {
        let cancel = r#"{"type":"cancel","version":1,"issuer":"XA","permit_number":"26XA0001","reason":"lost"}"#;
        assert_eq!(permit_named(cancel).as_deref(), Some("XA/26XA0001"));
        let used = r#"{"type":"use","version":1,"use":{"kind":"export","permit":{"issuer":"XA","number":"26XA0001"}}}"#;
        assert_eq!(permit_named(used).as_deref(), Some("XA/26XA0001"));
        let permit = r#"{"type":"permit","version":1,"content":"<x/>"}"#;
        assert_eq!(permit_named(permit), None);
        assert_eq!(permit_named("not json"), None);
        assert_eq!(permit_named(r#"{"type":"cancel","version":1}"#), None);
    }

    #[test]
    fn test_event_is_skipped() {
        let body = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-01T00:00:00Z","Bucket":"b"}"#;
        assert!(matches!(
            parse_ingest_message(body).unwrap(),
            IngestMessage::Skip(_)
        ));
    }

    #[test]
    fn moto_style_records_parse_without_user_identity() {
        let body = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"inbox%2Fa+b.xml","size":12}}}]}"#;
        assert_eq!(
            parse_ingest_message(body).unwrap(),
            IngestMessage::Inputs(vec![Input::Object {
                bucket: "b".into(),
                key: "inbox/a b.xml".into(),
                version_id: None,
                size: Some(12),
                event_time: None,
            }])
        );
    }

    #[test]
    fn direct_messages_need_a_known_version() {
        let body = r#"{"type":"cancel","version":2,"issuer":"XA","permit_number":"1"}"#;
        assert!(parse_ingest_message(body).is_err());
        let body =
            r#"{"type":"cancel","version":1,"issuer":"XA","permit_number":"1","reason":"lost"}"#;
        assert!(matches!(
            parse_ingest_message(body).unwrap(),
            IngestMessage::Inputs(_)
        ));
        assert!(parse_ingest_message("not json").is_err());
        assert!(parse_ingest_message(r#"{"hello":1}"#).is_err());
    }
}
