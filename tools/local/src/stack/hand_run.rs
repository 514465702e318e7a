//! The stack by hand: `ecites-local setup` creates on a running emulator everything every
//! function needs and prints the environment each one reads, and `ecites-local run` reads that
//! environment, as the Lambda binaries do, and plays every function at once (ingest, forward,
//! notify from the ledger's stream, webhooks) while serving receive on a loopback port as the
//! template's front door (the API Gateway REST API) would. A newcomer can then drop files with the `aws` CLI, use `ecites status`,
//! `ecites subscriptions` and `ecites replay` on the same environment, and see all of it work.

use crate::emulation::front_door::{Front, FrontDoorServer};
use crate::emulation::mapping::{
    run_all, Mapping, QueueMapping, RunOptions, RunReport, Stop, StreamMapping,
};
use crate::emulation::runner::EventSource;
use crate::emulation::stream::StreamSource;
use crate::stack::setup::{setup, setup_notify, NotifyResources, Stack, StackSpec};
use crate::{LocalOptions, REGION};
use anyhow::Context as _;
use ecites_aws::notify::NotifyClients;
use ecites_aws::signing::{secrets_client, store_signing_secret};
use ecites_aws::{AwsConfig, ClientOptions, Clients, Config};
use ecites_domain::CountryCode;
use ecites_exchange::protocol::SigningIdentity;
use ecites_forward::{ForwardFunction, ForwardSettings};
use ecites_ingest::IngestFunction;
use ecites_notify::{NotifyConfig, NotifyFunction, WebhookFunction};
use ecites_receive::ReceiveFunction;
use std::sync::Arc;

/// The runner's own variable: the ingest queue it polls (Lambda learns it from its mapping).
pub const INGEST_QUEUE_VAR: &str = "ECITES_INGEST_QUEUE_URL";

/// What `setup` needs to know.
#[derive(Clone, Debug)]
pub struct HandRunSpec {
    /// The emulator endpoint.
    pub endpoint: String,
    /// Prefix of the resource names.
    pub prefix: String,
    /// This deployment's MA country.
    pub country: CountryCode,
}

/// Everything `setup` created: the names the functions are configured with.
#[derive(Clone, Debug)]
pub struct HandRunStack {
    /// The emulator endpoint.
    pub endpoint: String,
    /// This deployment's MA country.
    pub country: CountryCode,
    /// Bucket, table, ingest and deliveries queues with their DLQs, partner directory.
    pub stack: Stack,
    /// Topic and webhook queue with its DLQ.
    pub notify: NotifyResources,
    /// The Secrets Manager secret holding the signing key (JSON with its key id).
    pub signing_secret: String,
    /// The signing key's public half, for the partners' directories.
    pub public_key: String,
    /// The signing key's id.
    pub key_id: String,
}

/// Creates the whole stack on the emulator at `spec.endpoint`: bucket with the inbox
/// notification and the partner directory, ingest and deliveries queues with their DLQs, the
/// ledger table with its stream, the notifications topic, the webhook queue with its DLQ, and a
/// fresh Ed25519 signing key in Secrets Manager.
pub async fn create(spec: &HandRunSpec) -> anyhow::Result<HandRunStack> {
    let options = ClientOptions {
        emulator_credentials: true,
        ..ClientOptions::default()
    };
    let endpoint = Some(spec.endpoint.as_str());
    let clients = Clients::new(endpoint, REGION, &options).await;
    let defaults = LocalOptions::new(&spec.prefix);
    let stack_spec = StackSpec {
        prefix: spec.prefix.clone(),
        visibility_timeout_s: defaults.visibility_timeout_s,
        max_receive_count: defaults.max_receive_count,
        partners: defaults.partners,
    };
    let stack = setup(&clients, &stack_spec).await?;
    let notify_clients = NotifyClients::new(endpoint, REGION, true).await;
    let notify = setup_notify(&clients, &notify_clients, &stack_spec).await?;
    let key = SigningIdentity::generate(&format!("{}-1", spec.country))
        .map_err(|why| anyhow::anyhow!("generating the signing key: {why}"))?;
    let signing_secret = format!("{}/signing-key", spec.prefix);
    let secrets = secrets_client(endpoint, REGION, &options).await;
    store_signing_secret(&secrets, &signing_secret, &key)
        .await
        .context("storing the signing key")?;
    Ok(HandRunStack {
        endpoint: spec.endpoint.clone(),
        country: spec.country,
        stack,
        notify,
        signing_secret,
        public_key: key.public_key_base64(),
        key_id: key.key_id.clone(),
    })
}

