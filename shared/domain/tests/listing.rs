//! The `listing` tier against the hand-made checklist (tests/fixtures/species/): one test per
//! rule, with synonyms, split listings, higher-rank listings and name normalisation.

use ecites_domain::checklist::{Checklist, Match};
use ecites_domain::{validate_listing, Finding, Format, Permit, Severity, Tier};
use serde_json::json;

const CHECKLIST: &str = "tests/fixtures/species/Index_of_CITES_Species_2026-11-01_0930.csv";

fn checklist() -> Checklist {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CHECKLIST);
    let bytes = std::fs::read(&path).expect("the hand-made checklist");
    Checklist::load(&bytes, CHECKLIST, "unknown").expect("a checklist")
}

/// An export permit from XA to XB with one block.
fn permit(name: &str, appendix: &str, source: &str, origin: Option<&str>) -> Permit {
    let mut block = json!({
        "id": "A", "scientific_name": name, "term": "LIV", "appendix": appendix,
        "source": source, "quantity": {"value": "2"}
    });
    if let Some(origin) = origin {
        block["origin"] = json!({"country": origin});
    }
    let value = json!({
        "document_type": "E", "permit_number": "26XA0001",
        "valid_from": "2026-11-20", "valid_until": "2027-05-19", "issue_date": "2026-11-20",
        "importer": {"name": "Zoo", "address": {"country": "XB"}},
        "exporter": {"name": "Farm", "address": {"country": "XA"}},
        "purpose": "T",
        "issuing_authority": {"name": "MA", "address": {"country": "XA"}},
        "blocks": [block]
    });
    ecites_domain::decode(value.to_string().as_bytes(), Format::Json)
        .expect("a permit")
        .permit
}

