//! `ecites species import FILE`: checks a CITES checklist (the Species+ "Index of CITES Species"
//! CSV export, or its compact form) and writes the compact form where the functions read it,
//! `s3://$ECITES_BUCKET/config/species.json` (docs/species.md), or to a file (`--out`).
//! `--species FILE` of `validate` and `convert` reads the same files ([`load`]).

use anyhow::Context;
use ecites_domain::{Appendix, Checklist};
use ecites_exchange::keys::SPECIES_CHECKLIST_KEY;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The `species` subcommands (embed with `#[command(subcommand)]`).
#[derive(Debug, clap::Subcommand)]
pub enum SpeciesCommand {
    /// Checks a checklist export and loads it into the deployment (or writes it with --out).
    Import {
        /// The Species+ export (`Index_of_CITES_Species_<date> <time>.csv`) or a compact form.
        file: PathBuf,
        /// Check and summarise only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write the compact form to this file instead of the deployment's bucket.
        #[arg(long, conflicts_with = "dry_run")]
        out: Option<PathBuf>,
        /// The export's date (YYYY-MM-DD), when its file name does not give it.
        #[arg(long)]
        date: Option<String>,
    },
}

/// Reads a checklist file: the export's CSV (dated by its file name, else `date`, else
/// "undated") or the compact form.
pub fn load(path: &Path, date: Option<&str>) -> anyhow::Result<Checklist> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Checklist::load(&bytes, &path.to_string_lossy(), date.unwrap_or("undated"))
        .with_context(|| format!("{} is not a usable CITES checklist", path.display()))
}

/// Runs a `species` subcommand.
pub async fn run(command: SpeciesCommand) -> anyhow::Result<ExitCode> {
    let SpeciesCommand::Import {
        file,
        dry_run,
        out,
        date,
    } = command;
    if let Some(date) = &date {
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .with_context(|| format!("--date {date:?} is not YYYY-MM-DD"))?;
    }
    let checklist = load(&file, date.as_deref())?;
    print_summary(&checklist);
    let compact = checklist.to_compact();
    if dry_run {
        println!("dry run: nothing written");
    } else if let Some(out) = out {
        std::fs::write(&out, &compact).with_context(|| format!("writing {}", out.display()))?;
        println!(
            "compact form ({} bytes) written to {}",
            compact.len(),
            out.display()
        );
    } else {
        let config = ecites_aws::Config::exchange_from_env()?;
        let clients = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default())
            .await
            .clients();
        clients
            .s3
            .put_object()
            .bucket(&config.bucket)
            .key(SPECIES_CHECKLIST_KEY)
            .content_type("application/json")
            .body(compact.clone().into())
            .send()
            .await
            .with_context(|| format!("writing s3://{}/{SPECIES_CHECKLIST_KEY}", config.bucket))?;
        println!(
            "compact form ({} bytes) written to s3://{}/{SPECIES_CHECKLIST_KEY}: the functions use it within 5 minutes",
            compact.len(),
            config.bucket
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(checklist: &Checklist) {
    println!(
        "CITES checklist of {}: {} taxa, {} names (accepted names and synonyms)",
        checklist.date,
        checklist.len(),
        checklist.names()
    );
    let count = |appendix: Appendix| {
        checklist
            .taxa()
            .iter()
            .filter(|t| t.appendices.contains(&appendix))
            .count()
    };
    let not_listed = checklist.taxa().iter().filter(|t| t.not_listed).count();
    println!("| listing | taxa |");
    println!("|---|---|");
    println!("| Appendix I | {} |", count(Appendix::I));
    println!("| Appendix II | {} |", count(Appendix::II));
    println!("| Appendix III | {} |", count(Appendix::III));
    println!("| not listed (NC), some populations or all | {not_listed} |");
}
