//! Mandatory elements (domain guide §6, "Required elements") and the form of the permit number.

use super::location::{self as el, Element};
use super::rules::{self as rule, RuleInfo};
use super::{blank, Collector};
use crate::codes::DocumentType;
use crate::model::{Block, Party};
use crate::Permit;
use std::collections::hash_map::{Entry, HashMap};

/// The longest permit number the WCO data model accepts (D014, an..35 in the v3 WCO view).
const MAX_PERMIT_NUMBER_CHARS: usize = 35;

pub(super) fn check(permit: &Permit, out: &mut Collector) {
    match &permit.document_type {
        None => out.push(
            &rule::DOCUMENT_TYPE_REQUIRED,
            el::DOCUMENT_TYPE.at(),
            "the document type is missing; expected E (export permit), R (re-export \
             certificate), I (import permit) or O (other certificate).",
        ),
        Some(kind) if kind.is(DocumentType::O) && blank(permit.document_subtype.as_deref()) => out
            .push(
                &rule::DOCUMENT_SUBTYPE_REQUIRED,
                el::DOCUMENT_SUBTYPE.at(),
                "an other certificate (type O) must say which kind it is (for example \
                 introduction from the sea, pre-Convention or musical-instrument certificate); \
                 the sub-type is missing.",
            ),
        Some(_) => {}
    }

    let number = permit.permit_number.trim();
    if number.is_empty() {
        out.push(
            &rule::PERMIT_NUMBER_REQUIRED,
            el::PERMIT_NUMBER.at(),
            "the permit number is missing.",
        );
    } else {
        let chars = number.chars().count();
        if chars > MAX_PERMIT_NUMBER_CHARS {
            out.push(
                &rule::PERMIT_NUMBER_TOO_LONG,
                el::PERMIT_NUMBER.at(),
                format!(
                    "the permit number may have at most {MAX_PERMIT_NUMBER_CHARS} characters; \
                     \"{number}\" has {chars}."
                ),
            );
        }
    }

    if permit.valid_until.is_none() {
        out.push(
            &rule::VALID_UNTIL_REQUIRED,
            el::VALID_UNTIL.at(),
            "the last day of validity is missing.",
        );
    }
    if permit.issue_date.is_none() {
        out.push(
            &rule::ISSUE_DATE_REQUIRED,
            el::ISSUE_DATE.at(),
            "the date of issue is missing.",
        );
    }
    if permit.purpose.is_none() {
        out.push(
            &rule::PURPOSE_REQUIRED,
            el::PURPOSE.at(),
            "the purpose of the transaction is missing; expected a purpose code such as T \
             (commercial).",
        );
    }

    // Musical-instrument, travelling-exhibition and personal-ownership certificates accompany
    // their specimens to no consignee: they have no importer (their mandatory boxes differ).
    let needs_importer = permit
        .certificate_kind()
        .is_none_or(|kind| kind.has_importer());
    if needs_importer {
        party(
            permit.importer.as_ref(),
            "importer",
            "country of import",
            [
                (&rule::IMPORTER_NAME_REQUIRED, el::IMPORTER_NAME),
                (&rule::IMPORTER_COUNTRY_REQUIRED, el::IMPORTER_COUNTRY),
            ],
            out,
        );
    }
    party(
        permit.exporter.as_ref(),
        "(re-)exporter",
        "(re-)exporter's country",
        [
            (&rule::EXPORTER_NAME_REQUIRED, el::EXPORTER_NAME),
            (&rule::EXPORTER_COUNTRY_REQUIRED, el::EXPORTER_COUNTRY),
        ],
        out,
    );
    party(
        permit.issuing_authority.as_ref(),
        "issuing Management Authority",
        "issuing Management Authority's country",
        [
            (&rule::ISSUER_NAME_REQUIRED, el::ISSUER_NAME),
            (&rule::ISSUER_COUNTRY_REQUIRED, el::ISSUER_COUNTRY),
        ],
        out,
    );

    if permit.blocks.is_empty() {
        out.push(
            &rule::BLOCKS_REQUIRED,
            el::BLOCKS.at(),
            "the permit has no block of specimens; at least one block (A) is required.",
        );
    }
    // The first block of each letter, so duplicates are found in one pass (linear, not pairwise).
    let mut first_of: HashMap<String, usize> = HashMap::with_capacity(permit.blocks.len());
    for (index, block) in permit.blocks.iter().enumerate() {
        block_elements(index, block, out);
        duplicate_block_id(&mut first_of, index, block, out);
    }
}

