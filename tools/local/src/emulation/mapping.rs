//! Every event-source mapping of a stack played at once: the ingest, deliveries and webhook
//! queues and the ledger's stream are polled in turn, each feeding its function, until the whole
//! stack is quiet (nothing received, nothing queued or in flight, for a while), a stop is asked
//! for (Ctrl-C), or the time is up.
//!
//! One loop over a list of [`Mapping`]s, rather than one task per source, so that "quiet" means
//! quiet everywhere at the same moment: a record the stream turns into a webhook job is seen by
//! the next round, never lost between two sources that each thought they were done.

use crate::emulation::runner::EventSource;
use crate::emulation::stream::StreamSource;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use lambda_runtime::LambdaEvent;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one poll of a mapping did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// Records handed to the function.
    pub records: usize,
    /// Records (or stream batches) the function reported as failed.
    pub failed: usize,
}

/// One event-source mapping: something that can be polled once, feeding its function, and asked
/// whether work is still waiting. A trait so the loop treats queues and streams alike (and a
/// test can play one).
#[async_trait::async_trait(?Send)]
pub trait Mapping {
    /// A short name for reports (`ingest`, `forward`, ...).
    fn name(&self) -> &str;
    /// Receives one batch and runs the function on it.
    async fn poll(&self) -> anyhow::Result<Activity>;
    /// Work waiting that the next polls will see (visible plus in flight); 0 for a stream,
    /// whose polls say themselves whether anything new came.
    async fn backlog(&self) -> anyhow::Result<u64>;
}

/// An SQS queue feeding a function, as Lambda's SQS event-source mapping does.
pub struct QueueMapping<'a, H> {
    name: String,
    source: &'a EventSource,
    handler: H,
}

impl<'a, H> QueueMapping<'a, H> {
    /// `source` feeding `handler`, reported as `name`.
    pub fn new(name: &str, source: &'a EventSource, handler: H) -> Self {
        QueueMapping {
            name: name.to_owned(),
            source,
            handler,
        }
    }
}

#[async_trait::async_trait(?Send)]
impl<H, Fut> Mapping for QueueMapping<'_, H>
where
    H: Fn(LambdaEvent<SqsEvent>) -> Fut,
    Fut: Future<Output = Result<SqsBatchResponse, lambda_runtime::Error>>,
{
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&self) -> anyhow::Result<Activity> {
        let outcome = self.source.poll_once(&self.handler).await?;
        Ok(Activity {
            records: outcome.received,
            failed: outcome.failed,
        })
    }

    async fn backlog(&self) -> anyhow::Result<u64> {
        self.source.backlog().await
    }
}

/// A table's stream feeding a function, as Lambda's DynamoDB-stream mapping does.
pub struct StreamMapping<'a, H> {
    name: String,
    source: &'a StreamSource,
    handler: H,
}

impl<'a, H> StreamMapping<'a, H> {
    /// `source` feeding `handler`, reported as `name`.
    pub fn new(name: &str, source: &'a StreamSource, handler: H) -> Self {
        StreamMapping {
            name: name.to_owned(),
            source,
            handler,
        }
    }
}

#[async_trait::async_trait(?Send)]
impl<H, Fut> Mapping for StreamMapping<'_, H>
where
    H: Fn(LambdaEvent<Event>) -> Fut,
    Fut: Future<Output = Result<DynamoDbEventResponse, lambda_runtime::Error>>,
{
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&self) -> anyhow::Result<Activity> {
        let outcome = self.source.poll_once(&self.handler).await?;
        Ok(Activity {
            records: outcome.records,
            failed: outcome.failed_batches,
        })
    }

    async fn backlog(&self) -> anyhow::Result<u64> {
        Ok(0)
    }
}

/// A stop request shared between a signal handler and the loop, checked between polls so a
/// batch in hand is finished (and acknowledged) before the run ends.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Not yet asked to stop.
    pub fn new() -> Self {
        Stop::default()
    }

    /// A stop triggered by Ctrl-C (SIGINT): the run then ends after the batch in hand instead of
    /// being killed in the middle of it. Needs a Tokio runtime.
    pub fn on_ctrl_c() -> Self {
        let stop = Stop::new();
        let on_signal = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_signal.trigger();
            }
        });
        stop
    }

    /// Asks the loop to stop after the poll in progress.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// When the loop ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// The longest the run may take. Past it the run fails if work is still pending, and ends
    /// as quiet if not.
    pub timeout: Duration,
    /// How long everything must stay quiet before the run ends (zero: at the first quiet
    /// round). Longer keeps the stack serving while files are dropped by hand.
    pub quiet_for: Duration,
    /// Pause between quiet rounds (the queues' long polls already wait a second each).
    pub idle_pause: Duration,
}

impl Default for RunOptions {
    /// Five minutes at most, ending at the first quiet round.
    fn default() -> Self {
        RunOptions {
            timeout: Duration::from_secs(300),
            quiet_for: Duration::ZERO,
            idle_pause: Duration::from_millis(200),
        }
    }
}

/// Why the run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Nothing left to do anywhere.
    Quiet,
    /// A stop was asked for (Ctrl-C).
    Stopped,
}

/// What a run did, per mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// Why it ended.
    pub ended: Ended,
    /// Per mapping, in polling order: its name and totals.
    pub totals: Vec<(String, Activity)>,
    /// How long it ran.
    pub elapsed: Duration,
}

