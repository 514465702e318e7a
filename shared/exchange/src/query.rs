//! Pull as well as push: at the receive endpoint, beside permit envelopes and uses, a partner
//! MA or a registered agency **queries** one of our permits, and a partner lists the
//! deliveries addressed to it (**headers**, the ePhyto hub's call of that name) and
//! **acknowledges** what it fetched, so a partner can poll instead of receiving pushes
//! (`delivery: pull` in our directory: forward then leaves its deliveries `PENDING`).
//!
//! - `POST <endpoint>/query` ([`QueryMessage`] → [`PermitAnswer`]): the permit's standard XML
//!   (one version, the current one by default: for an endorsed permit the version with box
//!   14), its status (`active`, `replaced`, `cancelled`, `expired`), the versions on record and
//!   the tracking of its deliveries (a partner sees its own, an agency of ours all).
//! - `POST <endpoint>/headers` ([`HeadersMessage`] → [`HeadersAnswer`]), partners only: the
//!   deliveries of permit documents addressed to the asker created at or after `since`, oldest
//!   first, at most [`MAX_HEADERS`] a page, `next_after` to page on.
//! - `POST <endpoint>/acknowledge` ([`AcknowledgeMessage`] → [`AcknowledgeAnswer`]), partners
//!   only: moves a `PENDING` delivery addressed to the asker to `DELIVERED`,
//!   `DELIVERED_WITH_WARNINGS` or `DELIVERED_NOT_READABLE` with the asker's tracking number,
//!   through the same conditional transition forward records for a push partner's answer
//!   ([`DeliveryTracker::record_attempt`]); the same acknowledgement again is answered as a
//!   duplicate, a different one for a delivery already final is refused 409 `CONFLICT`.
//!
//! Signed and admitted as use messages are ([`crate::receive_use`]: Ed25519 over the exact
//! body bytes, `X-Ecites-Key-Id`, `X-Ecites-Signature`, `sent_at` within five minutes, each
//! message id claimed once).
//!
//! Who may read a permit (issue #14): its counterparts, i.e. the exporting country (box 4), the
//! importing country (box 3a), every country of origin or last re-export (boxes 12 and 12a),
//! and every recipient of one of its deliveries; and the agencies of our own country. Anyone
//! else, an unknown number, a version not on record and a permit that is not ours get one
//! answer, 404 `NOT_FOUND` with the same body byte for byte ([`not_found`]), so a caller learns
//! nothing about which permits exist. Each query and acknowledgement of a permit on record
//! leaves an audit row on it (`QUERIED`, `QUERY_REFUSED`; an acknowledgement's
//! `DELIVERY_STATE`); a headers call and a query of an unknown number are logged only (they
//! name no permit of ours to file them under).

use crate::directory::PartnerDirectory;
use crate::forward::{tracking_number_acceptable, Attempt, DeliveryTracker, MAX_XML_BYTES};
use crate::ledger::{delivery_id, DeliveryKind, DeliveryState, PermitStatus, VersionState};
use crate::ports::{BlobStore, Clock, Fetched};
use crate::protocol::{
    b64, bounded, RefusalCode, SigningIdentity, KEY_ID_HEADER, MAX_ANSWER_TEXT_CHARS,
    PAYLOAD_NAMESPACE, SIGNATURE_HEADER,
};
use crate::receive::{refuse, Answer, InboundLedger, ReceiveSettings};
use crate::receive_use::{signed_endpoint, Admission, Head, Sender, Signed};
use crate::{DeliveryMessage, Error};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ecites_domain::{CountryCode, PermitId};
use serde::{Deserialize, Serialize};

/// The path (suffix) queries are posted to.
pub const QUERY_PATH: &str = "/query";
/// The path (suffix) a partner lists the deliveries addressed to it at.
pub const HEADERS_PATH: &str = "/headers";
/// The path (suffix) a partner acknowledges a fetched delivery at.
pub const ACKNOWLEDGE_PATH: &str = "/acknowledge";
/// Format version of query, headers and acknowledge messages.
pub const QUERY_MESSAGE_VERSION: u32 = 1;
/// Most delivery headers in one answer (and the default page size).
pub const MAX_HEADERS: usize = 100;
/// Longest permit number (box 1), in characters, as the envelope allows.
pub const MAX_PERMIT_NUMBER_CHARS: usize = 35;
/// Most warnings kept from an acknowledgement, each cut at [`MAX_ANSWER_TEXT_CHARS`].
pub const MAX_ACK_WARNINGS: usize = 100;

