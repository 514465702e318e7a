//! `ecites-local demo`: the whole ingest pipeline on the emulator, with a realistic set of
//! inputs, ending with a summary table.

use crate::fixtures::{self, EPIX_XML};
use crate::{Local, LocalOptions};
use ecites_domain::DocumentType;
use ecites_exchange::Ledger;
use std::fmt::Write as _;
use std::time::Duration;

/// How long one drain may take before the demo gives up.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the demo and returns the summary to print. Starts moto unless `endpoint` is given, and
/// stops whatever it started before returning.
pub async fn run(endpoint: Option<String>) -> anyhow::Result<String> {
    // On a shared emulator, a fresh set of resources per run.
    let prefix = match &endpoint {
        Some(_) => format!("demo-{}", chrono::Utc::now().timestamp()),
        None => "demo".to_owned(),
    };
    let mut options = LocalOptions::new(&prefix);
    options.endpoint = endpoint;
    let local = Local::start(options).await?;
    let mut log = String::new();
    let _ = writeln!(
        log,
        "emulator: {}  bucket: {}  table: {}",
        local.endpoint, local.stack.bucket, local.stack.table
    );

    let first = fixtures::json(&fixtures::export_permit("26XA0001", "XA", "XB", 10));
    let drops: Vec<(&str, Vec<u8>)> = vec![
        ("inbox/epix re-export XA000000.xml", EPIX_XML.to_vec()),
        ("inbox/export permit+26XA0001 café.json", first.clone()),
        (
            "inbox/batch 2026 (two permits).csv",
            fixtures::csv_two_permits("XA", "26XA0002", "26XA0003", "XD"),
        ),
        (
            "inbox/import permit 26XA0004.json",
            fixtures::json(&fixtures::permit(
                DocumentType::I,
                "26XA0004",
                "XA",
                "XC",
                "XA",
                4,
            )),
        ),
        ("inbox/invalid permit.json", fixtures::invalid_json("XA")),
        (
            "inbox/foreign permit from XB.json",
            fixtures::json(&fixtures::export_permit("26XB0001", "XB", "XA", 3)),
        ),
    ];
    let _ = writeln!(log, "\nround 1: {} files dropped into inbox/", drops.len());
    for (key, bytes) in drops {
        let _ = writeln!(log, "  {key}");
        local.put_object(key, bytes).await?;
    }
    let outcome = local.drain(DRAIN_TIMEOUT).await?;
    let _ = writeln!(log, "  ingest: {outcome}");

    let _ = writeln!(
        log,
        "\nround 2: the same permit again (S3 copy and direct message), and a re-issue"
    );
    local
        .put_object("inbox/export permit 26XA0001 (copy).json", first.clone())
        .await?;
    let inline = serde_json::json!({
        "type": "permit", "version": 1, "file_name": "26XA0001.json",
        "content": String::from_utf8_lossy(&first),
    });
    local.send_direct(&inline.to_string()).await?;
    let reissue = fixtures::json(&fixtures::export_permit("26XA0001", "XA", "XB", 12));
    local
        .put_object("inbox/export permit 26XA0001 reissued.json", reissue)
        .await?;
    let outcome = local.drain(DRAIN_TIMEOUT).await?;
    let _ = writeln!(log, "  ingest: {outcome}");

    let _ = writeln!(log, "\nround 3: cancellation of 26XA0002 by direct message");
    let cancel = serde_json::json!({
        "type": "cancel", "version": 1, "issuer": "XA", "permit_number": "26XA0002",
        "reason": "specimens died before export",
    });
    local.send_direct(&cancel.to_string()).await?;
    let outcome = local.drain(DRAIN_TIMEOUT).await?;
    let _ = writeln!(log, "  ingest: {outcome}");

    let requests = local.counter.snapshot();
    let (id, status) =
        ecites_aws::status::permit_status_in(local.function.ledger(), "XA", "26XA0001").await?;
    let _ = writeln!(
        log,
        "\n$ ecites status XA 26XA0001\n{}",
        ecites_aws::status::render(&id, &status)
    );
    let deliveries = local.take_deliveries().await?;
    let ledger = local.function.ledger();
    let _ = writeln!(
        log,
        "\n{:<16} {:<8} {:<10} recipients (state of each delivery)",
        "permit", "version", "state"
    );
    for id in ledger.permits().await? {
        let status = ledger.status(&id).await?;
        let latest = status.versions.last().map(|v| v.version).unwrap_or(0);
        let recipients: Vec<String> = status
            .deliveries
            .iter()
            .map(|d| {
                format!(
                    "v{} {} {} {}",
                    d.version,
                    d.kind.as_str(),
                    d.recipient,
                    d.state
                )
            })
            .collect();
        let _ = writeln!(
            log,
            "{:<16} {:<8} {:<10} {}",
            id.to_string(),
            latest,
            status.state.as_deref().unwrap_or("-"),
            recipients.join("; ")
        );
    }
    let _ = writeln!(log, "\nrejection reports:");
    for key in local.list("rejected/").await? {
        let _ = writeln!(log, "  {key}");
    }
    let _ = writeln!(log, "\ncanonical XML written:");
    for key in local.list("outbox/").await? {
        let _ = writeln!(log, "  {key}");
    }
    let mut distinct: Vec<&str> = deliveries.iter().map(|d| d.delivery_id.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let _ = writeln!(
        log,
        "\ndelivery messages queued: {} ({} distinct deliveries; a redelivered input re-queues its still-PENDING deliveries, which the forward function absorbs by delivery_id)",
        deliveries.len(),
        distinct.len()
    );
    for delivery in &deliveries {
        let _ = writeln!(log, "  {} -> {}", delivery.delivery_id, delivery.endpoint);
    }
    let _ = writeln!(log, "\nAWS requests made by the ingest function:");
    for (operation, count) in &requests {
        let _ = writeln!(log, "  {operation:<36} {count}");
    }
    drop(local);
    Ok(log)
}
