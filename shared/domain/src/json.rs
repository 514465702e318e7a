//! The JSON form of a permit: the [`Permit`] model through serde, field names in snake_case.
//!
//! It is the form we recommend to MA developers whose systems do not produce the standard XML:
//! `schema/permit.schema.json` (generated from the model by [`json_schema`], so it cannot drift)
//! lets them validate their output before sending it. An input may hold one permit (an object)
//! or several (an array of objects).
//!
//! Errors name the field by its full path (`blocks[1].quantity.value`), because "invalid type at
//! line 1 column 812" does not help a developer find the mistake in a generated document.

use crate::{Decoded, Error, Finding, Permit, Severity, Tier};
use serde_json::Value;

/// The most values of one permit that are reported unreadable before the permit is refused as a
/// whole (each costs one more pass over the permit).
const MAX_UNREADABLE_VALUES: usize = 64;

/// Reads one permit or an array of permits from the JSON form.
///
/// - `null` is absence, everywhere (Python's pydantic and many other serialisers write `null`
///   for every absent value, lists and objects included).
/// - A value that cannot be read (a date that is not a date, a quantity that is not a number) is
///   a structure finding on its own permit, naming the field; the value is left empty and the
///   other permits of an array go through. Rule `date-format` for dates, `json-value` otherwise.
///
/// Errors: the input is not JSON (with line and column), or a permit has a field the form does
/// not know (a typo must not drop a box), is not an object, or has more than 64 unreadable
/// values ([`Error::JsonPermit`], naming the permit and the field).
pub fn read_permits(bytes: &[u8]) -> Result<Vec<Decoded>, Error> {
    let bytes = crate::text::decode_json(bytes)?;
    // Fast path, for the common well-formed input: straight into the model. Anything it cannot
    // take (a null list, an unreadable value, a syntax error) goes the careful way below, which
    // gives the same permits for what the fast path reads.
    if let Some(permits) = read_directly(&bytes) {
        return Ok(permits);
    }
    let mut value: Value = parse(&bytes)?;
    strip_nulls(&mut value);
    match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(index, item)| read_one(item, Some(index)))
            .collect(),
        item => Ok(vec![read_one(item, None)?]),
    }
}

/// The permits, when the input reads straight into the model with nothing to report.
fn read_directly(bytes: &[u8]) -> Option<Vec<Decoded>> {
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace())?;
    let permits: Vec<Permit> = if *first == b'[' {
        serde_json::from_slice(bytes).ok()?
    } else {
        vec![serde_json::from_slice(bytes).ok()?]
    };
    if permits
        .iter()
        .any(|permit| permit.blocks.len() > crate::model::MAX_BLOCKS)
    {
        return None;
    }
    Some(
        permits
            .into_iter()
            .map(|permit| Decoded {
                permit,
                findings: Vec::new(),
            })
            .collect(),
    )
}

