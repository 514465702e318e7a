//! Notifications to customs and other agencies: the ledger's committed state changes
//! (its DynamoDB stream) become CloudEvents published on an SNS topic with filterable message
//! attributes, and signed webhooks queued for the agencies that subscribed to them.
//!
//! Two use cases: [`notify_change`] (one stream record in; publish and queue, each at most once
//! per event and subscriber thanks to ledger claims) and [`deliver_webhook`] (one queued webhook
//! job in; sign and POST, failures left to the queue's retries and DLQ so nothing is lost).
//! `docs/notifications.md` describes the whole design.

pub mod event;
pub mod signature;
pub mod subscription;
pub mod webhook_url;

/// The HTTP port webhooks are POSTed through (the one of [`crate::http`]).
pub use crate::http::{HttpError, HttpReply, HttpTransport};
pub use event::{
    cloud_event, message_attributes, state_change, ChangedItem, EventType, LedgerChange,
    PermitSummary, StateChange, XmlLocation,
};
pub use signature::{sign, verify, Secret, SignatureError, SIGNATURE_HEADER};
pub use subscription::{Channel, Filters, InvalidSubscription, Role, Subscription};
pub use webhook_url::{address_allowed, check_webhook_url, WebhookPolicy};

use crate::ports::{BlobStore, Clock, Fetched};
use crate::Error;
use async_trait::async_trait;
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};

/// Largest standard XML read to summarise a permit.
const MAX_XML_BYTES: u64 = 4 * 1024 * 1024;

/// The subscriber id under which topic publications are claimed (one publication per event;
/// SNS fans it out to the filter-policy subscriptions).
pub const TOPIC_SUBSCRIBER: &str = "sns-topic";

/// The subscription registry.
#[async_trait]
pub trait SubscriptionRegistry: Send + Sync {
    /// Every subscription.
    async fn list(&self) -> Result<Vec<Subscription>, Error>;
    /// One subscription, `None` once removed.
    async fn get(&self, id: &str) -> Result<Option<Subscription>, Error>;
}

/// What a claim found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// First time: go ahead.
    New,
    /// Claimed before but not completed (the earlier attempt stopped between claim and send):
    /// send again rather than lose it; the event id lets the subscriber drop the duplicate.
    Unfinished,
    /// Sent before: skip.
    Done,
}

/// Idempotency of notifications: one conditional write per (event id, subscriber).
#[async_trait]
pub trait NotificationClaims: Send + Sync {
    /// Claims the pair (conditional put).
    async fn claim(&self, event_id: &str, subscriber: &str) -> Result<Claim, Error>;
    /// Marks the pair sent.
    async fn complete(&self, event_id: &str, subscriber: &str) -> Result<(), Error>;
}

/// The notifications topic (SNS).
#[async_trait]
pub trait TopicPublisher: Send + Sync {
    /// Publishes one message with `(name, data type, value)` attributes.
    async fn publish(
        &self,
        message: &str,
        attributes: &[(&'static str, &'static str, String)],
    ) -> Result<(), Error>;
}

/// A webhook to POST, queued so that retries and the DLQ are the queue's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookJob {
    /// Always `webhook`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Format version (1).
    pub version: u32,
    /// The subscription (looked up again at delivery, so a removed one gets nothing).
    pub subscription_id: String,
    /// The CloudEvent to POST.
    pub event: serde_json::Value,
}

/// The webhook queue (SQS, with a DLQ).
#[async_trait]
pub trait WebhookQueue: Send + Sync {
    /// Queues a job.
    async fn enqueue(&self, job: &WebhookJob) -> Result<(), Error>;
}

/// Where webhook secrets live (SSM SecureString parameters), by name.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The secret named `name`.
    async fn secret(&self, name: &str) -> Result<Secret, Error>;
}

/// What [`notify_change`] needs.
#[derive(Clone, Copy)]
pub struct NotifyServices<'a> {
    /// To read the standard XML for the permit summary.
    pub blobs: &'a dyn BlobStore,
    /// The subscriptions.
    pub registry: &'a dyn SubscriptionRegistry,
    /// Idempotency.
    pub claims: &'a dyn NotificationClaims,
    /// The topic.
    pub topic: &'a dyn TopicPublisher,
    /// The webhook queue.
    pub webhooks: &'a dyn WebhookQueue,
    /// The time.
    pub clock: &'a dyn Clock,
}

