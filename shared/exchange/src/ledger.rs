//! What the delivery ledger records: permit versions, deliveries per recipient with their
//! tracking state, rejections and the audit trail. The storage layout is the implementation's
//! business (see `docs/pipeline.md` for the DynamoDB single-table design); these types are what
//! the use cases and the `ecites status` command see.

use chrono::{DateTime, Utc};
use ecites_domain::{CountryCode, Finding, PermitId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The tracking state of one delivery (one permit version or cancellation to one recipient).
///
/// Modelled on the IPPC ePhyto hub's tracking states (`PendingDelivery`, `Delivered`,
/// `DeliveredWithWarnings`, `FailedDelivery`, `DeliveredNotReadable`) so partners used to the hub
/// read ours the same way, plus the states the hub has no need for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryState {
    /// Recorded and queued for the forward function; not yet acknowledged by the partner.
    Pending,
    /// The partner acknowledged receipt.
    Delivered,
    /// The partner acknowledged receipt and reported warnings.
    DeliveredWithWarnings,
    /// The partner received it but refused it as not readable (a 400 refusal `NOT_READABLE`):
    /// final, like FAILED, since resending the same bytes cannot change it; the reason is kept.
    DeliveredNotReadable,
    /// Delivery failed for good (after retries), see the last error.
    Failed,
    /// The recipient is not in the partner directory (or not active): nothing can be sent, and
    /// an operator must act.
    NoPartner,
    /// The delivery was superseded by a cancellation before it was made.
    Cancelled,
}

impl DeliveryState {
    /// The wire and storage form (`PENDING`, `DELIVERED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "PENDING",
            DeliveryState::Delivered => "DELIVERED",
            DeliveryState::DeliveredWithWarnings => "DELIVERED_WITH_WARNINGS",
            DeliveryState::DeliveredNotReadable => "DELIVERED_NOT_READABLE",
            DeliveryState::Failed => "FAILED",
            DeliveryState::NoPartner => "NO_PARTNER",
            DeliveryState::Cancelled => "CANCELLED",
        }
    }

    /// Parses the storage form; `None` for text that is not a state.
    pub fn parse(text: &str) -> Option<Self> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::DeliveredWithWarnings,
            DeliveryState::DeliveredNotReadable,
            DeliveryState::Failed,
            DeliveryState::NoPartner,
            DeliveryState::Cancelled,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }

    /// True while the delivery still needs work (it shows in the "under delivery" index).
    pub fn is_open(self) -> bool {
        matches!(self, DeliveryState::Pending)
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a permit version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VersionState {
    /// The current version.
    Active,
    /// A later version (re-issue with the same number) replaced it.
    Replaced,
    /// The issuer cancelled the permit.
    Cancelled,
}

impl VersionState {
    /// The storage form.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Active => "ACTIVE",
            VersionState::Replaced => "REPLACED",
            VersionState::Cancelled => "CANCELLED",
        }
    }

    /// Parses the storage form.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ACTIVE" => Some(VersionState::Active),
            "REPLACED" => Some(VersionState::Replaced),
            "CANCELLED" => Some(VersionState::Cancelled),
            _ => None,
        }
    }
}

impl fmt::Display for VersionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a delivery carries to the recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// The first version of a permit.
    Permit,
    /// A later version replacing an earlier one (same number, different content).
    Replacement,
    /// The issuer cancelled the permit.
    Cancellation,
    /// The permit as endorsed by the exporting country's customs (box 14 filled): a new version
    /// of the same permit, to the importing MA.
    Endorsement,
    /// A customs use of a foreign permit (an import confirmation, a border refusal), told to
    /// the permit's issuing MA ([`crate::receive_use`]).
    Use,
}

impl DeliveryKind {
    /// The wire and storage form.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::Permit => "permit",
            DeliveryKind::Replacement => "replacement",
            DeliveryKind::Cancellation => "cancellation",
            DeliveryKind::Endorsement => "endorsement",
            DeliveryKind::Use => "use",
        }
    }

    /// Parses the storage form.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "permit" => Some(DeliveryKind::Permit),
            "replacement" => Some(DeliveryKind::Replacement),
            "cancellation" => Some(DeliveryKind::Cancellation),
            "endorsement" => Some(DeliveryKind::Endorsement),
            "use" => Some(DeliveryKind::Use),
            _ => None,
        }
    }
}

