//! A partner MA that only offers EPIX Connect's country-adapter interface, played on loopback:
//! it answers `GetNonFinalCitesCertificate` with EPIX's own recorded answer, byte for byte
//! (`shared/domain/tests/fixtures/epix/`, MIT, UNEP-WCMC), and can answer a fault, garbage, or
//! too late instead ([`EpixMode`]). It keeps every request it was sent, for tests to read what
//! our client asked (a `ConfirmQuantities` with its positions).
//!
//! The recorded permit is XA's re-export certificate `XA000000` to XB: the MA pulling it plays
//! XB.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// EPIX Connect's recorded v2 answer to `GetNonFinalCitesCertificate`.
pub const EPIX_V2_ANSWER: &[u8] = include_bytes!(
    "../../../../shared/domain/tests/fixtures/epix/v2-get-non-final-cites-certificate.xml"
);

/// EPIX Connect's recorded toolkit v1 answer (`CBFShip`) to the same operation.
pub const EPIX_V1_ANSWER: &[u8] = include_bytes!(
    "../../../../shared/domain/tests/fixtures/epix/v1-get-non-final-cites-certificate.xml"
);

/// The permit number of the recorded answers.
pub const EPIX_PERMIT_NUMBER: &str = "XA000000";

/// How the partner answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EpixMode {
    /// The recorded answer, byte for byte, to the certificate operations; a
    /// `ConfirmQuantitiesResponse` to `ConfirmQuantities`.
    Recorded,
    /// As [`EpixMode::Recorded`], with the toolkit v1 answer.
    RecordedV1,
    /// A SOAP fault with this `faultcode` (`Client`, `Server`) and `faultstring`.
    Fault(String, String),
    /// HTTP 200 with a body that is not XML.
    Garbage,
    /// The recorded answer after this long (callers time out).
    Slow(Duration),
}

/// One request the partner was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpixRequest {
    /// The `SOAPAction` header.
    pub soap_action: String,
    /// The body.
    pub body: String,
}

struct Shared {
    mode: Mutex<EpixMode>,
    requests: Mutex<Vec<EpixRequest>>,
}

/// A running partner; stops when dropped.
pub struct EpixPartner {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for EpixPartner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EpixPartner {
    /// Starts on a free port of 127.0.0.1, answering as `mode`.
    pub async fn start(mode: EpixMode) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            requests: Mutex::new(Vec::new()),
        });
        let accept = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = accept.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| serve(request, shared.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(EpixPartner { addr, shared, task })
    }

    /// The service's URL.
    pub fn url(&self) -> String {
        format!("http://{}/cites/soap", self.addr)
    }

    /// Answers as `mode` from now on.
    pub fn set_mode(&self, mode: EpixMode) {
        if let Ok(mut current) = self.shared.mode.lock() {
            *current = mode;
        }
    }

    /// The requests so far, oldest first.
    pub fn requests(&self) -> Vec<EpixRequest> {
        self.shared
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

fn answer(status: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    response
}

async fn serve(
    request: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let soap_action = request
        .headers()
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    let body = match Limited::new(request.into_body(), 1024 * 1024)
        .collect()
        .await
    {
        Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        Err(_) => return Ok(answer(413, Vec::new())),
    };
    if let Ok(mut requests) = shared.requests.lock() {
        requests.push(EpixRequest {
            soap_action: soap_action.clone(),
            body,
        });
    }
    let mode = shared
        .mode
        .lock()
        .map(|m| m.clone())
        .unwrap_or(EpixMode::Recorded);
    let recorded = |answer_bytes: &'static [u8]| {
        if soap_action == "urn:ConfirmQuantities" {
            answer(
                200,
                b"<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:v2=\"urn:CitesDataExchange/v2/\"><soapenv:Body><v2:ConfirmQuantitiesResponse><Confirmed>true</Confirmed></v2:ConfirmQuantitiesResponse></soapenv:Body></soapenv:Envelope>".to_vec(),
            )
        } else {
            answer(200, answer_bytes.to_vec())
        }
    };
    Ok(match mode {
        EpixMode::Recorded => recorded(EPIX_V2_ANSWER),
        EpixMode::RecordedV1 => recorded(EPIX_V1_ANSWER),
        EpixMode::Fault(code, string) => answer(
            500,
            format!(
                "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{string}</faultstring></soap:Fault></soap:Body></soap:Envelope>"
            )
            .into_bytes(),
        ),
        EpixMode::Garbage => answer(200, b"Service Temporarily Unavailable".to_vec()),
        EpixMode::Slow(delay) => {
            tokio::time::sleep(delay).await;
            recorded(EPIX_V2_ANSWER)
        }
    })
}
