//! The EPIX Connect country-adapter interface, both ways: our permits served to EPIX-style
//! callers ([`serve`]), and permits pulled from partners who only offer that interface
//! ([`client`]).
//!
//! EPIX Connect (UNEP-WCMC's CITES exchange, `unepwcmc/epix`) is pull-only: a Management
//! Authority runs a SOAP 1.1 document/literal service in `urn:CitesDataExchange` with four
//! operations ([`Operation`]), each taking `CertificateNumber` (box 1), an optional `TokenId`
//! and `IsoCountryCode` (the issuer, the MA asked; `ServiceState` takes only the country).
//! Answers are in `urn:CitesDataExchange/v2/` (`/v1/` for toolkit v1) and hold the permit as
//! an unqualified `CITESEPermit` element whose children are in the toolkit's namespace, then
//! `Attachments` and `Composite`. The caller is identified by its TLS client certificate's
//! country (`C=` of the subject), never by anything in the message. Errors are SOAP faults
//! whose `faultstring` is EPIX's error name ([`CERTIFICATE_MISSING`], ...). The published
//! WSDL is `docs/epix.wsdl`; `docs/epix.md` maps each operation onto the exchange.

pub mod client;
pub mod serve;
pub mod soap;

use ecites_domain::CountryCode;
use std::time::Duration;

/// The service namespace of the operations (EPIX's `wash_out` service).
pub const SERVICE_NAMESPACE: &str = "urn:CitesDataExchange";
/// The namespace of toolkit v2 answers.
pub const RESPONSE_NAMESPACE_V2: &str = "urn:CitesDataExchange/v2/";
/// The namespace of toolkit v1 answers.
pub const RESPONSE_NAMESPACE_V1: &str = "urn:CitesDataExchange/v1/";
/// The namespaces an operation element of a request may be in: the service's, and the
/// versioned ones a Swiss-style adapter client qualifies its requests with.
pub const SERVICE_NAMESPACES: [&str; 3] = [
    SERVICE_NAMESPACE,
    RESPONSE_NAMESPACE_V2,
    RESPONSE_NAMESPACE_V1,
];
/// SOAP 1.1's envelope namespace.
pub const SOAP_ENVELOPE_NAMESPACE: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The path (suffix) of the SOAP endpoint beside the receive endpoint.
pub const EPIX_PATH: &str = "/epix";
/// The media type of SOAP 1.1 messages.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";
/// How long a call to a partner's service may take, EPIX's default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// EPIX's fault when the caller presented no client certificate (or one without `C=`).
pub const CERTIFICATE_MISSING: &str = "CertificateMissing";
/// EPIX's fault when the caller's country is not a Management Authority we know.
pub const CALLER_NOT_FOUND: &str = "CallerNotFound";
/// EPIX's fault when the country asked (`IsoCountryCode`) is not served here.
pub const CALLEE_NOT_FOUND: &str = "CalleeNotFound";
/// EPIX's fault when the caller may not use this adapter (here: its directory entry is
/// inactive).
pub const ADAPTER_NOT_AVAILABLE: &str = "AdapterNotAvailable";
/// EPIX's fault for a request it cannot read.
pub const INVALID_REQUEST: &str = "Invalid Request";
/// EPIX's fault for a `CitesPosition/ID` that is not an XML token.
pub const CITES_POSITION_ID_RULE: &str = "XML structure is not valid. ID must be a token";
/// EPIX's fault text for a call that took too long.
pub const TOO_LONG: &str = "This request took too long to process...";
/// Ours (EPIX's hub has no name for it, since the adapter answers): the permit is unknown, or
/// the caller is not one of its counterparts; the same fault either way.
pub const CERTIFICATE_NOT_FOUND: &str = "CertificateNotFound";
/// Ours: the issuer cancelled the permit (EPIX's answers carry no status, so a cancelled
/// permit is not served as if it were in force).
pub const CERTIFICATE_CANCELLED: &str = "CertificateCancelled";
/// Ours: `GetFinalCitesCertificate` of a permit whose box 14 is not filled yet.
pub const CERTIFICATE_NOT_FINAL: &str = "CertificateNotFinal";
/// Ours: our own infrastructure failed transiently; call again later.
pub const SERVICE_UNAVAILABLE: &str = "ServiceUnavailable";
/// Ours: the quantities confirmed are refused (an unknown block, more than the permit allows).
pub const QUANTITIES_REFUSED: &str = "QuantitiesRefused";

