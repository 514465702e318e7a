//! The `listing` tier at ingest, on the emulator: with the deployment's checklist loaded into
//! the bucket (`config/species.json`, as `ecites species import` writes it), a permit declaring
//! the wrong Appendix is rejected with the listing finding; without one nothing changes.

use ecites_domain::Checklist;
use ecites_e2e::*;
use ecites_exchange::keys::SPECIES_CHECKLIST_KEY;
use ecites_local::fixtures;

/// The hand-made checklist of the domain crate's tests, in the compact form.
fn compact_checklist() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/domain/tests/fixtures/species/Index_of_CITES_Species_2026-11-01_0930.csv");
    let bytes = std::fs::read(&path).expect("the hand-made checklist");
    Checklist::load(&bytes, &path.to_string_lossy(), "unknown")
        .expect("a checklist")
        .to_compact()
}

/// An export permit of Hermann's tortoises (Appendix II) declared in `appendix`.
fn tortoises(number: &str, appendix: &str) -> Vec<u8> {
    let mut permit = fixtures::export_permit(number, "XA", "XB", 5);
    permit.blocks[0].appendix = Some(ecites_domain::Coded::parse(appendix));
    fixtures::json(&permit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_checklist_loaded_a_wrong_appendix_is_rejected_at_ingest_with_the_listing_finding() {
    let local = start().await;
    drop_file(&local, SPECIES_CHECKLIST_KEY, compact_checklist()).await;
    drop_file(&local, "inbox/right.json", tortoises("26XA0301", "II")).await;
    drop_file(&local, "inbox/wrong.json", tortoises("26XA0302", "I")).await;
    local.drain(DRAIN).await.unwrap();

    assert_eq!(
        status(&local, "XA", "26XA0301").await.state.as_deref(),
        Some("ACTIVE")
    );
    let wrong = status(&local, "XA", "26XA0302").await;
    assert!(wrong.state.is_none(), "{wrong:?}");
    assert_eq!(wrong.rejections.len(), 1, "{wrong:?}");
    let report = rejection_report(&local, "inbox/wrong.json")
        .await
        .expect("a rejection report");
    let report = json(report.as_bytes());
    let findings = report["problems"][0]["findings"].as_array().unwrap();
    let listing = findings
        .iter()
        .find(|f| f["rule"] == "listing-appendix-mismatch")
        .unwrap_or_else(|| panic!("the listing finding: {report}"));
    assert_eq!(listing["tier"], "listing");
    assert_eq!(listing["permit_box"], "10");
    let message = listing["message"].as_str().unwrap();
    assert!(message.contains("Testudo hermanni"), "{message}");
    assert!(message.contains("2026-11-01"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_checklist_the_listing_tier_does_not_run() {
    let local = start().await;
    drop_file(&local, "inbox/wrong.json", tortoises("26XA0303", "I")).await;
    local.drain(DRAIN).await.unwrap();
    assert_eq!(
        status(&local, "XA", "26XA0303").await.state.as_deref(),
        Some("ACTIVE")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_received_permit_with_a_listing_error_is_received_with_warnings_not_refused() {
    let (xa, xb) = start_pair().await;
    // Only XB has a checklist: XA's ingest lets the permit through, XB's receive judges it.
    xb.local
        .put_object(SPECIES_CHECKLIST_KEY, compact_checklist())
        .await
        .unwrap();
    let mut permit = fixtures::export_permit("26XA0304", "XA", "XB", 5);
    permit.blocks[0].appendix = Some(ecites_domain::Coded::parse("I"));
    xa.drop_permit("26XA0304", &permit).await.unwrap();
    xa.forward_until_quiet(std::time::Duration::from_secs(90))
        .await
        .unwrap();
    let got = xb
        .store
        .received_fields(ecites_local::country("XA"), "26XA0304", 1, "issued")
        .await
        .unwrap()
        .expect("XB received it");
    assert_eq!(got["ack_status"], "DELIVERED_WITH_WARNINGS", "{got:?}");
    assert!(
        got["findings"].contains("listing-appendix-mismatch"),
        "{got:?}"
    );
    assert!(got["findings"].contains("\"warning\""), "{got:?}");
}
