//! The `ecites` binary, run as a user runs it: exit statuses, stdout and stderr.

use std::path::{Path, PathBuf};

mod common;

use common::{ecites, ecites_with_stdin, text};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn epix_sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/domain/tests/fixtures/epix/v2-get-non-final-cites-certificate.xml")
}

/// `ecites convert --to xml INPUT -o OUT`.
fn convert_folder(input: &Path, out: &Path) -> std::process::Output {
    ecites(&[
        "convert",
        "--to",
        "xml",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ])
}

fn invalid_permit_json() -> String {
    let valid = std::fs::read_to_string(fixture("export-permit.json")).unwrap();
    // Seven months of validity for an export permit, and a quantity of zero.
    valid
        .replace(
            "\"valid_until\": \"2025-08-31\"",
            "\"valid_until\": \"2025-10-01\"",
        )
        .replace("\"value\": \"25\"", "\"value\": \"0\"")
}

#[test]
fn convert_json_to_xml_writes_the_standard_xml_and_exits_0() {
    let output = ecites(&[
        "convert",
        "--to",
        "xml",
        fixture("export-permit.json").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let xml = text(&output.stdout);
    assert!(xml.contains("CITESEPermit"));
    assert!(xml.contains("urn:un:unece:uncefact:data:standard:CITESEPermit:2"));
    assert!(xml.contains("25XA000123"));
    assert!(xml.contains("Crocodylus niloticus"));
}

#[test]
fn converting_to_xml_and_back_to_json_gives_the_same_permit() {
    let xml = ecites(&[
        "convert",
        "--to",
        "xml",
        fixture("export-permit.json").to_str().unwrap(),
    ]);
    let json = ecites_with_stdin(
        &["convert", "--to", "json", "--from", "xml", "-"],
        &xml.stdout,
    );
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("export-permit.json")).unwrap())
            .unwrap();
    let round_tripped: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(round_tripped, original);
}

fn epix_v1_sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/domain/tests/fixtures/epix/v1-get-non-final-cites-certificate.xml")
}

