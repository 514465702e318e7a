//! Creating the stack's resources on the emulator with the SDK (moto's CloudFormation ignores
//! bucket notifications and TTL, so the SDK is the reliable way).

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use aws_sdk_sqs::types::QueueAttributeName;
use ecites_aws::dynamo::table::{
    GSI_BY_NUMBER, GSI_BY_RECIPIENT, GSI_BY_REPORT, GSI_UNDER_DELIVERY, REPORT_INDEX_ATTRIBUTES,
};
use ecites_aws::Clients;
use ecites_exchange::Directory;

/// Names and knobs of one stack.
#[derive(Clone, Debug)]
pub struct StackSpec {
    /// Prefix of every resource name (tests use a unique one each).
    pub prefix: String,
    /// Queue visibility timeout in seconds: how long a failed message waits before it is
    /// received again (short locally so retries are quick).
    pub visibility_timeout_s: u32,
    /// Receives before a message moves to the DLQ.
    pub max_receive_count: u32,
    /// The partner directory written to `config/partners.json`.
    pub partners: Directory,
}

/// What `setup` created.
#[derive(Clone, Debug)]
pub struct Stack {
    /// The bucket (inbox/, outbox/, rejected/, config/).
    pub bucket: String,
    /// The ledger table.
    pub table: String,
    /// The ingest queue (S3 notifications and direct messages).
    pub ingest_queue_url: String,
    /// Its DLQ.
    pub ingest_dlq_url: String,
    /// The deliveries queue.
    pub deliveries_queue_url: String,
    /// Its DLQ.
    pub deliveries_dlq_url: String,
    /// The partner directory key.
    pub partners_key: String,
}

pub(crate) async fn queue_arn(clients: &Clients, url: &str) -> anyhow::Result<String> {
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?;
    attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .context("queue has no ARN")
}

pub(crate) async fn queue_with_dlq(
    clients: &Clients,
    name: &str,
    spec: &StackSpec,
) -> anyhow::Result<(String, String)> {
    let dlq = clients
        .sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .with_context(|| format!("creating queue {name}-dlq"))?
        .queue_url
        .context("no queue url")?;
    let dlq_arn = queue_arn(clients, &dlq).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": spec.max_receive_count.to_string(),
    });
    let queue = clients
        .sqs
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            spec.visibility_timeout_s.to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .with_context(|| format!("creating queue {name}"))?
        .queue_url
        .context("no queue url")?;
    Ok((queue, dlq))
}

fn gsi(name: &str, pk: &str, sk: &str) -> anyhow::Result<GlobalSecondaryIndex> {
    Ok(GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(pk)
                .key_type(KeyType::Hash)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(sk)
                .key_type(KeyType::Range)
                .build()?,
        )
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()?)
}

/// Creates the bucket, queues with DLQs and redrive, the table with GSIs, stream and TTL, the
/// S3 -> SQS notification for `inbox/`, and the partner directory.
pub async fn setup(clients: &Clients, spec: &StackSpec) -> anyhow::Result<Stack> {
    let prefix = &spec.prefix;
    let bucket = format!("{prefix}-exchange");
    let table = format!("{prefix}-ledger");
    clients
        .s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .context("creating the bucket")?;

    let (ingest_queue_url, ingest_dlq_url) =
        queue_with_dlq(clients, &format!("{prefix}-ingest"), spec).await?;
    let (deliveries_queue_url, deliveries_dlq_url) =
        queue_with_dlq(clients, &format!("{prefix}-deliveries"), spec).await?;

    let mut attributes = Vec::new();
    for name in [
        "PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK", "GSI4PK", "GSI4SK",
    ] {
        attributes.push(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        );
    }
    clients
        .dynamodb
        .create_table()
        .table_name(&table)
        .set_attribute_definitions(Some(attributes))
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("PK")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("SK")
                .key_type(KeyType::Range)
                .build()?,
        )
        .global_secondary_indexes(gsi(GSI_UNDER_DELIVERY, "GSI1PK", "GSI1SK")?)
        .global_secondary_indexes(gsi(GSI_BY_RECIPIENT, "GSI2PK", "GSI2SK")?)
        .global_secondary_indexes(gsi(GSI_BY_NUMBER, "GSI3PK", "GSI3SK")?)
        .global_secondary_indexes({
            // Only what a report reads, as the template's index projects it.
            let mut index = gsi(GSI_BY_REPORT, "GSI4PK", "GSI4SK")?;
            index.projection = Some(
                Projection::builder()
                    .projection_type(ProjectionType::Include)
                    .set_non_key_attributes(Some(
                        REPORT_INDEX_ATTRIBUTES.map(str::to_owned).to_vec(),
                    ))
                    .build(),
            );
            index
        })
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()?,
        )
        .send()
        .await
        .context("creating the table")?;
    clients
        .dynamodb
        .update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("ttl")
                .enabled(true)
                .build()?,
        )
        .send()
        .await
        .context("enabling TTL")?;

    let partners_key = ecites_aws::config::DEFAULT_PARTNERS_KEY.to_owned();
    clients
        .s3
        .put_object()
        .bucket(&bucket)
        .key(&partners_key)
        .content_type("application/json")
        .body(serde_json::to_vec_pretty(&spec.partners)?.into())
        .send()
        .await
        .context("writing the partner directory")?;

    let ingest_arn = queue_arn(clients, &ingest_queue_url).await?;
    let notification = NotificationConfiguration::builder()
        .queue_configurations(
            QueueConfiguration::builder()
                .queue_arn(ingest_arn)
                .events(Event::from("s3:ObjectCreated:*"))
                .filter(
                    NotificationConfigurationFilter::builder()
                        .key(
                            S3KeyFilter::builder()
                                .filter_rules(
                                    FilterRule::builder()
                                        .name(FilterRuleName::Prefix)
                                        .value("inbox/")
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build()?,
        )
        .build();
    clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(notification)
        .send()
        .await
        .context("configuring the inbox notification")?;

    Ok(Stack {
        bucket,
        table,
        ingest_queue_url,
        ingest_dlq_url,
        deliveries_queue_url,
        deliveries_dlq_url,
        partners_key,
    })
}

/// What the notification functions need besides [`Stack`]: the topic agencies subscribe to and
/// the webhook queue with its DLQ.
#[derive(Clone, Debug)]
pub struct NotifyResources {
    /// The notifications topic (`<prefix>-notifications`).
    pub topic_arn: String,
    /// The webhook queue (`<prefix>-webhooks`).
    pub webhook_queue_url: String,
    /// Its DLQ, where webhooks that keep failing end.
    pub webhook_dlq_url: String,
}

/// Creates the notifications topic and the webhook queue with its DLQ (redrive after
/// `spec.max_receive_count` receives), named after `spec.prefix` like the rest of the stack.
pub async fn setup_notify(
    clients: &Clients,
    notify: &ecites_aws::notify::NotifyClients,
    spec: &StackSpec,
) -> anyhow::Result<NotifyResources> {
    let prefix = &spec.prefix;
    let topic_arn = notify
        .sns
        .create_topic()
        .name(format!("{prefix}-notifications"))
        .send()
        .await
        .context("creating the topic")?
        .topic_arn
        .context("no topic ARN")?;
    let (webhook_queue_url, webhook_dlq_url) =
        queue_with_dlq(clients, &format!("{prefix}-webhooks"), spec).await?;
    Ok(NotifyResources {
        topic_arn,
        webhook_queue_url,
        webhook_dlq_url,
    })
}
