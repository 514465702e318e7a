//! MA-to-MA exchange end to end: two deployments (XA and XB) on one moto server, each with its
//! receive function served on a loopback port as a Function URL, the real ingest, forward and
//! receive handlers, signed envelopes over real HTTP.

use chrono::Utc;
use ecites_e2e::fixtures;
use ecites_e2e::start_pair;
use ecites_e2e::OpenApi;
use ecites_exchange::forward::build_message;
use ecites_exchange::http::HttpTransport as _;
use ecites_exchange::ledger::{DeliveryKind, DeliveryState, ReceivedState};
use ecites_exchange::protocol::SigningIdentity;
use ecites_exchange::Ledger;
use ecites_forward::HyperTransport;
use ecites_local::emulation::front_door::Mode;
use ecites_local::emulation::reference_partner::command as reference_partner;
use ecites_local::stack::exchange::{delivery_message as message, Ma, PairOptions};
use std::collections::HashMap;
use std::time::Duration;

const QUIET: Duration = Duration::from_secs(90);

async fn delivery(
    xa: &Ma,
    number: &str,
    version: u32,
    kind: DeliveryKind,
) -> HashMap<String, String> {
    xa.store
        .delivery_fields(&message("XA", number, version, kind, "XB"))
        .await
        .unwrap()
        .expect("the delivery is in XA's ledger")
}

