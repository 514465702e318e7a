//! The exchange's records on the ledger table: the forward function's delivery tracking
//! transitions ([`DeliveryTracker`]), the receive function's received documents and message id
//! claims ([`InboundLedger`]), and the operator's replays of deliveries (design in
//! `docs/exchange.md`; keys in [`super::table`]).

use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Months, Utc};
use ecites_domain::CountryCode;
use ecites_domain::PermitId;
use ecites_exchange::forward::{awaiting_pull_reason, Attempt, DeliveryTracker};
use ecites_exchange::ledger::{DeliveryKind, DeliveryState, PermitStatus};
use ecites_exchange::protocol::AckStatus;
use ecites_exchange::query::{DeliveryHeader, HeadersAnswer, PullLedger};
use ecites_exchange::receive::{InboundLedger, NewReceived, ReceivedRecord};
use ecites_exchange::{DeliveryMessage, Error};
use std::collections::HashMap;

use super::table::{
    audit_sk, delivery_sk, facts_attribute, file_in_report, get_n, get_s, key, message_claim_key,
    n, permit_pk, received_sk, recipient_key, s, time, uses_wait, uses_waiting_key, Item,
    GSI_BY_RECIPIENT, MESSAGE_SK, UNDER_DELIVERY,
};
use super::{build_err, DynamoLedger};

/// How long audit rows of exchange are kept (CITES: at least 5 years).
const RETAIN_MONTHS: u32 = 6 * 12;
/// How long a message id claim is kept: well past the ±5 minute window, after which a replay
/// is refused by its `sent_at` anyway.
const CLAIM_TTL_SECONDS: i64 = 24 * 3600;

/// The key of the delivery a message is about.
fn delivery_key(message: &DeliveryMessage) -> Item {
    key(
        &permit_pk(&message.issuer, &message.permit_number),
        &delivery_sk(
            message.permit_version,
            message.kind,
            &message.recipient,
            message.use_key.as_deref(),
        ),
    )
}

/// The key of a received document.
fn received_key(from: CountryCode, number: &str, version: u32, status: &str) -> Item {
    key(
        &permit_pk(&from.to_string(), number),
        &received_sk(version, status),
    )
}

fn retain(at: DateTime<Utc>) -> i64 {
    at.checked_add_months(Months::new(RETAIN_MONTHS))
        .unwrap_or(at)
        .timestamp()
}

fn audit_put(
    table: &str,
    issuer: &str,
    number: &str,
    at: DateTime<Utc>,
    tag: &str,
    event: &str,
    detail: String,
) -> Result<TransactWriteItem, Error> {
    let mut item = key(&permit_pk(issuer, number), &audit_sk(at, tag, 0));
    item.extend([
        ("type".to_owned(), s("AUDIT")),
        ("issuer".to_owned(), s(issuer)),
        ("permit_number".to_owned(), s(number)),
        ("event".to_owned(), s(event)),
        ("detail".to_owned(), s(detail)),
        ("at".to_owned(), s(time(at))),
        ("ttl".to_owned(), n(retain(at))),
    ]);
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl DynamoLedger {
    /// `Ok(false)` when a condition of the transaction failed; any other cancellation
    /// (a conflict with another transaction, throttling) is an error to retry the message on.
    async fn transact_exchange(&self, items: Vec<TransactWriteItem>) -> Result<bool, Error> {
        match self.send_transaction(items).await {
            Ok(()) => Ok(true),
            Err(error) => {
                let by_condition = error.as_service_error().and_then(|e| match e {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(
                        c.cancellation_reasons().is_empty()
                            || c.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed")),
                    ),
                    _ => None,
                });
                match by_condition {
                    Some(true) => Ok(false),
                    _ => Err(classify("dynamodb:TransactWriteItems", error)),
                }
            }
        }
    }

    /// The delivery's attributes as text (state, attempts, tracking_number, last_error, ...),
    /// for tests and operators.
    pub async fn delivery_fields(
        &self,
        message: &DeliveryMessage,
    ) -> Result<Option<HashMap<String, String>>, Error> {
        Ok(self.get_item(delivery_key(message)).await?.map(as_text))
    }

    /// The received record of a document, as text fields.
    pub async fn received_fields(
        &self,
        from: CountryCode,
        number: &str,
        version: u32,
        status: &str,
    ) -> Result<Option<HashMap<String, String>>, Error> {
        Ok(self
            .get_item(received_key(from, number, version, status))
            .await?
            .map(as_text))
    }
}

fn as_text(item: Item) -> HashMap<String, String> {
    item.into_iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::S(text) => Some((k, text)),
            AttributeValue::N(number) => Some((k, number)),
            _ => None,
        })
        .collect()
}

