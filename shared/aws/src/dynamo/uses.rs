//! Customs uses of permits on the ledger table, in the permit's partition:
//!
//! | item | SK | written |
//! |---|---|---|
//! | use | `USE#<kind>#<declaration>` | once (`attribute_not_exists`): the same use twice is one |
//! | consignment claim | `CONSIGNMENT#<kind>` | by the first use of its kind, in the same transaction |
//!
//! The permit on record is read from the same partition in the same query: the head and
//! versions (issued here, with the `facts` of each version) or the received documents (with
//! theirs), so that checking a use or answering a verification is one read.

use super::table::{
    audit, base, consignment_sk, facts_attribute, file_in_report, get_n, get_s, key, pk, s, time,
    use_sk, Item, HEAD_SK,
};
use super::{put, update, DynamoLedger};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ecites_domain::usage::alert_rules;
use ecites_domain::usage::{
    PermitFacts, PermitOnRecord, PermitOrigin, PermitState, PermitUse, UseOnRecord,
};
use ecites_domain::{Finding, PermitId};
use ecites_exchange::usage::{
    use_retain_until, NewUse, PermitUses, StoredUse, UseLedger, UseRecorded,
};
use ecites_exchange::{Error, VersionState};

/// The permit facts an item carries (`facts`, JSON), when readable.
pub(super) fn facts_of(item: &Item) -> Option<PermitFacts> {
    serde_json::from_str(get_s(item, "facts")?).ok()
}

fn alerts(findings: &[Finding]) -> String {
    alert_rules(findings).collect::<Vec<_>>().join(" ")
}

fn findings_json(findings: &[Finding]) -> Result<String, Error> {
    serde_json::to_string(findings).map_err(|e| Error::permanent("serialize use findings", e))
}

/// The permit as this deployment issued it: head and current version.
fn issued(id: &PermitId, items: &[Item]) -> Option<PermitOnRecord> {
    let head = items.iter().find(|i| get_s(i, "SK") == Some(HEAD_SK))?;
    let version = u32::try_from(get_n(head, "latest_version")?).ok()?;
    let current = items.iter().find(|i| {
        get_s(i, "SK").is_some_and(|sk| sk.starts_with("VERSION#"))
            && get_n(i, "version") == Some(i64::from(version))
    });
    let state = if get_s(head, "state") == Some(VersionState::Cancelled.as_str()) {
        PermitState::Cancelled {
            reason: get_s(head, "cancel_reason").map(str::to_owned),
        }
    } else {
        PermitState::Valid
    };
    Some(PermitOnRecord {
        id: id.clone(),
        version,
        facts: current.and_then(facts_of).unwrap_or_default(),
        state,
        origin: PermitOrigin::Issued,
    })
}

/// The permit as received from its issuer: the latest received document.
fn received(id: &PermitId, items: &[Item]) -> Option<PermitOnRecord> {
    let documents: Vec<&Item> = items
        .iter()
        .filter(|i| get_s(i, "SK").is_some_and(|sk| sk.starts_with("RECEIVED#")))
        .collect();
    let latest = documents
        .iter()
        .filter(|i| get_s(i, "document_status") != Some("cancelled"))
        .max_by_key(|i| get_n(i, "version").unwrap_or(0))
        .or_else(|| documents.first())?;
    let cancellation = documents
        .iter()
        .find(|i| get_s(i, "document_status") == Some("cancelled"));
    let version = documents
        .iter()
        .filter_map(|i| get_n(i, "version"))
        .max()
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(1);
    Some(PermitOnRecord {
        id: id.clone(),
        version,
        facts: facts_of(latest).unwrap_or_default(),
        state: match cancellation {
            Some(_) => PermitState::Cancelled { reason: None },
            None => PermitState::Valid,
        },
        origin: PermitOrigin::Received {
            from: id.issuer,
            at: get_s(latest, "received_at").unwrap_or("").to_owned(),
        },
    })
}

fn stored_use(item: &Item) -> Option<StoredUse> {
    let sk = get_s(item, "SK")?;
    let reported: PermitUse = serde_json::from_str(get_s(item, "use")?).ok()?;
    let findings: Vec<Finding> = get_s(item, "findings")
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default();
    Some(StoredUse {
        key: sk.strip_prefix("USE#")?.to_owned(),
        on_record: UseOnRecord {
            reported,
            recorded_at: get_s(item, "recorded_at").unwrap_or("").to_owned(),
            rules: alert_rules(&findings).map(str::to_owned).collect(),
        },
        findings,
        waiting: get_s(item, "waiting") == Some("true"),
    })
}

