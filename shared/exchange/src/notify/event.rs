//! What happened, derived from the ledger's committed state changes (its DynamoDB stream), and
//! the CloudEvents 1.0 notification that says so.
//!
//! Events come from the stream rather than from the functions that write, so an agency is told
//! if and only if the state change was committed (outbox pattern), and the event id is derived
//! from the change itself, so duplicate stream records and replays give the same id.

use crate::ledger::DeliveryState;
use ecites_domain::Permit;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The CloudEvents `type` prefix of every notification.
pub const TYPE_PREFIX: &str = "org.cites.epermit.";
/// The CloudEvents `source` of notifications from a deployment (followed by the MA country).
pub const SOURCE_PREFIX: &str = "urn:ecites-exchange:";

/// The events agencies subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A permit's first version was recorded (issued by this MA).
    Issued,
    /// A later version replaced the previous one (same number, different content).
    Replaced,
    /// The issuer cancelled the permit.
    Cancelled,
    /// An input for one of this MA's permits was refused (invalid, unknown permit, ...).
    Rejected,
    /// The partner MA acknowledged a delivery.
    Delivered,
    /// A delivery failed for good, or has no partner to go to.
    DeliveryFailed,
    /// A permit was received genuine from a partner MA (written by the receive function).
    Received,
    /// Customs recorded a use of a permit (export endorsement, import confirmation, border
    /// refusal) that raised no alert.
    Used,
    /// A use raised findings of severity error (a second consignment, a quantity above the
    /// permit, an expired, cancelled or never received permit, ...): `detail.alerts` names the
    /// rules.
    Alert,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 9] = [
        EventType::Issued,
        EventType::Replaced,
        EventType::Cancelled,
        EventType::Rejected,
        EventType::Delivered,
        EventType::DeliveryFailed,
        EventType::Received,
        EventType::Used,
        EventType::Alert,
    ];

    /// The short form (`issued`, `delivery_failed`): the SNS `event` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Issued => "issued",
            EventType::Replaced => "replaced",
            EventType::Cancelled => "cancelled",
            EventType::Rejected => "rejected",
            EventType::Delivered => "delivered",
            EventType::DeliveryFailed => "delivery_failed",
            EventType::Received => "received",
            EventType::Used => "used",
            EventType::Alert => "alert",
        }
    }

    /// Parses the short form.
    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL
            .into_iter()
            .find(|e| e.as_str() == text.trim())
    }

    /// The CloudEvents type (`org.cites.epermit.issued`).
    pub fn cloud_type(self) -> String {
        format!("{TYPE_PREFIX}{}", self.as_str())
    }

    /// The roles an event concerns. Permit lifecycle events concern every agency; rejections
    /// and failed deliveries are the issuing MA's own business (and enforcement's, who watch for
    /// fraud attempts), never customs'.
    pub fn roles(self) -> &'static [crate::notify::Role] {
        use crate::notify::Role::*;
        match self {
            EventType::Issued
            | EventType::Replaced
            | EventType::Cancelled
            | EventType::Delivered
            | EventType::Received => &[
                Customs,
                Veterinary,
                Phytosanitary,
                Enforcement,
                ManagementAuthority,
                Other,
            ],
            EventType::Rejected | EventType::DeliveryFailed => &[ManagementAuthority, Enforcement],
            EventType::Used | EventType::Alert => &[Customs, Enforcement, ManagementAuthority],
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One block of a permit, as notifications show it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSummary {
    /// Block id (A, B, ...).
    pub id: String,
    /// Scientific name (box 7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taxon: Option<String>,
    /// Appendix (I, II, III).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appendix: Option<String>,
    /// Source code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Purpose code (box 5a, permit-wide, repeated per block for convenience).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Term code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    /// Quantity (decimal text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    /// Unit code (absent: number of specimens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Country of origin (box 12).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// What an agency needs to know about a permit without reading the standard XML.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitSummary {
    /// Document type (E, R, I, O).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_type: Option<String>,
    /// Valid from (box 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    /// Valid until (box 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// Country of export (box 4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exporter: Option<String>,
    /// Country of import (box 3a).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub importer: Option<String>,
    /// The blocks.
    pub blocks: Vec<BlockSummary>,
}

impl PermitSummary {
    /// The summary of a decoded permit.
    pub fn of(permit: &Permit) -> Self {
        let purpose = permit.purpose.as_ref().map(|p| p.as_str().to_owned());
        PermitSummary {
            document_type: permit.document_type.as_ref().map(|d| d.as_str().to_owned()),
            valid_from: permit.valid_from.map(|t| t.to_string()),
            valid_until: permit.valid_until.map(|t| t.to_string()),
            exporter: permit.exporting_country().map(|c| c.to_string()),
            importer: permit.importing_country().map(|c| c.to_string()),
            blocks: permit
                .blocks
                .iter()
                .map(|b| BlockSummary {
                    id: b.id.clone(),
                    taxon: b.scientific_name.clone(),
                    appendix: b.appendix.as_ref().map(|a| a.as_str().to_owned()),
                    source: b.source.as_ref().map(|s| s.as_str().to_owned()),
                    purpose: purpose.clone(),
                    term: b.term.as_ref().map(|t| t.as_str().to_owned()),
                    quantity: b.quantity.as_ref().map(|q| q.value.to_string()),
                    unit: b
                        .quantity
                        .as_ref()
                        .and_then(|q| q.unit.as_ref())
                        .map(|u| u.as_str().to_owned()),
                    origin: b
                        .origin
                        .as_ref()
                        .and_then(|o| o.country.as_ref())
                        .map(|c| c.as_str().to_owned()),
                })
                .collect(),
        }
    }

    /// Countries of origin of the blocks (deduplicated).
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        let mut seen: Vec<&str> = self
            .blocks
            .iter()
            .filter_map(|b| b.origin.as_deref())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.into_iter()
    }

    /// Appendices of the blocks (deduplicated).
    pub fn appendices(&self) -> impl Iterator<Item = &str> {
        let mut seen: Vec<&str> = self
            .blocks
            .iter()
            .filter_map(|b| b.appendix.as_deref())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.into_iter()
    }
}

