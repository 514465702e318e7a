//! Test support: proptest strategies for permits and realistic sample permits.
//!
//! Enabled by the `testing` feature so that the crates built on the domain (Lambdas, CLI) can
//! property-test their own round trips and benchmark with the same permits as this crate.
//!
//! # What the generated permits look like
//!
//! [`arb_permit`] generates permits that every format can carry without loss, i.e. permits in
//! the *normal form* a reader produces:
//!
//! - every string is non-empty and has no leading or trailing XML white space (space, tab, line
//!   feed, carriage return), because readers trim values and treat an empty one as absent;
//!   strings do contain markup characters (`& < > " '`), inner line breaks (including carriage
//!   returns) and non-ASCII text, but none of the control characters XML 1.0 cannot carry;
//! - an optional aggregate (party, place, examination, quota, country reference, signatory) is
//!   either absent or has at least one value, because an empty aggregate is not written;
//! - coded values are what [`Coded::parse`] makes of their text, and a unit is never `?` (the
//!   EPIX placeholder for "no unit");
//! - a referenced document has a number or a date;
//! - a block has at least one value.

use crate::codes::{
    Appendix, CodeList, Coded, DocumentType, Purpose, RegionalAnnex, Source, Term, Unit,
};
use crate::country::CountryCode;
use crate::model::{
    Address, Block, CountryReference, DocumentReference, Examination, Location, Party, Permit,
    Quantity, Quota, Signatory, Timestamp,
};
use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn trim_xml(text: &str) -> &str {
    text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// A non-empty, trimmed string with markup characters, line breaks and non-ASCII text.
pub fn arb_text() -> BoxedStrategy<String> {
    "[a-zA-Z0-9 &<>\"'.,;:/()\\-éüßçÅœ中文字\u{a0}\u{1F98E}\t\r\n]{1,24}"
        .prop_filter_map("empty after trimming", |text| {
            let trimmed = trim_xml(&text);
            (!trimmed.is_empty()).then(|| trimmed.to_owned())
        })
        .boxed()
}

fn arb_opt_text() -> BoxedStrategy<Option<String>> {
    option::of(arb_text()).boxed()
}

/// A coded value: mostly known codes, sometimes text that is not in the list.
pub fn arb_coded<T: CodeList>() -> BoxedStrategy<Coded<T>> {
    prop_oneof![
        4 => proptest::sample::select(T::ALL).prop_map(Coded::Known),
        1 => arb_text().prop_filter_map("placeholder", |text| {
            let coded = Coded::<T>::parse(&text);
            (!coded.as_str().is_empty() && coded.as_str() != "?").then_some(coded)
        }),
    ]
    .boxed()
}

/// A date, a date-time with an offset, or a local date-time, as permits carry them.
pub fn arb_timestamp() -> BoxedStrategy<Timestamp> {
    let date = (1950i32..2100, 1u32..=12, 1u32..=28)
        .prop_filter_map("date", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d));
    let time = (
        0u32..24,
        0u32..60,
        0u32..60,
        prop_oneof![Just(0u32), 0u32..1000],
    )
        .prop_filter_map("time", |(h, m, s, ms)| {
            NaiveTime::from_hms_milli_opt(h, m, s, ms)
        });
    let offset = (-12i32..=14, prop_oneof![Just(0i32), Just(30), Just(45)])
        .prop_filter_map("offset", |(h, m)| {
            FixedOffset::east_opt(h * 3600 + h.signum() * m * 60)
        });
    prop_oneof![
        date.clone().prop_map(Timestamp::Date),
        (date.clone(), time.clone(), offset).prop_filter_map("instant", |(d, t, o)| {
            o.from_local_datetime(&NaiveDateTime::new(d, t))
                .single()
                .map(Timestamp::DateTime)
        }),
        (date, time).prop_map(|(d, t)| Timestamp::Local(NaiveDateTime::new(d, t))),
    ]
    .boxed()
}

