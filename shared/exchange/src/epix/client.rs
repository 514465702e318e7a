//! Our side as an EPIX Connect caller: pulling a permit from a partner MA that only offers the
//! country-adapter interface (its directory entry says `protocol: epix-soap`), and telling it
//! our customs' import confirmation with `ConfirmQuantities`.
//!
//! A pulled permit is stored and recorded as received, as a pushed one is
//! ([`crate::receive`]): the SOAP answer's bytes as they came (`received/<ISSUER>/<number>/
//! <message id>.json` holds them, though they are SOAP), the permit as canonical toolkit v2 XML
//! beside them (whatever toolkit the partner answered in), and a `RECEIVED` record whose
//! tracking number is ours. EPIX carries no version: the non-final certificate is recorded as
//! version 1 (`issued`), the final one (box 14 filled) as version 2 (`endorsed`). The message id
//! is derived from the answer's bytes, so pulling the same answer again records nothing new.
//!
//! Failures are errors the caller records ([`crate::Error`]: transient for no answer within
//! the timeout, no connection, a `Server` fault; permanent for a `Client` fault, an unreadable
//! answer, another permit than asked, a permit with errors); the answer's bytes are kept
//! before anything is read, so nothing the partner sent is lost.

use super::soap::{read_answer, request_body, request_headers, CitesPosition, SoapAnswer};
use super::{FaultCode, Operation, CERTIFICATE_NOT_FOUND, CONTENT_TYPE};
use crate::http::HttpTransport;
use crate::ports::BlobStore;
use crate::protocol::{AckStatus, DocumentStatus, MAX_PERMIT_NUMBER_CHARS};
use crate::receive::{
    document_sha256, document_tracking_number, received_key, received_xml_key, InboundLedger,
    NewReceived,
};
use crate::usage::UseLedger;
use crate::{Clock, Error};
use ecites_domain::{CountryCode, PermitId, Severity};
use sha2::{Digest, Sha256};

/// How the message id of an answer pulled from an EPIX partner begins (`epix-final-` or
/// `epix-nonfinal-`, then the first 32 hex digits of the answer's SHA-256): its objects under
/// `received/` are kept on record whatever the answer was, and the sweep leaves them.
pub const PULLED_MESSAGE_PREFIX: &str = "epix-";

/// The error a fault is: `CertificateNotFound` is [`Error::NotFound`], a `Server` fault
/// transient, any other permanent.
pub fn fault_error(operation: Operation, fault: &super::SoapFault) -> Error {
    let what = format!("epix:{}", operation.name());
    if fault.string == CERTIFICATE_NOT_FOUND {
        return Error::NotFound(format!("{what}: the partner answered {fault}"));
    }
    match fault.code {
        FaultCode::Server => Error::transient(&what, fault),
        _ => Error::permanent(&what, fault),
    }
}

/// The services a pull runs over.
#[derive(Clone, Copy)]
pub struct PullServices<'a> {
    /// Where the answer and the permit are kept.
    pub blobs: &'a dyn BlobStore,
    /// Where the received permit is recorded.
    pub inbound: &'a dyn InboundLedger,
    /// Uses that waited for the permit are checked again when it arrives.
    pub uses: &'a dyn UseLedger,
    /// The clock.
    pub clock: &'a dyn Clock,
}

/// What a pull recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pulled {
    /// The permit.
    pub id: PermitId,
    /// The version recorded (1 non-final, 2 final).
    pub version: u32,
    /// Our tracking number of the received document.
    pub tracking_number: String,
    /// True when the same document was on record before.
    pub duplicate: bool,
    /// The validator's warnings on the permit (`severity rule: message`).
    pub warnings: Vec<String>,
    /// Where the canonical XML is.
    pub xml_key: String,
}

