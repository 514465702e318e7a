//! `ecites-local soak` (`make soak`): two MAs on the emulator with notifications and customs
//! uses, every function's AWS calls behind the fault proxy ([`crate::emulation::aws_proxy`]),
//! XB's endpoint and both MAs' webhook subscribers flapping ([`Mode::Flapping`],
//! [`WebhookReceiver::set_flapping`]), and the ingest and forward runners each killed once in
//! the middle of a batch. Inputs in every format (JSON and XML files, CSV, direct messages),
//! duplicates and invalid files; later, re-issues, cancellations and XB's import confirmations.
//! It runs until quiet (dead-letter queues replayed, as an operator would), then audits both
//! ledgers, both buckets, the queues and every subscriber's inbox against the inputs. Nothing
//! may be lost and nothing doubled.
//!
//! `make test` runs a small soak of this harness (`tests/tests/faults.rs`); `make soak` a large
//! one.

use crate::emulation::aws_proxy::{AwsProxy, Fault, FaultPlan};
use crate::emulation::front_door::Mode;
use crate::emulation::webhook_receiver::WebhookReceiver;
use crate::fixtures;
use crate::stack::exchange::{start_pair, Ma, PairOptions};
use crate::stack::notify::{LocalNotify, NotifyOptions};
use ecites_domain::PermitId;
use ecites_exchange::ledger::{delivery_id, DeliveryKind, DeliveryState};
use ecites_exchange::notify::{Channel, EventType, Filters, Role, Secret, Subscription};
use ecites_exchange::usage::UseLedger as _;
use ecites_exchange::Ledger as _;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// How big and how hostile a soak is.
#[derive(Clone, Debug)]
pub struct SoakOptions {
    /// Use a running emulator instead of starting one.
    pub endpoint: Option<String>,
    /// Valid permits XA issues to XB (a quarter each as JSON files, direct messages, XML files
    /// and CSV files).
    pub permits: usize,
    /// Share of the functions' AWS calls faulted (every kind).
    pub fault_rate: f64,
    /// The fault generator's seed.
    pub seed: u64,
    /// XB's endpoint and the webhook subscribers flap (three requests in ten, one in four).
    pub flapping: bool,
    /// Kill the ingest runner and the forward runner once each in the middle of a batch.
    pub runner_kills: bool,
    /// Print a line on standard error as each phase ends (`make soak` runs for an hour or
    /// more; an operator should see it move).
    pub progress: bool,
}

impl SoakOptions {
    /// `permits` permits, 8 % of AWS calls faulted, flapping partner and subscribers, one kill
    /// of each runner, a fixed seed.
    pub fn new(permits: usize) -> Self {
        SoakOptions {
            endpoint: None,
            permits,
            fault_rate: 0.08,
            seed: 20_261_130,
            flapping: true,
            runner_kills: true,
            progress: false,
        }
    }
}

/// The soak's progress lines on standard error: `soak [m:ss] what`, the time since it started.
struct Progress {
    started: Instant,
    on: bool,
}

impl Progress {
    fn say(&self, what: impl std::fmt::Display) {
        if self.on {
            let seconds = self.started.elapsed().as_secs();
            eprintln!("soak [{}:{:02}] {what}", seconds / 60, seconds % 60);
        }
    }
}

/// How one permit enters XA's ingest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum InputForm {
    /// A JSON file dropped in the inbox.
    JsonFile,
    /// A direct message on the ingest queue.
    Message,
    /// A standard XML file dropped in the inbox.
    XmlFile,
    /// A CSV file (one row) dropped in the inbox.
    CsvFile,
}

impl InputForm {
    /// What the table calls it.
    pub fn name(self) -> &'static str {
        match self {
            InputForm::JsonFile => "JSON files",
            InputForm::Message => "direct messages",
            InputForm::XmlFile => "XML files",
            InputForm::CsvFile => "CSV files",
        }
    }
}

/// What happens to the `i`th permit of a soak.
#[derive(Clone, Debug)]
struct Planned {
    number: String,
    form: InputForm,
    /// Sent again as a message (the same content).
    duplicate: bool,
    /// Re-issued later with new content (version 2).
    reissued: bool,
    /// Cancelled later.
    cancelled: bool,
    /// Its import confirmed later by XB's customs (`Some(true)`: the confirmation sent twice).
    confirmed: Option<bool>,
}

