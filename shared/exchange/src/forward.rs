//! The forward use case: one delivery message in, a signed envelope POSTed to the partner, the
//! delivery's tracking state out.
//!
//! What the partner answers decides the state: an acknowledgement is DELIVERED (or
//! DELIVERED_WITH_WARNINGS) with the partner's tracking number; a `NOT_READABLE` refusal (400)
//! is DELIVERED_NOT_READABLE (the ePhyto hub's name) with the reason; any other refusal that
//! cannot change on retry (400, 401, 403, 404, 413, 422) is FAILED at once with the reason;
//! both are final. Anything that may pass later (429, 5xx, timeouts, connection errors) is
//! retried with capped exponential backoff and jitter until the last receive before the DLQ,
//! where it becomes FAILED and an operator replays it (`ecites replay`). Every transition is conditional on the delivery still
//! being PENDING, so a delivery queued twice is sent at most once after it succeeded.

use crate::directory::{DocumentFormat, PartnerDirectory, Protocol};
use crate::ledger::{DeliveryKind, DeliveryState};
use crate::messages::DeliveryMessage;
use crate::ports::{BlobStore, Clock, Fetched};
use crate::protocol::{
    b64, bounded, Ack, AckStatus, DocumentStatus, Envelope, Refusal, RefusalCode, SigningIdentity,
    CONTENT_TYPE, ENVELOPE_VERSION, KEY_ID_HEADER, SIGNATURE_HEADER,
};
use crate::Error;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::Digest as _;
use std::sync::Arc;
use std::time::Duration;

/// Namespace of the standard payload (toolkit v2), re-exported from [`crate::protocol`].
pub use crate::protocol::PAYLOAD_NAMESPACE;
/// The retry policy of deliveries (shared with webhooks), re-exported from [`crate::retry`].
pub use crate::retry::RetryPolicy;
/// Largest XML read from the outbox.
pub const MAX_XML_BYTES: u64 = 4 * 1024 * 1024;
/// Largest answer read from a partner.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// A partner's HTTP answer and the transport it comes through, re-exported from
/// [`crate::http`]: a transient transport error (timeout, connection refused, TLS failure) is
/// retried, a permanent one (a request that cannot be built) fails the delivery at once.
pub use crate::http::{HttpError, HttpReply, HttpTransport};

/// A transition of a delivery out of (or within) PENDING.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The new state (PENDING for an attempt that will be retried).
    pub state: DeliveryState,
    /// The partner's tracking number, on delivery.
    pub tracking_number: Option<String>,
    /// Why it failed (or the warnings), for `ecites status`.
    pub last_error: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The delivery records the forward function reads and moves.
#[async_trait]
pub trait DeliveryTracker: Send + Sync {
    /// The delivery's current state, `None` when the ledger has no such delivery.
    async fn delivery_state(
        &self,
        message: &DeliveryMessage,
    ) -> Result<Option<DeliveryState>, Error>;
    /// Records an attempt: attempts + 1, the new state, last error and tracking number, plus an
    /// audit row; only if the delivery is still PENDING. `false` when it was not.
    async fn record_attempt(
        &self,
        message: &DeliveryMessage,
        attempt: &Attempt,
    ) -> Result<bool, Error>;
    /// Puts a FAILED delivery back to PENDING (for `ecites replay`); `false` when it was not
    /// FAILED.
    async fn reopen(&self, message: &DeliveryMessage, at: DateTime<Utc>) -> Result<bool, Error>;
    /// Notes on a PENDING delivery to a partner that pulls that it waits for the partner to
    /// fetch and acknowledge it (`last_error` says so, for `ecites status`; attempts unchanged;
    /// an audit row), only if still PENDING. `false` when it was not.
    async fn await_pull(&self, message: &DeliveryMessage, at: DateTime<Utc>)
        -> Result<bool, Error>;
}

/// What `ecites status` shows as the last reason of a delivery waiting for a pulling partner.
pub fn awaiting_pull_reason(recipient: &str) -> String {
    format!("waiting for {recipient} to fetch it (pull partner): not sent")
}

/// The transports that present a client certificate (mutual TLS), for partners whose
/// directory entry names one ([`crate::directory::Partner::client_certificate_secret`]).
#[async_trait]
pub trait ClientCertificates: Send + Sync {
    /// A transport presenting the certificate and key kept in `secret` (a secret store's name
    /// or ARN). Errors: transient when the store cannot be reached now (throttled, timed out);
    /// permanent when the secret is missing, denied, or not a usable certificate and key (the
    /// message names the secret and what is wrong, never its value).
    async fn transport(&self, secret: &str) -> Result<Arc<dyn HttpTransport>, Error>;
}

/// The services forward runs over.
#[derive(Clone, Copy)]
pub struct ForwardServices<'a> {
    /// Reads the outbox XML.
    pub blobs: &'a dyn BlobStore,
    /// The ledger's deliveries.
    pub tracker: &'a dyn DeliveryTracker,
    /// The partner directory (current endpoints).
    pub partners: &'a dyn PartnerDirectory,
    /// HTTP, presenting no client certificate.
    pub transport: &'a dyn HttpTransport,
    /// The client certificates presented to partners that require mutual TLS; `None` where
    /// there is no secret store (a partner naming a certificate then fails, saying so).
    pub client_certificates: Option<&'a dyn ClientCertificates>,
    /// Our signing key.
    pub signer: &'a SigningIdentity,
    /// The clock.
    pub clock: &'a dyn Clock,
}

/// What forwarding one message did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForwardOutcome {
    /// The partner acknowledged.
    Delivered {
        /// Its tracking number.
        tracking_number: String,
        /// With warnings.
        warnings: bool,
    },
    /// Refused for good (or failed on the last receive): FAILED with the reason.
    Failed {
        /// Why.
        reason: String,
        /// True when it failed because retries ran out (the message goes on to the DLQ for
        /// `ecites replay`); false for a refusal that no retry can change.
        exhausted: bool,
    },
    /// Retry after `delay` (change the message's visibility and report it as failed).
    Retry {
        /// When to try again.
        delay: Duration,
        /// Why.
        reason: String,
    },
    /// The recipient pulls (`delivery: pull`): nothing sent, the delivery stays PENDING until
    /// the partner fetches and acknowledges it ([`crate::query`]); the queue message is done.
    AwaitingPull,
    /// Nothing to do: the delivery is no longer PENDING (queued twice, or already done).
    AlreadyDone {
        /// Its state.
        state: Option<DeliveryState>,
    },
}

