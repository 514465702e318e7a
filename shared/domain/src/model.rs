//! The permit model: every box of the standard CITES permit form (Res. Conf. 12.3, Annex 2).
//!
//! The model is what every format is read into and written from. It is deliberately tolerant:
//! optional where a real message may leave a box empty, coded fields that keep unknown codes,
//! so that a faulty permit can still be read and then *reported on* box by box by
//! [`crate::validate()`], rather than refused by the parser with a single opaque error.
//!
//! The JSON form of a permit is this model through serde (snake_case field names); the README
//! documents it field by field and `schema/permit.schema.json` describes it for MA developers.

use crate::codes::{Appendix, Coded, DocumentType, Purpose, Source, Term, Unit};
use crate::country::CountryCode;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A country as written on a permit: a known ISO 3166-1 alpha-2 code, or the text found instead.
pub type Country = Coded<CountryCode>;

/// A permit's identity. Permit numbers are only unique per issuing country (the Trade Database
/// counts about two million numbers used by more than one Party), so both parts are needed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PermitId {
    /// The country of the Management Authority that issued the permit (box 6).
    pub issuer: CountryCode,
    /// The permit number as issued (box 1).
    pub number: String,
}

impl fmt::Display for PermitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.issuer, self.number)
    }
}

/// One CITES permit or certificate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Permit {
    /// Box 1: export permit, re-export certificate, import permit or other certificate.
    pub document_type: Option<Coded<DocumentType>>,
    /// Box 1: the kind of "other" certificate (introduction from the sea, pre-Convention, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_subtype: Option<String>,
    /// Box 1: the original permit number.
    #[serde(default)]
    pub permit_number: String,
    /// The document's title as printed, when the issuer gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_name: Option<String>,
    /// Whether this document is a copy rather than the original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<bool>,
    /// Box 2: first day of validity (usually the issue date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Timestamp>,
    /// Box 2: last day of validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
    /// Boxes 3 and 3a: the importer, with the country of import in its address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importer: Option<Party>,
    /// Box 4: the exporter or re-exporter, with its country in its address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter: Option<Party>,
    /// Box 5: special conditions, one entry per paragraph.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub special_conditions: Vec<String>,
    /// Box 5a: the purpose of the transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Coded<Purpose>>,
    /// Box 5a: the purpose in words, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose_text: Option<String>,
    /// Box 5b: the number of the security stamp affixed to the paper form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_stamp: Option<String>,
    /// Box 6: the issuing Management Authority; the country in its address is the issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuing_authority: Option<Party>,
    /// Box 13: where the permit was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_place: Option<Location>,
    /// Box 13: when the permit was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_date: Option<Timestamp>,
    /// Box 13: who signed for the Management Authority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatory: Option<Signatory>,
    /// Box 14: the export endorsement of the whole consignment (port, date, officer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_endorsement: Option<Examination>,
    /// Box 15: the bill of lading or air waybill number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport_document: Option<String>,
    /// Other documents the permit refers to (for instance the permit it replaces).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<DocumentReference>,
    /// Boxes 7 to 12b and the per-block part of box 14: one entry per block (A, B, ...).
    #[serde(default)]
    pub blocks: Vec<Block>,
}

impl Permit {
    /// The issuing country: the country of the issuing authority (box 6), when it is a known code.
    pub fn issuing_country(&self) -> Option<CountryCode> {
        self.issuing_authority
            .as_ref()?
            .address
            .country
            .as_ref()?
            .known()
    }

    /// The permit's identity, when both the issuing country and the number are present.
    pub fn id(&self) -> Option<PermitId> {
        let number = self.permit_number.trim();
        if number.is_empty() {
            return None;
        }
        Some(PermitId {
            issuer: self.issuing_country()?,
            number: number.to_owned(),
        })
    }

    /// The country of export (box 4), when it is a known code.
    pub fn exporting_country(&self) -> Option<CountryCode> {
        self.exporter.as_ref()?.address.country.as_ref()?.known()
    }

    /// The country of import (box 3a), when it is a known code.
    pub fn importing_country(&self) -> Option<CountryCode> {
        self.importer.as_ref()?.address.country.as_ref()?.known()
    }

