//! In-memory ports, for unit tests of the use cases' own logic (what is accepted, refused,
//! reported, sent): one set for every crate's tests (feature `testing`; this crate's own tests
//! have it always). They keep what they are given and answer from it; storage semantics
//! (conditional writes, idempotency under concurrency, expiry) are not modelled here and are
//! pinned by the end-to-end tests against the emulator.

use crate::directory::{Agency, Directory, Partner, PartnerDirectory};
use crate::forward::{Attempt, DeliveryTracker};
use crate::http::{HttpError, HttpReply, HttpTransport};
use crate::ledger::{DeliveryState, NewCancellation, NewRejection, NewVersion, PendingDelivery};
use crate::ledger::{PermitStatus, Recorded};
use crate::messages::DeliveryMessage;
use crate::notify::{
    Claim, NotificationClaims, Secret, SecretStore, Subscription, SubscriptionRegistry,
    TopicPublisher, WebhookJob, WebhookQueue,
};
use crate::ports::{BlobStore, Clock, DeliveryQueue, Fetched, Ledger};
use crate::receive::{InboundLedger, NewReceived, ReceivedRecord};
use crate::usage::{NewUse, PermitUses, UseLedger, UseRecorded};
use crate::Error;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ecites_domain::{CountryCode, Finding, PermitId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

/// A clock stopped at one instant.
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub DateTime<Utc>);

impl FixedClock {
    /// Stopped at an RFC 3339 time (panics on a malformed one: a test's own constant).
    pub fn at(rfc3339: &str) -> Self {
        FixedClock(rfc3339.parse().expect("an RFC 3339 time"))
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Decides whether a write of a key fails, and how.
type PutRefusal = Box<dyn Fn(&str) -> Option<Error> + Send + Sync>;

/// A bucket in memory: objects by key. `get` finds an object by key in any bucket named.
#[derive(Default)]
pub struct MemoryBlobs {
    bucket: String,
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    refuse_put: Option<PutRefusal>,
}

impl std::fmt::Debug for MemoryBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBlobs")
            .field("bucket", &self.bucket)
            .field("objects", &lock(&self.objects).len())
            .finish()
    }
}

impl MemoryBlobs {
    /// An empty bucket named `bucket`.
    pub fn new(bucket: &str) -> Self {
        MemoryBlobs {
            bucket: bucket.to_owned(),
            ..MemoryBlobs::default()
        }
    }

    /// The bucket, whose writes fail with the error `refuse` gives for a key (S3 slowing down,
    /// a key it can never hold, ...); `None` lets the write through.
    pub fn refusing_puts(
        self,
        refuse: impl Fn(&str) -> Option<Error> + Send + Sync + 'static,
    ) -> Self {
        MemoryBlobs {
            refuse_put: Some(Box::new(refuse)),
            ..self
        }
    }

    /// The bucket with one more object.
    pub fn with(self, key: &str, bytes: impl Into<Vec<u8>>) -> Self {
        lock(&self.objects).insert(key.to_owned(), bytes.into());
        self
    }

    /// Every object, by key.
    pub fn objects(&self) -> BTreeMap<String, Vec<u8>> {
        lock(&self.objects).clone()
    }
}

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn get(&self, _: &str, key: &str, _: Option<&str>, _: u64) -> Result<Fetched, Error> {
        lock(&self.objects)
            .get(key)
            .cloned()
            .map(Fetched::Bytes)
            .ok_or_else(|| Error::NotFound(key.to_owned()))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, _: &str) -> Result<(), Error> {
        if let Some(error) = self.refuse_put.as_ref().and_then(|refuse| refuse(key)) {
            return Err(error);
        }
        lock(&self.objects).insert(key.to_owned(), bytes);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), Error> {
        lock(&self.objects).remove(key);
        Ok(())
    }

    fn bucket(&self) -> &str {
        &self.bucket
    }
}

/// The partner directory, from a document held in memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryDirectory(pub Directory);

impl MemoryDirectory {
    /// A directory of these partners.
    pub fn of(partners: impl IntoIterator<Item = Partner>) -> Self {
        MemoryDirectory(Directory {
            partners: partners.into_iter().collect(),
            ..Directory::default()
        })
    }
}

