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
    /// Notifications to agencies: a customs queue (SNS filter policy) and a signed webhook
    /// each receive what they subscribed to and nothing else.
    DemoNotify {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
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
    /// Create the stack on a running emulator and print the environment for the functions.
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
    /// Play the SQS event-source mapping for the ingest function (configured by the same env
    /// vars as the Lambda, plus ECITES_INGEST_QUEUE_URL) until the queue is quiet.
    Run {
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
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
    /// memory while handling full batches, and zip size, against the goals.
    BenchFunctions {
        /// Use a running emulator instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
        /// Permits dropped at XA.
        #[arg(long, default_value_t = 50)]
        permits: usize,
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
            let summary = ecites_local::demo::run(endpoint).await?;
            println!("{summary}");
        }
        Command::DemoExchange { endpoint } => {
            println!("{}", ecites_local::demo_exchange::run(endpoint).await?);
        }
        Command::BenchExchange {
            endpoint,
            deliveries,
        } => {
            println!(
                "{}",
                ecites_local::bench_exchange::run(endpoint, deliveries).await?
            );
        }
        Command::DemoNotify { endpoint } => {
            println!("{}", ecites_local::demo_notify::run(endpoint).await?);
        }
        Command::Setup {
            endpoint,
            prefix,
            country,
        } => {
            let clients = ecites_aws::Clients::new(
                Some(&endpoint),
                ecites_local::REGION,
                &ecites_aws::ClientOptions {
                    emulator_credentials: true,
                    ..Default::default()
                },
            )
            .await;
            let options = ecites_local::LocalOptions::new(&prefix);
            let spec = ecites_local::StackSpec {
                prefix,
                visibility_timeout_s: options.visibility_timeout_s,
                max_receive_count: options.max_receive_count,
                partners: options.partners,
            };
            let stack = ecites_local::setup::setup(&clients, &spec).await?;
            println!("export AWS_ENDPOINT_URL={endpoint}");
            println!("export AWS_REGION={}", ecites_local::REGION);
            println!("export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true");
            println!("export ECITES_COUNTRY={country}");
            println!("export ECITES_BUCKET={}", stack.bucket);
            println!("export ECITES_TABLE={}", stack.table);
            println!(
                "export ECITES_DELIVERIES_QUEUE_URL={}",
                stack.deliveries_queue_url
            );
            println!("export ECITES_INGEST_QUEUE_URL={}", stack.ingest_queue_url);
        }
        Command::Run { timeout } => {
            let config = ecites_aws::Config::from_env()?;
            let queue = std::env::var("ECITES_INGEST_QUEUE_URL")
                .map_err(|_| anyhow::anyhow!("ECITES_INGEST_QUEUE_URL is not set"))?;
            let clients =
                ecites_aws::Clients::from_config(&config, &ecites_aws::ClientOptions::default())
                    .await;
            let function = ecites_ingest::IngestFunction::new(&config, &clients);
            let source =
                ecites_local::EventSource::new(clients.sqs.clone(), &queue, &config.region).await?;
            let handler = |event| function.handle(event);
            let outcome = source
                .run_until_quiet(&handler, std::time::Duration::from_secs(timeout))
                .await?;
            println!("{outcome:?}");
        }
        Command::Smoke {
            endpoint,
            permits,
            template,
        } => {
            let mut options = ecites_local::smoke::SmokeOptions::new(permits);
            options.endpoint = endpoint;
            if let Some(template) = template {
                options.template = template;
            }
            let report = ecites_local::smoke::run(&options).await?;
            print!("{}", ecites_local::smoke::render(&report));
            ecites_local::smoke::check(&report, permits)?;
            println!("smoke: every packaged function started, read its configuration and answered");
        }
        Command::BenchFunctions { endpoint, permits } => {
            let mut options = ecites_local::smoke::SmokeOptions::new(permits);
            options.endpoint = endpoint;
            let report = ecites_local::smoke::run(&options).await?;
            print!("{}", ecites_local::smoke::render(&report));
        }
        Command::Bench { endpoint, permits } => {
            let table = ecites_local::bench::run(endpoint, permits).await?;
            println!("{table}");
        }
    }
    Ok(())
}
