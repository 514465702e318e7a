//! The ingest use case's own logic (what is accepted, refused, reported and sent) with in-memory
//! fakes of the traits. Storage semantics (conditional writes, idempotency) are pinned by the
//! end-to-end tests against the emulator, not here.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ecites_domain::{CountryCode, PermitId};
use ecites_exchange::ledger::{
    NewCancellation, NewRejection, NewVersion, PendingDelivery, Recorded,
};
use ecites_exchange::{
    ingest_message, BlobStore, Clock, DeliveryMessage, DeliveryQueue, Error, Fetched,
    IngestServices, IngestSettings, Ledger, Partner, PartnerDirectory, PermitStatus,
};
use std::sync::Mutex;

#[derive(Default)]
struct Fakes {
    objects: Mutex<Vec<(String, Vec<u8>)>>,
    versions: Mutex<Vec<NewVersion>>,
    waiting: Mutex<Option<NewCancellation>>,
    rejections: Mutex<Vec<NewRejection>>,
    sent: Mutex<Vec<DeliveryMessage>>,
}

#[async_trait]
impl BlobStore for Fakes {
    async fn get(
        &self,
        _bucket: &str,
        key: &str,
        _version: Option<&str>,
        _max: u64,
    ) -> Result<Fetched, Error> {
        let objects = self.objects.lock().unwrap();
        let found = objects
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, b)| b.clone());
        found
            .map(Fetched::Bytes)
            .ok_or_else(|| Error::NotFound(key.to_owned()))
    }
    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> Result<(), Error> {
        self.objects.lock().unwrap().push((key.to_owned(), bytes));
        Ok(())
    }
    async fn delete(&self, _: &str) -> Result<(), Error> {
        Ok(())
    }
    fn bucket(&self) -> &str {
        "bucket"
    }
}

#[async_trait]
impl Ledger for Fakes {
    async fn record_version(&self, version: &NewVersion) -> Result<Recorded, Error> {
        self.versions.lock().unwrap().push(version.clone());
        let pending = version
            .recipients
            .iter()
            .filter_map(|r| {
                Some(PendingDelivery {
                    delivery_id: format!("{}/{}", version.id, r.country),
                    id: version.id.clone(),
                    version: 1,
                    kind: ecites_exchange::DeliveryKind::Permit,
                    replaces_version: None,
                    recipient: r.country,
                    endpoint: r.endpoint.clone()?,
                    xml_key: version.xml_key.clone(),
                    content_sha256: version.content_sha256.clone(),
                    reason: None,
                })
            })
            .collect();
        Ok(Recorded::New {
            version: 1,
            pending,
            no_partner: Vec::new(),
            cancellation_waiting: false,
            uses_waiting: false,
        })
    }
    async fn record_cancellation(&self, c: &NewCancellation) -> Result<Recorded, Error> {
        Err(Error::NotFound(c.id.to_string()))
    }
    async fn record_waiting_cancellation(&self, c: &NewCancellation) -> Result<bool, Error> {
        let mut waiting = self.waiting.lock().unwrap();
        let new = waiting.is_none();
        waiting.get_or_insert_with(|| c.clone());
        Ok(new)
    }
    async fn waiting_cancellation(&self, _id: &PermitId) -> Result<Option<NewCancellation>, Error> {
        Ok(self.waiting.lock().unwrap().clone())
    }
    async fn waiting_cancellation_applied(
        &self,
        _id: &PermitId,
        _at: DateTime<Utc>,
    ) -> Result<(), Error> {
        unreachable!("no version is ever cancelled by these fakes")
    }
    async fn record_rejection(&self, rejection: &NewRejection) -> Result<bool, Error> {
        self.rejections.lock().unwrap().push(rejection.clone());
        Ok(true)
    }
    async fn status(&self, _id: &PermitId) -> Result<PermitStatus, Error> {
        Ok(PermitStatus::default())
    }
}

#[async_trait]
impl DeliveryQueue for Fakes {
    async fn send(&self, messages: &[DeliveryMessage]) -> Result<(), Error> {
        self.sent.lock().unwrap().extend_from_slice(messages);
        Ok(())
    }
}

#[async_trait]
impl PartnerDirectory for Fakes {
    async fn partner(&self, country: CountryCode) -> Result<Option<Partner>, Error> {
        Ok((country.to_string() == "XB").then(|| Partner::new(country, "https://xb.example")))
    }
}

/// No customs uses in these tests: every permit is new and none has uses waiting for it.
#[async_trait]
impl ecites_exchange::usage::UseLedger for Fakes {
    async fn permit_uses(&self, _: &PermitId) -> Result<ecites_exchange::usage::PermitUses, Error> {
        Ok(ecites_exchange::usage::PermitUses::default())
    }
    async fn record_use(
        &self,
        _: &ecites_exchange::usage::NewUse,
    ) -> Result<ecites_exchange::usage::UseRecorded, Error> {
        Ok(ecites_exchange::usage::UseRecorded::New)
    }
    async fn uses_rechecked(&self, _: &PermitId, _: DateTime<Utc>) -> Result<(), Error> {
        Ok(())
    }
    async fn mark_replaced(&self, _: &PermitId, _: &str, _: DateTime<Utc>) -> Result<(), Error> {
        Ok(())
    }
    async fn recheck_use(
        &self,
        _: &PermitId,
        _: &str,
        _: &[ecites_domain::Finding],
        _: &ecites_domain::usage::PermitFacts,
        _: DateTime<Utc>,
    ) -> Result<bool, Error> {
        Ok(false)
    }
}

impl Clock for Fakes {
    fn now(&self) -> DateTime<Utc> {
        "2026-01-05T10:00:00Z".parse().unwrap()
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
        blobs: fakes,
        ledger: fakes,
        queue: fakes,
        partners: fakes,
        species: &ecites_exchange::NoChecklist,
        uses: fakes,
        clock: fakes,
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
    assert!(fakes.rejections.lock().unwrap().is_empty());
    let sent = fakes.sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipient, "XB");
    let objects = fakes.objects.lock().unwrap();
    assert!(objects
        .iter()
        .any(|(k, _)| k.starts_with("outbox/XA/26XA1/") && k.ends_with(".xml")));
}

#[tokio::test]
async fn unknown_direct_message_type_is_reported_not_retried() {
    let fakes = Fakes::default();
    let report = ingest(&fakes, r#"{"type":"teleport","version":1}"#).await;
    assert_eq!(report.rejected.len(), 1);
    let objects = fakes.objects.lock().unwrap();
    let (key, bytes) = &objects[0];
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
    let waiting = fakes
        .waiting
        .lock()
        .unwrap()
        .clone()
        .expect("recorded to wait");
    assert_eq!(waiting.id.to_string(), "XA/1");
    assert_eq!(waiting.reason, "x");
}
