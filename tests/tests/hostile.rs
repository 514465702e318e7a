//! Hostile partners and subscribers: a genuine partner key, authentication holding
//! everywhere, and what comes after it. Two MAs (XA and XB) on one moto server, XB's real
//! receive function on a loopback Function URL, XB's real notify and webhook functions fed by
//! its ledger stream, subscribers on loopback. Each test pins one class of the issue.

use chrono::Utc;
use ecites_domain::codes::Appendix;
use ecites_e2e::{fixtures, start_pair, take_events, OpenApi, DRAIN};
use ecites_exchange::forward::build_message;
use ecites_exchange::http::HttpTransport as _;
use ecites_exchange::ledger::DeliveryKind;
use ecites_exchange::notify::{EventType, Filters, Role};
use ecites_exchange::protocol::{KEY_ID_HEADER, SIGNATURE_HEADER};
use ecites_exchange::Ledger as _;
use ecites_forward::HyperTransport;
use ecites_local::stack::exchange::{delivery_message as message, Ma};
use ecites_local::stack::notify::{LocalNotify, NotifyOptions};
use serde_json::Value;
use std::time::Duration;

const QUIET: Duration = Duration::from_secs(90);

/// Sends `body` to XB and returns (status, JSON answer); every answer must be one
/// docs/openapi.yaml documents, with the body its schema describes.
async fn post(xb: &Ma, body: Vec<u8>, headers: &[(&'static str, String)]) -> (u16, Value) {
    let transport = HyperTransport::for_partners(Duration::from_secs(10)).unwrap();
    let reply = transport
        .post(&xb.server.url(), headers, body)
        .await
        .unwrap();
    if let Err(drift) = OpenApi::load().check_answer(reply.status, &reply.body) {
        panic!("the receive function's answer departs from docs/openapi.yaml: {drift}");
    }
    (reply.status, serde_json::from_slice(&reply.body).unwrap())
}

/// XA's signature headers over `body`.
fn signed_by(xa: &Ma, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        (
            "content-type",
            "application/vnd.ecites.envelope+json".into(),
        ),
        (SIGNATURE_HEADER, xa.key.sign(body)),
        (KEY_ID_HEADER, xa.key.key_id.clone()),
    ]
}

fn xml_of(permit: &ecites_domain::Permit) -> Vec<u8> {
    ecites_domain::xml::write_permit(permit).into_bytes()
}

/// XB's notification side, with XB's customs subscribed through the topic to `received`
/// permits imported into XB (the documented example: `--events received --importer XB`).
async fn customs_of_xb(xb: &Ma) -> (LocalNotify, String) {
    let notify = LocalNotify::start(&xb.local, NotifyOptions::default())
        .await
        .expect("notification stack starts");
    let url = ecites_e2e::subscribed_queue(
        &xb.local,
        &notify,
        "customs-xb",
        Role::Customs,
        &[EventType::Received],
        Filters {
            importer: vec!["XB".into()],
            ..Filters::default()
        },
    )
    .await;
    (notify, url)
}

/// Class 1: the `received` event is summarised from the verified payload XML, so customs
/// filtering on the importer is told, with the importer and taxon the permit names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customs_filtered_on_the_importer_is_told_of_a_received_permit_from_its_verified_xml() {
    let (xa, xb) = start_pair().await;
    let (notify, customs) = customs_of_xb(&xb).await;
    xa.drop_permit(
        "26XA1901",
        &fixtures::export_permit("26XA1901", "XA", "XB", 4),
    )
    .await
    .unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    notify.drain(DRAIN).await.unwrap();

    let events = take_events(&xb.local, &customs).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let data = &events[0]["data"];
    assert_eq!(events[0]["type"], "org.cites.epermit.received");
    assert_eq!(data["importer"], "XB", "{data}");
    assert_eq!(data["exporter"], "XA", "{data}");
    assert_eq!(data["blocks"][0]["taxon"], "Testudo hermanni", "{data}");
    assert_eq!(data["blocks"][0]["appendix"], "II", "{data}");
}

