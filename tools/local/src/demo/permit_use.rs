//! `ecites-local demo-use`: permit use at both ends of a shipment, on the emulator. XA issues a
//! permit to XB; XA's customs endorse the export (box 14) and the endorsed permit reaches XB;
//! XB's customs verify, then confirm the import, which reaches XA: both ledgers show the
//! balance. Then the frauds the checks are for, each raising its alert by rule id, and the
//! alerts reaching XA's enforcement subscriber. It ends with the CITES annual reports of both
//! MAs, built from what their ledgers learnt.

use crate::fixtures;
use crate::stack::exchange::{start_pair, Ma, PairOptions};
use crate::stack::notify::{LocalNotify, NotifyOptions};
use chrono::Utc;
use ecites_domain::report::{ReportBasis, ReportIndexKey, ReportRole};
use ecites_domain::usage::{balance, render_balance_and_uses, Border, VerifyRequest};
use ecites_exchange::notify::{Channel, EventType, Filters, Role, Subscription};
use ecites_exchange::report::{write_report, RowFormat};
use ecites_exchange::usage::{verify_permit, UseLedger, UseServices};
use ecites_exchange::SystemClock;
use rust_decimal::Decimal;
use serde_json::Value;
use std::fmt::Write as _;
use std::time::Duration;

const QUIET: Duration = Duration::from_secs(120);

/// A direct ingest message carrying a use of XA's permit `number`.
fn use_message(
    kind: &str,
    number: &str,
    by: &str,
    declaration: &str,
    date: &str,
    quantity: i64,
) -> String {
    fixtures::use_message(kind, "XA", number, by, declaration, date, quantity)
}

async fn send_use(ma: &Ma, body: &str) -> anyhow::Result<()> {
    ma.local.send_direct(body).await?;
    ma.local.drain(QUIET).await?;
    Ok(())
}

/// The balance and uses of XA's permit `number` as `ma`'s ledger has them.
async fn ledger_view(ma: &Ma, number: &str) -> anyhow::Result<String> {
    let on_ledger = ma.local.function.ledger().permit_uses(&id(number)).await?;
    let uses: Vec<_> = on_ledger.uses.iter().map(|u| u.on_record.clone()).collect();
    let table = on_ledger
        .record
        .as_ref()
        .map(|record| balance(&record.facts, &uses))
        .unwrap_or_default();
    Ok(render_balance_and_uses(&table, &uses))
}

fn id(number: &str) -> ecites_domain::PermitId {
    ecites_domain::PermitId {
        issuer: crate::country("XA"),
        number: number.to_owned(),
    }
}

/// The rule ids of the latest use of `number` at `ma`, as a sentence.
async fn alerts_of(ma: &Ma, number: &str, key_end: &str) -> anyhow::Result<String> {
    let on_ledger = ma.local.function.ledger().permit_uses(&id(number)).await?;
    let rules: Vec<String> = on_ledger
        .uses
        .iter()
        .filter(|u| u.key.ends_with(key_end))
        .flat_map(|u| u.on_record.rules.clone())
        .collect();
    Ok(if rules.is_empty() {
        "no alert".to_owned()
    } else {
        format!("ALERT {}", rules.join(", "))
    })
}

