//! Our side of the EPIX Connect country-adapter interface: a SOAP request from a partner MA,
//! identified by its verified TLS client certificate, answered from the ledger.
//!
//! | operation | answer |
//! |---|---|
//! | `GetNonFinalCitesCertificate` | the current version of one of our permits: toolkit v2 in `urn:CitesDataExchange/v2/`, or v1 (`CBFShip`, in `/v1/`) for a partner whose directory entry says `document_format: v1` |
//! | `GetFinalCitesCertificate` | the same, once box 14 is filled (the exporting customs' endorsement recorded); else `CertificateNotFinal` |
//! | `ConfirmQuantities` | an import confirmation of our permit by the caller's customs, with the inspected quantities per block in the permit's units (EPIX itself drops them) |
//! | `ServiceState` | `Available` |
//!
//! Who may read: the caller must be an active partner ([`CALLER_NOT_FOUND`],
//! [`ADAPTER_NOT_AVAILABLE`]), ask this deployment's country ([`CALLEE_NOT_FOUND`]), and read
//! the permit under the one rule of [`crate::query::read_permit_for`] (a counterpart, or a
//! recipient of one of its deliveries); an unknown number and a permit the caller may not read
//! get the same [`CERTIFICATE_NOT_FOUND`] fault, byte for byte. Each read is audited on the
//! permit (`QUERIED`, `QUERY_REFUSED`), as a signed query is. A certificate served to a partner
//! whose deliveries wait for it to fetch them (an EPIX partner pulls) moves those deliveries to
//! `DELIVERED`, with the tracking number `EPIX-<caller>-v<version>`.

use super::soap::{
    certificate_response, confirm_quantities_response, fault_response, read_request,
    service_state_response, SoapRequest, ToolkitVersion,
};
use super::{
    caller_country, FaultCode, Operation, SoapFault, ADAPTER_NOT_AVAILABLE, CALLEE_NOT_FOUND,
    CALLER_NOT_FOUND, CERTIFICATE_CANCELLED, CERTIFICATE_MISSING, CERTIFICATE_NOT_FINAL,
    CERTIFICATE_NOT_FOUND, INVALID_REQUEST, QUANTITIES_REFUSED, SERVICE_UNAVAILABLE,
};
use crate::directory::PartnerDirectory;
use crate::forward::{Attempt, DeliveryTracker};
use crate::ledger::{DeliveryKind, DeliveryState};
use crate::ports::BlobStore;
use crate::protocol::MAX_PERMIT_NUMBER_CHARS;
use crate::query::{delivery_to, read_permit_for, PullLedger, QueriedStatus, Readable, Reader};
use crate::receive::ReceiveSettings;
use crate::receive_use::use_tracking_number;
use crate::usage::{record_use_telling, UseLedger, UseOutcome, UseServices};
use crate::{Clock, Error};
use ecites_domain::usage::{PermitFacts, PermitUse, UseBlock, UseKind, UsedPermit};
use ecites_domain::{CountryCode, PermitId, Timestamp};
use rust_decimal::Decimal;

/// The services the SOAP endpoint runs over.
#[derive(Clone, Copy)]
pub struct EpixServices<'a> {
    /// The partner directory: who the callers are.
    pub partners: &'a dyn PartnerDirectory,
    /// Our permits, their deliveries, and the audit rows of each read.
    pub ledger: &'a dyn PullLedger,
    /// Where confirmed quantities are recorded as uses.
    pub uses: &'a dyn UseLedger,
    /// The deliveries an EPIX partner's fetch completes.
    pub tracker: &'a dyn DeliveryTracker,
    /// Where the permits' standard XML is.
    pub blobs: &'a dyn BlobStore,
    /// The clock.
    pub clock: &'a dyn Clock,
}

/// What the endpoint answers: an HTTP status (200, or 500 for a fault as SOAP 1.1 §6.2 wants,
/// 405 for a method other than POST) and the SOAP body, and whether it counts as refused (a
/// `Client` fault) or unavailable (a `Server` fault) for the receive metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoapReply {
    /// The HTTP status.
    pub status: u16,
    /// The SOAP envelope.
    pub body: String,
    /// The fault, when the answer is one.
    pub fault: Option<SoapFault>,
}

impl SoapReply {
    fn answer(body: String) -> Self {
        SoapReply {
            status: 200,
            body,
            fault: None,
        }
    }

    fn fault(fault: SoapFault) -> Self {
        SoapReply {
            status: 500,
            body: fault_response(&fault),
            fault: Some(fault),
        }
    }

    /// The status the receive metrics count: 200, 4xx for a `Client` fault (the refusals
    /// alarm), 503 for a `Server` fault.
    pub fn metric_status(&self) -> u16 {
        match &self.fault {
            None => self.status,
            Some(fault) if fault.code == FaultCode::Server => 503,
            Some(_) => 400,
        }
    }
}

