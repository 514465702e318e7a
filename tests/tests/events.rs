//! The sample events in `events/` parse as the handler's input type, so they stay usable with
//! `cargo lambda invoke --data-file`.

use aws_lambda_events::event::sqs::SqsEvent;
use ecites_exchange::messages::{parse_ingest_message, IngestMessage, Input};

fn event(name: &str) -> SqsEvent {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("event file");
    serde_json::from_str(&text).expect("an SqsEvent")
}

#[test]
fn sample_s3_notification_event_names_a_decoded_inbox_key() {
    let event = event("ingest-s3-notification.json");
    let body = event.records[0].body.as_deref().unwrap();
    let IngestMessage::Inputs(inputs) = parse_ingest_message(body).unwrap() else {
        panic!("inputs expected");
    };
    assert!(
        matches!(&inputs[0], Input::Object { key, .. } if key == "inbox/export permit 26XA0001.json")
    );
}

#[test]
fn sample_cancel_event_is_a_cancellation() {
    let event = event("ingest-direct-cancel.json");
    let body = event.records[0].body.as_deref().unwrap();
    let IngestMessage::Inputs(inputs) = parse_ingest_message(body).unwrap() else {
        panic!("inputs expected");
    };
    assert!(
        matches!(&inputs[0], Input::Cancel { permit_number, .. } if permit_number == "26XA0001")
    );
}
