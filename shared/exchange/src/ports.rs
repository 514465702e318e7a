//! The small traits the use cases run over. The AWS crate implements them with S3, SQS and
//! DynamoDB; unit tests may use in-memory fakes for pure logic.

use crate::ledger::{NewCancellation, NewRejection, NewVersion, PermitStatus, Recorded};
use crate::messages::DeliveryMessage;
use crate::Error;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ecites_domain::PermitId;

/// An object read with a size bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// The object's bytes.
    Bytes(Vec<u8>),
    /// The object is larger than the bound; its body was not read.
    TooLarge {
        /// Its size in bytes.
        size: u64,
    },
}

/// Object storage (S3): inputs are read from it, canonical XML and reports written to it.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Reads an object (exactly `version_id` when given, else the current version), refusing to
    /// read more than `max_bytes`. A missing object or version is [`Error::NotFound`].
    async fn get(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        max_bytes: u64,
    ) -> Result<Fetched, Error>;
    /// Writes an object to the deployment's bucket (idempotent: same key, same bytes).
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), Error>;
    /// Removes an object of the deployment's bucket (what a refused message had stored); a
    /// missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), Error>;
    /// The deployment's bucket, as delivery messages name it.
    fn bucket(&self) -> &str;
}

/// The delivery ledger: permit versions, deliveries, rejections, audit trail.
///
/// Every method is idempotent: recording the same thing twice reports a duplicate and changes
/// nothing, which is what makes at-least-once triggers give exactly-once effects.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Records a valid permit version with its deliveries (one conditional write), or finds
    /// that the same content was recorded before.
    async fn record_version(&self, version: &NewVersion) -> Result<Recorded, Error>;
    /// Records the cancellation of the permit's current version with one cancellation delivery
    /// per recipient of that version. An unknown permit is [`Error::NotFound`].
    async fn record_cancellation(&self, cancellation: &NewCancellation) -> Result<Recorded, Error>;
    /// Records a cancellation that arrived before any version of its permit (a standard queue
    /// reorders messages), to take effect when the permit arrives; `false` when it was recorded
    /// before. The history shows it from now on.
    async fn record_waiting_cancellation(
        &self,
        cancellation: &NewCancellation,
    ) -> Result<bool, Error>;
    /// The cancellation waiting for this permit, if one is recorded and not yet applied.
    async fn waiting_cancellation(&self, id: &PermitId) -> Result<Option<NewCancellation>, Error>;
    /// Marks the waiting cancellation as applied (idempotent).
    async fn waiting_cancellation_applied(
        &self,
        id: &PermitId,
        at: DateTime<Utc>,
    ) -> Result<(), Error>;
    /// Records a rejected input against its permit; `false` when it was recorded before.
    async fn record_rejection(&self, rejection: &NewRejection) -> Result<bool, Error>;
    /// Everything the ledger holds on a permit (expired records are ignored).
    async fn status(&self, id: &PermitId) -> Result<PermitStatus, Error>;
}

/// The deliveries queue (SQS): one message per recipient for the forward function.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Sends the messages (batched); any message not accepted is a transient error.
    async fn send(&self, messages: &[DeliveryMessage]) -> Result<(), Error>;
}

/// The CITES checklist of the deployment, for the `listing` validation tier
/// ([`ecites_domain::validate_listing`]).
#[async_trait]
pub trait SpeciesChecklist: Send + Sync {
    /// The loaded checklist; `None` when the deployment has none (the tier is then skipped). A
    /// checklist that exists but cannot be read is a transient error: a deployment fault, not a
    /// fact about the permit.
    async fn checklist(&self) -> Result<Option<std::sync::Arc<ecites_domain::Checklist>>, Error>;
}

/// No checklist: the `listing` tier never runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoChecklist;

#[async_trait]
impl SpeciesChecklist for NoChecklist {
    async fn checklist(&self) -> Result<Option<std::sync::Arc<ecites_domain::Checklist>>, Error> {
        Ok(None)
    }
}

/// The time, injectable so tests control it.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
