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
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
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
    /// Whether the subscriber kept it (answered 2xx, or was flapping and lost its answer after
    /// keeping it): what its inbox holds.
    pub accepted: bool,
}

/// How the receiver answers: a status, or flapping.
struct Behaviour {
    status: AtomicU16,
    flapping: AtomicBool,
    requests: AtomicU64,
}

/// What a flapping receiver does with its `n`th request (from 0), in a cycle of four: the 2nd
/// is answered 503 and not kept, the 4th kept and then the connection closed before the
/// answer (the sender must retry, the subscriber drops the repeat by its event id).
fn flap(n: u64) -> Option<bool> {
    match n % 4 {
        1 => Some(false),
        3 => Some(true),
        _ => None,
    }
}

/// A running receiver (stops when dropped).
pub struct WebhookReceiver {
    addr: SocketAddr,
    behaviour: Arc<Behaviour>,
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

/// Records one request and answers the configured status with an empty body (or, flapping,
/// as [`flap`] says).
async fn serve(
    request: Request<Incoming>,
    behaviour: Arc<Behaviour>,
    received: Arc<Mutex<Vec<ReceivedRequest>>>,
) -> Result<Response<Empty<Bytes>>, std::io::Error> {
    let (parts, body) = request.into_parts();
    let Ok(collected) = Limited::new(body, MAX_REQUEST).collect().await else {
        let mut response = Response::new(Empty::new());
        *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        return Ok(response);
    };
    let n = behaviour.requests.fetch_add(1, Ordering::SeqCst);
    let flapped = if behaviour.flapping.load(Ordering::SeqCst) {
        flap(n)
    } else {
        None
    };
    let code = match flapped {
        Some(false) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::from_u16(behaviour.status.load(Ordering::SeqCst))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    };
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
            accepted: code.is_success(),
        });
    }
    if flapped == Some(true) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "kept, then the connection dropped before the answer (simulated)",
        ));
    }
    let mut response = Response::new(Empty::new());
    *response.status_mut() = code;
    Ok(response)
}

impl WebhookReceiver {
    /// Starts a receiver on a free port of 127.0.0.1 answering `status`.
    pub async fn start(status: u16) -> std::io::Result<WebhookReceiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let behaviour = Arc::new(Behaviour {
            status: AtomicU16::new(status),
            flapping: AtomicBool::new(false),
            requests: AtomicU64::new(0),
        });
        let received = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (behaviour.clone(), received.clone());
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
            behaviour,
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
        self.behaviour.status.store(status, Ordering::SeqCst);
    }

    /// Flaps from now on (`true`): in every four requests one is answered 503 and not kept, and
    /// one is kept but its answer lost (the connection closed); or stops flapping.
    pub fn set_flapping(&self, flapping: bool) {
        self.behaviour.flapping.store(flapping, Ordering::SeqCst);
    }

    /// What it kept (answered 2xx, or kept before its answer was lost): its inbox.
    pub fn kept(&self) -> Vec<ReceivedRequest> {
        self.received().into_iter().filter(|r| r.accepted).collect()
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
            // A dropped connection ends the answer (empty: no status line).
            let n = stream.read(&mut chunk).await.unwrap_or(0);
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
    async fn flapping_it_refuses_one_request_in_four_and_keeps_another_without_answering() {
        let receiver = WebhookReceiver::start(200).await.unwrap();
        receiver.set_flapping(true);
        let request = b"POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 2\r\n\r\nhi";
        let mut answers = Vec::new();
        for _ in 0..4 {
            answers.push(post(&receiver, request.to_vec()).await);
        }
        assert!(answers[0].starts_with("HTTP/1.1 200"), "{answers:?}");
        assert!(answers[1].starts_with("HTTP/1.1 503"), "{answers:?}");
        assert!(answers[2].starts_with("HTTP/1.1 200"), "{answers:?}");
        assert_eq!(answers[3], "", "the 4th gets no answer: {answers:?}");
        assert_eq!(receiver.received().len(), 4);
        let kept: Vec<bool> = receiver.received().iter().map(|r| r.accepted).collect();
        assert_eq!(kept, [true, false, true, true]);
        assert_eq!(receiver.kept().len(), 3);
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