    /// The known document type, if any.
    pub fn known_document_type(&self) -> Option<DocumentType> {
        self.document_type.as_ref()?.known()
    }
}

/// A person or organisation on the permit: importer, exporter, issuing authority, certifier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// An identifier the issuer gives the party (registration or trader number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The name as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The postal address, with the country.
    #[serde(default, skip_serializing_if = "Address::is_empty")]
    pub address: Address,
}

/// A postal address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Street lines, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub street: Vec<String>,
    /// Post office box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_office_box: Option<String>,
    /// Postcode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    /// City or town.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State, province or other subdivision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdivision: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Country>,
    /// The country's name as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_name: Option<String>,
}

impl Address {
    /// True when no part of the address is given.
    pub fn is_empty(&self) -> bool {
        self == &Address::default()
    }
}

/// A place: a port of exit, a place of issue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// A code for the place, preferably its UN/LOCODE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The place's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Box 13: the signature of the Management Authority's officer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signatory {
    /// The signing officer's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it was signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Timestamp>,
    /// Any statement printed with the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
}

/// Box 14: an inspection at export (customs endorsement), for the whole consignment or a block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Examination {
    /// When the goods were inspected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Timestamp>,
    /// The quantity actually exported (per block) or the number of packages (per consignment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
    /// The port of export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Location>,
    /// The officer or office that endorsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certifier: Option<Party>,
}

/// A document the permit refers to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentReference {
    /// UN/EDIFACT 1001 document type (861 certificate of origin, 811 export licence, 911
    /// import licence), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_code: Option<String>,
    /// The referenced document's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When it was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_date: Option<Timestamp>,
}

/// One block (A, B, ...) of the permit: one taxon, term and source, with its quantity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// The block's letter or number as printed (A, B, ...).
    #[serde(default)]
    pub id: String,
    /// Box 7: scientific name of the species (as in the CITES checklist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scientific_name: Option<String>,
    /// Box 8: common name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// Box 9: description of the specimens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Box 9: identifying marks (tags, rings, microchips, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<String>,
    /// Box 9: the CITES term code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<Coded<Term>>,
    /// Box 10: Appendix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appendix: Option<Coded<Appendix>>,
    /// Box 10: source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Coded<Source>>,
    /// Box 11: quantity permitted, with its unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
    /// Box 11a: quota figures (total exported to date and the annual quota).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// Box 12: country of origin, its permit number and date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<CountryReference>,
    /// Box 12a: country of last re-export, its certificate number and date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reexport: Option<CountryReference>,
    /// Box 12b: number of the registered operation (captive breeding, propagation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_number: Option<String>,
    /// Box 12b: date of acquisition (pre-Convention specimens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquisition_date: Option<Timestamp>,
    /// Box 14: the quantity actually exported for this block, with port and date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endorsement: Option<Examination>,
}

/// A quantity with its CITES unit; no unit means a number of specimens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quantity {
    /// The amount, exact (decimal, never binary floating point).
    pub value: Decimal,
    /// The CITES unit code; absent for a number of specimens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Coded<Unit>>,
}

/// Box 11a: quota figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Total exported to date in the current year, this permit included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_to_date: Option<Quantity>,
    /// The annual export quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annual: Option<Quantity>,
}

/// Boxes 12 and 12a: a country with the permit or certificate it issued for these specimens.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountryReference {
    /// The country (ISO 3166-1 alpha-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Country>,
    /// The country's name as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_name: Option<String>,
    /// The permit or certificate number that country issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit_number: Option<String>,
    /// When that permit or certificate was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit_date: Option<Timestamp>,
}

/// A date or a date and time, as found on permits.
///
/// Real messages carry plain dates (`2014-07-05`), date-times with an offset
/// (`2014-01-06T12:03:52.00+01:00`) and date-times without one. All three are kept as sent, so
/// that reading and writing a permit does not invent a time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timestamp {
    /// A calendar date.
    Date(NaiveDate),
    /// A date and time with its UTC offset.
    DateTime(DateTime<FixedOffset>),
    /// A date and time without an offset (local time of the issuer).
    Local(NaiveDateTime),
}

