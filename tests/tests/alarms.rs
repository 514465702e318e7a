//! The alarms issue #18 names, each with what makes its metric move:
//!
//! - `<stack>-deliveries-failed` and `<stack>-deliveries-no-partner` watch EMF metrics of our
//!   functions (namespace `ecites`): the real forward and ingest functions, on moto, emit them
//!   when a delivery fails for good or a permit has no partner, with the dimensions the alarm
//!   names.
//! - `<stack>-webhooks-backlog` and `<stack>-ledger-throttled` watch CloudWatch's own SQS and
//!   DynamoDB metrics, which nothing here can make move: the template is checked to watch the
//!   right metric of the right resource.
//! - `<stack>-receive-refusals` (RequestsRefused) is pinned by the receive function's tests.

use ecites_e2e::*;
use ecites_local::emulation::front_door::Mode;
use ecites_local::stack::exchange::{start_pair, PairOptions};
use serde_yaml::Value;
use std::sync::{Mutex, OnceLock};
use tracing_subscriber::layer::SubscriberExt as _;

/// Every EMF line the functions of this test binary emitted (outside Lambda they are `debug`
/// events of target `emf`, see `ecites_aws::telemetry::emit_emf`).
fn emf_lines() -> &'static Mutex<Vec<serde_json::Value>> {
    static LINES: OnceLock<Mutex<Vec<serde_json::Value>>> = OnceLock::new();
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(EmfCapture);
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    });
    LINES.get_or_init(|| Mutex::new(Vec::new()))
}

/// Keeps the message of every `emf` event.
struct EmfCapture;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for EmfCapture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "emf" {
            return;
        }
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        if let Ok(line) = serde_json::from_str(&message.0) {
            emf_lines().lock().unwrap().push(line);
        }
    }
}

/// The sum of `metric` over the EMF lines of `function`, and the dimensions they declare.
fn emitted(function: &str, metric: &str) -> (f64, Vec<Vec<String>>) {
    let lines = emf_lines().lock().unwrap();
    let mine: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["Function"] == function)
        .collect();
    let sum = mine.iter().filter_map(|line| line[metric].as_f64()).sum();
    let dimensions = mine
        .iter()
        .flat_map(|line| {
            line["_aws"]["CloudWatchMetrics"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|directive| {
            directive["Metrics"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m["Name"] == metric))
        })
        .flat_map(|directive| {
            directive["Dimensions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|set| {
            set.as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    (sum, dimensions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_emits_deliveries_failed_when_a_partner_refuses_for_good() {
    emf_lines();
    let (xa, xb) = start_pair(PairOptions::default()).await.unwrap();
    xb.server.set_mode(Mode::Status(403));
    xa.drop_permit(
        "26XA0990",
        &fixtures::export_permit("26XA0990", "XA", "XB", 1),
    )
    .await
    .unwrap();
    assert_eq!(emitted("forward", "DeliveriesFailed").0, 0.0);
    xa.forward_until_quiet(DRAIN).await.unwrap();
    let (failed, dimensions) = emitted("forward", "DeliveriesFailed");
    assert_eq!(failed, 1.0, "the refused delivery moves the alarm's metric");
    assert!(
        dimensions.iter().all(|set| set == &["Function"]),
        "outside a stack: Function alone (Stack beside it in Lambda): {dimensions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_emits_deliveries_no_partner_for_a_permit_to_a_country_without_a_partner() {
    emf_lines();
    let local = start().await;
    issue(&local, "26XA0991", "XC").await; // XC is not in the directory
    local.drain(DRAIN).await.unwrap();
    let (no_partner, dimensions) = emitted("ingest", "DeliveriesNoPartner");
    assert_eq!(no_partner, 1.0);
    assert!(!dimensions.is_empty());
}

/// The template's alarm named `<stack>-<suffix>`.
fn alarm(suffix: &str) -> Value {
    let path = ecites_local::emulation::moto::repo_root().join("infra/template.yaml");
    let template: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let wanted = format!("${{AWS::StackName}}-{suffix}");
    template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .find(|resource| {
            resource["Type"] == "AWS::CloudWatch::Alarm"
                && match &resource["Properties"]["AlarmName"] {
                    Value::Tagged(tagged) => tagged.value.as_str() == Some(wanted.as_str()),
                    _ => false,
                }
        })
        .unwrap_or_else(|| panic!("no alarm {wanted}"))["Properties"]
        .clone()
}

/// `!Ref X` or `!GetAtt X.Y` as text.
fn reference(value: &Value) -> String {
    match value {
        Value::Tagged(tagged) => format!("{} {}", tagged.tag, tagged.value.as_str().unwrap_or("")),
        other => other.as_str().unwrap_or("").to_owned(),
    }
}

#[test]
fn the_backlog_and_throttling_alarms_watch_the_webhook_queue_and_the_ledger_table() {
    let backlog = alarm("webhooks-backlog");
    assert_eq!(backlog["Namespace"], "AWS/SQS");
    assert_eq!(backlog["MetricName"], "ApproximateAgeOfOldestMessage");
    assert_eq!(backlog["Dimensions"][0]["Name"], "QueueName");
    assert_eq!(
        reference(&backlog["Dimensions"][0]["Value"]),
        "!GetAtt WebhookQueue.QueueName"
    );
    assert_eq!(backlog["Statistic"], "Maximum");

    let throttled = alarm("ledger-throttled");
    let metrics = throttled["Metrics"].as_sequence().unwrap();
    let mut watched: Vec<(String, String)> = metrics
        .iter()
        .filter_map(|m| {
            let metric = &m["MetricStat"]["Metric"];
            (metric["Namespace"] == "AWS/DynamoDB").then(|| {
                assert_eq!(metric["Dimensions"][0]["Name"], "TableName");
                (
                    metric["MetricName"].as_str().unwrap().to_owned(),
                    reference(&metric["Dimensions"][0]["Value"]),
                )
            })
        })
        .collect();
    watched.sort();
    assert_eq!(
        watched,
        [
            (
                "ReadThrottleEvents".to_owned(),
                "!Ref LedgerTable".to_owned()
            ),
            (
                "WriteThrottleEvents".to_owned(),
                "!Ref LedgerTable".to_owned()
            )
        ]
    );
    let returned: Vec<&Value> = metrics.iter().filter(|m| m["ReturnData"] == true).collect();
    assert_eq!(returned.len(), 1);
    assert_eq!(returned[0]["Expression"], "reads + writes");

    for (suffix, metric, function) in [
        ("deliveries-failed", "DeliveriesFailed", "forward"),
        ("deliveries-no-partner", "DeliveriesNoPartner", "ingest"),
        ("receive-refusals", "RequestsRefused", "receive"),
    ] {
        let watched = alarm(suffix);
        assert_eq!(watched["Namespace"], "ecites", "{suffix}");
        assert_eq!(watched["MetricName"], metric, "{suffix}");
        let dimensions: Vec<(String, String)> = watched["Dimensions"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["Name"].as_str().unwrap().to_owned(),
                    reference(&d["Value"]),
                )
            })
            .collect();
        assert_eq!(
            dimensions,
            [
                ("Stack".to_owned(), "!Ref AWS::StackName".to_owned()),
                ("Function".to_owned(), function.to_owned())
            ],
            "{suffix}: the dimensions the function's EMF lines carry in Lambda"
        );
    }
}
