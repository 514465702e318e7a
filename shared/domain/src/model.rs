//! The permit model: every box of the standard CITES permit form (Res. Conf. 12.3, Annex 2).
//!
//! The model is what every format is read into and written from. It is deliberately tolerant:
//! optional where a real message may leave a box empty, coded fields that keep unknown codes,
//! so that a faulty permit can still be read and then *reported on* box by box by
//! [`crate::validate()`], rather than refused by the parser with a single opaque error.
//!
//! The JSON form of a permit is this model through serde (snake_case field names); the README
//! documents it field by field and `schema/permit.schema.json` describes it for MA developers.

use crate::codes::{Appendix, Coded, DocumentType, Purpose, RegionalAnnex, Source, Term, Unit};
use crate::country::CountryCode;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A country as written on a permit: a known ISO 3166-1 alpha-2 code, or the text found instead.
pub type Country = Coded<CountryCode>;

/// The most blocks a permit may have. Printed forms hold a handful; the largest electronic
/// permits seen hold a few hundred (timber, corals). Readers refuse more ([`crate::Error::TooManyBlocks`]),
/// so a hostile input cannot make validation and findings grow without bound.
pub const MAX_BLOCKS: usize = 999;

/// A permit's identity. Permit numbers are only unique per issuing country (the Trade Database
/// counts about two million numbers used by more than one Party), so both parts are needed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PermitId {
    /// The country of the Management Authority that issued the permit (box 6).
    pub issuer: CountryCode,
    /// The permit number as issued (box 1).
    pub number: String,
}

/// How the permit numbers of `ecites smoke`'s synthetic test permits begin
/// (`SMOKE-<UTC time>-<4 hex>`): such a permit is delivered like any other, but the annual
/// report never counts it.
pub const SMOKE_TEST_PREFIX: &str = "SMOKE-";

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

    /// The kind of an "other" certificate (type O) whose nature decides which boxes it has,
    /// read from its sub-type; `None` for other documents.
    pub fn certificate_kind(&self) -> Option<CertificateKind> {
        if self.known_document_type() != Some(DocumentType::O) {
            return None;
        }
        CertificateKind::of_subtype(self.document_subtype.as_deref()?)
    }
}

/// Certificates (document type O) that by nature have no importer: they accompany the same
/// specimens across many borders, to no consignee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateKind {
    /// Musical-instrument certificate for frequent non-commercial cross-border movements
    /// (Res. Conf. 16.8).
    MusicalInstrument,
    /// Travelling-exhibition certificate (Res. Conf. 12.3).
    TravellingExhibition,
    /// Certificate of ownership for live animals in personal ownership moving frequently
    /// (Res. Conf. 10.20).
    PersonalOwnership,
}

impl CertificateKind {
    /// Recognises the sub-type as MA systems write it: the name in English, any case, with
    /// spaces, hyphens or underscores (`Musical instrument certificate`, `travelling-exhibition`,
    /// `TRAVELING_EXHIBITION`, `personal ownership`), or the short codes `MIC`, `TEC`, `POC`.
    pub fn of_subtype(subtype: &str) -> Option<CertificateKind> {
        let text = subtype.trim().to_lowercase().replace(['-', '_'], " ");
        let has = |words: &str| text.contains(words);
        if text == "mic" || has("musical instrument") {
            Some(CertificateKind::MusicalInstrument)
        } else if text == "tec" || has("travelling exhibition") || has("traveling exhibition") {
            Some(CertificateKind::TravellingExhibition)
        } else if text == "poc" || has("personal ownership") {
            Some(CertificateKind::PersonalOwnership)
        } else {
            None
        }
    }

    /// Whether this kind of certificate names an importer (boxes 3 and 3a): none of these do.
    pub fn has_importer(self) -> bool {
        false
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
    /// Beside box 10 on European permits: the EU (or GB) Annex, A to D, of the species (Council
    /// Regulation (EC) No 338/97; box 12 of the EU form). Written in the standard XML as the
    /// extension element documented in docs/standard-format.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eu_annex: Option<Coded<RegionalAnnex>>,
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

/// Text that is not a date or date-time in a form the reader knows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an ISO 8601 date (YYYY-MM-DD) or date-time (YYYY-MM-DDThh:mm[:ss[.fff]][Z|+hh:mm|+hhmm|+hh])"
)]
pub struct InvalidTimestamp(pub String);