/// Class 2: a signed envelope with a field nobody documented (here holding a second permit,
/// Appendix I, in single-quoted XML) is refused before anything is stored, naming the field;
/// customs is told nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_with_an_unknown_field_holding_a_second_permit_is_refused_and_nobody_is_told() {
    let (xa, xb) = start_pair().await;
    let (notify, customs) = customs_of_xb(&xb).await;
    let delivery = message("XA", "26XA1902", 1, DeliveryKind::Permit, "XB");
    let valid = fixtures::export_permit("26XA1902", "XA", "XB", 4);
    let (body, _) = build_message(&delivery, "E", &xml_of(&valid), "m-1", &xa.key, Utc::now());
    let mut smuggled = valid.clone();
    smuggled.blocks[0].scientific_name = Some("Panthera tigris".into());
    smuggled.blocks[0].appendix = Some(Appendix::I.into());
    let second = String::from_utf8(xml_of(&smuggled))
        .unwrap()
        .replace('"', "'")
        .replace('\n', " ");
    let mut envelope: Value = serde_json::from_slice(&body).unwrap();
    envelope["note"] = Value::from(second);
    let body = serde_json::to_vec(&envelope).unwrap();
    let (status, refusal) = post(&xb, body.clone(), &signed_by(&xa, &body)).await;
    assert_eq!(status, 400, "{refusal}");
    let text = refusal["message"].as_str().unwrap();
    assert!(text.contains("unknown field `note`"), "{refusal}");

    // A field given twice: serde_json alone would keep the last; the envelope reader refuses.
    let text = String::from_utf8(
        build_message(&delivery, "E", &xml_of(&valid), "m-2", &xa.key, Utc::now()).0,
    )
    .unwrap();
    let twice = text
        .replacen('{', r#"{"permit_number":"26XA9999","#, 1)
        .into_bytes();
    let (status, refusal) = post(&xb, twice.clone(), &signed_by(&xa, &twice)).await;
    assert_eq!(status, 400, "{refusal}");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("duplicate field `permit_number`"),
        "{refusal}"
    );

    // The payload namespace must be what the payload is.
    let mut envelope: Value = serde_json::from_str(&text).unwrap();
    envelope["message_id"] = "m-3".into();
    envelope["payload_namespace"] = "urn:example:other".into();
    let body = serde_json::to_vec(&envelope).unwrap();
    let (status, refusal) = post(&xb, body.clone(), &signed_by(&xa, &body)).await;
    assert_eq!(status, 400, "{refusal}");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .starts_with("payload_namespace"),
        "{refusal}"
    );

    assert!(xb.local.list("received/").await.unwrap().is_empty());
    notify.drain(DRAIN).await.unwrap();
    assert!(take_events(&xb.local, &customs).await.is_empty());
}

