//! The AWS side of notifications: the subscription registry and the notification
//! claims in the ledger table, the SNS topic, the webhook queue, webhook secrets in SSM.
//!
//! Subscriptions (`doc`: the subscription as JSON) and notification claims (`state` `CLAIMED`
//! then `SENT`, kept 90 days) live in the ledger table, keyed as [`crate::dynamo::table`] says,
//! so one table (and one backup) holds everything; the notify function ignores their stream
//! records.

use crate::dynamo::table::{
    n, notification_claim_key, s, subscription_key, time, SUBSCRIPTIONS_PK,
};
use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_sns::types::MessageAttributeValue;
use chrono::{Duration as ChronoDuration, Utc};
use ecites_exchange::notify::{
    Channel, Claim, NotificationClaims, Secret, SecretStore, Subscription, SubscriptionRegistry,
    TopicPublisher, WebhookJob, WebhookQueue,
};
use ecites_exchange::Error;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long notification claims are kept: far longer than any stream retention (24 h) or
/// replay window, so a replay always finds them.
const CLAIM_RETENTION_DAYS: i64 = 90;

fn now_text() -> String {
    time(Utc::now())
}

/// The subscription registry on the ledger table, with a short cache for `list` (the notify
/// function reads it once per record); `get` always reads through, so a removal takes effect
/// at the next webhook delivery.
pub struct DynamoSubscriptions {
    client: aws_sdk_dynamodb::Client,
    table: String,
    cache_ttl: Duration,
    cache: Mutex<Option<(Instant, Vec<Subscription>)>>,
}

impl std::fmt::Debug for DynamoSubscriptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoSubscriptions")
            .field("table", &self.table)
            .finish()
    }
}

fn parse_subscription(item: &HashMap<String, AttributeValue>) -> Option<Subscription> {
    let doc = item.get("doc")?.as_s().ok()?;
    match serde_json::from_str(doc) {
        Ok(subscription) => Some(subscription),
        Err(error) => {
            tracing::error!(%error, "unreadable subscription in the registry: skipped");
            None
        }
    }
}

impl DynamoSubscriptions {
    /// The registry in `table`, `list` cached for `cache_ttl` (zero: no cache).
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        cache_ttl: Duration,
    ) -> Self {
        DynamoSubscriptions {
            client,
            table: table.into(),
            cache_ttl,
            cache: Mutex::new(None),
        }
    }

    async fn read_all(&self) -> Result<Vec<Subscription>, Error> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(SUBSCRIPTIONS_PK))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("dynamodb:Query", e))?;
            out.extend(output.items().iter().filter_map(parse_subscription));
            match output.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => break,
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Writes (creates or replaces) a subscription.
    pub async fn put(&self, subscription: &Subscription) -> Result<(), Error> {
        let doc = serde_json::to_string(subscription)
            .map_err(|e| Error::permanent("serialize subscription", e))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(subscription_key(&subscription.id)))
            .item("type", s("SUBSCRIPTION"))
            .item("doc", s(doc))
            .item("updated_at", s(now_text()))
            .send()
            .await
            .map_err(|e| classify("dynamodb:PutItem", e))?;
        self.invalidate();
        Ok(())
    }

    /// Deletes a subscription; `false` when there was none.
    pub async fn delete(&self, id: &str) -> Result<bool, Error> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(subscription_key(id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("dynamodb:DeleteItem", e))?;
        self.invalidate();
        Ok(output.attributes.is_some_and(|a| !a.is_empty()))
    }

    fn invalidate(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            *cache = None;
        }
    }
}

#[async_trait]
impl SubscriptionRegistry for DynamoSubscriptions {
    async fn list(&self) -> Result<Vec<Subscription>, Error> {
        if !self.cache_ttl.is_zero() {
            if let Ok(cache) = self.cache.lock() {
                if let Some((at, list)) = cache.as_ref() {
                    if at.elapsed() < self.cache_ttl {
                        return Ok(list.clone());
                    }
                }
            }
        }
        let list = self.read_all().await?;
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some((Instant::now(), list.clone()));
        }
        Ok(list)
    }

    async fn get(&self, id: &str) -> Result<Option<Subscription>, Error> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(subscription_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("dynamodb:GetItem", e))?;
        Ok(output.item.as_ref().and_then(parse_subscription))
    }
}

/// Notification claims in the ledger table: one conditional put per (event id, subscriber).
#[derive(Clone, Debug)]
pub struct DynamoClaims {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoClaims {
    /// Claims in `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoClaims {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl NotificationClaims for DynamoClaims {
    async fn claim(&self, event_id: &str, subscriber: &str) -> Result<Claim, Error> {
        let ttl = (Utc::now() + ChronoDuration::days(CLAIM_RETENTION_DAYS)).timestamp();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(notification_claim_key(event_id, subscriber)))
            .item("type", s("NOTIFICATION"))
            .item("state", s("CLAIMED"))
            .item("claimed_at", s(now_text()))
            .item("ttl", n(ttl))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::New),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let sent = failed
                        .item()
                        .and_then(|item| item.get("state"))
                        .and_then(|state| state.as_s().ok())
                        .is_some_and(|state| state == "SENT");
                    Ok(if sent { Claim::Done } else { Claim::Unfinished })
                }
                _ => Err(classify("dynamodb:PutItem", error)),
            },
        }
    }

    async fn complete(&self, event_id: &str, subscriber: &str) -> Result<(), Error> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(notification_claim_key(event_id, subscriber)))
            .update_expression("SET #state = :sent, sent_at = :at")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sent", s("SENT"))
            .expression_attribute_values(":at", s(now_text()))
            .send()
            .await
            .map_err(|e| classify("dynamodb:UpdateItem", e))?;
        Ok(())
    }
}

