//! Validation: findings by tier (structure, mandatory, code lists, business rules), each naming
//! the rule, the permit box, the model field and the XML element.
//!
//! Validation never stops at the first problem: a Management Authority gets every finding for a
//! permit at once, sorted by box (in the printed order of the form) and then by block, so that
//! the list reads like the permit. [`RULES`] lists every rule for documentation and the CLI.
//!
//! The tiers follow the domain guide (§6, "Validation tiers"), after the ePhyto hub's areas:
//! - **structure**: the form of values (the permit number's length, distinct block letters);
//! - **mandatory**: the required elements (§6, "Required elements");
//! - **code list**: CITES code lists and ISO 3166-1 country codes;
//! - **business rule**: rules between values (validity window, countries, references,
//!   term/unit pairs, quota, endorsement);
//! - **listing**: the species against the CITES checklist, where one is loaded
//!   ([`validate_listing`]).
//!
//! A value that is missing is reported once, by the mandatory tier; rules that need it are
//! skipped rather than reporting the same gap again. Likewise an unknown code is reported by the
//! code-list tier only.

mod business;
mod code_lists;
mod listing;
mod location;
mod mandatory;
mod rules;
mod term_unit;

pub use listing::validate_listing;
pub use rules::{RuleInfo, RULES};

use crate::{Finding, Permit};
use location::{box_rank, Loc};

/// Checks a permit against the standard's mandatory elements, the code lists and the business
/// rules, and returns every finding, sorted by box and then by block.
///
/// The permit is valid (may be exchanged) when no finding is an error: see
/// [`crate::is_valid`]. Warnings and information are passed on to the partner.
pub fn validate(permit: &Permit) -> Vec<Finding> {
    let mut collector = Collector::default();
    mandatory::check(permit, &mut collector);
    code_lists::check(permit, &mut collector);
    business::check(permit, &mut collector);
    collector.into_findings()
}

/// Findings gathered so far, with what they are sorted by.
#[derive(Default)]
struct Collector {
    found: Vec<(usize, Option<usize>, Finding)>,
}

impl Collector {
    /// Records a finding of `rule` at `at`; `message` follows the place's label ("Box 11
    /// (block B): ...").
    fn push(&mut self, rule: &RuleInfo, at: Loc, message: impl AsRef<str>) {
        let message = format!("{}: {}", at.label, message.as_ref());
        let finding = Finding::new(
            rule.severity,
            rule.tier,
            rule.id,
            at.field,
            at.path,
            at.permit_box,
            message,
        );
        self.found
            .push((box_rank(at.permit_box), at.block, finding));
    }

    /// The findings in box order, then block order (permit-level first); stable, so findings
    /// of one place keep the order of the tiers.
    fn into_findings(mut self) -> Vec<Finding> {
        self.found
            .sort_by_key(|(rank, block, _)| (*rank, block.map_or(0, |index| index + 1)));
        self.found
            .into_iter()
            .map(|(_, _, finding)| finding)
            .collect()
    }
}

/// True when the text is absent or only white space.
fn blank(text: Option<&str>) -> bool {
    text.is_none_or(|text| text.trim().is_empty())
}
