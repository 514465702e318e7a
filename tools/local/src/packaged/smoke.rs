//! `ecites-local smoke` and `ecites-local bench-functions`: the packaged binaries of
//! `make package`, each started as a process against a loopback Runtime API with the
//! environment infra/template.yaml gives it (resolved against the local stack), carry permits
//! through the whole exchange on the emulator:
//!
//! ```text
//! XA inbox -> ingest -> deliveries -> forward --HTTPS (TLS front on loopback)--> XB's REST API
//!                                                   front door (payload 1.0) -> XB receive
//!                 ledger stream -> notify -> SNS -> customs SQS queue
//!                                         -> webhook queue -> webhooks -> signed POST
//! ```
//!
//! So the real binaries are proven to start, read their configuration, reach AWS and answer;
//! the run also measures each one's start-up, peak resident memory and zip size.

use crate::emulation::front_door::{Front, FrontDoorServer};
use crate::emulation::runtime_api::Answer;
use crate::emulation::tls_front::TlsFront;
use crate::emulation::webhook_receiver::WebhookReceiver;
use crate::packaged::{package, RunningFunction};
use crate::stack::exchange::{start_pair, Ma, PairOptions};
use crate::stack::notify::{LocalNotify, NotifyOptions};
use crate::stack::template_env::{Resolver, Template};
use crate::{fixtures, REGION};
use anyhow::{bail, ensure, Context as _};
use ecites_aws::signing::{secrets_client, store_signing_secret};
use ecites_aws::ClientOptions;
use ecites_exchange::notify::{
    verify, Channel, EventType, Filters, Role, Secret, Subscription, SIGNATURE_HEADER,
};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Every binary `make package` builds, in the order the flow reaches them.
pub const BINARIES: [&str; 7] = [
    "ingest", "forward", "receive", "notify", "webhooks", "report", "sweep",
];

/// The functions that run as the partner XB (receive, and the sweep of what it received); every
/// other runs as XA.
fn runs_as_xb(binary: &str) -> bool {
    matches!(binary, "receive" | "sweep")
}

/// The goals of the packaged functions (reported, never asserted: timings depend on the
/// machine). Cold start: issue #20's 20 ms.
pub const COLD_START_GOAL: Duration = Duration::from_millis(20);
/// Peak resident memory goal, so the 128 MB Lambda size is enough.
pub const PEAK_RSS_GOAL_KIB: u64 = 64 * 1024;
/// Zip size goal.
pub const ZIP_GOAL_BYTES: u64 = 10 * 1024 * 1024;

const QUIET: Duration = Duration::from_secs(120);

/// Where things are.
#[derive(Clone, Debug)]
pub struct SmokeOptions {
    /// `target/lambda` (one `<binary>/bootstrap.zip` each).
    pub lambda_dir: PathBuf,
    /// infra/template.yaml.
    pub template: PathBuf,
    /// Permits dropped at XA (10 make one full SQS batch).
    pub permits: usize,
    /// Use a running emulator instead of starting one.
    pub endpoint: Option<String>,
    /// Latency added to each of the functions' AWS requests by a proxy in front of the
    /// emulator (zero for the smoke test; the cost bench uses an in-region round trip).
    pub aws_latency: Duration,
}

impl SmokeOptions {
    /// The repository's paths, `permits` permits.
    pub fn new(permits: usize) -> Self {
        let root = crate::emulation::moto::repo_root();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        SmokeOptions {
            lambda_dir: target.join("lambda"),
            template: root.join("infra/template.yaml"),
            permits,
            endpoint: None,
            aws_latency: Duration::ZERO,
        }
    }
}

/// What one packaged function did and cost.
#[derive(Clone, Debug, Default)]
pub struct FunctionReport {
    /// The binary.
    pub binary: String,
    /// A fresh process: start to its first request for an event (configuration read, AWS
    /// clients built).
    pub init: Duration,
    /// Cold start: a fresh process, an empty event waiting, process start to its answer.
    pub cold_start: Duration,
    /// A fresh process, process start to the answer for its first real batch in the flow
    /// (cold start plus the batch's AWS and partner round trips on the emulator).
    pub first_batch: Duration,
    /// Peak resident memory over the run, KiB.
    pub peak_rss_kib: u64,
    /// The zip's size in bytes.
    pub zip_bytes: u64,
    /// Invocations it answered.
    pub invocations: u32,
    /// Their billed duration, each rounded up to the millisecond.
    pub billed_ms: u64,
    /// CPU time of the flow's process (user and system, 10 ms ticks).
    pub cpu: Duration,
    /// `MemorySize` in the template, MB.
    pub memory_mb: u32,
    /// The share of the permits' flow (before the sample events and the schedule).
    pub flow: FlowBilling,
}

