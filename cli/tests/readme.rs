//! The README documents the JSON form field by field and the CSV form column by column; these
//! tests keep it true when the model grows.

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap()
}

#[test]
fn every_csv_column_is_documented_in_the_readme() {
    let readme = readme();
    for column in ecites_domain::csv_form::COLUMNS {
        assert!(
            readme.contains(&format!("`{}`", column.name)),
            "README lacks CSV column {}",
            column.name
        );
    }
}

#[test]
fn every_permit_and_block_field_of_the_json_form_is_documented_in_the_readme() {
    let readme = readme();
    let schema = ecites_domain::json::json_schema();
    let fields = |properties: &serde_json::Value| {
        properties
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    let mut all = fields(&schema["properties"]);
    all.extend(fields(&schema["$defs"]["Block"]["properties"]));
    all.extend(fields(&schema["$defs"]["Address"]["properties"]));
    for field in all {
        assert!(
            readme.contains(&format!("`{field}`")),
            "README lacks JSON field {field}"
        );
    }
}

#[test]
fn every_validation_rule_is_listed_in_the_readme() {
    let readme = readme();
    for rule in ecites_domain::validate::RULES {
        assert!(
            readme.contains(&format!("`{}`", rule.id)),
            "README lacks rule {}",
            rule.id
        );
    }
}

#[test]
fn the_annual_report_doc_names_every_column_of_the_upload_format() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/annual-report.md"
    ))
    .unwrap();
    for role in [
        ecites_domain::report::ReportRole::Exporter,
        ecites_domain::report::ReportRole::Importer,
    ] {
        for column in ecites_domain::report::columns(role) {
            assert!(
                doc.contains(&format!("| {column} |")),
                "docs/annual-report.md lacks column {column}"
            );
        }
    }
}