/// A query of one of the receiver's permits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryMessage {
    /// Format version ([`QUERY_MESSAGE_VERSION`]).
    pub message_version: u32,
    /// Unique per HTTP message: the replay key.
    pub message_id: String,
    /// The asker's country (ISO 3166-1 alpha-2).
    pub from: String,
    /// The registered agency asking, for an agency; absent for a partner MA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// The receiving MA's country: the permit's issuer.
    pub to: String,
    /// When it was sent (RFC 3339, UTC).
    pub sent_at: DateTime<Utc>,
    /// Box 1: the permit number.
    pub permit_number: String,
    /// The version wanted; absent for the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit_version: Option<u32>,
}

/// A partner's request for the deliveries addressed to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadersMessage {
    /// Format version.
    pub message_version: u32,
    /// Unique per HTTP message.
    pub message_id: String,
    /// The partner's country.
    pub from: String,
    /// Must be absent: agencies do not receive deliveries (present: 401).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// The receiving MA's country.
    pub to: String,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// The earliest creation time listed (RFC 3339).
    pub since: DateTime<Utc>,
    /// The `next_after` of the previous page, to page on; absent for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The page size, 1 to [`MAX_HEADERS`] (default [`MAX_HEADERS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// How a pulling partner acknowledges a document it fetched (the push answer's statuses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PullAckStatus {
    /// Stored.
    Delivered,
    /// Stored, with warnings (`warnings`).
    DeliveredWithWarnings,
    /// Received but not readable (`warnings` say why): final, as a push's 400 `NOT_READABLE`.
    DeliveredNotReadable,
}

impl PullAckStatus {
    /// The delivery state it moves the delivery to.
    pub fn state(self) -> DeliveryState {
        match self {
            PullAckStatus::Delivered => DeliveryState::Delivered,
            PullAckStatus::DeliveredWithWarnings => DeliveryState::DeliveredWithWarnings,
            PullAckStatus::DeliveredNotReadable => DeliveryState::DeliveredNotReadable,
        }
    }
}

/// A partner's acknowledgement of one delivery addressed to it, named as the headers list it
/// (permit number, version, kind).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeMessage {
    /// Format version.
    pub message_version: u32,
    /// Unique per HTTP message.
    pub message_id: String,
    /// The partner's country: the delivery's recipient.
    pub from: String,
    /// Must be absent (present: 401).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// The receiving MA's country.
    pub to: String,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// The permit number.
    pub permit_number: String,
    /// The version delivered (for a cancellation, the version cancelled).
    pub permit_version: u32,
    /// What was delivered (`permit`, `replacement`, `endorsement`, `cancellation`).
    pub kind: DeliveryKind,
    /// The outcome at the partner.
    pub ack_status: PullAckStatus,
    /// The partner's id for the document, 1-128 characters without control characters.
    pub tracking_number: String,
    /// Warnings (with warnings) or why it is not readable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A permit's status as a query answers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueriedStatus {
    /// The current version, valid today.
    Active,
    /// A later version replaced this one.
    Replaced,
    /// The issuer cancelled the permit.
    Cancelled,
    /// The current version, but its last day of validity (box 2) is past at the receiver's
    /// clock (UTC date).
    Expired,
}

/// One delivery of the permit, in a query's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingEntry {
    /// The recipient MA's country.
    pub recipient: String,
    /// The version delivered.
    pub version: u32,
    /// What was delivered.
    pub kind: DeliveryKind,
    /// Its tracking state.
    pub state: DeliveryState,
    /// The recipient's tracking number, once delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
}

/// The answer to a query (200).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitAnswer {
    /// Box 1.
    pub permit_number: String,
    /// The issuing country (the receiver).
    pub issuer: String,
    /// The version in `payload`.
    pub version: u32,
    /// Its status.
    pub status: QueriedStatus,
    /// E, R, I or O.
    pub document_type: String,
    /// The payload's namespace (the CITES e-permit, toolkit v2).
    pub payload_namespace: String,
    /// Base64 of that version's standard XML.
    pub payload: String,
    /// The versions on record, oldest first.
    pub versions: Vec<u32>,
    /// Deliveries of the permit: a partner's own, or every one for an agency of ours.
    pub tracking: Vec<TrackingEntry>,
}