/// What the flow delivered, checked by [`run`].
#[derive(Clone, Debug)]
pub struct SmokeReport {
    /// Per function, in [`BINARIES`] order.
    pub functions: Vec<FunctionReport>,
    /// Permits XA's ledger shows delivered to XB.
    pub delivered: usize,
    /// Permits XB recorded as received.
    pub received: usize,
    /// Notifications on the customs queue.
    pub customs_notifications: usize,
    /// Webhook requests whose signature verified.
    pub verified_webhooks: usize,
    /// Annual-report drafts the scheduled report function wrote (exporter and importer).
    pub report_drafts: usize,
    /// Objects the scheduled sweep removed from XB's `received/` (the one orphan put there).
    pub swept: usize,
    /// The machine the zips are built for (`x86_64`, `aarch64`); when it is not this
    /// machine's, they ran under qemu-user and the timings and memory are the emulator's.
    pub machine: &'static str,
}

struct Stacks {
    xa: Ma,
    xb: Ma,
    notify: LocalNotify,
    template: Template,
    signing_secret: String,
}

/// XA's resources as the template's logical ids and parameters.
fn resolver_for_xa(stacks: &Stacks) -> Resolver {
    let stack = &stacks.xa.local.stack;
    common(&stacks.xa)
        .with_ref("NotificationTopic", &stacks.notify.topic_arn)
        .with_ref("WebhookQueue", &stacks.notify.webhook_queue_url)
        .with_ref("WebhooksQueue", &stacks.notify.webhook_queue_url)
        .with_ref("SigningKeySecretName", &stacks.signing_secret)
        .with_ref("IngestQueue", &stack.ingest_queue_url)
}

fn common(ma: &Ma) -> Resolver {
    let stack = &ma.local.stack;
    Resolver::default()
        .with_ref("CountryCode", ma.local.config.country.to_string())
        .with_ref("ExchangeBucket", &stack.bucket)
        .with_ref("LedgerTable", &stack.table)
        .with_ref("DeliveriesQueue", &stack.deliveries_queue_url)
        .with_ref("PartnerDirectoryKey", &stack.partners_key)
        .with_attribute(
            "ExchangeBucket",
            "Arn",
            format!("arn:aws:s3:::{}", stack.bucket),
        )
}

async fn start_stacks(options: &SmokeOptions) -> anyhow::Result<Stacks> {
    let text = std::fs::read_to_string(&options.template)
        .with_context(|| format!("reading {}", options.template.display()))?;
    let template = Template::parse(&text)?;
    for binary in BINARIES {
        ensure!(
            template.function(binary).is_some(),
            "infra/template.yaml has no function built from the binary {binary}"
        );
    }
    let pair = PairOptions {
        endpoint: options.endpoint.clone(),
        prefix: format!("smoke{}", std::process::id() % 10_000),
        aws_latency: options.aws_latency,
        ..PairOptions::default()
    };
    let (xa, xb) = start_pair(pair).await?;
    let notify = LocalNotify::start(&xa.local, NotifyOptions::default()).await?;
    // The template points forward at a Secrets Manager secret holding the signing key.
    let signing_secret = format!("{}/ecites/signing-key", xa.local.stack.bucket);
    let secrets = secrets_client(
        Some(&xa.local.endpoint),
        REGION,
        &ClientOptions {
            emulator_credentials: true,
            ..ClientOptions::default()
        },
    )
    .await;
    store_signing_secret(&secrets, &signing_secret, &xa.key).await?;
    Ok(Stacks {
        xa,
        xb,
        notify,
        template,
        signing_secret,
    })
}

struct Running {
    functions: Vec<Arc<RunningFunction>>,
    _receive_url: FrontDoorServer,
    _tls: TlsFront,
    _work: tempfile::TempDir,
}

impl Running {
    fn get(&self, binary: &str) -> &RunningFunction {
        // BINARIES and `functions` are built in the same order.
        let index = BINARIES.iter().position(|b| *b == binary).unwrap_or(0);
        &self.functions[index]
    }
}

