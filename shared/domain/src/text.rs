//! Turning the bytes of an input into text: character encodings.
//!
//! MA systems and spreadsheets write more than UTF-8. The standard XML may be in any encoding
//! XML 1.0 allows (it says which in its declaration, or by a byte order mark); Excel writes CSV
//! as UTF-8 with a BOM, as UTF-16LE ("Unicode text") or in the Windows code page of the user's
//! locale (windows-1252 in Western Europe and the Americas). Decoding uses `encoding_rs` (the
//! WHATWG Encoding Standard: `ISO-8859-1` is read as its superset windows-1252, as browsers do).
//!
//! - [`decode_xml`] follows XML 1.0 Appendix F: the BOM first, then the byte pattern of `<?xml`
//!   (UTF-16 without a BOM), then the declaration's `encoding`; no declaration means UTF-8. An
//!   encoding declaration that contradicts the bytes is refused, and bytes that are not valid in
//!   the encoding are refused naming the encoding and the byte offset.
//! - [`decode_csv`] takes the BOM, else UTF-8 when the bytes are valid UTF-8, else UTF-16LE when
//!   the bytes look like it, else windows-1252, and says which it assumed.

use crate::Error;
use encoding_rs::{DecoderResult, Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use std::borrow::Cow;

/// How an input's text was decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedText<'a> {
    /// The text, without any byte order mark.
    pub text: Cow<'a, str>,
    /// The encoding used (its WHATWG name, such as `UTF-8`, `UTF-16LE`, `windows-1252`).
    pub encoding: &'static str,
    /// How the encoding was chosen, for people (`"byte order mark"`, `"declared"`, ...).
    pub because: &'static str,
}

/// The encoding a byte order mark announces, with the BOM's length.
fn bom(bytes: &[u8]) -> Option<(&'static Encoding, usize)> {
    Encoding::for_bom(bytes)
}

/// Decodes all of `bytes` in `encoding` (without BOM handling), refusing malformed input with
/// the byte offset of the first bad sequence (counted from the start of the whole input, so
/// `offset` is the length of a BOM already skipped).
fn strict<'a>(
    bytes: &'a [u8],
    encoding: &'static Encoding,
    offset: usize,
    declared: &str,
) -> Result<Cow<'a, str>, Error> {
    if encoding == UTF_8 {
        // simdutf8's SIMD check (already built for encoding_rs) for the common, valid case; the
        // standard library's only to say where the first bad byte is.
        if let Ok(text) = simdutf8::basic::from_utf8(bytes) {
            return Ok(Cow::Borrowed(text));
        }
        return std::str::from_utf8(bytes)
            .map(Cow::Borrowed)
            .map_err(|error| Error::Undecodable {
                encoding: declared.to_owned(),
                position: offset + error.valid_up_to(),
            });
    }
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len().saturating_mul(3));
    let mut text = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut text, true);
    match result {
        DecoderResult::InputEmpty => Ok(Cow::Owned(text)),
        DecoderResult::Malformed(bad, after) => Err(Error::Undecodable {
            encoding: declared.to_owned(),
            position: offset + read - usize::from(after) - usize::from(bad),
        }),
        // The buffer was sized for the worst case, so this cannot happen; refuse rather than
        // return a truncated text if it ever does.
        DecoderResult::OutputFull => Err(Error::Undecodable {
            encoding: declared.to_owned(),
            position: offset + read,
        }),
    }
}

/// The value of `encoding="..."` in an XML declaration at the start of `text`, if any.
///
/// Only looks inside `<?xml ... ?>` (at most the first 200 characters), so an `encoding=` in the
/// document's content is never taken for the declaration.
fn declared_encoding(text: &[u8]) -> Option<&str> {
    let text = text.get(..text.len().min(200))?;
    let rest = text.strip_prefix(b"<?xml")?;
    let end = rest.windows(2).position(|pair| pair == b"?>")?;
    let declaration = std::str::from_utf8(&rest[..end]).ok()?;
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(&value[..value.find(quote)?])
}

fn is_utf16(encoding: &'static Encoding) -> bool {
    encoding == UTF_16LE || encoding == UTF_16BE
}

