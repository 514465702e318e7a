//! CITES annual reports from the ledger on DynamoDB ([`ecites_exchange::report`]): for the CLI
//! (`ecites report annual`, with the functions' environment) and for the scheduled `report`
//! function, which keeps the year-to-date drafts in the bucket
//! (`reports/annual/<year>/{exporter,importer}.csv` and `.summary.txt` beside each).

use crate::{AwsConfig, ClientOptions, Config, DynamoLedger, S3SpeciesChecklist};
use aws_sdk_s3::primitives::ByteStream;
use ecites_domain::report::checks::RowFinding;
use ecites_domain::report::{ReportBasis, ReportIndexKey, ReportRole, ReportSummary};
use ecites_domain::Checklist;
use ecites_exchange::report::{draft_keys, write_report, ReportError, RowFormat};
use ecites_exchange::{Error, SpeciesChecklist};
use std::io::Write;
use std::time::Duration;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AnnualReportError {
    /// The configuration is incomplete.
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
    /// The ledger or the bucket could not be read, or the output written.
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl From<Error> for AnnualReportError {
    fn from(error: Error) -> Self {
        AnnualReportError::Report(ReportError::Ledger(error))
    }
}

/// Writes the deployment's (`ECITES_COUNTRY`) report of `year` as `role` on `basis` to `out`,
/// reading the ledger with the functions' environment; findings go to `on_finding`.
pub async fn annual_report_from_env(
    year: i32,
    role: ReportRole,
    basis: ReportBasis,
    format: RowFormat,
    out: &mut dyn Write,
    on_finding: &mut dyn FnMut(&RowFinding),
) -> Result<ReportSummary, AnnualReportError> {
    let config = Config::exchange_from_env()?;
    let aws = AwsConfig::load(ClientOptions::default()).await;
    let ledger = DynamoLedger::on_table(aws.dynamodb(), &config.table);
    // The deployment's checklist, when one is loaded: the taxon checks run with it.
    let checklist =
        S3SpeciesChecklist::for_deployment(aws.s3(), &config.bucket, Duration::from_secs(60))
            .checklist()
            .await?;
    let key = ReportIndexKey {
        reporter: config.country,
        role,
        year,
    };
    Ok(write_report(
        &ledger,
        &key,
        basis,
        checklist.as_deref(),
        format,
        out,
        on_finding,
    )
    .await?)
}

/// One draft kept in the bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedReport {
    /// The report's CSV object key.
    pub key: String,
    /// Its summary's object key.
    pub summary_key: String,
    /// What it holds.
    pub summary: ReportSummary,
}

/// The most findings a published summary lists (the counts are exact).
const PUBLISHED_FINDINGS: usize = 1000;

/// Writes the year-to-date drafts of the report of `reporter` for `year`, both roles on the
/// actual basis, to `s3://bucket/reports/annual/<year>/<role>.csv` with the summary (and the
/// checks' findings) in `<role>.summary.txt`. The CSV is written to a temporary file and
/// uploaded from it, so memory stays flat whatever the year's size.
pub async fn publish_drafts(
    ledger: &DynamoLedger,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    reporter: ecites_domain::CountryCode,
    year: i32,
    checklist: Option<&Checklist>,
) -> Result<Vec<PublishedReport>, AnnualReportError> {
    let mut published = Vec::new();
    for role in [ReportRole::Exporter, ReportRole::Importer] {
        let key = ReportIndexKey {
            reporter,
            role,
            year,
        };
        let mut file = tempfile::NamedTempFile::new().map_err(ReportError::Write)?;
        let mut findings = Vec::new();
        let mut finding_count = 0usize;
        let summary = {
            let mut out = std::io::BufWriter::new(&mut file);
            let summary = write_report(
                ledger,
                &key,
                ReportBasis::Actual,
                checklist,
                RowFormat::Csv,
                &mut out,
                &mut |finding| {
                    finding_count += 1;
                    if findings.len() < PUBLISHED_FINDINGS {
                        findings.push(finding.to_string());
                    }
                },
            )
            .await?;
            out.flush().map_err(ReportError::Write)?;
            summary
        };
        let (object_key, summary_key) = draft_keys(&key);
        let mut text = summary.to_string();
        if finding_count > 0 {
            text.push_str("\nFindings:\n");
            for finding in &findings {
                text.push_str("  ");
                text.push_str(finding);
                text.push('\n');
            }
            if finding_count > findings.len() {
                text.push_str(&format!(
                    "  ... and {} more\n",
                    finding_count - findings.len()
                ));
            }
        }
        let body = ByteStream::read_from()
            .path(file.path())
            .build()
            .await
            .map_err(|e| Error::permanent("s3:PutObject", e))?;
        put(s3, bucket, &object_key, body, "text/csv; charset=utf-8").await?;
        put(
            s3,
            bucket,
            &summary_key,
            ByteStream::from(text.into_bytes()),
            "text/plain; charset=utf-8",
        )
        .await?;
        tracing::info!(
            key = %object_key,
            rows = summary.rows,
            errors = summary.errors,
            warnings = summary.warnings,
            "annual report draft written"
        );
        published.push(PublishedReport {
            key: object_key,
            summary_key,
            summary,
        });
    }
    Ok(published)
}

async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: ByteStream,
    content_type: &str,
) -> Result<(), Error> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(body)
        .send()
        .await
        .map_err(|e| crate::classify("s3:PutObject", e))?;
    Ok(())
}
