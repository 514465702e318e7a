//! `ecites status <ISSUER> <PERMIT>`: what the delivery ledger knows about a permit (versions,
//! deliveries per recipient with their tracking state and the partner's tracking number,
//! documents received from the issuing partner, rejections, history, and the customs uses with
//! the balance per block), read with the same
//! environment configuration as the Lambda functions (`ECITES_TABLE`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` for the emulator, ...).

use std::process::ExitCode;

/// Prints the permit's status; exit code 1 when the ledger knows nothing about it.
pub async fn run(issuer: &str, permit: &str) -> anyhow::Result<ExitCode> {
    let (id, status, uses) = ecites_aws::status::permit_status(issuer, permit).await?;
    print!("{}", ecites_aws::status::render(&id, &status));
    print!("{uses}");
    Ok(if status.is_empty() && uses.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
