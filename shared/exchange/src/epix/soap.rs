//! The SOAP 1.1 messages of the EPIX Connect country-adapter interface: reading a request,
//! writing its answer or fault (the server side), and reading an answer or fault (the client
//! side). Document/literal, as EPIX's `wash_out` service and the Swiss adapter exchange them.
//!
//! The reader is as strict as the permit reader about what XML may do: no DOCTYPE (so no entity
//! is ever defined or expanded), only the five predefined entities and character references,
//! bounded size and depth. Element names are matched by local name; the operation element must
//! be in one of the service's namespaces ([`SERVICE_NAMESPACES`]); its fields may be qualified
//! or not (EPIX's are unqualified, a Savon client's may be qualified).

use super::{
    FaultCode, Operation, SoapFault, CITES_POSITION_ID_RULE, RESPONSE_NAMESPACE_V1,
    RESPONSE_NAMESPACE_V2, SERVICE_NAMESPACES, SOAP_ENVELOPE_NAMESPACE,
};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use std::fmt::Write as _;

/// Largest SOAP request the server reads, in bytes: a request carries a permit number, a
/// country, a token and at most a few hundred quantities.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;
/// Deepest element nesting of a request.
const MAX_REQUEST_DEPTH: usize = 16;
/// Most `CitesPosition` elements of one `ConfirmQuantities` (a permit has at most a few dozen
/// blocks).
pub const MAX_POSITIONS: usize = 500;
/// Longest field value read, in bytes.
const MAX_FIELD_BYTES: usize = 1024;

/// One `CitesPosition` of `ConfirmQuantities`: the permit's block letter (`ID`, an XML token)
/// and the quantity inspected (`InspectedUnitQuantity`, an integer, no unit: the unit is the
/// permit's box 11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CitesPosition {
    /// The block letter (`A`, `B`, ...).
    pub id: String,
    /// The quantity inspected on arrival, in the permit block's unit.
    pub inspected_unit_quantity: i64,
}

/// A request, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoapRequest {
    /// The operation.
    pub operation: Operation,
    /// `CertificateNumber`: the permit number (box 1); empty for `ServiceState`.
    pub certificate_number: String,
    /// `TokenId`: the security token of a protected permit, when sent.
    pub token_id: Option<String>,
    /// `IsoCountryCode`: the country whose MA is asked (the issuer of the permit).
    pub iso_country_code: String,
    /// `ConfirmedQuantities/CitesPosition*` of `ConfirmQuantities`.
    pub confirmed_quantities: Vec<CitesPosition>,
}

fn invalid(why: impl Into<String>) -> SoapFault {
    SoapFault::new(FaultCode::Client, super::INVALID_REQUEST, why)
}

/// The namespace a resolved name is bound to (empty when unbound).
fn namespace(ns: &ResolveResult<'_>) -> String {
    match ns {
        ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
        _ => String::new(),
    }
}

