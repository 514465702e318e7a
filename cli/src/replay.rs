//! `ecites replay [--limit N]`: after a partner outage, puts the deliveries that ended on the
//! deliveries DLQ back on the deliveries queue. Each FAILED delivery is reopened (PENDING, with
//! an audit row) before its message is re-sent, so the forward function delivers it again;
//! messages whose delivery succeeded meanwhile are removed. Configured like the functions
//! (`ECITES_TABLE`, `ECITES_DELIVERIES_QUEUE_URL`, `AWS_*`) plus `ECITES_DELIVERIES_DLQ_URL`.

use std::process::ExitCode;

/// Replays up to `limit` DLQ messages and prints what was done; exit code 1 when some DLQ
/// messages were not delivery messages (left on the DLQ for a person to look at).
pub async fn run(limit: usize) -> anyhow::Result<ExitCode> {
    let config = ecites_aws::Config::from_env()?;
    let dlq_url = std::env::var("ECITES_DELIVERIES_DLQ_URL")
        .map_err(|_| anyhow::anyhow!("ECITES_DELIVERIES_DLQ_URL is not set"))?;
    let clients =
        ecites_aws::Clients::from_config(&config, &ecites_aws::ClientOptions::default()).await;
    let store = ecites_aws::DynamoExchangeStore::new(clients.dynamodb.clone(), &config.table);
    let report = ecites_aws::replay::replay_dlq(
        &clients.sqs,
        &store,
        &dlq_url,
        &config.deliveries_queue_url,
        limit,
    )
    .await?;
    println!(
        "replayed {} deliveries; removed {} that need nothing; {} unreadable left on the DLQ",
        report.requeued, report.discarded, report.unreadable
    );
    Ok(if report.unreadable == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
