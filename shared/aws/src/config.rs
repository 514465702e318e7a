//! Configuration, in one place: the environment each function reads (one section per
//! function, one [`ConfigError`]) and the one AWS SDK configuration a process loads
//! ([`AwsConfig`]), from which every client is built.
//!
//! Region, endpoint and credentials are aws-config's business: `AWS_REGION`, `AWS_PROFILE`,
//! `AWS_ENDPOINT_URL` (and the service-specific `AWS_ENDPOINT_URL_<SERVICE>`) work as they do
//! for every AWS SDK. [`ClientOptions`] can override region and endpoint for tests and the
//! local tools, which talk to an emulator on a port of their own.

use crate::interceptors::{FaultInjector, RequestCounter};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use ecites_domain::CountryCode;
use ecites_exchange::forward::RetryPolicy;
use ecites_exchange::notify::WebhookPolicy;
use std::env;
use std::time::Duration;

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// The region used when aws-config finds none (no `AWS_REGION`, no profile): Lambda always
/// sets `AWS_REGION`; this keeps local runs working as before.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Default partner directory key.
pub const DEFAULT_PARTNERS_KEY: &str = "config/partners.json";
/// Default input size bound: 4 MiB, the domain XML reader's own default bound.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 4 * 1024 * 1024;

/// First retry delay of a delivery (`ECITES_RETRY_BASE_MS`), doubled per receive.
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(30);

/// Longest retry delay of a delivery (`ECITES_RETRY_CAP_MS`): 4 hours, so that with the
/// template's 21 receives a partner outage is retried for at least a day (two, without the
/// jitter) before the DLQ (issue #18), and a recovered partner waits at most 4 hours for the
/// next attempt. SQS allows a visibility timeout of up to 12 hours.
pub const DEFAULT_RETRY_CAP: Duration = Duration::from_secs(4 * 60 * 60);

/// How long one attempt of an AWS request may take before the SDK gives it up and retries
/// (its standard retry policy: 3 attempts): a request that hangs (a connection that stalls, a
/// service that never answers) costs this, not the function's whole timeout.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long establishing a connection may take (the SDK's own default, kept when the attempt
/// timeout is set).
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);

fn optional(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn required(name: &str) -> Result<String, ConfigError> {
    optional(name).ok_or_else(|| ConfigError(format!("environment variable {name} is not set")))
}

fn number(name: &str, default: u64) -> Result<u64, ConfigError> {
    match env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("{name}={text:?} is not a number"))),
        Err(_) => Ok(default),
    }
}

fn country(name: &str) -> Result<CountryCode, ConfigError> {
    let text = required(name)?;
    text.trim()
        .parse()
        .map_err(|_| ConfigError(format!("{name}={text:?} is not an ISO 3166-1 alpha-2 code")))
}

// ---------------------------------------------------------------------------------------------
// The deployment (ingest, forward, receive, the CLI)

/// The deployment's configuration (no secrets: those are read from SSM or Secrets Manager).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This deployment's MA country (`ECITES_COUNTRY`).
    pub country: CountryCode,
    /// The bucket for inbox, outbox, rejected and config (`ECITES_BUCKET`).
    pub bucket: String,
    /// The ledger table (`ECITES_TABLE`).
    pub table: String,
    /// The deliveries queue URL (`ECITES_DELIVERIES_QUEUE_URL`); empty for forward and receive
    /// when not set (see [`Config::exchange_from_env`]).
    pub deliveries_queue_url: String,
    /// Key of the partner directory document in the bucket (`ECITES_PARTNERS_KEY`, default
    /// `config/partners.json`).
    pub partners_key: String,
    /// Largest input accepted, in bytes (`ECITES_MAX_OBJECT_BYTES`, default 4 MiB).
    pub max_object_bytes: u64,
}