/// A quantity with up to six decimals, with or without a unit.
pub fn arb_quantity() -> BoxedStrategy<Quantity> {
    (
        0i64..10_000_000_000,
        0u32..=6,
        option::of(arb_coded::<Unit>()),
    )
        .prop_map(|(mantissa, scale, unit)| Quantity {
            value: Decimal::new(mantissa, scale),
            unit,
        })
        .boxed()
}

fn non_empty<T: Default + PartialEq>(value: Option<T>) -> Option<T> {
    value.filter(|value| *value != T::default())
}

/// A postal address (possibly empty).
pub fn arb_address() -> BoxedStrategy<Address> {
    (
        vec(arb_text(), 0..3),
        arb_opt_text(),
        arb_opt_text(),
        arb_opt_text(),
        arb_opt_text(),
        option::of(arb_coded::<CountryCode>()),
        arb_opt_text(),
    )
        .prop_map(
            |(street, post_office_box, postcode, city, subdivision, country, country_name)| {
                Address {
                    street,
                    post_office_box,
                    postcode,
                    city,
                    subdivision,
                    country,
                    country_name,
                }
            },
        )
        .boxed()
}

/// A party that is absent or has at least one value.
pub fn arb_party() -> BoxedStrategy<Option<Party>> {
    option::of((arb_opt_text(), arb_opt_text(), arb_address()))
        .prop_map(|party| party.map(|(id, name, address)| Party { id, name, address }))
        .prop_map(non_empty)
        .boxed()
}

fn arb_location() -> BoxedStrategy<Option<Location>> {
    option::of((arb_opt_text(), arb_opt_text()))
        .prop_map(|location| location.map(|(id, name)| Location { id, name }))
        .prop_map(non_empty)
        .boxed()
}

fn arb_examination() -> BoxedStrategy<Option<Examination>> {
    option::of((
        option::of(arb_timestamp()),
        option::of(arb_quantity()),
        arb_location(),
        arb_party(),
    ))
    .prop_map(|exam| {
        exam.map(|(date, quantity, port, certifier)| Examination {
            date,
            quantity,
            port,
            certifier,
        })
    })
    .prop_map(non_empty)
    .boxed()
}

fn arb_country_reference() -> BoxedStrategy<Option<CountryReference>> {
    option::of((
        option::of(arb_coded::<CountryCode>()),
        arb_opt_text(),
        arb_opt_text(),
        option::of(arb_timestamp()),
    ))
    .prop_map(|reference| {
        reference.map(
            |(country, country_name, permit_number, permit_date)| CountryReference {
                country,
                country_name,
                permit_number,
                permit_date,
            },
        )
    })
    .prop_map(non_empty)
    .boxed()
}

fn arb_document_reference() -> BoxedStrategy<DocumentReference> {
    (
        option::of(prop_oneof![
            Just("861".to_owned()),
            Just("811".to_owned()),
            arb_text()
        ]),
        arb_opt_text(),
        option::of(arb_timestamp()),
    )
        .prop_filter("a number or a date", |(_, id, date)| {
            id.is_some() || date.is_some()
        })
        .prop_map(|(type_code, id, issue_date)| DocumentReference {
            type_code,
            id,
            issue_date,
        })
        .boxed()
}

/// One block of a permit.
pub fn arb_block() -> BoxedStrategy<Block> {
    let names = (
        prop_oneof![Just(String::new()), arb_text()],
        arb_opt_text(),
        arb_opt_text(),
        arb_opt_text(),
        vec(arb_text(), 0..3),
    );
    let codes = (
        option::of(arb_coded::<Term>()),
        option::of(arb_coded::<Appendix>()),
        (
            option::of(arb_coded::<Source>()),
            option::of(arb_coded::<RegionalAnnex>()),
        ),
        option::of(arb_quantity()),
        option::of((option::of(arb_quantity()), option::of(arb_quantity())))
            .prop_map(|quota| {
                quota.map(|(used_to_date, annual)| Quota {
                    used_to_date,
                    annual,
                })
            })
            .prop_map(non_empty),
    );
    let history = (
        arb_country_reference(),
        arb_country_reference(),
        arb_opt_text(),
        option::of(arb_timestamp()),
        arb_examination(),
    );
    (names, codes, history)
        .prop_map(
            |(
                (id, scientific_name, common_name, description, marks),
                (term, appendix, (source, eu_annex), quantity, quota),
                (origin, last_reexport, operation_number, acquisition_date, endorsement),
            )| Block {
                id,
                scientific_name,
                common_name,
                description,
                marks,
                term,
                appendix,
                source,
                eu_annex,
                quantity,
                quota,
                origin,
                last_reexport,
                operation_number,
                acquisition_date,
                endorsement,
            },
        )
        // An empty block writes nothing, so no reader can give it back (normal form).
        .prop_filter("a block has at least one value", |block| {
            *block != Block::default()
        })
        .boxed()
}