/// The envelope status for a delivery kind; `None` for a use, which is not a permit document
/// and travels as a use message ([`crate::receive_use::UseMessage`]).
pub fn document_status(kind: DeliveryKind) -> Option<DocumentStatus> {
    match kind {
        DeliveryKind::Permit => Some(DocumentStatus::Issued),
        DeliveryKind::Replacement => Some(DocumentStatus::Replaced),
        DeliveryKind::Cancellation => Some(DocumentStatus::Cancelled),
        DeliveryKind::Endorsement => Some(DocumentStatus::Endorsed),
        DeliveryKind::Use => None,
    }
}

/// How an HTTP answer is classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyClass {
    /// Acknowledged.
    Ack(Ack),
    /// The partner received the message but could not read it (400 refusal `NOT_READABLE`):
    /// recorded as the hub's `DELIVERED_NOT_READABLE`, for good, since resending the same
    /// bytes cannot change it.
    NotReadable(String),
    /// Refused for good.
    Permanent(String),
    /// May pass later.
    Transient(String, Option<Duration>),
}

/// Longest tracking number kept from a partner's acknowledgement, in characters.
pub const MAX_TRACKING_NUMBER_CHARS: usize = 128;

/// A partner's tracking number is kept and shown to operators: 1 to
/// [`MAX_TRACKING_NUMBER_CHARS`] characters, none of them control characters (terminal
/// escapes).
pub fn tracking_number_acceptable(tracking: &str) -> bool {
    let chars = tracking.chars().count();
    (1..=MAX_TRACKING_NUMBER_CHARS).contains(&chars) && !tracking.chars().any(char::is_control)
}

/// Classifies a partner's answer to the message `sent_message_id`: an acknowledgement of
/// another message id, or with an unusable tracking number, is no acknowledgement (retried).
pub fn classify_reply(reply: &HttpReply, sent_message_id: &str) -> ReplyClass {
    let text = String::from_utf8_lossy(&reply.body[..reply.body.len().min(512)]).into_owned();
    let parsed = serde_json::from_slice::<Refusal>(&reply.body).ok();
    let refusal = parsed
        .as_ref()
        .map(|r| format!("{:?}: {}", r.code, r.message))
        .unwrap_or(text);
    if reply.status == 400
        && parsed
            .as_ref()
            .is_some_and(|r| r.code == RefusalCode::NotReadable)
    {
        return ReplyClass::NotReadable(format!("HTTP 400 {refusal}"));
    }
    // The partner holds other content for this very document: resending cannot change that.
    if reply.status == 409
        && parsed
            .as_ref()
            .is_some_and(|r| r.code == RefusalCode::Conflict)
    {
        return ReplyClass::Permanent(format!("HTTP 409 {refusal}"));
    }
    match reply.status {
        200..=299 => match serde_json::from_slice::<Ack>(&reply.body) {
            Ok(ack) if ack.message_id != sent_message_id => ReplyClass::Transient(
                format!(
                    "HTTP {} acknowledges message {:?}, not the one sent ({sent_message_id:?})",
                    reply.status,
                    bounded(&ack.message_id, 128)
                ),
                None,
            ),
            Ok(ack) if !tracking_number_acceptable(&ack.tracking_number) => ReplyClass::Transient(
                format!(
                    "HTTP {} acknowledgement with an unusable tracking number ({} \
                         characters; 1 to {MAX_TRACKING_NUMBER_CHARS} without control \
                         characters expected)",
                    reply.status,
                    ack.tracking_number.chars().count()
                ),
                None,
            ),
            Ok(ack) => ReplyClass::Ack(ack),
            Err(e) => ReplyClass::Transient(
                format!(
                    "HTTP {} without a readable acknowledgement: {e}",
                    reply.status
                ),
                None,
            ),
        },
        400 | 401 | 403 | 404 | 405 | 410 | 413 | 415 | 422 => {
            ReplyClass::Permanent(format!("HTTP {} {refusal}", reply.status))
        }
        429 => ReplyClass::Transient(format!("HTTP 429 {refusal}"), reply.retry_after),
        status => ReplyClass::Transient(format!("HTTP {status} {refusal}"), reply.retry_after),
    }
}

