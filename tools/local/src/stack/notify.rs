//! The notification side of the local stack: the SNS topic, the webhook queue with
//! its DLQ, the notify function fed from the ledger's stream and the webhook function fed from
//! its queue, and the subscription admin, all on the same emulator as [`crate::Local`].

use crate::emulation::runner::{EventSource, PollOutcome};
use crate::emulation::stream::{StreamOutcome, StreamSource};
use crate::{Local, REGION};
use anyhow::Context as _;
use ecites_aws::notify::{
    DynamoSubscriptions, NotifyClients, SnsTopic, SsmSecrets, SubscriptionAdmin,
};
use ecites_aws::{ClientOptions, Clients};
use ecites_exchange::Directory;
use ecites_notify::{NotifyConfig, NotifyFunction, WebhookFunction};
use std::time::Duration;

/// Knobs of the local notification stack.
#[derive(Clone, Copy, Debug)]
pub struct NotifyOptions {
    /// First webhook retry delay in seconds (doubled per attempt).
    pub backoff_s: i32,
    /// Webhook attempts before the DLQ.
    pub max_receive_count: u32,
}

impl Default for NotifyOptions {
    /// 1 s backoff and 3 attempts, so a failing subscriber reaches the DLQ in seconds.
    fn default() -> Self {
        NotifyOptions {
            backoff_s: 1,
            max_receive_count: 3,
        }
    }
}

/// The running notification stack.
pub struct LocalNotify {
    /// The notifications topic.
    pub topic_arn: String,
    /// The webhook queue.
    pub webhook_queue_url: String,
    /// Its DLQ.
    pub webhook_dlq_url: String,
    /// SNS and SSM clients (uncounted).
    pub clients: NotifyClients,
    /// The functions' configuration, as Lambda would pass it.
    pub config: NotifyConfig,
    /// The stream consumer.
    pub function: NotifyFunction,
    /// The webhook consumer.
    pub webhooks: WebhookFunction,
    /// The ledger stream's event source.
    pub stream: StreamSource,
    /// The webhook queue's event source.
    pub webhook_source: EventSource,
    /// Subscription admin (what `ecites subscriptions` uses).
    pub admin: SubscriptionAdmin,
}

impl LocalNotify {
    /// Creates the topic and the webhook queue next to `local`'s stack and wires the functions.
    pub async fn start(local: &Local, options: NotifyOptions) -> anyhow::Result<LocalNotify> {
        // The functions' clients go through the latency proxy when there is one (and so do the
        // SNS and SSM clients the set-up and the subscription admin share with them).
        let function_options = ClientOptions {
            emulator_credentials: true,
            attempt_timeout: local.attempt_timeout,
            ..ClientOptions::default()
        };
        let clients = NotifyClients::from_aws(
            &ecites_aws::AwsConfig::load(
                function_options
                    .clone()
                    .at(Some(&local.function_endpoint), REGION),
            )
            .await,
        );
        let function_clients =
            Clients::new(Some(&local.function_endpoint), REGION, &function_options).await;
        let prefix = local
            .stack
            .bucket
            .strip_suffix("-exchange")
            .unwrap_or(&local.stack.bucket)
            .to_owned();
        let spec = crate::StackSpec {
            prefix,
            visibility_timeout_s: 1,
            max_receive_count: options.max_receive_count,
            partners: Directory::default(),
        };
        let crate::stack::setup::NotifyResources {
            topic_arn,
            webhook_queue_url,
            webhook_dlq_url,
        } = crate::stack::setup::setup_notify(&local.clients, &clients, &spec).await?;
        let config = NotifyConfig {
            country: local.config.country.to_string(),
            bucket: local.stack.bucket.clone(),
            table: local.stack.table.clone(),
            topic_arn: topic_arn.clone(),
            webhook_queue_url: webhook_queue_url.clone(),
            subscriptions_cache: Duration::ZERO,
            webhook_backoff_s: options.backoff_s,
            webhook_timeout: Duration::from_secs(5),
            // Local runs: the tests' and the demo's subscribers listen on loopback.
            webhook_policy: ecites_exchange::notify::WebhookPolicy::local(),
        };
        let function = NotifyFunction::new(&config, &function_clients, &clients);
        let webhooks = WebhookFunction::new(&config, &function_clients, &clients);
        let streams =
            crate::emulation::stream::streams_client(Some(&local.endpoint), REGION, true).await;
        let stream =
            StreamSource::new(&local.clients.dynamodb, streams, &local.stack.table, REGION).await?;
        let webhook_source =
            EventSource::new(local.clients.sqs.clone(), &webhook_queue_url, REGION).await?;
        let admin = SubscriptionAdmin {
            registry: DynamoSubscriptions::new(
                local.clients.dynamodb.clone(),
                &local.stack.table,
                Duration::ZERO,
            ),
            topic: SnsTopic::new(clients.sns.clone(), &topic_arn),
            secrets: SsmSecrets::new(clients.ssm.clone()),
            policy: ecites_exchange::notify::WebhookPolicy::local(),
        };
        Ok(LocalNotify {
            topic_arn,
            webhook_queue_url,
            webhook_dlq_url,
            clients,
            config,
            function,
            webhooks,
            stream,
            webhook_source,
            admin,
        })
    }

    /// Feeds the notify function from the stream until no new record comes.
    pub async fn run_stream(&self, timeout: Duration) -> anyhow::Result<StreamOutcome> {
        let handler = |event| self.function.handle(event);
        self.stream.run_until_quiet(&handler, timeout).await
    }

    /// Runs the webhook function on its queue until the queue is quiet (failures included:
    /// retried with backoff until the redrive policy moves them to the DLQ).
    pub async fn run_webhooks(&self, timeout: Duration) -> anyhow::Result<PollOutcome> {
        let handler = |event| self.webhooks.handle(event);
        self.webhook_source.run_until_quiet(&handler, timeout).await
    }

    /// Stream, then webhooks.
    pub async fn drain(&self, timeout: Duration) -> anyhow::Result<()> {
        self.run_stream(timeout).await?;
        self.run_webhooks(timeout).await?;
        Ok(())
    }

    /// Creates an agency's SQS queue; returns its URL and ARN (to subscribe to the topic).
    pub async fn agency_queue(
        &self,
        local: &Local,
        name: &str,
    ) -> anyhow::Result<(String, String)> {
        let url = local
            .clients
            .sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .with_context(|| format!("creating queue {name}"))?
            .queue_url
            .context("no queue URL")?;
        let arn = crate::stack::setup::queue_arn(&local.clients, &url).await?;
        Ok((url, arn))
    }
}
