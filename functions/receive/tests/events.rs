//! `events/receive-function-url.json` (for `cargo lambda invoke receive --data-file`) keeps
//! parsing as the handler's input (the request `lambda_http` makes of it) and carries a valid
//! signed envelope. It is signed with the
//! sample key of seed `01 01 ... 01` (key id `XB-2026-1`), which is public and for samples only.

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use ecites_exchange::protocol::{
    verify, DocumentStatus, Envelope, SigningIdentity, KEY_ID_HEADER, SIGNATURE_HEADER,
};

const SAMPLE_SEED: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

#[test]
fn the_sample_function_url_event_carries_a_verifiable_envelope_from_xb_to_xa() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/receive-function-url.json");
    let text = std::fs::read_to_string(path).expect("event file");
    let event: LambdaFunctionUrlRequest =
        serde_json::from_str(&text).expect("a Function URL event");
    assert_eq!(event.request_context.http.method.as_deref(), Some("POST"));
    let body = event.body.expect("a body");
    assert!(!event.is_base64_encoded);
    let envelope: Envelope = serde_json::from_str(&body).expect("an envelope");
    assert_eq!((envelope.from.as_str(), envelope.to.as_str()), ("XB", "XA"));
    assert_eq!(envelope.document_status, DocumentStatus::Issued);
    let header = |name: &str| {
        event
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .expect("header")
    };
    assert_eq!(header(KEY_ID_HEADER), "XB-2026-1");
    let key = SigningIdentity::from_base64_seed("XB-2026-1", SAMPLE_SEED).unwrap();
    verify(
        &key.public_key_base64(),
        body.as_bytes(),
        &header(SIGNATURE_HEADER),
    )
    .expect("the sample is signed by the sample key");
    let xml = envelope.payload_bytes().unwrap();
    let permit = ecites_domain::xml::read_permit(&xml)
        .expect("readable XML")
        .permit;
    assert_eq!(permit.permit_number, envelope.permit_number);

    // What the handler is given: lambda_http's request, the same bytes and headers.
    let request = lambda_http::request::from_str(&text).expect("a request lambda_http reads");
    assert_eq!(request.method(), "POST");
    assert_eq!(request.body().as_ref(), body.as_bytes());
    assert_eq!(request.headers()[KEY_ID_HEADER], "XB-2026-1");
}

/// `events/receive-epix-rest-api.json`: an EPIX request through the REST API's custom domain
/// with mutual TLS. The caller is the country of the certificate API Gateway verified, never a
/// header a client could send.
#[test]
fn the_epix_sample_event_names_its_caller_by_the_verified_certificate_only() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/receive-epix-rest-api.json");
    let text = std::fs::read_to_string(path).expect("event file");
    let request = lambda_http::request::from_str(&text).expect("a request lambda_http reads");
    let subject = ecites_receive::client_certificate_subject(&request);
    assert_eq!(
        subject.as_deref(),
        Some("CN=MA of XB,O=Management Authority,C=XB")
    );
    assert_eq!(
        ecites_exchange::epix::caller_country(subject.as_deref().unwrap()),
        Some("XB".parse().unwrap()),
        "not the spoofed x-ssl-client-s-dn header's XC"
    );
    let read = ecites_exchange::epix::soap::read_request(
        request.body().as_ref(),
        request
            .headers()
            .get("soapaction")
            .and_then(|v| v.to_str().ok()),
    )
    .expect("a readable EPIX request");
    assert_eq!(read.certificate_number, "26XA0001");

    // A Function URL request has no mutual TLS: no caller.
    let url_event = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events/receive-function-url.json"),
    )
    .unwrap();
    let request = lambda_http::request::from_str(&url_event).unwrap();
    assert_eq!(ecites_receive::client_certificate_subject(&request), None);
}