impl DynamoLedger {
    /// Moves a delivery in state `from` back to PENDING (under delivery again), with an audit
    /// row saying an operator replayed it; `Ok(false)` when it is no longer in `from`.
    async fn reopen_from(
        &self,
        message: &DeliveryMessage,
        at: DateTime<Utc>,
        from: DeliveryState,
    ) -> Result<bool, Error> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(delivery_key(message)))
            .update_expression(
                "SET #state = :pending, updated_at = :at, GSI1PK = :under, GSI1SK = :gsi1sk",
            )
            .condition_expression("delivery_id = :id AND #state = :from")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(DeliveryState::Pending.as_str()))
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":at", s(time(at)))
            .expression_attribute_values(":id", s(&message.delivery_id))
            .expression_attribute_values(":under", s(UNDER_DELIVERY))
            .expression_attribute_values(
                ":gsi1sk",
                s(format!("{}#{}", time(at), message.delivery_id)),
            )
            .build()
            .map_err(build_err)?;
        let audit = audit_put(
            &self.table,
            &message.issuer,
            &message.permit_number,
            at,
            &format!("REPLAY-{}-{}", message.recipient, message.permit_version),
            "DELIVERY_STATE",
            format!(
                "v{} {} to {}: {} -> PENDING (replayed by an operator)",
                message.permit_version,
                message.kind.as_str(),
                message.recipient,
                from.as_str()
            ),
        )?;
        self.transact_exchange(vec![
            TransactWriteItem::builder().update(update).build(),
            audit,
        ])
        .await
    }

    /// Moves a delivery that ended in `from` (NO_PARTNER: its recipient was not in the
    /// directory; FAILED: refused for good or out of retries) back to PENDING, with an audit row
    /// saying an operator replayed it; `Ok(false)` when it is no longer in `from`.
    pub async fn reopen_ended(
        &self,
        message: &DeliveryMessage,
        at: DateTime<Utc>,
        from: DeliveryState,
    ) -> Result<bool, Error> {
        self.reopen_from(message, at, from).await
    }

    /// The deliveries to `recipient` in `state` (oldest first, at most `limit`), moved there at
    /// or after `since` when given, as the messages ingest would have queued, the XML in
    /// `bucket`: what an operator sends again once the cause is fixed. Read from the
    /// `by_recipient` index, filtered on `state` and `updated_at`.
    pub async fn deliveries_in_state(
        &self,
        recipient: CountryCode,
        state: DeliveryState,
        since: Option<DateTime<Utc>>,
        bucket: &str,
        limit: usize,
    ) -> Result<Vec<DeliveryMessage>, Error> {
        let mut messages = Vec::new();
        let mut start: Option<Item> = None;
        let mut values = HashMap::from([
            (":pk".to_owned(), s(recipient_key(recipient))),
            (":state".to_owned(), s(state.as_str())),
        ]);
        let filter = match since {
            Some(since) => {
                values.insert(":since".to_owned(), s(time(since)));
                "#state = :state AND updated_at >= :since"
            }
            None => "#state = :state",
        };
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI_BY_RECIPIENT)
                .key_condition_expression("GSI2PK = :pk")
                .filter_expression(filter)
                .expression_attribute_names("#state", "state")
                .set_expression_attribute_values(Some(values.clone()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("dynamodb:Query", e))?;
            for item in output.items() {
                if messages.len() >= limit {
                    return Ok(messages);
                }
                if let Some(message) = ended_delivery_message(item, bucket) {
                    messages.push(message);
                }
            }
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(messages),
            }
        }
    }
}

/// A delivery item as the message ingest queues for it (`None` for an item missing a field).
fn ended_delivery_message(item: &Item, bucket: &str) -> Option<DeliveryMessage> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u32>().ok())
    };
    Some(DeliveryMessage {
        message_type: "delivery".into(),
        version: 1,
        delivery_id: text("delivery_id")?,
        kind: ecites_exchange::ledger::DeliveryKind::parse(&text("kind")?)?,
        issuer: text("issuer")?,
        permit_number: text("permit_number")?,
        permit_version: number("version")?,
        replaces_version: number("replaces_version"),
        recipient: text("recipient")?,
        endpoint: text("endpoint").unwrap_or_default(),
        xml_bucket: bucket.to_owned(),
        xml_key: text("xml_key")?,
        content_sha256: text("content_sha256")?,
        reason: text("reason"),
        use_key: text("use_key"),
        sender: text("sender"),
        payload: text("payload"),
    })
}

