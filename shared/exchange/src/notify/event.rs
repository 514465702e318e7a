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

/// The permit an item of the ledger belongs to, and the version and standard XML it names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangedItem {
    /// Issuing country.
    pub issuer: String,
    /// Permit number.
    pub permit_number: String,
    /// The permit version the item is about, when it names one.
    pub version: Option<u32>,
    /// Where a standard XML of that version is, when the item names one (for a received
    /// document, its verified payload; never the signed envelope).
    pub xml_key: Option<String>,
}

/// A committed change of the ledger that notifications may be about, as the store that owns
/// the table's layout decodes it from the table's stream (ecites-aws `dynamo::stream`). Items
/// agencies never hear of (content hashes, audit rows, claims, subscriptions, a version's own
/// state moving, removals) decode to no change at all. Times are the item's RFC 3339 text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerChange {
    /// A permit version was recorded (issued by this MA).
    VersionRecorded {
        /// The version's permit, number and XML.
        item: ChangedItem,
        /// When it was recorded.
        received_at: Option<String>,
    },
    /// A permit's head was written (created, or moved to a new version or state).
    HeadWritten {
        /// The permit (the head names no version of its own).
        item: ChangedItem,
        /// The head was cancelled before this write.
        was_cancelled: bool,
        /// The head is cancelled after it.
        cancelled: bool,
        /// The latest version.
        latest_version: Option<u32>,
        /// The latest version's content hash (its standard XML's key).
        latest_sha256: Option<String>,
        /// The issuer's reason for a cancellation.
        cancel_reason: Option<String>,
        /// When it was written.
        updated_at: Option<String>,
    },
    /// An input for a permit was rejected.
    RejectionRecorded {
        /// The permit.
        item: ChangedItem,
        /// The rejected content's hash (one rejection per content).
        content_sha256: String,
        /// The reason, in a sentence.
        reason: Option<String>,
        /// How many error findings the input had (decimal text).
        errors: Option<String>,
        /// Where the input came from.
        source: Option<String>,
        /// When it was rejected.
        received_at: Option<String>,
    },
    /// A delivery to a partner was created or moved.
    DeliveryWritten {
        /// The delivered permit version.
        item: ChangedItem,
        /// The delivery's id.
        delivery_id: String,
        /// Its state before the write (`None` when created).
        state_before: Option<DeliveryState>,
        /// Its state after.
        state: Option<DeliveryState>,
        /// The recipient country.
        recipient: Option<String>,
        /// What is delivered (`permit`, `cancellation`, `use`, ...).
        kind: Option<String>,
        /// Attempts so far.
        attempts: Option<u32>,
        /// The last attempt's error.
        last_error: Option<String>,
        /// When it was written.
        updated_at: Option<String>,
    },
    /// A document was received genuine from a partner MA (the receive function).
    DocumentReceived {
        /// The document's permit (issuer = sender's country), version and verified XML.
        item: ChangedItem,
        /// Who sent it, when it says.
        sender: Option<String>,
        /// `permit`, `replacement` or `cancellation`.
        document_status: Option<String>,
        /// Our tracking number given to the sender.
        tracking_number: Option<String>,
        /// The acknowledgement given.
        ack_status: Option<String>,
        /// When it was received.
        received_at: Option<String>,
    },
    /// A customs use was written: recorded, or checked again when the permit it waited for
    /// arrived.
    UseWritten {
        /// The used permit.
        item: ChangedItem,
        /// The use's key (`<kind>#<declaration>`).
        use_key: String,
        /// True for the write that recorded it.
        recorded: bool,
        /// When it was last checked again, before this write and after it.
        rechecked_at_before: Option<String>,
        /// See `rechecked_at_before`.
        rechecked_at: Option<String>,
        /// The kind of use.
        kind: Option<String>,
        /// The customs declaration.
        declaration_number: Option<String>,
        /// The agency that reported it.
        reported_by: Option<String>,
        /// The rule ids of its alerts, space-separated (empty: none).
        alerts: Option<String>,
        /// It waits for a permit never received.
        waiting: bool,
        /// When it was recorded.
        recorded_at: Option<String>,
    },
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
fn delivered(state: Option<DeliveryState>) -> bool {
    matches!(
        state,
        Some(DeliveryState::Delivered | DeliveryState::DeliveredWithWarnings)
    )
}