/// Who a version goes to: a recipient country and, when the directory knows it, its endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The recipient MA's country.
    pub country: CountryCode,
    /// The MA's endpoint; `None` when the directory has no (active) entry, which records the
    /// delivery as [`DeliveryState::NoPartner`] with `reason`.
    pub endpoint: Option<String>,
    /// Why there is no endpoint, when there is none.
    pub reason: Option<String>,
}

/// A valid permit version to record, with its recipients.
#[derive(Clone, Debug)]
pub struct NewVersion {
    /// The permit.
    pub id: PermitId,
    /// SHA-256 (hex) of the canonical standard XML: the idempotency key of the version.
    pub content_sha256: String,
    /// Where the canonical XML was written.
    pub xml_key: String,
    /// The document type code (E, R, I, O).
    pub document_type: String,
    /// Where the permit came from (`s3://bucket/key`, `sqs:<message id>`), for the audit trail.
    pub source: String,
    /// When this ingest saw it.
    pub received_at: DateTime<Utc>,
    /// When the MA's system sent it, as the event says (S3's event time, or SQS's
    /// `SentTimestamp` of a direct message), when known: a version sent before the recorded
    /// current version, but arriving after it (a standard queue reorders), does not replace it.
    pub sent_at: Option<DateTime<Utc>>,
    /// The permit's last day of validity, when known.
    pub valid_until: Option<DateTime<Utc>>,
    /// The retention deadline: records are kept at least until then.
    pub retain_until: DateTime<Utc>,
    /// Warnings and infos found by validation (errors never get here).
    pub findings: Vec<Finding>,
    /// The recipients.
    pub recipients: Vec<Recipient>,
    /// What customs uses are checked against (validity, countries, blocks), kept on the
    /// version so that a verification is one read.
    pub facts: Option<ecites_domain::usage::PermitFacts>,
    /// True for the permit as endorsed by customs at export (box 14): delivered as an
    /// endorsement rather than a replacement.
    pub endorsement: bool,
    /// The version the caller knows to be current, when it knows one (an endorsement does):
    /// the first write then targets the next version directly instead of discovering it.
    pub known_previous: Option<u32>,
}

/// A cancellation of the current version of a permit.
#[derive(Clone, Debug)]
pub struct NewCancellation {
    /// The permit.
    pub id: PermitId,
    /// The issuer's reason.
    pub reason: String,
    /// Where the request came from.
    pub source: String,
    /// When this ingest saw it.
    pub received_at: DateTime<Utc>,
}

/// An input that was refused, recorded against its permit when the permit's id is known.
#[derive(Clone, Debug)]
pub struct NewRejection {
    /// The permit.
    pub id: PermitId,
    /// SHA-256 of the input (or of the canonical XML) so that a redelivered input records once.
    pub content_sha256: String,
    /// Why it was refused.
    pub reason: String,
    /// The validation findings.
    pub findings: Vec<Finding>,
    /// Where it came from.
    pub source: String,
    /// Where the rejection report was written.
    pub report_key: String,
    /// When this ingest saw it.
    pub received_at: DateTime<Utc>,
    /// Retention deadline.
    pub retain_until: DateTime<Utc>,
}

/// One delivery the ledger holds as PENDING, to be put on the deliveries queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingDelivery {
    /// Stable id of the delivery (`<issuer>/<number>/v<version>/<kind>/<recipient>`): the
    /// forward function's idempotency key.
    pub delivery_id: String,
    /// The permit.
    pub id: PermitId,
    /// The permit version delivered (for a cancellation: the version cancelled).
    pub version: u32,
    /// What is delivered.
    pub kind: DeliveryKind,
    /// The version this one replaces, for a replacement.
    pub replaces_version: Option<u32>,
    /// The recipient country.
    pub recipient: CountryCode,
    /// The recipient's endpoint.
    pub endpoint: String,
    /// The canonical XML of the version.
    pub xml_key: String,
    /// SHA-256 of the XML.
    pub content_sha256: String,
    /// For a cancellation, the issuer's reason.
    pub reason: Option<String>,
}