/// The notifications topic.
#[derive(Clone, Debug)]
pub struct SnsTopic {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsTopic {
    /// The topic `topic_arn`.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsTopic {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    /// The topic's ARN.
    pub fn arn(&self) -> &str {
        &self.topic_arn
    }

    /// Subscribes an SNS-channel subscription with its generated filter policy (on message
    /// attributes; raw delivery for SQS and HTTPS so the body is the CloudEvent itself) and
    /// returns the subscription ARN.
    pub async fn subscribe(&self, subscription: &Subscription) -> Result<String, Error> {
        let Channel::Sns {
            protocol, endpoint, ..
        } = &subscription.channel
        else {
            return Err(Error::InvalidMessage(
                "only SNS-channel subscriptions subscribe to the topic".into(),
            ));
        };
        let policy = subscription
            .filter_policy()
            .map_err(|e| Error::InvalidMessage(e.to_string()))?;
        let mut request = self
            .client
            .subscribe()
            .topic_arn(&self.topic_arn)
            .protocol(protocol)
            .endpoint(endpoint)
            .attributes("FilterPolicy", policy.to_string())
            .attributes("FilterPolicyScope", "MessageAttributes")
            .return_subscription_arn(true);
        if matches!(protocol.as_str(), "sqs" | "https" | "http" | "firehose") {
            request = request.attributes("RawMessageDelivery", "true");
        }
        let output = request
            .send()
            .await
            .map_err(|e| classify("sns:Subscribe", e))?;
        output
            .subscription_arn
            .ok_or_else(|| Error::permanent("sns:Subscribe", "no subscription ARN returned"))
    }

    /// Removes an SNS subscription.
    pub async fn unsubscribe(&self, subscription_arn: &str) -> Result<(), Error> {
        self.client
            .unsubscribe()
            .subscription_arn(subscription_arn)
            .send()
            .await
            .map_err(|e| classify("sns:Unsubscribe", e))?;
        Ok(())
    }
}

#[async_trait]
impl TopicPublisher for SnsTopic {
    async fn publish(
        &self,
        message: &str,
        attributes: &[(&'static str, &'static str, String)],
    ) -> Result<(), Error> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(message);
        for (name, data_type, value) in attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type(*data_type)
                .string_value(value)
                .build()
                .map_err(|e| Error::permanent("sns:Publish attribute", e))?;
            request = request.message_attributes(*name, attribute);
        }
        request
            .send()
            .await
            .map_err(|e| classify("sns:Publish", e))?;
        Ok(())
    }
}

/// The webhook queue.
#[derive(Clone, Debug)]
pub struct SqsWebhookQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsWebhookQueue {
    /// The queue at `queue_url`.
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsWebhookQueue {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Postpones the next attempt of a received job (the backoff between retries).
    pub async fn postpone(&self, receipt_handle: &str, delay: Duration) -> Result<(), Error> {
        crate::sqs::postpone(&self.client, &self.queue_url, receipt_handle, delay).await
    }
}

#[async_trait]
impl WebhookQueue for SqsWebhookQueue {
    async fn enqueue(&self, job: &WebhookJob) -> Result<(), Error> {
        let body =
            serde_json::to_string(job).map_err(|e| Error::permanent("serialize webhook job", e))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| classify("sqs:SendMessage", e))?;
        Ok(())
    }
}

/// Webhook secrets from SSM SecureString parameters, cached per warm function for 5 minutes
/// (rotation takes effect within that). Values are never logged.
pub struct SsmSecrets {
    client: aws_sdk_ssm::Client,
    cache: Mutex<HashMap<String, (Instant, Secret)>>,
}

impl std::fmt::Debug for SsmSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SsmSecrets")
    }
}

/// How long a secret is cached.
const SECRET_CACHE: Duration = Duration::from_secs(300);

impl SsmSecrets {
    /// Secrets through `client`.
    pub fn new(client: aws_sdk_ssm::Client) -> Self {
        SsmSecrets {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Stores a secret (SecureString, overwriting): what `ecites subscriptions add` uses.
    pub async fn store(&self, name: &str, secret: &Secret) -> Result<(), Error> {
        self.client
            .put_parameter()
            .name(name)
            .value(secret.expose())
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| classify("ssm:PutParameter", e))?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(name);
        }
        Ok(())
    }
}

