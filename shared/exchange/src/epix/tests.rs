use super::soap::*;
use super::*;

/// EPIX Connect's recorded v2 answer (MIT, `shared/domain/tests/fixtures/epix/LICENSE`).
const EPIX_V2: &str =
    include_str!("../../../domain/tests/fixtures/epix/v2-get-non-final-cites-certificate.xml");

fn request(operation: &str, namespace: &str, fields: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:urn=\"{namespace}\">\
         <soapenv:Header/><soapenv:Body><urn:{operation}>{fields}</urn:{operation}></soapenv:Body></soapenv:Envelope>"
    )
}

fn fault_of(result: Result<SoapRequest, SoapFault>) -> SoapFault {
    result.expect_err("the request must be refused")
}

#[test]
fn a_request_in_the_wsdl_form_reads_its_operation_and_fields() {
    let body = request(
        "GetNonFinalCitesCertificate",
        SERVICE_NAMESPACE,
        "<CertificateNumber> XA-2026-0001 </CertificateNumber><TokenId>t0k</TokenId><IsoCountryCode>XA</IsoCountryCode>",
    );
    let read = read_request(body.as_bytes(), Some("\"urn:GetNonFinalCitesCertificate\"")).unwrap();
    assert_eq!(read.operation, Operation::GetNonFinalCitesCertificate);
    assert_eq!(read.certificate_number, "XA-2026-0001");
    assert_eq!(read.token_id.as_deref(), Some("t0k"));
    assert_eq!(read.iso_country_code, "XA");
}

#[test]
fn a_swiss_style_request_element_with_qualified_fields_reads_the_same() {
    let body = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:v1=\"urn:CitesDataExchange/v2/\">\
        <soapenv:Body><v1:GetFinalCitesCertificateRequest><v1:CertificateNumber>N&amp;1</v1:CertificateNumber>\
        <v1:IsoCountryCode>XA</v1:IsoCountryCode></v1:GetFinalCitesCertificateRequest></soapenv:Body></soapenv:Envelope>";
    let read = read_request(body.as_bytes(), None).unwrap();
    assert_eq!(read.operation, Operation::GetFinalCitesCertificate);
    assert_eq!(read.certificate_number, "N&1");
    assert_eq!(read.token_id, None);
}

#[test]
fn confirm_quantities_reads_each_cites_position() {
    let body = request(
        "ConfirmQuantities",
        SERVICE_NAMESPACE,
        "<CertificateNumber>N1</CertificateNumber><IsoCountryCode>XA</IsoCountryCode>\
         <ConfirmedQuantities><CitesPosition><ID>A</ID><InspectedUnitQuantity>5</InspectedUnitQuantity></CitesPosition>\
         <CitesPosition><ID>B</ID><InspectedUnitQuantity> 10 </InspectedUnitQuantity></CitesPosition></ConfirmedQuantities>",
    );
    let read = read_request(body.as_bytes(), Some("urn:ConfirmQuantities")).unwrap();
    assert_eq!(
        read.confirmed_quantities,
        vec![
            CitesPosition {
                id: "A".into(),
                inspected_unit_quantity: 5
            },
            CitesPosition {
                id: "B".into(),
                inspected_unit_quantity: 10
            }
        ]
    );
}

#[test]
fn a_cites_position_id_with_white_space_gets_epix_s_own_client_fault() {
    let body = request(
        "ConfirmQuantities",
        SERVICE_NAMESPACE,
        "<CertificateNumber>N1</CertificateNumber><IsoCountryCode>XA</IsoCountryCode>\
         <ConfirmedQuantities><CitesPosition><ID>A B</ID><InspectedUnitQuantity>5</InspectedUnitQuantity></CitesPosition></ConfirmedQuantities>",
    );
    let fault = fault_of(read_request(body.as_bytes(), None));
    assert_eq!(fault.code, FaultCode::Client);
    assert_eq!(fault.string, CITES_POSITION_ID_RULE);
    assert!(fault.reason.contains("CitesPosition[1]/ID"), "{fault}");
}

#[test]
fn a_quantity_that_is_not_an_integer_is_an_invalid_request_naming_the_position() {
    let body = request(
        "ConfirmQuantities",
        SERVICE_NAMESPACE,
        "<CertificateNumber>N1</CertificateNumber><IsoCountryCode>XA</IsoCountryCode>\
         <ConfirmedQuantities><CitesPosition><ID>A</ID><InspectedUnitQuantity>5</InspectedUnitQuantity></CitesPosition>\
         <CitesPosition><ID>B</ID><InspectedUnitQuantity>2.5</InspectedUnitQuantity></CitesPosition></ConfirmedQuantities>",
    );
    let fault = fault_of(read_request(body.as_bytes(), None));
    assert_eq!(fault.string, INVALID_REQUEST);
    assert!(
        fault
            .reason
            .contains("CitesPosition[2]/InspectedUnitQuantity \"2.5\" is not an integer"),
        "{fault}"
    );
}

