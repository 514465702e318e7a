//! A loopback proxy in front of the emulator that gives every AWS request the round trip of a
//! real network. moto on loopback answers in well under a millisecond, which hides what matters
//! on Lambda: an invocation is billed for its whole duration, and a function that waits on its
//! AWS calls one after the other pays for each round trip (5-30 ms inside an AWS region). The
//! bench of batches and the cost per permit put this proxy between the functions and moto with
//! a fixed latency; set-up and inspection talk to moto directly.
//!
//! The proxy is plain HTTP/1.1 (the SDK's requests to an endpoint override): each request is
//! read whole, held for the latency, sent on to the emulator, and its answer written back. The
//! SigV4 signature is left alone (moto does not check it).
//!
//! It also injects faults ([`FaultPlan`]) at a rate, chosen by a seeded generator so a run can be
//! repeated: each service's own throttling error, 500 and 503 answers, a connection closed before
//! the request reaches the emulator, and the fault that breaks naive idempotency, a request the
//! emulator applied whose answer is lost. This lives in the local tools only: no function binary
//! links it.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the proxy adds to each request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProxyOptions {
    /// Held before each request is sent on (a round trip to an AWS endpoint in the region).
    pub latency: Duration,
    /// Faults to inject, if any.
    pub faults: Option<FaultPlan>,
}

/// A fault injected into one AWS request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// The service's own throttling error, as its protocol writes it (DynamoDB, SSM and Secrets
    /// Manager `ThrottlingException`, SQS `RequestThrottled`, SNS `Throttling`, S3 503
    /// `SlowDown`); the request is not applied.
    Throttle,
    /// HTTP 500 with the service's internal error; not applied.
    ServerError,
    /// HTTP 503 `ServiceUnavailable`; not applied.
    Unavailable,
    /// The connection closed before the request reached the emulator (a reset); not applied.
    Reset,
    /// The emulator applied the request, then the connection closed without its answer: the
    /// write happened and the caller saw an error.
    LostResponse,
    /// No answer for [`TIMEOUT_HOLD`], longer than the local stack's attempt timeout under
    /// faults ([`crate::FAULTED_ATTEMPT_TIMEOUT`]): the SDK gives the attempt up and retries;
    /// the request is never applied.
    Timeout,
}

/// How long a [`Fault::Timeout`] holds a request before closing its connection.
pub const TIMEOUT_HOLD: Duration = Duration::from_secs(3);

impl Fault {
    /// Every kind, in order.
    pub const ALL: [Fault; 6] = [
        Fault::Throttle,
        Fault::ServerError,
        Fault::Unavailable,
        Fault::Reset,
        Fault::LostResponse,
        Fault::Timeout,
    ];

    /// Its name in tables (`throttle`, `500`, `503`, `reset`, `lost response`, `timeout`).
    pub fn name(self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::ServerError => "500",
            Fault::Unavailable => "503",
            Fault::Reset => "reset",
            Fault::LostResponse => "lost response",
            Fault::Timeout => "timeout",
        }
    }
}

/// Which requests get a fault: each with probability `rate`, of a kind drawn from `kinds`,
/// by a generator seeded with `seed` (the same seed and the same requests give the same faults).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    /// Probability of a fault per request, 0 to 1.
    pub rate: f64,
    /// The generator's seed.
    pub seed: u64,
    /// The kinds drawn from (all of [`Fault::ALL`] when empty).
    pub kinds: Vec<Fault>,
}

impl FaultPlan {
    /// Every request answered with the fault `kind` (tests of one fault kind).
    pub fn always(kind: Fault) -> Self {
        FaultPlan {
            rate: 1.0,
            seed: 1,
            kinds: vec![kind],
        }
    }

    /// Every kind at `rate` with `seed`.
    pub fn every_kind(rate: f64, seed: u64) -> Self {
        FaultPlan {
            rate,
            seed,
            kinds: Fault::ALL.to_vec(),
        }
    }
}

/// The faults drawn so far and the generator.
#[derive(Debug)]
struct Injector {
    plan: FaultPlan,
    rng: fastrand::Rng,
    injected: BTreeMap<Fault, u64>,
}

