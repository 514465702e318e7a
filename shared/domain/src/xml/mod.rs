//! The CITES e-permit XML of the CITES electronic permitting toolkit, version 2.
//!
//! Root `CITESEPermit` in `urn:un:unece:uncefact:data:standard:CITESEPermit:2`, aggregates in the
//! UN/CEFACT RABIE namespace. See `docs/standard-format.md` for the box-by-box mapping.

use crate::{Decoded, Error, Permit};

mod read;
mod write;

/// The namespace of the CITES e-permit root and its top-level children (toolkit v2).
pub const PERMIT_NAMESPACE: &str = "urn:un:unece:uncefact:data:standard:CITESEPermit:2";
/// The UN/CEFACT Reusable Aggregate Business Information Entity namespace of the aggregates.
pub const RABIE_NAMESPACE: &str =
    "urn:un:unece:uncefact:data:draft:ReusableAggregateBusinessInformationEntity:1";

/// The namespace of ecites-exchange's extension elements (values the toolkit v2 has no element
/// for, such as the EU Annex of a block); see docs/standard-format.md.
pub const EXTENSION_NAMESPACE: &str = "urn:ecites-exchange:extension:1";

/// The most attributes the reader accepts on one element. Permit elements carry one or two
/// (`unitCode`, namespace declarations); a SOAP wrapper a few more.
pub const MAX_ATTRIBUTES: usize = 256;

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
///
/// Values that cannot be interpreted (a date that is not ISO 8601, a quantity that is not a
/// number) do not fail the read: the field is left empty and a structure finding names it, so
/// the sender learns about every problem at once. Only input that is not a readable XML permit
/// at all (too large, a DTD, an undefined entity, too deep, not well-formed, no `CITESEPermit`)
/// is an [`Error`].
pub fn read_permit_with(bytes: &[u8], limits: &ReadLimits) -> Result<Decoded, Error> {
    read::read(bytes, limits)
}

/// Writes the canonical standard XML of a permit.
pub fn write_permit(permit: &Permit) -> String {
    let mut out = String::with_capacity(8 * 1024);
    write_permit_into(permit, &mut out);
    out
}

/// Appends the canonical standard XML of a permit to `out`, so a caller that writes many
/// permits can reuse one buffer.
///
/// Canonical means the same permit always gives the same bytes: fixed element order, `rsm:` and
/// `ram:` prefixes, two-space indentation, absent values omitted (never written as empty
/// elements). Characters XML 1.0 cannot carry at all (C0 controls other than tab, line feed and
/// carriage return; U+FFFE; U+FFFF) are written as U+FFFD.
pub fn write_permit_into(permit: &Permit, out: &mut String) {
    write::write(permit, out)
}