/// True for `https://` endpoints, and for plain `http://` only on loopback (tests, the local
/// demo): permits never cross a network in clear text.
pub fn endpoint_allowed(endpoint: &str) -> bool {
    let lower = endpoint.trim().to_ascii_lowercase();
    if lower.starts_with("https://") {
        return true;
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| h.trim_start_matches('['))
            .unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Builds the signed envelope for a delivery of the canonical (toolkit v2) XML: the body bytes
/// and the headers.
pub fn build_message(
    message: &DeliveryMessage,
    document_type: &str,
    xml: &[u8],
    message_id: &str,
    signer: &SigningIdentity,
    now: DateTime<Utc>,
) -> (Vec<u8>, Vec<(&'static str, String)>) {
    build_message_as(
        DocumentFormat::V2,
        message,
        document_type,
        xml,
        message_id,
        signer,
        now,
    )
}

/// Builds the signed envelope for a delivery whose payload `xml` is in `format`: its
/// `payload_namespace` is that version's root namespace ([`PAYLOAD_NAMESPACE`] or
/// [`crate::protocol::PAYLOAD_NAMESPACE_V1`]).
pub fn build_message_as(
    format: DocumentFormat,
    message: &DeliveryMessage,
    document_type: &str,
    xml: &[u8],
    message_id: &str,
    signer: &SigningIdentity,
    now: DateTime<Utc>,
) -> (Vec<u8>, Vec<(&'static str, String)>) {
    let envelope = Envelope {
        envelope_version: ENVELOPE_VERSION,
        message_id: message_id.to_owned(),
        from: message.issuer.clone(),
        to: message.recipient.clone(),
        document_type: document_type.to_owned(),
        document_status: document_status(message.kind).unwrap_or(DocumentStatus::Issued),
        permit_number: message.permit_number.clone(),
        permit_version: message.permit_version,
        // Each status carries only its own fields (a receiver refuses contradictory ones).
        replaces_version: message.replaces_version.filter(|_| {
            matches!(
                message.kind,
                DeliveryKind::Replacement | DeliveryKind::Endorsement
            )
        }),
        reason: message
            .reason
            .clone()
            .filter(|_| message.kind == DeliveryKind::Cancellation),
        sent_at: now,
        payload_namespace: format.namespace().to_owned(),
        payload: b64(xml),
    };
    let body = envelope.to_body();
    let headers = vec![
        ("content-type", CONTENT_TYPE.to_owned()),
        (SIGNATURE_HEADER, signer.sign(&body)),
        (KEY_ID_HEADER, signer.key_id.clone()),
    ];
    (body, headers)
}

/// The document type (E, R, I, O) of the standard XML, empty when it cannot be read.
fn document_type_of(xml: &[u8]) -> String {
    ecites_domain::xml::read_permit(xml)
        .ok()
        .and_then(|decoded| decoded.permit.document_type)
        .map(|t| t.as_str().to_owned())
        .unwrap_or_default()
}

/// Records an outcome no retry can change (`state` is FAILED or DELIVERED_NOT_READABLE) with
/// its reason, and answers [`ForwardOutcome::Failed`]: every permanent failure of a delivery
/// goes through here, so each is recorded the same way.
async fn fail_for_good(
    services: &ForwardServices<'_>,
    message: &DeliveryMessage,
    state: DeliveryState,
    reason: String,
    exhausted: bool,
    at: DateTime<Utc>,
) -> Result<ForwardOutcome, Error> {
    let attempt = Attempt {
        state,
        tracking_number: None,
        last_error: Some(reason.clone()),
        at,
    };
    services.tracker.record_attempt(message, &attempt).await?;
    Ok(ForwardOutcome::Failed { reason, exhausted })
}

/// The partner's current endpoint from the directory, or why the delivery must fail for good.
/// The directory wins over the endpoint queued by ingest (the partner may have moved during an
/// outage); a partner removed from the directory since keeps the queued endpoint, and so does
/// an unreadable directory (the queued endpoint came from the same directory at ingest: better
/// than holding every delivery hostage to a directory read).
///
/// The answer is the endpoint, the client certificate secret the entry names, if any, the XML
/// version the partner reads (v2 when the entry is not found) and its protocol.
async fn current_endpoint(
    services: &ForwardServices<'_>,
    message: &DeliveryMessage,
) -> Result<(String, Option<String>, DocumentFormat, Protocol), String> {
    let Ok(country) = message.recipient.parse() else {
        return Ok((
            message.endpoint.clone(),
            None,
            DocumentFormat::V2,
            Protocol::Ecites,
        ));
    };
    let partner = services
        .partners
        .partner(country)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "partner directory unreadable: using the queued endpoint");
            None
        });
    match partner {
        Some(partner) if partner.active => Ok((
            partner.endpoint,
            partner.client_certificate_secret,
            partner.document_format,
            partner.protocol,
        )),
        Some(_) => Err(format!(
            "{} is inactive in the partner directory",
            message.recipient
        )),
        None => Ok((
            message.endpoint.clone(),
            None,
            DocumentFormat::V2,
            Protocol::Ecites,
        )),
    }
}

/// The outbox XML (canonical toolkit v2) as the partner reads it: unchanged for v2; read and
/// written again as toolkit v1 for a v1 partner, whatever v1 cannot carry named in a warning
/// (`ecites_domain::xml::v1_losses`). `Err` when the outbox XML cannot be read.
fn payload_for(
    format: DocumentFormat,
    xml: Vec<u8>,
    message: &DeliveryMessage,
) -> Result<Vec<u8>, String> {
    match format {
        DocumentFormat::V2 => Ok(xml),
        DocumentFormat::V1 => {
            let permit = ecites_domain::xml::read_permit(&xml)
                .map_err(|e| format!("the outbox XML cannot be read to write toolkit v1: {e}"))?
                .permit;
            let lost = ecites_domain::xml::v1_losses(&permit);
            if !lost.is_empty() {
                tracing::warn!(
                    recipient = %message.recipient,
                    permit = %message.permit_number,
                    lost = %lost.join(", "),
                    "the partner reads toolkit v1, which has no element for these values: not sent"
                );
            }
            Ok(ecites_domain::xml::write_permit_v1(&permit).into_bytes())
        }
    }
}

/// Classifies an EPIX partner's answer to `ConfirmQuantities`: the response is an
/// acknowledgement (its `TrackingNumber` when it gives one, ours for the answer otherwise:
/// `EPIX-` and 20 hex digits of its digest), a `Client` fault a refusal for good, a `Server`
/// fault or a 429/5xx without SOAP a transient failure, anything else a refusal for good.
pub fn classify_soap_reply(reply: &HttpReply) -> ReplyClass {
    use crate::epix::soap::{read_answer, response_field, SoapAnswer};
    match read_answer(&reply.body) {
        Ok(SoapAnswer::Fault(fault)) if fault.code == crate::epix::FaultCode::Server => {
            ReplyClass::Transient(format!("HTTP {} {fault}", reply.status), reply.retry_after)
        }
        Ok(SoapAnswer::Fault(fault)) => {
            ReplyClass::Permanent(format!("HTTP {} {fault}", reply.status))
        }
        Ok(SoapAnswer::Answer { element, .. })
            if (200..300).contains(&reply.status) && element == "ConfirmQuantitiesResponse" =>
        {
            let tracking_number = response_field(&reply.body, "TrackingNumber")
                .filter(|t| tracking_number_acceptable(t))
                .unwrap_or_else(|| {
                    let digest = sha2::Sha256::digest(&reply.body);
                    format!("EPIX-{}", &hex::encode(digest)[..20])
                });
            ReplyClass::Ack(Ack {
                kind: "ack".into(),
                tracking_number,
                message_id: String::new(),
                status: AckStatus::Delivered,
                findings: Vec::new(),
                findings_omitted: 0,
                duplicate: response_field(&reply.body, "Duplicate").as_deref() == Some("true"),
            })
        }
        Ok(SoapAnswer::Answer { element, .. }) => ReplyClass::Permanent(format!(
            "HTTP {}: answered {element}, not ConfirmQuantitiesResponse",
            reply.status
        )),
        Err(why) if reply.status == 429 || reply.status >= 500 => {
            ReplyClass::Transient(format!("HTTP {}: {why}", reply.status), reply.retry_after)
        }
        Err(why) => ReplyClass::Permanent(format!("HTTP {}: {why}", reply.status)),
    }
}

