//! `ecites-local demo-notify`: notifications to agencies on the emulator. A customs queue of
//! the importing country (SNS -> SQS with a filter policy) and the issuing MA's own webhook
//! (signed) each receive what they subscribed to and nothing else; a stream replay notifies
//! nobody twice.

use crate::emulation::webhook_receiver::WebhookReceiver;
use crate::fixtures;
use crate::stack::notify::{LocalNotify, NotifyOptions};
use crate::{Local, LocalOptions};
use ecites_exchange::notify::{
    verify, Channel, EventType, Filters, Role, Secret, Subscription, SIGNATURE_HEADER,
};
use serde_json::Value;
use std::fmt::Write as _;
use std::time::Duration;

const DRAIN: Duration = Duration::from_secs(120);

fn line(event: &Value) -> String {
    format!(
        "{:<36} {:<16} {}",
        event["type"].as_str().unwrap_or("?"),
        event["subject"].as_str().unwrap_or("?"),
        event["data"]["detail"]["recipient"]
            .as_str()
            .map(|r| format!("recipient {r}"))
            .or_else(|| event["data"]["importer"]
                .as_str()
                .map(|i| format!("importer {i}")))
            .unwrap_or_default()
    )
}

/// Runs the demo and returns what to print. Starts moto unless `endpoint` is given.
pub async fn run(endpoint: Option<String>) -> anyhow::Result<String> {
    let prefix = match &endpoint {
        Some(_) => format!("notify-{}", chrono::Utc::now().timestamp()),
        None => "notify".to_owned(),
    };
    let mut options = LocalOptions::new(&prefix);
    options.endpoint = endpoint;
    let local = Local::start(options).await?;
    let notify = LocalNotify::start(&local, NotifyOptions::default()).await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "emulator: {}  topic: {}",
        local.endpoint, notify.topic_arn
    );

    let (customs_url, customs_arn) = notify
        .agency_queue(&local, &format!("{prefix}-customs-xb"))
        .await?;
    let customs = Subscription {
        id: "customs-xb".into(),
        agency: "Customs of XB".into(),
        country: "XB".into(),
        role: Role::Customs,
        events: vec![EventType::Issued, EventType::Cancelled],
        filters: Filters {
            importer: vec!["XB".into()],
            ..Filters::default()
        },
        channel: Channel::Sns {
            protocol: "sqs".into(),
            endpoint: customs_arn,
            subscription_arn: None,
        },
        include_xml: false,
    };
    let policy = customs.filter_policy()?;
    notify.admin.add(customs, None).await?;
    let receiver = WebhookReceiver::start(200).await?;
    let secret = Secret::new(format!("demo-secret-{}", std::process::id()));
    let ma = Subscription {
        id: "ma-xa-permit-system".into(),
        agency: "Management Authority of XA (permit system)".into(),
        country: "XA".into(),
        role: Role::ManagementAuthority,
        events: vec![EventType::Rejected, EventType::DeliveryFailed],
        filters: Filters {
            issuer: vec!["XA".into()],
            ..Filters::default()
        },
        channel: Channel::Webhook {
            url: receiver.url("/ecites/events"),
            secret_parameter: "/ecites/webhooks/ma-xa-permit-system".into(),
        },
        include_xml: true,
    };
    notify.admin.add(ma, Some(&secret)).await?;
    let _ = writeln!(out, "\nsubscriptions:");
    let _ = writeln!(
        out,
        "  customs-xb           SNS -> SQS, filter policy {policy}"
    );
    let _ = writeln!(
        out,
        "  ma-xa-permit-system  webhook {} (rejected, delivery_failed; HMAC secret in SSM)",
        receiver.url("/ecites/events")
    );

    let _ = writeln!(out, "\npermits dropped:");
    for (number, importer) in [("26XA0101", "XB"), ("26XA0102", "XD"), ("26XA0103", "XC")] {
        let _ = writeln!(out, "  export permit {number} to {importer}");
        local
            .put_object(
                &format!("inbox/{number}.json"),
                fixtures::json(&fixtures::export_permit(number, "XA", importer, 10)),
            )
            .await?;
    }
    let _ = writeln!(out, "  an invalid permit");
    local
        .put_object("inbox/invalid.json", fixtures::invalid_json("XA"))
        .await?;
    local.drain(DRAIN).await?;
    let _ = writeln!(out, "  cancellation of 26XA0101");
    local
        .send_direct(r#"{"type":"cancel","version":1,"issuer":"XA","permit_number":"26XA0101","reason":"specimens died"}"#)
        .await?;
    local.drain(DRAIN).await?;
    notify.drain(DRAIN).await?;

    // A replay of the whole stream (as after a lost checkpoint) must notify nobody again.
    notify.stream.rewind();
    let replayed = notify.run_stream(DRAIN).await?;
    notify.run_webhooks(DRAIN).await?;

    let customs_events: Vec<Value> = local
        .take_all(&customs_url)
        .await?
        .iter()
        .filter_map(|b| serde_json::from_str(b).ok())
        .collect();
    let _ = writeln!(out, "\ncustoms-xb queue received {}:", customs_events.len());
    for event in &customs_events {
        let _ = writeln!(out, "  {}", line(event));
    }
    let requests = receiver.received();
    let _ = writeln!(
        out,
        "\nma-xa-permit-system webhook received {}:",
        requests.len()
    );
    let now = chrono::Utc::now().timestamp();
    for request in &requests {
        let event: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let verified = request
            .headers
            .get(&SIGNATURE_HEADER.to_ascii_lowercase())
            .map(|h| verify(&secret, h, &request.body, now, 300).is_ok())
            .unwrap_or(false);
        let _ = writeln!(
            out,
            "  {}  signature {}",
            line(&event),
            if verified { "verified" } else { "INVALID" }
        );
    }
    let _ = writeln!(
        out,
        "\nstream replayed from TRIM_HORIZON: {} records seen again, 0 new notifications (claims in the ledger)",
        replayed.records
    );
    let _ = writeln!(
        out,
        "webhook DLQ: {} jobs",
        local.visible_messages(&notify.webhook_dlq_url).await?
    );
    Ok(out)
}
