//! The sweep of `received/`: the objects a received message stored that no ledger record names.
//!
//! receive stores a message's envelope and payload XML
//! (`received/<FROM>/<escaped number>/<escaped message id>.json` and `.xml`) **before** it
//! records the document in the ledger, and removes them itself when the message fails before
//! that write or turns out to be a duplicate ([`crate::receive::receive_message`]). One case is
//! left: a ledger write that failed transiently may have been applied with its answer lost, so
//! receive must keep the objects; when it was in fact never applied, the sender's retry (a new
//! message id) is recorded instead and nothing ever names the first message's objects. Only
//! later, once no write can still be in flight, can anyone tell: that is this sweep.
//!
//! An object is **named** when a received record of its permit has its message id (the
//! record's `body_key` is the object's `.json` key), or an audit row of the permit mentions that
//! key (a `RECEIVED_CONFLICT` row names where the refused message's bytes are). The sweep
//! removes an object only when all of these hold:
//! - its key has the layout above (anything else under `received/` is not receive's and stays);
//! - it was last modified at least [`SweepWindow::min_age`] ago (no receive still running, no
//!   ledger write still in flight: a Lambda invocation lasts at most 15 minutes);
//! - it was last modified at most [`SweepWindow::max_age`] ago (ledger rows expire after the
//!   retention period while the bucket keeps its objects for good: an old object no row names is
//!   an archive whose row expired, not an orphan);
//! - the ledger knows its permit (a permit the ledger knows nothing about may mean the sweep
//!   reads the wrong table, so its objects stay and are reported);
//! - it is not an answer pulled from an EPIX partner (message id
//!   [`crate::epix::client::PULLED_MESSAGE_PREFIX`]`...`): the pull keeps every answer on
//!   record, a fault or an unreadable one too, and its error names where; a retried pull of
//!   the same answer writes the same key, so a pull leaves no orphans;
//! - nothing in the permit's records names it.
//!
//! This module decides; `ecites_aws::sweep` lists, reads and removes, and `ecites sweep` prints.

use crate::epix::client::PULLED_MESSAGE_PREFIX;
use crate::keys::escape_component;
use crate::ledger::PermitStatus;
use chrono::{DateTime, Duration, Utc};
use ecites_domain::{CountryCode, PermitId};
use percent_encoding::percent_decode_str;
use std::collections::BTreeMap;

/// Where receive stores what it received.
pub const RECEIVED_PREFIX: &str = "received/";

/// The longest [`SweepWindow::max_age`] allowed: a year, well inside the ledger's retention of
/// received rows (72 months), so a row that expired never makes its objects look unnamed.
pub const MAX_SWEEP_AGE_DAYS: i64 = 365;

/// The default [`SweepWindow::min_age`], in minutes: an hour, four times Lambda's longest
/// invocation (`ecites sweep --older-than`, the sweep function's
/// `ECITES_SWEEP_OLDER_THAN_MINUTES`).
pub const DEFAULT_MIN_AGE_MINUTES: u32 = 60;
/// The default [`SweepWindow::max_age`], in days (`ecites sweep --within-days`, the sweep
/// function's `ECITES_SWEEP_WITHIN_DAYS`).
pub const DEFAULT_MAX_AGE_DAYS: u32 = 30;

/// One object as the bucket lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedObject {
    /// The object key.
    pub key: String,
    /// When it was last written.
    pub last_modified: DateTime<Utc>,
}

/// What a `received/` key says: whose message, for which permit, which of its two objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedObjectKey {
    /// The sender (the permit's issuer).
    pub from: CountryCode,
    /// The permit number, unescaped.
    pub permit_number: String,
    /// The message id, unescaped.
    pub message_id: String,
}

impl ReceivedObjectKey {
    /// The permit the object belongs to.
    pub fn permit(&self) -> PermitId {
        PermitId {
            issuer: self.from,
            number: self.permit_number.clone(),
        }
    }

    /// The key of the message's envelope (`.json`), what a received record's `body_key` holds.
    pub fn envelope_key(&self) -> String {
        crate::receive::received_key(self.from, &self.permit_number, &self.message_id)
    }
}

