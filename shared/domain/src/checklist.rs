//! The CITES checklist: which taxa are listed in which Appendix, their synonyms, kingdoms and
//! range states, as Species+ exports them ("Index of CITES Species", a CSV; its columns are in
//! `docs/species.md`). The validation tier `listing` ([`crate::validate::validate_listing`])
//! checks each block of a permit against it.
//!
//! The export is not an open licence, so the project ships none: an operator downloads the
//! current file and loads it ([`Checklist::from_species_csv`]); `ecites species import` writes
//! the compact form ([`Checklist::to_compact`], JSON) that the functions load once per process
//! ([`Checklist::from_compact`]). Lookups are hash lookups of a normalised name: constant time
//! per block, whatever the checklist's size.
//!
//! Names are normalised before lookup ([`normalise_name`]): authors and years, `spp.`/`sp.`,
//! rank markers (`subsp.`, `ssp.`, `var.`), the hybrid sign (`×`, or an `x` between words), case
//! and spacing do not matter.

use crate::{Appendix, CodeList, CountryCode};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The most rows an export may have: a full export has about 38,000; ten times that is not a
/// checklist.
pub const MAX_ROWS: usize = 400_000;

/// The compact form's format tag and version.
const COMPACT_FORMAT: &str = "ecites-checklist";
const COMPACT_VERSION: u32 = 1;

/// The kingdom of a taxon, which decides the source codes it may have (Res. Conf. 12.3: `A` is
/// for plants only; `C`, `F` and `R` for animals only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kingdom {
    /// Animalia.
    Animals,
    /// Plantae.
    Plants,
    /// Anything else the file names (kept, checked for nothing kingdom-specific).
    Other,
}

/// One taxon of the checklist with its current listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taxon {
    /// Species+ `TaxonId`.
    pub id: u64,
    /// The accepted name without authors (`FullName`), e.g. `Python regius`.
    pub name: String,
    /// `RankName`: `SPECIES`, `SUBSPECIES`, `GENUS`, `FAMILY`, `ORDER`, ...
    pub rank: String,
    /// The kingdom.
    pub kingdom: Kingdom,
    /// The Appendices of the current listing (`CurrentListing` `I/II` gives I and II; split
    /// listings list populations in several). Empty with `not_listed` for `NC`.
    #[serde(with = "appendix_codes")]
    pub appendices: Vec<Appendix>,
    /// True when some population is not listed (`NC`, or `II/NC`).
    pub not_listed: bool,
    /// The range states (`All_DistributionISOCodes`), sorted; empty when the file gives none.
    pub distribution: Vec<String>,
}

impl Taxon {
    /// The listing as the checklist writes it: `I/II`, `NC`, `II/NC`.
    pub fn listing(&self) -> String {
        let mut parts: Vec<&str> = self.appendices.iter().map(|a| a.code()).collect();
        if self.not_listed {
            parts.push("NC");
        }
        parts.join("/")
    }

    /// True when `country` is one of the range states (unknown when the file gives none).
    pub fn occurs_in(&self, country: CountryCode) -> Option<bool> {
        if self.distribution.is_empty() {
            return None;
        }
        let code = country.to_string();
        Some(self.distribution.binary_search(&code).is_ok())
    }
}

/// How a name was found in the checklist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match<'a> {
    /// The accepted name of the taxon.
    Accepted(&'a Taxon),
    /// A synonym of the taxon's accepted name.
    Synonym(&'a Taxon),
    /// Not itself in the checklist, but its genus is, listed at that rank (`Genus spp.`).
    HigherRank(&'a Taxon),
}

impl<'a> Match<'a> {
    /// The taxon whose listing applies.
    pub fn taxon(self) -> &'a Taxon {
        match self {
            Match::Accepted(t) | Match::Synonym(t) | Match::HigherRank(t) => t,
        }
    }
}

/// The checklist, ready for lookups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checklist {
    /// The date of the export (from its file name, `Index_of_CITES_Species_<date> ...`, or as
    /// given on import), `YYYY-MM-DD`; findings name it.
    pub date: String,
    taxa: Vec<Taxon>,
    /// Normalised accepted names and synonyms -> (taxon index, is a synonym).
    names: HashMap<String, (u32, bool)>,
}

