//! Business rules: rules between values.
//!
//! Each rule runs only when the values it compares are present and known; a missing value or an
//! unknown code has already been reported by the mandatory or code-list tier. Dates are compared
//! by their calendar date as written by the issuer (no time-zone conversion), and dates far in
//! the past or future are not findings: historic permits are back-filled.

use super::location::{self as el, block_name};
use super::rules as rule;
use super::term_unit;
use super::{blank, Collector};
use crate::codes::{Appendix, Coded, DocumentType, Purpose, Source, Unit};
use crate::model::{Block, Quantity};
use crate::{CodeList, Permit};
use chrono::{Months, NaiveDate};

pub(super) fn check(permit: &Permit, out: &mut Collector) {
    validity(permit, out);
    countries(permit, out);
    for (index, block) in permit.blocks.iter().enumerate() {
        block_rules(permit, index, block, out);
    }
}

/// Box 2 against box 13: order of the dates and the longest validity per document type.
fn validity(permit: &Permit, out: &mut Collector) {
    let issued = permit.issue_date.map(|date| date.date());
    let from = permit.valid_from.map(|date| date.date());
    let until = permit.valid_until.map(|date| date.date());

    if let (Some(issued), Some(until)) = (issued, until) {
        // Box 2 is the last day of validity, inclusive: a permit valid on its day of issue
        // only is odd but not invalid.
        if until < issued {
            out.push(
                &rule::VALIDITY_UNTIL_BEFORE_ISSUE,
                el::VALID_UNTIL.at(),
                format!(
                    "the permit expires ({until}) before it was issued ({issued}); the last \
                     day of validity must be on or after the date of issue (box 13)."
                ),
            );
        }
    }
    if let (Some(from), Some(until)) = (from, until) {
        if until < from {
            out.push(
                &rule::VALIDITY_UNTIL_BEFORE_FROM,
                el::VALID_UNTIL.at(),
                format!(
                    "the last day of validity ({until}) is before the first day of validity \
                     ({from})."
                ),
            );
        }
    }
    if let (Some(issued), Some(from)) = (issued, from) {
        if from < issued {
            out.push(
                &rule::VALIDITY_FROM_BEFORE_ISSUE,
                el::VALID_FROM.at(),
                format!(
                    "the permit is valid from {from}, before its date of issue ({issued}); a \
                     permit cannot be valid before it is issued."
                ),
            );
        }
    }

    let Some(kind) = permit.known_document_type() else {
        return;
    };
    let (months, what) = match kind {
        DocumentType::E => (6, "an export permit"),
        DocumentType::R => (6, "a re-export certificate"),
        DocumentType::I => (12, "an import permit"),
        // Other certificates have their own periods (up to three years for travelling
        // exhibitions), so none is imposed here.
        DocumentType::O => return,
    };
    // Validity runs from the date of issue; without one, from the first day of validity.
    let (Some(start), Some(until)) = (issued.or(from), until) else {
        return;
    };
    let Some(latest) = add_months(start, months) else {
        return;
    };
    if until > latest {
        out.push(
            &rule::VALIDITY_TOO_LONG,
            el::VALID_UNTIL.at(),
            format!(
                "{what} may be valid for at most {months} months from the date of issue \
                 ({start}), that is until {latest}; found valid until {until}."
            ),
        );
    }
}

/// Calendar months, clamped to the end of a shorter month (31 August + 6 months = last day of
/// February).
fn add_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(months))
}

/// Boxes 3a, 4 and 6: who issues for which country.
fn countries(permit: &Permit, out: &mut Collector) {
    let exporting = permit.exporting_country();
    let importing = permit.importing_country();
    if let (Some(exporting), Some(importing)) = (exporting, importing) {
        if exporting == importing {
            out.push(
                &rule::SAME_EXPORT_IMPORT_COUNTRY,
                el::IMPORTER_COUNTRY.at(),
                format!(
                    "the country of import ({importing}) is the country of (re-)export in box \
                     4; a CITES permit is for trade between two countries."
                ),
            );
        }
    }

    let (Some(kind), Some(issuer)) = (permit.known_document_type(), permit.issuing_country())
    else {
        return;
    };
    match kind {
        DocumentType::E | DocumentType::R => {
            if let Some(exporting) = exporting.filter(|exporting| *exporting != issuer) {
                out.push(
                    &rule::ISSUER_NOT_EXPORTER_COUNTRY,
                    el::ISSUER_COUNTRY.at(),
                    format!(
                        "the permit is issued by the Management Authority of {issuer}, but the \
                         (re-)exporter in box 4 is in {exporting}; a Management Authority only \
                         issues export permits and re-export certificates for its own country."
                    ),
                );
            }
        }
        DocumentType::I => {
            if let Some(importing) = importing.filter(|importing| *importing != issuer) {
                out.push(
                    &rule::ISSUER_NOT_IMPORTER_COUNTRY,
                    el::ISSUER_COUNTRY.at(),
                    format!(
                        "the import permit is issued by the Management Authority of {issuer}, \
                         but the country of import in box 3a is {importing}; an import permit is \
                         normally issued by the country of import."
                    ),
                );
            }
        }
        DocumentType::O => {}
    }
}