/// `ecites convert --to json` of a file, as JSON.
fn json_of(path: &Path) -> serde_json::Value {
    let output = ecites(&["convert", "--to", "json", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn convert_and_validate_read_the_epix_v1_sample_as_the_v2_sample_but_for_the_marks() {
    let v1 = json_of(&epix_v1_sample());
    let mut v2 = json_of(&epix_sample());
    // The v2 sample's blocks carry the mark "XXX"; v1 has no element for marks.
    for block in v2["blocks"].as_array_mut().unwrap() {
        assert_eq!(block["marks"], serde_json::json!(["XXX"]));
        block.as_object_mut().unwrap().remove("marks");
    }
    assert_eq!(v1, v2);
    let validated = ecites(&["validate", epix_v1_sample().to_str().unwrap()]);
    let same = ecites(&["validate", epix_sample().to_str().unwrap()]);
    assert_eq!(validated.status.code(), same.status.code());
}

#[test]
fn convert_to_xml_v1_writes_a_cbfship_and_names_what_v1_cannot_carry() {
    let output = ecites(&["convert", "--to", "xml-v1", epix_sample().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let xml = text(&output.stdout);
    assert!(
        xml.contains("<rsm:CBFShip xmlns:rsm=\"urn:un:unece:uncefact:data:draft:CBFShip:1\""),
        "{xml}"
    );
    assert!(
        text(&output.stderr)
            .contains("toolkit v1 has no element for blocks[0].marks, blocks[1].marks"),
        "{}",
        text(&output.stderr)
    );
    let back = ecites_with_stdin(
        &["convert", "--to", "json", "--from", "xml", "-"],
        &output.stdout,
    );
    assert_eq!(back.status.code(), Some(0), "{}", text(&back.stderr));
    let back: serde_json::Value = serde_json::from_slice(&back.stdout).unwrap();
    assert_eq!(back, json_of(&epix_v1_sample()));
}

#[test]
fn converting_a_folder_to_xml_v1_names_each_permit_whose_values_v1_cannot_carry() {
    let input = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    // One permit with marks (v1 has no element for them), another without.
    std::fs::copy(epix_sample(), input.path().join("marked.xml")).unwrap();
    let plain = std::fs::read_to_string(epix_v1_sample())
        .unwrap()
        .replace(">XA000000<", ">XA000001<");
    std::fs::write(input.path().join("plain.xml"), plain).unwrap();
    let converted = ecites(&[
        "convert",
        "--to",
        "xml-v1",
        input.path().to_str().unwrap(),
        "-o",
        output.path().to_str().unwrap(),
    ]);
    let stderr = text(&converted.stderr);
    assert_eq!(converted.status.code(), Some(0), "{stderr}");
    let named: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("toolkit v1 has no element for"))
        .collect();
    assert_eq!(named.len(), 1, "{stderr}");
    assert!(
        named[0].starts_with("marked.xml: ")
            && named[0].contains("blocks[0].marks, blocks[1].marks: not written"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 permits written as toolkit v1 without values it has no element for"),
        "{stderr}"
    );
    assert!(stderr.contains("2 files: 2 permits converted"), "{stderr}");
}

#[test]
fn convert_reads_the_epix_sample_with_both_blocks_and_their_references() {
    let output = ecites(&["convert", "--to", "json", epix_sample().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let permit: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(permit["document_type"], "R");
    assert_eq!(permit["permit_number"], "XA000000");
    let blocks = permit["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0]["scientific_name"], "Alligator mississippiensis");
    assert_eq!(blocks[0]["origin"]["permit_number"], "XC12345");
    assert_eq!(blocks[0]["quantity"]["value"], "5");
    assert_eq!(blocks[0]["quantity"]["unit"], "PCS");
    assert_eq!(blocks[1]["scientific_name"], "Crocodylus siamensis");
    assert_eq!(
        blocks[1]["last_reexport"]["permit_number"],
        "FR1202501030-R"
    );
    assert_eq!(blocks[1]["last_reexport"]["country"], "FR");
}

#[test]
fn convert_of_an_invalid_permit_exits_1_with_findings_on_stderr_and_nothing_on_stdout() {
    let output = ecites_with_stdin(
        &["convert", "--to", "xml", "-"],
        invalid_permit_json().as_bytes(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let errors = text(&output.stderr);
    assert!(errors.contains("box 2"), "{errors}");
    assert!(errors.contains("box 11"), "{errors}");
}

#[test]
fn convert_of_unreadable_input_exits_2_naming_the_problem() {
    let output = ecites_with_stdin(&["convert", "--to", "xml", "-"], b"this is not a permit");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("unrecognised input"),
        "{}",
        text(&output.stderr)
    );
    let missing = ecites(&["convert", "--to", "xml", "/nonexistent/permit.xml"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn convert_refuses_a_document_type_declaration() {
    let attack = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><CITESEPermit>&lol2;</CITESEPermit>"#;
    let output = ecites_with_stdin(&["convert", "--to", "json", "-"], attack);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("DOCTYPE"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_csv_with_several_permits_converts_to_a_json_array_but_not_to_one_xml_document() {
    let csv = fixture("two-permits.csv");
    let json = ecites(&["convert", "--to", "json", csv.to_str().unwrap()]);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));
    let permits: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let permits = permits.as_array().unwrap();
    assert_eq!(permits.len(), 2);
    assert_eq!(permits[0]["blocks"].as_array().unwrap().len(), 2);
    assert_eq!(permits[1]["permit_number"], "25XA000201");

    let xml = ecites(&["convert", "--to", "xml", csv.to_str().unwrap()]);
    assert_eq!(xml.status.code(), Some(2));
    assert!(xml.stdout.is_empty());
    assert!(
        text(&xml.stderr).contains("holds 2 permits"),
        "{}",
        text(&xml.stderr)
    );
}

#[test]
fn validate_prints_json_findings_and_exits_with_the_worst_status() {
    let dir = tempfile::tempdir().unwrap();
    let invalid = dir.path().join("invalid.json");
    std::fs::write(&invalid, invalid_permit_json()).unwrap();
    let valid = fixture("export-permit.json");
    let output = ecites(&[
        "validate",
        "--format",
        "json",
        valid.to_str().unwrap(),
        invalid.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report[0]["valid"], true);
    assert_eq!(report[1]["valid"], false);
    let findings = report[1]["permits"][0]["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["severity"] == "error"
        && f["permit_box"] == "2"
        && f["field"] == "valid_until"));
    assert!(findings
        .iter()
        .any(|f| f["severity"] == "error" && f["permit_box"] == "11"));

    let garbage = dir.path().join("garbage.xml");
    std::fs::write(&garbage, "<not-closed").unwrap();
    let with_unreadable = ecites(&[
        "validate",
        valid.to_str().unwrap(),
        garbage.to_str().unwrap(),
    ]);
    assert_eq!(with_unreadable.status.code(), Some(2));
    assert!(text(&with_unreadable.stdout).contains("XA/25XA000123 valid"));
    assert!(text(&with_unreadable.stderr).contains("garbage.xml: cannot be read"));
}

#[test]
fn folder_conversion_writes_one_file_per_permit_and_a_rejection_log() {
    let input = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("export-permit.json"),
        input.path().join("good permit.json"),
    )
    .unwrap();
    std::fs::create_dir(input.path().join("2014")).unwrap();
    std::fs::copy(epix_sample(), input.path().join("2014/epix.xml")).unwrap();
    std::fs::write(input.path().join("bad.json"), invalid_permit_json()).unwrap();
    std::fs::write(input.path().join("notes.txt"), "not a permit").unwrap();

    let out = output.path().join("out");
    let run = || convert_folder(input.path(), &out);
    let first = run();
    assert_eq!(first.status.code(), Some(2), "{}", text(&first.stderr));
    assert!(out.join("XA/25XA000123.xml").is_file());
    assert!(out.join("XA/XA000000.xml").is_file());
    let summary = text(&first.stderr);
    assert!(
        summary.contains("4 files: 2 permits converted"),
        "{summary}"
    );
    assert!(summary.contains("1 rejected, 1 unreadable"), "{summary}");
    let log = std::fs::read_to_string(out.join("rejected.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
    assert!(log.contains("bad.json") && log.contains("notes.txt"));

    let again = run();
    assert!(
        text(&again.stderr).contains("0 permits converted, 2 already converted"),
        "{}",
        text(&again.stderr)
    );
}

/// The parallel folder conversion gives what converting the files one by one gave: every permit's
/// file is the canonical XML of its input (the same bytes as `xml::write_permit`), a permit seen
/// twice with the same content is "already converted", one seen twice with a different content
/// is refused with the same reason, and the summary and the rejection log count the same, over
/// more files than one batch holds.
#[test]
fn folder_conversion_over_many_batches_gives_the_one_by_one_output_and_reports() {
    use ecites_domain::{json, xml};
    let input = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    let template: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("export-permit.json")).unwrap())
            .unwrap();
    let mut expected = std::collections::BTreeMap::new();
    // 700 files in three folders; 50 of them repeat an earlier permit with the same content.
    for index in 0..700 {
        let mut permit = template.clone();
        let number = format!("25XA{:07}", index % 650);
        permit["permit_number"] = number.clone().into();
        let folder = input.path().join(format!("{:02}", index / 250));
        std::fs::create_dir_all(&folder).unwrap();
        let bytes = serde_json::to_vec(&permit).unwrap();
        std::fs::write(folder.join(format!("p{index}.json")), &bytes).unwrap();
        let decoded = json::read_permits(&bytes).unwrap().remove(0);
        expected.insert(number, xml::write_permit(&decoded.permit));
    }
    // Five files repeat a permit number with a different content.
    let mut conflicting = std::collections::BTreeSet::new();
    std::fs::create_dir(input.path().join("other")).unwrap();
    for index in 0..5 {
        let mut permit = template.clone();
        let number = format!("25XA{:07}", index * 101);
        permit["permit_number"] = number.clone().into();
        permit["security_stamp"] = "SS-OTHER".into();
        std::fs::write(
            input.path().join(format!("other/o{index}.json")),
            serde_json::to_vec(&permit).unwrap(),
        )
        .unwrap();
        conflicting.insert(number);
    }
    std::fs::write(input.path().join("bad.json"), invalid_permit_json()).unwrap();
    std::fs::write(input.path().join("notes.txt"), "not a permit").unwrap();

    let out = output.path().join("out");
    let run = || convert_folder(input.path(), &out);
    let rejections = || {
        let log = std::fs::read_to_string(out.join("rejected.jsonl")).unwrap();
        let mut lines: Vec<serde_json::Value> = log
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        lines.sort_by_key(|line| line["permit"].to_string());
        lines
    };

    let first = run();
    assert_eq!(first.status.code(), Some(2), "{}", text(&first.stderr));
    let stderr = text(&first.stderr);
    assert!(
        stderr.contains(
            "707 files: 650 permits converted, 50 already converted (unchanged), 6 rejected, 1 unreadable; reasons in "
        ),
        "{stderr}"
    );
    let mut written = std::fs::read_dir(out.join("XA"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect::<Vec<_>>();
    written.sort();
    assert_eq!(written.len(), 650);
    for path in &written {
        let number = path.file_stem().unwrap().to_str().unwrap();
        let content = std::fs::read_to_string(path).unwrap();
        if !conflicting.contains(number) {
            assert_eq!(content, expected[number], "{}", path.display());
        }
    }
    let log = rejections();
    assert_eq!(log.len(), 7, "{log:?}");
    let already_written = "(the same permit number in two files with different content)";
    let refused: Vec<&str> = log
        .iter()
        .filter(|line| line["reasons"].to_string().contains(already_written))
        .filter_map(|line| line["permit"].as_str())
        .collect();
    assert_eq!(
        refused,
        conflicting
            .iter()
            .map(|number| format!("XA/{number}"))
            .collect::<Vec<_>>()
    );
    assert!(log
        .iter()
        .any(|line| line["file"] == "bad.json" && line["permit"] == "XA/25XA000123"));
    assert!(log
        .iter()
        .any(|line| line["file"] == "notes.txt" && line["permit"].is_null()));
    assert!(stderr.contains("notes.txt: rejected: "), "{stderr}");
    assert!(stderr.contains("bad.json: rejected: "), "{stderr}");

    // Again: nothing new, the same refusals.
    let again = run();
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains(
            "707 files: 0 permits converted, 700 already converted (unchanged), 6 rejected, 1 unreadable"
        ),
        "{stderr}"
    );
    assert_eq!(rejections().len(), 7);
}

fn checklist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/domain/tests/fixtures/species/Index_of_CITES_Species_2026-11-01_0930.csv")
}

#[test]
fn species_runs_the_listing_tier_in_validate_and_convert() {
    let species = checklist();
    let species = species.to_str().unwrap();
    let parrots = fixture("grey-parrots-declared-appendix-ii.json");
    let parrots = parrots.to_str().unwrap();
    // Without a checklist the permit is valid: the listing tier does not run.
    assert_eq!(ecites(&["validate", parrots]).status.code(), Some(0));
    let output = ecites(&[
        "validate",
        "--format",
        "json",
        "--species",
        species,
        parrots,
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report = text(&output.stdout);
    assert!(report.contains("listing-appendix-mismatch"), "{report}");
    assert!(report.contains("listing-outside-range"), "{report}");
    let output = ecites(&["convert", "--to", "xml", "--species", species, parrots]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.stdout.is_empty(),
        "an invalid permit is not converted"
    );
    // The compact form works the same, and a consistent permit stays valid.
    let dir = tempfile::tempdir().unwrap();
    let compact = dir.path().join("species.json");
    let imported = ecites(&[
        "species",
        "import",
        "--out",
        compact.to_str().unwrap(),
        species,
    ]);
    assert_eq!(
        imported.status.code(),
        Some(0),
        "{}",
        text(&imported.stderr)
    );
    let compact = compact.to_str().unwrap();
    assert_eq!(
        ecites(&["validate", "--species", compact, parrots])
            .status
            .code(),
        Some(1)
    );
    let good = fixture("export-permit.json");
    assert_eq!(
        ecites(&["validate", "--species", compact, good.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn an_unusable_species_file_is_exit_2_naming_the_problem() {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let good = fixture("export-permit.json");
    let output = ecites(&[
        "validate",
        "--species",
        readme.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("TaxonId"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn rules_lists_every_annual_report_check_with_its_level_and_columns() {
    let output = ecites(&["rules", "--format", "json"]);
    assert!(output.status.success());
    let rules: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let listed: Vec<&serde_json::Value> = rules
        .as_array()
        .unwrap()
        .iter()
        .filter(|rule| rule["tier"] == "report")
        .collect();
    assert_eq!(
        listed.len(),
        ecites_domain::report::checks::REPORT_CHECKS.len()
    );
    let unit = listed
        .iter()
        .find(|rule| rule["id"] == "report-unit-code")
        .expect("the unit check");
    assert_eq!(unit["severity"], "error");
    assert_eq!(unit["columns"], serde_json::json!(["UnitCode"]));
    let human = text(&ecites(&["rules"]).stdout);
    assert!(human.contains("report-term-unit-pair"), "{human}");
}

#[test]
fn replay_takes_one_selection_and_since_only_with_one() {
    // Both selections at once, or --since for the DLQ replay: refused before any AWS call.
    for args in [
        &["replay", "--failed", "XB", "--no-partner", "XC"][..],
        &["replay", "--since", "2026-11-30"][..],
    ] {
        let output = ecites(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("--failed") || stderr.contains("--no-partner"),
            "{args:?}: {stderr}"
        );
    }
}
