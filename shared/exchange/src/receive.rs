//! The receive use case: a partner's signed envelope in, an acknowledgement or a refusal out.
//!
//! The order is what makes it safe: size, then authentication (directory key, signature over
//! the exact bytes, time window), then authorisation (addressed to us, sent by the permit's
//! issuer), then the payload (readable, valid), then the replay check (message id claimed once),
//! then the original bytes are stored in S3 and the document recorded in the ledger, and only
//! then acknowledged: nothing acknowledged is ever lost. The same document sent again (a new
//! message after a lost answer) gets the same tracking number and changes nothing.

use crate::directory::{ExchangePartners, KeyChoiceError};
use crate::keys::escape_component;
use crate::ports::{BlobStore, Clock};
use crate::protocol::{
    verify, within_window, Ack, AckStatus, DocumentStatus, Envelope, Refusal, RefusalCode,
    WireFinding, ENVELOPE_VERSION, KEY_ID_HEADER, MAX_BODY_BYTES, SIGNATURE_HEADER,
};
use crate::Error;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ecites_domain::{CountryCode, Severity};
use sha2::{Digest, Sha256};

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
    /// Where the original bytes are.
    pub body_key: String,
    /// The sender's signature and key id (to re-verify the stored bytes later).
    pub signature: String,
    /// The key id.
    pub key_id: String,
    /// Delivered or delivered with warnings.
    pub ack_status: AckStatus,
    /// Warnings (JSON).
    pub findings_json: String,
    /// When.
    pub received_at: DateTime<Utc>,
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
    /// same document returns the first record.
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
    pub partners: &'a dyn ExchangePartners,
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
    fn ack(ack: &Ack) -> Self {
        Answer {
            status: 200,
            body: serde_json::to_string(ack).unwrap_or_default(),
        }
    }

    fn refuse(refusal: Refusal) -> Self {
        Answer {
            status: refusal.code.http_status(),
            body: serde_json::to_string(&refusal).unwrap_or_default(),
        }
    }
}

fn refuse(code: RefusalCode, message: impl Into<String>, message_id: Option<&str>) -> Answer {
    let mut refusal = Refusal::new(code, message);
    refusal.message_id = message_id.map(str::to_owned);
    Answer::refuse(refusal)
}

/// Our tracking number for a document: derived from (sender, number, version, status), so the
/// same document always gets the same number without a read.
pub fn tracking_number(own: CountryCode, received: &Envelope) -> String {
    let digest = Sha256::digest(
        format!(
            "{}\n{}\n{}\n{}",
            received.from,
            received.permit_number,
            received.permit_version,
            received.document_status.as_str()
        )
        .as_bytes(),
    );
    format!("{own}-{}", &hex::encode(digest)[..20])
}

/// Where the original bytes of a received message are kept.
pub fn received_key(from: CountryCode, permit_number: &str, message_id: &str) -> String {
    format!(
        "received/{from}/{}/{}.json",
        escape_component(permit_number),
        escape_component(message_id)
    )
}

/// Handles one inbound request. `header` looks a header up by lower-case name. `Err` is never
/// returned for bad input: refusals are answers; only our own infrastructure failing becomes a
/// 503 answer (the sender retries).
pub async fn receive_message(
    services: ReceiveServices<'_>,
    settings: &ReceiveSettings,
    method: &str,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
    body: &[u8],
) -> Answer {
    match receive_inner(services, settings, method, header, body).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!(error = %error, "receive failed: answering 503 so the sender retries");
            refuse(
                RefusalCode::Unavailable,
                "the receiver could not store the message; retry later",
                None,
            )
        }
    }
}