/// One delivery addressed to the asker, as headers list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryHeader {
    /// The delivery's id (`<issuer>/<escaped number>/v<version>/<kind>/<recipient>`).
    pub delivery_id: String,
    /// The permit number.
    pub permit_number: String,
    /// The version delivered (for a cancellation, the version cancelled).
    pub version: u32,
    /// What it carries.
    pub kind: DeliveryKind,
    /// `issued`, `replaced`, `endorsed` or `cancelled` (the envelope's `document_status`).
    pub document_status: String,
    /// When the delivery was recorded (RFC 3339).
    pub created_at: String,
    /// Its tracking state now.
    pub state: DeliveryState,
}

/// One page of headers, as the ledger reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadersAnswer {
    /// Oldest first.
    pub deliveries: Vec<DeliveryHeader>,
    /// When more may follow: the `after` of the next request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

/// The answer to an acknowledgement (200).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcknowledgeAnswer {
    /// The delivery acknowledged.
    pub delivery_id: String,
    /// Its state now.
    pub state: DeliveryState,
    /// The partner's tracking number on record.
    pub tracking_number: String,
    /// True when this acknowledgement had been recorded before (nothing changed).
    pub duplicate: bool,
}

/// The ledger's side of queries and headers.
#[async_trait]
pub trait PullLedger: Send + Sync {
    /// Everything on record on one of our permits (as [`crate::Ledger::status`]).
    async fn permit(&self, id: &PermitId) -> Result<PermitStatus, Error>;
    /// The deliveries to `recipient` created at or after `since` (and after the cursor
    /// `after`, a previous page's `next_after`), oldest first, at most `limit`.
    async fn deliveries_to(
        &self,
        recipient: CountryCode,
        since: DateTime<Utc>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<HeadersAnswer, Error>;
    /// Files an audit row on the permit: `event` (`QUERIED`, `QUERY_REFUSED`) and `detail`.
    async fn audit(
        &self,
        id: &PermitId,
        at: DateTime<Utc>,
        event: &str,
        detail: &str,
    ) -> Result<(), Error>;
}

/// The services the query endpoints run over.
#[derive(Clone, Copy)]
pub struct QueryServices<'a> {
    /// Partner and agency keys.
    pub partners: &'a dyn PartnerDirectory,
    /// Message id claims (replay guard), shared with the other messages.
    pub claims: &'a dyn InboundLedger,
    /// Permits, deliveries by recipient, audit rows.
    pub ledger: &'a dyn PullLedger,
    /// The delivery transitions (acknowledgements).
    pub tracker: &'a dyn DeliveryTracker,
    /// The outbox XML.
    pub blobs: &'a dyn BlobStore,
    /// The clock.
    pub clock: &'a dyn Clock,
}

impl<'a> From<QueryServices<'a>> for Admission<'a> {
    fn from(services: QueryServices<'a>) -> Self {
        Admission {
            partners: services.partners,
            claims: services.claims,
            clock: services.clock,
        }
    }
}

macro_rules! head {
    ($message:expr) => {
        Head {
            message_version: $message.message_version,
            message_id: &$message.message_id,
            from: &$message.from,
            agency: $message.agency.as_deref(),
            to: &$message.to,
            sent_at: $message.sent_at,
        }
    };
}

impl Signed for QueryMessage {
    const AGENCIES_ONLY: bool = false;
    fn head(&self) -> Head<'_> {
        head!(self)
    }
}

impl Signed for HeadersMessage {
    const AGENCIES_ONLY: bool = false;
    const PARTNERS_ONLY: bool = true;
    fn head(&self) -> Head<'_> {
        head!(self)
    }
}

impl Signed for AcknowledgeMessage {
    const AGENCIES_ONLY: bool = false;
    const PARTNERS_ONLY: bool = true;
    fn head(&self) -> Head<'_> {
        head!(self)
    }
}

/// The one answer to a query of a permit the asker may not see, for whatever reason (unknown
/// number or version, not ours, not a counterpart): 404 `NOT_FOUND`, the same bytes every time
/// (no message id, no number echoed).
pub fn not_found() -> Answer {
    refuse(
        RefusalCode::NotFound,
        "no permit by that number and version is available to the sender",
        None,
    )
}

