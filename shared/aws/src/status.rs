//! The `ecites status <ISSUER> <PERMIT>` query: versions, deliveries (with the partners'
//! tracking numbers), documents received from the issuing partner, and history of a permit.

use crate::{AwsConfig, ClientOptions, Config, DynamoLedger};
use ecites_domain::PermitId;
use ecites_exchange::{render_status, Ledger, PermitStatus, SystemClock};
use std::time::Duration;

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

/// Reads a permit's status with the same environment configuration as the functions, and its
/// customs uses with the balance ([`render_uses`], "" when none).
pub async fn permit_status(
    issuer: &str,
    number: &str,
) -> Result<(PermitId, PermitStatus, String), StatusError> {
    let config = Config::exchange_from_env()?;
    let aws = AwsConfig::load(ClientOptions::default()).await;
    let ledger = DynamoLedger::on_table(aws.dynamodb(), &config.table);
    let (id, status) = permit_status_in(&ledger, issuer, number).await?;
    let uses = render_uses(&ledger, &id).await?;
    Ok((id, status, uses))
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

/// The customs uses of a permit and its balance, as `ecites status` shows them after the
/// delivery ledger ("" when the permit has none).
pub async fn render_uses(ledger: &DynamoLedger, id: &PermitId) -> Result<String, StatusError> {
    use ecites_exchange::usage::UseLedger as _;
    let on_ledger = ledger.permit_uses(id).await?;
    if on_ledger.uses.is_empty() {
        return Ok(String::new());
    }
    let uses: Vec<_> = on_ledger.uses.iter().map(|u| u.on_record.clone()).collect();
    let balance = on_ledger
        .record
        .as_ref()
        .map(|record| ecites_domain::usage::balance(&record.facts, &uses))
        .unwrap_or_default();
    Ok(format!(
        "customs uses and balance:\n{}",
        ecites_domain::usage::render_balance_and_uses(&balance, &uses)
    ))
}

/// Answers `ecites verify`: the permit on record, its balance and uses, and the findings the
/// shipment would raise, read in one query with the functions' environment (the asking
/// country is the deployment's, `ECITES_COUNTRY`).
pub async fn verify(
    issuer: &str,
    number: &str,
    at: ecites_domain::usage::Border,
    on: chrono::NaiveDate,
    declared: Vec<(String, rust_decimal::Decimal)>,
) -> Result<ecites_domain::usage::Verification, StatusError> {
    let config = Config::exchange_from_env()?;
    let aws = AwsConfig::load(ClientOptions::default()).await;
    let ledger = DynamoLedger::on_table(aws.dynamodb(), &config.table);
    let issuer = issuer
        .trim()
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| StatusError::BadIssuer(issuer.to_owned()))?;
    let request = ecites_domain::usage::VerifyRequest {
        id: PermitId {
            issuer,
            number: number.trim().to_owned(),
        },
        at,
        by: config.country,
        on,
        declared,
    };
    // The listing tier at the border, with the deployment's checklist when one is loaded.
    let species = crate::S3SpeciesChecklist::for_deployment(
        aws.s3(),
        &config.bucket,
        Duration::from_secs(60),
    );
    let checklist = ecites_exchange::SpeciesChecklist::checklist(&species).await?;
    Ok(ecites_exchange::usage::verify_permit_listed(
        ecites_exchange::usage::UseServices {
            ledger: &ledger,
            clock: &SystemClock,
            own_country: config.country,
        },
        &request,
        checklist.as_deref(),
    )
    .await?)
}
