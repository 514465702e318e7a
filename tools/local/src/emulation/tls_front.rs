//! TLS termination on loopback: a partner endpoint reached as `https://localhost:<port>/` with a
//! certificate from a throw-away certificate authority, in front of a plain loopback server.
//!
//! Partners are reached over HTTPS in production; this lets the smoke test send the packaged
//! forward binary through a real TLS handshake (rustls, certificate and host name checked)
//! instead of plain loopback HTTP. The binary is told to trust the authority the way any
//! deployment is: `SSL_CERT_FILE`, which the native root store of `hyper-rustls` reads.

use anyhow::Context as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// A running TLS front; stops when dropped.
pub struct TlsFront {
    addr: SocketAddr,
    ca_pem: PathBuf,
    ca_der: CertificateDer<'static>,
    refusals: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A partner's mutual-TLS requirement: the authority whose client certificates the front
/// accepts (its truststore), which also issues them.
pub struct ClientAuthority {
    key: rcgen::KeyPair,
    certificate: rcgen::Certificate,
}

/// A throw-away self-signed certificate authority named `name`: its key and certificate.
fn authority(name: &str) -> anyhow::Result<(rcgen::KeyPair, rcgen::Certificate)> {
    let key = rcgen::KeyPair::generate().with_context(|| format!("{name} key"))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let certificate = params.self_signed(&key)?;
    Ok((key, certificate))
}

impl ClientAuthority {
    /// A throw-away authority for client certificates.
    pub fn new() -> anyhow::Result<Self> {
        let (key, certificate) = authority("ecites-local client authority")?;
        Ok(ClientAuthority { key, certificate })
    }

    /// A client certificate for `name` it signed: (PEM chain, leaf first; PEM PKCS#8 key),
    /// what the client certificate secret holds.
    pub fn issue(&self, name: &str) -> anyhow::Result<(String, String)> {
        self.issue_in(name, None)
    }

    /// As [`ClientAuthority::issue`], with the subject's country (`C=`): how an EPIX caller
    /// is identified.
    pub fn issue_in(&self, name: &str, country: Option<&str>) -> anyhow::Result<(String, String)> {
        let key = rcgen::KeyPair::generate().context("client key")?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        if let Some(country) = country {
            params
                .distinguished_name
                .push(rcgen::DnType::CountryName, country);
        }
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let leaf = params.signed_by(&key, &self.certificate, &self.key)?;
        Ok((
            format!("{}{}", leaf.pem(), self.certificate.pem()),
            key.serialize_pem(),
        ))
    }
}

/// A rustls server configuration for `localhost` with a certificate from a throw-away
/// authority (its PEM written into `dir`), requiring client certificates signed by `clients`
/// when given: (configuration, the authority's PEM file, its DER).
pub fn server_config(
    dir: &Path,
    clients: Option<&ClientAuthority>,
) -> anyhow::Result<(rustls::ServerConfig, PathBuf, CertificateDer<'static>)> {
    let (ca_key, ca) = authority("ecites-local test authority")?;
    let leaf_key = rcgen::KeyPair::generate().context("server key")?;
    let leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key)?;

    let ca_pem = dir.join("ecites-local-ca.pem");
    std::fs::write(&ca_pem, ca.pem())?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match clients {
        None => builder.with_no_client_auth(),
        Some(clients) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(clients.certificate.der().clone())?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(
        vec![leaf.der().clone(), ca.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    )?;
    Ok((config, ca_pem, ca.der().clone()))
}

impl TlsFront {
    /// Makes an authority and a `localhost` certificate it signs, writes the authority's PEM
    /// into `dir`, and forwards every TLS connection on a free port to `upstream`.
    pub async fn start(upstream: SocketAddr, dir: &Path) -> anyhow::Result<TlsFront> {
        Self::start_with(upstream, dir, None).await
    }

    /// As [`TlsFront::start`], but a connection whose client presents no certificate signed
    /// by `clients` is refused in the handshake (mutual TLS, as API Gateway does with a
    /// truststore).
    pub async fn start_requiring_client_certificates(
        upstream: SocketAddr,
        dir: &Path,
        clients: &ClientAuthority,
    ) -> anyhow::Result<TlsFront> {
        Self::start_with(upstream, dir, Some(clients)).await
    }

    async fn start_with(
        upstream: SocketAddr,
        dir: &Path,
        clients: Option<&ClientAuthority>,
    ) -> anyhow::Result<TlsFront> {
        let (config, ca_pem, ca) = server_config(dir, clients)?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let refusals = Arc::new(Mutex::new(Vec::new()));
        let seen = refusals.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    // A failed handshake (an untrusting client, a missing client
                    // certificate) ends the connection; the front keeps its reason.
                    let mut tls = match acceptor.accept(stream).await {
                        Ok(tls) => tls,
                        Err(refused) => {
                            if let Ok(mut refusals) = seen.lock() {
                                refusals.push(refused.to_string());
                            }
                            return;
                        }
                    };
                    let Ok(mut plain) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Ok(TlsFront {
            addr,
            ca_pem,
            ca_der: ca,
            refusals,
            task,
        })
    }

    /// `https://localhost:<port>/`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}/", self.addr.port())
    }

    /// The authority's certificate (PEM file): what `SSL_CERT_FILE` points at.
    pub fn ca_pem(&self) -> &Path {
        &self.ca_pem
    }

    /// Why the front refused each handshake it refused so far, in order (rustls's words:
    /// "peer sent no certificates" for a client without a certificate). The client cannot
    /// always tell: under TLS 1.3 the server refuses after the client's last handshake
    /// message, and the client may see only a closed connection.
    pub fn refusals(&self) -> Vec<String> {
        self.refusals
            .lock()
            .map(|refusals| refusals.clone())
            .unwrap_or_default()
    }

    /// The authority's certificate (DER), for clients built in process.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 64];
                    let n = stream.read(&mut buffer).await.unwrap_or(0);
                    let _ = stream.write_all(&buffer[..n]).await;
                });
            }
        });
        addr
    }

    fn client(roots: rustls::RootCertStore) -> tokio_rustls::TlsConnector {
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }

    #[tokio::test]
    async fn a_client_trusting_the_authority_reaches_the_upstream_through_tls() {
        let dir = tempfile::tempdir().unwrap();
        let front = TlsFront::start(echo_server().await, dir.path())
            .await
            .unwrap();
        assert!(std::fs::read_to_string(front.ca_pem())
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----"));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(front.ca_der().clone()).unwrap();
        let tcp = TcpStream::connect(front.addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = client(roots).connect(name, tcp).await.unwrap();
        tls.write_all(b"ping").await.unwrap();
        let mut answer = [0u8; 4];
        tls.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"ping");
    }

    #[tokio::test]
    async fn a_client_not_trusting_the_authority_fails_the_handshake() {
        let dir = tempfile::tempdir().unwrap();
        let front = TlsFront::start(echo_server().await, dir.path())
            .await
            .unwrap();
        let tcp = TcpStream::connect(front.addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let result = client(rustls::RootCertStore::empty())
            .connect(name, tcp)
            .await;
        assert!(result.is_err(), "an unknown authority must be refused");
    }
}