#[test]
fn missing_fields_are_invalid_requests_naming_the_element() {
    let no_number = request(
        "GetNonFinalCitesCertificate",
        SERVICE_NAMESPACE,
        "<IsoCountryCode>XA</IsoCountryCode>",
    );
    let fault = fault_of(read_request(no_number.as_bytes(), None));
    assert_eq!(fault.string, INVALID_REQUEST);
    assert!(
        fault
            .reason
            .contains("GetNonFinalCitesCertificate/CertificateNumber: required"),
        "{fault}"
    );
    let no_country = request("ServiceState", SERVICE_NAMESPACE, "");
    let fault = fault_of(read_request(no_country.as_bytes(), None));
    assert!(
        fault.reason.contains("ServiceState/IsoCountryCode"),
        "{fault}"
    );
    let no_positions = request(
        "ConfirmQuantities",
        SERVICE_NAMESPACE,
        "<CertificateNumber>N1</CertificateNumber><IsoCountryCode>XA</IsoCountryCode>",
    );
    let fault = fault_of(read_request(no_positions.as_bytes(), None));
    assert!(
        fault.reason.contains("at least one CitesPosition"),
        "{fault}"
    );
}

#[test]
fn service_state_needs_only_the_country() {
    let body = request(
        "ServiceState",
        SERVICE_NAMESPACE,
        "<IsoCountryCode>XA</IsoCountryCode>",
    );
    let read = read_request(body.as_bytes(), Some("urn:ServiceState")).unwrap();
    assert_eq!(read.operation, Operation::ServiceState);
}

#[test]
fn a_soap_action_naming_another_operation_is_refused() {
    let body = request(
        "GetNonFinalCitesCertificate",
        SERVICE_NAMESPACE,
        "<CertificateNumber>N1</CertificateNumber><IsoCountryCode>XA</IsoCountryCode>",
    );
    let fault = fault_of(read_request(body.as_bytes(), Some("urn:ConfirmQuantities")));
    assert_eq!(fault.string, INVALID_REQUEST);
    assert!(fault.reason.contains("SOAPAction"), "{fault}");
}

#[test]
fn an_unknown_operation_or_foreign_namespace_is_an_invalid_request() {
    let unknown = request(
        "DeleteCitesCertificate",
        SERVICE_NAMESPACE,
        "<IsoCountryCode>XA</IsoCountryCode>",
    );
    assert!(fault_of(read_request(unknown.as_bytes(), None))
        .reason
        .contains("DeleteCitesCertificate is not an operation"));
    let foreign = request(
        "ServiceState",
        "urn:example:other",
        "<IsoCountryCode>XA</IsoCountryCode>",
    );
    assert!(fault_of(read_request(foreign.as_bytes(), None))
        .reason
        .contains("is not the service's"));
}

#[test]
fn a_soap_1_2_envelope_is_a_version_mismatch() {
    let body = "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Body/></env:Envelope>";
    let fault = fault_of(read_request(body.as_bytes(), None));
    assert_eq!(fault.code, FaultCode::VersionMismatch);
}

#[test]
fn a_doctype_or_an_undefined_entity_is_refused_and_nothing_is_expanded() {
    let doctype = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"XA-1\">]>\
        <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>\
        <urn:ServiceState xmlns:urn=\"urn:CitesDataExchange\"><IsoCountryCode>&e;</IsoCountryCode></urn:ServiceState>\
        </soapenv:Body></soapenv:Envelope>";
    assert!(fault_of(read_request(doctype.as_bytes(), None))
        .reason
        .contains("DOCTYPE"));
    let undefined = request(
        "ServiceState",
        SERVICE_NAMESPACE,
        "<IsoCountryCode>&e;</IsoCountryCode>",
    );
    assert!(fault_of(read_request(undefined.as_bytes(), None))
        .reason
        .contains("&e; is not defined"));
}

