//! One test per validation rule: a valid baseline permit is broken in one place, and the test
//! checks the rule id, severity, box, model field and that the message names the box.

use ecites_domain::codes::{Appendix, Coded, DocumentType, Purpose, Source, Term, Unit};
use ecites_domain::model::{Address, Block, CountryReference, Examination, Party, Quantity, Quota};
use ecites_domain::validate::RULES;
use ecites_domain::{validate, Finding, Permit, Severity, Tier, Timestamp};
use rust_decimal::Decimal;

fn date(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn party(name: &str, country: &str) -> Party {
    Party {
        name: Some(name.into()),
        address: Address {
            country: Some(Coded::parse(country)),
            ..Address::default()
        },
        ..Party::default()
    }
}

fn qty(value: i64, unit: Option<Unit>) -> Quantity {
    Quantity {
        value: Decimal::from(value),
        unit: unit.map(Coded::Known),
    }
}

/// A French export permit for live tortoises (block A) and ranched crocodile skins (block B),
/// valid on every rule.
fn baseline() -> Permit {
    Permit {
        document_type: Some(DocumentType::E.into()),
        permit_number: "24FR000123".into(),
        valid_until: Some(date("2024-08-31")),
        importer: Some(party("Schweizer Reptilien AG", "CH")),
        exporter: Some(party("Élevage du Midi", "FR")),
        purpose: Some(Purpose::T.into()),
        issuing_authority: Some(party("Ministère de la Transition écologique", "FR")),
        issue_date: Some(date("2024-03-01")),
        blocks: vec![
            Block {
                id: "A".into(),
                scientific_name: Some("Testudo hermanni".into()),
                term: Some(Term::LIV.into()),
                appendix: Some(Appendix::II.into()),
                source: Some(Source::C.into()),
                quantity: Some(qty(10, None)),
                quota: Some(Quota {
                    used_to_date: Some(qty(100, None)),
                    annual: Some(qty(500, None)),
                }),
                endorsement: Some(Examination {
                    quantity: Some(qty(8, None)),
                    ..Examination::default()
                }),
                ..Block::default()
            },
            Block {
                id: "B".into(),
                scientific_name: Some("Crocodylus niloticus".into()),
                term: Some(Term::SKI.into()),
                appendix: Some(Appendix::II.into()),
                source: Some(Source::R.into()),
                quantity: Some(qty(20, Some(Unit::SKI))),
                origin: Some(CountryReference {
                    country: Some(Coded::parse("ZA")),
                    permit_number: Some("ZA-2023-4711".into()),
                    ..CountryReference::default()
                }),
                ..Block::default()
            },
        ],
        ..Permit::default()
    }
}

/// The one finding of `rule`; fails when there is none or several.
fn the(permit: &Permit, rule: &str) -> Finding {
    let findings = validate(permit);
    let matching: Vec<&Finding> = findings.iter().filter(|f| f.rule == rule).collect();
    assert_eq!(
        matching.len(),
        1,
        "expected one finding of {rule}, got: {findings:#?}"
    );
    matching[0].clone()
}

/// Checks severity, box and field, and that the message names the box.
fn check(finding: &Finding, severity: Severity, permit_box: &str, field: &str) {
    assert_eq!(finding.severity, severity, "{finding}");
    assert_eq!(finding.permit_box.as_deref(), Some(permit_box), "{finding}");
    assert_eq!(finding.field, field, "{finding}");
    assert!(
        finding.message.starts_with(&format!("Box {permit_box}")),
        "message does not name box {permit_box}: {}",
        finding.message
    );
    assert!(
        finding.path.starts_with("/CITESEPermit/"),
        "{}",
        finding.path
    );
    let rule = RULES.iter().find(|rule| rule.id == finding.rule).unwrap();
    assert_eq!(rule.severity, finding.severity);
    assert_eq!(rule.tier, finding.tier);
    assert!(rule.boxes.contains(&permit_box), "{} boxes", rule.id);
}

// ----- baseline and catalogue -------------------------------------------------------------

#[test]
fn fully_valid_permit_has_no_findings() {
    assert_eq!(validate(&baseline()), Vec::<Finding>::new());
}

#[test]
fn rule_ids_are_unique_kebab_case_and_described() {
    let mut seen = std::collections::HashSet::new();
    for rule in RULES {
        assert!(seen.insert(rule.id), "{} listed twice", rule.id);
        assert!(
            rule.id.split('-').all(|part| !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
            "{} is not kebab-case",
            rule.id
        );
        assert!(!rule.boxes.is_empty() && !rule.description.is_empty());
    }
}

#[test]
fn empty_permit_reports_every_missing_element_in_box_order() {
    let findings = validate(&Permit::default());
    let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(
        rules,
        [
            "document-type-required",
            "permit-number-required",
            "valid-until-required",
            "importer-name-required",
            "importer-country-required",
            "exporter-name-required",
            "exporter-country-required",
            "purpose-required",
            "issuing-authority-name-required",
            "issuing-authority-country-required",
            "blocks-required",
            "issue-date-required",
        ]
    );
    assert!(findings.iter().all(|f| f.tier == Tier::Mandatory));
}

#[test]
fn findings_are_sorted_by_box_then_block() {
    let mut permit = baseline();
    permit.blocks[1].quantity = Some(qty(0, Some(Unit::SKI)));
    permit.blocks[0].quantity = Some(qty(0, None));
    permit.blocks[0].endorsement = None;
    permit.blocks[1].scientific_name = None;
    permit.valid_until = None;
    let order: Vec<(String, String)> = validate(&permit)
        .into_iter()
        .map(|f| (f.permit_box.unwrap(), f.field))
        .collect();
    assert_eq!(
        order,
        [
            ("2".into(), "valid_until".into()),
            ("7".into(), "blocks[1].scientific_name".into()),
            ("11".into(), "blocks[0].quantity.value".into()),
            ("11".into(), "blocks[1].quantity.value".into()),
        ]
    );
}

// ----- structure ---------------------------------------------------------------------------

#[test]
fn permit_number_longer_than_35_characters_is_an_error() {
    let mut permit = baseline();
    permit.permit_number = "X".repeat(36);
    let finding = the(&permit, "permit-number-too-long");
    check(&finding, Severity::Error, "1", "permit_number");
    assert_eq!(finding.tier, Tier::Structure);
    assert_eq!(finding.path, "/CITESEPermit/HeaderExchangedDocument/ID");
    assert!(finding.message.contains("36"));
}

#[test]
fn permit_number_of_35_characters_is_accepted() {
    let mut permit = baseline();
    permit.permit_number = "É".repeat(35);
    assert!(validate(&permit).is_empty());
}

#[test]
fn two_blocks_with_the_same_letter_is_an_error_on_the_second() {
    let mut permit = baseline();
    permit.blocks[1].id = "a".into();
    let finding = the(&permit, "block-id-duplicate");
    check(&finding, Severity::Error, "7", "blocks[1].id");
    assert_eq!(
        finding.path,
        "/CITESEPermit/SpecifiedSupplyChainConsignment/IncludedSupplyChainConsignmentItem[2]/ID"
    );
    assert!(finding.message.contains("1st block"), "{}", finding.message);
}

// ----- mandatory ---------------------------------------------------------------------------

#[test]
fn missing_document_type_is_an_error() {
    let mut permit = baseline();
    permit.document_type = None;
    let finding = the(&permit, "document-type-required");
    check(&finding, Severity::Error, "1", "document_type");
    assert_eq!(
        finding.path,
        "/CITESEPermit/HeaderExchangedDocument/TypeCode"
    );
}

#[test]
fn other_certificate_without_subtype_is_an_error() {
    let mut permit = baseline();
    permit.document_type = Some(DocumentType::O.into());
    check(
        &the(&permit, "document-subtype-required"),
        Severity::Error,
        "1",
        "document_subtype",
    );
    permit.document_subtype = Some("pre-Convention certificate".into());
    assert!(validate(&permit).is_empty());
}

#[test]
fn blank_permit_number_is_an_error() {
    let mut permit = baseline();
    permit.permit_number = "   ".into();
    check(
        &the(&permit, "permit-number-required"),
        Severity::Error,
        "1",
        "permit_number",
    );
}

#[test]
fn missing_valid_until_is_an_error() {
    let mut permit = baseline();
    permit.valid_until = None;
    let finding = the(&permit, "valid-until-required");
    check(&finding, Severity::Error, "2", "valid_until");
    assert_eq!(
        finding.path,
        "/CITESEPermit/HeaderExchangedDocument/EffectiveSpecifiedPeriod/EndDateTime"
    );
}

#[test]
fn missing_issue_date_is_an_error_in_box_13() {
    let mut permit = baseline();
    permit.issue_date = None;
    let finding = the(&permit, "issue-date-required");
    check(&finding, Severity::Error, "13", "issue_date");
    assert_eq!(
        finding.path,
        "/CITESEPermit/HeaderExchangedDocument/IssueDateTime"
    );
}

#[test]
fn missing_purpose_is_an_error() {
    let mut permit = baseline();
    permit.purpose = None;
    let finding = the(&permit, "purpose-required");
    check(&finding, Severity::Error, "5a", "purpose");
    assert_eq!(
        finding.path,
        "/CITESEPermit/HeaderExchangedDocument/PurposeCode"
    );
}

#[test]
fn missing_importer_reports_name_in_box_3_and_country_in_box_3a() {
    let mut permit = baseline();
    permit.importer = None;
    let name = the(&permit, "importer-name-required");
    check(&name, Severity::Error, "3", "importer.name");
    assert_eq!(
        name.path,
        "/CITESEPermit/SpecifiedSupplyChainConsignment/ConsigneeTradeParty/Name"
    );
    let country = the(&permit, "importer-country-required");
    check(&country, Severity::Error, "3a", "importer.address.country");
    assert_eq!(
        country.path,
        "/CITESEPermit/SpecifiedSupplyChainConsignment/ConsigneeTradeParty/PostalTradeAddress/CountryID"
    );
}

#[test]
fn exporter_without_name_or_country_is_an_error() {
    let mut permit = baseline();
    permit.exporter = Some(Party {
        name: Some(" ".into()),
        ..Party::default()
    });
    check(
        &the(&permit, "exporter-name-required"),
        Severity::Error,
        "4",
        "exporter.name",
    );
    let country = the(&permit, "exporter-country-required");
    check(&country, Severity::Error, "4", "exporter.address.country");
    assert!(country
        .path
        .ends_with("ConsignorTradeParty/PostalTradeAddress/CountryID"));
}

#[test]
fn issuing_authority_without_name_or_country_is_an_error() {
    let mut permit = baseline();
    permit.issuing_authority = Some(Party::default());
    let name = the(&permit, "issuing-authority-name-required");
    check(&name, Severity::Error, "6", "issuing_authority.name");
    assert_eq!(
        name.path,
        "/CITESEPermit/HeaderExchangedDocument/FirstSignatoryDocumentAuthentication/ProviderTradeParty/Name"
    );
    check(
        &the(&permit, "issuing-authority-country-required"),
        Severity::Error,
        "6",
        "issuing_authority.address.country",
    );
}

#[test]
fn permit_without_blocks_is_an_error() {
    let mut permit = baseline();
    permit.blocks.clear();
    let finding = the(&permit, "blocks-required");
    check(&finding, Severity::Error, "7", "blocks");
    assert_eq!(
        finding.path,
        "/CITESEPermit/SpecifiedSupplyChainConsignment/IncludedSupplyChainConsignmentItem"
    );
}

#[test]
fn block_without_letter_is_an_error_named_by_position() {
    let mut permit = baseline();
    permit.blocks[1].id = String::new();
    let finding = the(&permit, "block-id-required");
    check(&finding, Severity::Error, "7", "blocks[1].id");
    assert!(
        finding.message.starts_with("Box 7 (block 2)"),
        "{}",
        finding.message
    );
}

#[test]
fn block_without_scientific_name_is_an_error() {
    let mut permit = baseline();
    permit.blocks[0].scientific_name = Some(String::new());
    let finding = the(&permit, "scientific-name-required");
    check(&finding, Severity::Error, "7", "blocks[0].scientific_name");
    assert_eq!(
        finding.path,
        "/CITESEPermit/SpecifiedSupplyChainConsignment/IncludedSupplyChainConsignmentItem[1]/IncludedSupplyChainTradeLineItem/SpecifiedTradeProduct/ScientificName"
    );
    assert!(finding.message.starts_with("Box 7 (block A)"));
}

#[test]
fn block_without_term_is_an_error() {
    let mut permit = baseline();
    permit.blocks[1].term = None;
    let finding = the(&permit, "term-required");
    check(&finding, Severity::Error, "9", "blocks[1].term");
    assert!(finding
        .path
        .ends_with("[2]/IncludedSupplyChainTradeLineItem/SpecifiedTradeProduct/TypeCode"));
}

#[test]
fn block_without_appendix_is_an_error() {
    let mut permit = baseline();
    permit.blocks[0].appendix = None;
    let finding = the(&permit, "appendix-required");
    check(&finding, Severity::Error, "10", "blocks[0].appendix");
    assert!(finding
        .path
        .ends_with("[1]/IncludedSupplyChainTradeLineItem/TypeCode"));
}

#[test]
fn block_without_source_is_an_error() {
    let mut permit = baseline();
    permit.blocks[0].source = None;
    let finding = the(&permit, "source-required");
    check(&finding, Severity::Error, "10", "blocks[0].source");
    assert!(finding
        .path
        .ends_with("[1]/IncludedSupplyChainTradeLineItem/TypeExtensionCode"));
}

#[test]
fn block_without_quantity_is_an_error() {
    let mut permit = baseline();
    permit.blocks[1].quantity = None;
    let finding = the(&permit, "quantity-required");
    check(&finding, Severity::Error, "11", "blocks[1].quantity");
    assert!(finding
        .path
        .ends_with("[2]/TransportLogisticsPackage/ItemQuantity"));
}

// ----- code lists --------------------------------------------------------------------------

#[test]
fn unknown_document_type_is_an_error_naming_the_list() {
    let mut permit = baseline();
    permit.document_type = Some(Coded::parse("X"));
    let finding = the(&permit, "document-type-unknown");
    check(&finding, Severity::Error, "1", "document_type");
    assert_eq!(finding.tier, Tier::CodeList);
    assert!(finding
        .message
        .contains("\"X\" is not a CITES document type; expected one of E, R, I, O"));
}

#[test]
fn unknown_purpose_is_an_error() {
    let mut permit = baseline();
    permit.purpose = Some(Coded::parse("t"));
    let finding = the(&permit, "purpose-unknown");
    check(&finding, Severity::Error, "5a", "purpose");
    assert!(
        finding.message.contains("written in capitals: T"),
        "{}",
        finding.message
    );
}

#[test]
fn unknown_source_code_is_an_error_listing_the_source_codes() {
    let mut permit = baseline();
    permit.blocks[0].source = Some(Coded::parse("Z"));
    let finding = the(&permit, "source-unknown");
    check(&finding, Severity::Error, "10", "blocks[0].source");
    assert_eq!(
        finding.message,
        "Box 10 (block A): \"Z\" is not a CITES source code; expected one of W, R, D, A, C, F, U, I, O, X, Y."
    );
}

#[test]
fn unknown_appendix_is_an_error() {
    let mut permit = baseline();
    permit.blocks[1].appendix = Some(Coded::parse("IV"));
    check(
        &the(&permit, "appendix-unknown"),
        Severity::Error,
        "10",
        "blocks[1].appendix",
    );
}

#[test]
fn unknown_term_is_an_error() {
    let mut permit = baseline();
    permit.blocks[1].term = Some(Coded::parse("SKN"));
    let finding = the(&permit, "term-unknown");
    check(&finding, Severity::Error, "9", "blocks[1].term");
    assert!(finding.message.contains("\"SKN\" is not a CITES term code"));
}

#[test]
fn rec20_unit_code_is_an_error_suggesting_the_cites_code() {
    let mut permit = baseline();
    permit.blocks[1].quantity = Some(Quantity {
        value: Decimal::from(20),
        unit: Some(Coded::parse("KGM")),
    });
    let finding = the(&permit, "unit-unknown");
    check(&finding, Severity::Error, "11", "blocks[1].quantity.unit");
    assert_eq!(
        finding.path,
        "/CITESEPermit/SpecifiedSupplyChainConsignment/IncludedSupplyChainConsignmentItem[2]/TransportLogisticsPackage/ItemQuantity/@unitCode"
    );
    assert!(
        finding.message.contains("the CITES code is KIL"),
        "{}",
        finding.message
    );
}

#[test]
fn unknown_quota_unit_is_an_error_in_box_11a() {
    let mut permit = baseline();
    permit.blocks[0].quota.as_mut().unwrap().annual = Some(Quantity {
        value: Decimal::from(500),
        unit: Some(Coded::parse("STK")),
    });
    let findings: Vec<Finding> = validate(&permit)
        .into_iter()
        .filter(|f| f.rule == "unit-unknown")
        .collect();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    check(
        &findings[0],
        Severity::Error,
        "11a",
        "blocks[0].quota.annual.unit",
    );
}

#[test]
fn unknown_country_code_is_an_error() {
    let mut permit = baseline();
    permit.importer = Some(party("Schweizer Reptilien AG", "CHE"));
    let finding = the(&permit, "country-unknown");
    check(&finding, Severity::Error, "3a", "importer.address.country");
    assert!(finding
        .message
        .contains("\"CHE\" is not an ISO 3166-1 alpha-2 country code"));
}

#[test]
fn unknown_origin_country_is_an_error_in_box_12() {
    let mut permit = baseline();
    permit.blocks[1].origin.as_mut().unwrap().country = Some(Coded::parse("za"));
    let finding = the(&permit, "country-unknown");
    check(&finding, Severity::Error, "12", "blocks[1].origin.country");
    assert!(finding.path.ends_with("[2]/OriginTradeCountry/ID"));
}

#[test]
fn user_assigned_country_is_information_only() {
    let mut permit = baseline();
    permit.exporter = Some(party("Pilot exporter", "XA"));
    permit.issuing_authority = Some(party("Pilot MA", "XA"));
    let findings = validate(&permit);
    assert!(
        findings.iter().all(|f| f.severity == Severity::Info),
        "{findings:#?}"
    );
    assert_eq!(findings.len(), 2);
    check(
        &findings[0],
        Severity::Info,
        "4",
        "exporter.address.country",
    );
    check(
        &findings[1],
        Severity::Info,
        "6",
        "issuing_authority.address.country",
    );
    assert!(findings[0]
        .message
        .contains("not an officially assigned country (test or pilot code)"));
}

// ----- business rules: validity ------------------------------------------------------------

#[test]
fn export_permit_valid_for_seven_months_is_an_error() {
    let mut permit = baseline();
    permit.valid_until = Some(date("2024-10-01"));
    let finding = the(&permit, "validity-too-long");
    check(&finding, Severity::Error, "2", "valid_until");
    assert_eq!(finding.tier, Tier::BusinessRule);
    assert!(
        finding.message.contains("at most 6 months"),
        "{}",
        finding.message
    );
    assert!(
        finding.message.contains("2024-09-01"),
        "{}",
        finding.message
    );
}

#[test]
fn export_permit_valid_exactly_six_calendar_months_is_accepted() {
    let mut permit = baseline();
    permit.valid_until = Some(date("2024-09-01T23:59:59+02:00"));
    assert!(validate(&permit).is_empty());
}

#[test]
fn six_months_from_the_end_of_august_ends_with_february() {
    let mut permit = baseline();
    permit.issue_date = Some(date("2023-08-31"));
    permit.valid_until = Some(date("2024-02-29"));
    assert!(validate(&permit).is_empty());
    permit.valid_until = Some(date("2024-03-01"));
    the(&permit, "validity-too-long");
}

#[test]
fn reexport_certificate_valid_for_seven_months_is_an_error() {
    let mut permit = baseline();
    permit.document_type = Some(DocumentType::R.into());
    for block in &mut permit.blocks {
        block.origin = Some(CountryReference {
            country: Some(Coded::parse("ZA")),
            permit_number: Some("ZA-1".into()),
            ..CountryReference::default()
        });
    }
    assert!(validate(&permit).is_empty());
    permit.valid_until = Some(date("2024-09-02"));
    let finding = the(&permit, "validity-too-long");
    assert!(finding.message.contains("a re-export certificate"));
}

#[test]
fn import_permit_may_be_valid_twelve_months_but_not_thirteen() {
    let mut permit = baseline();
    permit.document_type = Some(DocumentType::I.into());
    permit.issuing_authority = Some(party("Office fédéral", "CH"));
    permit.valid_until = Some(date("2025-03-01"));
    assert!(validate(&permit).is_empty(), "{:#?}", validate(&permit));
    permit.valid_until = Some(date("2025-04-01"));
    let finding = the(&permit, "validity-too-long");
    assert!(finding.message.contains("at most 12 months"));
}

#[test]
fn historic_permits_are_not_findings_for_their_age() {
    let mut permit = baseline();
    permit.issue_date = Some(date("1979-06-01"));
    permit.valid_until = Some(date("1979-11-30"));
    assert!(validate(&permit).is_empty());
}

#[test]
fn permit_expiring_before_issue_is_an_error() {
    let mut permit = baseline();
    permit.valid_until = Some(date("2024-02-28"));
    let finding = the(&permit, "validity-ends-before-issue");
    check(&finding, Severity::Error, "2", "valid_until");
    assert!(finding.message.contains("2024-02-28") && finding.message.contains("2024-03-01"));
}

#[test]
fn permit_valid_only_on_its_day_of_issue_is_accepted() {
    let mut permit = baseline();
    permit.valid_until = Some(date("2024-03-01"));
    assert!(validate(&permit).is_empty());
}

#[test]
fn validity_ending_before_it_starts_is_an_error() {
    let mut permit = baseline();
    permit.valid_from = Some(date("2024-05-01"));
    permit.valid_until = Some(date("2024-04-30"));
    check(
        &the(&permit, "validity-ends-before-start"),
        Severity::Error,
        "2",
        "valid_until",
    );
}

#[test]
fn validity_starting_before_issue_is_an_error() {
    let mut permit = baseline();
    permit.valid_from = Some(date("2024-02-29"));
    let finding = the(&permit, "validity-starts-before-issue");
    check(&finding, Severity::Error, "2", "valid_from");
    assert!(finding
        .path
        .ends_with("EffectiveSpecifiedPeriod/StartDateTime"));
}

// ----- business rules: countries -------------------------------------------------------------

#[test]
fn importing_into_the_exporting_country_is_an_error() {
    let mut permit = baseline();
    permit.importer = Some(party("Importateur", "FR"));
    check(
        &the(&permit, "same-export-import-country"),
        Severity::Error,
        "3a",
        "importer.address.country",
    );
}

#[test]
fn export_permit_issued_by_another_country_is_an_error() {
    let mut permit = baseline();
    permit.issuing_authority = Some(party("Bundesamt für Naturschutz", "DE"));
    let finding = the(&permit, "issuer-not-exporting-country");
    check(
        &finding,
        Severity::Error,
        "6",
        "issuing_authority.address.country",
    );
    assert!(finding.message.contains("DE") && finding.message.contains("FR"));
}

#[test]
fn import_permit_issued_by_another_country_than_the_importer_is_a_warning() {
    let mut permit = baseline();
    permit.document_type = Some(DocumentType::I.into());
    let finding = the(&permit, "issuer-not-importing-country");
    check(
        &finding,
        Severity::Warning,
        "6",
        "issuing_authority.address.country",
    );
}

// ----- business rules: blocks ----------------------------------------------------------------

#[test]
fn zero_quantity_is_an_error() {
    let mut permit = baseline();
    permit.blocks[1].quantity = Some(qty(0, Some(Unit::SKI)));
    let finding = the(&permit, "quantity-not-positive");
    check(&finding, Severity::Error, "11", "blocks[1].quantity.value");
    assert_eq!(
        finding.message,
        "Box 11 (block B): the quantity must be greater than zero; found 0."
    );
}

#[test]
fn live_animals_in_kilograms_is_a_term_unit_warning() {
    let mut permit = baseline();
    permit.blocks[0].quantity = Some(qty(10, Some(Unit::KIL)));
    permit.blocks[0].quota = None;
    permit.blocks[0].endorsement = None;
    let finding = the(&permit, "term-unit-mismatch");
    check(&finding, Severity::Warning, "11", "blocks[0].quantity.unit");
    assert!(finding.message.contains("term LIV") && finding.message.contains("unit KIL"));
}

#[test]
fn timber_without_unit_is_a_term_unit_warning_and_by_volume_is_fine() {
    let mut permit = baseline();
    permit.blocks[1].term = Some(Term::TIM.into());
    permit.blocks[1].quantity = Some(qty(3, None));
    let finding = the(&permit, "term-unit-mismatch");
    assert!(finding.message.contains("no unit"), "{}", finding.message);
    permit.blocks[1].quantity = Some(qty(3, Some(Unit::CUM)));
    assert!(validate(&permit).is_empty());
}

#[test]
fn caviar_counted_in_pieces_is_a_term_unit_warning() {
    let mut permit = baseline();
    permit.blocks[1].term = Some(Term::CAV.into());
    permit.blocks[1].quantity = Some(qty(3, Some(Unit::PCS)));
    the(&permit, "term-unit-mismatch");
    permit.blocks[1].quantity = Some(qty(3, Some(Unit::KIL)));
    assert!(validate(&permit).is_empty());
}

#[test]
fn quota_used_beyond_annual_quota_is_a_warning() {
    let mut permit = baseline();
    permit.blocks[0].quota.as_mut().unwrap().used_to_date = Some(qty(501, None));
    let finding = the(&permit, "quota-exceeded");
    check(
        &finding,
        Severity::Warning,
        "11a",
        "blocks[0].quota.used_to_date",
    );
    assert!(finding
        .path
        .ends_with("[1]/ApplicableCrossBorderRegulatoryProcedure/UsedToDateQuotaQuantity"));
}

#[test]
fn quota_figures_in_different_units_is_a_warning() {
    let mut permit = baseline();
    permit.blocks[0].quota.as_mut().unwrap().annual = Some(qty(500, Some(Unit::KIL)));
    check(
        &the(&permit, "quota-unit-mismatch"),
        Severity::Warning,
        "11a",
        "blocks[0].quota.used_to_date.unit",
    );
}

#[test]
fn appendix_i_wild_specimens_for_commercial_purposes_is_a_warning() {
    let mut permit = baseline();
    permit.blocks[0].appendix = Some(Appendix::I.into());
    permit.blocks[0].source = Some(Source::W.into());
    let finding = the(&permit, "appendix-i-commercial");
    check(&finding, Severity::Warning, "10", "blocks[0].appendix");
    assert!(finding.message.contains("source W"));
}

#[test]
fn appendix_i_commercial_trade_from_registered_operations_or_pre_convention_is_accepted() {
    for (source, extra) in [(Source::D, true), (Source::A, false), (Source::O, false)] {
        let mut permit = baseline();
        let block = &mut permit.blocks[0];
        block.appendix = Some(Appendix::I.into());
        block.source = Some(source.into());
        if extra {
            block.operation_number = Some("A-FR-501".into());
        }
        block.acquisition_date = Some(date("1970-01-01"));
        assert!(
            validate(&permit).is_empty(),
            "{source}: {:#?}",
            validate(&permit)
        );
    }
}

#[test]
fn appendix_i_commercial_without_source_reports_only_the_missing_source() {
    let mut permit = baseline();
    permit.blocks[0].appendix = Some(Appendix::I.into());
    permit.blocks[0].source = None;
    let rules: Vec<String> = validate(&permit).into_iter().map(|f| f.rule).collect();
    assert_eq!(rules, ["source-required"]);
}

#[test]
fn appendix_i_for_non_commercial_purposes_is_accepted() {
    let mut permit = baseline();
    permit.purpose = Some(Purpose::S.into());
    permit.blocks[0].appendix = Some(Appendix::I.into());
    permit.blocks[0].source = Some(Source::W.into());
    assert!(validate(&permit).is_empty());
}

#[test]
fn source_d_for_appendix_ii_is_a_warning() {
    let mut permit = baseline();
    permit.blocks[0].source = Some(Source::D.into());
    permit.blocks[0].operation_number = Some("A-FR-501".into());
    check(
        &the(&permit, "source-d-outside-appendix-i"),
        Severity::Warning,
        "10",
        "blocks[0].source",
    );
}

#[test]
fn source_d_without_operation_number_is_a_warning() {
    let mut permit = baseline();
    permit.blocks[0].appendix = Some(Appendix::I.into());
    permit.blocks[0].source = Some(Source::D.into());
    let finding = the(&permit, "registered-operation-number-missing");
    check(
        &finding,
        Severity::Warning,
        "12b",
        "blocks[0].operation_number",
    );
    assert!(finding
        .path
        .ends_with("[1]/ApplicableCrossBorderRegulatoryProcedure/PreviousReferencedDocument/ID"));
}

#[test]
fn appendix_i_captive_bred_with_operation_number_is_information() {
    let mut permit = baseline();
    permit.purpose = Some(Purpose::Z.into());
    permit.blocks[0].appendix = Some(Appendix::I.into());
    permit.blocks[0].operation_number = Some("A-FR-501".into());
    let finding = the(&permit, "appendix-i-operation-source");
    check(
        &finding,
        Severity::Info,
        "12b",
        "blocks[0].operation_number",
    );
    assert!(finding.message.contains("A-FR-501"));
}

#[test]
fn pre_convention_specimens_without_acquisition_date_is_a_warning() {
    let mut permit = baseline();
    permit.blocks[1].source = Some(Source::O.into());
    let finding = the(&permit, "pre-convention-acquisition-date-missing");
    check(
        &finding,
        Severity::Warning,
        "12b",
        "blocks[1].acquisition_date",
    );
    assert!(finding
        .path
        .ends_with("[2]/ApplicableCrossBorderRegulatoryProcedure/AcquisitionDateTime"));
}

#[test]
fn reexport_certificate_without_country_of_origin_is_an_error() {
    let mut permit = baseline();
    permit.document_type = Some(DocumentType::R.into());
    let finding = the(&permit, "reexport-origin-required");
    check(&finding, Severity::Error, "12", "blocks[0].origin.country");
    assert!(finding.path.ends_with("[1]/OriginTradeCountry/ID"));
}

#[test]
fn foreign_origin_without_origin_permit_number_is_a_warning() {
    let mut permit = baseline();
    permit.blocks[1].origin.as_mut().unwrap().permit_number = None;
    let finding = the(&permit, "origin-permit-required");
    check(
        &finding,
        Severity::Warning,
        "12",
        "blocks[1].origin.permit_number",
    );
    assert!(finding
        .path
        .ends_with("[2]/AssociatedReferencedDocument/ID"));
    assert!(finding.message.contains("ZA"));
}

#[test]
fn origin_in_the_exporting_country_needs_no_origin_permit() {
    let mut permit = baseline();
    permit.blocks[1].origin = Some(CountryReference {
        country: Some(Coded::parse("FR")),
        ..CountryReference::default()
    });
    assert!(validate(&permit).is_empty());
}

#[test]
fn last_reexport_country_without_certificate_is_a_warning() {
    let mut permit = baseline();
    permit.blocks[1].last_reexport = Some(CountryReference {
        country: Some(Coded::parse("DE")),
        ..CountryReference::default()
    });
    let finding = the(&permit, "last-reexport-certificate-required");
    check(
        &finding,
        Severity::Warning,
        "12a",
        "blocks[1].last_reexport.permit_number",
    );
}

#[test]
fn endorsed_quantity_above_permitted_quantity_is_an_error() {
    let mut permit = baseline();
    permit.blocks[0].endorsement.as_mut().unwrap().quantity = Some(qty(11, None));
    let finding = the(&permit, "endorsement-exceeds-permitted");
    check(
        &finding,
        Severity::Error,
        "14",
        "blocks[0].endorsement.quantity",
    );
    assert!(finding
        .path
        .ends_with("[1]/ExaminationTransportEvent/UnitQuantity"));
    assert!(finding.message.contains("(11)") && finding.message.contains("(10)"));
}

#[test]
fn endorsed_quantity_in_another_unit_is_an_error() {
    let mut permit = baseline();
    permit.blocks[0].endorsement.as_mut().unwrap().quantity = Some(qty(8, Some(Unit::PCS)));
    check(
        &the(&permit, "endorsement-unit-mismatch"),
        Severity::Error,
        "14",
        "blocks[0].endorsement.quantity.unit",
    );
}

// ----- robustness --------------------------------------------------------------------------

mod arbitrary {
    use super::*;
    use chrono::NaiveDate;
    use ecites_domain::model::CountryReference;
    use proptest::prelude::*;

    fn any_date() -> impl Strategy<Value = Option<Timestamp>> {
        proptest::option::of((-200_000i32..200_000).prop_map(|days| {
            let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
            Timestamp::Date(epoch + chrono::Duration::days(days.into()))
        }))
    }

    fn any_code() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            "[A-Z]{1,3}",
            Just(String::new()),
            Just("W".to_owned()),
            Just("I".to_owned()),
            Just("T".to_owned()),
            Just("LIV".to_owned()),
            Just("KIL".to_owned()),
            Just("XA".to_owned()),
        ])
    }

    fn any_quantity() -> impl Strategy<Value = Option<Quantity>> {
        proptest::option::of((any::<i64>(), 0u32..10, any_code()).prop_map(
            |(mantissa, scale, unit)| Quantity {
                value: Decimal::new(mantissa, scale),
                unit: unit.as_deref().map(Coded::parse),
            },
        ))
    }

    prop_compose! {
        fn any_block()(
            id in "[A-Ca ]{0,2}",
            codes in (any_code(), any_code(), any_code(), any_code()),
            quantities in (any_quantity(), any_quantity(), any_quantity(), any_quantity()),
            operation in proptest::option::of("[A-Z0-9-]{0,6}"),
            acquired in any_date(),
        ) -> Block {
            let (term, appendix, source, origin) = codes;
            let (quantity, used, annual, endorsed) = quantities;
            Block {
                id,
                scientific_name: Some("Species name".into()),
                term: term.as_deref().map(Coded::parse),
                appendix: appendix.as_deref().map(Coded::parse),
                source: source.as_deref().map(Coded::parse),
                quantity,
                quota: Some(Quota { used_to_date: used, annual }),
                origin: origin.map(|country| CountryReference {
                    country: Some(Coded::parse(&country)),
                    ..CountryReference::default()
                }),
                operation_number: operation,
                acquisition_date: acquired,
                endorsement: Some(Examination { quantity: endorsed, ..Examination::default() }),
                ..Block::default()
            }
        }
    }

    proptest! {
        #[test]
        fn validation_never_panics_and_every_finding_is_catalogued(
            kind in any_code(),
            purpose in any_code(),
            countries in (any_code(), any_code(), any_code()),
            dates in (any_date(), any_date(), any_date()),
            number in ".{0,40}",
            blocks in proptest::collection::vec(any_block(), 0..4),
        ) {
            let (importer, exporter, issuer) = countries;
            let (issued, from, until) = dates;
            let permit = Permit {
                document_type: kind.as_deref().map(Coded::parse),
                purpose: purpose.as_deref().map(Coded::parse),
                importer: importer.map(|c| party("I", &c)),
                exporter: exporter.map(|c| party("E", &c)),
                issuing_authority: issuer.map(|c| party("MA", &c)),
                issue_date: issued,
                valid_from: from,
                valid_until: until,
                permit_number: number,
                blocks,
                ..Permit::default()
            };
            let findings = validate(&permit);
            for finding in &findings {
                let rule = RULES.iter().find(|rule| rule.id == finding.rule).unwrap();
                let permit_box = finding.permit_box.as_deref().unwrap();
                prop_assert!(rule.boxes.contains(&permit_box), "{finding}");
                let label = format!("Box {permit_box}");
                prop_assert!(finding.message.starts_with(&label), "{}", finding.message);
            }
            prop_assert_eq!(validate(&permit), findings);
        }
    }
}