/// What recording did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A new version (or cancellation) was recorded; these deliveries are new and pending.
    New {
        /// The version number (1 for a new permit).
        version: u32,
        /// Deliveries to queue.
        pending: Vec<PendingDelivery>,
        /// Recipients recorded as NO_PARTNER.
        no_partner: Vec<CountryCode>,
        /// A cancellation of the permit arrived before it and waits
        /// ([`Ledger::waiting_cancellation`](crate::Ledger::waiting_cancellation)): the caller
        /// applies it now. Always `false` from `record_cancellation`.
        cancellation_waiting: bool,
        /// Customs uses of the permit were recorded before it (they wait for it): the caller
        /// checks them again now ([`crate::usage::recheck_waiting_uses`]).
        uses_waiting: bool,
    },
    /// The same content (or the same cancellation) was recorded before. `pending` lists its
    /// deliveries still PENDING, which are queued again in case the first attempt stopped between
    /// the ledger write and the queue (the forward function deduplicates on `delivery_id`).
    Duplicate {
        /// The version recorded earlier.
        version: u32,
        /// Deliveries of that version still pending.
        pending: Vec<PendingDelivery>,
        /// As for `New`: a waiting cancellation is still to be applied.
        cancellation_waiting: bool,
        /// As for `New`: uses still wait to be checked again.
        uses_waiting: bool,
    },
    /// The content was sent before the current version but arrived after it: recorded in the
    /// history as superseded on arrival, never delivered, the current version stays in effect.
    Superseded {
        /// The current version, which replaces it.
        by_version: u32,
    },
}

/// One permit version as the ledger holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionInfo {
    /// Version number, from 1.
    pub version: u32,
    /// Its state.
    pub state: VersionState,
    /// SHA-256 of the canonical XML.
    pub content_sha256: String,
    /// Where the XML is.
    pub xml_key: String,
    /// Document type code.
    pub document_type: String,
    /// Where it came from.
    pub source: String,
    /// When it was recorded (RFC 3339).
    pub received_at: String,
}

/// One delivery as the ledger holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeliveryInfo {
    /// The version delivered.
    pub version: u32,
    /// What is delivered.
    pub kind: DeliveryKind,
    /// The recipient country.
    pub recipient: String,
    /// Tracking state.
    pub state: DeliveryState,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The last error, or the partner's warnings for a delivery with warnings, if any.
    pub last_error: Option<String>,
    /// The partner's tracking number from its acknowledgement: the id to quote when asking the
    /// partner MA about this document (the hub's `hubDeliveryNumber`). `None` until delivered.
    pub tracking_number: Option<String>,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

/// How we acknowledged a document received from a partner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReceivedState {
    /// Stored and acknowledged as delivered.
    Received,
    /// Stored and acknowledged as delivered with warnings (the validator's findings).
    ReceivedWithWarnings,
}

impl ReceivedState {
    /// The form `ecites status` prints (`received`, `received with warnings`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReceivedState::Received => "received",
            ReceivedState::ReceivedWithWarnings => "received with warnings",
        }
    }

    /// From the acknowledgement status the receive function stored (`ack_status`):
    /// `DELIVERED_WITH_WARNINGS` is with warnings, anything else (`DELIVERED`) is not.
    pub fn from_ack_status(ack_status: &str) -> Self {
        if ack_status == "DELIVERED_WITH_WARNINGS" {
            ReceivedState::ReceivedWithWarnings
        } else {
            ReceivedState::Received
        }
    }
}

impl fmt::Display for ReceivedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One document received from a partner MA (a permit version, replacement or cancellation),
/// as the receive function recorded it: what the receiving side's `ecites status` lists, so
/// an operator can match it with the sender's status by the tracking number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceivedInfo {
    /// The issuer's version.
    pub version: u32,
    /// `issued`, `replaced` or `cancelled`, as the envelope said.
    pub document_status: String,
    /// Document type code (E, R, I, O).
    pub document_type: String,
    /// The sending MA's country (the issuer).
    pub sender: String,
    /// The id of the message that first carried it.
    pub message_id: String,
    /// When it was stored (RFC 3339).
    pub received_at: String,
    /// Our tracking number, the one our acknowledgement gave the sender.
    pub tracking_number: String,
    /// Received, or received with warnings.
    pub state: ReceivedState,
    /// The S3 key of the original signed message bytes.
    pub body_key: String,
    /// The validator's findings acknowledged with it (`severity rule: message`), when any.
    pub findings: Vec<String>,
}

/// One rejected input for a permit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RejectionInfo {
    /// Why.
    pub reason: String,
    /// Where the report is.
    pub report_key: String,
    /// Where the input came from.
    pub source: String,
    /// When (RFC 3339).
    pub received_at: String,
    /// Number of error findings.
    pub errors: usize,
}

/// One transition in the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When (RFC 3339).
    pub at: String,
    /// What happened (`VERSION_RECORDED`, `DELIVERY_PENDING`, `REJECTED`, ...).
    pub event: String,
    /// Details (version, recipient, from/to state, reason).
    pub detail: String,
}

