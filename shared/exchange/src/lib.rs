//! The exchange use cases as plain async functions over small traits ([`BlobStore`],
//! [`Ledger`], [`DeliveryQueue`], [`PartnerDirectory`], [`Clock`]).
//!
//! No AWS here: the `ecites-aws` crate implements the traits with S3, SQS and DynamoDB, the
//! Lambda functions and the local runner wire them up. Keeping the use cases free of the SDK
//! keeps them readable and lets the same code run in Lambda, in the local runner and in tests.
//!
//! What it owns, by module:
//! - [`ingest`]: MA inputs (S3 objects, direct messages) to recorded versions and deliveries;
//! - [`forward`], [`receive`], [`protocol`]: the signed MA-to-MA exchange and its tracking;
//! - [`usage`], [`receive_use`]: customs uses of permits, their checks and verification;
//! - [`query`]: permit queries, delivery headers and acknowledgements (pull as well as push);
//! - [`notify`]: notification events, subscriptions and webhooks;
//! - [`report`]: the CITES annual report from the ledger's report index;
//! - [`sweep`]: the objects under `received/` that no ledger record names;
//! - [`ledger`], [`ports`], [`directory`], [`http`], [`keys`], [`retry`]: the
//!   ports the use cases call and the shared rules (keys, retry policy).
//! - `testing` (feature `testing`): one in-memory implementation of each port, for the unit
//!   tests of every crate.
//!
//! What it must not know: the AWS SDK, Lambda event shapes, environment variables, and the
//! permit's formats and rules (those are `ecites-domain`'s).

#![warn(missing_docs)]

pub mod directory;
pub mod epix;
mod error;
pub mod forward;
pub mod http;
pub mod ingest;
pub mod keys;
pub mod ledger;
pub mod messages;
pub mod notify;
pub mod ports;
pub mod protocol;
pub mod query;
pub mod receive;
pub mod receive_use;
pub mod report;
pub mod retry;
pub mod sweep;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod usage;

pub use directory::{Directory, DirectoryError, Partner, PartnerDirectory};
pub use error::Error;
pub use ingest::{ingest_message, IngestReport, IngestServices, IngestSettings};
pub use ledger::{render_status, DeliveryKind, DeliveryState, PermitStatus, VersionState};
pub use messages::DeliveryMessage;
pub use ports::{
    BlobStore, Clock, DeliveryQueue, Fetched, Ledger, NoChecklist, SpeciesChecklist, SystemClock,
};
