//! `ecites-local soak` (`make soak`): two MAs on the emulator, every function's AWS calls behind
//! the fault proxy ([`crate::emulation::aws_proxy`]), permits as files and as messages with
//! duplicates and invalid ones, run until quiet (dead-letter queues replayed, as an operator
//! would), then an audit of both ledgers, the rejection reports and the queues against the
//! inputs. Nothing may be lost and nothing doubled.
//!
//! `make test` runs a small soak of this harness (`tests/tests/faults.rs`); `make soak` a large
//! one. Not yet in it (issue #15): re-issues and cancellations, notifications and uses in the
//! audit, partner and subscriber faults, a runner killed mid-batch (each has its own test).

use crate::emulation::aws_proxy::{AwsProxy, Fault, FaultPlan};
use crate::fixtures;
use crate::stack::exchange::{delivery_message, start_pair, Ma, PairOptions};
use ecites_domain::PermitId;
use ecites_exchange::ledger::DeliveryKind;
use ecites_exchange::Ledger as _;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// How big and how hostile a soak is.
#[derive(Clone, Debug)]
pub struct SoakOptions {
    /// Use a running emulator instead of starting one.
    pub endpoint: Option<String>,
    /// Valid permits XA issues to XB (half as files, half as messages).
    pub permits: usize,
    /// Share of the functions' AWS calls faulted (every kind).
    pub fault_rate: f64,
    /// The fault generator's seed.
    pub seed: u64,
}

impl SoakOptions {
    /// `permits` permits, 8 % of AWS calls faulted, a fixed seed.
    pub fn new(permits: usize) -> Self {
        SoakOptions {
            endpoint: None,
            permits,
            fault_rate: 0.08,
            seed: 20_261_130,
        }
    }
}

/// What the audit found.
#[derive(Clone, Debug, Default)]
pub struct SoakReport {
    /// Valid permits issued.
    pub permits: usize,
    /// Duplicate messages sent (the same permit again).
    pub duplicates: usize,
    /// Invalid files dropped.
    pub invalid: usize,
    /// Permits recorded once, delivered and received once.
    pub delivered: usize,
    /// Invalid files rejected with a report.
    pub rejected: usize,
    /// Messages found in a DLQ and replayed (then delivered).
    pub replayed: usize,
    /// What was lost, one line each.
    pub lost: Vec<String>,
    /// What was doubled, one line each.
    pub doubled: Vec<String>,
    /// Messages left in a queue or DLQ at the end.
    pub left_queued: BTreeMap<&'static str, u64>,
    /// Faults injected at XA's and XB's functions, by kind.
    pub faults: BTreeMap<Fault, u64>,
    /// AWS requests that reached the emulator through the proxies.
    pub requests: u64,
    /// Wall time.
    pub wall: Duration,
}

impl SoakReport {
    /// Nothing lost, nothing doubled, nothing left in a queue.
    pub fn passed(&self) -> bool {
        self.lost.is_empty() && self.doubled.is_empty() && self.left_queued.is_empty()
    }
}

/// How long one drain may take: 10 minutes, or a second per permit when more (the emulator
/// handles a few permits a second through every function with faults on).
fn quiet(permits: usize) -> Duration {
    Duration::from_secs(600.max(u64::try_from(permits).unwrap_or(u64::MAX)))
}

fn direct(permit: &ecites_domain::Permit) -> String {
    let body = String::from_utf8_lossy(&fixtures::json(permit)).into_owned();
    serde_json::json!({"type": "permit", "version": 1, "content": body}).to_string()
}

/// How many versions of XA's permit `number` (version 1, as issued, replaced or cancelled) XB's
/// ledger records as received: 1 when delivered once.
pub async fn received_versions(xb: &Ma, number: &str) -> anyhow::Result<usize> {
    let mut versions = 0;
    for status in ["issued", "replaced", "cancelled"] {
        if xb
            .store
            .received_fields(crate::country("XA"), number, 1, status)
            .await?
            .is_some()
        {
            versions += 1;
        }
    }
    Ok(versions)
}

/// Moves every message of `dlq` back to `queue`; returns how many.
async fn redrive(xa: &Ma, dlq: &str, queue: &str) -> anyhow::Result<usize> {
    let bodies = xa.local.take_all(dlq).await?;
    for body in &bodies {
        xa.local
            .clients
            .sqs
            .send_message()
            .queue_url(queue)
            .message_body(body)
            .send()
            .await?;
    }
    Ok(bodies.len())
}

