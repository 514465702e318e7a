//! The MA-to-MA exchange protocol (version 1), documented for partners in `docs/exchange.md`
//! and `docs/openapi.yaml`.
//!
//! A message is one HTTP `POST` whose body is a JSON [`Envelope`] (ePhyto-hub style header
//! fields plus the standard XML payload in base64) and whose headers carry an Ed25519 signature
//! over the exact body bytes, with the sender's key id. Signing the body (rather than a
//! canonicalised form) means the receiver verifies exactly what it stores and nobody has to
//! agree on a JSON canonicalisation; every header field that matters (from, to, message id,
//! sent-at) is inside the signed body.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The only envelope version so far.
pub const ENVELOPE_VERSION: u32 = 1;
/// Header carrying the base64 Ed25519 signature over the body bytes.
pub const SIGNATURE_HEADER: &str = "x-ecites-signature";
/// Header carrying the id of the key that signed (as the partner directory names it).
pub const KEY_ID_HEADER: &str = "x-ecites-key-id";
/// Media type of the body.
pub const CONTENT_TYPE: &str = "application/vnd.ecites.envelope+json";
/// Largest body a receiver accepts (bytes): the domain reader's 4 MiB bound plus base64 and
/// envelope overhead would exceed Function URL limits, so permits are bounded at 4 MiB of XML
/// and bodies at 6 MiB (Lambda's synchronous payload limit).
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
/// Accepted clock difference between `sent_at` and the receiver's clock.
pub const REPLAY_WINDOW: Duration = Duration::minutes(5);

/// What the document does to the permit (ePhyto's `CertificateStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// A new permit (version 1).
    Issued,
    /// A re-issue replacing an earlier version with the same number.
    Replaced,
    /// The issuer cancelled the permit.
    Cancelled,
    /// The permit as the exporting country's customs endorsed it (box 14 filled): version 2 or
    /// later of the same permit, sent by its issuer to the importing MA.
    Endorsed,
}

impl DocumentStatus {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Issued => "issued",
            DocumentStatus::Replaced => "replaced",
            DocumentStatus::Cancelled => "cancelled",
            DocumentStatus::Endorsed => "endorsed",
        }
    }
}

/// The envelope around one permit document.
///
/// Read with [`parse_envelope`]: an unknown field is refused (`deny_unknown_fields`), and so is
/// a field given twice (serde's derived reader refuses a duplicate field of a struct, where a
/// map or `serde_json::Value` would silently keep the last): every reader of the signed bytes
/// sees one meaning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Envelope format version ([`ENVELOPE_VERSION`]).
    pub envelope_version: u32,
    /// Unique per HTTP message (a new one per attempt): the replay key.
    pub message_id: String,
    /// Sending MA's country (ISO 3166-1 alpha-2); must be the permit's issuer.
    pub from: String,
    /// Receiving MA's country.
    pub to: String,
    /// Document type code (E, R, I, O).
    pub document_type: String,
    /// Issued, replaced or cancelled.
    pub document_status: DocumentStatus,
    /// The permit number (box 1).
    pub permit_number: String,
    /// The issuer's version of the permit (1 for the first; for a cancellation, the version
    /// cancelled).
    pub permit_version: u32,
    /// For a replacement: the version it replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_version: Option<u32>,
    /// For a cancellation: the issuer's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the sender sent this message (RFC 3339, UTC).
    pub sent_at: DateTime<Utc>,
    /// Namespace of the payload's root element.
    pub payload_namespace: String,
    /// The standard XML (UTF-8), base64.
    pub payload: String,
}

