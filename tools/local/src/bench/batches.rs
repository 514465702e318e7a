//! `ecites-local bench-batches`: what a batch of ten costs against a batch of one, for each
//! SQS-triggered function (ingest, forward, webhooks), with a fixed latency added to every AWS
//! call (a proxy in front of the emulator, [`crate::emulation::aws_proxy`]).
//!
//! On Lambda an invocation is billed for its whole duration. A function that handled its
//! records one after the other would take ten times as long for a batch of ten; the shared
//! batch engine ([`ecites_aws::batch::run_ordered`]) runs them at the same time, so the ratio
//! should stay under 2 (the goal of issue #15). Each figure is the median handler time over
//! several batches, after a warm-up batch (directory cache, connections) that is not counted.

use crate::emulation::webhook_receiver::WebhookReceiver;
use crate::fixtures;
use crate::stack::exchange::{start_pair, PairOptions};
use crate::stack::notify::{LocalNotify, NotifyOptions};
use crate::EventSource;
use anyhow::Context as _;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use ecites_exchange::notify::{Channel, EventType, Filters, Role, Secret, Subscription};
use lambda_runtime::LambdaEvent;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The goal: a batch of ten takes less than twice a batch of one.
pub const GOAL_RATIO: f64 = 2.0;

/// The sizes measured.
const SIZES: [usize; 2] = [1, 10];

/// One function's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchFigures {
    /// The function.
    pub function: &'static str,
    /// Median handler time of a batch of one.
    pub one: Duration,
    /// Median handler time of a batch of ten.
    pub ten: Duration,
    /// Batches measured per size.
    pub batches: usize,
}

