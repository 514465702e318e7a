//! UNEP-WCMC's checks of annual-report rows, as its public tools run them on an upload
//! (listed in docs/annual-report.md; UNEP-WCMC's sample uploads, which pass them, are in
//! `tests/fixtures/annual-report/`).
//!
//! - **Primary** checks ([`CheckLevel::Primary`], shown as `error`): a row that fails one is not
//!   accepted. The required columns are present (`TradingPartner`, `TermCode`, `SpeciesName`,
//!   `Appendix`, `Quantity`, `Year`); `Quantity` and `Year` are numbers, `Year` has four digits;
//!   term, source, purpose, unit, trading partner, country of origin, taxon name and Appendix
//!   are each in their code list.
//! - **Secondary** checks ([`CheckLevel::Secondary`], shown as `warning`): a report may be
//!   submitted with them. Taxon and Appendix agree; term and unit, term and purpose are pairs of
//!   SAPI's tables; wild specimens of a species or subspecies come from a range state; the
//!   exporter is neither the country of origin nor the importer; animals are never source `A`,
//!   plants never `C` or `R`.
//!
//! [`REPORT_CHECKS`] lists every check; [`check_row`] runs them on one [`ReportRow`] and returns
//! one [`RowFinding`] per broken check and column. The checks of the taxon (name, Appendix,
//! kingdom and source, range) need the CITES checklist ([`CheckContext::checklist`]); without
//! one they are skipped. A check whose input already failed a primary check (an unknown term,
//! unit or country, an unknown taxon) does not run, so one mistake is reported once.
//!
//! The term-unit and term-purpose tables are UNEP-WCMC's own, from its SAPI repository
//! (`unepwcmc/SAPI`, `lib/files/term_unit_pairs_utf8.csv` and
//! `lib/files/term_purpose_pairs_utf8.csv`, BSD-3-Clause), shipped verbatim in
//! `shared/domain/data/sapi/` with their provenance and licence.

use super::{ReportRole, ReportRow, NUMBER_OF_SPECIMENS};
use crate::checklist::{Kingdom, Match, Taxon};
use crate::codes::{Appendix, CodeList, Coded, Purpose, Source, Term, Unit};
use crate::{Checklist, CountryCode};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

/// What the checks of one row need besides the row: whose report it is and, for the checks of
/// the taxon, the CITES checklist.
#[derive(Clone, Copy, Debug)]
pub struct CheckContext<'a> {
    /// Whose report: decides which country of the row is the exporter and which the importer
    /// (the reporter is the exporter of an exporter's report and the importer of an importer's;
    /// `TradingPartner` is the other one).
    pub role: ReportRole,
    /// The reporting Party.
    pub reporter: CountryCode,
    /// The CITES checklist (Species+ export). The checks of the taxon (name, Appendix, kingdom
    /// and source, range of wild specimens) run only with it; without it they are skipped, not
    /// reported.
    pub checklist: Option<&'a Checklist>,
}

/// How serious a check is, in UNEP-WCMC's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckLevel {
    /// An error: the row is not accepted. Displayed `error`.
    Primary,
    /// A warning: the report may be submitted with it. Displayed `warning`.
    Secondary,
}

impl fmt::Display for CheckLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckLevel::Primary => "error",
            CheckLevel::Secondary => "warning",
        })
    }
}

/// One check of a row: its stable id (`report-...`), its level, the columns it reads (those of
/// [`super::columns`]) and what it checks, in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ReportCheck {
    /// The stable id, e.g. `report-quantity-numeric`; findings carry it as their `rule`.
    pub id: &'static str,
    /// Primary (error) or secondary (warning).
    pub level: CheckLevel,
    /// The columns the check reads; a finding names one of them.
    pub columns: &'static [&'static str],
    /// What the check requires, in words.
    pub description: &'static str,
}

/// One broken check of a row: its level and rule, the column it is about, the permit and block
/// the row comes from, and a message for a permit officer naming the value and the rule.
///
/// Displayed as
/// `error: permit XA/XA-2026-0001 block A: TermCode: "ZZZ" is not a CITES term code (report-term-code)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowFinding {
    /// The level of the check that failed.
    pub level: CheckLevel,
    /// The id of the check ([`ReportCheck::id`]).
    pub rule: &'static str,
    /// The column it is about (one of the check's [`ReportCheck::columns`]).
    pub column: &'static str,
    /// The permit of the row ([`ReportRow::permit`]).
    pub permit: String,
    /// The permit block of the row ([`ReportRow::block`]).
    pub block: String,
    /// What is wrong, naming the value.
    pub message: String,
}