/// Reads a SOAP 1.1 request of the service. `soap_action` is the `SOAPAction` header as sent
/// (quotes allowed): when present and not empty it must name the same operation as the body.
///
/// Errors are [`SoapFault`]s with EPIX's names: `Invalid Request` (with a detail naming the
/// element and the rule) for anything that is not one of the four operations with its fields,
/// and `XML structure is not valid. ID must be a token` for a `CitesPosition/ID` with white
/// space, as EPIX answers it.
pub fn read_request(body: &[u8], soap_action: Option<&str>) -> Result<SoapRequest, SoapFault> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(invalid(format!(
            "the request is {} bytes, above {MAX_REQUEST_BYTES}",
            body.len()
        )));
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = quick_xml::NsReader::from_reader(body);
    let mut buf = Vec::new();
    // Local names of the open elements, outermost first.
    let mut path: Vec<String> = Vec::new();
    let mut operation: Option<Operation> = None;
    let mut text = String::new();
    let mut request = SoapRequest {
        operation: Operation::ServiceState,
        certificate_number: String::new(),
        token_id: None,
        iso_country_code: String::new(),
        confirmed_quantities: Vec::new(),
    };
    let mut position: Option<(Option<String>, Option<String>)> = None;
    let mut seen_body = false;
    loop {
        buf.clear();
        let (ns, event) = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| invalid(format!("the request is not well-formed XML: {e}")))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let uri = namespace(&ns);
                start_element(
                    &path,
                    &local,
                    &uri,
                    &mut operation,
                    &mut seen_body,
                    &mut position,
                )?;
                if path.len() >= MAX_REQUEST_DEPTH {
                    return Err(invalid(format!(
                        "elements are nested deeper than {MAX_REQUEST_DEPTH}"
                    )));
                }
                path.push(local);
                text.clear();
                if empty {
                    end_element(&mut path, &text, &mut request, &mut position)?;
                }
            }
            Event::End(_) => {
                end_element(&mut path, &text, &mut request, &mut position)?;
                text.clear();
            }
            Event::Text(t) => {
                let decoded = t
                    .decode()
                    .map_err(|e| invalid(format!("the request's text is not UTF-8: {e}")))?;
                push_text(&mut text, &decoded)?;
            }
            Event::CData(t) => {
                push_text(&mut text, &String::from_utf8_lossy(&t))?;
            }
            Event::GeneralRef(r) => {
                let c = reference_char(&r).map_err(invalid)?;
                push_text(&mut text, c.encode_utf8(&mut [0; 4]))?;
            }
            Event::DocType(_) => {
                return Err(invalid(
                    "a DOCTYPE is not accepted (no entity is ever defined)",
                ))
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    let Some(operation) = operation else {
        return Err(invalid(if seen_body {
            "the Body holds no operation element"
        } else {
            "no SOAP 1.1 Envelope with a Body"
        }));
    };
    request.operation = operation;
    if let Some(action) = soap_action.map(|a| a.trim().trim_matches('"')) {
        if !action.is_empty() && action != operation.soap_action() {
            return Err(invalid(format!(
                "SOAPAction {action:?} does not name the body's operation ({})",
                operation.soap_action()
            )));
        }
    }
    if request.iso_country_code.is_empty() {
        return Err(invalid(format!(
            "{}/IsoCountryCode: required (the country of the MA asked)",
            operation.name()
        )));
    }
    if operation != Operation::ServiceState && request.certificate_number.is_empty() {
        return Err(invalid(format!(
            "{}/CertificateNumber: required (the permit number, box 1)",
            operation.name()
        )));
    }
    if operation == Operation::ConfirmQuantities && request.confirmed_quantities.is_empty() {
        return Err(invalid(
            "ConfirmQuantities/ConfirmedQuantities: at least one CitesPosition is required",
        ));
    }
    Ok(request)
}

/// The character a reference in text stands for: a character reference, or one of the five
/// entities XML predefines. Any other entity is refused, naming it: no DOCTYPE is read, so none
/// is ever defined.
fn reference_char(reference: &quick_xml::events::BytesRef<'_>) -> Result<char, String> {
    match reference.resolve_char_ref() {
        Ok(Some(c)) => Ok(c),
        Ok(None) => match reference.as_ref() {
            b"amp" => Ok('&'),
            b"lt" => Ok('<'),
            b"gt" => Ok('>'),
            b"apos" => Ok('\''),
            b"quot" => Ok('"'),
            other => Err(format!(
                "the entity &{}; is not defined (only the five XML entities are)",
                String::from_utf8_lossy(other)
            )),
        },
        Err(e) => Err(format!("a character reference: {e}")),
    }
}

/// The HTTP headers of a request of `operation`: SOAP 1.1's media type and the quoted
/// `SOAPAction`.
pub fn request_headers(operation: Operation) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", super::CONTENT_TYPE.to_owned()),
        ("soapaction", format!("\"{}\"", operation.soap_action())),
    ]
}

fn push_text(text: &mut String, more: &str) -> Result<(), SoapFault> {
    if text.len() + more.len() > MAX_FIELD_BYTES {
        return Err(invalid(format!(
            "a value is longer than {MAX_FIELD_BYTES} bytes"
        )));
    }
    text.push_str(more);
    Ok(())
}