/// A block whose letter an earlier block already has (letters compared without regard to case
/// or surrounding space: "a" and "A " are the same block on paper).
fn duplicate_block_id(
    first_of: &mut HashMap<String, usize>,
    index: usize,
    block: &Block,
    out: &mut Collector,
) {
    let id = block.id.trim();
    if id.is_empty() {
        return;
    }
    let first = match first_of.entry(id.to_ascii_uppercase()) {
        Entry::Occupied(first) => Some(*first.get()),
        Entry::Vacant(slot) => {
            slot.insert(index);
            None
        }
    };
    if let Some(first) = first {
        out.push(
            &rule::BLOCK_ID_DUPLICATE,
            el::BLOCK_ID.in_block(index, block),
            format!(
                "block letter \"{id}\" is already used by the {} block; each block \
                 needs its own letter.",
                ordinal(first + 1)
            ),
        );
    }
}

fn ordinal(position: usize) -> String {
    let suffix = match (position % 10, position % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{position}{suffix}")
}

/// A party's name and country: `[name rule, country rule]`.
fn party(
    party: Option<&Party>,
    who: &str,
    country_name: &str,
    [(name_rule, name_at), (country_rule, country_at)]: [(&RuleInfo, Element); 2],
    out: &mut Collector,
) {
    if blank(party.and_then(|party| party.name.as_deref())) {
        out.push(
            name_rule,
            name_at.at(),
            format!("the {who}'s name is missing."),
        );
    }
    if party
        .and_then(|party| party.address.country.as_ref())
        .is_none()
    {
        out.push(
            country_rule,
            country_at.at(),
            format!("the {country_name} is missing; expected an ISO 3166-1 alpha-2 code."),
        );
    }
}

fn block_elements(index: usize, block: &Block, out: &mut Collector) {
    if block.id.trim().is_empty() {
        out.push(
            &rule::BLOCK_ID_REQUIRED,
            el::BLOCK_ID.in_block(index, block),
            "the block letter is missing; expected A, B, C, ... in order.",
        );
    }
    if blank(block.scientific_name.as_deref()) {
        out.push(
            &rule::SCIENTIFIC_NAME_REQUIRED,
            el::SCIENTIFIC_NAME.in_block(index, block),
            "the scientific name of the species is missing.",
        );
    }
    let missing: [(bool, &RuleInfo, Element, &str); 4] = [
        (
            block.term.is_none(),
            &rule::TERM_REQUIRED,
            el::TERM,
            "the term code describing the specimens is missing (for example LIV, SKI, TIM).",
        ),
        (
            block.appendix.is_none(),
            &rule::APPENDIX_REQUIRED,
            el::APPENDIX,
            "the Appendix is missing; expected I, II or III.",
        ),
        (
            block.source.is_none(),
            &rule::SOURCE_REQUIRED,
            el::SOURCE,
            "the source code is missing (for example W for wild, C for captive-bred).",
        ),
        (
            block.quantity.is_none(),
            &rule::QUANTITY_REQUIRED,
            el::QUANTITY,
            "the quantity is missing.",
        ),
    ];
    for (is_missing, rule, element, message) in missing {
        if is_missing {
            out.push(rule, element.in_block(index, block), message);
        }
    }
}
