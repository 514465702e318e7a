//! `ecites subscriptions list|add|remove`: the agency subscription registry, with the
//! same environment configuration as the notify function: `ECITES_TABLE` (the registry lives in
//! the ledger table), `ECITES_TOPIC_ARN` (SNS-channel subscriptions are subscribed to it with a
//! generated filter policy), `AWS_REGION`, `AWS_ENDPOINT_URL` for the emulator.
//!
//! Webhook secrets never go on the command line (shell history, `ps`): `--secret-env NAME`
//! reads one from an environment variable, `--generate-secret` makes one and prints it once.
//! Either is stored as an SSM SecureString under `--secret-parameter`.

use anyhow::Context as _;
use ecites_aws::notify::{
    DynamoSubscriptions, NotifyClients, SnsTopic, SsmSecrets, SubscriptionAdmin,
};
use ecites_exchange::notify::{
    Channel, EventType, Filters, Role, Secret, Subscription, SubscriptionRegistry as _,
};
use std::process::ExitCode;
use std::time::Duration;

/// `ecites subscriptions ...`
#[derive(Debug, clap::Args)]
pub struct SubscriptionsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SubscriptionsCommand,
}

/// The subscription commands.
#[derive(Debug, clap::Subcommand)]
pub enum SubscriptionsCommand {
    /// List the subscriptions.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add (or replace) a subscription.
    Add(Box<AddArgs>),
    /// Remove a subscription (and its SNS subscription).
    Remove {
        /// The subscription id.
        id: String,
    },
}

/// `ecites subscriptions add`.
#[derive(Debug, Clone, clap::Args)]
pub struct AddArgs {
    /// Read the whole subscription from a JSON file (the registry format, docs/notifications.md)
    /// instead of the options below.
    #[arg(long)]
    pub from_file: Option<std::path::PathBuf>,
    /// Stable id (letters, digits, '-', '_').
    #[arg(long, required_unless_present = "from_file")]
    pub id: Option<String>,
    /// The agency's name.
    #[arg(long, required_unless_present = "from_file")]
    pub agency: Option<String>,
    /// The agency's country (ISO2).
    #[arg(long, required_unless_present = "from_file")]
    pub country: Option<String>,
    /// customs, veterinary, phytosanitary, enforcement, management_authority, other.
    #[arg(long, required_unless_present = "from_file")]
    pub role: Option<String>,
    /// Events, comma-separated: issued, replaced, cancelled, rejected, delivered,
    /// delivery_failed, received, used, alert.
    #[arg(long, value_delimiter = ',', required_unless_present = "from_file")]
    pub events: Vec<String>,
    /// Issuing countries.
    #[arg(long, value_delimiter = ',')]
    pub issuer: Vec<String>,
    /// Countries of export.
    #[arg(long, value_delimiter = ',')]
    pub exporter: Vec<String>,
    /// Countries of import.
    #[arg(long, value_delimiter = ',')]
    pub importer: Vec<String>,
    /// Countries of origin.
    #[arg(long, value_delimiter = ',')]
    pub origin: Vec<String>,
    /// Appendices (I, II, III).
    #[arg(long, value_delimiter = ',')]
    pub appendix: Vec<String>,
    /// Document types (E, R, I, O).
    #[arg(long, value_delimiter = ',')]
    pub document_type: Vec<String>,
    /// Taxa (a genus covers its species).
    #[arg(long, value_delimiter = ',')]
    pub taxon: Vec<String>,
    /// Alert rules (`use-second-consignment`, ...): only alerts raising one of them.
    #[arg(long, value_delimiter = ',')]
    pub rule: Vec<String>,
    /// Channel: an SQS queue ARN subscribed to the topic.
    #[arg(long, group = "channel")]
    pub sqs_queue_arn: Option<String>,
    /// Channel: an e-mail address subscribed to the topic.
    #[arg(long, group = "channel")]
    pub email: Option<String>,
    /// Channel: an HTTPS webhook.
    #[arg(long, group = "channel", requires = "secret_parameter")]
    pub webhook_url: Option<String>,
    /// SSM parameter holding the webhook's HMAC secret.
    #[arg(long)]
    pub secret_parameter: Option<String>,
    /// Store the secret read from this environment variable.
    #[arg(long, conflicts_with = "generate_secret")]
    pub secret_env: Option<String>,
    /// Generate a secret, store it and print it once.
    #[arg(long)]
    pub generate_secret: bool,
    /// Let notifications say where the full standard XML is.
    #[arg(long)]
    pub include_xml: bool,
}

fn list_of<T>(
    values: &[String],
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
) -> anyhow::Result<Vec<T>> {
    values
        .iter()
        .filter(|v| !v.trim().is_empty())
        .map(|v| parse(v).with_context(|| format!("{v:?} is not a known {what}")))
        .collect()
}

