//! The sample events of the notify crate's two binaries (for `cargo lambda invoke notify|webhooks
//! --data-file`) keep parsing as the handlers' inputs, and go through the use cases the handlers
//! call: `events/notify-ledger-stream.json` (a `dynamodb::Event`) becomes exactly the webhook
//! jobs of `events/webhooks-delivery.json` (an `SqsEvent`), and those jobs become POSTs whose
//! signatures verify with the subscriber's secret.
//!
//! The AWS side is replaced by the exchange crate's in-memory ports (`ecites_exchange::testing`);
//! the end-to-end tests run the same code against the emulator.

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{TimeZone, Utc};
use ecites_aws::dynamo::stream::ledger_change;
use ecites_exchange::notify::{
    deliver_webhook, notify_change, verify, EventType, NotifyServices, Secret, Subscription,
    WebhookJob, WebhookOutcome, WebhookServices, XmlLinks, SIGNATURE_HEADER,
};
use ecites_exchange::testing::{
    FixedClock, MemoryBlobs, MemoryClaims, MemoryRegistry, MemorySecrets, MemoryTopic,
    MemoryWebhookQueue, RecordingHttp,
};
use ecites_exchange::{Clock, Error};

/// The stack's bucket as the samples name it.
const BUCKET: &str = "ecites-123456789012-5e8f6c70-cc1f-11f0-9d3a-0a1b2c3d4e5f";
/// The webhook secret of the sample subscriber (a sample value, never a real one).
const SAMPLE_SECRET: &str = "sample-webhook-secret-not-for-production";

fn sample(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    std::fs::read_to_string(path).expect("event file")
}

/// The subscriptions the samples were made with: customs of XB by webhook, entitled to the XML.
fn subscriptions() -> Vec<Subscription> {
    let customs: Subscription = serde_json::from_value(serde_json::json!({
        "id": "customs-xb",
        "agency": "Customs of XB",
        "country": "XB",
        "role": "customs",
        "events": ["issued", "delivered"],
        "filters": {"importer": ["XB"]},
        "channel": {"type": "webhook", "url": "https://customs.xb.example/ecites/events",
                    "secret_parameter": "/ecites/webhooks/customs-xb"},
        "include_xml": true
    }))
    .expect("a subscription");
    customs.check().expect("a valid subscription");
    vec![customs]
}

/// The standard XML of the sample permit (what ingest wrote to the outbox for it).
fn outbox_xml() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../cli/tests/fixtures/export-permit.json");
    let json = std::fs::read(path).expect("the JSON export permit fixture");
    let decoded =
        ecites_domain::decode(&json, ecites_domain::Format::Json).expect("a decodable permit");
    ecites_domain::xml::write_permit(&decoded.permit).into_bytes()
}

/// Where ingest wrote the sample permit's standard XML (the samples' `xml_key`).
const OUTBOX_KEY: &str =
    "outbox/XA/25XA000123/bd7399e9a74c460068867ebdb1fc783d1d14992b3bf951b99886ca22fb1acabc.xml";

fn clock() -> FixedClock {
    FixedClock(Utc.with_ymd_and_hms(2026, 11, 28, 1, 0, 5).unwrap())
}

/// The sample subscriber's webhook secret, under its parameter name.
fn secrets() -> MemorySecrets {
    MemorySecrets::one("/ecites/webhooks/customs-xb", SAMPLE_SECRET)
}

struct Links;

#[async_trait]
impl XmlLinks for Links {
    async fn link(
        &self,
        bucket: &str,
        key: &str,
        _ttl: std::time::Duration,
    ) -> Result<String, Error> {
        Ok(format!(
            "https://{bucket}.s3.amazonaws.com/{key}?X-Amz-Signature=sample"
        ))
    }
}

