//! The exchange crate's one error type, classified so that callers know whether to retry.

/// Why a use case could not finish.
///
/// The split matters more than the detail: a *transient* error (throttling, 5xx, timeouts,
/// connection errors) makes the trigger retry the input (SQS redelivery through
/// `batchItemFailures`), while a *permanent* one means retrying can never help, so the input is
/// reported and acknowledged instead of being retried until it reaches the DLQ.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A dependency failed in a way that may pass on retry.
    #[error("{operation} failed transiently: {message}")]
    Transient {
        /// The operation that failed (e.g. `dynamodb:TransactWriteItems`).
        operation: String,
        /// What the dependency said (never secrets).
        message: String,
    },
    /// A dependency refused the request in a way that will not change on retry.
    #[error("{operation} failed permanently: {message}")]
    Permanent {
        /// The operation that failed.
        operation: String,
        /// What the dependency said.
        message: String,
    },
    /// Something the input refers to does not exist (a deleted object, an unknown permit).
    #[error("not found: {0}")]
    NotFound(String),
    /// The input message is not one of the documented message formats.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// The permit could not be read at all.
    #[error(transparent)]
    Domain(#[from] ecites_domain::Error),
}

impl Error {
    /// A transient failure of `operation`.
    pub fn transient(operation: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Transient {
            operation: operation.into(),
            message: message.to_string(),
        }
    }

    /// A permanent failure of `operation`.
    pub fn permanent(operation: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Permanent {
            operation: operation.into(),
            message: message.to_string(),
        }
    }

    /// True when retrying the same input later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient { .. })
    }
}
