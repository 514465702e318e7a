//! Findings: what validation (and tolerant reading) has to say about a permit.
//!
//! A finding names the element path in the standard XML, the model field, the permit box and
//! the rule, and carries a message a permit officer understands. The tiers and severities follow
//! the ePhyto hub's `ValidatePhytoXML` (Schema / MandatoryElements / Mapping x SEVERE / WARNING /
//! INFO), so partners used to that hub read our findings the same way.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; the permit is fine.
    Info,
    /// Suspicious but acceptable: the permit is still exchanged.
    Warning,
    /// The permit is invalid and must not be exchanged.
    Error,
}

/// Which kind of check produced a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The document's structure and the form of values (dates, numbers).
    Structure,
    /// Elements the standard requires.
    Mandatory,
    /// Values that must come from a code list.
    CodeList,
    /// Rules between values (validity window, references, term/unit pairs).
    BusinessRule,
    /// The species against the CITES checklist: name, Appendix, range, source by kingdom. Runs
    /// only where a checklist is loaded ([`crate::validate::validate_listing`]).
    Listing,
    /// A use of a permit at a border (customs endorsement, import confirmation, refusal) against
    /// the permit on record and the uses before it ([`crate::usage`]).
    Use,
}

/// One thing validation found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// Which kind of check found it.
    pub tier: Tier,
    /// A stable identifier of the rule (for example `validity-window`), for machines and docs.
    pub rule: String,
    /// The model field, e.g. `blocks[1].quantity` (the JSON form's path).
    pub field: String,
    /// Where in the input: the element path in the standard XML (for XML input and for
    /// validation), or the line and column for findings about a CSV input.
    pub path: String,
    /// The box of the permit form (Res. Conf. 12.3), e.g. `11` or `12a`, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit_box: Option<String>,
    /// What is wrong, for a permit officer.
    pub message: String,
}

impl Finding {
    /// A new finding; `permit_box` may be empty when the field belongs to no box.
    pub fn new(
        severity: Severity,
        tier: Tier,
        rule: &str,
        field: impl Into<String>,
        path: impl Into<String>,
        permit_box: &str,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            severity,
            tier,
            rule: rule.to_owned(),
            field: field.into(),
            path: path.into(),
            permit_box: (!permit_box.is_empty()).then(|| permit_box.to_owned()),
            message: message.into(),
        }
    }

    /// True for findings that make the permit invalid.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        write!(f, "{severity}")?;
        if let Some(permit_box) = &self.permit_box {
            write!(f, " [box {permit_box}]")?;
        }
        write!(f, " {}: {} ({})", self.field, self.message, self.rule)
    }
}

/// True when none of the findings is an error.
pub fn is_valid(findings: &[Finding]) -> bool {
    !findings.iter().any(Finding::is_error)
}
