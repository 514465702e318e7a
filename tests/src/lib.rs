//! Helpers for the end-to-end tests: every test starts its own moto server on a free port
//! (killed when the test's [`Local`] drops), so tests run in parallel without sharing state.

use aws_lambda_events::event::sqs::SqsEvent;
use ecites_domain::PermitId;
use ecites_exchange::notify::{Channel, EventType, Filters, Role, Secret, Subscription};
use ecites_exchange::{Ledger as _, PermitStatus};
use ecites_local::stack::exchange::{Ma, PairOptions};
use ecites_local::stack::notify::{LocalNotify, NotifyOptions};
pub use ecites_local::{fixtures, Local, LocalOptions};
use serde_json::Value;
use std::time::Duration;

/// How long one drain may take in a test.
pub const DRAIN: Duration = Duration::from_secs(60);

/// Starts a local stack with the default options (own country XA, partners XB and XD).
pub async fn start() -> Local {
    start_with(|_| {}).await
}

/// Starts a local stack with adjusted options.
pub async fn start_with(adjust: impl FnOnce(&mut LocalOptions)) -> Local {
    init();
    let mut options = LocalOptions::new("t");
    adjust(&mut options);
    Local::start(options).await.expect(MOTO_HINT)
}

const MOTO_HINT: &str = "local stack starts (is moto installed? make .venv/bin/moto_server)";

/// Tracing for every test binary (once per process; later calls are no-ops).
fn init() {
    ecites_aws::telemetry::init_tracing();
}

/// Starts a local stack with the default options and the notification side next to it (topic,
/// webhook queue, notify and webhook functions, subscription admin).
pub async fn start_notify() -> (Local, LocalNotify) {
    let local = start().await;
    let notify = LocalNotify::start(&local, NotifyOptions::default())
        .await
        .expect("notification stack starts");
    (local, notify)
}

/// Starts two MAs, XA and XB, on one emulator, each knowing the other.
pub async fn start_pair() -> (Ma, Ma) {
    init();
    ecites_local::stack::exchange::start_pair(PairOptions::default())
        .await
        .expect(MOTO_HINT)
}

/// The JSON form of an export permit issued by XA to XB.
pub fn export(number: &str) -> Vec<u8> {
    export_to(number, "XB")
}

/// The JSON form of an export permit issued by XA to `importer`.
pub fn export_to(number: &str, importer: &str) -> Vec<u8> {
    fixtures::json(&fixtures::export_permit(number, "XA", importer, 10))
}

/// Drops `bytes` into the bucket under `key` (e.g. `inbox/...`), as an MA's system would.
pub async fn drop_file(local: &Local, key: &str, bytes: Vec<u8>) {
    local
        .put_object(key, bytes)
        .await
        .expect("put into the bucket");
}

/// Drops an export permit issued by XA to `importer` into the inbox as `inbox/<number>.json`.
pub async fn issue(local: &Local, number: &str, importer: &str) {
    drop_file(
        local,
        &format!("inbox/{number}.json"),
        export_to(number, importer),
    )
    .await;
}

/// What the ledger says of a permit.
pub async fn status(local: &Local, issuer: &str, number: &str) -> PermitStatus {
    local
        .function
        .ledger()
        .status(&id(issuer, number))
        .await
        .expect("status")
}

/// The rejection report ingest wrote for `source` (an object key, or `sqs/<message id>`),
/// `None` when there is none.
pub async fn rejection_report(local: &Local, source: &str) -> Option<String> {
    local
        .get_object(&format!("rejected/{source}.report.json"))
        .await
        .expect("reading the bucket")
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// A JSON body.
pub fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).expect("a JSON body")
}

/// Takes every message off a queue, each parsed as JSON (notifications are CloudEvents).
pub async fn take_events(local: &Local, queue_url: &str) -> Vec<Value> {
    local
        .take_all(queue_url)
        .await
        .expect("messages taken")
        .iter()
        .map(|body| json(body.as_bytes()))
        .collect()
}

/// A subscription of an agency of XB through the topic to the SQS queue `arn`.
pub fn sqs_subscription(
    id: &str,
    role: Role,
    events: &[EventType],
    filters: Filters,
    arn: &str,
) -> Subscription {
    Subscription {
        id: id.into(),
        agency: format!("agency {id}"),
        country: "XB".into(),
        role,
        events: events.to_vec(),
        filters,
        channel: Channel::Sns {
            protocol: "sqs".into(),
            endpoint: arn.into(),
            subscription_arn: None,
        },
        include_xml: false,
    }
}

