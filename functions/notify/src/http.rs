//! HTTP for webhooks: hyper over rustls (HTTPS with the system's roots).
//!
//! A subscriber's URL is attacker input, so the client only connects where
//! [`ecites_exchange::notify::webhook_url`] allows: the URL itself is checked at delivery (by
//! `deliver_webhook`), and host names are resolved by [`GuardedResolver`], which drops every
//! address the rules refuse (a name resolving to the metadata service or a private address
//! fails to connect). Redirects are never followed (hyper's client does not; a 3xx is a failed
//! delivery). The subscriber's answer is read up to [`MAX_ANSWER_BYTES`] and dropped: its
//! status is all that counts.

use async_trait::async_trait;
use ecites_exchange::notify::{address_allowed, WebhookPolicy, WebhookTransport};
use ecites_exchange::Error;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Most bytes of a subscriber's answer read (the rest is never read: the connection is closed).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A DNS resolver that keeps only the addresses webhooks may reach
/// ([`address_allowed`]); a name with none left is a connection error naming the host.
#[derive(Clone, Copy, Debug)]
pub struct GuardedResolver {
    allow_loopback: bool,
}

type Resolving =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, std::io::Error>> + Send>>;

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Resolving;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|addr| address_allowed(addr.ip(), allow_loopback))
                .collect();
            if allowed.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!(
                        "{host} resolves only to addresses webhooks may not reach ({})",
                        resolved
                            .iter()
                            .map(|a| a.ip().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            Ok(allowed.into_iter())
        })
    }
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector<GuardedResolver>>;

/// The webhook HTTP client, built once per process.
#[derive(Clone)]
pub struct HttpTransport {
    client: Client<Connector, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpTransport {
    /// A client giving up on a subscriber after `timeout` (connect, send, answer), connecting
    /// only where `policy` allows.
    pub fn new(timeout: Duration, policy: WebhookPolicy) -> Result<Self, Error> {
        let mut http = HttpConnector::new_with_resolver(GuardedResolver {
            allow_loopback: policy.allow_loopback,
        });
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| Error::permanent("webhook TLS roots", e))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(HttpTransport {
            client: Client::builder(TokioExecutor::new()).build(https),
            timeout,
        })
    }
}

#[async_trait]
impl WebhookTransport for HttpTransport {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<u16, Error> {
        let mut request = hyper::Request::post(url);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Error::permanent("webhook request", e))?;
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status().as_u16();
            // Read at most MAX_ANSWER_BYTES (so a short answer lets the connection be reused);
            // a longer one is dropped unread, closing the connection.
            let _ = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await;
            Ok::<u16, hyper_util::client::legacy::Error>(status)
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(error)) => Err(Error::transient(
                "webhook POST",
                format!(
                    "{error}{}",
                    std::error::Error::source(&error)
                        .map(|s| format!(": {s}"))
                        .unwrap_or_default()
                ),
            )),
            Err(_) => Err(Error::transient(
                "webhook POST",
                format!("no answer within {:?}", self.timeout),
            )),
        }
    }
}