fn answer_json<T: Serialize>(value: &T) -> Result<Answer, Error> {
    Ok(Answer {
        status: 200,
        body: serde_json::to_string(value).map_err(|e| Error::permanent("serialize answer", e))?,
    })
}

/// The countries that are the permit's counterparts in its XML: exporting (box 4), importing
/// (box 3a), and every block's country of origin (box 12) and of last re-export (box 12a).
pub fn counterparts(permit: &ecites_domain::Permit) -> Vec<CountryCode> {
    let mut countries: Vec<CountryCode> = permit
        .exporting_country()
        .into_iter()
        .chain(permit.importing_country())
        .chain(permit.blocks.iter().flat_map(|block| {
            [&block.origin, &block.last_reexport]
                .into_iter()
                .flatten()
                .filter_map(|reference| reference.country.as_ref()?.known())
        }))
        .collect();
    countries.sort();
    countries.dedup();
    countries
}

/// The delivery message naming one delivery of ours (version `version` of `id`, `kind`, to
/// `recipient`), enough for [`DeliveryTracker`]'s reads and transitions, which key on the
/// delivery only.
pub fn delivery_to(
    id: &PermitId,
    version: u32,
    kind: DeliveryKind,
    recipient: CountryCode,
) -> DeliveryMessage {
    DeliveryMessage {
        message_type: "delivery".into(),
        version: 1,
        delivery_id: delivery_id(id, version, kind, recipient),
        kind,
        issuer: id.issuer.to_string(),
        permit_number: id.number.clone(),
        permit_version: version,
        replaces_version: None,
        recipient: recipient.to_string(),
        endpoint: String::new(),
        xml_bucket: String::new(),
        xml_key: String::new(),
        content_sha256: String::new(),
        reason: None,
        use_key: None,
        sender: None,
        payload: None,
    }
}

/// Who reads a permit ([`read_permit_for`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// A partner MA: it reads the permits it is a counterpart of or was delivered.
    Partner(CountryCode),
    /// An agency of our own country: it reads every permit of ours.
    OwnAgency,
    /// Anyone else: reads nothing.
    Other,
}

/// One of our permits as a reader may see it.
#[derive(Clone, Debug)]
pub struct Readable {
    /// Everything the ledger holds on it.
    pub status: PermitStatus,
    /// The version read.
    pub version: crate::ledger::VersionInfo,
    /// Its number.
    pub wanted: u32,
    /// Its standard XML (canonical v2), as stored.
    pub xml: Vec<u8>,
    /// The permit read from it.
    pub permit: ecites_domain::Permit,
    /// Its status today.
    pub queried: QueriedStatus,
}

/// The rule of who may read one of our permits, in one place for the signed query and EPIX's
/// SOAP interface: `id`'s version `wanted` (the latest when `None`) for `reader`, or `None` for
/// the one "not found" answer (unknown number, unknown version, not a counterpart). A refusal
/// of a permit on record is audited (`QUERY_REFUSED`, naming `asker`); the caller audits a read.
/// Errors: the ledger or the stored XML cannot be read.
pub async fn read_permit_for(
    ledger: &dyn PullLedger,
    blobs: &dyn BlobStore,
    now: DateTime<Utc>,
    id: &PermitId,
    wanted: Option<u32>,
    reader: Reader,
    asker: &str,
) -> Result<Option<Box<Readable>>, Error> {
    let status = ledger.permit(id).await?;
    let Some(latest) = status.versions.iter().map(|v| v.version).max() else {
        tracing::info!(%asker, permit = %bounded(&id.number, 64), "read of a permit not on record: not found");
        return Ok(None);
    };
    let wanted = wanted.unwrap_or(latest);
    let refused = |why: &str| format!("v{wanted} by {asker}: not found ({why})");
    let Some(version) = status
        .versions
        .iter()
        .find(|v| v.version == wanted)
        .cloned()
    else {
        ledger
            .audit(id, now, "QUERY_REFUSED", &refused("no such version"))
            .await?;
        return Ok(None);
    };
    let xml = match blobs
        .get(blobs.bucket(), &version.xml_key, None, MAX_XML_BYTES)
        .await
    {
        Ok(Fetched::Bytes(bytes)) => bytes,
        Ok(Fetched::TooLarge { size }) => {
            return Err(Error::permanent(
                "query",
                format!("the outbox XML of v{wanted} is {size} bytes"),
            ))
        }
        Err(Error::NotFound(what)) => {
            return Err(Error::permanent(
                "query",
                format!("the outbox XML of v{wanted} is missing: {what}"),
            ))
        }
        Err(error) => return Err(error),
    };
    let permit = ecites_domain::xml::read_permit(&xml)
        .map_err(|e| Error::permanent("query", format!("our XML of v{wanted}: {e}")))?
        .permit;
    let authorised = match reader {
        Reader::OwnAgency => true,
        Reader::Other => false,
        Reader::Partner(country) => {
            counterparts(&permit).contains(&country)
                || status
                    .deliveries
                    .iter()
                    .any(|d| d.recipient == country.to_string())
        }
    };
    if !authorised {
        ledger
            .audit(id, now, "QUERY_REFUSED", &refused("not a counterpart"))
            .await?;
        return Ok(None);
    }
    let cancelled = status.state.as_deref() == Some(VersionState::Cancelled.as_str());
    let queried = match version.state {
        VersionState::Replaced => QueriedStatus::Replaced,
        VersionState::Cancelled => QueriedStatus::Cancelled,
        VersionState::Active if cancelled && wanted == latest => QueriedStatus::Cancelled,
        VersionState::Active
            if permit
                .valid_until
                .is_some_and(|until| until.date() < now.date_naive()) =>
        {
            QueriedStatus::Expired
        }
        VersionState::Active => QueriedStatus::Active,
    };
    Ok(Some(Box::new(Readable {
        status,
        version,
        wanted,
        xml,
        permit,
        queried,
    })))
}

