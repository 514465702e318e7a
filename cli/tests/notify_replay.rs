//! `ecites replay --notify-failures` as an operator runs it: the `ecites` binary with the
//! deployment's environment against the local AWS emulator, where the ledger's real DynamoDB
//! stream holds the records of a permit ingest recorded, and the notify failure queue holds the
//! invocation record Lambda sends when notify gives up on them.

mod common;

use common::described;
use ecites_exchange::notify::{Channel, EventType, Filters, Role, Subscription};
use ecites_local::stack::notify::{LocalNotify, NotifyOptions};
use ecites_local::{fixtures, Local, LocalOptions, REGION};
use std::process::Output;
use std::time::Duration;

/// XA's stack with its notification side, one permit ingested (its ledger changes on the
/// stream, never notified), an agency queue subscribed to issued permits, and an empty notify
/// failure queue.
struct Scene {
    local: Local,
    notify: LocalNotify,
    agency_url: String,
    failure_queue_url: String,
}

async fn scene(prefix: &str) -> Scene {
    let local = Local::start(LocalOptions::new(prefix))
        .await
        .expect("local stack starts (is moto installed? make .venv/bin/moto_server)");
    let notify = LocalNotify::start(&local, NotifyOptions::default())
        .await
        .expect("notification stack starts");
    let (agency_url, agency_arn) = notify
        .agency_queue(&local, &format!("{prefix}-customs-xb"))
        .await
        .unwrap();
    notify
        .admin
        .add(
            Subscription {
                id: "customs-xb".into(),
                agency: "Customs of XB".into(),
                country: "XB".into(),
                role: Role::Customs,
                events: vec![EventType::Issued],
                filters: Filters::default(),
                channel: Channel::Sns {
                    protocol: "sqs".into(),
                    endpoint: agency_arn,
                    subscription_arn: None,
                },
                include_xml: false,
            },
            None,
        )
        .await
        .expect("subscription added");
    let failure_queue_url = local
        .clients
        .sqs
        .create_queue()
        .queue_name(format!("{prefix}-notify-failures"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    local
        .put_object(
            "inbox/26XA0201.json",
            fixtures::json(&fixtures::export_permit("26XA0201", "XA", "XB", 3)),
        )
        .await
        .unwrap();
    local.drain(Duration::from_secs(60)).await.unwrap();
    Scene {
        local,
        notify,
        agency_url,
        failure_queue_url,
    }
}

/// The stream's ARN, its shard, and the sequence numbers of every record on it, in order.
async fn stream_records(local: &Local) -> (String, String, Vec<String>) {
    let table = local
        .clients
        .dynamodb
        .describe_table()
        .table_name(&local.stack.table)
        .send()
        .await
        .unwrap();
    let stream_arn = table
        .table()
        .unwrap()
        .latest_stream_arn()
        .unwrap()
        .to_owned();
    let streams =
        ecites_local::emulation::stream::streams_client(Some(&local.endpoint), REGION, true).await;
    let described = streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .unwrap();
    let shard = described.stream_description().unwrap().shards()[0]
        .shard_id()
        .unwrap()
        .to_owned();
    let iterator = streams
        .get_shard_iterator()
        .stream_arn(&stream_arn)
        .shard_id(&shard)
        .shard_iterator_type("TRIM_HORIZON".into())
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let read = streams
        .get_records()
        .shard_iterator(iterator)
        .send()
        .await
        .unwrap();
    let sequences = read
        .records()
        .iter()
        .filter_map(|r| r.dynamodb()?.sequence_number().map(str::to_owned))
        .collect();
    (stream_arn, shard, sequences)
}

/// The invocation record Lambda sends to the on-failure destination for a batch.
fn invocation_record(
    stream_arn: &str,
    shard: &str,
    first: &str,
    last: &str,
    size: usize,
    arrived: &str,
) -> String {
    serde_json::json!({
        "requestContext": {"requestId": "0b1c2d3e-0000-4000-8000-000000000001",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:xa-notify:live",
            "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 4},
        "responseContext": {"statusCode": 200, "executedVersion": "3", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "DDBStreamBatchInfo": {"shardId": shard, "startSequenceNumber": first,
            "endSequenceNumber": last, "approximateArrivalOfFirstRecord": arrived,
            "approximateArrivalOfLastRecord": arrived, "batchSize": size, "streamArn": stream_arn}
    })
    .to_string()
}

async fn send(scene: &Scene, body: &str) {
    scene
        .local
        .clients
        .sqs
        .send_message()
        .queue_url(&scene.failure_queue_url)
        .message_body(body)
        .send()
        .await
        .unwrap();
}

/// Messages on the failure queue, visible or not (a kept message is invisible for a while).
async fn messages_on(scene: &Scene) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let attributes = scene
        .local
        .clients
        .sqs
        .get_queue_attributes()
        .queue_url(&scene.failure_queue_url)
        .attribute_names(Name::ApproximateNumberOfMessages)
        .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let count = |name: Name| -> u64 {
        attributes
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    count(Name::ApproximateNumberOfMessages) + count(Name::ApproximateNumberOfMessagesNotVisible)
}

/// Runs `ecites replay --notify-failures` with the deployment's environment.
fn replay(scene: &Scene) -> Output {
    let (local, notify) = (&scene.local, &scene.notify);
    std::process::Command::new(env!("CARGO_BIN_EXE_ecites"))
        .args(["replay", "--notify-failures"])
        .envs(local.operator_env())
        .env("ECITES_TOPIC_ARN", &notify.topic_arn)
        .env("ECITES_WEBHOOK_QUEUE_URL", &notify.webhook_queue_url)
        .env("ECITES_NOTIFY_FAILURE_QUEUE_URL", &scene.failure_queue_url)
        .output()
        .expect("the ecites binary runs")
}

/// The events the agency queue received, as (type, subject).
async fn agency_events(scene: &Scene) -> Vec<(String, String)> {
    scene
        .local
        .take_all(&scene.agency_url)
        .await
        .unwrap()
        .iter()
        .map(|body| {
            let event: serde_json::Value = serde_json::from_str(body).unwrap();
            (
                event["type"].as_str().unwrap_or("").to_owned(),
                event["subject"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_notify_failures_notifies_the_failed_batch_once_and_deletes_its_messages() {
    let scene = scene("nra").await;
    let (stream_arn, shard, sequences) = stream_records(&scene.local).await;
    assert!(sequences.len() >= 2, "ingest wrote records: {sequences:?}");
    assert!(agency_events(&scene).await.is_empty(), "notify never ran");
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let record = invocation_record(
        &stream_arn,
        &shard,
        &sequences[0],
        sequences.last().unwrap(),
        sequences.len(),
        &now,
    );
    // The same batch twice (Lambda gave up on it, and on a retry of it): notified once.
    send(&scene, &record).await;
    send(&scene, &record).await;

    let output = replay(&scene);
    assert!(output.status.success(), "{}", described(&output));
    let said = described(&output);
    assert!(
        said.contains(&format!(
            "Replayed {} records of shard {shard}",
            sequences.len()
        )),
        "{said}"
    );
    assert!(
        said.contains("2 of 2 failure messages replayed and deleted"),
        "{said}"
    );
    assert_eq!(
        agency_events(&scene).await,
        [(
            "org.cites.epermit.issued".to_owned(),
            "XA/26XA0201".to_owned()
        )],
        "the subscriber hears of the permit once"
    );
    assert_eq!(
        messages_on(&scene).await,
        0,
        "both failure messages deleted"
    );

    let again = replay(&scene);
    assert!(again.status.success(), "{}", described(&again));
    assert!(
        described(&again).contains("The notify failure queue is empty"),
        "{}",
        described(&again)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_the_stream_no_longer_has_or_gives_only_in_part_are_reported_and_their_message_is_kept(
) {
    let scene = scene("nrb").await;
    let (stream_arn, shard, sequences) = stream_records(&scene.local).await;
    // A range past every record the stream has: what a trimmed (or mistyped) batch looks like.
    let last: u128 = sequences.last().unwrap().parse().unwrap();
    let (first, end) = ((last + 1000).to_string(), (last + 1002).to_string());
    let two_days_ago = (chrono::Utc::now() - chrono::Duration::hours(48))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    send(
        &scene,
        &invocation_record(&stream_arn, &shard, &first, &end, 3, &two_days_ago),
    )
    .await;
    send(&scene, r#"{"not": "an invocation record"}"#).await;
    // A batch the stream gives only in part (its last record is not there): not replayed at
    // all, so its message is never deleted with records left out.
    let beyond = (last + 5).to_string();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    send(
        &scene,
        &invocation_record(&stream_arn, &shard, &sequences[0], &beyond, 9, &now),
    )
    .await;

    let output = replay(&scene);
    assert_eq!(output.status.code(), Some(1), "{}", described(&output));
    let said = described(&output);
    assert!(
        said.contains(&format!(
            "Could not read the records of shard {shard} again: the stream no longer has the records from {first} to {end}"
        )),
        "{said}"
    );
    assert!(
        said.contains("records older than 24 hours are trimmed"),
        "{said}"
    );
    assert!(
        said.contains("the batch arrived more than 24 hours ago"),
        "{said}"
    );
    assert!(said.contains("the failure message was kept"), "{said}");
    assert!(
        said.contains("was left on the queue: not a DynamoDB stream invocation record"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "up to {} only, not to the batch's last, {beyond}: replay again",
            sequences.last().unwrap()
        )),
        "{said}"
    );
    assert!(said.contains("0 of 3 failure messages replayed"), "{said}");
    assert!(!said.contains("Debug") && !said.contains("{ "), "{said}");
    assert_eq!(messages_on(&scene).await, 3, "nothing is deleted");
    assert!(agency_events(&scene).await.is_empty());
}
