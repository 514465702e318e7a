//! The receive use case: a partner's signed envelope in, an acknowledgement or a refusal out.
//!
//! The order is what makes it safe: size, then authentication (directory key, signature over
//! the exact bytes, time window), then the envelope's fields (each on its own and against each
//! other), then authorisation (addressed to us, sent by the permit's issuer), then the payload
//! (one root in the standard namespace, readable, agreeing with the envelope, valid), then the
//! key limits, then the replay check (message id claimed once), then the original bytes and the
//! verified XML are stored in S3 and the document recorded in the ledger, and only then
//! acknowledged: nothing acknowledged is ever lost. The same document sent again (a new message
//! after a lost answer) gets the same tracking number and changes nothing; the same document
//! with different content is a conflict (409), refused and recorded.
//!
//! Before the signature is verified every refusal is the same 401 without detail, so an
//! unauthenticated caller learns nothing about the directory (which senders are partners, which
//! key ids are on record).

use crate::directory::DocumentFormat;
use crate::directory::{KeyChoiceError, PartnerDirectory};
use crate::keys::escape_component;
use crate::ports::{BlobStore, Clock, SpeciesChecklist};
use crate::protocol::{
    bounded, cap_findings, parse_envelope, verify, within_window, Ack, AckStatus, DocumentStatus,
    Envelope, Refusal, RefusalCode, WireFinding, KEY_ID_HEADER, MAX_ANSWER_TEXT_CHARS,
    MAX_BODY_BYTES, PAYLOAD_NAMESPACE, PAYLOAD_NAMESPACE_V1, SIGNATURE_HEADER,
};
use crate::Error;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ecites_domain::{CountryCode, Severity};
use sha2::{Digest, Sha256};

/// Longest S3 object key, in bytes (S3's limit).
pub const MAX_OBJECT_KEY_BYTES: usize = 1024;

/// A document received from a partner, to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReceived {
    /// Sender (= issuer).
    pub from: CountryCode,
    /// Permit number.
    pub permit_number: String,
    /// The issuer's version.
    pub permit_version: u32,
    /// Issued, replaced, cancelled.
    pub status: DocumentStatus,
    /// Document type code.
    pub document_type: String,
    /// The message that carried it.
    pub message_id: String,
    /// Our tracking number for it (derived from the document, so stable).
    pub tracking_number: String,
    /// Where the original bytes (the signed envelope) are.
    pub body_key: String,
    /// Where the verified payload XML is: what notifications and subscribers read, never the
    /// envelope.
    pub xml_key: String,
    /// The document's content digest ([`document_sha256`]): the same document sent again has
    /// the same digest; a different one under the same (sender, number, version, status) is a
    /// conflict.
    pub document_sha256: String,
    /// The sender's signature and key id (to re-verify the stored bytes later).
    pub signature: String,
    /// The key id.
    pub key_id: String,
    /// Delivered or delivered with warnings.
    pub ack_status: AckStatus,
    /// Warnings (JSON, at most [`crate::protocol::MAX_WIRE_FINDINGS`]).
    pub findings_json: String,
    /// When.
    pub received_at: DateTime<Utc>,
    /// What customs uses of this permit are checked against (validity, countries, blocks).
    pub facts: Option<ecites_domain::usage::PermitFacts>,
}

/// What recording found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedRecord {
    /// The tracking number on record.
    pub tracking_number: String,
    /// The ack status on record.
    pub ack_status: AckStatus,
    /// True when the document had been recorded before.
    pub duplicate: bool,
    /// True when a document with the same (sender, number, version, status) but a different
    /// [`NewReceived::document_sha256`] was recorded before: nothing changed but an audit row.
    pub conflict: bool,
    /// Customs uses of the permit were recorded before it and wait to be checked again.
    pub uses_waiting: bool,
}

/// The receiving side of the ledger.
#[async_trait]
pub trait InboundLedger: Send + Sync {
    /// Claims a message id for a sender (conditional write with a TTL past the replay window);
    /// `false` when it was claimed before: a replay.
    async fn claim_message(
        &self,
        from: CountryCode,
        message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, Error>;
    /// Records a received document once (RECEIVED) with an audit row; a second recording of the
    /// same document returns the first record (`duplicate`), one with different content
    /// changes nothing but records a conflict audit row (`conflict`).
    async fn record_received(&self, received: &NewReceived) -> Result<ReceivedRecord, Error>;
}

/// The services receive runs over.
#[derive(Clone, Copy)]
pub struct ReceiveServices<'a> {
    /// Where the original bytes go.
    pub blobs: &'a dyn BlobStore,
    /// The inbound ledger.
    pub ledger: &'a dyn InboundLedger,
    /// The partner directory with keys.
    pub partners: &'a dyn PartnerDirectory,
    /// The CITES checklist for the `listing` tier ([`crate::NoChecklist`] for none): a
    /// received permit's listing findings are warnings, never a refusal.
    pub species: &'a dyn SpeciesChecklist,
    /// The ledger's side of customs uses: uses that waited for this permit are checked again
    /// when it arrives.
    pub uses: &'a dyn crate::usage::UseLedger,
    /// The clock.
    pub clock: &'a dyn Clock,
}

/// What receive needs to know about its deployment.
#[derive(Clone, Copy, Debug)]
pub struct ReceiveSettings {
    /// Our MA country: messages must be addressed to it.
    pub own_country: CountryCode,
    /// Largest body accepted.
    pub max_body_bytes: usize,
}

/// An HTTP answer: status and JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// JSON body ([`Ack`] or [`Refusal`]).
    pub body: String,
}

impl Answer {
    pub(crate) fn ack(ack: &Ack) -> Self {
        Answer {
            status: 200,
            body: serde_json::to_string(ack).unwrap_or_default(),
        }
    }

    pub(crate) fn refuse(refusal: Refusal) -> Self {
        Answer {
            status: refusal.code.http_status(),
            body: serde_json::to_string(&refusal).unwrap_or_default(),
        }
    }

    /// 503 `UNAVAILABLE` with `message`: our side cannot answer now and the sender retries
    /// (for a wrapper whose own set-up failed before any handler ran).
    pub fn unavailable(message: &str) -> Self {
        refuse(RefusalCode::Unavailable, message, None)
    }
}

/// A refusal; the message is cut at [`MAX_ANSWER_TEXT_CHARS`] (it may quote partner input).
pub(crate) fn refuse(
    code: RefusalCode,
    message: impl Into<String>,
    message_id: Option<&str>,
) -> Answer {
    let mut refusal = Refusal::new(code, bounded(&message.into(), MAX_ANSWER_TEXT_CHARS));
    refusal.message_id = message_id.map(str::to_owned);
    Answer::refuse(refusal)
}

