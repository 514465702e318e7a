//! `ecites-local`: the exchange on an emulated AWS (moto server) on this machine.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ecites-local",
    about = "Run the ecites exchange locally against moto server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start moto (or use --endpoint), set everything up, ingest a realistic set of permits,
    /// print a summary, stop everything started.
    Demo {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Two MAs (XA, XB) exchanging permits end to end: signed envelopes over loopback HTTP,
    /// an outage with retries, the DLQ and a replay, a forged message refused.
    DemoExchange {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// EPIX Connect's SOAP interface both ways: XA serves its permit to XB's MA over mutual TLS
    /// (a third country is told it does not exist), XB confirms quantities; XB pulls a permit
    /// from an EPIX-only MA and records it as received.
    DemoEpix {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Notifications to agencies: a customs queue (SNS filter policy) and a signed webhook
    /// each receive what they subscribed to and nothing else.
    DemoNotify {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Permit use at both ends of a shipment: endorsed at XA, confirmed at XB, balances on both
    /// ledgers, then a second consignment, an over-quantity, an expired use and a paper permit
    /// never received, each raising its alert.
    DemoUse {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// AWS requests per customs use (each path) and per verification.
    BenchUse {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
        /// Uses of each kind.
        #[arg(long, default_value_t = 50)]
        uses: usize,
    },
    /// The annual report of a synthetic year: rows per second and peak memory of the released
    /// `ecites report annual` over a year of permits with uses on the emulator.
    BenchReport {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
        /// Permits of the year endorsed at export (a tenth as many more are never used).
        #[arg(long, default_value_t = 20_000)]
        permits: usize,
        /// The `ecites` binary to measure (a release build).
        #[arg(long, default_value = "target/release/ecites")]
        ecites: std::path::PathBuf,
    },
    /// Deliveries per second through forward -> receive on loopback, AWS requests per delivery.
    BenchExchange {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
        /// Deliveries.
        #[arg(long, default_value_t = 100)]
        deliveries: usize,
    },
    /// Two MAs with notifications and customs uses, faults in every function's AWS calls, a
    /// flapping partner and webhook subscribers, runners killed mid-batch; permits in every
    /// form with duplicates, invalid files, re-issues, cancellations and import confirmations;
    /// then an audit of both ledgers, both buckets, the queues and every subscriber's inbox:
    /// exits 1 unless nothing was lost and nothing doubled.
    Soak {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
        /// Valid permits.
        #[arg(long, default_value_t = 2000)]
        permits: usize,
        /// Share of the functions' AWS calls faulted (every kind).
        #[arg(long, default_value_t = 0.05)]
        fault_rate: f64,
        /// The fault generator's seed.
        #[arg(long, default_value_t = 20_261_130)]
        seed: u64,
    },
    /// A batch of ten against a batch of one, for each SQS-triggered function, with a fixed
    /// latency added to every AWS call.
    BenchBatches {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
        /// Milliseconds added to each AWS request of the functions (AWS in a region: 5-30).
        #[arg(long, default_value_t = 20)]
        latency_ms: u64,
        /// Batches measured per size and function.
        #[arg(long, default_value_t = 5)]
        batches: usize,
    },
    /// Create the whole stack on a running emulator (queues with DLQs, table with stream,
    /// bucket, topic, signing key, partner directory) and print `export` lines for every
    /// function: `eval "$(ecites-local setup --endpoint URL)"`.
    Setup {
        /// The emulator endpoint.
        #[arg(long)]
        endpoint: String,
        /// Resource name prefix.
        #[arg(long, default_value = "ecites")]
        prefix: String,
        /// This deployment's MA country.
        #[arg(long, default_value = "XA")]
        country: String,
    },
    /// Play every function at once from the environment `setup` printed: the ingest queue ->
    /// ingest, the deliveries queue -> forward, the table's stream -> notify, the webhook queue
    /// -> webhooks, and receive served on a loopback port; until quiet, Ctrl-C or the timeout.
    Run {
        /// Give up after this many seconds (an error if work is still pending).
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Serve receive on this port of 127.0.0.1 (0: a free one; the URL is printed).
        #[arg(long, default_value_t = 0)]
        receive_port: u16,
        /// Keep going until everything has been quiet this many seconds (0: stop at once).
        #[arg(long, default_value_t = 0)]
        quiet_for: u64,
    },
    /// Start each packaged Lambda (`make package`) against a loopback Runtime API, with the
    /// environment infra/template.yaml gives it, and carry permits through ingest, forward,
    /// receive, notify and webhooks; fails unless every hop happened.
    Smoke {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
        /// Permits dropped at XA (10 make one full SQS batch).
        #[arg(long, default_value_t = 10)]
        permits: usize,
        /// The template whose environment the functions get (default: infra/template.yaml).
        #[arg(long)]
        template: Option<std::path::PathBuf>,
    },
    /// The smoke flow as a benchmark: each packaged function's cold start, peak resident
    /// memory while handling full batches, and zip size, against the goals; then the flow
    /// again with a latency on every AWS call for the Lambda cost per 1,000 permits.
    BenchFunctions {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
        /// Permits dropped at XA.
        #[arg(long, default_value_t = 50)]
        permits: usize,
        /// Milliseconds added to each AWS request of the functions in the cost run.
        #[arg(long, default_value_t = 20)]
        latency_ms: u64,
    },
    /// Measure AWS requests per permit and throughput through ingest.
    Bench {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
        /// Permits per path.
        #[arg(long, default_value_t = 100)]
        permits: usize,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    ecites_aws::telemetry::init_tracing_with_default("warn");
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Demo { endpoint } => {
            let summary = ecites_local::demo::pipeline::run(endpoint).await?;
            println!("{summary}");
        }
        Command::DemoExchange { endpoint } => {
            println!("{}", ecites_local::demo::exchange::run(endpoint).await?);
        }
        Command::DemoEpix { endpoint } => {
            println!("{}", ecites_local::demo::epix::run(endpoint).await?);
        }
        Command::BenchExchange {
            endpoint,
            deliveries,
        } => {
            println!(
                "{}",
                ecites_local::bench::exchange::run(endpoint, deliveries).await?
            );
        }
        Command::Soak {
            endpoint,
            permits,
            fault_rate,
            seed,
        } => {
            let options = ecites_local::soak::SoakOptions {
                endpoint,
                fault_rate,
                seed,
                progress: true,
                ..ecites_local::soak::SoakOptions::new(permits)
            };
            let report = ecites_local::soak::run(&options).await?;
            print!("{}", ecites_local::soak::table(&report));
            if !report.passed() {
                std::process::exit(1);
            }
        }
        Command::BenchBatches {
            endpoint,
            latency_ms,
            batches,
        } => {
            use ecites_local::bench::batches;
            let latency = std::time::Duration::from_millis(latency_ms);
            let without =
                batches::run(endpoint.clone(), std::time::Duration::ZERO, batches).await?;
            let with = batches::run(endpoint, latency, batches).await?;
            println!("{}", batches::table(&with, &without, latency));
        }
        Command::DemoNotify { endpoint } => {
            println!("{}", ecites_local::demo::notify::run(endpoint).await?);
        }
        Command::DemoUse { endpoint } => {
            println!("{}", ecites_local::demo::permit_use::run(endpoint).await?);
        }
        Command::BenchReport {
            endpoint,
            permits,
            ecites,
        } => {
            println!(
                "{}",
                ecites_local::bench::report::run(endpoint, permits, &ecites).await?
            );
        }
        Command::BenchUse { endpoint, uses } => {
            println!(
                "{}",
                ecites_local::bench::permit_use::run(endpoint, uses).await?
            );
        }
        Command::Setup {
            endpoint,
            prefix,
            country,
        } => {
            let country = country
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("--country {country:?} is not an ISO 3166-1 code"))?;
            let spec = ecites_local::stack::hand_run::HandRunSpec {
                endpoint,
                prefix,
                country,
            };
            print!(
                "{}",
                ecites_local::stack::hand_run::create(&spec)
                    .await?
                    .exports()
            );
        }
        Command::Run {
            timeout,
            receive_port,
            quiet_for,
        } => {
            let run = ecites_local::stack::hand_run::HandRun::from_env(receive_port).await?;
            println!("receive: {}", run.receive_url());
            let stop = ecites_local::emulation::mapping::Stop::on_ctrl_c();
            let options = ecites_local::emulation::mapping::RunOptions {
                timeout: std::time::Duration::from_secs(timeout),
                quiet_for: std::time::Duration::from_secs(quiet_for),
                ..Default::default()
            };
            print!("{}", run.run(&options, &stop).await?);
        }
        Command::Smoke {
            endpoint,
            permits,
            template,
        } => {
            let mut options = ecites_local::packaged::smoke::SmokeOptions::new(permits);
            options.endpoint = endpoint;
            if let Some(template) = template {
                options.template = template;
            }
            let report = ecites_local::packaged::smoke::run(&options).await?;
            print!("{}", ecites_local::packaged::smoke::render(&report));
            ecites_local::packaged::smoke::check(&report, permits)?;
            println!("smoke: every packaged function started, read its configuration and answered");
        }
        Command::BenchFunctions {
            endpoint,
            permits,
            latency_ms,
        } => {
            use ecites_local::packaged::{cost, smoke};
            let mut options = smoke::SmokeOptions::new(permits);
            options.endpoint = endpoint.clone();
            let report = smoke::run(&options).await?;
            print!("{}", smoke::render(&report));
            // Again with an in-region round trip on every AWS call, for the cost.
            options.aws_latency = std::time::Duration::from_millis(latency_ms);
            let report = smoke::run(&options).await?;
            println!();
            print!(
                "{}",
                cost::render(&report.functions, permits, options.aws_latency)
            );
        }
        Command::Bench { endpoint, permits } => {
            let table = ecites_local::bench::pipeline::run(endpoint, permits).await?;
            println!("{table}");
        }
    }
    Ok(())
}
