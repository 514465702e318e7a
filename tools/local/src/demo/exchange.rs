//! `ecites-local demo-exchange`: two MAs (XA and XB) on one emulator exchange a permit, its
//! replacement and its cancellation; then XB has an outage, XA retries into the DLQ, XB
//! recovers and an operator replays; then a forged message is refused; last, XB switches to
//! pull and fetches a permit from XA's receive endpoint. Prints what each ledger says.

use crate::emulation::front_door::Mode;
use crate::fixtures;
use crate::stack::exchange::{delivery_message, start_pair, Ma, PairOptions};
use chrono::Utc;
use ecites_exchange::forward::build_message;
use ecites_exchange::http::HttpTransport as _;
use ecites_exchange::ledger::DeliveryKind;
use ecites_exchange::protocol::SigningIdentity;
use ecites_exchange::DeliveryMessage;
use std::fmt::Write as _;
use std::time::Duration;

const QUIET: Duration = Duration::from_secs(120);

fn delivery(number: &str, version: u32, kind: DeliveryKind) -> DeliveryMessage {
    delivery_message("XA", number, version, kind, "XB")
}

async fn row(
    out: &mut String,
    xa: &Ma,
    xb: &Ma,
    number: &str,
    version: u32,
    kind: DeliveryKind,
) -> anyhow::Result<()> {
    let sent = xa
        .store
        .delivery_fields(&delivery(number, version, kind))
        .await?
        .unwrap_or_default();
    let status = match kind {
        DeliveryKind::Permit => "issued",
        DeliveryKind::Replacement => "replaced",
        DeliveryKind::Cancellation => "cancelled",
        DeliveryKind::Endorsement => "endorsed",
        DeliveryKind::Use => "used",
    };
    let got = xb
        .store
        .received_fields(crate::country("XA"), number, version, status)
        .await?
        .unwrap_or_default();
    let field = |map: &std::collections::HashMap<String, String>, name: &str| {
        map.get(name).cloned().unwrap_or_else(|| "-".to_owned())
    };
    let _ = writeln!(
        out,
        "  {:<10} v{:<2} {:<13} {:<10} {:<8} {:<26} {:<9} {}",
        number,
        version,
        kind.as_str(),
        field(&sent, "state"),
        field(&sent, "attempts"),
        field(&sent, "tracking_number"),
        field(&got, "state"),
        field(&got, "tracking_number"),
    );
    Ok(())
}

