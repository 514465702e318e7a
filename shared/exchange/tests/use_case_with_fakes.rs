//! The ingest use case's own logic (what is accepted, refused, reported and sent) with in-memory
//! fakes of the traits. Storage semantics (conditional writes, idempotency) are pinned by the
//! end-to-end tests against the emulator, not here.

use ecites_exchange::testing::{
    FixedClock, MemoryBlobs, MemoryDirectory, MemoryQueue, NoUses, RecordingLedger,
};
use ecites_exchange::{ingest_message, IngestServices, IngestSettings, Partner};

/// The ingest use case's ports, in memory: XB is the one partner.
struct Fakes {
    blobs: MemoryBlobs,
    ledger: RecordingLedger,
    queue: MemoryQueue,
    partners: MemoryDirectory,
    clock: FixedClock,
}

impl Default for Fakes {
    fn default() -> Self {
        Fakes {
            blobs: MemoryBlobs::new("bucket"),
            ledger: RecordingLedger::default(),
            queue: MemoryQueue::default(),
            partners: MemoryDirectory::of([Partner::new(
                "XB".parse().unwrap(),
                "https://xb.example",
            )]),
            clock: FixedClock::at("2026-01-05T10:00:00Z"),
        }
    }
}

fn settings() -> IngestSettings {
    IngestSettings {
        own_country: "XA".parse().unwrap(),
        max_object_bytes: 100_000,
    }
}

async fn ingest(fakes: &Fakes, body: &str) -> ecites_exchange::IngestReport {
    let services = IngestServices {
        blobs: &fakes.blobs,
        ledger: &fakes.ledger,
        queue: &fakes.queue,
        partners: &fakes.partners,
        species: &ecites_exchange::NoChecklist,
        uses: &NoUses,
        clock: &fakes.clock,
    };
    ingest_message(services, &settings(), "m1", body, None)
        .await
        .unwrap()
}

const CSV: &str = "document_type,permit_number,issuer_country,issuing_authority,issue_date,valid_until,importer_name,importer_country,exporter_name,exporter_country,purpose,scientific_name,term,appendix,source,quantity
E,26XA1,XA,MA of XA,2026-01-05,2026-06-30,Importer,XB,Exporter,XA,T,Testudo hermanni,LIV,II,C,3
E,26XC1,XC,MA of XC,2026-01-05,2026-06-30,Importer,XB,Exporter,XC,T,Testudo hermanni,LIV,II,C,3
";

#[tokio::test]
async fn a_csv_with_an_own_and_a_foreign_permit_ingests_one_and_reports_the_other() {
    let fakes = Fakes::default();
    let body =
        serde_json::json!({"type": "permit", "version": 1, "file_name": "b.csv", "content": CSV})
            .to_string();
    let report = ingest(&fakes, &body).await;
    assert_eq!(report.ingested.len(), 1, "{report:?}");
    assert_eq!(report.ingested[0].permit, "XA/26XA1");
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].permit.as_deref(), Some("XC/26XC1"));
    assert_eq!(report.rejected[0].report_key, "rejected/sqs/m1.report.json");
    // Foreign permits are not recorded in our ledger.
    assert!(fakes.ledger.rejections().is_empty());
    let sent = fakes.queue.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipient, "XB");
    let objects = fakes.blobs.objects();
    assert!(objects
        .keys()
        .any(|k| k.starts_with("outbox/XA/26XA1/") && k.ends_with(".xml")));
}

#[tokio::test]
async fn unknown_direct_message_type_is_reported_not_retried() {
    let fakes = Fakes::default();
    let report = ingest(&fakes, r#"{"type":"teleport","version":1}"#).await;
    assert_eq!(report.rejected.len(), 1);
    let objects = fakes.blobs.objects();
    let (key, bytes) = objects.iter().next().expect("the report");
    assert_eq!(key, "rejected/sqs/m1.report.json");
    assert!(String::from_utf8_lossy(bytes).contains("teleport"));
}

#[tokio::test]
async fn a_cancellation_of_a_permit_not_yet_recorded_waits_for_it_instead_of_being_refused() {
    let fakes = Fakes::default();
    let report = ingest(
        &fakes,
        r#"{"type":"cancel","version":1,"issuer":"XA","permit_number":"1","reason":"x"}"#,
    )
    .await;
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(report.waiting_cancellations, 1);
    let waiting = fakes.ledger.waiting().expect("recorded to wait");
    assert_eq!(waiting.id.to_string(), "XA/1");
    assert_eq!(waiting.reason, "x");
}

#[tokio::test]
async fn a_toolkit_v1_permit_is_ingested_and_its_outbox_xml_is_the_canonical_v2() {
    let fakes = Fakes::default();
    let own = CSV.lines().take(2).collect::<Vec<_>>().join("\n");
    let permit = ecites_domain::csv_form::read_permits(own.as_bytes())
        .unwrap()
        .remove(0)
        .permit;
    let v1 = ecites_domain::xml::write_permit_v1(&permit);
    let body =
        serde_json::json!({"type": "permit", "version": 1, "file_name": "p.xml", "content": v1})
            .to_string();
    let report = ingest(&fakes, &body).await;
    assert_eq!(report.ingested.len(), 1, "{report:?}");
    assert_eq!(report.ingested[0].permit, "XA/26XA1");
    let objects = fakes.blobs.objects();
    let (_, outbox) = objects
        .iter()
        .find(|(k, _)| k.starts_with("outbox/XA/26XA1/") && k.ends_with(".xml"))
        .expect("the outbox XML");
    assert!(String::from_utf8_lossy(outbox).contains("<rsm:CITESEPermit "));
    assert_eq!(
        ecites_domain::xml::read_permit(outbox).unwrap().permit,
        ecites_domain::xml::read_permit(v1.as_bytes())
            .unwrap()
            .permit
    );
}