/// Class 5: the same document (sender, number, version, status) with different content is a
/// conflict: 409 with a reason, recorded in the audit trail, the first kept. A cancellation is
/// checked like a permit, and a number no key can hold is a refusal before anything is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_content_for_a_document_is_a_recorded_conflict_and_bad_cancellations_store_nothing(
) {
    let (xa, xb) = start_pair().await;
    let delivery = message("XA", "26XA1905", 1, DeliveryKind::Permit, "XB");
    let first = fixtures::export_permit("26XA1905", "XA", "XB", 4);
    let (body, headers) = build_message(
        &delivery,
        "E",
        &xml_of(&first),
        "m-first",
        &xa.key,
        Utc::now(),
    );
    let (status, ack) = post(&xb, body, &headers).await;
    assert_eq!(status, 200, "{ack}");

    let other = fixtures::export_permit("26XA1905", "XA", "XB", 400);
    let (body, headers) = build_message(
        &delivery,
        "E",
        &xml_of(&other),
        "m-other",
        &xa.key,
        Utc::now(),
    );
    let (status, refusal) = post(&xb, body, &headers).await;
    assert_eq!(status, 409, "{refusal}");
    assert_eq!(refusal["code"], "CONFLICT", "{refusal}");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("different content"),
        "{refusal}"
    );
    let row = xb
        .store
        .received_fields(ecites_local::country("XA"), "26XA1905", 1, "issued")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row["message_id"], "m-first", "the first stays: {row:?}");
    let id = ecites_e2e::id("XA", "26XA1905");
    let status = xb.local.function.ledger().status(&id).await.unwrap();
    let conflict = status
        .history
        .iter()
        .find(|entry| entry.event == "RECEIVED_CONFLICT")
        .unwrap_or_else(|| panic!("no conflict audit row: {:?}", status.history));
    assert!(conflict.detail.contains("m-other"), "{conflict:?}");

    // The same content again is still a plain duplicate.
    let (body, headers) = build_message(
        &delivery,
        "E",
        &xml_of(&first),
        "m-again",
        &xa.key,
        Utc::now(),
    );
    let (status, again) = post(&xb, body, &headers).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true);

    // A cancellation whose number no key can hold: refused (4xx) naming the field, nothing
    // stored, not a 503 that the sender would retry for ever.
    let long = format!("26XA{}", "9".repeat(1500));
    let mut cancel = message("XA", &long, 1, DeliveryKind::Cancellation, "XB");
    cancel.reason = Some("specimens died".into());
    let permit = fixtures::export_permit(&long, "XA", "XB", 4);
    let (body, headers) = build_message(
        &cancel,
        "E",
        &xml_of(&permit),
        "m-long",
        &xa.key,
        Utc::now(),
    );
    let (status, refusal) = post(&xb, body, &headers).await;
    assert!((400..500).contains(&status), "{status} {refusal}");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("permit_number"),
        "{refusal}"
    );

    // A cancellation without a document type in its payload is not trusted either.
    let mut untyped = fixtures::export_permit("26XA1906", "XA", "XB", 4);
    untyped.document_type = None;
    let cancel = message("XA", "26XA1906", 1, DeliveryKind::Cancellation, "XB");
    let (body, headers) = build_message(
        &cancel,
        "E",
        &xml_of(&untyped),
        "m-untyped",
        &xa.key,
        Utc::now(),
    );
    let (status, refusal) = post(&xb, body, &headers).await;
    assert_eq!(status, 400, "{refusal}");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .starts_with("document_type"),
        "{refusal}"
    );
    let stored = xb.local.list("received/XA/").await.unwrap();
    assert!(
        stored
            .iter()
            .all(|key| key.starts_with("received/XA/26XA1905/")),
        "{stored:?}"
    );
}

/// A webhook subscription of XB's customs to permits issued for import into XB at `url`,
/// written straight into the registry (as one added before a rule existed, or by hand), and
/// its secret.
async fn written_around_the_admin(notify: &LocalNotify, id: &str, url: &str) {
    let subscription = ecites_e2e::webhook(id, url, false);
    notify.admin.registry.put(&subscription).await.unwrap();
    notify
        .admin
        .secrets
        .store(
            &format!("/ecites/webhooks/{id}"),
            &ecites_exchange::notify::Secret::new("s"),
        )
        .await
        .unwrap();
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap()
}

