//! The client certificates forward presents to partners whose endpoints require mutual TLS
//! ([`ecites_exchange::forward::ClientCertificates`]), kept in Secrets Manager: one secret per
//! certificate, named in the partner's directory entry (`client_certificate_secret`), holding
//!
//! ```json
//! {"certificate": "-----BEGIN CERTIFICATE-----\n...(leaf first, then intermediates)",
//!  "private_key": "-----BEGIN PRIVATE KEY-----\n..."}
//! ```
//!
//! Each secret is read on first use and its transport (a [`HyperTransport`] presenting it)
//! kept for [`CLIENT_CERTIFICATE_TTL`], so a renewed certificate is picked up by warm functions
//! within that time. Neither the key nor the certificate is ever logged: errors name the secret
//! and what is wrong with it.

use crate::errors::classify;
use crate::http::HyperTransport;
use async_trait::async_trait;
use ecites_exchange::forward::ClientCertificates;
use ecites_exchange::http::HttpTransport;
use ecites_exchange::Error;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a loaded client certificate is used before its secret is read again.
pub const CLIENT_CERTIFICATE_TTL: Duration = Duration::from_secs(15 * 60);

/// Client certificates read from Secrets Manager, cached per secret.
pub struct SecretClientCertificates {
    client: aws_sdk_secretsmanager::Client,
    timeout: Duration,
    cache: tokio::sync::Mutex<HashMap<String, (Instant, Arc<HyperTransport>)>>,
}

impl std::fmt::Debug for SecretClientCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretClientCertificates")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SecretClientCertificates {
    /// Reads secrets with `client`; each transport gives up on a request after `timeout`, as
    /// the partner client without a certificate does.
    pub fn new(client: aws_sdk_secretsmanager::Client, timeout: Duration) -> Self {
        SecretClientCertificates {
            client,
            timeout,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Reads `secret` and builds its transport.
    async fn load(&self, secret: &str) -> Result<HyperTransport, Error> {
        let operation = "secretsmanager:GetSecretValue";
        let output = self
            .client
            .get_secret_value()
            .secret_id(secret)
            .send()
            .await
            .map_err(|e| match classify(operation, e) {
                Error::Transient { message, .. } => {
                    Error::transient(operation, format!("{secret}: {message}"))
                }
                Error::Permanent { message, .. } => {
                    Error::permanent(operation, format!("{secret}: {message}"))
                }
                other => other,
            })?;
        let invalid = |why: &str| {
            Error::permanent(
                "client certificate",
                format!(
                    "secret {secret}: {why} (expected JSON {{\"certificate\": PEM chain, \"private_key\": PEM key}})"
                ),
            )
        };
        let text = output
            .secret_string()
            .ok_or_else(|| invalid("no SecretString"))?;
        // Parsed as a value first: serde's messages may quote the secret's text.
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| invalid("not JSON"))?;
        let field = |name: &str| {
            value
                .get(name)
                .and_then(serde_json::Value::as_str)
                .filter(|text| !text.trim().is_empty())
                .ok_or_else(|| invalid(&format!("no \"{name}\" text")))
        };
        let (certificate, private_key) = (field("certificate")?, field("private_key")?);
        HyperTransport::for_partners_with_client_certificate(self.timeout, certificate, private_key)
            .map_err(|e| invalid(&e.reason()))
    }
}

#[async_trait]
impl ClientCertificates for SecretClientCertificates {
    /// The cached transport of `secret` while younger than [`CLIENT_CERTIFICATE_TTL`], else a
    /// new one from the secret's current value. Errors: see [`ClientCertificates::transport`].
    async fn transport(&self, secret: &str) -> Result<Arc<dyn HttpTransport>, Error> {
        let mut cache = self.cache.lock().await;
        if let Some((loaded, transport)) = cache.get(secret) {
            if loaded.elapsed() < CLIENT_CERTIFICATE_TTL {
                return Ok(transport.clone());
            }
        }
        let transport = Arc::new(self.load(secret).await?);
        tracing::info!(secret, "client certificate loaded");
        cache.insert(secret.to_owned(), (Instant::now(), transport.clone()));
        Ok(transport)
    }
}