#[async_trait]
impl DeliveryTracker for DynamoLedger {
    async fn delivery_state(
        &self,
        message: &DeliveryMessage,
    ) -> Result<Option<DeliveryState>, Error> {
        let item = self.get_item(delivery_key(message)).await?;
        Ok(item.and_then(|item| {
            // A row for another delivery id under the same key would be a bug: treat it as
            // absent rather than move it.
            if item.get("delivery_id").and_then(|v| v.as_s().ok()) != Some(&message.delivery_id) {
                return None;
            }
            item.get("state")
                .and_then(|v| v.as_s().ok())
                .and_then(|text| DeliveryState::parse(text))
        }))
    }

    async fn record_attempt(
        &self,
        message: &DeliveryMessage,
        attempt: &Attempt,
    ) -> Result<bool, Error> {
        let mut set = vec![
            "#state = :state",
            "updated_at = :at",
            "attempts = if_not_exists(attempts, :zero) + :one",
        ];
        let mut values: Item = HashMap::from([
            (":state".to_owned(), s(attempt.state.as_str())),
            (":at".to_owned(), s(time(attempt.at))),
            (":zero".to_owned(), n(0)),
            (":one".to_owned(), n(1)),
            (":id".to_owned(), s(&message.delivery_id)),
            (":pending".to_owned(), s(DeliveryState::Pending.as_str())),
        ]);
        if let Some(error) = &attempt.last_error {
            set.push("last_error = :error");
            values.insert(
                ":error".into(),
                s(error.chars().take(1000).collect::<String>()),
            );
        }
        if let Some(tracking) = &attempt.tracking_number {
            set.push("tracking_number = :tracking");
            values.insert(":tracking".into(), s(tracking));
        }
        let mut remove = Vec::new();
        if !attempt.state.is_open() {
            // Leaves the sparse under-delivery index (pipeline.md).
            remove.extend(["GSI1PK", "GSI1SK"]);
            if attempt.last_error.is_none() {
                // Delivered after failures: the errors stay in the audit rows.
                remove.push("last_error");
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(delivery_key(message)))
            .update_expression(expression)
            .condition_expression("delivery_id = :id AND #state = :pending")
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_err)?;
        let detail = format!(
            "v{} {} to {}: {}{}{}",
            message.permit_version,
            message.kind.as_str(),
            message.recipient,
            attempt.state,
            attempt
                .tracking_number
                .as_deref()
                .map(|t| format!(" tracking {t}"))
                .unwrap_or_default(),
            attempt
                .last_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        let tag = format!("DELIVERY-{}-{}", message.recipient, message.permit_version);
        let audit = audit_put(
            &self.table,
            &message.issuer,
            &message.permit_number,
            attempt.at,
            &tag,
            "DELIVERY_STATE",
            detail,
        )?;
        self.transact_exchange(vec![
            TransactWriteItem::builder().update(update).build(),
            audit,
        ])
        .await
    }

    async fn reopen(&self, message: &DeliveryMessage, at: DateTime<Utc>) -> Result<bool, Error> {
        self.reopen_from(message, at, DeliveryState::Failed).await
    }

    async fn await_pull(
        &self,
        message: &DeliveryMessage,
        at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let reason = awaiting_pull_reason(&message.recipient);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(delivery_key(message)))
            .update_expression("SET last_error = :reason, updated_at = :at")
            .condition_expression("delivery_id = :id AND #state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":reason", s(&reason))
            .expression_attribute_values(":at", s(time(at)))
            .expression_attribute_values(":id", s(&message.delivery_id))
            .expression_attribute_values(":pending", s(DeliveryState::Pending.as_str()))
            .build()
            .map_err(build_err)?;
        let audit = audit_put(
            &self.table,
            &message.issuer,
            &message.permit_number,
            at,
            &format!("PULL-{}-{}", message.recipient, message.permit_version),
            "DELIVERY_STATE",
            format!(
                "v{} {} to {}: PENDING ({reason})",
                message.permit_version,
                message.kind.as_str(),
                message.recipient
            ),
        )?;
        self.transact_exchange(vec![
            TransactWriteItem::builder().update(update).build(),
            audit,
        ])
        .await
    }
}

#[async_trait]
impl PullLedger for DynamoLedger {
    async fn permit(&self, id: &PermitId) -> Result<PermitStatus, Error> {
        self.read_status(id).await
    }

