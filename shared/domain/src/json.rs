//! The JSON form of a permit: the [`Permit`] model through serde, field names in snake_case.
//!
//! It is the form we recommend to MA developers whose systems do not produce the standard XML:
//! `schema/permit.schema.json` (generated from the model by [`json_schema`], so it cannot drift)
//! lets them validate their output before sending it. An input may hold one permit (an object)
//! or several (an array of objects).
//!
//! Errors name the field by its full path (`blocks[1].quantity.value`), because "invalid type at
//! line 1 column 812" does not help a developer find the mistake in a generated document.

use crate::{Decoded, Error, Permit};

/// Reads one permit or an array of permits from the JSON form.
pub fn read_permits(bytes: &[u8]) -> Result<Vec<Decoded>, Error> {
    let bytes = strip_bom(bytes);
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    let permits: Vec<Permit> = if first == Some(&b'[') {
        parse(bytes)?
    } else {
        vec![parse(bytes)?]
    };
    Ok(permits
        .into_iter()
        .map(|permit| Decoded {
            permit,
            findings: Vec::new(),
        })
        .collect())
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
    schema.to_value()
}

pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
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
    fn a_wrong_value_is_reported_with_the_field_path() {
        let input = br#"{"permit_number": "X1", "blocks": [{"id": "A"}, {"id": "B", "quantity": {"value": "lots"}}]}"#;
        let error = read_permits(input).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("blocks[1].quantity.value"), "{text}");
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
    fn the_schema_lists_code_lists_and_forbids_unknown_fields() {
        let schema = json_schema();
        let text = schema.to_string();
        assert!(text.contains("\"additionalProperties\":false"));
        assert!(text.contains("\"WAT\""), "term codes listed");
        assert!(text.contains("PurposeCode"));
    }
}