/// One operation of the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// The permit as issued (or as last re-issued).
    GetNonFinalCitesCertificate,
    /// The permit with box 14 filled: what the exporting country's customs endorsed.
    GetFinalCitesCertificate,
    /// The importing country's inspected quantities: an import confirmation.
    ConfirmQuantities,
    /// Whether the service is up.
    ServiceState,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 4] = [
        Operation::GetNonFinalCitesCertificate,
        Operation::GetFinalCitesCertificate,
        Operation::ConfirmQuantities,
        Operation::ServiceState,
    ];

    /// The operation's name (its request element).
    pub fn name(self) -> &'static str {
        match self {
            Operation::GetNonFinalCitesCertificate => "GetNonFinalCitesCertificate",
            Operation::GetFinalCitesCertificate => "GetFinalCitesCertificate",
            Operation::ConfirmQuantities => "ConfirmQuantities",
            Operation::ServiceState => "ServiceState",
        }
    }

    /// The `SOAPAction` (`urn:GetNonFinalCitesCertificate`, ...).
    pub fn soap_action(self) -> &'static str {
        match self {
            Operation::GetNonFinalCitesCertificate => "urn:GetNonFinalCitesCertificate",
            Operation::GetFinalCitesCertificate => "urn:GetFinalCitesCertificate",
            Operation::ConfirmQuantities => "urn:ConfirmQuantities",
            Operation::ServiceState => "urn:ServiceState",
        }
    }

    /// The answer's element.
    pub fn response_element(self) -> &'static str {
        match self {
            Operation::GetNonFinalCitesCertificate => "GetNonFinalCitesCertificateResponse",
            Operation::GetFinalCitesCertificate => "GetFinalCitesCertificateResponse",
            Operation::ConfirmQuantities => "ConfirmQuantitiesResponse",
            Operation::ServiceState => "ServiceStateResponse",
        }
    }

    /// The operation of a request element: its name, or its name with `Request` appended (the
    /// Swiss adapter's form, `GetNonFinalCitesCertificateRequest`).
    pub fn from_element(local: &str) -> Option<Operation> {
        let name = local.strip_suffix("Request").unwrap_or(local);
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// SOAP 1.1's fault codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultCode {
    /// The request is at fault: sending it again unchanged will fail again.
    Client,
    /// The service failed.
    Server,
    /// The envelope is not SOAP 1.1.
    VersionMismatch,
}

impl FaultCode {
    /// The local part of `faultcode`.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultCode::Client => "Client",
            FaultCode::Server => "Server",
            FaultCode::VersionMismatch => "VersionMismatch",
        }
    }

    /// From the local part of a `faultcode` (anything unknown is `Server`).
    pub fn parse(text: &str) -> Self {
        match text {
            "Client" => FaultCode::Client,
            "VersionMismatch" => FaultCode::VersionMismatch,
            _ => FaultCode::Server,
        }
    }
}

/// A SOAP fault: its code, EPIX's error name as `faultstring`, and a sentence naming the field
/// and the rule (`detail/Reason`; empty when the name says it all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoapFault {
    /// `faultcode`.
    pub code: FaultCode,
    /// `faultstring`: EPIX's error name.
    pub string: String,
    /// `detail/Reason`.
    pub reason: String,
}

impl SoapFault {
    /// A fault.
    pub fn new(code: FaultCode, string: impl Into<String>, reason: impl Into<String>) -> Self {
        SoapFault {
            code,
            string: string.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for SoapFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SOAP fault {} {:?}", self.code.as_str(), self.string)?;
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

/// The caller's country from its verified client certificate's subject, as EPIX reads it: the
/// `C=` attribute. Accepts the RFC 2253 form API Gateway passes (`CN=ma.example,O=MA,C=CH`) and
/// OpenSSL's one-line form EPIX's front passes (`/C=CH/O=MA/CN=ma.example`). `None` when there
/// is no `C=` or it is not an ISO 3166-1 alpha-2 code.
pub fn caller_country(subject_dn: &str) -> Option<CountryCode> {
    subject_dn
        .split([',', '/', '+'])
        .filter_map(|part| part.trim().split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("C"))
        .and_then(|(_, value)| value.trim().parse::<CountryCode>().ok())
}

#[cfg(test)]
mod tests;
