//! UNEP-WCMC's checks of annual-report rows (`report::checks`): for every check of
//! `REPORT_CHECKS` a row that breaks it, against a clean row that passes every check; the
//! skipping rules (no checklist, no double reporting); and the rows of UNEP-WCMC's sample
//! uploads.

use ecites_domain::checklist::Checklist;
use ecites_domain::report::checks::{
    check_row, CheckContext, CheckLevel, RowFinding, REPORT_CHECKS,
};
use ecites_domain::report::{ReportRole, ReportRow};
use ecites_domain::CountryCode;
use std::collections::HashSet;
use std::sync::LazyLock;

/// A few taxa in the Species+ export's columns: animals and plants, a synonym, a split listing,
/// a genus-rank listing, a subspecies and a non-listed taxon.
const SPECIES_CSV: &str = "\
TaxonId,Kingdom,FullName,AuthorYear,RankName,CurrentListing,SynonymsWithAuthors,All_DistributionISOCodes
1,Animalia,Python regius,\"(Shaw, 1802)\",SPECIES,II,\"Boa regia Shaw, 1802\",\"BJ,CI,GH,TG\"
2,Animalia,Loxodonta africana,\"(Blumenbach, 1797)\",SPECIES,I/II,,\"BW,KE,NA,ZA,ZW\"
3,Animalia,Acipenser baerii,\"Brandt, 1869\",SPECIES,II,,\"CN,KZ,MN,RU\"
4,Animalia,Panthera leo persica,\"(Meyer, 1826)\",SUBSPECIES,I,,IN
5,Animalia,Canis lupus familiaris,\"Linnaeus, 1758\",SUBSPECIES,NC,,
6,Plantae,Phalaenopsis amabilis,(L.) Blume,SPECIES,II,,\"ID,MY,PH\"
7,Plantae,Aloe,,GENUS,II,,
";

static CHECKLIST: LazyLock<Checklist> = LazyLock::new(|| {
    Checklist::from_species_csv(SPECIES_CSV.as_bytes(), "2026-01-15").expect("a checklist")
});

fn country(code: &str) -> CountryCode {
    code.parse().expect("a country code")
}

/// Ghana's exporter report, with the checklist.
fn exporter() -> CheckContext<'static> {
    CheckContext {
        role: ReportRole::Exporter,
        reporter: country("GH"),
        checklist: Some(&CHECKLIST),
    }
}

/// Germany's importer report, with the checklist.
fn importer() -> CheckContext<'static> {
    CheckContext {
        role: ReportRole::Importer,
        reporter: country("DE"),
        checklist: Some(&CHECKLIST),
    }
}

/// Live wild ball pythons exported by Ghana (the reporter) to Germany: passes every check.
fn clean_row() -> ReportRow {
    ReportRow {
        appendix: "2".into(),
        species_name: "Python regius".into(),
        term_code: "LIV".into(),
        quantity: "10".into(),
        unit_code: "".into(),
        trading_partner: "DE".into(),
        country_of_origin: "".into(),
        import_permit: "".into(),
        export_permit: "GH-2025-0001".into(),
        origin_permit: "".into(),
        ifs_permit: "".into(),
        purpose_code: "T".into(),
        source_code: "W".into(),
        year: "2025".into(),
        permit: "GH/GH-2025-0001".into(),
        block: "A".into(),
    }
}

/// The clean row with `change` applied.
fn row(change: impl FnOnce(&mut ReportRow)) -> ReportRow {
    let mut row = clean_row();
    change(&mut row);
    row
}

/// Asserts that the row breaks exactly one check, `rule`, about `column`, at `level`.
fn expect_one(
    row: &ReportRow,
    context: &CheckContext<'_>,
    rule: &str,
    column: &str,
    level: CheckLevel,
) -> RowFinding {
    let findings = check_row(row, context);
    assert_eq!(findings.len(), 1, "expected only {rule}: {findings:#?}");
    let finding = findings.into_iter().next().unwrap();
    assert_eq!(
        (finding.rule, finding.column, finding.level),
        (rule, column, level),
        "{finding}"
    );
    assert_eq!(finding.permit, "GH/GH-2025-0001");
    assert_eq!(finding.block, "A");
    assert!(!finding.message.is_empty());
    finding
}

fn error(row: &ReportRow, rule: &str, column: &str) -> RowFinding {
    expect_one(row, &exporter(), rule, column, CheckLevel::Primary)
}

