//! `ecites-local demo-epix`: EPIX Connect's country-adapter interface both ways, on the
//! emulator. XA serves its permit over SOAP behind a custom domain with mutual TLS: XB's MA (its
//! certificate says `C=XB`) fetches it and confirms the quantities its customs inspected, a
//! third country is told the permit does not exist. Then XB pulls a permit from an MA that only
//! offers EPIX (a loopback service answering EPIX's own recorded answer) and records it as
//! received. Prints what each side sees.

use crate::emulation::epix_partner::{EpixMode, EpixPartner, EPIX_PERMIT_NUMBER};
use crate::emulation::front_door::FrontDoorServer;
use crate::emulation::tls_front::ClientAuthority;
use crate::fixtures;
use crate::stack::exchange::{start_pair, PairOptions};
use chrono::Utc;
use ecites_exchange::directory::{Partner, Protocol};
use ecites_exchange::epix::client::{fetch_from_partner, FetchServices, PullServices};
use ecites_exchange::epix::soap::{read_answer, request_body, CitesPosition, SoapAnswer};
use ecites_exchange::epix::Operation;
use ecites_exchange::http::HttpTransport;
use std::fmt::Write as _;
use std::time::Duration;

const QUIET: Duration = Duration::from_secs(120);

/// One SOAP call and a line saying what came back.
async fn call(
    client: &dyn HttpTransport,
    url: &str,
    operation: Operation,
    number: &str,
    positions: &[CitesPosition],
) -> anyhow::Result<String> {
    let reply = client
        .post(
            &format!("{url}epix"),
            &ecites_exchange::epix::soap::request_headers(operation),
            request_body(operation, number, "XA", positions).into_bytes(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(match read_answer(&reply.body) {
        Ok(SoapAnswer::Fault(fault)) => format!("HTTP {} fault {:?}", reply.status, fault.string),
        Ok(SoapAnswer::Answer { element, .. }) => {
            let detail = match ecites_domain::xml::read_permit(&reply.body) {
                Ok(decoded) if element.ends_with("CertificateResponse") => format!(
                    ": permit {} with {} block(s)",
                    decoded.permit.permit_number,
                    decoded.permit.blocks.len()
                ),
                _ => ecites_exchange::epix::soap::response_field(&reply.body, "TrackingNumber")
                    .map(|t| format!(": tracking number {t}"))
                    .unwrap_or_default(),
            };
            format!("HTTP {} {element}{detail}", reply.status)
        }
        Err(why) => format!("HTTP {} unreadable: {why}", reply.status),
    })
}

/// Runs the demo and returns its report.
pub async fn run(endpoint: Option<String>) -> anyhow::Result<String> {
    let options = PairOptions {
        endpoint,
        prefix: format!("epix{}-", Utc::now().timestamp()),
        ..PairOptions::default()
    };
    let (xa, xb) = start_pair(options).await?;
    let mut out = String::new();
    // XC is XA's partner too, but has nothing to do with the permit below.
    let mut xc = Partner::new(crate::country("XC"), "https://xc.invalid/");
    xc.public_key = xb.as_partner().public_key;
    xa.set_directory(vec![xb.as_partner(), xc]).await?;
    xa.drop_permit(
        "26XA0950",
        &fixtures::export_permit_valid_today("26XA0950", "XA", "XB", 10),
    )
    .await?;
    xa.forward_until_quiet(QUIET).await?;

    let dir = std::env::temp_dir().join(format!("ecites-demo-epix-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let truststore = ClientAuthority::new()?;
    let front = FrontDoorServer::start_mutual_tls(xa.receive.clone(), &truststore, &dir).await?;
    // The callers trust the custom domain's certificate as they would a public one.
    std::env::set_var(
        "SSL_CERT_FILE",
        front
            .ca_pem()
            .ok_or_else(|| anyhow::anyhow!("no server authority"))?,
    );
    let url = front.url();
    let client_of = |country: &str| -> anyhow::Result<ecites_aws::http::HyperTransport> {
        let (certificate, key) = truststore.issue_in(&format!("MA of {country}"), Some(country))?;
        ecites_aws::http::HyperTransport::for_partners_with_client_certificate(
            Duration::from_secs(5),
            &certificate,
            &key,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))
    };
    let xb_client = client_of("XB")?;
    let xc_client = client_of("XC")?;
    let _ = writeln!(
        out,
        "XA serves EPIX Connect's interface at {url}epix (mutual TLS: the caller is its certificate's country).\n\
         XA issued permit 26XA0950 to XB.\n"
    );
    let _ = writeln!(
        out,
        "  {:<6} {:<28} {:<10} answer",
        "caller", "operation", "permit"
    );
    let rows: [(
        &str,
        &ecites_aws::http::HyperTransport,
        Operation,
        &str,
        Vec<CitesPosition>,
    ); 5] = [
        ("XB", &xb_client, Operation::ServiceState, "", vec![]),
        (
            "XB",
            &xb_client,
            Operation::GetNonFinalCitesCertificate,
            "26XA0950",
            vec![],
        ),
        (
            "XC",
            &xc_client,
            Operation::GetNonFinalCitesCertificate,
            "26XA0950",
            vec![],
        ),
        (
            "XB",
            &xb_client,
            Operation::GetFinalCitesCertificate,
            "26XA0950",
            vec![],
        ),
        (
            "XB",
            &xb_client,
            Operation::ConfirmQuantities,
            "26XA0950",
            vec![CitesPosition {
                id: "A".into(),
                inspected_unit_quantity: 10,
            }],
        ),
    ];
    for (caller, client, operation, number, positions) in rows {
        let answer = call(client, &url, operation, number, &positions).await?;
        let _ = writeln!(
            out,
            "  {caller:<6} {:<28} {:<10} {answer}",
            operation.name(),
            if number.is_empty() { "-" } else { number }
        );
    }
    let uses = ecites_exchange::usage::UseLedger::permit_uses(
        xa.local.function.ledger(),
        &ecites_domain::PermitId {
            issuer: crate::country("XA"),
            number: "26XA0950".into(),
        },
    )
    .await?;
    for stored in &uses.uses {
        let reported = &stored.on_record.reported;
        let _ = writeln!(
            out,
            "\nXA's ledger: an {} of 26XA0950 reported by {} (declaration {}), block A {} specimens{}.",
            reported.kind.as_str().replace('_', " "),
            reported.reported_by,
            reported.declaration_number,
            reported
                .blocks
                .first()
                .map(|b| b.quantity.value.to_string())
                .unwrap_or_default(),
            if stored.findings.is_empty() {
                ", nothing to note".to_owned()
            } else {
                format!(
                    "; noted: {}",
                    stored
                        .findings
                        .iter()
                        .map(|f| format!("{} ({})", f.message, f.rule))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            }
        );
    }
    let _ = writeln!(
        out,
        "XC, which has nothing to do with the permit, got the fault an unknown number gets; \
         the final certificate waits for XA's customs to endorse the export (box 14).\n"
    );

    // XB pulls from an MA that offers only EPIX (XA's legacy adapter in this demo).
    let legacy = EpixPartner::start(EpixMode::Recorded).await?;
    let mut entry = Partner::new(crate::country("XA"), legacy.url());
    entry.protocol = Protocol::EpixSoap;
    xb.set_directory(vec![entry]).await?;
    tokio::time::sleep(PairOptions::default().directory_ttl * 2).await;
    let blobs = ecites_aws::S3BlobStore::new(xb.local.clients.s3.clone(), &xb.local.stack.bucket);
    let partners = ecites_aws::S3PartnerDirectory::new(
        xb.local.clients.s3.clone(),
        &xb.local.stack.bucket,
        &xb.local.stack.partners_key,
        Duration::from_secs(0),
    );
    let plain =
        ecites_aws::http::HyperTransport::for_partners(ecites_exchange::epix::DEFAULT_TIMEOUT)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let pulled = fetch_from_partner(
        FetchServices {
            pull: PullServices {
                blobs: &blobs,
                inbound: xb.local.function.ledger(),
                uses: xb.local.function.ledger(),
                clock: &ecites_exchange::SystemClock,
            },
            partners: &partners,
            ledger: xb.local.function.ledger(),
            transport: &plain,
            certificates: None,
        },
        crate::country("XB"),
        crate::country("XA"),
        EPIX_PERMIT_NUMBER,
        false,
    )
    .await?;
    let _ = writeln!(
        out,
        "XB pulled permit {} from an EPIX-only service at {} (it answers EPIX's own recorded answer, byte for byte):\n  \
         recorded as received, version {}, our tracking number {}; the answer is kept as it came, the permit as canonical v2 XML ({}).",
        EPIX_PERMIT_NUMBER,
        legacy.url(),
        pulled.version,
        pulled.tracking_number,
        pulled.xml_key
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}