/// Removes every `null` member of every object: the JSON form reads `null` as absent.
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(members) => {
            members.retain(|_, member| !member.is_null());
            members.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Reads one permit; each unreadable value becomes a finding and is removed, then it is read
/// again, until it reads or a problem is not a value's.
fn read_one(mut value: Value, index: Option<usize>) -> Result<Decoded, Error> {
    let refuse = |message: String| Error::JsonPermit {
        index: index.map(|index| index + 1),
        message,
    };
    let blocks = value
        .get("blocks")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if blocks > crate::model::MAX_BLOCKS {
        return Err(Error::TooManyBlocks {
            limit: crate::model::MAX_BLOCKS,
            at: Some(match index {
                Some(index) => format!("the JSON array's permit {}", index + 1),
                None => "the JSON permit".to_owned(),
            }),
        });
    }
    let mut findings = Vec::new();
    for _ in 0..=MAX_UNREADABLE_VALUES {
        let error = match serde_path_to_error::deserialize::<_, Permit>(&value) {
            Ok(permit) => return Ok(Decoded { permit, findings }),
            Err(error) => error,
        };
        let path: Vec<serde_path_to_error::Segment> = error.path().iter().cloned().collect();
        let field = error.path().to_string();
        let message = error.into_inner().to_string();
        let structural = message.starts_with("unknown field") || path.is_empty();
        if structural {
            return Err(refuse(if path.is_empty() {
                message
            } else {
                format!("field `{field}`: {message}")
            }));
        }
        // "missing field `value`" means an unreadable value was removed from inside: the
        // enclosing object is what cannot stand, and it was already reported.
        let already_reported = message.starts_with("missing field")
            && findings
                .iter()
                .any(|finding: &Finding| finding.field.starts_with(&field));
        if !remove(&mut value, &path) {
            return Err(refuse(format!("field `{field}`: {message}")));
        }
        if !already_reported {
            let rule = if message.contains("ISO 8601") {
                "date-format"
            } else {
                "json-value"
            };
            findings.push(Finding::new(
                Severity::Error,
                Tier::Structure,
                rule,
                field.clone(),
                match index {
                    Some(index) => format!("JSON [{index}].{field}"),
                    None => format!("JSON {field}"),
                },
                box_of(&field),
                format!("field `{field}`: {message}; it was left empty"),
            ));
        }
    }
    Err(refuse(format!(
        "more than {MAX_UNREADABLE_VALUES} values cannot be read"
    )))
}

/// Removes the value at `path`; false when there is nothing to remove.
fn remove(value: &mut Value, path: &[serde_path_to_error::Segment]) -> bool {
    use serde_path_to_error::Segment;
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut target = value;
    for segment in parents {
        target = match (segment, target) {
            (Segment::Map { key }, Value::Object(members)) => match members.get_mut(key) {
                Some(member) => member,
                None => return false,
            },
            (Segment::Seq { index }, Value::Array(items)) => match items.get_mut(*index) {
                Some(item) => item,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, target) {
        (Segment::Map { key }, Value::Object(members)) => members.remove(key).is_some(),
        (Segment::Seq { index }, Value::Array(items)) if *index < items.len() => {
            items.remove(*index);
            true
        }
        _ => false,
    }
}

/// The permit box of a JSON field path (`blocks[1].quantity.value` is box 11).
fn box_of(field: &str) -> &'static str {
    let in_block = field.starts_with("blocks[");
    let name = if in_block {
        field.split_once("].").map_or("", |(_, rest)| rest)
    } else {
        field
    };
    let head = name.split(['.', '[']).next().unwrap_or("");
    match (in_block, head) {
        (false, "document_type" | "document_subtype" | "permit_number") => "1",
        (false, "valid_from" | "valid_until") => "2",
        (false, "importer") => "3",
        (false, "exporter") => "4",
        (false, "special_conditions") => "5",
        (false, "purpose" | "purpose_text") => "5a",
        (false, "security_stamp") => "5b",
        (false, "issuing_authority") => "6",
        (false, "issue_place" | "issue_date" | "signatory") => "13",
        (false, "export_endorsement") => "14",
        (false, "transport_document") => "15",
        (true, "scientific_name" | "id") => "7",
        (true, "common_name") => "8",
        (true, "description" | "marks" | "term") => "9",
        (true, "appendix" | "source") => "10",
        (true, "quantity") => "11",
        (true, "quota") => "11a",
        (true, "origin") => "12",
        (true, "last_reexport") => "12a",
        (true, "operation_number" | "acquisition_date") => "12b",
        (true, "endorsement") => "14",
        _ => "",
    }
}

/// Writes one permit in the JSON form, pretty-printed (for people and diffs).
pub fn write_permit(permit: &Permit) -> String {
    // Serializing the model cannot fail: every map key is a string and every value serializable.
    serde_json::to_string_pretty(permit).unwrap_or_default()
}

/// The JSON Schema (draft 2020-12) of the JSON form of a permit.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(Permit);
    schema.insert(
        "$id".to_owned(),
        "https://github.com/ecites-exchange/ecites-exchange/schema/permit.schema.json".into(),
    );
    schema.insert(
        "title".to_owned(),
        "CITES permit (ecites-exchange JSON form)".into(),
    );
    let mut schema = schema.to_value();
    allow_null_for_optional_properties(&mut schema);
    schema
}

/// The reader takes `null` as absence ([`read_permits`]), so every property that may be absent
/// (every one not `required`) also allows `null` in the schema.
fn allow_null_for_optional_properties(schema: &mut Value) {
    let Value::Object(object) = schema else {
        if let Value::Array(items) = schema {
            items
                .iter_mut()
                .for_each(allow_null_for_optional_properties);
        }
        return;
    };
    let required: Vec<String> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        for (name, property) in properties.iter_mut() {
            if !required.contains(name) {
                allow_null(property);
            }
        }
    }
    for (_, child) in object.iter_mut() {
        allow_null_for_optional_properties(child);
    }
}