fn warning(row: &ReportRow, context: &CheckContext<'_>, rule: &str, column: &str) -> RowFinding {
    expect_one(row, context, rule, column, CheckLevel::Secondary)
}

// The clean rows.

#[test]
fn the_clean_row_passes_every_check() {
    assert_eq!(check_row(&clean_row(), &exporter()), vec![]);
}

#[test]
fn the_clean_row_passes_in_the_importer_report_of_its_partner() {
    let row = row(|r| r.trading_partner = "GH".into());
    assert_eq!(check_row(&row, &importer()), vec![]);
}

// Primary: required columns.

#[test]
fn a_row_without_trading_partner_is_an_error() {
    error(
        &row(|r| r.trading_partner.clear()),
        "report-trading-partner-present",
        "TradingPartner",
    );
}

#[test]
fn a_row_without_term_is_an_error() {
    error(
        &row(|r| r.term_code.clear()),
        "report-term-present",
        "TermCode",
    );
}

#[test]
fn a_row_without_species_name_is_an_error() {
    error(
        &row(|r| r.species_name = "  ".into()),
        "report-species-name-present",
        "SpeciesName",
    );
}

#[test]
fn a_row_without_appendix_is_an_error() {
    error(
        &row(|r| r.appendix.clear()),
        "report-appendix-present",
        "Appendix",
    );
}

#[test]
fn a_row_without_quantity_is_an_error() {
    error(
        &row(|r| r.quantity.clear()),
        "report-quantity-present",
        "Quantity",
    );
}

#[test]
fn a_row_without_year_is_an_error() {
    error(&row(|r| r.year.clear()), "report-year-present", "Year");
}

// Primary: numbers.

#[test]
fn a_quantity_that_is_not_a_plain_decimal_is_an_error() {
    for quantity in ["ten", "1,000", "-3", "1e3", ".5"] {
        let finding = error(
            &row(|r| r.quantity = quantity.into()),
            "report-quantity-numeric",
            "Quantity",
        );
        assert!(finding.message.contains(quantity), "{finding}");
    }
    assert_eq!(
        check_row(&row(|r| r.quantity = "0.25".into()), &exporter()),
        vec![]
    );
}

#[test]
fn a_year_with_letters_is_an_error() {
    error(
        &row(|r| r.year = "2O25".into()),
        "report-year-numeric",
        "Year",
    );
}

#[test]
fn a_year_of_two_digits_is_an_error() {
    error(
        &row(|r| r.year = "25".into()),
        "report-year-four-digits",
        "Year",
    );
    error(
        &row(|r| r.year = "20250".into()),
        "report-year-four-digits",
        "Year",
    );
}

// Primary: code lists.

#[test]
fn an_unknown_term_is_an_error_and_not_also_a_bad_pair() {
    let finding = error(
        &row(|r| r.term_code = "ZZZ".into()),
        "report-term-code",
        "TermCode",
    );
    assert_eq!(
        finding.to_string(),
        "error: permit GH/GH-2025-0001 block A: TermCode: \"ZZZ\" is not a CITES term code \
         (report-term-code)"
    );
}

#[test]
fn an_unknown_source_is_an_error() {
    error(
        &row(|r| r.source_code = "Z".into()),
        "report-source-code",
        "SourceCode",
    );
}

#[test]
fn an_unknown_purpose_is_an_error_and_not_also_a_bad_pair() {
    error(
        &row(|r| r.purpose_code = "K".into()),
        "report-purpose-code",
        "PurposeCode",
    );
}

#[test]
fn an_unknown_unit_is_an_error_and_not_also_a_bad_pair() {
    let finding = error(
        &row(|r| r.unit_code = "KGM".into()),
        "report-unit-code",
        "UnitCode",
    );
    assert!(finding.message.contains("\"KGM\""), "{finding}");
}

#[test]
fn a_trading_partner_that_is_not_a_country_code_is_an_error() {
    error(
        &row(|r| r.trading_partner = "DEU".into()),
        "report-trading-partner-code",
        "TradingPartner",
    );
}

#[test]
fn an_origin_that_is_not_a_country_code_is_an_error_and_skips_the_range_check() {
    error(
        &row(|r| r.country_of_origin = "China".into()),
        "report-origin-code",
        "CountryOfOrigin",
    );
}