/// What one stream record led to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notified {
    /// The event, when the record was one agencies care about.
    pub event: Option<(EventType, String)>,
    /// Published on the topic now (false when it had been before).
    pub published: bool,
    /// Webhook jobs queued now.
    pub webhooks_queued: usize,
    /// Webhook subscribers skipped because they had been notified before.
    pub duplicates: usize,
}

async fn summary_of(blobs: &dyn BlobStore, key: &str) -> Result<Option<PermitSummary>, Error> {
    match blobs.get(blobs.bucket(), key, None, MAX_XML_BYTES).await {
        Ok(Fetched::Bytes(bytes)) => match ecites_domain::xml::read_permit(&bytes) {
            Ok(decoded) => Ok(Some(PermitSummary::of(&decoded.permit))),
            Err(error) => {
                tracing::warn!(key, %error, "standard XML unreadable: notifying without a summary");
                Ok(None)
            }
        },
        Ok(Fetched::TooLarge { size }) => {
            tracing::warn!(
                key,
                size,
                "standard XML too large: notifying without a summary"
            );
            Ok(None)
        }
        Err(Error::NotFound(_)) => {
            tracing::warn!(key, "standard XML missing: notifying without a summary");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Runs `send` unless the pair was completed before; completes it after.
async fn at_most_once<F, Fut>(
    claims: &dyn NotificationClaims,
    event_id: &str,
    subscriber: &str,
    send: F,
) -> Result<bool, Error>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    if claims.claim(event_id, subscriber).await? == Claim::Done {
        return Ok(false);
    }
    send().await?;
    claims.complete(event_id, subscriber).await?;
    Ok(true)
}

/// Turns one committed ledger change into notifications: one topic publication and one queued
/// webhook per matching webhook subscription, each at most once per event id (a replayed or
/// duplicated stream record finds its claims completed). Errors are transient or permanent as
/// usual; the caller reports the record as failed so the stream retries it.
pub async fn notify_change(
    services: NotifyServices<'_>,
    deployment: &str,
    change: &LedgerChange,
) -> Result<Notified, Error> {
    let Some(sc) = state_change(change) else {
        return Ok(Notified::default());
    };
    let summary = match &sc.xml_key {
        Some(key) => summary_of(services.blobs, key).await?,
        None => None,
    };
    let now = services
        .clock
        .now()
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut outcome = Notified {
        event: Some((sc.event, sc.id.clone())),
        ..Notified::default()
    };

    // The topic gets every event, without the XML location (its subscribers are many).
    let public = cloud_event(&sc, deployment, summary.as_ref(), None, &now);
    let message = serde_json::to_string(&public)
        .map_err(|e| Error::permanent("serialize notification", e))?;
    let attributes = message_attributes(&sc, summary.as_ref());
    outcome.published = at_most_once(services.claims, &sc.id, TOPIC_SUBSCRIBER, || {
        services.topic.publish(&message, &attributes)
    })
    .await?;

    let xml = sc.xml_key.as_ref().map(|key| XmlLocation {
        bucket: services.blobs.bucket().to_owned(),
        key: key.clone(),
    });
    for subscription in services.registry.list().await? {
        if !matches!(subscription.channel, Channel::Webhook { .. })
            || !subscription.wants_change(&sc, summary.as_ref())
        {
            continue;
        }
        let event = cloud_event(
            &sc,
            deployment,
            summary.as_ref(),
            if subscription.include_xml {
                xml.as_ref()
            } else {
                None
            },
            &now,
        );
        let job = WebhookJob {
            kind: "webhook".into(),
            version: 1,
            subscription_id: subscription.id.clone(),
            event,
        };
        let queued = at_most_once(services.claims, &sc.id, &subscription.id, || {
            services.webhooks.enqueue(&job)
        })
        .await?;
        if queued {
            outcome.webhooks_queued += 1;
        } else {
            outcome.duplicates += 1;
        }
    }
    Ok(outcome)
}

/// Short-lived links to the standard XML for subscribers entitled to it (S3 presigned GET), made
/// at delivery time so a link never outlives its usefulness in a queue.
#[async_trait]
pub trait XmlLinks: Send + Sync {
    /// A URL that reads `key` of `bucket` for `ttl`.
    async fn link(
        &self,
        bucket: &str,
        key: &str,
        ttl: std::time::Duration,
    ) -> Result<String, Error>;
}

/// How long a link to the standard XML in a webhook stays valid.
pub const XML_LINK_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// What [`deliver_webhook`] needs.
#[derive(Clone, Copy)]
pub struct WebhookServices<'a> {
    /// Links to the XML (`None`: the webhook carries only bucket and key).
    pub links: Option<&'a dyn XmlLinks>,
    /// The subscriptions.
    pub registry: &'a dyn SubscriptionRegistry,
    /// The secrets.
    pub secrets: &'a dyn SecretStore,
    /// HTTP.
    pub transport: &'a dyn HttpTransport,
    /// The time (signature timestamps).
    pub clock: &'a dyn Clock,
    /// Where webhooks may go, checked again at every delivery.
    pub policy: WebhookPolicy,
}

/// What a webhook delivery did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// The subscriber answered 2xx.
    Delivered {
        /// The status.
        status: u16,
    },
    /// The subscription is gone (or is no longer a webhook): nothing is sent.
    Unsubscribed,
}

