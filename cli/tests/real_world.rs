//! Real-world inputs: what MA systems, spreadsheets and national permit systems
//! actually hand over, run through the `ecites` binary as a user runs it. The fixtures under
//! `tests/fixtures/real-world/` are the reported cases; the siblings are built here from them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

use common::{ecites, ecites_with_stdin, text};

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real-world")
        .join(name)
}

fn read_case(name: &str) -> Vec<u8> {
    std::fs::read(case(name)).unwrap()
}

/// `ecites convert --to json` of bytes on stdin: (exit code, stdout as JSON, stderr).
fn to_json(from: &str, input: &[u8]) -> (Option<i32>, serde_json::Value, String) {
    let output = ecites_with_stdin(&["convert", "--to", "json", "--from", from, "-"], input);
    let json = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output.status.code(), json, text(&output.stderr))
}

use ecites_domain::testing::utf16;

// ---- item 4: character encodings -------------------------------------------------------------

/// The ISO-8859-1 case as Unicode text (its bytes are Latin-1).
fn latin1_case_text() -> String {
    read_case("xml-iso-8859-1-declared.xml")
        .iter()
        .map(|byte| char::from(*byte))
        .collect()
}

#[test]
fn xml_declared_iso_8859_1_converts_with_its_accented_names_intact() {
    let path = case("xml-iso-8859-1-declared.xml");
    for to in ["xml", "json"] {
        let output = ecites(&["convert", "--to", to, path.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let converted = String::from_utf8(output.stdout).expect("output is UTF-8");
        assert!(converted.contains("Société Reptiles Lagune"), "{converted}");
        assert!(
            converted.contains("Zoológico de Wonderland (Muñoz &"),
            "{converted}"
        );
        assert!(
            converted.contains("Autorité CITES de Neverland"),
            "{converted}"
        );
    }
}

#[test]
fn xml_in_utf16_either_byte_order_with_or_without_bom_and_windows_1252_reads_the_same() {
    let latin1 = latin1_case_text();
    let (_, expected, _) = to_json("xml", &read_case("xml-iso-8859-1-declared.xml"));
    assert!(expected.is_object(), "the Latin-1 case reads");
    let utf16_text = latin1.replace("encoding=\"ISO-8859-1\"", "encoding=\"UTF-16\"");
    let windows = latin1.replace("encoding=\"ISO-8859-1\"", "encoding=\"windows-1252\"");
    let undeclared_utf8 = latin1.replace(" encoding=\"ISO-8859-1\"", "");
    let mut inputs = vec![
        windows.chars().map(|c| c as u8).collect::<Vec<u8>>(),
        undeclared_utf8.clone().into_bytes(),
        [&b"\xEF\xBB\xBF"[..], undeclared_utf8.as_bytes()].concat(),
    ];
    for big_endian in [false, true] {
        for with_bom in [false, true] {
            inputs.push(utf16(&utf16_text, big_endian, with_bom));
        }
    }
    for (index, input) in inputs.iter().enumerate() {
        let (code, json, stderr) = to_json("auto", input);
        assert_eq!(code, Some(0), "input {index}: {stderr}");
        assert_eq!(json, expected, "input {index}");
    }
}

#[test]
fn an_encoding_declaration_that_contradicts_the_bytes_is_refused_with_exit_2() {
    let latin1 = latin1_case_text();
    // A UTF-16 byte order mark on a document that says it is ISO-8859-1.
    let contradicted = utf16(&latin1, false, true);
    let output = ecites_with_stdin(&["validate", "-"], &contradicted);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("ISO-8859-1") && stderr.contains("UTF-16LE"),
        "{stderr}"
    );
    // Declared UTF-8, but the names are Latin-1 bytes: says the encoding and the byte offset.
    let bytes = read_case("xml-iso-8859-1-declared.xml");
    let declared_utf8: Vec<u8> = String::from_utf8_lossy(&bytes)
        .replace("encoding=\"ISO-8859-1\"", "encoding=\"UTF-8\"")
        .chars()
        .map(|c| if c == '\u{fffd}' { 0xE9 } else { c as u8 })
        .collect();
    let first_bad = declared_utf8.iter().position(|b| *b >= 0x80).unwrap();
    let output = ecites_with_stdin(&["validate", "-"], &declared_utf8);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("not valid UTF-8") && stderr.contains(&format!("byte {first_bad}")),
        "{stderr}"
    );
}

