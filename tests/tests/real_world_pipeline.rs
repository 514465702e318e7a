//! Real-world wiring and ordering, end to end on the emulator: S3 events that reach the ingest
//! queue through SNS or EventBridge, versioned buckets whose keys are overwritten before ingest
//! runs, console folders, and a cancellation that a standard queue delivers before its permit.
//! The cases of `tests/fixtures/real-world/pipeline/` (copied from what real deployments produce)
//! and siblings of each.

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use ecites_e2e::*;
use ecites_exchange::{DeliveryKind, VersionState};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use std::path::PathBuf;

/// The MA's own drop bucket of the fixtures, outside the stack.
const DROP: &str = "xa-ma-drop";

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/real-world/pipeline")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn drop_bucket(local: &Local, versioned: bool) {
    let s3 = &local.clients.s3;
    s3.create_bucket()
        .bucket(DROP)
        .send()
        .await
        .expect("bucket");
    if versioned {
        s3.put_bucket_versioning()
            .bucket(DROP)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("versioning");
    }
}

/// Puts an object into the drop bucket; the version id S3 gives it, on a versioned bucket.
async fn put_drop(local: &Local, key: &str, bytes: Vec<u8>) -> Option<String> {
    local
        .clients
        .s3
        .put_object()
        .bucket(DROP)
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .expect("put into the drop bucket")
        .version_id
}

/// An S3 notification of `key` in `bucket`, as S3 writes it (key form-urlencoded).
fn s3_event(bucket: &str, key: &str, version_id: Option<&str>, time: &str) -> Value {
    let mut object = json!({"key": key, "size": 690, "eTag": "x", "sequencer": "01"});
    if let Some(version_id) = version_id {
        object["versionId"] = json!(version_id);
    }
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": time, "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "inbox",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": object}
    }]})
}

/// SNS's envelope around a message (raw message delivery off, SNS's default).
fn sns_envelope(message: &Value) -> Value {
    json!({
        "Type": "Notification",
        "MessageId": "5d3c7a1e-0b9f-4c56-8a2d-1e2f3a4b5c6d",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:xa-permit-drops",
        "Subject": "Amazon S3 Notification",
        "Message": message.to_string(),
        "Timestamp": "2026-11-30T08:00:00.123Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE==",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/example.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
    })
}

/// EventBridge's Object Created event (S3 -> EventBridge -> SQS); its keys are percent-encoded
/// with `+` kept.
fn eventbridge_event(bucket: &str, key: &str, version_id: Option<&str>) -> Value {
    let mut object = json!({"key": key, "size": 690, "etag": "x", "sequencer": "01"});
    if let Some(version_id) = version_id {
        object["version-id"] = json!(version_id);
    }
    json!({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
        "time": "2026-11-30T08:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": object,
                   "request-id": "R", "requester": "123456789012", "reason": "PutObject"}
    })
}

fn permit_file(number: &str) -> Vec<u8> {
    fixture("objects/inbox/26XA000701.json")
        .replace("26XA000701", number)
        .into_bytes()
}

async fn assert_ingested(local: &Local, number: &str) {
    let status = status(local, "XA", number).await;
    assert_eq!(
        status.state.as_deref(),
        Some("ACTIVE"),
        "{number}: {status:?}"
    );
    assert_eq!(status.deliveries.len(), 1, "{number}: {status:?}");
    assert_eq!(status.deliveries[0].recipient, "XB");
}

