//! `ecites sweep`: removes the objects under `received/` that no ledger record names, within a
//! window of age (the rules, and why such objects can exist, are in [`ecites_exchange::sweep`]).
//!
//! One ListObjectsV2 page per 1,000 objects under `received/`, one ledger Query per permit with
//! objects in the window, one DeleteObject per object removed. On a versioned bucket (the
//! stack's) a removal is a delete marker: the bytes stay as a noncurrent version until the
//! bucket's lifecycle (or Object Lock retention) lets them go.

use crate::{classify, AwsConfig, ClientOptions, Config, DynamoLedger, S3BlobStore};
use chrono::{DateTime, Utc};
use ecites_domain::PermitId;
use ecites_exchange::sweep::{
    judge, ListedObject, SweepPlan, SweepWindow, MAX_SWEEP_AGE_DAYS, RECEIVED_PREFIX,
};
use ecites_exchange::{BlobStore, Error, Ledger};
use std::fmt::Write as _;

/// What a sweep found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Objects listed under `received/`.
    pub listed: usize,
    /// Younger than the window: left.
    pub too_young: usize,
    /// Older than the window: left.
    pub too_old: usize,
    /// Keys not of receive's layout: left.
    pub not_received_layout: Vec<String>,
    /// Objects in the window named by a record: they stay.
    pub named: usize,
    /// Objects no record names: removed (or, in a dry run, to remove).
    pub unnamed: Vec<String>,
    /// Objects of permits the ledger knows nothing of: left.
    pub permit_unknown: Vec<String>,
    /// Answers pulled from EPIX partners that no record names (faults, unreadable answers),
    /// kept on record by the pull: left.
    pub pulled: usize,
    /// Permits whose records could not be read, with the error: their objects are left.
    pub unreadable: Vec<(PermitId, String)>,
    /// Removals that failed, with the error: the object is still there.
    pub not_removed: Vec<(String, String)>,
    /// True when nothing was removed on purpose.
    pub dry_run: bool,
}

impl SweepReport {
    /// True when every permit was read and every removal went through.
    pub fn complete(&self) -> bool {
        self.unreadable.is_empty() && self.not_removed.is_empty()
    }
}

/// Lists `received/` in `bucket` page by page (1,000 keys a page) into a plan by `window` at
/// `now`: only the window's objects are kept, whatever the bucket holds.
///
/// # Errors
/// A listing that fails (after the SDK's retries), classified transient or permanent.
pub async fn plan_received(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    window: SweepWindow,
    now: DateTime<Utc>,
) -> Result<SweepPlan, Error> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(RECEIVED_PREFIX)
        .into_paginator()
        .send();
    let mut plan = SweepPlan::default();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("s3:ListObjectsV2", e))?;
        for object in page.contents() {
            let (Some(key), Some(modified)) = (object.key(), object.last_modified()) else {
                continue;
            };
            let last_modified =
                DateTime::<Utc>::from_timestamp(modified.secs(), modified.subsec_nanos())
                    .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let object = ListedObject {
                key: key.to_owned(),
                last_modified,
            };
            plan.add(object, window, now);
        }
    }
    Ok(plan)
}