/// The subscription the options describe (without touching AWS).
pub fn subscription_of(args: &AddArgs) -> anyhow::Result<Subscription> {
    if let Some(path) = &args.from_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let subscription: Subscription = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a subscription", path.display()))?;
        subscription.check()?;
        return Ok(subscription);
    }
    let required = |v: &Option<String>, name: &str| {
        v.clone()
            .filter(|v| !v.trim().is_empty())
            .with_context(|| format!("--{name} is required"))
    };
    let role = required(&args.role, "role")?;
    let channel = if let Some(arn) = &args.sqs_queue_arn {
        Channel::Sns {
            protocol: "sqs".into(),
            endpoint: arn.clone(),
            subscription_arn: None,
        }
    } else if let Some(address) = &args.email {
        Channel::Sns {
            protocol: "email".into(),
            endpoint: address.clone(),
            subscription_arn: None,
        }
    } else if let Some(url) = &args.webhook_url {
        Channel::Webhook {
            url: url.clone(),
            secret_parameter: required(&args.secret_parameter, "secret-parameter")?,
        }
    } else {
        anyhow::bail!("a channel is required: --sqs-queue-arn, --email or --webhook-url");
    };
    let subscription = Subscription {
        id: required(&args.id, "id")?,
        agency: required(&args.agency, "agency")?,
        country: required(&args.country, "country")?.to_ascii_uppercase(),
        role: Role::parse(&role).with_context(|| format!("{role:?} is not a role"))?,
        events: list_of(&args.events, EventType::parse, "event")?,
        filters: Filters {
            issuer: args.issuer.clone(),
            exporter: args.exporter.clone(),
            importer: args.importer.clone(),
            origin: args.origin.clone(),
            appendix: args.appendix.clone(),
            document_type: args.document_type.clone(),
            taxon: args.taxon.clone(),
            rule: args.rule.clone(),
        },
        channel,
        include_xml: args.include_xml,
    };
    subscription.check()?;
    if matches!(subscription.channel, Channel::Sns { .. }) {
        // Refuse now what SNS would refuse later (more than 5 filter keys).
        subscription.filter_policy()?;
    }
    Ok(subscription)
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .with_context(|| format!("environment variable {name} is not set"))
}

async fn admin() -> anyhow::Result<SubscriptionAdmin> {
    let table = env("ECITES_TABLE")?;
    let topic = env("ECITES_TOPIC_ARN")?;
    let aws = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default()).await;
    let (clients, notify) = (aws.clients(), NotifyClients::from_aws(&aws));
    Ok(SubscriptionAdmin {
        registry: DynamoSubscriptions::new(clients.dynamodb, table, Duration::ZERO),
        topic: SnsTopic::new(notify.sns.clone(), topic),
        secrets: SsmSecrets::new(notify.ssm),
        policy: ecites_exchange::notify::WebhookPolicy::from_env(),
    })
}

fn channel_text(channel: &Channel) -> String {
    match channel {
        Channel::Sns {
            protocol, endpoint, ..
        } => format!("sns/{protocol} {endpoint}"),
        Channel::Webhook { url, .. } => format!("webhook {url}"),
    }
}

/// Runs a subscriptions command. Exit 0 on success, 1 when removing an unknown id.
pub async fn run(args: SubscriptionsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SubscriptionsCommand::List { json } => {
            let list = admin().await?.registry.list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<24} {:<8} {:<21} {:<40} channel",
                    "id", "country", "role", "events"
                );
                for s in &list {
                    let events: Vec<&str> = s.events.iter().map(|e| e.as_str()).collect();
                    println!(
                        "{:<24} {:<8} {:<21} {:<40} {}",
                        s.id,
                        s.country,
                        s.role.as_str(),
                        events.join(","),
                        channel_text(&s.channel)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SubscriptionsCommand::Add(add) => {
            let subscription = subscription_of(&add)?;
            let secret = if add.generate_secret {
                let value = format!(
                    "{}{}",
                    uuid::Uuid::new_v4().simple(),
                    uuid::Uuid::new_v4().simple()
                );
                println!("webhook secret (shown once, give it to the subscriber): {value}");
                Some(Secret::new(value))
            } else if let Some(name) = &add.secret_env {
                Some(Secret::new(env(name)?))
            } else {
                None
            };
            let added = admin().await?.add(subscription, secret.as_ref()).await?;
            println!("added {} ({})", added.id, channel_text(&added.channel));
            Ok(ExitCode::SUCCESS)
        }
        SubscriptionsCommand::Remove { id } => {
            if admin().await?.remove(&id).await? {
                println!("removed {id}");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no subscription {id}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