#[async_trait]
impl PartnerDirectory for MemoryDirectory {
    async fn partner(&self, country: CountryCode) -> Result<Option<Partner>, Error> {
        Ok(self.0.get(country).cloned())
    }

    async fn agency(&self, id: &str) -> Result<Option<Agency>, Error> {
        Ok(self.0.agency(id).cloned())
    }
}

/// The deliveries queue: keeps what is sent.
#[derive(Debug, Default)]
pub struct MemoryQueue(Mutex<Vec<DeliveryMessage>>);

impl MemoryQueue {
    /// Every message sent, in order.
    pub fn sent(&self) -> Vec<DeliveryMessage> {
        lock(&self.0).clone()
    }
}

#[async_trait]
impl DeliveryQueue for MemoryQueue {
    async fn send(&self, messages: &[DeliveryMessage]) -> Result<(), Error> {
        lock(&self.0).extend_from_slice(messages);
        Ok(())
    }
}

/// A ledger that records what the use case writes: every version is new (version 1) with a
/// pending delivery to each recipient that has an endpoint; cancellations find no permit;
/// one cancellation may wait.
#[derive(Debug, Default)]
pub struct RecordingLedger {
    versions: Mutex<Vec<NewVersion>>,
    waiting: Mutex<Option<NewCancellation>>,
    rejections: Mutex<Vec<NewRejection>>,
}

impl RecordingLedger {
    /// The versions recorded.
    pub fn versions(&self) -> Vec<NewVersion> {
        lock(&self.versions).clone()
    }

    /// The rejections recorded.
    pub fn rejections(&self) -> Vec<NewRejection> {
        lock(&self.rejections).clone()
    }

    /// The cancellation waiting for its permit, if any.
    pub fn waiting(&self) -> Option<NewCancellation> {
        lock(&self.waiting).clone()
    }
}

#[async_trait]
impl Ledger for RecordingLedger {
    async fn record_version(&self, version: &NewVersion) -> Result<Recorded, Error> {
        lock(&self.versions).push(version.clone());
        let pending = version
            .recipients
            .iter()
            .filter_map(|r| {
                Some(PendingDelivery {
                    delivery_id: format!("{}/{}", version.id, r.country),
                    id: version.id.clone(),
                    version: 1,
                    kind: crate::DeliveryKind::Permit,
                    replaces_version: None,
                    recipient: r.country,
                    endpoint: r.endpoint.clone()?,
                    xml_key: version.xml_key.clone(),
                    content_sha256: version.content_sha256.clone(),
                    reason: None,
                })
            })
            .collect();
        Ok(Recorded::New {
            version: 1,
            pending,
            no_partner: Vec::new(),
            cancellation_waiting: false,
            uses_waiting: false,
        })
    }

    async fn record_cancellation(&self, c: &NewCancellation) -> Result<Recorded, Error> {
        Err(Error::NotFound(c.id.to_string()))
    }

    async fn record_waiting_cancellation(&self, c: &NewCancellation) -> Result<bool, Error> {
        let mut waiting = lock(&self.waiting);
        let new = waiting.is_none();
        waiting.get_or_insert_with(|| c.clone());
        Ok(new)
    }

    async fn waiting_cancellation(&self, _: &PermitId) -> Result<Option<NewCancellation>, Error> {
        Ok(lock(&self.waiting).clone())
    }

    async fn waiting_cancellation_applied(
        &self,
        _: &PermitId,
        _: DateTime<Utc>,
    ) -> Result<(), Error> {
        Ok(())
    }

    async fn record_rejection(&self, rejection: &NewRejection) -> Result<bool, Error> {
        lock(&self.rejections).push(rejection.clone());
        Ok(true)
    }

    async fn status(&self, _: &PermitId) -> Result<PermitStatus, Error> {
        Ok(PermitStatus::default())
    }
}

/// A ledger without customs uses: none recorded, none waiting.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoUses;

#[async_trait]
impl UseLedger for NoUses {
    async fn permit_uses(&self, _: &PermitId) -> Result<PermitUses, Error> {
        Ok(PermitUses::default())
    }

    async fn record_use(&self, _: &NewUse) -> Result<UseRecorded, Error> {
        Ok(UseRecorded::New)
    }

