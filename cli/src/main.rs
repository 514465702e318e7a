//! `ecites`: validate, convert and inspect CITES permits by hand.
//!
//! The CLI is a thin shell over the same crates the Lambda functions use, so a permit an officer
//! checks here is judged exactly as the pipeline will judge it.

mod agencies;
mod annual;
mod card;
mod convert;
mod fetch;
mod input;
mod keys;
mod partners;
mod replay;
mod report;
mod smoke;
mod species;
mod stack;
mod status;
mod subscriptions;
mod sweep;
mod validate;
mod verify;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status: every input converted or valid (warnings allowed).
pub const EXIT_OK: u8 = 0;
/// Exit status: some permit is invalid (its findings are printed).
pub const EXIT_INVALID: u8 = 1;
/// Exit status: some input could not be read at all.
pub const EXIT_UNREADABLE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "ecites",
    version,
    about = "Validate, convert and inspect CITES permits"
)]
struct Cli {
    /// Read the deployment's configuration (bucket, table, queues, topic, country, signing
    /// secret, receive endpoint) from this CloudFormation stack's outputs instead of the
    /// ECITES_* environment variables, which its values override. Region and credentials as
    /// for every AWS command (AWS_REGION, AWS_PROFILE, ...).
    #[arg(long, global = true, value_name = "NAME")]
    stack: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert permits to the standard CITES e-permit XML or the JSON form.
    ///
    /// With a file (or - for standard input), writes the converted permit to standard output.
    /// With a folder and -o OUTDIR, converts every file in it (recursively) into
    /// OUTDIR/<issuer>/<permit number, %-escaped>.<xml|json> and prints a summary.
    /// Exit status: 0 converted, 1 some permit invalid (findings on stderr), 2 some input unreadable.
    Convert {
        /// The output format.
        #[arg(long, value_enum)]
        to: OutputFormat,
        #[command(flatten)]
        from: ReadArgs,
        /// The output folder, for converting a whole folder.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// A permit file, `-` for standard input, or a folder (with -o).
        input: PathBuf,
    },
    /// Validate permits and print findings.
    ///
    /// Exit status: 0 every permit valid (warnings allowed), 1 some permit has errors,
    /// 2 some file cannot be read.
    Validate {
        /// How to print findings.
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
        #[command(flatten)]
        from: ReadArgs,
        /// Permit files (`-` for standard input).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the JSON form of a permit (with --use: of a customs use).
    Schema {
        /// The schema of a customs use (schema/use.schema.json) instead.
        #[arg(long = "use")]
        of_use: bool,
    },
    /// Show what the delivery ledger knows about a permit: versions, deliveries per recipient
    /// with their state, attempts, the partner's tracking number and the last reason, the
    /// documents received from the issuing partner (with our tracking number and the stored
    /// original), and the history.
    ///
    /// Reads the same environment as the Lambda functions (ECITES_TABLE, AWS_REGION, and
    /// AWS_ENDPOINT_URL for the local emulator). Exit status: 0 found, 1 unknown permit,
    /// 2 the ledger could not be read.
    Status {
        /// The issuing country (ISO 3166-1 alpha-2), e.g. XA.
        issuer: String,
        /// The permit number as issued.
        permit: String,
    },
    /// Remove the objects under received/ that no ledger record names: what a partner's
    /// message stored when our ledger write timed out and was never applied (the partner's
    /// retry, under a new message id, is the one on record). Only objects last written between
    /// --within-days and --older-than ago, of permits the ledger knows, are looked at; the
    /// rules are in docs/exchange.md. Reads the same environment as the functions
    /// (ECITES_BUCKET, ECITES_TABLE, ...). Exit status: 0 swept, 1 some permit could not be
    /// read or some object not removed (run it again), 2 nothing could be swept.
    Sweep {
        /// Leave objects younger than this many minutes (their message may still be running).
        #[arg(long, value_name = "MINUTES", default_value_t = ecites_exchange::sweep::DEFAULT_MIN_AGE_MINUTES)]
        older_than: u32,
        /// Leave objects older than this many days (at most 365: received records expire from
        /// the ledger after the retention period, their objects stay).
        #[arg(long, value_name = "DAYS", default_value_t = ecites_exchange::sweep::DEFAULT_MAX_AGE_DAYS)]
        within_days: u32,
        /// Print what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Pull a permit from a partner that only offers EPIX Connect's SOAP interface (its
    /// directory entry: --protocol epix-soap) and record it as received (docs/epix.md).
    /// Exit status: 0 recorded, 1 the partner answered a fault, garbage or nothing in time.
    Fetch {
        /// The issuing partner's country (ISO 3166-1 alpha-2), e.g. XC.
        issuer: String,
        /// The permit number as issued (box 1).
        permit: String,
        /// The final certificate (box 14 filled by the exporting customs) instead of the
        /// permit as issued.
        #[arg(long = "final")]
        final_certificate: bool,
    },
    /// Put the deliveries that ended on the deliveries DLQ (after a partner outage) back for
    /// delivery. Needs ECITES_DELIVERIES_DLQ_URL besides the functions' environment. With
    /// --no-partner XC: send the deliveries recorded NO_PARTNER for XC, once XC is in the
    /// partner directory. With --failed XB: send again the deliveries to XB that ended FAILED
    /// (a permanent refusal: never on the DLQ), once the cause is fixed. With --awaiting-pull
    /// XB: send the deliveries XB never fetched while it pulled, now that it takes pushes. With
    /// --notify-failures: notify the ledger changes of the stream batches on the notify failure
    /// queue (within 24 hours: the stream keeps records no longer).
    Replay {
        /// The most messages (or deliveries) to replay.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Instead of the DLQ: the NO_PARTNER deliveries to this country (ISO 3166-1 alpha-2).
        #[arg(long, value_name = "COUNTRY", group = "ended")]
        no_partner: Option<String>,
        /// Instead of the DLQ: the FAILED deliveries to this country (ISO 3166-1 alpha-2).
        #[arg(long, value_name = "COUNTRY", group = "ended")]
        failed: Option<String>,
        /// Instead of the DLQ: the deliveries still PENDING for this country from when it
        /// pulled our permits, once it is a push partner (`partners add ... --delivery push`):
        /// forward then sends them.
        #[arg(long, value_name = "COUNTRY", group = "ended")]
        awaiting_pull: Option<String>,
        /// With --no-partner, --failed or --awaiting-pull: only deliveries that moved to that
        /// state at or after this time (RFC 3339, or a date for its first instant, UTC).
        #[arg(long, value_name = "TIME", requires = "ended")]
        since: Option<String>,
        /// Instead of the DLQ: the notify failure queue (ECITES_NOTIFY_FAILURE_QUEUE_URL). Each
        /// message names a stream batch notify gave up on; its records are read again from the
        /// ledger's stream and notified, and the message is deleted once every record was.
        /// Needs ECITES_TOPIC_ARN and ECITES_WEBHOOK_QUEUE_URL too (or --stack).
        #[arg(long, conflicts_with_all = ["no_partner", "failed", "awaiting_pull", "since"])]
        notify_failures: bool,
    },
    /// Prove a deployed stack end to end with a staging partner: drop a synthetic test permit
    /// (marked as no CITES permit) for it into the inbox, wait until ingest records it and the
    /// partner acknowledges it (DELIVERED, with its tracking number), and with --receive until
    /// the partner's own permit reaches our receive endpoint. Prints each step with its time.
    ///
    /// Exit status: 0 every step passed, 1 a step failed or the time ran out, 2 the ledger or
    /// the bucket could not be reached.
    Smoke {
        /// The staging partner's country (ISO 3166-1 alpha-2), in the partner directory.
        #[arg(long, value_name = "COUNTRY")]
        partner: String,
        /// Also wait for the partner's permit NUMBER (issued by it, sent to our receive
        /// endpoint, e.g. with docs/examples/reference_partner.py send).
        #[arg(long, value_name = "NUMBER")]
        receive: Option<String>,
        /// The most seconds the whole run may take.
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        timeout: u64,
    },
    /// Manage the partner directory (partner MAs: endpoint, public key, accepted documents).
    Partners {
        #[command(subcommand)]
        command: partners::PartnersCommand,
    },
    /// Manage the agencies of this country (customs, enforcement, ...) that post customs uses
    /// and verifications to the receive endpoint, signed with their keys.
    Agencies {
        #[command(subcommand)]
        command: agencies::AgenciesCommand,
    },
    /// Manage agency subscriptions to notifications (customs, veterinary, enforcement, ...).
    /// Needs ECITES_TOPIC_ARN besides the functions' environment.
    Subscriptions(subscriptions::SubscriptionsArgs),
    /// The CITES checklist for the listing tier: check an export and load it (docs/species.md).
    Species {
        #[command(subcommand)]
        command: species::SpeciesCommand,
    },
    /// What customs needs before clearing a shipment under a permit, from the ledger: known or
    /// not, received from whom and when, status, validity, each block with its species and
    /// remaining balance, the uses so far, and the findings the declared quantities would raise.
    ///
    /// Reads the same environment as the Lambda functions (ECITES_TABLE, ECITES_COUNTRY, and
    /// AWS_ENDPOINT_URL for the local emulator). Exit status: 0 usable, 1 not usable (a finding
    /// of severity error), 2 the ledger cannot be read.
    Verify {
        /// The issuing country (ISO 3166-1 alpha-2), e.g. XA.
        issuer: String,
        /// The permit number as issued.
        number: String,
        /// A declared quantity, BLOCK=QUANTITY in the permit's unit (repeat for each block).
        #[arg(long = "block", value_name = "BLOCK=QUANTITY", value_parser = verify::parse_block)]
        blocks: Vec<(String, rust_decimal::Decimal)>,
        /// Where the shipment is cleared.
        #[arg(long, value_enum, default_value_t = verify::At::Import)]
        at: verify::At,
        /// The day of the shipment (YYYY-MM-DD); today when not given.
        #[arg(long)]
        on: Option<String>,
        /// How to print the answer.
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
    },
    /// Reports from the ledger: the CITES annual report of a year (`report annual`).
    Report {
        #[command(subcommand)]
        command: annual::ReportCommand,
    },
    /// Print the deployment's configuration as `export NAME='value'` lines for a POSIX shell:
    /// with --stack, every variable its outputs give (`eval "$(ecites --stack NAME env)"`, or
    /// `make env STACK=NAME`); without, the ECITES_* variables already set.
    Env,
    /// List every validation rule: id, tier, severity, boxes and what it checks.
    Rules {
        /// How to print the list.
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
    },
}

/// Formats `convert` can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// The CITES e-permit XML (toolkit v2).
    Xml,
    /// The CITES e-permit XML of toolkit v1 (`CBFShip`), for a partner still on v1: without
    /// what v1 has no element for (a block's identifying marks, the date of signature).
    XmlV1,
    /// The ecites JSON form.
    Json,
}

/// Formats the commands can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// Decide by content.
    Auto,
    /// The CITES e-permit XML.
    Xml,
    /// The ecites JSON form.
    Json,
    /// The ecites CSV form.
    Csv,
}

