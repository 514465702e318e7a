//! Classifying SDK errors as transient or permanent, with the SDK's own classification: the
//! throttling and transient error codes of its retry classifier
//! ([`aws_runtime::retries::classifiers`]), the errors a service models as retryable
//! ([`ProvideErrorKind::retryable_error_kind`]) and 5xx answers.

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ProvideErrorKind;
use ecites_exchange::Error;

/// Codes the SDK's classifier does not list that a later attempt can still succeed on:
/// DynamoDB answers a write that races another transaction with a 400.
const ALSO_TRANSIENT: &[&str] = &["TransactionConflictException"];

/// Whether a service error's code or status says "slow down and retry".
fn transient_service_error(code: &str, retryable: bool, status: u16) -> bool {
    retryable
        || THROTTLING_ERRORS.contains(&code)
        || TRANSIENT_ERRORS.contains(&code)
        || ALSO_TRANSIENT.contains(&code)
        || (500..600).contains(&status)
}

/// An error and its causes, each by its `Display`, on one line joined with `: ` ("dispatch
/// failure: io error: ... Connection refused (os error 111)"). What people read: the SDK's
/// `DisplayErrorContext` appends the error's `Debug` form (`DispatchFailure(DispatchFailure {
/// source: ... })`). The HTTP transport tells its hyper errors the same way.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Maps an SDK error to the exchange error: timeouts, connection failures, 5xx, throttling and
/// errors the service models as retryable are transient; other service errors are permanent.
pub fn classify<E>(operation: &str, error: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + ProvideErrorKind + std::error::Error + Send + Sync + 'static,
{
    match &error {
        SdkError::ServiceError(service) => {
            let code = ProvideErrorMetadata::code(service.err()).unwrap_or("");
            let status = service.raw().status().as_u16();
            // Code and message only: the raw response is noise in logs.
            let message = format!(
                "{} ({}): {}",
                if code.is_empty() {
                    "unknown error"
                } else {
                    code
                },
                status,
                service.err().message().unwrap_or("")
            );
            let retryable = service.err().retryable_error_kind().is_some();
            if transient_service_error(code, retryable, status) {
                Error::transient(operation, message)
            } else {
                Error::permanent(operation, message)
            }
        }
        _ => Error::transient(operation, error_chain(&error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "s3")]
    #[test]
    fn an_unreachable_service_is_told_in_words_without_the_sdks_debug_form() {
        use aws_smithy_runtime_api::client::result::ConnectorError;
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let error: SdkError<aws_sdk_s3::operation::get_object::GetObjectError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(Box::new(refused)));
        let told = classify("s3:GetObject", error).to_string();
        assert!(told.contains("dispatch failure"), "{told}");
        assert!(told.contains("Connection refused (os error 111)"), "{told}");
        assert!(
            !told.contains("DispatchFailure") && !told.contains("ConnectorError"),
            "{told}"
        );
        assert!(told.contains("s3:GetObject"), "{told}");
    }

    #[test]
    fn the_sdk_lists_decide_what_is_transient() {
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "RequestLimitExceeded",
            "SlowDown",
            "RequestTimeout",
            "RequestTimeoutException",
            "TransactionConflictException",
            // Missing from the list kept by hand before.
            "TooManyRequestsException",
            "LimitExceededException",
            "TransactionInProgressException",
            "BandwidthLimitExceeded",
        ] {
            assert!(transient_service_error(code, false, 400), "{code}");
        }
        assert!(transient_service_error("InternalServerError", false, 500));
        assert!(transient_service_error("ServiceUnavailable", false, 503));
        assert!(
            transient_service_error("Whatever", true, 400),
            "modeled retryable"
        );
        for code in [
            "ConditionalCheckFailedException",
            "ResourceNotFoundException",
            "NoSuchKey",
            "AccessDenied",
            "",
        ] {
            assert!(!transient_service_error(code, false, 400), "{code}");
        }
    }
}
