//! The CITES e-permit XML of the CITES electronic permitting toolkit, version 2.
//!
//! Root `CITESEPermit` in `urn:un:unece:uncefact:data:standard:CITESEPermit:2`, aggregates in the
//! UN/CEFACT RABIE namespace. See `docs/standard-format.md` for the box-by-box mapping.

use crate::{Decoded, Error, Permit};

/// The namespace of the CITES e-permit root and its top-level children (toolkit v2).
pub const PERMIT_NAMESPACE: &str = "urn:un:unece:uncefact:data:standard:CITESEPermit:2";
/// The UN/CEFACT Reusable Aggregate Business Information Entity namespace of the aggregates.
pub const RABIE_NAMESPACE: &str =
    "urn:un:unece:uncefact:data:draft:ReusableAggregateBusinessInformationEntity:1";

/// Bounds on what the reader accepts, so a hostile or broken message cannot exhaust memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// The largest input accepted, in bytes.
    pub max_bytes: usize,
    /// The deepest element nesting accepted.
    pub max_depth: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_bytes: 4 * 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// Reads a permit from the standard XML, bare or wrapped in a SOAP envelope or service response.
pub fn read_permit(bytes: &[u8]) -> Result<Decoded, Error> {
    read_permit_with(bytes, &ReadLimits::default())
}

/// Reads a permit from the standard XML within the given limits.
pub fn read_permit_with(_bytes: &[u8], _limits: &ReadLimits) -> Result<Decoded, Error> {
    todo!("XML reader")
}

/// Writes the canonical standard XML of a permit.
pub fn write_permit(permit: &Permit) -> String {
    let mut out = String::with_capacity(8 * 1024);
    write_permit_into(permit, &mut out);
    out
}

/// Appends the canonical standard XML of a permit to `out`.
pub fn write_permit_into(_permit: &Permit, _out: &mut String) {
    todo!("XML writer")
}