/// Runs the demo and returns what it prints.
pub async fn run(endpoint: Option<String>) -> anyhow::Result<String> {
    let options = PairOptions {
        endpoint,
        prefix: format!("demouse{}-", Utc::now().timestamp()),
        ..PairOptions::default()
    };
    let (xa, xb) = start_pair(options).await?;
    let notify = LocalNotify::start(&xa.local, NotifyOptions::default()).await?;
    let (enforcement_url, enforcement_arn) =
        notify.agency_queue(&xa.local, "enforcement-xa").await?;
    notify
        .admin
        .add(
            Subscription {
                id: "enforcement-xa".into(),
                agency: "Wildlife enforcement of XA".into(),
                country: "XA".into(),
                role: Role::Enforcement,
                events: vec![EventType::Alert],
                filters: Filters::default(),
                channel: Channel::Sns {
                    protocol: "sqs".into(),
                    endpoint: enforcement_arn,
                    subscription_arn: None,
                },
                include_xml: false,
            },
            None,
        )
        .await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Two MAs on the emulator: XA (exporting) and XB (importing), each with its customs; \
         XA's wildlife enforcement is subscribed to alerts."
    );

    let _ = writeln!(
        out,
        "\n== XA issues permit 26XA1001 to XB: 10 live Hermann's tortoises (block A)"
    );
    xa.drop_permit(
        "26XA1001",
        &fixtures::export_permit("26XA1001", "XA", "XB", 10),
    )
    .await?;
    xa.forward_until_quiet(QUIET).await?;

    let _ = writeln!(
        out,
        "\n== XA's customs endorse the export on 2026-02-10, declaration XA-DEC-1: 8 exported (box 14)"
    );
    send_use(
        &xa,
        &use_message(
            "export_endorsement",
            "26XA1001",
            "XA",
            "XA-DEC-1",
            "2026-02-10",
            8,
        ),
    )
    .await?;
    xa.forward_until_quiet(QUIET).await?;
    let at_xb = xb
        .local
        .function
        .ledger()
        .permit_uses(&id("26XA1001"))
        .await?;
    let _ = writeln!(
        out,
        "The endorsed permit is XA's version {} of 26XA1001; XB holds version {} with box 14 (8 exported).",
        xa.local
            .function
            .ledger()
            .permit_uses(&id("26XA1001"))
            .await?
            .record
            .map(|r| r.version)
            .unwrap_or(0),
        at_xb.record.as_ref().map(|r| r.version).unwrap_or(0),
    );

    let _ = writeln!(
        out,
        "\n== At XB's border on 2026-02-12, customs verify before clearing 8 (ecites verify XA 26XA1001 --at import --block A=8)"
    );
    let answer = verify_permit(
        UseServices {
            ledger: xb.local.function.ledger(),
            clock: &SystemClock,
            own_country: crate::country("XB"),
        },
        &VerifyRequest {
            id: id("26XA1001"),
            at: Border::Import,
            by: crate::country("XB"),
            on: "2026-02-12".parse()?,
            declared: vec![("A".into(), Decimal::from(8))],
        },
    )
    .await?;
    let _ = write!(out, "{answer}");

    let _ = writeln!(
        out,
        "\n== XB's customs confirm the import (declaration XB-DEC-1, 8 arrived); XB tells XA"
    );
    send_use(
        &xb,
        &use_message(
            "import_confirmation",
            "26XA1001",
            "XB",
            "XB-DEC-1",
            "2026-02-12",
            8,
        ),
    )
    .await?;
    xb.forward_until_quiet(QUIET).await?;
    let _ = writeln!(out, "XA's ledger (the issuer):");
    let _ = write!(out, "{}", ledger_view(&xa, "26XA1001").await?);
    let _ = writeln!(out, "XB's ledger (the importer):");
    let _ = write!(out, "{}", ledger_view(&xb, "26XA1001").await?);

    let _ = writeln!(out, "\n== What the checks are for");
    send_use(
        &xa,
        &use_message(
            "export_endorsement",
            "26XA1001",
            "XA",
            "XA-DEC-2",
            "2026-02-20",
            2,
        ),
    )
    .await?;
    let _ = writeln!(
        out,
        "A second export under 26XA1001 (declaration XA-DEC-2):            {}",
        alerts_of(&xa, "26XA1001", "XA-DEC-2").await?
    );
    for number in ["26XA1002", "26XA1003"] {
        xa.drop_permit(number, &fixtures::export_permit(number, "XA", "XB", 10))
            .await?;
    }
    xa.forward_until_quiet(QUIET).await?;
    send_use(
        &xa,
        &use_message(
            "export_endorsement",
            "26XA1002",
            "XA",
            "XA-DEC-3",
            "2026-02-10",
            12,
        ),
    )
    .await?;
    let _ = writeln!(
        out,
        "12 exported under 26XA1002, which permits 10:                     {}",
        alerts_of(&xa, "26XA1002", "XA-DEC-3").await?
    );
    send_use(
        &xa,
        &use_message(
            "export_endorsement",
            "26XA1003",
            "XA",
            "XA-DEC-4",
            "2026-07-15",
            5,
        ),
    )
    .await?;
    let _ = writeln!(
        out,
        "26XA1003 (valid until 2026-06-30) used on 2026-07-15:              {}",
        alerts_of(&xa, "26XA1003", "XA-DEC-4").await?
    );
    send_use(
        &xb,
        &use_message(
            "import_confirmation",
            "26XA1999",
            "XB",
            "XB-DEC-9",
            "2026-02-12",
            3,
        ),
    )
    .await?;
    let _ = writeln!(
        out,
        "At XB, a paper permit 26XA1999 that XA never sent electronically: {}",
        alerts_of(&xb, "26XA1999", "XB-DEC-9").await?
    );
    xb.forward_until_quiet(QUIET).await?;
    let _ = writeln!(
        out,
        "XB told XA of it too: at XA, where 26XA1999 was never issued:      {}",
        alerts_of(&xa, "26XA1999", "XB-DEC-9").await?
    );

    notify.drain(QUIET).await?;
    let alerts: Vec<Value> = xa
        .local
        .take_all(&enforcement_url)
        .await?
        .iter()
        .filter_map(|body| serde_json::from_str(body).ok())
        .collect();
    let _ = writeln!(
        out,
        "\n== XA's enforcement received {} alerts (event `alert`, subscribed through SNS):",
        alerts.len()
    );
    let mut lines: Vec<String> = alerts
        .iter()
        .map(|event| {
            let data = &event["data"];
            format!(
                "  {:<10} {:<20} by {} declaration {:<9} {}",
                data["permit_number"].as_str().unwrap_or(""),
                data["detail"]["kind"].as_str().unwrap_or(""),
                data["detail"]["reported_by"].as_str().unwrap_or(""),
                data["detail"]["declaration_number"].as_str().unwrap_or(""),
                data["detail"]["alerts"].as_str().unwrap_or(""),
            )
        })
        .collect();
    lines.sort();
    for line in lines {
        let _ = writeln!(out, "{line}");
    }

    let _ = writeln!(
        out,
        "\n== The CITES annual reports of 2026 from both ledgers (`ecites report annual --year 2026 --as exporter|importer`; the report function keeps the same drafts in reports/annual/2026/):"
    );
    for ma in [&xa, &xb] {
        for role in [ReportRole::Exporter, ReportRole::Importer] {
            let _ = writeln!(out, "\n-- {} as {role}:", ma.local.config.country);
            out.push_str(&annual_report(ma, role).await?);
        }
    }
    Ok(out)
}

/// `ma`'s annual report of 2026 as `role` on the actual basis: the CSV, then the findings of
/// UNEP-WCMC's checks and the summary, indented.
async fn annual_report(ma: &Ma, role: ReportRole) -> anyhow::Result<String> {
    let key = ReportIndexKey {
        reporter: ma.local.config.country,
        role,
        year: 2026,
    };
    let mut csv = Vec::new();
    let mut findings = Vec::new();
    let summary = write_report(
        ma.local.function.ledger(),
        &key,
        ReportBasis::Actual,
        None,
        RowFormat::Csv,
        &mut csv,
        &mut |finding| findings.push(finding.to_string()),
    )
    .await?;
    let mut text = String::from_utf8(csv)?;
    for line in findings
        .iter()
        .map(String::as_str)
        .chain(summary.to_string().lines())
    {
        text.push_str("   ");
        text.push_str(line);
        text.push('\n');
    }
    Ok(text)
}