fn plan(i: usize) -> Planned {
    Planned {
        number: format!("26XA{:06}", 300_000 + i),
        form: match i % 4 {
            0 => InputForm::JsonFile,
            1 => InputForm::Message,
            2 => InputForm::XmlFile,
            _ => InputForm::CsvFile,
        },
        duplicate: i.is_multiple_of(4),
        reissued: i % 10 == 2,
        cancelled: i % 10 == 5,
        confirmed: match i % 10 {
            4 => Some(true),
            9 => Some(false),
            _ => None,
        },
    }
}

/// What the audit found.
#[derive(Clone, Debug, Default)]
pub struct SoakReport {
    /// Valid permits issued.
    pub permits: usize,
    /// Of them, by input form.
    pub forms: BTreeMap<InputForm, usize>,
    /// Duplicate messages sent (the same permit again).
    pub duplicates: usize,
    /// Invalid files dropped.
    pub invalid: usize,
    /// Permits re-issued (a version 2 with new content).
    pub reissues: usize,
    /// Permits cancelled.
    pub cancellations: usize,
    /// Import confirmations sent by XB's customs (plus `use_duplicates` sent twice).
    pub uses: usize,
    /// Import confirmations sent a second time.
    pub use_duplicates: usize,
    /// Permits whose every document (issue, re-issue, cancellation) XA recorded once,
    /// delivered, and XB received and stored once.
    pub delivered: usize,
    /// Import confirmations recorded once at XB, delivered to XA and recorded once there.
    pub uses_recorded: usize,
    /// Invalid files rejected with a report.
    pub rejected: usize,
    /// Messages found in a DLQ and replayed (then delivered).
    pub replayed: usize,
    /// Per subscriber inbox: (events, repeats of an event already there, dropped by its id).
    pub notifications: BTreeMap<&'static str, (usize, usize)>,
    /// What was lost, one line each.
    pub lost: Vec<String>,
    /// What was doubled (or told that never happened), one line each.
    pub doubled: Vec<String>,
    /// Objects under `received/` that no ledger record names, found by the sweep an operator
    /// runs (`ecites sweep`) and removed, before the audit.
    pub swept: Vec<String>,
    /// Objects under `received/` that no ledger record names, still there at the audit.
    pub orphaned: Vec<String>,
    /// Messages left in a queue or DLQ at the end.
    pub left_queued: BTreeMap<String, u64>,
    /// Faults injected at XA's and XB's functions, by kind.
    pub faults: BTreeMap<Fault, u64>,
    /// Requests XB's flapping endpoint answered with a fault.
    pub partner_faults: u64,
    /// Requests the flapping webhook subscribers refused or left unanswered.
    pub subscriber_faults: u64,
    /// Runners killed in the middle of a batch.
    pub runner_kills: usize,
    /// AWS requests that reached the emulator through the proxies.
    pub requests: u64,
    /// Wall time.
    pub wall: Duration,
}

impl SoakReport {
    /// Nothing lost, nothing doubled, nothing left in a queue, no object that no record names.
    pub fn passed(&self) -> bool {
        self.lost.is_empty()
            && self.doubled.is_empty()
            && self.left_queued.is_empty()
            && self.orphaned.is_empty()
    }
}

/// How long one drain may take: 10 minutes, or a second per permit when more (the emulator
/// handles a few permits a second through every function with faults on).
fn quiet(permits: usize) -> Duration {
    Duration::from_secs(600.max(u64::try_from(permits).unwrap_or(u64::MAX)))
}

fn direct(permit: &ecites_domain::Permit) -> String {
    let body = String::from_utf8_lossy(&fixtures::json(permit)).into_owned();
    serde_json::json!({"type": "permit", "version": 1, "content": body}).to_string()
}

/// How many versions of XA's permit `number` (version 1, as issued, replaced or cancelled) XB's
/// ledger records as received: 1 when delivered once.
pub async fn received_versions(xb: &Ma, number: &str) -> anyhow::Result<usize> {
    let mut versions = 0;
    for status in ["issued", "replaced", "cancelled"] {
        if xb
            .store
            .received_fields(crate::country("XA"), number, 1, status)
            .await?
            .is_some()
        {
            versions += 1;
        }
    }
    Ok(versions)
}

/// Moves every message of `dlq` back to `queue`; returns how many.
async fn redrive(ma: &Ma, dlq: &str, queue: &str) -> anyhow::Result<usize> {
    let bodies = ma.local.take_all(dlq).await?;
    for body in &bodies {
        ma.local
            .clients
            .sqs
            .send_message()
            .queue_url(queue)
            .message_body(body)
            .send()
            .await?;
    }
    Ok(bodies.len())
}