#[test]
fn a_name_the_checklist_does_not_know_is_an_error_and_skips_the_taxon_checks() {
    let finding = error(
        &row(|r| {
            r.species_name = "Pythonus imaginarius".into();
            r.appendix = "1".into();
            r.source_code = "A".into();
        }),
        "report-taxon-name",
        "SpeciesName",
    );
    assert!(finding.message.contains("2026-01-15"), "{finding}");
}

#[test]
fn an_appendix_outside_1_2_3_n_is_an_error() {
    for appendix in ["4", "IV", "B", "ii"] {
        error(
            &row(|r| r.appendix = appendix.into()),
            "report-appendix-code",
            "Appendix",
        );
    }
}

// Secondary.

#[test]
fn an_appendix_the_taxon_is_not_listed_in_is_a_warning() {
    let finding = warning(
        &row(|r| r.appendix = "1".into()),
        &exporter(),
        "report-taxon-appendix",
        "Appendix",
    );
    assert!(finding.message.contains("Python regius"), "{finding}");
}

#[test]
fn a_split_listing_accepts_each_of_its_appendices_and_no_other() {
    let elephant = |appendix: &str| {
        row(|r| {
            r.species_name = "Loxodonta africana".into();
            r.appendix = appendix.into();
            r.source_code = "C".into();
        })
    };
    assert_eq!(check_row(&elephant("1"), &exporter()), vec![]);
    assert_eq!(check_row(&elephant("2"), &exporter()), vec![]);
    let finding = warning(
        &elephant("3"),
        &exporter(),
        "report-taxon-appendix",
        "Appendix",
    );
    assert!(finding.message.contains("1 or 2"), "{finding}");
}

#[test]
fn roman_appendices_are_the_same_appendices() {
    assert_eq!(
        check_row(&row(|r| r.appendix = "II".into()), &exporter()),
        vec![]
    );
    warning(
        &row(|r| r.appendix = "I".into()),
        &exporter(),
        "report-taxon-appendix",
        "Appendix",
    );
}

#[test]
fn appendix_n_agrees_with_a_taxon_that_is_not_listed_only() {
    let dog = row(|r| {
        r.species_name = "Canis lupus familiaris".into();
        r.appendix = "N".into();
        r.source_code = "C".into();
    });
    assert_eq!(check_row(&dog, &exporter()), vec![]);
    warning(
        &row(|r| r.appendix = "N".into()),
        &exporter(),
        "report-taxon-appendix",
        "Appendix",
    );
}

#[test]
fn a_synonym_is_a_known_name_checked_against_its_accepted_taxon() {
    assert_eq!(
        check_row(&row(|r| r.species_name = "Boa regia".into()), &exporter()),
        vec![]
    );
    warning(
        &row(|r| {
            r.species_name = "Boa regia Shaw, 1802".into();
            r.appendix = "3".into();
        }),
        &exporter(),
        "report-taxon-appendix",
        "Appendix",
    );
}

#[test]
fn a_species_of_a_genus_listed_at_genus_rank_is_known_and_not_range_checked() {
    let aloe = row(|r| {
        r.species_name = "Aloe imaginaria".into();
        r.source_code = "W".into();
    });
    assert_eq!(check_row(&aloe, &exporter()), vec![]);
}

#[test]
fn a_unit_the_term_is_not_reported_in_is_a_warning() {
    let finding = warning(
        &row(|r| r.unit_code = "SQM".into()),
        &exporter(),
        "report-term-unit-pair",
        "UnitCode",
    );
    assert!(finding.message.contains("LIV"), "{finding}");
    assert!(finding.message.contains("SQM"), "{finding}");
    let caviar_in_pieces = row(|r| {
        r.species_name = "Acipenser baerii".into();
        r.term_code = "CAV".into();
        r.unit_code = "PCS".into();
        r.source_code = "C".into();
    });
    warning(
        &caviar_in_pieces,
        &exporter(),
        "report-term-unit-pair",
        "UnitCode",
    );
}

