//! DynamoDB: the ledger, one table for the whole exchange, one type ([`DynamoLedger`]) that
//! implements every port on it: the ledger of versions, deliveries, rejections and waiting
//! cancellations (this module's writes, [`read`]'s reads), the forward function's delivery
//! tracking and the receive function's documents and claims ([`exchange`]), customs uses
//! ([`uses`]) and the annual report index ([`report`]). Its layout (keys, attributes, indexes)
//! lives in [`table`] alone; its stream is decoded in [`stream`].

use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use ecites_domain::{CountryCode, PermitId};
use ecites_exchange::ledger::{
    delivery_id, use_delivery_id, DeliveryKind, DeliveryState, NewCancellation, NewRejection,
    NewVersion, PendingDelivery, PermitStatus, Recorded, VersionState,
};
use ecites_exchange::{Clock, Error, Ledger};
use std::sync::Arc;

mod exchange;
mod read;
mod report;
#[cfg(feature = "notify")]
pub mod stream;
pub mod table;
mod uses;

use table::{
    audit, base, delivery_prefix, delivery_sk, facts_attribute, file_in_report, get_n, get_s,
    hash_sk, key, n, number_key, pk, recipient_key, rejection_sk, s, time, version_sk, Item,
    APPLIED, HEAD_SK, UNDER_DELIVERY, USES_WAITING_SK, WAITING, WAITING_CANCELLATION_SK,
};

/// A version's transaction: the items, the version number, the pending deliveries and the
/// recipients without a partner.
type VersionTransaction = (
    Vec<TransactWriteItem>,
    u32,
    Vec<PendingDelivery>,
    Vec<CountryCode>,
);

/// How often a conditional write is retried when another writer changed the permit meanwhile.
const MAX_CONFLICT_RETRIES: usize = 5;

/// The delivery ledger on a DynamoDB table.
#[derive(Clone)]
pub struct DynamoLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DynamoLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoLedger")
            .field("table", &self.table)
            .finish()
    }
}

fn build_err(e: impl std::fmt::Display) -> Error {
    Error::permanent("dynamodb request", e)
}

fn put(table: &str, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, Error> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// One conditional update in a ledger transaction. Every update of the ledger moves a `state`
/// (a reserved word, hence `#state`) and some also the `ttl` (`#ttl`), so both names are
/// declared when the expressions use them; `values` are the expressions' `:placeholders`.
fn update<const N: usize>(
    table: &str,
    key: Item,
    expression: &str,
    condition: Option<&str>,
    values: [(&str, AttributeValue); N],
) -> Result<TransactWriteItem, Error> {
    let mut builder = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(expression)
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_values(Some(
            values
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
        ));
    for (placeholder, name) in [("#state", "state"), ("#ttl", "ttl")] {
        if expression.contains(placeholder) || condition.is_some_and(|c| c.contains(placeholder)) {
            builder = builder.expression_attribute_names(placeholder, name);
        }
    }
    Ok(TransactWriteItem::builder()
        .update(builder.build().map_err(build_err)?)
        .build())
}

/// The transaction item that holds while no cancellation waits for the permit: first in every
/// version transaction, so a permit whose cancellation came first learns it from the failed
/// condition at no extra request.
fn no_waiting_cancellation(table: &str, id: &PermitId) -> Result<TransactWriteItem, Error> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key(&pk(id), WAITING_CANCELLATION_SK)))
        .condition_expression("attribute_not_exists(PK) OR #state <> :waiting")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":waiting", s(WAITING))
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// The transaction item that holds while no customs use waits for the permit (next to
/// [`no_waiting_cancellation`]): a permit whose uses came first learns it from the failed
/// condition, at no extra request when none did.
fn no_waiting_uses(table: &str, id: &PermitId) -> Result<TransactWriteItem, Error> {
    no_waiting_uses_in(table, &pk(id))
}

/// [`no_waiting_uses`] for a permit partition key (the receive side's rows use it too).
pub(crate) fn no_waiting_uses_in(table: &str, permit_pk: &str) -> Result<TransactWriteItem, Error> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key(permit_pk, USES_WAITING_SK)))
        .condition_expression("attribute_not_exists(PK) OR #state <> :waiting")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":waiting", s(WAITING))
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

