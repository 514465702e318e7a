//! The HTTP transport of the exchange ([`HttpTransport`]): hyper 1 over rustls with
//! aws-lc-rs, the stack the AWS SDK already links, so a function carries one TLS
//! implementation. One client type serves both uses:
//!
//! - [`HyperTransport::for_partners`] POSTs envelopes to partner MAs. Plain `http://` is
//!   allowed for loopback tests and the local demo only (the forward use case checks partner
//!   endpoints); production endpoints are `https://`.
//! - [`HyperTransport::for_webhooks`] POSTs notifications to subscribers. A subscriber's URL is
//!   attacker input, so this client only connects where
//!   [`ecites_exchange::notify::webhook_url`] allows: the URL itself is checked at delivery (by
//!   `deliver_webhook`), and host names are resolved by [`GuardedResolver`], which drops every
//!   address the rules refuse (a name resolving to the metadata service or a private address
//!   fails to connect).
//!
//! Redirects are never followed (hyper's client does not; a 3xx is an answer like any other).
//! Answers are read up to a bound; a longer body is dropped unread, closing the connection.

use async_trait::async_trait;
use bytes::Bytes;
use ecites_exchange::http::{HttpError, HttpReply, HttpTransport};
use ecites_exchange::notify::{address_allowed, WebhookPolicy};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Most bytes of a partner's answer read ([`ecites_exchange::forward::MAX_REPLY_BYTES`]).
pub const MAX_PARTNER_REPLY_BYTES: usize = ecites_exchange::forward::MAX_REPLY_BYTES;
/// Most bytes of a subscriber's answer read (its status is all that counts).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A DNS resolver; for webhooks it keeps only the addresses webhooks may reach
/// ([`address_allowed`]), and a name with none left is a connection error naming the host.
#[derive(Clone, Copy, Debug)]
pub struct GuardedResolver {
    /// `None`: every address (partners); `Some(allow_loopback)`: the webhook rules.
    guard: Option<bool>,
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
        let guard = self.guard;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let Some(allow_loopback) = guard else {
                return Ok(resolved.into_iter());
            };
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

type Connector = HttpsConnector<HttpConnector<GuardedResolver>>;

/// A pooled HTTP(S) client with a whole-request timeout, built once per process.
#[derive(Clone)]
pub struct HyperTransport {
    client: Client<Connector, Full<Bytes>>,
    timeout: Duration,
    max_reply_bytes: usize,
    user_agent: Option<&'static str>,
}

impl std::fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperTransport")
            .field("timeout", &self.timeout)
            .field("max_reply_bytes", &self.max_reply_bytes)
            .finish()
    }
}

impl HyperTransport {
    /// The partner client: gives up on a request after `timeout` (connect + send + answer).
    pub fn for_partners(timeout: Duration) -> Result<Self, HttpError> {
        Self::partner_client(timeout, None)
    }

    /// A partner client; `tls` when it presents a client certificate.
    fn partner_client(
        timeout: Duration,
        tls: Option<rustls::ClientConfig>,
    ) -> Result<Self, HttpError> {
        let mut transport = Self::build(timeout, GuardedResolver { guard: None }, tls)?;
        transport.max_reply_bytes = MAX_PARTNER_REPLY_BYTES;
        transport.user_agent = Some(concat!("ecites-forward/", env!("CARGO_PKG_VERSION")));
        Ok(transport)
    }

    /// The partner client presenting a client certificate (mutual TLS, for a partner whose
    /// endpoint requires one): `certificate` is the PEM chain, leaf first, and `private_key`
    /// its PEM key (PKCS#8, PKCS#1 or SEC1). The server is verified as by
    /// [`HyperTransport::for_partners`]. Errors ([`HttpError::Setup`]): no certificate in the
    /// PEM, no key, or a key rustls refuses for the certificate (the message says which, never
    /// the key).
    pub fn for_partners_with_client_certificate(
        timeout: Duration,
        certificate: &str,
        private_key: &str,
    ) -> Result<Self, HttpError> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_slice_iter(certificate.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                HttpError::Setup(format!("certificate: not a PEM certificate chain: {e}"))
            })?;
        if chain.is_empty() {
            return Err(HttpError::Setup(
                "certificate: no PEM CERTIFICATE block".to_owned(),
            ));
        }
        // The parse error is not repeated: it could quote a part of the key.
        let key = PrivateKeyDer::from_pem_slice(private_key.as_bytes()).map_err(|_| {
            HttpError::Setup(
                "private_key: no PEM private key (PKCS#8, PKCS#1 or SEC1) in it".to_owned(),
            )
        })?;
        let tls = Self::tls_config()?
            .with_client_auth_cert(chain, key)
            .map_err(|e| {
                HttpError::Setup(format!(
                    "the private key does not fit the certificate, or is of a kind TLS cannot use: {e}"
                ))
            })?;
        Self::partner_client(timeout, Some(tls))
    }

    /// The webhook client: gives up on a subscriber after `timeout`, connects only where
    /// `policy` allows.
    pub fn for_webhooks(timeout: Duration, policy: WebhookPolicy) -> Result<Self, HttpError> {
        Self::build(
            timeout,
            GuardedResolver {
                guard: Some(policy.allow_loopback),
            },
            None,
        )
    }

    /// rustls with aws-lc-rs, its safe protocol versions and the native roots (which honour
    /// `SSL_CERT_FILE`), waiting for the client authentication choice.
    fn tls_config() -> Result<
        rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>,
        HttpError,
    > {
        use hyper_rustls::ConfigBuilderExt as _;
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Setup(format!("TLS versions: {e}")))?
        .with_native_roots()
        .map_err(|e| HttpError::Setup(format!("no TLS root certificates: {e}")))
    }

    /// The client; `tls` when it presents a client certificate, else no client authentication.
    fn build(
        timeout: Duration,
        resolver: GuardedResolver,
        tls: Option<rustls::ClientConfig>,
    ) -> Result<Self, HttpError> {
        let mut http = HttpConnector::new_with_resolver(resolver);
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        let tls = match tls {
            Some(tls) => tls,
            None => Self::tls_config()?.with_no_client_auth(),
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(HyperTransport {
            client,
            timeout,
            max_reply_bytes: MAX_ANSWER_BYTES,
            user_agent: None,
        })
    }
}

#[async_trait]
impl HttpTransport for HyperTransport {
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<HttpReply, HttpError> {
        let mut request = http::Request::post(url);
        if let Some(agent) = self.user_agent {
            request = request.header(http::header::USER_AGENT, agent);
        }
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request =
            request
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| HttpError::BadRequest {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })?;
        let exchange = async {
            let response =
                self.client
                    .request(request)
                    .await
                    .map_err(|e| HttpError::Connection {
                        url: url.to_owned(),
                        reason: crate::errors::error_chain(&e),
                    })?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            // Bounded: nobody can make us read more than max_reply_bytes.
            let body = Limited::new(response.into_body(), self.max_reply_bytes)
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default();
            Ok(HttpReply {
                status,
                retry_after,
                body,
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::Timeout {
                url: url.to_owned(),
                after: self.timeout,
            }),
        }
    }
}