/// SNS delivers at most 10 message attributes to SQS subscribers.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// An item image from the stream, flattened to text (`S` and `N` attributes; others dropped,
/// the ledger uses no others for what notifications need).
pub type Image = BTreeMap<String, String>;

/// A committed change of the ledger, as one stream record carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub event_name: String,
    /// The item before (empty on INSERT).
    pub old: Image,
    /// The item after (empty on REMOVE).
    pub new: Image,
}

/// A state change agencies may be told about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateChange {
    /// Deterministic id: the same committed change always gets the same id.
    pub id: String,
    /// What happened.
    pub event: EventType,
    /// Issuing country.
    pub issuer: String,
    /// Permit number.
    pub permit_number: String,
    /// The permit version concerned, when one is.
    pub version: Option<u32>,
    /// Where the version's standard XML is, when there is one.
    pub xml_key: Option<String>,
    /// When it happened (RFC 3339, from the item).
    pub time: Option<String>,
    /// Event-specific details (recipient, state, reason, ...).
    pub detail: BTreeMap<String, String>,
}

/// The partner has the document and can use it.
fn delivered(state: Option<&str>) -> bool {
    matches!(
        state.and_then(DeliveryState::parse),
        Some(DeliveryState::Delivered | DeliveryState::DeliveredWithWarnings)
    )
}

/// The partner does not have a usable document, and no retry will change that by itself.
/// `DELIVERED_NOT_READABLE` belongs here, not with `delivered`: the partner refused the bytes
/// as unreadable, so for an agency waiting on the permit it is a failure with a reason.
fn failed(state: Option<&str>) -> bool {
    matches!(
        state.and_then(DeliveryState::parse),
        Some(
            DeliveryState::Failed | DeliveryState::NoPartner | DeliveryState::DeliveredNotReadable
        )
    )
}