/// A UN/CEFACT `DateTimeString` whose `format` code is not one the reader knows.
const CEFACT_FORMATS: &str =
    "102 (CCYYMMDD), 203 (CCYYMMDDHHMM), 204 (CCYYMMDDHHMMSS) or 205 (CCYYMMDDHHMMSS+HHMM)";

impl Timestamp {
    /// Parses the ISO 8601 forms real serialisers write; white space around the text is ignored.
    ///
    /// - dates: `YYYY-MM-DD`, and the XML Schema `date` with a zone (`2026-11-20Z`,
    ///   `2026-11-20+01:00`), read as the calendar date;
    /// - date-times: `YYYY-MM-DDThh:mm[:ss[.f]]` (a space or `t` also separates date and time;
    ///   fractions to nanoseconds), with an offset `Z`, `+hh:mm`, `+hhmm` (PHP, Java's basic
    ///   form) or `+hh`, or without one (local time).
    ///
    /// A date-time keeps its offset as written; an offset is normalised to `+hh:mm` on output.
    pub fn parse(text: &str) -> Result<Self, InvalidTimestamp> {
        let text = text.trim();
        let invalid = || InvalidTimestamp(text.to_owned());
        if text.len() == 10 {
            // Plain dates are the most common value on permits; reading the three numbers
            // directly is several times faster than chrono's format-string parser.
            return parse_plain_date(text.as_bytes())
                .map(Timestamp::Date)
                .ok_or_else(invalid);
        }
        let (date, rest) = (
            text.get(..10).ok_or_else(invalid)?,
            text.get(10..).ok_or_else(invalid)?,
        );
        let date = parse_plain_date(date.as_bytes()).ok_or_else(invalid)?;
        let Some(time) = rest.strip_prefix(['T', 't', ' ']) else {
            // An XML Schema date with its zone: the calendar date is what the permit means.
            parse_offset(rest).ok_or_else(invalid)?;
            return Ok(Timestamp::Date(date));
        };
        let split = time.find(['Z', 'z', '+', '-']).unwrap_or(time.len());
        let (clock, offset) = time.split_at(split);
        let clock = parse_clock(clock).ok_or_else(invalid)?;
        let local = date.and_time(clock);
        if offset.is_empty() {
            return Ok(Timestamp::Local(local));
        }
        let offset = parse_offset(offset).ok_or_else(invalid)?;
        local
            .and_local_timezone(offset)
            .single()
            .map(Timestamp::DateTime)
            .ok_or_else(invalid)
    }