// ---- item 5: values in child elements --------------------------------------------------------

#[test]
fn a_un_cefact_date_string_of_format_102_gives_valid_from_in_the_converted_permit() {
    let path = case("xml-datetimestring-102-optional-date-silently-dropped.xml");
    let output = ecites(&["convert", "--to", "json", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["valid_from"], "2026-11-20");
    let xml = ecites(&["convert", "--to", "xml", path.to_str().unwrap()]);
    assert!(text(&xml.stdout).contains("<ram:StartDateTime>2026-11-20</ram:StartDateTime>"));
}

#[test]
fn an_unknown_element_where_a_date_belongs_is_reported_by_validate_not_dropped() {
    let xml = String::from_utf8(read_case(
        "xml-datetimestring-102-optional-date-silently-dropped.xml",
    ))
    .unwrap()
    .replace("udt:DateTimeString format=\"102\"", "udt:DateString")
    .replace("</udt:DateTimeString>", "</udt:DateString>");
    let output = ecites_with_stdin(&["validate", "--format", "json", "-"], xml.as_bytes());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = report[0]["permits"][0]["findings"].as_array().unwrap();
    let finding = findings
        .iter()
        .find(|f| f["rule"] == "value-element-unknown")
        .unwrap_or_else(|| panic!("{findings:?}"));
    assert_eq!(finding["field"], "valid_from");
    assert_eq!(finding["permit_box"], "2");
    assert!(finding["path"]
        .as_str()
        .unwrap()
        .ends_with("/StartDateTime/DateString"));
}

// ---- items 6 and 7: spreadsheet CSV, line numbers --------------------------------------------

#[test]
fn excel_european_csv_converts_with_decimal_comma_quantities_and_says_what_was_assumed() {
    let path = case("csv-semicolon-decimal-comma.csv");
    let output = ecites(&["convert", "--to", "json", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json[1]["permit_number"], "26XA000612");
    assert_eq!(json[1]["blocks"][0]["quantity"]["value"], "0.35");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("csv-format-assumed")
            && stderr.contains("separator ';'")
            && stderr.contains("decimal comma"),
        "{stderr}"
    );
}

#[test]
fn excel_csv_in_windows_1252_or_utf16_tab_separated_reads_the_same_as_utf8() {
    let original = String::from_utf8(read_case("csv-semicolon-decimal-comma.csv"))
        .unwrap()
        .replace("Lagoon Leather Works", "Lederwerk Lagune Müller");
    let (code, expected, stderr) = to_json("csv", original.as_bytes());
    assert_eq!(code, Some(0), "{stderr}");
    let cp1252: Vec<u8> = original.chars().map(|c| c as u8).collect();
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in original.replace(';', "\t").encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    let bom_utf8 = [&b"\xEF\xBB\xBF"[..], original.as_bytes()].concat();
    for (label, input) in [
        ("windows-1252", cp1252),
        ("UTF-16LE", utf16),
        ("UTF-8", bom_utf8),
    ] {
        let (code, json, stderr) = to_json("auto", &input);
        assert_eq!(code, Some(0), "{label}: {stderr}");
        assert_eq!(json, expected, "{label}");
        assert!(stderr.contains(label), "{label}: {stderr}");
    }
}

#[test]
fn csv_flags_declare_separator_and_decimal_mark() {
    let input = b"permit_number;issuer_country;quantity\n1;XA;2,5\n";
    let output = ecites_with_stdin(
        &[
            "validate",
            "--format",
            "json",
            "--from",
            "csv",
            "--csv-delimiter",
            "semicolon",
            "--decimal-point",
            "-",
        ],
        input,
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = report[0]["permits"][0]["findings"].as_array().unwrap();
    let number = findings
        .iter()
        .find(|f| f["rule"] == "number-format")
        .unwrap_or_else(|| panic!("{findings:?}"));
    assert_eq!(number["field"], "blocks[0].quantity");
    let (code, json, stderr) = {
        let output = ecites_with_stdin(
            &[
                "convert",
                "--to",
                "json",
                "--from",
                "csv",
                "--decimal-comma",
                "-",
            ],
            input,
        );
        (
            output.status.code(),
            serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap_or_default(),
            text(&output.stderr),
        )
    };
    assert_eq!(code, Some(1), "invalid only for missing boxes: {stderr}");
    assert_eq!(json, serde_json::Value::Null);
    assert!(!stderr.contains("number-format"), "{stderr}");
}

#[test]
fn trailing_unnamed_empty_columns_are_ignored() {
    let path = case("csv-trailing-empty-columns.csv");
    let output = ecites(&["convert", "--to", "json", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    // Data in an unnamed column is refused, naming the line.
    let with_data = String::from_utf8(read_case("csv-trailing-empty-columns.csv"))
        .unwrap()
        .replacen("CUM,,,", "CUM,,forgotten,", 1);
    let output = ecites_with_stdin(&["validate", "--from", "csv", "-"], with_data.as_bytes());
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("forgotten"),
        "{stderr}"
    );
}

#[test]
fn a_bad_date_in_a_crlf_csv_names_its_true_line() {
    let path = case("csv-crlf-line-numbers.csv");
    let output = ecites(&["validate", "--format", "json", path.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let finding = report[0]["permits"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|permit| permit["findings"].as_array().unwrap())
        .find(|f| f["rule"] == "date-format")
        .cloned()
        .unwrap();
    assert_eq!(finding["path"], "CSV line 3, column valid_until");
}

// ---- items 10 and 11: one unreadable value, null ----------------------------------------------

#[test]
fn three_permits_with_php_style_offsets_all_convert() {
    let path = case("national/json-zoned-issue-times.json");
    let output = ecites(&["convert", "--to", "json", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let permits = json.as_array().unwrap();
    assert_eq!(permits.len(), 3);
    assert!(permits[2]["issue_date"]
        .as_str()
        .unwrap()
        .ends_with("+07:00"));
}

#[test]
fn an_unreadable_value_in_one_permit_of_an_array_leaves_the_others_readable() {
    let original: serde_json::Value =
        serde_json::from_slice(&read_case("national/json-zoned-issue-times.json")).unwrap();
    let mut broken = original.clone();
    broken[2]["issue_date"] = "20.11.2026 09:00".into();
    broken[0]["blocks"][0]["quantity"]["value"] = "twelve".into();
    let output = ecites_with_stdin(
        &["validate", "--format", "json", "-"],
        broken.to_string().as_bytes(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let permits = report[0]["permits"].as_array().unwrap();
    assert_eq!(permits.len(), 3);
    let rules_of = |index: usize| -> Vec<(String, String)> {
        permits[index]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["tier"] == "structure")
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().into(),
                    f["field"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    assert_eq!(
        rules_of(0),
        [("json-value".into(), "blocks[0].quantity.value".into())]
    );
    assert_eq!(rules_of(1), Vec::<(String, String)>::new());
    assert_eq!(permits[1]["valid"], true);
    assert_eq!(rules_of(2), [("date-format".into(), "issue_date".into())]);
}

#[test]
fn pydantic_style_nulls_are_absence() {
    let path = case("national/json-pydantic-nulls.json");
    let output = ecites(&["convert", "--to", "xml", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("CITESEPermit"));
}

// ---- item 8: folder conversion names ---------------------------------------------------------

/// Percent-decoding, as the README tells users to read the file names back.
fn unescape(stem: &str) -> String {
    let mut out = Vec::new();
    let mut rest = stem.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(&tail[..2]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            rest = &tail[2..];
        } else {
            out.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Every file under `dir` (recursively), relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                found.push(entry.path().strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn distinct_permit_numbers_get_distinct_reversible_file_names_inside_the_output_folder() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for name in ["a-slashes.json", "b-underscores.json"] {
        std::fs::copy(
            case(&format!("folder-permit-number-collision/{name}")),
            input.join(name),
        )
        .unwrap();
    }
    // Siblings: numbers that would climb out of the folder, hide, or break a file system.
    let template: serde_json::Value =
        serde_json::from_slice(&read_case("folder-permit-number-collision/a-slashes.json"))
            .unwrap();
    let hostile = [
        "..",
        "../../escaped",
        "/etc/passwd",
        "a\\b",
        "nul\u{0}x",
        ".hidden",
        "26%2FXA%2F0001",
    ];
    for (index, number) in hostile.iter().enumerate() {
        let mut permit = template.clone();
        permit["permit_number"] = (*number).into();
        std::fs::write(input.join(format!("h{index}.json")), permit.to_string()).unwrap();
    }
    let output_dir = work.path().join("out");
    let output = ecites(&[
        "convert",
        "--to",
        "xml",
        input.to_str().unwrap(),
        "-o",
        output_dir.to_str().unwrap(),
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("9 permits converted"), "{stderr}");
    // Nothing was written outside OUT.
    let outside: Vec<_> = files_under(work.path())
        .into_iter()
        .filter(|path| !path.starts_with("in") && !path.starts_with("out"))
        .collect();
    assert_eq!(outside, Vec::<PathBuf>::new());
    let written: Vec<String> = files_under(&output_dir.join("XA"))
        .iter()
        .map(|path| {
            assert_eq!(path.components().count(), 1, "{path:?}");
            let name = path.to_str().unwrap();
            assert!(!name.starts_with('.'), "{name}");
            unescape(name.strip_suffix(".xml").unwrap())
        })
        .collect();
    let mut expected: Vec<String> = ["26/XA/0001", "26_XA_0001"]
        .iter()
        .chain(hostile.iter())
        .map(|n| n.to_string())
        .collect();
    expected.sort();
    let mut written = written;
    written.sort();
    assert_eq!(written, expected);
}

// ---- item 12: regional and certificate-specific data -----------------------------------------

#[test]
fn the_eu_annex_is_kept_per_block_and_written_out_in_xml_and_json() {
    let path = case("national/csv-eu-annex-column.csv");
    let output = ecites(&["convert", "--to", "json", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["blocks"][0]["eu_annex"], "A");
    assert_eq!(json["blocks"][1]["eu_annex"], "B");
    let xml = ecites(&["convert", "--to", "xml", path.to_str().unwrap()]);
    let xml_text = text(&xml.stdout);
    assert_eq!(
        xml_text
            .matches("<ext:RegionalAnnexCode xmlns:ext=\"urn:ecites-exchange:extension:1\">")
            .count(),
        2,
        "{xml_text}"
    );
    // Reading the XML back keeps the Annex of each block.
    let again = ecites_with_stdin(
        &["convert", "--to", "json", "--from", "xml", "-"],
        &xml.stdout,
    );
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again, json);
}

#[test]
fn an_unknown_eu_annex_is_a_code_list_error_naming_the_block() {
    let csv = String::from_utf8(read_case("national/csv-eu-annex-column.csv"))
        .unwrap()
        .replacen(",II,A,C,", ",II,E,C,", 1);
    let output = ecites_with_stdin(
        &["validate", "--format", "json", "--from", "csv", "-"],
        csv.as_bytes(),
    );
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = report[0]["permits"][0]["findings"].as_array().unwrap();
    let finding = findings
        .iter()
        .find(|f| f["rule"] == "eu-annex-unknown")
        .unwrap();
    assert_eq!(finding["field"], "blocks[0].eu_annex");
}

#[test]
fn certificates_without_an_importer_by_nature_are_valid_without_one() {
    let path = case("national/json-musical-instrument-certificate-no-importer.json");
    let output = ecites(&["validate", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    let original: serde_json::Value = serde_json::from_slice(&read_case(
        "national/json-musical-instrument-certificate-no-importer.json",
    ))
    .unwrap();
    for (subtype, expected) in [
        ("Travelling exhibition certificate", Some(0)),
        ("personal-ownership certificate", Some(0)),
        ("Pre-Convention certificate", Some(1)),
    ] {
        let mut permit = original.clone();
        permit["document_subtype"] = subtype.into();
        let output = ecites_with_stdin(&["validate", "-"], permit.to_string().as_bytes());
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), expected, "{subtype}: {stdout}");
        assert_eq!(
            stdout.contains("importer-name-required"),
            expected == Some(1),
            "{stdout}"
        );
    }
}

// ---- item 9: silent guesses --------------------------------------------------------------------

#[test]
fn untyped_year_prefixed_references_go_to_their_countrys_box_and_the_inference_is_reported() {
    let path = case("national/xml-reexport-untyped-year-prefixed-refs.xml");
    let output = ecites(&["validate", "--format", "json", path.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = report[0]["permits"][0]["findings"].as_array().unwrap();
    let inferred: Vec<&str> = findings
        .iter()
        .filter(|f| f["rule"] == "reference-box-inferred")
        .map(|f| f["permit_box"].as_str().unwrap())
        .collect();
    assert_eq!(inferred.len(), 2, "{findings:?}");
    assert!(inferred.contains(&"12") && inferred.contains(&"12a"));
    let json = ecites(&["convert", "--to", "json", path.to_str().unwrap()]);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));
    let permit: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let block = &permit["blocks"][0];
    assert_eq!(block["origin"]["country"], "US");
    assert_eq!(block["origin"]["permit_number"], "25US812345");
    assert_eq!(block["last_reexport"]["country"], "DE");
    assert_eq!(block["last_reexport"]["permit_number"], "26DE004711");
    assert!(text(&json.stderr).contains("reference-box-inferred"));
}

// ---- also: a closed pipe ------------------------------------------------------------------------

/// Runs the binary with its standard output a pipe whose reading end is already closed, as in
/// `ecites ... | head` once head has exited.
#[cfg(unix)]
fn ecites_into_closed_pipe(args: &[&str]) -> Output {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills both descriptors on success (checked); each is owned exactly once.
    let (reader, writer) = unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0, "pipe(2)");
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    };
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_ecites"))
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("the ecites binary runs")
}

#[cfg(unix)]
#[test]
fn every_output_path_exits_quietly_when_stdout_is_a_closed_pipe() {
    use std::os::unix::process::ExitStatusExt;
    let csv = case("csv-crlf-line-numbers.csv");
    let xml = case("xml-iso-8859-1-declared.xml");
    let (csv, xml) = (csv.to_str().unwrap(), xml.to_str().unwrap());
    for args in [
        &["validate", "--format", "json", csv][..],
        &["validate", csv],
        &["convert", "--to", "xml", xml],
        &["convert", "--to", "json", xml],
        &["schema"],
        &["rules"],
        &["rules", "--format", "json"],
    ] {
        let output = ecites_into_closed_pipe(args);
        // Findings may go to stderr (convert); nothing about the pipe may.
        let stderr = text(&output.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        assert_eq!(
            output.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?}",
            output.status
        );
    }
}

// ---- one meaning per document ---------------------------------------------------

#[test]
fn an_xml_permit_that_could_mean_two_things_is_unreadable_naming_the_element() {
    let original = String::from_utf8(read_case(
        "xml-datetimestring-102-optional-date-silently-dropped.xml",
    ))
    .unwrap();
    let number_line = original
        .lines()
        .find(|line| line.trim_start().starts_with("<ram:ID>26"))
        .unwrap();
    let two_numbers = original.replacen(
        number_line,
        &format!("{number_line}\n    <ram:ID>26XA999999</ram:ID>"),
        1,
    );
    let trailing = format!("{original}<rsm:CITESEPermit/>");
    for (label, xml, expected) in [
        ("two header ids", two_numbers, "<ID> occurs a second time"),
        ("a second permit after the root", trailing, "second"),
    ] {
        let output = ecites_with_stdin(&["convert", "--to", "json", "-"], xml.as_bytes());
        assert_eq!(output.status.code(), Some(2), "{label}");
        assert!(output.stdout.is_empty(), "{label}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("ambiguous") || stderr.contains("not well-formed"),
            "{label}: {stderr}"
        );
        assert!(stderr.contains(expected), "{label}: {stderr}");
    }
}

#[test]
fn json_written_by_powershell_in_utf16_with_a_bom_reads_like_utf8() {
    let original = read_case("national/json-pydantic-nulls.json");
    let (code, expected, stderr) = to_json("auto", &original);
    assert_eq!(code, Some(0), "{stderr}");
    let utf16_json = utf16(std::str::from_utf8(&original).unwrap(), false, true);
    let (code, json, stderr) = to_json("auto", &utf16_json);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json, expected);
}