/// Starts every packaged binary: XA's ingest, forward, notify and webhooks, XB's receive
/// behind its own loopback front door (the template's API Gateway REST API, so the binary
/// reads the payload format 1.0 event and writes its response) and a TLS front, which XA's directory then points at
/// as `https://localhost:<port>/`; forward trusts the front's authority through
/// `SSL_CERT_FILE`, so deliveries go through a real TLS handshake.
async fn start_functions(options: &SmokeOptions, stacks: &Stacks) -> anyhow::Result<Running> {
    let work = tempfile::Builder::new().prefix("ecites-smoke").tempdir()?;
    let (receive_url, tls) = {
        // The front door is started first; the receive process is plugged in below.
        let slot = Arc::new(LateFunction::default());
        let server = FrontDoorServer::start_with(slot.clone(), Front::RestApi).await?;
        let tls = TlsFront::start(server.addr(), work.path()).await?;
        ((server, slot), tls)
    };
    let xa_env = resolver_for_xa(stacks);
    let xb_env = common(&stacks.xb);
    let mut functions = Vec::new();
    for binary in BINARIES {
        let (resolver, ma) = if runs_as_xb(binary) {
            (&xb_env, &stacks.xb)
        } else {
            (&xa_env, &stacks.xa)
        };
        let mut environment = resolver.environment(&stacks.template, binary)?;
        if binary == "forward" {
            environment.push((
                "SSL_CERT_FILE".to_owned(),
                tls.ca_pem().display().to_string(),
            ));
        }
        if binary == "sweep" {
            // The flow's orphan was written a moment ago; the template's hour would leave it.
            environment.push((
                ecites_aws::config::SWEEP_OLDER_THAN_VARIABLE.to_owned(),
                "0".to_owned(),
            ));
        }
        if binary == "webhooks" {
            // The smoke test's subscriber listens on loopback: the local-run setting, which
            // the template never sets.
            environment.push((
                ecites_exchange::notify::webhook_url::ALLOW_LOOPBACK_ENV.to_owned(),
                "1".to_owned(),
            ));
        }
        let package = package(&options.lambda_dir, binary)?;
        let function = RunningFunction::start(
            &package,
            work.path(),
            &environment,
            &ma.local.function_endpoint,
        )
        .await?;
        functions.push(Arc::new(function));
    }
    let receive = functions[BINARIES.iter().position(|b| *b == "receive").unwrap_or(0)].clone();
    let (receive_url, slot) = receive_url;
    slot.set(receive);
    let mut xb = stacks.xb.as_partner();
    xb.endpoint = tls.url();
    stacks.xa.set_directory(vec![xb]).await?;
    Ok(Running {
        functions,
        _receive_url: receive_url,
        _tls: tls,
        _work: work,
    })
}

/// A front door's target set once the process behind it has started.
#[derive(Default)]
struct LateFunction(std::sync::OnceLock<Arc<RunningFunction>>);

impl LateFunction {
    fn set(&self, function: Arc<RunningFunction>) {
        let _ = self.0.set(function);
    }
}

#[async_trait::async_trait]
impl crate::emulation::front_door::FrontFunction for LateFunction {
    async fn call(
        &self,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        match self.0.get() {
            Some(function) => function.call(event).await,
            None => Err("the receive process has not started".into()),
        }
    }
}

/// The smallest event each function accepts: an empty batch, or a REST API request without a
/// body (which receive refuses without touching AWS).
fn empty_event(binary: &str) -> anyhow::Result<serde_json::Value> {
    use aws_lambda_events::event::{dynamodb, sqs};
    Ok(match binary {
        "receive" => {
            let (parts, ()) = hyper::Request::post("/").body(())?.into_parts();
            crate::emulation::front_door::rest_api_event(
                &parts,
                std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                &[],
                "/",
            )
        }
        "notify" => serde_json::to_value(dynamodb::Event::default())?,
        // An operator's request for no year: the function's smallest event, as an empty batch
        // is the others' (the schedule's sample does the real work in the flow).
        "report" => serde_json::json!({"years": []}),
        // A dry run: the sweep has no smaller request (it lists received/ and removes nothing).
        "sweep" => serde_json::json!({"dry_run": true}),
        _ => serde_json::to_value(sqs::SqsEvent::default())?,
    })
}