    async fn uses_rechecked(&self, _: &PermitId, _: DateTime<Utc>) -> Result<(), Error> {
        Ok(())
    }

    async fn mark_replaced(&self, _: &PermitId, _: &str, _: DateTime<Utc>) -> Result<(), Error> {
        Ok(())
    }

    async fn recheck_use(
        &self,
        _: &PermitId,
        _: &str,
        _: &[Finding],
        _: &ecites_domain::usage::PermitFacts,
        _: DateTime<Utc>,
    ) -> Result<bool, Error> {
        Ok(false)
    }
}

/// One delivery's tracking: its state, and the attempts recorded while it was pending.
#[derive(Debug)]
pub struct MemoryTracker {
    state: Mutex<Option<DeliveryState>>,
    attempts: Mutex<Vec<Attempt>>,
}

impl MemoryTracker {
    /// A delivery in `state` (`None`: not on record).
    pub fn new(state: Option<DeliveryState>) -> Self {
        MemoryTracker {
            state: Mutex::new(state),
            attempts: Mutex::default(),
        }
    }

    /// The delivery's state now.
    pub fn state(&self) -> Option<DeliveryState> {
        *lock(&self.state)
    }

    /// The attempts recorded.
    pub fn attempts(&self) -> Vec<Attempt> {
        lock(&self.attempts).clone()
    }
}

#[async_trait]
impl DeliveryTracker for MemoryTracker {
    async fn delivery_state(&self, _: &DeliveryMessage) -> Result<Option<DeliveryState>, Error> {
        Ok(self.state())
    }

    async fn record_attempt(&self, _: &DeliveryMessage, attempt: &Attempt) -> Result<bool, Error> {
        let mut state = lock(&self.state);
        if *state != Some(DeliveryState::Pending) {
            return Ok(false);
        }
        *state = Some(attempt.state);
        lock(&self.attempts).push(attempt.clone());
        Ok(true)
    }

    async fn reopen(&self, _: &DeliveryMessage, _: DateTime<Utc>) -> Result<bool, Error> {
        Ok(false)
    }

    async fn await_pull(&self, _: &DeliveryMessage, _: DateTime<Utc>) -> Result<bool, Error> {
        Ok(self.state() == Some(DeliveryState::Pending))
    }
}

/// The receive side's records: message id claims, and one received record per document
/// (sender, number, version, status) with its digest, so a second copy is a duplicate and a
/// different document under the same identity a conflict.
#[derive(Debug, Default)]
pub struct MemoryInbound {
    claims: Mutex<HashSet<String>>,
    records: Mutex<HashMap<String, (ReceivedRecord, String)>>,
    /// How many more `record_received` calls apply the write and then fail transiently (a
    /// lost answer).
    answers_to_lose: Mutex<usize>,
}

impl MemoryInbound {
    /// A ledger whose first `n` recordings are applied but answered with a transient error,
    /// as when DynamoDB's answer is lost on the way back.
    pub fn losing_answers(n: usize) -> Self {
        MemoryInbound {
            answers_to_lose: Mutex::new(n),
            ..MemoryInbound::default()
        }
    }

    /// How many documents are on record.
    pub fn received(&self) -> usize {
        lock(&self.records).len()
    }
}

#[async_trait]
impl InboundLedger for MemoryInbound {
    async fn claim_message(
        &self,
        from: CountryCode,
        message_id: &str,
        _: DateTime<Utc>,
    ) -> Result<bool, Error> {
        Ok(lock(&self.claims).insert(format!("{from}/{message_id}")))
    }

    async fn record_received(&self, r: &NewReceived) -> Result<ReceivedRecord, Error> {
        let key = format!(
            "{}/{}/{}/{:?}",
            r.from, r.permit_number, r.permit_version, r.status
        );
        let mut records = lock(&self.records);
        if let Some((existing, digest)) = records.get(&key) {
            let conflict = *digest != r.document_sha256;
            return Ok(ReceivedRecord {
                duplicate: !conflict,
                conflict,
                ..existing.clone()
            });
        }
        let record = ReceivedRecord {
            tracking_number: r.tracking_number.clone(),
            ack_status: r.ack_status,
            duplicate: false,
            conflict: false,
            uses_waiting: false,
        };
        records.insert(key, (record.clone(), r.document_sha256.clone()));
        let mut to_lose = lock(&self.answers_to_lose);
        if *to_lose > 0 {
            *to_lose -= 1;
            return Err(Error::transient(
                "dynamodb:TransactWriteItems",
                "the answer was lost (the write was applied)",
            ));
        }
        Ok(record)
    }
}

