//! A webhook subscriber on loopback for tests and the demo: a tiny HTTP/1.1 server on
//! 127.0.0.1 that records every request and answers with a configurable status (503 plays a
//! subscriber that is down).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct ReceivedRequest {
    /// The request path.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

/// A running receiver (stops when dropped).
pub struct WebhookReceiver {
    addr: SocketAddr,
    status: Arc<AtomicU16>,
    received: Arc<Mutex<Vec<ReceivedRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const MAX_REQUEST: usize = 1024 * 1024;

async fn serve(
    mut stream: TcpStream,
    status: Arc<AtomicU16>,
    received: Arc<Mutex<Vec<ReceivedRequest>>>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > MAX_REQUEST {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST);
    let mut body = buffer[header_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    if let Ok(mut list) = received.lock() {
        list.push(ReceivedRequest {
            path,
            headers,
            body,
        });
    }
    let code = status.load(Ordering::SeqCst);
    let response =
        format!("HTTP/1.1 {code} Status\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

impl WebhookReceiver {
    /// Starts a receiver on a free port of 127.0.0.1 answering `status`.
    pub async fn start(status: u16) -> std::io::Result<WebhookReceiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let status = Arc::new(AtomicU16::new(status));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (status.clone(), received.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (s, r) = (s.clone(), r.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, s, r).await;
                });
            }
        });
        Ok(WebhookReceiver {
            addr,
            status,
            received,
            task,
        })
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Changes the status it answers.
    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.received.lock().map(|l| l.clone()).unwrap_or_default()
    }
}