fn block_rules(permit: &Permit, index: usize, block: &Block, out: &mut Collector) {
    let at = |element: el::Element| element.in_block(index, block);
    let appendix = block.appendix.as_ref().and_then(Coded::known);
    let source = block.source.as_ref().and_then(Coded::known);
    let name = block_name(index, block);

    // Box 10.
    if appendix == Some(Appendix::I)
        && permit.purpose.as_ref().is_some_and(|p| p.is(Purpose::T))
        && source.is_some_and(|source| !matches!(source, Source::D | Source::A | Source::O))
    {
        let source_text = block.source.as_ref().map_or("", Coded::as_str);
        out.push(
            &rule::APPENDIX_I_COMMERCIAL,
            at(el::APPENDIX),
            format!(
                "Appendix-I specimens with purpose T (commercial) and source {source_text}: \
                 commercial trade in Appendix-I specimens is allowed only for source D \
                 (registered captive-breeding operations or nurseries), A (artificially \
                 propagated) or O (pre-Convention); check the purpose and the source."
            ),
        );
    }
    if source == Some(Source::D)
        && matches!(appendix, Some(Appendix::II | Appendix::III | Appendix::N))
    {
        let appendix_text = block.appendix.as_ref().map_or("", Coded::as_str);
        out.push(
            &rule::SOURCE_D_OUTSIDE_APPENDIX_I,
            at(el::SOURCE),
            format!(
                "source D is only for Appendix-I specimens from registered operations; this \
                 block is Appendix {appendix_text}, so the source is probably C, F or A."
            ),
        );
    }

    // Box 11.
    if let Some(quantity) = &block.quantity {
        if quantity.value <= rust_decimal::Decimal::ZERO {
            out.push(
                &rule::QUANTITY_NOT_POSITIVE,
                at(el::QUANTITY_VALUE),
                format!(
                    "the quantity must be greater than zero; found {}.",
                    quantity.value
                ),
            );
        }
        term_unit_pair(block, quantity, index, out);
    }

    // Box 11a.
    if let Some(quota) = &block.quota {
        if let (Some(used), Some(annual)) = (&quota.used_to_date, &quota.annual) {
            if same_unit(used, annual) {
                if used.value > annual.value {
                    out.push(
                        &rule::QUOTA_EXCEEDED,
                        at(el::QUOTA_USED),
                        format!(
                            "the quantity exported to date ({}) exceeds the annual quota ({}).",
                            show(used),
                            show(annual)
                        ),
                    );
                }
            } else {
                out.push(
                    &rule::QUOTA_UNIT_MISMATCH,
                    at(el::QUOTA_USED_UNIT),
                    format!(
                        "the quantity exported to date is in {} but the annual quota is in {}; \
                         both must use the same unit to be compared.",
                        unit_words(used),
                        unit_words(annual)
                    ),
                );
            }
        }
    }

    // Box 12.
    let origin_country = block.origin.as_ref().and_then(|o| o.country.as_ref());
    if permit.known_document_type() == Some(DocumentType::R) && origin_country.is_none() {
        out.push(
            &rule::REEXPORT_ORIGIN_REQUIRED,
            at(el::ORIGIN_COUNTRY),
            "a re-export certificate must give the country of origin of the specimens (with \
             the origin permit number and date); the country of origin is missing.",
        );
    }
    if let (Some(origin), Some(exporting)) = (
        origin_country.and_then(Coded::known),
        permit.exporting_country(),
    ) {
        let number = block
            .origin
            .as_ref()
            .and_then(|o| o.permit_number.as_deref());
        if origin != exporting && blank(number) {
            out.push(
                &rule::ORIGIN_PERMIT_REQUIRED,
                at(el::ORIGIN_PERMIT),
                format!(
                    "the specimens originate in {origin}, not in the country of (re-)export \
                     ({exporting}); the number of the export permit issued by {origin} should \
                     be given."
                ),
            );
        }
    }

    // Box 12a.
    if let Some(last) = &block.last_reexport {
        if last.country.is_some() && blank(last.permit_number.as_deref()) {
            let country = last.country.as_ref().map_or("", Coded::as_str);
            out.push(
                &rule::LAST_REEXPORT_CERTIFICATE_REQUIRED,
                at(el::LAST_REEXPORT_CERTIFICATE),
                format!(
                    "a country of last re-export ({country}) is given without the number of \
                     its re-export certificate."
                ),
            );
        }
    }

    // Box 12b.
    let operation = block.operation_number.as_deref();
    if source == Some(Source::D) && blank(operation) {
        out.push(
            &rule::REGISTERED_OPERATION_NUMBER_MISSING,
            at(el::OPERATION_NUMBER),
            "source D specimens come from an operation or nursery registered with the CITES \
             Secretariat; its registration number is missing.",
        );
    }
    if appendix == Some(Appendix::I)
        && matches!(source, Some(Source::C | Source::F))
        && !blank(operation)
    {
        let source_text = block.source.as_ref().map_or("", Coded::as_str);
        out.push(
            &rule::APPENDIX_I_OPERATION_SOURCE,
            at(el::OPERATION_NUMBER),
            format!(
                "Appendix-I specimens from registered operation {} are declared with source \
                 {source_text}; that is right for non-commercial trade, while commercial trade \
                 uses source D.",
                operation.unwrap_or_default().trim()
            ),
        );
    }
    if source == Some(Source::O) && block.acquisition_date.is_none() {
        out.push(
            &rule::PRE_CONVENTION_ACQUISITION_DATE,
            at(el::ACQUISITION_DATE),
            "pre-Convention specimens (source O) need the date of acquisition, which shows they \
             were acquired before the species was listed; it is missing.",
        );
    }

    // Box 14.
    if let (Some(permitted), Some(endorsed)) = (
        &block.quantity,
        block.endorsement.as_ref().and_then(|e| e.quantity.as_ref()),
    ) {
        if !same_unit(permitted, endorsed) {
            out.push(
                &rule::ENDORSEMENT_UNIT_MISMATCH,
                at(el::ENDORSED_UNIT),
                format!(
                    "the quantity actually exported is in {} but the permitted quantity \
                     (box 11) is in {}; they must use the same unit.",
                    unit_words(endorsed),
                    unit_words(permitted)
                ),
            );
        } else if endorsed.value > permitted.value {
            out.push(
                &rule::ENDORSEMENT_EXCEEDS_PERMIT,
                at(el::ENDORSED_QUANTITY),
                format!(
                    "the quantity actually exported ({}) exceeds the quantity permitted in box \
                     11 ({}) for {name}.",
                    show(endorsed),
                    show(permitted)
                ),
            );
        }
    }
}