    async fn deliveries_to(
        &self,
        recipient: CountryCode,
        since: DateTime<Utc>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<HeadersAnswer, Error> {
        let since = time(since);
        // The index sorts by creation time (GSI2SK `<time>#<delivery id>`): a cursor past
        // `since` continues after it, anything else starts at `since`.
        let (condition, from) = match after {
            Some(after) if after >= since.as_str() => ("GSI2PK = :pk AND GSI2SK > :from", after),
            _ => ("GSI2PK = :pk AND GSI2SK >= :from", since.as_str()),
        };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_BY_RECIPIENT)
            .key_condition_expression(condition)
            .expression_attribute_values(":pk", s(recipient_key(recipient)))
            .expression_attribute_values(":from", s(from))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| classify("dynamodb:Query", e))?;
        let items = output.items();
        let deliveries = items
            .iter()
            .filter(|item| !self.expired(item))
            .filter_map(delivery_header)
            .collect();
        let more = output
            .last_evaluated_key()
            .is_some_and(|key| !key.is_empty());
        Ok(HeadersAnswer {
            deliveries,
            next_after: items
                .last()
                .filter(|_| more)
                .and_then(|item| get_s(item, "GSI2SK"))
                .map(str::to_owned),
        })
    }

    async fn audit(
        &self,
        id: &PermitId,
        at: DateTime<Utc>,
        event: &str,
        detail: &str,
    ) -> Result<(), Error> {
        // Two rows of one event in the same microsecond differ by their detail (it names the
        // message id): FNV-1a of it keeps their sort keys apart.
        let tag = detail
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            });
        let tag = format!("{tag:016x}");
        let audit = audit_put(
            &self.table,
            &id.issuer.to_string(),
            &id.number,
            at,
            &format!("{event}-{tag}"),
            event,
            detail.to_owned(),
        )?;
        if self.transact_exchange(vec![audit]).await? {
            Ok(())
        } else {
            Err(Error::transient(
                "dynamodb:TransactWriteItems",
                "audit row not written; retry",
            ))
        }
    }
}

/// A delivery item of the `by_recipient` index as the headers list it; `None` for a use told
/// to its issuer (pushed, never pulled) or an item missing a field.
fn delivery_header(item: &Item) -> Option<DeliveryHeader> {
    let kind = DeliveryKind::parse(get_s(item, "kind")?)?;
    let document_status = ecites_exchange::forward::document_status(kind)?;
    Some(DeliveryHeader {
        delivery_id: get_s(item, "delivery_id")?.to_owned(),
        permit_number: get_s(item, "permit_number")?.to_owned(),
        version: u32::try_from(get_n(item, "version")?).ok()?,
        kind,
        document_status: document_status.as_str().to_owned(),
        created_at: get_s(item, "created_at")?.to_owned(),
        state: DeliveryState::parse(get_s(item, "state")?)?,
    })
}

