//! `ecites-local bench-exchange`: deliveries per second through forward -> receive on loopback
//! (XA's forward function POSTing to XB's receive function, both against the emulator), and the
//! AWS requests each delivery costs on both sides (counted by the SDK interceptor).

use crate::fixtures;
use crate::stack::exchange::{start_pair, PairOptions};
use chrono::Utc;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Runs the bench with `deliveries` permits and returns the table.
pub async fn run(endpoint: Option<String>, deliveries: usize) -> anyhow::Result<String> {
    let options = PairOptions {
        endpoint,
        prefix: format!("bench{}-", Utc::now().timestamp()),
        // As in Lambda: the directory is read once per warm function and cached.
        directory_ttl: Duration::from_secs(300),
        ..PairOptions::default()
    };
    let (xa, xb) = start_pair(options).await?;
    let mut xa = xa;
    xa.forward_source.wait_time_s = 0;
    xa.local.ingest_source.wait_time_s = 0;
    // Warm up: one permit through everything (directory caches, connections).
    xa.drop_permit("warmup", &fixtures::export_permit("WARMUP", "XA", "XB", 1))
        .await?;
    xa.forward_until_quiet(Duration::from_secs(60)).await?;
    // Ingest the permits (not measured), then measure forward -> receive.
    for i in 0..deliveries {
        let permit = fixtures::export_permit(&format!("26XA{i:06}"), "XA", "XB", 1 + i as i64);
        let body = String::from_utf8_lossy(&fixtures::json(&permit)).into_owned();
        let message = serde_json::json!({"type": "permit", "version": 1, "content": body});
        xa.local.send_direct(&message.to_string()).await?;
    }
    xa.local.drain(Duration::from_secs(600)).await?;
    xa.local.counter.reset();
    xb.local.counter.reset();
    let started = Instant::now();
    let outcome = xa.forward_until_quiet(Duration::from_secs(600)).await?;
    let elapsed = started.elapsed();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "forward -> receive on loopback: {} deliveries in {:.2} s = {:.1} deliveries/s ({} messages received by forward, {} failed)",
        outcome.deleted,
        elapsed.as_secs_f64(),
        outcome.deleted as f64 / elapsed.as_secs_f64().max(1e-9),
        outcome.received,
        outcome.failed,
    );
    let per = |count: u64| count as f64 / deliveries.max(1) as f64;
    for (side, counter) in [
        ("XA forward", &xa.local.counter),
        ("XB receive", &xb.local.counter),
    ] {
        let counts = counter.snapshot();
        let _ = writeln!(
            out,
            "\n{side}: {:.2} AWS requests per delivery",
            per(counts.values().sum())
        );
        for (operation, count) in counts {
            let _ = writeln!(out, "  {operation:<40} {:.2}", per(count));
        }
    }
    let _ = writeln!(
        out,
        "\n(the runner's own SQS ReceiveMessage/DeleteMessageBatch calls are not counted: on AWS the event source mapping makes them)"
    );
    Ok(out)
}
