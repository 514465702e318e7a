//! CITES annual reports from exchanged data, end to end on moto: XA issues export permits and a
//! re-export certificate to XB, XB issues an import permit, customs at both ends endorse and
//! confirm through the real ingest, forward and receive functions, and the reports of both
//! Parties, both bases and two years are read back from the ledgers' report index (and the
//! scheduled drafts from the bucket).

use ecites_domain::codes::{Coded, DocumentType};
use ecites_domain::model::{CountryReference, Permit, Timestamp};
use ecites_domain::report::{ReportBasis, ReportIndexKey, ReportRole, ReportSummary};
use ecites_e2e::*;
use ecites_exchange::report::{write_report, RowFormat};
use ecites_local::stack::exchange::Ma;
use std::time::Duration;

const QUIET: Duration = Duration::from_secs(30);

fn export(number: &str, quantity: i64) -> Permit {
    fixtures::export_permit(number, "XA", "XB", quantity)
}

/// A re-export certificate of specimens that came from GH under GH's export permit.
fn re_export(number: &str, quantity: i64) -> Permit {
    let mut permit = fixtures::permit(DocumentType::R, number, "XA", "XA", "XB", quantity);
    permit.blocks[0].origin = Some(CountryReference {
        country: Some(Coded::parse("GH")),
        permit_number: Some("GH-2025-77".into()),
        permit_date: Timestamp::parse("2025-09-01").ok(),
        ..CountryReference::default()
    });
    permit
}

/// Issued late in 2026, valid into 2027 (used in the next year).
fn late_export(number: &str, quantity: i64) -> Permit {
    let mut permit = export(number, quantity);
    permit.issue_date = Timestamp::parse("2026-11-20").ok();
    permit.valid_from = Timestamp::parse("2026-11-20").ok();
    permit.valid_until = Timestamp::parse("2027-05-15").ok();
    permit
}

async fn send_use(ma: &Ma, body: &str) {
    ma.local.send_direct(body).await.expect("use sent");
    ma.local.drain(DRAIN).await.expect("ingest drained");
}

/// The report as CSV text, its summary and the findings of the checks.
async fn report(
    ma: &Ma,
    role: ReportRole,
    year: i32,
    basis: ReportBasis,
) -> (String, ReportSummary, Vec<String>) {
    let key = ReportIndexKey {
        reporter: ma.local.config.country,
        role,
        year,
    };
    let mut out = Vec::new();
    let mut findings = Vec::new();
    let summary = write_report(
        ma.local.function.ledger(),
        &key,
        basis,
        None,
        RowFormat::Csv,
        &mut out,
        &mut |finding| findings.push(finding.to_string()),
    )
    .await
    .expect("report written");
    (String::from_utf8(out).unwrap(), summary, findings)
}

fn lines(rows: &[&str]) -> String {
    rows.iter().map(|row| format!("{row}\n")).collect()
}