/// The state change a stream record stands for, if agencies care about it. Anything else
/// (hash rows, head changes other than its cancellation, audit, notification bookkeeping,
/// subscriptions, removals) is `None`: the notify function acknowledges it and moves on.
pub fn state_change(change: &Change) -> Option<StateChange> {
    if change.event_name == "REMOVE" {
        return None;
    }
    let new = &change.new;
    let old = &change.old;
    let get = |name: &str| new.get(name).map(String::as_str);
    let issuer = get("issuer")?.to_owned();
    let permit_number = get("permit_number")?.to_owned();
    let number_key = crate::keys::escape_component(&permit_number);
    let version: Option<u32> = get("version").and_then(|v| v.parse().ok());
    let mut detail = BTreeMap::new();
    let mut version_override = None;
    let mut xml_override = None;
    // The ledger writes upper-case types; lower case is accepted too (hand-written samples).
    let kind = get("type")?.to_ascii_uppercase();
    let (event, id, time) = match kind.as_str() {
        "VERSION" if change.event_name == "INSERT" => {
            let v = version?;
            if v == 1 {
                (
                    EventType::Issued,
                    format!("{issuer}/{number_key}/v{v}/issued"),
                    get("received_at"),
                )
            } else {
                detail.insert("replaces_version".into(), (v - 1).to_string());
                (
                    EventType::Replaced,
                    format!("{issuer}/{number_key}/v{v}/replaced"),
                    get("received_at"),
                )
            }
        }
        // The cancellation is told from the permit head, which carries the issuer's reason;
        // the cancelled version's own change is the same fact and is not an event.
        "HEAD"
            if get("state") == Some("CANCELLED")
                && old.get("state").map(String::as_str) != Some("CANCELLED") =>
        {
            let v: u32 = get("latest_version")?.parse().ok()?;
            version_override = Some(v);
            if let (Some(sha), Ok(issuer_code)) = (get("latest_sha256"), issuer.parse()) {
                let id = ecites_domain::PermitId {
                    issuer: issuer_code,
                    number: permit_number.clone(),
                };
                xml_override = Some(crate::keys::outbox_key(&id, sha));
            }
            if let Some(reason) = get("cancel_reason") {
                detail.insert("reason".into(), reason.to_owned());
            }
            (
                EventType::Cancelled,
                format!("{issuer}/{number_key}/v{v}/cancelled"),
                get("updated_at"),
            )
        }
        "REJECTION" if change.event_name == "INSERT" => {
            let sk = get("SK")?;
            let hash = sk.strip_prefix("REJECTION#").unwrap_or(sk);
            for name in ["reason", "errors", "source"] {
                if let Some(value) = get(name) {
                    detail.insert(name.into(), value.to_owned());
                }
            }
            (
                EventType::Rejected,
                format!("{issuer}/{number_key}/rejected/{hash}"),
                get("received_at"),
            )
        }
        "DELIVERY" => {
            let now = get("state");
            let before = old.get("state").map(String::as_str);
            let event = if delivered(now) && !delivered(before) {
                EventType::Delivered
            } else if failed(now) && !failed(before) {
                EventType::DeliveryFailed
            } else {
                return None;
            };
            let delivery_id = get("delivery_id")?;
            for name in ["recipient", "kind", "state", "attempts", "last_error"] {
                if let Some(value) = get(name) {
                    detail.insert(name.into(), value.to_owned());
                }
            }
            // A delivery an operator replays (FAILED -> PENDING) may fail again: each failure
            // episode is its own event, told by the attempt count it ended at.
            let id = match (event, get("attempts")) {
                (EventType::DeliveryFailed, Some(attempts)) => {
                    format!("{delivery_id}/delivery_failed/{attempts}")
                }
                _ => format!("{delivery_id}/{}", event.as_str()),
            };
            (event, id, get("updated_at"))
        }
        "RECEIVED" if change.event_name == "INSERT" => {
            // Written by the receive function (`RECEIVED#<version>#<status>`): the sender is
            // the issuer; one received document per version and status (permit, replacement,
            // cancellation).
            let v = version.unwrap_or(1);
            detail.insert(
                "sender".into(),
                get("sender").unwrap_or(issuer.as_str()).to_owned(),
            );
            for name in ["document_status", "tracking_number", "ack_status"] {
                if let Some(value) = get(name) {
                    detail.insert(name.into(), value.to_owned());
                }
            }
            let id = match get("document_status") {
                Some(status) => format!("{issuer}/{number_key}/v{v}/{status}/received"),
                None => format!("{issuer}/{number_key}/v{v}/received"),
            };
            (EventType::Received, id, get("received_at"))
        }
        "USE" => {
            // A customs use: told when recorded, and again when a use that waited for its
            // permit is checked again on the permit's arrival.
            let rechecked = change.event_name == "MODIFY"
                && get("rechecked_at").is_some()
                && old.get("rechecked_at") != new.get("rechecked_at");
            if change.event_name != "INSERT" && !rechecked {
                return None;
            }
            let sk = get("SK")?;
            let alerts = get("alerts").unwrap_or("").trim();
            let event = if alerts.is_empty() {
                EventType::Used
            } else {
                EventType::Alert
            };
            for name in ["kind", "declaration_number", "reported_by", "alerts"] {
                if let Some(value) = get(name).filter(|v| !v.trim().is_empty()) {
                    detail.insert(name.into(), value.to_owned());
                }
            }
            if rechecked {
                detail.insert("rechecked".into(), "true".into());
            } else if new.get("waiting").map(String::as_str) == Some("true") {
                detail.insert("waiting_for_permit".into(), "true".into());
            }
            let key = sk.strip_prefix("USE#").unwrap_or(sk);
            let id = if rechecked {
                format!(
                    "{issuer}/{number_key}/use/{key}/rechecked/{}",
                    get("rechecked_at").unwrap_or("")
                )
            } else {
                format!("{issuer}/{number_key}/use/{key}")
            };
            let time = if rechecked {
                get("rechecked_at")
            } else {
                get("recorded_at")
            };
            (event, id, time)
        }
        _ => return None,
    };
    Some(StateChange {
        id,
        event,
        issuer,
        permit_number,
        version: version_override.or(version),
        // Received documents name their verified payload XML under `xml_key` too; their
        // `body_key` (the signed envelope, JSON) is never read as a permit: only the verified
        // payload has one meaning.
        xml_key: xml_override.or_else(|| get("xml_key").map(str::to_owned)),
        time: time.map(str::to_owned),
        detail,
    })
}

