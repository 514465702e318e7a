//! Validation: findings by tier (structure, mandatory, code lists, business rules).

use crate::{Finding, Permit};

/// Checks a permit against the standard's mandatory elements, the code lists and the business
/// rules, and returns every finding.
pub fn validate(_permit: &Permit) -> Vec<Finding> {
    todo!("validation")
}