/// Decodes the bytes of an XML document by its byte order mark and encoding declaration (XML
/// 1.0, Appendix F).
///
/// Errors: [`Error::Undecodable`] when a byte sequence is not valid in the encoding (declared,
/// announced by the BOM, or UTF-8 by default), [`Error::EncodingMismatch`] when the declaration
/// names an encoding the bytes cannot be in (a UTF-16 BOM with `encoding="ISO-8859-1"`, a
/// single-byte document declared UTF-16) or an encoding that does not exist.
pub fn decode_xml(bytes: &[u8]) -> Result<DecodedText<'_>, Error> {
    let mismatch = |message: String| Error::EncodingMismatch { message };
    if let Some((encoding, length)) = bom(bytes) {
        let text = strict(&bytes[length..], encoding, length, encoding.name())?;
        if let Some(label) = declared_encoding(text.as_bytes()) {
            let declared = Encoding::for_label(label.as_bytes());
            let agrees = match declared {
                // "UTF-16" (no byte order in the name) is what a BOM is for.
                Some(declared) if is_utf16(encoding) => {
                    declared == encoding || label.eq_ignore_ascii_case("UTF-16")
                }
                Some(declared) => declared == encoding,
                None => false,
            };
            if !agrees {
                return Err(mismatch(format!(
                    "the XML declaration says encoding=\"{label}\" but the document starts with the byte order mark of {}",
                    encoding.name()
                )));
            }
        }
        return Ok(DecodedText {
            text,
            encoding: encoding.name(),
            because: "byte order mark",
        });
    }
    // UTF-16 without a BOM: `<?` as two-byte units.
    let unmarked = match bytes {
        [b'<', 0, b'?', 0, ..] => Some(UTF_16LE),
        [0, b'<', 0, b'?', ..] => Some(UTF_16BE),
        _ => None,
    };
    if let Some(encoding) = unmarked {
        let text = strict(bytes, encoding, 0, encoding.name())?;
        if let Some(label) = declared_encoding(text.as_bytes()) {
            if !Encoding::for_label(label.as_bytes()).is_some_and(is_utf16) {
                return Err(mismatch(format!(
                    "the XML declaration says encoding=\"{label}\" but the bytes are {} (two bytes per character)",
                    encoding.name()
                )));
            }
        }
        return Ok(DecodedText {
            text,
            encoding: encoding.name(),
            because: "the byte pattern of the XML declaration",
        });
    }
    match declared_encoding(bytes) {
        None => Ok(DecodedText {
            text: strict(bytes, UTF_8, 0, "UTF-8")?,
            encoding: UTF_8.name(),
            because: "no encoding declared",
        }),
        Some(label) => {
            let encoding = Encoding::for_label(label.as_bytes()).ok_or_else(|| {
                mismatch(format!(
                    "the XML declaration says encoding=\"{label}\", which is not an encoding we know"
                ))
            })?;
            if is_utf16(encoding) {
                return Err(mismatch(format!(
                    "the XML declaration says encoding=\"{label}\" but the bytes are one byte per character and there is no byte order mark"
                )));
            }
            if !encoding.is_ascii_compatible() {
                return Err(mismatch(format!(
                    "the XML declaration says encoding=\"{label}\", which cannot write the declaration itself in ASCII as the document does"
                )));
            }
            Ok(DecodedText {
                text: strict(bytes, encoding, 0, label)?,
                encoding: encoding.name(),
                because: "declared",
            })
        }
    }
}

