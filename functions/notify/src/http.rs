//! HTTP for webhooks: hyper over rustls (HTTPS with the system's roots; plain HTTP is accepted
//! only because subscriptions refuse non-loopback `http://` URLs when they are added).

use async_trait::async_trait;
use ecites_exchange::notify::WebhookTransport;
use ecites_exchange::Error;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// The webhook HTTP client, built once per process.
#[derive(Clone)]
pub struct HttpTransport {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
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
    /// A client giving up on a subscriber after `timeout` (connect, send, answer).
    pub fn new(timeout: Duration) -> Result<Self, Error> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| Error::permanent("webhook TLS roots", e))?
            .https_or_http()
            .enable_http1()
            .build();
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
            // Read (and drop) the answer so the connection can be reused.
            let _ = response.into_body().collect().await;
            Ok::<u16, hyper_util::client::legacy::Error>(status)
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(error)) => Err(Error::transient("webhook POST", error)),
            Err(_) => Err(Error::transient(
                "webhook POST",
                format!("no answer within {:?}", self.timeout),
            )),
        }
    }
}