/// Handles `POST .../query`. Transient failures of our own infrastructure are a 503.
pub async fn receive_query(
    services: QueryServices<'_>,
    settings: &ReceiveSettings,
    method: &str,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
    body: &[u8],
) -> Answer {
    signed_endpoint(
        "query",
        services,
        settings,
        (method, header, body),
        |services, message: QueryMessage, sender| query_answer(services, settings, message, sender),
    )
    .await
}

/// Answers an admitted `query` message from `sender`.
async fn query_answer(
    services: QueryServices<'_>,
    settings: &ReceiveSettings,
    message: QueryMessage,
    sender: Sender,
) -> Result<Answer, Error> {
    let asker = match &sender {
        Sender::Partner(country) => format!("partner {country}"),
        Sender::Agency(agency) => format!("agency {} of {}", agency.id, agency.country),
    };
    let number = message.permit_number.trim();
    if number.is_empty() || number.chars().count() > MAX_PERMIT_NUMBER_CHARS {
        return Ok(refuse(
            RefusalCode::NotReadable,
            format!("permit_number: 1 to {MAX_PERMIT_NUMBER_CHARS} characters"),
            Some(&message.message_id),
        ));
    }
    let id = PermitId {
        issuer: settings.own_country,
        number: number.to_owned(),
    };
    let reader = match &sender {
        Sender::Partner(country) => Reader::Partner(*country),
        Sender::Agency(agency) if agency.country == settings.own_country => Reader::OwnAgency,
        Sender::Agency(_) => Reader::Other,
    };
    let now = services.clock.now();
    let Some(read) = read_permit_for(
        services.ledger,
        services.blobs,
        now,
        &id,
        message.permit_version,
        reader,
        &asker,
    )
    .await?
    else {
        return Ok(not_found());
    };
    let Readable {
        status,
        version,
        wanted,
        xml,
        queried,
        ..
    } = *read;
    let tracking = status
        .deliveries
        .iter()
        .filter(|d| match &sender {
            Sender::Partner(country) => d.recipient == country.to_string(),
            Sender::Agency(_) => true,
        })
        .filter(|d| d.kind != DeliveryKind::Use)
        .map(|d| TrackingEntry {
            recipient: d.recipient.clone(),
            version: d.version,
            kind: d.kind,
            state: d.state,
            tracking_number: d.tracking_number.clone(),
        })
        .collect();
    services
        .ledger
        .audit(
            &id,
            now,
            "QUERIED",
            &format!(
                "v{wanted} by {asker} (message {}): {queried:?}",
                message.message_id
            ),
        )
        .await?;
    let mut versions: Vec<u32> = status.versions.iter().map(|v| v.version).collect();
    versions.sort_unstable();
    answer_json(&PermitAnswer {
        permit_number: id.number,
        issuer: settings.own_country.to_string(),
        version: wanted,
        status: queried,
        document_type: version.document_type.clone(),
        payload_namespace: PAYLOAD_NAMESPACE.to_owned(),
        payload: b64(&xml),
        versions,
        tracking,
    })
}