/// Starts each binary fresh with an empty event waiting and times process start to answer:
/// start-up (runtime, configuration, AWS clients, TLS roots) without the work of a batch.
async fn cold_starts(
    options: &SmokeOptions,
    stacks: &Stacks,
) -> anyhow::Result<Vec<(String, Duration, Duration)>> {
    let work = tempfile::Builder::new().prefix("ecites-cold").tempdir()?;
    let mut out = Vec::new();
    for binary in BINARIES {
        let (resolver, ma) = if runs_as_xb(binary) {
            (common(&stacks.xb), &stacks.xb)
        } else {
            (resolver_for_xa(stacks), &stacks.xa)
        };
        let environment = resolver.environment(&stacks.template, binary)?;
        let package = package(&options.lambda_dir, binary)?;
        let function = RunningFunction::start(
            &package,
            work.path(),
            &environment,
            &ma.local.function_endpoint,
        )
        .await?;
        let answer = function
            .invoke_json(empty_event(binary)?)
            .await
            .with_context(|| format!("{binary} on an empty event"))?;
        if let Answer::Error(error) = answer {
            bail!(
                "{binary} failed on an empty event: {error}\n{}",
                function.log_tail()
            );
        }
        let init = function.init_duration().unwrap_or_default();
        let cold = function.since_start_to_first_answer().unwrap_or_default();
        function.stop().await;
        out.push((binary.to_owned(), init, cold));
    }
    Ok(out)
}

/// Runs the flow on the packaged binaries and checks every hop.
pub async fn run(options: &SmokeOptions) -> anyhow::Result<SmokeReport> {
    let machine = super::package_machine(&package(&options.lambda_dir, BINARIES[0])?)?;
    let stacks = start_stacks(options).await?;
    let cold_starts = cold_starts(options, &stacks).await?;
    let running = start_functions(options, &stacks).await?;
    let result = flow(options, &stacks, &running).await;
    let mut functions = BINARIES
        .iter()
        .map(|binary| {
            let function = running.get(binary);
            FunctionReport {
                binary: (*binary).to_owned(),
                init: cold_starts
                    .iter()
                    .find(|(b, _, _)| b == binary)
                    .map(|(_, init, _)| *init)
                    .unwrap_or_default(),
                cold_start: cold_starts
                    .iter()
                    .find(|(b, _, _)| b == binary)
                    .map(|(_, _, cold)| *cold)
                    .unwrap_or_default(),
                first_batch: function.cold_start().unwrap_or_default(),
                peak_rss_kib: function.peak_rss_kib().unwrap_or(0),
                zip_bytes: package(&options.lambda_dir, binary)
                    .map(|p| p.zip_bytes)
                    .unwrap_or(0),
                invocations: function.invocations(),
                billed_ms: function.billed_ms(),
                cpu: function.cpu_time().unwrap_or_default(),
                memory_mb: stacks
                    .template
                    .function(binary)
                    .map_or(128, |f| f.memory_mb),
                flow: FlowBilling::default(),
            }
        })
        .collect::<Vec<_>>();
    for function in &running.functions {
        function.stop().await;
    }
    let (
        delivered,
        received,
        customs_notifications,
        verified_webhooks,
        report_drafts,
        swept,
        billing,
    ) = result?;
    for (function, flow) in functions.iter_mut().zip(billing) {
        function.flow = flow;
    }
    Ok(SmokeReport {
        functions,
        delivered,
        received,
        customs_notifications,
        verified_webhooks,
        report_drafts,
        swept,
        machine,
    })
}

/// What the permits' own flow cost each function, before the sample events and the schedule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowBilling {
    /// Invocations.
    pub invocations: u32,
    /// Billed duration, ms.
    pub billed_ms: u64,
    /// CPU time of the process.
    pub cpu: Duration,
}

type FlowOutcome = (usize, usize, usize, usize, usize, usize, Vec<FlowBilling>);

