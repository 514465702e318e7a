//! The AWS side of the exchange: S3, SQS and DynamoDB implementations of the
//! `ecites-exchange` traits, configuration from environment variables, logging and metrics, and
//! SDK interceptors that count requests (bench) and inject faults (tests).
//!
//! Every Lambda function builds a [`Config`] and [`Clients`] once per process and passes the
//! implementations to the use cases.

#![warn(missing_docs)]

pub mod config;
pub mod dynamo;
mod errors;
pub mod exchange_config;
pub mod exchange_store;
pub mod interceptors;
pub mod notify;
pub mod replay;
pub mod s3;
pub mod signing;
pub mod sqs;
pub mod status;
pub mod telemetry;

pub use config::{ClientOptions, Clients, Config, ConfigError};
pub use dynamo::DynamoLedger;
pub use errors::classify;
pub use exchange_store::DynamoExchangeStore;
pub use interceptors::{FaultInjector, RequestCounter};
pub use s3::{S3BlobStore, S3PartnerDirectory, S3SpeciesChecklist};
pub use sqs::SqsDeliveryQueue;