/// Box 9 against box 11.
fn term_unit_pair(block: &Block, quantity: &Quantity, index: usize, out: &mut Collector) {
    let Some(term) = block.term.as_ref().and_then(Coded::known) else {
        return;
    };
    let unit = match &quantity.unit {
        None => None,
        Some(Coded::Known(unit)) => Some(*unit),
        Some(Coded::Unknown(_)) => return,
    };
    let Some(suitable) = term_unit::suitable_units(term) else {
        return;
    };
    let kind = unit.map_or(crate::codes::UnitKind::Count, Unit::kind);
    if suitable.contains(&kind) {
        return;
    }
    let unit_text = match unit {
        Some(unit) => format!("unit {} ({})", unit.code(), unit.meaning()),
        None => "no unit (a number of specimens)".to_owned(),
    };
    out.push(
        &rule::TERM_UNIT_MISMATCH,
        el::QUANTITY_UNIT.in_block(index, block),
        format!(
            "term {} ({}) is given with {unit_text}; expected {}.",
            term.code(),
            term.meaning(),
            term_unit::describe(suitable)
        ),
    );
}

/// Units are the same when both codes are equal, or both are absent (a number of specimens).
/// A blank unit and PCS are not treated as equal: systems that mean the same should send the
/// same.
fn same_unit(left: &Quantity, right: &Quantity) -> bool {
    left.unit.as_ref().map(Coded::as_str) == right.unit.as_ref().map(Coded::as_str)
}

fn show(quantity: &Quantity) -> String {
    match &quantity.unit {
        Some(unit) => format!("{} {unit}", quantity.value),
        None => quantity.value.to_string(),
    }
}

fn unit_words(quantity: &Quantity) -> String {
    match &quantity.unit {
        Some(unit) => unit.as_str().to_owned(),
        None => "a number of specimens (no unit)".to_owned(),
    }
}
