//! Building the rows of a report from the ledger's items of one year, read in the order of the
//! report index (every item of one permit together, its documents before its uses), so that a
//! report of any size is built holding one permit at a time.
//!
//! The index ([`ReportIndexKey`]) files each item under the report it belongs to: the reporting
//! Party, the role and the year.
//!
//! | item | reporting Party | role | year |
//! |---|---|---|---|
//! | a version of a permit issued here | the issuer | importer for an import permit (box 1 `I`), else exporter | of issue (box 13) |
//! | a permit received from its issuer | its importing country (box 3a) | importer | of issue |
//! | an export endorsement | the endorsing country | exporter | of the examination |
//! | an import confirmation | the confirming country | importer | of the examination |
//!
//! Border refusals move nothing and are not filed.

use super::{ReportBasis, ReportRole, ReportRow, NUMBER_OF_SPECIMENS};
use crate::usage::{BlockFacts, PermitFacts, PermitUse, UseKind};
use crate::{CountryCode, PermitId};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

/// Where an item is filed in the report index: whose report, which role, which year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReportIndexKey {
    /// The reporting Party.
    pub reporter: CountryCode,
    /// Its role in the trade.
    pub role: ReportRole,
    /// The year (of issue for permits, of the examination for uses).
    pub year: i32,
}

impl ReportIndexKey {
    /// The report a version of a permit issued by `issuer` belongs to (permitted basis, and the
    /// list of permits not used): the issuer's, in the year of issue (else of the first day of
    /// validity, else `recorded_on`).
    pub fn of_issued(issuer: CountryCode, facts: &PermitFacts, recorded_on: NaiveDate) -> Self {
        ReportIndexKey {
            reporter: issuer,
            role: if facts.document_type.as_deref() == Some("I") {
                ReportRole::Importer
            } else {
                ReportRole::Exporter
            },
            year: issue_year(facts, recorded_on),
        }
    }

    /// The report a permit received from its issuer belongs to: its importing country's, as
    /// importer, in the year of issue. `None` when the permit names no importing country.
    pub fn of_received(facts: &PermitFacts, received_on: NaiveDate) -> Option<Self> {
        Some(ReportIndexKey {
            reporter: facts.importer_country?,
            role: ReportRole::Importer,
            year: issue_year(facts, received_on),
        })
    }

    /// The report a use belongs to: the reporting customs' country, as exporter (endorsement)
    /// or importer (confirmation), in the year of the examination. `None` for a refusal or a
    /// use whose reporting country is not a country code.
    pub fn of_use(used: &PermitUse) -> Option<Self> {
        let role = match used.kind {
            UseKind::ExportEndorsement => ReportRole::Exporter,
            UseKind::ImportConfirmation => ReportRole::Importer,
            UseKind::BorderRefusal => return None,
        };
        Some(ReportIndexKey {
            reporter: used.reporter()?,
            role,
            year: used.date.date().year(),
        })
    }
}

fn issue_year(facts: &PermitFacts, recorded_on: NaiveDate) -> i32 {
    facts
        .issued_on
        .or(facts.valid_from)
        .unwrap_or(recorded_on)
        .year()
}

/// The state of a permit document as the ledger keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentState {
    /// In force.
    Active,
    /// Replaced by a later version (that version is the one reported).
    Replaced,
    /// Cancelled by its issuer.
    Cancelled,
}

/// One item of the report index, in the index's order.
#[derive(Clone, Debug, PartialEq)]
pub enum ReportEntry {
    /// A version of a permit issued here, or a document received from its issuer.
    Permit {
        /// The permit.
        id: PermitId,
        /// The version.
        version: u32,
        /// Its facts.
        facts: PermitFacts,
        /// Its state.
        state: DocumentState,
    },
    /// A customs use recorded in the year.
    Use {
        /// The permit used.
        id: PermitId,
        /// The use as reported.
        used: Box<PermitUse>,
        /// The facts of the permit the use was checked against (absent when the permit was not
        /// on record then).
        facts: Option<PermitFacts>,
        /// The rule ids of the alerts recorded with the use (a second consignment, a quantity
        /// above the permit, ...): the quantities are reported, and the summary lists them for
        /// the Management Authority to review before submitting.
        alerts: Vec<String>,
    },
}