async fn flow(
    options: &SmokeOptions,
    stacks: &Stacks,
    running: &Running,
) -> anyhow::Result<FlowOutcome> {
    let Stacks { xa, xb, notify, .. } = stacks;
    let (customs_url, customs_arn) = notify
        .agency_queue(&xa.local, &format!("{}-customs-xb", xa.local.stack.bucket))
        .await?;
    notify
        .admin
        .add(
            Subscription {
                id: "customs-xb".into(),
                agency: "Customs of XB".into(),
                country: "XB".into(),
                role: Role::Customs,
                events: vec![EventType::Issued],
                filters: Filters {
                    importer: vec!["XB".into()],
                    ..Filters::default()
                },
                channel: Channel::Sns {
                    protocol: "sqs".into(),
                    endpoint: customs_arn,
                    subscription_arn: None,
                },
                include_xml: false,
            },
            None,
        )
        .await?;
    let receiver = WebhookReceiver::start(200).await?;
    let secret = Secret::new(format!("smoke-secret-{}", std::process::id()));
    notify
        .admin
        .add(
            Subscription {
                id: "ma-xa-permit-system".into(),
                agency: "Management Authority of XA (permit system)".into(),
                country: "XA".into(),
                role: Role::ManagementAuthority,
                events: vec![EventType::Delivered],
                filters: Filters::default(),
                channel: Channel::Webhook {
                    url: receiver.url("/ecites/events"),
                    secret_parameter: format!(
                        "/{}/webhooks/ma-xa-permit-system",
                        xa.local.stack.bucket
                    ),
                },
                include_xml: false,
            },
            Some(&secret),
        )
        .await?;

    let numbers: Vec<String> = (1..=options.permits)
        .map(|i| format!("26XA{:04}", 9000 + i))
        .collect();
    for number in &numbers {
        let permit = fixtures::export_permit(number, "XA", "XB", 10);
        xa.local
            .put_object(&format!("inbox/{number}.json"), fixtures::json(&permit))
            .await?;
    }

    let ingest = running.get("ingest");
    let outcome = xa
        .local
        .ingest_source
        .run_until_quiet(&|event| ingest.invoke(event), QUIET)
        .await
        .context("the packaged ingest")?;
    ensure!(
        outcome.failed == 0,
        "ingest reported {} failed messages: {}",
        outcome.failed,
        ingest.log_tail()
    );
    let forward = running.get("forward");
    xa.forward_source
        .run_until_quiet(&|event| forward.invoke(event), QUIET)
        .await
        .context("the packaged forward")?;
    let notify_function = running.get("notify");
    notify
        .stream
        .run_until_quiet(&|event| notify_function.invoke(event), QUIET)
        .await
        .context("the packaged notify")?;
    let webhooks = running.get("webhooks");
    notify
        .webhook_source
        .run_until_quiet(&|event| webhooks.invoke(event), QUIET)
        .await
        .context("the packaged webhooks")?;

    let mut delivered = 0;
    let mut received = 0;
    for number in &numbers {
        let message = crate::stack::exchange::delivery_message(
            "XA",
            number,
            1,
            ecites_exchange::ledger::DeliveryKind::Permit,
            "XB",
        );
        let sent = xa.store.delivery_fields(&message).await?;
        if sent
            .as_ref()
            .and_then(|f| f.get("state"))
            .map(String::as_str)
            == Some("DELIVERED")
        {
            delivered += 1;
        } else {
            bail!(
                "permit {number}: XA's ledger shows {sent:?}, not DELIVERED\nforward: {}\nreceive: {}",
                forward.log_tail(),
                running.get("receive").log_tail()
            );
        }
        if xb
            .store
            .received_fields(crate::country("XA"), number, 1, "issued")
            .await?
            .is_some()
        {
            received += 1;
        }
    }
    let customs = xa.local.take_all(&customs_url).await?.len();
    let now = chrono::Utc::now().timestamp();
    let verified = receiver
        .received()
        .iter()
        .filter(|request| {
            request
                .headers
                .get(&SIGNATURE_HEADER.to_ascii_lowercase())
                .is_some_and(|header| verify(&secret, header, &request.body, now, 300).is_ok())
        })
        .count();
    let billing = running
        .functions
        .iter()
        .map(|function| FlowBilling {
            invocations: function.invocations(),
            billed_ms: function.billed_ms(),
            cpu: function.cpu_time().unwrap_or_default(),
        })
        .collect();
    samples(stacks, running, &receiver, &secret).await?;
    // The schedule fires (events/report-schedule.json, 1 December 2026): the year's
    // annual-report drafts are written from XA's ledger. The permits were issued in 2026 and
    // never used, so the exporter draft lists every block as issued but not (yet) endorsed.
    let report = running.get("report");
    match report
        .invoke_json(sample("report-schedule.json", &xa.local.stack.bucket)?)
        .await?
    {
        crate::emulation::runtime_api::Answer::Response(_) => {}
        crate::emulation::runtime_api::Answer::Error(error) => {
            bail!("the packaged report failed: {error}\n{}", report.log_tail())
        }
    }
    let summary = xa
        .local
        .get_object("reports/annual/2026/exporter.summary.txt")
        .await?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    for number in &numbers {
        let expected = format!("XA/{number} block A");
        ensure!(
            summary.contains("not (yet) endorsed at export in 2026:")
                && summary.contains(&expected),
            "the report draft's summary does not list {expected:?} as not yet endorsed:\n{summary}\n{}",
            report.log_tail()
        );
    }
    let drafts = ["exporter", "importer"].len();
    let swept = sweep_received(stacks, running, &numbers).await?;
    for function in &running.functions {
        ensure!(
            function.is_running().await,
            "{} exited during the run:\n{}",
            function.binary,
            function.log_tail()
        );
    }
    Ok((
        delivered, received, customs, verified, drafts, swept, billing,
    ))
}

