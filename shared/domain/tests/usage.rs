//! The `use` tier: a customs use of a permit against the permit on record and the uses before it.

use chrono::NaiveDate;
use ecites_domain::model::{Quantity, Timestamp};
use ecites_domain::usage::{
    balance, check_use, check_use_form, verify, BlockFacts, Border, PermitFacts, PermitOnRecord,
    PermitOrigin, PermitState, PermitUse, UseBlock, UseKind, UseOnRecord, UsedPermit,
    VerifyRequest, USE_RULES,
};
use ecites_domain::{CountryCode, PermitId, Severity, Tier};
use rust_decimal::Decimal;

fn cc(code: &str) -> CountryCode {
    code.parse().unwrap()
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn qty(value: i64, unit: Option<&str>) -> Quantity {
    Quantity {
        value: Decimal::from(value),
        unit: unit.map(ecites_domain::codes::Coded::parse),
    }
}

/// XA's export permit XA-2026-001 to XB: block A 10 live parrots, block B 5 kg of caviar.
fn record() -> PermitOnRecord {
    PermitOnRecord {
        id: PermitId {
            issuer: cc("XA"),
            number: "XA-2026-001".into(),
        },
        version: 1,
        facts: PermitFacts {
            document_type: Some("E".into()),
            valid_from: Some(day("2026-03-01")),
            valid_until: Some(day("2026-08-31")),
            exporter_country: Some(cc("XA")),
            importer_country: Some(cc("XB")),
            replaces: None,
            purpose: Some("T".into()),
            issued_on: Some(day("2026-03-01")),
            blocks: vec![
                BlockFacts {
                    id: "A".into(),
                    scientific_name: Some("Psittacus erithacus".into()),
                    term: Some("LIV".into()),
                    quantity: Some(qty(10, None)),
                    endorsed: None,
                    appendix: None,
                    source: None,
                    origin: None,
                    origin_permit: None,
                },
                BlockFacts {
                    id: "B".into(),
                    scientific_name: Some("Acipenser baerii".into()),
                    term: Some("CAV".into()),
                    quantity: Some(qty(5, Some("KGM"))),
                    endorsed: None,
                    appendix: None,
                    source: None,
                    origin: None,
                    origin_permit: None,
                },
            ],
        },
        state: PermitState::Valid,
        origin: PermitOrigin::Issued,
    }
}

fn endorsement(declaration: &str, on: &str, blocks: &[(&str, i64, Option<&str>)]) -> PermitUse {
    PermitUse {
        kind: UseKind::ExportEndorsement,
        permit: UsedPermit {
            issuer: "XA".into(),
            number: "XA-2026-001".into(),
            version: None,
        },
        reported_by: "XA".into(),
        declaration_number: declaration.into(),
        date: Timestamp::Date(day(on)),
        port: None,
        customs_office: Some("Airport cargo office".into()),
        officer: Some("Officer 17".into()),
        blocks: blocks
            .iter()
            .map(|(block, value, unit)| UseBlock {
                block: (*block).into(),
                quantity: qty(*value, *unit),
                dead_on_arrival: None,
            })
            .collect(),
        reason: None,
    }
}

fn confirmation(declaration: &str, blocks: &[(&str, i64, Option<&str>)]) -> PermitUse {
    PermitUse {
        kind: UseKind::ImportConfirmation,
        reported_by: "XB".into(),
        ..endorsement(declaration, "2026-04-03", blocks)
    }
}

fn on_record(used: PermitUse, rules: &[&str]) -> UseOnRecord {
    UseOnRecord {
        reported: used,
        recorded_at: "2026-04-01T10:00:00Z".into(),
        rules: rules.iter().map(|r| (*r).to_owned()).collect(),
    }
}

fn rules(findings: &[ecites_domain::Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn a_use_within_the_permit_raises_nothing_and_moves_the_balance() {
    let permit = record();
    let used = endorsement(
        "DEC-1",
        "2026-04-01",
        &[("A", 10, None), ("B", 4, Some("KGM"))],
    );
    assert!(check_use_form(&used).is_empty());
    assert!(check_use(cc("XA"), Some(&permit), &[], &used).is_empty());
    let after = balance(&permit.facts, &[on_record(used, &[])]);
    assert_eq!(after[0].exported, Decimal::from(10));
    assert_eq!(after[0].remaining, Some(Decimal::ZERO));
    assert_eq!(after[1].exported, Decimal::from(4));
    assert_eq!(after[1].remaining, Some(Decimal::from(1)));
    assert_eq!(after[1].unit.as_deref(), Some("KGM"));
}

#[test]
fn an_unknown_foreign_permit_was_not_received_and_an_unknown_own_permit_was_not_issued() {
    let mut used = confirmation("DEC-9", &[("A", 1, None)]);
    let findings = check_use(cc("XB"), None, &[], &used);
    assert_eq!(rules(&findings), ["use-permit-not-received"]);
    assert_eq!(findings[0].severity, Severity::Error);
    assert_eq!(findings[0].tier, Tier::Use);
    assert!(findings[0].message.contains("may be forged"));
    used.reported_by = "XA".into();
    let findings = check_use(cc("XA"), None, &[], &used);
    assert_eq!(rules(&findings), ["use-permit-not-issued"]);
}

#[test]
fn a_use_outside_the_validity_window_is_an_error_on_box_2() {
    let late = endorsement("DEC-1", "2026-09-01", &[("A", 1, None)]);
    let findings = check_use(cc("XA"), Some(&record()), &[], &late);
    assert_eq!(rules(&findings), ["use-after-validity"]);
    assert_eq!(findings[0].permit_box.as_deref(), Some("2"));
    let early = endorsement("DEC-1", "2026-02-28", &[("A", 1, None)]);
    assert_eq!(
        rules(&check_use(cc("XA"), Some(&record()), &[], &early)),
        ["use-before-validity"]
    );
    let last_day = endorsement("DEC-1", "2026-08-31", &[("A", 1, None)]);
    assert!(check_use(cc("XA"), Some(&record()), &[], &last_day).is_empty());
}

#[test]
fn a_cancelled_or_replaced_permit_or_an_old_version_is_an_alert() {
    let used = endorsement("DEC-1", "2026-04-01", &[("A", 1, None)]);
    let mut cancelled = record();
    cancelled.state = PermitState::Cancelled {
        reason: Some("specimens died".into()),
    };
    assert_eq!(
        rules(&check_use(cc("XA"), Some(&cancelled), &[], &used)),
        ["use-permit-cancelled"]
    );
    let mut replaced = record();
    replaced.state = PermitState::Replaced {
        by: "XA-2026-002".into(),
    };
    let findings = check_use(cc("XA"), Some(&replaced), &[], &used);
    assert_eq!(rules(&findings), ["use-permit-replaced"]);
    assert!(findings[0].message.contains("XA-2026-002"));
    let mut reissued = record();
    reissued.version = 2;
    let mut old = used.clone();
    old.permit.version = Some(1);
    assert_eq!(
        rules(&check_use(cc("XA"), Some(&reissued), &[], &old)),
        ["use-permit-replaced"]
    );
    old.permit.version = Some(2);
    assert!(check_use(cc("XA"), Some(&reissued), &[], &old).is_empty());
}

#[test]
fn a_second_declaration_of_the_same_kind_is_a_second_consignment() {
    let first = on_record(endorsement("DEC-1", "2026-04-01", &[("A", 4, None)]), &[]);
    let second = endorsement("DEC-2", "2026-04-02", &[("A", 4, None)]);
    let findings = check_use(
        cc("XA"),
        Some(&record()),
        std::slice::from_ref(&first),
        &second,
    );
    assert_eq!(rules(&findings), ["use-second-consignment"]);
    assert!(findings[0].message.contains("DEC-1"));
    // The import confirmation of the same shipment is not a second consignment.
    let import = confirmation("DEC-B-7", &[("A", 4, None)]);
    assert!(check_use(cc("XA"), Some(&record()), &[first], &import).is_empty());
}

#[test]
fn quantities_above_the_permit_or_the_export_and_units_and_blocks_are_checked() {
    let permit = record();
    let over = endorsement("DEC-1", "2026-04-01", &[("A", 11, None)]);
    assert_eq!(
        rules(&check_use(cc("XA"), Some(&permit), &[], &over)),
        ["use-quantity-above-permitted"]
    );
    let unit = endorsement("DEC-1", "2026-04-01", &[("B", 4, Some("GRM"))]);
    assert_eq!(
        rules(&check_use(cc("XA"), Some(&permit), &[], &unit)),
        ["use-unit-differs"]
    );
    // No unit and NO both count specimens.
    let specimens = endorsement("DEC-1", "2026-04-01", &[("A", 4, Some("NO"))]);
    assert!(check_use(cc("XA"), Some(&permit), &[], &specimens).is_empty());
    let block = endorsement("DEC-1", "2026-04-01", &[("C", 1, None)]);
    let findings = check_use(cc("XA"), Some(&permit), &[], &block);
    assert_eq!(rules(&findings), ["use-block-unknown"]);
    assert!(findings[0].message.contains("A, B"));
    let exported = on_record(endorsement("DEC-1", "2026-04-01", &[("A", 6, None)]), &[]);
    let more = confirmation("DEC-B-7", &[("A", 7, None)]);
    assert_eq!(
        rules(&check_use(cc("XA"), Some(&permit), &[exported], &more)),
        ["use-import-above-exported"]
    );
}

#[test]
fn a_use_from_a_country_not_on_the_permit_is_reported() {
    let mut used = endorsement("DEC-1", "2026-04-01", &[("A", 1, None)]);
    used.reported_by = "XC".into();
    let findings = check_use(cc("XA"), Some(&record()), &[], &used);
    assert_eq!(rules(&findings), ["use-wrong-country"]);
    assert_eq!(findings[0].permit_box.as_deref(), Some("4"));
    let mut import = confirmation("DEC-B-7", &[("A", 1, None)]);
    import.reported_by = "XA".into();
    assert_eq!(
        rules(&check_use(cc("XA"), Some(&record()), &[], &import)),
        ["use-wrong-country"]
    );
}

#[test]
fn dead_on_arrival_and_refusals_are_warnings() {
    let mut import = confirmation("DEC-B-7", &[("A", 10, None)]);
    import.blocks[0].dead_on_arrival = Some(Decimal::from(2));
    let findings = check_use(cc("XB"), Some(&record()), &[], &import);
    assert_eq!(rules(&findings), ["use-dead-on-arrival"]);
    assert_eq!(findings[0].severity, Severity::Warning);
    let refusal = PermitUse {
        kind: UseKind::BorderRefusal,
        blocks: vec![],
        reason: Some("seals broken".into()),
        ..confirmation("", &[])
    };
    assert!(check_use_form(&refusal).is_empty());
    let findings = check_use(cc("XB"), Some(&record()), &[], &refusal);
    assert_eq!(rules(&findings), ["use-border-refusal"]);
    assert!(findings[0].message.contains("seals broken"));
}

#[test]
fn a_malformed_use_is_refused_naming_each_field() {
    let mut used = endorsement("", "2026-04-01", &[("A", 0, None), ("a", 1, None)]);
    used.permit.issuer = "Atlantis".into();
    used.reported_by = "".into();
    used.blocks[1].dead_on_arrival = Some(Decimal::from(5));
    let findings = check_use_form(&used);
    let fields: Vec<&str> = findings.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "permit.issuer",
            "reported_by",
            "declaration_number",
            "blocks[0].quantity.value",
            "blocks[1].block",
            "blocks[1].dead_on_arrival"
        ]
    );
    assert!(findings.iter().all(|f| f.severity == Severity::Error));
    let refusal = PermitUse {
        kind: UseKind::BorderRefusal,
        reason: None,
        ..endorsement("", "2026-04-01", &[])
    };
    assert_eq!(rules(&check_use_form(&refusal)), ["use-reason-missing"]);
}

#[test]
fn json_errors_name_the_field() {
    let error = PermitUse::from_json(
        br#"{"kind":"export_endorsement","permit":{"issuer":"XA","number":"1"},"reported_by":"XA","date":"2026-04-01","blocks":[{"block":"A","quantity":{"value":"ten"}}]}"#,
    )
    .unwrap_err();
    assert_eq!(error.field, "blocks[0].quantity.value");
    let error = PermitUse::from_json(br#"{"kind":"smuggling"}"#).unwrap_err();
    assert_eq!(error.field, "kind");
    let ok = PermitUse::from_json(
        br#"{"kind":"import_confirmation","permit":{"issuer":"XA","number":"XA-1"},"reported_by":"XB","declaration_number":"D1","date":"2026-04-01T09:30:00+02:00","blocks":[{"block":"A","quantity":{"value":"2.5","unit":"KGM"},"dead_on_arrival":"0"}]}"#,
    )
    .unwrap();
    assert_eq!(ok.blocks[0].quantity.value, Decimal::new(25, 1));
    assert_eq!(ok.permit_id().unwrap().to_string(), "XA/XA-1");
}

#[test]
fn verify_answers_with_the_balance_and_the_findings_the_declared_quantities_would_raise() {
    let permit = record();
    let exported = on_record(endorsement("DEC-1", "2026-04-01", &[("A", 6, None)]), &[]);
    let request = VerifyRequest {
        id: permit.id.clone(),
        at: Border::Import,
        by: cc("XB"),
        on: day("2026-04-03"),
        declared: vec![("A".into(), Decimal::from(6))],
    };
    let answer = verify(
        cc("XB"),
        &request,
        Some(&permit),
        std::slice::from_ref(&exported),
    );
    assert!(answer.usable, "{answer}");
    assert_eq!(answer.balance[0].remaining, Some(Decimal::from(4)));
    let text = answer.to_string();
    assert!(text.contains("usable for this shipment"), "{text}");
    assert!(
        text.contains("export endorsement by XA on 2026-04-01, declaration DEC-1"),
        "{text}"
    );
    let too_much = VerifyRequest {
        declared: vec![("A".into(), Decimal::from(7))],
        ..request.clone()
    };
    let answer = verify(
        cc("XB"),
        &too_much,
        Some(&permit),
        std::slice::from_ref(&exported),
    );
    assert!(!answer.usable);
    assert_eq!(rules(&answer.findings), ["use-import-above-exported"]);
    // At export, a permit already endorsed cannot clear a second consignment.
    let again = VerifyRequest {
        at: Border::Export,
        by: cc("XA"),
        declared: vec![],
        ..request.clone()
    };
    let answer = verify(cc("XA"), &again, Some(&permit), &[exported]);
    assert_eq!(rules(&answer.findings), ["use-second-consignment"]);
    assert!(answer.to_string().contains("NOT usable"));
    let unknown = verify(cc("XB"), &request, None, &[]);
    assert!(!unknown.usable);
    assert_eq!(rules(&unknown.findings), ["use-permit-not-received"]);
}

#[test]
fn every_use_rule_is_catalogued_once_in_the_use_tier() {
    let mut ids: Vec<&str> = USE_RULES.iter().map(|r| r.id).collect();
    assert!(USE_RULES.iter().all(|r| r.tier == Tier::Use));
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len());
}

#[test]
fn an_endorsed_permit_carries_box_14_per_block_through_the_standard_xml() {
    let mut permit = ecites_domain::testing::typical_permit(2);
    let first = permit.blocks[0].id.clone();
    let unit = permit.blocks[0]
        .quantity
        .as_ref()
        .and_then(|q| q.unit.clone());
    let mut used = endorsement("DEC-1", "2026-04-01", &[]);
    used.blocks = vec![UseBlock {
        block: first.clone(),
        quantity: Quantity {
            value: Decimal::new(15, 1),
            unit,
        },
        dead_on_arrival: None,
    }];
    used.port = Some(ecites_domain::model::Location {
        id: Some("XAPOR".into()),
        name: Some("Port of XA".into()),
    });
    ecites_domain::usage::endorse(&mut permit, &used);
    let xml = ecites_domain::xml::write_permit(&permit);
    assert!(xml.contains("ExaminationTransportEvent"), "{xml}");
    let read = ecites_domain::xml::read_permit(xml.as_bytes())
        .unwrap()
        .permit;
    let consignment = read
        .export_endorsement
        .as_ref()
        .expect("box 14 for the consignment");
    assert_eq!(
        consignment.port.as_ref().unwrap().id.as_deref(),
        Some("XAPOR")
    );
    let block = read.blocks[0]
        .endorsement
        .as_ref()
        .expect("box 14 for block A");
    assert_eq!(block.quantity.as_ref().unwrap().value, Decimal::new(15, 1));
    assert!(
        read.blocks[1].endorsement.is_none(),
        "a block the use does not name"
    );
    // What the importing MA checks imports against.
    let facts = PermitFacts::of(&read);
    assert_eq!(
        facts.blocks[0].endorsed.as_ref().unwrap().value,
        Decimal::new(15, 1)
    );
    let after = balance(&facts, &[]);
    assert_eq!(after[0].exported, Decimal::new(15, 1));
}