/// Runs the demo and returns its report.
pub async fn run(endpoint: Option<String>) -> anyhow::Result<String> {
    let options = PairOptions {
        endpoint,
        prefix: format!("demo{}-", Utc::now().timestamp()),
        ..PairOptions::default()
    };
    let (xa, xb) = start_pair(options).await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "two MAs on {}: XA receives at {}, XB at {}",
        xa.local.endpoint,
        xa.server.url(),
        xb.server.url()
    );

    let _ = writeln!(
        out,
        "\n== XA issues 26XA0001 to XB, re-issues it, cancels it"
    );
    let sent_before = xb.server.requests();
    xa.drop_permit(
        "26XA0001",
        &fixtures::export_permit("26XA0001", "XA", "XB", 10),
    )
    .await?;
    xa.forward_until_quiet(QUIET).await?;
    xa.drop_permit(
        "26XA0001-reissue",
        &fixtures::export_permit("26XA0001", "XA", "XB", 12),
    )
    .await?;
    xa.forward_until_quiet(QUIET).await?;
    xa.local
        .send_direct(r#"{"type":"cancel","version":1,"issuer":"XA","permit_number":"26XA0001","reason":"specimens died before export"}"#)
        .await?;
    xa.local.drain(QUIET).await?;
    xa.forward_until_quiet(QUIET).await?;
    let _ = writeln!(
        out,
        "  XA sent XB {} signed documents: the permit, its re-issue and the cancellation (both ledgers below)",
        xb.server.requests() - sent_before
    );

    let _ = writeln!(
        out,
        "\n== XB answers 500 while XA sends 26XA0002; XA retries into the DLQ"
    );
    xb.server.set_mode(Mode::Status(500));
    let before = xb.server.requests();
    xa.drop_permit(
        "26XA0002",
        &fixtures::export_permit("26XA0002", "XA", "XB", 3),
    )
    .await?;
    xa.forward_until_quiet(QUIET).await?;
    let _ = writeln!(
        out,
        "  XB answered 500 to {} attempts; XA's deliveries DLQ holds {}",
        xb.server.requests() - before,
        xa.local
            .visible_messages(&xa.local.stack.deliveries_dlq_url)
            .await?
    );
    let _ = writeln!(out, "\n== XB recovers; the operator runs `ecites replay`");
    xb.server.set_mode(Mode::Healthy);
    let report = ecites_aws::replay::replay_dlq(
        &xa.local.clients.sqs,
        &xa.store,
        &xa.local.stack.deliveries_dlq_url,
        &xa.local.stack.deliveries_queue_url,
        100,
    )
    .await?;
    let _ = writeln!(out, "  {report}");
    xa.forward_until_quiet(QUIET).await?;

    let _ = writeln!(out, "\n== a forger sends XB a permit in XA's name");
    let forger = SigningIdentity::generate("XA-1").map_err(|e| anyhow::anyhow!(e))?;
    let xml = ecites_domain::xml::write_permit(&fixtures::export_permit("26XA0666", "XA", "XB", 1));
    let (body, headers) = build_message(
        &delivery("26XA0666", 1, DeliveryKind::Permit),
        "E",
        xml.as_bytes(),
        "forged-1",
        &forger,
        Utc::now(),
    );
    let transport = ecites_forward::HyperTransport::for_partners(Duration::from_secs(5))
        .map_err(|e| anyhow::anyhow!(e))?;
    let reply = transport.post(&xb.server.url(), &headers, body).await;
    match reply {
        Ok(reply) => {
            let _ = writeln!(
                out,
                "  XB answered {} {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
        }
        Err(error) => {
            let _ = writeln!(out, "  no answer: {error}");
        }
    }

    let _ = writeln!(out, "\n== the two ledgers");
    let _ = writeln!(
        out,
        "  {:<10} {:<3} {:<13} {:<10} {:<8} {:<26} {:<9} XB tracking",
        "permit", "ver", "kind", "XA state", "attempts", "XA: XB's tracking number", "XB state"
    );
    row(&mut out, &xa, &xb, "26XA0001", 1, DeliveryKind::Permit).await?;
    row(&mut out, &xa, &xb, "26XA0001", 2, DeliveryKind::Replacement).await?;
    row(
        &mut out,
        &xa,
        &xb,
        "26XA0001",
        2,
        DeliveryKind::Cancellation,
    )
    .await?;
    row(&mut out, &xa, &xb, "26XA0002", 1, DeliveryKind::Permit).await?;
    let stored = xb.local.list("received/").await?;
    let _ = writeln!(
        out,
        "\nXB stored {} original messages under received/:",
        stored.len()
    );
    for key in stored {
        let _ = writeln!(out, "  {key}");
    }
    let (id, status) =
        ecites_aws::status::permit_status_in(xa.local.function.ledger(), "XA", "26XA0002").await?;
    let _ = writeln!(out, "\n== `ecites status XA 26XA0002` at XA\n");
    out.push_str(&ecites_aws::status::render(&id, &status));
    pull(&mut out, &xa, &xb).await?;
    Ok(out)
}

/// XB becomes a pull partner of XA: XA's forward sends it nothing, XB polls XA's headers,
/// queries the permit and acknowledges it with its own tracking number.
async fn pull(out: &mut String, xa: &Ma, xb: &Ma) -> anyhow::Result<()> {
    use ecites_exchange::query::PullClient;
    let _ = writeln!(
        out,
        "\n== XB asks XA to pull instead of push (`ecites partners add XB ... --delivery pull`)"
    );
    let mut pulling = xb.as_partner();
    pulling.delivery = ecites_exchange::directory::DeliveryMode::Pull;
    xa.set_directory(vec![pulling]).await?;
    // Past the functions' directory cache (200 ms locally).
    tokio::time::sleep(Duration::from_millis(250)).await;
    let since = Utc::now() - chrono::Duration::seconds(1);
    let before = xb.server.requests();
    xa.drop_permit(
        "26XA0003",
        &fixtures::export_permit_valid_today("26XA0003", "XA", "XB", 5),
    )
    .await?;
    xa.forward_until_quiet(QUIET).await?;
    let waiting = xa
        .store
        .delivery_fields(&delivery("26XA0003", 1, DeliveryKind::Permit))
        .await?
        .unwrap_or_default();
    let field = |map: &std::collections::HashMap<String, String>, name: &str| {
        map.get(name).cloned().unwrap_or_else(|| "-".to_owned())
    };
    let _ = writeln!(
        out,
        "  XA issued 26XA0003 to XB; its forward sent XB {} requests. The delivery is {}, \
         {} attempts: {}",
        xb.server.requests() - before,
        field(&waiting, "state"),
        field(&waiting, "attempts"),
        field(&waiting, "last_error")
    );
    let transport = ecites_forward::HyperTransport::for_partners(Duration::from_secs(5))
        .map_err(|e| anyhow::anyhow!(e))?;
    let endpoint = xa.server.url();
    let client = PullClient {
        transport: &transport,
        endpoint: &endpoint,
        own: crate::country("XB"),
        issuer: crate::country("XA"),
        signer: &xb.key,
        clock: &ecites_exchange::SystemClock,
    };
    let pulled = client
        .pull(since, &|header| format!("XB-PULL-{}", header.permit_number))
        .await?;
    let _ = writeln!(
        out,
        "  XB polled XA's /headers, fetched each waiting document with /query and acknowledged it:"
    );
    let _ = writeln!(
        out,
        "  {:<10} {:<4} {:<8} {:<9} {:<9} {:<18} XA's answer",
        "permit", "ver", "document", "XML", "status", "XB's tracking"
    );
    for p in &pulled {
        let _ = writeln!(
            out,
            "  {:<10} v{:<3} {:<8} {:<9} {:<9} {:<18} {}{}",
            p.header.permit_number,
            p.header.version,
            p.header.document_status,
            format!("{} B", p.xml.len()),
            format!("{:?}", p.permit.status).to_lowercase(),
            p.tracking_number,
            p.acknowledged.state,
            if p.acknowledged.duplicate {
                " (again)"
            } else {
                ""
            }
        );
    }
    let done = xa
        .store
        .delivery_fields(&delivery("26XA0003", 1, DeliveryKind::Permit))
        .await?
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  XA's ledger now has the delivery {} with XB's tracking number {}; XB's endpoint got {} requests.",
        field(&done, "state"),
        field(&done, "tracking_number"),
        xb.server.requests() - before
    );
    Ok(())
}