/// Text that is not a date or date-time in ISO 8601 form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an ISO 8601 date (YYYY-MM-DD) or date-time (YYYY-MM-DDThh:mm:ss[.fff][Z|+hh:mm])"
)]
pub struct InvalidTimestamp(pub String);

impl Timestamp {
    /// Parses ISO 8601 dates and date-times; white space around the text is ignored.
    pub fn parse(text: &str) -> Result<Self, InvalidTimestamp> {
        let text = text.trim();
        if text.len() == 10 {
            // Plain dates are the most common value on permits; reading the three numbers
            // directly is several times faster than chrono's format-string parser.
            return parse_plain_date(text.as_bytes())
                .map(Timestamp::Date)
                .ok_or_else(|| InvalidTimestamp(text.to_owned()));
        }
        if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
            return Ok(Timestamp::DateTime(with_offset));
        }
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .map(Timestamp::Local)
            .map_err(|_| InvalidTimestamp(text.to_owned()))
    }

    /// The calendar date, as the issuer wrote it (no conversion between time zones).
    pub fn date(&self) -> NaiveDate {
        match self {
            Timestamp::Date(date) => *date,
            Timestamp::DateTime(date_time) => date_time.date_naive(),
            Timestamp::Local(date_time) => date_time.date(),
        }
    }
}

/// Reads `YYYY-MM-DD`; `None` unless every character is in place and the date exists.
fn parse_plain_date(bytes: &[u8]) -> Option<NaiveDate> {
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        bytes.get(range)?.iter().try_fold(0u32, |value, byte| {
            byte.is_ascii_digit()
                .then(|| value * 10 + u32::from(byte - b'0'))
        })
    };
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = i32::try_from(number(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timestamp::Date(date) => write!(f, "{}", date.format("%Y-%m-%d")),
            Timestamp::DateTime(date_time) => {
                f.write_str(&date_time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            }
            Timestamp::Local(date_time) => {
                write!(f, "{}", date_time.format("%Y-%m-%dT%H:%M:%S%.f"))
            }
        }
    }
}

impl std::str::FromStr for Timestamp {
    type Err = InvalidTimestamp;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "An ISO 8601 date (YYYY-MM-DD) or date-time (YYYY-MM-DDThh:mm:ss[.fff][Z|+hh:mm]).",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"
        })
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_the_form_they_were_written_in() {
        for text in [
            "2014-07-05",
            "2014-01-06T12:03:52+01:00",
            "2014-01-06T12:03:52.250+01:00",
            "2014-01-06T12:03:52Z",
            "2014-01-06T12:03:52",
        ] {
            let parsed = Timestamp::parse(text).unwrap();
            assert_eq!(parsed.to_string(), text);
            assert_eq!(Timestamp::parse(&parsed.to_string()).unwrap(), parsed);
        }
    }

    #[test]
    fn epix_style_hundredths_parse_to_the_same_instant() {
        let parsed = Timestamp::parse("2014-01-06T12:03:52.00+01:00").unwrap();
        assert_eq!(parsed.to_string(), "2014-01-06T12:03:52+01:00");
        assert_eq!(parsed.date(), NaiveDate::from_ymd_opt(2014, 1, 6).unwrap());
    }

    #[test]
    fn plain_dates_must_exist_and_be_written_in_full() {
        assert!(Timestamp::parse("2024-02-29").is_ok());
        for text in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-015",
            "2024/01/15",
            "20x4-01-15",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn non_iso_dates_are_refused_with_the_text() {
        let error = Timestamp::parse("06/01/2014").unwrap_err();
        assert!(error.to_string().contains("06/01/2014"));
    }

    #[test]
    fn identity_needs_issuer_country_and_number() {
        let mut permit = Permit {
            permit_number: " 24XA000123 ".into(),
            ..Permit::default()
        };
        assert_eq!(permit.id(), None);
        permit.issuing_authority = Some(Party {
            address: Address {
                country: Some(Coded::parse("XA")),
                ..Address::default()
            },
            ..Party::default()
        });
        let id = permit.id().unwrap();
        assert_eq!(id.to_string(), "XA/24XA000123");
    }
}
