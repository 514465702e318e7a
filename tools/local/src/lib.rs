//! Running the exchange locally against moto server: start the emulator, create the stack, play
//! Lambda's SQS event-source mapping with the very handlers the Lambda binaries run, and the
//! `demo` and `bench` programs built on that. The end-to-end tests use the same pieces.

#![warn(missing_docs)]

pub mod bench;
pub mod demo;
pub mod emulation;
pub mod fixtures;
pub mod packaged;
pub mod soak;
pub mod stack;

use anyhow::Context as _;
use aws_sdk_sqs::types::QueueAttributeName;
use ecites_aws::{ClientOptions, Clients, Config, FaultInjector, RequestCounter};
use ecites_domain::CountryCode;
use ecites_exchange::{DeliveryMessage, Directory, Partner};
use ecites_ingest::IngestFunction;
use emulation::aws_proxy::{AwsProxy, FaultPlan, ProxyOptions};
pub use emulation::moto::MotoServer;
pub use emulation::runner::{EventSource, PollOutcome};
pub use stack::setup::{Stack, StackSpec};
use std::time::Duration;

/// The region used locally.
pub const REGION: &str = "us-east-1";

/// How to start a local stack.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    /// Use this emulator endpoint instead of starting moto server.
    pub endpoint: Option<String>,
    /// Prefix of the resource names.
    pub prefix: String,
    /// This deployment's MA country.
    pub country: CountryCode,
    /// The partner directory.
    pub partners: Directory,
    /// Queue visibility timeout (seconds).
    pub visibility_timeout_s: u32,
    /// Receives before the DLQ.
    pub max_receive_count: u32,
    /// Input size bound.
    pub max_object_bytes: u64,
    /// Faults to inject into the function's DynamoDB client.
    pub faults: Option<FaultInjector>,
    /// Maximum attempts per AWS request of the function (default: SDK standard).
    pub max_attempts: Option<u32>,
    /// Latency added to each of the functions' AWS requests by a proxy in front of the
    /// emulator. Set-up and inspection talk to the emulator directly.
    pub aws_latency: Duration,
    /// Faults the same proxy injects into the functions' AWS requests. With neither a latency
    /// nor faults, the functions talk to the emulator directly.
    pub aws_faults: Option<FaultPlan>,
}

/// A partner on loopback for the ingest-only stack: a recipient to record deliveries for, at an
/// address where nothing listens (the ingest stack runs no forward function).
pub fn loopback_partner(country: &str) -> Option<Partner> {
    let mut partner = Partner::new(
        country.parse().ok()?,
        format!("http://127.0.0.1:9/{}", country.to_ascii_lowercase()),
    );
    partner.name = Some(format!("Management Authority of {country}"));
    Some(partner)
}

impl LocalOptions {
    /// Defaults: own country XA, partners XB and XD (XC deliberately missing), 1 s visibility,
    /// 3 receives before the DLQ, 4 MiB inputs.
    pub fn new(prefix: &str) -> Self {
        LocalOptions {
            endpoint: None,
            prefix: prefix.to_owned(),
            country: country("XA"),
            partners: Directory {
                partners: ["XB", "XD"]
                    .into_iter()
                    .filter_map(loopback_partner)
                    .collect(),
                ..Directory::default()
            },
            visibility_timeout_s: 1,
            max_receive_count: 3,
            max_object_bytes: ecites_aws::config::DEFAULT_MAX_OBJECT_BYTES,
            faults: None,
            max_attempts: None,
            aws_latency: Duration::ZERO,
            aws_faults: None,
        }
    }
}

/// A country code known to be in the ISO table (the first code otherwise).
pub fn country(code: &str) -> CountryCode {
    use ecites_domain::CodeList;
    CountryCode::from_code(code).unwrap_or(CountryCode::ALL[0])
}

