//! The ledger table's layout, in one place: the keys of every item, the attribute helpers, the
//! index names and their projections, and (in [`super::stream`]) the decoding of the table's
//! stream into the typed changes the notify use case reads. Nothing outside this module
//! formats a key or names an item type. Design in `docs/pipeline.md` and `docs/exchange.md`.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | permit head | `PERMIT#<ISSUER>#<number>` | `HEAD` |
//! | version | same | `VERSION#<000001>` |
//! | content hash (idempotency) | same | `HASH#<sha256>` |
//! | delivery | same | `DELIVERY#<000001>#<kind>#<RECIPIENT>[#<use key>]` |
//! | rejection | same | `REJECTION#<sha256>` |
//! | audit | same | `AUDIT#<RFC 3339 time>#<tag>#<nn>` |
//! | customs use | same | `USE#<kind>#<declaration>` |
//! | consignment claim | same | `CONSIGNMENT#<kind>` |
//! | uses waiting for the permit | same | `USES_WAITING` |
//! | cancellation waiting for the permit | same | `CANCELLATION_WAITING` |
//! | received document | `PERMIT#<SENDER>#<number>` | `RECEIVED#<000001>#<status>` |
//! | message id claim (replay guard) | `MESSAGE#<SENDER>#<message id>` | `MESSAGE` |
//! | subscription | `SUBSCRIPTION` | `SUB#<id>` |
//! | notification claim | `NOTIFY#<event id>` | `SUB#<subscriber>` |
//!
//! GSI1 `under_delivery` (sparse: only open deliveries carry `GSI1PK = UNDER_DELIVERY`),
//! GSI2 `by_recipient` (`GSI2PK = RECIPIENT#<XB>`), GSI3 `by_number` (`GSI3PK =
//! NUMBER#<number>`: every permit with that number, whatever the issuer), GSI4 `by_report` (sparse:
//! `GSI4PK = REPORT#<reporter>#<role>#<year>`, `GSI4SK = <issuer>#<number>#<0 version | 1 use>`:
//! the items of one annual report, each permit's together). Permit items carry `ttl` (epoch
//! seconds, 5 years after the permit's expiry); reads ignore expired items because TTL deletion
//! is late on AWS and absent on moto.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use ecites_domain::PermitId;
use ecites_exchange::keys::escape_component;
use ecites_exchange::ledger::DeliveryKind;
use ecites_exchange::Error;
use std::collections::HashMap;

/// Item attributes.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The partition key attribute (a permit's items share one: `ISSUER#number`).
pub const PK: &str = "PK";
/// The sort key attribute.
pub const SK: &str = "SK";

/// Index names, as `setup` creates them.
pub const GSI_UNDER_DELIVERY: &str = "under_delivery";
/// Index of deliveries by recipient.
pub const GSI_BY_RECIPIENT: &str = "by_recipient";
/// Index of permit items by permit number.
pub const GSI_BY_NUMBER: &str = "by_number";
/// Index of the items of each annual report ([`report`]).
pub const GSI_BY_REPORT: &str = "by_report";
/// The attributes the report index projects besides the keys (the template's
/// `by_report` index lists the same): what [`report`] reads.
pub const REPORT_INDEX_ATTRIBUTES: [&str; 10] = [
    "type",
    "issuer",
    "permit_number",
    "version",
    "state",
    "document_status",
    "facts",
    "use",
    "alerts",
    "ttl",
];
/// The partition key of open deliveries in the under-delivery index.
pub const UNDER_DELIVERY: &str = "UNDER_DELIVERY";

/// A string attribute.
pub(crate) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

/// A number attribute.
pub(crate) fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// A time as the table stores it: RFC 3339, UTC, microseconds (sorts as text).
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The partition of a permit: `PERMIT#<ISSUER>#<number>`, the number escaped.
pub(crate) fn pk(id: &PermitId) -> String {
    permit_pk(&id.issuer.to_string(), &id.number)
}

/// [`pk`] from the issuer's code and the number as the wire carries them.
pub(crate) fn permit_pk(issuer: &str, number: &str) -> String {
    format!("PERMIT#{issuer}#{}", escape_component(number))
}

/// The sort key of a permit's head.
pub(crate) const HEAD_SK: &str = "HEAD";

/// The sort key of a content hash (the idempotency row of a version).
pub(crate) fn hash_sk(content_sha256: &str) -> String {
    format!("HASH#{content_sha256}")
}

/// The sort key of a rejection (one per rejected content).
pub(crate) fn rejection_sk(content_sha256: &str) -> String {
    format!("REJECTION#{content_sha256}")
}

/// The sort key of a received document: `RECEIVED#<000001>#<status>`.
pub(crate) fn received_sk(version: u32, status: &str) -> String {
    format!("RECEIVED#{version:06}#{status}")
}

/// The sort key of a customs use: `USE#<kind>#<declaration>`.
pub(crate) fn use_sk(use_key: &str) -> String {
    format!("USE#{use_key}")
}

/// The sort key of the claim of a consignment by the first use of its kind.
pub(crate) fn consignment_sk(kind: &str) -> String {
    format!("CONSIGNMENT#{kind}")
}

/// The sort key of an audit row: `AUDIT#<RFC 3339 time>#<tag>#<nn>` (sorts by time).
pub(crate) fn audit_sk(at: DateTime<Utc>, tag: &str, seq: usize) -> String {
    format!("AUDIT#{}#{tag}#{seq:02}", time(at))
}