impl fmt::Display for RowFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.level)?;
        if !self.permit.is_empty() {
            write!(f, " permit {}", self.permit)?;
        }
        if !self.block.is_empty() {
            write!(f, " block {}", self.block)?;
        }
        if !self.permit.is_empty() || !self.block.is_empty() {
            f.write_str(":")?;
        }
        write!(f, " {}: {} ({})", self.column, self.message, self.rule)
    }
}

const fn primary(
    id: &'static str,
    columns: &'static [&'static str],
    description: &'static str,
) -> ReportCheck {
    ReportCheck {
        id,
        level: CheckLevel::Primary,
        columns,
        description,
    }
}

const fn secondary(
    id: &'static str,
    columns: &'static [&'static str],
    description: &'static str,
) -> ReportCheck {
    ReportCheck {
        id,
        level: CheckLevel::Secondary,
        columns,
        description,
    }
}

const TRADING_PARTNER_PRESENT: ReportCheck = primary(
    "report-trading-partner-present",
    &["TradingPartner"],
    "TradingPartner is given.",
);
const TERM_PRESENT: ReportCheck =
    primary("report-term-present", &["TermCode"], "TermCode is given.");
const SPECIES_NAME_PRESENT: ReportCheck = primary(
    "report-species-name-present",
    &["SpeciesName"],
    "SpeciesName is given.",
);
const APPENDIX_PRESENT: ReportCheck = primary(
    "report-appendix-present",
    &["Appendix"],
    "Appendix is given.",
);
const QUANTITY_PRESENT: ReportCheck = primary(
    "report-quantity-present",
    &["Quantity"],
    "Quantity is given.",
);
const YEAR_PRESENT: ReportCheck = primary("report-year-present", &["Year"], "Year is given.");
const QUANTITY_NUMERIC: ReportCheck = primary(
    "report-quantity-numeric",
    &["Quantity"],
    "Quantity is a number: digits, with a decimal point if any, no sign or grouping.",
);
const YEAR_NUMERIC: ReportCheck = primary(
    "report-year-numeric",
    &["Year"],
    "Year is a number (digits only).",
);
const YEAR_FOUR_DIGITS: ReportCheck = primary(
    "report-year-four-digits",
    &["Year"],
    "Year has four digits.",
);
const TERM_CODE: ReportCheck = primary(
    "report-term-code",
    &["TermCode"],
    "TermCode is a CITES term code.",
);
const SOURCE_CODE: ReportCheck = primary(
    "report-source-code",
    &["SourceCode"],
    "SourceCode, when given, is a CITES source code.",
);
const PURPOSE_CODE: ReportCheck = primary(
    "report-purpose-code",
    &["PurposeCode"],
    "PurposeCode, when given, is a CITES purpose code.",
);
const UNIT_CODE: ReportCheck = primary(
    "report-unit-code",
    &["UnitCode"],
    "UnitCode is a CITES unit code, or NAR or empty for a number of specimens.",
);
const TRADING_PARTNER_CODE: ReportCheck = primary(
    "report-trading-partner-code",
    &["TradingPartner"],
    "TradingPartner is an ISO 3166-1 alpha-2 country code.",
);
const ORIGIN_CODE: ReportCheck = primary(
    "report-origin-code",
    &["CountryOfOrigin"],
    "CountryOfOrigin, when given, is an ISO 3166-1 alpha-2 country code.",
);
const TAXON_NAME: ReportCheck = primary(
    "report-taxon-name",
    &["SpeciesName"],
    "SpeciesName is a taxon of the CITES checklist (accepted name, synonym, or a species of a \
     genus listed at genus rank). Needs the checklist.",
);
const APPENDIX_CODE: ReportCheck = primary(
    "report-appendix-code",
    &["Appendix"],
    "Appendix is 1, 2, 3 or N (I, II and III are read as 1, 2 and 3).",
);
const TAXON_APPENDIX: ReportCheck = secondary(
    "report-taxon-appendix",
    &["Appendix", "SpeciesName"],
    "The Appendix is one the taxon is listed in (for split listings, one of those listed; N \
     when some population is not listed), in the loaded checklist. Needs the checklist.",
);
const TERM_UNIT_PAIR: ReportCheck = secondary(
    "report-term-unit-pair",
    &["TermCode", "UnitCode"],
    "Term and unit are a pair of UNEP-WCMC's term-unit table (SAPI); an empty unit or NAR is \
     a number of specimens.",
);
const TERM_PURPOSE_PAIR: ReportCheck = secondary(
    "report-term-purpose-pair",
    &["TermCode", "PurposeCode"],
    "Term and purpose, when a purpose is given, are a pair of UNEP-WCMC's term-purpose table \
     (SAPI).",
);
const WILD_DISTRIBUTION: ReportCheck = secondary(
    "report-wild-distribution",
    &[
        "SourceCode",
        "SpeciesName",
        "CountryOfOrigin",
        "TradingPartner",
    ],
    "Specimens taken from the wild (source W) of a species or subspecies come from a range \
     state of the taxon: the country of origin, or the exporter when there is no origin. Needs \
     the checklist; skipped when it gives no range or the origin is XX (unknown).",
);
const EXPORTER_ORIGIN: ReportCheck = secondary(
    "report-exporter-origin",
    &["CountryOfOrigin"],
    "The country of origin, when given, differs from the exporter (it is given only for \
     re-exports).",
);
const EXPORTER_IMPORTER: ReportCheck = secondary(
    "report-exporter-importer",
    &["TradingPartner"],
    "The exporter differs from the importer: the trading partner is not the reporting Party.",
);
const KINGDOM_SOURCE: ReportCheck = secondary(
    "report-kingdom-source",
    &["SourceCode", "SpeciesName"],
    "Animals are never source A (artificially propagated plants); plants are never source C \
     (animals bred in captivity) or R (ranched). Needs the checklist.",
);