/// Decodes a CSV export as spreadsheets write it: the BOM's encoding (UTF-8, UTF-16LE,
/// UTF-16BE), else UTF-8 when the bytes are valid UTF-8, else UTF-16LE when every other byte of
/// the start is zero, else windows-1252 (Excel's "CSV" in Western locales). Never fails:
/// windows-1252 maps every byte. The caller reports the encoding when it was a guess.
pub fn decode_csv(bytes: &[u8]) -> DecodedText<'_> {
    if let Some((encoding, length)) = bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[length..]);
        return DecodedText {
            text,
            encoding: encoding.name(),
            because: "byte order mark",
        };
    }
    // Text never holds NUL: zeros in every other byte are UTF-16LE's ASCII.
    let start = &bytes[..bytes.len().min(64) & !1];
    let looks_utf16le = !start.is_empty() && start.iter().skip(1).step_by(2).all(|b| *b == 0);
    if !looks_utf16le {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return DecodedText {
                text: Cow::Borrowed(text),
                encoding: UTF_8.name(),
                because: "valid UTF-8",
            };
        }
    }
    let encoding = if looks_utf16le {
        UTF_16LE
    } else {
        WINDOWS_1252
    };
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    DecodedText {
        text,
        encoding: encoding.name(),
        because: "not UTF-8, assumed from the bytes",
    }
}

/// The bytes of a JSON input as UTF-8: RFC 8259 JSON is UTF-8 (a UTF-8 BOM is skipped), but
/// Windows tools write UTF-16 with a BOM (PowerShell 5's `Out-File`, .NET's `Encoding.Unicode`),
/// so a UTF-16 BOM is honoured too.
///
/// Errors: [`Error::Undecodable`] when UTF-16 text holds an unpaired surrogate (invalid UTF-8
/// is left to the JSON parser, which reports its line and column).
pub fn decode_json(bytes: &[u8]) -> Result<Cow<'_, [u8]>, Error> {
    match bom(bytes) {
        Some((encoding, length)) if is_utf16(encoding) => {
            let text = strict(&bytes[length..], encoding, length, encoding.name())?;
            Ok(Cow::Owned(text.into_owned().into_bytes()))
        }
        Some((_, length)) => Ok(Cow::Borrowed(&bytes[length..])),
        None => Ok(Cow::Borrowed(bytes)),
    }
}