/// What can go wrong reading a checklist.
#[derive(Debug, thiserror::Error)]
pub enum ChecklistError {
    /// The CSV is not the Species+ export: a column it needs is missing.
    #[error("not the CITES checklist export: no {0:?} column (docs/species.md lists them)")]
    MissingColumn(&'static str),
    /// A row cannot be read.
    #[error("checklist line {line}: {reason}")]
    Row {
        /// The CSV line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// More rows than any checklist has.
    #[error("the file has more than {MAX_ROWS} rows: not a checklist")]
    TooLarge,
    /// No row at all.
    #[error("the checklist holds no taxon")]
    Empty,
    /// The compact form cannot be read.
    #[error("not a compact checklist ({0})")]
    Compact(String),
}

/// The columns used, by their names in the export's header.
const COLUMNS: [&str; 7] = [
    "TaxonId",
    "Kingdom",
    "FullName",
    "RankName",
    "CurrentListing",
    "SynonymsWithAuthors",
    "All_DistributionISOCodes",
];

#[derive(Serialize, Deserialize)]
struct Compact {
    format: String,
    version: u32,
    date: String,
    taxa: Vec<Taxon>,
    /// (normalised synonym, index of its taxon).
    synonyms: Vec<(String, u32)>,
}

impl Checklist {
    /// Reads the Species+ export (CSV, UTF-8 with or without a BOM). `date` is the export's
    /// date (`YYYY-MM-DD`). Rows without a name are refused; an unknown listing text is refused
    /// naming the line.
    pub fn from_species_csv(bytes: &[u8], date: &str) -> Result<Checklist, ChecklistError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
        let headers = reader
            .headers()
            .map_err(|e| ChecklistError::Row {
                line: 1,
                reason: e.to_string(),
            })?
            .clone();
        let mut index = [0usize; COLUMNS.len()];
        for (slot, name) in index.iter_mut().zip(COLUMNS) {
            *slot = headers
                .iter()
                .position(|h| h.trim() == name)
                .ok_or(ChecklistError::MissingColumn(name))?;
        }
        let [id_at, kingdom_at, name_at, rank_at, listing_at, synonyms_at, distribution_at] = index;
        let mut taxa = Vec::new();
        let mut synonyms = Vec::new();
        for (row, record) in reader.records().enumerate() {
            if row >= MAX_ROWS {
                return Err(ChecklistError::TooLarge);
            }
            let line = |record: &csv::StringRecord| record.position().map_or(0, |p| p.line());
            let record = record.map_err(|e| ChecklistError::Row {
                line: e.position().map_or(0, |p| p.line()),
                reason: e.to_string(),
            })?;
            let field = |at: usize| record.get(at).unwrap_or("").trim();
            let name = field(name_at);
            if name.is_empty() {
                return Err(ChecklistError::Row {
                    line: line(&record),
                    reason: "no FullName".into(),
                });
            }
            let (appendices, not_listed) =
                parse_listing(field(listing_at)).ok_or_else(|| ChecklistError::Row {
                    line: line(&record),
                    reason: format!("CurrentListing {:?} is not a listing", field(listing_at)),
                })?;
            let mut distribution: Vec<String> = field(distribution_at)
                .split(',')
                .map(|c| c.trim().to_ascii_uppercase())
                .filter(|c| c.len() == 2)
                .collect();
            distribution.sort();
            distribution.dedup();
            let position = u32::try_from(taxa.len()).map_err(|_| ChecklistError::TooLarge)?;
            for synonym in split_synonyms(field(synonyms_at)) {
                synonyms.push((synonym, position));
            }
            taxa.push(Taxon {
                id: field(id_at).parse().unwrap_or(0),
                name: name.to_owned(),
                rank: field(rank_at).to_ascii_uppercase(),
                kingdom: match field(kingdom_at).to_ascii_lowercase().as_str() {
                    "animalia" => Kingdom::Animals,
                    "plantae" => Kingdom::Plants,
                    _ => Kingdom::Other,
                },
                appendices,
                not_listed,
                distribution,
            });
        }
        if taxa.is_empty() {
            return Err(ChecklistError::Empty);
        }
        Ok(Checklist::build(date.to_owned(), taxa, synonyms))
    }

    fn build(date: String, taxa: Vec<Taxon>, synonyms: Vec<(String, u32)>) -> Checklist {
        let mut names = HashMap::with_capacity(taxa.len() + synonyms.len());
        for (position, taxon) in taxa.iter().enumerate() {
            names.insert(normalise_name(&taxon.name), (position as u32, false));
        }
        // An accepted name wins over a synonym spelled the same.
        for (synonym, position) in synonyms {
            names.entry(synonym).or_insert((position, true));
        }
        Checklist { date, taxa, names }
    }

    /// The compact form (JSON): what `ecites species import` writes to the bucket.
    pub fn to_compact(&self) -> Vec<u8> {
        let synonyms: Vec<(String, u32)> = self
            .names
            .iter()
            .filter(|(_, (_, synonym))| *synonym)
            .map(|(name, (position, _))| (name.clone(), *position))
            .collect();
        let compact = Compact {
            format: COMPACT_FORMAT.into(),
            version: COMPACT_VERSION,
            date: self.date.clone(),
            taxa: self.taxa.clone(),
            synonyms,
        };
        serde_json::to_vec(&compact).unwrap_or_default()
    }

    /// Reads the compact form.
    pub fn from_compact(bytes: &[u8]) -> Result<Checklist, ChecklistError> {
        let compact: Compact =
            serde_json::from_slice(bytes).map_err(|e| ChecklistError::Compact(e.to_string()))?;
        if compact.format != COMPACT_FORMAT || compact.version != COMPACT_VERSION {
            return Err(ChecklistError::Compact(format!(
                "format {} version {}, expected {COMPACT_FORMAT} version {COMPACT_VERSION}",
                compact.format, compact.version
            )));
        }
        let count = compact.taxa.len();
        if compact.synonyms.iter().any(|(_, p)| *p as usize >= count) {
            return Err(ChecklistError::Compact("a synonym names no taxon".into()));
        }
        if count == 0 {
            return Err(ChecklistError::Empty);
        }
        Ok(Checklist::build(
            compact.date,
            compact.taxa,
            compact.synonyms,
        ))
    }

    /// Reads either form: the compact JSON (starts with `{`) or the export's CSV, whose date is
    /// taken from a file name like `Index_of_CITES_Species_2026-11-01 0930.csv` (else `date`).
    pub fn load(bytes: &[u8], file_name: &str, date: &str) -> Result<Checklist, ChecklistError> {
        let trimmed = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if trimmed.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            return Checklist::from_compact(trimmed);
        }
        let date = date_in_file_name(file_name).unwrap_or_else(|| date.to_owned());
        Checklist::from_species_csv(bytes, &date)
    }