/// XB's sweep fires (events/sweep-schedule.json): of everything XB received in the flow it
/// removes only an orphan put beside the first permit's objects (a message whose ledger write was
/// never applied leaves one), and keeps every object a record names. Returns the objects removed.
async fn sweep_received(
    stacks: &Stacks,
    running: &Running,
    numbers: &[String],
) -> anyhow::Result<usize> {
    let xb = &stacks.xb;
    let number = numbers.first().context("the flow carried no permit")?;
    let orphan = ecites_exchange::receive::received_key(
        crate::country("XA"),
        number,
        "smoke-orphan-message",
    );
    xb.local.put_object(&orphan, b"{}".to_vec()).await?;
    let named = xb.local.list("received/").await?;
    let sweep = running.get("sweep");
    let answer = match sweep
        .invoke_json(sample("sweep-schedule.json", &xb.local.stack.bucket)?)
        .await?
    {
        Answer::Response(answer) => answer,
        Answer::Error(error) => {
            bail!("the packaged sweep failed: {error}\n{}", sweep.log_tail())
        }
    };
    let removed: Vec<String> = serde_json::from_value(answer["removed_keys"].clone())
        .with_context(|| format!("the sweep's answer {answer}"))?;
    ensure!(
        removed == [orphan.clone()],
        "the sweep removed {removed:?}, not only the orphan {orphan}: {answer}\n{}",
        sweep.log_tail()
    );
    let kept: Vec<String> = named.into_iter().filter(|key| *key != orphan).collect();
    ensure!(
        kept.len() >= 2 * numbers.len(),
        "XB's received/ held {} objects for {} permits: {kept:?}",
        kept.len(),
        numbers.len()
    );
    let left = xb.local.list("received/").await?;
    ensure!(
        left == kept,
        "after the sweep XB's received/ holds {left:?}, not the {} objects its records name",
        kept.len()
    );
    Ok(removed.len())
}

/// Fails unless every permit went the whole way: delivered and received, one customs
/// notification and one verified webhook each, and every function answered.
pub fn check(report: &SmokeReport, permits: usize) -> anyhow::Result<()> {
    ensure!(
        report.delivered == permits,
        "{} of {permits} delivered",
        report.delivered
    );
    ensure!(
        report.received == permits,
        "{} of {permits} received at XB",
        report.received
    );
    ensure!(
        report.customs_notifications == permits,
        "{} customs notifications for {permits} permits",
        report.customs_notifications
    );
    ensure!(
        report.verified_webhooks == permits,
        "{} verified webhooks for {permits} deliveries",
        report.verified_webhooks
    );
    for function in &report.functions {
        ensure!(
            function.invocations > 0,
            "{} was never invoked",
            function.binary
        );
    }
    Ok(())
}

/// The bucket every sample in `events/` names (the stack's, as the template would name it).
const SAMPLE_BUCKET: &str = "ecites-123456789012-5e8f6c70-cc1f-11f0-9d3a-0a1b2c3d4e5f";

/// An `events/` sample, its bucket renamed to the local stack's.
/// The object version the S3 notification sample names (the template's bucket is versioned):
/// ingest reads exactly that version, so the smoke test puts the object on a versioned bucket
/// and names the version S3 gave it.
const SAMPLE_VERSION_ID: &str = "096fKKXTRTtl3on89fVO.nfljtsv6qko";

fn sample(name: &str, bucket: &str) -> anyhow::Result<serde_json::Value> {
    sample_naming(name, bucket, None)
}

/// A sample with the stack's bucket and, when given, the object version S3 gave the sample's
/// object.
fn sample_naming(
    name: &str,
    bucket: &str,
    version_id: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    let path = crate::emulation::moto::repo_root()
        .join("events")
        .join(name);
    let mut text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    text = text.replace(SAMPLE_BUCKET, bucket);
    if let Some(version_id) = version_id {
        text = text.replace(SAMPLE_VERSION_ID, version_id);
    }
    Ok(serde_json::from_str(&text)?)
}

/// Sends a sample to a packaged function and returns its SQS or stream batch failures.
async fn batch_failures(
    function: &RunningFunction,
    name: &str,
    bucket: &str,
) -> anyhow::Result<Vec<serde_json::Value>> {
    invoke_for_failures(function, name, sample(name, bucket)?).await
}

