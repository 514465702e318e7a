//! The CITES annual report of a year from the ledger (`ecites report annual` and the scheduled
//! `report` function): the ledger's report index is read page by page, each permit's rows are
//! built ([`ReportBuilder`]), checked as UNEP-WCMC checks an upload ([`check_row`]) and written
//! at once, so memory holds one page and one permit whatever the year's size.

use crate::Error;
use async_trait::async_trait;
use ecites_domain::report::checks::{check_row, CheckContext, CheckLevel, RowFinding};
use ecites_domain::report::{
    columns, ReportBasis, ReportBuilder, ReportEntry, ReportIndexKey, ReportRole, ReportRow,
    ReportSummary,
};
use ecites_domain::Checklist;
use std::io::Write;

/// One page of the report index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportPage {
    /// The entries, in the index's order (each permit's documents, then its uses).
    pub entries: Vec<ReportEntry>,
    /// Where the next page starts; `None` after the last.
    pub next: Option<String>,
    /// Items of the page that could not be read (left out, counted in the summary).
    pub unreadable: u64,
}

/// The ledger's report index ([`ReportIndexKey`] files each permit version, received permit and
/// use under the report it belongs to).
#[async_trait]
pub trait ReportIndex: Send + Sync {
    /// The page of entries filed under `key` that starts at `start` (`None`: the first).
    async fn report_page(
        &self,
        key: &ReportIndexKey,
        start: Option<String>,
    ) -> Result<ReportPage, Error>;
}

/// How the rows are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowFormat {
    /// The upload format: CSV with the header row of [`columns`].
    Csv,
    /// For machines: one JSON document `{"rows": [...], "findings": [...], "summary": {...}}`
    /// whose rows have the CSV's column names as keys.
    Json,
}

/// What went wrong writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The ledger could not be read.
    #[error("the ledger cannot be read: {0}")]
    Ledger(#[from] Error),
    /// The output could not be written.
    #[error("the report cannot be written: {0}")]
    Write(#[from] std::io::Error),
}

/// Writes the report filed under `key` on `basis` to `out` in `format`; every finding of the
/// checks goes to `on_finding` as it is found (rows with errors are written too). Returns the
/// summary, with the checks' counts.
pub async fn write_report(
    index: &dyn ReportIndex,
    key: &ReportIndexKey,
    basis: ReportBasis,
    checklist: Option<&Checklist>,
    format: RowFormat,
    out: &mut dyn Write,
    on_finding: &mut dyn FnMut(&RowFinding),
) -> Result<ReportSummary, ReportError> {
    let context = CheckContext {
        role: key.role,
        reporter: key.reporter,
        checklist,
    };
    let mut sink = RowSink::new(format, key, out)?;
    let mut builder = ReportBuilder::new(key.reporter, key.role, key.year, basis);
    let (mut errors, mut warnings) = (0, 0);
    let mut check_and_write = |row: &ReportRow, sink: &mut RowSink<'_>| {
        let findings = check_row(row, &context);
        if findings.iter().any(|f| f.level == CheckLevel::Primary) {
            errors += 1;
        } else if !findings.is_empty() {
            warnings += 1;
        }
        for finding in &findings {
            on_finding(finding);
        }
        sink.row(row, findings)
    };
    let mut start = None;
    let mut unreadable = 0;
    loop {
        let page = index.report_page(key, start.take()).await?;
        unreadable += page.unreadable;
        for entry in page.entries {
            for row in builder.push(entry) {
                check_and_write(&row, &mut sink)?;
            }
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    let (rows, mut summary) = builder.finish();
    for row in rows {
        check_and_write(&row, &mut sink)?;
    }
    summary.errors = errors;
    summary.warnings = warnings;
    summary.taxon_checks = checklist.is_some();
    summary.unreadable_items = unreadable;
    sink.finish(&summary)?;
    Ok(summary)
}

/// Writes rows as they come, in one of the two formats.
enum RowSink<'a> {
    /// The upload format.
    Csv {
        /// Boxed: the writer holds its buffer inline.
        writer: Box<csv::Writer<&'a mut dyn Write>>,
        role: ReportRole,
    },
    /// One JSON document; the findings are written after the rows.
    Json {
        out: &'a mut dyn Write,
        role: ReportRole,
        rows: u64,
        findings: Vec<RowFinding>,
    },
}

impl<'a> RowSink<'a> {
    /// Starts the output: the CSV header row, or the opening of the JSON document.
    fn new(
        format: RowFormat,
        key: &ReportIndexKey,
        out: &'a mut dyn Write,
    ) -> Result<Self, ReportError> {
        let role = key.role;
        Ok(match format {
            RowFormat::Csv => {
                let mut writer = csv::Writer::from_writer(out);
                writer.write_record(columns(role)).map_err(csv_error)?;
                RowSink::Csv {
                    writer: Box::new(writer),
                    role,
                }
            }
            RowFormat::Json => {
                out.write_all(b"{\"rows\":[")?;
                RowSink::Json {
                    out,
                    role,
                    rows: 0,
                    findings: Vec::new(),
                }
            }
        })
    }

    /// Writes one row; its `findings` are kept for the JSON document.
    fn row(&mut self, row: &ReportRow, findings: Vec<RowFinding>) -> Result<(), ReportError> {
        match self {
            RowSink::Csv { writer, role } => {
                writer.write_record(row.values(*role)).map_err(csv_error)?;
            }
            RowSink::Json {
                out,
                role,
                rows,
                findings: kept,
            } => {
                let object: serde_json::Map<String, serde_json::Value> = columns(*role)
                    .iter()
                    .zip(row.values(*role))
                    .map(|(name, value)| ((*name).to_owned(), value.into()))
                    .collect();
                if *rows > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut **out, &object).map_err(std::io::Error::from)?;
                *rows += 1;
                kept.extend(findings);
            }
        }
        Ok(())
    }

    /// Ends the output: flushes the CSV, or writes the findings and the summary and closes the
    /// JSON document.
    fn finish(self, summary: &ReportSummary) -> Result<(), ReportError> {
        match self {
            RowSink::Csv { mut writer, .. } => writer.flush()?,
            RowSink::Json { out, findings, .. } => {
                out.write_all(b"],\"findings\":")?;
                serde_json::to_writer(&mut *out, &findings).map_err(std::io::Error::from)?;
                out.write_all(b",\"summary\":")?;
                serde_json::to_writer(&mut *out, summary).map_err(std::io::Error::from)?;
                out.write_all(b"}\n")?;
                out.flush()?;
            }
        }
        Ok(())
    }
}

fn csv_error(error: csv::Error) -> ReportError {
    ReportError::Write(std::io::Error::other(error))
}

/// The keys under which the year-to-date draft of `key`'s report (actual basis) and its summary
/// are kept in the bucket: `reports/annual/<year>/<role>.csv` and
/// `reports/annual/<year>/<role>.summary.txt`.
pub fn draft_keys(key: &ReportIndexKey) -> (String, String) {
    let folder = format!("reports/annual/{}/{}", key.year, key.role);
    (format!("{folder}.csv"), format!("{folder}.summary.txt"))
}