/// Sweeps `received/` in the blob store's bucket: lists it, reads the records of each permit
/// with objects in `window` (at `now`) from `ledger`, and removes what no record names (unless
/// `dry_run`).
///
/// # Errors
/// Only the listing's: a permit that cannot be read or an object that cannot be removed is
/// reported in [`SweepReport::unreadable`] and [`SweepReport::not_removed`] and the sweep goes
/// on.
pub async fn sweep_received(
    s3: &aws_sdk_s3::Client,
    blobs: &dyn BlobStore,
    ledger: &dyn Ledger,
    window: SweepWindow,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<SweepReport, Error> {
    let plan = plan_received(s3, blobs.bucket(), window, now).await?;
    let mut report = SweepReport {
        listed: plan.listed,
        too_young: plan.too_young,
        too_old: plan.too_old,
        not_received_layout: plan.not_received_layout,
        dry_run,
        ..SweepReport::default()
    };
    for (permit, objects) in &plan.by_permit {
        let status = match ledger.status(permit).await {
            Ok(status) => status,
            Err(error) => {
                report.unreadable.push((permit.clone(), error.to_string()));
                continue;
            }
        };
        let verdict = judge(objects, &status);
        report.named += verdict.named.len();
        report.permit_unknown.extend(verdict.permit_unknown);
        report.pulled += verdict.pulled.len();
        for key in verdict.unnamed {
            if !dry_run {
                if let Err(error) = blobs.delete(&key).await {
                    report.not_removed.push((key, error.to_string()));
                    continue;
                }
                tracing::info!(key, "removed an object no ledger record names");
            }
            report.unnamed.push(key);
        }
    }
    Ok(report)
}

/// Why `ecites sweep` could not run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The configuration is incomplete.
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
    /// The window is not one the sweep may use.
    #[error("{0}")]
    Window(String),
    /// The bucket could not be listed.
    #[error(transparent)]
    Listing(#[from] Error),
}

/// The window from the command line's minutes and days, refusing a maximum past
/// [`MAX_SWEEP_AGE_DAYS`] (received rows expire, the objects stay) or below the minimum.
///
/// # Errors
/// [`SweepError::Window`] naming the option and the rule.
pub fn window(older_than_minutes: u32, within_days: u32) -> Result<SweepWindow, SweepError> {
    checked_window(
        (older_than_minutes, "--older-than "),
        (within_days, "--within-days "),
    )
}

/// The window of the scheduled sweep from its settings ([`crate::SweepSettings::from_env`]),
/// under the rules of [`window`].
///
/// # Errors
/// [`SweepError::Window`] naming the variable and the rule.
pub fn window_from_settings(settings: crate::SweepSettings) -> Result<SweepWindow, SweepError> {
    use crate::config::{SWEEP_OLDER_THAN_VARIABLE, SWEEP_WITHIN_DAYS_VARIABLE};
    checked_window(
        (
            settings.older_than_minutes,
            &format!("{SWEEP_OLDER_THAN_VARIABLE}="),
        ),
        (
            settings.within_days,
            &format!("{SWEEP_WITHIN_DAYS_VARIABLE}="),
        ),
    )
}

/// [`window`]'s rules, each setting given with the words that name it in an error.
fn checked_window(
    (older_than_minutes, older_than): (u32, &str),
    (within_days, within): (u32, &str),
) -> Result<SweepWindow, SweepError> {
    if i64::from(within_days) > MAX_SWEEP_AGE_DAYS {
        return Err(SweepError::Window(format!(
            "{within}{within_days} is more than {MAX_SWEEP_AGE_DAYS}: older received \
             records may have expired from the ledger while their objects stay"
        )));
    }
    let window = SweepWindow {
        min_age: chrono::Duration::minutes(i64::from(older_than_minutes)),
        max_age: chrono::Duration::days(i64::from(within_days)),
    };
    if window.max_age <= window.min_age {
        return Err(SweepError::Window(format!(
            "{within}{within_days} leaves nothing older than {older_than}{older_than_minutes} \
             minutes"
        )));
    }
    Ok(window)
}

/// Sweeps with the functions' environment (`ECITES_BUCKET`, `ECITES_TABLE`, ...).
///
/// # Errors
/// The configuration, or the listing of the bucket.
pub async fn sweep_from_env(window: SweepWindow, dry_run: bool) -> Result<SweepReport, SweepError> {
    let config = Config::exchange_from_env()?;
    let aws = AwsConfig::load(ClientOptions::default()).await;
    let s3 = aws.s3();
    let blobs = S3BlobStore::new(s3.clone(), &config.bucket);
    let ledger = DynamoLedger::on_table(aws.dynamodb(), &config.table);
    Ok(sweep_received(&s3, &blobs, &ledger, window, Utc::now(), dry_run).await?)
}

/// The report for people: a sentence, a table of counts, then every key removed or left for a
/// reason the operator should look at.
pub fn render(report: &SweepReport, window: SweepWindow, bucket: &str) -> String {
    let mut out = String::new();
    let in_window =
        report.named + report.unnamed.len() + report.permit_unknown.len() + report.pulled;
    let _ = writeln!(
        out,
        "Swept s3://{bucket}/{RECEIVED_PREFIX}: {} objects listed, {in_window} of them last \
         written between {} days and {} minutes ago.",
        report.listed,
        window.max_age.num_days(),
        window.min_age.num_minutes()
    );
    let unnamed = if report.dry_run {
        "named by no record (would be removed)"
    } else {
        "named by no record, removed"
    };
    let rows = [
        (
            "named by a received record or a conflict's audit row",
            report.named,
        ),
        (unnamed, report.unnamed.len()),
        (
            "answers pulled from EPIX partners, kept on record (left)",
            report.pulled,
        ),
        (
            "of permits the ledger does not know (left)",
            report.permit_unknown.len(),
        ),
        (
            "of permits whose records could not be read (left)",
            report.unreadable.len(),
        ),
        ("removals that failed", report.not_removed.len()),
        ("younger than the window (left)", report.too_young),
        ("older than the window (left)", report.too_old),
        (
            "not of receive's layout (left)",
            report.not_received_layout.len(),
        ),
    ];
    for (what, count) in rows {
        let _ = writeln!(out, "  {what:<56} {count:>8}");
    }
    let lists: [(&str, Vec<String>); 5] = [
        (unnamed, report.unnamed.clone()),
        (
            "left: the ledger knows nothing of the permit (is ECITES_TABLE the stack's table?)",
            report.permit_unknown.clone(),
        ),
        (
            "left: the permit's records could not be read (run the sweep again)",
            report
                .unreadable
                .iter()
                .map(|(permit, error)| format!("{permit}: {error}"))
                .collect(),
        ),
        (
            "not removed",
            report
                .not_removed
                .iter()
                .map(|(key, error)| format!("{key}: {error}"))
                .collect(),
        ),
        (
            "left: not of receive's layout",
            report.not_received_layout.clone(),
        ),
    ];
    for (heading, keys) in lists {
        if !keys.is_empty() {
            let _ = writeln!(out, "{heading}:");
            for key in keys {
                let _ = writeln!(out, "  {key}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_refuses_a_maximum_past_a_year_or_not_above_the_minimum_naming_the_option() {
        assert_eq!(window(60, 30).unwrap(), SweepWindow::default());
        let too_long = window(60, 400).unwrap_err().to_string();
        assert!(
            too_long.contains("--within-days 400 is more than 365"),
            "{too_long}"
        );
        let empty = window(60 * 24 * 2, 1).unwrap_err().to_string();
        assert!(
            empty.contains("leaves nothing older than --older-than 2880"),
            "{empty}"
        );
    }

    #[test]
    fn the_scheduled_window_follows_the_commands_rules_naming_the_variables() {
        let settings = |older_than_minutes, within_days| crate::SweepSettings {
            older_than_minutes,
            within_days,
        };
        assert_eq!(
            window_from_settings(settings(60, 30)).unwrap(),
            SweepWindow::default()
        );
        assert_eq!(
            window_from_settings(settings(0, 7)).unwrap(),
            SweepWindow {
                min_age: chrono::Duration::zero(),
                max_age: chrono::Duration::days(7),
            }
        );
        let too_long = window_from_settings(settings(60, 400))
            .unwrap_err()
            .to_string();
        assert!(
            too_long.contains("ECITES_SWEEP_WITHIN_DAYS=400 is more than 365"),
            "{too_long}"
        );
        let empty = window_from_settings(settings(2880, 1))
            .unwrap_err()
            .to_string();
        assert!(
            empty.contains("leaves nothing older than ECITES_SWEEP_OLDER_THAN_MINUTES=2880"),
            "{empty}"
        );
    }

    #[test]
    fn a_dry_run_says_what_it_would_remove_and_lists_the_keys_left_for_the_operator() {
        let report = SweepReport {
            listed: 5,
            named: 2,
            unnamed: vec!["received/XA/26XA0001/m2.json".into()],
            permit_unknown: vec!["received/XA/26XA0009/m9.json".into()],
            too_young: 1,
            dry_run: true,
            ..SweepReport::default()
        };
        let text = render(&report, SweepWindow::default(), "b");
        assert!(
            text.starts_with("Swept s3://b/received/: 5 objects listed, 4 of them"),
            "{text}"
        );
        let row = |label: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(label))
                .map(|l| l.split_whitespace().last().unwrap_or("").to_owned())
        };
        assert_eq!(
            row("named by no record (would be removed)").as_deref(),
            Some("1"),
            "{text}"
        );
        assert_eq!(
            row("named by a received record").as_deref(),
            Some("2"),
            "{text}"
        );
        assert!(
            text.contains("would be removed):\n  received/XA/26XA0001/m2.json"),
            "{text}"
        );
        assert!(text.contains("ECITES_TABLE"), "{text}");
        assert!(!text.contains("removed:\n"), "{text}");
    }
}