async fn invoke_for_failures(
    function: &RunningFunction,
    name: &str,
    event: serde_json::Value,
) -> anyhow::Result<Vec<serde_json::Value>> {
    match function.invoke_json(event).await? {
        Answer::Response(value) => Ok(value["batchItemFailures"]
            .as_array()
            .cloned()
            .unwrap_or_default()),
        Answer::Error(error) => bail!("{} failed on events/{name}: {error}", function.binary),
    }
}

/// Each packaged function on its samples in `events/` (the receive sample, a message from
/// XB's sample key with a fixed date, is checked by functions/receive/tests/events.rs):
/// the S3 test event is skipped, the S3 notification's permit is ingested, its delivery is
/// forwarded to XB, the direct messages (inline permit, large-file reference, cancellation)
/// are taken, the stream batch notifies, and the webhook jobs reach their subscriber signed.
async fn samples(
    stacks: &Stacks,
    running: &Running,
    receiver: &WebhookReceiver,
    secret: &Secret,
) -> anyhow::Result<()> {
    let Stacks { xa, notify, .. } = stacks;
    let bucket = xa.local.stack.bucket.as_str();
    let ingest = running.get("ingest");
    let failures = batch_failures(ingest, "ingest-s3-test-event.json", bucket).await?;
    ensure!(
        failures.is_empty(),
        "the S3 test event failed: {failures:?}"
    );

    let export = std::fs::read(
        crate::emulation::moto::repo_root().join("cli/tests/fixtures/export-permit.json"),
    )?;
    let s3 = &xa.local.clients.s3;
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .context("turning on versioning, as the template does")?;
    let put = s3
        .put_object()
        .bucket(bucket)
        .key("inbox/2026/export permit 25XA000123 café.json")
        .body(export.into())
        .send()
        .await
        .context("putting the sample permit")?;
    let name = "ingest-s3-object-created.json";
    let event = sample_naming(name, bucket, put.version_id())?;
    let failures = invoke_for_failures(ingest, name, event).await?;
    ensure!(
        failures.is_empty(),
        "the S3 notification sample failed: {failures:?}\n{}",
        ingest.log_tail()
    );
    let written = xa.local.list("outbox/XA/25XA000123/").await?;
    ensure!(
        written.len() == 1,
        "ingest wrote {written:?} for the sample permit"
    );
    // The delivery sample names the XML by its content hash: the same bytes as ingest wrote.
    let delivery = sample("forward-delivery.json", bucket)?;
    let body: serde_json::Value =
        serde_json::from_str(delivery["Records"][0]["body"].as_str().unwrap_or_default())?;
    ensure!(
        body["xml_key"].as_str() == Some(written[0].as_str()),
        "events/forward-delivery.json names {} but ingest wrote {}",
        body["xml_key"],
        written[0]
    );

    let forward = running.get("forward");
    batch_failures(forward, "forward-delivery.json", bucket).await?;
    let message: ecites_exchange::DeliveryMessage = serde_json::from_value(body)?;
    let sent = xa
        .store
        .delivery_fields(&message)
        .await?
        .unwrap_or_default();
    ensure!(
        sent.get("state").map(String::as_str) == Some("DELIVERED"),
        "the sample delivery ended {sent:?}\nforward: {}",
        forward.log_tail()
    );

    let mut large = fixtures::export_permit("25XA000124", "XA", "XB", 3);
    large.permit_number = "25XA000124".into();
    xa.local
        .put_object(
            "inbox/large/25XA000124.xml",
            ecites_domain::xml::write_permit(&large).into_bytes(),
        )
        .await?;
    let failures = batch_failures(ingest, "ingest-direct-messages.json", bucket).await?;
    ensure!(
        failures.is_empty(),
        "the direct messages failed: {failures:?}\n{}",
        ingest.log_tail()
    );
    ensure!(
        xa.local.list("outbox/XA/25XA000124/").await?.len() == 1,
        "the large-file reference was not ingested"
    );

    let failures =
        batch_failures(running.get("notify"), "notify-ledger-stream.json", bucket).await?;
    ensure!(
        failures.is_empty(),
        "the stream sample failed: {failures:?}"
    );

    let before = receiver.received().len();
    notify
        .admin
        .add(
            Subscription {
                id: "customs-xb".into(),
                agency: "Customs of XB".into(),
                country: "XB".into(),
                role: Role::Customs,
                events: vec![EventType::Issued, EventType::Delivered],
                filters: Filters {
                    importer: vec!["XB".into()],
                    ..Filters::default()
                },
                channel: Channel::Webhook {
                    url: receiver.url("/customs"),
                    secret_parameter: format!("/{bucket}/webhooks/customs-xb"),
                },
                include_xml: true,
            },
            Some(secret),
        )
        .await?;
    let webhooks = running.get("webhooks");
    let failures = batch_failures(webhooks, "webhooks-delivery.json", bucket).await?;
    ensure!(
        failures.is_empty(),
        "the webhook sample failed: {failures:?}\n{}",
        webhooks.log_tail()
    );
    let posted = receiver.received().len() - before;
    ensure!(
        posted == 2,
        "the two sample webhook jobs made {posted} requests"
    );
    Ok(())
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "OVER"
    }
}