/// Every check of a row, primary ones first, in the order [`check_row`] runs them.
pub const REPORT_CHECKS: &[ReportCheck] = &[
    TRADING_PARTNER_PRESENT,
    TERM_PRESENT,
    SPECIES_NAME_PRESENT,
    APPENDIX_PRESENT,
    QUANTITY_PRESENT,
    YEAR_PRESENT,
    QUANTITY_NUMERIC,
    YEAR_NUMERIC,
    YEAR_FOUR_DIGITS,
    TERM_CODE,
    SOURCE_CODE,
    PURPOSE_CODE,
    UNIT_CODE,
    TRADING_PARTNER_CODE,
    ORIGIN_CODE,
    TAXON_NAME,
    APPENDIX_CODE,
    TAXON_APPENDIX,
    TERM_UNIT_PAIR,
    TERM_PURPOSE_PAIR,
    WILD_DISTRIBUTION,
    EXPORTER_ORIGIN,
    EXPORTER_IMPORTER,
    KINGDOM_SOURCE,
];

/// SAPI's term-unit pairs, verbatim (see `data/sapi/README.md`).
const TERM_UNIT_CSV: &str = include_str!("../../data/sapi/term_unit_pairs.csv");
/// SAPI's term-purpose pairs, verbatim.
const TERM_PURPOSE_CSV: &str = include_str!("../../data/sapi/term_purpose_pairs.csv");

/// One of SAPI's pair tables: the pairs, and the terms that have at least one.
struct PairTable {
    pairs: HashSet<(String, String)>,
    terms: HashSet<String>,
}

impl PairTable {
    /// Reads `TERM,OTHER` lines after a header; `blank` stands for an empty second code.
    fn parse(text: &str, blank: &str) -> PairTable {
        let mut pairs = HashSet::new();
        let mut terms = HashSet::new();
        for line in text.lines().skip(1) {
            let Some((term, other)) = line.split_once(',') else {
                continue;
            };
            let term = term.trim().to_owned();
            let other = match other.trim() {
                "" => blank.to_owned(),
                code => code.to_owned(),
            };
            terms.insert(term.clone());
            pairs.insert((term, other));
        }
        PairTable { pairs, terms }
    }

    fn contains(&self, term: &str, other: &str) -> bool {
        self.pairs.contains(&(term.to_owned(), other.to_owned()))
    }

    /// The codes paired with `term`, sorted.
    fn paired_with(&self, term: &str) -> Vec<&str> {
        let mut codes: Vec<&str> = self
            .pairs
            .iter()
            .filter(|(t, _)| t == term)
            .map(|(_, other)| other.as_str())
            .collect();
        codes.sort_unstable();
        codes
    }
}

/// Term-unit pairs; a blank unit (a number of specimens) is read as `NAR`.
static TERM_UNITS: LazyLock<PairTable> =
    LazyLock::new(|| PairTable::parse(TERM_UNIT_CSV, NUMBER_OF_SPECIMENS));
