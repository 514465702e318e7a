//! `events/forward-delivery.json` (for `cargo lambda invoke forward --data-file`) keeps parsing
//! as the handler's input, and its delivery messages become envelopes that verify.

use aws_lambda_events::event::sqs::SqsEvent;
use ecites_exchange::forward::{build_message, document_status};
use ecites_exchange::protocol::{verify, DocumentStatus, Envelope, SigningIdentity};
use ecites_exchange::DeliveryMessage;

#[test]
fn the_sample_deliveries_become_signed_envelopes_for_xb() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/forward-delivery.json");
    let event: SqsEvent = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let key = SigningIdentity::generate("XA-2026-1").unwrap();
    let mut statuses = Vec::new();
    for record in &event.records {
        assert!(record.attributes.contains_key("ApproximateReceiveCount"));
        let message: DeliveryMessage =
            serde_json::from_str(record.body.as_deref().unwrap()).unwrap();
        let (body, headers) = build_message(&message, "E", b"<x/>", "m", &key, chrono::Utc::now());
        let envelope: Envelope = serde_json::from_slice(&body).unwrap();
        assert_eq!(envelope.to, "XB");
        assert_eq!(envelope.replaces_version, message.replaces_version);
        let signature = &headers
            .iter()
            .find(|(n, _)| *n == "x-ecites-signature")
            .unwrap()
            .1;
        verify(&key.public_key_base64(), &body, signature).unwrap();
        statuses.push(document_status(message.kind));
    }
    assert_eq!(
        statuses,
        [Some(DocumentStatus::Issued), Some(DocumentStatus::Replaced)]
    );
}