// ----- check: reading and validation together --------------------------------------------------

#[test]
fn an_unreadable_date_is_reported_once_by_the_reader_not_again_as_missing() {
    let csv = "permit_number,issuer_country,valid_until,quantity\n1,XA,2027-02-30,ten\n";
    let decoded = ecites_domain::csv_form::read_permits(csv.as_bytes())
        .unwrap()
        .remove(0);
    let findings = ecites_domain::check(&decoded);
    let about = |field: &str| -> Vec<&str> {
        findings
            .iter()
            .filter(|f| f.field == field)
            .map(|f| f.rule.as_str())
            .collect()
    };
    assert_eq!(about("valid_until"), ["date-format"]);
    assert_eq!(about("blocks[0].quantity"), ["number-format"]);
    // A value simply missing is still reported by the mandatory tier.
    assert_eq!(about("issue_date"), ["issue-date-required"]);
}

#[test]
fn findings_are_capped_per_permit_with_a_final_count_keeping_the_worst_severity() {
    let mut rows = String::from("permit_number,issuer_country,term\n");
    for _ in 0..400 {
        rows.push_str("1,XA,NOPE\n");
    }
    let decoded = ecites_domain::csv_form::read_permits(rows.as_bytes())
        .unwrap()
        .remove(0);
    let findings = ecites_domain::check(&decoded);
    assert_eq!(
        findings.len(),
        ecites_domain::validate::MAX_FINDINGS_PER_PERMIT
    );
    let last = findings.last().unwrap();
    assert_eq!(last.rule, "findings-capped");
    assert_eq!(last.severity, Severity::Error);
    let total = validate(&decoded.permit).len();
    let listed = findings.len() - 1;
    assert!(
        last.message
            .starts_with(&format!("{} more findings", total - listed)),
        "{}",
        last.message
    );
}
