//! The catalogue of validation rules: every rule id with its tier, severity and boxes.
//!
//! Findings are made *from* these entries (see `Collector::push`), so a finding's tier and
//! severity can never drift from what the catalogue (and the README built from it) says.

use crate::{Severity, Tier};

/// One validation rule, as documented to partners and printed by the CLI.
///
/// The `id` is the `rule` of every [`crate::Finding`] the rule produces; it is stable, so that
/// partners may filter or count findings by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    /// The stable kebab-case identifier, e.g. `validity-too-long`.
    pub id: &'static str,
    /// The kind of check.
    pub tier: Tier,
    /// How serious a finding of this rule is.
    pub severity: Severity,
    /// The boxes of the permit form the rule can point at (several for rules that apply to
    /// more than one field, such as unknown country codes).
    pub boxes: &'static [&'static str],
    /// What the rule checks, in one line.
    pub description: &'static str,
}

macro_rules! rules {
    ($( $name:ident = $id:literal, $tier:ident, $severity:ident, [$($permit_box:literal),*], $description:literal; )+) => {
        $( pub(super) const $name: RuleInfo = RuleInfo {
            id: $id,
            tier: Tier::$tier,
            severity: Severity::$severity,
            boxes: &[$($permit_box),*],
            description: $description,
        }; )+

        /// Every rule [`crate::validate()`] applies, in the order of the tiers.
        pub const RULES: &[RuleInfo] = &[$($name),+];
    };
}

