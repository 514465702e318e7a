//! The EPIX Connect country-adapter interface served end to end: XA's real receive function on
//! moto, behind a loopback REST API custom domain with mutual TLS (rustls with a truststore, the
//! verified client certificate passed in `requestContext.identity.clientCert` as API Gateway
//! does), called over HTTPS by partner MAs identified by their certificates' countries.
//!
//! One test in this binary: it points `SSL_CERT_FILE` (the roots the partner client loads) at
//! the front door's authority, for the whole process.

use ecites_e2e::*;
use ecites_exchange::epix::soap::{read_answer, request_body, CitesPosition, SoapAnswer};
use ecites_exchange::epix::{
    Operation, CALLEE_NOT_FOUND, CALLER_NOT_FOUND, CERTIFICATE_MISSING, CERTIFICATE_NOT_FINAL,
    CERTIFICATE_NOT_FOUND, QUANTITIES_REFUSED,
};
use ecites_exchange::http::{HttpReply, HttpTransport};
use ecites_exchange::usage::UseLedger as _;
use ecites_exchange::Partner;
use ecites_local::emulation::front_door::FrontDoorServer;
use ecites_local::emulation::tls_front::ClientAuthority;
use std::time::Duration;

const QUIET: Duration = Duration::from_secs(30);

/// A partner MA's SOAP client presenting a certificate `authority` issued to `country`.
fn client_of(authority: &ClientAuthority, country: &str) -> ecites_aws::http::HyperTransport {
    let (certificate, key) = authority
        .issue_in(&format!("MA of {country}"), Some(country))
        .unwrap();
    ecites_aws::http::HyperTransport::for_partners_with_client_certificate(
        Duration::from_secs(5),
        &certificate,
        &key,
    )
    .unwrap()
}

async fn call(
    client: &dyn HttpTransport,
    url: &str,
    operation: Operation,
    number: &str,
    country: &str,
    positions: &[CitesPosition],
) -> Result<HttpReply, ecites_exchange::http::HttpError> {
    client
        .post(
            &format!("{}epix", url),
            &ecites_exchange::epix::soap::request_headers(operation),
            request_body(operation, number, country, positions).into_bytes(),
        )
        .await
}