/// How inputs are read: the format, and what a CSV export's sender declares about it.
#[derive(Clone, Debug, clap::Args)]
pub struct ReadArgs {
    /// The input format; `auto` decides by content (and checks the file extension).
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    pub from: InputFormat,
    /// The CITES checklist for the listing tier: the Species+ export (CSV) or its compact form
    /// (docs/species.md). Without it the listing rules do not run.
    #[arg(long, value_name = "FILE")]
    pub species: Option<PathBuf>,
    /// The CSV separator; detected from the header row when not given.
    #[arg(long, value_enum)]
    pub csv_delimiter: Option<CsvDelimiter>,
    /// CSV quantities use a decimal comma (0,35); detected when neither flag is given.
    #[arg(long, conflicts_with = "decimal_point")]
    pub decimal_comma: bool,
    /// CSV quantities use a decimal point (0.35); detected when neither flag is given.
    #[arg(long)]
    pub decimal_point: bool,
}

impl ReadArgs {
    /// The CSV reading options these flags declare (`None` = detect).
    pub fn csv_options(&self) -> ecites_domain::csv_form::CsvOptions {
        ecites_domain::csv_form::CsvOptions {
            delimiter: self.csv_delimiter.map(|delimiter| match delimiter {
                CsvDelimiter::Comma => b',',
                CsvDelimiter::Semicolon => b';',
                CsvDelimiter::Tab => b'\t',
            }),
            decimal_comma: if self.decimal_comma {
                Some(true)
            } else if self.decimal_point {
                Some(false)
            } else {
                None
            },
        }
    }
}