/// The key of a message id claim (the receive side's replay guard).
pub(crate) fn message_claim_key(sender: &str, message_id: &str) -> Item {
    key(
        &format!("MESSAGE#{sender}#{}", escape_component(message_id)),
        MESSAGE_SK,
    )
}

/// The sort key (and type) of a message id claim.
pub(crate) const MESSAGE_SK: &str = "MESSAGE";

/// The partition of every subscription.
pub const SUBSCRIPTIONS_PK: &str = "SUBSCRIPTION";

/// The key of a subscription in the registry.
#[cfg(feature = "notify")]
pub(crate) fn subscription_key(id: &str) -> Item {
    key(SUBSCRIPTIONS_PK, &format!("SUB#{id}"))
}

/// The key of the claim of one notification (event) for one subscriber.
#[cfg(feature = "notify")]
pub(crate) fn notification_claim_key(event_id: &str, subscriber: &str) -> Item {
    key(&format!("NOTIFY#{event_id}"), &format!("SUB#{subscriber}"))
}

/// `GSI2PK` of a delivery: the index of deliveries by recipient.
pub(crate) fn recipient_key(recipient: impl std::fmt::Display) -> String {
    format!("RECIPIENT#{recipient}")
}

/// `GSI3PK` of a permit's head and rows: every permit with the number, whatever the issuer.
pub(crate) fn number_key(number: &str) -> String {
    format!("NUMBER#{}", escape_component(number))
}

/// The sort key of the mark that customs uses of the permit arrived before it and wait to be
/// checked again ([`uses`]); its `state` is `WAITING` until they are.
pub(crate) const USES_WAITING_SK: &str = "USES_WAITING";

/// The sort key of a cancellation that arrived before its permit.
pub(crate) const WAITING_CANCELLATION_SK: &str = "CANCELLATION_WAITING";
/// States of that item: waiting for the permit, then applied to it.
pub(crate) const WAITING: &str = "WAITING";
pub(crate) const APPLIED: &str = "APPLIED";

pub(crate) fn version_sk(version: u32) -> String {
    format!("VERSION#{version:06}")
}

/// The sort key of a delivery: `DELIVERY#<000001>#<kind>#<RECIPIENT>`, then `#<use key>` for
/// a use told to the issuer (a permit may have several uses, each told once).
pub(crate) fn delivery_sk(
    version: u32,
    kind: DeliveryKind,
    recipient: impl std::fmt::Display,
    use_key: Option<&str>,
) -> String {
    let mut sk = format!("DELIVERY#{version:06}#{}#{recipient}", kind.as_str());
    if let Some(use_key) = use_key {
        sk.push('#');
        sk.push_str(use_key);
    }
    sk
}

/// The prefix of a version's delivery sort keys, of one kind or all.
pub(crate) fn delivery_prefix(version: u32, kind: Option<DeliveryKind>) -> String {
    match kind {
        Some(kind) => format!("DELIVERY#{version:06}#{}#", kind.as_str()),
        None => format!("DELIVERY#{version:06}#"),
    }
}

/// A string attribute, when present.
pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// A number attribute, when present and an integer.
pub(crate) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// The `facts` attribute of a version, received document or use: the permit facts as JSON
/// (what uses are checked against and the annual report reads).
pub(crate) fn facts_attribute(
    facts: &ecites_domain::usage::PermitFacts,
) -> Result<AttributeValue, Error> {
    serde_json::to_string(facts)
        .map(s)
        .map_err(|e| Error::permanent("serialize permit facts", e))
}

/// Files an item in the report index under `report` (sparse GSI4): each permit's items sort
/// together, its documents (`tag` `0#...`) before its uses (`1#...`).
pub(crate) fn file_in_report(
    item: &mut Item,
    report: &ecites_domain::report::ReportIndexKey,
    issuer: &str,
    number: &str,
    tag: &str,
) {
    item.insert(
        "GSI4PK".into(),
        s(format!(
            "REPORT#{}#{}#{}",
            report.reporter, report.role, report.year
        )),
    );
    item.insert(
        "GSI4SK".into(),
        s(format!("{issuer}#{}#{tag}", escape_component(number))),
    );
}

/// The primary key of an item.
pub(crate) fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// The key of the waiting-uses mark of a permit partition (read by the receive side too).
pub(crate) fn uses_waiting_key(permit_pk: &str) -> Item {
    key(permit_pk, USES_WAITING_SK)
}

/// True when the mark read at [`uses_waiting_key`] says uses wait for the permit.
pub(crate) fn uses_wait(mark: Option<&Item>) -> bool {
    mark.is_some_and(|item| get_s(item, "state") == Some(WAITING))
}

/// Base attributes of every item of a permit.
pub(crate) fn base(id: &PermitId, sk: &str, kind: &str, retain_until: DateTime<Utc>) -> Item {
    let mut item = key(&pk(id), sk);
    item.insert("type".into(), s(kind));
    item.insert("issuer".into(), s(id.issuer.to_string()));
    item.insert("permit_number".into(), s(id.number.clone()));
    item.insert("ttl".into(), n(retain_until.timestamp()));
    item
}

/// An audit record.
pub(crate) fn audit(
    id: &PermitId,
    at: DateTime<Utc>,
    tag: &str,
    seq: usize,
    event: &str,
    detail: String,
    retain_until: DateTime<Utc>,
) -> Item {
    let mut item = base(id, &audit_sk(at, tag, seq), "AUDIT", retain_until);
    item.insert("event".into(), s(event));
    item.insert("detail".into(), s(detail));
    item.insert("at".into(), s(time(at)));
    item
}