/// Pulls `number` from `issuer`'s service at `endpoint` (`GetNonFinalCitesCertificate`, or
/// `GetFinalCitesCertificate` when `final_certificate`) and records it as received from
/// `issuer`. See the module doc for keys, versions and errors.
pub async fn fetch_permit(
    services: PullServices<'_>,
    transport: &dyn HttpTransport,
    endpoint: &str,
    own_country: CountryCode,
    issuer: CountryCode,
    number: &str,
    final_certificate: bool,
) -> Result<Pulled, Error> {
    let operation = if final_certificate {
        Operation::GetFinalCitesCertificate
    } else {
        Operation::GetNonFinalCitesCertificate
    };
    let what = format!("epix:{}", operation.name());
    if number.is_empty()
        || number.chars().count() > MAX_PERMIT_NUMBER_CHARS
        || number.chars().any(char::is_control)
    {
        return Err(Error::InvalidMessage(format!(
            "permit number {number:?}: 1 to {MAX_PERMIT_NUMBER_CHARS} characters without control characters"
        )));
    }
    let reply = transport
        .post(
            endpoint,
            &request_headers(operation),
            request_body(operation, number, &issuer.to_string(), &[]).into_bytes(),
        )
        .await
        .map_err(|e| e.into_error(&what))?;
    // Kept before it is read: whatever the partner answered stays on record, a fault or an
    // unreadable answer too (the error names where).
    let digest = hex::encode(Sha256::digest(&reply.body));
    let message_id = format!(
        "{PULLED_MESSAGE_PREFIX}{}-{}",
        if final_certificate {
            "final"
        } else {
            "nonfinal"
        },
        &digest[..32]
    );
    let body_key = received_key(issuer, number, &message_id);
    if !reply.body.is_empty() {
        services
            .blobs
            .put(&body_key, reply.body.clone(), CONTENT_TYPE)
            .await?;
    }
    match read_answer(&reply.body) {
        Ok(SoapAnswer::Fault(fault)) => return Err(fault_error(operation, &fault)),
        Ok(SoapAnswer::Answer { .. }) => {}
        Err(why) if matches!(reply.status, 429 | 502..=504) => {
            return Err(Error::transient(
                &what,
                format!("HTTP {}: {why} (kept at {body_key})", reply.status),
            ))
        }
        Err(why) => {
            return Err(Error::permanent(
                &what,
                format!(
                    "HTTP {}: the answer is not SOAP: {why} (kept at {body_key})",
                    reply.status
                ),
            ))
        }
    }
    let decoded = ecites_domain::xml::read_permit(&reply.body)
        .map_err(|e| Error::permanent(&what, format!("{body_key}: not a readable permit: {e}")))?;
    let id = decoded.permit.id();
    if id.as_ref().map(|id| (id.issuer, id.number.as_str())) != Some((issuer, number)) {
        return Err(Error::permanent(
            &what,
            format!(
                "{body_key}: asked for {issuer}/{number}, the answer is {}",
                id.map(|id| id.to_string())
                    .unwrap_or_else(|| "a permit without number or issuer".into())
            ),
        ));
    }
    let findings = ecites_domain::check(&decoded);
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.is_error())
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return Err(Error::permanent(
            &what,
            format!("{body_key}: the permit is invalid: {}", errors.join("; ")),
        ));
    }
    let warnings: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(ToString::to_string)
        .collect();
    let canonical = ecites_domain::xml::write_permit(&decoded.permit).into_bytes();
    let xml_key = received_xml_key(issuer, number, &message_id);
    services
        .blobs
        .put(&xml_key, canonical.clone(), "application/xml")
        .await?;
    let (version, status) = if final_certificate {
        (2, DocumentStatus::Endorsed)
    } else {
        (1, DocumentStatus::Issued)
    };
    let tracking_number = document_tracking_number(own_country, issuer, number, version, status);
    let now = services.clock.now();
    let record = services
        .inbound
        .record_received(&NewReceived {
            from: issuer,
            permit_number: number.to_owned(),
            permit_version: version,
            status,
            document_type: decoded
                .permit
                .document_type
                .as_ref()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            message_id: message_id.clone(),
            tracking_number,
            body_key,
            xml_key: xml_key.clone(),
            document_sha256: document_sha256(&canonical, None),
            signature: String::new(),
            key_id: "epix-soap".into(),
            ack_status: if warnings.is_empty() {
                AckStatus::Delivered
            } else {
                AckStatus::DeliveredWithWarnings
            },
            findings_json: serde_json::to_string(&warnings).unwrap_or_default(),
            received_at: now,
            facts: Some(ecites_domain::usage::PermitFacts::of(&decoded.permit)),
        })
        .await?;
    if record.conflict {
        return Err(Error::permanent(
            &what,
            format!(
                "{issuer}/{number} version {version} was received before with different content \
                 (tracking number {}); this answer is kept as evidence, not recorded",
                record.tracking_number
            ),
        ));
    }
    let id = PermitId {
        issuer,
        number: number.to_owned(),
    };
    if record.uses_waiting {
        crate::usage::recheck_waiting_uses(
            crate::usage::UseServices {
                ledger: services.uses,
                clock: services.clock,
                own_country,
            },
            &id,
        )
        .await?;
    }
    tracing::info!(permit = %id, version, tracking_number = %record.tracking_number, duplicate = record.duplicate, "pulled over EPIX");
    Ok(Pulled {
        id,
        version,
        tracking_number: record.tracking_number,
        duplicate: record.duplicate,
        warnings,
        xml_key,
    })
}

