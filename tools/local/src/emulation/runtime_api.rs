//! A Lambda Runtime API on a loopback port, so a packaged `bootstrap` runs here exactly as it
//! runs in Lambda: the binary polls `GET /2018-06-01/runtime/invocation/next`, handles the
//! event and posts `.../{request id}/response` (or `/error`, or `/runtime/init/error` when it
//! cannot start). [`RuntimeApi::invoke`] queues an event and waits for the answer.
//!
//! Only what `lambda_runtime` uses is served; the API is documented at
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Largest response a function may post (Lambda's synchronous payload limit).
const RESPONSE_LIMIT: usize = 6 * 1024 * 1024;
const PREFIX: &str = "/2018-06-01/runtime";

/// What a function answered to one invocation.
#[derive(Clone, Debug)]
pub enum Answer {
    /// `POST .../response`: the handler's output.
    Response(Value),
    /// `POST .../error`: the handler failed (`errorType`, `errorMessage` as Lambda reports them).
    Error(Value),
}

struct Pending {
    request_id: String,
    event: Value,
    deadline: Duration,
    answer: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Timeline {
    first_poll: Option<Instant>,
    first_answer: Option<Instant>,
    init_error: Option<String>,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    /// Each invocation handed to the function: who waits for its answer, and when it was
    /// handed over (the start of its billed duration).
    in_flight: Mutex<HashMap<String, (oneshot::Sender<Answer>, Instant)>>,
    /// The invocations' billed duration so far, in ms (each rounded up, as Lambda bills).
    billed_ms: AtomicU64,
    timeline: Mutex<Timeline>,
    init_failed: tokio::sync::Notify,
    function_arn: String,
}

/// A running Runtime API for one function; stops when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    sender: mpsc::UnboundedSender<Pending>,
    next_id: AtomicU64,
    task: JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    /// Serves the API for the function called `name` on a free port of 127.0.0.1.
    pub async fn start(name: &str) -> anyhow::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            billed_ms: AtomicU64::new(0),
            timeline: Mutex::new(Timeline::default()),
            init_failed: tokio::sync::Notify::new(),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
        });
        let accept_shared = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = accept_shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| serve(shared.clone(), request));
                    // The runtime keeps its connection open between polls; errors just end it.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            shared,
            sender,
            next_id: AtomicU64::new(1),
            task,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API` for the function.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues `event` for the function and waits up to `deadline` for its answer. Fails when
    /// the function reported an init error, gave no answer in time, or the server stopped.
    pub async fn invoke(&self, event: Value, deadline: Duration) -> anyhow::Result<Answer> {
        if let Some(error) = self.init_error() {
            anyhow::bail!("the function failed to start: {error}");
        }
        let request_id = format!(
            "00000000-0000-4000-8000-{:012x}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let (answer, answered) = oneshot::channel();
        self.sender
            .send(Pending {
                request_id,
                event,
                deadline,
                answer,
            })
            .map_err(|_| anyhow::anyhow!("the runtime API stopped"))?;
        tokio::select! {
            result = tokio::time::timeout(deadline, answered) => match result {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(_)) => anyhow::bail!("the runtime API stopped"),
                Err(_) => anyhow::bail!("no answer within {deadline:?}"),
            },
            () = self.shared.init_failed.notified() => {
                anyhow::bail!("the function failed to start: {}", self.init_error().unwrap_or_default())
            }
        }
    }

    /// The billed duration of the invocations answered so far: each from the moment the
    /// function took the event (`/next`) to its answer, rounded up to the millisecond, as
    /// Lambda bills it. An event waiting for a busy process is not billed (on Lambda it would
    /// go to another instance).
    pub fn billed_ms(&self) -> u64 {
        self.shared.billed_ms.load(Ordering::Relaxed)
    }

    /// When the function first asked for an event (its initialisation ended), if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.timeline.lock().ok()?.first_poll
    }

    /// When the function first answered an invocation, if it has.
    pub fn first_answer(&self) -> Option<Instant> {
        self.shared.timeline.lock().ok()?.first_answer
    }

    /// What the function reported through `/runtime/init/error`, if it did.
    pub fn init_error(&self) -> Option<String> {
        self.shared.timeline.lock().ok()?.init_error.clone()
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn serve(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Ok(reply(StatusCode::NOT_FOUND, "not a runtime API path"));
    };
    if method == Method::GET && rest == "/invocation/next" {
        return Ok(next(&shared).await);
    }
    if method != Method::POST {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "GET next, POST answers",
        ));
    }
    let body = match Limited::new(request.into_body(), RESPONSE_LIMIT)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(reply(StatusCode::PAYLOAD_TOO_LARGE, "response too large")),
    };
    let parsed = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    if rest == "/init/error" {
        if let Ok(mut timeline) = shared.timeline.lock() {
            timeline.init_error = Some(parsed.to_string());
        }
        shared.init_failed.notify_waiters();
        return Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
    }
    let Some(rest) = rest.strip_prefix("/invocation/") else {
        return Ok(reply(StatusCode::NOT_FOUND, "unknown runtime API path"));
    };
    let (request_id, answer) = match rest.rsplit_once('/') {
        Some((id, "response")) => (id, Answer::Response(parsed)),
        Some((id, "error")) => (id, Answer::Error(parsed)),
        _ => return Ok(reply(StatusCode::NOT_FOUND, "unknown invocation path")),
    };
    let waiter = shared
        .in_flight
        .lock()
        .ok()
        .and_then(|mut in_flight| in_flight.remove(request_id));
    let Some((waiter, handed_at)) = waiter else {
        return Ok(reply(
            StatusCode::BAD_REQUEST,
            "unknown or answered request id",
        ));
    };
    let billed = handed_at.elapsed().as_micros().div_ceil(1000);
    shared
        .billed_ms
        .fetch_add(u64::try_from(billed).unwrap_or(u64::MAX), Ordering::Relaxed);
    if let Ok(mut timeline) = shared.timeline.lock() {
        timeline.first_answer.get_or_insert_with(Instant::now);
    }
    let _ = waiter.send(answer);
    Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#))
}

/// Long-polls for the next queued invocation, as Lambda does.
async fn next(shared: &Shared) -> Response<Full<Bytes>> {
    if let Ok(mut timeline) = shared.timeline.lock() {
        timeline.first_poll.get_or_insert_with(Instant::now);
    }
    let pending = shared.queue.lock().await.recv().await;
    let Some(pending) = pending else {
        return reply(StatusCode::GONE, "the runtime API stopped");
    };
    let deadline_ms = SystemTime::now()
        .checked_add(pending.deadline)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis());
    if let Ok(mut in_flight) = shared.in_flight.lock() {
        in_flight.insert(pending.request_id.clone(), (pending.answer, Instant::now()));
    }
    let mut response = reply(StatusCode::OK, pending.event.to_string());
    let headers = response.headers_mut();
    let pairs = [
        ("lambda-runtime-aws-request-id", pending.request_id),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            shared.function_arn.clone(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
        ),
        ("content-type", "application/json".to_owned()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A minimal runtime client, as `lambda_runtime` behaves: poll next, post the answer.
    async fn one_round(address: String, answer_path: &str, answer: Value) -> Value {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<Bytes>>();
        let next = client
            .get(
                format!("http://{address}{PREFIX}/invocation/next")
                    .parse()
                    .unwrap(),
            )
            .await
            .unwrap();
        let id = next.headers()["lambda-runtime-aws-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(next.headers().contains_key("lambda-runtime-deadline-ms"));
        let event: Value =
            serde_json::from_slice(&next.into_body().collect().await.unwrap().to_bytes()).unwrap();
        let request = Request::post(format!(
            "http://{address}{PREFIX}/invocation/{id}/{answer_path}"
        ))
        .body(Full::new(Bytes::from(answer.to_string())))
        .unwrap();
        let posted = client.request(request).await.unwrap();
        assert_eq!(posted.status(), StatusCode::ACCEPTED);
        event
    }

    #[tokio::test]
    async fn an_invocation_delivers_the_event_and_returns_the_posted_response() {
        let api = RuntimeApi::start("probe").await.unwrap();
        let runtime = tokio::spawn(one_round(api.address(), "response", json!({"ok": true})));
        let answer = api
            .invoke(json!({"Records": []}), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(runtime.await.unwrap(), json!({"Records": []}));
        assert!(matches!(answer, Answer::Response(v) if v == json!({"ok": true})));
        assert!(api.first_poll().unwrap() <= api.first_answer().unwrap());
    }

    #[tokio::test]
    async fn a_posted_error_is_returned_as_an_error_answer() {
        let api = RuntimeApi::start("probe").await.unwrap();
        let body = json!({"errorType": "Boom", "errorMessage": "bad"});
        let runtime = tokio::spawn(one_round(api.address(), "error", body.clone()));
        let answer = api.invoke(json!({}), Duration::from_secs(5)).await.unwrap();
        runtime.await.unwrap();
        assert!(matches!(answer, Answer::Error(v) if v == body));
    }

    /// An event that waited for a busy (here: not yet polling) process is billed from when
    /// the process took it, not from when it was queued.
    #[tokio::test]
    async fn the_billed_duration_starts_when_the_function_takes_the_event() {
        let api = RuntimeApi::start("probe").await.unwrap();
        let address = api.address();
        let runtime = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            one_round(address, "response", json!({})).await
        });
        api.invoke(json!({}), Duration::from_secs(5)).await.unwrap();
        runtime.await.unwrap();
        let billed = api.billed_ms();
        assert!(
            (1..1000).contains(&billed),
            "billed {billed} ms: the second of queueing is not billed"
        );
    }

    #[tokio::test]
    async fn no_runtime_polling_ends_in_a_timeout_not_a_hang() {
        let api = RuntimeApi::start("probe").await.unwrap();
        let result = api.invoke(json!({}), Duration::from_millis(50)).await;
        let error = result.unwrap_err().to_string();
        assert!(error.contains("no answer within"), "{error}");
    }
}
