//! Faults in the AWS calls of the functions, injected by a loopback proxy in front of moto
//! ([`ecites_local::emulation::aws_proxy`]): each service's own throttling error, 500 and 503,
//! a connection reset before the request is applied, a request applied whose answer is lost,
//! and one held past the client's attempt timeout.
//! Nothing may be lost and nothing doubled: every valid permit ends delivered exactly once, every
//! invalid one rejected with a report, no queue or DLQ left holding a message.

use ecites_e2e::{fixtures, status};
use ecites_exchange::ledger::DeliveryKind;
use ecites_local::emulation::aws_proxy::{AwsProxy, Fault, FaultPlan, ProxyOptions};
use ecites_local::stack::exchange::{delivery_message as message, start_pair, Ma, PairOptions};
use ecites_local::REGION;
use std::time::Duration;

const QUIET: Duration = Duration::from_secs(120);

/// Every kind of fault, through the SDK: the functions' error classification must call each one
/// transient (retried), never permanent (a message dropped or a permit refused for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_injected_fault_reaches_the_functions_as_a_transient_error() {
    let local = ecites_e2e::start().await;
    for kind in Fault::ALL {
        let options = ProxyOptions {
            latency: Duration::ZERO,
            faults: Some(FaultPlan::always(kind)),
        };
        let proxy = AwsProxy::start(&local.endpoint, options).await.unwrap();
        let client_options = ecites_aws::ClientOptions {
            emulator_credentials: true,
            max_attempts: Some(1),
            attempt_timeout: Some(ecites_local::FAULTED_ATTEMPT_TIMEOUT),
            ..ecites_aws::ClientOptions::default()
        };
        let clients =
            ecites_aws::Clients::new(Some(&proxy.endpoint()), REGION, &client_options).await;
        let dynamodb = clients
            .dynamodb
            .describe_table()
            .table_name(&local.stack.table)
            .send()
            .await
            .map_err(|e| ecites_aws::classify("DescribeTable", e))
            .expect_err("the fault is seen");
        assert!(dynamodb.is_transient(), "{kind:?} on DynamoDB: {dynamodb}");
        let s3 = clients
            .s3
            .head_bucket()
            .bucket(&local.stack.bucket)
            .send()
            .await
            .map_err(|e| ecites_aws::classify("HeadBucket", e))
            .expect_err("the fault is seen");
        assert!(s3.is_transient(), "{kind:?} on S3: {s3}");
        let sqs = clients
            .sqs
            .get_queue_attributes()
            .queue_url(&local.stack.ingest_queue_url)
            .send()
            .await
            .map_err(|e| ecites_aws::classify("GetQueueAttributes", e))
            .expect_err("the fault is seen");
        assert!(sqs.is_transient(), "{kind:?} on SQS: {sqs}");
        assert_eq!(proxy.faults_injected()[&kind], 3, "{kind:?}");
    }
}

/// The small soak (`make soak`'s harness, [`ecites_local::soak`]): two MAs with notifications
/// and customs uses; each function's AWS calls faulted at 8 % (every kind, fixed seed), XB's
/// endpoint and both webhook subscribers flapping, the ingest and forward runners killed once
/// each mid-batch; 24 permits in every form, 6 duplicates, 3 invalid files, 3 re-issues, 2
/// cancellations, 4 import confirmations (2 sent twice). Then the audit of both ledgers, both
/// buckets, the queues and the four inboxes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_faults_every_permit_use_and_notification_arrives_once_and_nothing_is_left_queued() {
    ecites_aws::telemetry::init_tracing();
    let report = ecites_local::soak::run(&ecites_local::soak::SoakOptions::new(24))
        .await
        .expect("the soak runs");
    let table = ecites_local::soak::table(&report);
    assert!(report.passed(), "{table}");
    assert_eq!(report.delivered, 24, "{table}");
    assert_eq!(
        (report.duplicates, report.invalid, report.rejected),
        (6, 3, 3),
        "{table}"
    );
    assert_eq!(
        (report.reissues, report.cancellations, report.uses),
        (3, 2, 4),
        "{table}"
    );
    assert_eq!(report.uses_recorded, 4, "{table}");
    assert_eq!(report.forms.len(), 4, "every input form: {table}");
    assert_eq!(report.notifications.len(), 4, "four inboxes: {table}");
    // The run was a fault run: with this seed every kind was injected, the partner and the
    // subscribers flapped, and both runners were killed mid-batch.
    for kind in Fault::ALL {
        assert!(
            report.faults.get(&kind).copied().unwrap_or(0) > 0,
            "no {kind:?} injected: {table}"
        );
    }
    assert!(report.partner_faults > 0, "{table}");
    assert!(report.subscriber_faults > 0, "{table}");
    assert_eq!(report.runner_kills, 2, "{table}");
}

/// Sends `count` XA->XB export permits to XA's ingest queue as direct messages.
async fn send_permits(xa: &Ma, first: usize, count: usize) -> Vec<String> {
    let mut numbers = Vec::new();
    for i in first..first + count {
        let number = format!("26XA{i:04}");
        let permit = fixtures::export_permit(&number, "XA", "XB", 1 + i as i64);
        let body = String::from_utf8_lossy(&fixtures::json(&permit)).into_owned();
        let message = serde_json::json!({"type": "permit", "version": 1, "content": body});
        xa.local.send_direct(&message.to_string()).await.unwrap();
        numbers.push(number);
    }
    numbers
}