/// True when the recipient is an active partner that pulls its deliveries (`delivery: pull`, or an
/// EPIX partner, which is pull-only). An unreadable
/// directory is taken as push (the queued endpoint), as [`current_endpoint`] does.
async fn pulls(services: &ForwardServices<'_>, message: &DeliveryMessage) -> bool {
    let Ok(country) = message.recipient.parse() else {
        return false;
    };
    matches!(
        services.partners.partner(country).await,
        Ok(Some(partner)) if partner.active && partner.pulls_our_permits()
    )
}

/// Forwards one delivery message. `receive_count` is the SQS `ApproximateReceiveCount` (1 on
/// the first attempt). `Err` is only for failures of our own infrastructure (ledger, S3),
/// which the caller retries like any transient failure.
pub async fn forward_delivery(
    services: ForwardServices<'_>,
    policy: &RetryPolicy,
    message: &DeliveryMessage,
    message_id: &str,
    receive_count: u32,
) -> Result<ForwardOutcome, Error> {
    let state = services.tracker.delivery_state(message).await?;
    if state != Some(DeliveryState::Pending) {
        return Ok(ForwardOutcome::AlreadyDone { state });
    }
    let now = services.clock.now();
    if message.kind != DeliveryKind::Use && pulls(&services, message).await {
        services.tracker.await_pull(message, now).await?;
        return Ok(ForwardOutcome::AwaitingPull);
    }
    let failed = |reason: String| {
        fail_for_good(
            &services,
            message,
            DeliveryState::Failed,
            reason,
            false,
            now,
        )
    };

    let xml = match message
        .payload
        .as_ref()
        .filter(|_| message.kind == DeliveryKind::Use)
    {
        // A use travels in the message itself.
        Some(json) => json.as_bytes().to_vec(),
        None if message.kind == DeliveryKind::Use => {
            return failed("the use delivery carries no use".to_owned()).await;
        }
        None => match services
            .blobs
            .get(&message.xml_bucket, &message.xml_key, None, MAX_XML_BYTES)
            .await
        {
            Ok(Fetched::Bytes(bytes)) => bytes,
            Ok(Fetched::TooLarge { size }) => {
                return failed(format!(
                    "the outbox XML is {size} bytes, above {MAX_XML_BYTES}"
                ))
                .await;
            }
            Err(Error::NotFound(what)) => {
                return failed(format!("the outbox XML is missing: {what}")).await;
            }
            Err(error) => return Err(error),
        },
    };

    let (endpoint, certificate, format, protocol) = match current_endpoint(&services, message).await
    {
        Ok(found) => found,
        Err(reason) => return failed(reason).await,
    };
    let soap = protocol == Protocol::EpixSoap;
    if endpoint.is_empty() {
        // A partner that pulls our permits may have no endpoint; a use of its permit is the
        // one thing we would still POST to it.
        return failed(format!(
            "{recipient} has no endpoint in the partner directory (a partner that pulls our permits may have none), so nothing can be sent to it: add one with `ecites partners add {recipient} --delivery pull --endpoint https://...`, then `ecites replay --failed {recipient}`",
            recipient = message.recipient
        ))
        .await;
    }
    if !endpoint_allowed(&endpoint) {
        return failed(format!(
            "endpoint {endpoint:?} is not https:// (plain http only on loopback)"
        ))
        .await;
    }
    let (url, body, headers) = if message.kind == DeliveryKind::Use {
        // A use of the recipient's permit, told to its issuer: the stored use, as a use message.
        let used = match ecites_domain::usage::PermitUse::from_json(&xml) {
            Ok(used) => used,
            Err(e) => return failed(format!("the stored use cannot be read: {e}")).await,
        };
        if soap {
            // An EPIX partner learns our customs' import confirmation with ConfirmQuantities
            // (docs/epix.md); EPIX has no operation for any other use.
            if used.kind != ecites_domain::usage::UseKind::ImportConfirmation {
                return failed(format!(
                    "{} is an EPIX partner (protocol epix-soap): EPIX has no operation for a {}",
                    message.recipient,
                    used.kind.as_str().replace('_', " ")
                ))
                .await;
            }
            let positions = match crate::epix::client::confirmed_positions(&used) {
                Ok(positions) => positions,
                Err(reason) => return failed(reason).await,
            };
            let body = crate::epix::soap::request_body(
                crate::epix::Operation::ConfirmQuantities,
                &used.permit.number,
                &message.recipient,
                &positions,
            );
            (
                endpoint,
                body.into_bytes(),
                crate::epix::soap::request_headers(crate::epix::Operation::ConfirmQuantities),
            )
        } else {
            let sender = message.sender.as_deref().unwrap_or(&message.issuer);
            let (body, headers) = crate::receive_use::build_use_message(
                sender,
                &message.recipient,
                &used,
                message_id,
                services.signer,
                now,
            );
            (crate::receive_use::uses_url(&endpoint), body, headers)
        }
    } else {
        let document_type = document_type_of(&xml);
        let payload = match payload_for(format, xml, message) {
            Ok(payload) => payload,
            Err(reason) => return failed(reason).await,
        };
        let (body, headers) = build_message_as(
            format,
            message,
            &document_type,
            &payload,
            message_id,
            services.signer,
            now,
        );
        (endpoint, body, headers)
    };
    // A partner requiring mutual TLS gets our client certificate; one that cannot be loaded
    // is an attempt that failed as the secret store failed (transient or for good).
    let with_certificate = match (certificate.as_deref(), services.client_certificates) {
        (None, _) => Ok(None),
        (Some(secret), Some(store)) => store.transport(secret).await.map(Some),
        (Some(secret), None) => Err(Error::permanent(
            "client certificate",
            format!("{secret}: this forward has no secret store to read it from"),
        )),
    };
    let posted = match &with_certificate {
        Ok(Some(transport)) => Ok(transport.post(&url, &headers, body).await),
        Ok(None) => Ok(services.transport.post(&url, &headers, body).await),
        Err(error) => Err(error),
    };
    let class = match posted {
        Ok(Ok(reply)) if soap => classify_soap_reply(&reply),
        Ok(Ok(reply)) => classify_reply(&reply, message_id),
        Ok(Err(error)) if error.is_transient() => ReplyClass::Transient(error.to_string(), None),
        Ok(Err(error)) => ReplyClass::Permanent(error.to_string()),
        Err(error) if error.is_transient() => ReplyClass::Transient(error.to_string(), None),
        Err(error) => ReplyClass::Permanent(error.to_string()),
    };
    match class {
        ReplyClass::Ack(ack) => {
            let warnings = ack.status == AckStatus::DeliveredWithWarnings;
            let attempt = Attempt {
                state: if warnings {
                    DeliveryState::DeliveredWithWarnings
                } else {
                    DeliveryState::Delivered
                },
                tracking_number: Some(ack.tracking_number.clone()),
                last_error: warnings.then(|| {
                    ack.findings
                        .iter()
                        .map(|f| format!("{}: {}", f.rule, f.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                }),
                at: now,
            };
            services.tracker.record_attempt(message, &attempt).await?;
            Ok(ForwardOutcome::Delivered {
                tracking_number: ack.tracking_number,
                warnings,
            })
        }
        ReplyClass::NotReadable(reason) => {
            fail_for_good(
                &services,
                message,
                DeliveryState::DeliveredNotReadable,
                reason,
                false,
                now,
            )
            .await
        }
        ReplyClass::Permanent(reason) => failed(reason).await,
        ReplyClass::Transient(reason, _) if receive_count >= policy.max_receives => {
            let reason = format!("gave up after {receive_count} attempts: {reason}");
            fail_for_good(&services, message, DeliveryState::Failed, reason, true, now).await
        }
        ReplyClass::Transient(reason, retry_after) => {
            let attempt = Attempt {
                state: DeliveryState::Pending,
                tracking_number: None,
                last_error: Some(reason.clone()),
                at: now,
            };
            services.tracker.record_attempt(message, &attempt).await?;
            Ok(ForwardOutcome::Retry {
                delay: policy.delay(receive_count, retry_after),
                reason,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> HttpReply {
        HttpReply {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn refusals_that_cannot_change_fail_at_once_and_the_rest_retry() {
        for status in [400, 401, 403, 404, 422] {
            assert!(
                matches!(
                    classify_reply(&reply(status, "{}"), "m"),
                    ReplyClass::Permanent(_)
                ),
                "{status}"
            );
        }
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(
                    classify_reply(&reply(status, ""), "m"),
                    ReplyClass::Transient(..)
                ),
                "{status}"
            );
        }
        let ack =
            r#"{"type":"ack","tracking_number":"XB-1","message_id":"m","status":"DELIVERED"}"#;
        assert!(matches!(
            classify_reply(&reply(200, ack), "m"),
            ReplyClass::Ack(_)
        ));
        assert!(matches!(
            classify_reply(&reply(200, "ok"), "m"),
            ReplyClass::Transient(..)
        ));
    }

    #[test]
    fn an_ack_of_another_message_or_with_an_unusable_tracking_number_is_no_ack_and_a_conflict_is_final(
    ) {
        let ack = |id: &str, tracking: &str| {
            serde_json::json!({"type": "ack", "tracking_number": tracking, "message_id": id,
                "status": "DELIVERED"})
            .to_string()
        };
        assert!(matches!(
            classify_reply(&reply(200, &ack("m", "XB-1")), "m"),
            ReplyClass::Ack(_)
        ));
        assert!(matches!(
            classify_reply(&reply(200, &ack("other", "XB-1")), "m"),
            ReplyClass::Transient(..)
        ));
        for tracking in ["", "XB-\u{1b}[2J", &"9".repeat(129)] {
            assert!(
                matches!(
                    classify_reply(&reply(200, &ack("m", tracking)), "m"),
                    ReplyClass::Transient(..)
                ),
                "{tracking:?}"
            );
        }
        let conflict = r#"{"type":"refusal","code":"CONFLICT","message":"other content"}"#;
        assert!(matches!(
            classify_reply(&reply(409, conflict), "m"),
            ReplyClass::Permanent(_)
        ));
        let replayed = r#"{"type":"refusal","code":"REPLAYED","message":"seen"}"#;
        assert!(matches!(
            classify_reply(&reply(409, replayed), "m"),
            ReplyClass::Transient(..)
        ));
    }

    #[test]
    fn only_https_or_loopback_http_endpoints_are_used() {
        assert!(endpoint_allowed("https://ma.xb.example/cites"));
        assert!(endpoint_allowed("http://127.0.0.1:8080/"));
        assert!(endpoint_allowed("http://localhost/x"));
        assert!(endpoint_allowed("http://[::1]:9/"));
        assert!(!endpoint_allowed("http://ma.xb.example/cites"));
        assert!(!endpoint_allowed("http://127.0.0.1.evil.example/"));
        assert!(!endpoint_allowed("http://127.0.0.1@evil.example/"));
        assert!(!endpoint_allowed("ftp://127.0.0.1/"));
    }

    use crate::directory::Partner;
    use crate::protocol::SigningIdentity;
    use crate::testing::{MemoryBlobs, MemoryDirectory, MemoryTracker, RecordingHttp};

    /// The forward use case's ports, in memory.
    struct Fakes {
        blobs: MemoryBlobs,
        tracker: MemoryTracker,
        partners: MemoryDirectory,
        http: RecordingHttp,
        certificates: Option<Certificates>,
    }

    /// A secret store with one client certificate secret, `xb-client`, whose transport
    /// answers `reply`; any other secret fails as `missing` says (permanent or transient).
    struct Certificates {
        http: Arc<RecordingHttp>,
        missing: fn() -> Error,
    }

    #[async_trait]
    impl ClientCertificates for Certificates {
        async fn transport(&self, secret: &str) -> Result<Arc<dyn HttpTransport>, Error> {
            if secret == "xb-client" {
                Ok(self.http.clone())
            } else {
                Err((self.missing)())
            }
        }
    }

    /// XB requires mutual TLS, and its entry names `secret`.
    fn with_certificate(secret: &str, missing: fn() -> Error) -> Fakes {
        let mut f = fakes(Ok(reply(200, "{}")));
        let mut xb = Partner::new("XB".parse().unwrap(), "https://ma.xb.example/cites");
        xb.client_certificate_secret = Some(secret.into());
        f.partners = MemoryDirectory::of([xb]);
        let ack =
            r#"{"type":"ack","tracking_number":"XB-7","message_id":"m","status":"DELIVERED"}"#;
        f.certificates = Some(Certificates {
            http: Arc::new(RecordingHttp::answering(Ok(reply(200, ack)))),
            missing,
        });
        f
    }

    /// XB at `endpoint`, active or not.
    fn partner(endpoint: &str, active: bool) -> MemoryDirectory {
        let mut xb = Partner::new("XB".parse().unwrap(), endpoint);
        xb.active = active;
        MemoryDirectory::of([xb])
    }

    /// A pending delivery of an outbox XML to XB, whose endpoint answers `reply`.
    fn fakes(reply: Result<HttpReply, HttpError>) -> Fakes {
        Fakes {
            blobs: MemoryBlobs::new("b").with("outbox/x.xml", b"<x/>".to_vec()),
            tracker: MemoryTracker::new(Some(DeliveryState::Pending)),
            partners: partner("https://ma.xb.example/cites", true),
            http: RecordingHttp::answering(reply),
            certificates: None,
        }
    }

    fn message() -> DeliveryMessage {
        DeliveryMessage {
            message_type: "delivery".into(),
            version: 1,
            delivery_id: "XA/1/v1/permit/XB".into(),
            kind: DeliveryKind::Permit,
            issuer: "XA".into(),
            permit_number: "1".into(),
            permit_version: 1,
            replaces_version: None,
            recipient: "XB".into(),
            endpoint: "https://old.example/".into(),
            xml_bucket: "b".into(),
            xml_key: "outbox/x.xml".into(),
            content_sha256: String::new(),
            reason: None,
            use_key: None,
            sender: None,
            payload: None,
        }
    }

    async fn run(f: &Fakes, receive_count: u32) -> ForwardOutcome {
        run_message(f, &message(), receive_count).await
    }

    async fn run_message(
        f: &Fakes,
        message: &DeliveryMessage,
        receive_count: u32,
    ) -> ForwardOutcome {
        let signer = SigningIdentity::generate("XA-1").unwrap();
        let services = ForwardServices {
            blobs: &f.blobs,
            tracker: &f.tracker,
            partners: &f.partners,
            transport: &f.http,
            client_certificates: f
                .certificates
                .as_ref()
                .map(|c| c as &dyn ClientCertificates),
            signer: &signer,
            clock: &crate::SystemClock,
        };
        let policy = RetryPolicy {
            max_receives: 3,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(20),
        };
        forward_delivery(services, &policy, message, "m", receive_count)
            .await
            .unwrap()
    }

    /// XB's customs confirmed the import of XA's permit 26XA0001: the use delivery to XA.
    fn confirmation_to_xa(quantity: &str) -> DeliveryMessage {
        let used = serde_json::json!({
            "kind": "import_confirmation",
            "permit": {"issuer": "XA", "number": "26XA0001"},
            "reported_by": "XB",
            "declaration_number": "XB-DEC-1",
            "date": "2026-02-12",
            "blocks": [{"block": "A", "quantity": {"value": quantity}}]
        });
        DeliveryMessage {
            kind: DeliveryKind::Use,
            issuer: "XA".into(),
            permit_number: "26XA0001".into(),
            recipient: "XB".into(),
            sender: Some("XB".into()),
            use_key: Some("import_confirmation#XB-DEC-1".into()),
            payload: Some(used.to_string()),
            ..message()
        }
    }

    fn epix_partner(f: &mut Fakes) {
        let mut entry = Partner::new("XB".parse().unwrap(), "https://ma.xb.example/epix");
        entry.protocol = crate::directory::Protocol::EpixSoap;
        f.partners = MemoryDirectory::of([entry]);
    }

    #[tokio::test]
    async fn an_epix_partner_is_told_an_import_confirmation_with_confirm_quantities() {
        let answer = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><v2:ConfirmQuantitiesResponse xmlns:v2=\"urn:CitesDataExchange/v2/\"><Confirmed>true</Confirmed><TrackingNumber>XB-T-1</TrackingNumber></v2:ConfirmQuantitiesResponse></soapenv:Body></soapenv:Envelope>";
        let mut f = fakes(Ok(reply(200, answer)));
        epix_partner(&mut f);
        let outcome = run_message(&f, &confirmation_to_xa("3"), 1).await;
        assert!(
            matches!(outcome, ForwardOutcome::Delivered { ref tracking_number, .. } if tracking_number == "XB-T-1"),
            "{outcome:?}"
        );
        let posts = f.http.posts();
        assert_eq!(posts.len(), 1);
        let (url, headers, body) = &posts[0];
        assert_eq!(url, "https://ma.xb.example/epix");
        let body = String::from_utf8_lossy(body);
        assert!(body.contains("<urn:ConfirmQuantities>"), "{body}");
        assert!(
            body.contains("<ID>A</ID>")
                && body.contains("<InspectedUnitQuantity>3</InspectedUnitQuantity>"),
            "{body}"
        );
        assert!(headers
            .iter()
            .any(|(name, value)| name == "soapaction" && value == "\"urn:ConfirmQuantities\""));
    }

    #[tokio::test]
    async fn an_epix_partner_s_client_fault_fails_the_use_delivery_and_a_server_fault_is_retried() {
        let fault = |code: &str| {
            format!("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><soap:Fault><faultcode>soap:{code}</faultcode><faultstring>CallerNotFound</faultstring></soap:Fault></soap:Body></soap:Envelope>")
        };
        let mut f = fakes(Ok(reply(500, &fault("Client"))));
        epix_partner(&mut f);
        assert!(matches!(
            run_message(&f, &confirmation_to_xa("3"), 1).await,
            ForwardOutcome::Failed {
                exhausted: false,
                ..
            }
        ));
        let mut f = fakes(Ok(reply(500, &fault("Server"))));
        epix_partner(&mut f);
        assert!(matches!(
            run_message(&f, &confirmation_to_xa("3"), 1).await,
            ForwardOutcome::Retry { .. }
        ));
    }

    #[tokio::test]
    async fn what_epix_cannot_carry_fails_at_once_saying_why() {
        // A fractional quantity: ConfirmQuantities carries integers.
        let mut f = fakes(Ok(reply(200, "")));
        epix_partner(&mut f);
        assert!(matches!(
            run_message(&f, &confirmation_to_xa("2.5"), 1).await,
            ForwardOutcome::Failed { ref reason, .. } if reason.contains("not a whole number")
        ));
        // A permit version: EPIX is pull-only, the delivery waits for the partner's fetch.
        let mut f = fakes(Ok(reply(200, "")));
        epix_partner(&mut f);
        assert!(matches!(run(&f, 1).await, ForwardOutcome::AwaitingPull));
        assert!(f.http.posts().is_empty());
        assert_eq!(f.tracker.state(), Some(DeliveryState::Pending));
    }

    #[tokio::test]
    async fn a_pull_partner_without_an_endpoint_waits_for_its_permits_and_a_use_fails_saying_why() {
        let pulling = || {
            let mut entry = Partner::new("XB".parse().unwrap(), "");
            entry.delivery = crate::directory::DeliveryMode::Pull;
            MemoryDirectory::of([entry])
        };
        let mut f = fakes(Ok(reply(200, "{}")));
        f.partners = pulling();
        assert!(matches!(run(&f, 1).await, ForwardOutcome::AwaitingPull));
        assert_eq!(f.tracker.state(), Some(DeliveryState::Pending));

        let mut f = fakes(Ok(reply(200, "{}")));
        f.partners = pulling();
        let outcome = run_message(&f, &confirmation_to_xa("3"), 1).await;
        assert!(
            matches!(outcome, ForwardOutcome::Failed { exhausted: false, ref reason }
                if reason.contains("XB has no endpoint in the partner directory")
                    && reason.contains("--endpoint")),
            "{outcome:?}"
        );
        assert!(f.http.posts().is_empty());
        assert_eq!(f.tracker.state(), Some(DeliveryState::Failed));
    }

    #[tokio::test]
    async fn a_delivery_no_longer_pending_is_not_sent_again() {
        let mut f = fakes(Ok(reply(200, "{}")));
        f.tracker = MemoryTracker::new(Some(DeliveryState::Delivered));
        assert!(matches!(
            run(&f, 1).await,
            ForwardOutcome::AlreadyDone { .. }
        ));
        assert_eq!(f.http.posts().len(), 0);
    }

    #[tokio::test]
    async fn a_missing_outbox_xml_fails_at_once_without_a_post() {
        let mut f = fakes(Ok(reply(200, "{}")));
        f.blobs = MemoryBlobs::new("b");
        assert!(matches!(
            run(&f, 1).await,
            ForwardOutcome::Failed {
                exhausted: false,
                ..
            }
        ));
        assert_eq!(f.http.posts().len(), 0);
        assert_eq!(f.tracker.state(), Some(DeliveryState::Failed));
    }

    #[tokio::test]
    async fn a_transient_failure_retries_until_the_last_receive_then_fails_exhausted() {
        let f = fakes(Err(HttpError::Connection {
            url: "https://ma.xb.example/cites".into(),
            reason: "connection refused".into(),
        }));
        assert!(matches!(run(&f, 1).await, ForwardOutcome::Retry { .. }));
        assert_eq!(f.tracker.state(), Some(DeliveryState::Pending));
        assert!(matches!(
            run(&f, 3).await,
            ForwardOutcome::Failed {
                exhausted: true,
                ..
            }
        ));
        let attempts = f.tracker.attempts();
        assert_eq!(attempts.len(), 2);
        assert!(attempts[1]
            .last_error
            .as_deref()
            .unwrap()
            .contains("connection refused"));
    }

    #[tokio::test]
    async fn an_ack_with_warnings_is_delivered_with_warnings_and_keeps_them() {
        let ack = r#"{"type":"ack","tracking_number":"XB-9","message_id":"m","status":"DELIVERED_WITH_WARNINGS","findings":[{"severity":"warning","rule":"r","field":"f","message":"odd"}]}"#;
        let f = fakes(Ok(reply(200, ack)));
        assert!(matches!(
            run(&f, 1).await,
            ForwardOutcome::Delivered { warnings: true, .. }
        ));
        let attempts = f.tracker.attempts();
        assert_eq!(attempts[0].state, DeliveryState::DeliveredWithWarnings);
        assert_eq!(attempts[0].tracking_number.as_deref(), Some("XB-9"));
        assert_eq!(attempts[0].last_error.as_deref(), Some("r: odd"));
    }

    #[test]
    fn a_400_not_readable_refusal_is_told_apart_from_other_permanent_refusals() {
        let not_readable = r#"{"type":"refusal","code":"NOT_READABLE","message":"payload is not XML","message_id":"m"}"#;
        match classify_reply(&reply(400, not_readable), "m") {
            ReplyClass::NotReadable(reason) => {
                assert!(reason.contains("payload is not XML"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let forbidden =
            r#"{"type":"refusal","code":"FORBIDDEN","message":"not ours","message_id":"m"}"#;
        assert!(matches!(
            classify_reply(&reply(403, forbidden), "m"),
            ReplyClass::Permanent(_)
        ));
        // A bare 400 without our refusal body says nothing about readability.
        assert!(matches!(
            classify_reply(&reply(400, "bad request"), "m"),
            ReplyClass::Permanent(_)
        ));
    }

    #[tokio::test]
    async fn a_not_readable_refusal_ends_delivered_not_readable_with_the_reason_and_no_retry() {
        let body = r#"{"type":"refusal","code":"NOT_READABLE","message":"payload is not readable XML","message_id":"m"}"#;
        let f = fakes(Ok(reply(400, body)));
        assert!(matches!(
            run(&f, 1).await,
            ForwardOutcome::Failed {
                exhausted: false,
                ..
            }
        ));
        assert_eq!(f.tracker.state(), Some(DeliveryState::DeliveredNotReadable));
        let attempts = f.tracker.attempts();
        assert_eq!(attempts.len(), 1);
        assert!(attempts[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("payload is not readable XML"));
        assert_eq!(attempts[0].tracking_number, None);
    }

    #[tokio::test]
    async fn a_partner_naming_a_client_certificate_is_sent_to_through_the_transport_presenting_it()
    {
        let f = with_certificate("xb-client", || Error::permanent("unused", "unused"));
        assert_eq!(
            run(&f, 1).await,
            ForwardOutcome::Delivered {
                tracking_number: "XB-7".into(),
                warnings: false
            }
        );
        let certificates = f.certificates.as_ref().unwrap();
        assert_eq!(
            certificates.http.posts().len(),
            1,
            "sent with the certificate"
        );
        assert_eq!(f.http.posts().len(), 0, "not without it");
    }

    #[tokio::test]
    async fn a_client_certificate_that_cannot_be_had_fails_for_good_or_retries_as_its_store_failed()
    {
        let f = with_certificate("xb-missing", || {
            Error::permanent("secretsmanager:GetSecretValue", "ResourceNotFoundException")
        });
        assert!(matches!(
            run(&f, 1).await,
            ForwardOutcome::Failed {
                exhausted: false,
                ..
            }
        ));
        let reason = f.tracker.attempts()[0].last_error.clone().unwrap();
        assert!(reason.contains("ResourceNotFoundException"), "{reason}");
        assert_eq!(
            f.http.posts().len(),
            0,
            "nothing sent without the certificate"
        );

        let f = with_certificate("xb-throttled", || {
            Error::transient("secretsmanager:GetSecretValue", "ThrottlingException")
        });
        assert!(matches!(run(&f, 1).await, ForwardOutcome::Retry { .. }));
        assert_eq!(f.tracker.state(), Some(DeliveryState::Pending));
        assert_eq!(f.http.posts().len(), 0);
    }

    /// XB reads `format`, and the outbox holds the canonical XML of a typical permit of XA's.
    fn with_document_format(format: DocumentFormat) -> (Fakes, ecites_domain::Permit) {
        let ack =
            r#"{"type":"ack","tracking_number":"XB-7","message_id":"m","status":"DELIVERED"}"#;
        let mut f = fakes(Ok(reply(200, ack)));
        let mut xb = Partner::new("XB".parse().unwrap(), "https://ma.xb.example/cites");
        xb.document_format = format;
        f.partners = MemoryDirectory::of([xb]);
        let permit = ecites_domain::testing::typical_permit(2);
        let xml = ecites_domain::xml::write_permit(&permit).into_bytes();
        f.blobs = MemoryBlobs::new("b").with("outbox/x.xml", xml);
        (f, permit)
    }

    /// The envelope of the one message posted.
    fn posted_envelope(f: &Fakes) -> Envelope {
        let posts = f.http.posts();
        assert_eq!(posts.len(), 1);
        crate::protocol::parse_envelope(&posts[0].2).unwrap()
    }

    #[tokio::test]
    async fn a_v1_partner_is_sent_a_cbfship_payload_in_the_v1_namespace() {
        let (f, permit) = with_document_format(DocumentFormat::V1);
        assert!(matches!(run(&f, 1).await, ForwardOutcome::Delivered { .. }));
        let envelope = posted_envelope(&f);
        assert_eq!(
            envelope.payload_namespace,
            crate::protocol::PAYLOAD_NAMESPACE_V1
        );
        assert_eq!(envelope.check_fields(), Ok(()));
        assert_eq!(envelope.document_type, "E");
        let payload = String::from_utf8(envelope.payload_bytes().unwrap()).unwrap();
        assert!(
            payload
                .contains("<rsm:CBFShip xmlns:rsm=\"urn:un:unece:uncefact:data:draft:CBFShip:1\""),
            "{payload}"
        );
        assert!(!payload.contains("CITESEPermit"), "{payload}");
        // The same permit, but for what v1 cannot carry.
        let read = ecites_domain::xml::read_permit(payload.as_bytes())
            .unwrap()
            .permit;
        assert_eq!(
            read,
            ecites_domain::xml::read_permit(
                ecites_domain::xml::write_permit_v1(&permit).as_bytes()
            )
            .unwrap()
            .permit
        );
        assert_eq!(read.permit_number, permit.permit_number);
        assert_eq!(read.blocks.len(), 2);
    }

    #[tokio::test]
    async fn a_v2_partner_is_sent_the_outbox_bytes_unchanged() {
        let (f, permit) = with_document_format(DocumentFormat::V2);
        assert!(matches!(run(&f, 1).await, ForwardOutcome::Delivered { .. }));
        let envelope = posted_envelope(&f);
        assert_eq!(envelope.payload_namespace, PAYLOAD_NAMESPACE);
        assert_eq!(
            envelope.payload_bytes().unwrap(),
            ecites_domain::xml::write_permit(&permit).into_bytes()
        );
    }

    #[tokio::test]
    async fn an_outbox_xml_that_cannot_be_read_for_a_v1_partner_fails_at_once_without_a_post() {
        let (mut f, _) = with_document_format(DocumentFormat::V1);
        f.blobs = MemoryBlobs::new("b").with("outbox/x.xml", b"<x/>".to_vec());
        assert!(matches!(
            run(&f, 1).await,
            ForwardOutcome::Failed {
                exhausted: false,
                ..
            }
        ));
        assert_eq!(f.http.posts().len(), 0);
        let reason = f.tracker.attempts()[0].last_error.clone().unwrap();
        assert!(reason.contains("toolkit v1"), "{reason}");
    }

    #[tokio::test]
    async fn an_inactive_partner_fails_at_once_without_a_post() {
        let mut f = fakes(Ok(reply(200, "{}")));
        f.partners = partner("https://ma.xb.example/cites", false);
        assert!(matches!(run(&f, 1).await, ForwardOutcome::Failed { .. }));
        assert_eq!(f.http.posts().len(), 0);
        assert_eq!(f.tracker.state(), Some(DeliveryState::Failed));
        assert!(f.tracker.attempts()[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("inactive"));
    }

    #[tokio::test]
    async fn a_plain_http_endpoint_off_loopback_is_refused() {
        let mut f = fakes(Ok(reply(200, "{}")));
        f.partners = partner("http://ma.xb.example/cites", true);
        assert!(matches!(run(&f, 1).await, ForwardOutcome::Failed { .. }));
        assert_eq!(f.http.posts().len(), 0);
    }
}