#[test]
fn nar_and_an_empty_unit_are_both_a_number_of_specimens() {
    for unit in ["", "NAR", " NAR "] {
        assert_eq!(
            check_row(&row(|r| r.unit_code = unit.into()), &exporter()),
            vec![],
            "{unit:?}"
        );
    }
    // Caviar is reported by weight, never as a number of specimens.
    let caviar = |unit: &str| {
        row(|r| {
            r.species_name = "Acipenser baerii".into();
            r.term_code = "CAV".into();
            r.unit_code = unit.into();
            r.source_code = "C".into();
        })
    };
    assert_eq!(check_row(&caviar("KIL"), &exporter()), vec![]);
    for unit in ["", "NAR"] {
        warning(
            &caviar(unit),
            &exporter(),
            "report-term-unit-pair",
            "UnitCode",
        );
    }
}

#[test]
fn a_purpose_the_term_is_not_traded_for_is_a_warning() {
    let caviar_for_a_zoo = row(|r| {
        r.species_name = "Acipenser baerii".into();
        r.term_code = "CAV".into();
        r.unit_code = "KIL".into();
        r.source_code = "C".into();
        r.purpose_code = "Z".into();
    });
    let finding = warning(
        &caviar_for_a_zoo,
        &exporter(),
        "report-term-purpose-pair",
        "PurposeCode",
    );
    assert!(finding.message.contains("L, P, T"), "{finding}");
}

#[test]
fn a_known_term_with_no_line_in_the_purpose_table_is_a_warning_for_any_purpose() {
    // SAPI's table lists no purpose for PKY (piano keys).
    let piano_keys = row(|r| {
        r.species_name = "Loxodonta africana".into();
        r.appendix = "1".into();
        r.term_code = "PKY".into();
        r.source_code = "O".into();
    });
    let finding = warning(
        &piano_keys,
        &exporter(),
        "report-term-purpose-pair",
        "PurposeCode",
    );
    assert!(finding.message.contains("no purpose for PKY"), "{finding}");
    // Without a purpose there is no pair to check.
    let without_purpose = ReportRow {
        purpose_code: String::new(),
        ..piano_keys
    };
    assert_eq!(check_row(&without_purpose, &exporter()), vec![]);
}

#[test]
fn wild_specimens_from_an_origin_outside_the_range_are_a_warning() {
    let finding = warning(
        &row(|r| r.country_of_origin = "KE".into()),
        &exporter(),
        "report-wild-distribution",
        "CountryOfOrigin",
    );
    assert!(finding.message.contains("KE"), "{finding}");
}

#[test]
fn wild_specimens_exported_by_a_reporter_outside_the_range_are_a_warning() {
    let kenya = CheckContext {
        reporter: country("KE"),
        ..exporter()
    };
    warning(
        &clean_row(),
        &kenya,
        "report-wild-distribution",
        "SpeciesName",
    );
}

#[test]
fn wild_specimens_from_an_exporting_partner_outside_the_range_are_a_warning() {
    warning(
        &row(|r| r.trading_partner = "KE".into()),
        &importer(),
        "report-wild-distribution",
        "TradingPartner",
    );
}

#[test]
fn wild_subspecies_are_range_checked_and_other_sources_and_unknown_origins_are_not() {
    let lion = |source: &str| {
        row(|r| {
            r.species_name = "Panthera leo persica".into();
            r.appendix = "1".into();
            r.purpose_code = "Z".into();
            r.source_code = source.into();
        })
    };
    warning(
        &lion("W"),
        &exporter(),
        "report-wild-distribution",
        "SpeciesName",
    );
    assert_eq!(check_row(&lion("C"), &exporter()), vec![]);
    let unknown_origin = row(|r| r.country_of_origin = "XX".into());
    assert_eq!(check_row(&unknown_origin, &exporter()), vec![]);
}

#[test]
fn an_origin_that_is_the_exporter_is_a_warning() {
    warning(
        &row(|r| r.country_of_origin = "GH".into()),
        &exporter(),
        "report-exporter-origin",
        "CountryOfOrigin",
    );
    // In an importer's report the exporter is the trading partner.
    warning(
        &row(|r| {
            r.trading_partner = "GH".into();
            r.country_of_origin = "GH".into();
        }),
        &importer(),
        "report-exporter-origin",
        "CountryOfOrigin",
    );
}

#[test]
fn a_trading_partner_that_is_the_reporter_is_a_warning() {
    warning(
        &row(|r| r.trading_partner = "GH".into()),
        &exporter(),
        "report-exporter-importer",
        "TradingPartner",
    );
}

#[test]
fn an_animal_with_source_a_is_a_warning() {
    let finding = warning(
        &row(|r| r.source_code = "A".into()),
        &exporter(),
        "report-kingdom-source",
        "SourceCode",
    );
    assert!(finding.message.contains("an animal"), "{finding}");
}

