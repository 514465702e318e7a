//! The CITES e-permit XML of the CITES electronic permitting toolkit, version 2 (and version 1).
//!
//! Root `CITESEPermit` in `urn:un:unece:uncefact:data:standard:CITESEPermit:2`, aggregates in the
//! UN/CEFACT RABIE namespace. See `docs/standard-format.md` for the box-by-box mapping. The
//! reader also reads toolkit v1 (root `CBFShip` in `urn:un:unece:uncefact:data:draft:CBFShip:1`)
//! into the same model, and [`write_permit_v1`] writes it (docs/standard-format.md, §7).

use crate::{Decoded, Error, Permit};

mod read;
mod write;

#[cfg(any(test, feature = "testing"))]
pub(crate) use read::dispatch_only;

/// The namespace of the CITES e-permit root and its top-level children (toolkit v2).
pub const PERMIT_NAMESPACE: &str = "urn:un:unece:uncefact:data:standard:CITESEPermit:2";
/// The namespace of the toolkit v1 root `CBFShip` and its top-level children (the CITES
/// electronic permitting toolkit v1, as EPIX's `Cites::V1::Permit` reads it).
pub const V1_NAMESPACE: &str = "urn:un:unece:uncefact:data:draft:CBFShip:1";
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

/// Reads a permit from the standard XML (toolkit v2 `CITESEPermit` or v1 `CBFShip`), bare or
/// wrapped in a SOAP envelope or service response.
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
    write_permit_as(permit, Version::V2)
}

/// Writes a permit as a toolkit v1 `CBFShip` document, for a partner that reads only v1.
///
/// Shape: `rsm:CBFShip` in [`V1_NAMESPACE`] with the same three top-level children as v2, the
/// aggregates in `ram:` (the RABIE namespace), in the v2 writer's order, with v1's spellings
/// (mapping from EPIX's `lib/modules/cites/v1/permit.rb` and `permit_line_item.rb`, and the
/// structure of its v1 `GetNonFinalCitesCertificate` fixture):
///
/// - an address's country is `PostalTradeAddress/CountryIdentificationTradeCountry/{ID, Name,
///   SubordinateTradeCountrySubDivision/Name}` (v2: `CountryID`, `CountryName`,
///   `CountrySubDivisionName`);
/// - box 14's quantity is `ExaminationTransportEvent/InspectedUnitQuantity` (v2: `UnitQuantity`);
/// - boxes 11a and 12b are in `ApplicableCrossBorderGovernmentProcedure` (v2:
///   `ApplicableCrossBorderRegulatoryProcedure`).
///
/// Lossy: v1 has no element for a block's identifying marks or the signatory's date of
/// signature; [`v1_losses`] names what a permit would lose. Our extensions (`SubtypeCode`,
/// `ext:RegionalAnnexCode`) are written as in v2.
pub fn write_permit_v1(permit: &Permit) -> String {
    write_permit_as(permit, Version::V1)
}

/// Writes a permit in the given toolkit version.
pub fn write_permit_as(permit: &Permit, format: Version) -> String {
    let mut out = String::with_capacity(8 * 1024);
    write::write(permit, format, &mut out);
    out
}

/// The model fields toolkit v1 cannot carry that `permit` has values in, as model paths
/// (`signatory.date`, `blocks[0].marks`): what [`write_permit_v1`] leaves out. Empty when the
/// v1 document carries the whole permit.
pub fn v1_losses(permit: &Permit) -> Vec<String> {
    let mut lost = Vec::new();
    if permit
        .signatory
        .as_ref()
        .is_some_and(|signatory| signatory.date.is_some())
    {
        lost.push("signatory.date".to_owned());
    }
    for (index, block) in permit.blocks.iter().enumerate() {
        if !block.marks.is_empty() {
            lost.push(format!("blocks[{index}].marks"));
        }
    }
    lost
}

/// A version of the CITES e-permit XML: the canonical toolkit v2 (`CITESEPermit`), or toolkit
/// v1 (`CBFShip`) for partners that read only that. Serialised `"v2"`, `"v1"`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    /// Toolkit v2: root `CITESEPermit` in [`PERMIT_NAMESPACE`]; the canonical form.
    #[default]
    V2,
    /// Toolkit v1: root `CBFShip` in [`V1_NAMESPACE`].
    V1,
}

impl Version {
    /// The namespace of the root element.
    pub fn namespace(self) -> &'static str {
        match self {
            Version::V2 => PERMIT_NAMESPACE,
            Version::V1 => V1_NAMESPACE,
        }
    }

    /// The version whose root namespace is `namespace`, if any.
    pub fn from_namespace(namespace: &str) -> Option<Version> {
        [Version::V2, Version::V1]
            .into_iter()
            .find(|format| format.namespace() == namespace)
    }

    /// `"v2"` or `"v1"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2 => "v2",
            Version::V1 => "v1",
        }
    }
}

/// Appends the canonical standard XML of a permit to `out`, so a caller that writes many
/// permits can reuse one buffer.
///
/// Canonical means the same permit always gives the same bytes: fixed element order, `rsm:` and
/// `ram:` prefixes, two-space indentation, absent values omitted (never written as empty
/// elements). Characters XML 1.0 cannot carry at all (C0 controls other than tab, line feed and
/// carriage return; U+FFFE; U+FFFF) are written as U+FFFD.
pub fn write_permit_into(permit: &Permit, out: &mut String) {
    write::write(permit, Version::V2, out)
}