#[test]
fn size_depth_and_count_are_bounded() {
    let big = vec![b' '; MAX_REQUEST_BYTES + 1];
    assert!(fault_of(read_request(&big, None)).reason.contains("bytes"));
    let deep = request(
        "ServiceState",
        SERVICE_NAMESPACE,
        &format!(
            "{}<IsoCountryCode>XA</IsoCountryCode>{}",
            "<x>".repeat(20),
            "</x>".repeat(20)
        ),
    );
    assert!(fault_of(read_request(deep.as_bytes(), None))
        .reason
        .contains("nested deeper"));
    let long = request(
        "ServiceState",
        SERVICE_NAMESPACE,
        &format!("<IsoCountryCode>{}</IsoCountryCode>", "X".repeat(2000)),
    );
    assert!(fault_of(read_request(long.as_bytes(), None))
        .reason
        .contains("longer than"));
    let positions: String = (0..=MAX_POSITIONS)
        .map(|i| format!("<CitesPosition><ID>P{i}</ID><InspectedUnitQuantity>1</InspectedUnitQuantity></CitesPosition>"))
        .collect();
    let many = request(
        "ConfirmQuantities",
        SERVICE_NAMESPACE,
        &format!("<CertificateNumber>N1</CertificateNumber><IsoCountryCode>XA</IsoCountryCode><ConfirmedQuantities>{positions}</ConfirmedQuantities>"),
    );
    assert!(fault_of(read_request(many.as_bytes(), None))
        .reason
        .contains("more than 500 CitesPosition"));
}

#[test]
fn epix_s_recorded_answer_reads_as_an_answer_with_its_composite_flag() {
    let answer = read_answer(EPIX_V2.as_bytes()).unwrap();
    assert_eq!(
        answer,
        SoapAnswer::Answer {
            element: "GetNonFinalCitesCertificateResponse".into(),
            composite: Some(false)
        }
    );
}

#[test]
fn our_answer_carries_the_same_permit_in_epix_s_shape() {
    let permit = ecites_domain::xml::read_permit(EPIX_V2.as_bytes())
        .unwrap()
        .permit;
    let canonical = ecites_domain::xml::write_permit(&permit);
    let answer = certificate_response(
        Operation::GetNonFinalCitesCertificate,
        ToolkitVersion::V2,
        &canonical,
    )
    .unwrap();
    // EPIX's shape: the response element in urn:CitesDataExchange/v2/, an unqualified
    // CITESEPermit holding the toolkit's elements, then Composite.
    assert!(answer.contains("xmlns:v2=\"urn:CitesDataExchange/v2/\""));
    assert!(answer.contains("<v2:GetNonFinalCitesCertificateResponse>"));
    assert!(answer.contains("<CITESEPermit xmlns:"), "{answer}");
    assert!(answer.contains("</CITESEPermit>"));
    assert!(!answer.contains("rsm:CITESEPermit"));
    assert!(answer.contains("<Composite>false</Composite>"));
    assert_eq!(
        read_answer(answer.as_bytes()).unwrap(),
        SoapAnswer::Answer {
            element: "GetNonFinalCitesCertificateResponse".into(),
            composite: Some(false)
        }
    );
    let again = ecites_domain::xml::read_permit(answer.as_bytes())
        .unwrap()
        .permit;
    assert_eq!(again, permit);
}

#[test]
fn a_fault_we_write_reads_back_with_its_code_name_and_reason() {
    let fault = SoapFault::new(
        FaultCode::Client,
        CALLER_NOT_FOUND,
        "the certificate's country XQ is not a partner <of> XA",
    );
    let text = fault_response(&fault);
    assert!(text.contains("<faultstring>CallerNotFound</faultstring>"));
    assert_eq!(
        read_answer(text.as_bytes()).unwrap(),
        SoapAnswer::Fault(fault)
    );
}

#[test]
fn our_requests_read_back_as_the_same_request() {
    let positions = vec![CitesPosition {
        id: "A".into(),
        inspected_unit_quantity: 7,
    }];
    for operation in Operation::ALL {
        let body = request_body(operation, "XC/2026&1", "XC", &positions);
        let read = read_request(body.as_bytes(), Some(operation.soap_action())).unwrap();
        assert_eq!(read.operation, operation);
        assert_eq!(read.iso_country_code, "XC");
        if operation != Operation::ServiceState {
            assert_eq!(read.certificate_number, "XC/2026&1");
        }
        if operation == Operation::ConfirmQuantities {
            assert_eq!(read.confirmed_quantities, positions);
        }
    }
}

#[test]
fn the_callers_country_is_the_c_attribute_of_either_subject_form() {
    let ch: CountryCode = "CH".parse().unwrap();
    assert_eq!(caller_country("CN=ma.example,O=FSVO,C=CH"), Some(ch));
    assert_eq!(caller_country("/C=CH/O=FSVO/CN=ma.example"), Some(ch));
    assert_eq!(caller_country("c = CH , CN=x"), Some(ch));
    assert_eq!(caller_country("CN=ma.example,O=FSVO"), None);
    assert_eq!(caller_country("CN=ma.example,C=Switzerland"), None);
    assert_eq!(caller_country(""), None);
}