#[test]
fn a_plant_with_source_c_is_a_warning() {
    let orchid = |source: &str| {
        row(|r| {
            r.species_name = "Phalaenopsis amabilis".into();
            r.trading_partner = "ID".into();
            r.source_code = source.into();
        })
    };
    let malaysia = CheckContext {
        reporter: country("MY"),
        ..exporter()
    };
    assert_eq!(check_row(&orchid("A"), &malaysia), vec![]);
    assert_eq!(check_row(&orchid("W"), &malaysia), vec![]);
    warning(
        &orchid("C"),
        &malaysia,
        "report-kingdom-source",
        "SourceCode",
    );
    warning(
        &orchid("R"),
        &malaysia,
        "report-kingdom-source",
        "SourceCode",
    );
}

// Skipping and reporting.

#[test]
fn without_a_checklist_the_taxon_checks_are_skipped() {
    let no_checklist = CheckContext {
        checklist: None,
        ..exporter()
    };
    let row = row(|r| {
        r.species_name = "Pythonus imaginarius".into();
        r.country_of_origin = "KE".into();
        r.source_code = "A".into();
    });
    assert_eq!(check_row(&row, &no_checklist), vec![]);
}

#[test]
fn a_row_breaking_several_checks_gets_one_finding_per_check_primary_first() {
    let row = row(|r| {
        r.trading_partner = "GH".into();
        r.year = "25".into();
        r.quantity = "a few".into();
        r.source_code = "A".into();
    });
    let findings = check_row(&row, &exporter());
    let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    assert_eq!(
        rules,
        [
            "report-quantity-numeric",
            "report-year-four-digits",
            "report-exporter-importer",
            "report-kingdom-source",
        ]
    );
}

#[test]
fn findings_display_level_permit_block_column_message_and_rule() {
    let finding = warning(
        &row(|r| r.trading_partner = "GH".into()),
        &exporter(),
        "report-exporter-importer",
        "TradingPartner",
    );
    let text = finding.to_string();
    assert!(
        text.starts_with("warning: permit GH/GH-2025-0001 block A: TradingPartner: "),
        "{text}"
    );
    assert!(text.ends_with(" (report-exporter-importer)"), "{text}");
    let json = serde_json::to_value(&finding).unwrap();
    assert_eq!(json["level"], "secondary");
    assert_eq!(json["rule"], "report-exporter-importer");
}

// The list of checks.

#[test]
fn report_check_ids_are_unique_and_named_report() {
    let mut seen = HashSet::new();
    for check in REPORT_CHECKS {
        assert!(seen.insert(check.id), "{} listed twice", check.id);
        assert!(check.id.starts_with("report-"), "{}", check.id);
        assert!(!check.columns.is_empty() && !check.description.is_empty());
        for column in check.columns {
            assert!(
                ecites_domain::report::columns(ReportRole::Importer).contains(column),
                "{}: {column}",
                check.id
            );
        }
    }
}

/// One row (and context) breaking each check.
fn breaking_rows() -> Vec<(ReportRow, CheckContext<'static>)> {
    let kenya = CheckContext {
        reporter: country("KE"),
        ..exporter()
    };
    let changes: Vec<fn(&mut ReportRow)> = vec![
        |r| r.trading_partner.clear(),
        |r| r.term_code.clear(),
        |r| r.species_name.clear(),
        |r| r.appendix.clear(),
        |r| r.quantity.clear(),
        |r| r.year.clear(),
        |r| r.quantity = "x".into(),
        |r| r.year = "x".into(),
        |r| r.year = "1".into(),
        |r| r.term_code = "ZZZ".into(),
        |r| r.source_code = "Z".into(),
        |r| r.purpose_code = "K".into(),
        |r| r.unit_code = "KGM".into(),
        |r| r.trading_partner = "DEU".into(),
        |r| r.country_of_origin = "China".into(),
        |r| r.species_name = "Pythonus imaginarius".into(),
        |r| r.appendix = "4".into(),
        |r| r.appendix = "1".into(),
        |r| r.unit_code = "SQM".into(),
        |r| r.term_code = "PKY".into(),
        |r| r.country_of_origin = "KE".into(),
        |r| r.country_of_origin = "GH".into(),
        |r| r.trading_partner = "GH".into(),
        |r| r.source_code = "A".into(),
        |r| {
            // Every value wrong at once.
            r.appendix = "IV".into();
            r.term_code = "BAD".into();
            r.quantity = "-1".into();
            r.unit_code = "?".into();
            r.year = "MMXXV".into();
        },
    ];
    let mut rows: Vec<_> = changes
        .into_iter()
        .map(|change| (row(change), exporter()))
        .collect();
    rows.push((clean_row(), kenya));
    rows.push((row(|r| r.trading_partner = "KE".into()), importer()));
    rows
}