/// `text` encoded as UTF-16, little- or big-endian, with or without a byte order mark: what
/// .NET, PowerShell and older Windows exporters write.
pub fn utf16(text: &str, big_endian: bool, with_bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if with_bom {
        out.extend(if big_endian {
            [0xFE, 0xFF]
        } else {
            [0xFF, 0xFE]
        });
    }
    for unit in text.encode_utf16() {
        out.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

/// A permit in the normal form every format carries without loss (see the module docs).
pub fn arb_permit() -> BoxedStrategy<Permit> {
    let identity = (
        option::of(arb_coded::<DocumentType>()),
        arb_opt_text(),
        prop_oneof![Just(String::new()), arb_text()],
        arb_opt_text(),
        option::of(any::<bool>()),
        option::of(arb_timestamp()),
        option::of(arb_timestamp()),
    );
    let parties = (arb_party(), arb_party(), arb_party());
    let header = (
        vec(arb_text(), 0..3),
        option::of(arb_coded::<Purpose>()),
        arb_opt_text(),
        arb_opt_text(),
        arb_location(),
        option::of(arb_timestamp()),
        option::of((arb_opt_text(), option::of(arb_timestamp()), arb_opt_text()))
            .prop_map(|signatory| {
                signatory.map(|(name, date, statement)| Signatory {
                    name,
                    date,
                    statement,
                })
            })
            .prop_map(non_empty),
    );
    let consignment = (
        arb_examination(),
        arb_opt_text(),
        vec(arb_document_reference(), 0..3),
        vec(arb_block(), 0..4),
    );
    (identity, parties, header, consignment)
        .prop_map(
            |(
                (
                    document_type,
                    document_subtype,
                    permit_number,
                    document_name,
                    copy,
                    valid_from,
                    valid_until,
                ),
                (importer, exporter, issuing_authority),
                (
                    special_conditions,
                    purpose,
                    purpose_text,
                    security_stamp,
                    issue_place,
                    issue_date,
                    signatory,
                ),
                (export_endorsement, transport_document, references, blocks),
            )| Permit {
                document_type,
                document_subtype,
                permit_number,
                document_name,
                copy,
                valid_from,
                valid_until,
                importer,
                exporter,
                special_conditions,
                purpose,
                purpose_text,
                security_stamp,
                issuing_authority,
                issue_place,
                issue_date,
                signatory,
                export_endorsement,
                transport_document,
                references,
                blocks,
            },
        )
        .boxed()
}

fn date(text: &str) -> Option<Timestamp> {
    Timestamp::parse(text).ok()
}

fn party(name: &str, street: &str, postcode: &str, city: &str, country: &str) -> Party {
    Party {
        id: None,
        name: Some(name.to_owned()),
        address: Address {
            street: vec![street.to_owned()],
            post_office_box: None,
            postcode: Some(postcode.to_owned()),
            city: Some(city.to_owned()),
            subdivision: None,
            country: Some(Coded::parse(country)),
            country_name: CountryCode::from_code(country).map(|code| code.name().to_owned()),
        },
    }
}

/// Species, term, unit, appendix and source of the blocks of [`typical_permit`], in turn.
type Species = (
    &'static str,
    &'static str,
    &'static str,
    Term,
    Unit,
    Appendix,
    Source,
    &'static str,
);

/// Scientific and common name, description, term, unit, appendix, source and origin country.
const SPECIES: &[Species] = &[
    (
        "Crocodylus niloticus",
        "Nile crocodile",
        "Watchstraps of tanned leather",
        Term::WAT,
        Unit::PCS,
        Appendix::II,
        Source::R,
        "ZW",
    ),
    (
        "Python reticulatus",
        "Reticulated python",
        "Handbags, skin of back and sides",
        Term::HAN,
        Unit::PCS,
        Appendix::II,
        Source::W,
        "MY",
    ),
    (
        "Aquilaria malaccensis",
        "Agarwood",
        "Wood chips for incense",
        Term::CHP,
        Unit::KIL,
        Appendix::II,
        Source::W,
        "ID",
    ),
    (
        "Acipenser baerii",
        "Siberian sturgeon",
        "Caviar in 250 g tins",
        Term::CAV,
        Unit::KIL,
        Appendix::II,
        Source::C,
        "RU",
    ),
];

/// A realistic export permit with `blocks` blocks, full addresses, quota figures and origin
/// references: what benchmarks and format tests use as "a typical permit". Three blocks write
/// to about 8 KB of XML.
pub fn typical_permit(blocks: usize) -> Permit {
    Permit {
        document_type: Some(Coded::Known(DocumentType::E)),
        document_subtype: None,
        permit_number: "24FR000123".into(),
        document_name: Some("CITES export permit".into()),
        copy: Some(false),
        valid_from: date("2024-03-01T09:30:00+01:00"),
        valid_until: date("2024-08-31T23:59:59+02:00"),
        importer: Some(party(
            "Tokyo Leather Goods Co., Ltd.",
            "3-1-1 Marunouchi, Chiyoda-ku",
            "100-0005",
            "Tokyo",
            "JP",
        )),
        exporter: Some(party(
            "Maroquinerie Durand & Fils SARL",
            "12 rue des Tanneurs",
            "75011",
            "Paris",
            "FR",
        )),
        special_conditions: vec![
            "For live animals, this permit is only valid if the transport conditions comply with the CITES Guidelines for the non-air transport of live wild animals and plants or, in the case of air transport, with the IATA Live Animals Regulations.".into(),
            "Valid only with the original invoice No. 2024-0457 attached.".into(),
        ],
        purpose: Some(Coded::Known(Purpose::T)),
        purpose_text: Some("Commercial".into()),
        security_stamp: Some("FR-0034521".into()),
        issuing_authority: Some(Party {
            id: Some("FR-MA-01".into()),
            ..party(
                "Ministère de la Transition écologique, Bureau CITES",
                "Tour Séquoia, 1 place Carpeaux",
                "92055",
                "La Défense",
                "FR",
            )
        }),
        issue_place: Some(Location {
            id: Some("FRPAR".into()),
            name: Some("Paris".into()),
        }),
        issue_date: date("2024-03-01T09:30:00+01:00"),
        signatory: Some(Signatory {
            name: Some("Claire Martin".into()),
            date: date("2024-03-01T09:30:00+01:00"),
            statement: Some("Signed for the Management Authority of France".into()),
        }),
        export_endorsement: None,
        transport_document: Some("057-12345675".into()),
        references: Vec::new(),
        blocks: (0..blocks)
            .map(|index| {
                let (scientific, common, description, term, unit, appendix, source, origin) =
                    SPECIES[index % SPECIES.len()];
                Block {
                    id: block_letter(index),
                    scientific_name: Some(scientific.into()),
                    common_name: Some(common.into()),
                    description: Some(description.into()),
                    marks: vec![format!("Tags FR-{:04} to FR-{:04}", index * 100 + 1, index * 100 + 40)],
                    term: Some(Coded::Known(term)),
                    appendix: Some(Coded::Known(appendix)),
                    source: Some(Coded::Known(source)),
                    eu_annex: None,
                    quantity: Some(Quantity {
                        value: Decimal::new(40 + index as i64, 0),
                        unit: Some(Coded::Known(unit)),
                    }),
                    quota: Some(Quota {
                        used_to_date: Some(Quantity {
                            value: Decimal::new(1250 + index as i64, 0),
                            unit: Some(Coded::Known(unit)),
                        }),
                        annual: Some(Quantity {
                            value: Decimal::new(20000, 0),
                            unit: Some(Coded::Known(unit)),
                        }),
                    }),
                    origin: Some(CountryReference {
                        country: Some(Coded::parse(origin)),
                        country_name: CountryCode::from_code(origin)
                            .map(|code| code.name().to_owned()),
                        permit_number: Some(format!("{origin}23-{:06}", 4711 + index)),
                        permit_date: date("2023-11-15"),
                    }),
                    last_reexport: None,
                    operation_number: None,
                    acquisition_date: None,
                    endorsement: None,
                }
            })
            .collect(),
    }
}

/// A, B, ..., Z, AA, AB, ...: block letters as printed on the form.
fn block_letter(index: usize) -> String {
    let mut letters = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        n -= 1;
        letters.push(char::from(b'A' + (n % 26) as u8));
        n /= 26;
    }
    letters.iter().rev().collect()
}

/// quick-xml alone over `xml`, the floor the XML reader's speed is measured against (issue #20:
/// the reader at 90 % or more of this rate): every event of the document, tokenized as far as
/// the reader must tokenize it and no further. That is each element's local name, each
/// attribute split out and checked (quick-xml leaves attributes to be split on demand; the
/// reader checks every one), and each character or predefined-entity reference resolved (text
/// between references comes borrowed, as the reader takes it). Nothing is kept, decided or
/// allocated beyond quick-xml's own. Returns a checksum of what it saw, so that none of it can
/// be optimised away; it stops at the first error, as the reader does.
pub fn tokenize_only(xml: &str) -> usize {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut seen = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(Event::Start(element) | Event::Empty(element)) => {
                seen += element.local_name().as_ref().len();
                for attribute in element.attributes() {
                    match attribute {
                        Ok(attribute) => seen += attribute.value.len(),
                        Err(_) => return seen,
                    }
                }
            }
            Ok(Event::Text(text)) => seen += text.len(),
            Ok(Event::GeneralRef(reference)) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.len_utf8()),
                    Ok(None) => std::str::from_utf8(&reference)
                        .ok()
                        .and_then(quick_xml::escape::resolve_xml_entity)
                        .map(str::len),
                    Err(_) => None,
                };
                match resolved {
                    Some(length) => seen += length,
                    None => return seen,
                }
            }
            Ok(_) => seen += 1,
        }
    }
    seen
}