impl BatchFigures {
    /// Batch of ten / batch of one.
    pub fn ratio(&self) -> f64 {
        self.ten.as_secs_f64() / self.one.as_secs_f64().max(1e-9)
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Polls `source` in batches of `size` until `batches` batches of exactly that size have been
/// handled (the first, a warm-up, not counted), and returns the median handler time.
async fn time_batches<F, Fut>(
    source: &mut EventSource,
    size: usize,
    batches: usize,
    handle: &F,
) -> anyhow::Result<Duration>
where
    F: Fn(LambdaEvent<SqsEvent>) -> Fut,
    Fut: Future<Output = Result<SqsBatchResponse, lambda_runtime::Error>>,
{
    source.batch_size = i32::try_from(size)?;
    source.wait_time_s = 1;
    // Full batches, as a mapping with a batching window gathers them.
    source.batching_window = Duration::from_secs(2);
    let timings: Mutex<Vec<(usize, Duration)>> = Mutex::new(Vec::new());
    let timed = |event: LambdaEvent<SqsEvent>| {
        let records = event.payload.records.len();
        let timings = &timings;
        async move {
            let started = Instant::now();
            let response = handle(event).await;
            if let Ok(mut timings) = timings.lock() {
                timings.push((records, started.elapsed()));
            }
            response
        }
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let full = timings
            .lock()
            .map(|t| t.iter().filter(|(n, _)| *n == size).count())
            .unwrap_or(0);
        if full > batches {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {full} batches of {size} in 300 s"
        );
        let outcome = source.poll_once(&timed).await?;
        anyhow::ensure!(
            outcome.failed == 0,
            "a batch of {size} reported {} failures",
            outcome.failed
        );
        if outcome.received == 0 {
            let sizes: Vec<usize> = timings
                .lock()
                .map(|t| t.iter().map(|(n, _)| *n).collect())
                .unwrap_or_default();
            anyhow::bail!("the queue ran dry after {full} batches of {size} (batches: {sizes:?})");
        }
    }
    let timings = timings.into_inner().unwrap_or_default();
    let full: Vec<Duration> = timings
        .into_iter()
        .filter(|(n, _)| *n == size)
        .map(|(_, t)| t)
        .skip(1)
        .collect();
    Ok(median(full))
}

/// Runs the bench: `batches` batches of each size per function, `latency` added to every AWS
/// call of the functions. Starts moto unless `endpoint` is given.
pub async fn run(
    endpoint: Option<String>,
    latency: Duration,
    batches: usize,
) -> anyhow::Result<Vec<BatchFigures>> {
    let options = PairOptions {
        endpoint,
        prefix: format!("batches{}-", Utc::now().timestamp()),
        directory_ttl: Duration::from_secs(300),
        timeout: Duration::from_secs(10),
        aws_latency: latency,
        ..PairOptions::default()
    };
    let (xa, _xb) = start_pair(options).await?;
    let notify = LocalNotify::start(&xa.local, NotifyOptions::default()).await?;
    let receiver = WebhookReceiver::start(200).await?;
    let subscription = Subscription {
        id: "bench-issued".into(),
        agency: "Permit system of XA".into(),
        country: "XA".into(),
        role: Role::ManagementAuthority,
        events: vec![EventType::Issued],
        filters: Filters::default(),
        channel: Channel::Webhook {
            url: receiver.url("/events"),
            secret_parameter: format!("/bench/webhooks/{}", std::process::id()),
        },
        include_xml: false,
    };
    notify
        .admin
        .add(subscription, Some(&Secret::new("bench-secret".to_owned())))
        .await?;

    // Enough permits for every batch (one warm-up batch per size), and a batch to spare.
    let total: usize = SIZES.iter().map(|size| size * (batches + 2)).sum::<usize>();
    for i in 0..total {
        let permit = fixtures::export_permit(&format!("26XA{i:06}"), "XA", "XB", 1 + i as i64);
        let body = String::from_utf8_lossy(&fixtures::json(&permit)).into_owned();
        let message = serde_json::json!({"type": "permit", "version": 1, "content": body});
        xa.local.send_direct(&message.to_string()).await?;
    }
    let mut figures = Vec::new();

    let ingest = |event| xa.local.function.handle(event);
    let mut source = xa.local.ingest_source.clone();
    let one = time_batches(&mut source, 1, batches, &ingest)
        .await
        .context("ingest")?;
    let ten = time_batches(&mut source, 10, batches, &ingest)
        .await
        .context("ingest")?;
    figures.push(BatchFigures {
        function: "ingest",
        one,
        ten,
        batches,
    });
    // The spare permits too, so every stage after has enough.
    xa.local.drain(Duration::from_secs(300)).await?;

    let mut source = xa.forward_source.clone();
    let forward = |event| xa.forward.handle(event);
    let one = time_batches(&mut source, 1, batches, &forward)
        .await
        .context("forward")?;
    let ten = time_batches(&mut source, 10, batches, &forward)
        .await
        .context("forward")?;
    figures.push(BatchFigures {
        function: "forward",
        one,
        ten,
        batches,
    });

    // The issued events become webhook jobs.
    notify.run_stream(Duration::from_secs(300)).await?;
    let mut source = notify.webhook_source.clone();
    let webhooks = |event| notify.webhooks.handle(event);
    let one = time_batches(&mut source, 1, batches, &webhooks)
        .await
        .context("webhooks")?;
    let ten = time_batches(&mut source, 10, batches, &webhooks)
        .await
        .context("webhooks")?;
    figures.push(BatchFigures {
        function: "webhooks",
        one,
        ten,
        batches,
    });
    Ok(figures)
}

/// The table `make bench` prints: the batches with the latency, and, against the same run
/// without it (`without`, same function order), what the latency alone added to each batch.
///
/// The second ratio is the goal's measure. moto serializes its own work (one Python process,
/// DynamoDB writes one at a time under the launcher's lock), so ten concurrent transactions wait
/// on each other inside the emulator, which DynamoDB does not do; what the latency adds is what
/// the functions' own sequencing costs: a batch handled one record after the other adds ten
/// times a record's round trips, a concurrent one about one record's.
pub fn table(with: &[BatchFigures], without: &[BatchFigures], latency: Duration) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Batches with {} ms added to every AWS call, and what that latency added to a batch (the \
         same bench without it subtracted); median of {} batches per size after a warm-up batch:",
        latency.as_millis(),
        with.first().map_or(0, |f| f.batches)
    );
    let _ = writeln!(
        out,
        "  {:<10} {:>11} {:>12} {:>7}   {:>11} {:>12} {:>7}  goal",
        "function", "batch of 1", "batch of 10", "10 / 1", "latency, 1", "latency, 10", "10 / 1"
    );
    for f in with {
        let base = without.iter().find(|b| b.function == f.function);
        let added = |at: Duration, base: Duration| at.saturating_sub(base);
        let (one, ten) = match base {
            Some(b) => (added(f.one, b.one), added(f.ten, b.ten)),
            None => (f.one, f.ten),
        };
        let ratio = ms(ten) / ms(one).max(1e-6);
        let verdict = if ratio < GOAL_RATIO { "met" } else { "missed" };
        let _ = writeln!(
            out,
            "  {:<10} {:>8.1} ms {:>9.1} ms {:>7.2}   {:>8.1} ms {:>9.1} ms {:>7.2}  under {GOAL_RATIO}: {verdict}",
            f.function,
            ms(f.one),
            ms(f.ten),
            f.ratio(),
            ms(one),
            ms(ten),
            ratio
        );
    }
    let _ = writeln!(
        out,
        "(the first ratio includes moto's own time: one Python process, its DynamoDB writes one at \
         a time (the launcher serialises them for isolation), so ten concurrent transactions \
         queue inside the emulator; the second is the functions' sequencing of their round trips)"
    );
    out
}