/// Reads a key of receive's layout (`received/<FROM>/<escaped number>/<escaped id>.json|.xml`);
/// `None` for any other key, including one whose escaping is not the one receive writes (so a
/// key read back always names the object it came from).
pub fn parse_received_key(key: &str) -> Option<ReceivedObjectKey> {
    let rest = key.strip_prefix(RECEIVED_PREFIX)?;
    let mut parts = rest.split('/');
    let (from, number, file) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let from_text = from;
    let from: CountryCode = from_text.parse().ok()?;
    if from.to_string() != from_text {
        return None;
    }
    let stem = file
        .strip_suffix(".json")
        .or_else(|| file.strip_suffix(".xml"))?;
    let unescape = |text: &str| -> Option<String> {
        let plain = percent_decode_str(text).decode_utf8().ok()?.into_owned();
        (!plain.is_empty() && escape_component(&plain) == text).then_some(plain)
    };
    Some(ReceivedObjectKey {
        from,
        permit_number: unescape(number)?,
        message_id: unescape(stem)?,
    })
}

/// How old an object must be, and may be, for the sweep to consider it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepWindow {
    /// Younger objects are left: their message may still be running.
    pub min_age: Duration,
    /// Older objects are left: their records may have expired (at most
    /// [`MAX_SWEEP_AGE_DAYS`]).
    pub max_age: Duration,
}

impl Default for SweepWindow {
    /// At least [`DEFAULT_MIN_AGE_MINUTES`] old, at most [`DEFAULT_MAX_AGE_DAYS`].
    fn default() -> Self {
        SweepWindow {
            min_age: Duration::minutes(i64::from(DEFAULT_MIN_AGE_MINUTES)),
            max_age: Duration::days(i64::from(DEFAULT_MAX_AGE_DAYS)),
        }
    }
}

/// The objects of one permit the sweep looks at, before the ledger is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PermitObjects {
    /// Objects in the window, with what their key says.
    pub candidates: Vec<(String, ReceivedObjectKey)>,
}

/// The listing sorted out before any ledger read: the permits to read, and what was left aside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepPlan {
    /// Objects listed.
    pub listed: usize,
    /// In the window, by permit: each permit's records are read once.
    pub by_permit: BTreeMap<PermitId, PermitObjects>,
    /// Younger than the window's minimum age: left.
    pub too_young: usize,
    /// Older than the window's maximum age: left.
    pub too_old: usize,
    /// Keys not of receive's layout: left, and listed for the operator.
    pub not_received_layout: Vec<String>,
}

impl SweepPlan {
    /// Sorts one listed object into the plan by `window` at `now` (a listing is sorted page by
    /// page, so only the window's objects are kept, however large the bucket).
    pub fn add(&mut self, object: ListedObject, window: SweepWindow, now: DateTime<Utc>) {
        self.listed += 1;
        let Some(parsed) = parse_received_key(&object.key) else {
            self.not_received_layout.push(object.key);
            return;
        };
        let age = now - object.last_modified;
        if age < window.min_age {
            self.too_young += 1;
        } else if age > window.max_age {
            self.too_old += 1;
        } else {
            self.by_permit
                .entry(parsed.permit())
                .or_default()
                .candidates
                .push((object.key, parsed));
        }
    }
}

/// Sorts a whole listing of `received/` by the window, at `now` ([`SweepPlan::add`] each).
pub fn plan_sweep(
    objects: impl IntoIterator<Item = ListedObject>,
    window: SweepWindow,
    now: DateTime<Utc>,
) -> SweepPlan {
    let mut plan = SweepPlan::default();
    for object in objects {
        plan.add(object, window, now);
    }
    plan
}

/// What the sweep decides for the objects of one permit, given its ledger records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PermitVerdict {
    /// Named by a received record or an audit row: they stay.
    pub named: Vec<String>,
    /// Named by nothing: to remove.
    pub unnamed: Vec<String>,
    /// The ledger knows nothing of the permit: left (the sweep may read the wrong table, or
    /// the sender never got any message of this permit recorded).
    pub permit_unknown: Vec<String>,
    /// Answers pulled from an EPIX partner that no record names (a fault, an unreadable or
    /// invalid answer): kept on record, left.
    pub pulled: Vec<String>,
}