/// Handles `POST .../headers` (partners only).
pub async fn receive_headers(
    services: QueryServices<'_>,
    settings: &ReceiveSettings,
    method: &str,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
    body: &[u8],
) -> Answer {
    signed_endpoint(
        "headers",
        services,
        settings,
        (method, header, body),
        |services, message: HeadersMessage, sender| headers_answer(services, message, sender),
    )
    .await
}

/// Answers an admitted `headers` message from `sender`.
async fn headers_answer(
    services: QueryServices<'_>,
    message: HeadersMessage,
    sender: Sender,
) -> Result<Answer, Error> {
    let limit = match message.limit {
        None => MAX_HEADERS,
        Some(limit) if (1..=MAX_HEADERS as u32).contains(&limit) => limit as usize,
        Some(_) => {
            return Ok(refuse(
                RefusalCode::NotReadable,
                format!("limit: 1 to {MAX_HEADERS}"),
                Some(&message.message_id),
            ))
        }
    };
    if message
        .after
        .as_deref()
        .is_some_and(|after| after.is_empty() || after.chars().count() > 512)
    {
        return Ok(refuse(
            RefusalCode::NotReadable,
            "after: the next_after of a previous answer (1 to 512 characters)",
            Some(&message.message_id),
        ));
    }
    let recipient = sender.country();
    let page = services
        .ledger
        .deliveries_to(recipient, message.since, message.after.as_deref(), limit)
        .await?;
    tracing::info!(
        partner = %recipient,
        since = %message.since,
        listed = page.deliveries.len(),
        more = page.next_after.is_some(),
        message_id = %bounded(&message.message_id, 128),
        "headers listed"
    );
    answer_json(&page)
}

/// Handles `POST .../acknowledge` (partners only, for deliveries addressed to them).
pub async fn receive_acknowledge(
    services: QueryServices<'_>,
    settings: &ReceiveSettings,
    method: &str,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
    body: &[u8],
) -> Answer {
    signed_endpoint(
        "acknowledge",
        services,
        settings,
        (method, header, body),
        |services, message: AcknowledgeMessage, sender| {
            acknowledge_answer(services, settings, message, sender)
        },
    )
    .await
}

/// Answers an admitted `acknowledge` message from `sender`.
async fn acknowledge_answer(
    services: QueryServices<'_>,
    settings: &ReceiveSettings,
    message: AcknowledgeMessage,
    sender: Sender,
) -> Result<Answer, Error> {
    let message_id = Some(message.message_id.as_str());
    if !tracking_number_acceptable(&message.tracking_number) {
        return Ok(refuse(
            RefusalCode::NotReadable,
            "tracking_number: 1 to 128 characters without control characters",
            message_id,
        ));
    }
    let number = message.permit_number.trim();
    if number.is_empty() || message.kind == DeliveryKind::Use || message.permit_version == 0 {
        return Ok(not_found());
    }
    let recipient = sender.country();
    let id = PermitId {
        issuer: settings.own_country,
        number: number.to_owned(),
    };
    let delivery = delivery_to(&id, message.permit_version, message.kind, recipient);
    let wanted = message.ack_status.state();
    let warnings: Vec<String> = message
        .warnings
        .iter()
        .take(MAX_ACK_WARNINGS)
        .map(|w| bounded(w, MAX_ANSWER_TEXT_CHARS))
        .collect();
    let answer = |state, tracking_number: String, duplicate| {
        answer_json(&AcknowledgeAnswer {
            delivery_id: delivery.delivery_id.clone(),
            state,
            tracking_number,
            duplicate,
        })
    };
    match services.tracker.delivery_state(&delivery).await? {
        None => return Ok(not_found()),
        Some(DeliveryState::Pending) => {
            let attempt = Attempt {
                state: wanted,
                tracking_number: Some(message.tracking_number.clone()),
                last_error: (!warnings.is_empty()).then(|| warnings.join("; ")),
                at: services.clock.now(),
            };
            if services.tracker.record_attempt(&delivery, &attempt).await? {
                tracing::info!(delivery_id = %delivery.delivery_id, state = %wanted, "acknowledged by the pulling partner");
                return answer(wanted, message.tracking_number.clone(), false);
            }
        }
        Some(_) => {}
    }
    // Final already (or moved meanwhile): the same acknowledgement is a duplicate, any other
    // is refused.
    let status = services.ledger.permit(&id).await?;
    let recorded = status.deliveries.iter().find(|d| {
        d.version == message.permit_version
            && d.kind == message.kind
            && d.recipient == recipient.to_string()
    });
    match recorded {
        Some(d)
            if d.state == wanted
                && d.tracking_number.as_deref() == Some(message.tracking_number.as_str()) =>
        {
            answer(wanted, message.tracking_number.clone(), true)
        }
        Some(d) => Ok(refuse(
            RefusalCode::Conflict,
            format!(
                "tracking_number: the delivery is already {} with tracking {:?}; it cannot be acknowledged again otherwise",
                d.state,
                bounded(d.tracking_number.as_deref().unwrap_or("-"), 128)
            ),
            message_id,
        )),
        None => Ok(not_found()),
    }
}