/// Everything the ledger knows about one permit: what `ecites status` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PermitStatus {
    /// Current state of the permit (`ACTIVE`, `CANCELLED`), when any version is recorded.
    pub state: Option<String>,
    /// Versions, oldest first.
    pub versions: Vec<VersionInfo>,
    /// Deliveries, by version then recipient.
    pub deliveries: Vec<DeliveryInfo>,
    /// Rejected inputs.
    pub rejections: Vec<RejectionInfo>,
    /// Documents received from the issuing partner MA (the receiving side), by version.
    pub received: Vec<ReceivedInfo>,
    /// The audit trail, oldest first.
    pub history: Vec<AuditEntry>,
}

impl PermitStatus {
    /// True when the ledger knows nothing about the permit.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
            && self.rejections.is_empty()
            && self.received.is_empty()
            && self.history.is_empty()
    }
}

/// The audit event the receive function writes next to each received document; `ecites
/// status` shows the document itself (under "received") instead of repeating it as history.
pub const RECEIVED_EVENT: &str = "RECEIVED";

/// The delivery id of a delivery: stable, so that whoever sees it twice can tell.
pub fn delivery_id(
    id: &PermitId,
    version: u32,
    kind: DeliveryKind,
    recipient: CountryCode,
) -> String {
    format!(
        "{}/{}/v{version}/{}/{recipient}",
        id.issuer,
        crate::keys::escape_component(&id.number),
        kind.as_str()
    )
}

/// The delivery id of a use's delivery to `recipient` (the permit's issuer): the permit's
/// delivery id for version 1 of kind `use`, followed by the use's key, since a permit may have
/// several uses told to the same MA.
pub fn use_delivery_id(id: &PermitId, use_key: &str, recipient: CountryCode) -> String {
    format!(
        "{}/{use_key}",
        delivery_id(id, 1, DeliveryKind::Use, recipient)
    )
}