/// Class 4: hostile subscriber URLs. Refused when added (userinfo, the metadata service in
/// decimal, octal, hexadecimal and IPv6 forms, internal names, the Runtime API port), and
/// refused again at delivery by the real webhooks function: a subscription written around the
/// admin reaches neither the loopback service its userinfo hides nor the Runtime API; loopback
/// subscribers are reached only under the local-run setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_webhook_urls_are_refused_when_added_and_again_at_delivery() {
    use ecites_exchange::notify::WebhookPolicy;
    use ecites_local::emulation::webhook_receiver::WebhookReceiver;
    let (local, notify) = ecites_e2e::start_notify().await;
    let inside = WebhookReceiver::start(200).await.unwrap();
    let runtime = WebhookReceiver::start(200).await.unwrap();
    let legit = WebhookReceiver::start(200).await.unwrap();
    let inside_port = port_of(&inside.url(""));
    let runtime_port = port_of(&runtime.url(""));

    for url in [
        format!("http://127.0.0.1:80@127.0.0.1:{inside_port}/"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "https://2852039166/latest/meta-data/".to_owned(),
        "https://0251.0376.0251.0376/".to_owned(),
        "https://0xa9fea9fe/".to_owned(),
        "https://[::ffff:169.254.169.254]/".to_owned(),
        "https://[fd00:ec2::254]/latest".to_owned(),
        "https://metadata.google.internal/".to_owned(),
        "https://10.0.0.8/hook".to_owned(),
        "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next".to_owned(),
    ] {
        let added = notify
            .admin
            .add(ecites_e2e::webhook("hook-hostile", &url, false), None)
            .await;
        assert!(added.is_err(), "{url} was added");
    }

    written_around_the_admin(
        &notify,
        "hook-userinfo",
        &format!("http://127.0.0.1:80@127.0.0.1:{inside_port}/hook"),
    )
    .await;
    written_around_the_admin(
        &notify,
        "hook-runtime",
        &runtime.url("/2018-06-01/runtime/invocation/next"),
    )
    .await;
    written_around_the_admin(&notify, "hook-legit", &legit.url("/hook")).await;
    ecites_e2e::issue(&local, "26XA1941", "XB").await;
    local.drain(DRAIN).await.unwrap();
    notify.run_stream(DRAIN).await.unwrap();

    // The real webhooks function, local-run setting on, the Runtime API on `runtime`'s port.
    let config = ecites_notify::NotifyConfig {
        webhook_policy: WebhookPolicy {
            allow_loopback: true,
            runtime_api_port: runtime_port,
        },
        ..notify.config.clone()
    };
    let webhooks = ecites_notify::WebhookFunction::new(&config, &local.clients, &notify.clients);
    notify
        .webhook_source
        .run_until_quiet(&|event| webhooks.handle(event), DRAIN)
        .await
        .unwrap();
    assert_eq!(
        legit.received().len(),
        1,
        "the loopback subscriber, in a local run"
    );
    assert!(inside.received().is_empty(), "{:?}", inside.received());
    assert!(runtime.received().is_empty(), "{:?}", runtime.received());
    let dead = take_events(&local, &notify.webhook_dlq_url).await;
    let mut dead: Vec<&str> = dead
        .iter()
        .filter_map(|job| job["subscription_id"].as_str())
        .collect();
    dead.sort_unstable();
    assert_eq!(
        dead,
        ["hook-runtime", "hook-userinfo"],
        "nothing lost: in the DLQ"
    );

    // Without the local-run setting a loopback subscriber is never reached.
    ecites_e2e::issue(&local, "26XA1942", "XB").await;
    local.drain(DRAIN).await.unwrap();
    notify.run_stream(DRAIN).await.unwrap();
    let production = ecites_notify::NotifyConfig {
        webhook_policy: WebhookPolicy::default(),
        ..notify.config.clone()
    };
    let webhooks =
        ecites_notify::WebhookFunction::new(&production, &local.clients, &notify.clients);
    notify
        .webhook_source
        .run_until_quiet(&|event| webhooks.handle(event), DRAIN)
        .await
        .unwrap();
    assert_eq!(legit.received().len(), 1, "{:?}", legit.received());
}

/// A subscriber that answers 200 with a body that never ends: the first 128 KiB at once, then
/// nothing, the connection held open. Returns its URL and the number of requests it took.
async fn endless_answer() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let requests = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 8192];
                // Headers, then the body by its Content-Length.
                loop {
                    let Ok(n) = stream.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length: usize = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let head = "HTTP/1.1 200 OK\r\ncontent-length: 1610612736\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let _ = stream.write_all(&vec![b'x'; 128 * 1024]).await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            });
        }
    });
    (url, requests)
}

