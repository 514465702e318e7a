//! Serves a receive function on a loopback HTTP port the way its front door in
//! infra/template.yaml would ([`Front`]): by default the API Gateway REST API with Lambda proxy
//! integration (each HTTP request becomes an `ApiGatewayProxyRequest` event, payload format
//! 1.0, stage `v1`; routes `/`, `/uses`, `/verify`, `/query`, `/headers`, `/acknowledge` and
//! `/epix`, any method; any other path answered 403
//! by the gateway itself), or the optional Lambda Function URL (a `LambdaFunctionUrlRequest`,
//! payload format 2.0, body in base64). The same handler the Lambda runs is called, and its
//! response (`ApiGatewayProxyResponse` or `LambdaFunctionUrlResponse`, as `lambda_http` writes
//! it for that event) is written back.
//!
//! Mutual TLS on the REST API's custom domain is emulated by
//! [`FrontDoorServer::start_mutual_tls`]: TLS with a truststore, and the verified client
//! certificate in `requestContext.identity.clientCert` as API Gateway passes it (what the EPIX
//! endpoint identifies its caller by). Not emulated: stage throttling and WAF.
//!
//! For tests and the demo the server can also play an unhealthy partner ([`Mode`]): answer a
//! fixed status, answer too late, or drop the connection, and then recover.

use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
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

/// Largest request body the loopback server reads (Lambda caps synchronous payloads at 6 MB; a
/// bit more is read so the handler's own limit answers 413 with a refusal body).
pub const SERVER_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// The REST API's stage (infra/template.yaml, `ReceiveApiStage`).
pub const REST_API_STAGE: &str = "v1";

/// The REST API's resources (infra/template.yaml: `/`, `/uses`, `/verify`, `/query`,
/// `/headers`, `/acknowledge`, `/epix`, method ANY).
pub const REST_API_ROUTES: [&str; 7] = [
    "/",
    "/uses",
    "/verify",
    "/query",
    "/headers",
    "/acknowledge",
    "/epix",
];

/// The client certificate the front door's mutual TLS verified, kept on the request (an
/// extension) for the event's `requestContext.identity.clientCert`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedClientCertificate {
    /// The subject, RFC 4514 form (`C=XB, CN=xb-ma`), as API Gateway's `subjectDN`.
    pub subject_dn: String,
    /// The issuer, same form.
    pub issuer_dn: String,
    /// The serial number, hex.
    pub serial_number: String,
    /// The certificate, PEM.
    pub pem: String,
    /// Validity start and end, as API Gateway writes them (`May 28 12:30:02 2019 GMT`).
    pub validity: (String, String),
}

impl VerifiedClientCertificate {
    /// Reads the fields API Gateway passes from a certificate's DER.
    pub fn from_der(der: &[u8]) -> anyhow::Result<Self> {
        let (_, certificate) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| anyhow::anyhow!("client certificate: {e}"))?;
        let when = |t: x509_parser::time::ASN1Time| {
            chrono::DateTime::from_timestamp(t.timestamp(), 0)
                .map(|at| at.format("%b %e %H:%M:%S %Y GMT").to_string())
                .unwrap_or_default()
        };
        Ok(VerifiedClientCertificate {
            subject_dn: certificate.subject().to_string(),
            issuer_dn: certificate.issuer().to_string(),
            serial_number: certificate.raw_serial_as_string(),
            pem: format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                B64.encode(der)
            ),
            validity: (
                when(certificate.validity().not_before),
                when(certificate.validity().not_after),
            ),
        })
    }
}

/// Which front of the template the loopback server plays: the event shape the function gets
/// and the response shape it writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Front {
    /// The API Gateway REST API (the template's front door): payload format 1.0.
    #[default]
    RestApi,
    /// The Lambda Function URL (the template's `ReceiveFunctionUrl` option): payload format 2.0.
    FunctionUrl,
}

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
    /// Flaps, in a fixed cycle of ten requests: the 2nd answers 503, the 5th 429 with
    /// `Retry-After: 1`, the 8th is handled by the function and then the connection is closed
    /// without its answer (the partner stored the permit, the caller saw no acknowledgement);
    /// the others are handled normally. [`FrontDoorServer::faulted`] counts the faults.
    Flapping,
}

/// What [`Mode::Flapping`] does with the `n`th request (from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flap {
    Healthy,
    Unavailable,
    RateLimited,
    AnswerLost,
}