fn client(name: &str, reason: impl Into<String>) -> SoapFault {
    SoapFault::new(FaultCode::Client, name, reason)
}

/// The one answer for "unknown" and "not yours": no reason that could tell them apart.
fn not_found() -> SoapFault {
    client(CERTIFICATE_NOT_FOUND, "")
}

/// Answers one SOAP request. `caller_subject_dn` is the verified client certificate's subject
/// as the front door passes it (API Gateway's `requestContext.identity.clientCert.subjectDN`);
/// `None` when the request came without mutual TLS. Never fails: every problem is a fault.
pub async fn serve_epix(
    services: EpixServices<'_>,
    settings: &ReceiveSettings,
    caller_subject_dn: Option<&str>,
    method: &str,
    soap_action: Option<&str>,
    body: &[u8],
) -> SoapReply {
    if !method.eq_ignore_ascii_case("POST") {
        let mut reply = SoapReply::fault(client(INVALID_REQUEST, "use POST"));
        reply.status = 405;
        return reply;
    }
    let Some(caller) = caller_subject_dn.and_then(caller_country) else {
        return SoapReply::fault(client(
            CERTIFICATE_MISSING,
            "the request came without a client certificate whose subject names a country (C=)",
        ));
    };
    let request = match read_request(body, soap_action) {
        Ok(request) => request,
        Err(fault) => return SoapReply::fault(fault),
    };
    match serve_inner(services, settings, caller, &request).await {
        Ok(reply) => reply,
        Err(error) => {
            if error.is_transient() {
                tracing::warn!(error = %error, %caller, "EPIX request failed transiently");
            } else {
                tracing::error!(error = %error, %caller, "EPIX request failed");
            }
            SoapReply::fault(SoapFault::new(
                FaultCode::Server,
                SERVICE_UNAVAILABLE,
                "the service could not read its records; call again later",
            ))
        }
    }
}

async fn serve_inner(
    services: EpixServices<'_>,
    settings: &ReceiveSettings,
    caller: CountryCode,
    request: &SoapRequest,
) -> Result<SoapReply, Error> {
    let partner = match services.partners.partner(caller).await? {
        Some(partner) => partner,
        None => {
            return Ok(SoapReply::fault(client(
                CALLER_NOT_FOUND,
                format!("{caller} is not a partner of {}", settings.own_country),
            )))
        }
    };
    if !partner.active {
        return Ok(SoapReply::fault(client(
            ADAPTER_NOT_AVAILABLE,
            format!(
                "{caller} does not currently exchange with {}",
                settings.own_country
            ),
        )));
    }
    if request.iso_country_code != settings.own_country.to_string() {
        return Ok(SoapReply::fault(client(
            CALLEE_NOT_FOUND,
            format!(
                "IsoCountryCode {:?}: this service answers for {} only",
                request.iso_country_code, settings.own_country
            ),
        )));
    }
    if request.operation == Operation::ServiceState {
        return Ok(SoapReply::answer(service_state_response()));
    }
    let number = request.certificate_number.as_str();
    if number.chars().count() > MAX_PERMIT_NUMBER_CHARS || number.chars().any(char::is_control) {
        return Ok(SoapReply::fault(not_found()));
    }
    let id = PermitId {
        issuer: settings.own_country,
        number: number.to_owned(),
    };
    let now = services.clock.now();
    let asker = format!("EPIX caller {caller} ({})", request.operation.name());
    let Some(read) = read_permit_for(
        services.ledger,
        services.blobs,
        now,
        &id,
        None,
        Reader::Partner(caller),
        &asker,
    )
    .await?
    else {
        return Ok(SoapReply::fault(not_found()));
    };
    match request.operation {
        // A cancelled permit is not served as if in force (EPIX's answers carry no status).
        // Its confirmed quantities are still recorded below: a use of a cancelled permit is
        // the very fact an alert is for.
        Operation::GetNonFinalCitesCertificate | Operation::GetFinalCitesCertificate
            if read.queried == QueriedStatus::Cancelled =>
        {
            Ok(SoapReply::fault(client(
                CERTIFICATE_CANCELLED,
                format!("the issuer cancelled permit {}", id.number),
            )))
        }
        Operation::GetNonFinalCitesCertificate | Operation::GetFinalCitesCertificate => {
            let facts = PermitFacts::of(&read.permit);
            let endorsed = facts.blocks.iter().any(|b| b.endorsed.is_some());
            if request.operation == Operation::GetFinalCitesCertificate && !endorsed {
                return Ok(SoapReply::fault(client(
                    CERTIFICATE_NOT_FINAL,
                    "box 14 is not filled yet: the exporting country's customs have not endorsed the permit",
                )));
            }
            // A partner on toolkit v1 gets the v1 document (`CBFShip`, in
            // urn:CitesDataExchange/v1/), as EPIX answers it; the store stays v2.
            let (version, xml) = match partner.document_format {
                crate::directory::DocumentFormat::V1 => (
                    ToolkitVersion::V1,
                    ecites_domain::xml::write_permit_v1(&read.permit),
                ),
                crate::directory::DocumentFormat::V2 => (
                    ToolkitVersion::V2,
                    String::from_utf8(read.xml.clone())
                        .map_err(|_| Error::permanent("epix", "our stored XML is not UTF-8"))?,
                ),
            };
            let body = certificate_response(request.operation, version, &xml)
                .map_err(|why| Error::permanent("epix", why))?;
            services
                .ledger
                .audit(
                    &id,
                    now,
                    "QUERIED",
                    &format!("v{} by {asker}: {:?}", read.wanted, read.queried),
                )
                .await?;
            fetched_by(services, &id, caller, &read).await?;
            tracing::info!(%caller, permit = %id, version = read.wanted, operation = request.operation.name(), "EPIX certificate served");
            Ok(SoapReply::answer(body))
        }
        Operation::ConfirmQuantities => {
            confirm(services, settings, caller, &id, request, &read).await
        }
        Operation::ServiceState => Ok(SoapReply::answer(service_state_response())),
    }
}