async fn receive_inner(
    services: ReceiveServices<'_>,
    settings: &ReceiveSettings,
    method: &str,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
    body: &[u8],
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
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(envelope) => envelope,
        Err(e) => {
            return Ok(refuse(
                RefusalCode::NotReadable,
                format!("the body is not an envelope: {e}"),
                None,
            ))
        }
    };
    let id = Some(envelope.message_id.as_str());
    if envelope.envelope_version != ENVELOPE_VERSION {
        return Ok(refuse(
            RefusalCode::NotReadable,
            format!(
                "envelope version {} is not supported (expected {ENVELOPE_VERSION})",
                envelope.envelope_version
            ),
            id,
        ));
    }
    if envelope.message_id.is_empty() || envelope.message_id.len() > 128 {
        return Ok(refuse(
            RefusalCode::NotReadable,
            "message_id must be 1 to 128 characters",
            id,
        ));
    }
    // Authentication: the sender's key from our directory, the signature over the exact bytes.
    let Ok(from) = envelope.from.parse::<CountryCode>() else {
        return Ok(refuse(
            RefusalCode::UnknownSender,
            "`from` is not a country code",
            id,
        ));
    };
    let partner = match services.partners.exchange_partner(from).await? {
        Some(partner) if partner.active => partner,
        _ => {
            return Ok(refuse(
                RefusalCode::UnknownSender,
                format!("{from} is not an active partner of this MA"),
                id,
            ))
        }
    };
    let key_id = header(KEY_ID_HEADER);
    let public_key = match partner.key_for(key_id.as_deref()) {
        Ok(public_key) => public_key,
        Err(KeyChoiceError::NoKeyOnRecord) => {
            return Ok(refuse(
                RefusalCode::UnknownSender,
                format!("no public key is on record for {from}"),
                id,
            ))
        }
        Err(KeyChoiceError::UnknownKeyId { sent, on_record }) => {
            return Ok(refuse(
                RefusalCode::Unauthenticated,
                format!(
                    "{KEY_ID_HEADER} {sent:?} is not a key on record for {from} (on record: {})",
                    on_record.join(", ")
                ),
                id,
            ))
        }
    };
    let Some(signature) = header(SIGNATURE_HEADER) else {
        return Ok(refuse(
            RefusalCode::Unauthenticated,
            format!("the {SIGNATURE_HEADER} header is missing"),
            id,
        ));
    };
    if let Err(why) = verify(public_key, body, &signature) {
        return Ok(refuse(RefusalCode::Unauthenticated, why, id));
    }
    let now = services.clock.now();
    if !within_window(envelope.sent_at, now) {
        return Ok(refuse(
            RefusalCode::Unauthenticated,
            format!(
                "sent_at {} is more than 5 minutes from the receiver's clock ({now})",
                envelope.sent_at
            ),
            id,
        ));
    }
    // Authorisation: addressed to us, and an MA only sends its own permits.
    if envelope.to != settings.own_country.to_string() {
        return Ok(refuse(
            RefusalCode::Forbidden,
            format!(
                "the message is addressed to {:?}, not {}",
                envelope.to, settings.own_country
            ),
            id,
        ));
    }
    let xml = match envelope.payload_bytes() {
        Ok(xml) => xml,
        Err(why) => return Ok(refuse(RefusalCode::NotReadable, why, id)),
    };
    let decoded = match ecites_domain::xml::read_permit(&xml) {
        Ok(decoded) => decoded,
        Err(e) => {
            return Ok(refuse(
                RefusalCode::NotReadable,
                format!("the payload is not a readable CITES e-permit: {e}"),
                id,
            ))
        }
    };
    let Some(permit_id) = decoded.permit.id() else {
        return Ok(refuse(
            RefusalCode::NotReadable,
            "the payload has no permit number or issuing country",
            id,
        ));
    };
    if permit_id.issuer != from {
        return Ok(refuse(
            RefusalCode::Forbidden,
            format!(
                "{from} signed a permit issued by {}: an MA can only send its own permits",
                permit_id.issuer
            ),
            id,
        ));
    }
    if permit_id.number != envelope.permit_number {
        return Ok(refuse(
            RefusalCode::NotReadable,
            format!(
                "the envelope names permit {:?} but the payload is {:?}",
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
    if !payload_type.is_empty() && payload_type != envelope.document_type {
        return Ok(refuse(
            RefusalCode::NotReadable,
            format!(
                "the envelope says document type {:?} but the payload is {payload_type:?}",
                envelope.document_type
            ),
            id,
        ));
    }
    let mut findings = decoded.findings;
    findings.extend(ecites_domain::validate(&decoded.permit));
    let wire: Vec<WireFinding> = findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(WireFinding::from)
        .collect();
    // A cancellation carries the cancelled version; it is recorded even if that version no
    // longer validates (its validity window may have passed).
    if !ecites_domain::is_valid(&findings) && envelope.document_status != DocumentStatus::Cancelled
    {
        let mut refusal = Refusal::new(RefusalCode::Invalid, "the permit is invalid");
        refusal.message_id = Some(envelope.message_id.clone());
        refusal.findings = wire;
        return Ok(Answer::refuse(refusal));
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
    // Store the original bytes before anything is acknowledged.
    let body_key = received_key(from, &envelope.permit_number, &envelope.message_id);
    services
        .blobs
        .put(&body_key, body.to_vec(), crate::protocol::CONTENT_TYPE)
        .await?;
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
            signature,
            key_id: key_id.unwrap_or_default(),
            ack_status,
            findings_json: serde_json::to_string(&wire).unwrap_or_default(),
            received_at: now,
        })
        .await?;
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
        duplicate: record.duplicate,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::ExchangePartner;
    use crate::forward::build_message;
    use crate::ledger::DeliveryKind;
    use crate::ports::Fetched;
    use crate::protocol::SigningIdentity;
    use crate::DeliveryMessage;
    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Blobs {
        objects: Mutex<HashMap<String, Vec<u8>>>,
        broken: bool,
    }

    #[async_trait]
    impl BlobStore for Blobs {
        async fn get(&self, _: &str, key: &str, _: Option<&str>, _: u64) -> Result<Fetched, Error> {
            let objects = self.objects.lock().unwrap();
            objects
                .get(key)
                .map(|b| Fetched::Bytes(b.clone()))
                .ok_or_else(|| Error::NotFound(key.into()))
        }
        async fn put(&self, key: &str, bytes: Vec<u8>, _: &str) -> Result<(), Error> {
            if self.broken {
                return Err(Error::transient("s3:PutObject", "503 Slow Down"));
            }
            self.objects.lock().unwrap().insert(key.into(), bytes);
            Ok(())
        }
        fn bucket(&self) -> &str {
            "b"
        }
    }

    #[derive(Default)]
    struct Inbound {
        claims: Mutex<HashSet<String>>,
        records: Mutex<HashMap<String, ReceivedRecord>>,
    }

    #[async_trait]
    impl InboundLedger for Inbound {
        async fn claim_message(
            &self,
            from: CountryCode,
            message_id: &str,
            _: DateTime<Utc>,
        ) -> Result<bool, Error> {
            Ok(self
                .claims
                .lock()
                .unwrap()
                .insert(format!("{from}/{message_id}")))
        }
        async fn record_received(&self, r: &NewReceived) -> Result<ReceivedRecord, Error> {
            let key = format!(
                "{}/{}/{}/{:?}",
                r.from, r.permit_number, r.permit_version, r.status
            );
            let mut records = self.records.lock().unwrap();
            if let Some(existing) = records.get(&key) {
                return Ok(ReceivedRecord {
                    duplicate: true,
                    ..existing.clone()
                });
            }
            let record = ReceivedRecord {
                tracking_number: r.tracking_number.clone(),
                ack_status: r.ack_status,
                duplicate: false,
            };
            records.insert(key, record.clone());
            Ok(record)
        }
    }

    struct Partners(ExchangePartner);

    #[async_trait]
    impl ExchangePartners for Partners {
        async fn exchange_partner(
            &self,
            country: CountryCode,
        ) -> Result<Option<ExchangePartner>, Error> {
            Ok((country == self.0.country).then(|| self.0.clone()))
        }
    }

    struct Fixed(DateTime<Utc>);

    impl Clock for Fixed {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    struct World {
        key: SigningIdentity,
        blobs: Blobs,
        inbound: Inbound,
        partners: Partners,
        clock: Fixed,
    }

    fn world(broken_store: bool) -> World {
        let key = SigningIdentity::generate("FR-1").unwrap();
        let partner = ExchangePartner {
            country: "FR".parse().unwrap(),
            endpoint: "http://127.0.0.1:9/".into(),
            name: None,
            active: true,
            accepted_document_types: vec![],
            public_key: Some(key.public_key_base64()),
            key_id: Some("FR-1".into()),
            rotation_keys: vec![],
        };
        World {
            key,
            blobs: Blobs {
                broken: broken_store,
                ..Blobs::default()
            },
            inbound: Inbound::default(),
            partners: Partners(partner),
            clock: Fixed(Utc::now()),
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
        let stored = w.blobs.objects.lock().unwrap().clone();
        assert_eq!(stored.len(), 1);
        assert_eq!(
            stored.values().next().unwrap(),
            &body,
            "the exact bytes are kept"
        );
        let (body, headers) = build_message(&delivery("JP"), "E", &xml(), "m2", &w.key, w.clock.0);
        let (status, again) = send(&w, &body, &headers).await;
        assert_eq!(status, 200);
        assert_eq!(again["tracking_number"], ack["tracking_number"]);
        assert_eq!(again["duplicate"], true);
    }

    #[tokio::test]
    async fn when_the_store_fails_nothing_is_acknowledged_and_the_sender_retries() {
        let w = world(true);
        let (body, headers) = build_message(&delivery("JP"), "E", &xml(), "m1", &w.key, w.clock.0);
        let (status, refusal) = send(&w, &body, &headers).await;
        assert_eq!(status, 503, "{refusal}");
        assert!(w.inbound.records.lock().unwrap().is_empty());
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
                ("unknown sender", b, h, 403)
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
        assert!(w.blobs.objects.lock().unwrap().is_empty());
        assert!(w.inbound.records.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn during_a_key_rotation_both_keys_are_accepted_and_a_retired_key_is_refused() {
        let mut w = world(false);
        let now = w.clock.0;
        let new_key = SigningIdentity::generate("FR-2").unwrap();
        w.partners
            .0
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

        w.partners.0.retire_key("FR-1").unwrap();
        let (body, headers) = sent_with(&w.key, "old-key-after");
        let (status, refusal) = send(&w, &body, &headers).await;
        assert_eq!(status, 401, "{refusal}");
        assert!(
            refusal.to_string().contains("on record: FR-2"),
            "the refusal names the keys on record: {refusal}"
        );
        let (body, headers) = sent_with(&new_key, "new-key-after");
        assert_eq!(send(&w, &body, &headers).await.0, 200);
    }
}