fn rules(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn a_permit_that_agrees_with_the_checklist_has_no_listing_finding() {
    let checklist = checklist();
    for (name, appendix, source) in [
        ("Python regius", "II", "C"),
        ("Loxodonta africana", "I", "W"),
        ("Loxodonta africana", "II", "C"),
        ("Phalaenopsis amabilis", "II", "A"),
    ] {
        let findings = validate_listing(&permit(name, appendix, source, Some("XA")), &checklist);
        let findings: Vec<_> = findings
            .into_iter()
            .filter(|f| f.rule != "listing-outside-range")
            .collect();
        assert!(
            findings.is_empty(),
            "{name} {appendix} {source}: {findings:?}"
        );
    }
}

#[test]
fn a_wrong_appendix_is_an_error_naming_both_appendices_the_block_and_the_checklist_date() {
    let findings = validate_listing(
        &permit("Psittacus erithacus", "II", "C", None),
        &checklist(),
    );
    assert_eq!(rules(&findings), vec!["listing-appendix-mismatch"]);
    let finding = &findings[0];
    assert_eq!(finding.severity, Severity::Error);
    assert_eq!(finding.tier, Tier::Listing);
    assert_eq!(finding.permit_box.as_deref(), Some("10"));
    assert_eq!(finding.field, "blocks[0].appendix");
    for part in [
        "block A",
        "Appendix II is declared",
        "Appendix I ",
        "2026-11-01",
    ] {
        assert!(
            finding.message.contains(part),
            "{part}: {}",
            finding.message
        );
    }
}

#[test]
fn split_listings_accept_each_listed_appendix_and_refuse_the_others() {
    let checklist = checklist();
    let lion =
        |appendix| validate_listing(&permit("Panthera leo", appendix, "C", None), &checklist);
    assert!(lion("I").is_empty());
    assert!(lion("II").is_empty());
    let findings = lion("III");
    assert_eq!(rules(&findings), vec!["listing-appendix-mismatch"]);
    assert!(
        findings[0].message.contains("Appendix I/II"),
        "{}",
        findings[0].message
    );
    // The subspecies has its own, narrower listing.
    let persica = validate_listing(
        &permit("Panthera leo subsp. persica", "II", "C", None),
        &checklist,
    );
    assert_eq!(rules(&persica), vec!["listing-appendix-mismatch"]);
}

#[test]
fn a_synonym_is_a_warning_giving_the_accepted_name_and_is_checked_as_that_taxon() {
    let checklist = checklist();
    let findings = validate_listing(&permit("Boa regia", "II", "C", None), &checklist);
    assert_eq!(rules(&findings), vec!["listing-synonym"]);
    assert_eq!(findings[0].severity, Severity::Warning);
    assert!(findings[0].message.contains("\"Python regius\""));
    // Its listing is the accepted taxon's: Appendix I is wrong for the ball python.
    let findings = validate_listing(&permit("Boa regia Shaw, 1802", "I", "C", None), &checklist);
    assert_eq!(
        rules(&findings),
        vec!["listing-synonym", "listing-appendix-mismatch"]
    );
    // Authors with commas inside do not split a synonym.
    assert!(matches!(
        checklist.find("Cypripedium calceolus var. microsaccos"),
        Some(Match::Synonym(t)) if t.name == "Cypripedium calceolus"
    ));
}

#[test]
fn names_with_authors_odd_case_and_spacing_and_higher_ranks_are_found() {
    let checklist = checklist();
    for name in [
        "Python regius (Shaw, 1802)",
        "PYTHON   REGIUS",
        " python regius ",
    ] {
        assert!(
            matches!(checklist.find(name), Some(Match::Accepted(t)) if t.name == "Python regius"),
            "{name}"
        );
    }
    // A species of a genus listed as such.
    assert!(matches!(
        checklist.find("Aloe arborescens"),
        Some(Match::HigherRank(t)) if t.name == "Aloe"
    ));
    assert!(validate_listing(&permit("Aloe arborescens", "II", "A", None), &checklist).is_empty());
    // The order and the family by their own names, `spp.` or not.
    assert!(
        matches!(checklist.find("Psittaciformes spp."), Some(Match::Accepted(t)) if t.rank == "ORDER")
    );
    assert!(matches!(checklist.find("Cactaceae"), Some(Match::Accepted(t)) if t.rank == "FAMILY"));
    // Hybrids: the sign is not part of the name.
    assert!(checklist.find("Phalaenopsis × amabilis").is_some());
}

#[test]
fn an_unknown_name_is_a_warning_not_an_error() {
    let findings = validate_listing(
        &permit("Dracunculus imaginarius", "II", "W", None),
        &checklist(),
    );
    assert_eq!(rules(&findings), vec!["listing-name-unknown"]);
    assert_eq!(findings[0].severity, Severity::Warning);
    assert_eq!(findings[0].permit_box.as_deref(), Some("7"));
}

#[test]
fn a_taxon_listed_nowhere_needs_no_permit_a_warning() {
    let findings = validate_listing(
        &permit("Canis lupus familiaris", "II", "C", None),
        &checklist(),
    );
    assert_eq!(rules(&findings), vec!["listing-not-listed"]);
    assert!(findings[0].message.contains("NC"));
}

#[test]
fn wild_specimens_from_outside_the_range_are_a_warning_on_origin_or_exporter() {
    let checklist = checklist();
    // Grey parrots do not occur in XA: the origin says so.
    let findings = validate_listing(
        &permit("Psittacus erithacus", "I", "W", Some("XA")),
        &checklist,
    );
    assert_eq!(rules(&findings), vec!["listing-outside-range"]);
    assert_eq!(findings[0].permit_box.as_deref(), Some("12"));
    assert!(findings[0].message.contains("XA"));
    // No origin: the exporter's country (XA) is taken, box 4, still named for the block.
    let findings = validate_listing(&permit("Psittacus erithacus", "I", "W", None), &checklist);
    assert_eq!(rules(&findings), vec!["listing-outside-range"]);
    assert_eq!(findings[0].permit_box.as_deref(), Some("4"));
    assert!(findings[0].message.contains("block A"));
    // A range state, or captive-bred specimens: nothing to say.
    assert!(validate_listing(
        &permit("Psittacus erithacus", "I", "W", Some("GH")),
        &checklist
    )
    .is_empty());
    assert!(
        validate_listing(&permit("Psittacus erithacus", "I", "C", None), &checklist).is_empty()
    );
}

#[test]
fn sources_that_do_not_suit_the_kingdom_are_errors() {
    let checklist = checklist();
    let animal = validate_listing(&permit("Python regius", "II", "A", None), &checklist);
    assert_eq!(rules(&animal), vec!["listing-source-kingdom"]);
    assert!(animal[0].message.contains("plants only"));
    for source in ["C", "R", "F"] {
        let plant = validate_listing(&permit("Dalbergia nigra", "I", source, None), &checklist);
        assert_eq!(rules(&plant), vec!["listing-source-kingdom"], "{source}");
        assert_eq!(plant[0].severity, Severity::Error);
    }
}

#[test]
fn the_compact_form_reads_back_to_the_same_checklist() {
    let checklist = checklist();
    let compact = checklist.to_compact();
    let again = Checklist::load(&compact, "config/species.json", "ignored").unwrap();
    assert_eq!(again, checklist);
    assert_eq!(again.date, "2026-11-01");
    assert_eq!(again.len(), 15);
}

#[test]
fn files_that_are_not_the_export_are_refused_naming_what_is_missing() {
    let error =
        Checklist::from_species_csv(b"Name,Listing\nPython regius,II\n", "2026-11-01").unwrap_err();
    assert!(error.to_string().contains("TaxonId"), "{error}");
    let bad = "TaxonId,Kingdom,FullName,RankName,CurrentListing,SynonymsWithAuthors,All_DistributionISOCodes\n1,Animalia,Python regius,SPECIES,IV,,\n";
    let error = Checklist::from_species_csv(bad.as_bytes(), "2026-11-01").unwrap_err();
    assert!(error.to_string().contains("line 2"), "{error}");
    assert!(error.to_string().contains("IV"), "{error}");
    assert!(Checklist::from_compact(b"{\"format\":\"other\"}").is_err());
}