/// Each permit: one version at XA, its delivery DELIVERED, received once by XB.
async fn assert_once_each(xa: &Ma, xb: &Ma, numbers: &[String]) {
    for number in numbers {
        assert_eq!(
            status(&xa.local, "XA", number).await.versions.len(),
            1,
            "{number} at XA"
        );
        let delivery = xa
            .store
            .delivery_fields(&message("XA", number, 1, DeliveryKind::Permit, "XB"))
            .await
            .unwrap()
            .expect("a delivery");
        assert_eq!(delivery["state"], "DELIVERED", "{number}: {delivery:?}");
        assert_eq!(
            ecites_local::soak::received_versions(xb, number)
                .await
                .unwrap(),
            1,
            "{number} at XB"
        );
    }
}

/// The runner killed in the middle of a batch: the handler and the runner stop at once (the
/// poll's future is dropped, as a killed process stops), some writes made and others not, and
/// nothing deleted. SQS makes the messages visible again; the next run finishes the work, and
/// every permit is recorded, delivered and received once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_in_the_middle_of_a_batch_leaves_its_messages_to_be_handled_once_again() {
    ecites_aws::telemetry::init_tracing();
    let (xa, xb) = start_pair(PairOptions {
        aws_latency: Duration::from_millis(40),
        ..PairOptions::default()
    })
    .await
    .expect("the pair starts");
    let numbers = send_permits(&xa, 4000, 10).await;
    let mut source = xa.local.ingest_source.clone();
    source.batching_window = Duration::from_secs(2);
    let handler = |event| xa.local.function.handle(event);
    let cut = tokio::time::timeout(Duration::from_millis(70), source.poll_once(&handler)).await;
    assert!(
        cut.is_err(),
        "the batch was still running when the runner was killed"
    );
    let started = xa
        .local
        .proxy
        .as_ref()
        .map(AwsProxy::requests)
        .unwrap_or_default();
    assert!(started > 0, "the batch had begun its AWS calls");
    xa.local.drain(QUIET).await.unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    assert_once_each(&xa, &xb, &numbers).await;
}

/// The same messages handled by two workers at once: a visibility timeout (1 s) shorter than
/// the work (each AWS call held 400 ms), so a second poller receives what the first is still
/// handling. Ingest's conditional writes and forward's claims leave one version, one delivery
/// and one reception per permit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_handling_the_same_messages_at_once_record_and_deliver_each_permit_once() {
    ecites_aws::telemetry::init_tracing();
    let (xa, xb) = start_pair(PairOptions {
        aws_latency: Duration::from_millis(400),
        // XB's receive makes its AWS calls at the same pace: give it time to answer.
        timeout: Duration::from_secs(20),
        max_receives: 5,
        ..PairOptions::default()
    })
    .await
    .expect("the pair starts");
    let numbers = send_permits(&xa, 5000, 6).await;
    let handler = |event| xa.local.function.handle(event);
    let mut first = xa.local.ingest_source.clone();
    first.batch_size = 3;
    let second = first.clone();
    let (a, b) = tokio::join!(first.run_until_quiet(&handler, QUIET), async {
        // Starts once the first worker's messages are in flight and about to reappear.
        tokio::time::sleep(Duration::from_millis(900)).await;
        second.run_until_quiet(&handler, QUIET).await
    });
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        a.received + b.received > numbers.len(),
        "some message was handled twice (first {a:?}, second {b:?})"
    );
    let forward = |event| xa.forward.handle(event);
    let mut one = xa.forward_source.clone();
    one.batch_size = 3;
    let other = one.clone();
    let (c, d) = tokio::join!(one.run_until_quiet(&forward, QUIET), async {
        tokio::time::sleep(Duration::from_millis(900)).await;
        other.run_until_quiet(&forward, QUIET).await
    });
    c.unwrap();
    d.unwrap();
    assert_once_each(&xa, &xb, &numbers).await;
}

/// Found by the soak: a transaction recording a received document whose answer was lost (the
/// SDK retried it and the retry found the record) was taken for a duplicate of another message,
/// and receive removed that message's objects, the ones the record names. The same message
/// recording again is its own record; only another message's is a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_received_document_recorded_again_by_the_same_message_is_not_a_duplicate() {
    use ecites_exchange::protocol::{AckStatus, DocumentStatus};
    use ecites_exchange::receive::{InboundLedger as _, NewReceived};
    let local = ecites_e2e::start().await;
    let ledger =
        ecites_aws::DynamoLedger::on_table(local.clients.dynamodb.clone(), &local.stack.table);
    let received = |message_id: &str| NewReceived {
        from: ecites_local::country("XB"),
        permit_number: "26XB0001".into(),
        permit_version: 1,
        status: DocumentStatus::Issued,
        document_type: "E".into(),
        message_id: message_id.into(),
        tracking_number: "XA-0123456789abcdef0123".into(),
        body_key: format!("received/XB/26XB0001/{message_id}.json"),
        xml_key: format!("received/XB/26XB0001/{message_id}.xml"),
        document_sha256: "ab".repeat(32),
        signature: "signature".into(),
        key_id: "XB-1".into(),
        ack_status: AckStatus::Delivered,
        findings_json: "[]".into(),
        received_at: chrono::Utc::now(),
        facts: None,
    };
    let first = ledger.record_received(&received("m1")).await.unwrap();
    assert!(!first.duplicate);
    let again = ledger.record_received(&received("m1")).await.unwrap();
    assert!(!again.duplicate, "the same message's own record");
    let other = ledger.record_received(&received("m2")).await.unwrap();
    assert!(
        other.duplicate,
        "another message carrying the same document"
    );
    assert_eq!(other.tracking_number, first.tracking_number);
}