/// Term-purpose pairs.
static TERM_PURPOSES: LazyLock<PairTable> =
    LazyLock::new(|| PairTable::parse(TERM_PURPOSE_CSV, ""));

/// The country code the Trade Database writes for an unknown country of origin.
const UNKNOWN_COUNTRY: &str = "XX";

/// Runs every check of [`REPORT_CHECKS`] on one row and returns one finding per broken check
/// and column, primary findings first. A check whose input already failed a primary check does
/// not run (an unknown term is not also a bad term-unit pair), and the checks of the taxon run
/// only with a checklist.
pub fn check_row(row: &ReportRow, context: &CheckContext<'_>) -> Vec<RowFinding> {
    let mut out = Findings {
        row,
        found: Vec::new(),
    };

    let appendix = row.appendix.trim();
    let species = row.species_name.trim();
    let term = row.term_code.trim();
    let quantity = row.quantity.trim();
    let unit = row.unit_code.trim();
    let partner = row.trading_partner.trim();
    let origin = row.country_of_origin.trim();
    let purpose = row.purpose_code.trim();
    let source = row.source_code.trim();
    let year = row.year.trim();

    // Primary: required columns.
    for (check, value, column) in [
        (&TRADING_PARTNER_PRESENT, partner, "TradingPartner"),
        (&TERM_PRESENT, term, "TermCode"),
        (&SPECIES_NAME_PRESENT, species, "SpeciesName"),
        (&APPENDIX_PRESENT, appendix, "Appendix"),
        (&QUANTITY_PRESENT, quantity, "Quantity"),
        (&YEAR_PRESENT, year, "Year"),
    ] {
        if value.is_empty() {
            out.push(check, column, format!("{column} is empty; it is required"));
        }
    }

    // Primary: numbers.
    if !quantity.is_empty() && !is_decimal(quantity) {
        out.push(
            &QUANTITY_NUMERIC,
            "Quantity",
            format!(
                "{quantity:?} is not a number; write digits with a decimal point if any \
                 (e.g. 12 or 0.5), without sign or grouping"
            ),
        );
    }
    if !year.is_empty() {
        if !year.bytes().all(|b| b.is_ascii_digit()) {
            out.push(
                &YEAR_NUMERIC,
                "Year",
                format!("{year:?} is not a number; the year is four digits, e.g. 2025"),
            );
        } else if year.len() != 4 {
            out.push(
                &YEAR_FOUR_DIGITS,
                "Year",
                format!("{year:?} is not four digits; write the year in full, e.g. 2025"),
            );
        }
    }

    // Primary: code lists.
    let term_code = known_code::<Term>(term);
    if !term.is_empty() && term_code.is_none() {
        out.push(
            &TERM_CODE,
            "TermCode",
            format!("{term:?} is not a CITES term code"),
        );
    }
    let source_code = known_code::<Source>(source);
    if !source.is_empty() && source_code.is_none() {
        out.push(
            &SOURCE_CODE,
            "SourceCode",
            format!("{source:?} is not a CITES source code"),
        );
    }
    if !purpose.is_empty() && known_code::<Purpose>(purpose).is_none() {
        out.push(
            &PURPOSE_CODE,
            "PurposeCode",
            format!("{purpose:?} is not a CITES purpose code"),
        );
    }
    // The unit as the pair table writes it: NAR for a number of specimens.
    let unit_key = if unit.is_empty() || unit == NUMBER_OF_SPECIMENS {
        Some(NUMBER_OF_SPECIMENS)
    } else {
        known_code::<Unit>(unit).map(Unit::code)
    };
    if unit_key.is_none() {
        out.push(
            &UNIT_CODE,
            "UnitCode",
            format!(
                "{unit:?} is not a CITES unit code; a number of specimens is \
                 {NUMBER_OF_SPECIMENS} (or empty)"
            ),
        );
    }
    let partner_country = partner.parse::<CountryCode>().ok();
    if !partner.is_empty() && partner_country.is_none() {
        out.push(
            &TRADING_PARTNER_CODE,
            "TradingPartner",
            format!("{partner:?} is not an ISO 3166-1 alpha-2 country code"),
        );
    }
    let origin_country = origin.parse::<CountryCode>().ok();
    if !origin.is_empty() && origin_country.is_none() {
        out.push(
            &ORIGIN_CODE,
            "CountryOfOrigin",
            format!("{origin:?} is not an ISO 3166-1 alpha-2 country code"),
        );
    }
    let taxon = match (context.checklist, species.is_empty()) {
        (Some(checklist), false) => {
            let found = checklist.find(species);
            if found.is_none() {
                out.push(
                    &TAXON_NAME,
                    "SpeciesName",
                    format!(
                        "{species:?} is not a taxon of the CITES checklist of {}",
                        checklist.date
                    ),
                );
            }
            found.map(Match::taxon)
        }
        _ => None,
    };
    let appendix_code = parse_appendix(appendix);
    if !appendix.is_empty() && appendix_code.is_none() {
        out.push(
            &APPENDIX_CODE,
            "Appendix",
            format!("{appendix:?} is not an Appendix; write 1, 2, 3 or N"),
        );
    }

    // Secondary.
    if let (Some(taxon), Some(appendix_code)) = (taxon, appendix_code) {
        taxon_appendix(taxon, appendix_code, appendix, context, &mut out);
    }
    if let (Some(term_code), Some(unit_key)) = (term_code, unit_key) {
        let term = term_code.code();
        if !TERM_UNITS.contains(term, unit_key) {
            let listed = TERM_UNITS.paired_with(term);
            let unit_text = if unit.is_empty() {
                "no unit (a number of specimens)".to_owned()
            } else {
                format!("unit {unit_key}")
            };
            out.push(
                &TERM_UNIT_PAIR,
                "UnitCode",
                format!(
                    "term {term} ({}) with {unit_text} is not a pair of UNEP-WCMC's term-unit \
                     table; {term} is reported in {}",
                    term_code.meaning(),
                    listed.join(", ")
                ),
            );
        }
    }
    if let (Some(term_code), Some(purpose_code)) = (term_code, known_code::<Purpose>(purpose)) {
        let term = term_code.code();
        if !TERM_PURPOSES.contains(term, purpose_code.code()) {
            let listed = TERM_PURPOSES.paired_with(term);
            let detail = if TERM_PURPOSES.terms.contains(term) {
                format!("{term} is reported for purposes {}", listed.join(", "))
            } else {
                format!("the table lists no purpose for {term}")
            };
            out.push(
                &TERM_PURPOSE_PAIR,
                "PurposeCode",
                format!(
                    "term {term} ({}) with purpose {} ({}) is not a pair of UNEP-WCMC's \
                     term-purpose table; {detail}",
                    term_code.meaning(),
                    purpose_code.code(),
                    purpose_code.meaning()
                ),
            );
        }
    }

    // The countries of the trade.
    let (exporter, exporter_column) = match context.role {
        ReportRole::Exporter => (Some(context.reporter), None),
        ReportRole::Importer => (partner_country, Some("TradingPartner")),
    };
    if let (Some(taxon), Some(Source::W)) = (taxon, source_code) {
        // The country of origin when there is one (an unknown code was reported above), else
        // the exporter: the trading partner, or the reporter itself, which no column holds.
        let (country, column, whose) = if origin.is_empty() {
            let column = exporter_column.unwrap_or("SpeciesName");
            (exporter, column, "exporter")
        } else {
            (origin_country, "CountryOfOrigin", "country of origin")
        };
        if let Some(country) = country {
            wild_distribution(taxon, country, column, whose, &mut out);
        }
    }
    if let (Some(origin_country), Some(exporter)) = (origin_country, exporter) {
        if origin_country == exporter {
            out.push(
                &EXPORTER_ORIGIN,
                "CountryOfOrigin",
                format!(
                    "the country of origin {origin_country} is the exporter; give a country of \
                     origin only for re-exports, when it differs from the exporter"
                ),
            );
        }
    }
    if partner_country == Some(context.reporter) {
        out.push(
            &EXPORTER_IMPORTER,
            "TradingPartner",
            format!(
                "the trading partner {partner} is the reporting Party itself; exporter and \
                 importer must differ"
            ),
        );
    }
    if let (Some(taxon), Some(source_code)) = (taxon, source_code) {
        kingdom_source(taxon, source_code, &mut out);
    }

    out.found
}