fn flap(n: u64) -> Flap {
    match n % 10 {
        1 => Flap::Unavailable,
        4 => Flap::RateLimited,
        7 => Flap::AnswerLost,
        _ => Flap::Healthy,
    }
}

/// What a front door calls with an event (the JSON Lambda would pass, of the front's shape) and
/// which answers the JSON response the function writes: the receive function in process, or a
/// packaged `bootstrap` behind the local Runtime API ([`crate::packaged`]).
#[async_trait::async_trait]
pub trait FrontFunction: Send + Sync {
    /// Handles one request event as the Lambda would.
    async fn call(
        &self,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, lambda_runtime::Error>;
}

/// In process, the event goes through `lambda_http`'s own reading of it (as in the Lambda) and
/// the handler's response back into the response `lambda_http` writes for that event's origin.
#[async_trait::async_trait]
impl FrontFunction for ReceiveFunction {
    async fn call(
        &self,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        let text = serde_json::to_string(&event)?;
        let origin =
            serde_json::from_str::<lambda_http::request::LambdaRequest>(&text)?.request_origin();
        let request = lambda_http::request::from_str(&text)?;
        let response = self.handle(request).await?;
        Ok(lambda_response(&origin, response)?)
    }
}

/// The response `lambda_http` writes for a handler's response, by the event's origin (its
/// `LambdaResponse::from_response`, which it does not export): a REST API response carries
/// its headers in `multiValueHeaders` (API Gateway would merge `headers` into them), a
/// Function URL response in `headers`; a binary body is base64.
pub fn lambda_response(
    origin: &lambda_http::request::RequestOrigin,
    response: lambda_http::Response<lambda_http::Body>,
) -> Result<serde_json::Value, serde_json::Error> {
    let (parts, body) = response.into_parts();
    let (body, is_base64_encoded) = match body {
        lambda_http::Body::Text(text) => (Some(text), false),
        lambda_http::Body::Binary(bytes) => (Some(B64.encode(bytes)), true),
        _ => (None, false),
    };
    let status_code = i64::from(parts.status.as_u16());
    match origin {
        lambda_http::request::RequestOrigin::ApiGatewayV1 => {
            let mut out = ApiGatewayProxyResponse::default();
            out.status_code = status_code;
            out.multi_value_headers = parts.headers;
            out.body = body.map(aws_lambda_events::encodings::Body::Text);
            out.is_base64_encoded = is_base64_encoded;
            serde_json::to_value(out)
        }
        _ => {
            let mut out = LambdaFunctionUrlResponse::default();
            out.status_code = status_code;
            out.headers = parts.headers;
            out.body = body;
            out.is_base64_encoded = is_base64_encoded;
            serde_json::to_value(out)
        }
    }
}

struct Shared {
    function: Arc<dyn FrontFunction>,
    front: Front,
    mode: Mutex<Mode>,
    requests: AtomicU64,
    faulted: AtomicU64,
}

/// A running loopback front door; stops when dropped.
pub struct FrontDoorServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    /// With mutual TLS: the server authority's PEM file (clients trust it).
    ca_pem: Option<std::path::PathBuf>,
}

impl Drop for FrontDoorServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FrontDoorServer {
    /// Serves the receive `function` behind the REST API on a free port of 127.0.0.1.
    pub async fn start(function: Arc<ReceiveFunction>) -> anyhow::Result<Self> {
        Self::start_on(function, 0, Front::default()).await
    }

    /// Serves any [`FrontFunction`] behind `front` on a free port of 127.0.0.1.
    pub async fn start_with(
        function: Arc<dyn FrontFunction>,
        front: Front,
    ) -> anyhow::Result<Self> {
        Self::start_on(function, 0, front).await
    }

