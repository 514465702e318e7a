//! Whatever an MA system sends, reading it ends in a permit or an error, never a panic.

use ecites_domain::{decode_all, detect_format, validate, Format};
use proptest::prelude::*;

const CSV_HEADER: &str = "permit_number,issuer_country,valid_until,quantity,unit,marks,block_id\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes_never_panic_in_any_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = detect_format(&bytes, Some("input.bin"));
        for format in [Format::Xml, Format::Json, Format::Csv] {
            if let Ok(permits) = decode_all(&bytes, format) {
                for decoded in permits {
                    let _ = validate(&decoded.permit);
                }
            }
        }
    }

    #[test]
    fn arbitrary_csv_rows_never_panic(rows in proptest::collection::vec("[ -~]{0,60}", 0..6)) {
        let input = format!("{CSV_HEADER}{}", rows.join("\n"));
        if let Ok(permits) = decode_all(input.as_bytes(), Format::Csv) {
            for decoded in permits {
                let _ = validate(&decoded.permit);
            }
        }
    }

    #[test]
    fn arbitrary_json_values_never_panic(text in r#"\{("[a-z_]{1,16}": ("[ -~]{0,12}"|[0-9.e-]{1,8}|null|\[\]|\{\}),? ?){0,6}\}"#) {
        if let Ok(permits) = decode_all(text.as_bytes(), Format::Json) {
            for decoded in permits {
                let _ = validate(&decoded.permit);
            }
        }
    }
}