/// A stored string as a terminal may show it: control characters (terminal escapes, newlines)
/// and bidirectional overrides written as `\u{..}`, and the text cut at `max_chars` characters
/// with `…`. Partners and subscribers choose
/// message ids, tracking numbers and reasons: they are never printed raw.
pub fn shown(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == max_chars {
            out.push('…');
            break;
        }
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Longest partner-chosen identifier (message id, tracking number, key) shown by
/// [`render_status`], in characters.
const SHOWN_ID: usize = 64;
/// Longest partner-chosen text (reasons, findings, audit details) shown, in characters.
const SHOWN_TEXT: usize = 300;

/// Renders a permit's status as text for people (`ecites status`). Every stored string is
/// passed through [`shown`].
///
/// The sending side shows, per recipient, the tracking state, attempts, the partner's tracking
/// number from its acknowledgement and the last reason (an error, or the partner's warnings);
/// the receiving side shows each document received from the issuing partner, with our tracking
/// number and where the original bytes are. The tracking number is the same text on both
/// sides, so two operators can match a delivery with a receipt.
pub fn render_status(id: &PermitId, status: &PermitStatus) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let headline = match (&status.state, status.received.first()) {
        (Some(state), _) => state.clone(),
        (None, Some(first)) => format!("received from partner {}", shown(&first.sender, 8)),
        (None, None) => "no valid version recorded".to_owned(),
    };
    let _ = writeln!(
        out,
        "permit {}/{}: {headline}",
        id.issuer,
        shown(&id.number, SHOWN_ID)
    );
    if !status.versions.is_empty() {
        let _ = writeln!(out, "\nversions:");
        let _ = writeln!(
            out,
            "  {:<4} {:<10} {:<5} {:<27} {:<16} xml",
            "ver", "state", "type", "received", "sha256"
        );
        for v in &status.versions {
            let _ = writeln!(
                out,
                "  {:<4} {:<10} {:<5} {:<27} {:<16} {}",
                v.version,
                v.state.as_str(),
                v.document_type,
                v.received_at,
                shown(&v.content_sha256, 16),
                shown(&v.xml_key, SHOWN_TEXT)
            );
        }
    }
    if !status.deliveries.is_empty() {
        let _ = writeln!(out, "\ndeliveries:");
        let _ = writeln!(
            out,
            "  {:<4} {:<13} {:<9} {:<24} {:<8} {:<24} {:<27} last reason",
            "ver", "kind", "recipient", "state", "attempts", "partner tracking", "updated"
        );
        for d in &status.deliveries {
            let _ = writeln!(
                out,
                "  {:<4} {:<13} {:<9} {:<24} {:<8} {:<24} {:<27} {}",
                d.version,
                d.kind.as_str(),
                d.recipient,
                d.state.as_str(),
                d.attempts,
                shown(d.tracking_number.as_deref().unwrap_or("-"), SHOWN_ID),
                d.updated_at,
                shown(d.last_error.as_deref().unwrap_or("-"), SHOWN_TEXT)
            );
        }
    }
    if !status.received.is_empty() {
        let _ = writeln!(out, "\nreceived:");
        let _ = writeln!(
            out,
            "  {:<4} {:<10} {:<5} {:<6} {:<23} {:<24} {:<27} {:<36} original",
            "ver", "status", "type", "sender", "state", "our tracking", "received", "message id"
        );
        for r in &status.received {
            let _ = writeln!(
                out,
                "  {:<4} {:<10} {:<5} {:<6} {:<23} {:<24} {:<27} {:<36} {}",
                r.version,
                shown(&r.document_status, 10),
                shown(&r.document_type, 5),
                shown(&r.sender, 6),
                r.state.as_str(),
                shown(&r.tracking_number, SHOWN_ID),
                shown(&r.received_at, 40),
                shown(&r.message_id, SHOWN_ID),
                shown(&r.body_key, SHOWN_TEXT)
            );
            for finding in &r.findings {
                let _ = writeln!(out, "       {}", shown(finding, SHOWN_TEXT));
            }
        }
    }
    if !status.rejections.is_empty() {
        let _ = writeln!(out, "\nrejections:");
        for r in &status.rejections {
            let _ = writeln!(
                out,
                "  {} {} ({} errors) report {} from {}",
                r.received_at,
                shown(&r.reason, SHOWN_TEXT),
                r.errors,
                shown(&r.report_key, SHOWN_TEXT),
                shown(&r.source, SHOWN_TEXT)
            );
        }
    }
    // Received documents are listed above; their audit rows would only repeat them.
    let history: Vec<&AuditEntry> = status
        .history
        .iter()
        .filter(|h| status.received.is_empty() || h.event != RECEIVED_EVENT)
        .collect();
    if !history.is_empty() {
        let _ = writeln!(out, "\nhistory:");
        for h in history {
            let _ = writeln!(
                out,
                "  {} {:<20} {}",
                h.at,
                h.event,
                shown(&h.detail, SHOWN_TEXT)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> PermitId {
        PermitId {
            issuer: "XA".parse().unwrap(),
            number: "26XA0001".into(),
        }
    }

    fn delivery(state: DeliveryState) -> DeliveryInfo {
        DeliveryInfo {
            version: 1,
            kind: DeliveryKind::Permit,
            recipient: "XB".into(),
            state,
            attempts: 2,
            last_error: None,
            tracking_number: None,
            updated_at: "2026-11-28T04:00:00.000000Z".into(),
        }
    }

    fn received(state: ReceivedState, findings: Vec<String>) -> ReceivedInfo {
        ReceivedInfo {
            version: 1,
            document_status: "issued".into(),
            document_type: "E".into(),
            sender: "XA".into(),
            message_id: "0b6f7c0e-message".into(),
            received_at: "2026-11-28T04:00:01.000000Z".into(),
            tracking_number: "XB-0123456789abcdef0123".into(),
            state,
            body_key: "received/XA/26XA0001/0b6f7c0e-message.json".into(),
            findings,
        }
    }

    fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
        text.lines()
            .find(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
    }

    #[test]
    fn a_delivered_row_shows_state_attempts_and_the_partners_tracking_number() {
        let mut d = delivery(DeliveryState::Delivered);
        d.tracking_number = Some("XB-0123456789abcdef0123".into());
        let status = PermitStatus {
            state: Some("ACTIVE".into()),
            deliveries: vec![d],
            ..PermitStatus::default()
        };
        let text = render_status(&id(), &status);
        assert!(text.contains("partner tracking"), "{text}");
        let row = line_with(&text, "XB-0123456789abcdef0123");
        for expected in ["permit", "XB", "DELIVERED", " 2 "] {
            assert!(row.contains(expected), "{expected:?} missing in {row:?}");
        }
    }

    #[test]
    fn a_delivery_with_warnings_shows_the_partners_findings_as_the_last_reason() {
        let mut d = delivery(DeliveryState::DeliveredWithWarnings);
        d.tracking_number = Some("XB-1".into());
        d.last_error = Some("W-DATE: expiry is far away".into());
        let status = PermitStatus {
            deliveries: vec![d],
            ..PermitStatus::default()
        };
        let text = render_status(&id(), &status);
        let row = line_with(&text, "DELIVERED_WITH_WARNINGS");
        assert!(row.contains("XB-1"), "{row}");
        assert!(row.ends_with("W-DATE: expiry is far away"), "{row}");
    }

    #[test]
    fn a_refused_delivery_shows_no_tracking_number_and_the_reason() {
        let mut d = delivery(DeliveryState::DeliveredNotReadable);
        d.last_error = Some("HTTP 400 NotReadable: payload is not XML".into());
        let status = PermitStatus {
            deliveries: vec![d],
            ..PermitStatus::default()
        };
        let text = render_status(&id(), &status);
        let row = line_with(&text, "DELIVERED_NOT_READABLE");
        assert!(
            row.contains(" - "),
            "tracking shown as '-' when none: {row}"
        );
        assert!(
            row.ends_with("HTTP 400 NotReadable: payload is not XML"),
            "{row}"
        );
    }

    #[test]
    fn a_received_document_is_listed_as_an_item_instead_of_its_audit_row() {
        let status = PermitStatus {
            received: vec![received(ReceivedState::Received, vec![])],
            history: vec![AuditEntry {
                at: "2026-11-28T04:00:01.000000Z".into(),
                event: RECEIVED_EVENT.into(),
                detail: "v1 issued from XA message m tracking XB-1 (DELIVERED)".into(),
            }],
            ..PermitStatus::default()
        };
        let text = render_status(&id(), &status);
        assert!(
            text.starts_with("permit XA/26XA0001: received from partner XA\n"),
            "{text}"
        );
        let row = line_with(&text, "XB-0123456789abcdef0123");
        for expected in [
            "issued",
            "XA",
            "received",
            "0b6f7c0e-message",
            "2026-11-28T04:00:01.000000Z",
            "received/XA/26XA0001/0b6f7c0e-message.json",
        ] {
            assert!(row.contains(expected), "{expected:?} missing in {row:?}");
        }
        assert!(!row.contains("with warnings"), "{row}");
        assert!(!text.contains("history:"), "audit row repeated:\n{text}");
        assert!(!text.contains("(DELIVERED)"), "{text}");
    }

    #[test]
    fn partner_strings_are_escaped_and_bounded_when_shown() {
        let mut hostile = received(
            ReceivedState::Received,
            vec!["warning x: \u{1b}]0;owned\u{7}".into()],
        );
        hostile.message_id = format!("m\u{1b}[2J{}", "x".repeat(10_000));
        hostile.tracking_number = format!("XB-\u{202e}{}", "9".repeat(10_000));
        let status = PermitStatus {
            received: vec![hostile],
            deliveries: vec![],
            ..PermitStatus::default()
        };
        let text = render_status(&id(), &status);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text}"
        );
        assert!(!text.contains('\u{202e}'), "{text}");
        assert!(text.contains("m\\u{1b}[2J"), "{text}");
        assert!(text.len() < 2_000, "{} bytes", text.len());
    }

    #[test]
    fn a_document_received_with_warnings_says_so_and_lists_the_warnings() {
        let status = PermitStatus {
            received: vec![received(
                ReceivedState::ReceivedWithWarnings,
                vec!["warning W-DATE: expiry is far away".into()],
            )],
            ..PermitStatus::default()
        };
        let text = render_status(&id(), &status);
        assert!(
            line_with(&text, "XB-0123456789abcdef0123").contains("received with warnings"),
            "{text}"
        );
        assert!(
            text.contains("\n       warning W-DATE: expiry is far away\n"),
            "{text}"
        );
    }

    #[test]
    fn received_states_come_from_the_stored_ack_status() {
        assert_eq!(
            ReceivedState::from_ack_status("DELIVERED_WITH_WARNINGS"),
            ReceivedState::ReceivedWithWarnings
        );
        assert_eq!(
            ReceivedState::from_ack_status("DELIVERED"),
            ReceivedState::Received
        );
    }

    #[test]
    fn other_audit_rows_still_show_as_history() {
        let status = PermitStatus {
            state: Some("ACTIVE".into()),
            history: vec![AuditEntry {
                at: "t".into(),
                event: "VERSION_RECORDED".into(),
                detail: "version 1".into(),
            }],
            ..PermitStatus::default()
        };
        let text = render_status(&id(), &status);
        assert!(text.contains("history:\n  t VERSION_RECORDED"), "{text}");
    }
}