#[test]
fn every_rule_a_finding_carries_is_a_listed_check_and_every_check_can_fire() {
    let mut fired = HashSet::new();
    for (row, context) in breaking_rows() {
        let findings = check_row(&row, &context);
        assert!(!findings.is_empty(), "{row:?} broke nothing");
        for finding in findings {
            let check = REPORT_CHECKS
                .iter()
                .find(|c| c.id == finding.rule)
                .unwrap_or_else(|| panic!("{} is not in REPORT_CHECKS", finding.rule));
            assert_eq!(finding.level, check.level, "{finding}");
            assert!(check.columns.contains(&finding.column), "{finding}");
            fired.insert(finding.rule);
        }
    }
    let unfired: Vec<&str> = REPORT_CHECKS
        .iter()
        .map(|c| c.id)
        .filter(|id| !fired.contains(id))
        .collect();
    assert!(unfired.is_empty(), "never fired: {unfired:?}");
}

#[test]
fn check_levels_display_as_error_and_warning_and_serialize_in_lower_case() {
    assert_eq!(CheckLevel::Primary.to_string(), "error");
    assert_eq!(CheckLevel::Secondary.to_string(), "warning");
    assert_eq!(
        serde_json::to_string(&CheckLevel::Primary).unwrap(),
        "\"primary\""
    );
    let back: CheckLevel = serde_json::from_str("\"secondary\"").unwrap();
    assert_eq!(back, CheckLevel::Secondary);
}

// UNEP-WCMC's sample uploads.

/// The rows of a sample upload, read by column name.
fn sample_rows(path: &std::path::Path) -> Vec<ReportRow> {
    let mut reader = csv::Reader::from_path(path).expect("a CSV");
    let headers = reader.headers().expect("a header").clone();
    reader
        .records()
        .enumerate()
        .map(|(line, record)| {
            let record = record.expect("a record");
            let get = |name: &str| {
                headers
                    .iter()
                    .position(|h| h == name)
                    .and_then(|at| record.get(at))
                    .unwrap_or("")
                    .to_owned()
            };
            ReportRow {
                appendix: get("Appendix"),
                species_name: get("SpeciesName"),
                term_code: get("TermCode"),
                quantity: get("Quantity"),
                unit_code: get("UnitCode"),
                trading_partner: get("TradingPartner"),
                country_of_origin: get("CountryOfOrigin"),
                import_permit: get("ImportPermit"),
                export_permit: get("ExportPermit"),
                origin_permit: get("OriginPermit"),
                ifs_permit: get("IFSPermit"),
                purpose_code: get("PurposeCode"),
                source_code: get("SourceCode"),
                year: get("Year"),
                permit: get("ExportPermit"),
                block: format!("line {}", line + 2),
            }
        })
        .collect()
}

#[test]
fn the_rows_of_unep_wcmc_sample_uploads_pass_the_primary_checks() {
    let samples =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/annual-report/");
    for (file, role) in [
        ("sapi-upload-sample-exporter.csv", ReportRole::Exporter),
        ("sapi-upload-sample-importer.csv", ReportRole::Importer),
    ] {
        let rows = sample_rows(&samples.join(file));
        assert!(!rows.is_empty(), "{file} has no row");
        for checklist in [None, Some(&*CHECKLIST)] {
            let context = CheckContext {
                role,
                reporter: country("DE"),
                checklist,
            };
            for row in &rows {
                let findings = check_row(row, &context);
                let errors: Vec<String> = findings
                    .iter()
                    .filter(|f| f.level == CheckLevel::Primary)
                    .map(ToString::to_string)
                    .collect();
                assert!(errors.is_empty(), "{file}: {errors:#?}");
                // Captive-bred and born-in-captivity caviar, correctly paired: no warning either.
                assert_eq!(findings, vec![], "{file}");
            }
        }
    }
}
