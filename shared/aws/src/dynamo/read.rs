//! The ledger's reads: a permit's status (one query of its partition), the permits on record,
//! the open deliveries and the deliveries to a recipient (indexes), the issuers of a number.
//! The writes are in [`super`].

use super::table::{
    get_n, get_s, number_key, pk, recipient_key, s, Item, GSI_BY_NUMBER, GSI_BY_RECIPIENT,
    GSI_UNDER_DELIVERY, HEAD_SK, UNDER_DELIVERY,
};
use super::DynamoLedger;
use crate::errors::classify;
use ecites_domain::{CountryCode, PermitId};
use ecites_exchange::ledger::{
    AuditEntry, DeliveryInfo, DeliveryKind, DeliveryState, PermitStatus, ReceivedInfo,
    ReceivedState, RejectionInfo, VersionInfo, VersionState,
};
use ecites_exchange::protocol::WireFinding;
use ecites_exchange::Error;

/// The findings the receive function stored with a document (JSON of the wire findings), as
/// `severity rule: message` lines; unreadable or absent JSON is no findings rather than a failed status.
fn finding_lines(json: Option<&str>) -> Vec<String> {
    json.and_then(|text| serde_json::from_str::<Vec<WireFinding>>(text).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|f| format!("{} {}: {}", f.severity, f.rule, f.message))
        .collect()
}

impl DynamoLedger {
    /// Every permit with a recorded version (a full table scan: for the local demo and small
    /// operator reports, not for the hot path).
    pub async fn permits(&self) -> Result<Vec<PermitId>, Error> {
        let mut ids = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#type = :head")
                .expression_attribute_names("#type", "type")
                .expression_attribute_values(":head", s(HEAD_SK))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("dynamodb:Scan", e))?;
            for item in output.items() {
                if self.expired(item) {
                    continue;
                }
                if let (Some(issuer), Some(number)) = (
                    get_s(item, "issuer").and_then(|i| i.parse().ok()),
                    get_s(item, "permit_number"),
                ) {
                    ids.push(PermitId {
                        issuer,
                        number: number.to_owned(),
                    });
                }
            }
            match output.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => break,
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Open deliveries, oldest first, from the `under_delivery` index (ePhyto's
    /// `GetUnderDeliveryEnvelope`): what the forward function and operators watch.
    pub async fn under_delivery(&self, limit: i32) -> Result<Vec<(String, String)>, Error> {
        self.deliveries_in_index(
            GSI_UNDER_DELIVERY,
            "GSI1PK",
            UNDER_DELIVERY.to_owned(),
            limit,
        )
        .await
    }

    /// Deliveries to one recipient, oldest first, from the `by_recipient` index:
    /// `(delivery id, state)`.
    pub async fn for_recipient(
        &self,
        recipient: CountryCode,
        limit: i32,
    ) -> Result<Vec<(String, String)>, Error> {
        self.deliveries_in_index(GSI_BY_RECIPIENT, "GSI2PK", recipient_key(recipient), limit)
            .await
    }

    /// `(delivery id, state)` of the live delivery items under one partition key of a delivery
    /// index, oldest first (the indexes sort by time): the one query behind the operator views
    /// of deliveries, whichever index they use.
    async fn deliveries_in_index(
        &self,
        index: &str,
        partition_attribute: &str,
        partition: String,
        limit: i32,
    ) -> Result<Vec<(String, String)>, Error> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", partition_attribute)
            .expression_attribute_values(":pk", s(partition))
            .limit(limit)
            .send()
            .await
            .map_err(|e| classify("dynamodb:Query", e))?;
        Ok(output
            .items()
            .iter()
            .filter(|item| !self.expired(item))
            .filter_map(|item| {
                Some((
                    get_s(item, "delivery_id")?.to_owned(),
                    get_s(item, "state")?.to_owned(),
                ))
            })
            .collect())
    }

