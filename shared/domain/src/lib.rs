//! The CITES permit domain: the permit model, the CITES code lists, validation, and the
//! readers and writers of every format the exchange speaks.
//!
//! This crate is pure: no AWS, no async, no I/O. Everything that moves permits (the Lambda
//! functions, the `ecites` CLI) builds on it, so that a permit means the same thing everywhere.
//!
//! - [`model`]: every box of the standard permit form (Res. Conf. 12.3).
//! - [`codes`] and [`country`]: code lists as types; unknown codes are kept and reported.
//! - [`xml`]: the CITES e-permit XML of the electronic permitting toolkit (v2): a tolerant,
//!   bounded, single-pass reader and a canonical writer.
//! - [`json`] and [`csv_form`]: the forms MA systems send us.
//! - [`mod@decode`]: format detection by content.
//! - [`text`]: character encodings (XML declarations, byte order marks, Excel's code pages).
//! - [`mod@validate`]: findings by tier, box and rule.
//! - [`checklist`]: the CITES checklist (Species+ export) for the `listing` tier.
//! - [`usage`]: permit use at the border (customs endorsements, import confirmations,
//!   refusals), the balance per block and the checks of the `use` tier.
//! - [`report`]: CITES annual reports from the permits and their uses, and UNEP-WCMC's checks.
//!
//! What it must not know: AWS, the ledger table, queues, HTTP, the partner protocol. Those live
//! in `ecites-exchange` (the use cases and their ports) and `ecites-aws` (the AWS side).
//!
//! # Example
//!
//! An MA system's JSON permit read, validated and written as the standard XML, as `ecites
//! convert` and the ingest function do it:
//!
//! ```
//! use ecites_domain::{decode, detect_format, validate, xml, Severity};
//!
//! let json = br#"{
//!   "document_type": "E", "permit_number": "26XA000001",
//!   "valid_from": "2026-03-01", "valid_until": "2026-08-31", "issue_date": "2026-03-01",
//!   "purpose": "T",
//!   "exporter": {"name": "Tortoise Farm", "address": {"city": "Capital", "country": "XA"}},
//!   "importer": {"name": "Reptile House", "address": {"city": "Town", "country": "XB"}},
//!   "issuing_authority": {"name": "CITES MA of XA", "address": {"country": "XA"}},
//!   "blocks": [{"id": "A", "scientific_name": "Testudo hermanni", "term": "LIV",
//!               "appendix": "II", "source": "C", "quantity": {"value": "10"}}]
//! }"#;
//! let format = detect_format(json, Some("permit.json"))?;
//! let permit = decode(json, format)?.permit;
//! let findings = validate(&permit);
//! assert!(findings.iter().all(|f| f.severity != Severity::Error), "{findings:?}");
//! let standard = xml::write_permit(&permit);
//! assert!(standard.contains("26XA000001"));
//! assert_eq!(xml::read_permit(standard.as_bytes())?.permit, permit);
//! # Ok::<(), ecites_domain::Error>(())
//! ```

#![warn(missing_docs)]

pub mod checklist;
pub mod codes;
pub mod country;
pub mod csv_form;
pub mod decode;
mod error;
mod finding;
pub mod json;
pub mod model;
pub mod report;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod text;
pub mod usage;
pub mod validate;
pub mod xml;

pub use checklist::Checklist;
pub use codes::{
    Appendix, CodeList, Coded, DocumentType, Purpose, RegionalAnnex, Source, Term, Unit,
};
pub use country::CountryCode;
pub use decode::{decode, decode_all, decode_all_with, detect_format, Format};
pub use error::Error;
pub use finding::{is_valid, Finding, Severity, Tier};
pub use model::{CertificateKind, Permit, PermitId, Timestamp};
pub use validate::{check, validate, validate_listing};

/// A permit as read from some input, with what the reader noticed on the way (values it could
/// not interpret, such as a date that is not a date). Reading keeps going past such values so that
/// the sender gets every problem at once.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The permit, with unreadable values left empty.
    pub permit: Permit,
    /// Structure findings from reading.
    pub findings: Vec<Finding>,
}
