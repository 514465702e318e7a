//! `ecites-local bench-report`: the annual report of a synthetic year on the emulator.
//!
//! XA's ledger gets a year of export permits and, for nine in ten, an export endorsement: copies
//! of two permits the real ledger code wrote (`record_version`, `record_use`), every item of
//! their partitions renumbered; then the released `ecites report annual` binary writes XA's
//! exporter report of that year, as an operator would run it, and the bench reports rows per
//! second and the process's peak resident memory, at the full size and at a tenth of it (the
//! report streams, so the two peaks should be alike).

use crate::fixtures;
use crate::{Local, LocalOptions};
use anyhow::{ensure, Context as _};
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use chrono::{Duration as Days, TimeZone, Utc};
use ecites_domain::usage::{PermitFacts, PermitUse};
use ecites_domain::PermitId;
use ecites_exchange::ledger::NewVersion;
use ecites_exchange::usage::{use_key, NewUse, UseLedger};
use ecites_exchange::Ledger;
use futures::StreamExt as _;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// How many BatchWriteItem requests run at once.
const CONCURRENCY: usize = 4;

/// The numbers of the two template permits written through the real ledger code.
const USED_TEMPLATE: &str = "26XAUSEDTEMPLATE";
const IDLE_TEMPLATE: &str = "26XAIDLETEMPLATE";

/// Writes one permit of 2026 through the real ledger code (`record_version`, and with `used`
/// an export endorsement through `record_use`) and returns every item of its partition.
async fn template(local: &Local, number: &str, used: bool) -> anyhow::Result<Vec<Item>> {
    let ledger = local.function.ledger();
    let issued = Utc
        .with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .context("a date")?;
    let permit = fixtures::export_permit(number, "XA", "XB", 10);
    let facts = PermitFacts::of(&permit);
    let id = PermitId {
        issuer: crate::country("XA"),
        number: number.to_owned(),
    };
    ledger
        .record_version(&NewVersion {
            id: id.clone(),
            content_sha256: format!("{:064x}", number.len()),
            xml_key: format!("outbox/XA/{number}.xml"),
            document_type: "E".into(),
            source: "bench-report".into(),
            received_at: issued,
            sent_at: None,
            valid_until: Some(issued + Days::days(170)),
            retain_until: issued + Days::days(5 * 365),
            findings: Vec::new(),
            recipients: Vec::new(),
            facts: Some(facts.clone()),
            endorsement: false,
            known_previous: None,
        })
        .await?;
    if used {
        let body = fixtures::use_message(
            "export_endorsement",
            "XA",
            number,
            "XA",
            "XA-D-1",
            "2026-02-10",
            8,
        );
        let message: serde_json::Value = serde_json::from_str(&body)?;
        let used: PermitUse = serde_json::from_value(message["use"].clone())?;
        let at = issued + Days::days(36);
        ledger
            .record_use(&NewUse {
                id: id.clone(),
                key: use_key(&used),
                used,
                findings: Vec::new(),
                claim_consignment: true,
                waiting: false,
                facts: Some(facts),
                permit_xml_key: None,
                source: "bench-report".into(),
                tell: None,
                recorded_at: at,
                retain_until: at + Days::days(5 * 365),
            })
            .await?;
    }
    let output = local
        .clients
        .dynamodb
        .query()
        .table_name(&local.stack.table)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("PERMIT#XA#{number}")))
        .send()
        .await?;
    Ok(output.items.unwrap_or_default())
}

/// `item` with the template's number replaced by `number` in every text value (keys, index
/// keys, the use's JSON).
fn renumbered(item: &Item, template: &str, number: &str) -> Item {
    item.iter()
        .map(|(name, value)| {
            let value = match value {
                AttributeValue::S(text) => AttributeValue::S(text.replace(template, number)),
                other => other.clone(),
            };
            (name.clone(), value)
        })
        .collect()
}

