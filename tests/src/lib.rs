//! Helpers for the end-to-end tests: every test starts its own moto server on a free port
//! (killed when the test's [`Local`] drops), so tests run in parallel without sharing state.

use aws_lambda_events::event::sqs::SqsEvent;
use ecites_domain::PermitId;
pub use ecites_local::{fixtures, Local, LocalOptions};
use std::time::Duration;

/// How long one drain may take in a test.
pub const DRAIN: Duration = Duration::from_secs(60);

/// Starts a local stack with the default options (own country XA, partners XB and XD).
pub async fn start() -> Local {
    start_with(|_| {}).await
}

/// Starts a local stack with adjusted options.
pub async fn start_with(adjust: impl FnOnce(&mut LocalOptions)) -> Local {
    ecites_aws::telemetry::init_tracing();
    let mut options = LocalOptions::new("t");
    adjust(&mut options);
    Local::start(options)
        .await
        .expect("local stack starts (is moto installed? make .venv/bin/moto_server)")
}

/// A permit id.
pub fn id(issuer: &str, number: &str) -> PermitId {
    PermitId {
        issuer: ecites_local::country(issuer),
        number: number.to_owned(),
    }
}

/// An S3 notification as moto sends it (no userIdentity/requestParameters), with the key as
/// given (already encoded).
pub fn s3_notification(bucket: &str, encoded_key: &str, size: usize) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-01-05T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "inbox",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": encoded_key, "size": size, "eTag": "x"}}
    }]})
    .to_string()
}

/// A direct `permit` message with the content inline.
pub fn inline_message(content: &[u8]) -> String {
    serde_json::json!({"type": "permit", "version": 1, "content": String::from_utf8_lossy(content)})
        .to_string()
}

/// An SQS event with one record, built from JSON as Lambda delivers it.
pub fn sqs_event(message_id: &str, body: &str) -> SqsEvent {
    serde_json::from_value(serde_json::json!({"Records": [{
        "messageId": message_id, "receiptHandle": "rh", "body": body,
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:t-ingest",
        "awsRegion": "us-east-1"
    }]}))
    .expect("a valid SQS event")
}