    /// How many taxa it holds.
    pub fn len(&self) -> usize {
        self.taxa.len()
    }

    /// True when it holds no taxon (never, for a loaded checklist).
    pub fn is_empty(&self) -> bool {
        self.taxa.is_empty()
    }

    /// The taxa, in the order of the file.
    pub fn taxa(&self) -> &[Taxon] {
        &self.taxa
    }

    /// How many names (accepted and synonyms) it answers for.
    pub fn names(&self) -> usize {
        self.names.len()
    }

    /// Finds a scientific name: the accepted name, a synonym, or (when the name itself is
    /// absent) its genus listed at genus rank. `None` when the checklist does not know it.
    pub fn find(&self, scientific_name: &str) -> Option<Match<'_>> {
        let name = normalise_name(scientific_name);
        if name.is_empty() {
            return None;
        }
        if let Some(found) = self.lookup(&name) {
            return Some(found);
        }
        // `Genus species` unknown, `Genus` listed at genus rank (e.g. `Genus spp.`).
        let genus = name.split(' ').next().unwrap_or("");
        if genus.len() < name.len() {
            if let Some(Match::Accepted(taxon)) = self.lookup(genus) {
                if taxon.rank == "GENUS" {
                    return Some(Match::HigherRank(taxon));
                }
            }
        }
        None
    }

    fn lookup(&self, normalised: &str) -> Option<Match<'_>> {
        let (position, synonym) = *self.names.get(normalised)?;
        let taxon = &self.taxa[position as usize];
        Some(if synonym {
            Match::Synonym(taxon)
        } else {
            Match::Accepted(taxon)
        })
    }
}

