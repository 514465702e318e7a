//! The CITES annual report of a year from the ledger (`ecites report annual` and the scheduled
//! `report` function): the ledger's report index is read page by page, each permit's rows are
//! built ([`ReportBuilder`]), checked as UNEP-WCMC checks an upload ([`check_row`]) and written
//! at once, so memory holds one page and one permit whatever the year's size.

use crate::Error;
use async_trait::async_trait;
use ecites_domain::report::checks::{check_row, CheckContext, CheckLevel, RowFinding};
use ecites_domain::report::{
    columns, ReportBasis, ReportBuilder, ReportEntry, ReportIndexKey, ReportRow, ReportSummary,
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
    let mut counts = Counts::default();
    let mut start = None;
    let mut unreadable = 0;
    loop {
        let page = index.report_page(key, start.take()).await?;
        unreadable += page.unreadable;
        for entry in page.entries {
            for row in builder.push(entry) {
                sink.row(&row, &context, &mut counts, on_finding)?;
            }
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    let (rows, mut summary) = builder.finish();
    for row in rows {
        sink.row(&row, &context, &mut counts, on_finding)?;
    }
    summary.errors = counts.errors;
    summary.warnings = counts.warnings;
    summary.taxon_checks = checklist.is_some();
    summary.unreadable_items = unreadable;
    sink.finish(&summary)?;
    Ok(summary)
}

#[derive(Default)]
struct Counts {
    errors: u64,
    warnings: u64,
}

/// Writes rows as they come.
struct RowSink<'a> {
    format: RowFormat,
    role: ecites_domain::report::ReportRole,
    csv: Option<csv::Writer<&'a mut dyn Write>>,
    json: Option<&'a mut dyn Write>,
    rows: u64,
    /// JSON: the findings, written after the rows.
    findings: Vec<RowFinding>,
}

impl<'a> RowSink<'a> {
    fn new(
        format: RowFormat,
        key: &ReportIndexKey,
        out: &'a mut dyn Write,
    ) -> Result<Self, ReportError> {
        let mut sink = RowSink {
            format,
            role: key.role,
            csv: None,
            json: None,
            rows: 0,
            findings: Vec::new(),
        };
        match format {
            RowFormat::Csv => {
                let mut writer = csv::Writer::from_writer(out);
                writer.write_record(columns(key.role)).map_err(csv_error)?;
                sink.csv = Some(writer);
            }
            RowFormat::Json => {
                out.write_all(b"{\"rows\":[")?;
                sink.json = Some(out);
            }
        }
        Ok(sink)
    }

    fn row(
        &mut self,
        row: &ReportRow,
        context: &CheckContext<'_>,
        counts: &mut Counts,
        on_finding: &mut dyn FnMut(&RowFinding),
    ) -> Result<(), ReportError> {
        let findings = check_row(row, context);
        if findings.iter().any(|f| f.level == CheckLevel::Primary) {
            counts.errors += 1;
        } else if !findings.is_empty() {
            counts.warnings += 1;
        }
        for finding in &findings {
            on_finding(finding);
        }
        let values = row.values(self.role);
        match self.format {
            RowFormat::Csv => {
                if let Some(writer) = self.csv.as_mut() {
                    writer.write_record(&values).map_err(csv_error)?;
                }
            }
            RowFormat::Json => {
                if let Some(out) = self.json.as_mut() {
                    let object: serde_json::Map<String, serde_json::Value> = columns(self.role)
                        .iter()
                        .zip(values)
                        .map(|(name, value)| ((*name).to_owned(), value.into()))
                        .collect();
                    if self.rows > 0 {
                        out.write_all(b",")?;
                    }
                    serde_json::to_writer(&mut **out, &object).map_err(std::io::Error::from)?;
                }
                self.findings.extend(findings);
            }
        }
        self.rows += 1;
        Ok(())
    }

    fn finish(self, summary: &ReportSummary) -> Result<(), ReportError> {
        if let Some(mut writer) = self.csv {
            writer.flush()?;
        }
        if let Some(out) = self.json {
            out.write_all(b"],\"findings\":")?;
            serde_json::to_writer(&mut *out, &self.findings).map_err(std::io::Error::from)?;
            out.write_all(b",\"summary\":")?;
            serde_json::to_writer(&mut *out, summary).map_err(std::io::Error::from)?;
            out.write_all(b"}\n")?;
            out.flush()?;
        }
        Ok(())
    }
}

fn csv_error(error: csv::Error) -> ReportError {
    ReportError::Write(std::io::Error::other(error))
}

/// The key under which the report of `key` on `basis` is kept in the bucket:
/// `reports/annual/<year>/<role>.csv` (the actual basis, the default) or
/// `reports/annual/<year>/<role>-permitted.csv`; the summary beside it with `.summary.txt`.
pub fn report_object_key(key: &ReportIndexKey, basis: ReportBasis) -> String {
    match basis {
        ReportBasis::Actual => format!("reports/annual/{}/{}.csv", key.year, key.role),
        ReportBasis::Permitted => {
            format!("reports/annual/{}/{}-permitted.csv", key.year, key.role)
        }
    }
}