/// Collects the findings of one row.
struct Findings<'r> {
    row: &'r ReportRow,
    found: Vec<RowFinding>,
}

impl Findings<'_> {
    fn push(&mut self, check: &'static ReportCheck, column: &'static str, message: String) {
        debug_assert!(check.columns.contains(&column), "{} {column}", check.id);
        self.found.push(RowFinding {
            level: check.level,
            rule: check.id,
            column,
            permit: self.row.permit.clone(),
            block: self.row.block.clone(),
            message,
        });
    }
}

/// The known code of a list, `None` for empty or unknown text.
fn known_code<T: CodeList>(text: &str) -> Option<T> {
    if text.is_empty() {
        return None;
    }
    Coded::<T>::parse(text).known()
}

/// The Appendix column: `1`, `2`, `3`, `N`, or `I`, `II`, `III`.
fn parse_appendix(text: &str) -> Option<Appendix> {
    match text {
        "1" | "I" => Some(Appendix::I),
        "2" | "II" => Some(Appendix::II),
        "3" | "III" => Some(Appendix::III),
        "N" => Some(Appendix::N),
        _ => None,
    }
}

/// The Appendix as the upload format writes it.
fn appendix_column(appendix: Appendix) -> &'static str {
    match appendix {
        Appendix::I => "1",
        Appendix::II => "2",
        Appendix::III => "3",
        Appendix::N => "N",
    }
}