/// Where the full standard XML of the version is, for subscribers entitled to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XmlLocation {
    /// The bucket.
    pub bucket: String,
    /// The outbox key.
    pub key: String,
}

/// Builds the CloudEvents 1.0 structured-mode JSON of a change.
///
/// `deployment` is this MA's country (the `source`); `xml` is set only for subscribers allowed
/// to fetch the full permit.
pub fn cloud_event(
    change: &StateChange,
    deployment: &str,
    summary: Option<&PermitSummary>,
    xml: Option<&XmlLocation>,
    fallback_time: &str,
) -> Value {
    let mut data = json!({
        "issuer": change.issuer,
        "permit_number": change.permit_number,
    });
    if let Some(v) = change.version {
        data["version"] = json!(v);
    }
    data["status"] = json!(change.event.as_str());
    if let Some(summary) = summary {
        if let Value::Object(fields) = json!(summary) {
            for (k, v) in fields {
                data[k] = v;
            }
        }
    }
    if !change.detail.is_empty() {
        data["detail"] = json!(change.detail);
    }
    if let Some(xml) = xml {
        data["xml"] = json!(xml);
    }
    json!({
        "specversion": "1.0",
        "id": change.id,
        "source": format!("{SOURCE_PREFIX}{deployment}"),
        "type": change.event.cloud_type(),
        "subject": format!("{}/{}", change.issuer, change.permit_number),
        "time": change.time.as_deref().unwrap_or(fallback_time),
        "datacontenttype": "application/json",
        "data": data,
    })
}

/// The SNS message attributes of an event (name, `String` or `String.Array`, value), so that
/// subscribers filter with SNS filter policies. Array values are JSON arrays as text. At most
/// [`MAX_MESSAGE_ATTRIBUTES`]: SNS refuses more on a message delivered to SQS.
pub fn message_attributes(
    change: &StateChange,
    summary: Option<&PermitSummary>,
) -> Vec<(&'static str, &'static str, String)> {
    let array = |values: Vec<&str>| serde_json::to_string(&values).unwrap_or_else(|_| "[]".into());
    let mut out = vec![
        ("event", "String", change.event.as_str().to_owned()),
        ("type", "String", change.event.cloud_type()),
        ("issuer", "String", change.issuer.clone()),
        (
            "role",
            "String.Array",
            array(change.event.roles().iter().map(|r| r.as_str()).collect()),
        ),
    ];
    let rules: Vec<&str> = change.rules().collect();
    if !rules.is_empty() {
        out.push(("rule", "String.Array", array(rules)));
    }
    if let Some(p) = summary {
        if let Some(e) = &p.exporter {
            out.push(("exporter", "String", e.clone()));
        }
        if let Some(i) = &p.importer {
            out.push(("importer", "String", i.clone()));
        }
        if let Some(d) = &p.document_type {
            out.push(("document_type", "String", d.clone()));
        }
        let origins: Vec<&str> = p.origins().collect();
        if !origins.is_empty() {
            out.push(("origin", "String.Array", array(origins)));
        }
        let appendices: Vec<&str> = p.appendices().collect();
        if !appendices.is_empty() {
            out.push(("appendix", "String.Array", array(appendices)));
        }
        let mut taxa: Vec<&str> = p.blocks.iter().filter_map(|b| b.taxon.as_deref()).collect();
        taxa.sort_unstable();
        taxa.dedup();
        if !taxa.is_empty() {
            out.push(("taxon", "String.Array", array(taxa)));
        }
    }
    out.truncate(MAX_MESSAGE_ATTRIBUTES);
    out
}

impl StateChange {
    /// The rule ids of an alert (`detail.alerts`), none for other events.
    pub fn rules(&self) -> impl Iterator<Item = &str> {
        self.detail
            .get("alerts")
            .map(String::as_str)
            .unwrap_or("")
            .split_whitespace()
    }
}
