//! Classifying SDK errors as transient or permanent.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use ecites_exchange::Error;

/// Error codes that mean "slow down and retry".
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "TransactionConflictException",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Maps an SDK error to the exchange error: timeouts, connection failures, 5xx and throttling
/// are transient; other service errors are permanent.
pub fn classify<E>(operation: &str, error: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("");
            // Code and message only: the raw response is noise in logs.
            let message = format!(
                "{} ({}): {}",
                if code.is_empty() {
                    "unknown error"
                } else {
                    code
                },
                service.raw().status().as_u16(),
                service.err().message().unwrap_or("")
            );
            if TRANSIENT_CODES.contains(&code) || service.raw().status().is_server_error() {
                Error::transient(operation, message)
            } else {
                Error::permanent(operation, message)
            }
        }
        _ => Error::transient(operation, DisplayErrorContext(&error)),
    }
}