fn allow_null(property: &mut Value) {
    let Value::Object(object) = property else {
        return;
    };
    let null = serde_json::json!({"type": "null"});
    if let Some(Value::Array(any_of)) = object.get_mut("anyOf") {
        if !any_of.contains(&null) {
            any_of.push(null);
        }
    } else if let Some(kind) = object.get_mut("type") {
        match kind {
            Value::String(single) if single != "null" => {
                *kind = serde_json::json!([single.clone(), "null"]);
            }
            Value::Array(kinds) if !kinds.contains(&Value::from("null")) => {
                kinds.push("null".into());
            }
            _ => {}
        }
    } else if let Some(reference) = object.remove("$ref") {
        object.insert(
            "anyOf".to_owned(),
            serde_json::json!([{"$ref": reference}, {"type": "null"}]),
        );
    }
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = if path.is_empty() || path == "." {
            inner.to_string()
        } else {
            format!("field `{path}`: {inner}")
        };
        Error::Json {
            line: inner.line(),
            column: inner.column(),
            message,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_value_is_a_finding_with_the_field_path_and_box_on_its_own_permit() {
        let input = br#"{"permit_number": "X1", "blocks": [{"id": "A"}, {"id": "B", "quantity": {"value": "lots"}}]}"#;
        let decoded = read_permits(input).unwrap().remove(0);
        assert_eq!(decoded.permit.permit_number, "X1");
        assert_eq!(decoded.permit.blocks[1].quantity, None);
        assert_eq!(decoded.findings.len(), 1, "{:?}", decoded.findings);
        let finding = &decoded.findings[0];
        assert_eq!(finding.field, "blocks[1].quantity.value");
        assert_eq!(finding.rule, "json-value");
        assert_eq!(finding.permit_box.as_deref(), Some("11"));
        assert!(finding.is_error());
    }

    #[test]
    fn one_unreadable_date_costs_only_its_own_permit_a_finding() {
        let input = br#"[{"permit_number": "A1", "issue_date": "2026-11-20T09:00:00+0700"},
                         {"permit_number": "A2", "issue_date": "20.11.2026"},
                         {"permit_number": "A3", "valid_until": "2027-05-19"}]"#;
        let permits = read_permits(input).unwrap();
        assert_eq!(permits.len(), 3);
        assert!(permits[0].findings.is_empty());
        assert_eq!(
            permits[0].permit.issue_date.unwrap().to_string(),
            "2026-11-20T09:00:00+07:00"
        );
        assert_eq!(permits[1].permit.issue_date, None);
        let rules: Vec<_> = permits[1]
            .findings
            .iter()
            .map(|f| (f.rule.as_str(), f.field.as_str(), f.permit_box.as_deref()))
            .collect();
        assert_eq!(rules, [("date-format", "issue_date", Some("13"))]);
        assert_eq!(permits[1].findings[0].path, "JSON [1].issue_date");
        assert!(permits[2].findings.is_empty());
    }

    #[test]
    fn null_is_absence_for_every_kind_of_field() {
        let input = br#"{"document_type": "E", "document_subtype": null, "permit_number": "N1",
            "special_conditions": null, "references": null, "importer": null,
            "exporter": {"id": null, "name": "X", "address": null},
            "issuing_authority": {"name": "MA", "address": {"street": null, "country": "XA"}},
            "blocks": [{"id": "A", "marks": null, "quantity": {"value": "1", "unit": null}, "origin": null}]}"#;
        let decoded = read_permits(input).unwrap().remove(0);
        assert!(decoded.findings.is_empty());
        let permit = &decoded.permit;
        assert_eq!(permit.id().unwrap().to_string(), "XA/N1");
        assert!(permit.special_conditions.is_empty() && permit.importer.is_none());
        assert_eq!(permit.exporter.as_ref().unwrap().name.as_deref(), Some("X"));
        assert_eq!(permit.blocks[0].quantity.as_ref().unwrap().unit, None);
        let nothing = read_permits(br#"{"permit_number": null, "blocks": null}"#).unwrap();
        assert_eq!(nothing[0].permit, Permit::default());
    }

    #[test]
    fn an_unknown_field_is_refused_rather_than_silently_dropped() {
        let error =
            read_permits(br#"{"permit_number": "X1", "exporter_nmae": "typo"}"#).unwrap_err();
        assert!(error.to_string().contains("exporter_nmae"), "{error}");
    }

    #[test]
    fn an_array_holds_several_permits_and_quantities_may_be_numbers_or_strings() {
        let input = br#"[{"permit_number": "A1", "blocks": [{"id": "A", "quantity": {"value": 2.5, "unit": "KIL"}}]},
                         {"permit_number": "A2", "blocks": [{"id": "A", "quantity": {"value": "10"}}]}]"#;
        let permits = read_permits(input).unwrap();
        assert_eq!(permits.len(), 2);
        let quantity = permits[0].permit.blocks[0].quantity.as_ref().unwrap();
        assert_eq!(quantity.value.to_string(), "2.5");
        assert_eq!(permits[1].permit.permit_number, "A2");
    }

    #[test]
    fn writing_and_reading_the_json_form_gives_back_the_same_permit() {
        let input = br#"{"document_type": "E", "permit_number": "24XA0001", "purpose": "T",
            "valid_until": "2025-06-30", "issuing_authority": {"name": "MA", "address": {"country": "XA"}},
            "blocks": [{"id": "A", "scientific_name": "Python regius", "term": "LIV", "appendix": "II",
                        "source": "C", "quantity": {"value": "12"}}]}"#;
        let permit = read_permits(input).unwrap().remove(0).permit;
        let again = read_permits(write_permit(&permit).as_bytes())
            .unwrap()
            .remove(0)
            .permit;
        assert_eq!(again, permit);
    }

    #[test]
    fn the_schema_allows_null_wherever_the_reader_reads_it_as_absence() {
        let schema = json_schema();
        let special = &schema["properties"]["special_conditions"]["type"];
        assert_eq!(special, &serde_json::json!(["array", "null"]));
        let number = &schema["properties"]["permit_number"]["type"];
        assert_eq!(number, &serde_json::json!(["string", "null"]));
        let address = &schema["$defs"]["Party"]["properties"]["address"];
        assert!(address.to_string().contains("\"null\""), "{address}");
        // A required value stays required: null there is missing.
        let value = &schema["$defs"]["Quantity"]["properties"]["value"]["type"];
        assert_eq!(value, &serde_json::json!(["string", "number"]));
    }

    #[test]
    fn the_schema_lists_code_lists_and_forbids_unknown_fields() {
        let schema = json_schema();
        let text = schema.to_string();
        assert!(text.contains("\"additionalProperties\":false"));
        assert!(text.contains("\"WAT\""), "term codes listed");
        assert!(text.contains("PurposeCode"));
    }
}
