//! A webhook subscriber on loopback for tests and the demo: an HTTP/1.1 server (hyper) on
//! 127.0.0.1 that records every request and answers with a configurable status (503 plays a
//! subscriber that is down).

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

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

/// The largest body it reads (a larger one is answered 413 and not recorded).
const MAX_REQUEST: usize = 1024 * 1024;

/// Records one request and answers the configured status with an empty body.
async fn serve(
    request: Request<Incoming>,
    status: Arc<AtomicU16>,
    received: Arc<Mutex<Vec<ReceivedRequest>>>,
) -> Result<Response<Empty<Bytes>>, std::convert::Infallible> {
    let (parts, body) = request.into_parts();
    let code = match Limited::new(body, MAX_REQUEST).collect().await {
        Ok(collected) => {
            let headers = parts
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            if let Ok(mut list) = received.lock() {
                list.push(ReceivedRequest {
                    path: parts.uri.path().to_owned(),
                    headers,
                    body: collected.to_bytes().to_vec(),
                });
            }
            StatusCode::from_u16(status.load(Ordering::SeqCst))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
        Err(_) => StatusCode::PAYLOAD_TOO_LARGE,
    };
    let mut response = Response::new(Empty::new());
    *response.status_mut() = code;
    Ok(response)
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
                    let service = service_fn(move |request| serve(request, s.clone(), r.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Sends raw HTTP/1.1 bytes and returns the status line of the answer.
    async fn post(receiver: &WebhookReceiver, request: Vec<u8>) -> String {
        let mut stream = tokio::net::TcpStream::connect(receiver.addr).await.unwrap();
        stream.write_all(&request).await.unwrap();
        let mut answer = Vec::new();
        let mut chunk = [0u8; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    }

    #[tokio::test]
    async fn it_records_path_lower_cased_headers_and_body_and_answers_the_status_it_is_set_to() {
        let receiver = WebhookReceiver::start(200).await.unwrap();
        let request =
            b"POST /hooks/a HTTP/1.1\r\nHost: x\r\nX-Ecites-Signature: t=1\r\ncontent-length: 5\r\n\r\nhello";
        assert!(post(&receiver, request.to_vec())
            .await
            .starts_with("HTTP/1.1 200"));
        receiver.set_status(503);
        assert!(post(&receiver, request.to_vec())
            .await
            .starts_with("HTTP/1.1 503"));
        let received = receiver.received();
        assert_eq!(received.len(), 2);
        assert_eq!(received[0].path, "/hooks/a");
        assert_eq!(received[0].headers["x-ecites-signature"], "t=1");
        assert_eq!(received[0].body, b"hello");
    }

    #[tokio::test]
    async fn a_body_above_the_limit_is_answered_413_and_not_recorded() {
        let receiver = WebhookReceiver::start(200).await.unwrap();
        let body = vec![b'a'; MAX_REQUEST + 1];
        let mut request = format!(
            "POST / HTTP/1.1\r\nHost: x\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        assert!(post(&receiver, request).await.starts_with("HTTP/1.1 413"));
        assert!(receiver.received().is_empty());
    }
}
