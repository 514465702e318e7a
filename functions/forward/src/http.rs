//! The HTTP client that POSTs envelopes to partners.
//!
//! Built on the same hyper 1 + hyper-rustls (aws-lc-rs) stack the AWS SDK already links, so the
//! function carries one TLS implementation, not a second rustls provider or `ring` next to
//! aws-lc. Plain `http://` is allowed for loopback tests and the local demo only; production
//! partner endpoints are `https://` (see `docs/exchange.md` for mutual TLS at the API layer).

use async_trait::async_trait;
use bytes::Bytes;
use ecites_exchange::forward::{HttpReply, PartnerTransport, MAX_REPLY_BYTES};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// A pooled HTTP(S) client with a whole-request timeout.
#[derive(Clone, Debug)]
pub struct HttpTransport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl HttpTransport {
    /// A client giving up on a request after `timeout` (connect + send + answer).
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("no TLS root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(HttpTransport { client, timeout })
    }
}

#[async_trait]
impl PartnerTransport for HttpTransport {
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Result<HttpReply, String> {
        let mut request = http::Request::post(url).header(
            http::header::USER_AGENT,
            concat!("ecites-forward/", env!("CARGO_PKG_VERSION")),
        );
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("bad request for {url}: {e}"))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("connection to {url} failed: {e}"))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            // Bounded: a partner cannot make us read more than MAX_REPLY_BYTES.
            let body = Limited::new(response.into_body(), MAX_REPLY_BYTES)
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
            Err(_) => Err(format!(
                "no answer from {url} within {} ms",
                self.timeout.as_millis()
            )),
        }
    }
}