/// Runs the soak.
pub async fn run(options: &SoakOptions) -> anyhow::Result<SoakReport> {
    let started = Instant::now();
    let (xa, xb) = start_pair(PairOptions {
        endpoint: options.endpoint.clone(),
        prefix: format!("soak{}-", std::process::id() % 10_000),
        aws_faults: Some(FaultPlan::every_kind(options.fault_rate, options.seed)),
        max_receives: 10,
        retry_base: Duration::from_millis(200),
        retry_cap: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
        ..PairOptions::default()
    })
    .await?;
    let mut report = SoakReport {
        permits: options.permits,
        ..SoakReport::default()
    };
    let numbers: Vec<String> = (0..options.permits)
        .map(|i| format!("26XA{:06}", 300_000 + i))
        .collect();
    for (i, number) in numbers.iter().enumerate() {
        let permit = fixtures::export_permit(number, "XA", "XB", 1 + i as i64);
        if i % 2 == 0 {
            xa.local
                .put_object(&format!("inbox/{number}.json"), fixtures::json(&permit))
                .await?;
        } else {
            xa.local.send_direct(&direct(&permit)).await?;
        }
        if i % 4 == 0 {
            xa.local.send_direct(&direct(&permit)).await?;
            report.duplicates += 1;
        }
    }
    let invalid: Vec<String> = (0..options.permits.div_ceil(10))
        .map(|i| format!("inbox/broken-{i}.json"))
        .collect();
    for key in &invalid {
        xa.local
            .put_object(key, fixtures::invalid_json("XA"))
            .await?;
    }
    report.invalid = invalid.len();

    // Until quiet, replaying what reached a DLQ, as the runbook says.
    for _ in 0..3 {
        xa.local.drain(quiet(options.permits)).await?;
        xa.forward_until_quiet(quiet(options.permits)).await?;
        let stack = &xa.local.stack;
        let from_ingest = redrive(&xa, &stack.ingest_dlq_url, &stack.ingest_queue_url).await?;
        let from_deliveries = ecites_aws::replay::replay_dlq(
            &xa.local.clients.sqs,
            &xa.store,
            &stack.deliveries_dlq_url,
            &stack.deliveries_queue_url,
            10_000,
        )
        .await?
        .requeued;
        report.replayed += from_ingest + from_deliveries;
        if from_ingest + from_deliveries == 0 {
            break;
        }
    }

    for number in &numbers {
        let id = PermitId {
            issuer: crate::country("XA"),
            number: number.clone(),
        };
        let at_xa = xa.store.status(&id).await?;
        let versions = at_xa.versions.len();
        if versions > 1 {
            report
                .doubled
                .push(format!("{number}: {versions} versions at XA"));
        }
        let delivery = xa
            .store
            .delivery_fields(&delivery_message(
                "XA",
                number,
                1,
                DeliveryKind::Permit,
                "XB",
            ))
            .await?;
        let delivered = delivery
            .as_ref()
            .is_some_and(|fields| fields.get("state").map(String::as_str) == Some("DELIVERED"));
        if !delivered {
            report.lost.push(format!(
                "{number}: delivery {}",
                delivery
                    .as_ref()
                    .and_then(|f| f.get("state").cloned())
                    .unwrap_or_else(|| "missing".to_owned())
            ));
        }
        match received_versions(&xb, number).await? {
            1 if versions == 1 && delivered => report.delivered += 1,
            0 => report.lost.push(format!("{number}: not received by XB")),
            1 => {}
            n => report
                .doubled
                .push(format!("{number}: received {n} times by XB")),
        }
    }
    for key in &invalid {
        let report_key = format!("rejected/{key}.report.json");
        if xa.local.get_object(&report_key).await?.is_some() {
            report.rejected += 1;
        } else {
            report.lost.push(format!("{key}: no rejection report"));
        }
    }
    let stack = &xa.local.stack;
    for (name, url) in [
        ("ingest", &stack.ingest_queue_url),
        ("ingest DLQ", &stack.ingest_dlq_url),
        ("deliveries", &stack.deliveries_queue_url),
        ("deliveries DLQ", &stack.deliveries_dlq_url),
    ] {
        let visible = xa.local.visible_messages(url).await?;
        if visible > 0 {
            report.left_queued.insert(name, visible);
        }
    }
    for proxy in [&xa.local.proxy, &xb.local.proxy].into_iter().flatten() {
        for (kind, count) in proxy.faults_injected() {
            *report.faults.entry(kind).or_default() += count;
        }
        report.requests += AwsProxy::requests(proxy);
    }
    report.wall = started.elapsed();
    Ok(report)
}

/// The one table `make soak` prints.
pub fn table(report: &SoakReport) -> String {
    let mut out = String::new();
    let row = |out: &mut String, what: &str, value: String| {
        let _ = writeln!(out, "  {what:<44} {value:>10}");
    };
    let _ = writeln!(out, "Soak: two MAs, faults in every function's AWS calls");
    row(
        &mut out,
        "inputs: valid permits",
        report.permits.to_string(),
    );
    row(
        &mut out,
        "inputs: duplicate messages",
        report.duplicates.to_string(),
    );
    row(
        &mut out,
        "inputs: invalid files",
        report.invalid.to_string(),
    );
    row(
        &mut out,
        "delivered once (XA ledger, XB ledger)",
        report.delivered.to_string(),
    );
    row(
        &mut out,
        "rejected with a report",
        report.rejected.to_string(),
    );
    row(
        &mut out,
        "found in a DLQ, replayed",
        report.replayed.to_string(),
    );
    row(&mut out, "lost", report.lost.len().to_string());
    row(&mut out, "doubled", report.doubled.len().to_string());
    row(
        &mut out,
        "left in a queue or DLQ",
        report.left_queued.values().sum::<u64>().to_string(),
    );
    for (kind, count) in &report.faults {
        row(
            &mut out,
            &format!("faults injected: {}", kind.name()),
            count.to_string(),
        );
    }
    row(
        &mut out,
        "AWS requests through the proxies",
        report.requests.to_string(),
    );
    row(
        &mut out,
        "wall time",
        format!("{:.1} s", report.wall.as_secs_f64()),
    );
    for line in report.lost.iter().chain(&report.doubled) {
        let _ = writeln!(out, "  ! {line}");
    }
    let _ = writeln!(
        out,
        "{}",
        if report.passed() {
            "PASSED: 0 lost, 0 doubled"
        } else {
            "FAILED"
        }
    );
    out
}