/// A running local stack: the emulator (when started here), the resources, the ingest
/// function and its event source.
pub struct Local {
    /// The emulator, when this stack started it (stopped on drop).
    pub moto: Option<MotoServer>,
    /// The emulator endpoint.
    pub endpoint: String,
    /// The endpoint the functions' clients use: the latency proxy's when there is one,
    /// otherwise the emulator's.
    pub function_endpoint: String,
    /// The proxy in front of the emulator, when [`LocalOptions::aws_latency`] or
    /// [`LocalOptions::aws_faults`] is set (stopped on drop).
    pub proxy: Option<AwsProxy>,
    /// Clients for setup and inspection (not counted).
    pub clients: Clients,
    /// The resources.
    pub stack: Stack,
    /// The function's configuration, as Lambda would pass it in env vars.
    pub config: Config,
    /// The ingest function, with its own (counted) clients.
    pub function: IngestFunction,
    /// The ingest queue's event source.
    pub ingest_source: EventSource,
    /// Counts the function's AWS requests.
    pub counter: RequestCounter,
    /// The attempt timeout of the functions' AWS clients: [`FAULTED_ATTEMPT_TIMEOUT`] under
    /// fault injection, otherwise the SDK configuration's default
    /// ([`ecites_aws::config::DEFAULT_ATTEMPT_TIMEOUT`]).
    pub attempt_timeout: Option<Duration>,
}

/// The functions' attempt timeout when [`LocalOptions::aws_faults`] is set: shorter than the
/// proxy's [`emulation::aws_proxy::TIMEOUT_HOLD`], so an injected timeout costs 2 s, and long
/// enough for the emulator's slowest answers under load.
pub const FAULTED_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

impl Local {
    /// Starts moto (unless an endpoint is given), creates the stack and wires the function.
    pub async fn start(options: LocalOptions) -> anyhow::Result<Local> {
        let (moto, endpoint) = match &options.endpoint {
            Some(endpoint) => (None, endpoint.clone()),
            None => {
                let moto = MotoServer::start()?;
                let endpoint = moto.endpoint();
                (Some(moto), endpoint)
            }
        };
        let plain = ClientOptions {
            emulator_credentials: true,
            ..ClientOptions::default()
        };
        let clients = Clients::new(Some(&endpoint), REGION, &plain).await;
        let spec = StackSpec {
            prefix: options.prefix.clone(),
            visibility_timeout_s: options.visibility_timeout_s,
            max_receive_count: options.max_receive_count,
            partners: options.partners.clone(),
        };
        let stack = stack::setup::setup(&clients, &spec)
            .await
            .context("setting up the stack")?;
        let config = Config {
            country: options.country,
            bucket: stack.bucket.clone(),
            table: stack.table.clone(),
            deliveries_queue_url: stack.deliveries_queue_url.clone(),
            partners_key: stack.partners_key.clone(),
            max_object_bytes: options.max_object_bytes,
        };
        let counter = RequestCounter::new();
        let attempt_timeout = options.aws_faults.as_ref().map(|_| FAULTED_ATTEMPT_TIMEOUT);
        let function_options = ClientOptions {
            counter: Some(counter.clone()),
            faults: options.faults.clone(),
            emulator_credentials: true,
            max_attempts: options.max_attempts,
            attempt_timeout,
            ..ClientOptions::default()
        };
        let proxy = if options.aws_latency.is_zero() && options.aws_faults.is_none() {
            None
        } else {
            let options = ProxyOptions {
                latency: options.aws_latency,
                faults: options.aws_faults.clone(),
            };
            Some(
                AwsProxy::start(&endpoint, options)
                    .await
                    .context("starting the latency proxy")?,
            )
        };
        let function_endpoint = proxy
            .as_ref()
            .map_or_else(|| endpoint.clone(), AwsProxy::endpoint);
        let function_clients =
            Clients::new(Some(&function_endpoint), REGION, &function_options).await;
        let function = IngestFunction::new(&config, &function_clients);
        let ingest_source =
            EventSource::new(clients.sqs.clone(), &stack.ingest_queue_url, REGION).await?;
        Ok(Local {
            moto,
            endpoint,
            function_endpoint,
            proxy,
            clients,
            stack,
            config,
            function,
            ingest_source,
            attempt_timeout,
            counter,
        })
    }

