//! CITES annual reports from exchanged data: the rows of the annual-report upload format that
//! UNEP-WCMC's tools accept, built from the permits on the ledger and their customs uses.
//!
//! Every Party reports its trade of each year by 31 October of the following year (Convention
//! Art. VIII(7)(a); Res. Conf. 11.17 (Rev. CoP19)). The Guidelines for the preparation and
//! submission of CITES annual reports (2021) ask each report to say whether its quantities are
//! those actually traded or those permitted, and recommend the former: [`ReportBasis::Actual`]
//! reports what customs endorsed at export (exporter report) or confirmed at import (importer
//! report), in the year of the use; [`ReportBasis::Permitted`] what the permits authorised, in
//! the year of issue.
//!
//! - [`ReportRow`]: one row, one permit block (columns in [`columns`]).
//! - [`ReportBuilder`]: the rows of one report from the ledger's items of the year, one permit
//!   at a time ([`ReportIndexKey`] files each item under its report).
//! - [`checks`]: UNEP-WCMC's checks of an upload: primary (errors) and secondary (warnings).

mod build;
pub mod checks;

pub use build::{
    DocumentState, ReportBuilder, ReportEntry, ReportIndexKey, ReportSummary, SUMMARY_LIST_LIMIT,
};

use serde::{Deserialize, Serialize};

/// Whose report: the exporting or the importing Party's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportRole {
    /// The exporter's report: our export permits and re-export certificates.
    Exporter,
    /// The importer's report: import confirmations of foreign permits and our import permits.
    Importer,
}

impl ReportRole {
    /// `exporter` or `importer`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportRole::Exporter => "exporter",
            ReportRole::Importer => "importer",
        }
    }
}

impl std::fmt::Display for ReportRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which quantities a report states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportBasis {
    /// Quantities actually traded: endorsed at export or confirmed at import, in the year of
    /// the use (the Guidelines' recommendation).
    Actual,
    /// Quantities authorised by the permits, in the year of issue.
    Permitted,
}

impl ReportBasis {
    /// `actual` or `permitted`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportBasis::Actual => "actual",
            ReportBasis::Permitted => "permitted",
        }
    }
}

impl std::fmt::Display for ReportBasis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unit of a number of specimens since the 2021 Guidelines (it used to be blank).
pub const NUMBER_OF_SPECIMENS: &str = "NAR";

/// The columns of the upload format, in order; exporter reports leave out `ImportPermit`.
pub fn columns(role: ReportRole) -> &'static [&'static str] {
    const EXPORTER: [&str; 13] = [
        "Appendix",
        "SpeciesName",
        "TermCode",
        "Quantity",
        "UnitCode",
        "TradingPartner",
        "CountryOfOrigin",
        "ExportPermit",
        "OriginPermit",
        "IFSPermit",
        "PurposeCode",
        "SourceCode",
        "Year",
    ];
    const IMPORTER: [&str; 14] = [
        "Appendix",
        "SpeciesName",
        "TermCode",
        "Quantity",
        "UnitCode",
        "TradingPartner",
        "CountryOfOrigin",
        "ImportPermit",
        "ExportPermit",
        "OriginPermit",
        "IFSPermit",
        "PurposeCode",
        "SourceCode",
        "Year",
    ];
    match role {
        ReportRole::Exporter => &EXPORTER,
        ReportRole::Importer => &IMPORTER,
    }
}

/// One row of an annual report: one permit block, as the upload format writes it (every value
/// is text, empty when absent), with where it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    /// Box 10 Appendix as the format writes it: `1`, `2`, `3` (or `N`, not listed).
    pub appendix: String,
    /// Box 7 scientific name.
    pub species_name: String,
    /// Box 9 term code.
    pub term_code: String,
    /// The quantity: decimal text with a point, no grouping.
    pub quantity: String,
    /// The unit code; [`NUMBER_OF_SPECIMENS`] for a number of specimens.
    pub unit_code: String,
    /// The other country of the trade (ISO 3166-1 alpha-2): the importer in an exporter's
    /// report, the exporter in an importer's.
    pub trading_partner: String,
    /// Box 12: the country of origin, only when it differs from the exporter (re-exports).
    pub country_of_origin: String,
    /// The import permit number (importer reports only).
    pub import_permit: String,
    /// The export permit or re-export certificate number.
    pub export_permit: String,
    /// Box 12: the origin permit number (re-exports).
    pub origin_permit: String,
    /// The introduction-from-the-sea certificate number, when there is one.
    pub ifs_permit: String,
    /// Box 5a purpose code.
    pub purpose_code: String,
    /// Box 10 source code.
    pub source_code: String,
    /// The year (four digits): of the use (actual basis) or of issue (permitted basis).
    pub year: String,
    /// Where the row comes from: the permit (`<issuer>/<number>`), not written.
    #[serde(skip)]
    pub permit: String,
    /// The permit block (letter), not written.
    #[serde(skip)]
    pub block: String,
}

impl ReportRow {
    /// The values in the order of [`columns`] for `role`.
    pub fn values(&self, role: ReportRole) -> Vec<&str> {
        let mut values = vec![
            self.appendix.as_str(),
            &self.species_name,
            &self.term_code,
            &self.quantity,
            &self.unit_code,
            &self.trading_partner,
            &self.country_of_origin,
        ];
        if role == ReportRole::Importer {
            values.push(&self.import_permit);
        }
        values.extend([
            self.export_permit.as_str(),
            &self.origin_permit,
            &self.ifs_permit,
            &self.purpose_code,
            &self.source_code,
            &self.year,
        ]);
        values
    }
}
