//! `ecites replay [--limit N]`: after a partner outage, puts the deliveries that ended on the
//! deliveries DLQ back on the deliveries queue. Each FAILED delivery is reopened (PENDING, with
//! an audit row) before its message is re-sent, so the forward function delivers it again;
//! messages whose delivery succeeded meanwhile are removed. Configured like the functions
//! (`ECITES_TABLE`, `ECITES_DELIVERIES_QUEUE_URL`, `AWS_*`) plus `ECITES_DELIVERIES_DLQ_URL`.
//!
//! `ecites replay --no-partner XC [--since T] [--limit N]`: after XC has been added to the
//! partner directory, sends the deliveries recorded NO_PARTNER for XC (reopened to PENDING
//! first).
//!
//! `ecites replay --failed XB [--since T] [--limit N]`: after the cause of a permanent refusal
//! is fixed (XB had no key of ours, or a stale one; its endpoint moved), sends again the
//! deliveries to XB that ended FAILED (at or after `T`, RFC 3339 or a date), which never reach
//! the DLQ.
//!
//! `ecites replay --notify-failures [--limit N]`: the stream batches the notify function gave
//! up on (the notify failure queue, `ECITES_NOTIFY_FAILURE_QUEUE_URL`) are read again from the
//! ledger's stream and handed to the notify function's own handler
//! ([`ecites_aws::streams::replay_notify_failures`]); configured like the notify function
//! (`ECITES_TOPIC_ARN`, `ECITES_WEBHOOK_QUEUE_URL` besides the table and bucket).

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
    let store = ecites_aws::DynamoLedger::on_table(clients.dynamodb.clone(), &config.table);
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

/// Replays up to `limit` notify failure messages and prints a sentence for each; exit code 1
/// when some message was kept (records trimmed, notify failed again, not an invocation record).
pub async fn run_notify_failures(limit: usize) -> anyhow::Result<ExitCode> {
    let config = ecites_aws::config::NotifyConfig::from_env()?;
    let queue_url = std::env::var("ECITES_NOTIFY_FAILURE_QUEUE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "ECITES_NOTIFY_FAILURE_QUEUE_URL is not set (the stack's NotifyFailureQueueUrl output; --stack NAME reads it)"
            )
        })?;
    let aws = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default()).await;
    let clients = aws.clients();
    let notify = ecites_aws::notify::NotifyClients::from_aws(&aws);
    let function = ecites_notify::NotifyFunction::new(&config, &clients, &notify);
    let function = &function;
    let report = ecites_aws::streams::replay_notify_failures(
        &clients.sqs,
        &aws.dynamodb_streams(),
        &queue_url,
        limit,
        |event| async move { function.notify_batch(&event).await },
    )
    .await
    .map_err(|e| anyhow::anyhow!("the notify failure queue {queue_url}: {e}"))?;
    if report.batches.is_empty() {
        println!("The notify failure queue is empty: nothing to replay.");
        return Ok(ExitCode::SUCCESS);
    }
    for batch in &report.batches {
        println!("{batch}");
    }
    let replayed = report
        .batches
        .iter()
        .filter(|b| matches!(b, ecites_aws::streams::BatchReplay::Replayed { .. }))
        .count();
    println!(
        "{replayed} of {} failure messages replayed and deleted; {} kept on the queue.",
        report.batches.len(),
        report.batches.len() - replayed
    );
    Ok(if report.all_replayed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The deliveries an operator sends again from the ledger: to whom, in which end state, since
/// when.
#[derive(Clone, Copy, Debug)]
pub enum Ended<'a> {
    /// `--no-partner XC`: recorded NO_PARTNER.
    NoPartner(&'a str),
    /// `--failed XB`: refused for good or out of retries.
    Failed(&'a str),
    /// `--awaiting-pull XB`: PENDING, left for XB to fetch while it was a pull partner.
    AwaitingPull(&'a str),
}

/// A time given on the command line: RFC 3339, or a date (its first instant, UTC).
fn parse_since(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let text = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--since {text:?}: an RFC 3339 time (2026-11-30T08:00:00Z) or a date (2026-11-30)"
            )
        })
}

/// Queues up to `limit` ended deliveries (`which`, since `since`) and prints what was done;
/// exit 1 when the recipient is still missing from (or inactive in) the partner directory, so
/// nothing is sent only to fail again.
pub async fn run_ended(
    which: Ended<'_>,
    since: Option<&str>,
    limit: usize,
) -> anyhow::Result<ExitCode> {
    let (country, state, option, what) = match which {
        Ended::NoPartner(country) => (
            country,
            ecites_exchange::ledger::DeliveryState::NoPartner,
            "--no-partner",
            "that waited for a partner",
        ),
        Ended::Failed(country) => (
            country,
            ecites_exchange::ledger::DeliveryState::Failed,
            "--failed",
            "that had failed",
        ),
        Ended::AwaitingPull(country) => (
            country,
            ecites_exchange::ledger::DeliveryState::Pending,
            "--awaiting-pull",
            "that waited for it to fetch them",
        ),
    };
    let recipient: ecites_domain::CountryCode =
        country.trim().to_ascii_uppercase().parse().map_err(|_| {
            anyhow::anyhow!("{option} {country:?} is not an ISO 3166-1 alpha-2 code")
        })?;
    let since = since.map(parse_since).transpose()?;
    let config = ecites_aws::Config::from_env()?;
    let clients = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default())
        .await
        .clients();
    let directory =
        ecites_aws::s3::read_directory(&clients.s3, &config.bucket, &config.partners_key).await?;
    let Some(partner) = directory.get(recipient).filter(|p| p.active) else {
        println!(
            "{recipient} is not an active partner in s3://{}/{}: add it first (ecites partners add)",
            config.bucket, config.partners_key
        );
        return Ok(ExitCode::FAILURE);
    };
    if matches!(which, Ended::AwaitingPull(_))
        && (partner.pulls_our_permits() || partner.endpoint.is_empty())
    {
        println!(
            "{recipient} still pulls our permits (or has no endpoint) in s3://{}/{}: forward would leave them waiting again; make it a push partner first (ecites partners add {recipient} --endpoint https://... --delivery push)",
            config.bucket, config.partners_key
        );
        return Ok(ExitCode::FAILURE);
    }
    let store = ecites_aws::DynamoLedger::on_table(clients.dynamodb.clone(), &config.table);
    let report = ecites_aws::replay::requeue_ended(
        &clients.sqs,
        &store,
        &config.bucket,
        &config.deliveries_queue_url,
        ecites_aws::replay::EndedDeliveries {
            recipient,
            state,
            since,
        },
        limit,
    )
    .await?;
    println!(
        "queued {} deliveries to {recipient} {what}; {} were reopened by someone else meanwhile",
        report.requeued, report.discarded
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_an_rfc_3339_time_or_a_date_and_anything_else_is_refused_naming_the_option() {
        assert_eq!(
            parse_since("2026-11-30T08:00:00+01:00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-30T07:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-11-30").unwrap().to_rfc3339(),
            "2026-11-30T00:00:00+00:00"
        );
        let refused = parse_since("yesterday").unwrap_err().to_string();
        assert!(refused.contains("--since \"yesterday\""), "{refused}");
    }
}