async fn received(
    xb: &Ma,
    number: &str,
    version: u32,
    status: &str,
) -> Option<HashMap<String, String>> {
    xb.store
        .received_fields(ecites_local::country("XA"), number, version, status)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permit_dropped_at_xa_arrives_at_xb_verified_and_both_ledgers_agree_through_replacement_and_cancellation(
) {
    let (xa, xb) = start_pair().await;
    let permit = fixtures::export_permit("26XA0001", "XA", "XB", 10);
    xa.drop_permit("26XA0001", &permit).await.unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();

    let sent = delivery(&xa, "26XA0001", 1, DeliveryKind::Permit).await;
    assert_eq!(sent["state"], "DELIVERED", "{sent:?}");
    assert_eq!(sent["attempts"], "1");
    let got = received(&xb, "26XA0001", 1, "issued")
        .await
        .expect("XB recorded it");
    assert_eq!(got["state"], "RECEIVED");
    assert_eq!(got["tracking_number"], sent["tracking_number"]);
    assert!(got["tracking_number"].starts_with("XB-"));
    let stored = xb.local.list("received/XA/26XA0001/").await.unwrap();
    assert_eq!(
        stored.len(),
        2,
        "the envelope and its verified XML: {stored:?}"
    );
    assert!(stored.contains(&got["body_key"]) && stored.contains(&got["xml_key"]));

    // A replacement (same number, new content) follows it.
    let replacement = fixtures::export_permit("26XA0001", "XA", "XB", 12);
    xa.drop_permit("26XA0001-v2", &replacement).await.unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    let sent = delivery(&xa, "26XA0001", 2, DeliveryKind::Replacement).await;
    assert_eq!(sent["state"], "DELIVERED", "{sent:?}");
    let got = received(&xb, "26XA0001", 2, "replaced")
        .await
        .expect("replacement received");
    assert_eq!(got["tracking_number"], sent["tracking_number"]);

    // Then a cancellation.
    xa.local
        .send_direct(r#"{"type":"cancel","version":1,"issuer":"XA","permit_number":"26XA0001","reason":"specimens died"}"#)
        .await
        .unwrap();
    xa.local.drain(QUIET).await.unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    let sent = delivery(&xa, "26XA0001", 2, DeliveryKind::Cancellation).await;
    assert_eq!(sent["state"], "DELIVERED", "{sent:?}");
    let got = received(&xb, "26XA0001", 2, "cancelled")
        .await
        .expect("cancellation received");
    assert_eq!(got["tracking_number"], sent["tracking_number"]);
    assert_eq!(
        xb.local.list("received/XA/26XA0001/").await.unwrap().len(),
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_delivery_waits_at_least_the_partners_retry_after_then_is_delivered() {
    // Backoff for the first retry is 0.5 to 1 s; the partner asks for 3 s (within the 10 s cap).
    let (xa, xb) = ecites_local::stack::exchange::start_pair(PairOptions {
        retry_base: Duration::from_secs(1),
        retry_cap: Duration::from_secs(10),
        ..PairOptions::default()
    })
    .await
    .unwrap();
    xb.server.set_mode(Mode::RateLimited(3));
    xa.drop_permit(
        "26XA0700",
        &fixtures::export_permit("26XA0700", "XA", "XB", 5),
    )
    .await
    .unwrap();
    let handler = |event| xa.forward.handle(event);
    let first = xa.forward_source.poll_once(&handler).await.unwrap();
    assert_eq!(first.failed, 1, "{first:?}");
    let sent = delivery(&xa, "26XA0700", 1, DeliveryKind::Permit).await;
    assert!(sent["last_error"].contains("HTTP 429"), "{sent:?}");
    assert_ne!(sent["state"], "FAILED", "a 429 is retried: {sent:?}");

    // Past the backoff, still inside Retry-After: the message must not be back yet.
    xb.server.set_mode(Mode::Healthy);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let early = xa.forward_source.poll_once(&handler).await.unwrap();
    assert_eq!(
        early.received, 0,
        "redelivered before Retry-After: {early:?}"
    );
    assert_eq!(xb.server.requests(), 1);

    xa.forward_until_quiet(QUIET).await.unwrap();
    let sent = delivery(&xa, "26XA0700", 1, DeliveryKind::Permit).await;
    assert_eq!(sent["state"], "DELIVERED", "{sent:?}");
    assert_eq!(sent["attempts"], "2", "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permit_for_a_partner_not_yet_onboarded_waits_as_no_partner_and_is_sent_after_onboarding()
{
    let (xa, xb) = start_pair().await;
    let onboarded = xb.as_partner();
    xa.set_directory(Vec::new()).await.unwrap();
    xa.drop_permit(
        "26XA0800",
        &fixtures::export_permit("26XA0800", "XA", "XB", 5),
    )
    .await
    .unwrap();
    let waiting = delivery(&xa, "26XA0800", 1, DeliveryKind::Permit).await;
    assert_eq!(waiting["state"], "NO_PARTNER", "{waiting:?}");
    let queue = &xa.local.stack.deliveries_queue_url;
    assert_eq!(xa.local.visible_messages(queue).await.unwrap(), 0);

    // XB is onboarded; the operator sends what waited for it (ecites replay --no-partner XB).
    xa.set_directory(vec![onboarded]).await.unwrap();
    let requeue = || {
        ecites_aws::replay::requeue_ended(
            &xa.local.clients.sqs,
            &xa.store,
            &xa.local.stack.bucket,
            queue,
            ecites_aws::replay::EndedDeliveries {
                recipient: ecites_local::country("XB"),
                state: ecites_exchange::ledger::DeliveryState::NoPartner,
                since: None,
            },
            100,
        )
    };
    let report = requeue().await.unwrap();
    assert_eq!(report.requeued, 1, "{report:?}");
    xa.forward_until_quiet(QUIET).await.unwrap();
    let sent = delivery(&xa, "26XA0800", 1, DeliveryKind::Permit).await;
    assert_eq!(sent["state"], "DELIVERED", "{sent:?}");
    assert_eq!(sent["attempts"], "1", "{sent:?}");
    let got = received(&xb, "26XA0800", 1, "issued")
        .await
        .expect("XB received it");
    assert_eq!(got["tracking_number"], sent["tracking_number"]);

    // Nothing waits any more: a second run sends nothing.
    assert_eq!(requeue().await.unwrap().requeued, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_ends_failed_off_the_dlq_and_replay_failed_sends_it_once_the_key_is_fixed(
) {
    let (xa, xb) = start_pair().await;
    // XB does not know XA's key yet: it refuses XA's envelope for good (401), so the delivery
    // ends FAILED at once and never reaches the DLQ.
    let xa_entry = xa.as_partner();
    xb.set_directory(Vec::new()).await.unwrap();
    let before = chrono::Utc::now();
    xa.drop_permit(
        "26XA0900",
        &fixtures::export_permit("26XA0900", "XA", "XB", 5),
    )
    .await
    .unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    let failed = delivery(&xa, "26XA0900", 1, DeliveryKind::Permit).await;
    assert_eq!(failed["state"], "FAILED", "{failed:?}");
    assert!(failed["last_error"].contains("401"), "{failed:?}");
    let dlq = &xa.local.stack.deliveries_dlq_url;
    assert_eq!(xa.local.visible_messages(dlq).await.unwrap(), 0);

    let requeue = |since| {
        ecites_aws::replay::requeue_ended(
            &xa.local.clients.sqs,
            &xa.store,
            &xa.local.stack.bucket,
            &xa.local.stack.deliveries_queue_url,
            ecites_aws::replay::EndedDeliveries {
                recipient: ecites_local::country("XB"),
                state: DeliveryState::Failed,
                since: Some(since),
            },
            100,
        )
    };
    // Only what ended since the given time is selected.
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(requeue(later).await.unwrap().requeued, 0);

    // XB's operator adds XA's key; XA's operator sends the failed delivery again.
    xb.set_directory(vec![xa_entry]).await.unwrap();
    let report = requeue(before).await.unwrap();
    assert_eq!(report.requeued, 1, "{report:?}");
    xa.forward_until_quiet(QUIET).await.unwrap();
    let sent = delivery(&xa, "26XA0900", 1, DeliveryKind::Permit).await;
    assert_eq!(sent["state"], "DELIVERED", "{sent:?}");
    let got = received(&xb, "26XA0900", 1, "issued")
        .await
        .expect("XB received it");
    assert_eq!(got["tracking_number"], sent["tracking_number"]);
    // Delivered now: a second run finds nothing FAILED.
    assert_eq!(requeue(before).await.unwrap().requeued, 0);
}

async fn fails_then_dlq_then_replay_delivers(mode: Mode, expected_error: &str) {
    let (xa, xb) = start_pair().await;
    xb.server.set_mode(mode);
    let permit = fixtures::export_permit("26XA0100", "XA", "XB", 5);
    xa.drop_permit("26XA0100", &permit).await.unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();

    let sent = delivery(&xa, "26XA0100", 1, DeliveryKind::Permit).await;
    assert_eq!(sent["state"], "FAILED", "{sent:?}");
    assert_eq!(sent["attempts"], "3", "{sent:?}");
    assert!(sent["last_error"].contains(expected_error), "{sent:?}");
    assert!(xb.server.requests() >= 3);
    assert_eq!(
        xa.local
            .visible_messages(&xa.local.stack.deliveries_dlq_url)
            .await
            .unwrap(),
        1
    );
    assert!(received(&xb, "26XA0100", 1, "issued").await.is_none());

    // The partner recovers; the operator replays the DLQ.
    xb.server.set_mode(Mode::Healthy);
    let report = ecites_aws::replay::replay_dlq(
        &xa.local.clients.sqs,
        &xa.store,
        &xa.local.stack.deliveries_dlq_url,
        &xa.local.stack.deliveries_queue_url,
        100,
    )
    .await
    .unwrap();
    assert_eq!(report.requeued, 1, "{report:?}");
    xa.forward_until_quiet(QUIET).await.unwrap();
    let sent = delivery(&xa, "26XA0100", 1, DeliveryKind::Permit).await;
    assert_eq!(sent["state"], "DELIVERED", "{sent:?}");
    assert_eq!(sent["attempts"], "4");
    assert!(
        !sent.contains_key("last_error"),
        "cleared on delivery: {sent:?}"
    );
    let got = received(&xb, "26XA0100", 1, "issued")
        .await
        .expect("received after replay");
    assert_eq!(got["tracking_number"], sent["tracking_number"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_answering_500_gets_retries_then_the_dlq_and_replay_delivers_after_recovery() {
    fails_then_dlq_then_replay_delivers(Mode::Status(500), "HTTP 500").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_partner_times_out_is_retried_then_the_dlq_and_replay_delivers() {
    fails_then_dlq_then_replay_delivers(Mode::Slow(Duration::from_secs(3)), "no answer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_dropping_connections_is_retried_then_the_dlq_and_replay_delivers() {
    fails_then_dlq_then_replay_delivers(Mode::Drop, "connection").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_that_is_down_is_retried_then_failed_with_the_connection_error() {
    let (xa, xb) = start_pair().await;
    // Nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut partner = xb.as_partner();
    partner.endpoint = format!("http://127.0.0.1:{port}/");
    xa.set_directory(vec![partner]).await.unwrap();
    xa.drop_permit(
        "26XA0200",
        &fixtures::export_permit("26XA0200", "XA", "XB", 5),
    )
    .await
    .unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    let sent = delivery(&xa, "26XA0200", 1, DeliveryKind::Permit).await;
    assert_eq!(sent["state"], "FAILED", "{sent:?}");
    assert!(sent["last_error"].contains("connection"), "{sent:?}");
    assert!(
        !sent.contains_key("GSI1PK"),
        "left the under-delivery index"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_that_cannot_change_fails_at_once_without_retries() {
    let (xa, xb) = start_pair().await;
    xb.server.set_mode(Mode::Status(422));
    xa.drop_permit(
        "26XA0300",
        &fixtures::export_permit("26XA0300", "XA", "XB", 5),
    )
    .await
    .unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    let sent = delivery(&xa, "26XA0300", 1, DeliveryKind::Permit).await;
    assert_eq!(sent["state"], "FAILED", "{sent:?}");
    assert_eq!(sent["attempts"], "1");
    assert_eq!(xb.server.requests(), 1);
    assert_eq!(
        xa.local
            .visible_messages(&xa.local.stack.deliveries_dlq_url)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_delivery_queued_twice_is_sent_once() {
    let (xa, xb) = start_pair().await;
    xa.drop_permit(
        "26XA0400",
        &fixtures::export_permit("26XA0400", "XA", "XB", 5),
    )
    .await
    .unwrap();
    let queued = xa.local.take_deliveries().await.unwrap();
    assert_eq!(queued.len(), 1);
    for _ in 0..2 {
        xa.local
            .clients
            .sqs
            .send_message()
            .queue_url(&xa.local.stack.deliveries_queue_url)
            .message_body(serde_json::to_string(&queued[0]).unwrap())
            .send()
            .await
            .unwrap();
    }
    xa.forward_until_quiet(QUIET).await.unwrap();
    assert_eq!(xb.server.requests(), 1);
    let sent = delivery(&xa, "26XA0400", 1, DeliveryKind::Permit).await;
    assert_eq!(sent["state"], DeliveryState::Delivered.as_str());
    assert_eq!(sent["attempts"], "1");
}

/// Sends a hand-built envelope to XB and returns (status, body); every answer must be one
/// docs/openapi.yaml documents, with the body its schema describes.
async fn post(xb: &Ma, body: Vec<u8>, headers: &[(&'static str, String)]) -> (u16, String) {
    let transport = HyperTransport::for_partners(Duration::from_secs(10)).unwrap();
    let reply = transport
        .post(&xb.server.url(), headers, body)
        .await
        .unwrap();
    if let Err(drift) = OpenApi::load().check_answer(reply.status, &reply.body) {
        panic!("the receive function's answer departs from docs/openapi.yaml: {drift}");
    }
    (
        reply.status,
        String::from_utf8_lossy(&reply.body).into_owned(),
    )
}

fn xml(issuer: &str, number: &str) -> Vec<u8> {
    ecites_domain::xml::write_permit(&fixtures::export_permit(number, issuer, "XB", 3)).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_unknown_replayed_stale_misaddressed_and_oversized_messages_are_refused_and_nothing_is_stored(
) {
    let (xa, xb) = start_pair().await;
    let delivery = message("XA", "26XA0500", 1, DeliveryKind::Permit, "XB");
    let payload = xml("XA", "26XA0500");

    // Forged: signed by a key that is not XA's.
    let forger = SigningIdentity::generate(&xa.key.key_id).unwrap();
    let (body, headers) = build_message(&delivery, "E", &payload, "m-forged", &forger, Utc::now());
    let (status, text) = post(&xb, body, &headers).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("UNAUTHENTICATED"));

    // Tampered: XA's signature, body changed after signing.
    let (mut body, headers) =
        build_message(&delivery, "E", &payload, "m-tampered", &xa.key, Utc::now());
    let at = body.len() - 3;
    body[at] ^= 1;
    assert_eq!(post(&xb, body, &headers).await.0, 401);

    // Unknown sender: XC is not in XB's directory.
    let xc = SigningIdentity::generate("XC-1").unwrap();
    let from_xc = message("XC", "26XC0001", 1, DeliveryKind::Permit, "XB");
    let (body, headers) = build_message(
        &from_xc,
        "E",
        &xml("XC", "26XC0001"),
        "m-xc",
        &xc,
        Utc::now(),
    );
    let (status, text) = post(&xb, body, &headers).await;
    assert_eq!(status, 401, "{text}");
    assert!(
        text.contains("UNAUTHENTICATED"),
        "an unknown sender is told what a forger is told: {text}"
    );

    // XA signing a permit issued by XD: an MA only sends its own permits.
    let (body, headers) = build_message(
        &delivery,
        "E",
        &xml("XD", "26XA0500"),
        "m-foreign",
        &xa.key,
        Utc::now(),
    );
    let (status, text) = post(&xb, body, &headers).await;
    assert_eq!(status, 403, "{text}");

    // Not addressed to XB.
    let to_xd = message("XA", "26XA0500", 1, DeliveryKind::Permit, "XD");
    let (body, headers) = build_message(&to_xd, "E", &payload, "m-xd", &xa.key, Utc::now());
    assert_eq!(post(&xb, body, &headers).await.0, 403);

    // Stale: sent ten minutes ago.
    let old = Utc::now() - chrono::Duration::minutes(10);
    let (body, headers) = build_message(&delivery, "E", &payload, "m-old", &xa.key, old);
    assert_eq!(post(&xb, body, &headers).await.0, 401);

    // Oversized.
    let (status, _) = post(&xb, vec![b' '; 7 * 1024 * 1024], &[]).await;
    assert_eq!(status, 413);

    // Not an envelope.
    assert_eq!(post(&xb, b"hello".to_vec(), &[]).await.0, 400);

    assert!(xb.local.list("received/").await.unwrap().is_empty());
    assert!(received(&xb, "26XA0500", 1, "issued").await.is_none());

    // A good message is accepted; the very same bytes again are a replay; the same document in
    // a new message gets the same tracking number.
    let (body, headers) = build_message(&delivery, "E", &payload, "m-good", &xa.key, Utc::now());
    let (status, first) = post(&xb, body.clone(), &headers).await;
    assert_eq!(status, 200, "{first}");
    let (status, text) = post(&xb, body, &headers).await;
    assert_eq!(status, 409, "{text}");
    assert!(text.contains("REPLAYED"));
    let (body, headers) = build_message(&delivery, "E", &payload, "m-again", &xa.key, Utc::now());
    let (status, again) = post(&xb, body, &headers).await;
    assert_eq!(status, 200, "{again}");
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(first["tracking_number"], again["tracking_number"]);
    assert_eq!(again["duplicate"], true);
    assert!(received(&xb, "26XA0500", 1, "issued").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_sent_and_every_answer_match_the_openapi_document() {
    let (xa, xb) = start_pair().await;
    let openapi = OpenApi::load();
    let delivery = message("XA", "26XA0600", 1, DeliveryKind::Permit, "XB");

    // What forward sends is an Envelope as documented.
    let (body, headers) = build_message(
        &delivery,
        "E",
        &xml("XA", "26XA0600"),
        "m-doc",
        &xa.key,
        Utc::now(),
    );
    openapi.check_envelope(&body).unwrap();
    let (status, ack) = post(&xb, body, &headers).await;
    assert_eq!(status, 200, "{ack}");

    // Readable but invalid (valid until before valid from): 422 INVALID with its findings.
    let mut invalid = fixtures::export_permit("26XA0601", "XA", "XB", 3);
    std::mem::swap(&mut invalid.valid_from, &mut invalid.valid_until);
    let delivery = message("XA", "26XA0601", 1, DeliveryKind::Permit, "XB");
    let payload = ecites_domain::xml::write_permit(&invalid).into_bytes();
    let (body, headers) = build_message(&delivery, "E", &payload, "m-bad", &xa.key, Utc::now());
    let (status, text) = post(&xb, body, &headers).await;
    assert_eq!(status, 422, "{text}");
    let refusal: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(refusal["code"], "INVALID");
    assert!(
        !refusal["findings"].as_array().unwrap().is_empty(),
        "{text}"
    );

    // Only POST: any other method is a documented 405 refusal.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let answer = client.get(xb.server.url().parse().unwrap()).await.unwrap();
    let status = answer.status().as_u16();
    let body = http_body_util::BodyExt::collect(answer.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(status, 405, "{}", String::from_utf8_lossy(&body));
    openapi.check_answer(status, &body).unwrap();
    assert!(received(&xb, "26XA0601", 1, "issued").await.is_none());
}

/// The line of a rendered status that contains `needle`.
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_at_xa_shows_the_tracking_number_xb_holds_and_status_at_xb_lists_the_received_version(
) {
    let (xa, xb) = start_pair().await;
    let permit = fixtures::export_permit("26XA0600", "XA", "XB", 10);
    xa.drop_permit("26XA0600", &permit).await.unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    let got = received(&xb, "26XA0600", 1, "issued")
        .await
        .expect("XB recorded it");
    let tracking = got["tracking_number"].clone();
    assert!(tracking.starts_with("XB-"), "{got:?}");
    let id = ecites_e2e::id("XA", "26XA0600");

    // XA: the delivery row as `ecites status` reads and prints it.
    let at_xa = xa.local.function.ledger().status(&id).await.unwrap();
    assert_eq!(at_xa.deliveries.len(), 1, "{at_xa:?}");
    assert_eq!(at_xa.deliveries[0].state, DeliveryState::Delivered);
    assert_eq!(
        at_xa.deliveries[0].tracking_number.as_deref(),
        Some(tracking.as_str())
    );
    let text = ecites_aws::status::render(&id, &at_xa);
    let row = line_with(&text, &tracking);
    for expected in ["permit", "XB", "DELIVERED", " 1 "] {
        assert!(row.contains(expected), "{expected:?} missing in {row:?}");
    }

    // XB: the received version as an item, matching the received row and the stored original.
    let at_xb = xb.local.function.ledger().status(&id).await.unwrap();
    assert_eq!(at_xb.state, None, "XB holds no version of its own");
    assert_eq!(at_xb.received.len(), 1, "{at_xb:?}");
    let item = &at_xb.received[0];
    assert_eq!(item.tracking_number, tracking);
    assert_eq!(item.version, 1);
    assert_eq!(item.document_status, "issued");
    assert_eq!(item.sender, "XA");
    assert_eq!(item.message_id, got["message_id"]);
    assert_eq!(item.body_key, got["body_key"]);
    assert_eq!(item.received_at, got["received_at"]);
    assert_eq!(item.state, ReceivedState::Received);
    assert!(xb
        .local
        .list("received/XA/26XA0600/")
        .await
        .unwrap()
        .contains(&item.body_key));
    let text = ecites_aws::status::render(&id, &at_xb);
    assert!(
        text.starts_with("permit XA/26XA0600: received from partner XA\n"),
        "{text}"
    );
    let row = line_with(&text, &tracking);
    for expected in [&item.message_id, &item.body_key, &item.received_at] {
        assert!(
            row.contains(expected.as_str()),
            "{expected:?} missing in {row:?}"
        );
    }
    assert!(row.contains(" received "), "{row}");
    assert!(
        !text.contains("history:"),
        "the RECEIVED audit row is not repeated as history:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_not_readable_refusal_ends_delivered_not_readable_with_the_reason_and_no_retry() {
    let (xa, xb) = start_pair().await;
    xa.drop_permit(
        "26XA0700",
        &fixtures::export_permit("26XA0700", "XA", "XB", 5),
    )
    .await
    .unwrap();
    // The outbox copy is damaged between ingest and forward: XB cannot read what arrives.
    let pending = delivery(&xa, "26XA0700", 1, DeliveryKind::Permit).await;
    xa.local
        .put_object(&pending["xml_key"], b"this is not a permit".to_vec())
        .await
        .unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();

    let sent = delivery(&xa, "26XA0700", 1, DeliveryKind::Permit).await;
    assert_eq!(
        sent["state"],
        DeliveryState::DeliveredNotReadable.as_str(),
        "{sent:?}"
    );
    assert_eq!(sent["attempts"], "1", "{sent:?}");
    assert!(sent["last_error"].contains("HTTP 400"), "{sent:?}");
    assert!(sent["last_error"].contains("NotReadable"), "{sent:?}");
    assert!(!sent.contains_key("tracking_number"), "{sent:?}");
    assert!(
        !sent.contains_key("GSI1PK"),
        "left the under-delivery index"
    );
    assert_eq!(xb.server.requests(), 1, "not retried");
    assert_eq!(
        xa.local
            .visible_messages(&xa.local.stack.deliveries_dlq_url)
            .await
            .unwrap(),
        0
    );
    assert!(received(&xb, "26XA0700", 1, "issued").await.is_none());

    let id = ecites_e2e::id("XA", "26XA0700");
    let status = xa.local.function.ledger().status(&id).await.unwrap();
    let text = ecites_aws::status::render(&id, &status);
    let row = line_with(&text, "DELIVERED_NOT_READABLE");
    assert!(row.contains(sent["last_error"].as_str()), "{row}");
}

/// An edit of the partner directory that loses a race to another writer is applied again to
/// what that writer saved, so neither edit is lost; the same when both create the document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_of_the_partner_directory_both_land() {
    use ecites_aws::s3::{edit_directory, read_directory, write_directory, DirectoryEdit};
    use ecites_exchange::directory::{Directory, Partner};
    let local = ecites_e2e::start().await;
    let (s3, bucket) = (&local.clients.s3, &local.stack.bucket);
    let entry = |country: &str| {
        Partner::new(
            ecites_local::country(country),
            format!("https://ma.{}.example/cites", country.to_ascii_lowercase()),
        )
    };

    for key in [
        local.stack.partners_key.as_str(),
        "config/created-by-two.json",
    ] {
        let mut attempts = 0;
        // Another operator saves XE while this edit (adding XF) is between its read and write.
        let edit = edit_directory(s3, bucket, key, |directory| {
            attempts += 1;
            if attempts == 1 {
                tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current().block_on(async {
                        let mut theirs = read_directory(s3, bucket, key)
                            .await
                            .unwrap_or_else(|_| Directory::default());
                        theirs.upsert(entry("XE"));
                        write_directory(s3, bucket, key, &theirs).await.unwrap();
                    })
                });
            }
            directory.upsert(entry("XF"));
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(edit, DirectoryEdit::Saved(()));
        assert_eq!(attempts, 2, "{key}: the lost race is retried once");
        let saved = read_directory(s3, bucket, key).await.unwrap();
        for country in ["XE", "XF"] {
            assert!(
                saved.get(ecites_local::country(country)).is_some(),
                "{key}: {country} was lost: {saved:?}"
            );
        }
    }

    // A refused edit writes nothing.
    let before = read_directory(s3, bucket, &local.stack.partners_key)
        .await
        .unwrap();
    let refused = edit_directory(s3, bucket, &local.stack.partners_key, |directory| {
        directory
            .partner_mut(ecites_local::country("XZ"))
            .map(|_| ())
    })
    .await
    .unwrap();
    assert!(
        matches!(&refused, DirectoryEdit::Refused(why) if why.to_string().contains("XZ is not in the partner directory")),
        "{refused:?}"
    );
    assert_eq!(
        read_directory(s3, bucket, &local.stack.partners_key)
            .await
            .unwrap(),
        before
    );
}

/// The next line the reference partner prints, as JSON.
async fn next_json_line(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) -> serde_json::Value {
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the reference partner prints within 30 s")
        .unwrap()
        .expect("the reference partner is running");
    serde_json::from_str(&line).unwrap()
}

/// A partner that does not run this project, written from docs/exchange.md and
/// docs/openapi.yaml alone (docs/examples/reference_partner.py), receives XA's permit from the
/// real forward function and sends its own permit to XA's real receive function.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_written_in_python_from_the_docs_exchanges_permits_both_ways() {
    let (xa, xb) = start_pair().await;
    let xc_key = SigningIdentity::generate("XC-1").unwrap();

    // XC's endpoint, trusting XA's public key (exchanged out of band).
    let ecites_local::emulation::reference_partner::Serving {
        child: mut serving,
        endpoint,
        mut lines,
    } = ecites_local::emulation::reference_partner::serve(
        "XC",
        "XA",
        &xa.key.public_key_base64(),
        &xa.key.key_id,
    )
    .await
    .expect("python runs the reference partner");
    let xc = ecites_exchange::directory::Partner {
        country: ecites_local::country("XC"),
        endpoint,
        name: Some("MA of XC (Python)".into()),
        active: true,
        accepted_document_types: Vec::new(),
        public_key: Some(xc_key.public_key_base64()),
        key_id: Some(xc_key.key_id.clone()),
        rotation_keys: Vec::new(),
        client_certificate_secret: None,
        delivery: Default::default(),
    };
    xa.set_directory(vec![xb.as_partner(), xc]).await.unwrap();

    // XA -> XC: ingest, forward, the Python endpoint verifies and acknowledges.
    xa.drop_permit(
        "26XA0700",
        &fixtures::export_permit("26XA0700", "XA", "XC", 6),
    )
    .await
    .unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    let taken = next_json_line(&mut lines).await;
    assert_eq!(taken["permit_number"], "26XA0700", "{taken}");
    assert_eq!(taken["from"], "XA");
    assert_eq!(taken["document_status"], "issued");
    let sent = xa
        .store
        .delivery_fields(&message("XA", "26XA0700", 1, DeliveryKind::Permit, "XC"))
        .await
        .unwrap()
        .expect("XA's delivery to XC");
    assert_eq!(sent["state"], "DELIVERED", "{sent:?}");
    assert_eq!(
        sent["tracking_number"],
        taken["tracking_number"].as_str().unwrap()
    );
    let written = xa.local.list("outbox/XA/26XA0700/").await.unwrap();
    assert!(
        written
            .iter()
            .any(|key| key.contains(taken["payload_sha256"].as_str().unwrap())),
        "XC got the XML XA wrote, byte for byte: {written:?} vs {taken}"
    );

    // XC -> XA: the Python sender signs its own permit; XA's receive stores and records it.
    let xml_path = std::env::temp_dir().join(format!("xc-permit-{}.xml", std::process::id()));
    let xml = ecites_domain::xml::write_permit(&fixtures::export_permit("26XC0001", "XC", "XA", 2));
    std::fs::write(&xml_path, xml).unwrap();
    let output = reference_partner(&[
        "send",
        "--country",
        "XC",
        "--seed",
        &xc_key.seed_base64(),
        "--key-id",
        &xc_key.key_id,
        "--to",
        "XA",
        "--url",
        &xa.server.url(),
        "--xml",
        xml_path.to_str().unwrap(),
        "--permit-number",
        "26XC0001",
    ])
    .output()
    .await
    .unwrap();
    let _ = std::fs::remove_file(&xml_path);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reply: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reply["status"], 200, "{reply}");
    assert_eq!(reply["answer"]["type"], "ack", "{reply}");
    let answer = serde_json::to_vec(&reply["answer"]).unwrap();
    OpenApi::load().check_answer(200, &answer).unwrap();
    let recorded = xa
        .store
        .received_fields(ecites_local::country("XC"), "26XC0001", 1, "issued")
        .await
        .unwrap()
        .expect("XA recorded XC's permit");
    assert_eq!(
        recorded["tracking_number"],
        reply["answer"]["tracking_number"].as_str().unwrap()
    );
    assert!(xa
        .local
        .list("received/XC/26XC0001/")
        .await
        .unwrap()
        .contains(&recorded["body_key"]));
    serving.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_reads_its_key_on_the_first_batch_with_a_delivery_not_at_start_up() {
    let (xa, _xb) = start_pair().await;
    let aws = ecites_aws::AwsConfig::load(
        ecites_aws::ClientOptions {
            emulator_credentials: true,
            ..ecites_aws::ClientOptions::default()
        }
        .at(Some(&xa.local.endpoint), ecites_local::REGION),
    )
    .await;
    let missing = "/ecites-test/no-such-signing-key";
    let settings = ecites_forward::ForwardSettings {
        key: ecites_forward::KeySource::Parameter {
            name: missing.into(),
            key_id: "XA-9".into(),
        },
        max_receives_explicit: true,
        timeout: Duration::from_secs(2),
        policy: ecites_exchange::retry::RetryPolicy {
            max_receives: 3,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(20),
        },
        directory_ttl: Duration::from_secs(1),
    };
    // Starting makes no AWS request (it cannot fail): a key that is not there is found out on
    // the first batch with a delivery.
    let forward = ecites_forward::ForwardFunction::from_env(&xa.local.config, &aws, settings);
    let invoke = |event| {
        forward.handle(lambda_runtime::LambdaEvent::new(
            event,
            lambda_runtime::Context::default(),
        ))
    };
    // An empty batch is answered without the key.
    let empty = invoke(aws_lambda_events::event::sqs::SqsEvent::default())
        .await
        .expect("an empty batch needs no key");
    assert!(empty.batch_item_failures.is_empty());
    // A batch with a delivery needs it: the invocation fails (the errors alarm), naming the
    // parameter, and the batch goes back to the queue.
    let body =
        serde_json::to_string(&message("XA", "26XA0950", 1, DeliveryKind::Permit, "XB")).unwrap();
    let error = invoke(ecites_e2e::sqs_event("m-1", &body))
        .await
        .expect_err("no key, no delivery");
    assert!(error.to_string().contains(missing), "{error}");
}
