//! The `sweep` function: on a schedule (EventBridge), removes the objects under `received/` that
//! no ledger record names, what `ecites sweep` does by hand. Such objects are left when a
//! partner's message was stored and our ledger write timed out without being applied: the
//! partner's retry, under a new message id, is the one on record. The rules (which objects, and
//! why only within a window of age and only for permits the ledger knows) are
//! [`ecites_exchange::sweep`]'s; the work is [`ecites_aws::sweep::sweep_received`]'s. This crate
//! reads the window and decides the invocation's outcome.
//!
//! The event is EventBridge's scheduled event (nothing in it is read) or, for an operator's
//! invocation, `{"dry_run": true}` to learn what a run would remove.
//!
//! A run that could not read a permit's records or remove an object fails, after sweeping
//! everything else, so that `SweepErrorsAlarm` tells the operator; EventBridge retries it and
//! the next day's run tries those again (a sweep removes only what no record names, so running it
//! twice is harmless).

#![warn(missing_docs)]

use chrono::Utc;
use ecites_aws::sweep::{sweep_received, SweepReport};
use ecites_aws::{Clients, Config, DynamoLedger, S3BlobStore};
use ecites_exchange::sweep::SweepWindow;
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};

/// The most keys of one kind the answer and the log name; the counts are always whole.
pub const KEYS_SHOWN: usize = 100;

/// What the function is invoked with: EventBridge's scheduled event (no field of it is read) or
/// an operator's `{"dry_run": true}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SweepRequest {
    /// Remove nothing; answer what would be removed.
    #[serde(default)]
    pub dry_run: bool,
}

/// The function's answer: what the sweep found and did, as counts, with the first
/// [`KEYS_SHOWN`] keys of each kind the operator may want to look at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepResponse {
    /// True when nothing was removed on purpose.
    pub dry_run: bool,
    /// Objects listed under `received/`.
    pub listed: usize,
    /// Younger than the window: left (their message may still be running).
    pub too_young: usize,
    /// Older than the window: left (their records may have expired).
    pub too_old: usize,
    /// Objects in the window named by a record: they stay.
    pub named: usize,
    /// Answers pulled from EPIX partners, kept on record by the pull: left.
    pub pulled: usize,
    /// Objects no record names: removed (in a dry run, to remove).
    pub removed: usize,
    /// The first of them.
    pub removed_keys: Vec<String>,
    /// Objects of permits the ledger does not know (another stack's table?): left.
    pub permit_unknown: usize,
    /// The first of them.
    pub permit_unknown_keys: Vec<String>,
    /// Keys not of receive's layout: left.
    pub not_received_layout: usize,
    /// The first of them.
    pub not_received_layout_keys: Vec<String>,
}

impl SweepResponse {
    /// The answer for `report`.
    pub fn of(report: &SweepReport) -> Self {
        let first = |keys: &[String]| keys.iter().take(KEYS_SHOWN).cloned().collect();
        SweepResponse {
            dry_run: report.dry_run,
            listed: report.listed,
            too_young: report.too_young,
            too_old: report.too_old,
            named: report.named,
            pulled: report.pulled,
            removed: report.unnamed.len(),
            removed_keys: first(&report.unnamed),
            permit_unknown: report.permit_unknown.len(),
            permit_unknown_keys: first(&report.permit_unknown),
            not_received_layout: report.not_received_layout.len(),
            not_received_layout_keys: first(&report.not_received_layout),
        }
    }
}

/// Why a sweep that ran is not complete, for the invocation's error: how many permits could not
/// be read and objects not removed, with the first of each. `None` when it is complete.
pub fn incomplete(report: &SweepReport) -> Option<String> {
    if report.complete() {
        return None;
    }
    let mut reasons = Vec::new();
    if let Some((permit, error)) = report.unreadable.first() {
        reasons.push(format!(
            "{} could not be read (the first, {permit}: {error})",
            counted(
                report.unreadable.len(),
                "permit's records",
                "permits' records"
            )
        ));
    }
    if let Some((key, error)) = report.not_removed.first() {
        reasons.push(format!(
            "{} could not be removed (the first, {key}: {error})",
            counted(report.not_removed.len(), "object", "objects")
        ));
    }
    Some(format!(
        "the sweep of received/ is incomplete: {}; everything else was swept, and the next run tries these again",
        reasons.join("; ")
    ))
}