/// Appendices in the compact form: their codes (`["I", "II"]`).
mod appendix_codes {
    use crate::{Appendix, CodeList};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(appendices: &[Appendix], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(appendices.iter().map(|a| a.code()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Appendix>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|code| {
                Appendix::from_code(code)
                    .ok_or_else(|| serde::de::Error::custom(format!("{code:?} is no Appendix")))
            })
            .collect()
    }
}

/// `I`, `II`, `III`, `NC` and their splits (`I/II`, `II/NC`); `None` for anything else.
fn parse_listing(text: &str) -> Option<(Vec<Appendix>, bool)> {
    let mut appendices = Vec::new();
    let mut not_listed = false;
    for part in text.split('/').map(str::trim) {
        match part {
            "I" => appendices.push(Appendix::I),
            "II" => appendices.push(Appendix::II),
            "III" => appendices.push(Appendix::III),
            "NC" => not_listed = true,
            _ => return None,
        }
    }
    appendices.dedup();
    Some((appendices, not_listed))
}

/// The synonyms of `SynonymsWithAuthors`, normalised. Authors may contain commas
/// ("Matusz., Myšák & Jiruše"), so a comma starts a new synonym only when what follows begins
/// with a capitalised word followed by a lower-case epithet (a binomial).
fn split_synonyms(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut current = String::new();
    for piece in text.split(',') {
        if !current.is_empty() && starts_binomial(piece) {
            names.push(normalise_name(&current));
            current.clear();
        }
        if !current.is_empty() {
            current.push(',');
        }
        current.push_str(piece);
    }
    if !current.trim().is_empty() {
        names.push(normalise_name(&current));
    }
    names.retain(|n| !n.is_empty());
    names
}

fn starts_binomial(piece: &str) -> bool {
    let mut words = piece.split_whitespace();
    let first = words.next().unwrap_or("");
    let second = words.next().unwrap_or("");
    let capitalised = first.chars().next().is_some_and(char::is_uppercase)
        && first.chars().skip(1).all(|c| c.is_lowercase() || c == '-')
        && first.chars().count() > 1;
    let epithet = second.chars().next().is_some_and(char::is_lowercase)
        && second.chars().all(|c| c.is_lowercase() || c == '-');
    capitalised && epithet
}

/// The lookup form of a scientific name: lower case, single spaces, without authors and years,
/// `spp.`/`sp.`, rank markers (`subsp.`, `ssp.`, `var.`, `f.`) and the hybrid sign.
///
/// `Python regius (Shaw, 1802)` -> `python regius`; `Psittaciformes spp.` -> `psittaciformes`;
/// `Loxodonta  africana` -> `loxodonta africana`; `× Laeliocattleya` -> `laeliocattleya`.
pub fn normalise_name(name: &str) -> String {
    // A name written all in capitals has no case to tell authors by: read it in lower case.
    let lowered;
    let name = if name.chars().any(char::is_lowercase) {
        name
    } else {
        lowered = name.to_lowercase();
        &lowered
    };
    let mut words: Vec<String> = Vec::new();
    for (position, raw) in name
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
        .enumerate()
    {
        let word = raw.trim_start_matches('×');
        if word.is_empty() || (word == "x" && position > 0) {
            continue;
        }
        let lower = word.to_lowercase();
        if matches!(
            lower.as_str(),
            "spp." | "spp" | "sp." | "sp" | "subsp." | "ssp." | "var." | "f." | "cv."
        ) {
            continue;
        }
        let first = word.chars().next().unwrap_or(' ');
        // The genus (or higher taxon) is the first word; after it, a capitalised word, a
        // parenthesis or a digit starts the authors.
        if !words.is_empty() && (first.is_uppercase() || first == '(' || first.is_ascii_digit()) {
            break;
        }
        if !word
            .chars()
            .all(|c| c.is_alphabetic() || c == '-' || c == '.')
        {
            break;
        }
        words.push(lower.trim_end_matches('.').to_owned());
    }
    words.join(" ")
}

/// The date in a Species+ export's file name: `Index_of_CITES_Species_2026-11-01 0930.csv`.
pub fn date_in_file_name(file_name: &str) -> Option<String> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let rest = base.strip_prefix("Index_of_CITES_Species_")?;
    let date = rest.get(..10)?;
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .map(|d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_before_lookup() {
        assert_eq!(
            normalise_name("Python regius (Shaw, 1802)"),
            "python regius"
        );
        assert_eq!(
            normalise_name("  Loxodonta   africana "),
            "loxodonta africana"
        );
        assert_eq!(normalise_name("Psittaciformes spp."), "psittaciformes");
        assert_eq!(normalise_name("PYTHON REGIUS"), "python regius");
        assert_eq!(
            normalise_name("Panthera leo subsp. persica"),
            "panthera leo persica"
        );
        assert_eq!(normalise_name("× Laeliocattleya"), "laeliocattleya");
        assert_eq!(
            normalise_name("Phalaenopsis x intermedia"),
            "phalaenopsis intermedia"
        );
        assert_eq!(normalise_name("Boa regia Shaw, 1802"), "boa regia");
    }

    #[test]
    fn listings_parse_with_splits_and_not_listed() {
        assert_eq!(parse_listing("I"), Some((vec![Appendix::I], false)));
        assert_eq!(
            parse_listing("I/II"),
            Some((vec![Appendix::I, Appendix::II], false))
        );
        assert_eq!(parse_listing("II/NC"), Some((vec![Appendix::II], true)));
        assert_eq!(parse_listing("NC"), Some((vec![], true)));
        assert_eq!(parse_listing("IV"), None);
    }

    #[test]
    fn synonyms_split_on_binomials_not_on_commas_inside_authors() {
        assert_eq!(
            split_synonyms("Boa regia Shaw, 1802, Python bellii Gray, 1842"),
            vec!["boa regia", "python bellii"]
        );
        assert_eq!(
            split_synonyms(
                "Cypripedium fargesii Matusz., Myšák & Jiruše, Cypripedium x ventricosum Sw."
            ),
            vec!["cypripedium fargesii", "cypripedium ventricosum"]
        );
        assert!(split_synonyms("").is_empty());
    }

    #[test]
    fn dates_come_from_the_export_file_name() {
        assert_eq!(
            date_in_file_name("downloads/Index_of_CITES_Species_2026-11-01 0930.csv").as_deref(),
            Some("2026-11-01")
        );
        assert_eq!(date_in_file_name("species.csv"), None);
    }
}