const EXPORTER_HEADER: &str = "Appendix,SpeciesName,TermCode,Quantity,UnitCode,TradingPartner,CountryOfOrigin,ExportPermit,OriginPermit,IFSPermit,PurposeCode,SourceCode,Year";
const IMPORTER_HEADER: &str = "Appendix,SpeciesName,TermCode,Quantity,UnitCode,TradingPartner,CountryOfOrigin,ImportPermit,ExportPermit,OriginPermit,IFSPermit,PurposeCode,SourceCode,Year";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_of_permits_and_uses_gives_the_exact_rows_of_both_parties_on_both_bases() {
    let (xa, xb) = start_pair().await;

    // XA issues: an export permit used in part, a re-export certificate, a permit issued late in
    // 2026 and used in 2027, and a permit cancelled before it ever travelled.
    xa.drop_permit("26XA0201", &export("26XA0201", 10))
        .await
        .unwrap();
    xa.drop_permit("26XA0202", &re_export("26XA0202", 7))
        .await
        .unwrap();
    xa.drop_permit("26XA0203", &late_export("26XA0203", 4))
        .await
        .unwrap();
    xa.drop_permit("26XA0204", &export("26XA0204", 9))
        .await
        .unwrap();
    xa.local.drain(DRAIN).await.unwrap();
    xa.local
        .send_direct(r#"{"type":"cancel","version":1,"issuer":"XA","permit_number":"26XA0204","reason":"the specimens died before shipment"}"#)
        .await
        .unwrap();
    xa.local.drain(DRAIN).await.unwrap();
    // XB issues an import permit for specimens from XA.
    let import = fixtures::permit(DocumentType::I, "26XB0001", "XB", "XA", "XB", 6);
    xb.drop_permit("26XB0001", &import).await.unwrap();
    xb.local.drain(DRAIN).await.unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    xb.forward_until_quiet(QUIET).await.unwrap();

    // XA's customs endorse 8 of the 10, and the re-export's 5 of 7; the late permit in 2027.
    for (number, declaration, date, quantity) in [
        ("26XA0201", "XA-D-1", "2026-02-10", 8),
        ("26XA0202", "XA-D-2", "2026-03-01", 5),
        ("26XA0203", "XA-D-3", "2027-01-10", 3),
    ] {
        let body = fixtures::use_message(
            "export_endorsement",
            "XA",
            number,
            "XA",
            declaration,
            date,
            quantity,
        );
        send_use(&xa, &body).await;
    }
    xa.forward_until_quiet(QUIET).await.unwrap();
    // XB's customs confirm the 8 that arrived, and the 6 under XB's own import permit.
    for (issuer, number, declaration, date, quantity) in [
        ("XA", "26XA0201", "XB-D-1", "2026-02-12", 8),
        ("XB", "26XB0001", "XB-D-2", "2026-04-02", 6),
    ] {
        let body = fixtures::use_message(
            "import_confirmation",
            issuer,
            number,
            "XB",
            declaration,
            date,
            quantity,
        );
        send_use(&xb, &body).await;
    }

    // XA as exporter, actual basis: what customs endorsed, in the year of the endorsement.
    let (csv, summary, findings) =
        report(&xa, ReportRole::Exporter, 2026, ReportBasis::Actual).await;
    assert_eq!(
        csv,
        lines(&[
            EXPORTER_HEADER,
            "2,Testudo hermanni,LIV,8,NAR,XB,,26XA0201,,,T,C,2026",
            "2,Testudo hermanni,LIV,5,NAR,XB,GH,26XA0202,GH-2025-77,,T,C,2026",
        ])
    );
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(summary.rows, 2);
    assert_eq!(summary.not_used, ["XA/26XA0203 block A"], "{summary:?}");
    assert_eq!(summary.cancelled, ["XA/26XA0204"]);
    assert!(summary.to_string().contains("Basis: actual"), "{summary}");

    // The permit issued in 2026 and used in 2027 is in 2027's report.
    let (csv, _, _) = report(&xa, ReportRole::Exporter, 2027, ReportBasis::Actual).await;
    assert_eq!(
        csv,
        lines(&[
            EXPORTER_HEADER,
            "2,Testudo hermanni,LIV,3,NAR,XB,,26XA0203,,,T,C,2027"
        ])
    );

    // XA as exporter, permitted basis: what was authorised, in the year of issue; the
    // cancelled permit is not reported.
    let (csv, summary, _) = report(&xa, ReportRole::Exporter, 2026, ReportBasis::Permitted).await;
    assert_eq!(
        csv,
        lines(&[
            EXPORTER_HEADER,
            "2,Testudo hermanni,LIV,10,NAR,XB,,26XA0201,,,T,C,2026",
            "2,Testudo hermanni,LIV,7,NAR,XB,GH,26XA0202,GH-2025-77,,T,C,2026",
            "2,Testudo hermanni,LIV,4,NAR,XB,,26XA0203,,,T,C,2026",
        ])
    );
    assert_eq!(summary.cancelled, ["XA/26XA0204"]);
    assert!(
        summary.to_string().contains("Basis: permitted"),
        "{summary}"
    );

    // XB as importer, actual basis: the confirmations of XA's permit and of XB's import permit.
    let (csv, summary, findings) =
        report(&xb, ReportRole::Importer, 2026, ReportBasis::Actual).await;
    assert_eq!(
        csv,
        lines(&[
            IMPORTER_HEADER,
            "2,Testudo hermanni,LIV,8,NAR,XA,,,26XA0201,,,T,C,2026",
            "2,Testudo hermanni,LIV,6,NAR,XA,,26XB0001,,,,T,C,2026",
        ])
    );
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(summary.permits, 2);

    // XB as importer, permitted basis: the permits received from XA (the cancelled one left
    // out) and XB's own import permit.
    let (csv, summary, _) = report(&xb, ReportRole::Importer, 2026, ReportBasis::Permitted).await;
    assert_eq!(
        csv,
        lines(&[
            IMPORTER_HEADER,
            "2,Testudo hermanni,LIV,10,NAR,XA,,,26XA0201,,,T,C,2026",
            "2,Testudo hermanni,LIV,7,NAR,XA,GH,,26XA0202,GH-2025-77,,T,C,2026",
            "2,Testudo hermanni,LIV,4,NAR,XA,,,26XA0203,,,T,C,2026",
            "2,Testudo hermanni,LIV,6,NAR,XA,,26XB0001,,,,T,C,2026",
        ])
    );
    assert_eq!(summary.cancelled, ["XA/26XA0204"]);

    // The scheduled function's drafts: both roles of the year in the bucket, with summaries.
    let published = ecites_aws::report::publish_drafts(
        xa.local.function.ledger(),
        &xa.local.clients.s3,
        &xa.local.stack.bucket,
        xa.local.config.country,
        2026,
        None,
    )
    .await
    .expect("drafts published");
    assert_eq!(
        published.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
        [
            "reports/annual/2026/exporter.csv",
            "reports/annual/2026/importer.csv"
        ]
    );
    let draft = xa
        .local
        .get_object("reports/annual/2026/exporter.csv")
        .await
        .unwrap()
        .expect("the exporter draft");
    let (expected, _, _) = report(&xa, ReportRole::Exporter, 2026, ReportBasis::Actual).await;
    assert_eq!(String::from_utf8(draft).unwrap(), expected);
    let summary = xa
        .local
        .get_object("reports/annual/2026/exporter.summary.txt")
        .await
        .unwrap()
        .expect("the exporter draft's summary");
    let summary = String::from_utf8(summary).unwrap();
    assert!(summary.contains("Basis: actual"), "{summary}");
    assert!(summary.contains("XA/26XA0203 block A"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_fails_a_primary_check_is_written_and_named_with_its_permit_and_block() {
    let (xa, _xb) = start_pair().await;
    xa.drop_permit("26XA0301", &export("26XA0301", 10))
        .await
        .unwrap();
    xa.local.drain(DRAIN).await.unwrap();
    // Customs report the endorsement in UN/ECE Rec 20's kilograms (KGM), not a CITES unit.
    let body = fixtures::use_message(
        "export_endorsement",
        "XA",
        "26XA0301",
        "XA",
        "XA-D-9",
        "2026-02-10",
        2,
    )
    .replace(r#""value":"2""#, r#""value":"2","unit":"KGM""#);
    send_use(&xa, &body).await;
    let (csv, summary, findings) =
        report(&xa, ReportRole::Exporter, 2026, ReportBasis::Actual).await;
    assert!(
        csv.contains("2,Testudo hermanni,LIV,2,KGM,XB,,26XA0301,,,T,C,2026"),
        "{csv}"
    );
    assert_eq!(summary.errors, 1, "{findings:?}");
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("error: permit XA/26XA0301 block A: UnitCode:")),
        "{findings:?}"
    );
}