/// A signed request: the body bytes and the headers to send with them.
pub type SignedRequest = (Vec<u8>, Vec<(&'static str, String)>);

/// Signs a message of this module (or any JSON message of the receive endpoint): the body and
/// its headers, as [`crate::receive_use::build_use_message`] does for uses.
pub fn sign_json<T: Serialize>(
    message: &T,
    signer: &SigningIdentity,
) -> Result<SignedRequest, Error> {
    let body = serde_json::to_vec(message).map_err(|e| Error::permanent("serialize message", e))?;
    let headers = vec![
        ("content-type", "application/json".to_owned()),
        (SIGNATURE_HEADER, signer.sign(&body)),
        (KEY_ID_HEADER, signer.key_id.clone()),
    ];
    Ok((body, headers))
}

/// The URL of one of this module's paths at a partner's endpoint.
pub fn url(endpoint: &str, path: &str) -> String {
    format!("{}{path}", endpoint.trim_end_matches('/'))
}

/// A partner's side of pull: the client a pulling MA (our tests, the demo, a partner written
/// from the docs) uses against another MA's receive endpoint.
#[derive(Clone, Copy)]
pub struct PullClient<'a> {
    /// HTTP.
    pub transport: &'a dyn crate::http::HttpTransport,
    /// The issuing MA's receive endpoint.
    pub endpoint: &'a str,
    /// The pulling MA's country (`from`).
    pub own: CountryCode,
    /// The issuing MA's country (`to`).
    pub issuer: CountryCode,
    /// The pulling MA's signing key (the one in the issuer's directory).
    pub signer: &'a SigningIdentity,
    /// The clock (`sent_at`).
    pub clock: &'a dyn Clock,
}

/// One document fetched by [`PullClient::pull`], and how it was acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pulled {
    /// The delivery as the headers listed it.
    pub header: DeliveryHeader,
    /// The query's answer for that version.
    pub permit: PermitAnswer,
    /// The standard XML (decoded payload).
    pub xml: Vec<u8>,
    /// The tracking number the puller gave in its acknowledgement.
    pub tracking_number: String,
    /// The issuer's answer to the acknowledgement.
    pub acknowledged: AcknowledgeAnswer,
}

/// Why a pull stopped: the step, the HTTP status (0 when there was no answer) and what the
/// issuer said. Transient for 429, 5xx and transport failures.
fn pull_error(step: &str, status: u16, text: String) -> Error {
    let message = format!("{step}: HTTP {status} {}", bounded(&text, 500));
    if status == 0 || status == 429 || status >= 500 {
        Error::transient(step.to_owned(), message)
    } else {
        Error::permanent(step.to_owned(), message)
    }
}