/// The one answer to every message that fails authentication (unknown or inactive sender, no
/// key, unknown key id, missing or wrong signature): the same status and text whatever the
/// reason, naming no key id. The reason is logged for the operator.
pub(crate) fn unauthenticated(why: &str) -> Answer {
    tracing::warn!(reason = why, "message refused: not authenticated");
    refuse(
        RefusalCode::Unauthenticated,
        "the message is not signed by a key this receiver accepts for its sender",
        None,
    )
}

/// Our tracking number for a document: derived from (sender, number, version, status), so the
/// same document always gets the same number without a read.
pub fn tracking_number(own: CountryCode, received: &Envelope) -> String {
    document_tracking_number(
        own,
        &received.from,
        &received.permit_number,
        received.permit_version,
        received.document_status,
    )
}

/// [`tracking_number`] of a document named by its fields: the sender (issuer), the permit
/// number, the issuer's version and what the document does. A document pulled over EPIX
/// ([`crate::epix::client`]) gets its number by the same rule as a pushed one.
pub fn document_tracking_number(
    own: CountryCode,
    from: impl std::fmt::Display,
    permit_number: &str,
    permit_version: u32,
    status: DocumentStatus,
) -> String {
    let digest = Sha256::digest(
        format!(
            "{from}\n{permit_number}\n{permit_version}\n{}",
            status.as_str()
        )
        .as_bytes(),
    );
    format!("{own}-{}", &hex::encode(digest)[..20])
}

/// The content digest of a received document: hex sha256 of the payload XML as stored (a v2
/// payload as received, a v1 payload as its canonical v2), a NUL byte and the cancellation
/// reason (empty when none). Two messages for the same (sender, number,
/// version, status) must have the same digest, or the second is a conflict.
pub fn document_sha256(xml: &[u8], reason: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(xml);
    hasher.update([0u8]);
    hasher.update(reason.unwrap_or_default().as_bytes());
    hex::encode(hasher.finalize())
}

/// Where the original bytes of a received message are kept.
pub fn received_key(from: CountryCode, permit_number: &str, message_id: &str) -> String {
    format!(
        "received/{from}/{}/{}.json",
        escape_component(permit_number),
        escape_component(message_id)
    )
}

/// Where the verified payload XML carried by a received message is kept (beside its
/// envelope, [`received_key`] with `.xml`).
pub fn received_xml_key(from: CountryCode, permit_number: &str, message_id: &str) -> String {
    format!(
        "received/{from}/{}/{}.xml",
        escape_component(permit_number),
        escape_component(message_id)
    )
}

/// Checks that the payload's first element is the root of the toolkit version the envelope's
/// `payload_namespace` names (`CITESEPermit` in [`PAYLOAD_NAMESPACE`] for v2, `CBFShip` in
/// [`PAYLOAD_NAMESPACE_V1`] for v1), with nothing but an XML declaration, comments, processing
/// instructions and whitespace before it. The domain reader then reads the document; this
/// guards the exchange's own rule that `payload_namespace` says what the payload is.
fn check_payload_root(xml: &[u8], version: DocumentFormat) -> Result<(), String> {
    let (root, expected) = match version {
        DocumentFormat::V2 => (&b"CITESEPermit"[..], PAYLOAD_NAMESPACE),
        DocumentFormat::V1 => (&b"CBFShip"[..], PAYLOAD_NAMESPACE_V1),
    };
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    // A UTF-8 byte order mark is an encoding signature, not content.
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let mut reader = quick_xml::NsReader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_resolved_event_into(&mut buf) {
            Ok((ns, Event::Start(e) | Event::Empty(e))) => {
                let local = e.local_name();
                let namespace = match ns {
                    ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
                    _ => String::new(),
                };
                if local.as_ref() != root || namespace != expected {
                    return Err(format!(
                        "the payload's root is {{{}}}{}, not {{{expected}}}{}, as its \
                         payload_namespace says",
                        bounded(&namespace, 100),
                        bounded(&String::from_utf8_lossy(local.as_ref()), 100),
                        String::from_utf8_lossy(root)
                    ));
                }
                return Ok(());
            }
            Ok((_, Event::Text(t))) => {
                if !t.iter().all(u8::is_ascii_whitespace) {
                    return Err("the payload has text before its root element".into());
                }
            }
            Ok((_, Event::Decl(_) | Event::Comment(_) | Event::PI(_))) => {}
            Ok((_, Event::Eof)) => return Err("the payload has no root element".into()),
            Ok((_, other)) => {
                return Err(format!(
                    "the payload has {} before its root element",
                    match other {
                        Event::DocType(_) => "a DOCTYPE",
                        Event::CData(_) => "a CDATA section",
                        _ => "markup",
                    }
                ))
            }
            Err(e) => return Err(format!("the payload is not XML: {e}")),
        }
    }
}

/// Handles one inbound request. `header` looks a header up by lower-case name. `Err` is never
/// returned for bad input: refusals are answers. Our own infrastructure failing transiently
/// becomes a 503 answer (the sender retries, under a new message id); failing permanently (a
/// dependency refusing the write for good) a 400 `NOT_STORABLE`. Either way, what the message
/// stored that the ledger cannot name is removed first: its objects until the ledger write is
/// tried. A ledger write that failed transiently may still have been applied (its answer
/// lost), so from then on the objects stay: the retry is then a duplicate, answered with the
/// first tracking number, and its own objects go.
pub async fn receive_message(
    services: ReceiveServices<'_>,
    settings: &ReceiveSettings,
    method: &str,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
    body: &[u8],
) -> Answer {
    let mut stored = Vec::new();
    match receive_inner(services, settings, method, header, body, &mut stored).await {
        Ok(answer) => answer,
        Err(error) if error.is_transient() => {
            tracing::warn!(error = %error, "receive failed: answering 503 so the sender retries");
            // The retry comes under a new message id: what this one stored would be named by
            // nothing in the ledger.
            remove_unrecorded(&services, &stored).await;
            refuse(
                RefusalCode::Unavailable,
                "the receiver could not store the message; retry later",
                None,
            )
        }
        Err(error) => {
            tracing::warn!(error = %error, "receive failed for good: answering 400 NOT_STORABLE");
            // What this message stored (its own keys, named by its message id) goes: nothing
            // half-stored stays behind.
            remove_unrecorded(&services, &stored).await;
            refuse(
                RefusalCode::NotStorable,
                format!("the receiver cannot store this message: {error}"),
                None,
            )
        }
    }
}