/// An EPIX partner pulls: the permit versions it was to be delivered, up to the one served,
/// are delivered now (`EPIX-<caller>-v<version>` as the tracking number, which EPIX does not
/// give). Deliveries already final are left as they are.
async fn fetched_by(
    services: EpixServices<'_>,
    id: &PermitId,
    caller: CountryCode,
    read: &Readable,
) -> Result<(), Error> {
    let recipient = caller.to_string();
    for waiting in read.status.deliveries.iter().filter(|d| {
        d.recipient == recipient
            && d.state == DeliveryState::Pending
            && d.kind != DeliveryKind::Use
            && d.version <= read.wanted
    }) {
        let delivery = delivery_to(id, waiting.version, waiting.kind, caller);
        let attempt = Attempt {
            state: DeliveryState::Delivered,
            tracking_number: Some(format!("EPIX-{caller}-v{}", waiting.version)),
            last_error: None,
            at: services.clock.now(),
        };
        if services.tracker.record_attempt(&delivery, &attempt).await? {
            tracing::info!(delivery_id = %delivery.delivery_id, "fetched over EPIX: delivered");
        }
    }
    Ok(())
}

/// `ConfirmQuantities` as an import confirmation: reported by the caller's customs, today,
/// with each position's quantity in the unit of the permit's block (EPIX sends integers
/// without a unit). The declaration number is `EPIX-<caller>-<permit number>`, so a repeated
/// call is the same use (a duplicate), not a second consignment.
async fn confirm(
    services: EpixServices<'_>,
    settings: &ReceiveSettings,
    caller: CountryCode,
    id: &PermitId,
    request: &SoapRequest,
    read: &Readable,
) -> Result<SoapReply, Error> {
    let facts = PermitFacts::of(&read.permit);
    let mut blocks = Vec::with_capacity(request.confirmed_quantities.len());
    for (index, position) in request.confirmed_quantities.iter().enumerate() {
        let Some(block) = facts.blocks.iter().find(|b| b.id == position.id) else {
            return Ok(SoapReply::fault(client(
                QUANTITIES_REFUSED,
                format!(
                    "ConfirmedQuantities/CitesPosition[{}]/ID {:?} is not a block of permit {} (blocks: {})",
                    index + 1,
                    position.id,
                    id.number,
                    facts
                        .blocks
                        .iter()
                        .map(|b| b.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )));
        };
        let unit = block.quantity.as_ref().and_then(|q| q.unit.clone());
        blocks.push(UseBlock {
            block: position.id.clone(),
            quantity: ecites_domain::model::Quantity {
                value: Decimal::from(position.inspected_unit_quantity),
                unit,
            },
            dead_on_arrival: None,
        });
    }
    let today = services.clock.now().date_naive();
    let used = PermitUse {
        kind: UseKind::ImportConfirmation,
        permit: UsedPermit {
            issuer: id.issuer.to_string(),
            number: id.number.clone(),
            version: None,
        },
        reported_by: caller.to_string(),
        declaration_number: format!("EPIX-{caller}-{}", id.number),
        date: Timestamp::Date(today),
        port: None,
        customs_office: None,
        officer: None,
        blocks,
        reason: None,
    };
    let outcome = record_use_telling(
        UseServices {
            ledger: services.uses,
            clock: services.clock,
            own_country: settings.own_country,
        },
        used,
        &format!("epix:{caller}/ConfirmQuantities"),
        None,
    )
    .await?;
    match outcome {
        UseOutcome::Refused { findings } => Ok(SoapReply::fault(client(
            QUANTITIES_REFUSED,
            findings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ))),
        UseOutcome::Recorded { key, duplicate, .. } => {
            Ok(SoapReply::answer(confirm_quantities_response(
                &use_tracking_number(settings.own_country, id, &key),
                duplicate,
            )))
        }
    }
}