impl ReportEntry {
    fn id(&self) -> &PermitId {
        match self {
            ReportEntry::Permit { id, .. } | ReportEntry::Use { id, .. } => id,
        }
    }
}

/// The most entries a summary lists by name in each of its lists (the counts are exact).
pub const SUMMARY_LIST_LIMIT: usize = 1000;

/// What a report says about itself: its basis (the Guidelines ask every report to state it),
/// what it holds and what it leaves out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    /// The reporting Party.
    pub reporter: CountryCode,
    /// Its role.
    pub role: ReportRole,
    /// The year reported.
    pub year: i32,
    /// The basis of the quantities.
    pub basis: ReportBasis,
    /// Rows written.
    pub rows: u64,
    /// Permits with at least one row.
    pub permits: u64,
    /// Blocks of permits issued in the year with no use in the year (actual basis): issued but
    /// not (yet) used; `<issuer>/<number> block <letter>`, the first [`SUMMARY_LIST_LIMIT`].
    pub not_used: Vec<String>,
    /// How many such blocks there are.
    pub not_used_count: u64,
    /// Permits of the year cancelled by their issuer, not reported: on the permitted basis
    /// every cancelled permit, on the actual basis those with no use in the year.
    pub cancelled: Vec<String>,
    /// How many there are.
    pub cancelled_count: u64,
    /// Uses of permits that were not on record when the use was recorded (no species, no
    /// quantities to report): `<issuer>/<number>`, the first [`SUMMARY_LIST_LIMIT`].
    pub uses_without_permit: Vec<String>,
    /// How many there are.
    pub uses_without_permit_count: u64,
    /// Reported quantities that include a use recorded with alerts, to review before
    /// submitting: `<issuer>/<number> block <letter>: <rules>`, the first
    /// [`SUMMARY_LIST_LIMIT`].
    pub with_alerts: Vec<String>,
    /// How many there are.
    pub with_alerts_count: u64,
    /// What could not be reported and why: a use of a block the permit does not have, a
    /// block without a quantity (`<issuer>/<number> block <letter>: <reason>`), the first
    /// [`SUMMARY_LIST_LIMIT`].
    pub left_out: Vec<String>,
    /// How many there are.
    pub left_out_count: u64,
    /// Items of the report index that could not be read (left out; the log names them).
    pub unreadable_items: u64,
    /// Rows that fail a primary check (UNEP-WCMC would not accept them).
    pub errors: u64,
    /// Rows with a secondary check's warning.
    pub warnings: u64,
    /// True when the taxon checks ran (a CITES checklist was loaded).
    pub taxon_checks: bool,
}

impl ReportSummary {
    fn new(reporter: CountryCode, role: ReportRole, year: i32, basis: ReportBasis) -> Self {
        ReportSummary {
            reporter,
            role,
            year,
            basis,
            rows: 0,
            permits: 0,
            not_used: Vec::new(),
            not_used_count: 0,
            cancelled: Vec::new(),
            cancelled_count: 0,
            uses_without_permit: Vec::new(),
            uses_without_permit_count: 0,
            with_alerts: Vec::new(),
            with_alerts_count: 0,
            left_out: Vec::new(),
            left_out_count: 0,
            unreadable_items: 0,
            errors: 0,
            warnings: 0,
            taxon_checks: false,
        }
    }
}

fn listed(list: &mut Vec<String>, count: &mut u64, entry: String) {
    *count += 1;
    if list.len() < SUMMARY_LIST_LIMIT {
        list.push(entry);
    }
}