impl Config {
    /// Reads the configuration of ingest (and of the CLI) from the environment: the deliveries
    /// queue is required.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Config {
            deliveries_queue_url: required("ECITES_DELIVERIES_QUEUE_URL")?,
            ..Self::exchange_from_env()?
        })
    }

    /// Reads the configuration of forward and receive: as [`Config::from_env`], except that
    /// the deliveries queue URL is optional (receive never uses it; forward learns its queue
    /// from the event's ARN), so the functions start with the environment the stack template
    /// gives them.
    pub fn exchange_from_env() -> Result<Self, ConfigError> {
        Ok(Config {
            country: country("ECITES_COUNTRY")?,
            bucket: required("ECITES_BUCKET")?,
            table: required("ECITES_TABLE")?,
            deliveries_queue_url: optional("ECITES_DELIVERIES_QUEUE_URL").unwrap_or_default(),
            partners_key: env::var("ECITES_PARTNERS_KEY")
                .unwrap_or_else(|_| DEFAULT_PARTNERS_KEY.to_owned()),
            max_object_bytes: number("ECITES_MAX_OBJECT_BYTES", DEFAULT_MAX_OBJECT_BYTES)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Forward

/// Where the signing key is kept.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A Secrets Manager secret (`ECITES_SIGNING_KEY_SECRET`): JSON `{"key_id", "private_key"}`
    /// or a bare base64 seed with `ECITES_SIGNING_KEY_ID`.
    Secret {
        /// Secret name or ARN.
        name: String,
        /// Key id for a bare seed.
        key_id: Option<String>,
    },
    /// An SSM `SecureString` parameter (`ECITES_SIGNING_KEY_PARAMETER`) holding the base64
    /// seed, with `ECITES_SIGNING_KEY_ID`.
    Parameter {
        /// Parameter name.
        name: String,
        /// Key id.
        key_id: String,
    },
}

/// The forward function's settings beyond the common [`Config`].
#[derive(Clone, Debug)]
pub struct ForwardSettings {
    /// Where the signing key is.
    pub key: KeySource,
    /// Per-request timeout (`ECITES_FORWARD_TIMEOUT_MS`, default 10 000).
    pub timeout: Duration,
    /// Retry policy (`ECITES_RETRY_BASE_MS` default 30 000; `ECITES_RETRY_CAP_MS` default
    /// 14 400 000, [`DEFAULT_RETRY_CAP`]). `max_receives` is the queue's `maxReceiveCount`,
    /// read from its redrive policy on the first batch with a delivery unless
    /// `ECITES_MAX_RECEIVES` sets it.
    pub policy: RetryPolicy,
    /// Whether `policy.max_receives` was set explicitly (else read from the queue).
    pub max_receives_explicit: bool,
    /// How long the partner directory is cached.
    pub directory_ttl: Duration,
}

impl ForwardSettings {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let key_id = optional("ECITES_SIGNING_KEY_ID");
        let key = match (
            optional("ECITES_SIGNING_KEY_SECRET"),
            optional("ECITES_SIGNING_KEY_PARAMETER"),
        ) {
            (Some(name), _) => KeySource::Secret { name, key_id },
            (None, Some(name)) => KeySource::Parameter {
                name,
                key_id: key_id
                    .ok_or_else(|| ConfigError("ECITES_SIGNING_KEY_ID is not set".into()))?,
            },
            (None, None) => {
                return Err(ConfigError(
                    "set ECITES_SIGNING_KEY_SECRET or ECITES_SIGNING_KEY_PARAMETER".into(),
                ))
            }
        };
        Ok(ForwardSettings {
            key,
            timeout: Duration::from_millis(number("ECITES_FORWARD_TIMEOUT_MS", 10_000)?),
            policy: RetryPolicy {
                max_receives: u32::try_from(number("ECITES_MAX_RECEIVES", 5)?).unwrap_or(5),
                base: Duration::from_millis(number(
                    "ECITES_RETRY_BASE_MS",
                    u64::try_from(DEFAULT_RETRY_BASE.as_millis()).unwrap_or(30_000),
                )?),
                cap: Duration::from_millis(number(
                    "ECITES_RETRY_CAP_MS",
                    u64::try_from(DEFAULT_RETRY_CAP.as_millis()).unwrap_or(14_400_000),
                )?),
            },
            max_receives_explicit: optional("ECITES_MAX_RECEIVES").is_some(),
            directory_ttl: Duration::from_secs(300),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Notify and webhooks

/// The notify functions' configuration, from the environment as Lambda passes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyConfig {
    /// This deployment's MA country (`ECITES_COUNTRY`), the CloudEvents source.
    pub country: String,
    /// The bucket with the outbox (`ECITES_BUCKET`).
    pub bucket: String,
    /// The ledger table (`ECITES_TABLE`): registry and claims live there too.
    pub table: String,
    /// The notifications topic (`ECITES_TOPIC_ARN`, as `infra/template.yaml` names it).
    pub topic_arn: String,
    /// The webhook queue (`ECITES_WEBHOOK_QUEUE_URL`).
    pub webhook_queue_url: String,
    /// How long the registry is cached in a warm function (`ECITES_SUBSCRIPTIONS_CACHE_S`,
    /// default 60).
    pub subscriptions_cache: Duration,
    /// First retry delay of a failed webhook, doubled per attempt (`ECITES_WEBHOOK_BACKOFF_S`,
    /// default 30, at most 900).
    pub webhook_backoff_s: i32,
    /// Webhook HTTP timeout (`ECITES_WEBHOOK_TIMEOUT_S`, default 10).
    pub webhook_timeout: Duration,
    /// Where webhooks may go ([`WebhookPolicy::from_env`]: `ECITES_ALLOW_LOOPBACK_WEBHOOKS`
    /// for local runs, `AWS_LAMBDA_RUNTIME_API`).
    pub webhook_policy: WebhookPolicy,
}

impl NotifyConfig {
    /// Reads the configuration from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(NotifyConfig {
            country: required("ECITES_COUNTRY")?,
            bucket: required("ECITES_BUCKET")?,
            table: required("ECITES_TABLE")?,
            topic_arn: required("ECITES_TOPIC_ARN")?,
            webhook_queue_url: required("ECITES_WEBHOOK_QUEUE_URL")?,
            subscriptions_cache: Duration::from_secs(number("ECITES_SUBSCRIPTIONS_CACHE_S", 60)?),
            webhook_backoff_s: number("ECITES_WEBHOOK_BACKOFF_S", 30)?.min(900) as i32,
            webhook_timeout: Duration::from_secs(number("ECITES_WEBHOOK_TIMEOUT_S", 10)?),
            webhook_policy: WebhookPolicy::from_env(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Sweep

/// The sweep function's window of age, as set (its rules are checked by
/// `ecites_aws::sweep::window_from_settings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepSettings {
    /// Leave objects younger than this (`ECITES_SWEEP_OLDER_THAN_MINUTES`, default 60).
    pub older_than_minutes: u32,
    /// Leave objects older than this (`ECITES_SWEEP_WITHIN_DAYS`, default 30).
    pub within_days: u32,
}

/// The variable of [`SweepSettings::older_than_minutes`].
pub const SWEEP_OLDER_THAN_VARIABLE: &str = "ECITES_SWEEP_OLDER_THAN_MINUTES";
/// The variable of [`SweepSettings::within_days`].
pub const SWEEP_WITHIN_DAYS_VARIABLE: &str = "ECITES_SWEEP_WITHIN_DAYS";

impl SweepSettings {
    /// Reads the sweep function's settings; the template sets neither, so both default to
    /// `ecites sweep`'s (an hour, 30 days).
    ///
    /// # Errors
    /// A value that is not a whole number (of at most 2^32 - 1).
    pub fn from_env() -> Result<Self, ConfigError> {
        let whole = |name: &str, default: u32| -> Result<u32, ConfigError> {
            let value = number(name, u64::from(default))?;
            u32::try_from(value).map_err(|_| ConfigError(format!("{name}={value} is too large")))
        };
        use ecites_exchange::sweep::{DEFAULT_MAX_AGE_DAYS, DEFAULT_MIN_AGE_MINUTES};
        Ok(SweepSettings {
            older_than_minutes: whole(SWEEP_OLDER_THAN_VARIABLE, DEFAULT_MIN_AGE_MINUTES)?,
            within_days: whole(SWEEP_WITHIN_DAYS_VARIABLE, DEFAULT_MAX_AGE_DAYS)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The AWS SDK

/// Extra client options: interceptors for counting and fault injection, and, for tests and
/// local tools, an emulator's endpoint, region and static credentials.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// Counts requests when set.
    pub counter: Option<RequestCounter>,
    /// Injects faults into DynamoDB requests when set (tests).
    pub faults: Option<FaultInjector>,
    /// Use the static credentials `test`/`test` (moto), instead of the default chain.
    pub emulator_credentials: bool,
    /// Maximum attempts per request (default: the SDK's standard 3).
    pub max_attempts: Option<u32>,
    /// How long one attempt may take (default [`DEFAULT_ATTEMPT_TIMEOUT`]; the local stack
    /// under fault injection uses a shorter one so that an injected timeout costs little).
    pub attempt_timeout: Option<Duration>,
    /// An endpoint instead of the one aws-config finds (`AWS_ENDPOINT_URL` or none).
    pub endpoint_url: Option<String>,
    /// A region instead of the one aws-config finds (`AWS_REGION`, the profile, or
    /// [`DEFAULT_REGION`]).
    pub region: Option<String>,
}

impl ClientOptions {
    /// These options with an emulator endpoint and region.
    pub fn at(mut self, endpoint_url: Option<&str>, region: &str) -> Self {
        self.endpoint_url = endpoint_url.map(str::to_owned);
        self.region = Some(region.to_owned());
        self
    }
}

/// The AWS SDK configuration, loaded once per process; every client is built from it with
/// the same options (interceptors, path-style S3 behind an endpoint override).
#[derive(Clone, Debug)]
pub struct AwsConfig {
    shared: SdkConfig,
    options: ClientOptions,
}

impl AwsConfig {
    /// Loads the SDK configuration (the one `aws_config` load of a process).
    pub async fn load(options: ClientOptions) -> Self {
        let region = match &options.region {
            Some(region) => Region::new(region.clone()),
            None => aws_config::meta::region::RegionProviderChain::default_provider()
                .or_else(DEFAULT_REGION)
                .region()
                .await
                .unwrap_or_else(|| Region::from_static(DEFAULT_REGION)),
        };
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if options.emulator_credentials {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                "test", "test", None, None, "emulator",
            ));
        }
        loader = loader.timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(
                    options.attempt_timeout.unwrap_or(DEFAULT_ATTEMPT_TIMEOUT),
                )
                .build(),
        );
        if let Some(attempts) = options.max_attempts {
            loader = loader.retry_config(
                aws_config::retry::RetryConfig::standard().with_max_attempts(attempts),
            );
        }
        AwsConfig {
            shared: loader.load().await,
            options,
        }
    }

    /// The loaded SDK configuration.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.shared
    }

    /// The region the clients use.
    pub fn region(&self) -> &str {
        self.shared
            .region()
            .map(Region::as_ref)
            .unwrap_or(DEFAULT_REGION)
    }

    /// Whether requests go to an endpoint override (an emulator): S3 then uses path-style
    /// addressing.
    pub fn has_endpoint_override(&self) -> bool {
        self.shared.endpoint_url().is_some()
    }

    /// S3.
    #[cfg(feature = "s3")]
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let mut builder = aws_sdk_s3::config::Builder::from(&self.shared)
            .force_path_style(self.has_endpoint_override());
        if let Some(counter) = &self.options.counter {
            builder = builder.interceptor(counter.clone());
        }
        aws_sdk_s3::Client::from_conf(builder.build())
    }

    /// SQS.
    #[cfg(feature = "sqs")]
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        let mut builder = aws_sdk_sqs::config::Builder::from(&self.shared);
        if let Some(counter) = &self.options.counter {
            builder = builder.interceptor(counter.clone());
        }
        aws_sdk_sqs::Client::from_conf(builder.build())
    }

    /// DynamoDB (with the fault injector, when set).
    #[cfg(feature = "dynamodb")]
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let mut builder = aws_sdk_dynamodb::config::Builder::from(&self.shared);
        if let Some(counter) = &self.options.counter {
            builder = builder.interceptor(counter.clone());
        }
        if let Some(faults) = &self.options.faults {
            builder = builder.interceptor(faults.clone());
        }
        aws_sdk_dynamodb::Client::from_conf(builder.build())
    }

    /// SNS.
    #[cfg(feature = "sns")]
    pub fn sns(&self) -> aws_sdk_sns::Client {
        let mut builder = aws_sdk_sns::config::Builder::from(&self.shared);
        if let Some(counter) = &self.options.counter {
            builder = builder.interceptor(counter.clone());
        }
        aws_sdk_sns::Client::from_conf(builder.build())
    }

    /// SSM Parameter Store.
    #[cfg(feature = "ssm")]
    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        let mut builder = aws_sdk_ssm::config::Builder::from(&self.shared);
        if let Some(counter) = &self.options.counter {
            builder = builder.interceptor(counter.clone());
        }
        aws_sdk_ssm::Client::from_conf(builder.build())
    }

    /// Secrets Manager.
    #[cfg(feature = "secretsmanager")]
    pub fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        let mut builder = aws_sdk_secretsmanager::config::Builder::from(&self.shared);
        if let Some(counter) = &self.options.counter {
            builder = builder.interceptor(counter.clone());
        }
        aws_sdk_secretsmanager::Client::from_conf(builder.build())
    }

    /// DynamoDB Streams (the local runner's stream reader).
    #[cfg(feature = "dynamodbstreams")]
    pub fn dynamodb_streams(&self) -> aws_sdk_dynamodbstreams::Client {
        let mut builder = aws_sdk_dynamodbstreams::config::Builder::from(&self.shared);
        if let Some(counter) = &self.options.counter {
            builder = builder.interceptor(counter.clone());
        }
        aws_sdk_dynamodbstreams::Client::from_conf(builder.build())
    }

    /// The clients most functions use, as one value.
    pub fn clients(&self) -> Clients {
        Clients {
            #[cfg(feature = "s3")]
            s3: self.s3(),
            #[cfg(feature = "sqs")]
            sqs: self.sqs(),
            #[cfg(feature = "dynamodb")]
            dynamodb: self.dynamodb(),
        }
    }
}

/// The S3, SQS and DynamoDB clients (those of them the crate's features enable), built once
/// per process (Lambda cold start) and shared by the handlers.
#[derive(Clone, Debug)]
pub struct Clients {
    /// S3.
    #[cfg(feature = "s3")]
    pub s3: aws_sdk_s3::Client,
    /// SQS.
    #[cfg(feature = "sqs")]
    pub sqs: aws_sdk_sqs::Client,
    /// DynamoDB.
    #[cfg(feature = "dynamodb")]
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Clients {
    /// Loads an SDK configuration of its own for `endpoint_url` and `region` and builds the
    /// clients from it: for tests and local tools that talk to an emulator. Functions use
    /// [`AwsConfig::load`] once and [`AwsConfig::clients`].
    pub async fn new(endpoint_url: Option<&str>, region: &str, options: &ClientOptions) -> Self {
        AwsConfig::load(options.clone().at(endpoint_url, region))
            .await
            .clients()
    }
}
