//! The `ecites status <ISSUER> <PERMIT>` query: versions, deliveries (with the partners'
//! tracking numbers), documents received from the issuing partner, and history of a permit.

use crate::{AwsConfig, ClientOptions, Config, DynamoLedger};
use ecites_domain::PermitId;
use ecites_exchange::{render_status, Ledger, PermitStatus, SystemClock};
use std::sync::Arc;

/// Why the status could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The issuer is not a country code.
    #[error("{0:?} is not an ISO 3166-1 alpha-2 country code")]
    BadIssuer(String),
    /// The configuration is incomplete.
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] ecites_exchange::Error),
}

/// Reads a permit's status with the same environment configuration as the functions.
pub async fn permit_status(
    issuer: &str,
    number: &str,
) -> Result<(PermitId, PermitStatus), StatusError> {
    let config = Config::from_env()?;
    let aws = AwsConfig::load(ClientOptions::default()).await;
    let ledger = DynamoLedger::new(aws.dynamodb(), &config.table, Arc::new(SystemClock));
    permit_status_in(&ledger, issuer, number).await
}

/// Reads a permit's status from a ledger.
pub async fn permit_status_in(
    ledger: &dyn Ledger,
    issuer: &str,
    number: &str,
) -> Result<(PermitId, PermitStatus), StatusError> {
    let issuer = issuer
        .trim()
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| StatusError::BadIssuer(issuer.to_owned()))?;
    let id = PermitId {
        issuer,
        number: number.trim().to_owned(),
    };
    let status = ledger.status(&id).await?;
    Ok((id, status))
}

/// The status as text for people.
pub fn render(id: &PermitId, status: &PermitStatus) -> String {
    if status.is_empty() {
        return format!("permit {id}: not found in the ledger\n");
    }
    render_status(id, status)
}