/// The measurements as a table, each against its goal.
pub fn render(report: &SmokeReport) -> String {
    let mut out = String::new();
    // Under emulation the timings and memory are qemu's: no goal is judged on them.
    let emulated = report.machine != std::env::consts::ARCH;
    let judged = |ok: bool| if emulated { "-" } else { mark(ok) };
    let _ = writeln!(
        out,
        "{:<10} {:>8} {:>13} {:>15} {:>16} {:>12} {:>6}",
        "function", "init ms", "cold ms", "1st batch ms", "peak RSS MiB", "zip MiB", "calls"
    );
    for f in &report.functions {
        let _ = writeln!(
            out,
            "{:<10} {:>8.1} {:>7.1} {:<5} {:>15.1} {:>9.1} {:<6} {:>6.2} {:<5} {:>6}",
            f.binary,
            f.init.as_secs_f64() * 1000.0,
            f.cold_start.as_secs_f64() * 1000.0,
            judged(f.cold_start <= COLD_START_GOAL),
            f.first_batch.as_secs_f64() * 1000.0,
            f.peak_rss_kib as f64 / 1024.0,
            judged(f.peak_rss_kib <= PEAK_RSS_GOAL_KIB),
            f.zip_bytes as f64 / (1024.0 * 1024.0),
            mark(f.zip_bytes <= ZIP_GOAL_BYTES),
            f.invocations,
        );
    }
    let _ = writeln!(
        out,
        "goals: cold start (fresh process, empty event waiting: start to answer) < {} ms, peak RSS (whole flow, full batches) < {} MiB, zip < {} MiB",
        COLD_START_GOAL.as_millis(),
        PEAK_RSS_GOAL_KIB / 1024,
        ZIP_GOAL_BYTES / (1024 * 1024)
    );
    if !emulated {
        let _ = writeln!(out, "zips: {}, run on this machine", report.machine);
    } else {
        let _ = writeln!(
            out,
            "zips: {}, run under qemu-{} on this {} machine: they start and answer; the timings and memory above are the emulator's, not Lambda's",
            report.machine,
            report.machine,
            std::env::consts::ARCH
        );
    }
    let _ = writeln!(
        out,
        "flow: {} delivered XA -> XB over TLS, {} received at XB, {} customs notifications, {} signed webhooks verified, {} annual-report drafts written by the schedule, {} orphaned object removed by the sweep (every recorded one kept)",
        report.delivered, report.received, report.customs_notifications, report.verified_webhooks, report.report_drafts, report.swept
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(machine: &'static str) -> SmokeReport {
        SmokeReport {
            functions: vec![FunctionReport {
                binary: "ingest".into(),
                cold_start: Duration::from_millis(300),
                peak_rss_kib: 80 * 1024,
                zip_bytes: 5 << 20,
                ..FunctionReport::default()
            }],
            delivered: 10,
            received: 10,
            customs_notifications: 10,
            verified_webhooks: 10,
            report_drafts: 2,
            swept: 1,
            machine,
        }
    }

    #[test]
    fn the_table_judges_timings_on_this_machine_and_not_under_emulation() {
        let native = render(&report(std::env::consts::ARCH));
        assert!(native.contains("OVER"), "{native}");
        assert!(native.contains("run on this machine"), "{native}");
        let other = match std::env::consts::ARCH {
            "x86_64" => "aarch64",
            _ => "x86_64",
        };
        let emulated = render(&report(other));
        assert!(!emulated.contains("OVER"), "{emulated}");
        assert!(
            emulated.contains(&format!("run under qemu-{other}")),
            "{emulated}"
        );
        assert!(
            emulated.contains("the emulator's, not Lambda's"),
            "{emulated}"
        );
        assert!(
            emulated.contains(" ok "),
            "the zip size is still judged: {emulated}"
        );
    }
}
