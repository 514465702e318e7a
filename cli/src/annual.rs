//! `ecites report annual --year YYYY --as exporter|importer`: the deployment's CITES annual
//! report of a year, from the ledger, in the upload format UNEP-WCMC's tools accept
//! ([`ecites_exchange::report`]), read with the functions' environment as `ecites status` is.
//!
//! The rows go to standard output (CSV, or one JSON document with `--format json`); the checks'
//! findings (errors and warnings) and the summary (with the basis) to standard error.

use ecites_domain::report::{ReportBasis, ReportRole};
use ecites_exchange::report::RowFormat;
use std::io::Write;
use std::process::ExitCode;

/// Whose report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// The exporter's report: our export permits and re-export certificates.
    Exporter,
    /// The importer's report: import confirmations of foreign permits and our import permits.
    Importer,
}

/// Which quantities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Basis {
    /// Quantities actually traded (endorsed at export, confirmed at import), in the year of
    /// the use: what the Guidelines recommend.
    Actual,
    /// Quantities authorised by the permits, in the year of issue.
    Permitted,
}

/// How the rows are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The CSV upload format.
    Csv,
    /// One JSON document: rows (keyed by column name), findings and summary.
    Json,
}

/// The `report` subcommands.
#[derive(clap::Subcommand)]
pub enum ReportCommand {
    /// The CITES annual report of a year: one row per permit block, in the upload format of
    /// UNEP-WCMC's tools (columns Appendix, SpeciesName, TermCode, Quantity, UnitCode,
    /// TradingPartner, CountryOfOrigin, ImportPermit (importer only), ExportPermit,
    /// OriginPermit, IFSPermit, PurposeCode, SourceCode, Year), checked as UNEP-WCMC checks an
    /// upload.
    ///
    /// Reads the same environment as the Lambda functions (ECITES_COUNTRY, ECITES_TABLE,
    /// ECITES_BUCKET, AWS_REGION, and AWS_ENDPOINT_URL for the local emulator). Rows on
    /// standard output; findings on standard error, and with CSV the summary (which states the
    /// basis) after them. Exit status: 0 clean (warnings allowed), 1 some row fails a primary
    /// check (rows still written), 2 the report could not be made (ledger, checklist or
    /// environment; discard what was written). docs/annual-report.md explains the report.
    Annual {
        /// The year (four digits).
        #[arg(long, value_parser = clap::value_parser!(i32).range(1975..=9999))]
        year: i32,
        /// Whose report.
        #[arg(long = "as", value_enum)]
        role: Role,
        /// Which quantities.
        #[arg(long, value_enum, default_value_t = Basis::Actual)]
        basis: Basis,
        /// How the rows are written.
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
    },
}

/// Runs a `report` subcommand.
pub async fn run(command: ReportCommand) -> anyhow::Result<ExitCode> {
    let ReportCommand::Annual {
        year,
        role,
        basis,
        format,
    } = command;
    let role = match role {
        Role::Exporter => ReportRole::Exporter,
        Role::Importer => ReportRole::Importer,
    };
    let basis = match basis {
        Basis::Actual => ReportBasis::Actual,
        Basis::Permitted => ReportBasis::Permitted,
    };
    let format = match format {
        Format::Csv => RowFormat::Csv,
        Format::Json => RowFormat::Json,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let stderr = std::io::stderr();
    let summary = ecites_aws::report::annual_report_from_env(
        year,
        role,
        basis,
        format,
        &mut out,
        &mut |finding| {
            let _ = writeln!(stderr.lock(), "{finding}");
        },
    )
    .await?;
    out.flush()?;
    drop(out);
    if format == RowFormat::Csv {
        eprint!("{summary}");
    }
    // `errors` counts the rows that fail a primary check.
    Ok(if summary.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
