//! `ecites replay [--limit N]`: after a partner outage, puts the deliveries that ended on the
//! deliveries DLQ back on the deliveries queue. Each FAILED delivery is reopened (PENDING, with
//! an audit row) before its message is re-sent, so the forward function delivers it again;
//! messages whose delivery succeeded meanwhile are removed. Configured like the functions
//! (`ECITES_TABLE`, `ECITES_DELIVERIES_QUEUE_URL`, `AWS_*`) plus `ECITES_DELIVERIES_DLQ_URL`.
//!
//! `ecites replay --no-partner XC [--limit N]`: after XC has been added to the partner
//! directory, sends the deliveries recorded NO_PARTNER for XC (reopened to PENDING first).

use std::process::ExitCode;

/// Replays up to `limit` DLQ messages and prints what was done; exit code 1 when some DLQ
/// messages were not delivery messages (left on the DLQ for a person to look at).
pub async fn run(limit: usize) -> anyhow::Result<ExitCode> {
    let config = ecites_aws::Config::from_env()?;
    let dlq_url = std::env::var("ECITES_DELIVERIES_DLQ_URL")
        .map_err(|_| anyhow::anyhow!("ECITES_DELIVERIES_DLQ_URL is not set"))?;
    let clients = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default())
        .await
        .clients();
    let store = ecites_aws::DynamoLedger::new(
        clients.dynamodb.clone(),
        &config.table,
        std::sync::Arc::new(ecites_exchange::SystemClock),
    );
    let report = ecites_aws::replay::replay_dlq(
        &clients.sqs,
        &store,
        &dlq_url,
        &config.deliveries_queue_url,
        limit,
    )
    .await?;
    println!("{report}");
    Ok(if report.unreadable == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Queues up to `limit` NO_PARTNER deliveries to `country` and prints what was done; exit 1
/// when `country` is still missing from (or inactive in) the partner directory, so nothing is
/// sent only to fail again.
pub async fn run_no_partner(country: &str, limit: usize) -> anyhow::Result<ExitCode> {
    let recipient: ecites_domain::CountryCode =
        country.trim().to_ascii_uppercase().parse().map_err(|_| {
            anyhow::anyhow!("--no-partner {country:?} is not an ISO 3166-1 alpha-2 code")
        })?;
    let config = ecites_aws::Config::from_env()?;
    let clients = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default())
        .await
        .clients();
    let directory =
        ecites_aws::s3::read_directory(&clients.s3, &config.bucket, &config.partners_key).await?;
    if !directory.get(recipient).is_some_and(|p| p.active) {
        println!(
            "{recipient} is not an active partner in s3://{}/{}: add it first (ecites partners add)",
            config.bucket, config.partners_key
        );
        return Ok(ExitCode::FAILURE);
    }
    let store = ecites_aws::DynamoLedger::new(
        clients.dynamodb.clone(),
        &config.table,
        std::sync::Arc::new(ecites_exchange::SystemClock),
    );
    let report = ecites_aws::replay::requeue_no_partner(
        &clients.sqs,
        &store,
        &config.bucket,
        &config.deliveries_queue_url,
        recipient,
        limit,
    )
    .await?;
    println!(
        "queued {} deliveries to {recipient} that waited for a partner; {} were reopened by someone else meanwhile",
        report.requeued, report.discarded
    );
    Ok(ExitCode::SUCCESS)
}
