//! The sample events of the notify crate's two binaries (for `cargo lambda invoke notify|webhooks
//! --data-file`) keep parsing as the handlers' inputs, and go through the use cases the handlers
//! call: `events/notify-ledger-stream.json` (a `dynamodb::Event`) becomes exactly the webhook
//! jobs of `events/webhooks-delivery.json` (an `SqsEvent`), and those jobs become POSTs whose
//! signatures verify with the subscriber's secret.
//!
//! The AWS side is replaced by small in-memory fakes, as in the other functions' events tests;
//! the end-to-end tests run the same code against the emulator.

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{DateTime, TimeZone, Utc};
use ecites_exchange::notify::{
    deliver_webhook, notify_change, verify, Claim, EventType, HttpError, HttpReply, HttpTransport,
    NotificationClaims, NotifyServices, Secret, SecretStore, Subscription, SubscriptionRegistry,
    TopicPublisher, WebhookJob, WebhookOutcome, WebhookQueue, WebhookServices, XmlLinks,
    SIGNATURE_HEADER,
};
use ecites_exchange::{BlobStore, Clock, Error, Fetched};
use ecites_notify::change_of;
use std::collections::HashMap;
use std::sync::Mutex;

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

struct Outbox(Vec<u8>);

#[async_trait]
impl BlobStore for Outbox {
    async fn get(
        &self,
        bucket: &str,
        key: &str,
        _version: Option<&str>,
        _max_bytes: u64,
    ) -> Result<Fetched, Error> {
        if bucket == BUCKET && key.starts_with("outbox/XA/25XA000123/") {
            Ok(Fetched::Bytes(self.0.clone()))
        } else {
            Err(Error::NotFound(format!("s3://{bucket}/{key}")))
        }
    }
    async fn put(&self, _key: &str, _bytes: Vec<u8>, _content_type: &str) -> Result<(), Error> {
        unreachable!("notify writes nothing to the bucket")
    }
    async fn delete(&self, _: &str) -> Result<(), Error> {
        unreachable!("notify deletes nothing")
    }
    fn bucket(&self) -> &str {
        BUCKET
    }
}

struct Registry(Vec<Subscription>);

#[async_trait]
impl SubscriptionRegistry for Registry {
    async fn list(&self) -> Result<Vec<Subscription>, Error> {
        Ok(self.0.clone())
    }
    async fn get(&self, id: &str) -> Result<Option<Subscription>, Error> {
        Ok(self.0.iter().find(|s| s.id == id).cloned())
    }
}

/// Claims as the ledger keeps them: `true` once sent.
#[derive(Default)]
struct Claims(Mutex<HashMap<(String, String), bool>>);

#[async_trait]
impl NotificationClaims for Claims {
    async fn claim(&self, event_id: &str, subscriber: &str) -> Result<Claim, Error> {
        let mut claims = self.0.lock().unwrap();
        Ok(
            match claims.get(&(event_id.to_owned(), subscriber.to_owned())) {
                None => {
                    claims.insert((event_id.to_owned(), subscriber.to_owned()), false);
                    Claim::New
                }
                Some(false) => Claim::Unfinished,
                Some(true) => Claim::Done,
            },
        )
    }
    async fn complete(&self, event_id: &str, subscriber: &str) -> Result<(), Error> {
        self.0
            .lock()
            .unwrap()
            .insert((event_id.to_owned(), subscriber.to_owned()), true);
        Ok(())
    }
}

/// Header or attribute pairs: (name, value).
type Pairs = Vec<(String, String)>;

/// What was published: the message and its attributes (name, value).
#[derive(Default)]
struct Topic(Mutex<Vec<(String, Pairs)>>);

#[async_trait]
impl TopicPublisher for Topic {
    async fn publish(
        &self,
        message: &str,
        attributes: &[(&'static str, &'static str, String)],
    ) -> Result<(), Error> {
        let attributes = attributes
            .iter()
            .map(|(name, _, value)| ((*name).to_owned(), value.clone()))
            .collect();
        self.0
            .lock()
            .unwrap()
            .push((message.to_owned(), attributes));
        Ok(())
    }
}

#[derive(Default)]
struct Jobs(Mutex<Vec<WebhookJob>>);

#[async_trait]
impl WebhookQueue for Jobs {
    async fn enqueue(&self, job: &WebhookJob) -> Result<(), Error> {
        self.0.lock().unwrap().push(job.clone());
        Ok(())
    }
}

struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn clock() -> FixedClock {
    FixedClock(Utc.with_ymd_and_hms(2026, 11, 28, 1, 0, 5).unwrap())
}

struct Secrets;

#[async_trait]
impl SecretStore for Secrets {
    async fn secret(&self, name: &str) -> Result<Secret, Error> {
        assert_eq!(name, "/ecites/webhooks/customs-xb");
        Ok(Secret::new(SAMPLE_SECRET))
    }
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

/// A subscriber that answers 200 and keeps what it was sent.
#[derive(Default)]
struct Subscriber(Mutex<Vec<(String, Pairs, Vec<u8>)>>);

#[async_trait]
impl HttpTransport for Subscriber {
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<HttpReply, HttpError> {
        self.0.lock().unwrap().push((
            url.to_owned(),
            headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.clone()))
                .collect(),
            body,
        ));
        Ok(HttpReply {
            status: 200,
            retry_after: None,
            body: Vec::new(),
        })
    }
}

#[tokio::test]
async fn the_sample_stream_becomes_the_sample_webhook_jobs_once() {
    let stream: Event = serde_json::from_str(&sample("notify-ledger-stream.json"))
        .expect("a DynamoDB stream event");
    let (blobs, registry) = (Outbox(outbox_xml()), Registry(subscriptions()));
    let (claims, topic, jobs, clock) = (
        Claims::default(),
        Topic::default(),
        Jobs::default(),
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
    for record in &stream.records {
        let outcome = notify_change(services, "XA", &change_of(record))
            .await
            .expect("notified");
        events.extend(outcome.event.map(|(kind, _)| kind));
    }
    assert_eq!(events, [EventType::Issued, EventType::Delivered]);

    // The topic got both events, with the attributes subscribers filter on.
    let published = topic.0.lock().unwrap().clone();
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
    let queued = jobs.0.lock().unwrap().clone();
    let deliveries: SqsEvent =
        serde_json::from_str(&sample("webhooks-delivery.json")).expect("an SqsEvent");
    let sampled: Vec<WebhookJob> = deliveries
        .records
        .iter()
        .map(|r| serde_json::from_str(r.body.as_deref().unwrap_or("")).expect("a webhook job"))
        .collect();
    assert_eq!(queued, sampled);

    // The same batch again (a stream retry): nothing is published or queued twice.
    for record in &stream.records {
        let outcome = notify_change(services, "XA", &change_of(record))
            .await
            .expect("notified");
        assert!(!outcome.published);
        assert_eq!(outcome.webhooks_queued, 0);
    }
    assert_eq!(topic.0.lock().unwrap().len(), 2);
    assert_eq!(jobs.0.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn the_sample_webhook_jobs_are_posted_signed_with_the_subscribers_secret() {
    let event: SqsEvent =
        serde_json::from_str(&sample("webhooks-delivery.json")).expect("an SqsEvent");
    let (registry, subscriber, clock) = (Registry(subscriptions()), Subscriber::default(), clock());
    let services = WebhookServices {
        links: Some(&Links),
        registry: &registry,
        secrets: &Secrets,
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
    let posts = subscriber.0.lock().unwrap().clone();
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