/// The ledger row of a use's delivery to the permit's issuing MA: PENDING, keyed by the use
/// (`DELIVERY#<version>#use#<recipient>#<use key>`, as the forward function's tracker reads it),
/// carrying the use for a replay.
fn use_delivery_item(
    delivery: &ecites_exchange::DeliveryMessage,
    at: DateTime<Utc>,
) -> Result<Item, Error> {
    let (Ok(issuer), Ok(recipient)) = (delivery.issuer.parse(), delivery.recipient.parse()) else {
        return Err(Error::permanent(
            "use delivery",
            format!(
                "issuer {:?} or recipient {:?} is not a country code",
                delivery.issuer, delivery.recipient
            ),
        ));
    };
    let id = PermitId {
        issuer,
        number: delivery.permit_number.clone(),
    };
    let mut item = super::DeliveryRow {
        id: &id,
        version: delivery.permit_version,
        kind: delivery.kind,
        replaces_version: None,
        recipient,
        endpoint: Some(&delivery.endpoint),
        no_partner_reason: None,
        xml_key: &delivery.xml_key,
        content_sha256: &delivery.content_sha256,
        reason: None,
        at,
        retain_until: use_retain_until(at),
        use_key: delivery.use_key.as_deref(),
    }
    .item();
    if let Some(sender) = &delivery.sender {
        item.insert("sender".into(), s(sender.clone()));
    }
    if let Some(payload) = &delivery.payload {
        item.insert("payload".into(), s(payload.clone()));
    }
    Ok(item)
}

#[async_trait]
impl UseLedger for DynamoLedger {
    async fn permit_uses(&self, id: &PermitId) -> Result<PermitUses, Error> {
        let items = self.query_prefix(&pk(id), "").await?;
        let mut record = issued(id, &items).or_else(|| received(id, &items));
        if let (Some(record), Some(replaced)) = (
            record.as_mut(),
            items.iter().find(|i| get_s(i, "SK") == Some("REPLACED_BY")),
        ) {
            record.state = PermitState::Replaced {
                by: get_s(replaced, "by").unwrap_or("").to_owned(),
            };
        }
        let xml_key = match record.as_ref().map(|r| &r.origin) {
            Some(PermitOrigin::Issued) => items
                .iter()
                .find(|i| get_s(i, "SK") == Some(HEAD_SK))
                .and_then(|head| get_s(head, "latest_sha256"))
                .map(|sha| ecites_exchange::keys::outbox_key(id, sha)),
            Some(PermitOrigin::Received { .. }) => items
                .iter()
                .filter(|i| {
                    get_s(i, "SK").is_some_and(|sk| sk.starts_with("RECEIVED#"))
                        && get_s(i, "document_status") != Some("cancelled")
                })
                .max_by_key(|i| get_n(i, "version").unwrap_or(0))
                .and_then(|i| get_s(i, "xml_key"))
                .map(str::to_owned),
            None => None,
        };
        let mut uses: Vec<StoredUse> = items.iter().filter_map(stored_use).collect();
        uses.sort_by(|a, b| {
            (&a.on_record.recorded_at, &a.key).cmp(&(&b.on_record.recorded_at, &b.key))
        });
        Ok(PermitUses {
            record,
            xml_key,
            uses,
        })
    }