rules! {
    // Structure: the form of values.
    PERMIT_NUMBER_TOO_LONG = "permit-number-too-long", Structure, Error, ["1"],
        "The permit number has at most 35 characters (WCO data element D014).";
    BLOCK_ID_DUPLICATE = "block-id-duplicate", Structure, Error, ["7"],
        "Each block has its own letter; two blocks with the same letter cannot be told apart.";

    // Mandatory elements.
    DOCUMENT_TYPE_REQUIRED = "document-type-required", Mandatory, Error, ["1"],
        "The document type (E, R, I or O) is given.";
    DOCUMENT_SUBTYPE_REQUIRED = "document-subtype-required", Mandatory, Error, ["1"],
        "An 'other' certificate (type O) says which kind of certificate it is.";
    PERMIT_NUMBER_REQUIRED = "permit-number-required", Mandatory, Error, ["1"],
        "The permit number is given.";
    VALID_UNTIL_REQUIRED = "valid-until-required", Mandatory, Error, ["2"],
        "The last day of validity is given.";
    IMPORTER_NAME_REQUIRED = "importer-name-required", Mandatory, Error, ["3"],
        "The importer's name is given.";
    IMPORTER_COUNTRY_REQUIRED = "importer-country-required", Mandatory, Error, ["3a"],
        "The country of import is given.";
    EXPORTER_NAME_REQUIRED = "exporter-name-required", Mandatory, Error, ["4"],
        "The (re-)exporter's name is given.";
    EXPORTER_COUNTRY_REQUIRED = "exporter-country-required", Mandatory, Error, ["4"],
        "The (re-)exporter's country is given.";
    PURPOSE_REQUIRED = "purpose-required", Mandatory, Error, ["5a"],
        "The purpose of the transaction is given.";
    ISSUER_NAME_REQUIRED = "issuing-authority-name-required", Mandatory, Error, ["6"],
        "The issuing Management Authority's name is given.";
    ISSUER_COUNTRY_REQUIRED = "issuing-authority-country-required", Mandatory, Error, ["6"],
        "The issuing Management Authority's country is given.";
    BLOCKS_REQUIRED = "blocks-required", Mandatory, Error, ["7"],
        "The permit has at least one block of specimens.";
    BLOCK_ID_REQUIRED = "block-id-required", Mandatory, Error, ["7"],
        "Each block has its letter (A, B, ...).";
    SCIENTIFIC_NAME_REQUIRED = "scientific-name-required", Mandatory, Error, ["7"],
        "Each block gives the scientific name of the species.";
    TERM_REQUIRED = "term-required", Mandatory, Error, ["9"],
        "Each block gives the term code describing the specimens.";
    APPENDIX_REQUIRED = "appendix-required", Mandatory, Error, ["10"],
        "Each block gives the Appendix.";
    SOURCE_REQUIRED = "source-required", Mandatory, Error, ["10"],
        "Each block gives the source code.";
    QUANTITY_REQUIRED = "quantity-required", Mandatory, Error, ["11"],
        "Each block gives the quantity.";
    ISSUE_DATE_REQUIRED = "issue-date-required", Mandatory, Error, ["13"],
        "The date of issue is given.";

    // Code lists.
    DOCUMENT_TYPE_UNKNOWN = "document-type-unknown", CodeList, Error, ["1"],
        "The document type is one of E, R, I, O.";
    PURPOSE_UNKNOWN = "purpose-unknown", CodeList, Error, ["5a"],
        "The purpose is a CITES purpose code.";
    TERM_UNKNOWN = "term-unknown", CodeList, Error, ["9"],
        "The term is a CITES term code.";
    APPENDIX_UNKNOWN = "appendix-unknown", CodeList, Error, ["10"],
        "The Appendix is I, II or III (or N, not listed).";
    SOURCE_UNKNOWN = "source-unknown", CodeList, Error, ["10"],
        "The source is a CITES source code.";
    UNIT_UNKNOWN = "unit-unknown", CodeList, Error, ["11", "11a", "14"],
        "Units are CITES unit codes (not UN/ECE Rec 20 codes).";
    COUNTRY_UNKNOWN = "country-unknown", CodeList, Error, ["3a", "4", "6", "12", "12a", "14"],
        "Countries are ISO 3166-1 alpha-2 codes.";
    COUNTRY_USER_ASSIGNED = "country-user-assigned", CodeList, Info, ["3a", "4", "6", "12", "12a", "14"],
        "A user-assigned country code (AA, QM-QZ, XA-XZ, ZZ) names no real country: fine for tests and pilots only.";

    // Business rules.
    VALIDITY_UNTIL_BEFORE_ISSUE = "validity-ends-before-issue", BusinessRule, Error, ["2"],
        "The last day of validity is not before the date of issue.";
    VALIDITY_UNTIL_BEFORE_FROM = "validity-ends-before-start", BusinessRule, Error, ["2"],
        "The last day of validity is not before the first day of validity.";
    VALIDITY_FROM_BEFORE_ISSUE = "validity-starts-before-issue", BusinessRule, Error, ["2"],
        "The first day of validity is not before the date of issue.";
    VALIDITY_TOO_LONG = "validity-too-long", BusinessRule, Error, ["2"],
        "Export permits and re-export certificates are valid at most 6 calendar months from issue, import permits at most 12.";
    SAME_EXPORT_IMPORT_COUNTRY = "same-export-import-country", BusinessRule, Error, ["3a"],
        "The country of import differs from the country of (re-)export.";
    APPENDIX_I_COMMERCIAL = "appendix-i-commercial", BusinessRule, Warning, ["10"],
        "Appendix-I specimens are traded for commercial purposes (T) only when bred or propagated in registered operations (D), artificially propagated (A) or pre-Convention (O).";
    ISSUER_NOT_EXPORTER_COUNTRY = "issuer-not-exporting-country", BusinessRule, Error, ["6"],
        "A Management Authority issues export permits and re-export certificates only for exports from its own country.";
    ISSUER_NOT_IMPORTER_COUNTRY = "issuer-not-importing-country", BusinessRule, Warning, ["6"],
        "An import permit is normally issued by the Management Authority of the country of import.";
    TERM_UNIT_MISMATCH = "term-unit-mismatch", BusinessRule, Warning, ["11"],
        "The unit suits the term (live animals counted, timber by volume, caviar by mass, ...).";
    SOURCE_D_OUTSIDE_APPENDIX_I = "source-d-outside-appendix-i", BusinessRule, Warning, ["10"],
        "Source D is for Appendix-I specimens only.";
    QUANTITY_NOT_POSITIVE = "quantity-not-positive", BusinessRule, Error, ["11"],
        "The quantity is greater than zero.";
    QUOTA_UNIT_MISMATCH = "quota-unit-mismatch", BusinessRule, Warning, ["11a"],
        "The quantity exported to date and the annual quota are in the same unit.";
    QUOTA_EXCEEDED = "quota-exceeded", BusinessRule, Warning, ["11a"],
        "The quantity exported to date does not exceed the annual quota.";
    REEXPORT_ORIGIN_REQUIRED = "reexport-origin-required", BusinessRule, Error, ["12"],
        "A re-export certificate gives the country of origin of every block.";
    ORIGIN_PERMIT_REQUIRED = "origin-permit-required", BusinessRule, Warning, ["12"],
        "When the country of origin is not the country of (re-)export, the origin permit number is given.";
    LAST_REEXPORT_CERTIFICATE_REQUIRED = "last-reexport-certificate-required", BusinessRule, Warning, ["12a"],
        "When a country of last re-export is given, its re-export certificate number is given too.";
    REGISTERED_OPERATION_NUMBER_MISSING = "registered-operation-number-missing", BusinessRule, Warning, ["12b"],
        "Source D specimens come from a registered operation or nursery, whose number is given.";
    APPENDIX_I_OPERATION_SOURCE = "appendix-i-operation-source", BusinessRule, Info, ["12b"],
        "Appendix-I specimens from a registered operation, declared captive-bred (C, F) rather than D: correct only for non-commercial trade.";
    PRE_CONVENTION_ACQUISITION_DATE = "pre-convention-acquisition-date-missing", BusinessRule, Warning, ["12b"],
        "Pre-Convention specimens (source O) give the date of acquisition.";
    ENDORSEMENT_UNIT_MISMATCH = "endorsement-unit-mismatch", BusinessRule, Error, ["14"],
        "The quantity endorsed at export is in the unit of the quantity permitted.";
    ENDORSEMENT_EXCEEDS_PERMIT = "endorsement-exceeds-permitted", BusinessRule, Error, ["14"],
        "The quantity endorsed at export does not exceed the quantity permitted.";

    // Listing: the species against the CITES checklist (only where one is loaded).
    LISTING_NAME_UNKNOWN = "listing-name-unknown", Listing, Warning, ["7"],
        "The scientific name is in the CITES checklist (accepted name, synonym, or a genus listed as such); unknown is a warning, as the checklist may be older than the permit.";
    LISTING_SYNONYM = "listing-synonym", Listing, Warning, ["7"],
        "The scientific name is the checklist's accepted name, not a synonym (the finding gives the accepted name).";
    LISTING_APPENDIX_MISMATCH = "listing-appendix-mismatch", Listing, Error, ["10"],
        "The declared Appendix is the taxon's listing (one of them for split listings) (Convention Art. II, III, IV, V).";
    LISTING_NOT_LISTED = "listing-not-listed", Listing, Warning, ["10"],
        "The taxon is listed: a taxon the checklist gives as not listed (NC) needs no CITES permit.";
    LISTING_OUTSIDE_RANGE = "listing-outside-range", Listing, Warning, ["12", "4"],
        "Wild specimens (source W) come from a range state of the taxon: the country of origin, or the exporter's country when no origin is given.";
    LISTING_SOURCE_KINGDOM = "listing-source-kingdom", Listing, Error, ["10"],
        "The source suits the kingdom (Res. Conf. 12.3): A is for plants only; C, F and R for animals only.";
}
