//! The message formats on the ingest and deliveries queues (documented in `docs/pipeline.md`).
//!
//! The ingest queue carries either S3 event notifications (S3 -> SQS for `inbox/`) or messages
//! that MA systems send directly, tagged with `type` and `version` so the format can grow:
//!
//! ```json
//! {"type": "permit", "version": 1, "file_name": "24XA0001.json", "content": "{...}"}
//! {"type": "permit_ref", "version": 1, "bucket": "b", "key": "large/24XA0001.xml"}
//! {"type": "cancel", "version": 1, "issuer": "XA", "permit_number": "24XA0001", "reason": "..."}
//! ```

use crate::keys::decode_event_key;
use crate::ledger::{DeliveryKind, PendingDelivery};
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
        /// The size the notification announced, when it did.
        size: Option<u64>,
    },
    /// A permit file sent inline in the message.
    Inline {
        /// The file name the sender gives (helps format detection); optional.
        file_name: Option<String>,
        /// The file's content (XML, JSON or CSV text).
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
    },
    Cancel {
        version: u32,
        issuer: String,
        permit_number: String,
        #[serde(default)]
        reason: String,
    },
}

/// The only version of the direct message format so far.
pub const DIRECT_MESSAGE_VERSION: u32 = 1;

/// Reads an ingest queue message body. An unreadable body is a permanent error (the caller
/// reports and acknowledges it).
pub fn parse_ingest_message(body: &str) -> Result<IngestMessage, crate::Error> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| crate::Error::InvalidMessage(format!("the message body is not JSON: {e}")))?;
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(IngestMessage::Skip("s3:TestEvent".into()));
    }
    if let Some(records) = value.get("Records").and_then(Value::as_array) {
        return Ok(parse_s3_records(records));
    }
    if value.get("type").is_some() {
        let direct: Direct = serde_json::from_value(value).map_err(|e| {
            crate::Error::InvalidMessage(format!("not a valid direct message: {e}"))
        })?;
        let version = match &direct {
            Direct::Permit { version, .. }
            | Direct::PermitRef { version, .. }
            | Direct::Cancel { version, .. } => *version,
        };
        if version != DIRECT_MESSAGE_VERSION {
            return Err(crate::Error::InvalidMessage(format!(
                "direct message version {version} is not supported (expected {DIRECT_MESSAGE_VERSION})"
            )));
        }
        let input = match direct {
            Direct::Permit {
                file_name, content, ..
            } => Input::Inline { file_name, content },
            Direct::PermitRef { bucket, key, .. } => Input::Object {
                bucket,
                key,
                size: None,
            },
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
        };
        return Ok(IngestMessage::Inputs(vec![input]));
    }
    Err(crate::Error::InvalidMessage(
        "neither an S3 event notification nor a direct message (no `Records` or `type`)".into(),
    ))
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
        let key = record.pointer("/s3/object/key").and_then(Value::as_str);
        match (event.starts_with("ObjectCreated"), bucket, key) {
            (true, Some(bucket), Some(key)) => inputs.push(Input::Object {
                bucket: bucket.to_owned(),
                key: decode_event_key(key),
                size: record.pointer("/s3/object/size").and_then(Value::as_u64),
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
        IngestMessage::Skip(format!("no ObjectCreated records ({})", skipped.join(", ")))
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                size: Some(12)
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
