//! `ecites smoke --partner XZ [--receive NUMBER] [--timeout SECONDS]`: proves a deployed stack
//! end to end against a staging partner. It drops a synthetic, clearly marked test permit
//! (number `SMOKE-<UTC time>-<4 hex>`, document name and special conditions saying it is no
//! permit) for the partner into the stack's `inbox/`, as an operator's system would, and
//! watches the ledger: ingest records it, forward delivers it, the partner acknowledges it
//! (DELIVERED, with its tracking number). With `--receive NUMBER` it also waits for the
//! partner's permit NUMBER to arrive at our receive endpoint (the partner sends it, e.g.
//! `reference_partner.py send`). Each step is printed as a sentence with the time it took;
//! the exit status is 1 when a step failed or the time ran out.

use ecites_domain::codes::{Appendix, Coded, DocumentType, Purpose, Source, Term};
use ecites_domain::model::{Address, Block, Party, Permit, PermitId, Quantity, Timestamp};
use ecites_domain::CountryCode;
use ecites_exchange::ledger::{DeliveryKind, DeliveryState, PermitStatus};
use ecites_exchange::Ledger as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What the smoke test is asked to do.
#[derive(Clone, Debug)]
pub struct SmokeArgs {
    /// The staging partner's country.
    pub partner: String,
    /// The partner's permit number to wait for at our receive endpoint, when it sends one.
    pub receive: Option<String>,
    /// The whole run's bound.
    pub timeout: Duration,
    /// How often the ledger is read.
    pub poll: Duration,
}

/// The synthetic test permit: an export of one captive-bred Hermann's tortoise from `issuer`
/// to `importer`, valid 30 days from `today`, whose name and special conditions say it is a
/// test and no permit.
pub fn smoke_permit(
    number: &str,
    issuer: CountryCode,
    importer: CountryCode,
    today: chrono::NaiveDate,
) -> Permit {
    let party = |name: &str, country: CountryCode| Party {
        name: Some(name.to_owned()),
        address: Address {
            street: vec!["ecites smoke test".to_owned()],
            city: Some("Test".to_owned()),
            country: Some(Coded::parse(&country.to_string())),
            ..Address::default()
        },
        ..Party::default()
    };
    let date = |day: chrono::NaiveDate| Timestamp::parse(&day.format("%Y-%m-%d").to_string()).ok();
    Permit {
        document_type: Some(DocumentType::E.into()),
        document_name: Some("ECITES SMOKE TEST - NOT A CITES PERMIT".to_owned()),
        permit_number: number.to_owned(),
        valid_from: date(today),
        valid_until: date(today + chrono::Days::new(30)),
        importer: Some(party("ecites smoke test (importer)", importer)),
        exporter: Some(party("ecites smoke test (exporter)", issuer)),
        special_conditions: vec![format!(
            "ECITES SMOKE TEST: a synthetic document sent by `ecites smoke` to prove the electronic exchange between {issuer} and {importer}. It is not a CITES permit: discard it."
        )],
        purpose: Some(Purpose::T.into()),
        issuing_authority: Some(party(
            &format!("CITES Management Authority of {issuer} (smoke test)"),
            issuer,
        )),
        issue_date: date(today),
        blocks: vec![Block {
            id: "A".to_owned(),
            scientific_name: Some("Testudo hermanni".to_owned()),
            common_name: Some("Hermann's tortoise (smoke test, no specimen)".to_owned()),
            description: Some("smoke test: no specimen".to_owned()),
            term: Some(Term::LIV.into()),
            appendix: Some(Appendix::II.into()),
            source: Some(Source::C.into()),
            quantity: Some(Quantity {
                value: rust_decimal::Decimal::ONE,
                unit: None,
            }),
            ..Block::default()
        }],
        ..Permit::default()
    }
}

/// A smoke permit number: `SMOKE-<UTC yyyymmddThhmmss>-<4 hex>`, unique per run; the annual
/// report leaves out every permit numbered so.
fn smoke_number(now: chrono::DateTime<chrono::Utc>) -> String {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..4];
    format!(
        "{}{}-{suffix}",
        ecites_domain::model::SMOKE_TEST_PREFIX,
        now.format("%Y%m%dT%H%M%S")
    )
}

