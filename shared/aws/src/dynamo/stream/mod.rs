//! The ledger table's stream, decoded: one DynamoDB stream record (`NEW_AND_OLD_IMAGES`) to the
//! typed [`LedgerChange`] the notify use case reads, or to nothing for the items notifications
//! never concern. The attribute names and item types read here are the ones [`super::table`]
//! and the ledger's writes give them; the exchange crate never sees an attribute name.

use aws_lambda_events::dynamodb::EventRecord;
use ecites_exchange::ledger::DeliveryState;
use ecites_exchange::notify::{ChangedItem, LedgerChange};
use serde::Deserialize;

/// The attributes of a ledger item that notifications read (every one optional: item types
/// carry different subsets), read from a stream image with `serde_dynamo`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StreamItem {
    #[serde(rename = "SK", deserialize_with = "text")]
    sk: Option<String>,
    /// The item type (`VERSION`, `HEAD`, ...; hand-written samples may use lower case).
    #[serde(rename = "type", deserialize_with = "text")]
    item_type: Option<String>,
    #[serde(deserialize_with = "text")]
    issuer: Option<String>,
    #[serde(deserialize_with = "text")]
    permit_number: Option<String>,
    #[serde(deserialize_with = "number")]
    version: Option<u32>,
    #[serde(deserialize_with = "text")]
    xml_key: Option<String>,
    #[serde(deserialize_with = "text")]
    state: Option<String>,
    #[serde(deserialize_with = "number")]
    latest_version: Option<u32>,
    latest_sha256: Option<String>,
    #[serde(deserialize_with = "text")]
    cancel_reason: Option<String>,
    #[serde(deserialize_with = "text")]
    updated_at: Option<String>,
    #[serde(deserialize_with = "text")]
    received_at: Option<String>,
    #[serde(deserialize_with = "text")]
    reason: Option<String>,
    #[serde(deserialize_with = "text")]
    errors: Option<String>,
    #[serde(deserialize_with = "text")]
    source: Option<String>,
    #[serde(deserialize_with = "text")]
    delivery_id: Option<String>,
    #[serde(deserialize_with = "text")]
    recipient: Option<String>,
    /// What a delivery carries, or the kind of a customs use.
    #[serde(deserialize_with = "text")]
    kind: Option<String>,
    #[serde(deserialize_with = "number")]
    attempts: Option<u32>,
    #[serde(deserialize_with = "text")]
    last_error: Option<String>,
    #[serde(deserialize_with = "text")]
    sender: Option<String>,
    #[serde(deserialize_with = "text")]
    document_status: Option<String>,
    #[serde(deserialize_with = "text")]
    tracking_number: Option<String>,
    #[serde(deserialize_with = "text")]
    ack_status: Option<String>,
    #[serde(deserialize_with = "text")]
    rechecked_at: Option<String>,
    #[serde(deserialize_with = "text")]
    declaration_number: Option<String>,
    #[serde(deserialize_with = "text")]
    reported_by: Option<String>,
    #[serde(deserialize_with = "text")]
    alerts: Option<String>,
    #[serde(deserialize_with = "text")]
    waiting: Option<String>,
    #[serde(deserialize_with = "text")]
    recorded_at: Option<String>,
}

/// A text attribute, whether the ledger wrote it as `S` or `N` (a count is a number): read as
/// its text, so no attribute's type can make a whole item unreadable.
fn text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string or a number")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
    }
    deserializer.deserialize_any(Text)
}

/// A number attribute, `N` as the ledger writes it or `S` holding digits (hand-written
/// samples); anything else reads as absent.
fn number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    Ok(text(deserializer)?.and_then(|t| t.trim().parse().ok()))
}

/// Reads an image; an absent image (INSERT's old, REMOVE's new) is an empty item. An image that
/// cannot be read at all (an attribute of a type no field accepts, such as a list where text
/// belongs) is logged and read as empty, so the record is acknowledged rather than retried
/// forever.
fn read(image: &serde_dynamo::Item) -> StreamItem {
    if image.is_empty() {
        return StreamItem::default();
    }
    serde_dynamo::from_item(image.clone()).unwrap_or_else(|error| {
        tracing::warn!(%error, "a ledger stream image the notify function cannot read");
        StreamItem::default()
    })
}