impl Injector {
    fn draw(&mut self) -> Option<Fault> {
        if self.rng.f64() >= self.plan.rate {
            return None;
        }
        let kinds: &[Fault] = if self.plan.kinds.is_empty() {
            &Fault::ALL
        } else {
            &self.plan.kinds
        };
        let fault = kinds[self.rng.usize(..kinds.len())];
        *self.injected.entry(fault).or_default() += 1;
        Some(fault)
    }
}

/// The AWS service a SigV4-signed request is for: the service of its credential scope
/// (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`).
fn signed_service(headers: &hyper::HeaderMap) -> &str {
    headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').nth(3))
        .unwrap_or("")
}

/// The error answer `service` gives for a throttle or an internal error, in its protocol.
fn error_answer(service: &str, fault: Fault) -> Response<Full<Bytes>> {
    let (status, json_code, s3_code, query_code) = match fault {
        Fault::Throttle => (400, "ThrottlingException", "SlowDown", "Throttling"),
        Fault::Unavailable => (
            503,
            "ServiceUnavailable",
            "ServiceUnavailable",
            "ServiceUnavailable",
        ),
        _ => (
            500,
            "InternalServerError",
            "InternalError",
            "InternalFailure",
        ),
    };
    let message = "injected by the local fault proxy";
    let (status, content_type, body) = match service {
        "s3" => (
            // S3 throttles with 503 SlowDown.
            if fault == Fault::Throttle { 503 } else { status },
            "application/xml",
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{s3_code}</Code><Message>{message}</Message><RequestId>injected</RequestId></Error>"),
        ),
        "sns" => (
            status,
            "text/xml",
            format!("<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>{query_code}</Code><Message>{message}</Message></Error><RequestId>injected</RequestId></ErrorResponse>"),
        ),
        "sqs" => {
            let code = if fault == Fault::Throttle { "RequestThrottled" } else { json_code };
            (
                status,
                "application/x-amz-json-1.0",
                format!("{{\"__type\":\"com.amazonaws.sqs#{code}\",\"message\":\"{message}\"}}"),
            )
        }
        "dynamodb" => (
            status,
            "application/x-amz-json-1.0",
            format!("{{\"__type\":\"com.amazonaws.dynamodb.v20120810#{json_code}\",\"message\":\"{message}\"}}"),
        ),
        _ => (
            status,
            "application/x-amz-json-1.1",
            format!("{{\"__type\":\"{json_code}\",\"message\":\"{message}\"}}"),
        ),
    };
    let mut response = plain(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    );
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// A connection closed without an answer.
fn closed() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "connection closed by the local fault proxy",
    )
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct AwsProxy {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Upstream = Client<HttpConnector, Full<Bytes>>;

#[derive(Debug)]
struct Shared {
    upstream: Upstream,
    /// `http://host:port` of the emulator, without a trailing slash.
    base: String,
    latency: Duration,
    injector: Option<Mutex<Injector>>,
    requests: Arc<AtomicU64>,
}

fn plain(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
}

/// Answers one request: a fault, or the emulator's answer after the latency. `Err` closes the
/// connection without an answer.
async fn answer(
    shared: &Shared,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let fault = shared
        .injector
        .as_ref()
        .and_then(|injector| injector.lock().ok()?.draw());
    let service = signed_service(request.headers()).to_owned();
    match fault {
        None => Ok(forward(shared, request).await),
        Some(Fault::Reset) => Err(closed()),
        Some(Fault::Timeout) => {
            tokio::time::sleep(TIMEOUT_HOLD).await;
            Err(closed())
        }
        Some(Fault::LostResponse) => {
            let _applied = forward(shared, request).await;
            Err(closed())
        }
        Some(fault) => {
            if !shared.latency.is_zero() {
                tokio::time::sleep(shared.latency).await;
            }
            Ok(error_answer(&service, fault))
        }
    }
}

async fn forward(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return plain(
                StatusCode::BAD_REQUEST,
                format!("proxy: reading the request: {error}"),
            )
        }
    };
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri: Uri = match format!("{}{path}", shared.base).parse() {
        Ok(uri) => uri,
        Err(error) => {
            return plain(
                StatusCode::BAD_REQUEST,
                format!("proxy: the request's path: {error}"),
            )
        }
    };
    let mut onward = Request::new(Full::new(body));
    *onward.method_mut() = parts.method;
    *onward.uri_mut() = uri;
    *onward.headers_mut() = parts.headers;
    let answer = match shared.upstream.request(onward).await {
        Ok(answer) => answer,
        Err(error) => {
            return plain(
                StatusCode::BAD_GATEWAY,
                format!("proxy: the emulator did not answer: {error}"),
            )
        }
    };
    let (mut parts, body) = answer.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return plain(
                StatusCode::BAD_GATEWAY,
                format!("proxy: reading the emulator's answer: {error}"),
            )
        }
    };
    // The body is whole now: hyper writes its length.
    parts.headers.remove(hyper::header::TRANSFER_ENCODING);
    parts.headers.remove(hyper::header::CONTENT_LENGTH);
    Response::from_parts(parts, Full::new(body))
}