/// Decides for one permit's objects against its records (`status`, as
/// [`crate::Ledger::status`] reads them).
pub fn judge(objects: &PermitObjects, status: &PermitStatus) -> PermitVerdict {
    let mut verdict = PermitVerdict::default();
    for (key, parsed) in &objects.candidates {
        let envelope = parsed.envelope_key();
        let named = status
            .received
            .iter()
            .any(|r| r.message_id == parsed.message_id || r.body_key == envelope)
            || status.history.iter().any(|a| a.detail.contains(&envelope));
        if named {
            verdict.named.push(key.clone());
        } else if parsed.message_id.starts_with(PULLED_MESSAGE_PREFIX) {
            verdict.pulled.push(key.clone());
        } else if status.is_empty() {
            verdict.permit_unknown.push(key.clone());
        } else {
            verdict.unnamed.push(key.clone());
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{AuditEntry, ReceivedInfo, ReceivedState};
    use crate::receive::{received_key, received_xml_key};

    fn country(code: &str) -> CountryCode {
        code.parse().unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn received(message_id: &str, number: &str) -> ReceivedInfo {
        ReceivedInfo {
            version: 1,
            document_status: "issued".into(),
            document_type: "E".into(),
            sender: "XA".into(),
            message_id: message_id.into(),
            received_at: "2026-11-30T10:00:00Z".into(),
            tracking_number: "XB-1".into(),
            state: ReceivedState::Received,
            body_key: received_key(country("XA"), number, message_id),
            findings: vec![],
        }
    }

    fn both_keys(number: &str, message_id: &str) -> [String; 2] {
        [
            received_key(country("XA"), number, message_id),
            received_xml_key(country("XA"), number, message_id),
        ]
    }

    #[test]
    fn a_received_key_reads_back_to_the_sender_permit_and_message_receive_wrote_it_from() {
        for (number, message_id) in [
            ("26XA0001", "0b6f7c0e-1"),
            ("FR/2026 #7.ü", "id with/slash..json"),
        ] {
            for key in both_keys(number, message_id) {
                let parsed = parse_received_key(&key).expect(&key);
                assert_eq!(parsed.from, country("XA"));
                assert_eq!(parsed.permit_number, number);
                assert_eq!(parsed.message_id, message_id);
                assert_eq!(parsed.envelope_key(), both_keys(number, message_id)[0]);
            }
        }
    }

    #[test]
    fn keys_of_another_layout_or_escaping_are_not_receives() {
        for key in [
            "received/XA/26XA0001/m1.txt",
            "received/XA/26XA0001/m1",
            "received/XA/26XA0001/sub/m1.json",
            "received/XA/26XA0001.json",
            "received/xa/26XA0001/m1.json",
            "received/ZZZ/26XA0001/m1.json",
            "received/XA/26XA%2f0001/m1.json",
            "received/XA/26XA.0001/m1.json",
            "received/XA//m1.json",
            "received/XA/26XA0001/.json",
            "received/XA/%FF/m1.json",
            "outbox/XA/26XA0001/m1.json",
        ] {
            assert_eq!(parse_received_key(key), None, "{key}");
        }
    }

    #[test]
    fn the_window_leaves_young_old_and_foreign_objects_and_groups_the_rest_by_permit() {
        let now = at("2026-12-01T12:00:00Z");
        let listed = |key: &str, when: &str| ListedObject {
            key: key.into(),
            last_modified: at(when),
        };
        let [a_json, a_xml] = both_keys("26XA0001", "m1");
        let [b_json, _] = both_keys("26XA0002", "m2");
        let [young, _] = both_keys("26XA0003", "m3");
        let [old, _] = both_keys("26XA0004", "m4");
        let plan = plan_sweep(
            vec![
                listed(&a_json, "2026-12-01T10:00:00Z"),
                listed(&a_xml, "2026-12-01T10:00:00Z"),
                listed(&b_json, "2026-11-02T12:00:00Z"),
                listed(&young, "2026-12-01T11:30:00Z"),
                listed(&old, "2026-10-31T11:59:59Z"),
                listed("received/XA/notes.txt", "2026-12-01T10:00:00Z"),
            ],
            SweepWindow::default(),
            now,
        );
        assert_eq!(plan.listed, 6);
        assert_eq!(plan.too_young, 1);
        assert_eq!(plan.too_old, 1);
        assert_eq!(plan.not_received_layout, vec!["received/XA/notes.txt"]);
        let permits: Vec<_> = plan.by_permit.keys().map(|p| p.number.as_str()).collect();
        assert_eq!(permits, ["26XA0001", "26XA0002"]);
        let first = &plan.by_permit.values().next().unwrap().candidates;
        assert_eq!(
            first.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            [a_json.as_str(), a_xml.as_str()]
        );
    }

    #[test]
    fn objects_of_a_recorded_message_or_a_refused_conflict_stay_and_the_rest_are_unnamed() {
        let keys = |ids: &[&str]| -> PermitObjects {
            PermitObjects {
                candidates: ids
                    .iter()
                    .flat_map(|id| both_keys("26XA0001", id))
                    .map(|k| (k.clone(), parse_received_key(&k).unwrap()))
                    .collect(),
            }
        };
        let status = PermitStatus {
            received: vec![received("first", "26XA0001")],
            history: vec![AuditEntry {
                at: "2026-11-30T10:05:00Z".into(),
                event: "RECEIVED_CONFLICT".into(),
                detail: format!(
                    "v1 issued from XA message refused: content b differs from the recorded a \
                     (message first); refused, the first stays; the refused bytes are at {}",
                    received_key(country("XA"), "26XA0001", "refused")
                ),
            }],
            ..PermitStatus::default()
        };
        let verdict = judge(&keys(&["first", "refused", "lost-answer"]), &status);
        let mut named = both_keys("26XA0001", "first").to_vec();
        named.extend(both_keys("26XA0001", "refused"));
        assert_eq!(verdict.named, named);
        assert_eq!(verdict.unnamed, both_keys("26XA0001", "lost-answer"));
        assert!(verdict.permit_unknown.is_empty());
    }

    /// A pull from an EPIX partner keeps every answer, a fault too, and its error names the
    /// key: the sweep leaves such answers whether or not the ledger knows the permit, while
    /// a pushed message's orphan beside them goes.
    #[test]
    fn answers_pulled_from_an_epix_partner_stay_though_no_record_names_them() {
        let fault = format!("{PULLED_MESSAGE_PREFIX}nonfinal-0123456789abcdef0123456789abcdef");
        let objects = |number: &str, ids: &[&str]| PermitObjects {
            candidates: ids
                .iter()
                .map(|id| received_key(country("XA"), number, id))
                .map(|k| (k.clone(), parse_received_key(&k).unwrap()))
                .collect(),
        };
        let known = PermitStatus {
            received: vec![received("first", "26XA0001")],
            ..PermitStatus::default()
        };
        let verdict = judge(&objects("26XA0001", &[&fault, "lost-answer"]), &known);
        assert_eq!(
            verdict.pulled,
            [received_key(country("XA"), "26XA0001", &fault)]
        );
        assert_eq!(
            verdict.unnamed,
            [received_key(country("XA"), "26XA0001", "lost-answer")]
        );
        let verdict = judge(&objects("26XA0002", &[&fault]), &PermitStatus::default());
        assert_eq!(
            verdict.pulled,
            [received_key(country("XA"), "26XA0002", &fault)]
        );
        assert!(verdict.permit_unknown.is_empty() && verdict.unnamed.is_empty());
    }

    #[test]
    fn a_permit_the_ledger_knows_nothing_of_keeps_its_objects() {
        let [json, xml] = both_keys("26XA0009", "m9");
        let objects = PermitObjects {
            candidates: [json, xml]
                .into_iter()
                .map(|k| (k.clone(), parse_received_key(&k).unwrap()))
                .collect(),
        };
        let verdict = judge(&objects, &PermitStatus::default());
        assert!(verdict.named.is_empty() && verdict.unnamed.is_empty());
        assert_eq!(verdict.permit_unknown, both_keys("26XA0009", "m9"));
    }
}