impl Envelope {
    /// The payload bytes, or why they cannot be read.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, String> {
        B64.decode(self.payload.as_bytes())
            .map_err(|e| format!("payload is not base64: {e}"))
    }

    /// The toolkit version `payload_namespace` names: v2 for [`PAYLOAD_NAMESPACE`], v1 for
    /// [`PAYLOAD_NAMESPACE_V1`], `None` for anything else.
    pub fn payload_version(&self) -> Option<ecites_domain::xml::Version> {
        ecites_domain::xml::Version::from_namespace(&self.payload_namespace)
    }

    /// The body bytes to send (and sign).
    pub fn to_body(&self) -> Vec<u8> {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Longest `message_id`, in characters (Unicode scalar values), `docs/openapi.yaml`.
pub const MAX_MESSAGE_ID_CHARS: usize = 128;
/// Longest `permit_number`, in characters: the domain's box 1 limit (`permit-number-too-long`).
pub const MAX_PERMIT_NUMBER_CHARS: usize = 35;
/// Longest `reason` of a cancellation, in characters.
pub const MAX_REASON_CHARS: usize = 1000;
/// The payload namespace of the canonical payload (the CITES e-permit toolkit v2 root
/// `CITESEPermit`).
pub const PAYLOAD_NAMESPACE: &str = "urn:un:unece:uncefact:data:standard:CITESEPermit:2";
/// The payload namespace of a toolkit v1 payload (root `CBFShip`), sent to a partner whose
/// directory entry asks for v1.
pub const PAYLOAD_NAMESPACE_V1: &str = ecites_domain::xml::V1_NAMESPACE;

/// Why an envelope is refused before its payload is read: the field and the rule broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeError {
    /// The envelope field (`message_id`, `permit_version`, ... or `body` for the JSON itself).
    pub field: &'static str,
    /// The rule broken, for people.
    pub rule: String,
}

impl std::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

fn envelope_error(field: &'static str, rule: impl Into<String>) -> EnvelopeError {
    EnvelopeError {
        field,
        rule: rule.into(),
    }
}

/// Reads the body as an [`Envelope`]: JSON, every field known, none twice. The error names what
/// serde found (`unknown field `x``, `duplicate field `from``, a missing or mistyped field).
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    serde_json::from_slice::<Envelope>(body)
        .map_err(|e| envelope_error("body", format!("not an envelope: {e}")))
}

fn no_control(field: &'static str, text: &str) -> Result<(), EnvelopeError> {
    match text.chars().find(|c| c.is_control()) {
        Some(c) => Err(envelope_error(
            field,
            format!(
                "must not contain control characters (found U+{:04X})",
                c as u32
            ),
        )),
        None => Ok(()),
    }
}

