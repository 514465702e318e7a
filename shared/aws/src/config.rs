//! Configuration from environment variables (as Lambda passes it) and the AWS clients built
//! once per process from it.

use crate::interceptors::{FaultInjector, RequestCounter};
use aws_config::{BehaviorVersion, Region};
use ecites_domain::CountryCode;
use std::env;

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// The deployment's configuration (no secrets: none are needed by ingest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This deployment's MA country (`ECITES_COUNTRY`).
    pub country: CountryCode,
    /// The bucket for inbox, outbox, rejected and config (`ECITES_BUCKET`).
    pub bucket: String,
    /// The ledger table (`ECITES_TABLE`).
    pub table: String,
    /// The deliveries queue URL (`ECITES_DELIVERIES_QUEUE_URL`).
    pub deliveries_queue_url: String,
    /// Key of the partner directory document in the bucket (`ECITES_PARTNERS_KEY`, default
    /// `config/partners.json`).
    pub partners_key: String,
    /// Largest input accepted, in bytes (`ECITES_MAX_OBJECT_BYTES`, default 4 MiB).
    pub max_object_bytes: u64,
    /// An endpoint override (`AWS_ENDPOINT_URL`), for moto; implies path-style S3.
    pub endpoint_url: Option<String>,
    /// The region (`AWS_REGION`, default `us-east-1`).
    pub region: String,
}

/// Default partner directory key.
pub const DEFAULT_PARTNERS_KEY: &str = "config/partners.json";
/// Default input size bound: 4 MiB, the domain XML reader's own default bound.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 4 * 1024 * 1024;

fn required(name: &str) -> Result<String, ConfigError> {
    env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ConfigError(format!("environment variable {name} is not set")))
}

impl Config {
    /// Reads the configuration from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let country_text = required("ECITES_COUNTRY")?;
        let country = country_text.trim().parse().map_err(|_| {
            ConfigError(format!(
                "ECITES_COUNTRY={country_text:?} is not an ISO 3166-1 alpha-2 code"
            ))
        })?;
        let max_object_bytes = match env::var("ECITES_MAX_OBJECT_BYTES") {
            Ok(text) => text.trim().parse().map_err(|_| {
                ConfigError(format!("ECITES_MAX_OBJECT_BYTES={text:?} is not a number"))
            })?,
            Err(_) => DEFAULT_MAX_OBJECT_BYTES,
        };
        Ok(Config {
            country,
            bucket: required("ECITES_BUCKET")?,
            table: required("ECITES_TABLE")?,
            deliveries_queue_url: required("ECITES_DELIVERIES_QUEUE_URL")?,
            partners_key: env::var("ECITES_PARTNERS_KEY")
                .unwrap_or_else(|_| DEFAULT_PARTNERS_KEY.to_owned()),
            max_object_bytes,
            endpoint_url: env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()),
            region: env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned()),
        })
    }
}

/// Extra client options: interceptors for counting and fault injection, static test
/// credentials for the emulator.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// Counts requests when set.
    pub counter: Option<RequestCounter>,
    /// Injects faults when set (tests).
    pub faults: Option<FaultInjector>,
    /// Use the static credentials `test`/`test` (moto), instead of the default chain.
    pub emulator_credentials: bool,
    /// Maximum attempts per request (default: the SDK's standard 3).
    pub max_attempts: Option<u32>,
}

/// The AWS clients, built once per process (Lambda cold start) and shared by the handlers.
#[derive(Clone, Debug)]
pub struct Clients {
    /// S3.
    pub s3: aws_sdk_s3::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Clients {
    /// Builds the clients for an endpoint and region.
    pub async fn new(endpoint_url: Option<&str>, region: &str, options: &ClientOptions) -> Self {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned()));
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if options.emulator_credentials {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "emulator",
            ));
        }
        if let Some(attempts) = options.max_attempts {
            loader = loader.retry_config(
                aws_config::retry::RetryConfig::standard().with_max_attempts(attempts),
            );
        }
        let shared = loader.load().await;

        let mut s3 =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(endpoint_url.is_some());
        let mut sqs = aws_sdk_sqs::config::Builder::from(&shared);
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&shared);
        if let Some(counter) = &options.counter {
            s3 = s3.interceptor(counter.clone());
            sqs = sqs.interceptor(counter.clone());
            dynamodb = dynamodb.interceptor(counter.clone());
        }
        if let Some(faults) = &options.faults {
            dynamodb = dynamodb.interceptor(faults.clone());
        }
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
        }
    }

    /// Builds the clients from a [`Config`].
    pub async fn from_config(config: &Config, options: &ClientOptions) -> Self {
        Clients::new(config.endpoint_url.as_deref(), &config.region, options).await
    }
}