struct DeliveryRow<'a> {
    id: &'a PermitId,
    version: u32,
    kind: DeliveryKind,
    replaces_version: Option<u32>,
    recipient: CountryCode,
    endpoint: Option<&'a str>,
    no_partner_reason: Option<&'a str>,
    xml_key: &'a str,
    content_sha256: &'a str,
    reason: Option<&'a str>,
    at: DateTime<Utc>,
    retain_until: DateTime<Utc>,
    /// For a use told to the permit's issuer: the use's key (a permit may have several).
    use_key: Option<&'a str>,
}

impl DeliveryRow<'_> {
    fn state(&self) -> DeliveryState {
        if self.endpoint.is_some() {
            DeliveryState::Pending
        } else {
            DeliveryState::NoPartner
        }
    }

    fn delivery_id(&self) -> String {
        match self.use_key {
            Some(key) => use_delivery_id(self.id, key, self.recipient),
            None => delivery_id(self.id, self.version, self.kind, self.recipient),
        }
    }

    fn item(&self) -> Item {
        let sk = delivery_sk(self.version, self.kind, self.recipient, self.use_key);
        let mut item = base(self.id, &sk, "DELIVERY", self.retain_until);
        if let Some(key) = self.use_key {
            item.insert("use_key".into(), s(key));
        }
        let state = self.state();
        let delivery_id = self.delivery_id();
        item.insert("delivery_id".into(), s(delivery_id.clone()));
        item.insert("version".into(), n(self.version));
        item.insert("kind".into(), s(self.kind.as_str()));
        item.insert("recipient".into(), s(self.recipient.to_string()));
        item.insert("state".into(), s(state.as_str()));
        item.insert("attempts".into(), n(0));
        item.insert("xml_key".into(), s(self.xml_key));
        item.insert("content_sha256".into(), s(self.content_sha256));
        item.insert("created_at".into(), s(time(self.at)));
        item.insert("updated_at".into(), s(time(self.at)));
        if let Some(endpoint) = self.endpoint {
            item.insert("endpoint".into(), s(endpoint));
        }
        if let Some(reason) = self.no_partner_reason {
            item.insert("last_error".into(), s(reason));
        }
        if let Some(replaces) = self.replaces_version {
            item.insert("replaces_version".into(), n(replaces));
        }
        if let Some(reason) = self.reason {
            item.insert("reason".into(), s(reason));
        }
        if state.is_open() {
            item.insert("GSI1PK".into(), s(UNDER_DELIVERY));
            item.insert(
                "GSI1SK".into(),
                s(format!("{}#{delivery_id}", time(self.at))),
            );
        }
        item.insert("GSI2PK".into(), s(recipient_key(self.recipient)));
        item.insert(
            "GSI2SK".into(),
            s(format!("{}#{delivery_id}", time(self.at))),
        );
        item.insert("GSI3PK".into(), s(number_key(&self.id.number)));
        item.insert("GSI3SK".into(), s(format!("{}#{sk}", self.id.issuer)));
        item
    }

    fn pending(&self) -> Option<PendingDelivery> {
        Some(PendingDelivery {
            delivery_id: self.delivery_id(),
            id: self.id.clone(),
            version: self.version,
            kind: self.kind,
            replaces_version: self.replaces_version,
            recipient: self.recipient,
            endpoint: self.endpoint?.to_owned(),
            xml_key: self.xml_key.to_owned(),
            content_sha256: self.content_sha256.to_owned(),
            reason: self.reason.map(str::to_owned),
        })
    }
}

/// A pending delivery read back from its item.
fn pending_from_item(id: &PermitId, item: &Item) -> Option<PendingDelivery> {
    if get_s(item, "state") != Some(DeliveryState::Pending.as_str()) {
        return None;
    }
    Some(PendingDelivery {
        delivery_id: get_s(item, "delivery_id")?.to_owned(),
        id: id.clone(),
        version: u32::try_from(get_n(item, "version")?).ok()?,
        kind: DeliveryKind::parse(get_s(item, "kind")?)?,
        replaces_version: get_n(item, "replaces_version").and_then(|v| u32::try_from(v).ok()),
        recipient: get_s(item, "recipient")?.parse().ok()?,
        endpoint: get_s(item, "endpoint")?.to_owned(),
        xml_key: get_s(item, "xml_key")?.to_owned(),
        content_sha256: get_s(item, "content_sha256")?.to_owned(),
        reason: get_s(item, "reason").map(str::to_owned),
    })
}