/// The partner does not have a usable document, and no retry will change that by itself.
/// `DELIVERED_NOT_READABLE` belongs here, not with `delivered`: the partner refused the bytes
/// as unreadable, so for an agency waiting on the permit it is a failure with a reason.
fn failed(state: Option<DeliveryState>) -> bool {
    matches!(
        state,
        Some(
            DeliveryState::Failed | DeliveryState::NoPartner | DeliveryState::DeliveredNotReadable
        )
    )
}

/// Inserts the present values among `fields` into `detail`, under their names.
fn add_details<const N: usize>(
    detail: &mut BTreeMap<String, String>,
    fields: [(&str, Option<&String>); N],
) {
    for (name, value) in fields {
        if let Some(value) = value {
            detail.insert(name.into(), value.clone());
        }
    }
}

/// The value, unless absent or blank.
fn present(value: &Option<String>) -> Option<&String> {
    value.as_ref().filter(|v| !v.trim().is_empty())
}

/// The state change a ledger change stands for, if agencies care about it: a new version
/// (issued or replaced), a head turning cancelled, a rejection, a delivery becoming delivered or
/// failed, a received document, a customs use recorded or checked again. Anything else is
/// `None`: the notify function acknowledges it and moves on. The id is derived from the change,
/// so the same committed change always gets the same id.
pub fn state_change(change: &LedgerChange) -> Option<StateChange> {
    let mut detail = BTreeMap::new();
    let (item, event, id, time, version, xml_key) = match change {
        LedgerChange::VersionRecorded { item, received_at } => {
            let v = item.version?;
            let number_key = crate::keys::escape_component(&item.permit_number);
            let (event, id) = if v == 1 {
                (
                    EventType::Issued,
                    format!("{}/{number_key}/v{v}/issued", item.issuer),
                )
            } else {
                detail.insert("replaces_version".into(), (v - 1).to_string());
                (
                    EventType::Replaced,
                    format!("{}/{number_key}/v{v}/replaced", item.issuer),
                )
            };
            (
                item,
                event,
                id,
                received_at,
                item.version,
                item.xml_key.clone(),
            )
        }
        // The cancellation is told from the permit head, which carries the issuer's reason;
        // the cancelled version's own change is the same fact and is not an event.
        LedgerChange::HeadWritten {
            item,
            was_cancelled,
            cancelled,
            latest_version,
            latest_sha256,
            cancel_reason,
            updated_at,
        } => {
            if !cancelled || *was_cancelled {
                return None;
            }
            let v = (*latest_version)?;
            let xml_key = match (latest_sha256, item.issuer.parse()) {
                (Some(sha), Ok(issuer)) => Some(crate::keys::outbox_key(
                    &ecites_domain::PermitId {
                        issuer,
                        number: item.permit_number.clone(),
                    },
                    sha,
                )),
                _ => item.xml_key.clone(),
            };
            add_details(&mut detail, [("reason", cancel_reason.as_ref())]);
            let number_key = crate::keys::escape_component(&item.permit_number);
            let id = format!("{}/{number_key}/v{v}/cancelled", item.issuer);
            (item, EventType::Cancelled, id, updated_at, Some(v), xml_key)
        }
        LedgerChange::RejectionRecorded {
            item,
            content_sha256,
            reason,
            errors,
            source,
            received_at,
        } => {
            add_details(
                &mut detail,
                [
                    ("reason", reason.as_ref()),
                    ("errors", errors.as_ref()),
                    ("source", source.as_ref()),
                ],
            );
            let number_key = crate::keys::escape_component(&item.permit_number);
            let id = format!("{}/{number_key}/rejected/{content_sha256}", item.issuer);
            let (version, xml_key) = (item.version, item.xml_key.clone());
            (item, EventType::Rejected, id, received_at, version, xml_key)
        }
        LedgerChange::DeliveryWritten {
            item,
            delivery_id,
            state_before,
            state,
            recipient,
            kind,
            attempts,
            last_error,
            updated_at,
        } => {
            let event = if delivered(*state) && !delivered(*state_before) {
                EventType::Delivered
            } else if failed(*state) && !failed(*state_before) {
                EventType::DeliveryFailed
            } else {
                return None;
            };
            let state_text = state.map(|s| s.as_str().to_owned());
            let attempts_text = attempts.map(|a| a.to_string());
            add_details(
                &mut detail,
                [
                    ("recipient", recipient.as_ref()),
                    ("kind", kind.as_ref()),
                    ("state", state_text.as_ref()),
                    ("attempts", attempts_text.as_ref()),
                    ("last_error", last_error.as_ref()),
                ],
            );
            // A delivery an operator replays (FAILED -> PENDING) may fail again: each failure
            // episode is its own event, told by the attempt count it ended at.
            let id = match (event, attempts) {
                (EventType::DeliveryFailed, Some(attempts)) => {
                    format!("{delivery_id}/delivery_failed/{attempts}")
                }
                _ => format!("{delivery_id}/{}", event.as_str()),
            };
            (
                item,
                event,
                id,
                updated_at,
                item.version,
                item.xml_key.clone(),
            )
        }
        LedgerChange::DocumentReceived {
            item,
            sender,
            document_status,
            tracking_number,
            ack_status,
            received_at,
        } => {
            // One received document per version and status (permit, replacement,
            // cancellation); the sender is the issuer unless the item says otherwise.
            let v = item.version.unwrap_or(1);
            detail.insert(
                "sender".into(),
                sender.clone().unwrap_or_else(|| item.issuer.clone()),
            );
            add_details(
                &mut detail,
                [
                    ("document_status", document_status.as_ref()),
                    ("tracking_number", tracking_number.as_ref()),
                    ("ack_status", ack_status.as_ref()),
                ],
            );
            let number_key = crate::keys::escape_component(&item.permit_number);
            let id = match document_status {
                Some(status) => format!("{}/{number_key}/v{v}/{status}/received", item.issuer),
                None => format!("{}/{number_key}/v{v}/received", item.issuer),
            };
            (
                item,
                EventType::Received,
                id,
                received_at,
                item.version,
                item.xml_key.clone(),
            )
        }
        LedgerChange::UseWritten {
            item,
            use_key,
            recorded,
            rechecked_at_before,
            rechecked_at,
            kind,
            declaration_number,
            reported_by,
            alerts,
            waiting,
            recorded_at,
        } => {
            // A customs use: told when recorded, and again when a use that waited for its
            // permit is checked again on the permit's arrival.
            let rechecked =
                !recorded && rechecked_at.is_some() && rechecked_at_before != rechecked_at;
            if !recorded && !rechecked {
                return None;
            }
            let event = if alerts.as_deref().unwrap_or("").trim().is_empty() {
                EventType::Used
            } else {
                EventType::Alert
            };
            add_details(
                &mut detail,
                [
                    ("kind", present(kind)),
                    ("declaration_number", present(declaration_number)),
                    ("reported_by", present(reported_by)),
                    ("alerts", present(alerts)),
                ],
            );
            if rechecked {
                detail.insert("rechecked".into(), "true".into());
            } else if *waiting {
                detail.insert("waiting_for_permit".into(), "true".into());
            }
            let number_key = crate::keys::escape_component(&item.permit_number);
            let (id, time) = if rechecked {
                let at = rechecked_at.as_deref().unwrap_or("");
                (
                    format!("{}/{number_key}/use/{use_key}/rechecked/{at}", item.issuer),
                    rechecked_at,
                )
            } else {
                (
                    format!("{}/{number_key}/use/{use_key}", item.issuer),
                    recorded_at,
                )
            };
            (item, event, id, time, item.version, item.xml_key.clone())
        }
    };
    Some(StateChange {
        id,
        event,
        issuer: item.issuer.clone(),
        permit_number: item.permit_number.clone(),
        version,
        xml_key,
        time: time.clone(),
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
/// [`MAX_MESSAGE_ATTRIBUTES`]: SNS refuses more on a message delivered to SQS. When an event
/// has more (an alert, with `rule`, whose summary has every other dimension), `type` goes: it
/// repeats `event` in CloudEvents' words and no filter policy `ecites subscriptions` writes
/// reads it, while every other attribute is a filter a subscription may hold.
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
    if out.len() > MAX_MESSAGE_ATTRIBUTES {
        out.retain(|(name, _, _)| *name != "type");
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