impl RunReport {
    /// The totals of the mapping called `name`.
    pub fn of(&self, name: &str) -> Option<Activity> {
        self.totals
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, activity)| *activity)
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.ended {
            Ended::Quiet => "quiet",
            Ended::Stopped => "stopped",
        };
        writeln!(f, "ended: {why} after {:.1} s", self.elapsed.as_secs_f64())?;
        for (name, activity) in &self.totals {
            writeln!(
                f,
                "  {name:<10} {:>6} records  {:>4} failed",
                activity.records, activity.failed
            )?;
        }
        Ok(())
    }
}

fn totals_text(totals: &[(String, Activity)]) -> String {
    totals
        .iter()
        .map(|(name, a)| format!("{name}: {} records, {} failed", a.records, a.failed))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Polls every mapping in turn, round after round, until a round finds nothing anywhere and
/// no backlog has stayed so for `options.quiet_for`, or `stop` is triggered, or the timeout
/// passes (an error when work is still pending then).
pub async fn run_all(
    mappings: &[&dyn Mapping],
    options: &RunOptions,
    stop: &Stop,
) -> anyhow::Result<RunReport> {
    let started = Instant::now();
    let mut totals: Vec<(String, Activity)> = mappings
        .iter()
        .map(|m| (m.name().to_owned(), Activity::default()))
        .collect();
    let mut quiet_since: Option<Instant> = None;
    let report = |ended, totals: Vec<(String, Activity)>| RunReport {
        ended,
        totals,
        elapsed: started.elapsed(),
    };
    loop {
        let mut active = false;
        for (mapping, (_, total)) in mappings.iter().zip(totals.iter_mut()) {
            if stop.is_triggered() {
                return Ok(report(Ended::Stopped, totals));
            }
            let activity = mapping.poll().await?;
            total.records += activity.records;
            total.failed += activity.failed;
            active |= activity.records > 0;
        }
        if !active {
            for mapping in mappings {
                if mapping.backlog().await? > 0 {
                    active = true;
                    break;
                }
            }
        }
        if active {
            quiet_since = None;
        } else if quiet_since.get_or_insert_with(Instant::now).elapsed() >= options.quiet_for {
            return Ok(report(Ended::Quiet, totals));
        }
        if started.elapsed() >= options.timeout {
            if active {
                anyhow::bail!(
                    "not quiet after {:?} ({})",
                    options.timeout,
                    totals_text(&totals)
                );
            }
            return Ok(report(Ended::Quiet, totals));
        }
        if stop.is_triggered() {
            return Ok(report(Ended::Stopped, totals));
        }
        if !active {
            tokio::time::sleep(options.idle_pause).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A mapping with `records` waiting, handing out up to `batch` per poll.
    struct Fake {
        waiting: Cell<usize>,
        batch: usize,
        polls: Cell<usize>,
    }

    #[async_trait::async_trait(?Send)]
    impl Mapping for Fake {
        fn name(&self) -> &str {
            "fake"
        }
        async fn poll(&self) -> anyhow::Result<Activity> {
            self.polls.set(self.polls.get() + 1);
            let n = self.waiting.get().min(self.batch);
            self.waiting.set(self.waiting.get() - n);
            Ok(Activity {
                records: n,
                failed: 0,
            })
        }
        async fn backlog(&self) -> anyhow::Result<u64> {
            Ok(self.waiting.get() as u64)
        }
    }

    fn fake(waiting: usize) -> Fake {
        Fake {
            waiting: Cell::new(waiting),
            batch: 10,
            polls: Cell::new(0),
        }
    }

    fn quick() -> RunOptions {
        RunOptions {
            timeout: Duration::from_secs(5),
            quiet_for: Duration::ZERO,
            idle_pause: Duration::from_millis(1),
        }
    }

    #[tokio::test]
    async fn runs_until_every_mapping_is_drained_then_ends_quiet() {
        let (a, b) = (fake(25), fake(3));
        let report = run_all(&[&a, &b], &quick(), &Stop::new()).await.unwrap();
        assert_eq!(report.ended, Ended::Quiet);
        assert_eq!(
            report.totals.iter().map(|(_, a)| a.records).sum::<usize>(),
            28
        );
        assert_eq!(a.polls.get(), 4, "three batches and a quiet round");
    }

    #[tokio::test]
    async fn a_triggered_stop_ends_the_run_before_the_next_poll() {
        let a = fake(1_000_000);
        let stop = Stop::new();
        stop.trigger();
        let report = run_all(&[&a], &quick(), &stop).await.unwrap();
        assert_eq!(report.ended, Ended::Stopped);
        assert_eq!(a.polls.get(), 0);
    }

    #[tokio::test]
    async fn pending_work_at_the_timeout_is_an_error() {
        let a = Fake {
            waiting: Cell::new(usize::MAX),
            batch: 1,
            polls: Cell::new(0),
        };
        let options = RunOptions {
            timeout: Duration::from_millis(20),
            ..quick()
        };
        let error = run_all(&[&a], &options, &Stop::new()).await.unwrap_err();
        assert!(error.to_string().contains("not quiet"), "{error}");
    }

    #[tokio::test]
    async fn quiet_for_waits_before_ending() {
        let a = fake(0);
        let options = RunOptions {
            quiet_for: Duration::from_millis(50),
            ..quick()
        };
        let report = run_all(&[&a], &options, &Stop::new()).await.unwrap();
        assert_eq!(report.ended, Ended::Quiet);
        assert!(report.elapsed >= Duration::from_millis(50));
        assert!(a.polls.get() > 1);
    }
}