#[test]
fn operations_have_epix_s_actions_and_accept_both_element_forms() {
    for operation in Operation::ALL {
        assert_eq!(operation.soap_action(), format!("urn:{}", operation.name()));
        assert_eq!(Operation::from_element(operation.name()), Some(operation));
        assert_eq!(
            Operation::from_element(&format!("{}Request", operation.name())),
            Some(operation)
        );
    }
    assert_eq!(Operation::from_element("Request"), None);
}

#[test]
fn confirmed_positions_are_whole_quantities_and_a_fraction_is_refused_naming_the_block() {
    let mut used: ecites_domain::usage::PermitUse = serde_json::from_value(serde_json::json!({
        "kind": "import_confirmation",
        "permit": {"issuer": "XA", "number": "26XA0001"},
        "reported_by": "XB",
        "declaration_number": "XB-DEC-1",
        "date": "2026-02-12",
        "blocks": [{"block": "A", "quantity": {"value": "3.000"}},
                   {"block": "B", "quantity": {"value": "12", "unit": "KGM"}}]
    }))
    .unwrap();
    assert_eq!(
        super::client::confirmed_positions(&used).unwrap(),
        vec![
            CitesPosition {
                id: "A".into(),
                inspected_unit_quantity: 3
            },
            CitesPosition {
                id: "B".into(),
                inspected_unit_quantity: 12
            }
        ]
    );
    used.blocks[1].quantity.value = rust_decimal::Decimal::new(125, 1);
    let why = super::client::confirmed_positions(&used).unwrap_err();
    assert!(
        why.starts_with("block B: 12.5 is not a whole number"),
        "{why}"
    );
}

#[test]
fn the_counterparts_of_epix_s_permit_are_its_countries_of_export_import_origin_and_re_export() {
    let permit = ecites_domain::xml::read_permit(EPIX_V2.as_bytes())
        .unwrap()
        .permit;
    let codes: Vec<String> = crate::query::counterparts(&permit)
        .iter()
        .map(ToString::to_string)
        .collect();
    // Exporter XA, importer XB, origins XC (block A) and TH (block B), last re-export FR
    // (block B): the one rule the signed query and the EPIX service share.
    assert_eq!(codes, ["FR", "TH", "XA", "XB", "XC"]);
}

#[tokio::test]
async fn only_an_active_epix_partner_is_pulled_from() {
    use super::client::{fetch_from_partner, FetchServices, PullServices};
    use crate::directory::{Partner, Protocol};
    use crate::testing::{
        FixedClock, MemoryBlobs, MemoryDirectory, MemoryInbound, NoUses, RecordingHttp,
    };
    let envelopes = Partner::new("XC".parse().unwrap(), "https://xc.example/");
    let mut inactive = Partner::new("XD".parse().unwrap(), "https://xd.example/epix");
    inactive.protocol = Protocol::EpixSoap;
    inactive.active = false;
    let directory = MemoryDirectory::of([envelopes, inactive]);
    let blobs = MemoryBlobs::new("b");
    let inbound = MemoryInbound::default();
    let clock = FixedClock::at("2026-11-30T12:00:00Z");
    let http = RecordingHttp::status(200);
    let services = FetchServices {
        pull: PullServices {
            blobs: &blobs,
            inbound: &inbound,
            uses: &NoUses,
            clock: &clock,
        },
        partners: &directory,
        ledger: &crate::testing::MemoryPull::default(),
        transport: &http,
        certificates: None,
    };
    let own = "XB".parse().unwrap();
    let error = |country: &str| {
        let country = country.parse().unwrap();
        async move {
            fetch_from_partner(services, own, country, "N1", false)
                .await
                .unwrap_err()
                .to_string()
        }
    };
    assert!(error("XC")
        .await
        .contains("exchanges signed envelopes (protocol ecites)"));
    assert!(error("XD").await.contains("inactive"));
    assert!(error("XQ").await.contains("not in the partner directory"));
    assert!(http.posts().is_empty(), "nothing is called");
}

/// EPIX Connect's recorded toolkit v1 answer (MIT).
const EPIX_V1: &str =
    include_str!("../../../domain/tests/fixtures/epix/v1-get-non-final-cites-certificate.xml");