/// The first characters of an input as text, for choosing its format: decoded by BOM or the
/// UTF-16 byte pattern, else as UTF-8 with replacement characters. At most `limit` bytes are
/// looked at.
pub(crate) fn sniff_start(bytes: &[u8], limit: usize) -> String {
    let start = &bytes[..bytes.len().min(limit)];
    let (encoding, skip) = match bom(start) {
        Some(found) => found,
        None => match start {
            [_, 0, _, 0, ..] => (UTF_16LE, 0),
            [0, _, 0, _, ..] => (UTF_16BE, 0),
            _ => (UTF_8, 0),
        },
    };
    let (text, _) = encoding.decode_without_bom_handling(&start[skip..]);
    text.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::utf16;

    #[test]
    fn latin1_declared_xml_is_decoded_by_its_declaration() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>Jos\xe9 M\xfcller</a>";
        let decoded = decode_xml(bytes).unwrap();
        assert!(decoded.text.contains("José Müller"), "{}", decoded.text);
        assert_eq!(decoded.because, "declared");
    }

    #[test]
    fn every_iso_8859_and_windows_code_page_label_is_read() {
        for (label, byte, expected) in [
            ("ISO-8859-2", 0xB9u8, 'š'),
            ("iso-8859-15", 0xA4, '€'),
            ("windows-1252", 0x80, '€'),
            ("latin1", 0xE9, 'é'),
            ("ISO-8859-5", 0xD0, 'а'),
            ("windows-1250", 0x9A, 'š'),
        ] {
            let mut bytes = format!("<?xml version='1.0' encoding='{label}'?><a>").into_bytes();
            bytes.push(byte);
            bytes.extend(b"</a>");
            let decoded = decode_xml(&bytes).unwrap();
            assert!(decoded.text.contains(expected), "{label}: {}", decoded.text);
        }
    }

    #[test]
    fn utf16_with_and_without_a_bom_in_both_byte_orders_is_read() {
        let document = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><a>Žluťoučký</a>";
        for big_endian in [false, true] {
            for with_bom in [false, true] {
                let bytes = utf16(document, big_endian, with_bom);
                let decoded = decode_xml(&bytes).unwrap();
                assert!(
                    decoded.text.contains("Žluťoučký"),
                    "{big_endian} {with_bom}"
                );
            }
        }
        let no_declaration = utf16("<a>é</a>", false, true);
        assert_eq!(decode_xml(&no_declaration).unwrap().text, "<a>é</a>");
    }

    #[test]
    fn a_utf8_bom_is_skipped_and_utf8_is_the_default() {
        let decoded = decode_xml("\u{feff}<a>é</a>".as_bytes()).unwrap();
        assert_eq!(decoded.text, "<a>é</a>");
        assert_eq!(decode_xml("<a>é</a>".as_bytes()).unwrap().encoding, "UTF-8");
    }

    #[test]
    fn a_declaration_that_contradicts_the_bom_is_refused() {
        let bytes = utf16(
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>",
            false,
            true,
        );
        let error = decode_xml(&bytes).unwrap_err().to_string();
        assert!(
            error.contains("ISO-8859-1") && error.contains("UTF-16LE"),
            "{error}"
        );
        let utf8_bom = b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"windows-1252\"?><a/>";
        let error = decode_xml(utf8_bom).unwrap_err().to_string();
        assert!(
            error.contains("windows-1252") && error.contains("UTF-8"),
            "{error}"
        );
    }

    #[test]
    fn single_byte_text_declared_utf16_is_refused() {
        let error = decode_xml(b"<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>")
            .unwrap_err()
            .to_string();
        assert!(error.contains("UTF-16"), "{error}");
    }

    #[test]
    fn invalid_bytes_are_refused_with_the_encoding_and_offset() {
        let error =
            decode_xml(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>caf\xe9</a>").unwrap_err();
        assert_eq!(
            error,
            Error::Undecodable {
                encoding: "UTF-8".into(),
                position: 44
            }
        );
        let undeclared = decode_xml(b"<a>\xff</a>").unwrap_err().to_string();
        assert!(undeclared.contains("byte 3"), "{undeclared}");
        // An unpaired surrogate in UTF-16.
        let mut bytes = utf16("<a>", false, true);
        bytes.extend([0x00, 0xD8, b'x', 0]);
        let error = decode_xml(&bytes).unwrap_err();
        assert!(
            matches!(&error, Error::Undecodable { encoding, position: 8 } if encoding == "UTF-16LE"),
            "{error:?}"
        );
    }

    #[test]
    fn an_unknown_encoding_name_is_refused_naming_it() {
        let error = decode_xml(b"<?xml version='1.0' encoding='klingon-8'?><a/>")
            .unwrap_err()
            .to_string();
        assert!(error.contains("klingon-8"), "{error}");
    }

    #[test]
    fn json_in_utf16_with_a_bom_is_decoded_and_a_utf8_bom_skipped() {
        let bytes = utf16("{\"a\": \"é\"}", false, true);
        assert_eq!(
            decode_json(&bytes).unwrap().as_ref(),
            "{\"a\": \"é\"}".as_bytes()
        );
        let bytes = utf16("[]", true, true);
        assert_eq!(decode_json(&bytes).unwrap().as_ref(), b"[]");
        assert_eq!(decode_json(b"\xEF\xBB\xBF[]").unwrap().as_ref(), b"[]");
    }

    #[test]
    fn csv_encodings_excel_writes_are_recognised() {
        assert_eq!(decode_csv(b"a,b\n").encoding, "UTF-8");
        let bom = decode_csv(b"\xEF\xBB\xBFa;\xC3\xA9\r\n");
        assert_eq!(
            (bom.text.as_ref(), bom.because),
            ("a;é\r\n", "byte order mark")
        );
        let cp1252 = decode_csv(b"name;city\r\nM\xfcller;Z\xfcrich\r\n");
        assert_eq!(cp1252.encoding, "windows-1252");
        assert!(cp1252.text.contains("Müller"));
        let bytes = utf16("a\tb\r\né\t1\r\n", false, true);
        let unicode = decode_csv(&bytes);
        assert_eq!(
            (unicode.encoding, unicode.text.as_ref()),
            ("UTF-16LE", "a\tb\r\né\t1\r\n")
        );
        let bytes = utf16("permit_number\té\r\n", false, false);
        let unmarked = decode_csv(&bytes);
        assert_eq!(unmarked.encoding, "UTF-16LE");
    }
}