#[async_trait]
impl SecretStore for SsmSecrets {
    async fn secret(&self, name: &str) -> Result<Secret, Error> {
        if let Ok(cache) = self.cache.lock() {
            if let Some((at, secret)) = cache.get(name) {
                if at.elapsed() < SECRET_CACHE {
                    return Ok(secret.clone());
                }
            }
        }
        let output = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| classify("ssm:GetParameter", e))?;
        let value = output
            .parameter
            .and_then(|p| p.value)
            .ok_or_else(|| Error::permanent("ssm:GetParameter", format!("{name} has no value")))?;
        let secret = Secret::new(value);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(name.to_owned(), (Instant::now(), secret.clone()));
        }
        Ok(secret)
    }
}

/// The SNS and SSM clients of the notify functions.
#[derive(Clone, Debug)]
pub struct NotifyClients {
    /// SNS.
    pub sns: aws_sdk_sns::Client,
    /// SSM.
    pub ssm: aws_sdk_ssm::Client,
}

impl NotifyClients {
    /// The clients from the process's SDK configuration.
    pub fn from_aws(aws: &crate::AwsConfig) -> Self {
        NotifyClients {
            sns: aws.sns(),
            ssm: aws.ssm(),
        }
    }

    /// Loads an SDK configuration of its own for `endpoint_url` and `region` (tests and local
    /// tools, see [`crate::Clients::new`]).
    pub async fn new(endpoint_url: Option<&str>, region: &str, emulator_credentials: bool) -> Self {
        let options = crate::ClientOptions {
            emulator_credentials,
            ..crate::ClientOptions::default()
        };
        Self::from_aws(&crate::AwsConfig::load(options.at(endpoint_url, region)).await)
    }
}

/// Adding and removing subscriptions (what `ecites subscriptions` runs): the registry item,
/// the SNS subscription with its filter policy for the SNS channel, the secret for webhooks.
#[derive(Debug)]
pub struct SubscriptionAdmin {
    /// The registry.
    pub registry: DynamoSubscriptions,
    /// The topic.
    pub topic: SnsTopic,
    /// The secrets.
    pub secrets: SsmSecrets,
    /// Where webhooks may go ([`WebhookPolicy::from_env`] for the CLI, local for local runs).
    pub policy: ecites_exchange::notify::WebhookPolicy,
}

impl SubscriptionAdmin {
    /// Adds (or replaces) a subscription. For the SNS channel, subscribes the endpoint with the
    /// generated filter policy and records the subscription ARN; for a webhook, stores `secret`
    /// (when given) in SSM under the subscription's `secret_parameter`.
    pub async fn add(
        &self,
        mut subscription: Subscription,
        secret: Option<&Secret>,
    ) -> Result<Subscription, Error> {
        subscription
            .check_with(self.policy)
            .map_err(|e| Error::InvalidMessage(e.to_string()))?;
        if let Some(previous) = self.registry.get(&subscription.id).await? {
            self.unsubscribe(&previous).await?;
        }
        match &mut subscription.channel {
            Channel::Sns {
                subscription_arn, ..
            } => {
                *subscription_arn = None;
                let arn = self.topic.subscribe(&subscription).await?;
                if let Channel::Sns {
                    subscription_arn, ..
                } = &mut subscription.channel
                {
                    *subscription_arn = Some(arn);
                }
            }
            Channel::Webhook {
                secret_parameter, ..
            } => {
                if let Some(secret) = secret {
                    self.secrets.store(secret_parameter, secret).await?;
                }
            }
        }
        self.registry.put(&subscription).await?;
        Ok(subscription)
    }

    async fn unsubscribe(&self, subscription: &Subscription) -> Result<(), Error> {
        if let Channel::Sns {
            subscription_arn: Some(arn),
            ..
        } = &subscription.channel
        {
            self.topic.unsubscribe(arn).await?;
        }
        Ok(())
    }

    /// Removes a subscription (and its SNS subscription); `false` when there was none. The
    /// webhook secret is left in SSM for the operator to delete (it may be shared).
    pub async fn remove(&self, id: &str) -> Result<bool, Error> {
        match self.registry.get(id).await? {
            Some(subscription) => {
                self.unsubscribe(&subscription).await?;
                self.registry.delete(id).await
            }
            None => Ok(false),
        }
    }
}

/// Presigned S3 GET links to the standard XML, for webhook subscribers entitled to it (an
/// agency in another account cannot read the bucket itself).
#[derive(Clone, Debug)]
pub struct S3XmlLinks {
    client: aws_sdk_s3::Client,
}

impl S3XmlLinks {
    /// Links signed with `client`'s credentials.
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3XmlLinks { client }
    }
}

#[async_trait]
impl ecites_exchange::notify::XmlLinks for S3XmlLinks {
    async fn link(&self, bucket: &str, key: &str, ttl: Duration) -> Result<String, Error> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl)
            .map_err(|e| Error::permanent("s3 presign", e))?;
        let request = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| Error::permanent("s3 presign", e))?;
        Ok(request.uri().to_owned())
    }
}