/// The subscription registry, from a list.
#[derive(Clone, Debug, Default)]
pub struct MemoryRegistry(pub Vec<Subscription>);

#[async_trait]
impl SubscriptionRegistry for MemoryRegistry {
    async fn list(&self) -> Result<Vec<Subscription>, Error> {
        Ok(self.0.clone())
    }

    async fn get(&self, id: &str) -> Result<Option<Subscription>, Error> {
        Ok(self.0.iter().find(|s| s.id == id).cloned())
    }
}

/// Notification claims: `true` once completed.
#[derive(Debug, Default)]
pub struct MemoryClaims(Mutex<HashMap<(String, String), bool>>);

#[async_trait]
impl NotificationClaims for MemoryClaims {
    async fn claim(&self, event_id: &str, subscriber: &str) -> Result<Claim, Error> {
        let mut claims = lock(&self.0);
        let key = (event_id.to_owned(), subscriber.to_owned());
        Ok(match claims.get(&key) {
            None => {
                claims.insert(key, false);
                Claim::New
            }
            Some(false) => Claim::Unfinished,
            Some(true) => Claim::Done,
        })
    }

    async fn complete(&self, event_id: &str, subscriber: &str) -> Result<(), Error> {
        lock(&self.0).insert((event_id.to_owned(), subscriber.to_owned()), true);
        Ok(())
    }
}

/// Header or attribute pairs: (name, value).
pub type Pairs = Vec<(String, String)>;

/// The notification topic: keeps each message with its attributes (name, value); the first
/// `fail_first` publications fail transiently.
#[derive(Debug, Default)]
pub struct MemoryTopic {
    published: Mutex<Vec<(String, Pairs)>>,
    fail_first: Mutex<usize>,
}

impl MemoryTopic {
    /// A topic whose first `n` publications fail.
    pub fn failing_first(n: usize) -> Self {
        MemoryTopic {
            fail_first: Mutex::new(n),
            ..MemoryTopic::default()
        }
    }

    /// What was published, in order.
    pub fn published(&self) -> Vec<(String, Pairs)> {
        lock(&self.published).clone()
    }
}

#[async_trait]
impl TopicPublisher for MemoryTopic {
    async fn publish(
        &self,
        message: &str,
        attributes: &[(&'static str, &'static str, String)],
    ) -> Result<(), Error> {
        fail_first(&self.fail_first, "sns:Publish")?;
        let attributes = attributes
            .iter()
            .map(|(name, _, value)| ((*name).to_owned(), value.clone()))
            .collect();
        lock(&self.published).push((message.to_owned(), attributes));
        Ok(())
    }
}

/// The webhook queue: keeps each job; the first `fail_first` sends fail transiently.
#[derive(Debug, Default)]
pub struct MemoryWebhookQueue {
    jobs: Mutex<Vec<WebhookJob>>,
    fail_first: Mutex<usize>,
}

impl MemoryWebhookQueue {
    /// A queue whose first `n` sends fail.
    pub fn failing_first(n: usize) -> Self {
        MemoryWebhookQueue {
            fail_first: Mutex::new(n),
            ..MemoryWebhookQueue::default()
        }
    }

    /// The jobs queued, in order.
    pub fn jobs(&self) -> Vec<WebhookJob> {
        lock(&self.jobs).clone()
    }
}

#[async_trait]
impl WebhookQueue for MemoryWebhookQueue {
    async fn enqueue(&self, job: &WebhookJob) -> Result<(), Error> {
        fail_first(&self.fail_first, "sqs:SendMessage")?;
        lock(&self.jobs).push(job.clone());
        Ok(())
    }
}

/// Webhook secrets by parameter name.
#[derive(Debug, Default)]
pub struct MemorySecrets(pub HashMap<String, String>);

impl MemorySecrets {
    /// One secret under one parameter name.
    pub fn one(parameter: &str, secret: &str) -> Self {
        MemorySecrets(HashMap::from([(parameter.to_owned(), secret.to_owned())]))
    }
}