/// `count` with its noun, singular or plural.
fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// The function: the bucket, the ledger and the window, built once per process.
pub struct SweepFunction {
    s3: aws_sdk_s3::Client,
    blobs: S3BlobStore,
    ledger: DynamoLedger,
    window: SweepWindow,
}

impl SweepFunction {
    /// Builds the function from the configuration, the clients and the window
    /// ([`ecites_aws::sweep::window_from_settings`]).
    pub fn new(config: &Config, clients: &Clients, window: SweepWindow) -> Self {
        SweepFunction {
            s3: clients.s3.clone(),
            blobs: S3BlobStore::new(clients.s3.clone(), &config.bucket),
            ledger: DynamoLedger::on_table(clients.dynamodb.clone(), &config.table),
            window,
        }
    }

    /// Sweeps `received/` once. A listing that fails fails the invocation before anything is
    /// removed; a permit that cannot be read or an object that cannot be removed is logged, the
    /// rest swept, and then the invocation fails ([`incomplete`]).
    pub async fn handle(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<SweepResponse, lambda_runtime::Error> {
        let request: SweepRequest = serde_json::from_value(event.payload).unwrap_or_default();
        let report = sweep_received(
            &self.s3,
            &self.blobs,
            &self.ledger,
            self.window,
            Utc::now(),
            request.dry_run,
        )
        .await?;
        for key in report.permit_unknown.iter().take(KEYS_SHOWN) {
            tracing::warn!(key, "left: an object of a permit the ledger does not know");
        }
        for key in report.not_received_layout.iter().take(KEYS_SHOWN) {
            tracing::warn!(key, "left: a key not of receive's layout");
        }
        for (permit, error) in report.unreadable.iter().take(KEYS_SHOWN) {
            tracing::warn!(%permit, error, "left: the permit's records could not be read");
        }
        for (key, error) in report.not_removed.iter().take(KEYS_SHOWN) {
            tracing::warn!(key, error, "left: the object could not be removed");
        }
        let response = SweepResponse::of(&report);
        tracing::info!(
            dry_run = response.dry_run,
            listed = response.listed,
            named = response.named,
            removed = response.removed,
            too_young = response.too_young,
            too_old = response.too_old,
            pulled = response.pulled,
            permit_unknown = response.permit_unknown,
            not_received_layout = response.not_received_layout,
            "received/ swept"
        );
        match incomplete(&report) {
            Some(why) => Err(why.into()),
            None => Ok(response),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecites_domain::PermitId;

    fn permit(number: &str) -> PermitId {
        PermitId {
            issuer: "XA".parse().unwrap(),
            number: number.into(),
        }
    }

    #[test]
    fn a_complete_sweep_answers_its_counts_with_at_most_a_hundred_keys_of_a_kind() {
        let removed: Vec<String> = (0..150)
            .map(|n| format!("received/XA/26XA{n:04}/m1.json"))
            .collect();
        let report = SweepReport {
            listed: 160,
            named: 6,
            unnamed: removed.clone(),
            permit_unknown: vec!["received/XA/26XA9999/m1.json".into()],
            ..SweepReport::default()
        };
        assert_eq!(incomplete(&report), None);
        let response = SweepResponse::of(&report);
        assert_eq!(response.removed, 150);
        assert_eq!(response.removed_keys, removed[..KEYS_SHOWN]);
        assert_eq!(response.permit_unknown, 1);
        assert_eq!(response.listed, 160);
        assert_eq!(response.named, 6);
    }

    #[test]
    fn a_sweep_that_left_a_permit_unread_or_an_object_in_place_fails_naming_the_first_of_each() {
        let report = SweepReport {
            unreadable: vec![
                (permit("26XA0001"), "throttled".into()),
                (permit("26XA0002"), "throttled".into()),
            ],
            not_removed: vec![("received/XA/26XA0003/m1.json".into(), "denied".into())],
            ..SweepReport::default()
        };
        let why = incomplete(&report).expect("incomplete");
        assert!(
            why.contains(
                "2 permits' records could not be read (the first, XA/26XA0001: throttled)"
            ),
            "{why}"
        );
        assert!(
            why.contains(
                "1 object could not be removed (the first, received/XA/26XA0003/m1.json: denied)"
            ),
            "{why}"
        );
    }

    #[test]
    fn an_operator_may_ask_for_a_dry_run() {
        let dry: SweepRequest = serde_json::from_str(r#"{"dry_run": true}"#).unwrap();
        assert!(dry.dry_run);
    }
}