/// CSV field separators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CsvDelimiter {
    /// `,`
    Comma,
    /// `;` (Excel in most European locales)
    Semicolon,
    /// a tab (Excel's "Unicode text")
    Tab,
}

/// How findings are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people.
    Human,
    /// For machines: one JSON document.
    Json,
}

/// Makes a closed standard output end the process quietly, as `grep` and other Unix tools do
/// (`ecites validate --format json FILE | head`). Rust ignores SIGPIPE, so every write to a
/// closed pipe would fail with EPIPE and `println!` would panic ("failed printing to stdout");
/// with the default action the kernel ends the process at the first such write, on every output
/// path, without a message. Sockets are unaffected: Rust's networking sends with MSG_NOSIGNAL
/// (Linux) or SO_NOSIGPIPE (macOS).
fn exit_quietly_on_closed_pipes() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_DFL at the start of main, before any thread
    // is started, has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    exit_quietly_on_closed_pipes();
    let cli = Cli::parse();
    let mut from_stack = Vec::new();
    if let Some(name) = &cli.stack {
        match run_async_value(stack::environment(name)) {
            Ok(variables) => {
                stack::apply(&variables);
                from_stack = variables;
            }
            Err(code) => return ExitCode::from(code),
        }
    }
    let status = match cli.command {
        Command::Convert {
            to,
            from,
            output,
            input,
        } => match input::Reader::new(from) {
            Ok(reader) => match output {
                Some(output) => convert::folder(&input, &output, &reader, to),
                None => convert::single(&input, &reader, to),
            },
            Err(code) => code,
        },
        Command::Validate {
            format,
            from,
            files,
        } => match input::Reader::new(from) {
            Ok(reader) => validate::run(&files, &reader, format),
            Err(code) => code,
        },
        Command::Schema { of_use } => {
            let schema = if of_use {
                ecites_domain::usage::use_json_schema()
            } else {
                ecites_domain::json::json_schema()
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            );
            EXIT_OK
        }
        Command::Status { issuer, permit } => run_async(status::run(&issuer, &permit)),
        Command::Sweep {
            older_than,
            within_days,
            dry_run,
        } => run_async(sweep::run(older_than, within_days, dry_run)),
        Command::Fetch {
            issuer,
            permit,
            final_certificate,
        } => run_async(fetch::run(&issuer, &permit, final_certificate)),
        Command::Replay {
            limit,
            no_partner,
            failed,
            awaiting_pull,
            since,
            notify_failures,
        } => {
            let which = match (&no_partner, &failed, &awaiting_pull) {
                (Some(country), _, _) => Some(replay::Ended::NoPartner(country)),
                (None, Some(country), _) => Some(replay::Ended::Failed(country)),
                (None, None, Some(country)) => Some(replay::Ended::AwaitingPull(country)),
                (None, None, None) => None,
            };
            match which {
                _ if notify_failures => run_async(replay::run_notify_failures(limit)),
                Some(which) => run_async(replay::run_ended(which, since.as_deref(), limit)),
                None => run_async(replay::run(limit)),
            }
        }
        Command::Smoke {
            partner,
            receive,
            timeout,
        } => run_async(smoke::run(smoke::SmokeArgs {
            partner,
            receive,
            timeout: std::time::Duration::from_secs(timeout),
            poll: std::time::Duration::from_secs(1),
        })),
        Command::Partners { command } => run_async(partners::run(command)),
        Command::Agencies { command } => run_async(agencies::run(command)),
        Command::Species { command } => run_async(species::run(command)),
        Command::Subscriptions(args) => run_async(subscriptions::run(args)),
        Command::Verify {
            issuer,
            number,
            blocks,
            at,
            on,
            format,
        } => run_async(verify::run(&issuer, &number, at, on, blocks, format)),
        Command::Report { command } => run_async(annual::run(command)),
        Command::Env => {
            let variables = if cli.stack.is_some() {
                from_stack
            } else {
                let mut set: Vec<(String, String)> = std::env::vars()
                    .filter(|(name, _)| name.starts_with("ECITES_"))
                    .collect();
                set.sort();
                set
            };
            for (name, value) in &variables {
                println!("{}", stack::export_line(name, value));
            }
            EXIT_OK
        }
        Command::Rules { format } => {
            print_rules(format);
            EXIT_OK
        }
    };
    ExitCode::from(status)
}