async fn rejection_reports(local: &Local) -> Vec<String> {
    local.list("rejected/").await.expect("listing rejected/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_event_inside_an_sns_envelope_is_ingested_like_a_dropped_file() {
    let local = start().await;
    drop_bucket(&local, false).await;
    put_drop(
        &local,
        "inbox/26XA000701.json",
        fixture("objects/inbox/26XA000701.json").into_bytes(),
    )
    .await;
    // The case as a real deployment produced it.
    local
        .send_direct(&fixture("sqs-body-sns-envelope-s3-event.json"))
        .await
        .unwrap();
    local.drain(DRAIN).await.unwrap();
    assert_ingested(&local, "26XA000701").await;
    let status = status(&local, "XA", "26XA000701").await;
    assert_eq!(
        status.versions[0].source,
        "s3://xa-ma-drop/inbox/26XA000701.json"
    );
    assert!(rejection_reports(&local).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_events_alone_or_inside_sns_and_sns_wrapped_direct_messages_are_ingested() {
    let local = start().await;
    drop_bucket(&local, false).await;
    // EventBridge keeps `+` and percent-encodes spaces: "c++ 26XA000711.json".
    put_drop(
        &local,
        "inbox/c++ 26XA000711.json",
        permit_file("26XA000711"),
    )
    .await;
    put_drop(&local, "inbox/26XA000712.json", permit_file("26XA000712")).await;
    let bodies = [
        eventbridge_event(DROP, "inbox/c++%2026XA000711.json", None),
        sns_envelope(&eventbridge_event(DROP, "inbox/26XA000712.json", None)),
        // A producer that publishes its direct messages to a topic.
        sns_envelope(&json!({
            "type": "permit", "version": 1, "file_name": "26XA000713.json",
            "content": String::from_utf8(permit_file("26XA000713")).unwrap()
        })),
        // SNS with raw message delivery on: the S3 event itself.
        s3_event(
            DROP,
            "inbox/26XA000712.json",
            None,
            "2026-11-30T08:00:00.000Z",
        ),
    ];
    for body in &bodies {
        local.send_direct(&body.to_string()).await.unwrap();
    }
    local.drain(DRAIN).await.unwrap();
    for number in ["26XA000711", "26XA000712", "26XA000713"] {
        assert_ingested(&local, number).await;
    }
    assert!(rejection_reports(&local).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrappers_that_carry_nothing_to_ingest_are_skipped_and_broken_ones_reported() {
    let local = start().await;
    let confirmation = json!({
        "Type": "SubscriptionConfirmation", "MessageId": "m",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Token": "t",
        "Message": "You have chosen to subscribe", "SubscribeURL": "https://example.invalid/"
    });
    let deleted = json!({
        "version": "0", "id": "1", "detail-type": "Object Deleted", "source": "aws.s3",
        "time": "2026-11-30T08:00:00Z", "detail": {"bucket": {"name": DROP}, "object": {"key": "inbox/x.json"}}
    });
    local.send_direct(&confirmation.to_string()).await.unwrap();
    local.send_direct(&deleted.to_string()).await.unwrap();
    assert!(rejection_reports(&local).await.is_empty());
    // Wrapped five times: a loop or an attack, refused with a report the sender can read.
    let mut nested = json!({"type": "cancel", "version": 1, "issuer": "XA", "permit_number": "1"});
    for _ in 0..5 {
        nested = sns_envelope(&nested);
    }
    let message_id = local.send_direct(&nested.to_string()).await.unwrap();
    local.drain(DRAIN).await.unwrap();
    let reports = rejection_reports(&local).await;
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report = rejection_report(&local, &format!("sqs/{message_id}"))
        .await
        .expect("a report for the over-wrapped message");
    assert!(report.contains("wrappers"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_version_of_a_key_overwritten_before_ingest_runs_is_ingested_from_its_own_version() {
    let local = start().await;
    drop_bucket(&local, true).await;
    let folder = "overwrite-same-key-versioned-bucket";
    let mut events = Vec::new();
    for (n, name) in ["daily-export.v1.json", "daily-export.v2.json"]
        .iter()
        .enumerate()
    {
        let bytes = fixture(&format!("{folder}/{name}")).into_bytes();
        let version = put_drop(&local, "inbox/daily-export.json", bytes).await;
        let version = version.expect("the drop bucket is versioned");
        // The fixture's event, with the version id this run's S3 gave.
        let mut event: Value = serde_json::from_str(&fixture(&format!(
            "{folder}/sqs-body-event-{}-with-versionId.json",
            n + 1
        )))
        .unwrap();
        event["Records"][0]["s3"]["object"]["versionId"] = json!(version);
        events.push(event);
    }
    // Both events are handled after the second write, as when ingest runs late.
    for event in &events {
        local.send_direct(&event.to_string()).await.unwrap();
    }
    local.drain(DRAIN).await.unwrap();
    assert_ingested(&local, "26XA000708").await;
    assert_ingested(&local, "26XA000709").await;
    let first = status(&local, "XA", "26XA000708").await;
    assert!(
        first.versions[0].source.contains("?versionId="),
        "the source names the version read: {}",
        first.versions[0].source
    );
    // The sibling through EventBridge: its `version-id` is read too.
    let old = events[0]["Records"][0]["s3"]["object"]["versionId"]
        .as_str()
        .unwrap()
        .to_owned();
    put_drop(&local, "inbox/daily-export.json", permit_file("26XA000710")).await;
    local
        .send_direct(&eventbridge_event(DROP, "inbox/daily-export.json", Some(&old)).to_string())
        .await
        .unwrap();
    local.drain(DRAIN).await.unwrap();
    assert!(
        status(&local, "XA", "26XA000710").await.state.is_none(),
        "the event named the first version, not the latest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_folder_is_not_a_file_and_makes_no_rejection_report() {
    let local = start().await;
    let bucket = local.stack.bucket.clone();
    drop_file(&local, "inbox/2026-11-batch/", Vec::new()).await;
    let body =
        fixture("sqs-body-s3-console-folder-placeholder.json").replace("ecites-exchange", &bucket);
    local.send_direct(&body).await.unwrap();
    // Siblings: the same folder through EventBridge, and a nested folder with an encoded name.
    local
        .send_direct(&eventbridge_event(&bucket, "inbox/2026-11-batch/", None).to_string())
        .await
        .unwrap();
    local
        .send_direct(
            &s3_event(
                &bucket,
                "inbox/2026-11-batch/sub+folder%C3%A9/",
                None,
                "2026-11-30T08:00:00.000Z",
            )
            .to_string(),
        )
        .await
        .unwrap();
    let outcome = local.drain(DRAIN).await.unwrap();
    assert!(rejection_reports(&local).await.is_empty());
    assert!(outcome.failed == 0, "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_delivered_before_its_permit_takes_effect_when_the_permit_arrives() {
    let local = start().await;
    local
        .send_direct(&fixture("sqs-body-cancel-before-permit-1-cancel.json"))
        .await
        .unwrap();
    local.drain(DRAIN).await.unwrap();
    let waiting = status(&local, "XA", "26XA000706").await;
    assert!(waiting.state.is_none(), "{waiting:?}");
    assert!(
        waiting
            .history
            .iter()
            .any(|h| h.event == "CANCELLATION_WAITING"),
        "the waiting cancellation shows in the history: {waiting:?}"
    );
    assert!(rejection_reports(&local).await.is_empty());

    local
        .send_direct(&fixture("sqs-body-cancel-before-permit-2-permit.json"))
        .await
        .unwrap();
    local.drain(DRAIN).await.unwrap();
    let status = status(&local, "XA", "26XA000706").await;
    assert_eq!(status.state.as_deref(), Some("CANCELLED"), "{status:?}");
    assert_eq!(status.versions.len(), 1);
    assert_eq!(status.versions[0].state, VersionState::Cancelled);
    let events: Vec<&str> = status.history.iter().map(|h| h.event.as_str()).collect();
    for event in ["CANCELLATION_WAITING", "VERSION_RECORDED", "CANCELLED"] {
        assert!(events.contains(&event), "{event} in {events:?}");
    }
    let recorded = events
        .iter()
        .position(|e| *e == "VERSION_RECORDED")
        .unwrap();
    let cancelled = events.iter().position(|e| *e == "CANCELLED").unwrap();
    assert!(recorded < cancelled, "issue, then cancellation: {events:?}");
    // The importing MA gets the permit and its cancellation.
    let mut kinds: Vec<DeliveryKind> = local
        .take_deliveries()
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.recipient == "XB")
        .map(|d| d.kind)
        .collect();
    kinds.sort_by_key(|k| k.as_str());
    assert_eq!(
        kinds,
        vec![DeliveryKind::Cancellation, DeliveryKind::Permit]
    );

    // The cancellation redelivered afterwards changes nothing.
    local
        .send_direct(&fixture("sqs-body-cancel-before-permit-1-cancel.json"))
        .await
        .unwrap();
    local.drain(DRAIN).await.unwrap();
    let again = ecites_e2e::status(&local, "XA", "26XA000706").await;
    let cancellations = again
        .deliveries
        .iter()
        .filter(|d| d.kind == DeliveryKind::Cancellation)
        .count();
    assert_eq!(cancellations, 1, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_and_its_permit_handled_at_the_same_time_end_cancelled() {
    let local = start().await;
    let cancel = fixture("sqs-body-cancel-before-permit-1-cancel.json");
    let permit = fixture("sqs-body-cancel-before-permit-2-permit.json");
    for round in 0..3 {
        let number = format!("26XA00076{round}");
        let cancel = cancel.replace("26XA000706", &number);
        let permit = permit.replace("26XA000706", &number);
        let call = |id: &str, body: &str| {
            local
                .function
                .handle(LambdaEvent::new(sqs_event(id, body), Context::default()))
        };
        let (a, b) = tokio::join!(call("c", &cancel), call("p", &permit));
        assert!(a.unwrap().batch_item_failures.is_empty());
        assert!(b.unwrap().batch_item_failures.is_empty());
        let status = status(&local, "XA", &number).await;
        assert_eq!(status.state.as_deref(), Some("CANCELLED"), "{status:?}");
    }
}

/// An SQS event of one message as Lambda builds it, with the `SentTimestamp` SQS gave it.
fn sqs_event_sent_at(
    message_id: &str,
    body: &str,
    sent_at_ms: i64,
) -> aws_lambda_events::event::sqs::SqsEvent {
    serde_json::from_value(json!({"Records": [{
        "messageId": message_id, "receiptHandle": "rh", "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": sent_at_ms.to_string()},
        "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:t-ingest", "awsRegion": "us-east-1"
    }]}))
    .expect("an SQS event")
}

/// The permit of the fixtures re-issued: same number, another quantity.
fn reissued(number: &str) -> Vec<u8> {
    let original = String::from_utf8(permit_file(number)).unwrap();
    let mut value: Value = serde_json::from_str(&original).unwrap();
    value["blocks"][0]["quantity"]["value"] = json!("3");
    serde_json::to_vec(&value).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_delivered_before_the_permit_it_replaces_stays_in_effect() {
    let local = start().await;
    drop_bucket(&local, false).await;
    put_drop(&local, "inbox/original.json", permit_file("26XA000720")).await;
    put_drop(&local, "inbox/corrected.json", reissued("26XA000720")).await;
    // The replacement's event (sent second) is handled first.
    for (key, time) in [
        ("inbox/corrected.json", "2026-11-30T08:00:02.000Z"),
        ("inbox/original.json", "2026-11-30T08:00:01.000Z"),
    ] {
        local
            .send_direct(&s3_event(DROP, key, None, time).to_string())
            .await
            .unwrap();
        local.drain(DRAIN).await.unwrap();
    }
    let status = status(&local, "XA", "26XA000720").await;
    assert_eq!(status.state.as_deref(), Some("ACTIVE"));
    assert_eq!(status.versions.len(), 1, "{status:?}");
    assert_eq!(
        status.versions[0].source,
        "s3://xa-ma-drop/inbox/corrected.json"
    );
    assert!(
        status
            .history
            .iter()
            .any(|h| h.event == "SUPERSEDED_ON_ARRIVAL" && h.detail.contains("inbox/original.json")),
        "the late original shows in the history: {:?}",
        status.history
    );
    assert_eq!(status.deliveries.len(), 1, "only the replacement travels");

    // The sibling through direct messages, ordered by SQS's SentTimestamp; redelivered too.
    let call = |id: &str, body: &[u8], sent_at_ms: i64| {
        let body = inline_message(body);
        let event = sqs_event_sent_at(id, &body, sent_at_ms);
        local
            .function
            .handle(LambdaEvent::new(event, Context::default()))
    };
    let t = 1_796_000_000_000;
    call("m2", &reissued("26XA000721"), t + 1000).await.unwrap();
    call("m1", &permit_file("26XA000721"), t).await.unwrap();
    call("m1", &permit_file("26XA000721"), t).await.unwrap();
    let status = ecites_e2e::status(&local, "XA", "26XA000721").await;
    assert_eq!(status.versions.len(), 1, "{status:?}");
    assert_eq!(
        status
            .history
            .iter()
            .filter(|h| h.event == "SUPERSEDED_ON_ARRIVAL")
            .count(),
        1
    );
    // In order, a re-issue replaces as before.
    call("m3", &permit_file("26XA000722"), t).await.unwrap();
    call("m4", &reissued("26XA000722"), t + 1000).await.unwrap();
    let status = ecites_e2e::status(&local, "XA", "26XA000722").await;
    assert_eq!(status.versions.len(), 2);
    assert_eq!(status.versions[0].state, VersionState::Replaced);
}
