//! The report index (GSI4 `by_report`): the items of one annual report, read a page at a time.
//!
//! Versions of permits issued here, permits received from their issuers and customs uses are
//! filed when they are written ([`super::file_in_report`]); a report reads its own partition
//! (`REPORT#<reporter>#<role>#<year>`) in sort-key order, which keeps each permit's items
//! together, its documents before its uses.

use super::table::{get_n, get_s, s, Item, GSI_BY_REPORT};
use super::DynamoLedger;
use crate::errors::classify;
use async_trait::async_trait;
use ecites_domain::report::{DocumentState, ReportEntry, ReportIndexKey};
use ecites_domain::usage::PermitUse;
use ecites_domain::PermitId;
use ecites_exchange::report::{ReportIndex, ReportPage};
use ecites_exchange::{Error, VersionState};
use std::collections::HashMap;

/// The most items a page holds (DynamoDB also ends a page at 1 MB): bounds the report's
/// memory whatever the backend returns.
const PAGE_ITEMS: i32 = 500;

/// The index's partition of a report.
fn partition(key: &ReportIndexKey) -> String {
    format!("REPORT#{}#{}#{}", key.reporter, key.role, key.year)
}

/// The entry an indexed item stands for; `None` for an item the report cannot read (it is
/// logged and skipped: one broken item does not stop the report of a year).
fn entry(item: &Item) -> Option<ReportEntry> {
    let id = PermitId {
        issuer: get_s(item, "issuer")?.parse().ok()?,
        number: get_s(item, "permit_number")?.to_owned(),
    };
    let facts = super::uses::facts_of(item);
    let state = match get_s(item, "type")? {
        "VERSION" => match get_s(item, "state") {
            Some(state) if state == VersionState::Replaced.as_str() => DocumentState::Replaced,
            Some(state) if state == VersionState::Cancelled.as_str() => DocumentState::Cancelled,
            _ => DocumentState::Active,
        },
        "RECEIVED" if get_s(item, "document_status") == Some("cancelled") => {
            DocumentState::Cancelled
        }
        "RECEIVED" => DocumentState::Active,
        "USE" => {
            let used: PermitUse = serde_json::from_str(get_s(item, "use")?).ok()?;
            let alerts = get_s(item, "alerts")
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            return Some(ReportEntry::Use {
                id,
                used: Box::new(used),
                facts,
                alerts,
            });
        }
        _ => return None,
    };
    // A version issued here or a document received from its issuer.
    Some(ReportEntry::Permit {
        version: u32::try_from(get_n(item, "version")?).ok()?,
        facts: facts?,
        state,
        id,
    })
}

/// The page cursor: DynamoDB's last evaluated key (text attributes only) as JSON.
fn encode_cursor(key: &Item) -> Option<String> {
    let map: HashMap<&str, &str> = key
        .iter()
        .map(|(name, value)| Some((name.as_str(), value.as_s().ok()?.as_str())))
        .collect::<Option<_>>()?;
    serde_json::to_string(&map).ok()
}

fn decode_cursor(cursor: &str) -> Result<Item, Error> {
    let map: HashMap<String, String> = serde_json::from_str(cursor)
        .map_err(|e| Error::permanent("report index", format!("bad page cursor: {e}")))?;
    Ok(map
        .into_iter()
        .map(|(name, value)| (name, s(value)))
        .collect())
}

#[async_trait]
impl ReportIndex for DynamoLedger {
    async fn report_page(
        &self,
        key: &ReportIndexKey,
        start: Option<String>,
    ) -> Result<ReportPage, Error> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_BY_REPORT)
            .key_condition_expression("GSI4PK = :pk")
            .expression_attribute_values(":pk", s(partition(key)))
            .limit(PAGE_ITEMS)
            .set_exclusive_start_key(start.as_deref().map(decode_cursor).transpose()?)
            .send()
            .await
            .map_err(|e| classify("dynamodb:Query", e))?;
        let mut entries = Vec::new();
        let mut unreadable = 0;
        for item in output.items.unwrap_or_default() {
            if self.expired(&item) {
                continue;
            }
            match entry(&item) {
                Some(entry) => entries.push(entry),
                None => {
                    unreadable += 1;
                    tracing::warn!(
                        pk = get_s(&item, "PK").unwrap_or(""),
                        sk = get_s(&item, "SK").unwrap_or(""),
                        "an item of the report index cannot be read; left out of the report"
                    )
                }
            }
        }
        let next = output
            .last_evaluated_key
            .filter(|last| !last.is_empty())
            .and_then(|last| encode_cursor(&last));
        Ok(ReportPage {
            entries,
            next,
            unreadable,
        })
    }
}