    async fn record_use(&self, new: &NewUse) -> Result<UseRecorded, Error> {
        let id = &new.id;
        let used = &new.used;
        let mut item = base(id, &use_sk(&new.key), "USE", new.retain_until);
        item.insert("kind".into(), s(used.kind.as_str()));
        item.insert(
            "declaration_number".into(),
            s(used.declaration_number.trim()),
        );
        item.insert("reported_by".into(), s(used.reported_by.trim()));
        item.insert(
            "use".into(),
            s(serde_json::to_string(used).map_err(|e| Error::permanent("serialize use", e))?),
        );
        item.insert("findings".into(), s(findings_json(&new.findings)?));
        let alert_rules = alerts(&new.findings);
        if !alert_rules.is_empty() {
            item.insert("alerts".into(), s(alert_rules.clone()));
        }
        item.insert("recorded_at".into(), s(time(new.recorded_at)));
        item.insert("source".into(), s(new.source.clone()));
        // Text, not BOOL: stream images are read as text (the notify function keeps S and N).
        item.insert(
            "waiting".into(),
            s(if new.waiting { "true" } else { "false" }),
        );
        if let Some(xml_key) = &new.permit_xml_key {
            item.insert("xml_key".into(), s(xml_key.clone()));
        }
        if let Some(facts) = &new.facts {
            item.insert("facts".into(), facts_attribute(facts)?);
        }
        if let Some(report) = ecites_domain::report::ReportIndexKey::of_use(used) {
            file_in_report(
                &mut item,
                &report,
                &id.issuer.to_string(),
                &id.number,
                &format!("1#{}", new.key),
            );
        }
        let mut items = vec![put(&self.table, item, Some("attribute_not_exists(PK)"))?];
        if new.waiting {
            // The mark the permit's first recording checks (at no extra request when absent).
            let mut mark = base(id, super::USES_WAITING_SK, "USES_WAITING", new.retain_until);
            mark.insert("state".into(), s(super::WAITING));
            mark.insert("updated_at".into(), s(time(new.recorded_at)));
            items.push(put(&self.table, mark, None)?);
        }
        if let Some(tell) = &new.tell {
            items.push(put(
                &self.table,
                use_delivery_item(tell, new.recorded_at)?,
                Some("attribute_not_exists(PK)"),
            )?);
        }
        if new.claim_consignment {
            let mut claim = base(
                id,
                &consignment_sk(used.kind.as_str()),
                "CONSIGNMENT",
                new.retain_until,
            );
            claim.insert(
                "declaration_number".into(),
                s(used.declaration_number.trim()),
            );
            claim.insert("use_key".into(), s(new.key.clone()));
            claim.insert("at".into(), s(time(new.recorded_at)));
            let condition = aws_sdk_dynamodb::types::Put::builder()
                .table_name(&self.table)
                .set_item(Some(claim))
                .condition_expression("attribute_not_exists(PK) OR declaration_number = :d")
                .expression_attribute_values(":d", s(used.declaration_number.trim()))
                .build()
                .map_err(super::build_err)?;
            items.push(
                aws_sdk_dynamodb::types::TransactWriteItem::builder()
                    .put(condition)
                    .build(),
            );
        }
        let tag = new.key.get(..40).unwrap_or(&new.key).replace('#', "-");
        // Which item failed tells a duplicate (the use, first) from a taken consignment.
        items.push(put(
            &self.table,
            audit(
                id,
                new.recorded_at,
                &tag,
                1,
                "USE_RECORDED",
                format!(
                    "{} by {} declaration {} from {}{}",
                    used.kind.label(),
                    used.reported_by.trim(),
                    used.declaration_number.trim(),
                    new.source,
                    if alert_rules.is_empty() {
                        String::new()
                    } else {
                        format!("; alerts: {alert_rules}")
                    }
                ),
                new.retain_until,
            ),
            None,
        )?);
        Ok(match self.transact_detailed(items).await? {
            None => UseRecorded::New,
            Some(failed) if failed.contains(&0) => UseRecorded::Duplicate,
            Some(_) => UseRecorded::ConsignmentTaken,
        })
    }

    async fn mark_replaced(
        &self,
        replaced: &PermitId,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Error> {
        let retain = use_retain_until(at);
        let mut mark = base(replaced, "REPLACED_BY", "REPLACED_BY", retain);
        mark.insert("by".into(), s(by));
        mark.insert("at".into(), s(time(at)));
        let row = audit(
            replaced,
            at,
            "REPLACED-BY",
            1,
            "REPLACED_BY",
            format!("replaced by permit {}/{by}", replaced.issuer),
            retain,
        );
        // Once: a second recording of the replacing permit changes nothing.
        self.transact(vec![
            put(&self.table, mark, Some("attribute_not_exists(PK)"))?,
            put(&self.table, row, None)?,
        ])
        .await?;
        Ok(())
    }

    async fn uses_rechecked(&self, id: &PermitId, at: DateTime<Utc>) -> Result<(), Error> {
        let done = update(
            &self.table,
            key(&pk(id), super::USES_WAITING_SK),
            "SET #state = :done, updated_at = :at",
            Some("#state = :waiting"),
            [
                (":done", s("CHECKED")),
                (":waiting", s(super::WAITING)),
                (":at", s(time(at))),
            ],
        )?;
        // Already marked (another arrival got there first): nothing to do.
        self.transact(vec![done]).await?;
        Ok(())
    }

    async fn recheck_use(
        &self,
        id: &PermitId,
        key_of_use: &str,
        findings: &[Finding],
        facts: &PermitFacts,
        at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let alert_rules = alerts(findings);
        let transaction = update(
            &self.table,
            key(&pk(id), &use_sk(key_of_use)),
            "SET findings = :f, waiting = :no, rechecked_at = :at, alerts = :a, facts = :facts",
            Some("waiting = :yes"),
            [
                (":f", s(findings_json(findings)?)),
                (":facts", facts_attribute(facts)?),
                (":no", s("false")),
                (":yes", s("true")),
                (":at", s(time(at))),
                (":a", s(alert_rules.clone())),
            ],
        )?;
        let audit_row = put(
            &self.table,
            audit(
                id,
                at,
                &key_of_use.get(..40).unwrap_or(key_of_use).replace('#', "-"),
                2,
                "USE_RECHECKED",
                format!(
                    "the permit arrived; the use {key_of_use} checked again: {}",
                    if alert_rules.is_empty() {
                        "no alerts".to_owned()
                    } else {
                        format!("alerts: {alert_rules}")
                    }
                ),
                use_retain_until(at),
            ),
            None,
        )?;
        self.transact(vec![transaction, audit_row]).await
    }
}