/// Checks an element where it starts: the envelope's structure and the operation.
fn start_element(
    path: &[String],
    local: &str,
    uri: &str,
    operation: &mut Option<Operation>,
    seen_body: &mut bool,
    position: &mut Option<(Option<String>, Option<String>)>,
) -> Result<(), SoapFault> {
    match path.len() {
        0 => {
            if local != "Envelope" {
                return Err(invalid(format!(
                    "the root element is {local}, not a SOAP Envelope"
                )));
            }
            if uri != SOAP_ENVELOPE_NAMESPACE {
                return Err(SoapFault::new(
                    FaultCode::VersionMismatch,
                    super::INVALID_REQUEST,
                    format!("Envelope: the namespace {uri:?} is not SOAP 1.1's ({SOAP_ENVELOPE_NAMESPACE})"),
                ));
            }
        }
        1 if uri == SOAP_ENVELOPE_NAMESPACE && local == "Body" => *seen_body = true,
        2 if path[1] == "Body" => {
            if operation.is_some() {
                return Err(invalid("the Body holds more than one operation element"));
            }
            let found = Operation::from_element(local)
                .ok_or_else(|| invalid(format!("{local} is not an operation of the service")))?;
            if !SERVICE_NAMESPACES.contains(&uri) {
                return Err(invalid(format!(
                    "{local}: the namespace {uri:?} is not the service's (urn:CitesDataExchange)"
                )));
            }
            *operation = Some(found);
        }
        4 if path[3] == "ConfirmedQuantities" && local == "CitesPosition" => {
            *position = Some((None, None));
        }
        _ => {}
    }
    Ok(())
}

/// Takes a field's value where its element ends.
fn end_element(
    path: &mut Vec<String>,
    text: &str,
    request: &mut SoapRequest,
    position: &mut Option<(Option<String>, Option<String>)>,
) -> Result<(), SoapFault> {
    let value = text.trim();
    let depth = path.len();
    let Some(local) = path.pop() else {
        return Ok(());
    };
    // Fields are children of the operation element (depth 4: Envelope/Body/Operation/Field).
    if depth == 4 && path.get(1).map(String::as_str) == Some("Body") {
        match local.as_str() {
            "CertificateNumber" => request.certificate_number = value.to_owned(),
            "TokenId" => request.token_id = (!value.is_empty()).then(|| value.to_owned()),
            "IsoCountryCode" => request.iso_country_code = value.to_owned(),
            _ => {}
        }
    }
    if depth == 6 && path.get(3).map(String::as_str) == Some("ConfirmedQuantities") {
        if let Some((id, quantity)) = position.as_mut() {
            match local.as_str() {
                // The ID is read untrimmed: EPIX refuses white space in it.
                "ID" => *id = Some(text.to_owned()),
                "InspectedUnitQuantity" => *quantity = Some(value.to_owned()),
                _ => {}
            }
        }
    }
    if depth == 5 && local == "CitesPosition" {
        if let Some((id, quantity)) = position.take() {
            let index = request.confirmed_quantities.len() + 1;
            let id = id.unwrap_or_default();
            if id.is_empty() {
                return Err(invalid(format!(
                    "ConfirmedQuantities/CitesPosition[{index}]/ID: required (the block letter)"
                )));
            }
            if id.chars().any(char::is_whitespace) {
                return Err(SoapFault::new(
                    FaultCode::Client,
                    CITES_POSITION_ID_RULE,
                    format!(
                        "ConfirmedQuantities/CitesPosition[{index}]/ID {id:?} contains white space"
                    ),
                ));
            }
            let quantity = quantity.unwrap_or_default();
            let inspected_unit_quantity = quantity.parse::<i64>().map_err(|_| {
                invalid(format!(
                    "ConfirmedQuantities/CitesPosition[{index}]/InspectedUnitQuantity {quantity:?} is not an integer"
                ))
            })?;
            if inspected_unit_quantity < 0 {
                return Err(invalid(format!(
                    "ConfirmedQuantities/CitesPosition[{index}]/InspectedUnitQuantity {inspected_unit_quantity} is negative"
                )));
            }
            if request.confirmed_quantities.len() >= MAX_POSITIONS {
                return Err(invalid(format!(
                    "ConfirmedQuantities: more than {MAX_POSITIONS} CitesPosition elements"
                )));
            }
            request.confirmed_quantities.push(CitesPosition {
                id,
                inspected_unit_quantity,
            });
        }
    }
    Ok(())
}

/// Escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Which toolkit the answer carries, and so its response namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolkitVersion {
    /// Toolkit v1 (`CBFShip`), answers in `urn:CitesDataExchange/v1/`.
    V1,
    /// Toolkit v2 (`CITESEPermit`), answers in `urn:CitesDataExchange/v2/`.
    V2,
}

impl ToolkitVersion {
    /// The answer's namespace.
    pub fn response_namespace(self) -> &'static str {
        match self {
            ToolkitVersion::V1 => RESPONSE_NAMESPACE_V1,
            ToolkitVersion::V2 => RESPONSE_NAMESPACE_V2,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            ToolkitVersion::V1 => "v1",
            ToolkitVersion::V2 => "v2",
        }
    }
}

fn envelope(version: ToolkitVersion, content: &str) -> String {
    let mut out = String::with_capacity(content.len() + 400);
    out.push_str(XML_DECLARATION);
    let _ = write!(
        out,
        "<soapenv:Envelope xmlns:soapenv=\"{SOAP_ENVELOPE_NAMESPACE}\" xmlns:{}=\"{}\">\n  <soapenv:Header/>\n  <soapenv:Body>\n",
        version.prefix(),
        version.response_namespace()
    );
    out.push_str(content);
    out.push_str("  </soapenv:Body>\n</soapenv:Envelope>\n");
    out
}

/// The answer to `GetNonFinalCitesCertificate` or `GetFinalCitesCertificate`: the permit
/// document (`permit_xml`, a whole XML document whose root is `CITESEPermit`, or `CBFShip` for
/// v1) as the unqualified `CITESEPermit` (`CBFShip`) element of the response, as EPIX's
/// fixtures have it, then `Composite` (`false`: one document). No `Attachments`: the exchange
/// carries none.
///
/// Errors when `permit_xml` is not a readable XML document (our own stored XML always is).
pub fn certificate_response(
    operation: Operation,
    version: ToolkitVersion,
    permit_xml: &str,
) -> Result<String, String> {
    let permit = unprefixed_root(permit_xml)?;
    let name = operation.response_element();
    let prefix = version.prefix();
    let mut content = String::with_capacity(permit.len() + 200);
    let _ = writeln!(content, "    <{prefix}:{name}>");
    content.push_str(&permit);
    if !permit.ends_with('\n') {
        content.push('\n');
    }
    content.push_str("      <Composite>false</Composite>\n");
    let _ = writeln!(content, "    </{prefix}:{name}>");
    Ok(envelope(version, &content))
}

/// The answer to `ConfirmQuantities`: `Confirmed` true and our tracking number of the import
/// confirmation recorded. (EPIX's public source fixes no answer for this operation beyond a
/// string; this shape is documented in `docs/epix.wsdl`.)
pub fn confirm_quantities_response(tracking_number: &str, duplicate: bool) -> String {
    let content = format!(
        "    <v2:ConfirmQuantitiesResponse>\n      <Confirmed>true</Confirmed>\n      <TrackingNumber>{}</TrackingNumber>\n      <Duplicate>{duplicate}</Duplicate>\n    </v2:ConfirmQuantitiesResponse>\n",
        escape(tracking_number)
    );
    envelope(ToolkitVersion::V2, &content)
}

/// The answer to `ServiceState`: `Available` (the function answers only when it runs).
pub fn service_state_response() -> String {
    envelope(
        ToolkitVersion::V2,
        "    <v2:ServiceStateResponse>\n      <ServiceState>Available</ServiceState>\n    </v2:ServiceStateResponse>\n",
    )
}