/// The services [`fetch_from_partner`] runs over.
#[derive(Clone, Copy)]
pub struct FetchServices<'a> {
    /// Where the pulled permit goes.
    pub pull: PullServices<'a>,
    /// The partner directory: the partner's service and client certificate.
    pub partners: &'a dyn crate::directory::PartnerDirectory,
    /// Where a failed pull is recorded (an `EPIX_FETCH_FAILED` audit row on the permit).
    pub ledger: &'a dyn crate::query::PullLedger,
    /// HTTP without a client certificate, giving up after [`super::DEFAULT_TIMEOUT`].
    pub transport: &'a dyn HttpTransport,
    /// The client certificates (the partner's entry names one: EPIX callers are known by
    /// theirs); `None` where there is no secret store.
    pub certificates: Option<&'a dyn crate::forward::ClientCertificates>,
}

/// Pulls `number` from `issuer`, a partner whose directory entry says `protocol: epix-soap`,
/// presenting the client certificate its entry names ([`fetch_permit`] for the rest). A pull
/// that fails once the partner was called (no answer in time, a fault, an unreadable answer,
/// a refused permit) is recorded on the permit as an `EPIX_FETCH_FAILED` audit row naming the
/// error, so `ecites status` shows it. Errors besides [`fetch_permit`]'s: the issuer is not in
/// the directory ([`Error::NotFound`]), is inactive, or exchanges envelopes instead
/// (permanent), or its certificate cannot be loaded (as the secret store failed).
pub async fn fetch_from_partner(
    services: FetchServices<'_>,
    own_country: CountryCode,
    issuer: CountryCode,
    number: &str,
    final_certificate: bool,
) -> Result<Pulled, Error> {
    let partner = services
        .partners
        .partner(issuer)
        .await?
        .ok_or_else(|| Error::NotFound(format!("{issuer} is not in the partner directory")))?;
    if !partner.active {
        return Err(Error::permanent(
            "epix",
            format!("{issuer} is inactive in the partner directory"),
        ));
    }
    if partner.protocol != crate::directory::Protocol::EpixSoap {
        return Err(Error::permanent(
            "epix",
            format!(
                "{issuer} exchanges signed envelopes (protocol {}): its permits are pushed to us, not pulled over EPIX",
                partner.protocol.as_str()
            ),
        ));
    }
    let with_certificate = match (
        partner.client_certificate_secret.as_deref(),
        services.certificates,
    ) {
        (None, _) => None,
        (Some(secret), Some(store)) => Some(store.transport(secret).await?),
        (Some(secret), None) => {
            return Err(Error::permanent(
                "client certificate",
                format!("{secret}: no secret store to read it from"),
            ))
        }
    };
    let transport = with_certificate.as_deref().unwrap_or(services.transport);
    let pulled = fetch_permit(
        services.pull,
        transport,
        &partner.endpoint,
        own_country,
        issuer,
        number,
        final_certificate,
    )
    .await;
    if let Err(error) = &pulled {
        if !matches!(error, Error::InvalidMessage(_)) {
            let id = PermitId {
                issuer,
                number: number.to_owned(),
            };
            let detail = crate::protocol::bounded(
                &format!(
                    "{} from {}: {error}",
                    if final_certificate {
                        Operation::GetFinalCitesCertificate
                    } else {
                        Operation::GetNonFinalCitesCertificate
                    }
                    .name(),
                    partner.endpoint
                ),
                crate::protocol::MAX_ANSWER_TEXT_CHARS,
            );
            let now = services.pull.clock.now();
            if let Err(audit) = services
                .ledger
                .audit(&id, now, "EPIX_FETCH_FAILED", &detail)
                .await
            {
                tracing::error!(permit = %id, error = %audit, pull = %detail, "a failed EPIX pull could not be recorded");
            }
        }
    }
    pulled
}

/// The `ConfirmQuantities` positions of an import confirmation: each block's quantity, which
/// EPIX carries as an integer without a unit (the unit is the permit's). `Err` names the block
/// whose quantity is not a whole number, which EPIX cannot carry.
pub fn confirmed_positions(
    used: &ecites_domain::usage::PermitUse,
) -> Result<Vec<CitesPosition>, String> {
    used.blocks
        .iter()
        .map(|block| {
            let value = block.quantity.value.normalize();
            if value.fract() != rust_decimal::Decimal::ZERO {
                return Err(format!(
                    "block {}: {value} is not a whole number, and ConfirmQuantities carries integers",
                    block.block
                ));
            }
            let inspected_unit_quantity = i64::try_from(value)
                .map_err(|_| format!("block {}: {value} is out of range", block.block))?;
            Ok(CitesPosition {
                id: block.block.clone(),
                inspected_unit_quantity,
            })
        })
        .collect()
}
