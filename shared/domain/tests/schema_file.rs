//! The published JSON Schema must be the one the model generates, or MA developers would
//! validate against a schema that disagrees with what we accept.

#[test]
fn committed_schema_file_matches_the_model() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/permit.schema.json");
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).expect("schema/permit.schema.json exists"),
    )
    .expect("the committed schema is JSON");
    assert!(
        committed == ecites_domain::json::json_schema(),
        "schema/permit.schema.json is stale: run `make schema` and commit the result"
    );
}

#[test]
fn committed_use_schema_file_matches_the_model() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/use.schema.json");
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).expect("schema/use.schema.json exists"),
    )
    .expect("the committed schema is JSON");
    assert!(
        committed == ecites_domain::usage::use_json_schema(),
        "schema/use.schema.json is stale: run `make schema` and commit the result"
    );
}