/// A SOAP 1.1 fault: `faultcode` (`soap:Client`, `soap:Server`), `faultstring` the EPIX error
/// name, and, when there is one, a `detail/Reason` sentence naming the field and the rule.
pub fn fault_response(fault: &SoapFault) -> String {
    let mut out = String::with_capacity(400);
    out.push_str(XML_DECLARATION);
    let _ = write!(
        out,
        "<soap:Envelope xmlns:soap=\"{SOAP_ENVELOPE_NAMESPACE}\">\n  <soap:Body>\n    <soap:Fault>\n      <faultcode>soap:{}</faultcode>\n      <faultstring>{}</faultstring>\n",
        fault.code.as_str(),
        escape(&fault.string)
    );
    if !fault.reason.is_empty() {
        let _ = writeln!(
            out,
            "      <detail>\n        <Reason>{}</Reason>\n      </detail>",
            escape(&fault.reason)
        );
    }
    out.push_str("    </soap:Fault>\n  </soap:Body>\n</soap:Envelope>\n");
    out
}

/// The permit document without its XML declaration and with its root element unprefixed
/// (`rsm:CITESEPermit` becomes `CITESEPermit`, keeping every namespace declaration so the
/// children's prefixes stay bound); every other byte of the document as it was.
fn unprefixed_root(xml: &str) -> Result<String, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut writer = quick_xml::Writer::new(Vec::with_capacity(xml.len() + 64));
    let mut depth = 0usize;
    let mut root: Option<Vec<u8>> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("the stored permit is not XML: {e}"))?;
        let out = match event {
            Event::Decl(_) | Event::DocType(_) => continue,
            Event::Start(e) if depth == 0 => {
                depth += 1;
                root = Some(e.local_name().as_ref().to_vec());
                Event::Start(renamed(&e))
            }
            Event::Empty(e) if depth == 0 => Event::Empty(renamed(&e)),
            Event::Start(e) => {
                depth += 1;
                Event::Start(e)
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    let name = root.clone().unwrap_or_default();
                    Event::End(quick_xml::events::BytesEnd::new(
                        String::from_utf8_lossy(&name).into_owned(),
                    ))
                } else {
                    Event::End(e)
                }
            }
            Event::Text(t) if depth == 0 => {
                let _ = t;
                continue;
            }
            Event::Eof => break,
            other => other,
        };
        writer
            .write_event(out)
            .map_err(|e| format!("writing the permit element: {e}"))?;
    }
    if root.is_none() {
        return Err("the stored permit has no root element".into());
    }
    // Not re-indented: indentation inside a multi-line text value is part of the value.
    String::from_utf8(writer.into_inner()).map_err(|e| e.to_string())
}

fn renamed<'a>(e: &BytesStart<'a>) -> BytesStart<'static> {
    let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    let mut out = BytesStart::new(local);
    for attribute in e.attributes().flatten() {
        out.push_attribute(attribute);
    }
    out.into_owned()
}

/// What a partner's SOAP service answered, read by the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SoapAnswer {
    /// An answer of the operation: the whole body, for the permit reader (which finds the
    /// `CITESEPermit` or `CBFShip` inside the envelope), and the `Composite` flag when given.
    Answer {
        /// The response element's local name (`GetNonFinalCitesCertificateResponse`, ...).
        element: String,
        /// `Composite`, when the answer has it.
        composite: Option<bool>,
    },
    /// A SOAP fault.
    Fault(SoapFault),
}

