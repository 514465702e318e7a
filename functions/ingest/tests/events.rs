//! The sample events in `events/` (written for `cargo lambda invoke --data-file`) keep parsing
//! as the handler's input and as the documented message formats.

use aws_lambda_events::event::sqs::SqsEvent;
use ecites_exchange::messages::{parse_ingest_message, IngestMessage, Input};
use ecites_exchange::DeliveryMessage;

fn event(name: &str) -> SqsEvent {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("event file");
    serde_json::from_str(&text).expect("an SqsEvent")
}

fn inputs(name: &str) -> Vec<Input> {
    event(name)
        .records
        .iter()
        .flat_map(|record| {
            match parse_ingest_message(record.body.as_deref().unwrap_or("")).expect("a message") {
                IngestMessage::Inputs(inputs) => inputs,
                IngestMessage::Skip(reason) => panic!("{name} skipped: {reason}"),
            }
        })
        .collect()
}

#[test]
fn s3_object_created_event_names_the_decoded_inbox_key() {
    let inputs = inputs("ingest-s3-object-created.json");
    assert!(
        matches!(&inputs[..], [Input::Object { key, .. }] if key == "inbox/2026/export permit 25XA000123 café.json"),
        "{inputs:?}"
    );
}

#[test]
fn s3_test_event_is_skipped() {
    let event = event("ingest-s3-test-event.json");
    let body = event.records[0].body.as_deref().unwrap_or("");
    assert!(matches!(
        parse_ingest_message(body),
        Ok(IngestMessage::Skip(_))
    ));
}

#[test]
fn direct_messages_are_a_permit_a_reference_and_a_cancellation() {
    let inputs = inputs("ingest-direct-messages.json");
    assert!(matches!(inputs[0], Input::Inline { .. }), "{inputs:?}");
    assert!(matches!(&inputs[1], Input::Object { key, .. } if key == "inbox/large/25XA000124.xml"));
    assert!(
        matches!(&inputs[2], Input::Cancel { permit_number, .. } if permit_number == "25XA000123")
    );
}

#[test]
fn forward_event_bodies_are_delivery_messages() {
    for record in event("forward-delivery.json").records {
        let message: DeliveryMessage =
            serde_json::from_str(record.body.as_deref().unwrap_or("")).expect("a delivery message");
        assert_eq!(message.recipient, "XB");
    }
}