impl Envelope {
    /// Checks the fields on their own and against each other (before authentication only the
    /// JSON shape is trusted; call this after): the version, `message_id` (1 to
    /// [`MAX_MESSAGE_ID_CHARS`] characters, counted as characters, no control characters),
    /// `permit_number` (1 to [`MAX_PERMIT_NUMBER_CHARS`] characters, no control characters),
    /// `permit_version` (at least 1), `document_type` (E, R, I, O), `payload_namespace`
    /// ([`PAYLOAD_NAMESPACE`] or [`PAYLOAD_NAMESPACE_V1`]) and the status fields: `issued` is version 1 without
    /// `replaces_version` or `reason`; `replaced` is version 2 or later, its `replaces_version`
    /// (when given) earlier than `permit_version`, without `reason`; `cancelled` has no
    /// `replaces_version`, and its `reason` is at most [`MAX_REASON_CHARS`] characters.
    /// Source of the rules: `docs/exchange.md` (The message).
    pub fn check_fields(&self) -> Result<(), EnvelopeError> {
        if self.envelope_version != ENVELOPE_VERSION {
            return Err(envelope_error(
                "envelope_version",
                format!(
                    "version {} is not supported (expected {ENVELOPE_VERSION})",
                    self.envelope_version
                ),
            ));
        }
        let id_chars = self.message_id.chars().count();
        if id_chars == 0 || id_chars > MAX_MESSAGE_ID_CHARS {
            return Err(envelope_error(
                "message_id",
                format!("must be 1 to {MAX_MESSAGE_ID_CHARS} characters (has {id_chars})"),
            ));
        }
        no_control("message_id", &self.message_id)?;
        let number_chars = self.permit_number.chars().count();
        if number_chars == 0 || number_chars > MAX_PERMIT_NUMBER_CHARS {
            return Err(envelope_error(
                "permit_number",
                format!("must be 1 to {MAX_PERMIT_NUMBER_CHARS} characters (has {number_chars})"),
            ));
        }
        no_control("permit_number", &self.permit_number)?;
        if self.permit_version == 0 {
            return Err(envelope_error("permit_version", "must be 1 or more"));
        }
        if !matches!(self.document_type.as_str(), "E" | "R" | "I" | "O") {
            return Err(envelope_error(
                "document_type",
                format!("{:?} is not one of E, R, I, O", self.document_type),
            ));
        }
        if self.payload_version().is_none() {
            return Err(envelope_error(
                "payload_namespace",
                format!(
                    "{:?} is neither {PAYLOAD_NAMESPACE} (toolkit v2) nor {PAYLOAD_NAMESPACE_V1} \
                     (toolkit v1), the two payloads of envelope version 1",
                    self.payload_namespace
                ),
            ));
        }
        match self.document_status {
            DocumentStatus::Issued => {
                if self.permit_version != 1 {
                    return Err(envelope_error(
                        "permit_version",
                        format!(
                            "an issued document is version 1, not {}",
                            self.permit_version
                        ),
                    ));
                }
                if self.replaces_version.is_some() {
                    return Err(envelope_error(
                        "replaces_version",
                        "an issued document replaces nothing",
                    ));
                }
                if self.reason.is_some() {
                    return Err(envelope_error(
                        "reason",
                        "only a cancellation carries a reason",
                    ));
                }
            }
            DocumentStatus::Replaced | DocumentStatus::Endorsed => {
                if self.permit_version < 2 {
                    return Err(envelope_error(
                        "permit_version",
                        format!(
                            "{} document is version 2 or later",
                            if self.document_status == DocumentStatus::Replaced {
                                "a replacement"
                            } else {
                                "an endorsed"
                            }
                        ),
                    ));
                }
                if let Some(replaced) = self.replaces_version {
                    if replaced == 0 || replaced >= self.permit_version {
                        return Err(envelope_error(
                            "replaces_version",
                            format!(
                                "{replaced} is not an earlier version than {}",
                                self.permit_version
                            ),
                        ));
                    }
                }
                if self.reason.is_some() {
                    return Err(envelope_error(
                        "reason",
                        "only a cancellation carries a reason",
                    ));
                }
            }
            DocumentStatus::Cancelled => {
                if self.replaces_version.is_some() {
                    return Err(envelope_error(
                        "replaces_version",
                        "a cancellation replaces nothing",
                    ));
                }
                if let Some(reason) = &self.reason {
                    let chars = reason.chars().count();
                    if chars > MAX_REASON_CHARS {
                        return Err(envelope_error(
                            "reason",
                            format!("must be at most {MAX_REASON_CHARS} characters (has {chars})"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Base64 of bytes (for payloads and keys).
pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// An Ed25519 signing key with its id. `Debug` never shows the key.
#[derive(Clone)]
pub struct SigningIdentity {
    /// The key id partners know the public key by (e.g. `XA-2026-1`).
    pub key_id: String,
    key: SigningKey,
}

impl std::fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningIdentity")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Why a key or a signature is refused. The text never includes a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The named value is not base64.
    #[error("{0} is not base64")]
    NotBase64(&'static str),
    /// The named value has the wrong length.
    #[error("{what} is {len} bytes, not {expected}")]
    WrongLength {
        /// What was read.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The length it must have.
        expected: usize,
    },
    /// A value of the wrong length, said as given.
    #[error("{0}")]
    NotLength(&'static str),
    /// Not an Ed25519 public key, said as given.
    #[error("{0}")]
    NotEd25519(&'static str),
    /// The signature does not match the body.
    #[error("the signature does not match the body")]
    Mismatch,
    /// No randomness to make a key from.
    #[error("no randomness: {0}")]
    NoRandomness(String),
}

impl SigningIdentity {
    /// A key from its 32-byte seed in base64 (the form kept in SSM / Secrets Manager).
    pub fn from_base64_seed(key_id: &str, seed_b64: &str) -> Result<Self, KeyError> {
        let bytes = B64
            .decode(seed_b64.trim().as_bytes())
            // The error text never includes the secret itself.
            .map_err(|_| KeyError::NotBase64("the signing key"))?;
        let seed: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrongLength {
                what: "the signing key",
                len: bytes.len(),
                expected: 32,
            })?;
        Ok(SigningIdentity {
            key_id: key_id.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// A fresh random key (for `ecites partners keygen`, tests and the demo).
    pub fn generate(key_id: &str) -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| KeyError::NoRandomness(e.to_string()))?;
        Ok(SigningIdentity {
            key_id: key_id.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The seed in base64, to store as a secret.
    pub fn seed_base64(&self) -> String {
        B64.encode(self.key.to_bytes())
    }

    /// The public key in base64, for the partners' directories.
    pub fn public_key_base64(&self) -> String {
        B64.encode(self.key.verifying_key().to_bytes())
    }

    /// The base64 signature over `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        B64.encode(self.key.sign(body).to_bytes())
    }
}

/// Checks that a base64 text is an Ed25519 public key (for `ecites partners add`).
pub fn check_public_key(public_key_b64: &str) -> Result<(), KeyError> {
    let bytes = B64
        .decode(public_key_b64.trim().as_bytes())
        .map_err(|_| KeyError::NotBase64("the public key"))?;
    let bytes: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::WrongLength {
            what: "the public key",
            len: bytes.len(),
            expected: 32,
        })?;
    VerifyingKey::from_bytes(&bytes)
        .map(|_| ())
        .map_err(|_| KeyError::NotEd25519("not a valid Ed25519 public key"))
}

/// Verifies a base64 signature over `body` with a base64 public key.
pub fn verify(public_key_b64: &str, body: &[u8], signature_b64: &str) -> Result<(), KeyError> {
    let key_bytes = B64
        .decode(public_key_b64.trim().as_bytes())
        .map_err(|_| KeyError::NotBase64("the partner's public key"))?;
    let key_bytes: [u8; 32] = key_bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::NotLength("the partner's public key is not 32 bytes"))?;
    let key = VerifyingKey::from_bytes(&key_bytes)
        .map_err(|_| KeyError::NotEd25519("the partner's public key is not a valid Ed25519 key"))?;
    let signature = B64
        .decode(signature_b64.trim().as_bytes())
        .map_err(|_| KeyError::NotBase64("the signature"))?;
    let signature = Signature::from_slice(&signature)
        .map_err(|_| KeyError::NotLength("the signature is not 64 bytes"))?;
    key.verify_strict(body, &signature)
        .map_err(|_| KeyError::Mismatch)
}

/// True when `sent_at` is within [`REPLAY_WINDOW`] of `now`.
pub fn within_window(sent_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    (now - sent_at).abs() <= REPLAY_WINDOW
}

/// How the receiver judged a document it accepted (ePhyto tracking states).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AckStatus {
    /// Stored; valid.
    Delivered,
    /// Stored; valid with warnings (see findings).
    DeliveredWithWarnings,
}

/// A finding as sent over the wire (severity, rule, field, message).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireFinding {
    /// `error`, `warning` or `info`.
    pub severity: String,
    /// The rule id.
    pub rule: String,
    /// The field, as the validator names it.
    #[serde(default)]
    pub field: String,
    /// For people.
    pub message: String,
}

impl From<&ecites_domain::Finding> for WireFinding {
    fn from(finding: &ecites_domain::Finding) -> Self {
        let value = serde_json::to_value(finding).unwrap_or_default();
        let text = |name: &str| {
            value
                .get(name)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        WireFinding {
            severity: text("severity"),
            rule: text("rule"),
            field: text("field"),
            message: text("message"),
        }
    }
}

/// The receiver's acknowledgement (HTTP 200).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Always `ack`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The receiver's tracking number for the document: the same for the same document however
    /// often it is sent.
    pub tracking_number: String,
    /// The message acknowledged.
    pub message_id: String,
    /// Delivered or delivered with warnings.
    pub status: AckStatus,
    /// Warnings and infos, when any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<WireFinding>,
    /// How many findings were left out of `findings` (at most [`MAX_WIRE_FINDINGS`] are sent).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub findings_omitted: usize,
    /// True when this document had been received before (this message changed nothing).
    #[serde(default)]
    pub duplicate: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Most findings an answer carries; the rest are counted in `findings_omitted`, so an answer
/// stays far below the Function URL's 6 MB response cap whatever the payload.
pub const MAX_WIRE_FINDINGS: usize = 100;
/// Longest text (characters) of a refusal message or a finding's message in an answer: partner
/// input quoted in them is cut there.
pub const MAX_ANSWER_TEXT_CHARS: usize = 500;

/// `text` cut to `max` characters, with `…` when cut.
pub fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The first [`MAX_WIRE_FINDINGS`] findings, each message bounded, and how many were left out.
pub fn cap_findings(findings: Vec<WireFinding>) -> (Vec<WireFinding>, usize) {
    let omitted = findings.len().saturating_sub(MAX_WIRE_FINDINGS);
    let kept = findings
        .into_iter()
        .take(MAX_WIRE_FINDINGS)
        .map(|f| WireFinding {
            severity: f.severity,
            rule: bounded(&f.rule, MAX_ANSWER_TEXT_CHARS),
            field: bounded(&f.field, MAX_ANSWER_TEXT_CHARS),
            message: bounded(&f.message, MAX_ANSWER_TEXT_CHARS),
        })
        .collect();
    (kept, omitted)
}

/// Why a receiver refused a message, with its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefusalCode {
    /// 400: the body is not an envelope, or the payload is not readable XML.
    NotReadable,
    /// 401: missing or bad signature, or `sent_at` outside the window.
    Unauthenticated,
    /// 403: the sender is not the permit's issuer, or the message is not addressed to us.
    Forbidden,
    /// 403: the sender is not (or no longer) in the receiver's partner directory.
    UnknownSender,
    /// 409: the message id was seen before (a replay).
    Replayed,
    /// 409: the same document (sender, number, version, status) was received before with
    /// different content; the first stays, this one is refused and recorded in the audit trail.
    Conflict,
    /// 400: the receiver can never store this message (a dependency refused it for good).
    NotStorable,
    /// 413: the body is larger than [`MAX_BODY_BYTES`].
    TooLarge,
    /// 422: readable, but the permit is invalid (see findings).
    Invalid,
    /// 405: not a POST.
    MethodNotAllowed,
    /// 503: the receiver could not store the message; retry later.
    Unavailable,
    /// 404: no permit (or delivery) the asker may see by that number: unknown, not ours, or
    /// not one of the asker's counterparts', one answer for all ([`crate::query`]).
    NotFound,
}

impl RefusalCode {
    /// The HTTP status that goes with the refusal.
    pub fn http_status(self) -> u16 {
        match self {
            RefusalCode::NotReadable | RefusalCode::NotStorable => 400,
            RefusalCode::Unauthenticated => 401,
            RefusalCode::Forbidden | RefusalCode::UnknownSender => 403,
            RefusalCode::MethodNotAllowed => 405,
            RefusalCode::Replayed | RefusalCode::Conflict => 409,
            RefusalCode::TooLarge => 413,
            RefusalCode::Invalid => 422,
            RefusalCode::Unavailable => 503,
            RefusalCode::NotFound => 404,
        }
    }
}

/// A refusal (4xx/5xx).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Always `refusal`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Why.
    pub code: RefusalCode,
    /// For people.
    pub message: String,
    /// The message refused, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Validation findings, for `INVALID`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<WireFinding>,
    /// How many findings were left out of `findings` (at most [`MAX_WIRE_FINDINGS`] are sent).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub findings_omitted: usize,
}

impl Refusal {
    /// A refusal without findings.
    pub fn new(code: RefusalCode, message: impl Into<String>) -> Self {
        Refusal {
            kind: "refusal".into(),
            code,
            message: message.into(),
            message_id: None,
            findings: Vec::new(),
            findings_omitted: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope {
        Envelope {
            envelope_version: 1,
            message_id: "m-1".into(),
            from: "XA".into(),
            to: "XB".into(),
            document_type: "E".into(),
            document_status: DocumentStatus::Issued,
            permit_number: "26XA0001".into(),
            permit_version: 1,
            replaces_version: None,
            reason: None,
            sent_at: Utc::now(),
            payload_namespace: "urn:x".into(),
            payload: b64(b"<x/>"),
        }
    }

    #[test]
    fn payload_namespace_is_exactly_the_v2_or_the_v1_permit_namespace() {
        let with = |namespace: &str| Envelope {
            payload_namespace: namespace.into(),
            ..envelope()
        };
        assert_eq!(with(PAYLOAD_NAMESPACE).check_fields(), Ok(()));
        assert_eq!(with(PAYLOAD_NAMESPACE_V1).check_fields(), Ok(()));
        assert_eq!(
            with(PAYLOAD_NAMESPACE_V1).payload_version(),
            Some(ecites_domain::xml::Version::V1)
        );
        for other in [
            "urn:x",
            "",
            "urn:un:unece:uncefact:data:standard:CITESEPermit:1",
            "urn:un:unece:uncefact:data:draft:CBFShip:2",
            " urn:un:unece:uncefact:data:draft:CBFShip:1",
        ] {
            let error = with(other).check_fields().unwrap_err();
            assert_eq!(error.field, "payload_namespace");
            assert!(
                error.rule.contains(PAYLOAD_NAMESPACE) && error.rule.contains(PAYLOAD_NAMESPACE_V1),
                "{error}"
            );
        }
    }

    #[test]
    fn a_signature_verifies_only_for_the_exact_body_and_key() {
        let key = SigningIdentity::generate("XA-1").unwrap();
        let body = envelope().to_body();
        let signature = key.sign(&body);
        assert!(verify(&key.public_key_base64(), &body, &signature).is_ok());
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        assert!(verify(&key.public_key_base64(), &tampered, &signature).is_err());
        let other = SigningIdentity::generate("XC-1").unwrap();
        assert!(verify(&other.public_key_base64(), &body, &signature).is_err());
        assert!(verify("not base64!", &body, &signature).is_err());
        assert!(verify(&key.public_key_base64(), &body, "AAAA").is_err());
    }

    #[test]
    fn a_key_round_trips_through_its_seed_and_never_prints() {
        let key = SigningIdentity::generate("XA-1").unwrap();
        let again = SigningIdentity::from_base64_seed("XA-1", &key.seed_base64()).unwrap();
        assert_eq!(key.public_key_base64(), again.public_key_base64());
        assert!(!format!("{key:?}").contains(&key.seed_base64()));
        let error = SigningIdentity::from_base64_seed("k", "c2hvcnQ=").unwrap_err();
        assert!(!error.to_string().contains("c2hvcnQ"));
    }

    #[test]
    fn the_window_is_five_minutes_either_way() {
        let now = Utc::now();
        assert!(within_window(now - Duration::minutes(4), now));
        assert!(within_window(now + Duration::minutes(4), now));
        assert!(!within_window(now - Duration::minutes(6), now));
        assert!(!within_window(now + Duration::minutes(6), now));
    }

    #[test]
    fn envelopes_round_trip_as_json() {
        let e = envelope();
        let back: Envelope = serde_json::from_slice(&e.to_body()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.payload_bytes().unwrap(), b"<x/>");
    }
}
