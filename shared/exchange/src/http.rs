//! The one HTTP port of the exchange: a POST and its answer, used to deliver envelopes to
//! partners ([`crate::forward`]) and notifications to webhook subscribers ([`crate::notify`]).
//! Its error keeps apart what no retry can change (a request that cannot be built) from what
//! may pass later (no connection, no answer in time).

use async_trait::async_trait;
use std::time::Duration;

/// An HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpReply {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After`, when given in seconds.
    pub retry_after: Option<Duration>,
    /// The body, up to the transport's bound (empty when longer).
    pub body: Vec<u8>,
}

/// Why a POST got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The request cannot be built (a URL or header the HTTP stack refuses): permanent.
    #[error("bad request for {url}: {reason}")]
    BadRequest {
        /// Where it was going.
        url: String,
        /// Why.
        reason: String,
    },
    /// No connection, or the connection failed (DNS, refused, TLS, reset): transient.
    #[error("connection to {url} failed: {reason}")]
    Connection {
        /// Where it was going.
        url: String,
        /// Why.
        reason: String,
    },
    /// No whole answer within the timeout: transient.
    #[error("no answer from {url} within {} ms", .after.as_millis())]
    Timeout {
        /// Where it was going.
        url: String,
        /// The timeout.
        after: Duration,
    },
    /// The transport could not be built (no TLS roots): permanent.
    #[error("HTTP client: {0}")]
    Setup(String),
}

impl HttpError {
    /// Whether a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            HttpError::Connection { .. } | HttpError::Timeout { .. }
        )
    }

    /// What went wrong, without the URL.
    pub fn reason(&self) -> String {
        match self {
            HttpError::BadRequest { reason, .. } | HttpError::Connection { reason, .. } => {
                reason.clone()
            }
            HttpError::Timeout { after, .. } => format!("no answer within {after:?}"),
            HttpError::Setup(reason) => reason.clone(),
        }
    }

    /// The exchange error for `operation`, permanent or transient as this error is.
    pub fn into_error(self, operation: &str) -> crate::Error {
        if self.is_transient() {
            crate::Error::transient(operation, self)
        } else {
            crate::Error::permanent(operation, self)
        }
    }
}

/// POSTs a body with headers and reads the answer (bounded by the transport).
#[async_trait]
pub trait HttpTransport: Send + Sync {
    /// POSTs `body` with `headers` to `url`.
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<HttpReply, HttpError>;
}