#[tokio::test]
async fn the_sample_stream_becomes_the_sample_webhook_jobs_once() {
    let stream: Event = serde_json::from_str(&sample("notify-ledger-stream.json"))
        .expect("a DynamoDB stream event");
    let blobs = MemoryBlobs::new(BUCKET).with(OUTBOX_KEY, outbox_xml());
    let registry = MemoryRegistry(subscriptions());
    let (claims, topic, jobs, clock) = (
        MemoryClaims::default(),
        MemoryTopic::default(),
        MemoryWebhookQueue::default(),
        clock(),
    );
    let services = NotifyServices {
        blobs: &blobs,
        registry: &registry,
        claims: &claims,
        topic: &topic,
        webhooks: &jobs,
        clock: &clock,
    };
    let mut events = Vec::new();
    for change in stream.records.iter().filter_map(ledger_change) {
        let outcome = notify_change(services, "XA", &change)
            .await
            .expect("notified");
        events.extend(outcome.event.map(|(kind, _)| kind));
    }
    assert_eq!(events, [EventType::Issued, EventType::Delivered]);

    // The topic got both events, with the attributes subscribers filter on.
    let published = topic.published();
    assert_eq!(published.len(), 2);
    let attribute = |i: usize, name: &str| {
        published[i]
            .1
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(attribute(0, "event").as_deref(), Some("issued"));
    assert_eq!(attribute(0, "importer").as_deref(), Some("XB"));
    assert_eq!(attribute(1, "event").as_deref(), Some("delivered"));

    // The webhook jobs are exactly the bodies of the webhooks sample, in order.
    let queued = jobs.jobs();
    let deliveries: SqsEvent =
        serde_json::from_str(&sample("webhooks-delivery.json")).expect("an SqsEvent");
    let sampled: Vec<WebhookJob> = deliveries
        .records
        .iter()
        .map(|r| serde_json::from_str(r.body.as_deref().unwrap_or("")).expect("a webhook job"))
        .collect();
    assert_eq!(queued, sampled);

    // The same batch again (a stream retry): nothing is published or queued twice.
    for change in stream.records.iter().filter_map(ledger_change) {
        let outcome = notify_change(services, "XA", &change)
            .await
            .expect("notified");
        assert!(!outcome.published);
        assert_eq!(outcome.webhooks_queued, 0);
    }
    assert_eq!(topic.published().len(), 2);
    assert_eq!(jobs.jobs().len(), 2);
}

#[tokio::test]
async fn the_sample_webhook_jobs_are_posted_signed_with_the_subscribers_secret() {
    let event: SqsEvent =
        serde_json::from_str(&sample("webhooks-delivery.json")).expect("an SqsEvent");
    let (registry, subscriber, clock) = (
        MemoryRegistry(subscriptions()),
        RecordingHttp::status(200),
        clock(),
    );
    let secrets = secrets();
    let services = WebhookServices {
        links: Some(&Links),
        registry: &registry,
        secrets: &secrets,
        transport: &subscriber,
        clock: &clock,
        policy: ecites_exchange::notify::WebhookPolicy::default(),
    };
    for record in &event.records {
        assert!(record.attributes.contains_key("ApproximateReceiveCount"));
        assert!(record.receipt_handle.is_some());
        let outcome = deliver_webhook(services, record.body.as_deref().unwrap_or(""))
            .await
            .expect("delivered");
        assert_eq!(outcome, WebhookOutcome::Delivered { status: 200 });
    }
    let posts = subscriber.posts();
    assert_eq!(posts.len(), 2);
    let now = clock.now().timestamp();
    let mut types = Vec::new();
    for (url, headers, body) in &posts {
        assert_eq!(url, "https://customs.xb.example/ecites/events");
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .expect("header")
        };
        verify(
            &Secret::new(SAMPLE_SECRET),
            &header(SIGNATURE_HEADER),
            body,
            now,
            300,
        )
        .expect("signed with the subscriber's secret");
        let cloud_event: serde_json::Value = serde_json::from_slice(body).expect("JSON");
        assert_eq!(header("X-Ecites-Event-Id"), cloud_event["id"]);
        // The subscriber is entitled to the XML: a link was made at delivery time.
        assert!(cloud_event["data"]["xml"]["url"]
            .as_str()
            .is_some_and(|u| u.contains("outbox/XA/25XA000123/")));
        types.push(cloud_event["type"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(
        types,
        ["org.cites.epermit.issued", "org.cites.epermit.delivered"]
    );
}