/// Runs an AWS-facing command on a small runtime; its errors (the ledger or the network could
/// not be reached) exit with status 2, like any input that cannot be read.
fn run_async(command: impl std::future::Future<Output = anyhow::Result<ExitCode>>) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ecites: cannot start the async runtime: {error}");
            return EXIT_UNREADABLE;
        }
    };
    match runtime.block_on(command) {
        Ok(code) if code == ExitCode::SUCCESS => EXIT_OK,
        Ok(_) => EXIT_INVALID,
        Err(error) => {
            eprintln!("ecites: {error:#}");
            EXIT_UNREADABLE
        }
    }
}

/// Runs an async step that gives a value (reading the stack before any command); its error
/// is printed and becomes exit status 2.
fn run_async_value<T>(step: impl std::future::Future<Output = anyhow::Result<T>>) -> Result<T, u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            eprintln!("ecites: cannot start the async runtime: {error}");
            EXIT_UNREADABLE
        })?;
    runtime.block_on(step).map_err(|error| {
        eprintln!("ecites: {error:#}");
        EXIT_UNREADABLE
    })
}

fn print_rules(format: ReportFormat) {
    let rules = || {
        ecites_domain::validate::RULES
            .iter()
            .chain(ecites_domain::usage::USE_RULES)
    };
    match format {
        ReportFormat::Human => {
            for rule in rules() {
                println!(
                    "{:<40} {:<14} {:<8} box {:<10} {}",
                    rule.id,
                    wire_name(&rule.tier),
                    wire_name(&rule.severity),
                    rule.boxes.join(","),
                    rule.description
                );
            }
            println!(
                "\nThe listing rules run only with a CITES checklist: --species FILE for validate and convert, or the deployment's config/species.json (ecites species import)."
            );
            println!(
                "The use rules check customs uses of a permit (export endorsements, import confirmations, border refusals) against the ledger, and what `ecites verify` answers."
            );
            println!(
                "\nUNEP-WCMC's checks of an annual-report upload, run by `ecites report annual` on every row (primary: error, secondary: warning):"
            );
            for check in ecites_domain::report::checks::REPORT_CHECKS {
                println!(
                    "{:<40} {:<14} {:<8} {:<25} {}",
                    check.id,
                    "report",
                    check.level.to_string(),
                    check.columns.join(","),
                    check.description
                );
            }
        }
        ReportFormat::Json => {
            let rules: Vec<_> = rules()
                .map(|rule| {
                    serde_json::json!({
                        "id": rule.id,
                        "tier": rule.tier,
                        "severity": rule.severity,
                        "boxes": rule.boxes,
                        "description": rule.description,
                    })
                })
                .chain(
                    ecites_domain::report::checks::REPORT_CHECKS
                        .iter()
                        .map(|check| {
                            serde_json::json!({
                                "id": check.id,
                                "tier": "report",
                                "severity": check.level.to_string(),
                                "columns": check.columns,
                                "description": check.description,
                            })
                        }),
                )
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&rules).unwrap_or_default()
            );
        }
    }
}

/// The name a value has in the JSON output, so both output forms use the same words.
fn wire_name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}
