//! `ecites sweep`: removes the objects under `received/` that no ledger record names (what a
//! received message stored when its ledger write timed out and was never applied), within a
//! window of age. The rules are `ecites_exchange::sweep`'s; this prints the report.

use std::process::ExitCode;

/// Sweeps with the functions' environment and prints the report; exit status 1 when a permit's
/// records could not be read or an object could not be removed (run it again), 2 when the
/// window, the configuration or the listing fails.
pub async fn run(
    older_than_minutes: u32,
    within_days: u32,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let window = ecites_aws::sweep::window(older_than_minutes, within_days)?;
    let report = ecites_aws::sweep::sweep_from_env(window, dry_run).await?;
    let bucket = std::env::var("ECITES_BUCKET").unwrap_or_default();
    print!("{}", ecites_aws::sweep::render(&report, window, &bucket));
    Ok(if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
