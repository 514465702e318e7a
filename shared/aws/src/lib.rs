//! The AWS side of the exchange: S3, SQS, DynamoDB, SNS, SSM and Secrets Manager
//! implementations of the `ecites-exchange` traits, configuration from environment variables,
//! logging and metrics, and SDK interceptors that count requests (bench) and inject faults
//! (tests).
//!
//! Every Lambda function reads its section of [`config`] and loads one [`AwsConfig`] per
//! process, builds the clients it needs from it and passes the implementations to the use
//! cases. Each AWS service is a Cargo feature (`s3`, `sqs`, `dynamodb`, `sns`, `ssm`,
//! `secretsmanager`, `dynamodbstreams`; `notify` for the notification adapters), so a
//! function links only the SDK crates it calls.
//!
//! What it must not know: the rules of permits, uses and reports (validation, use checks,
//! balances, report rows and their checks), which are `ecites-domain`'s and
//! `ecites-exchange`'s; it stores, reads and sends what those decide.

#![warn(missing_docs)]

pub mod batch;
#[cfg(all(feature = "http", feature = "secretsmanager"))]
pub mod client_certificates;
pub mod config;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
pub mod errors;
#[cfg(feature = "dynamodb")]
#[cfg(feature = "http")]
pub mod http;
pub mod interceptors;
#[cfg(feature = "notify")]
pub mod notify;
#[cfg(all(feature = "sqs", feature = "dynamodb"))]
pub mod replay;
#[cfg(all(feature = "dynamodb", feature = "s3"))]
pub mod report;
#[cfg(feature = "s3")]
pub mod s3;
pub mod signing;
#[cfg(feature = "sqs")]
pub mod sqs;
#[cfg(feature = "dynamodb")]
pub mod status;
#[cfg(feature = "dynamodbstreams")]
pub mod streams;
#[cfg(all(feature = "dynamodb", feature = "s3"))]
pub mod sweep;
pub mod telemetry;

pub use config::{AwsConfig, ClientOptions, Clients, Config, ConfigError, SweepSettings};
#[cfg(feature = "dynamodb")]
pub use dynamo::DynamoLedger;
pub use errors::classify;
#[cfg(feature = "dynamodb")]
pub use interceptors::{FaultInjector, RequestCounter};
#[cfg(feature = "s3")]
pub use s3::{S3BlobStore, S3PartnerDirectory, S3SpeciesChecklist};
#[cfg(feature = "sqs")]
pub use sqs::SqsDeliveryQueue;