/// Digits, optionally a point and more digits: the format's decimal numbers.
fn is_decimal(text: &str) -> bool {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

fn taxon_appendix(
    taxon: &Taxon,
    appendix: Appendix,
    text: &str,
    context: &CheckContext<'_>,
    out: &mut Findings<'_>,
) {
    let agrees = match appendix {
        Appendix::N => taxon.not_listed,
        listed => taxon.appendices.contains(&listed),
    };
    if agrees {
        return;
    }
    let listing = taxon.listing();
    let columns: Vec<&str> = taxon
        .appendices
        .iter()
        .map(|a| appendix_column(*a))
        .chain(taxon.not_listed.then_some("N"))
        .collect();
    let date = context.checklist.map_or("", |c| c.date.as_str());
    out.push(
        &TAXON_APPENDIX,
        "Appendix",
        format!(
            "Appendix {text} does not agree with the listing of {} ({listing}) in the checklist \
             of {date}; expected {}",
            taxon.name,
            columns.join(" or ")
        ),
    );
}

fn wild_distribution(
    taxon: &Taxon,
    country: CountryCode,
    column: &'static str,
    whose: &str,
    out: &mut Findings<'_>,
) {
    if !matches!(taxon.rank.as_str(), "SPECIES" | "SUBSPECIES") || country.code() == UNKNOWN_COUNTRY
    {
        return;
    }
    if taxon.occurs_in(country) == Some(false) {
        out.push(
            &WILD_DISTRIBUTION,
            column,
            format!(
                "{} taken from the wild (source W) in {country} ({}, the {whose}), which is not \
                 one of its range states in the checklist",
                taxon.name,
                country.name()
            ),
        );
    }
}

fn kingdom_source(taxon: &Taxon, source: Source, out: &mut Findings<'_>) {
    let wrong = match (taxon.kingdom, source) {
        (Kingdom::Animals, Source::A) => Some("an animal"),
        (Kingdom::Plants, Source::C | Source::R) => Some("a plant"),
        _ => None,
    };
    if let Some(what) = wrong {
        out.push(
            &KINGDOM_SOURCE,
            "SourceCode",
            format!(
                "source {} ({}) is not used for {}: {what}",
                source.code(),
                source.meaning(),
                taxon.name
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sapi_tables_parse_into_every_pair_with_blank_units_as_nar() {
        assert_eq!(TERM_UNITS.pairs.len(), 712);
        assert_eq!(TERM_PURPOSES.pairs.len(), 578);
        assert!(TERM_UNITS.contains("CAV", "KIL"));
        assert!(TERM_UNITS.contains("BEL", NUMBER_OF_SPECIMENS));
        assert!(!TERM_UNITS.contains("BEL", ""));
        assert!(TERM_PURPOSES.contains("CAV", "T"));
        assert!(!TERM_PURPOSES.terms.contains("PKY"));
    }

    #[test]
    fn every_term_of_the_code_list_is_in_the_unit_table() {
        for term in Term::ALL {
            assert!(TERM_UNITS.terms.contains(term.code()), "{term}");
        }
    }

    #[test]
    fn decimals_are_digits_with_an_optional_fraction() {
        for good in ["6", "0.2", "1000", "12.50"] {
            assert!(is_decimal(good), "{good}");
        }
        for bad in ["", ".5", "5.", "1,000", "-3", "1e3", "ten", "1.2.3"] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }
}