impl AwsProxy {
    /// Starts a proxy on a free loopback port in front of `upstream` (the emulator's
    /// endpoint, `http://127.0.0.1:PORT`).
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(upstream: &str, options: ProxyOptions) -> std::io::Result<AwsProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let shared = Arc::new(Shared {
            upstream: Client::builder(TokioExecutor::new()).build_http(),
            base: upstream.trim_end_matches('/').to_owned(),
            latency: options.latency,
            injector: options.faults.map(|plan| {
                Mutex::new(Injector {
                    rng: fastrand::Rng::with_seed(plan.seed),
                    plan,
                    injected: BTreeMap::new(),
                })
            }),
            requests: requests.clone(),
        });
        let shared_for_counts = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let shared = shared.clone();
                        async move { answer(&shared, request).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(AwsProxy {
            addr,
            requests,
            shared: shared_for_counts,
            task,
        })
    }

    /// The endpoint to give the functions' clients (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests that reached the emulator so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The faults injected so far, by kind.
    pub fn faults_injected(&self) -> BTreeMap<Fault, u64> {
        self.shared
            .injector
            .as_ref()
            .and_then(|injector| injector.lock().ok().map(|i| i.injected.clone()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulation::webhook_receiver::WebhookReceiver;
    use std::time::Instant;

    async fn post(endpoint: &str, path: &str, body: &str) -> (u16, Vec<u8>) {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let request = Request::post(format!("{endpoint}{path}"))
            .header("x-test", "kept")
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let response = client.request(request).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body.to_vec())
    }

    #[tokio::test]
    async fn requests_reach_the_upstream_whole_after_the_latency_and_answers_come_back() {
        let upstream = WebhookReceiver::start(202).await.unwrap();
        let proxy = AwsProxy::start(
            &upstream.url(""),
            ProxyOptions {
                latency: Duration::from_millis(40),
                faults: None,
            },
        )
        .await
        .unwrap();
        let started = Instant::now();
        let (status, _) = post(&proxy.endpoint(), "/queue?Action=Send", "hello").await;
        let elapsed = started.elapsed();
        assert_eq!(status, 202, "the upstream's status comes back");
        assert!(
            elapsed >= Duration::from_millis(40),
            "held for the latency: {elapsed:?}"
        );
        let received = upstream.received();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].path, "/queue");
        assert_eq!(received[0].body, b"hello");
        assert_eq!(
            received[0].headers.get("x-test").map(String::as_str),
            Some("kept")
        );
        assert_eq!(proxy.requests(), 1);
    }

    async fn faulty(kind: Fault) -> (WebhookReceiver, AwsProxy) {
        let upstream = WebhookReceiver::start(200).await.unwrap();
        let options = ProxyOptions {
            latency: Duration::ZERO,
            faults: Some(FaultPlan::always(kind)),
        };
        let proxy = AwsProxy::start(&upstream.url(""), options).await.unwrap();
        (upstream, proxy)
    }