fn fault_name(reply: &HttpReply) -> String {
    match read_answer(&reply.body).unwrap() {
        SoapAnswer::Fault(fault) => fault.string,
        answer => panic!("expected a fault, got {answer:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epix_callers_are_known_by_their_certificates_country_and_read_only_their_own_permits() {
    let (xa, xb) = start_pair().await;
    // XC is a partner of XA too, but no counterpart of the permit below.
    let mut directory = vec![xb.as_partner()];
    let mut xc = Partner::new("XC".parse().unwrap(), "https://xc.invalid/");
    xc.public_key = xb.as_partner().public_key;
    directory.push(xc);
    xa.set_directory(directory).await.unwrap();
    xa.drop_permit(
        "26XA0900",
        &fixtures::export_permit("26XA0900", "XA", "XB", 10),
    )
    .await
    .unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();

    let dir = std::env::temp_dir().join(format!("ecites-epix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let truststore = ClientAuthority::new().unwrap();
    let front = FrontDoorServer::start_mutual_tls(xa.receive.clone(), &truststore, &dir)
        .await
        .unwrap();
    std::env::set_var("SSL_CERT_FILE", front.ca_pem().unwrap());
    let url = front.url();
    let xb_client = client_of(&truststore, "XB");

    // XB, the importer, gets the permit in EPIX's shape.
    let reply = call(
        &xb_client,
        &url,
        Operation::GetNonFinalCitesCertificate,
        "26XA0900",
        "XA",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(matches!(
        read_answer(&reply.body).unwrap(),
        SoapAnswer::Answer { ref element, composite: Some(false) } if element == "GetNonFinalCitesCertificateResponse"
    ));
    let permit = ecites_domain::xml::read_permit(&reply.body).unwrap().permit;
    assert_eq!(permit.permit_number, "26XA0900");
    assert_eq!(
        permit
            .importer
            .as_ref()
            .and_then(|p| p.address.country.as_ref())
            .map(|c| c.as_str().to_owned()),
        Some("XB".to_owned())
    );

    // XC may not read it, and learns nothing: the same fault, byte for byte, as an unknown
    // number asked by XB.
    let xc_client = client_of(&truststore, "XC");
    let not_yours = call(
        &xc_client,
        &url,
        Operation::GetNonFinalCitesCertificate,
        "26XA0900",
        "XA",
        &[],
    )
    .await
    .unwrap();
    let unknown = call(
        &xb_client,
        &url,
        Operation::GetNonFinalCitesCertificate,
        "26XA9999",
        "XA",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(not_yours.status, 500);
    assert_eq!(fault_name(&not_yours), CERTIFICATE_NOT_FOUND);
    assert_eq!(not_yours.body, unknown.body);

    // A country that is not a partner, and a request for another country's MA.
    let xq_client = client_of(&truststore, "XQ");
    let stranger = call(&xq_client, &url, Operation::ServiceState, "", "XA", &[])
        .await
        .unwrap();
    assert_eq!(fault_name(&stranger), CALLER_NOT_FOUND);
    let elsewhere = call(
        &xb_client,
        &url,
        Operation::GetNonFinalCitesCertificate,
        "26XA0900",
        "XD",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(fault_name(&elsewhere), CALLEE_NOT_FOUND);
    let state = call(&xb_client, &url, Operation::ServiceState, "", "XA", &[])
        .await
        .unwrap();
    assert_eq!(state.status, 200);
    assert!(String::from_utf8_lossy(&state.body).contains("<ServiceState>Available</ServiceState>"));

    // No final certificate before XA's customs endorse the export (box 14).
    let not_final = call(
        &xb_client,
        &url,
        Operation::GetFinalCitesCertificate,
        "26XA0900",
        "XA",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(fault_name(&not_final), CERTIFICATE_NOT_FINAL);
    xa.local
        .send_direct(&fixtures::use_message(
            "export_endorsement",
            "XA",
            "26XA0900",
            "XA",
            "XA-DEC-900",
            "2026-02-10",
            8,
        ))
        .await
        .unwrap();
    xa.local.drain(DRAIN).await.unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    let endorsed = call(
        &xb_client,
        &url,
        Operation::GetFinalCitesCertificate,
        "26XA0900",
        "XA",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        endorsed.status,
        200,
        "{}",
        String::from_utf8_lossy(&endorsed.body)
    );
    assert!(String::from_utf8_lossy(&endorsed.body).contains("ExaminationTransportEvent"));

    // XB's ConfirmQuantities is an import confirmation at XA, with the quantity EPIX drops, in
    // the block's unit; the same call again is the same use.
    let positions = [CitesPosition {
        id: "A".into(),
        inspected_unit_quantity: 7,
    }];
    // XB's first confirmation comes from the Python client written from the WSDL alone
    // (docs/examples/epix_client.py), over the same mutual TLS.
    let (certificate, key) = truststore.issue_in("MA of XB", Some("XB")).unwrap();
    std::fs::write(dir.join("xb.pem"), certificate).unwrap();
    std::fs::write(dir.join("xb.key"), key).unwrap();
    let python = |args: &[&str]| {
        let endpoint = format!("{url}epix");
        let cert = dir.join("xb.pem");
        let key = dir.join("xb.key");
        let ca = front.ca_pem().unwrap().to_path_buf();
        let mut command =
            std::process::Command::new(ecites_local::emulation::reference_partner::python());
        command
            .arg(ecites_local::emulation::moto::repo_root().join("docs/examples/epix_client.py"))
            .arg("--endpoint")
            .arg(endpoint)
            .arg("--cert")
            .arg(cert)
            .arg("--key")
            .arg(key)
            .arg("--ca")
            .arg(ca)
            .args(["--country", "XA"])
            .args(args);
        let output = command.output().expect("python runs");
        let line = String::from_utf8_lossy(&output.stdout).into_owned();
        (
            output.status.code(),
            serde_json::from_str::<serde_json::Value>(line.trim()).unwrap_or_else(|e| {
                panic!("{e}: {line} {}", String::from_utf8_lossy(&output.stderr))
            }),
        )
    };
    let python_get = tokio::task::block_in_place(|| python(&["get", "26XA0900"]));
    assert_eq!(python_get.0, Some(0), "{}", python_get.1);
    assert_eq!(python_get.1["permit_number"], "26XA0900");
    assert_eq!(python_get.1["composite"], "false");
    let python_unknown = tokio::task::block_in_place(|| python(&["get", "26XA9999"]));
    assert_eq!(python_unknown.0, Some(1));
    assert_eq!(
        python_unknown.1["fault"]["faultstring"],
        CERTIFICATE_NOT_FOUND
    );
    let python_confirm = tokio::task::block_in_place(|| python(&["confirm", "26XA0900", "A=7"]));
    assert_eq!(python_confirm.0, Some(0), "{}", python_confirm.1);
    assert_eq!(python_confirm.1["Confirmed"], "true");
    assert_eq!(python_confirm.1["Duplicate"], "false");
    let again = call(
        &xb_client,
        &url,
        Operation::ConfirmQuantities,
        "26XA0900",
        "XA",
        &positions,
    )
    .await
    .unwrap();
    let again_text = String::from_utf8_lossy(&again.body).into_owned();
    assert!(
        again_text.contains("<Duplicate>true</Duplicate>"),
        "{again_text}"
    );
    assert!(again_text.contains(&format!(
        "<TrackingNumber>{}</TrackingNumber>",
        python_confirm.1["TrackingNumber"].as_str().unwrap()
    )));
    let uses = xa
        .local
        .function
        .ledger()
        .permit_uses(&id("XA", "26XA0900"))
        .await
        .unwrap();
    let confirmation = uses
        .uses
        .iter()
        .find(|u| u.on_record.reported.kind == ecites_domain::usage::UseKind::ImportConfirmation)
        .expect("the import confirmation on XA's ledger");
    assert_eq!(confirmation.on_record.reported.reported_by, "XB");
    assert_eq!(
        confirmation.on_record.reported.blocks[0].quantity.value,
        rust_decimal::Decimal::from(7)
    );
    let unknown_block = call(
        &xb_client,
        &url,
        Operation::ConfirmQuantities,
        "26XA0900",
        "XA",
        &[CitesPosition {
            id: "Z".into(),
            inspected_unit_quantity: 1,
        }],
    )
    .await
    .unwrap();
    assert_eq!(fault_name(&unknown_block), QUANTITIES_REFUSED);

    // XB's entry asks for toolkit v1: the same permit comes as CBFShip, as EPIX's v1 answers.
    let mut xb_v1 = xb.as_partner();
    xb_v1.document_format = ecites_exchange::directory::DocumentFormat::V1;
    let mut xc_again = Partner::new("XC".parse().unwrap(), "https://xc.invalid/");
    xc_again.public_key = xb.as_partner().public_key;
    xa.set_directory(vec![xb_v1, xc_again]).await.unwrap();
    tokio::time::sleep(ecites_local::stack::exchange::PairOptions::default().directory_ttl * 2)
        .await;
    let v1 = call(
        &xb_client,
        &url,
        Operation::GetNonFinalCitesCertificate,
        "26XA0900",
        "XA",
        &[],
    )
    .await
    .unwrap();
    let v1_text = String::from_utf8_lossy(&v1.body).into_owned();
    assert_eq!(v1.status, 200, "{v1_text}");
    assert!(
        v1_text.contains("xmlns:v1=\"urn:CitesDataExchange/v1/\""),
        "{v1_text}"
    );
    assert!(v1_text.contains("<CBFShip "), "{v1_text}");
    let read_v1 = ecites_domain::xml::read_permit(&v1.body).unwrap().permit;
    assert_eq!(read_v1.permit_number, "26XA0900");
    assert_eq!(read_v1.blocks.len(), permit.blocks.len());

    // Each read and each refusal is on the permit's audit trail, as a signed query's is.
    let history = status(&xa.local, "XA", "26XA0900").await.history;
    assert!(
        history
            .iter()
            .any(|h| h.event == "QUERIED" && h.detail.contains("EPIX caller XB")),
        "{history:?}"
    );
    assert!(
        history
            .iter()
            .any(|h| h.event == "QUERY_REFUSED" && h.detail.contains("EPIX caller XC")),
        "{history:?}"
    );

    // XB as an EPIX partner of XA (pull-only): forward sends it nothing, and its fetch over
    // EPIX completes the delivery.
    let mut xb_epix = xb.as_partner();
    xb_epix.protocol = ecites_exchange::directory::Protocol::EpixSoap;
    let mut xc_third = Partner::new("XC".parse().unwrap(), "https://xc.invalid/");
    xc_third.public_key = xb.as_partner().public_key;
    xa.set_directory(vec![xb_epix, xc_third]).await.unwrap();
    tokio::time::sleep(ecites_local::stack::exchange::PairOptions::default().directory_ttl * 2)
        .await;
    let received_before = xb.server.requests();
    xa.drop_permit(
        "26XA0901",
        &fixtures::export_permit("26XA0901", "XA", "XB", 4),
    )
    .await
    .unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    assert_eq!(
        xb.server.requests(),
        received_before,
        "nothing is pushed to an EPIX partner"
    );
    let delivery = ecites_local::stack::exchange::delivery_message(
        "XA",
        "26XA0901",
        1,
        ecites_exchange::ledger::DeliveryKind::Permit,
        "XB",
    );
    let waiting = xa.store.delivery_fields(&delivery).await.unwrap().unwrap();
    assert_eq!(waiting["state"], "PENDING", "{waiting:?}");
    let fetched = call(
        &xb_client,
        &url,
        Operation::GetNonFinalCitesCertificate,
        "26XA0901",
        "XA",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(fetched.status, 200);
    let done = xa.store.delivery_fields(&delivery).await.unwrap().unwrap();
    assert_eq!(done["state"], "DELIVERED", "{done:?}");
    assert_eq!(done["tracking_number"], "EPIX-XB-v1");

    // A partner whose entry is inactive: EPIX's AdapterNotAvailable.
    let mut xc_inactive = Partner::new("XC".parse().unwrap(), "https://xc.invalid/");
    xc_inactive.active = false;
    let mut xb_again = xb.as_partner();
    xb_again.protocol = ecites_exchange::directory::Protocol::EpixSoap;
    xa.set_directory(vec![xb_again, xc_inactive]).await.unwrap();
    tokio::time::sleep(ecites_local::stack::exchange::PairOptions::default().directory_ttl * 2)
        .await;
    let inactive = call(&xc_client, &url, Operation::ServiceState, "", "XA", &[])
        .await
        .unwrap();
    assert_eq!(
        fault_name(&inactive),
        ecites_exchange::epix::ADAPTER_NOT_AVAILABLE
    );

    // Without mutual TLS (the plain front door) there is no certificate: EPIX's own fault.
    let plain = ecites_aws::http::HyperTransport::for_partners(Duration::from_secs(5)).unwrap();
    let missing = call(
        &plain,
        &xa.server.url(),
        Operation::ServiceState,
        "",
        "XA",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(fault_name(&missing), CERTIFICATE_MISSING);
    // A certificate the truststore did not sign never gets past the handshake.
    let outsider = client_of(&ClientAuthority::new().unwrap(), "XB");
    assert!(
        call(&outsider, &url, Operation::ServiceState, "", "XA", &[])
            .await
            .is_err(),
        "a certificate from another authority must be refused in the handshake"
    );
    drop(front);
    let _ = std::fs::remove_dir_all(&dir);
}

/// XB's deployment pulls XA's permit from XA's EPIX-only service (a loopback server answering
/// EPIX's recorded answer byte for byte), on moto.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permit_pulled_from_an_epix_partner_is_kept_as_answered_and_recorded_as_received() {
    use ecites_exchange::epix::client::{fetch_permit, PullServices};
    use ecites_local::emulation::epix_partner::{
        EpixMode, EpixPartner, EPIX_PERMIT_NUMBER, EPIX_V2_ANSWER,
    };
    let xb = start_with(|o| o.country = ecites_local::country("XB")).await;
    let blobs = ecites_aws::S3BlobStore::new(xb.clients.s3.clone(), &xb.stack.bucket);
    let services = PullServices {
        blobs: &blobs,
        inbound: xb.function.ledger(),
        uses: xb.function.ledger(),
        clock: &ecites_exchange::SystemClock,
    };
    let partner = EpixPartner::start(EpixMode::Recorded).await.unwrap();
    let transport =
        ecites_aws::http::HyperTransport::for_partners(ecites_exchange::epix::DEFAULT_TIMEOUT)
            .unwrap();
    let xa: ecites_domain::CountryCode = "XA".parse().unwrap();
    let own: ecites_domain::CountryCode = "XB".parse().unwrap();
    let url = partner.url();
    let pull = |final_certificate| {
        fetch_permit(
            services,
            &transport,
            &url,
            own,
            xa,
            EPIX_PERMIT_NUMBER,
            final_certificate,
        )
    };

    let pulled = pull(false).await.expect("pulled");
    assert_eq!(pulled.version, 1);
    assert!(!pulled.duplicate);
    let asked = partner.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].soap_action, "urn:GetNonFinalCitesCertificate");
    assert!(asked[0]
        .body
        .contains("<CertificateNumber>XA000000</CertificateNumber>"));
    let status = status(&xb, "XA", EPIX_PERMIT_NUMBER).await;
    assert_eq!(status.received.len(), 1, "{status:?}");
    assert_eq!(status.received[0].tracking_number, pulled.tracking_number);
    // The answer as it came, byte for byte, and the permit as canonical v2 XML beside it.
    let kept = xb
        .get_object(&status.received[0].body_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept, EPIX_V2_ANSWER);
    let canonical = xb.get_object(&pulled.xml_key).await.unwrap().unwrap();
    assert_eq!(
        ecites_domain::xml::read_permit(&canonical).unwrap().permit,
        ecites_domain::xml::read_permit(EPIX_V2_ANSWER)
            .unwrap()
            .permit
    );
    // The same answer pulled again changes nothing.
    let again = pull(false).await.expect("pulled again");
    assert_eq!(again.tracking_number, pulled.tracking_number);
    assert_eq!(status_received(&xb).await, 1);

    // EPIX's v1 answer of the same permit differs (v1 has no marks): the same version with
    // other content is refused as a conflict, the first stays on record.
    partner.set_mode(EpixMode::RecordedV1);
    let error = pull(false).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("received before with different content"),
        "{error}"
    );
    assert_eq!(status_received(&xb).await, 1);

    // Faults, garbage and silence are errors of their kind, never a record.
    partner.set_mode(EpixMode::Fault(
        "Client".into(),
        "CertificateNotFound".into(),
    ));
    assert!(matches!(
        pull(false).await,
        Err(ecites_exchange::Error::NotFound(_))
    ));
    partner.set_mode(EpixMode::Fault(
        "Server".into(),
        "AdapterNotAvailable".into(),
    ));
    let error = pull(false).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    partner.set_mode(EpixMode::Garbage);
    let error = pull(false).await.unwrap_err();
    assert!(!error.is_transient(), "{error}");
    assert!(
        error.to_string().contains("kept at received/XA/XA000000/"),
        "{error}"
    );
    partner.set_mode(EpixMode::Slow(std::time::Duration::from_secs(3)));
    let impatient =
        ecites_aws::http::HyperTransport::for_partners(std::time::Duration::from_secs(1)).unwrap();
    let error = fetch_permit(
        services,
        &impatient,
        &partner.url(),
        own,
        xa,
        EPIX_PERMIT_NUMBER,
        false,
    )
    .await
    .unwrap_err();
    assert!(error.is_transient(), "a timeout is retried: {error}");
    assert_eq!(status_received(&xb).await, 1);
}

async fn status_received(local: &Local) -> usize {
    status(
        local,
        "XA",
        ecites_local::emulation::epix_partner::EPIX_PERMIT_NUMBER,
    )
    .await
    .received
    .len()
}

/// XB's customs verify, at import, XA's permit XB never received; XA is an EPIX-only partner
/// of XB (a loopback service answering EPIX's recorded answer): XB's receive function pulls
/// the permit first, and the verification reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_of_a_permit_never_received_pulls_it_from_its_epix_issuer_first() {
    use ecites_exchange::protocol::SigningIdentity;
    use ecites_local::emulation::epix_partner::{EpixMode, EpixPartner, EPIX_PERMIT_NUMBER};
    use ecites_local::emulation::front_door::Front;
    let (_xa, xb) = start_pair().await;
    let legacy = EpixPartner::start(EpixMode::Recorded).await.unwrap();
    let mut xa_epix = Partner::new("XA".parse().unwrap(), legacy.url());
    xa_epix.protocol = ecites_exchange::directory::Protocol::EpixSoap;
    xb.set_directory(vec![xa_epix]).await.unwrap();
    let customs = SigningIdentity::generate("xb-customs-1").unwrap();
    xb.register_agency(ecites_exchange::directory::Agency {
        id: "xb-customs".into(),
        country: ecites_local::country("XB"),
        role: ecites_exchange::notify::Role::Customs,
        name: None,
        active: true,
        public_key: Some(customs.public_key_base64()),
        key_id: Some(customs.key_id.clone()),
        rotation_keys: Vec::new(),
    })
    .await
    .unwrap();
    let function = ecites_receive::ReceiveFunction::with_directory_ttl(
        &xb.local.config,
        &xb.local.clients,
        Duration::from_millis(100),
    )
    .with_epix_pull(ecites_receive::EpixPull::new(
        ecites_exchange::epix::DEFAULT_TIMEOUT,
        None,
    ));
    let function = std::sync::Arc::new(function);
    let front = FrontDoorServer::start_with(function.clone(), Front::FunctionUrl)
        .await
        .unwrap();
    let plain = ecites_aws::http::HyperTransport::for_partners(Duration::from_secs(10)).unwrap();
    // Any other request leaves the EPIX client unmade: it is not a cold start's cost.
    let other = plain.post(&front.url(), &[], b"{}".to_vec()).await.unwrap();
    assert_eq!(other.status, 400, "not an envelope: refused");
    assert!(!function.epix_client_made(), "made before a verification");
    let verify = |message_id: &str| {
        serde_json::json!({
            "message_version": 1,
            "message_id": message_id,
            "from": "XB",
            "agency": "xb-customs",
            "to": "XB",
            "sent_at": chrono::Utc::now(),
            "permit": {"issuer": "XA", "number": EPIX_PERMIT_NUMBER},
            "at": "import",
            "on": "2014-03-01",
            "blocks": [{"block": "A", "quantity": "5"}]
        })
    };
    let (body, headers) = ecites_exchange::query::sign_json(&verify("verify-1"), &customs).unwrap();
    let reply = plain
        .post(&format!("{}verify", front.url()), &headers, body)
        .await
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(reply.status, 200, "{answer}");
    assert!(
        !answer["record"].is_null(),
        "the verification reads the pulled permit: {answer}"
    );
    assert_eq!(legacy.requests().len(), 1, "pulled once");
    assert!(
        function.epix_client_made(),
        "made by the verification that pulled"
    );
    let on_record = status(&xb.local, "XA", EPIX_PERMIT_NUMBER).await;
    assert_eq!(on_record.received.len(), 1, "{on_record:?}");

    // A second verification reads the ledger: the permit is not pulled again.
    let (body, headers) = ecites_exchange::query::sign_json(&verify("verify-2"), &customs).unwrap();
    let again = plain
        .post(&format!("{}verify", front.url()), &headers, body)
        .await
        .unwrap();
    assert_eq!(again.status, 200);
    assert_eq!(legacy.requests().len(), 1);
}