/// The least any reader by meaning does over `bytes`: the reader's own name lookup, meaning and
/// stack of open elements over quick-xml's events, each value's text located, and nothing
/// checked or kept (no attribute, no rule, no value parsed). The bench shows it next to
/// [`tokenize_only`] as the budget of issue #20's reading goal (docs/standard-format.md §6): what
/// is left of the goal's 10 % once a reader has only found its way through the document.
/// Returns the bytes of value text seen (0 when the input cannot be decoded).
pub fn dispatch_only(bytes: &[u8]) -> usize {
    crate::xml::dispatch_only(bytes)
}

/// quick-xml's events alone over `xml`, touching none of their content (no name, attribute or
/// reference looked at): the number of events. A stricter floor than [`tokenize_only`], shown
/// next to it by the bench (it was the bench's baseline until 2026-11-30).
pub fn tokenize_events(xml: &str) -> usize {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut events = 0usize;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => events += 1,
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::{tokenize_events, tokenize_only};

    #[test]
    fn the_tokenizer_baseline_sees_names_attributes_and_resolved_references() {
        // "a" 1 + attribute value "12" 2 + "t" 1 + "&" 1 + "A" 1 + the end tag 1.
        assert_eq!(tokenize_only(r#"<p:a x="12">t&amp;&#65;</p:a>"#), 7);
        // An entity nothing defines ends the run, as it ends a read.
        assert_eq!(tokenize_only("<a>&undefined;</a>"), 1);
    }

    #[test]
    fn the_events_baseline_counts_every_event_up_to_the_end() {
        // Start, text, reference, reference, end.
        assert_eq!(tokenize_events(r#"<p:a x="12">t&amp;&#65;</p:a>"#), 5);
    }
}