/// One step's line: `passed  1.2 s  <what>` or `FAILED 30.0 s  <why>`.
struct Steps {
    started: Instant,
    passed: usize,
}

impl Steps {
    fn passed(&mut self, what: &str) {
        self.passed += 1;
        println!(
            "  passed  {:>6.1} s  {what}",
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Prints the failure and the closing sentence; the exit status.
    fn failed(&self, step: &str, why: &str, total: usize) -> ExitCode {
        println!(
            "  FAILED  {:>6.1} s  {why}",
            self.started.elapsed().as_secs_f64()
        );
        println!(
            "Smoke test FAILED at step {} of {total} ({step}).",
            self.passed + 1
        );
        ExitCode::FAILURE
    }
}

/// Reads the ledger until `done` gives an answer or `deadline` passes (`None`).
async fn wait_for<T>(
    ledger: &ecites_aws::DynamoLedger,
    id: &PermitId,
    deadline: Instant,
    poll: Duration,
    mut done: impl FnMut(&PermitStatus) -> Option<T>,
) -> anyhow::Result<(Option<T>, PermitStatus)> {
    loop {
        let status = ledger
            .status(id)
            .await
            .map_err(|e| anyhow::anyhow!("reading permit {id} from the ledger: {e}"))?;
        if let Some(answer) = done(&status) {
            return Ok((Some(answer), status));
        }
        if Instant::now() >= deadline {
            return Ok((None, status));
        }
        tokio::time::sleep(poll.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

/// Runs the smoke test and prints its steps; exit 1 when one failed.
pub async fn run(args: SmokeArgs) -> anyhow::Result<ExitCode> {
    let config = ecites_aws::Config::exchange_from_env()?;
    let partner: CountryCode = args
        .partner
        .trim()
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| {
            anyhow::anyhow!(
                "--partner {:?} is not an ISO 3166-1 alpha-2 code",
                args.partner
            )
        })?;
    if partner == config.country {
        anyhow::bail!("--partner {partner} is this deployment's own country: name a partner MA");
    }
    let aws = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default()).await;
    let clients = aws.clients();
    let ledger = ecites_aws::DynamoLedger::on_table(clients.dynamodb.clone(), &config.table);
    let now = chrono::Utc::now();
    let number = smoke_number(now);
    let id = PermitId {
        issuer: config.country,
        number: number.clone(),
    };
    let total = if args.receive.is_some() { 4 } else { 3 };
    let stack = std::env::var("ECITES_STACK").unwrap_or_else(|_| config.bucket.clone());
    println!(
        "Smoke test of {stack} with {partner}: the synthetic test permit {number} (marked as no CITES permit), at most {} s.",
        args.timeout.as_secs()
    );
    let mut steps = Steps {
        started: Instant::now(),
        passed: 0,
    };
    let deadline = steps.started + args.timeout;

    // 1. Drop it where the MA's own system drops permits.
    let key = format!("inbox/{number}.json");
    let permit = smoke_permit(&number, config.country, partner, now.date_naive());
    let body = serde_json::to_vec_pretty(&permit)?;
    if let Err(error) = clients
        .s3
        .put_object()
        .bucket(&config.bucket)
        .key(&key)
        .content_type("application/json")
        .body(body.into())
        .send()
        .await
    {
        let why = format!(
            "could not put s3://{}/{key}: {}",
            config.bucket,
            ecites_aws::errors::error_chain(&error)
        );
        return Ok(steps.failed("drop", &why, total));
    }
    steps.passed(&format!("dropped s3://{}/{key}", config.bucket));

    // 2. Ingest records it (or rejects it, which a smoke permit never should be).
    let (recorded, status) = wait_for(&ledger, &id, deadline, args.poll, |status| {
        if let Some(rejection) = status.rejections.first() {
            return Some(Err(format!(
                "ingest rejected it: {} (report {})",
                rejection.reason, rejection.report_key
            )));
        }
        status.versions.first().map(|v| Ok(v.version))
    })
    .await?;
    match recorded {
        Some(Ok(version)) => steps.passed(&format!(
            "ingest recorded version {version} and queued its delivery to {partner}"
        )),
        Some(Err(why)) => return Ok(steps.failed("ingest", &why, total)),
        None => {
            let _ = status;
            let why = format!(
                "ingest has not recorded it within {} s: is the inbox's S3 notification wired to the ingest queue, and is ingest running (its DLQ, its errors alarm)?",
                args.timeout.as_secs()
            );
            return Ok(steps.failed("ingest", &why, total));
        }
    }

    // 3. Forward delivers it and the partner acknowledges it.
    let delivery = |status: &PermitStatus| {
        status
            .deliveries
            .iter()
            .find(|d| {
                d.version == 1
                    && d.kind == DeliveryKind::Permit
                    && d.recipient == partner.to_string()
            })
            .cloned()
    };
    let (delivered, status) = wait_for(&ledger, &id, deadline, args.poll, |status| {
        let found = delivery(status)?;
        match found.state {
            DeliveryState::Pending => None,
            _ => Some(found),
        }
    })
    .await?;
    match delivered {
        Some(d)
            if matches!(
                d.state,
                DeliveryState::Delivered | DeliveryState::DeliveredWithWarnings
            ) =>
        {
            steps.passed(&format!(
                "{partner} acknowledged it: {}, its tracking number {}",
                d.state.as_str(),
                d.tracking_number.as_deref().unwrap_or("(none)")
            ))
        }
        Some(d) => {
            let why = format!(
                "the delivery to {partner} ended {} after {} attempt(s): {}",
                d.state.as_str(),
                d.attempts,
                d.last_error.as_deref().unwrap_or("no reason recorded")
            );
            return Ok(steps.failed("delivery", &why, total));
        }
        None => {
            let why = match delivery(&status) {
                Some(d) => format!(
                    "{partner} has not acknowledged it within {} s: the delivery is still PENDING after {} attempt(s); last error: {}",
                    args.timeout.as_secs(),
                    d.attempts,
                    d.last_error.as_deref().unwrap_or("none yet (forward has not tried: is it running?)")
                ),
                None => format!(
                    "no delivery to {partner} was recorded within {} s",
                    args.timeout.as_secs()
                ),
            };
            return Ok(steps.failed("delivery", &why, total));
        }
    }

    // 4. The partner's own permit reaches our receive endpoint.
    if let Some(theirs) = &args.receive {
        let their_id = PermitId {
            issuer: partner,
            number: theirs.trim().to_owned(),
        };
        let (received, _) = wait_for(&ledger, &their_id, deadline, args.poll, |status| {
            status.received.first().cloned()
        })
        .await?;
        match received {
            Some(r) => steps.passed(&format!(
                "received {partner}'s permit {} (version {}), our tracking number {}",
                their_id.number, r.version, r.tracking_number
            )),
            None => {
                let why = format!(
                    "{partner}'s permit {} has not reached our receive endpoint within {} s (has the partner sent it to ECITES_RECEIVE_ENDPOINT_URL?)",
                    their_id.number,
                    args.timeout.as_secs()
                );
                return Ok(steps.failed("receive", &why, total));
            }
        }
    }
    println!(
        "All {total} steps passed in {:.1} s. The test permit {number} stays in the ledger and {partner}'s records, marked as a smoke test.",
        steps.started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smoke_permit_is_valid_and_says_it_is_no_permit() {
        let xa: CountryCode = "XA".parse().unwrap();
        let xz: CountryCode = "XZ".parse().unwrap();
        let number = smoke_number(chrono::Utc::now());
        assert!(
            number.starts_with("SMOKE-") && number.len() == 26,
            "{number}"
        );
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let permit = smoke_permit(&number, xa, xz, today);
        let findings = ecites_domain::validate::validate(&permit);
        assert!(
            findings
                .iter()
                .all(|f| f.severity != ecites_domain::Severity::Error),
            "{findings:?}"
        );
        assert!(permit.special_conditions[0].contains("not a CITES permit"));
        assert!(permit
            .document_name
            .as_deref()
            .unwrap()
            .contains("SMOKE TEST"));
    }
}
