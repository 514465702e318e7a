//! Code lists: every coded value that is not a member of its list, and user-assigned countries.

use super::location::{self as el, Loc};
use super::rules::{self as rule, RuleInfo};
use super::Collector;
use crate::codes::{CodeList, Coded, Unit};
use crate::model::{Country, CountryReference, Party, Quantity};
use crate::{CountryCode, Permit};

/// Lists up to this long are spelled out in messages; longer ones are described.
const MAX_LISTED: usize = 40;

pub(super) fn check(permit: &Permit, out: &mut Collector) {
    code(
        permit.document_type.as_ref(),
        &rule::DOCUMENT_TYPE_UNKNOWN,
        el::DOCUMENT_TYPE.at(),
        out,
    );
    code(
        permit.purpose.as_ref(),
        &rule::PURPOSE_UNKNOWN,
        el::PURPOSE.at(),
        out,
    );

    country(
        party_country(&permit.importer),
        el::IMPORTER_COUNTRY.at(),
        out,
    );
    country(
        party_country(&permit.exporter),
        el::EXPORTER_COUNTRY.at(),
        out,
    );
    country(
        party_country(&permit.issuing_authority),
        el::ISSUER_COUNTRY.at(),
        out,
    );
    if let Some(endorsement) = &permit.export_endorsement {
        country(
            party_country(&endorsement.certifier),
            el::CONSIGNMENT_CERTIFIER_COUNTRY.at(),
            out,
        );
        unit(
            endorsement.quantity.as_ref(),
            el::CONSIGNMENT_ENDORSED_UNIT.at(),
            out,
        );
    }

    for (index, block) in permit.blocks.iter().enumerate() {
        let at = |element: el::Element| element.in_block(index, block);
        code(block.term.as_ref(), &rule::TERM_UNKNOWN, at(el::TERM), out);
        code(
            block.appendix.as_ref(),
            &rule::APPENDIX_UNKNOWN,
            at(el::APPENDIX),
            out,
        );
        code(
            block.source.as_ref(),
            &rule::SOURCE_UNKNOWN,
            at(el::SOURCE),
            out,
        );
        code(
            block.eu_annex.as_ref(),
            &rule::EU_ANNEX_UNKNOWN,
            at(el::EU_ANNEX),
            out,
        );
        unit(block.quantity.as_ref(), at(el::QUANTITY_UNIT), out);
        if let Some(quota) = &block.quota {
            unit(quota.used_to_date.as_ref(), at(el::QUOTA_USED_UNIT), out);
            unit(quota.annual.as_ref(), at(el::QUOTA_ANNUAL_UNIT), out);
        }
        country(
            reference_country(&block.origin),
            at(el::ORIGIN_COUNTRY),
            out,
        );
        country(
            reference_country(&block.last_reexport),
            at(el::LAST_REEXPORT_COUNTRY),
            out,
        );
        if let Some(endorsement) = &block.endorsement {
            unit(endorsement.quantity.as_ref(), at(el::ENDORSED_UNIT), out);
            country(
                party_country(&endorsement.certifier),
                at(el::BLOCK_CERTIFIER_COUNTRY),
                out,
            );
        }
    }
}

fn party_country(party: &Option<Party>) -> Option<&Country> {
    party.as_ref()?.address.country.as_ref()
}

fn reference_country(reference: &Option<CountryReference>) -> Option<&Country> {
    reference.as_ref()?.country.as_ref()
}

/// Reports an unknown code, naming the value and the list.
fn code<T: CodeList>(value: Option<&Coded<T>>, rule: &RuleInfo, at: Loc, out: &mut Collector) {
    let Some(Coded::Unknown(text)) = value else {
        return;
    };
    let found = if text.is_empty() {
        "the code is empty".to_owned()
    } else {
        format!("\"{text}\" is not a CITES {}", T::LIST_NAME)
    };
    let hint = capitals_hint::<T>(text);
    out.push(
        rule,
        at,
        format!("{found}; expected {}{hint}.", expected::<T>()),
    );
}

/// Reports an unknown unit code, with the CITES code when a UN/ECE Rec 20 code was sent.
fn unit(quantity: Option<&Quantity>, at: Loc, out: &mut Collector) {
    let Some(Coded::Unknown(text)) = quantity.and_then(|quantity| quantity.unit.as_ref()) else {
        return;
    };
    let rec20 = REC20_UNITS
        .iter()
        .find(|(rec20, _)| rec20.eq_ignore_ascii_case(text))
        .map(|(_, cites)| {
            format!(" (\"{text}\" is a UN/ECE Rec 20 code; the CITES code is {cites})")
        })
        .unwrap_or_default();
    let found = if text.is_empty() {
        "the unit code is empty (leave the unit out for a number of specimens)".to_owned()
    } else {
        format!("\"{text}\" is not a CITES unit code")
    };
    let hint = capitals_hint::<Unit>(text);
    out.push(
        &rule::UNIT_UNKNOWN,
        at,
        format!("{found}; expected {}{hint}{rec20}.", expected::<Unit>()),
    );
}

/// Common UN/ECE Rec 20 unit codes and their CITES equivalents: the usual mistake of systems
/// that also speak ePhyto or customs messages.
const REC20_UNITS: &[(&str, Unit)] = &[
    ("KGM", Unit::KIL),
    ("GRM", Unit::GRM),
    ("TNE", Unit::TON),
    ("MTQ", Unit::CUM),
    ("MTK", Unit::SQM),
    ("MTR", Unit::MTR),
    ("LTR", Unit::LTR),
    ("MLT", Unit::MLT),
    ("H87", Unit::PCS),
    ("C62", Unit::PCS),
    ("PR", Unit::PAI),
];

/// Reports an unknown country code, and a user-assigned one as information.
fn country(value: Option<&Country>, at: Loc, out: &mut Collector) {
    match value {
        Some(Coded::Unknown(text)) => {
            let found = if text.is_empty() {
                "the country code is empty".to_owned()
            } else {
                format!("\"{text}\" is not an ISO 3166-1 alpha-2 country code")
            };
            let hint = capitals_hint::<CountryCode>(text);
            out.push(
                &rule::COUNTRY_UNKNOWN,
                at,
                format!("{found}; expected two capital letters such as FR or US{hint}."),
            );
        }
        Some(Coded::Known(code)) if code.is_user_assigned() => out.push(
            &rule::COUNTRY_USER_ASSIGNED,
            at,
            format!(
                "{code} is not an officially assigned country (test or pilot code); \
                 it is accepted, but names no real country."
            ),
        ),
        _ => {}
    }
}

/// What the list expects: its members when few, a description otherwise.
fn expected<T: CodeList>() -> String {
    if T::ALL.len() <= MAX_LISTED {
        let codes: Vec<&str> = T::ALL.iter().map(|member| member.code()).collect();
        format!("one of {}", codes.join(", "))
    } else {
        let examples: Vec<&str> = T::ALL.iter().take(3).map(|member| member.code()).collect();
        format!(
            "a {} of the CITES Guidelines for annual reports, such as {}",
            T::LIST_NAME,
            examples.join(", ")
        )
    }
}

/// A hint when the text is a code written in lower case.
fn capitals_hint<T: CodeList>(text: &str) -> String {
    let upper = text.to_ascii_uppercase();
    match T::from_code(&upper) {
        Some(member) if upper != text => {
            format!(" (codes are written in capitals: {})", member.code())
        }
        _ => String::new(),
    }
}
