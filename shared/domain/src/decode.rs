//! Choosing the format of an input by its content, and decoding it.
//!
//! The content decides: XML starts with `<`, JSON with `{` or `[`, and the CSV form with a header
//! row naming its columns. A file name's extension, when there is one we know, must agree with
//! the content: a `.csv` file that holds XML is refused rather than read as whatever it looks
//! like, because a silent mis-read of a permit is worse than a clear refusal.

use crate::{csv_form, json, xml, Decoded, Error};
use std::fmt;

/// The input formats MA systems send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The CITES e-permit XML (toolkit v2), bare or in a SOAP envelope.
    Xml,
    /// The ecites JSON form of a permit (or an array of them).
    Json,
    /// The ecites CSV form: one row per block.
    Csv,
}

impl Format {
    /// The format's usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Xml => "xml",
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }

    fn from_extension(file_name: &str) -> Option<Format> {
        let (_, extension) = file_name.rsplit_once('.')?;
        match extension.to_ascii_lowercase().as_str() {
            "xml" => Some(Format::Xml),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Xml => "XML",
            Format::Json => "JSON",
            Format::Csv => "CSV",
        })
    }
}

/// Works out the format of an input from its content, checked against the file name's extension.
pub fn detect_format(bytes: &[u8], file_name: Option<&str>) -> Result<Format, Error> {
    let unrecognised = |reason: String| Error::UnrecognisedFormat {
        file: file_name.map(str::to_owned),
        reason,
    };
    let content = sniff(bytes).ok_or_else(|| unrecognised(describe_start(bytes)))?;
    if let Some(named) = file_name.and_then(Format::from_extension) {
        if named != content {
            return Err(unrecognised(format!(
                "the file name says {named} but the content is {content}"
            )));
        }
    }
    Ok(content)
}

fn sniff(bytes: &[u8]) -> Option<Format> {
    // Decoded by BOM or UTF-16 byte pattern, so UTF-16 files (Excel's "Unicode text", XML in
    // UTF-16) are recognised like the rest.
    let text = crate::text::sniff_start(bytes, 4096);
    let text = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    match text.chars().next()? {
        '<' => Some(Format::Xml),
        '{' | '[' => Some(Format::Json),
        _ => {
            let header = text.lines().next()?;
            let names_permit_number = header.split([',', ';', '\t']).any(|name| {
                let name = name
                    .trim()
                    .trim_matches('"')
                    .to_ascii_lowercase()
                    .replace([' ', '-'], "_");
                name == "permit_number"
            });
            names_permit_number.then_some(Format::Csv)
        }
    }
}

fn describe_start(bytes: &[u8]) -> String {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return "the input is empty".to_owned();
    }
    let shown: String = String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!(
        "it starts with {:?}, which is neither XML, JSON, nor a CSV header with a permit_number column",
        shown.trim()
    )
}

/// Decodes an input that must hold exactly one permit.
pub fn decode(bytes: &[u8], format: Format) -> Result<Decoded, Error> {
    let mut permits = decode_all(bytes, format)?;
    match permits.len() {
        1 => Ok(permits.remove(0)),
        count => Err(Error::UnrecognisedFormat {
            file: None,
            reason: format!("expected one permit, found {count}"),
        }),
    }
}

/// Decodes an input holding one or more permits (a CSV export or a JSON array may hold many).
pub fn decode_all(bytes: &[u8], format: Format) -> Result<Vec<Decoded>, Error> {
    decode_all_with(bytes, format, &csv_form::CsvOptions::default())
}

/// [`decode_all`] with what the sender declared about a CSV export (separator, decimal mark);
/// ignored for XML and JSON.
pub fn decode_all_with(
    bytes: &[u8],
    format: Format,
    csv: &csv_form::CsvOptions,
) -> Result<Vec<Decoded>, Error> {
    match format {
        Format::Xml => Ok(vec![xml::read_permit(bytes)?]),
        Format::Json => json::read_permits(bytes),
        Format::Csv => csv_form::read_permits_with(bytes, csv),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_the_format() {
        assert_eq!(
            detect_format(b"  <?xml version='1.0'?><a/>", None).unwrap(),
            Format::Xml
        );
        assert_eq!(
            detect_format(b"\xEF\xBB\xBF{\"permit_number\":\"1\"}", None).unwrap(),
            Format::Json
        );
        assert_eq!(
            detect_format(b"[]", Some("batch.JSON")).unwrap(),
            Format::Json
        );
        assert_eq!(
            detect_format(b"Issuer_Country,\"Permit Number\"\n", Some("export.csv")).unwrap(),
            Format::Csv
        );
    }

    #[test]
    fn an_extension_that_contradicts_the_content_is_refused() {
        let error = detect_format(b"<CITESEPermit/>", Some("permit.csv")).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("permit.csv") && text.contains("says CSV"),
            "{text}"
        );
    }

    #[test]
    fn unknown_extensions_leave_the_decision_to_the_content() {
        assert_eq!(
            detect_format(b"<x/>", Some("permit.txt")).unwrap(),
            Format::Xml
        );
    }

    #[test]
    fn csv_headers_separated_by_semicolons_or_tabs_or_in_utf16_are_recognised() {
        for input in [
            &b"permit_number;issuer_country\r\n1;XA\r\n"[..],
            b"Permit Number\tIssuer Country\n",
            b"\xFF\xFEp\0e\0r\0m\0i\0t\0_\0n\0u\0m\0b\0e\0r\0",
        ] {
            assert_eq!(detect_format(input, Some("x.csv")).unwrap(), Format::Csv);
        }
        let utf16_xml = b"\xFF\xFE<\0?\0x\0m\0l\0";
        assert_eq!(detect_format(utf16_xml, None).unwrap(), Format::Xml);
    }

    #[test]
    fn text_that_is_no_known_format_is_refused_with_what_it_starts_with() {
        let error = detect_format(b"name;number\nfoo;1\n", Some("data")).unwrap_err();
        assert!(error.to_string().contains("name;number"), "{error}");
        let empty = detect_format(b"   \n", None).unwrap_err();
        assert!(empty.to_string().contains("empty"), "{empty}");
    }

    #[test]
    fn decode_insists_on_exactly_one_permit() {
        let error = decode(b"[]", Format::Json).unwrap_err();
        assert!(error.to_string().contains("found 0"), "{error}");
    }
}
