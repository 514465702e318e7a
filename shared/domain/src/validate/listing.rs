//! The `listing` tier: each block's species against the CITES checklist.
//!
//! - box 7: the name is known (accepted, a synonym, or a genus listed as such);
//! - box 10: the declared Appendix is the taxon's listing (one of them for split listings); a
//!   taxon listed nowhere (`NC`) needs no permit; the source suits the kingdom;
//! - box 12 (or 4): wild specimens come from a range state.
//!
//! The Species+ export gives the current listing only (no dates), so the check is against the
//! listing of the checklist's date, which every finding names.

use super::location::{self, Loc};
use super::rules::{
    LISTING_APPENDIX_MISMATCH, LISTING_NAME_UNKNOWN, LISTING_NOT_LISTED, LISTING_OUTSIDE_RANGE,
    LISTING_SOURCE_KINGDOM, LISTING_SYNONYM,
};
use super::Collector;
use crate::checklist::{Checklist, Kingdom, Match};
use crate::{Appendix, CodeList, Finding, Permit, Source};

/// Checks every block of `permit` against `checklist` and returns the findings of the `listing`
/// tier, sorted by box and block. Blocks without a scientific name are left to the mandatory
/// tier.
pub fn validate_listing(permit: &Permit, checklist: &Checklist) -> Vec<Finding> {
    let mut collector = Collector::default();
    let date = &checklist.date;
    for (index, block) in permit.blocks.iter().enumerate() {
        let Some(name) = block
            .scientific_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
        else {
            continue;
        };
        let at = |element: location::Element| -> Loc { element.in_block(index, block) };
        let Some(found) = checklist.find(name) else {
            collector.push(
                &LISTING_NAME_UNKNOWN,
                at(location::SCIENTIFIC_NAME),
                format!("{name:?} is not in the CITES checklist of {date}"),
            );
            continue;
        };
        let taxon = found.taxon();
        if let Match::Synonym(_) = found {
            collector.push(
                &LISTING_SYNONYM,
                at(location::SCIENTIFIC_NAME),
                format!(
                    "{name:?} is a synonym; the accepted name in the CITES checklist of {date} is {:?}",
                    taxon.name
                ),
            );
        }
        if let Some(declared) = block.appendix.as_ref().and_then(|a| a.known()) {
            if taxon.appendices.is_empty() && taxon.not_listed {
                collector.push(
                    &LISTING_NOT_LISTED,
                    at(location::APPENDIX),
                    format!(
                        "{} is not listed (NC) in the CITES checklist of {date}: no CITES permit is needed",
                        taxon.name
                    ),
                );
            } else if declared != Appendix::N && !taxon.appendices.contains(&declared) {
                collector.push(
                    &LISTING_APPENDIX_MISMATCH,
                    at(location::APPENDIX),
                    format!(
                        "Appendix {} is declared, but {} is listed in Appendix {} in the CITES checklist of {date}",
                        declared.code(),
                        taxon.name,
                        taxon.listing()
                    ),
                );
            }
        }
        let source = block.source.as_ref().and_then(|s| s.known());
        let wrong_kingdom = match (taxon.kingdom, source) {
            (Kingdom::Animals, Some(Source::A)) => Some("plants"),
            (Kingdom::Plants, Some(Source::C | Source::F | Source::R)) => Some("animals"),
            _ => None,
        };
        if let (Some(only_for), Some(source)) = (wrong_kingdom, source) {
            let kind = if taxon.kingdom == Kingdom::Animals {
                "an animal"
            } else {
                "a plant"
            };
            collector.push(
                &LISTING_SOURCE_KINGDOM,
                at(location::SOURCE),
                format!(
                    "source {} is for {only_for} only, and {} is {kind} (CITES checklist of {date})",
                    source.code(),
                    taxon.name
                ),
            );
        }
        if source == Some(Source::W) {
            let origin = block
                .origin
                .as_ref()
                .and_then(|o| o.country.as_ref())
                .and_then(|c| c.known());
            let (country, element, which) = match origin {
                Some(country) => (Some(country), location::ORIGIN_COUNTRY, "country of origin"),
                None => (
                    permit.exporting_country(),
                    location::EXPORTER_COUNTRY,
                    "exporter's country",
                ),
            };
            if let Some(country) = country {
                if taxon.occurs_in(country) == Some(false) {
                    let loc = match origin {
                        Some(_) => at(element),
                        // The exporter is not a block element: point at it, named for the block.
                        None => {
                            let mut loc = element.at();
                            loc.label = format!("Box 4 ({})", location::block_name(index, block));
                            loc.block = Some(index);
                            loc
                        }
                    };
                    collector.push(
                        &LISTING_OUTSIDE_RANGE,
                        loc,
                        format!(
                            "wild specimens (source W) of {} from {country} ({which}), which is not a range state of the taxon in the CITES checklist of {date}",
                            taxon.name
                        ),
                    );
                }
            }
        }
    }
    collector.into_findings()
}