    /// Parses a UN/CEFACT `udt:DateTimeString` by its `format` attribute (UN/EDIFACT 2379):
    /// `102` CCYYMMDD, `203` CCYYMMDDHHMM, `204` CCYYMMDDHHMMSS, `205` CCYYMMDDHHMMSS±HHMM.
    /// Without a format the text may be any of those or an ISO 8601 form ([`Timestamp::parse`]).
    ///
    /// Errors: the text does not match its format (the message names the format), or the format
    /// code is not one of those four.
    pub fn parse_cefact(text: &str, format: Option<&str>) -> Result<Self, String> {
        let text = text.trim();
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = text.get(range)?;
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let date = || {
            NaiveDate::from_ymd_opt(
                i32::try_from(digits(0..4)?).ok()?,
                digits(4..6)?,
                digits(6..8)?,
            )
        };
        let time = |seconds: bool| {
            chrono::NaiveTime::from_hms_opt(
                digits(8..10)?,
                digits(10..12)?,
                if seconds { digits(12..14)? } else { 0 },
            )
        };
        let format = format.map(str::trim).filter(|format| !format.is_empty());
        let format = match format {
            Some(format) => format,
            None => {
                if let Ok(timestamp) = Timestamp::parse(text) {
                    return Ok(timestamp);
                }
                match text.len() {
                    8 => "102",
                    12 => "203",
                    14 => "204",
                    19 => "205",
                    _ => {
                        return Err(format!(
                            "{text:?} is not an ISO 8601 date or date-time, nor a UN/CEFACT date string of format {CEFACT_FORMATS}"
                        ))
                    }
                }
            }
        };
        let parsed = match format {
            "102" if text.len() == 8 => date().map(Timestamp::Date),
            "203" if text.len() == 12 => date()
                .zip(time(false))
                .map(|(date, time)| Timestamp::Local(date.and_time(time))),
            "204" if text.len() == 14 => date()
                .zip(time(true))
                .map(|(date, time)| Timestamp::Local(date.and_time(time))),
            "205" if text.len() == 19 => date().zip(time(true)).and_then(|(date, time)| {
                let offset = parse_offset(text.get(14..)?)?;
                date.and_time(time)
                    .and_local_timezone(offset)
                    .single()
                    .map(Timestamp::DateTime)
            }),
            "102" | "203" | "204" | "205" => None,
            other => {
                return Err(format!(
                    "the date string has format {other:?}, which is not one the reader knows: {CEFACT_FORMATS}"
                ))
            }
        };
        parsed.ok_or_else(|| {
            let shape = match format {
                "102" => "CCYYMMDD",
                "203" => "CCYYMMDDHHMM",
                "204" => "CCYYMMDDHHMMSS",
                _ => "CCYYMMDDHHMMSS+HHMM",
            };
            format!("{text:?} is not a date of UN/CEFACT format {format} ({shape})")
        })
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

/// Reads `hh:mm`, `hh:mm:ss` or `hh:mm:ss.f` (one to nine fraction digits).
fn parse_clock(text: &str) -> Option<chrono::NaiveTime> {
    let bytes = text.as_bytes();
    let two = |at: usize| -> Option<u32> {
        let pair = bytes.get(at..at + 2)?;
        pair.iter()
            .all(u8::is_ascii_digit)
            .then(|| u32::from(pair[0] - b'0') * 10 + u32::from(pair[1] - b'0'))
    };
    if bytes.get(2) != Some(&b':') {
        return None;
    }
    let (hour, minute) = (two(0)?, two(3)?);
    let (second, nanos) = match bytes.len() {
        5 => (0, 0),
        8 if bytes[5] == b':' => (two(6)?, 0),
        10..=18 if bytes[5] == b':' && bytes[8] == b'.' => {
            let fraction = &text[9..];
            if !fraction.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let nanos: u32 = format!("{fraction:0<9}").parse().ok()?;
            (two(6)?, nanos)
        }
        _ => return None,
    };
    chrono::NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
}

/// Reads a UTC offset: `Z`, `+hh:mm`, `+hhmm` or `+hh` (and `-`), at most 23:59.
fn parse_offset(text: &str) -> Option<FixedOffset> {
    if text == "Z" || text == "z" {
        return FixedOffset::east_opt(0);
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: &str = &text[1..];
    let (hours, minutes) = match digits.len() {
        2 => (digits, "00"),
        4 => (&digits[..2], &digits[2..]),
        5 if digits.as_bytes()[2] == b':' => (&digits[..2], &digits[3..]),
        _ => return None,
    };
    if !(hours.bytes().chain(minutes.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
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
            "description": "An ISO 8601 date (YYYY-MM-DD, optionally with a zone) or date-time (YYYY-MM-DDThh:mm[:ss[.fffffffff]] with an optional offset Z, +hh:mm, +hhmm or +hh; a space or t may separate date and time).",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?$"
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
    fn offsets_and_fractions_as_real_serialisers_write_them_are_read() {
        for (text, expected) in [
            ("2026-11-20T09:15:00+0700", "2026-11-20T09:15:00+07:00"),
            ("2026-11-20T09:15:00+07", "2026-11-20T09:15:00+07:00"),
            ("2026-11-20T09:15:00-0330", "2026-11-20T09:15:00-03:30"),
            ("2026-11-20T09:15:00z", "2026-11-20T09:15:00Z"),
            ("2026-11-20 09:15:00Z", "2026-11-20T09:15:00Z"),
            ("2026-11-20T09:15Z", "2026-11-20T09:15:00Z"),
            (
                "2026-11-20T09:15:00.123456789+01:00",
                "2026-11-20T09:15:00.123456789+01:00",
            ),
            ("2026-11-20T09:15:00.5", "2026-11-20T09:15:00.500"),
            ("2026-11-20Z", "2026-11-20"),
            ("2026-11-20+01:00", "2026-11-20"),
        ] {
            let parsed = Timestamp::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed.to_string(), expected, "{text}");
            assert_eq!(Timestamp::parse(&parsed.to_string()).unwrap(), parsed);
        }
        for text in [
            "2026-11-20T09:15:00+7",
            "2026-11-20T09:15:00+24:00",
            "2026-11-20T25:00:00",
            "2026-11-20T09:15:00.1234567890",
            "2026-11-20T09",
            "2026-11-20X",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn un_cefact_date_strings_are_read_by_their_format_code() {
        for (text, format, expected) in [
            ("20261120", Some("102"), "2026-11-20"),
            ("202611200930", Some("203"), "2026-11-20T09:30:00"),
            ("20261120093015", Some("204"), "2026-11-20T09:30:15"),
            (
                "20261120093015+0100",
                Some("205"),
                "2026-11-20T09:30:15+01:00",
            ),
            ("20261120", None, "2026-11-20"),
            ("20261120093015", None, "2026-11-20T09:30:15"),
            ("2026-11-20", None, "2026-11-20"),
            (" 20261120 ", Some(" 102 "), "2026-11-20"),
        ] {
            let parsed = Timestamp::parse_cefact(text, format)
                .unwrap_or_else(|e| panic!("{text} {format:?}: {e}"));
            assert_eq!(parsed.to_string(), expected);
        }
        let wrong = Timestamp::parse_cefact("2026-11-20", Some("102")).unwrap_err();
        assert!(
            wrong.contains("format 102") && wrong.contains("CCYYMMDD"),
            "{wrong}"
        );
        let impossible = Timestamp::parse_cefact("20270230", Some("102")).unwrap_err();
        assert!(impossible.contains("20270230"), "{impossible}");
        let unknown = Timestamp::parse_cefact("20261120", Some("610")).unwrap_err();
        assert!(
            unknown.contains("\"610\"") && unknown.contains("102"),
            "{unknown}"
        );
    }

    #[test]
    fn non_iso_dates_are_refused_with_the_text() {
        let error = Timestamp::parse("06/01/2014").unwrap_err();
        assert!(error.to_string().contains("06/01/2014"));
    }

    #[test]
    fn certificate_kinds_are_recognised_from_the_subtype_of_type_o_only() {
        for (subtype, kind) in [
            (
                "Musical instrument certificate",
                CertificateKind::MusicalInstrument,
            ),
            ("MIC", CertificateKind::MusicalInstrument),
            (
                "travelling-exhibition",
                CertificateKind::TravellingExhibition,
            ),
            (
                "TRAVELING_EXHIBITION certificate",
                CertificateKind::TravellingExhibition,
            ),
            (
                "Certificate of personal ownership",
                CertificateKind::PersonalOwnership,
            ),
        ] {
            assert_eq!(
                CertificateKind::of_subtype(subtype),
                Some(kind),
                "{subtype}"
            );
        }
        assert_eq!(CertificateKind::of_subtype("pre-Convention"), None);
        let mut permit = Permit {
            document_type: Some(Coded::parse("E")),
            document_subtype: Some("musical instrument".into()),
            ..Permit::default()
        };
        assert_eq!(permit.certificate_kind(), None);
        permit.document_type = Some(Coded::parse("O"));
        assert_eq!(
            permit.certificate_kind(),
            Some(CertificateKind::MusicalInstrument)
        );
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
