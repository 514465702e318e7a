//! `ecites-local bench-use`: the AWS requests a customs use and a verification cost, counted by
//! the SDK interceptor on the emulator, with `uses` uses of each kind: an import confirmation
//! of a foreign permit at XB (told to XA), an export endorsement of XA's own permit (which
//! writes the endorsed version for XB), XA's receive function recording XB's confirmation, and
//! a verification at XB.

use crate::fixtures;
use crate::stack::exchange::{start_pair, Ma, PairOptions};
use chrono::Utc;
use ecites_domain::usage::{Border, VerifyRequest};
use ecites_exchange::usage::{verify_permit, UseServices};
use ecites_exchange::SystemClock;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const QUIET: Duration = Duration::from_secs(600);

fn use_message(kind: &str, number: &str, by: &str, declaration: &str) -> String {
    fixtures::use_message(kind, "XA", number, by, declaration, "2026-02-12", 1)
}

fn per_use(counts: &BTreeMap<String, u64>, n: usize) -> String {
    let total: u64 = counts.values().sum();
    let detail = counts
        .iter()
        .map(|(op, count)| format!("{op} {:.2}", *count as f64 / n.max(1) as f64))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{:.2} ({detail})", total as f64 / n.max(1) as f64)
}

async fn send_all(ma: &Ma, bodies: &[String]) -> anyhow::Result<Duration> {
    for body in bodies {
        ma.local.send_direct(body).await?;
    }
    let started = Instant::now();
    ma.local.drain(QUIET).await?;
    Ok(started.elapsed())
}

/// Runs the bench and returns the table.
pub async fn run(endpoint: Option<String>, uses: usize) -> anyhow::Result<String> {
    let options = PairOptions {
        endpoint,
        prefix: format!("benchuse{}-", Utc::now().timestamp()),
        directory_ttl: Duration::from_secs(300),
        ..PairOptions::default()
    };
    let (mut xa, mut xb) = start_pair(options).await?;
    xa.local.ingest_source.wait_time_s = 0;
    xb.local.ingest_source.wait_time_s = 0;
    xa.forward_source.wait_time_s = 0;
    xb.forward_source.wait_time_s = 0;
    let numbers: Vec<String> = (0..uses).map(|i| format!("26XB{i:06}")).collect();
    let warm_up = "26XBWARMUP".to_owned();
    for number in numbers.iter().chain([&warm_up]) {
        let permit = fixtures::export_permit(number, "XA", "XB", 10);
        let body = String::from_utf8_lossy(&fixtures::json(&permit)).into_owned();
        xa.local
            .send_direct(&json!({"type": "permit", "version": 1, "content": body}).to_string())
            .await?;
    }
    xa.local.drain(QUIET).await?;
    xa.forward_until_quiet(QUIET).await?;
    // Warm the directory caches, as a running function's are.
    send_all(
        &xb,
        &[use_message(
            "import_confirmation",
            &warm_up,
            "XB",
            "WARM-UP",
        )],
    )
    .await?;
    xb.forward_until_quiet(QUIET).await?;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "AWS requests per customs use and per verification, {uses} of each, on the emulator:"
    );
    xb.local.counter.reset();
    let confirmations: Vec<String> = numbers
        .iter()
        .map(|n| use_message("import_confirmation", n, "XB", &format!("XB-{n}")))
        .collect();
    let took = send_all(&xb, &confirmations).await?;
    let _ = writeln!(
        out,
        "  import confirmation of a foreign permit at XB (recorded, told to XA): {} per use; {:.1} uses/s through ingest on moto",
        per_use(&xb.local.counter.snapshot(), uses),
        uses as f64 / took.as_secs_f64().max(1e-9)
    );
    xa.local.counter.reset();
    xb.forward_until_quiet(QUIET).await?;
    let _ = writeln!(
        out,
        "  the same use recorded by XA's receive function: {} per use",
        per_use(&xa.local.counter.snapshot(), uses)
    );
    xa.local.counter.reset();
    let endorsements: Vec<String> = numbers
        .iter()
        .map(|n| use_message("export_endorsement", n, "XA", &format!("XA-{n}")))
        .collect();
    send_all(&xa, &endorsements).await?;
    let _ = writeln!(
        out,
        "  export endorsement of XA's own permit (recorded, endorsed version written and queued for XB): {} per use",
        per_use(&xa.local.counter.snapshot(), uses)
    );
    xb.local.counter.reset();
    let started = Instant::now();
    for number in &numbers {
        verify_permit(
            UseServices {
                ledger: xb.local.function.ledger(),
                clock: &SystemClock,
                own_country: crate::country("XB"),
            },
            &VerifyRequest {
                id: ecites_domain::PermitId {
                    issuer: crate::country("XA"),
                    number: number.clone(),
                },
                at: Border::Import,
                by: crate::country("XB"),
                on: "2026-02-12".parse()?,
                declared: Vec::new(),
            },
        )
        .await?;
    }
    let took = started.elapsed();
    let _ = writeln!(
        out,
        "  verification at XB: {} per verification; {:.1} verifications/s on moto",
        per_use(&xb.local.counter.snapshot(), uses),
        uses as f64 / took.as_secs_f64().max(1e-9)
    );
    Ok(out)
}