#[tokio::test]
async fn a_toolkit_v1_answer_is_pulled_into_canonical_v2() {
    use super::client::{fetch_permit, PullServices};
    use crate::http::HttpReply;
    use crate::testing::{FixedClock, MemoryBlobs, MemoryInbound, NoUses, RecordingHttp};
    let blobs = MemoryBlobs::new("b");
    let inbound = MemoryInbound::default();
    let clock = FixedClock::at("2026-11-30T12:00:00Z");
    let http = RecordingHttp::answering(Ok(HttpReply {
        status: 200,
        retry_after: None,
        body: EPIX_V1.as_bytes().to_vec(),
    }));
    let services = PullServices {
        blobs: &blobs,
        inbound: &inbound,
        uses: &NoUses,
        clock: &clock,
    };
    let pulled = fetch_permit(
        services,
        &http,
        "http://127.0.0.1:9/epix",
        "XB".parse().unwrap(),
        "XA".parse().unwrap(),
        "XA000000",
        false,
    )
    .await
    .unwrap();
    let objects = blobs.objects();
    let canonical = &objects[&pulled.xml_key];
    let stored = String::from_utf8_lossy(canonical);
    assert!(stored.contains("CITESEPermit"), "stored as v2: {stored}");
    let from_v1 = ecites_domain::xml::read_permit(canonical).unwrap().permit;
    let mut from_v2 = ecites_domain::xml::read_permit(EPIX_V2.as_bytes())
        .unwrap()
        .permit;
    // Toolkit v1 has no element for a block's marks (docs/standard-format.md §7).
    for block in &mut from_v2.blocks {
        block.marks.clear();
    }
    assert_eq!(from_v1, from_v2);
    assert_eq!(inbound.received(), 1);
}

/// XA's permit 26XA0001 to XB, cancelled by XA, as the ledger and the bucket hold it.
fn cancelled_permit() -> (crate::testing::MemoryPull, crate::testing::MemoryBlobs) {
    use crate::ledger::{PermitStatus, VersionInfo, VersionState};
    // EPIX's recorded permit (XA to XB), under another number.
    let mut permit = ecites_domain::xml::read_permit(EPIX_V2.as_bytes())
        .unwrap()
        .permit;
    permit.permit_number = "26XA0001".into();
    let xml = ecites_domain::xml::write_permit(&permit);
    let status = PermitStatus {
        state: Some("CANCELLED".into()),
        versions: vec![VersionInfo {
            version: 1,
            state: VersionState::Cancelled,
            content_sha256: String::new(),
            xml_key: "outbox/XA/26XA0001/v1.xml".into(),
            document_type: "E".into(),
            source: "test".into(),
            received_at: "2026-11-01T00:00:00Z".into(),
        }],
        ..PermitStatus::default()
    };
    (
        crate::testing::MemoryPull::holding(
            ecites_domain::PermitId {
                issuer: "XA".parse().unwrap(),
                number: "26XA0001".into(),
            },
            status,
        ),
        crate::testing::MemoryBlobs::new("b").with("outbox/XA/26XA0001/v1.xml", xml),
    )
}

#[tokio::test]
async fn a_cancelled_permit_is_not_served_but_its_confirmed_quantities_are_recorded() {
    use super::serve::{serve_epix, EpixServices};
    use crate::testing::{FixedClock, MemoryDirectory, MemoryTracker, NoUses};
    let (ledger, blobs) = cancelled_permit();
    let directory = MemoryDirectory::of([crate::directory::Partner::new(
        "XB".parse().unwrap(),
        "https://xb.example/",
    )]);
    let tracker = MemoryTracker::new(None);
    let clock = FixedClock::at("2026-11-30T12:00:00Z");
    let services = EpixServices {
        partners: &directory,
        ledger: &ledger,
        uses: &NoUses,
        tracker: &tracker,
        blobs: &blobs,
        clock: &clock,
    };
    let settings = crate::receive::ReceiveSettings {
        own_country: "XA".parse().unwrap(),
        max_body_bytes: 1 << 20,
    };
    let ask = |operation: Operation, positions: Vec<CitesPosition>| {
        let body = request_body(operation, "26XA0001", "XA", &positions);
        let settings = &settings;
        async move {
            serve_epix(
                services,
                settings,
                Some("CN=MA of XB,C=XB"),
                "POST",
                Some(operation.soap_action()),
                body.as_bytes(),
            )
            .await
        }
    };
    let read = ask(Operation::GetNonFinalCitesCertificate, vec![]).await;
    assert_eq!(
        read.fault.as_ref().map(|f| f.string.as_str()),
        Some(CERTIFICATE_CANCELLED)
    );
    let confirmed = ask(
        Operation::ConfirmQuantities,
        vec![CitesPosition {
            id: "A".into(),
            inspected_unit_quantity: 1,
        }],
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert!(confirmed.body.contains("<Confirmed>true</Confirmed>"));
}