impl std::fmt::Display for ReportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let basis = match self.basis {
            ReportBasis::Actual => match self.role {
                ReportRole::Exporter => {
                    "quantities actually traded: endorsed by customs at export, in the year of the endorsement"
                }
                ReportRole::Importer => {
                    "quantities actually traded: confirmed by customs at import, in the year of the confirmation"
                }
            },
            ReportBasis::Permitted => {
                "quantities permitted: as authorised by the permits, in the year of issue"
            }
        };
        writeln!(
            f,
            "CITES annual report {} of {} as {}: {} row{} from {} permit{}.",
            self.year,
            self.reporter,
            self.role,
            self.rows,
            plural(self.rows),
            self.permits,
            plural(self.permits)
        )?;
        writeln!(f, "Basis: {} ({basis}).", self.basis)?;
        if self.basis == ReportBasis::Actual {
            let not_used = match self.role {
                ReportRole::Exporter => {
                    "Issued in {year} but not (yet) endorsed at export in {year}"
                }
                ReportRole::Importer => "Permits of {year} not (yet) confirmed at import in {year}",
            }
            .replace("{year}", &self.year.to_string());
            writeln!(
                f,
                "{not_used}: {} block{}{}",
                self.not_used_count,
                plural(self.not_used_count),
                if self.not_used_count == 0 { "." } else { ":" }
            )?;
            list(f, &self.not_used, self.not_used_count)?;
        }
        if self.cancelled_count > 0 {
            let which = match self.basis {
                ReportBasis::Actual => format!("with no use in {}", self.year),
                ReportBasis::Permitted => "authorising nothing".to_owned(),
            };
            writeln!(
                f,
                "Cancelled by the issuer, {which}, not reported: {} permit{}:",
                self.cancelled_count,
                plural(self.cancelled_count)
            )?;
            list(f, &self.cancelled, self.cancelled_count)?;
        }
        if self.uses_without_permit_count > 0 {
            writeln!(
                f,
                "Uses of permits not on record (nothing to report them with): {}:",
                self.uses_without_permit_count
            )?;
            list(f, &self.uses_without_permit, self.uses_without_permit_count)?;
        }
        if self.left_out_count > 0 {
            writeln!(
                f,
                "Left out, with the reason (correct the permit or the use, then report again): {}:",
                self.left_out_count
            )?;
            list(f, &self.left_out, self.left_out_count)?;
        }
        if self.unreadable_items > 0 {
            writeln!(
                f,
                "Ledger items that could not be read, left out (the log names them): {}.",
                self.unreadable_items
            )?;
        }
        if self.with_alerts_count > 0 {
            writeln!(
                f,
                "Reported quantities that include a use recorded with alerts (review them before submitting): {}:",
                self.with_alerts_count
            )?;
            list(f, &self.with_alerts, self.with_alerts_count)?;
        }
        writeln!(
            f,
            "UNEP-WCMC's checks: {} row{} with errors (primary checks; not accepted until corrected), {} with warnings (secondary checks){}.",
            self.errors,
            plural(self.errors),
            self.warnings,
            if self.taxon_checks {
                ""
            } else {
                "; the taxon checks did not run (no CITES checklist loaded: ecites species import)"
            }
        )
    }
}