/// The partition key (`PK`) of the item a stream record changed: for the ledger, the permit
/// (`ISSUER#number`), so the notify function keeps the order of one permit's changes while it
/// handles different permits' at the same time. `None` when the record carries no text `PK`.
pub fn partition_key(record: &EventRecord) -> Option<String> {
    match record.change.keys.get(super::table::PK)? {
        serde_dynamo::AttributeValue::S(pk) => Some(pk.clone()),
        _ => None,
    }
}

/// The change one stream record carries, if notifications may be about it.
pub fn ledger_change(record: &EventRecord) -> Option<LedgerChange> {
    decode(
        &record.event_name,
        &read(&record.change.old_image),
        &read(&record.change.new_image),
    )
}

/// Decodes the images of one record (`event_name` is `INSERT`, `MODIFY` or `REMOVE`).
fn decode(event_name: &str, old: &StreamItem, new: &StreamItem) -> Option<LedgerChange> {
    if event_name == "REMOVE" {
        return None;
    }
    let inserted = event_name == "INSERT";
    let item = ChangedItem {
        issuer: new.issuer.clone()?,
        permit_number: new.permit_number.clone()?,
        version: new.version,
        // A customs use's delivery carries no permit XML and writes its key empty: no key, so
        // its events are never summarised from an object that cannot exist.
        xml_key: new.xml_key.clone().filter(|key| !key.is_empty()),
    };
    let sk = new.sk.as_deref().unwrap_or("");
    let cancelled = |image: &StreamItem| image.state.as_deref() == Some("CANCELLED");
    let change = match new.item_type.as_deref()?.to_ascii_uppercase().as_str() {
        "VERSION" if inserted => LedgerChange::VersionRecorded {
            item,
            received_at: new.received_at.clone(),
        },
        "HEAD" => LedgerChange::HeadWritten {
            item,
            was_cancelled: cancelled(old),
            cancelled: cancelled(new),
            latest_version: new.latest_version,
            latest_sha256: new.latest_sha256.clone(),
            cancel_reason: new.cancel_reason.clone(),
            updated_at: new.updated_at.clone(),
        },
        "REJECTION" if inserted => LedgerChange::RejectionRecorded {
            item,
            content_sha256: sk.strip_prefix("REJECTION#").unwrap_or(sk).to_owned(),
            reason: new.reason.clone(),
            errors: new.errors.clone(),
            source: new.source.clone(),
            received_at: new.received_at.clone(),
        },
        "DELIVERY" => LedgerChange::DeliveryWritten {
            item,
            delivery_id: new.delivery_id.clone()?,
            state_before: old.state.as_deref().and_then(DeliveryState::parse),
            state: new.state.as_deref().and_then(DeliveryState::parse),
            recipient: new.recipient.clone(),
            kind: new.kind.clone(),
            attempts: new.attempts,
            last_error: new.last_error.clone(),
            updated_at: new.updated_at.clone(),
        },
        // Written by the receive function (`RECEIVED#<version>#<status>`).
        "RECEIVED" if inserted => LedgerChange::DocumentReceived {
            item,
            sender: new.sender.clone(),
            document_status: new.document_status.clone(),
            tracking_number: new.tracking_number.clone(),
            ack_status: new.ack_status.clone(),
            received_at: new.received_at.clone(),
        },
        "USE" => LedgerChange::UseWritten {
            item,
            use_key: sk.strip_prefix("USE#").unwrap_or(sk).to_owned(),
            recorded: inserted,
            rechecked_at_before: old.rechecked_at.clone(),
            rechecked_at: new.rechecked_at.clone(),
            kind: new.kind.clone(),
            declaration_number: new.declaration_number.clone(),
            reported_by: new.reported_by.clone(),
            alerts: new.alerts.clone(),
            waiting: new.waiting.as_deref() == Some("true"),
            recorded_at: new.recorded_at.clone(),
        },
        _ => return None,
    };
    Some(change)
}

#[cfg(test)]
mod tests;