#[async_trait]
impl SecretStore for MemorySecrets {
    async fn secret(&self, name: &str) -> Result<Secret, Error> {
        self.0
            .get(name)
            .map(Secret::new)
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }
}

/// A POST as the transport saw it: URL, headers, body.
pub type Post = (String, Pairs, Vec<u8>);

/// An HTTP transport that answers every POST with one reply and keeps what was posted.
#[derive(Debug)]
pub struct RecordingHttp {
    reply: Result<HttpReply, HttpError>,
    posts: Mutex<Vec<Post>>,
}

impl RecordingHttp {
    /// Answers every POST with `reply`.
    pub fn answering(reply: Result<HttpReply, HttpError>) -> Self {
        RecordingHttp {
            reply,
            posts: Mutex::default(),
        }
    }

    /// Answers every POST with `status` and an empty body.
    pub fn status(status: u16) -> Self {
        Self::answering(Ok(HttpReply {
            status,
            retry_after: None,
            body: Vec::new(),
        }))
    }

    /// What was posted, in order.
    pub fn posts(&self) -> Vec<Post> {
        lock(&self.posts).clone()
    }
}

#[async_trait]
impl HttpTransport for RecordingHttp {
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<HttpReply, HttpError> {
        let headers = headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        lock(&self.posts).push((url.to_owned(), headers, body));
        self.reply.clone()
    }
}

/// Takes one from a failure budget: a transient error while it lasts.
fn fail_first(budget: &Mutex<usize>, operation: &str) -> Result<(), Error> {
    let mut left = lock(budget);
    if *left > 0 {
        *left -= 1;
        return Err(Error::transient(operation, "injected failure"));
    }
    Ok(())
}

/// A test's lock: a poisoned one (a panicking test) is still read.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The runner of the generated hostile-request tests: a fixed `seed` (ChaCha), no failure
/// files, 96 cases in `make test` or `ECITES_HOSTILE_CASES` when set (`make soak` runs
/// thousands).
#[cfg(test)]
pub fn hostile_runner(seed: u8) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let cases = std::env::var("ECITES_HOSTILE_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(96);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    )
}

/// An active partner `country` on an unused loopback port, trusting `key` (its key id as the
/// key's own): the sender of the receive tests' messages.
pub fn loopback_partner(country: &str, key: &crate::protocol::SigningIdentity) -> Partner {
    Partner {
        public_key: Some(key.public_key_base64()),
        key_id: Some(key.key_id.clone()),
        ..Partner::new(
            country.parse().expect("a country code"),
            "http://127.0.0.1:9/",
        )
    }
}

/// The pull side's ledger: one permit's status, the headers a recipient is listed, and the
/// audit rows written.
#[derive(Debug, Default)]
pub struct MemoryPull {
    /// The permit on record and its status.
    pub permit: Option<(PermitId, PermitStatus)>,
    /// What `deliveries_to` answers.
    pub headers: crate::query::HeadersAnswer,
    audits: Mutex<Vec<(String, String)>>,
}

impl MemoryPull {
    /// A ledger holding `status` for `id`.
    pub fn holding(id: PermitId, status: PermitStatus) -> Self {
        MemoryPull {
            permit: Some((id, status)),
            ..MemoryPull::default()
        }
    }

    /// The audit rows written: `(event, detail)`.
    pub fn audits(&self) -> Vec<(String, String)> {
        lock(&self.audits).clone()
    }
}

#[async_trait]
impl crate::query::PullLedger for MemoryPull {
    async fn permit(&self, id: &PermitId) -> Result<PermitStatus, Error> {
        Ok(match &self.permit {
            Some((held, status)) if held == id => status.clone(),
            _ => PermitStatus::default(),
        })
    }

    async fn deliveries_to(
        &self,
        _: CountryCode,
        _: DateTime<Utc>,
        _: Option<&str>,
        _: usize,
    ) -> Result<crate::query::HeadersAnswer, Error> {
        Ok(self.headers.clone())
    }

    async fn audit(
        &self,
        _: &PermitId,
        _: DateTime<Utc>,
        event: &str,
        detail: &str,
    ) -> Result<(), Error> {
        lock(&self.audits).push((event.to_owned(), detail.to_owned()));
        Ok(())
    }
}