impl PullClient<'_> {
    fn head(&self) -> (String, DateTime<Utc>) {
        (uuid_like(self.signer, self.clock.now()), self.clock.now())
    }

    async fn call<T: Serialize, A: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        message: &T,
    ) -> Result<Result<A, (u16, String)>, Error> {
        let (body, headers) = sign_json(message, self.signer)?;
        let reply = self
            .transport
            .post(&url(self.endpoint, path), &headers, body)
            .await
            .map_err(|e| pull_error(path, 0, e.to_string()))?;
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        if reply.status != 200 {
            return Ok(Err((reply.status, text)));
        }
        serde_json::from_slice(&reply.body)
            .map(Ok)
            .map_err(|e| pull_error(path, 200, format!("unreadable answer ({e}): {text}")))
    }

    /// `POST /headers`: one page of the deliveries addressed to us.
    pub async fn headers(
        &self,
        since: DateTime<Utc>,
        after: Option<String>,
    ) -> Result<HeadersAnswer, Error> {
        let (message_id, sent_at) = self.head();
        let message = HeadersMessage {
            message_version: QUERY_MESSAGE_VERSION,
            message_id,
            from: self.own.to_string(),
            agency: None,
            to: self.issuer.to_string(),
            sent_at,
            since,
            after,
            limit: None,
        };
        self.call(HEADERS_PATH, &message)
            .await?
            .map_err(|(status, text)| pull_error("headers", status, text))
    }

    /// `POST /query`: the permit, or the issuer's refusal (status and body) as it came.
    pub async fn query(
        &self,
        permit_number: &str,
        permit_version: Option<u32>,
    ) -> Result<Result<PermitAnswer, (u16, String)>, Error> {
        let (message_id, sent_at) = self.head();
        let message = QueryMessage {
            message_version: QUERY_MESSAGE_VERSION,
            message_id,
            from: self.own.to_string(),
            agency: None,
            to: self.issuer.to_string(),
            sent_at,
            permit_number: permit_number.to_owned(),
            permit_version,
        };
        self.call(QUERY_PATH, &message).await
    }

    /// `POST /acknowledge` of one delivery listed by the headers.
    pub async fn acknowledge(
        &self,
        header: &DeliveryHeader,
        ack_status: PullAckStatus,
        tracking_number: &str,
    ) -> Result<AcknowledgeAnswer, Error> {
        let (message_id, sent_at) = self.head();
        let message = AcknowledgeMessage {
            message_version: QUERY_MESSAGE_VERSION,
            message_id,
            from: self.own.to_string(),
            agency: None,
            to: self.issuer.to_string(),
            sent_at,
            permit_number: header.permit_number.clone(),
            permit_version: header.version,
            kind: header.kind,
            ack_status,
            tracking_number: tracking_number.to_owned(),
            warnings: Vec::new(),
        };
        self.call(ACKNOWLEDGE_PATH, &message)
            .await?
            .map_err(|(status, text)| pull_error("acknowledge", status, text))
    }

    /// Polls the headers since `since` (every page), and for each delivery still `PENDING`:
    /// queries its version, then acknowledges it `DELIVERED` with `tracking(header)` as our
    /// tracking number. What it fetched, oldest first. Storing the documents is the caller's.
    pub async fn pull(
        &self,
        since: DateTime<Utc>,
        tracking: &(dyn Fn(&DeliveryHeader) -> String + Sync),
    ) -> Result<Vec<Pulled>, Error> {
        let mut pulled = Vec::new();
        let mut after = None;
        loop {
            let page = self.headers(since, after.take()).await?;
            for header in page.deliveries {
                if header.state != DeliveryState::Pending {
                    continue;
                }
                let permit = self
                    .query(&header.permit_number, Some(header.version))
                    .await?
                    .map_err(|(status, text)| pull_error("query", status, text))?;
                use base64::Engine as _;
                let xml = base64::engine::general_purpose::STANDARD
                    .decode(&permit.payload)
                    .map_err(|e| pull_error("query", 200, format!("payload: {e}")))?;
                let tracking_number = tracking(&header);
                let acknowledged = self
                    .acknowledge(&header, PullAckStatus::Delivered, &tracking_number)
                    .await?;
                pulled.push(Pulled {
                    header,
                    permit,
                    xml,
                    tracking_number,
                    acknowledged,
                });
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(pulled),
            }
        }
    }
}

/// A fresh message id: the hex of a digest of the key id, the time and a process counter
/// (unique per message of this process; the issuer claims each once).
fn uuid_like(signer: &SigningIdentity, now: DateTime<Utc>) -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let digest = Sha256::digest(
        format!(
            "{}\n{}\n{n}\n{}",
            signer.key_id,
            now.timestamp_nanos_opt().unwrap_or_default(),
            std::process::id()
        )
        .as_bytes(),
    );
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests;