/// Class 3: the webhooks function reads at most 64 KiB of a subscriber's answer (a 1.5 GB
/// answer that never finishes is not waited for: the delivery succeeds on its status), and the
/// receive function's answer is bounded (100 findings and a count of the rest).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_answering_without_end_is_delivered_and_receive_answers_are_bounded() {
    let (local, notify) = ecites_e2e::start_notify().await;
    let (url, requests) = endless_answer().await;
    notify
        .admin
        .add(
            ecites_e2e::webhook("hook-endless", &url, false),
            Some(&ecites_exchange::notify::Secret::new("s")),
        )
        .await
        .unwrap();
    ecites_e2e::issue(&local, "26XA1931", "XB").await;
    local.drain(DRAIN).await.unwrap();
    notify.run_stream(DRAIN).await.unwrap();
    let started = std::time::Instant::now();
    let outcome = notify.run_webhooks(DRAIN).await.unwrap();
    assert_eq!(
        requests.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "delivered at the first attempt: {outcome:?}"
    );
    assert!(
        started.elapsed() < notify.config.webhook_timeout,
        "not waiting for the answer's end"
    );
    assert!(take_events(&local, &notify.webhook_dlq_url)
        .await
        .is_empty());
    drop(local);

    // 150 blocks of Appendix II with source D: one warning each, 150 warnings.
    let (xa, xb) = start_pair().await;
    let mut permit = fixtures::export_permit("26XA1932", "XA", "XB", 4);
    let block = permit.blocks[0].clone();
    permit.blocks = (1..=150)
        .map(|n| {
            let mut b = block.clone();
            b.id = n.to_string();
            b.source = Some(ecites_domain::codes::Source::D.into());
            b
        })
        .collect();
    let delivery = message("XA", "26XA1932", 1, DeliveryKind::Permit, "XB");
    let (body, headers) = build_message(
        &delivery,
        "E",
        &xml_of(&permit),
        "m-many",
        &xa.key,
        Utc::now(),
    );
    let (status, ack) = post(&xb, body, &headers).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["findings"].as_array().unwrap().len(), 100, "{ack}");
    assert!(ack["findings_omitted"].as_u64().unwrap() >= 50, "{ack}");
}