    /// Serves `function` behind `front` on `port` of 127.0.0.1 (0: a free one), so a hand-run
    /// stack can give its partners a URL that stays the same from run to run.
    pub async fn start_on(
        function: Arc<dyn FrontFunction>,
        port: u16,
        front: Front,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| anyhow::anyhow!("binding 127.0.0.1:{port}: {e}"))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            function,
            front,
            mode: Mutex::new(Mode::Healthy),
            requests: AtomicU64::new(0),
            faulted: AtomicU64::new(0),
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
        Ok(FrontDoorServer {
            addr,
            shared,
            task,
            ca_pem: None,
        })
    }

    /// Serves `function` behind the REST API on a custom domain with mutual TLS, on a free
    /// port of 127.0.0.1: the handshake refuses a client without a certificate signed by
    /// `clients` (the domain's truststore), and each request's event carries the verified
    /// certificate in `requestContext.identity.clientCert`. The server's own certificate is
    /// for `localhost`, from an authority whose PEM is written into `dir` ([`Self::ca_pem`]).
    pub async fn start_mutual_tls(
        function: Arc<dyn FrontFunction>,
        clients: &super::tls_front::ClientAuthority,
        dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let (config, ca_pem, _) = super::tls_front::server_config(dir, Some(clients))?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            function,
            front: Front::RestApi,
            mode: Mutex::new(Mode::Healthy),
            requests: AtomicU64::new(0),
            faulted: AtomicU64::new(0),
        });
        let accept_shared = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let shared = accept_shared.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A refused handshake (no certificate, or one the truststore does not
                    // sign) ends the connection, as API Gateway's does.
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let certificate = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .and_then(|der| VerifiedClientCertificate::from_der(der).ok());
                    let service = service_fn(move |mut request: Request<Incoming>| {
                        let shared = shared.clone();
                        if let Some(certificate) = certificate.clone() {
                            request.extensions_mut().insert(certificate);
                        }
                        async move { serve(shared, peer, request).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(FrontDoorServer {
            addr,
            shared,
            task,
            ca_pem: Some(ca_pem),
        })
    }

    /// With mutual TLS, the PEM file of the authority of the server's certificate.
    pub fn ca_pem(&self) -> Option<&std::path::Path> {
        self.ca_pem.as_deref()
    }

    /// The front it plays.
    pub fn front(&self) -> Front {
        self.shared.front
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL partners POST to (the server's root, as a custom domain maps the stage at its
    /// root).
    pub fn url(&self) -> String {
        match self.ca_pem {
            Some(_) => format!("https://localhost:{}/", self.addr.port()),
            None => format!("http://{}/", self.addr),
        }
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

    /// Requests [`Mode::Flapping`] has answered with a fault so far (503, 429 or a lost answer).
    pub fn faulted(&self) -> u64 {
        self.shared.faulted.load(Ordering::Relaxed)
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

/// The request headers as a REST API event carries them: `headers` with the last value of
/// each header, `multiValueHeaders` with every value in order (API Gateway's payload format
/// 1.0; `lambda_http` then gives the handler the last value of a repeated header). Values that
/// are not visible ASCII are left out.
pub fn rest_api_headers(
    headers: &hyper::HeaderMap,
) -> (
    serde_json::Map<String, serde_json::Value>,
    serde_json::Map<String, serde_json::Value>,
) {
    let mut single = serde_json::Map::new();
    let mut multi = serde_json::Map::new();
    for name in headers.keys() {
        let values: Vec<serde_json::Value> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| serde_json::Value::String(v.to_owned()))
            .collect();
        if let Some(last) = values.last() {
            single.insert(name.as_str().to_owned(), last.clone());
            multi.insert(name.as_str().to_owned(), serde_json::Value::Array(values));
        }
    }
    (single, multi)
}

/// The REST API resource a path matches ([`REST_API_ROUTES`]), or `None` (API Gateway then
/// answers 403 itself).
pub fn rest_api_resource(path: &str) -> Option<&'static str> {
    REST_API_ROUTES.into_iter().find(|route| *route == path)
}

/// The event API Gateway builds for a REST API request with Lambda proxy integration (payload
/// format 1.0) on `resource` of stage [`REST_API_STAGE`]: `path` as the client sent it (a
/// custom domain maps the stage at its root), `requestContext.path` with the stage, the query
/// both single- and multi-valued, the body as text when it is UTF-8, else in base64.
pub fn rest_api_event(
    parts: &hyper::http::request::Parts,
    peer: SocketAddr,
    body: &[u8],
    resource: &str,
) -> serde_json::Value {
    let now = chrono::Utc::now();
    let (headers, multi_value_headers) = rest_api_headers(&parts.headers);
    let mut query = serde_json::Map::new();
    let mut multi_query = serde_json::Map::new();
    for (name, value) in url_pairs(parts.uri.query().unwrap_or("")) {
        query.insert(name.clone(), serde_json::Value::String(value.clone()));
        if let serde_json::Value::Array(values) = multi_query
            .entry(name)
            .or_insert_with(|| serde_json::Value::Array(Vec::new()))
        {
            values.push(serde_json::Value::String(value));
        }
    }
    // API Gateway sends null, not {}, when the request has no query.
    let or_null = |map: serde_json::Map<String, serde_json::Value>| {
        if map.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::Value::Object(map)
        }
    };
    let (query, multi_query) = (or_null(query), or_null(multi_query));
    let (body, is_base64_encoded) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (B64.encode(body), true),
    };
    let path = parts.uri.path();
    let user_agent = parts
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut identity = serde_json::json!({
        "sourceIp": peer.ip().to_string(),
        "userAgent": user_agent,
    });
    if let Some(certificate) = parts.extensions.get::<VerifiedClientCertificate>() {
        identity["clientCert"] = serde_json::json!({
            "clientCertPem": certificate.pem,
            "subjectDN": certificate.subject_dn,
            "issuerDN": certificate.issuer_dn,
            "serialNumber": certificate.serial_number,
            "validity": {
                "notBefore": certificate.validity.0,
                "notAfter": certificate.validity.1,
            },
        });
    }
    serde_json::json!({
        "resource": resource,
        "path": path,
        "httpMethod": parts.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi_value_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": resource,
            "stage": REST_API_STAGE,
            "path": format!("/{REST_API_STAGE}{path}"),
            "httpMethod": parts.method.as_str(),
            "domainName": "127.0.0.1",
            "domainPrefix": "127",
            "requestId": uuid::Uuid::new_v4().to_string(),
            "extendedRequestId": uuid::Uuid::new_v4().to_string(),
            "protocol": "HTTP/1.1",
            "requestTime": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "requestTimeEpoch": now.timestamp_millis(),
            "identity": identity,
        },
        "body": body,
        "isBase64Encoded": is_base64_encoded,
    })
}

/// `name=value` pairs of a query string, percent-decoded (`+` is a space).
fn url_pairs(query: &str) -> Vec<(String, String)> {
    fn decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                    match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                        Some(byte) => {
                            out.push(byte);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                byte => out.push(byte),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
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
    let n = shared.requests.fetch_add(1, Ordering::Relaxed);
    let mode = shared.mode.lock().map(|m| *m).unwrap_or(Mode::Healthy);
    let flapped = match mode {
        Mode::Flapping => flap(n),
        _ => Flap::Healthy,
    };
    if flapped != Flap::Healthy {
        shared.faulted.fetch_add(1, Ordering::Relaxed);
    }
    let mode = match flapped {
        Flap::Unavailable => Mode::Status(503),
        Flap::RateLimited => Mode::RateLimited(1),
        _ => mode,
    };
    match mode {
        Mode::Healthy | Mode::Flapping => {}
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
    let event = match front_event(shared.front, &parts, peer, &body) {
        Ok(event) => event,
        Err(answer) => return Ok(*answer),
    };
    let result = shared.function.call(event).await;
    if flapped == Flap::AnswerLost {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "handled, then the connection dropped before the answer (simulated)",
        ));
    }
    Ok(match result {
        Ok(answer) => match http_response(shared.front, answer) {
            Ok(response) => response,
            Err(error) => plain(502, &format!("malformed Lambda proxy response: {error}")),
        },
        // A handler error: API Gateway answers 502 with its JSON message, a Function URL 502.
        Err(_) => match shared.front {
            Front::RestApi => plain(502, r#"{"message": "Internal server error"}"#),
            Front::FunctionUrl => plain(502, "Internal Server Error"),
        },
    })
}

/// The event of `front` for a request, checked against its `aws_lambda_events` type (the type
/// `lambda_http` reads), or the answer the front gives without calling the function.
pub fn front_event(
    front: Front,
    parts: &hyper::http::request::Parts,
    peer: SocketAddr,
    body: &[u8],
) -> Result<serde_json::Value, Box<Response<Full<Bytes>>>> {
    let bad = |error: serde_json::Error| Box::new(plain(500, &format!("bad event: {error}")));
    match front {
        Front::RestApi => {
            let Some(resource) = rest_api_resource(parts.uri.path()) else {
                let mut answer = plain(403, r#"{"message":"Missing Authentication Token"}"#);
                answer.headers_mut().insert(
                    "x-amzn-errortype",
                    hyper::header::HeaderValue::from_static("MissingAuthenticationTokenException"),
                );
                return Err(Box::new(answer));
            };
            let event = rest_api_event(parts, peer, body, resource);
            serde_json::from_value::<ApiGatewayProxyRequest>(event.clone()).map_err(bad)?;
            Ok(event)
        }
        Front::FunctionUrl => {
            let event = function_url_event(parts, peer, body);
            serde_json::from_value::<LambdaFunctionUrlRequest>(event.clone()).map_err(bad)?;
            Ok(event)
        }
    }
}

/// The HTTP response the front makes of the function's response: status, headers (a REST API
/// response's `headers` and `multiValueHeaders` together, as API Gateway merges them) and body
/// (decoded when base64).
pub fn http_response(
    front: Front,
    answer: serde_json::Value,
) -> Result<Response<Full<Bytes>>, serde_json::Error> {
    let (status, headers, body, base64) = match front {
        Front::RestApi => {
            let answer: ApiGatewayProxyResponse = serde_json::from_value(answer)?;
            let mut headers = answer.multi_value_headers;
            for (name, value) in answer.headers.iter() {
                if !headers.get_all(name).iter().any(|v| v == value) {
                    headers.append(name.clone(), value.clone());
                }
            }
            let body = match answer.body {
                Some(aws_lambda_events::encodings::Body::Text(text)) => text.into_bytes(),
                Some(aws_lambda_events::encodings::Body::Binary(bytes)) => bytes,
                _ => Vec::new(),
            };
            (answer.status_code, headers, body, answer.is_base64_encoded)
        }
        Front::FunctionUrl => {
            let answer: LambdaFunctionUrlResponse = serde_json::from_value(answer)?;
            let body = answer.body.map(String::into_bytes).unwrap_or_default();
            (
                answer.status_code,
                answer.headers,
                body,
                answer.is_base64_encoded,
            )
        }
    };
    let body = if base64 {
        B64.decode(&body).unwrap_or_default()
    } else {
        body
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(u16::try_from(status).unwrap_or(500))
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    *response.headers_mut() = headers;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: ([u8; 4], u16) = ([127, 0, 0, 1], 40000);

    #[test]
    fn flapping_faults_three_requests_in_ten_one_of_each_kind() {
        let cycle: Vec<Flap> = (0..10).map(flap).collect();
        let count = |kind| cycle.iter().filter(|f| **f == kind).count();
        assert_eq!(count(Flap::Unavailable), 1);
        assert_eq!(count(Flap::RateLimited), 1);
        assert_eq!(count(Flap::AnswerLost), 1);
        assert_eq!(count(Flap::Healthy), 7);
        assert_eq!(flap(17), Flap::AnswerLost, "the cycle repeats");
    }

    /// The receive function on clients that can reach nothing (an unused loopback port): the
    /// requests below are answered before any AWS call.
    async fn offline_receive() -> ReceiveFunction {
        let config = ecites_aws::Config {
            country: "XB".parse().unwrap(),
            bucket: "bucket".into(),
            table: "table".into(),
            deliveries_queue_url: String::new(),
            partners_key: "config/partners.json".into(),
            max_object_bytes: 4 * 1024 * 1024,
        };
        let aws = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions {
            emulator_credentials: true,
            endpoint_url: Some("http://127.0.0.1:9".into()),
            max_attempts: Some(1),
            ..Default::default()
        })
        .await;
        ReceiveFunction::new(&config, &aws.clients())
    }

    fn request(method: &str, uri: &str, body: &[u8]) -> (hyper::http::request::Parts, Vec<u8>) {
        let (parts, ()) = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .header("x-ecites-key-id", "XA-1")
            .body(())
            .unwrap()
            .into_parts();
        (parts, body.to_vec())
    }

    async fn through(
        front: Front,
        function: &dyn FrontFunction,
        method: &str,
        uri: &str,
        body: &[u8],
    ) -> (u16, hyper::HeaderMap, serde_json::Value) {
        let (parts, body) = request(method, uri, body);
        let event = front_event(front, &parts, SocketAddr::from(PEER), &body).unwrap();
        let answer = function.call(event).await.unwrap();
        let response = http_response(front, answer).unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_rest_api_event_reaches_the_receive_handler_and_its_answer_maps_back() {
        let receive = offline_receive().await;
        // Not an envelope: refused as unreadable, before the directory or the ledger.
        let (status, headers, body) =
            through(Front::RestApi, &receive, "POST", "/", b"not an envelope").await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(body["code"], "NOT_READABLE", "{body}");
        // The handler routes /uses behind the stage (lambda_http gives it /v1/uses) and answers
        // another method than POST with the documented 405.
        let (status, _, body) = through(Front::RestApi, &receive, "GET", "/uses", b"").await;
        assert_eq!(status, 405, "{body}");
        // The same handler behind the Function URL option answers the same.
        let (status, headers, body) = through(
            Front::FunctionUrl,
            &receive,
            "POST",
            "/",
            b"not an envelope",
        )
        .await;
        assert_eq!((status, &body["code"]), (400, &"NOT_READABLE".into()));
        assert_eq!(headers["content-type"], "application/json");
    }

    #[test]
    fn the_rest_api_event_is_payload_format_1_0_on_stage_v1() {
        let (mut parts, body) = request("POST", "/verify?a=1&a=2&b=x%20y", b"{\"k\":1}");
        parts
            .headers
            .append("x-ecites-key-id", "XA-2".parse().unwrap());
        let event = front_event(Front::RestApi, &parts, SocketAddr::from(PEER), &body).unwrap();
        let typed: ApiGatewayProxyRequest = serde_json::from_value(event.clone()).unwrap();
        assert_eq!(typed.http_method, "POST");
        assert_eq!(typed.resource.as_deref(), Some("/verify"));
        assert_eq!(typed.path.as_deref(), Some("/verify"));
        assert_eq!(typed.request_context.stage.as_deref(), Some(REST_API_STAGE));
        assert_eq!(typed.request_context.path.as_deref(), Some("/v1/verify"));
        assert_eq!(
            typed.request_context.identity.source_ip.as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(typed.body.as_deref(), Some("{\"k\":1}"));
        assert!(!typed.is_base64_encoded);
        // A repeated header: every value in multiValueHeaders, the last in headers.
        assert_eq!(event["headers"]["x-ecites-key-id"], "XA-2");
        assert_eq!(
            event["multiValueHeaders"]["x-ecites-key-id"],
            serde_json::json!(["XA-1", "XA-2"])
        );
        assert_eq!(
            event["multiValueQueryStringParameters"]["a"],
            serde_json::json!(["1", "2"])
        );
        assert_eq!(event["queryStringParameters"]["b"], "x y");
        // What the handler is given: lambda_http reads it as a REST API request, the stage in
        // the path.
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        assert_eq!(request.uri().path(), "/v1/verify");
        assert_eq!(request.body().as_ref(), b"{\"k\":1}");
        // A body that is not UTF-8 travels in base64.
        let (parts, _) = request_parts("POST", "/");
        let event =
            front_event(Front::RestApi, &parts, SocketAddr::from(PEER), &[0xff, 0]).unwrap();
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], B64.encode([0xff, 0]));
    }

    fn request_parts(method: &str, uri: &str) -> (hyper::http::request::Parts, ()) {
        hyper::Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .unwrap()
            .into_parts()
    }

    #[test]
    fn a_path_outside_the_api_is_answered_by_the_gateway_without_an_event() {
        let (parts, _) = request_parts("POST", "/admin");
        let answer = front_event(Front::RestApi, &parts, SocketAddr::from(PEER), b"").unwrap_err();
        assert_eq!(answer.status(), 403);
        assert_eq!(
            answer.headers()["x-amzn-errortype"],
            "MissingAuthenticationTokenException"
        );
        // A Function URL passes every path to the function.
        assert!(front_event(Front::FunctionUrl, &parts, SocketAddr::from(PEER), b"").is_ok());
    }

    #[test]
    fn a_rest_api_response_maps_back_with_its_headers_from_both_maps() {
        let answer = serde_json::json!({
            "statusCode": 202,
            "headers": {"x-single": "a"},
            "multiValueHeaders": {"content-type": ["application/json"], "x-multi": ["b", "c"]},
            "body": B64.encode(b"{\"ok\":true}"),
            "isBase64Encoded": true,
        });
        let response = http_response(Front::RestApi, answer).unwrap();
        assert_eq!(response.status(), 202);
        let headers = response.headers();
        assert_eq!(headers["x-single"], "a");
        assert_eq!(headers["content-type"], "application/json");
        let multi: Vec<_> = headers.get_all("x-multi").iter().collect();
        assert_eq!(multi, ["b", "c"]);
    }

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