    /// The issuers that have a permit with this number (permit numbers are not globally
    /// unique), from the `by_number` index.
    pub async fn issuers_of_number(&self, number: &str) -> Result<Vec<String>, Error> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_BY_NUMBER)
            .key_condition_expression("GSI3PK = :pk")
            .expression_attribute_values(":pk", s(number_key(number)))
            .send()
            .await
            .map_err(|e| classify("dynamodb:Query", e))?;
        let mut issuers: Vec<String> = output
            .items()
            .iter()
            .filter(|item| !self.expired(item))
            .filter_map(|item| get_s(item, "issuer").map(str::to_owned))
            .collect();
        issuers.sort();
        issuers.dedup();
        Ok(issuers)
    }
    /// A permit's whole record: versions, deliveries, received documents, uses, rejections
    /// and history (one consistent query of its partition).
    pub(crate) async fn read_status(&self, id: &PermitId) -> Result<PermitStatus, Error> {
        let items = self.query_prefix(&pk(id), "").await?;
        let mut status = PermitStatus::default();
        for item in &items {
            let sk = get_s(item, "SK").unwrap_or("");
            let text = |name: &str| get_s(item, name).unwrap_or("").to_owned();
            let number = |name: &str| get_n(item, name).unwrap_or(0);
            if sk == HEAD_SK {
                status.state = get_s(item, "state").map(str::to_owned);
            } else if sk.starts_with("VERSION#") {
                status.versions.push(VersionInfo {
                    version: u32::try_from(number("version")).unwrap_or(0),
                    state: get_s(item, "state")
                        .and_then(VersionState::parse)
                        .unwrap_or(VersionState::Active),
                    content_sha256: text("content_sha256"),
                    xml_key: text("xml_key"),
                    document_type: text("document_type"),
                    source: text("source"),
                    received_at: text("received_at"),
                });
            } else if sk.starts_with("DELIVERY#") {
                status.deliveries.push(DeliveryInfo {
                    version: u32::try_from(number("version")).unwrap_or(0),
                    kind: get_s(item, "kind")
                        .and_then(DeliveryKind::parse)
                        .unwrap_or(DeliveryKind::Permit),
                    recipient: text("recipient"),
                    state: get_s(item, "state")
                        .and_then(DeliveryState::parse)
                        .unwrap_or(DeliveryState::Pending),
                    attempts: u32::try_from(number("attempts")).unwrap_or(0),
                    last_error: get_s(item, "last_error").map(str::to_owned),
                    tracking_number: get_s(item, "tracking_number").map(str::to_owned),
                    updated_at: text("updated_at"),
                });
            } else if sk.starts_with("RECEIVED#") {
                // Written by the receive function (`exchange_store.rs`), same partition.
                status.received.push(ReceivedInfo {
                    version: u32::try_from(number("version")).unwrap_or(0),
                    document_status: text("document_status"),
                    document_type: text("document_type"),
                    sender: text("issuer"),
                    message_id: text("message_id"),
                    received_at: text("received_at"),
                    tracking_number: text("tracking_number"),
                    state: ReceivedState::from_ack_status(&text("ack_status")),
                    body_key: text("body_key"),
                    findings: finding_lines(get_s(item, "findings")),
                });
            } else if sk.starts_with("REJECTION#") {
                status.rejections.push(RejectionInfo {
                    reason: text("reason"),
                    report_key: text("report_key"),
                    source: text("source"),
                    received_at: text("received_at"),
                    errors: usize::try_from(number("errors")).unwrap_or(0),
                });
            } else if sk.starts_with("AUDIT#") {
                status.history.push(AuditEntry {
                    at: text("at"),
                    event: text("event"),
                    detail: text("detail"),
                });
            }
        }
        status.versions.sort_by_key(|v| v.version);
        status
            .received
            .sort_by(|a, b| (a.version, &a.received_at).cmp(&(b.version, &b.received_at)));
        status.history.sort_by(|a, b| a.at.cmp(&b.at));
        Ok(status)
    }
}