    async fn try_post(endpoint: &str) -> Result<u16, String> {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let request = Request::post(format!("{endpoint}/"))
            .body(Full::new(Bytes::from_static(b"write")))
            .unwrap();
        client
            .request(request)
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn a_reset_closes_the_connection_before_the_request_reaches_the_emulator() {
        let (upstream, proxy) = faulty(Fault::Reset).await;
        assert!(try_post(&proxy.endpoint()).await.is_err());
        assert!(upstream.received().is_empty(), "not applied");
        assert_eq!(proxy.faults_injected()[&Fault::Reset], 1);
    }

    #[tokio::test]
    async fn a_timeout_holds_the_request_without_an_answer_and_never_applies_it() {
        let (upstream, proxy) = faulty(Fault::Timeout).await;
        let started = std::time::Instant::now();
        assert!(try_post(&proxy.endpoint()).await.is_err());
        assert!(started.elapsed() >= TIMEOUT_HOLD, "held");
        assert!(upstream.received().is_empty(), "not applied");
        assert_eq!(proxy.faults_injected()[&Fault::Timeout], 1);
    }

    #[tokio::test]
    async fn a_lost_response_is_applied_by_the_emulator_and_never_answered() {
        let (upstream, proxy) = faulty(Fault::LostResponse).await;
        assert!(try_post(&proxy.endpoint()).await.is_err());
        assert_eq!(upstream.received().len(), 1, "applied");
    }

    #[tokio::test]
    async fn throttles_and_server_errors_are_answered_without_reaching_the_emulator() {
        for (kind, status) in [
            (Fault::Throttle, 400),
            (Fault::ServerError, 500),
            (Fault::Unavailable, 503),
        ] {
            let (upstream, proxy) = faulty(kind).await;
            assert_eq!(try_post(&proxy.endpoint()).await, Ok(status), "{kind:?}");
            assert!(upstream.received().is_empty(), "{kind:?} not applied");
        }
    }

    #[test]
    fn each_service_gets_its_own_throttling_error() {
        let body = |service: &str| {
            let response = error_answer(service, Fault::Throttle);
            let status = response.status().as_u16();
            let bytes = futures::executor::block_on(response.into_body().collect())
                .unwrap()
                .to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        };
        let (status, text) = body("dynamodb");
        assert_eq!(status, 400);
        assert!(
            text.contains("dynamodb.v20120810#ThrottlingException"),
            "{text}"
        );
        let (status, text) = body("s3");
        assert_eq!(status, 503);
        assert!(text.contains("<Code>SlowDown</Code>"), "{text}");
        assert!(body("sqs").1.contains("sqs#RequestThrottled"));
        assert!(body("sns").1.contains("<Code>Throttling</Code>"));
        assert!(body("ssm").1.contains(r#""__type":"ThrottlingException""#));
    }

    #[test]
    fn the_service_is_read_from_the_signature_scope() {
        let mut headers = hyper::HeaderMap::new();
        headers.insert(
            hyper::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=test/20261130/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"
                .parse()
                .unwrap(),
        );
        assert_eq!(signed_service(&headers), "dynamodb");
        assert_eq!(signed_service(&hyper::HeaderMap::new()), "");
    }

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let draws = |seed| {
            let mut injector = Injector {
                plan: FaultPlan::every_kind(0.3, seed),
                rng: fastrand::Rng::with_seed(seed),
                injected: BTreeMap::new(),
            };
            (0..200).map(|_| injector.draw()).collect::<Vec<_>>()
        };
        assert_eq!(draws(42), draws(42));
        assert_ne!(draws(42), draws(43));
        let faults = draws(42).into_iter().flatten().count();
        assert!((30..90).contains(&faults), "about 30 %: {faults} of 200");
    }

    #[tokio::test]
    async fn an_upstream_that_is_down_is_a_bad_gateway() {
        let proxy = AwsProxy::start("http://127.0.0.1:9", ProxyOptions::default())
            .await
            .unwrap();
        let (status, body) = post(&proxy.endpoint(), "/", "x").await;
        assert_eq!(status, 502);
        assert!(String::from_utf8_lossy(&body).contains("did not answer"));
    }
}