fn list(f: &mut std::fmt::Formatter<'_>, entries: &[String], count: u64) -> std::fmt::Result {
    for entry in entries {
        writeln!(f, "  {entry}")?;
    }
    let more = count.saturating_sub(entries.len() as u64);
    if more > 0 {
        writeln!(f, "  ... and {more} more")?;
    }
    Ok(())
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The permit documents and uses of one permit, gathered while its entries arrive.
#[derive(Default)]
struct Group {
    id: Option<PermitId>,
    /// The latest version (or received document) and its state.
    document: Option<(u32, PermitFacts, DocumentState)>,
    /// A cancellation seen for the permit.
    cancelled: bool,
    uses: Vec<(PermitUse, Option<PermitFacts>, Vec<String>)>,
}

/// Builds the rows of one report from the index's entries: push every entry in the index's
/// order, take the rows each push completes, then [`ReportBuilder::finish`].
pub struct ReportBuilder {
    role: ReportRole,
    basis: ReportBasis,
    year: i32,
    summary: ReportSummary,
    group: Group,
}

impl ReportBuilder {
    /// A builder of the report of `reporter` as `role` for `year` on `basis`.
    pub fn new(reporter: CountryCode, role: ReportRole, year: i32, basis: ReportBasis) -> Self {
        ReportBuilder {
            role,
            basis,
            year,
            summary: ReportSummary::new(reporter, role, year, basis),
            group: Group::default(),
        }
    }

    /// Takes the next entry; returns the rows of the permit before it once its entries are
    /// complete (an entry of another permit).
    pub fn push(&mut self, entry: ReportEntry) -> Vec<ReportRow> {
        let rows = if self.group.id.as_ref() != Some(entry.id()) {
            let done = std::mem::take(&mut self.group);
            self.group.id = Some(entry.id().clone());
            self.rows_of(done)
        } else {
            Vec::new()
        };
        match entry {
            ReportEntry::Permit {
                version,
                facts,
                state,
                ..
            } => {
                if state == DocumentState::Cancelled {
                    self.group.cancelled = true;
                }
                let later = self
                    .group
                    .document
                    .as_ref()
                    .is_none_or(|(v, _, _)| version > *v);
                if later {
                    self.group.document = Some((version, facts, state));
                }
            }
            ReportEntry::Use {
                used,
                facts,
                alerts,
                ..
            } => self.group.uses.push((*used, facts, alerts)),
        }
        rows
    }

    /// The rows of the last permit and the summary (rows, permits and the lists counted; the
    /// caller adds the checks' counts).
    pub fn finish(mut self) -> (Vec<ReportRow>, ReportSummary) {
        let last = std::mem::take(&mut self.group);
        let rows = self.rows_of(last);
        (rows, self.summary)
    }

    fn rows_of(&mut self, group: Group) -> Vec<ReportRow> {
        let Some(id) = group.id.clone() else {
            return Vec::new();
        };
        if id.number.starts_with(crate::model::SMOKE_TEST_PREFIX) {
            // The synthetic permit of `ecites smoke` was traded by nobody.
            listed(
                &mut self.summary.left_out,
                &mut self.summary.left_out_count,
                format!("{id}: a smoke test permit (ecites smoke), never reported"),
            );
            return Vec::new();
        }
        let rows = match self.basis {
            ReportBasis::Permitted => self.permitted(&id, &group),
            ReportBasis::Actual => self.actual(&id, &group),
        };
        if !rows.is_empty() {
            self.summary.permits += 1;
            self.summary.rows += rows.len() as u64;
        }
        rows
    }

    fn permitted(&mut self, id: &PermitId, group: &Group) -> Vec<ReportRow> {
        let Some((_, facts, state)) = &group.document else {
            return Vec::new();
        };
        if group.cancelled || *state == DocumentState::Cancelled {
            listed(
                &mut self.summary.cancelled,
                &mut self.summary.cancelled_count,
                id.to_string(),
            );
            return Vec::new();
        }
        if *state == DocumentState::Replaced {
            // Its current version was issued in another year and is reported there.
            return Vec::new();
        }
        let mut rows = Vec::new();
        for block in &facts.blocks {
            match block.quantity.as_ref() {
                Some(quantity) => rows.push(self.row(
                    id,
                    facts,
                    block,
                    quantity.value,
                    quantity.unit.as_ref().map(|u| u.as_str()),
                )),
                None => listed(
                    &mut self.summary.left_out,
                    &mut self.summary.left_out_count,
                    format!(
                        "{id} block {}: no quantity (box 11) to report",
                        block.id.trim()
                    ),
                ),
            }
        }
        rows
    }

    fn actual(&mut self, id: &PermitId, group: &Group) -> Vec<ReportRow> {
        // Sum per block and unit over the uses of the year, in the order blocks first appear.
        let mut sums: Vec<(String, Option<String>, Decimal, PermitFacts)> = Vec::new();
        // Blocks whose quantity includes a use with alerts, and those alerts.
        let mut alerted: Vec<(String, Vec<String>)> = Vec::new();
        let mut without_facts = false;
        // The permit as it stands now when its current version is filed in this year (a
        // corrected re-issue applies), else as it stood when the use was checked against it.
        let current = group
            .document
            .as_ref()
            .filter(|(_, _, state)| *state != DocumentState::Replaced)
            .map(|(_, facts, _)| facts);
        for (used, facts, alerts) in &group.uses {
            let Some(facts) = current
                .or(facts.as_ref())
                .or(group.document.as_ref().map(|(_, facts, _)| facts))
            else {
                without_facts = true;
                continue;
            };
            for block in &used.blocks {
                let letter = block.block.trim().to_ascii_uppercase();
                if !alerts.is_empty() {
                    match alerted.iter_mut().find(|(b, _)| *b == letter) {
                        Some((_, rules)) => rules.extend(alerts.iter().cloned()),
                        None => alerted.push((letter.clone(), alerts.clone())),
                    }
                }
                let unit = block
                    .quantity
                    .unit
                    .as_ref()
                    .map(|u| u.as_str().trim().to_owned())
                    .filter(|u| !u.is_empty());
                match sums
                    .iter_mut()
                    .find(|(b, u, _, _)| *b == letter && *u == unit)
                {
                    Some((_, _, sum, _)) => *sum += block.quantity.value,
                    None => sums.push((letter, unit, block.quantity.value, facts.clone())),
                }
            }
        }
        if without_facts {
            listed(
                &mut self.summary.uses_without_permit,
                &mut self.summary.uses_without_permit_count,
                id.to_string(),
            );
        }
        let mut rows: Vec<ReportRow> = Vec::new();
        for (letter, unit, sum, facts) in &sums {
            match facts
                .blocks
                .iter()
                .find(|b| b.id.trim().eq_ignore_ascii_case(letter))
            {
                Some(block) => rows.push(self.row(id, facts, block, *sum, unit.as_deref())),
                None => listed(
                    &mut self.summary.left_out,
                    &mut self.summary.left_out_count,
                    format!("{id} block {letter}: used, but the permit has no block {letter}"),
                ),
            }
        }
        for (letter, mut rules) in alerted {
            if rows
                .iter()
                .any(|row| row.block.eq_ignore_ascii_case(&letter))
            {
                rules.sort();
                rules.dedup();
                listed(
                    &mut self.summary.with_alerts,
                    &mut self.summary.with_alerts_count,
                    format!("{id} block {letter}: {}", rules.join(" ")),
                );
            }
        }
        if let Some((_, facts, state)) = &group.document {
            if *state != DocumentState::Replaced {
                if rows.is_empty() && (group.cancelled || *state == DocumentState::Cancelled) {
                    listed(
                        &mut self.summary.cancelled,
                        &mut self.summary.cancelled_count,
                        id.to_string(),
                    );
                } else if !group.cancelled {
                    for block in &facts.blocks {
                        if !sums
                            .iter()
                            .any(|(letter, _, _, _)| block.id.trim().eq_ignore_ascii_case(letter))
                        {
                            listed(
                                &mut self.summary.not_used,
                                &mut self.summary.not_used_count,
                                format!("{id} block {}", block.id.trim()),
                            );
                        }
                    }
                }
            }
        }
        rows
    }

    fn row(
        &self,
        id: &PermitId,
        facts: &PermitFacts,
        block: &BlockFacts,
        quantity: Decimal,
        unit: Option<&str>,
    ) -> ReportRow {
        let text = |value: &Option<String>| value.as_deref().unwrap_or("").trim().to_owned();
        let country = |value: Option<CountryCode>| value.map(|c| c.to_string()).unwrap_or_default();
        let exporter = country(facts.exporter_country);
        let origin = text(&block.origin);
        let import_permit = facts.document_type.as_deref() == Some("I");
        ReportRow {
            appendix: appendix_column(block.appendix.as_deref().unwrap_or("")),
            species_name: text(&block.scientific_name),
            term_code: text(&block.term),
            quantity: quantity.normalize().to_string(),
            unit_code: unit
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .unwrap_or(NUMBER_OF_SPECIMENS)
                .to_owned(),
            trading_partner: match self.role {
                ReportRole::Exporter => country(facts.importer_country),
                ReportRole::Importer => exporter.clone(),
            },
            country_of_origin: if origin.eq_ignore_ascii_case(&exporter) {
                String::new()
            } else {
                origin
            },
            import_permit: if import_permit && self.role == ReportRole::Importer {
                id.number.clone()
            } else {
                String::new()
            },
            export_permit: if import_permit {
                String::new()
            } else {
                id.number.clone()
            },
            origin_permit: text(&block.origin_permit),
            ifs_permit: String::new(),
            purpose_code: text(&facts.purpose),
            source_code: text(&block.source),
            year: self.year.to_string(),
            permit: id.to_string(),
            block: block.id.trim().to_owned(),
        }
    }
}

/// The Appendix as the upload format writes it: `1`, `2`, `3`, or `N`.
fn appendix_column(appendix: &str) -> String {
    match appendix.trim().to_ascii_uppercase().as_str() {
        "I" => "1".into(),
        "II" => "2".into(),
        "III" => "3".into(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Quantity;
    use crate::usage::{UseBlock, UsedPermit};
    use crate::Timestamp;

    fn cc(code: &str) -> CountryCode {
        code.parse().unwrap()
    }

    fn id(number: &str) -> PermitId {
        PermitId {
            issuer: cc("XA"),
            number: number.into(),
        }
    }

    fn facts(document_type: &str, quantity: i64, origin: Option<&str>) -> PermitFacts {
        PermitFacts {
            document_type: Some(document_type.into()),
            exporter_country: Some(cc("XA")),
            importer_country: Some(cc("XB")),
            purpose: Some("T".into()),
            issued_on: NaiveDate::from_ymd_opt(2026, 2, 1),
            blocks: vec![BlockFacts {
                id: "A".into(),
                scientific_name: Some("Python regius".into()),
                term: Some("SKI".into()),
                quantity: Some(Quantity {
                    value: Decimal::from(quantity),
                    unit: None,
                }),
                endorsed: None,
                appendix: Some("II".into()),
                source: Some("W".into()),
                origin: origin.map(str::to_owned),
                origin_permit: origin.map(|_| "GH-2025-77".to_owned()),
            }],
            ..PermitFacts::default()
        }
    }

    fn endorsement(number: &str, day: &str, quantity: i64) -> PermitUse {
        PermitUse {
            kind: UseKind::ExportEndorsement,
            permit: UsedPermit {
                issuer: "XA".into(),
                number: number.into(),
                version: None,
            },
            reported_by: "XA".into(),
            declaration_number: format!("D-{day}"),
            date: Timestamp::Date(day.parse().unwrap()),
            port: None,
            customs_office: None,
            officer: None,
            blocks: vec![UseBlock {
                block: "A".into(),
                quantity: Quantity {
                    value: Decimal::from(quantity),
                    unit: None,
                },
                dead_on_arrival: None,
            }],
            reason: None,
        }
    }

    fn build(basis: ReportBasis, entries: Vec<ReportEntry>) -> (Vec<ReportRow>, ReportSummary) {
        let mut builder = ReportBuilder::new(cc("XA"), ReportRole::Exporter, 2026, basis);
        let mut rows = Vec::new();
        for entry in entries {
            rows.extend(builder.push(entry));
        }
        let (last, summary) = builder.finish();
        rows.extend(last);
        (rows, summary)
    }

    #[test]
    fn two_partial_endorsements_of_a_block_in_the_year_are_one_row_with_their_sum() {
        let (rows, summary) = build(
            ReportBasis::Actual,
            vec![
                ReportEntry::Permit {
                    id: id("P1"),
                    version: 1,
                    facts: facts("E", 10, None),
                    state: DocumentState::Active,
                },
                ReportEntry::Use {
                    id: id("P1"),
                    used: Box::new(endorsement("P1", "2026-03-01", 4)),
                    facts: Some(facts("E", 10, None)),
                    alerts: Vec::new(),
                },
                ReportEntry::Use {
                    id: id("P1"),
                    used: Box::new(endorsement("P1", "2026-04-01", 3)),
                    facts: Some(facts("E", 10, None)),
                    alerts: Vec::new(),
                },
            ],
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].quantity, "7");
        assert_eq!(rows[0].unit_code, NUMBER_OF_SPECIMENS);
        assert_eq!(rows[0].appendix, "2");
        assert_eq!(rows[0].trading_partner, "XB");
        assert_eq!(summary.rows, 1);
        assert_eq!(summary.not_used_count, 0);
    }

    #[test]
    fn a_permit_of_the_year_never_used_is_listed_not_reported_on_the_actual_basis() {
        let (rows, summary) = build(
            ReportBasis::Actual,
            vec![ReportEntry::Permit {
                id: id("P2"),
                version: 1,
                facts: facts("E", 10, None),
                state: DocumentState::Active,
            }],
        );
        assert!(rows.is_empty());
        assert_eq!(summary.not_used, vec!["XA/P2 block A".to_owned()]);
    }

    #[test]
    fn the_permitted_basis_reports_the_latest_version_and_leaves_out_cancelled_permits() {
        let (rows, summary) = build(
            ReportBasis::Permitted,
            vec![
                ReportEntry::Permit {
                    id: id("P3"),
                    version: 1,
                    facts: facts("R", 10, Some("GH")),
                    state: DocumentState::Replaced,
                },
                ReportEntry::Permit {
                    id: id("P3"),
                    version: 2,
                    facts: facts("R", 8, Some("GH")),
                    state: DocumentState::Active,
                },
                ReportEntry::Permit {
                    id: id("P4"),
                    version: 1,
                    facts: facts("E", 5, None),
                    state: DocumentState::Cancelled,
                },
            ],
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].quantity, "8");
        assert_eq!(rows[0].country_of_origin, "GH");
        assert_eq!(rows[0].origin_permit, "GH-2025-77");
        assert_eq!(summary.cancelled, vec!["XA/P4".to_owned()]);
    }

    #[test]
    fn a_smoke_test_permit_is_never_reported_and_is_listed_as_left_out() {
        for basis in [ReportBasis::Permitted, ReportBasis::Actual] {
            let (rows, summary) = build(
                basis,
                vec![
                    ReportEntry::Permit {
                        id: id("SMOKE-20261130T185027-ccba"),
                        version: 1,
                        facts: facts("E", 1, None),
                        state: DocumentState::Active,
                    },
                    ReportEntry::Use {
                        id: id("SMOKE-20261130T185027-ccba"),
                        used: Box::new(endorsement("SMOKE-20261130T185027-ccba", "2026-05-01", 1)),
                        facts: Some(facts("E", 1, None)),
                        alerts: Vec::new(),
                    },
                ],
            );
            assert!(rows.is_empty(), "{basis:?}: {rows:?}");
            assert_eq!(
                summary.left_out,
                ["XA/SMOKE-20261130T185027-ccba: a smoke test permit (ecites smoke), never reported"]
            );
        }
    }

    #[test]
    fn a_use_recorded_with_alerts_is_reported_and_listed_for_review() {
        let (rows, summary) = build(
            ReportBasis::Actual,
            vec![ReportEntry::Use {
                id: id("P5"),
                used: Box::new(endorsement("P5", "2026-05-01", 12)),
                facts: Some(facts("E", 10, None)),
                alerts: vec!["use-quantity-above-permitted".into()],
            }],
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].quantity, "12");
        assert_eq!(
            summary.with_alerts,
            ["XA/P5 block A: use-quantity-above-permitted"]
        );
        assert!(summary
            .to_string()
            .contains("review them before submitting"));
    }

    #[test]
    fn a_use_of_a_block_the_permit_lacks_is_left_out_with_its_reason() {
        let mut used = endorsement("P6", "2026-05-01", 2);
        used.blocks[0].block = "C".into();
        let (rows, summary) = build(
            ReportBasis::Actual,
            vec![ReportEntry::Use {
                id: id("P6"),
                used: Box::new(used),
                facts: Some(facts("E", 10, None)),
                alerts: Vec::new(),
            }],
        );
        assert!(rows.is_empty());
        assert_eq!(
            summary.left_out,
            ["XA/P6 block C: used, but the permit has no block C"]
        );
    }

    #[test]
    fn a_corrected_re_issue_of_the_year_applies_to_the_rows_of_its_earlier_uses() {
        let mut corrected = facts("E", 10, None);
        corrected.blocks[0].scientific_name = Some("Python sebae".into());
        let (rows, _) = build(
            ReportBasis::Actual,
            vec![
                ReportEntry::Permit {
                    id: id("P7"),
                    version: 1,
                    facts: facts("E", 10, None),
                    state: DocumentState::Replaced,
                },
                ReportEntry::Permit {
                    id: id("P7"),
                    version: 2,
                    facts: corrected,
                    state: DocumentState::Active,
                },
                ReportEntry::Use {
                    id: id("P7"),
                    used: Box::new(endorsement("P7", "2026-03-01", 4)),
                    facts: Some(facts("E", 10, None)),
                    alerts: Vec::new(),
                },
            ],
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].species_name, "Python sebae");
        assert_eq!(rows[0].quantity, "4");
    }
}
