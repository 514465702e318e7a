//! `ecites-local bench`: AWS requests per permit ingested (counted by the SDK interceptor) and
//! local end-to-end throughput through ingest on the emulator.

use crate::fixtures;
use crate::{Local, LocalOptions};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// One measured path.
#[derive(Clone, Debug)]
pub struct BenchRow {
    /// Which path (S3 drop or direct message).
    pub path: &'static str,
    /// Permits ingested.
    pub permits: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Requests by operation.
    pub requests: Vec<(String, u64)>,
}

/// Runs the bench with `permits` permits per path and returns the table.
pub async fn run(endpoint: Option<String>, permits: usize) -> anyhow::Result<String> {
    let mut rows = Vec::new();
    for path in ["s3 drop", "direct sqs"] {
        let name = if path == "s3 drop" {
            "bench-s3"
        } else {
            "bench-sqs"
        };
        let stamp = chrono::Utc::now().timestamp();
        let mut options = LocalOptions::new(&format!("{name}-{stamp}"));
        options.endpoint = endpoint.clone();
        let mut local = Local::start(options).await?;
        local.ingest_source.wait_time_s = 0;
        // Warm up (partner directory, connections, S3 test event) outside the measurement.
        local
            .put_object(
                "inbox/warmup.json",
                fixtures::json(&fixtures::export_permit("WARMUP", "XA", "XB", 1)),
            )
            .await?;
        local.drain(Duration::from_secs(60)).await?;
        let bodies: Vec<Vec<u8>> = (0..permits)
            .map(|i| {
                fixtures::json(&fixtures::export_permit(
                    &format!("26XA{i:06}"),
                    "XA",
                    "XB",
                    1 + i as i64,
                ))
            })
            .collect();
        for (i, body) in bodies.iter().enumerate() {
            if path == "s3 drop" {
                local
                    .put_object(&format!("inbox/bench-{i}.json"), body.clone())
                    .await?;
            } else {
                let message = serde_json::json!({"type": "permit", "version": 1, "content": String::from_utf8_lossy(body)});
                local.send_direct(&message.to_string()).await?;
            }
        }
        local.counter.reset();
        let start = Instant::now();
        local.drain(Duration::from_secs(600)).await?;
        let elapsed = start.elapsed();
        rows.push(BenchRow {
            path,
            permits,
            elapsed,
            requests: local.counter.snapshot().into_iter().collect(),
        });
    }
    Ok(render(&rows))
}

/// The bench table.
pub fn render(rows: &[BenchRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:>8} {:>10} {:>12} {:>14}",
        "path", "permits", "seconds", "permits/s", "requests/permit"
    );
    for row in rows {
        let total: u64 = row.requests.iter().map(|(_, c)| c).sum();
        let seconds = row.elapsed.as_secs_f64();
        let _ = writeln!(
            out,
            "{:<12} {:>8} {:>10.2} {:>12.1} {:>14.2}",
            row.path,
            row.permits,
            seconds,
            row.permits as f64 / seconds.max(f64::EPSILON),
            total as f64 / row.permits.max(1) as f64
        );
    }
    let _ = writeln!(
        out,
        "\n(wall time on moto server: its TransactWriteItems deep-copies the whole table, so the\n\
         emulator's cost per permit grows with the table and bounds throughput here; the request\n\
         counts are what DynamoDB, S3 and SQS would see.)"
    );
    for row in rows {
        let _ = writeln!(out, "\nrequests per permit by operation ({}):", row.path);
        for (operation, count) in &row.requests {
            let _ = writeln!(
                out,
                "  {operation:<36} {:>6.2}",
                *count as f64 / row.permits.max(1) as f64
            );
        }
    }
    out
}
