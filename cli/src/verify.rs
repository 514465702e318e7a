//! `ecites verify ISSUER NUMBER`: what customs needs before clearing a shipment, from the
//! ledger: known or not, from whom and when, status, validity, the blocks with their balance,
//! the uses so far, and the findings the declared quantities would raise
//! ([`ecites_domain::usage::verify`]).

use crate::ReportFormat;
use anyhow::Context as _;
use ecites_domain::usage::Border;
use rust_decimal::Decimal;
use std::process::ExitCode;

/// Where the shipment is cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum At {
    /// At export (box 14 endorsement).
    Export,
    /// At import.
    Import,
}

/// Reads `A=5` (block letter, quantity in the permit's unit).
pub fn parse_block(text: &str) -> Result<(String, Decimal), String> {
    let (block, quantity) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: give a block and a quantity, e.g. A=5"))?;
    let quantity: Decimal = quantity
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: {quantity:?} is not a number"))?;
    if block.trim().is_empty() {
        return Err(format!("{text:?}: the block letter is missing"));
    }
    Ok((block.trim().to_owned(), quantity))
}

/// Prints the verification; exit 0 usable, 1 not usable (an error finding), 2 (through the
/// caller) the ledger cannot be read.
pub async fn run(
    issuer: &str,
    number: &str,
    at: At,
    on: Option<String>,
    blocks: Vec<(String, Decimal)>,
    format: ReportFormat,
) -> anyhow::Result<ExitCode> {
    let on = match on {
        Some(text) => text
            .parse()
            .with_context(|| format!("--on {text:?} is not a date (YYYY-MM-DD)"))?,
        None => chrono::Utc::now().date_naive(),
    };
    let border = match at {
        At::Export => Border::Export,
        At::Import => Border::Import,
    };
    let answer = ecites_aws::status::verify(issuer, number, border, on, blocks).await?;
    match format {
        ReportFormat::Human => print!("{answer}"),
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        ),
    }
    Ok(if answer.usable {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