/// Creates the agency queue `id`, subscribes it to the topic (filter policy from `events` and
/// `filters`) and returns its URL.
pub async fn subscribed_queue(
    local: &Local,
    notify: &LocalNotify,
    id: &str,
    role: Role,
    events: &[EventType],
    filters: Filters,
) -> String {
    let (url, arn) = notify.agency_queue(local, id).await.expect("agency queue");
    notify
        .admin
        .add(sqs_subscription(id, role, events, filters, &arn), None)
        .await
        .expect("subscription added");
    url
}

/// A webhook subscription of XB's customs to permits issued for import into XB.
pub fn webhook(id: &str, url: &str, include_xml: bool) -> Subscription {
    Subscription {
        id: id.into(),
        agency: "Customs of XB".into(),
        country: "XB".into(),
        role: Role::Customs,
        events: vec![EventType::Issued],
        filters: Filters {
            importer: vec!["XB".into()],
            ..Filters::default()
        },
        channel: Channel::Webhook {
            url: url.into(),
            secret_parameter: format!("/ecites/webhooks/{id}"),
        },
        include_xml,
    }
}

/// Adds [`webhook`] `id` at `url` with `secret`.
pub async fn subscribe_webhook(notify: &LocalNotify, id: &str, url: &str, secret: &Secret) {
    notify
        .admin
        .add(webhook(id, url, false), Some(secret))
        .await
        .expect("webhook added");
}

/// Ingest until its queue is quiet, then the notification side (stream, then webhooks).
pub async fn run_everything(local: &Local, notify: &LocalNotify) {
    local.drain(DRAIN).await.expect("ingest drained");
    notify.drain(DRAIN).await.expect("notifications drained");
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

/// docs/openapi.yaml, the contract a partner implements from: the e2e tests check every answer
/// of the receive function against it (status documented, body matching its schema) and every
/// envelope they send against the `Envelope` schema, so the document cannot drift from the code.
pub struct OpenApi {
    document: Value,
}

impl OpenApi {
    /// Reads docs/openapi.yaml.
    pub fn load() -> OpenApi {
        let path = ecites_local::emulation::moto::repo_root().join("docs/openapi.yaml");
        let text = std::fs::read_to_string(&path).expect("docs/openapi.yaml");
        OpenApi {
            document: serde_yaml::from_str(&text).expect("docs/openapi.yaml is YAML"),
        }
    }

    fn check(&self, schema_ref: &str, instance: &Value) -> Result<(), String> {
        // The components travel with the schema so `#/components/...` references resolve.
        let schema = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": schema_ref,
            "components": self.document["components"],
        });
        let validator = jsonschema::validator_for(&schema).map_err(|e| e.to_string())?;
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{schema_ref}: {}", errors.join("; ")))
        }
    }

    /// `instance` matches `#/components/schemas/<name>`.
    pub fn check_schema(&self, name: &str, instance: &Value) -> Result<(), String> {
        self.check(&format!("#/components/schemas/{name}"), instance)
    }

    /// The envelope a sender POSTs matches `#/components/schemas/Envelope`.
    pub fn check_envelope(&self, body: &[u8]) -> Result<(), String> {
        let envelope: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        self.check("#/components/schemas/Envelope", &envelope)
    }

    /// The receive operation documents `status`, and `body` matches the schema it names.
    pub fn check_answer(&self, status: u16, body: &[u8]) -> Result<(), String> {
        let response = &self.document["paths"]["/"]["post"]["responses"][status.to_string()];
        if response.is_null() {
            return Err(format!(
                "status {status} is not documented in docs/openapi.yaml"
            ));
        }
        let Some(schema_ref) = response["content"]["application/json"]["schema"]["$ref"].as_str()
        else {
            return Ok(());
        };
        let answer: Value = serde_json::from_slice(body).map_err(|e| {
            format!(
                "status {status}: body is not JSON ({e}): {}",
                String::from_utf8_lossy(body)
            )
        })?;
        self.check(schema_ref, &answer)
    }
}
