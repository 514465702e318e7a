//! The `report` function: on a schedule (EventBridge), writes the year-to-date drafts of this
//! Party's CITES annual reports to the bucket, so that the Management Authority always has a
//! current draft: `reports/annual/<year>/exporter.csv` and `importer.csv` (the actual basis),
//! each with `<role>.summary.txt` (basis, rows, permits issued but not yet used, cancelled
//! permits, and the findings of UNEP-WCMC's checks). The logic is
//! [`ecites_aws::report::publish_drafts`]; this crate only decides which years.
//!
//! The event is EventBridge's scheduled event (its `time` decides the years) or, for an
//! operator's invocation, `{"year": 2026}` or `{"years": [2025, 2026]}`.

#![warn(missing_docs)]

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use ecites_aws::report::publish_drafts;
use ecites_aws::{Clients, Config, DynamoLedger, S3SpeciesChecklist};
use ecites_domain::CountryCode;
use ecites_exchange::SpeciesChecklist;
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What the function is invoked with: EventBridge's scheduled event (only `time` is read) or
/// an operator's `{"year": YYYY}` or `{"years": [YYYY, ...]}` (an empty list writes nothing).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ReportRequest {
    /// The one year to write, when given.
    #[serde(default)]
    pub year: Option<i32>,
    /// The years to write, when given (before `year`).
    #[serde(default)]
    pub years: Option<Vec<i32>>,
    /// When the schedule fired (EventBridge's `time`).
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
}

/// The years CITES annual reports can be about: the Convention entered into force on
/// 1 July 1975.
const YEARS: std::ops::RangeInclusive<i32> = 1975..=9999;

impl ReportRequest {
    /// The years to write: `years`, else `year`, else those a run at `time` (else `today`)
    /// keeps current ([`years_to_report`]). A year outside 1975-9999 is refused.
    pub fn years(&self, today: NaiveDate) -> Result<Vec<i32>, String> {
        let years = match (&self.years, self.year) {
            (Some(years), _) => years.clone(),
            (None, Some(year)) => vec![year],
            (None, None) => years_to_report(self.time.map_or(today, |t| t.date_naive())),
        };
        match years.iter().find(|year| !YEARS.contains(year)) {
            Some(year) => Err(format!(
                "{year} is not a year of CITES annual reports (1975 to 9999)"
            )),
            None => Ok(years),
        }
    }
}

/// One draft written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftWritten {
    /// The CSV's key in the bucket.
    pub key: String,
    /// Its summary's key.
    pub summary_key: String,
    /// Rows written.
    pub rows: u64,
    /// Rows failing a primary check.
    pub errors: u64,
    /// Rows with a secondary check's warning.
    pub warnings: u64,
}

/// The function's answer: the drafts written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportResponse {
    /// Every draft written, by year then role.
    pub drafts: Vec<DraftWritten>,
}

/// The years whose drafts a run on `today` keeps current: this year's, and last year's while
/// its report is not yet due (Res. Conf. 11.17 (Rev. CoP19): by 31 October of the following
/// year).
pub fn years_to_report(today: NaiveDate) -> Vec<i32> {
    let year = today.year();
    let due = NaiveDate::from_ymd_opt(year, 10, 31).unwrap_or(today);
    if today <= due {
        vec![year - 1, year]
    } else {
        vec![year]
    }
}

/// The function: the ledger, the bucket and the checklist, built once per process.
pub struct ReportFunction {
    ledger: DynamoLedger,
    s3: aws_sdk_s3::Client,
    species: S3SpeciesChecklist,
    bucket: String,
    country: CountryCode,
}

impl ReportFunction {
    /// Builds the function from the configuration and the clients.
    pub fn new(config: &Config, clients: &Clients) -> Self {
        ReportFunction {
            ledger: DynamoLedger::on_table(clients.dynamodb.clone(), &config.table),
            s3: clients.s3.clone(),
            species: S3SpeciesChecklist::for_deployment(
                clients.s3.clone(),
                &config.bucket,
                Duration::from_secs(300),
            ),
            bucket: config.bucket.clone(),
            country: config.country,
        }
    }

    /// Writes the drafts of the years the event asks for. An error (the ledger or the bucket
    /// unreachable) fails the invocation: EventBridge retries it, and the next run rewrites
    /// every draft anyway.
    pub async fn handle(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<ReportResponse, lambda_runtime::Error> {
        let request: ReportRequest = serde_json::from_value(event.payload).unwrap_or_default();
        let years = request.years(Utc::now().date_naive())?;
        let mut response = ReportResponse::default();
        if years.is_empty() {
            return Ok(response);
        }
        let checklist = self.species.checklist().await?;
        for year in years {
            let published = publish_drafts(
                &self.ledger,
                &self.s3,
                &self.bucket,
                self.country,
                year,
                checklist.as_deref(),
            )
            .await?;
            response
                .drafts
                .extend(published.into_iter().map(|draft| DraftWritten {
                    key: draft.key,
                    summary_key: draft.summary_key,
                    rows: draft.summary.rows,
                    errors: draft.summary.errors,
                    warnings: draft.summary.warnings,
                }));
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn last_years_draft_is_kept_current_until_its_report_is_due_on_31_october() {
        assert_eq!(years_to_report(day("2027-01-01")), [2026, 2027]);
        assert_eq!(years_to_report(day("2027-10-31")), [2026, 2027]);
        assert_eq!(years_to_report(day("2027-11-01")), [2027]);
    }

    #[test]
    fn a_scheduled_event_is_read_for_its_time_and_an_operator_event_for_its_year() {
        let scheduled: ReportRequest = serde_json::from_value(serde_json::json!({
            "version": "0", "id": "53dc4d37", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012",
            "time": "2026-12-01T06:00:00Z", "region": "eu-west-1",
            "resources": ["arn:aws:events:eu-west-1:123456789012:rule/report"], "detail": {}
        }))
        .unwrap();
        assert_eq!(scheduled.year, None);
        assert_eq!(
            scheduled.time.map(|t| t.date_naive()),
            Some(day("2026-12-01"))
        );
        let operator: ReportRequest =
            serde_json::from_value(serde_json::json!({"year": 2025})).unwrap();
        assert_eq!(operator.years(day("2026-12-01")), Ok(vec![2025]));
        let several: ReportRequest =
            serde_json::from_value(serde_json::json!({"years": [2024, 2025]})).unwrap();
        assert_eq!(several.years(day("2026-12-01")), Ok(vec![2024, 2025]));
        let none: ReportRequest = serde_json::from_value(serde_json::json!({"years": []})).unwrap();
        assert_eq!(none.years(day("2026-12-01")), Ok(vec![]));
    }

    #[test]
    fn a_year_before_the_convention_is_refused_naming_it() {
        let request: ReportRequest =
            serde_json::from_value(serde_json::json!({"year": 26})).unwrap();
        let refused = request.years(day("2026-12-01")).unwrap_err();
        assert!(refused.contains("26 is not a year"), "{refused}");
    }
}
