//! Serves a receive function on a loopback HTTP port the way a Lambda Function URL would: each
//! HTTP request becomes the real `LambdaFunctionUrlRequest` event (payload format 2.0, body in
//! base64), the same handler the Lambda runs is called, and its response is written back.
//!
//! For tests and the demo the server can also play an unhealthy partner ([`Mode`]): answer a
//! fixed status, answer too late, or drop the connection, and then recover.

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use ecites_receive::ReceiveFunction;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Largest request body the loopback server reads (Function URLs cap requests at 6 MB; a bit
/// more is read so the handler's own limit answers 413 with a refusal body).
pub const SERVER_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// How the server behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Calls the receive function.
    Healthy,
    /// Answers this status without calling the function (e.g. 500, 503, 429).
    Status(u16),
    /// Waits this long, then calls the function (a slow partner: callers time out).
    Slow(Duration),
    /// Closes the connection without answering (a partner that is down mid-request).
    Drop,
    /// Answers 429 Too Many Requests with `Retry-After` of this many seconds.
    RateLimited(u32),
}

/// What a Function URL calls: the receive function in process, or a packaged `bootstrap`
/// behind the local Runtime API ([`crate::packaged`]).
#[async_trait::async_trait]
pub trait UrlFunction: Send + Sync {
    /// Handles one request event as the Lambda would.
    async fn call(
        &self,
        event: LambdaFunctionUrlRequest,
    ) -> Result<LambdaFunctionUrlResponse, lambda_runtime::Error>;
}

/// In process, the event goes through `lambda_http`'s own reading of it (as in the Lambda) and
/// the handler's response back into the Function URL response `lambda_http` would write.
#[async_trait::async_trait]
impl UrlFunction for ReceiveFunction {
    async fn call(
        &self,
        event: LambdaFunctionUrlRequest,
    ) -> Result<LambdaFunctionUrlResponse, lambda_runtime::Error> {
        let request = lambda_http::request::from_str(&serde_json::to_string(&event)?)?;
        let (parts, body) = self.handle(request).await?.into_parts();
        let mut response = LambdaFunctionUrlResponse::default();
        response.status_code = i64::from(parts.status.as_u16());
        response.headers = parts.headers;
        (response.body, response.is_base64_encoded) = match body {
            lambda_http::Body::Text(text) => (Some(text), false),
            lambda_http::Body::Binary(bytes) => (Some(B64.encode(bytes)), true),
            _ => (None, false),
        };
        Ok(response)
    }
}

struct Shared {
    function: Arc<dyn UrlFunction>,
    mode: Mutex<Mode>,
    requests: AtomicU64,
}

/// A running loopback Function URL; stops when dropped.
pub struct FunctionUrlServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for FunctionUrlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FunctionUrlServer {
    /// Serves the receive `function` on a free port of 127.0.0.1.
    pub async fn start(function: Arc<ReceiveFunction>) -> anyhow::Result<Self> {
        Self::start_on(function, 0).await
    }

    /// Serves any [`UrlFunction`] on a free port of 127.0.0.1.
    pub async fn start_with(function: Arc<dyn UrlFunction>) -> anyhow::Result<Self> {
        Self::start_on(function, 0).await
    }

    /// Serves `function` on `port` of 127.0.0.1 (0: a free one), so a hand-run stack can give
    /// its partners a URL that stays the same from run to run.
    pub async fn start_on(function: Arc<dyn UrlFunction>, port: u16) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| anyhow::anyhow!("binding 127.0.0.1:{port}: {e}"))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            function,
            mode: Mutex::new(Mode::Healthy),
            requests: AtomicU64::new(0),
        });
        let accept_shared = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let shared = accept_shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let shared = shared.clone();
                        async move { serve(shared, peer, request).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(FunctionUrlServer { addr, shared, task })
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL partners POST to.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Changes how the server behaves from now on.
    pub fn set_mode(&self, mode: Mode) {
        if let Ok(mut current) = self.shared.mode.lock() {
            *current = mode;
        }
    }

    /// Requests seen so far (whatever the mode).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }
}