impl DynamoLedger {
    /// The ledger on `table`; `clock` decides which items have expired.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        DynamoLedger {
            client,
            table: table.into(),
            clock,
        }
    }

    /// The ledger on `table`, expiry judged by the system clock (every function and command;
    /// tests that move time use [`DynamoLedger::new`]).
    pub fn on_table(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self::new(client, table, Arc::new(ecites_exchange::SystemClock))
    }

    fn expired(&self, item: &Item) -> bool {
        get_n(item, "ttl").is_some_and(|ttl| ttl < self.clock.now().timestamp())
    }

    /// The live item at `pk`, `sk` (consistent read; an expired item reads as none).
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, Error> {
        Ok(self
            .get_item(key(pk, sk))
            .await?
            .filter(|item| !self.expired(item)))
    }

    /// The item at `key` as stored (consistent read), expired or not.
    async fn get_item(&self, key: Item) -> Result<Option<Item>, Error> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("dynamodb:GetItem", e))?;
        Ok(output.item)
    }

    /// All live items of a partition whose sort key starts with `prefix`.
    async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, Error> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":pk", s(pk));
            query = if prefix.is_empty() {
                query.key_condition_expression("PK = :pk")
            } else {
                query
                    .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                    .expression_attribute_values(":prefix", s(prefix))
            };
            let output = query
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("dynamodb:Query", e))?;
            items.extend(
                output
                    .items
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|i| !self.expired(i)),
            );
            match output.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => break,
            }
        }
        Ok(items)
    }

    /// True when customs uses recorded before the permit wait to be checked again.
    pub(crate) async fn uses_waiting(&self, id: &PermitId) -> Result<bool, Error> {
        Ok(table::uses_wait(
            self.get(&pk(id), USES_WAITING_SK).await?.as_ref(),
        ))
    }

    async fn pending_of(
        &self,
        id: &PermitId,
        version: u32,
        kind: Option<DeliveryKind>,
    ) -> Result<Vec<PendingDelivery>, Error> {
        let items = self
            .query_prefix(&pk(id), &delivery_prefix(version, Some(kind).flatten()))
            .await?;
        Ok(items
            .iter()
            .filter_map(|item| pending_from_item(id, item))
            .filter(|p| {
                p.kind != DeliveryKind::Cancellation || kind == Some(DeliveryKind::Cancellation)
            })
            .collect())
    }

    /// Sends a transaction as it is; the callers read its cancellation reasons their own way.
    async fn send_transaction(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<
        (),
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        >,
    > {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
    }

    /// Sends a transaction; `Ok(false)` when a condition failed (someone else wrote first).
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, Error> {
        Ok(self.transact_detailed(items).await?.is_none())
    }

    /// Runs a transaction: `None` when it committed, else the positions of the items whose
    /// condition failed (empty when the service gave no reasons, or another transaction won).
    async fn transact_detailed(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<usize>>, Error> {
        match self.send_transaction(items).await {
            Ok(()) => Ok(None),
            Err(error) => {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                let reasons: Option<Vec<String>> = error.as_service_error().and_then(|e| match e {
                    TransactWriteItemsError::TransactionCanceledException(c) => Some(
                        c.cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or("None").to_owned())
                            .collect(),
                    ),
                    _ => None,
                });
                match reasons {
                    // A condition failed, or another transaction on the same items won
                    // (TransactionConflict), or the emulator gave no reasons: the caller re-reads
                    // the permit and decides (duplicate, next version, or try again).
                    Some(codes)
                        if codes.iter().all(|c| c == "None")
                            || codes.iter().any(|c| {
                                c == "ConditionalCheckFailed" || c == "TransactionConflict"
                            }) =>
                    {
                        Ok(Some(
                            codes
                                .iter()
                                .enumerate()
                                .filter(|(_, c)| *c == "ConditionalCheckFailed")
                                .map(|(i, _)| i)
                                .collect(),
                        ))
                    }
                    // Throttling or capacity reasons: retry the message later.
                    Some(codes) => Err(Error::transient(
                        "dynamodb:TransactWriteItems",
                        format!("transaction cancelled: {}", codes.join(", ")),
                    )),
                    None => Err(classify("dynamodb:TransactWriteItems", error)),
                }
            }
        }
    }

    /// The transaction of content that was sent before the current version `current` but
    /// arrived after it: its hash (so a redelivery is a duplicate of this decision) and an audit
    /// row, on the condition that `current` is still the current version. Nothing is delivered.
    fn superseded_transaction(
        &self,
        v: &NewVersion,
        current: u32,
        current_sent_at: &str,
    ) -> Result<Vec<TransactWriteItem>, Error> {
        let id = &v.id;
        let tag = v.content_sha256.get(..12).unwrap_or(&v.content_sha256);
        let mut hash = base(id, &hash_sk(&v.content_sha256), "HASH", v.retain_until);
        hash.insert("superseded_by".into(), n(current));
        let sent = v.sent_at.map(time).unwrap_or_default();
        Ok(vec![
            put(&self.table, hash, Some("attribute_not_exists(PK)"))?,
            update(
                &self.table,
                key(&pk(id), HEAD_SK),
                "SET updated_at = :at",
                Some("latest_version = :current"),
                [(":current", n(current)), (":at", s(time(v.received_at)))],
            )?,
            put(
                &self.table,
                audit(
                    id,
                    v.received_at,
                    tag,
                    1,
                    "SUPERSEDED_ON_ARRIVAL",
                    format!(
                        "content {} sent at {sent} from {} arrived after version {current} (sent at {current_sent_at}), which replaces it: recorded, not delivered (its XML is {})",
                        v.content_sha256, v.source, v.xml_key
                    ),
                    v.retain_until,
                ),
                None,
            )?,
        ])
    }

    /// The items recording `v` as the version after `previous`; with `check_waiting`, the
    /// first item is [`no_waiting_cancellation`].
    fn version_transaction(
        &self,
        v: &NewVersion,
        previous: Option<u32>,
        check_waiting: bool,
        check_uses: bool,
    ) -> Result<VersionTransaction, Error> {
        let id = &v.id;
        let version = previous.map_or(1, |p| p + 1);
        let at = v.received_at;
        let retain = v.retain_until;
        let tag = v.content_sha256.get(..12).unwrap_or(&v.content_sha256);
        let number_key = number_key(&id.number);
        let mut items = Vec::new();
        if check_waiting {
            items.push(no_waiting_cancellation(&self.table, id)?);
        }
        if check_uses {
            items.push(no_waiting_uses(&self.table, id)?);
        }
        let mut audit_seq = 0usize;
        let mut next_audit = |event: &str, detail: String| {
            audit_seq += 1;
            audit(id, at, tag, audit_seq, event, detail, retain)
        };

        let mut hash = base(id, &hash_sk(&v.content_sha256), "HASH", retain);
        hash.insert("version".into(), n(version));
        items.push(put(&self.table, hash, Some("attribute_not_exists(PK)"))?);

        let mut head = base(id, HEAD_SK, "HEAD", retain);
        head.insert("latest_version".into(), n(version));
        head.insert("latest_sha256".into(), s(v.content_sha256.clone()));
        head.insert("state".into(), s(VersionState::Active.as_str()));
        head.insert("updated_at".into(), s(time(at)));
        if let Some(sent_at) = v.sent_at {
            head.insert("latest_sent_at".into(), s(time(sent_at)));
        }
        head.insert("GSI3PK".into(), s(number_key.clone()));
        head.insert("GSI3SK".into(), s(format!("{}#HEAD", id.issuer)));
        match previous {
            None => items.push(put(&self.table, head, Some("attribute_not_exists(PK)"))?),
            Some(previous) => {
                // Keep the longest retention of any version on the head.
                // The head keeps the send time of the current version (absent when unknown).
                let sent = v.sent_at.map(|t| s(time(t))).unwrap_or_else(|| s(""));
                items.push(update(
                    &self.table,
                    key(&pk(id), HEAD_SK),
                    "SET latest_version = :v, latest_sha256 = :h, #state = :active, updated_at = :at, #ttl = :ttl, latest_sent_at = :sent",
                    Some("latest_version = :prev"),
                    [
                        (":prev", n(previous)),
                        (":v", n(version)),
                        (":h", s(v.content_sha256.clone())),
                        (":active", s(VersionState::Active.as_str())),
                        (":at", s(time(at))),
                        (":ttl", n(retain.timestamp())),
                        (":sent", sent),
                    ],
                )?);
                items.push(update(
                    &self.table,
                    key(&pk(id), &version_sk(previous)),
                    "SET #state = :replaced, replaced_by = :v, updated_at = :at",
                    Some("attribute_exists(PK)"),
                    [
                        (":replaced", s(VersionState::Replaced.as_str())),
                        (":v", n(version)),
                        (":at", s(time(at))),
                    ],
                )?);
            }
        }

        let mut row = base(id, &version_sk(version), "VERSION", retain);
        row.insert("version".into(), n(version));
        row.insert("state".into(), s(VersionState::Active.as_str()));
        row.insert("content_sha256".into(), s(v.content_sha256.clone()));
        row.insert("xml_key".into(), s(v.xml_key.clone()));
        row.insert("document_type".into(), s(v.document_type.clone()));
        row.insert("source".into(), s(v.source.clone()));
        row.insert("received_at".into(), s(time(at)));
        if let Some(sent_at) = v.sent_at {
            row.insert("sent_at".into(), s(time(sent_at)));
        }
        if let Some(until) = v.valid_until {
            row.insert("valid_until".into(), s(time(until)));
        }
        if !v.findings.is_empty() {
            let findings = serde_json::to_string(&v.findings)
                .map_err(|e| Error::permanent("serialize findings", e))?;
            row.insert("findings".into(), s(findings));
        }
        if v.endorsement {
            row.insert("endorsement".into(), s("true"));
        }
        if let Some(facts) = &v.facts {
            row.insert("facts".into(), facts_attribute(facts)?);
            let report =
                ecites_domain::report::ReportIndexKey::of_issued(id.issuer, facts, at.date_naive());
            file_in_report(
                &mut row,
                &report,
                &id.issuer.to_string(),
                &id.number,
                &format!("0#{version:06}"),
            );
        }
        row.insert("GSI3PK".into(), s(number_key));
        row.insert(
            "GSI3SK".into(),
            s(format!("{}#{}", id.issuer, version_sk(version))),
        );
        items.push(put(&self.table, row, Some("attribute_not_exists(PK)"))?);
        items.push(put(
            &self.table,
            next_audit(
                "VERSION_RECORDED",
                format!("version {version} ({}) from {}", v.content_sha256, v.source),
            ),
            None,
        )?);
        if let Some(previous) = previous {
            items.push(put(
                &self.table,
                next_audit(
                    "VERSION_REPLACED",
                    format!("version {previous} replaced by version {version}"),
                ),
                None,
            )?);
        }

        let kind = match (previous, v.endorsement) {
            (None, _) => DeliveryKind::Permit,
            (Some(_), false) => DeliveryKind::Replacement,
            (Some(_), true) => DeliveryKind::Endorsement,
        };
        let mut pending = Vec::new();
        let mut no_partner = Vec::new();
        for recipient in &v.recipients {
            let delivery = DeliveryRow {
                id,
                version,
                kind,
                replaces_version: previous,
                recipient: recipient.country,
                endpoint: recipient.endpoint.as_deref(),
                no_partner_reason: recipient.reason.as_deref(),
                xml_key: &v.xml_key,
                content_sha256: &v.content_sha256,
                reason: None,
                at,
                retain_until: retain,
                use_key: None,
            };
            items.push(put(
                &self.table,
                delivery.item(),
                Some("attribute_not_exists(PK)"),
            )?);
            let state = delivery.state();
            items.push(put(
                &self.table,
                next_audit(
                    "DELIVERY_STATE",
                    format!(
                        "{} v{version} to {}: -> {state}{}",
                        kind.as_str(),
                        recipient.country,
                        recipient
                            .reason
                            .as_deref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ),
                ),
                None,
            )?);
            match delivery.pending() {
                Some(p) => pending.push(p),
                None => no_partner.push(recipient.country),
            }
        }
        Ok((items, version, pending, no_partner))
    }
}