impl HandRunStack {
    /// The environment of every function, as `(variable, value)`: the emulator's endpoint and
    /// credentials, the common configuration (ingest, forward, receive), forward's key and
    /// retry settings, notify's and webhooks' topic and queue, and what the `ecites` CLI and
    /// `ecites-local run` read besides. Retries and caches are short, so a run settles in
    /// seconds.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        let stack = &self.stack;
        let mut env = crate::emulator_env(&self.endpoint);
        env.extend([
            ("ECITES_COUNTRY", self.country.to_string()),
            ("ECITES_BUCKET", stack.bucket.clone()),
            ("ECITES_TABLE", stack.table.clone()),
            ("ECITES_PARTNERS_KEY", stack.partners_key.clone()),
            (
                "ECITES_DELIVERIES_QUEUE_URL",
                stack.deliveries_queue_url.clone(),
            ),
            (
                "ECITES_DELIVERIES_DLQ_URL",
                stack.deliveries_dlq_url.clone(),
            ),
            (INGEST_QUEUE_VAR, stack.ingest_queue_url.clone()),
            ("ECITES_SIGNING_KEY_SECRET", self.signing_secret.clone()),
            ("ECITES_FORWARD_TIMEOUT_MS", "5000".to_owned()),
            ("ECITES_RETRY_BASE_MS", "500".to_owned()),
            ("ECITES_RETRY_CAP_MS", "2000".to_owned()),
            ("ECITES_TOPIC_ARN", self.notify.topic_arn.clone()),
            (
                "ECITES_WEBHOOK_QUEUE_URL",
                self.notify.webhook_queue_url.clone(),
            ),
            ("ECITES_SUBSCRIPTIONS_CACHE_S", "0".to_owned()),
            ("ECITES_WEBHOOK_BACKOFF_S", "1".to_owned()),
            ("ECITES_WEBHOOK_TIMEOUT_S", "5".to_owned()),
            // A hand-run stack is a local run: its subscribers may listen on loopback (the
            // setting the template never sets).
            (
                ecites_exchange::notify::webhook_url::ALLOW_LOOPBACK_ENV,
                "1".to_owned(),
            ),
        ]);
        env
    }

    /// [`Self::environment`] as shell `export` lines (values single-quoted), followed by
    /// comments naming what no function reads: the DLQs to watch and the public key partners
    /// need.
    pub fn exports(&self) -> String {
        let mut out = String::new();
        for (name, value) in self.environment() {
            out.push_str(&format!("export {name}={}\n", shell_quote(&value)));
        }
        out.push_str(&format!(
            "# ingest DLQ: {}\n# webhook DLQ: {}\n# signing key {} (public, for partners): {}\n",
            self.stack.ingest_dlq_url, self.notify.webhook_dlq_url, self.key_id, self.public_key
        ));
        out
    }
}

/// `value` in single quotes, safe for any shell that reads the exports.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Reads a variable the runner needs besides the functions' own.
fn required(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .with_context(|| format!("{name} is not set (run `eval \"$(ecites-local setup ...)\"`)"))
}

/// Every function of one deployment, wired from the environment as the Lambda binaries wire
/// themselves, with its event sources.
pub struct HandRun {
    ingest: IngestFunction,
    forward: ForwardFunction,
    notify: NotifyFunction,
    webhooks: WebhookFunction,
    ingest_source: EventSource,
    deliveries_source: EventSource,
    webhook_source: EventSource,
    stream: StreamSource,
    server: FrontDoorServer,
}

impl HandRun {
    /// Reads each function's configuration from the environment (`Config::from_env`,
    /// `ForwardSettings::from_env`, `NotifyConfig::from_env`, and `ECITES_INGEST_QUEUE_URL`),
    /// builds the functions and their sources, and starts serving receive on `receive_port`
    /// of 127.0.0.1 (0: a free port).
    pub async fn from_env(receive_port: u16) -> anyhow::Result<HandRun> {
        let config = Config::from_env()?;
        let forward_settings = ForwardSettings::from_env()?;
        let notify_config = NotifyConfig::from_env()?;
        let ingest_queue = required(INGEST_QUEUE_VAR)?;
        let aws = AwsConfig::load(ClientOptions::default()).await;
        let clients = aws.clients();
        let notify_clients = NotifyClients::from_aws(&aws);
        let forward = ForwardFunction::from_env(&config, &aws, forward_settings);
        let receive = Arc::new(ReceiveFunction::new(&config, &clients));
        let streams = aws.dynamodb_streams();
        let sqs = &clients.sqs;
        let region = aws.region();
        Ok(HandRun {
            ingest: IngestFunction::new(&config, &clients),
            forward,
            notify: NotifyFunction::new(&notify_config, &clients, &notify_clients),
            webhooks: WebhookFunction::new(&notify_config, &clients, &notify_clients),
            ingest_source: EventSource::new(sqs.clone(), &ingest_queue, region).await?,
            deliveries_source: EventSource::new(sqs.clone(), &config.deliveries_queue_url, region)
                .await?,
            webhook_source: EventSource::new(sqs.clone(), &notify_config.webhook_queue_url, region)
                .await?,
            stream: StreamSource::new(&clients.dynamodb, streams, &config.table, region).await?,
            server: FrontDoorServer::start_on(receive, receive_port, Front::default()).await?,
        })
    }

    /// Where receive is served (what partners POST to).
    pub fn receive_url(&self) -> String {
        self.server.url()
    }

    /// Plays every mapping (ingest queue, deliveries queue, the ledger's stream, webhook queue,
    /// in the order work flows through them) until quiet, stopped or out of time. Receive is
    /// served until this returns.
    pub async fn run(&self, options: &RunOptions, stop: &Stop) -> anyhow::Result<RunReport> {
        let ingest = QueueMapping::new("ingest", &self.ingest_source, |event| {
            self.ingest.handle(event)
        });
        let forward = QueueMapping::new("forward", &self.deliveries_source, |event| {
            self.forward.handle(event)
        });
        let notify = StreamMapping::new("notify", &self.stream, |event| self.notify.handle(event));
        let webhooks = QueueMapping::new("webhooks", &self.webhook_source, |event| {
            self.webhooks.handle(event)
        });
        let mappings: [&dyn Mapping; 4] = [&ingest, &forward, &notify, &webhooks];
        run_all(&mappings, options, stop).await
    }
}