/// Class 6: an unauthenticated caller cannot tell an active partner from a stranger, nor learn
/// key ids: every authentication failure is the same 401. Envelope fields that break a rule
/// (version 0, a message id over 128 characters or with terminal escapes, `replaced`/
/// `cancelled` fields on the wrong status) are refused naming the field; the message id limit
/// counts characters, not bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_callers_all_get_one_answer_and_odd_envelope_fields_are_refused() {
    use ecites_exchange::protocol::SigningIdentity;
    let (xa, xb) = start_pair().await;
    let payload = xml_of(&fixtures::export_permit("26XA1961", "XA", "XB", 4));
    let delivery = message("XA", "26XA1961", 1, DeliveryKind::Permit, "XB");
    let stranger = SigningIdentity::generate("XC-1").unwrap();
    let from_xc = message("XC", "26XC1961", 1, DeliveryKind::Permit, "XB");
    let wrong_key = SigningIdentity::generate(&xa.key.key_id).unwrap();
    let unknown_key_id = SigningIdentity::generate("XA-404").unwrap();
    let mut answers = Vec::new();
    for (d, key, id) in [
        (&from_xc, &stranger, "u-1"),
        (&delivery, &wrong_key, "u-2"),
        (&delivery, &unknown_key_id, "u-3"),
    ] {
        let (body, headers) = build_message(d, "E", &payload, id, key, Utc::now());
        answers.push(post(&xb, body, &headers).await);
    }
    let (body, mut headers) = build_message(&delivery, "E", &payload, "u-4", &xa.key, Utc::now());
    headers.retain(|(name, _)| *name != SIGNATURE_HEADER);
    answers.push(post(&xb, body, &headers).await);
    for (status, answer) in &answers {
        assert_eq!(*status, 401, "{answer}");
        assert_eq!(answer, &answers[0].1, "told apart: {answers:?}");
        assert!(!answer.to_string().contains(&xa.key.key_id), "{answer}");
    }

    let signed_envelope = |id: &str, alter: &dyn Fn(&mut Value)| {
        let (body, _) = build_message(&delivery, "E", &payload, id, &xa.key, Utc::now());
        let mut envelope: Value = serde_json::from_slice(&body).unwrap();
        alter(&mut envelope);
        let body = serde_json::to_vec(&envelope).unwrap();
        let headers = signed_by(&xa, &body);
        (body, headers)
    };
    type Alteration<'a> = &'a dyn Fn(&mut Value);
    let cases: [(&str, Alteration); 6] = [
        // A cancellation of version 0: nothing else but the version rule refuses it.
        ("permit_version", &|e| {
            e["permit_version"] = 0.into();
            e["document_status"] = "cancelled".into();
        }),
        ("replaces_version", &|e| e["replaces_version"] = 3.into()),
        ("reason", &|e| e["reason"] = "not a cancellation".into()),
        ("message_id", &|e| e["message_id"] = "é".repeat(129).into()),
        ("message_id", &|e| {
            e["message_id"] = "m-\u{1b}[2J\u{1b}]0;x\u{7}".into()
        }),
        ("permit_version", &|e| {
            e["document_status"] = "replaced".into()
        }),
    ];
    for (n, (field, alter)) in cases.iter().enumerate() {
        let (body, headers) = signed_envelope(&format!("f-{n}"), alter);
        let (status, refusal) = post(&xb, body, &headers).await;
        assert_eq!(status, 400, "{field}: {refusal}");
        assert!(
            refusal["message"].as_str().unwrap().starts_with(field),
            "{field}: {refusal}"
        );
    }
    assert!(xb.local.list("received/").await.unwrap().is_empty());
    // A header sent twice is one value joined with commas (as a Function URL passes it), not
    // the last one: a genuine key id after a bogus one does not authenticate.
    let (body, headers) = build_message(&delivery, "E", &payload, "h-1", &xa.key, Utc::now());
    let mut twice = vec![(KEY_ID_HEADER, "XA-404".to_owned())];
    twice.extend(headers);
    let (status, answer) = post(&xb, body, &twice).await;
    assert_eq!(status, 401, "{answer}");
    // 128 characters of two bytes each are 128 characters: accepted.
    let (body, headers) = signed_envelope("unused", &|e| e["message_id"] = "é".repeat(128).into());
    let (status, ack) = post(&xb, body, &headers).await;
    assert_eq!(status, 200, "{ack}");
}

/// The local runner (tests trust it): the stream reader keeps feeding notify after it has
/// caught up with the stream, as Lambda's mapping does; changes committed later are told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_reader_keeps_feeding_notify_after_catching_up() {
    let (local, notify) = ecites_e2e::start_notify().await;
    let customs = ecites_e2e::subscribed_queue(
        &local,
        &notify,
        "customs-xb",
        Role::Customs,
        &[EventType::Issued],
        Filters::default(),
    )
    .await;
    for number in ["26XA1971", "26XA1972", "26XA1973"] {
        ecites_e2e::issue(&local, number, "XB").await;
        ecites_e2e::run_everything(&local, &notify).await;
        // Caught up: a poll finds nothing new.
        assert_eq!(notify.run_stream(DRAIN).await.unwrap().records, 0);
        let events = take_events(&local, &customs).await;
        assert_eq!(events.len(), 1, "{number}: {events:#?}");
        assert_eq!(events[0]["subject"], format!("XA/{number}"));
    }
}
