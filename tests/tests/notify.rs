//! End-to-end behaviour of notifications against moto server: real ingest, the
//! ledger's real DynamoDB stream, the real notify and webhook handlers, SNS -> SQS with filter
//! policies, and webhook subscribers on loopback.

use ecites_e2e::*;
use ecites_exchange::notify::{
    verify, EventType, Filters, Role, Secret, SubscriptionRegistry as _, SIGNATURE_HEADER,
};
use ecites_local::emulation::webhook_receiver::WebhookReceiver;
use ecites_local::stack::notify::{LocalNotify, NotifyOptions};

fn importer(country: &str) -> Filters {
    Filters {
        importer: vec![country.into()],
        ..Filters::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customs_queue_with_a_filter_policy_receives_only_matching_events() {
    let (local, notify) = start_notify().await;
    let customs_url = subscribed_queue(
        &local,
        &notify,
        "customs-xb",
        Role::Customs,
        &[EventType::Issued, EventType::Rejected],
        importer("XB"),
    )
    .await;
    let ma_url = subscribed_queue(
        &local,
        &notify,
        "ma-xa",
        Role::ManagementAuthority,
        &[EventType::Rejected, EventType::DeliveryFailed],
        Filters::default(),
    )
    .await;

    issue(&local, "26XA0101", "XB").await; // for XB customs
    issue(&local, "26XA0102", "XD").await; // another importer
    issue(&local, "26XA0103", "XC").await; // XC has no partner: delivery_failed (NO_PARTNER)
    drop_file(&local, "inbox/broken.json", fixtures::invalid_json("XA")).await;
    run_everything(&local, &notify).await;

    let customs = take_events(&local, &customs_url).await;
    assert_eq!(customs.len(), 1, "{customs:#?}");
    assert_eq!(customs[0]["type"], "org.cites.epermit.issued");
    assert_eq!(customs[0]["subject"], "XA/26XA0101");
    assert_eq!(customs[0]["data"]["importer"], "XB");
    assert_eq!(customs[0]["data"]["blocks"][0]["taxon"], "Testudo hermanni");
    assert!(
        customs[0]["data"].get("xml").is_none(),
        "the topic never carries the XML key"
    );

    let ma = take_events(&local, &ma_url).await;
    let mut types: Vec<&str> = ma.iter().filter_map(|e| e["type"].as_str()).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "org.cites.epermit.delivery_failed",
            "org.cites.epermit.rejected"
        ],
        "{ma:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_receives_only_its_events_signed_with_its_secret() {
    let (local, notify) = start_notify().await;
    let receiver = WebhookReceiver::start(200).await.unwrap();
    let secret = Secret::new("customs-xb-secret-1");
    notify
        .admin
        .add(
            webhook("hook-xb", &receiver.url("/cites"), true),
            Some(&secret),
        )
        .await
        .unwrap();
    issue(&local, "26XA0201", "XB").await;
    issue(&local, "26XA0202", "XD").await;
    run_everything(&local, &notify).await;

    let received = receiver.received();
    assert_eq!(received.len(), 1, "{received:#?}");
    let request = &received[0];
    assert_eq!(request.path, "/cites");
    let header = request
        .headers
        .get(&SIGNATURE_HEADER.to_ascii_lowercase())
        .expect("signature header");
    let now = chrono::Utc::now().timestamp();
    assert_eq!(verify(&secret, header, &request.body, now, 300), Ok(()));
    assert!(verify(&Secret::new("wrong"), header, &request.body, now, 300).is_err());
    let event = json(&request.body);
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "org.cites.epermit.issued");
    assert_eq!(
        request.headers["x-ecites-event-id"],
        event["id"].as_str().unwrap()
    );
    assert_eq!(
        request.headers["content-type"],
        "application/cloudevents+json"
    );
    let key = event["data"]["xml"]["key"].as_str().expect("xml location");
    assert!(local.get_object(key).await.unwrap().is_some(), "{key}");
    let url = event["data"]["xml"]["url"]
        .as_str()
        .expect("a presigned link");
    assert!(url.starts_with(&local.endpoint), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_client_is_made_by_the_first_job_not_at_start() {
    // Its TLS set-up (the native root certificates) is the largest part of a cold start (#20).
    let (local, notify) = start_notify().await;
    assert!(!notify.webhooks.client_made(), "made at start");
    let receiver = WebhookReceiver::start(200).await.unwrap();
    notify
        .admin
        .add(
            webhook("hook-first", &receiver.url("/cites"), true),
            Some(&Secret::new("first-job-secret")),
        )
        .await
        .unwrap();
    issue(&local, "26XA0203", "XB").await;
    run_everything(&local, &notify).await;
    assert!(notify.webhooks.client_made(), "not made by the job");
    assert_eq!(receiver.received().len(), 1, "the job delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_that_is_down_gets_retries_then_the_dlq() {
    let (local, notify) = start_notify().await;
    let receiver = WebhookReceiver::start(503).await.unwrap();
    subscribe_webhook(
        &notify,
        "hook-down",
        &receiver.url("/down"),
        &Secret::new("s"),
    )
    .await;
    issue(&local, "26XA0301", "XB").await;
    run_everything(&local, &notify).await;

    assert_eq!(
        receiver.received().len(),
        NotifyOptions::default().max_receive_count as usize,
        "one attempt per receive before the DLQ"
    );
    let dead = take_events(&local, &notify.webhook_dlq_url).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["subscription_id"], "hook-down");
    assert_eq!(dead[0]["event"]["subject"], "XA/26XA0301");
}

/// XB's customs subscribed to issued permits twice over: through the topic (a queue) and by
/// webhook. Returns the queue's URL and the webhook receiver.
async fn customs_on_both_channels(
    local: &Local,
    notify: &LocalNotify,
) -> (String, WebhookReceiver) {
    let customs_url = subscribed_queue(
        local,
        notify,
        "customs-xb",
        Role::Customs,
        &[EventType::Issued],
        Filters::default(),
    )
    .await;
    let receiver = WebhookReceiver::start(200).await.unwrap();
    subscribe_webhook(notify, "hook-xb", &receiver.url("/x"), &Secret::new("s")).await;
    (customs_url, receiver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_stream_records_do_not_notify_twice() {
    let (local, notify) = start_notify().await;
    let (customs_url, receiver) = customs_on_both_channels(&local, &notify).await;
    issue(&local, "26XA0401", "XB").await;
    run_everything(&local, &notify).await;

    // Replay the whole stream from TRIM_HORIZON, as after a lost checkpoint.
    notify.stream.rewind();
    let replayed = notify.run_stream(DRAIN).await.unwrap();
    assert!(replayed.records > 0, "the replay saw the records again");
    notify.run_webhooks(DRAIN).await.unwrap();

    assert_eq!(local.take_all(&customs_url).await.unwrap().len(), 1);
    assert_eq!(receiver.received().len(), 1);
}

/// Lambda hands a shard's records over in order and may repeat a batch; here each batch comes
/// reversed and twice over (a cancellation's head before the version it cancels, every record
/// repeated in the same batch). The claims in the ledger still tell each subscriber each event
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_records_out_of_batch_order_and_twice_in_a_batch_notify_each_event_once() {
    let (local, mut notify) = start_notify().await;
    notify.stream.disorder = true;
    let customs_url = subscribed_queue(
        &local,
        &notify,
        "customs-xb",
        Role::Customs,
        &[EventType::Issued, EventType::Replaced, EventType::Cancelled],
        Filters::default(),
    )
    .await;
    let receiver = WebhookReceiver::start(200).await.unwrap();
    subscribe_webhook(&notify, "hook-xb", &receiver.url("/x"), &Secret::new("s")).await;
    issue(&local, "26XA0451", "XB").await;
    local.drain(DRAIN).await.unwrap();
    drop_file(
        &local,
        "inbox/26XA0451-v2.json",
        fixtures::json(&fixtures::export_permit("26XA0451", "XA", "XB", 99)),
    )
    .await;
    local.drain(DRAIN).await.unwrap();
    local
        .send_direct(r#"{"type":"cancel","version":1,"issuer":"XA","permit_number":"26XA0451","reason":"specimens died"}"#)
        .await
        .unwrap();
    run_everything(&local, &notify).await;

    let mut ids: Vec<String> = take_events(&local, &customs_url)
        .await
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "XA/26XA0451/v1/issued",
            "XA/26XA0451/v2/cancelled",
            "XA/26XA0451/v2/replaced"
        ]
    );
    let hooked: Vec<String> = receiver
        .received()
        .iter()
        .filter_map(|r| json(&r.body)["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        hooked,
        ["XA/26XA0451/v1/issued"],
        "the webhook (issued only) once too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_subscriptions_get_nothing() {
    let (local, notify) = start_notify().await;
    let (customs_url, receiver) = customs_on_both_channels(&local, &notify).await;

    // A webhook already queued when its subscription is removed is dropped, not sent.
    issue(&local, "26XA0501", "XB").await;
    local.drain(DRAIN).await.unwrap();
    notify.run_stream(DRAIN).await.unwrap();
    assert!(notify.admin.remove("hook-xb").await.unwrap());
    assert!(notify.admin.remove("customs-xb").await.unwrap());
    assert!(!notify.admin.remove("customs-xb").await.unwrap());
    local.take_all(&customs_url).await.unwrap();
    notify.run_webhooks(DRAIN).await.unwrap();

    issue(&local, "26XA0502", "XB").await;
    run_everything(&local, &notify).await;
    assert!(receiver.received().is_empty(), "{:#?}", receiver.received());
    assert!(local.take_all(&customs_url).await.unwrap().is_empty());
    assert!(notify
        .admin
        .registry
        .get("hook-xb")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_stream_record_is_retried_from_its_sequence_number_and_nothing_is_lost() {
    let (local, notify) = start_notify().await;
    let customs_url = subscribed_queue(
        &local,
        &notify,
        "customs-xb",
        Role::Customs,
        &[EventType::Issued],
        Filters::default(),
    )
    .await;
    issue(&local, "26XA0601", "XB").await;
    local.drain(DRAIN).await.unwrap();

    // The same function with a topic that does not exist: publishing fails.
    let broken_config = ecites_notify::NotifyConfig {
        topic_arn: "arn:aws:sns:us-east-1:123456789012:missing".into(),
        ..notify.config.clone()
    };
    let broken =
        ecites_notify::NotifyFunction::new(&broken_config, &local.clients, &notify.clients);
    let handler = |event| broken.handle(event);
    let first = notify.stream.poll_once(&handler).await.unwrap();
    assert_eq!(first.failed_batches, 1);
    let second = notify.stream.poll_once(&handler).await.unwrap();
    assert_eq!(second.failed_batches, 1, "re-read from the failed record");
    assert!(second.records > 0);
    assert!(local.take_all(&customs_url).await.unwrap().is_empty());

    // Fixed: the retry from the failed record notifies, once.
    notify.drain(DRAIN).await.unwrap();
    let events = take_events(&local, &customs_url).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["subject"], "XA/26XA0601");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customs_is_told_of_a_cancellation_with_the_issuers_reason() {
    let (local, notify) = start_notify().await;
    let customs_url = subscribed_queue(
        &local,
        &notify,
        "customs-xb",
        Role::Customs,
        &[EventType::Cancelled],
        importer("XB"),
    )
    .await;
    issue(&local, "26XA0701", "XB").await;
    local.drain(DRAIN).await.unwrap();
    local
        .send_direct(r#"{"type":"cancel","version":1,"issuer":"XA","permit_number":"26XA0701","reason":"specimens died"}"#)
        .await
        .unwrap();
    run_everything(&local, &notify).await;

    let events = take_events(&local, &customs_url).await;
    assert_eq!(events.len(), 1, "only the cancellation: {events:#?}");
    let event = &events[0];
    assert_eq!(event["type"], "org.cites.epermit.cancelled");
    assert_eq!(event["id"], "XA/26XA0701/v1/cancelled");
    assert_eq!(event["data"]["detail"]["reason"], "specimens died");
    assert_eq!(
        event["data"]["importer"], "XB",
        "summary of the cancelled version"
    );
}

/// The local stream mapping's limit is on being stuck, not on being slow: a handler that
/// fails each record the first time it sees it (every batch fails, yet the shard moves on)
/// and takes longer in all than the limit still drains the stream; a handler that fails the
/// same record for ever is stopped at the limit with the shard, the record and how many times
/// in a row it failed (what the 2,000-permit soak's timeout could not say).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_runner_stops_on_a_stuck_record_and_names_it_but_not_on_a_slow_backlog() {
    use aws_lambda_events::event::dynamodb::Event;
    use lambda_runtime::LambdaEvent;
    use std::collections::HashSet;
    use std::sync::Mutex;
    use std::time::Duration;
    let (local, notify) = start_notify().await;
    for number in ["26XA0601", "26XA0602", "26XA0603"] {
        issue(&local, number, "XB").await;
    }
    local.drain(DRAIN).await.unwrap();
    let sequence = |record: &aws_lambda_events::event::dynamodb::EventRecord| {
        record.change.sequence_number.clone()
    };

    // Slow and failing, but moving on: each record fails once, each call takes 300 ms.
    let seen = Mutex::new(HashSet::new());
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let moving_on = |event: LambdaEvent<Event>| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let first_new = event
            .payload
            .records
            .iter()
            .filter_map(sequence)
            .find(|s| seen.lock().unwrap().insert(s.clone()));
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok::<_, lambda_runtime::Error>(ecites_aws::batch::stream_response(first_new))
        }
    };
    let started = std::time::Instant::now();
    let limit = Duration::from_secs(1);
    let drained = notify
        .stream
        .run_until_quiet(&moving_on, limit)
        .await
        .unwrap();
    assert!(started.elapsed() > limit, "took {:?}", started.elapsed());
    assert!(drained.failed_batches >= 3, "{drained:?}");
    assert!(calls.into_inner() > 3);

    // Stuck: the first record of each batch fails every time.
    notify.stream.rewind();
    let stuck = |event: LambdaEvent<Event>| {
        let first = event.payload.records.first().and_then(sequence);
        async move { Ok::<_, lambda_runtime::Error>(ecites_aws::batch::stream_response(first)) }
    };
    let error = notify
        .stream
        .run_until_quiet(&stuck, limit)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("stuck on shard"), "{error}");
    assert!(error.contains("times in a row"), "{error}");
}
