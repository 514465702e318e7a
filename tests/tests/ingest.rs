//! End-to-end behaviour of ingest and the delivery ledger against moto server, through the
//! local event-source runner and the real ingest handler.

use ecites_aws::FaultInjector;
use ecites_domain::DocumentType;
use ecites_e2e::*;
use ecites_exchange::{DeliveryKind, DeliveryState, Ledger, VersionState};
use lambda_runtime::{Context, LambdaEvent};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_permit_becomes_standard_xml_a_version_and_a_pending_delivery() {
    let local = start().await;
    drop_file(&local, "inbox/26XA0001.json", export("26XA0001")).await;
    local.drain(DRAIN).await.unwrap();

    let status = status(&local, "XA", "26XA0001").await;
    assert_eq!(status.state.as_deref(), Some("ACTIVE"));
    assert_eq!(status.versions.len(), 1);
    let version = &status.versions[0];
    assert!(
        version.xml_key.starts_with("outbox/XA/26XA0001/"),
        "{}",
        version.xml_key
    );
    let xml = local
        .get_object(&version.xml_key)
        .await
        .unwrap()
        .expect("canonical XML written");
    assert!(String::from_utf8_lossy(&xml).contains("CITESEPermit"));
    assert_eq!(status.deliveries.len(), 1);
    assert_eq!(status.deliveries[0].recipient, "XB");
    assert_eq!(status.deliveries[0].state, DeliveryState::Pending);
    assert!(status.history.iter().any(|h| h.event == "VERSION_RECORDED"));

    let deliveries = local.take_deliveries().await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].recipient, "XB");
    assert_eq!(deliveries[0].kind, DeliveryKind::Permit);
    assert_eq!(deliveries[0].xml_key, version.xml_key);
    assert_eq!(deliveries[0].endpoint, "http://127.0.0.1:9/xb");
    let under_delivery = local.function.ledger().under_delivery(10).await.unwrap();
    assert_eq!(under_delivery.len(), 1);
    let for_xb = local
        .function
        .ledger()
        .for_recipient(ecites_local::country("XB"), 10)
        .await
        .unwrap();
    assert_eq!(for_xb.len(), 1);
    assert_eq!(
        local
            .function
            .ledger()
            .issuers_of_number("26XA0001")
            .await
            .unwrap(),
        vec!["XA"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_object_delivered_twice_leaves_one_version_and_one_delivery_per_recipient() {
    let local = start().await;
    let body = export("26XA0002");
    drop_file(&local, "inbox/a.json", body.clone()).await;
    // S3 delivers the same notification again, and the same content arrives under another name.
    local
        .send_direct(&s3_notification(
            &local.stack.bucket,
            "inbox/a.json",
            body.len(),
        ))
        .await
        .unwrap();
    drop_file(&local, "inbox/a copy.json", body).await;
    local.drain(DRAIN).await.unwrap();

    let status = status(&local, "XA", "26XA0002").await;
    assert_eq!(status.versions.len(), 1);
    assert_eq!(status.deliveries.len(), 1);
    let deliveries = local.take_deliveries().await.unwrap();
    let mut ids: Vec<_> = deliveries.iter().map(|d| d.delivery_id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 1, "one delivery id: {ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_message_received_twice_leaves_one_version_and_one_delivery_per_recipient() {
    let local = start().await;
    let message = inline_message(&export("26XA0003"));
    local.send_direct(&message).await.unwrap();
    local.send_direct(&message).await.unwrap();
    local.drain(DRAIN).await.unwrap();
    let status = status(&local, "XA", "26XA0003").await;
    assert_eq!(status.versions.len(), 1);
    assert_eq!(status.deliveries.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_of_the_same_permit_leave_one_version_and_one_delivery() {
    let local = start().await;
    let message = inline_message(&export("26XA0004"));
    let call = |n: &str| {
        local
            .function
            .handle(LambdaEvent::new(sqs_event(n, &message), Context::default()))
    };
    let (a, b, c) = tokio::join!(call("m1"), call("m2"), call("m3"));
    for response in [a, b, c] {
        assert!(response.unwrap().batch_item_failures.is_empty());
    }
    let status = status(&local, "XA", "26XA0004").await;
    assert_eq!(status.versions.len(), 1);
    assert_eq!(status.deliveries.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_permit_is_rejected_with_report_and_acknowledged() {
    let local = start().await;
    let invalid = fixtures::invalid_json("XA");
    drop_file(&local, "inbox/invalid.json", invalid.clone()).await;
    // S3 delivers the notification a second time: still one rejection.
    let again = s3_notification(&local.stack.bucket, "inbox/invalid.json", invalid.len());
    local.send_direct(&again).await.unwrap();
    let outcome = local.drain(DRAIN).await.unwrap();
    assert_eq!(outcome.failed, 0, "acknowledged, not retried");

    let report = rejection_report(&local, "inbox/invalid.json")
        .await
        .expect("rejection report next to the original");
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["type"], "rejection_report");
    let findings = report["problems"][0]["findings"]
        .as_array()
        .expect("findings");
    assert!(findings.iter().any(|f| f["severity"] == "error"));

    let status = status(&local, "XA", "26XA-BROKEN").await;
    assert!(status.versions.is_empty());
    assert_eq!(status.rejections.len(), 1);
    assert!(status.rejections[0].errors > 0);
    assert!(local.take_deliveries().await.unwrap().is_empty());
    assert_eq!(
        local
            .visible_messages(&local.stack.ingest_dlq_url)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_message_is_rejected_with_report_and_acknowledged() {
    let local = start().await;
    let message_id = local.send_direct("this is not JSON").await.unwrap();
    let outcome = local.drain(DRAIN).await.unwrap();
    assert_eq!(outcome.failed, 0);
    let report = rejection_report(&local, &format!("sqs/{message_id}")).await;
    assert!(report.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_dynamodb_write_is_reported_as_batch_item_failure() {
    let faults = FaultInjector::throttle("TransactWriteItems", 1);
    let local = start_with(|o| {
        o.faults = Some(faults.clone());
        o.max_attempts = Some(1);
    })
    .await;
    local.drain(DRAIN).await.unwrap(); // S3's test event from setting up the notification
    local
        .send_direct(&inline_message(&export("26XA0005")))
        .await
        .unwrap();
    let first = local.poll_once().await.unwrap();
    assert_eq!((first.received, first.failed, first.deleted), (1, 1, 0));
    assert_eq!(faults.remaining(), 0);
    // Redelivered after the visibility timeout, and then it goes through.
    local.drain(DRAIN).await.unwrap();
    let status = status(&local, "XA", "26XA0005").await;
    assert_eq!(status.versions.len(), 1);
    assert_eq!(status.deliveries.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_throttled_record_of_a_batch_is_retried() {
    let faults = FaultInjector::throttle("TransactWriteItems", 1);
    let local = start_with(|o| {
        o.faults = Some(faults.clone());
        o.max_attempts = Some(1);
    })
    .await;
    let event: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(serde_json::json!({"Records": [
            {"messageId": "first", "body": inline_message(&export("26XA0006"))},
            {"messageId": "second", "body": inline_message(&export("26XA0007"))},
        ]}))
        .unwrap();
    let response = local
        .function
        .handle(LambdaEvent::new(event.clone(), Context::default()))
        .await
        .unwrap();
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    // The records run at the same time: whichever wrote first met the throttle.
    assert_eq!(failed.len(), 1, "one record throttled: {failed:?}");
    let (throttled, through) = if failed[0] == "first" {
        ("26XA0006", "26XA0007")
    } else {
        ("26XA0007", "26XA0006")
    };
    assert_eq!(faults.remaining(), 0);
    assert_eq!(status(&local, "XA", through).await.versions.len(), 1);
    // The injector replaces the answer of a write moto applied (the caller sees throttling):
    // the record is retried, and its retry finds the version recorded, not a second one.
    let retry = local
        .function
        .handle(LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    assert!(retry.batch_item_failures.is_empty());
    assert_eq!(status(&local, "XA", throttled).await.versions.len(), 1);
    assert_eq!(status(&local, "XA", through).await.versions.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_issuer_is_refused() {
    let local = start().await;
    let foreign = fixtures::json(&fixtures::export_permit("26XB0001", "XB", "XA", 3));
    drop_file(&local, "inbox/foreign.json", foreign).await;
    let outcome = local.drain(DRAIN).await.unwrap();
    assert_eq!(outcome.failed, 0);
    let report = rejection_report(&local, "inbox/foreign.json")
        .await
        .expect("report");
    assert!(report.contains("not by this deployment"));
    assert!(status(&local, "XB", "26XB0001").await.is_empty());
    assert!(local.list("outbox/").await.unwrap().is_empty());
    assert!(local.take_deliveries().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reissue_with_new_content_becomes_version_2_replacement() {
    let local = start().await;
    drop_file(&local, "inbox/v1.json", export("26XA0008")).await;
    local.drain(DRAIN).await.unwrap();
    let reissue = fixtures::json(&fixtures::export_permit("26XA0008", "XA", "XB", 12));
    drop_file(&local, "inbox/v2.json", reissue).await;
    local.drain(DRAIN).await.unwrap();

    let status = status(&local, "XA", "26XA0008").await;
    let states: Vec<_> = status
        .versions
        .iter()
        .map(|v| (v.version, v.state))
        .collect();
    assert_eq!(
        states,
        vec![(1, VersionState::Replaced), (2, VersionState::Active)]
    );
    assert_ne!(status.versions[0].xml_key, status.versions[1].xml_key);
    let replacement = status
        .deliveries
        .iter()
        .find(|d| d.version == 2)
        .expect("v2 delivery");
    assert_eq!(replacement.kind, DeliveryKind::Replacement);
    let deliveries = local.take_deliveries().await.unwrap();
    let message = deliveries
        .iter()
        .find(|d| d.permit_version == 2)
        .expect("v2 message");
    assert_eq!(message.kind, DeliveryKind::Replacement);
    assert_eq!(message.replaces_version, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_is_recorded_and_delivered() {
    let local = start().await;
    drop_file(&local, "inbox/c.json", export("26XA0009")).await;
    local.drain(DRAIN).await.unwrap();
    local.take_deliveries().await.unwrap();
    let cancel = serde_json::json!({"type": "cancel", "version": 1, "issuer": "XA",
        "permit_number": "26XA0009", "reason": "specimens died"})
    .to_string();
    local.send_direct(&cancel).await.unwrap();
    local.send_direct(&cancel).await.unwrap();
    local.drain(DRAIN).await.unwrap();

    let status = status(&local, "XA", "26XA0009").await;
    assert_eq!(status.state.as_deref(), Some("CANCELLED"));
    assert_eq!(status.versions[0].state, VersionState::Cancelled);
    let cancellations: Vec<_> = status
        .deliveries
        .iter()
        .filter(|d| d.kind == DeliveryKind::Cancellation)
        .collect();
    assert_eq!(cancellations.len(), 1);
    assert_eq!(cancellations[0].recipient, "XB");
    assert!(status.history.iter().any(|h| h.event == "CANCELLED"));
    let deliveries = local.take_deliveries().await.unwrap();
    assert!(!deliveries.is_empty());
    assert!(deliveries
        .iter()
        .all(|d| d.kind == DeliveryKind::Cancellation));
    assert_eq!(deliveries[0].reason.as_deref(), Some("specimens died"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_permit_not_yet_recorded_waits_for_it_and_a_foreign_one_is_rejected() {
    let local = start().await;
    // A standard queue may deliver a cancellation before its permit: it waits in the ledger
    // (tests/tests/real_world_pipeline.rs shows it taking effect when the permit arrives).
    let cancel =
        r#"{"type":"cancel","version":1,"issuer":"XA","permit_number":"NOPE","reason":"x"}"#;
    let message_id = local.send_direct(cancel).await.unwrap();
    let outcome = local.drain(DRAIN).await.unwrap();
    assert_eq!(outcome.failed, 0);
    assert!(rejection_report(&local, &format!("sqs/{message_id}"))
        .await
        .is_none());
    let status = status(&local, "XA", "NOPE").await;
    assert!(status
        .history
        .iter()
        .any(|h| h.event == "CANCELLATION_WAITING" && h.detail.contains("x")));
    // Another MA's permit is never ours to cancel: refused with a report.
    let foreign =
        r#"{"type":"cancel","version":1,"issuer":"XB","permit_number":"26XB0001","reason":"x"}"#;
    let message_id = local.send_direct(foreign).await.unwrap();
    local.drain(DRAIN).await.unwrap();
    assert!(rejection_report(&local, &format!("sqs/{message_id}"))
        .await
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_test_event_is_skipped() {
    let local = start().await;
    let test_event = serde_json::json!({"Service": "Amazon S3", "Event": "s3:TestEvent",
        "Time": "2026-01-05T10:00:00.000Z", "Bucket": local.stack.bucket})
    .to_string();
    local.send_direct(&test_event).await.unwrap();
    let outcome = local.drain(DRAIN).await.unwrap();
    assert_eq!(outcome.failed, 0);
    assert!(outcome.deleted >= 1);
    assert!(local.list("rejected/").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_with_spaces_plus_and_unicode_are_decoded() {
    let local = start().await;
    drop_file(&local, "inbox/my permit+1 café.json", export("26XA0010")).await;
    // The same key as AWS encodes it (spaces as +, %2B for +, UTF-8 percent-encoded).
    let body = export("26XA0011");
    drop_file(&local, "inbox/other permit+2 ü.json", body.clone()).await;
    local
        .send_direct(&s3_notification(
            &local.stack.bucket,
            "inbox/other+permit%2B2+%C3%BC.json",
            body.len(),
        ))
        .await
        .unwrap();
    local.drain(DRAIN).await.unwrap();
    assert!(
        local.list("rejected/").await.unwrap().is_empty(),
        "no key failed to fetch"
    );
    let first = status(&local, "XA", "26XA0010").await;
    assert_eq!(
        first.versions[0].source,
        format!("s3://{}/inbox/my permit+1 café.json", local.stack.bucket)
    );
    assert_eq!(status(&local, "XA", "26XA0011").await.versions.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_object_is_rejected() {
    let local = start_with(|o| o.max_object_bytes = 2_000).await;
    let mut big = export("26XA0012");
    big.extend(std::iter::repeat_n(b' ', 4_000));
    drop_file(&local, "inbox/big.json", big).await;
    let outcome = local.drain(DRAIN).await.unwrap();
    assert_eq!(outcome.failed, 0);
    let report = rejection_report(&local, "inbox/big.json")
        .await
        .expect("report");
    assert!(report.contains("more than the limit"));
    assert!(status(&local, "XA", "26XA0012").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_message_reaches_dlq_after_max_receives() {
    let local = start_with(|o| {
        o.faults = Some(FaultInjector::throttle("TransactWriteItems", u64::MAX));
        o.max_attempts = Some(1);
        o.max_receive_count = 2;
    })
    .await;
    local.drain(DRAIN).await.unwrap(); // S3's test event from setting up the notification
    local
        .send_direct(&inline_message(&export("26XA0013")))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut receives = 0;
    while local
        .visible_messages(&local.stack.ingest_dlq_url)
        .await
        .unwrap()
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "the message never reached the DLQ"
        );
        receives += local.poll_once().await.unwrap().received;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(receives, 2, "received maxReceiveCount times, then moved");
    let dead = local.take_all(&local.stack.ingest_dlq_url).await.unwrap();
    assert!(dead[0].contains("26XA0013"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipient_missing_from_directory_is_recorded_as_no_partner() {
    let local = start().await;
    // An import permit goes to the exporting country's MA: XC is not in the directory.
    let import = fixtures::json(&fixtures::permit(
        DocumentType::I,
        "26XA0014",
        "XA",
        "XC",
        "XA",
        2,
    ));
    drop_file(&local, "inbox/import.json", import).await;
    local.drain(DRAIN).await.unwrap();
    let status = status(&local, "XA", "26XA0014").await;
    assert_eq!(status.deliveries.len(), 1);
    assert_eq!(status.deliveries[0].recipient, "XC");
    assert_eq!(status.deliveries[0].state, DeliveryState::NoPartner);
    assert!(status.deliveries[0]
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("not in the partner directory"));
    assert!(local.take_deliveries().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_with_two_permits_records_both() {
    let local = start().await;
    drop_file(
        &local,
        "inbox/batch.csv",
        fixtures::csv_two_permits("XA", "26XA0015", "26XA0016", "XD"),
    )
    .await;
    local.drain(DRAIN).await.unwrap();
    for number in ["26XA0015", "26XA0016"] {
        let status = status(&local, "XA", number).await;
        assert_eq!(status.versions.len(), 1, "{number}");
        assert_eq!(status.deliveries[0].recipient, "XD");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epix_xml_is_ingested() {
    let local = start().await;
    drop_file(&local, "inbox/epix.xml", fixtures::EPIX_XML.to_vec()).await;
    local.drain(DRAIN).await.unwrap();
    let status = status(&local, "XA", "XA000000").await;
    assert_eq!(
        status.versions.len(),
        1,
        "rejections: {:?}",
        status.rejections
    );
    assert_eq!(status.deliveries[0].recipient, "XB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_permit_costs_one_write_of_each_kind() {
    let local = start().await;
    // Warm the partner directory cache first.
    local
        .send_direct(&inline_message(&export("26XA0017")))
        .await
        .unwrap();
    local.drain(DRAIN).await.unwrap();
    local.counter.reset();
    drop_file(&local, "inbox/budget.json", export("26XA0018")).await;
    local.drain(DRAIN).await.unwrap();
    let counts = local.counter.snapshot();
    let count = |op: &str| counts.get(op).copied().unwrap_or(0);
    assert_eq!(count("S3:GetObject"), 1, "{counts:?}");
    assert_eq!(count("S3:PutObject"), 1, "{counts:?}");
    assert_eq!(count("DynamoDB:TransactWriteItems"), 1, "{counts:?}");
    assert_eq!(count("SQS:SendMessageBatch"), 1, "{counts:?}");
    assert_eq!(local.counter.total(), 4, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_renders_versions_deliveries_and_history_and_ignores_expired_records() {
    let local = start().await;
    drop_file(&local, "inbox/s.json", export("26XA0019")).await;
    local.drain(DRAIN).await.unwrap();
    let (permit, status) =
        ecites_aws::status::permit_status_in(local.function.ledger(), "xa", "26XA0019")
            .await
            .unwrap();
    let text = ecites_aws::status::render(&permit, &status);
    assert!(text.contains("XA/26XA0019: ACTIVE"), "{text}");
    assert!(text.contains("PENDING"), "{text}");
    assert!(text.contains("VERSION_RECORDED"), "{text}");

    // Ten years on, every record is past its retention: reads ignore it even though the
    // emulator (like DynamoDB, for a while) still holds it.
    struct Later;
    impl ecites_exchange::Clock for Later {
        fn now(&self) -> chrono::DateTime<chrono::Utc> {
            chrono::Utc::now() + chrono::Duration::days(3650)
        }
    }
    let later = ecites_aws::DynamoLedger::new(
        local.clients.dynamodb.clone(),
        &local.stack.table,
        std::sync::Arc::new(Later),
    );
    assert!(later
        .status(&id("XA", "26XA0019"))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permit_sent_by_reference_is_fetched_and_oversized_reference_is_rejected() {
    let local = start_with(|o| o.max_object_bytes = 3_000).await;
    drop_file(&local, "large/ok.json", export("26XA0020")).await;
    let mut big = export("26XA0021");
    big.extend(std::iter::repeat_n(b' ', 4_000));
    drop_file(&local, "large/big.json", big).await;
    for key in ["large/ok.json", "large/big.json"] {
        let message = serde_json::json!({"type": "permit_ref", "version": 1,
            "bucket": local.stack.bucket, "key": key});
        local.send_direct(&message.to_string()).await.unwrap();
    }
    let outcome = local.drain(DRAIN).await.unwrap();
    assert_eq!(outcome.failed, 0);
    assert_eq!(status(&local, "XA", "26XA0020").await.versions.len(), 1);
    assert!(status(&local, "XA", "26XA0021").await.is_empty());
    // Read with the size bound (no Content-Length announced in the message), then refused.
    let report = rejection_report(&local, "large/big.json")
        .await
        .expect("report");
    assert!(report.contains("more than the limit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_versions_of_the_same_permit_become_versions_1_and_2() {
    let local = start().await;
    let first = inline_message(&fixtures::json(&fixtures::export_permit(
        "26XA0022", "XA", "XB", 1,
    )));
    let second = inline_message(&fixtures::json(&fixtures::export_permit(
        "26XA0022", "XA", "XB", 2,
    )));
    let (a, b) = tokio::join!(
        local
            .function
            .handle(LambdaEvent::new(sqs_event("a", &first), Context::default())),
        local.function.handle(LambdaEvent::new(
            sqs_event("b", &second),
            Context::default()
        )),
    );
    assert!(a.unwrap().batch_item_failures.is_empty());
    assert!(b.unwrap().batch_item_failures.is_empty());
    let status = status(&local, "XA", "26XA0022").await;
    let states: Vec<_> = status
        .versions
        .iter()
        .map(|v| (v.version, v.state))
        .collect();
    assert_eq!(
        states,
        vec![(1, VersionState::Replaced), (2, VersionState::Active)]
    );
    assert_eq!(
        status.deliveries.len(),
        2,
        "one delivery per version and recipient"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_aws_is_reported_as_batch_item_failure() {
    let local = start().await;
    // The same function, wired to an endpoint where nothing listens: connection errors.
    let config = local.config.clone();
    let nowhere = format!(
        "http://127.0.0.1:{}",
        ecites_local::emulation::moto::free_port().unwrap()
    );
    let options = ecites_aws::ClientOptions {
        emulator_credentials: true,
        max_attempts: Some(1),
        ..Default::default()
    };
    let clients = ecites_aws::Clients::new(Some(&nowhere), "us-east-1", &options).await;
    let function = ecites_ingest::IngestFunction::new(&config, &clients);
    let event = sqs_event("m1", &inline_message(&export("26XA0023")));
    let response = function
        .handle(LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec!["m1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_server_error_is_reported_as_batch_item_failure() {
    let local = start_with(|o| {
        o.faults = Some(FaultInjector::server_error("TransactWriteItems", 1));
        o.max_attempts = Some(1);
    })
    .await;
    let event = sqs_event("m1", &inline_message(&export("26XA0024")));
    let response = local
        .function
        .handle(LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    assert_eq!(response.batch_item_failures.len(), 1);
    // The injector replaces the response after the emulator applied the write: the hard case of
    // a lost response. The retry finds the version recorded and still queues its delivery.
    let event = sqs_event("m1", &inline_message(&export("26XA0024")));
    let retry = local
        .function
        .handle(LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    assert!(retry.batch_item_failures.is_empty());
    let status = status(&local, "XA", "26XA0024").await;
    assert_eq!((status.versions.len(), status.deliveries.len()), (1, 1));
    let deliveries = local.take_deliveries().await.unwrap();
    assert_eq!(
        deliveries.len(),
        1,
        "the delivery is queued although the first attempt never sent it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurdly_long_permit_number_is_rejected_and_acknowledged() {
    let local = start().await;
    let number = "9".repeat(3_000);
    drop_file(&local, "inbox/long.json", export(&number)).await;
    let cancel = serde_json::json!({"type": "cancel", "version": 1, "issuer": "XA",
        "permit_number": number, "reason": "x"});
    local.send_direct(&cancel.to_string()).await.unwrap();
    let outcome = local.drain(DRAIN).await.unwrap();
    assert_eq!(outcome.failed, 0, "rejected, not retried into the DLQ");
    assert!(rejection_report(&local, "inbox/long.json").await.is_some());
    assert_eq!(local.list("rejected/sqs/").await.unwrap().len(), 1);
}