fn plain(status: u16, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response
}

/// The request headers as a Function URL event carries them: names in lower case, and a
/// header sent more than once joined into one value with commas, in order (as Lambda does;
/// keeping only the last would give the function a meaning the sender's other readers never
/// saw). Values that are not visible ASCII are left out.
pub fn event_headers(headers: &hyper::HeaderMap) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for name in headers.keys() {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if !values.is_empty() {
            out.insert(
                name.as_str().to_owned(),
                serde_json::Value::String(values.join(",")),
            );
        }
    }
    out
}

/// The event Lambda builds for a Function URL request (payload format 2.0, the body in
/// base64).
pub fn function_url_event(
    parts: &hyper::http::request::Parts,
    peer: SocketAddr,
    body: &[u8],
) -> serde_json::Value {
    let now = chrono::Utc::now();
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "headers": event_headers(&parts.headers),
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or(""),
            }
        },
        "body": B64.encode(body),
        "isBase64Encoded": true,
    })
}

async fn serve(
    shared: Arc<Shared>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let mode = shared.mode.lock().map(|m| *m).unwrap_or(Mode::Healthy);
    match mode {
        Mode::Healthy => {}
        Mode::Status(status) => {
            let mut response = plain(
                status,
                r#"{"type":"refusal","code":"UNAVAILABLE","message":"partner unavailable (simulated)"}"#,
            );
            if status == 429 {
                response.headers_mut().insert(
                    hyper::header::RETRY_AFTER,
                    hyper::header::HeaderValue::from_static("1"),
                );
            }
            return Ok(response);
        }
        Mode::RateLimited(seconds) => {
            let mut response = plain(
                429,
                r#"{"type":"refusal","code":"UNAVAILABLE","message":"too many requests (simulated)"}"#,
            );
            if let Ok(value) = hyper::header::HeaderValue::from_str(&seconds.to_string()) {
                response
                    .headers_mut()
                    .insert(hyper::header::RETRY_AFTER, value);
            }
            return Ok(response);
        }
        Mode::Slow(delay) => tokio::time::sleep(delay).await,
        Mode::Drop => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "dropped (simulated outage)",
            ))
        }
    }
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, SERVER_BODY_LIMIT).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(plain(
                413,
                r#"{"type":"refusal","code":"TOO_LARGE","message":"request too large"}"#,
            ))
        }
    };
    let event = function_url_event(&parts, peer, &body);
    let event: LambdaFunctionUrlRequest = match serde_json::from_value(event) {
        Ok(event) => event,
        Err(error) => return Ok(plain(500, &format!("bad event: {error}"))),
    };
    let result = shared.function.call(event).await;
    Ok(match result {
        Ok(answer) => {
            let body = match (answer.body, answer.is_base64_encoded) {
                (Some(text), true) => B64.decode(text.as_bytes()).unwrap_or_default(),
                (Some(text), false) => text.into_bytes(),
                (None, _) => Vec::new(),
            };
            let mut response = Response::new(Full::new(Bytes::from(body)));
            *response.status_mut() =
                hyper::StatusCode::from_u16(u16::try_from(answer.status_code).unwrap_or(500))
                    .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
            for (name, value) in answer.headers.iter() {
                response.headers_mut().insert(name.clone(), value.clone());
            }
            response
        }
        // A handler error is a 502 from a Function URL.
        Err(_) => plain(502, "Internal Server Error"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_sent_twice_is_joined_with_commas_as_a_function_url_does() {
        let mut headers = hyper::HeaderMap::new();
        headers.append("x-ecites-key-id", "XA-1".parse().unwrap());
        headers.append("x-ecites-key-id", "XA-2".parse().unwrap());
        headers.append("content-type", "application/json".parse().unwrap());
        let event = event_headers(&headers);
        assert_eq!(event["x-ecites-key-id"], "XA-1,XA-2");
        assert_eq!(event["content-type"], "application/json");
    }
}