/// One MA's notification side in the soak: its stack, its agency queue (SNS -> SQS) and its
/// flapping webhook subscriber.
struct Told {
    notify: LocalNotify,
    queue_url: String,
    queue_name: &'static str,
    webhook: WebhookReceiver,
    webhook_name: &'static str,
}

/// Subscribes, retrying what the fault proxy refuses (an operator would run the command again).
async fn subscribe(
    notify: &LocalNotify,
    subscription: Subscription,
    secret: Option<&Secret>,
) -> anyhow::Result<()> {
    let mut tries = 0;
    loop {
        match notify.admin.add(subscription.clone(), secret).await {
            Ok(_) => return Ok(()),
            Err(error) if tries < 10 => {
                tries += 1;
                tracing::debug!(%error, "subscribing again");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => return Err(anyhow::anyhow!("subscribing {}: {error}", subscription.id)),
        }
    }
}

/// Starts `ma`'s notification stack with an agency queue told `queue_events` and a webhook
/// subscriber (role `webhook_role`) told `webhook_events`.
async fn start_notifications(
    ma: &Ma,
    names: (&'static str, &'static str),
    queue_events: Vec<EventType>,
    webhook_role: Role,
    webhook_events: Vec<EventType>,
    flapping: bool,
) -> anyhow::Result<Told> {
    let notify = LocalNotify::start(
        &ma.local,
        NotifyOptions {
            backoff_s: 1,
            max_receive_count: 5,
        },
    )
    .await?;
    let country = ma.local.config.country.to_string();
    let prefix = ma
        .local
        .stack
        .bucket
        .strip_suffix("-exchange")
        .unwrap_or(&ma.local.stack.bucket)
        .to_owned();
    let (queue_url, queue_arn) = notify
        .agency_queue(&ma.local, &format!("{prefix}-{}", names.0))
        .await?;
    let queue = Subscription {
        id: names.0.into(),
        agency: format!("Customs of {country}"),
        country: country.clone(),
        role: Role::Customs,
        events: queue_events,
        filters: Filters::default(),
        channel: Channel::Sns {
            protocol: "sqs".into(),
            endpoint: queue_arn,
            subscription_arn: None,
        },
        include_xml: false,
    };
    subscribe(&notify, queue, None).await?;
    let webhook = WebhookReceiver::start(200).await?;
    webhook.set_flapping(flapping);
    let hook = Subscription {
        id: names.1.into(),
        agency: format!("{} of {country}", names.1),
        country,
        role: webhook_role,
        events: webhook_events,
        filters: Filters::default(),
        channel: Channel::Webhook {
            url: webhook.url("/events"),
            secret_parameter: format!("/{prefix}/webhooks/{}", names.1),
        },
        include_xml: false,
    };
    let secret = Secret::new(format!("soak-secret-{}", std::process::id()));
    subscribe(&notify, hook, Some(&secret)).await?;
    Ok(Told {
        notify,
        queue_url,
        queue_name: names.0,
        webhook,
        webhook_name: names.1,
    })
}

/// Kills the runner of `source` in the middle of a batch: once the batch's first AWS calls
/// reach the proxy (passed on or faulted), the poll's future is dropped as a killed process
/// stops; SQS makes the batch visible again after the visibility timeout. Returns whether a
/// batch was cut.
async fn kill_mid_batch<F, Fut>(
    source: &crate::EventSource,
    handler: &F,
    proxy: Option<&AwsProxy>,
) -> bool
where
    F: Fn(lambda_runtime::LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>) -> Fut,
    Fut: std::future::Future<
        Output = Result<aws_lambda_events::event::sqs::SqsBatchResponse, lambda_runtime::Error>,
    >,
{
    let Some(proxy) = proxy else {
        return false;
    };
    let seen = || proxy.requests() + proxy.faults_injected().values().sum::<u64>();
    let before = seen();
    let mut source = source.clone();
    source.batching_window = Duration::from_secs(1);
    let started = async {
        while seen() == before {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // A few calls in: some writes made, others not.
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    tokio::select! {
        _ = source.poll_once(handler) => false,
        cut = tokio::time::timeout(Duration::from_secs(60), started) => cut.is_ok(),
    }
}

/// Runs every function of both MAs until quiet, replaying the DLQs as the runbook says, until
/// a round finds nothing in them. Returns the messages replayed.
async fn settle(
    xa: &Ma,
    xb: &Ma,
    told: [&Told; 2],
    limit: Duration,
    progress: &Progress,
) -> anyhow::Result<usize> {
    let mut replayed = 0;
    for pass in 1..=4 {
        xa.local.drain(limit).await?;
        xb.local.drain(limit).await?;
        progress.say(format_args!("pass {pass}: both ingest queues drained"));
        xa.forward_until_quiet(limit).await?;
        xb.forward_until_quiet(limit).await?;
        progress.say(format_args!("pass {pass}: both delivery queues drained"));
        // Both forwards ran before the streams are read, so the notifications see XB's uses
        // recorded at XA by its receive function.
        for side in told {
            side.notify.run_stream(limit).await?;
        }
        progress.say(format_args!("pass {pass}: both ledger streams notified"));
        for side in told {
            side.notify.run_webhooks(limit).await?;
        }
        progress.say(format_args!("pass {pass}: both webhook queues drained"));
        let mut round = 0;
        for (ma, side) in [(xa, told[0]), (xb, told[1])] {
            let stack = &ma.local.stack;
            round += redrive(ma, &stack.ingest_dlq_url, &stack.ingest_queue_url).await?;
            round += ecites_aws::replay::replay_dlq(
                &ma.local.clients.sqs,
                &ma.store,
                &stack.deliveries_dlq_url,
                &stack.deliveries_queue_url,
                100_000,
            )
            .await?
            .requeued;
            round += redrive(
                ma,
                &side.notify.webhook_dlq_url,
                &side.notify.webhook_queue_url,
            )
            .await?;
        }
        replayed += round;
        if round == 0 {
            progress.say(format_args!("pass {pass}: every DLQ empty, quiet"));
            break;
        }
        progress.say(format_args!(
            "pass {pass}: {round} messages replayed from the DLQs"
        ));
    }
    Ok(replayed)
}

/// The key an event is audited under: its id, except that a use's or a rejection's id ends in
/// a key the soak does not know (the use key, the content's digest), so those are audited per
/// permit; the event type is part of the key, so an alert where a use was expected shows.
fn audit_key(event: &Value) -> String {
    let id = event["id"].as_str().unwrap_or_default();
    let kind = event["type"]
        .as_str()
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("?");
    let id = ["/use/", "/rejected/"]
        .iter()
        .find_map(|marker| id.find(marker).map(|at| &id[..at + marker.len() - 1]))
        .unwrap_or(id);
    format!("{kind} {id}")
}

/// Checks one subscriber's inbox (the events it kept, repeats included) against what it
/// should have been told.
fn audit_inbox(
    report: &mut SoakReport,
    inbox: &'static str,
    events: &[Value],
    expected: &BTreeSet<String>,
) {
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for event in events {
        seen.entry(audit_key(event))
            .or_default()
            .insert(event["id"].as_str().unwrap_or_default().to_owned());
    }
    let distinct: usize = seen.values().map(BTreeSet::len).sum();
    report
        .notifications
        .insert(inbox, (distinct, events.len() - distinct));
    for key in expected {
        if !seen.contains_key(key) {
            report.lost.push(format!("{inbox}: never told {key}"));
        }
    }
    for (key, ids) in &seen {
        if !expected.contains(key) {
            report
                .doubled
                .push(format!("{inbox}: told {key}, which did not happen"));
        } else if ids.len() > 1 {
            report
                .doubled
                .push(format!("{inbox}: told {key} {} times", ids.len()));
        }
    }
}

/// Runs the soak.
pub async fn run(options: &SoakOptions) -> anyhow::Result<SoakReport> {
    let started = Instant::now();
    let progress = Progress {
        started,
        on: options.progress,
    };
    let limit = quiet(options.permits);
    let (xa, xb) = start_pair(PairOptions {
        endpoint: options.endpoint.clone(),
        prefix: format!("soak{}-", std::process::id() % 10_000),
        aws_faults: Some(FaultPlan::every_kind(options.fault_rate, options.seed)),
        max_receives: 10,
        retry_base: Duration::from_millis(200),
        retry_cap: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
        ..PairOptions::default()
    })
    .await?;
    let at_xa = start_notifications(
        &xa,
        ("customs-xa", "permit-system-xa"),
        vec![EventType::Issued, EventType::Replaced, EventType::Cancelled],
        Role::ManagementAuthority,
        vec![EventType::Rejected, EventType::Delivered],
        options.flapping,
    )
    .await?;
    let at_xb = start_notifications(
        &xb,
        ("customs-xb", "enforcement-xb"),
        vec![EventType::Received, EventType::Used, EventType::Alert],
        Role::Enforcement,
        vec![EventType::Received, EventType::Alert],
        options.flapping,
    )
    .await?;
    progress.say(format_args!(
        "XA and XB started, {} % of their AWS calls faulted (seed {})",
        options.fault_rate * 100.0,
        options.seed
    ));
    if options.flapping {
        xb.server.set_mode(Mode::Flapping);
    }
    let plans: Vec<Planned> = (0..options.permits).map(plan).collect();
    let mut report = SoakReport {
        permits: options.permits,
        ..SoakReport::default()
    };

    // Issue: every permit in its form, the duplicates, the invalid files.
    for (i, planned) in plans.iter().enumerate() {
        let number = &planned.number;
        let quantity = 1 + i as i64;
        let permit = fixtures::export_permit(number, "XA", "XB", quantity);
        match planned.form {
            InputForm::JsonFile => {
                xa.local
                    .put_object(&format!("inbox/{number}.json"), fixtures::json(&permit))
                    .await?
            }
            InputForm::Message => {
                xa.local.send_direct(&direct(&permit)).await?;
            }
            InputForm::XmlFile => {
                let xml = ecites_domain::xml::write_permit(&permit);
                xa.local
                    .put_object(&format!("inbox/{number}.xml"), xml.into_bytes())
                    .await?
            }
            InputForm::CsvFile => {
                let rows = [(number.as_str(), 1 + i as u32)];
                xa.local
                    .put_object(
                        &format!("inbox/{number}.csv"),
                        fixtures::csv_permits("XA", "XB", &rows),
                    )
                    .await?
            }
        }
        *report.forms.entry(planned.form).or_default() += 1;
        if planned.duplicate {
            xa.local.send_direct(&direct(&permit)).await?;
            report.duplicates += 1;
        }
    }
    let invalid: Vec<(String, String)> = (0..options.permits.div_ceil(10))
        .map(|i| {
            (
                format!("inbox/broken-{i}.json"),
                format!("26XA-BROKEN-{i:05}"),
            )
        })
        .collect();
    for (key, number) in &invalid {
        xa.local
            .put_object(key, fixtures::invalid_json_numbered("XA", number))
            .await?;
    }
    report.invalid = invalid.len();
    progress.say(format_args!(
        "{} permits sent to XA's ingest, {} of them twice, and {} invalid files",
        options.permits, report.duplicates, report.invalid
    ));

    // A runner killed mid-batch: ingest's now, forward's once deliveries are queued.
    if options.runner_kills {
        let ingest = |event| xa.local.function.handle(event);
        if kill_mid_batch(&xa.local.ingest_source, &ingest, xa.local.proxy.as_ref()).await {
            report.runner_kills += 1;
        }
        xa.local.drain(limit).await?;
        let forward = |event| xa.forward.handle(event);
        if kill_mid_batch(&xa.forward_source, &forward, xa.local.proxy.as_ref()).await {
            report.runner_kills += 1;
        }
        progress.say(format_args!(
            "{} runners killed in the middle of a batch",
            report.runner_kills
        ));
    }
    report.replayed += settle(&xa, &xb, [&at_xa, &at_xb], limit, &progress).await?;
    progress.say("issued permits settled; now re-issues, cancellations and import confirmations");

    // Later: re-issues and cancellations at XA, import confirmations by XB's customs.
    for (i, planned) in plans.iter().enumerate() {
        let number = &planned.number;
        if planned.reissued {
            let permit = fixtures::export_permit(number, "XA", "XB", 1_000 + i as i64);
            xa.local
                .put_object(&format!("inbox/{number}-v2.json"), fixtures::json(&permit))
                .await?;
            report.reissues += 1;
        }
        if planned.cancelled {
            let cancel = serde_json::json!({"type": "cancel", "version": 1, "issuer": "XA",
                "permit_number": number, "reason": "specimens died before export"});
            xa.local.send_direct(&cancel.to_string()).await?;
            report.cancellations += 1;
        }
        if let Some(twice) = planned.confirmed {
            let confirmation = fixtures::use_message(
                "import_confirmation",
                "XA",
                number,
                "XB",
                &format!("XB-DEC-{i:06}"),
                "2026-02-12",
                1,
            );
            xb.local.send_direct(&confirmation).await?;
            report.uses += 1;
            if twice {
                xb.local.send_direct(&confirmation).await?;
                report.use_duplicates += 1;
            }
        }
    }
    report.replayed += settle(&xa, &xb, [&at_xa, &at_xb], limit, &progress).await?;
    xb.server.set_mode(Mode::Healthy);

    // The operator's sweep: what a message stored when its ledger write timed out and was
    // never applied (its retry is the one on record). Nothing runs now, so no age is needed.
    for ma in [&xa, &xb] {
        report.swept.extend(sweep(ma).await?);
    }
    progress.say(format_args!(
        "settled; the sweep removed {} objects no record names; auditing both ledgers, \
         buckets, queues and inboxes",
        report.swept.len()
    ));
    audit(&xa, &xb, [&at_xa, &at_xb], &plans, &invalid, &mut report).await?;
    progress.say("audited");
    report.partner_faults = xb.server.faulted();
    for proxy in [&xa.local.proxy, &xb.local.proxy].into_iter().flatten() {
        for (kind, count) in proxy.faults_injected() {
            *report.faults.entry(kind).or_default() += count;
        }
        report.requests += AwsProxy::requests(proxy);
    }
    report.wall = started.elapsed();
    Ok(report)
}

/// Runs the operator's sweep of `received/` on `ma` (with the inspection clients, no age
/// window: the soak is quiet); the keys it removed.
async fn sweep(ma: &Ma) -> anyhow::Result<Vec<String>> {
    let s3 = &ma.local.clients.s3;
    let blobs = ecites_aws::S3BlobStore::new(s3.clone(), &ma.local.stack.bucket);
    let window = ecites_exchange::sweep::SweepWindow {
        min_age: chrono::Duration::zero(),
        max_age: chrono::Duration::days(1),
    };
    let report =
        ecites_aws::sweep::sweep_received(s3, &blobs, &ma.store, window, chrono::Utc::now(), false)
            .await?;
    anyhow::ensure!(
        report.complete(),
        "the sweep of {}'s bucket did not complete:\n{}",
        ma.local.config.country,
        ecites_aws::sweep::render(&report, window, &ma.local.stack.bucket)
    );
    Ok(report.unnamed)
}

/// The independent audit: both ledgers, both buckets, the queues and every inbox against the
/// plan.
async fn audit(
    xa: &Ma,
    xb: &Ma,
    told: [&Told; 2],
    plans: &[Planned],
    invalid: &[(String, String)],
    report: &mut SoakReport,
) -> anyhow::Result<()> {
    let xa_country = crate::country("XA");
    let xb_country = crate::country("XB");
    let mut expected: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for planned in plans {
        let number = &planned.number;
        let id = PermitId {
            issuer: xa_country,
            number: number.clone(),
        };
        let mut problems = Vec::new();
        let mut doubled = Vec::new();
        // What XA sends: each version once, each document delivered once.
        let last = if planned.reissued { 2 } else { 1 };
        let mut documents = vec![(1, DeliveryKind::Permit, "issued")];
        if planned.reissued {
            documents.push((2, DeliveryKind::Replacement, "replaced"));
        }
        if planned.cancelled {
            documents.push((last, DeliveryKind::Cancellation, "cancelled"));
        }
        let at_xa = xa.store.status(&id).await?;
        if at_xa.versions.len() > last as usize {
            doubled.push(format!("{} versions at XA", at_xa.versions.len()));
        } else if at_xa.versions.len() < last as usize {
            problems.push(format!("{} versions at XA", at_xa.versions.len()));
        }
        for (version, kind, status) in &documents {
            let wanted = delivery_id(&id, *version, *kind, xb_country);
            let mine: Vec<_> = at_xa
                .deliveries
                .iter()
                .filter(|d| d.version == *version && d.kind == *kind && d.recipient == "XB")
                .collect();
            match mine.as_slice() {
                [one] if one.state == DeliveryState::Delivered => {}
                [one] => problems.push(format!("{kind:?} v{version} {}", one.state.as_str())),
                [] => problems.push(format!("{kind:?} v{version} never queued")),
                more => doubled.push(format!("{} deliveries of {kind:?} v{version}", more.len())),
            }
            expected
                .entry(told[0].webhook_name)
                .or_default()
                .insert(format!("delivered {wanted}/delivered"));
            expected
                .entry(told[1].queue_name)
                .or_default()
                .insert(format!("received XA/{number}/v{version}/{status}/received"));
            expected
                .entry(told[1].webhook_name)
                .or_default()
                .insert(format!("received XA/{number}/v{version}/{status}/received"));
        }
        let queue = expected.entry(told[0].queue_name).or_default();
        queue.insert(format!("issued XA/{number}/v1/issued"));
        if planned.reissued {
            queue.insert(format!("replaced XA/{number}/v2/replaced"));
        }
        if planned.cancelled {
            queue.insert(format!("cancelled XA/{number}/v{last}/cancelled"));
        }
        // What XB holds: each document received once, stored with its envelope.
        let at_xb = xb.store.status(&id).await?;
        for (version, _, status) in &documents {
            let got = at_xb
                .received
                .iter()
                .filter(|r| r.version == *version && r.document_status == *status)
                .count();
            match got {
                1 => {}
                0 => problems.push(format!("{status} v{version} not received by XB")),
                n => doubled.push(format!("{status} v{version} received {n} times by XB")),
            }
        }
        // Each received document's envelope and XML in XB's bucket, and nothing beside them.
        let stored: BTreeSet<String> = xb
            .local
            .list(&format!("received/XA/{number}/"))
            .await?
            .into_iter()
            .collect();
        let named: BTreeSet<String> = at_xb
            .received
            .iter()
            .flat_map(|r| {
                let xml = r
                    .body_key
                    .strip_suffix(".json")
                    .map(|stem| format!("{stem}.xml"));
                std::iter::once(r.body_key.clone()).chain(xml)
            })
            .collect();
        for key in named.difference(&stored) {
            problems.push(format!("{key} is named by XB's ledger, not in its bucket"));
        }
        for key in stored.difference(&named) {
            report.orphaned.push(format!(
                "{number}: {key} is in XB's bucket, named by no record"
            ));
        }
        // XB's customs confirmed the import: one use at XB, told to XA and recorded once.
        if planned.confirmed.is_some() {
            let uses_xb = xb
                .local
                .function
                .ledger()
                .permit_uses(&id)
                .await?
                .uses
                .len();
            let uses_xa = xa
                .local
                .function
                .ledger()
                .permit_uses(&id)
                .await?
                .uses
                .len();
            let told_xa: Vec<_> = at_xb
                .deliveries
                .iter()
                .filter(|d| d.kind == DeliveryKind::Use)
                .collect();
            for (side, n) in [("XB", uses_xb), ("XA", uses_xa)] {
                match n {
                    1 => {}
                    0 => problems.push(format!("the import confirmation not recorded at {side}")),
                    n => doubled.push(format!("{n} import confirmations recorded at {side}")),
                }
            }
            match told_xa.as_slice() {
                [one] if one.state == DeliveryState::Delivered => {}
                [one] => problems.push(format!("use delivery to XA {}", one.state.as_str())),
                [] => problems.push("the use never queued for XA".to_owned()),
                more => doubled.push(format!("{} use deliveries to XA", more.len())),
            }
            if uses_xb == 1 && uses_xa == 1 && told_xa.len() == 1 {
                report.uses_recorded += 1;
            }
            expected
                .entry(told[1].queue_name)
                .or_default()
                .insert(format!("used XA/{number}/use"));
        }
        if problems.is_empty() && doubled.is_empty() {
            report.delivered += 1;
        }
        report
            .lost
            .extend(problems.into_iter().map(|p| format!("{number}: {p}")));
        report
            .doubled
            .extend(doubled.into_iter().map(|p| format!("{number}: {p}")));
    }
    for (key, number) in invalid {
        let report_key = format!("rejected/{key}.report.json");
        if xa.local.get_object(&report_key).await?.is_some() {
            report.rejected += 1;
        } else {
            report.lost.push(format!("{key}: no rejection report"));
        }
        expected
            .entry(told[0].webhook_name)
            .or_default()
            .insert(format!("rejected XA/{number}/rejected"));
    }
    // Every inbox against what it should have been told.
    for (ma, side) in [(xa, told[0]), (xb, told[1])] {
        let queued: Vec<Value> = ma
            .local
            .take_all(&side.queue_url)
            .await?
            .iter()
            .filter_map(|body| serde_json::from_str(body).ok())
            .collect();
        let hooked: Vec<Value> = side
            .webhook
            .kept()
            .iter()
            .filter_map(|request| serde_json::from_slice(&request.body).ok())
            .collect();
        report.subscriber_faults += side
            .webhook
            .received()
            .iter()
            .filter(|r| !r.accepted)
            .count() as u64;
        let none = BTreeSet::new();
        audit_inbox(
            report,
            side.queue_name,
            &queued,
            expected.get(side.queue_name).unwrap_or(&none),
        );
        audit_inbox(
            report,
            side.webhook_name,
            &hooked,
            expected.get(side.webhook_name).unwrap_or(&none),
        );
    }
    // Nothing left behind.
    for (ma, side) in [(xa, told[0]), (xb, told[1])] {
        let stack = &ma.local.stack;
        let country = ma.local.config.country;
        for (name, url) in [
            ("ingest", &stack.ingest_queue_url),
            ("ingest DLQ", &stack.ingest_dlq_url),
            ("deliveries", &stack.deliveries_queue_url),
            ("deliveries DLQ", &stack.deliveries_dlq_url),
            ("webhooks", &side.notify.webhook_queue_url),
            ("webhooks DLQ", &side.notify.webhook_dlq_url),
        ] {
            let visible = ma.local.visible_messages(url).await?;
            if visible > 0 {
                report
                    .left_queued
                    .insert(format!("{country} {name}"), visible);
            }
        }
    }
    Ok(())
}

/// The one table `make soak` prints.
pub fn table(report: &SoakReport) -> String {
    let mut out = String::new();
    let row = |out: &mut String, what: &str, value: String| {
        let _ = writeln!(out, "  {what:<52} {value:>10}");
    };
    let _ = writeln!(
        out,
        "Soak: two MAs with notifications and customs uses, faults in every function's AWS calls"
    );
    row(
        &mut out,
        "inputs: valid permits",
        report.permits.to_string(),
    );
    for (form, count) in &report.forms {
        row(
            &mut out,
            &format!("  of them {}", form.name()),
            count.to_string(),
        );
    }
    row(
        &mut out,
        "inputs: duplicate messages",
        report.duplicates.to_string(),
    );
    row(
        &mut out,
        "inputs: invalid files",
        report.invalid.to_string(),
    );
    row(&mut out, "inputs: re-issues", report.reissues.to_string());
    row(
        &mut out,
        "inputs: cancellations",
        report.cancellations.to_string(),
    );
    row(
        &mut out,
        "inputs: import confirmations (sent twice)",
        format!("{} ({})", report.uses, report.use_duplicates),
    );
    row(
        &mut out,
        "permits with every document delivered once",
        report.delivered.to_string(),
    );
    row(
        &mut out,
        "import confirmations recorded once at XB and XA",
        report.uses_recorded.to_string(),
    );
    row(
        &mut out,
        "rejected with a report",
        report.rejected.to_string(),
    );
    row(
        &mut out,
        "found in a DLQ, replayed",
        report.replayed.to_string(),
    );
    for (inbox, (events, repeats)) in &report.notifications {
        row(
            &mut out,
            &format!("told {inbox} (repeats dropped by event id)"),
            format!("{events} ({repeats})"),
        );
    }
    row(&mut out, "lost", report.lost.len().to_string());
    row(&mut out, "doubled", report.doubled.len().to_string());
    row(
        &mut out,
        "stored objects no record names, removed by the sweep",
        report.swept.len().to_string(),
    );
    row(
        &mut out,
        "stored objects no record names, left",
        report.orphaned.len().to_string(),
    );
    row(
        &mut out,
        "left in a queue or DLQ",
        report.left_queued.values().sum::<u64>().to_string(),
    );
    for (kind, count) in &report.faults {
        row(
            &mut out,
            &format!("faults injected: {}", kind.name()),
            count.to_string(),
        );
    }
    row(
        &mut out,
        "faults injected: partner endpoint flaps",
        report.partner_faults.to_string(),
    );
    row(
        &mut out,
        "faults injected: webhook subscriber flaps",
        report.subscriber_faults.to_string(),
    );
    row(
        &mut out,
        "faults injected: runners killed mid-batch",
        report.runner_kills.to_string(),
    );
    row(
        &mut out,
        "AWS requests through the proxies",
        report.requests.to_string(),
    );
    row(
        &mut out,
        "wall time",
        format!("{:.1} s", report.wall.as_secs_f64()),
    );
    for line in report
        .lost
        .iter()
        .chain(&report.doubled)
        .chain(&report.orphaned)
    {
        let _ = writeln!(out, "  ! {line}");
    }
    for (queue, count) in &report.left_queued {
        let _ = writeln!(out, "  ! {count} left in {queue}");
    }
    let _ = writeln!(
        out,
        "{}",
        if report.passed() {
            "PASSED: 0 lost, 0 doubled, nothing left behind"
        } else {
            "FAILED"
        }
    );
    out
}