/// Writes `used_count` permits of 2026 for XA endorsed at export, and a tenth as many never
/// used, numbered `<prefix><index>`: each a copy of a template permit the real ledger code wrote (every item of its
/// partition, renumbered), written with BatchWriteItem. The emulator copies its whole state
/// for every TransactWriteItems, so a year written through transactions would take hours on
/// it; the items are the same.
async fn fill(local: &Local, prefix: &str, used_count: usize) -> anyhow::Result<()> {
    let count = used_count + used_count / 10;
    let used = template(local, USED_TEMPLATE, true).await?;
    let idle = template(local, IDLE_TEMPLATE, false).await?;
    let mut items = Vec::new();
    for index in 0..count {
        let number = format!("{prefix}{index:06}");
        let (template_items, template_number) = if index >= used_count {
            (&idle, IDLE_TEMPLATE)
        } else {
            (&used, USED_TEMPLATE)
        };
        items.extend(
            template_items
                .iter()
                .map(|item| renumbered(item, template_number, &number)),
        );
    }
    // The templates themselves go: the report should hold only the year's permits.
    let deletes = used.iter().chain(idle.iter()).map(|item| {
        let key: Item = item
            .iter()
            .filter(|(name, _)| *name == "PK" || *name == "SK")
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Some(
            WriteRequest::builder()
                .delete_request(DeleteRequest::builder().set_key(Some(key)).build().ok()?)
                .build(),
        )
    });
    let puts = items.into_iter().map(|item| {
        Some(
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().ok()?)
                .build(),
        )
    });
    let requests: Vec<WriteRequest> = deletes
        .chain(puts)
        .collect::<Option<_>>()
        .context("a write request")?;
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(requests.chunks(25))
        .map(|chunk| async move {
            let mut pending = chunk.to_vec();
            while !pending.is_empty() {
                let output = local
                    .clients
                    .dynamodb
                    .batch_write_item()
                    .request_items(&local.stack.table, pending)
                    .send()
                    .await?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&local.stack.table))
                    .unwrap_or_default();
            }
            Ok(())
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for result in results {
        result?;
    }
    Ok(())
}

type Item = HashMap<String, AttributeValue>;

/// One measured run of the report binary.
struct Run {
    rows: usize,
    seconds: f64,
    peak_rss_kib: u64,
}

/// Runs `ecites report annual --year 2026 --as exporter` against `local` and measures it: the
/// rows it wrote, its wall time and its peak resident memory (`/usr/bin/time -f %M`).
fn run_report(local: &Local, ecites: &Path) -> anyhow::Result<Run> {
    let work = tempfile::tempdir()?;
    let rss_file = work.path().join("rss");
    let started = Instant::now();
    let output = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg(ecites)
        .args(["report", "annual", "--year", "2026", "--as", "exporter"])
        .envs(local.operator_env())
        .output()
        .with_context(|| format!("running {} under /usr/bin/time", ecites.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    ensure!(
        output.status.success(),
        "the report failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = output.stdout.iter().filter(|b| **b == b'\n').count() - 1;
    let peak_rss_kib = std::fs::read_to_string(&rss_file)?
        .trim()
        .parse()
        .context("/usr/bin/time's %M")?;
    Ok(Run {
        rows,
        seconds,
        peak_rss_kib,
    })
}

/// Fills XA's ledger with a year of `permits` permits (and a tenth of that first, measured
/// too), runs the report binary `ecites` on each, and prints the figures.
pub async fn run(
    endpoint: Option<String>,
    permits: usize,
    ecites: &Path,
) -> anyhow::Result<String> {
    ensure!(
        ecites.is_file(),
        "{} is not built: cargo build --release --bin ecites",
        ecites.display()
    );
    let small = (permits / 10).max(10);
    let mut options = LocalOptions::new(&format!("benchreport{}", Utc::now().timestamp()));
    options.endpoint = endpoint;
    let local = Local::start(options).await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== The annual report of a synthetic year on the emulator: XA's export permits of 2026 endorsed at export, and a tenth as many never used; `ecites report annual --year 2026 --as exporter` (release) reads them"
    );
    let mut filled = 0;
    for size in [small, permits] {
        let started = Instant::now();
        fill(&local, &format!("26XAR{}-", size), size - filled.min(size)).await?;
        filled = size;
        let fill_seconds = started.elapsed().as_secs_f64();
        let run = run_report(&local, ecites)?;
        let _ = writeln!(
            out,
            "{size:>7} permits with uses (+{} never used, written in {fill_seconds:.0} s): {:>7} rows in {:6.2} s = {:>7.0} rows/s, peak RSS {:5.1} MiB",
            size / 10,
            run.rows,
            run.seconds,
            run.rows as f64 / run.seconds,
            run.peak_rss_kib as f64 / 1024.0
        );
    }
    let _ = writeln!(
        out,
        "The report pages through the by_report index (pages of at most 500 items) and holds one permit at a time: peak memory should not grow with the year. Rows/s on the emulator measure moto's index queries (each page scans the table), not DynamoDB's; `cargo bench -p ecites-domain --bench report` measures the report's own work."
    );
    Ok(out)
}