    /// The environment an operator's `ecites` runs with against this stack: the emulator's
    /// endpoint, region and test credentials, and the deployment's country, bucket, table and
    /// partner directory key (what `ecites --stack` gives from a real stack's outputs).
    pub fn operator_env(&self) -> Vec<(&'static str, String)> {
        let mut env = emulator_env(&self.endpoint);
        env.extend([
            ("ECITES_COUNTRY", self.config.country.to_string()),
            ("ECITES_BUCKET", self.stack.bucket.clone()),
            ("ECITES_TABLE", self.stack.table.clone()),
            ("ECITES_PARTNERS_KEY", self.stack.partners_key.clone()),
        ]);
        env
    }

    /// Runs the ingest function on its queue until the queue is quiet.
    pub async fn drain(&self, timeout: Duration) -> anyhow::Result<PollOutcome> {
        let handler = |event| self.function.handle(event);
        self.ingest_source.run_until_quiet(&handler, timeout).await
    }

    /// Runs the ingest function on one batch.
    pub async fn poll_once(&self) -> anyhow::Result<PollOutcome> {
        let handler = |event| self.function.handle(event);
        self.ingest_source.poll_once(&handler).await
    }

    /// Drops a file into the bucket (e.g. under `inbox/`).
    pub async fn put_object(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.clients
            .s3
            .put_object()
            .bucket(&self.stack.bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .with_context(|| format!("putting {key}"))?;
        Ok(())
    }

    /// Reads an object of the bucket, `None` when missing.
    pub async fn get_object(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        match self
            .clients
            .s3
            .get_object()
            .bucket(&self.stack.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(output.body.collect().await?.into_bytes().to_vec())),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// The keys under a prefix.
    pub async fn list(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let output = self
            .clients
            .s3
            .list_objects_v2()
            .bucket(&self.stack.bucket)
            .prefix(prefix)
            .send()
            .await?;
        let mut keys: Vec<String> = output
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Sends a direct message to the ingest queue.
    pub async fn send_direct(&self, body: &str) -> anyhow::Result<String> {
        let output = self
            .clients
            .sqs
            .send_message()
            .queue_url(&self.stack.ingest_queue_url)
            .message_body(body)
            .send()
            .await?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }

    /// Takes every message off the deliveries queue (as the forward function would).
    pub async fn take_deliveries(&self) -> anyhow::Result<Vec<DeliveryMessage>> {
        take_all(&self.clients.sqs, &self.stack.deliveries_queue_url)
            .await?
            .iter()
            .map(|body| serde_json::from_str(body).context("a delivery message"))
            .collect()
    }

    /// Takes every message off a queue, returning the bodies.
    pub async fn take_all(&self, queue_url: &str) -> anyhow::Result<Vec<String>> {
        take_all(&self.clients.sqs, queue_url).await
    }

    /// Visible messages on a queue.
    pub async fn visible_messages(&self, queue_url: &str) -> anyhow::Result<u64> {
        let output = self
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await?;
        Ok(output
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }
}

/// What any AWS SDK client needs to talk to the emulator at `endpoint`: the endpoint, the
/// region (twice: boto3 and the AWS CLI v1 read only `AWS_DEFAULT_REGION`), the static `test`
/// credentials, and no instance metadata lookup.
pub fn emulator_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_DEFAULT_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
}

async fn take_all(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> anyhow::Result<Vec<String>> {
    let mut bodies = Vec::new();
    loop {
        let output = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(0)
            .send()
            .await?;
        let messages = output.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(bodies);
        }
        for message in messages {
            bodies.push(message.body().unwrap_or_default().to_owned());
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await?;
            }
        }
    }
}