#[async_trait]
impl InboundLedger for DynamoLedger {
    async fn claim_message(
        &self,
        from: CountryCode,
        message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(message_claim_key(&from.to_string(), message_id)))
            .item("type", s(MESSAGE_SK))
            .item("at", s(time(at)))
            .item("ttl", n(at.timestamp() + CLAIM_TTL_SECONDS))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(classify("dynamodb:PutItem", error)),
        }
    }

    async fn record_received(&self, r: &NewReceived) -> Result<ReceivedRecord, Error> {
        let key = received_key(
            r.from,
            &r.permit_number,
            r.permit_version,
            r.status.as_str(),
        );
        let ack = match r.ack_status {
            AckStatus::Delivered => "DELIVERED",
            AckStatus::DeliveredWithWarnings => "DELIVERED_WITH_WARNINGS",
        };
        let mut item = key.clone();
        for (name, value) in [
            ("type", s("RECEIVED")),
            ("state", s("RECEIVED")),
            ("issuer", s(r.from.to_string())),
            ("permit_number", s(&r.permit_number)),
            ("version", n(r.permit_version)),
            ("document_status", s(r.status.as_str())),
            ("document_type", s(&r.document_type)),
            ("message_id", s(&r.message_id)),
            ("tracking_number", s(&r.tracking_number)),
            ("body_key", s(&r.body_key)),
            ("xml_key", s(&r.xml_key)),
            ("document_sha256", s(&r.document_sha256)),
            ("signature", s(&r.signature)),
            ("key_id", s(&r.key_id)),
            ("ack_status", s(ack)),
            ("findings", s(&r.findings_json)),
            ("received_at", s(time(r.received_at))),
            ("ttl", n(retain(r.received_at))),
        ] {
            item.insert(name.to_owned(), value);
        }
        if let Some(facts) = &r.facts {
            item.insert("facts".to_owned(), facts_attribute(facts)?);
            if let Some(report) = ecites_domain::report::ReportIndexKey::of_received(
                facts,
                r.received_at.date_naive(),
            ) {
                file_in_report(
                    &mut item,
                    &report,
                    &r.from.to_string(),
                    &r.permit_number,
                    &format!("0#{:06}#{}", r.permit_version, r.status.as_str()),
                );
            }
        }
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(build_err)?;
        let audit = audit_put(
            &self.table,
            &r.from.to_string(),
            &r.permit_number,
            r.received_at,
            &format!("RECEIVED-{}", r.permit_version),
            "RECEIVED",
            format!(
                "v{} {} from {} message {} tracking {} ({ack})",
                r.permit_version,
                r.status.as_str(),
                r.from,
                r.message_id,
                r.tracking_number
            ),
        )?;
        let put = TransactWriteItem::builder().put(put).build();
        let pk = permit_pk(&r.from.to_string(), &r.permit_number);
        // The third item holds while no customs use waits for this permit: when one does, the
        // transaction fails on it, and the document is recorded without it (and says so).
        let check = crate::dynamo::no_waiting_uses_in(&self.table, &pk)?;
        if self
            .transact(vec![put.clone(), audit.clone(), check])
            .await?
        {
            return Ok(ReceivedRecord {
                tracking_number: r.tracking_number.clone(),
                ack_status: r.ack_status,
                duplicate: false,
                conflict: false,
                uses_waiting: false,
            });
        }
        let uses_waiting = self.uses_waiting_in(&pk).await?;
        let existing = match self.get_item(key.clone()).await? {
            Some(existing) => existing,
            None if uses_waiting && self.transact_exchange(vec![put, audit]).await? => {
                return Ok(ReceivedRecord {
                    tracking_number: r.tracking_number.clone(),
                    ack_status: r.ack_status,
                    duplicate: false,
                    conflict: false,
                    uses_waiting: true,
                });
            }
            None => self.get_item(key).await?.ok_or_else(|| {
                Error::transient("dynamodb:GetItem", "the received record vanished; retry")
            })?,
        };
        let text = |name: &str| {
            existing
                .get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        // Rows recorded before the digest was kept have none: they cannot be compared.
        let recorded_sha = text("document_sha256");
        if !recorded_sha.is_empty() && recorded_sha != r.document_sha256 {
            let audit = audit_put(
                &self.table,
                &r.from.to_string(),
                &r.permit_number,
                r.received_at,
                &format!("CONFLICT-{}", r.permit_version),
                "RECEIVED_CONFLICT",
                format!(
                    "v{} {} from {} message {}: content {} differs from the recorded {} \
                     (message {}); refused, the first stays; the refused bytes are at {}",
                    r.permit_version,
                    r.status.as_str(),
                    r.from,
                    r.message_id,
                    r.document_sha256,
                    recorded_sha,
                    text("message_id"),
                    r.body_key
                ),
            )?;
            self.transact_exchange(vec![audit]).await?;
            return Ok(ReceivedRecord {
                tracking_number: text("tracking_number"),
                ack_status: r.ack_status,
                duplicate: false,
                conflict: true,
                uses_waiting: false,
            });
        }
        Ok(ReceivedRecord {
            tracking_number: text("tracking_number"),
            ack_status: if text("ack_status") == "DELIVERED_WITH_WARNINGS" {
                AckStatus::DeliveredWithWarnings
            } else {
                AckStatus::Delivered
            },
            // Recorded by this very message (the SDK retried a transaction whose answer was
            // lost): its record, not a duplicate; its objects are the ones on record.
            duplicate: text("message_id") != r.message_id,
            conflict: false,
            uses_waiting,
        })
    }
}

impl DynamoLedger {
    /// True when customs uses recorded before the permit (partition `pk`) wait to be checked
    /// again.
    async fn uses_waiting_in(&self, pk: &str) -> Result<bool, Error> {
        let mark = self.get_item(uses_waiting_key(pk)).await?;
        Ok(uses_wait(mark.as_ref()))
    }
}