/// Signs and POSTs one queued webhook. Any non-2xx answer or network failure is a transient
/// error: the job stays on the queue, is retried after its visibility timeout, and after
/// `maxReceiveCount` attempts the queue moves it to the webhook DLQ, where an operator sees it
/// and can redrive it. Nothing is dropped.
pub async fn deliver_webhook(
    services: WebhookServices<'_>,
    body: &str,
) -> Result<WebhookOutcome, Error> {
    let job: WebhookJob = serde_json::from_str(body)
        .map_err(|e| Error::InvalidMessage(format!("not a webhook job: {e}")))?;
    if job.kind != "webhook" || job.version != 1 {
        return Err(Error::InvalidMessage(format!(
            "unsupported job {} v{}",
            job.kind, job.version
        )));
    }
    let Some(subscription) = services.registry.get(&job.subscription_id).await? else {
        return Ok(WebhookOutcome::Unsubscribed);
    };
    let Channel::Webhook {
        url,
        secret_parameter,
    } = &subscription.channel
    else {
        return Ok(WebhookOutcome::Unsubscribed);
    };
    // The URL is checked again now: the registry may hold a subscription added before a rule
    // existed, or written around the admin. Refused URLs are permanent errors (the job ends in
    // the DLQ, visible to the operator, never sent).
    let target = check_webhook_url(url, services.policy).map_err(|why| {
        Error::permanent(
            "webhook POST",
            format!("subscription {}: {why}", subscription.id),
        )
    })?;
    let secret = services.secrets.secret(secret_parameter).await?;
    let mut event = job.event;
    if let (Some(links), Some(xml)) = (services.links, event["data"].get_mut("xml")) {
        if let (Some(bucket), Some(key)) = (xml["bucket"].as_str(), xml["key"].as_str()) {
            let url = links.link(bucket, key, XML_LINK_TTL).await?;
            xml["url"] = serde_json::Value::from(url);
        }
    }
    let body =
        serde_json::to_vec(&event).map_err(|e| Error::permanent("serialize notification", e))?;
    let timestamp = services.clock.now().timestamp();
    let event_id = event["id"].as_str().unwrap_or_default().to_owned();
    let headers = [
        ("Content-Type", "application/cloudevents+json".to_owned()),
        (SIGNATURE_HEADER, sign(&secret, timestamp, &body)),
        ("X-Ecites-Event-Id", event_id),
        ("X-Ecites-Subscription", subscription.id.clone()),
    ];
    // The error names the subscription, not its URL (which may carry a token).
    let status = match services
        .transport
        .post(target.as_str(), &headers, body)
        .await
    {
        Ok(reply) => reply.status,
        Err(error) => {
            let why = format!("subscription {}: {}", subscription.id, error.reason());
            return Err(if error.is_transient() {
                Error::transient("webhook POST", why)
            } else {
                Error::permanent("webhook POST", why)
            });
        }
    };
    if (200..300).contains(&status) {
        Ok(WebhookOutcome::Delivered { status })
    } else if (300..400).contains(&status) {
        Err(Error::transient(
            "webhook POST",
            format!(
                "subscriber {} answered HTTP {status}, a redirect: never followed, the \
                 delivery failed",
                subscription.id
            ),
        ))
    } else {
        Err(Error::transient(
            "webhook POST",
            format!("subscriber {} answered HTTP {status}", subscription.id),
        ))
    }
}

#[cfg(test)]
mod tests;