#[async_trait]
impl Ledger for DynamoLedger {
    async fn record_version(&self, v: &NewVersion) -> Result<Recorded, Error> {
        let id = &v.id;
        // Optimistic first attempt: most permits are new, so assume version 1 and let the
        // conditions tell otherwise; this keeps a new permit at one ledger request.
        let mut previous: Option<u32> = v.known_previous;
        let mut previous_sent_at: Option<String> = None;
        let mut check_waiting = true;
        let mut cancellation_waiting = false;
        let mut check_uses = true;
        let mut uses_waiting = false;
        for _ in 0..MAX_CONFLICT_RETRIES {
            // Sent before the current version (RFC 3339 in UTC with fixed digits: the strings
            // order as the times do): recorded as superseded, the current version stays.
            if let (Some(current), Some(current_sent), Some(sent)) =
                (previous, previous_sent_at.as_deref(), v.sent_at)
            {
                if !current_sent.is_empty() && time(sent).as_str() < current_sent {
                    let items = self.superseded_transaction(v, current, current_sent)?;
                    if self.transact(items).await? {
                        return Ok(Recorded::Superseded {
                            by_version: current,
                        });
                    }
                }
            }
            let (items, version, pending, no_partner) =
                self.version_transaction(v, previous, check_waiting, check_uses)?;
            let uses_index = usize::from(check_waiting);
            let Some(failed) = self.transact_detailed(items).await? else {
                return Ok(Recorded::New {
                    version,
                    pending,
                    no_partner,
                    cancellation_waiting,
                    uses_waiting,
                });
            };
            // Likewise for customs uses that came before the permit.
            if check_uses
                && (failed.is_empty() || failed.contains(&uses_index))
                && self.uses_waiting(id).await?
            {
                check_uses = false;
                uses_waiting = true;
            }
            // The first item failed (or the service did not say which): a cancellation may
            // wait for this permit. Record the version without the check and say so.
            if check_waiting
                && (failed.is_empty() || failed.contains(&0))
                && self.waiting_cancellation(id).await?.is_some()
            {
                check_waiting = false;
                cancellation_waiting = true;
            }
            if let Some(existing) = self.get(&pk(id), &hash_sk(&v.content_sha256)).await? {
                if let Some(by_version) =
                    get_n(&existing, "superseded_by").and_then(|v| u32::try_from(v).ok())
                {
                    return Ok(Recorded::Superseded { by_version });
                }
                let version = get_n(&existing, "version")
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| {
                        Error::permanent("ledger", format!("hash item of {id} has no version"))
                    })?;
                let pending = self.pending_of(id, version, None).await?;
                // A first attempt may have stopped before the waiting cancellation was applied.
                let cancellation_waiting = self.waiting_cancellation(id).await?.is_some();
                let uses_waiting = self.uses_waiting(id).await?;
                return Ok(Recorded::Duplicate {
                    version,
                    pending,
                    cancellation_waiting,
                    uses_waiting,
                });
            }
            let head = self.get(&pk(id), HEAD_SK).await?;
            previous = head
                .as_ref()
                .and_then(|h| get_n(h, "latest_version"))
                .and_then(|v| u32::try_from(v).ok());
            previous_sent_at = head
                .as_ref()
                .and_then(|h| get_s(h, "latest_sent_at"))
                .map(str::to_owned);
        }
        Err(Error::transient(
            "dynamodb:TransactWriteItems",
            format!("{id} kept changing under concurrent writers"),
        ))
    }

    async fn record_cancellation(&self, c: &NewCancellation) -> Result<Recorded, Error> {
        let id = &c.id;
        for _ in 0..MAX_CONFLICT_RETRIES {
            let Some(head) = self.get(&pk(id), HEAD_SK).await? else {
                return Err(Error::NotFound(format!("no version of {id} is recorded")));
            };
            let version = get_n(&head, "latest_version")
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| {
                    Error::permanent("ledger", format!("head of {id} has no version"))
                })?;
            if get_s(&head, "state") == Some(VersionState::Cancelled.as_str()) {
                let pending = self
                    .pending_of(id, version, Some(DeliveryKind::Cancellation))
                    .await?;
                return Ok(Recorded::Duplicate {
                    version,
                    pending,
                    cancellation_waiting: false,
                    uses_waiting: false,
                });
            }
            let retain = get_n(&head, "ttl")
                .and_then(|t| DateTime::from_timestamp(t, 0))
                .unwrap_or(c.received_at)
                .max(c.received_at);
            let version_item = self.get(&pk(id), &version_sk(version)).await?;
            let xml_key = version_item
                .as_ref()
                .and_then(|i| get_s(i, "xml_key"))
                .unwrap_or("")
                .to_owned();
            let sha = version_item
                .as_ref()
                .and_then(|i| get_s(i, "content_sha256"))
                .unwrap_or("")
                .to_owned();
            // The recipients of the cancelled version.
            let deliveries = self
                .query_prefix(&pk(id), &delivery_prefix(version, None))
                .await?;
            let mut recipients: Vec<(CountryCode, Option<String>, Option<String>)> = Vec::new();
            for item in &deliveries {
                if get_s(item, "kind") == Some(DeliveryKind::Cancellation.as_str()) {
                    continue;
                }
                let Some(recipient) = get_s(item, "recipient").and_then(|r| r.parse().ok()) else {
                    continue;
                };
                let endpoint = get_s(item, "endpoint").map(str::to_owned);
                let reason = endpoint
                    .is_none()
                    .then(|| get_s(item, "last_error").unwrap_or("no partner").to_owned());
                recipients.push((recipient, endpoint, reason));
            }
            let at = c.received_at;
            let tag = "cancel";
            let mut items = Vec::new();
            items.push(update(
                &self.table,
                key(&pk(id), HEAD_SK),
                "SET #state = :cancelled, updated_at = :at, cancel_reason = :reason",
                Some("latest_version = :v AND #state <> :cancelled"),
                [
                    (":cancelled", s(VersionState::Cancelled.as_str())),
                    (":at", s(time(at))),
                    (":reason", s(c.reason.clone())),
                    (":v", n(version)),
                ],
            )?);
            items.push(update(
                &self.table,
                key(&pk(id), &version_sk(version)),
                "SET #state = :cancelled, updated_at = :at",
                None,
                [
                    (":cancelled", s(VersionState::Cancelled.as_str())),
                    (":at", s(time(at))),
                ],
            )?);
            items.push(put(
                &self.table,
                audit(
                    id,
                    at,
                    tag,
                    1,
                    "CANCELLED",
                    format!(
                        "version {version} cancelled: {} (from {})",
                        c.reason, c.source
                    ),
                    retain,
                ),
                None,
            )?);
            let mut pending = Vec::new();
            let mut no_partner = Vec::new();
            for (seq, (recipient, endpoint, reason)) in recipients.iter().enumerate() {
                let delivery = DeliveryRow {
                    id,
                    version,
                    kind: DeliveryKind::Cancellation,
                    replaces_version: None,
                    recipient: *recipient,
                    endpoint: endpoint.as_deref(),
                    no_partner_reason: reason.as_deref(),
                    xml_key: &xml_key,
                    content_sha256: &sha,
                    reason: Some(&c.reason),
                    at,
                    retain_until: retain,
                    use_key: None,
                };
                items.push(put(
                    &self.table,
                    delivery.item(),
                    Some("attribute_not_exists(PK)"),
                )?);
                items.push(put(
                    &self.table,
                    audit(
                        id,
                        at,
                        tag,
                        seq + 2,
                        "DELIVERY_STATE",
                        format!(
                            "cancellation v{version} to {recipient}: -> {}",
                            delivery.state()
                        ),
                        retain,
                    ),
                    None,
                )?);
                match delivery.pending() {
                    Some(p) => pending.push(p),
                    None => no_partner.push(*recipient),
                }
            }
            if self.transact(items).await? {
                return Ok(Recorded::New {
                    version,
                    pending,
                    no_partner,
                    cancellation_waiting: false,
                    uses_waiting: false,
                });
            }
        }
        Err(Error::transient(
            "dynamodb:TransactWriteItems",
            format!("{id} kept changing under concurrent writers"),
        ))
    }

    async fn record_waiting_cancellation(&self, c: &NewCancellation) -> Result<bool, Error> {
        let id = &c.id;
        let retain = ecites_exchange::ingest::retain_until(c.received_at, None);
        let mut item = base(id, WAITING_CANCELLATION_SK, "CANCELLATION_WAITING", retain);
        item.insert("state".into(), s(WAITING));
        item.insert("reason".into(), s(c.reason.clone()));
        item.insert("source".into(), s(c.source.clone()));
        item.insert("received_at".into(), s(time(c.received_at)));
        let items = vec![
            put(&self.table, item, Some("attribute_not_exists(PK)"))?,
            put(
                &self.table,
                audit(
                    id,
                    c.received_at,
                    "waiting-cancel",
                    1,
                    "CANCELLATION_WAITING",
                    format!(
                        "cancellation received before any version of the permit: it takes effect when the permit arrives ({}, from {})",
                        c.reason, c.source
                    ),
                    retain,
                ),
                None,
            )?,
        ];
        self.transact(items).await
    }

    async fn waiting_cancellation(&self, id: &PermitId) -> Result<Option<NewCancellation>, Error> {
        let Some(item) = self.get(&pk(id), WAITING_CANCELLATION_SK).await? else {
            return Ok(None);
        };
        if get_s(&item, "state") != Some(WAITING) {
            return Ok(None);
        }
        let received_at = get_s(&item, "received_at")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                Error::permanent(
                    "ledger",
                    format!("waiting cancellation of {id} has no time"),
                )
            })?;
        Ok(Some(NewCancellation {
            id: id.clone(),
            reason: get_s(&item, "reason").unwrap_or("").to_owned(),
            source: get_s(&item, "source").unwrap_or("").to_owned(),
            received_at,
        }))
    }

    async fn waiting_cancellation_applied(
        &self,
        id: &PermitId,
        at: DateTime<Utc>,
    ) -> Result<(), Error> {
        let items = vec![update(
            &self.table,
            key(&pk(id), WAITING_CANCELLATION_SK),
            "SET #state = :applied, applied_at = :at",
            Some("#state = :waiting"),
            [
                (":applied", s(APPLIED)),
                (":waiting", s(WAITING)),
                (":at", s(time(at))),
            ],
        )?];
        // `false` (already applied by a concurrent or earlier attempt) is as good as `true`.
        self.transact(items).await.map(|_| ())
    }

    async fn record_rejection(&self, r: &NewRejection) -> Result<bool, Error> {
        let id = &r.id;
        let mut item = base(
            id,
            &rejection_sk(&r.content_sha256),
            "REJECTION",
            r.retain_until,
        );
        item.insert("reason".into(), s(r.reason.clone()));
        item.insert("source".into(), s(r.source.clone()));
        item.insert("report_key".into(), s(r.report_key.clone()));
        item.insert("received_at".into(), s(time(r.received_at)));
        item.insert(
            "errors".into(),
            n(r.findings.iter().filter(|f| f.is_error()).count()),
        );
        let findings = serde_json::to_string(&r.findings)
            .map_err(|e| Error::permanent("serialize findings", e))?;
        item.insert("findings".into(), s(findings));
        item.insert("state".into(), s("REJECTED"));
        item.insert("GSI3PK".into(), s(number_key(&id.number)));
        item.insert(
            "GSI3SK".into(),
            s(format!("{}#REJECTION#{}", id.issuer, r.content_sha256)),
        );
        let tag = r.content_sha256.get(..12).unwrap_or(&r.content_sha256);
        let items = vec![
            put(&self.table, item, Some("attribute_not_exists(PK)"))?,
            put(
                &self.table,
                audit(
                    id,
                    r.received_at,
                    tag,
                    1,
                    "REJECTED",
                    format!("{} (report {})", r.reason, r.report_key),
                    r.retain_until,
                ),
                None,
            )?,
        ];
        self.transact(items).await
    }

    async fn status(&self, id: &PermitId) -> Result<PermitStatus, Error> {
        self.read_status(id).await
    }
}