/// Reads a partner's SOAP answer: a fault (its code, string and detail text) or the response
/// element of an operation. `Err` names what is unreadable.
pub fn read_answer(body: &[u8]) -> Result<SoapAnswer, String> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = quick_xml::NsReader::from_reader(body);
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut fault: Option<SoapFault> = None;
    let mut element: Option<String> = None;
    let mut composite = None;
    loop {
        buf.clear();
        let (ns, event) = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| format!("the answer is not well-formed XML: {e}"))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.is_empty()
                    && (local != "Envelope" || namespace(&ns) != SOAP_ENVELOPE_NAMESPACE)
                {
                    return Err(format!(
                        "the answer's root is {{{}}}{local}, not a SOAP 1.1 Envelope",
                        namespace(&ns)
                    ));
                }
                if path.len() == 2 && path[1] == "Body" {
                    if local == "Fault" {
                        fault = Some(SoapFault::new(FaultCode::Server, "", ""));
                    } else {
                        element = Some(local.clone());
                    }
                }
                if path.len() >= 64 {
                    return Err("the answer is nested deeper than 64".into());
                }
                path.push(local);
                text.clear();
                if empty {
                    path.pop();
                }
            }
            Event::End(_) => {
                let local = path.pop().unwrap_or_default();
                let value = text.trim().to_owned();
                if let Some(fault) = fault.as_mut() {
                    match local.as_str() {
                        "faultcode" => {
                            let code = value.rsplit(':').next().unwrap_or_default();
                            fault.code = FaultCode::parse(code);
                        }
                        "faultstring" => fault.string = value.clone(),
                        _ if path.iter().any(|p| p == "detail") && !value.is_empty() => {
                            if !fault.reason.is_empty() {
                                fault.reason.push_str("; ");
                            }
                            fault.reason.push_str(&value);
                        }
                        _ => {}
                    }
                }
                if local == "Composite" && path.len() == 3 {
                    composite = match value.as_str() {
                        "true" | "1" => Some(true),
                        "false" | "0" => Some(false),
                        _ => None,
                    };
                }
                text.clear();
            }
            Event::Text(t) if text.len() < MAX_FIELD_BYTES => {
                text.push_str(&t.decode().map_err(|e| e.to_string())?);
            }
            Event::GeneralRef(r) => {
                let c = reference_char(&r)?;
                text.push(c);
            }
            Event::DocType(_) => return Err("the answer has a DOCTYPE".into()),
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(fault) = fault {
        return Ok(SoapAnswer::Fault(fault));
    }
    match element {
        Some(element) => Ok(SoapAnswer::Answer { element, composite }),
        None => Err("the answer's Body is empty".into()),
    }
}

/// A request of the client: the operation element in `urn:CitesDataExchange` with unqualified
/// fields, as the service's WSDL (`docs/epix.wsdl`) describes it.
pub fn request_body(
    operation: Operation,
    certificate_number: &str,
    iso_country_code: &str,
    confirmed: &[CitesPosition],
) -> String {
    let mut out = String::with_capacity(600);
    out.push_str(XML_DECLARATION);
    let _ = write!(
        out,
        "<soapenv:Envelope xmlns:soapenv=\"{SOAP_ENVELOPE_NAMESPACE}\" xmlns:urn=\"{}\">\n  <soapenv:Header/>\n  <soapenv:Body>\n    <urn:{}>\n",
        super::SERVICE_NAMESPACE,
        operation.name()
    );
    if operation != Operation::ServiceState {
        let _ = writeln!(
            out,
            "      <CertificateNumber>{}</CertificateNumber>",
            escape(certificate_number)
        );
    }
    let _ = writeln!(
        out,
        "      <IsoCountryCode>{}</IsoCountryCode>",
        escape(iso_country_code)
    );
    if operation == Operation::ConfirmQuantities {
        out.push_str("      <ConfirmedQuantities>\n");
        for position in confirmed {
            let _ = writeln!(
                out,
                "        <CitesPosition>\n          <ID>{}</ID>\n          <InspectedUnitQuantity>{}</InspectedUnitQuantity>\n        </CitesPosition>",
                escape(&position.id),
                position.inspected_unit_quantity
            );
        }
        out.push_str("      </ConfirmedQuantities>\n");
    }
    let _ = write!(
        out,
        "    </urn:{}>\n  </soapenv:Body>\n</soapenv:Envelope>\n",
        operation.name()
    );
    out
}

/// The text of the response element's child `name` (`TrackingNumber`, `Confirmed`, ...) in an
/// answer [`read_answer`] read as [`SoapAnswer::Answer`]; `None` when it has none. Entity
/// references other than the five XML ones make it `None`.
pub fn response_field(body: &[u8], name: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut inside = false;
    let mut text = String::new();
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) => {
                depth += 1;
                inside = depth == 4 && e.local_name().as_ref() == name.as_bytes();
                text.clear();
            }
            Event::Text(t) if inside && text.len() < MAX_FIELD_BYTES => {
                text.push_str(&t.decode().ok()?);
            }
            Event::GeneralRef(r) if inside => text.push(reference_char(&r).ok()?),
            Event::End(_) => {
                if inside {
                    return Some(text.trim().to_owned());
                }
                depth = depth.saturating_sub(1);
            }
            Event::DocType(_) | Event::Eof => return None,
            _ => {}
        }
    }
}