/// Removes the objects a failed message stored that no ledger record names (`stored`: its own
/// keys, named by its message id, which no other message can claim). A removal that fails is
/// logged; the object stays.
async fn remove_unrecorded(services: &ReceiveServices<'_>, stored: &[String]) {
    for key in stored {
        if let Err(e) = services.blobs.delete(key).await {
            tracing::warn!(key, error = %e, "could not remove an object no record names");
        }
    }
}

async fn receive_inner(
    services: ReceiveServices<'_>,
    settings: &ReceiveSettings,
    method: &str,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
    body: &[u8],
    stored: &mut Vec<String>,
) -> Result<Answer, Error> {
    if !method.eq_ignore_ascii_case("POST") {
        return Ok(refuse(RefusalCode::MethodNotAllowed, "use POST", None));
    }
    let limit = settings.max_body_bytes.min(MAX_BODY_BYTES);
    if body.len() > limit {
        return Ok(refuse(
            RefusalCode::TooLarge,
            format!("the body is {} bytes, above {limit}", body.len()),
            None,
        ));
    }
    let envelope = match parse_envelope(body) {
        Ok(envelope) => envelope,
        Err(e) => return Ok(refuse(RefusalCode::NotReadable, e.to_string(), None)),
    };
    // Authentication: the sender's key from our directory, the signature over the exact bytes.
    // Every failure here gets the same answer.
    let Ok(from) = envelope.from.parse::<CountryCode>() else {
        return Ok(unauthenticated("`from` is not a country code"));
    };
    let partner = match services.partners.partner(from).await? {
        Some(partner) if partner.active => partner,
        _ => return Ok(unauthenticated("the sender is not an active partner")),
    };
    let key_id = header(KEY_ID_HEADER);
    let public_key = match partner.key_for(key_id.as_deref()) {
        Ok(public_key) => public_key,
        Err(KeyChoiceError::NoKeyOnRecord) => {
            return Ok(unauthenticated("no public key is on record for the sender"))
        }
        Err(KeyChoiceError::UnknownKeyId { .. }) => {
            return Ok(unauthenticated(
                "the key id is not on record for the sender",
            ))
        }
    };
    let Some(signature) = header(SIGNATURE_HEADER) else {
        return Ok(unauthenticated("the signature header is missing"));
    };
    if let Err(why) = verify(public_key, body, &signature) {
        return Ok(unauthenticated(&why.to_string()));
    }
    // Authenticated from here on: refusals may say why.
    let now = services.clock.now();
    if !within_window(envelope.sent_at, now) {
        return Ok(refuse(
            RefusalCode::Unauthenticated,
            format!(
                "sent_at {} is more than 5 minutes from the receiver's clock ({now})",
                envelope.sent_at
            ),
            None,
        ));
    }
    if let Err(e) = envelope.check_fields() {
        return Ok(refuse(RefusalCode::NotReadable, e.to_string(), None));
    }
    let id = Some(envelope.message_id.as_str());
    // Authorisation: addressed to us, and an MA only sends its own permits.
    if envelope.to != settings.own_country.to_string() {
        return Ok(refuse(
            RefusalCode::Forbidden,
            format!(
                "to: the message is addressed to {:?}, not {}",
                envelope.to, settings.own_country
            ),
            id,
        ));
    }
    let xml = match envelope.payload_bytes() {
        Ok(xml) => xml,
        Err(why) => {
            return Ok(refuse(
                RefusalCode::NotReadable,
                format!("payload: {why}"),
                id,
            ))
        }
    };
    // `check_fields` accepted the namespace: it names v2 or v1.
    let version = envelope.payload_version().unwrap_or(DocumentFormat::V2);
    if let Err(why) = check_payload_root(&xml, version) {
        return Ok(refuse(
            RefusalCode::NotReadable,
            format!("payload: {why}"),
            id,
        ));
    }
    let decoded = match ecites_domain::xml::read_permit(&xml) {
        Ok(decoded) => decoded,
        Err(e) => {
            return Ok(refuse(
                RefusalCode::NotReadable,
                format!("payload: not a readable CITES e-permit: {e}"),
                id,
            ))
        }
    };
    let Some(permit_id) = decoded.permit.id() else {
        return Ok(refuse(
            RefusalCode::NotReadable,
            "payload: it has no permit number or issuing country",
            id,
        ));
    };
    if permit_id.issuer != from {
        return Ok(refuse(
            RefusalCode::Forbidden,
            format!(
                "from: {from} signed a permit issued by {}: an MA can only send its own permits",
                permit_id.issuer
            ),
            id,
        ));
    }
    if permit_id.number != envelope.permit_number {
        return Ok(refuse(
            RefusalCode::NotReadable,
            format!(
                "permit_number: the envelope names permit {:?} but the payload is {:?}",
                envelope.permit_number, permit_id.number
            ),
            id,
        ));
    }
    let payload_type = decoded
        .permit
        .document_type
        .as_ref()
        .map(|t| t.as_str().to_owned())
        .unwrap_or_default();
    if payload_type != envelope.document_type {
        return Ok(refuse(
            RefusalCode::NotReadable,
            format!(
                "document_type: the envelope says {:?} but the payload says {payload_type:?}",
                envelope.document_type
            ),
            id,
        ));
    }
    // Reading findings, then validation without repeating a value the reader reported, capped.
    let mut findings = ecites_domain::check(&decoded);
    // The listing tier, where a checklist is loaded. The issuing MA is the authority on its
    // permit (Convention Art. VI), so its listing errors are passed on as warnings: the permit
    // is received with warnings, never refused for them.
    if let Some(checklist) = services.species.checklist().await? {
        findings.extend(
            ecites_domain::validate_listing(&decoded.permit, &checklist)
                .into_iter()
                .map(|mut finding| {
                    finding.severity = finding.severity.min(Severity::Warning);
                    finding
                }),
        );
    }
    // A cancellation carries the cancelled version; it is recorded even if that version no
    // longer validates (its validity window may have passed), but what identifies the document
    // (its structure, box 1: type and number, box 6: the issuer) is checked like any permit's.
    let refusing: Vec<&ecites_domain::Finding> = findings
        .iter()
        .filter(|f| f.is_error())
        .filter(|f| {
            envelope.document_status != DocumentStatus::Cancelled
                || f.tier == ecites_domain::Tier::Structure
                || matches!(f.permit_box.as_deref(), Some("1" | "6"))
        })
        .collect();
    if !refusing.is_empty() {
        let (findings, omitted) =
            cap_findings(refusing.into_iter().map(WireFinding::from).collect());
        let mut refusal = Refusal::new(RefusalCode::Invalid, "the permit is invalid");
        refusal.message_id = Some(envelope.message_id.clone());
        refusal.findings = findings;
        refusal.findings_omitted = omitted;
        return Ok(Answer::refuse(refusal));
    }
    let (wire, omitted) = cap_findings(
        findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .map(WireFinding::from)
            .collect(),
    );
    // Key limits, before anything is written: a key S3 or DynamoDB would refuse must be a
    // refusal now, not a failure after the original was stored.
    let body_key = received_key(from, &envelope.permit_number, &envelope.message_id);
    let xml_key = received_xml_key(from, &envelope.permit_number, &envelope.message_id);
    if body_key.len() > MAX_OBJECT_KEY_BYTES || xml_key.len() > MAX_OBJECT_KEY_BYTES {
        return Ok(refuse(
            RefusalCode::NotReadable,
            format!(
                "message_id: with the permit number it makes an object key of {} bytes, above \
                 {MAX_OBJECT_KEY_BYTES} (use a shorter id, e.g. a UUID)",
                body_key.len().max(xml_key.len())
            ),
            id,
        ));
    }
    // Replay: the message id is claimed once; the claim outlives the time window.
    if !services
        .ledger
        .claim_message(from, &envelope.message_id, now)
        .await?
    {
        return Ok(refuse(
            RefusalCode::Replayed,
            "this message id was received before",
            id,
        ));
    }
    // Store the original bytes and the verified XML before anything is acknowledged.
    services
        .blobs
        .put(&body_key, body.to_vec(), crate::protocol::CONTENT_TYPE)
        .await?;
    stored.push(body_key.clone());
    // The store is canonical (toolkit v2): a v1 payload is stored as the v2 of the permit read
    // from it (the original v1 bytes stay in the signed envelope stored above).
    let canonical = match version {
        DocumentFormat::V2 => xml.clone(),
        DocumentFormat::V1 => ecites_domain::xml::write_permit(&decoded.permit).into_bytes(),
    };
    services
        .blobs
        .put(&xml_key, canonical.clone(), "application/xml")
        .await?;
    stored.push(xml_key.clone());
    let warnings = wire
        .iter()
        .any(|f| f.severity == "warning" || f.severity == "error");
    let ack_status = if warnings {
        AckStatus::DeliveredWithWarnings
    } else {
        AckStatus::Delivered
    };
    let record = services
        .ledger
        .record_received(&NewReceived {
            from,
            permit_number: envelope.permit_number.clone(),
            permit_version: envelope.permit_version,
            status: envelope.document_status,
            document_type: envelope.document_type.clone(),
            message_id: envelope.message_id.clone(),
            tracking_number: tracking_number(settings.own_country, &envelope),
            body_key,
            xml_key,
            // Of the stored (canonical) XML: the same permit sent as v1, then as its v2 (the
            // partner's entry changed between a lost answer and the retry), is one document.
            document_sha256: document_sha256(&canonical, envelope.reason.as_deref()),
            signature,
            key_id: key_id.unwrap_or_default(),
            ack_status,
            findings_json: serde_json::to_string(&wire).unwrap_or_default(),
            received_at: now,
            facts: Some(ecites_domain::usage::PermitFacts::of(&decoded.permit)),
        })
        .await;
    let record = match record {
        Ok(record) => record,
        Err(error) if error.is_transient() => {
            // Perhaps applied, its answer lost: the ledger may name the objects now.
            stored.clear();
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    if !record.duplicate {
        // Named by the ledger (the new record, or the conflict's audit row): they stay whatever
        // fails later.
        stored.clear();
    }
    if record.conflict {
        tracing::warn!(
            from = %from,
            permit = %envelope.permit_number,
            message_id = %envelope.message_id,
            "conflict: the same document with different content; refused"
        );
        return Ok(refuse(
            RefusalCode::Conflict,
            format!(
                "permit {} version {} ({}) was received before with different content; the \
                 first stays on record (tracking number {}) and this message was refused and \
                 recorded. Send a new version instead.",
                envelope.permit_number,
                envelope.permit_version,
                envelope.document_status.as_str(),
                record.tracking_number
            ),
            id,
        ));
    }
    // The same document again under a new message id (the sender retried after losing our
    // acknowledgement): the first message's objects stay on record, this one's go, so the
    // bucket holds what the ledger names and nothing beside it.
    if record.duplicate {
        remove_unrecorded(&services, &std::mem::take(stored)).await;
    }
    // A permit replacing another of its issuer under a new number: the replaced one is marked
    // replaced here too (its issuer's cancellation follows), so a use of it is an alert.
    if let Some(old) = ecites_domain::usage::replaced_permit_number(&decoded.permit)
        .filter(|old| old.chars().count() <= crate::protocol::MAX_PERMIT_NUMBER_CHARS)
    {
        services
            .uses
            .mark_replaced(
                &ecites_domain::PermitId {
                    issuer: from,
                    number: old,
                },
                &envelope.permit_number,
                now,
            )
            .await?;
    }
    // Customs uses of this permit that came before it are checked again now (a late delivery
    // is not fraud). Also for a duplicate: an earlier attempt may have stopped before this.
    if record.uses_waiting {
        crate::usage::recheck_waiting_uses(
            crate::usage::UseServices {
                ledger: services.uses,
                clock: services.clock,
                own_country: settings.own_country,
            },
            &ecites_domain::PermitId {
                issuer: from,
                number: envelope.permit_number.clone(),
            },
        )
        .await?;
    }
    tracing::info!(
        from = %from,
        permit = %envelope.permit_number,
        message_id = %envelope.message_id,
        tracking_number = %record.tracking_number,
        duplicate = record.duplicate,
        "received"
    );
    Ok(Answer::ack(&Ack {
        kind: "ack".into(),
        tracking_number: record.tracking_number,
        message_id: envelope.message_id,
        status: record.ack_status,
        findings: wire,
        findings_omitted: omitted,
        duplicate: record.duplicate,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::build_message;
    use crate::ledger::DeliveryKind;
    use crate::protocol::SigningIdentity;
    use crate::testing::{FixedClock, MemoryBlobs, MemoryDirectory, MemoryInbound};
    use crate::DeliveryMessage;

    struct World {
        key: SigningIdentity,
        blobs: MemoryBlobs,
        inbound: MemoryInbound,
        partners: MemoryDirectory,
        clock: FixedClock,
    }

    fn world(broken_store: bool) -> World {
        let key = SigningIdentity::generate("FR-1").unwrap();
        let partner = crate::testing::loopback_partner("FR", &key);
        World {
            key,
            blobs: if broken_store {
                MemoryBlobs::new("b")
                    .refusing_puts(|_| Some(Error::transient("s3:PutObject", "503 Slow Down")))
            } else {
                MemoryBlobs::new("b")
            },
            inbound: MemoryInbound::default(),
            partners: MemoryDirectory::of([partner]),
            clock: FixedClock(Utc::now()),
        }
    }

    fn delivery(to: &str) -> DeliveryMessage {
        DeliveryMessage {
            message_type: "delivery".into(),
            version: 1,
            delivery_id: "FR/24FR000123/v1/permit/JP".into(),
            kind: DeliveryKind::Permit,
            issuer: "FR".into(),
            permit_number: "24FR000123".into(),
            permit_version: 1,
            replaces_version: None,
            recipient: to.into(),
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

    fn xml() -> Vec<u8> {
        ecites_domain::xml::write_permit(&ecites_domain::testing::typical_permit(1)).into_bytes()
    }

    async fn send(
        w: &World,
        body: &[u8],
        headers: &[(&'static str, String)],
    ) -> (u16, serde_json::Value) {
        let services = ReceiveServices {
            blobs: &w.blobs,
            ledger: &w.inbound,
            partners: &w.partners,
            species: &crate::NoChecklist,
            uses: &crate::testing::NoUses,
            clock: &w.clock,
        };
        let settings = ReceiveSettings {
            own_country: "JP".parse().unwrap(),
            max_body_bytes: MAX_BODY_BYTES,
        };
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        let answer = receive_message(services, &settings, "POST", &header, body).await;
        (answer.status, serde_json::from_str(&answer.body).unwrap())
    }

    #[tokio::test]
    async fn a_signed_permit_is_stored_then_acknowledged_and_the_same_document_keeps_its_tracking_number(
    ) {
        let w = world(false);
        let (body, headers) = build_message(&delivery("JP"), "E", &xml(), "m1", &w.key, w.clock.0);
        let (status, ack) = send(&w, &body, &headers).await;
        assert_eq!(status, 200, "{ack}");
        assert_eq!(ack["duplicate"], false);
        let stored = w.blobs.objects();
        assert_eq!(stored.len(), 2, "the envelope and the verified XML");
        assert_eq!(
            stored[&received_key("FR".parse().unwrap(), "24FR000123", "m1")],
            body,
            "the exact bytes are kept"
        );
        assert_eq!(
            stored[&received_xml_key("FR".parse().unwrap(), "24FR000123", "m1")],
            xml(),
            "and the payload XML as verified"
        );
        let (body, headers) = build_message(&delivery("JP"), "E", &xml(), "m2", &w.key, w.clock.0);
        let (status, again) = send(&w, &body, &headers).await;
        assert_eq!(status, 200);
        assert_eq!(again["tracking_number"], ack["tracking_number"]);
        assert_eq!(again["duplicate"], true);
        // Found by the soak: the duplicate's own envelope and XML stayed in the bucket, named
        // by nothing in the ledger.
        assert_eq!(
            w.blobs.objects(),
            stored,
            "only the first message's objects stay"
        );
    }

    #[tokio::test]
    async fn when_the_store_fails_nothing_is_acknowledged_and_the_sender_retries() {
        let w = world(true);
        let (body, headers) = build_message(&delivery("JP"), "E", &xml(), "m1", &w.key, w.clock.0);
        let (status, refusal) = send(&w, &body, &headers).await;
        assert_eq!(status, 503, "{refusal}");
        assert!(w.inbound.received() == 0);
    }

    /// A refusal case: name, body, headers, expected status.
    type Case = (&'static str, Vec<u8>, Vec<(&'static str, String)>, u16);

    #[tokio::test]
    async fn refusals_carry_their_status_and_store_nothing() {
        let w = world(false);
        let now = w.clock.0;
        let other = SigningIdentity::generate("FR-1").unwrap();
        let cases: Vec<Case> = vec![
            {
                let (b, h) = build_message(&delivery("JP"), "E", &xml(), "f", &other, now);
                ("forged", b, h, 401)
            },
            {
                let (b, h) = build_message(
                    &delivery("JP"),
                    "E",
                    &xml(),
                    "s",
                    &w.key,
                    now - chrono::Duration::minutes(6),
                );
                ("stale", b, h, 401)
            },
            {
                let (b, h) = build_message(&delivery("DE"), "E", &xml(), "t", &w.key, now);
                ("not addressed to us", b, h, 403)
            },
            {
                let mut d = delivery("JP");
                d.issuer = "DE".into();
                let (b, h) = build_message(&d, "E", &xml(), "u", &w.key, now);
                ("unknown sender", b, h, 401)
            },
            {
                let (b, mut h) = build_message(&delivery("JP"), "E", &xml(), "k", &w.key, now);
                h.retain(|(n, _)| *n != KEY_ID_HEADER);
                ("no key id", b, h, 401)
            },
            {
                let (b, h) =
                    build_message(&delivery("JP"), "E", b"<not-a-permit/>", "x", &w.key, now);
                ("not a permit", b, h, 400)
            },
            {
                let (b, h) = build_message(&delivery("JP"), "R", &xml(), "y", &w.key, now);
                ("document type mismatch", b, h, 400)
            },
            ("not json", b"{".to_vec(), vec![], 400),
            ("too large", vec![b' '; MAX_BODY_BYTES + 1], vec![], 413),
        ];
        for (name, body, headers, expected) in cases {
            let (status, refusal) = send(&w, &body, &headers).await;
            assert_eq!(status, expected, "{name}: {refusal}");
            assert_eq!(refusal["type"], "refusal", "{name}");
        }
        assert!(w.blobs.objects().is_empty());
        assert!(w.inbound.received() == 0);
    }

    #[tokio::test]
    async fn during_a_key_rotation_both_keys_are_accepted_and_a_retired_key_is_refused() {
        let mut w = world(false);
        let now = w.clock.0;
        let new_key = SigningIdentity::generate("FR-2").unwrap();
        w.partners.0.partners[0]
            .accept_key(crate::directory::PartnerKey {
                key_id: "FR-2".into(),
                public_key: new_key.public_key_base64(),
            })
            .unwrap();
        let sent_with = |key: &SigningIdentity, id: &str| {
            build_message(&delivery("JP"), "E", &xml(), id, key, now)
        };
        for (key, id) in [(&w.key, "old-key"), (&new_key, "new-key")] {
            let (body, headers) = sent_with(key, id);
            let (status, answer) = send(&w, &body, &headers).await;
            assert_eq!(status, 200, "{id}: {answer}");
        }

        w.partners.0.partners[0].retire_key("FR-1").unwrap();
        let (body, headers) = sent_with(&w.key, "old-key-after");
        let (status, refusal) = send(&w, &body, &headers).await;
        assert_eq!(status, 401, "{refusal}");
        assert!(
            !refusal.to_string().contains("FR-2") && !refusal.to_string().contains("FR-1"),
            "the refusal names no key on record: {refusal}"
        );
        let (body, headers) = sent_with(&new_key, "new-key-after");
        assert_eq!(send(&w, &body, &headers).await.0, 200);
    }

    /// Signs `body` as FR's key would and returns the headers.
    fn signed(w: &World, body: &[u8]) -> Vec<(&'static str, String)> {
        vec![
            (SIGNATURE_HEADER, w.key.sign(body)),
            (KEY_ID_HEADER, w.key.key_id.clone()),
        ]
    }

    /// A valid envelope as JSON, to alter.
    fn envelope_json(w: &World, id: &str) -> serde_json::Value {
        let (body, _) = build_message(&delivery("JP"), "E", &xml(), id, &w.key, w.clock.0);
        serde_json::from_slice(&body).unwrap()
    }

    #[tokio::test]
    async fn the_same_document_with_different_content_is_a_conflict_and_the_first_stays() {
        let w = world(false);
        let (body, headers) = build_message(&delivery("JP"), "E", &xml(), "m1", &w.key, w.clock.0);
        let (status, first) = send(&w, &body, &headers).await;
        assert_eq!(status, 200, "{first}");
        let mut other = ecites_domain::testing::typical_permit(1);
        other.blocks[0].scientific_name = Some("Panthera tigris".into());
        let other = ecites_domain::xml::write_permit(&other).into_bytes();
        let (body, headers) = build_message(&delivery("JP"), "E", &other, "m2", &w.key, w.clock.0);
        let (status, refusal) = send(&w, &body, &headers).await;
        assert_eq!(status, 409, "{refusal}");
        assert_eq!(refusal["code"], "CONFLICT");
        assert!(
            refusal["message"]
                .as_str()
                .unwrap()
                .contains("different content"),
            "{refusal}"
        );
        assert_eq!(w.inbound.received(), 1);
    }

    #[tokio::test]
    async fn every_authentication_failure_gets_the_same_answer_naming_no_key() {
        let w = world(false);
        let now = w.clock.0;
        let stranger = SigningIdentity::generate("FR-9").unwrap();
        let mut not_partner = delivery("JP");
        not_partner.issuer = "DE".into();
        let cases = [
            build_message(&not_partner, "E", &xml(), "a", &w.key, now),
            build_message(&delivery("JP"), "E", &xml(), "b", &stranger, now),
            {
                let (b, mut h) = build_message(&delivery("JP"), "E", &xml(), "c", &w.key, now);
                h.retain(|(n, _)| *n != SIGNATURE_HEADER);
                (b, h)
            },
        ];
        let mut answers = Vec::new();
        for (body, headers) in cases {
            answers.push(send(&w, &body, &headers).await);
        }
        for (status, answer) in &answers {
            assert_eq!(*status, 401, "{answer}");
            assert_eq!(answer, &answers[0].1, "answers differ");
            assert!(!answer.to_string().contains("FR-1"), "{answer}");
        }
    }

    #[tokio::test]
    async fn envelope_fields_that_contradict_or_break_a_rule_are_refused_naming_the_field() {
        let w = world(false);
        type Alteration = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(&str, Alteration)> = vec![
            (
                "permit_version",
                Box::new(|e| {
                    e["permit_version"] = 0.into();
                    e["document_status"] = "cancelled".into();
                }),
            ),
            (
                "replaces_version",
                Box::new(|e| e["replaces_version"] = 1.into()),
            ),
            ("reason", Box::new(|e| e["reason"] = "died".into())),
            (
                "permit_version",
                Box::new(|e| {
                    e["document_status"] = "replaced".into();
                }),
            ),
            (
                "payload_namespace",
                Box::new(|e| e["payload_namespace"] = "urn:other".into()),
            ),
            (
                "message_id",
                Box::new(|e| e["message_id"] = "é".repeat(129).into()),
            ),
            (
                "message_id",
                Box::new(|e| e["message_id"] = "m\u{1b}[2J".into()),
            ),
            ("body", Box::new(|e| e["extra"] = "x".into())),
        ];
        for (i, (field, alter)) in cases.iter().enumerate() {
            let mut envelope = envelope_json(&w, &format!("m{i}"));
            alter(&mut envelope);
            let body = serde_json::to_vec(&envelope).unwrap();
            let (status, refusal) = send(&w, &body, &signed(&w, &body)).await;
            assert_eq!(status, 400, "{field}: {refusal}");
            assert!(
                refusal["message"].as_str().unwrap().starts_with(field),
                "{field}: {refusal}"
            );
        }
        // 128 two-byte characters are 128 characters: accepted.
        let mut envelope = envelope_json(&w, "x");
        envelope["message_id"] = "é".repeat(128).into();
        let body = serde_json::to_vec(&envelope).unwrap();
        let (status, answer) = send(&w, &body, &signed(&w, &body)).await;
        assert_eq!(status, 200, "{answer}");
    }

    #[tokio::test]
    async fn a_cancellation_is_checked_like_a_permit_for_type_number_and_issuer() {
        let w = world(false);
        let mut cancel = delivery("JP");
        cancel.kind = DeliveryKind::Cancellation;
        let mut permit = ecites_domain::testing::typical_permit(1);
        permit.document_type = None;
        let payload = ecites_domain::xml::write_permit(&permit).into_bytes();
        let (body, headers) = build_message(&cancel, "E", &payload, "c1", &w.key, w.clock.0);
        let (status, refusal) = send(&w, &body, &headers).await;
        assert_eq!(status, 400, "{refusal}");
        assert!(refusal["message"]
            .as_str()
            .unwrap()
            .starts_with("document_type"));
        assert!(w.blobs.objects().is_empty());
    }

    /// Property test (fixed seed): a valid, signed envelope made ambiguous (a field given twice
    /// with another value, a field under an escaped spelling given twice, an unknown field, a
    /// field under another case) is refused 400 whatever the field, and nothing is stored.
    #[test]
    fn ambiguous_envelopes_are_refused_and_nothing_is_stored() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
        let fields = [
            "envelope_version",
            "message_id",
            "from",
            "to",
            "document_type",
            "document_status",
            "permit_number",
            "permit_version",
            "sent_at",
            "payload_namespace",
            "payload",
        ];
        let config = Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[19; 32]));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let strategy = (0..fields.len(), 0..4u8, "[a-z]{1,12}");
        runner
            .run(&strategy, |(field, how, word)| {
                let w = world(false);
                let (body, _) = build_message(&delivery("JP"), "E", &xml(), "m", &w.key, w.clock.0);
                let text = String::from_utf8(body).unwrap();
                let name = fields[field];
                let twin = match how {
                    // The same field again, with another value (a string is valid JSON for all
                    // but the numbers; either way the derive sees the field twice).
                    0 => format!("\"{name}\":\"{word}\","),
                    // The same field again, its first letter escaped: one name after unescaping.
                    1 => format!(
                        "\"\\u{:04x}{}\":\"{word}\",",
                        name.as_bytes()[0],
                        &name[1..]
                    ),
                    // A field nobody documented.
                    2 => format!("\"x_{word}\":\"{word}\","),
                    // A field under another case.
                    _ => format!("\"{}\":\"{word}\",", name.to_ascii_uppercase()),
                };
                let ambiguous = text.replacen('{', &format!("{{{twin}"), 1).into_bytes();
                let headers = signed(&w, &ambiguous);
                let (status, refusal) = runtime.block_on(send(&w, &ambiguous, &headers));
                prop_assert_eq!(
                    status,
                    400,
                    "{}: {}",
                    String::from_utf8_lossy(&ambiguous),
                    refusal
                );
                prop_assert!(w.blobs.objects().is_empty());
                Ok(())
            })
            .unwrap();
    }

    /// Hostile requests at volume (fixed seed): truncated and re-signed, one byte tampered
    /// under the sender's signature, oversized, signed by a key no partner holds, garbage
    /// signed by the genuine sender, and a genuine message replayed. Each gets its status
    /// (never a 5xx, never a panic), nothing is stored for a refusal, and a replay is refused
    /// 409 `REPLAYED` and stores nothing new.
    #[test]
    fn hostile_requests_at_volume_get_their_status_and_store_nothing() {
        use proptest::prelude::*;
        let mut runner = crate::testing::hostile_runner(23);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let stranger = SigningIdentity::generate("FR-1").unwrap();
        let strategy = (0..6u8, any::<u32>(), 1..=255u8, 1..400usize);
        runner
            .run(&strategy, |(kind, position, byte, garbage)| {
                let w = world(false);
                let (body, headers) =
                    build_message(&delivery("JP"), "E", &xml(), "m", &w.key, w.clock.0);
                let at = position as usize % body.len();
                let (request, headers, allowed): (Vec<u8>, _, &[u16]) = match kind {
                    0 => {
                        let cut = body[..at].to_vec();
                        let headers = signed(&w, &cut);
                        (cut, headers, &[400])
                    }
                    1 => {
                        let mut tampered = body.clone();
                        tampered[at] ^= byte;
                        (tampered, headers, &[400, 401])
                    }
                    2 => {
                        let mut big = body.clone();
                        big.resize(MAX_BODY_BYTES + 1 + garbage, b' ');
                        let headers = signed(&w, &big);
                        (big, headers, &[413])
                    }
                    3 => {
                        let headers = vec![
                            (SIGNATURE_HEADER, stranger.sign(&body)),
                            (KEY_ID_HEADER, stranger.key_id.clone()),
                        ];
                        (body.clone(), headers, &[401])
                    }
                    4 => {
                        let junk: Vec<u8> = (0..garbage)
                            .map(|i| (i as u8).wrapping_mul(byte).wrapping_add(position as u8))
                            .collect();
                        let headers = signed(&w, &junk);
                        (junk, headers, &[400])
                    }
                    _ => {
                        let (first, answer) = runtime.block_on(send(&w, &body, &headers));
                        prop_assert!((200..300).contains(&first), "{answer}");
                        let stored = w.blobs.objects();
                        let (again, replayed) = runtime.block_on(send(&w, &body, &headers));
                        prop_assert_eq!(again, 409, "{}", replayed);
                        prop_assert_eq!(&replayed["code"], "REPLAYED");
                        prop_assert_eq!(w.blobs.objects(), stored, "the replay stored nothing");
                        return Ok(());
                    }
                };
                let (status, refusal) = runtime.block_on(send(&w, &request, &headers));
                prop_assert!(
                    allowed.contains(&status),
                    "kind {}: status {} not in {:?}: {}",
                    kind,
                    status,
                    allowed,
                    refusal
                );
                prop_assert!(w.blobs.objects().is_empty(), "kind {}: stored", kind);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn the_payload_root_is_one_citesepermit_in_the_standard_namespace_with_nothing_before_it() {
        let xml = xml();
        assert_eq!(check_payload_root(&xml, DocumentFormat::V2), Ok(()));
        let mut with_bom = b"\xEF\xBB\xBF".to_vec();
        with_bom.extend_from_slice(&xml);
        assert_eq!(check_payload_root(&with_bom, DocumentFormat::V2), Ok(()));
        let mut text_first = b"{\"note\": ".to_vec();
        text_first.extend_from_slice(&xml);
        assert!(check_payload_root(&text_first, DocumentFormat::V2).is_err());
        let other = String::from_utf8(xml.clone())
            .unwrap()
            .replace(PAYLOAD_NAMESPACE, "urn:example:other");
        assert!(check_payload_root(other.as_bytes(), DocumentFormat::V2).is_err());
        assert!(check_payload_root(b"<Envelope/>", DocumentFormat::V2).is_err());
        assert!(check_payload_root(b"", DocumentFormat::V2).is_err());
    }

    #[test]
    fn the_payload_root_is_the_one_the_payload_namespace_names() {
        let v1 = ecites_domain::xml::write_permit_v1(&ecites_domain::testing::typical_permit(1));
        assert_eq!(
            check_payload_root(v1.as_bytes(), DocumentFormat::V1),
            Ok(())
        );
        let why = check_payload_root(v1.as_bytes(), DocumentFormat::V2).unwrap_err();
        assert!(
            why.contains("CBFShip") && why.contains("CITESEPermit"),
            "{why}"
        );
        let why = check_payload_root(&xml(), DocumentFormat::V1).unwrap_err();
        assert!(
            why.contains(&format!("not {{{PAYLOAD_NAMESPACE_V1}}}CBFShip")),
            "{why}"
        );
        // A CBFShip in the v2 namespace is neither.
        let mixed = v1.replace(PAYLOAD_NAMESPACE_V1, PAYLOAD_NAMESPACE);
        assert!(check_payload_root(mixed.as_bytes(), DocumentFormat::V1).is_err());
        assert!(check_payload_root(mixed.as_bytes(), DocumentFormat::V2).is_err());
    }

    #[tokio::test]
    async fn a_v1_payload_is_accepted_and_stored_as_canonical_v2_beside_the_original_envelope() {
        let w = world(false);
        let permit = ecites_domain::testing::typical_permit(1);
        let v1 = ecites_domain::xml::write_permit_v1(&permit).into_bytes();
        let (body, headers) = crate::forward::build_message_as(
            DocumentFormat::V1,
            &delivery("JP"),
            "E",
            &v1,
            "m1",
            &w.key,
            w.clock.0,
        );
        let (status, ack) = send(&w, &body, &headers).await;
        assert_eq!(status, 200, "{ack}");
        let stored = w.blobs.objects();
        assert_eq!(
            stored[&received_key("FR".parse().unwrap(), "24FR000123", "m1")],
            body,
            "the exact signed bytes, v1 payload and all, are kept"
        );
        let canonical = &stored[&received_xml_key("FR".parse().unwrap(), "24FR000123", "m1")];
        let from_v1 = ecites_domain::xml::read_permit(&v1).unwrap().permit;
        assert_eq!(
            canonical,
            &ecites_domain::xml::write_permit(&from_v1).into_bytes(),
            "the store holds the canonical v2 of the permit read from v1"
        );
        assert!(String::from_utf8_lossy(canonical).contains("<rsm:CITESEPermit "));
        assert_eq!(w.inbound.received(), 1);
    }

    #[tokio::test]
    async fn the_same_permit_sent_as_v1_then_as_its_v2_is_one_document_not_a_conflict() {
        let w = world(false);
        let v1 = ecites_domain::xml::write_permit_v1(&ecites_domain::testing::typical_permit(1));
        let (body, headers) = crate::forward::build_message_as(
            DocumentFormat::V1,
            &delivery("JP"),
            "E",
            v1.as_bytes(),
            "m1",
            &w.key,
            w.clock.0,
        );
        let (status, first) = send(&w, &body, &headers).await;
        assert_eq!(status, 200, "{first}");
        let from_v1 = ecites_domain::xml::read_permit(v1.as_bytes())
            .unwrap()
            .permit;
        let v2 = ecites_domain::xml::write_permit(&from_v1).into_bytes();
        let (body, headers) = build_message(&delivery("JP"), "E", &v2, "m2", &w.key, w.clock.0);
        let (status, again) = send(&w, &body, &headers).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["duplicate"], true);
        assert_eq!(again["tracking_number"], first["tracking_number"]);
    }

    #[tokio::test]
    async fn a_payload_in_the_other_version_than_its_namespace_says_is_not_readable() {
        let w = world(false);
        let v1 = ecites_domain::xml::write_permit_v1(&ecites_domain::testing::typical_permit(1));
        let (body, headers) =
            build_message(&delivery("JP"), "E", v1.as_bytes(), "m1", &w.key, w.clock.0);
        let (status, refusal) = send(&w, &body, &headers).await;
        assert_eq!(status, 400, "{refusal}");
        assert_eq!(refusal["code"], "NOT_READABLE");
        assert!(
            refusal["message"].as_str().unwrap().contains("CBFShip"),
            "{refusal}"
        );
        assert!(w.blobs.objects().is_empty());
    }

    /// The keys in the bucket, in order.
    fn stored_keys(w: &World) -> Vec<String> {
        w.blobs.objects().into_keys().collect()
    }

    /// The envelope and XML keys of message `message_id` about the test permit, in order.
    fn objects_of(message_id: &str) -> Vec<String> {
        let from = "FR".parse().unwrap();
        vec![
            received_key(from, "24FR000123", message_id),
            received_xml_key(from, "24FR000123", message_id),
        ]
    }

    #[tokio::test]
    async fn a_store_failing_transiently_is_a_503_and_leaves_nothing_for_the_retry_to_orphan() {
        let mut w = world(false);
        // The envelope is stored, the XML is not: S3 throttles `.xml` puts past the SDK's retries.
        w.blobs = MemoryBlobs::new("b").refusing_puts(|key| {
            key.ends_with("m1.xml")
                .then(|| Error::transient("s3:PutObject", "503 Slow Down"))
        });
        let (body, headers) = build_message(&delivery("JP"), "E", &xml(), "m1", &w.key, w.clock.0);
        let (status, refusal) = send(&w, &body, &headers).await;
        assert_eq!(status, 503, "{refusal}");
        assert!(
            w.blobs.objects().is_empty(),
            "the envelope of m1 stays named by nothing: {:?}",
            stored_keys(&w)
        );
        // The sender retries under a new message id: its two objects, nothing beside them.
        let (body, headers) = build_message(&delivery("JP"), "E", &xml(), "m2", &w.key, w.clock.0);
        let (status, ack) = send(&w, &body, &headers).await;
        assert_eq!(status, 200, "{ack}");
        assert_eq!(stored_keys(&w), objects_of("m2"));
    }

    #[tokio::test]
    async fn a_ledger_answer_lost_keeps_the_objects_it_may_name_and_the_retry_is_a_duplicate() {
        let mut w = world(false);
        w.inbound = MemoryInbound::losing_answers(1);
        let (body, headers) = build_message(&delivery("JP"), "E", &xml(), "m1", &w.key, w.clock.0);
        let (status, refusal) = send(&w, &body, &headers).await;
        assert_eq!(status, 503, "{refusal}");
        // Recorded after all, naming m1's objects: they stay.
        assert_eq!(w.inbound.received(), 1);
        assert_eq!(w.blobs.objects().len(), 2);
        let (body, headers) = build_message(&delivery("JP"), "E", &xml(), "m2", &w.key, w.clock.0);
        let (status, ack) = send(&w, &body, &headers).await;
        assert_eq!(status, 200, "{ack}");
        assert_eq!(ack["duplicate"], true);
        assert_eq!(
            stored_keys(&w),
            objects_of("m1"),
            "the record's objects stay, the duplicate's go"
        );
    }

    #[tokio::test]
    async fn a_store_refusing_for_good_is_a_4xx_and_leaves_nothing_half_stored() {
        let mut w = world(false);
        // S3 refuses `.xml` objects for good (a key it can never hold).
        w.blobs = MemoryBlobs::new("b").refusing_puts(|key| {
            key.ends_with(".xml")
                .then(|| Error::permanent("s3:PutObject", "KeyTooLongError (400)"))
        });
        let (body, headers) = build_message(&delivery("JP"), "E", &xml(), "m1", &w.key, w.clock.0);
        let (status, refusal) = send(&w, &body, &headers).await;
        assert_eq!(status, 400, "{refusal}");
        assert_eq!(refusal["code"], "NOT_STORABLE");
        assert!(
            w.blobs.objects().is_empty(),
            "the envelope stored first was removed"
        );
        assert!(w.inbound.received() == 0);
    }
}
