//! The receive Lambda's handler (an HTTP request in, an HTTP response out, through `lambda_http`,
//! which reads the API Gateway REST API's payload format 1.0 event, or the optional Function
//! URL's payload format 2.0 event, and writes its response), in a
//! library so that the Lambda binary, the local runner's loopback server and the tests call the
//! very same code. The protocol and every check live in [`ecites_exchange::receive`].

#![warn(missing_docs)]

use ecites_aws::telemetry::emit_emf;
use ecites_aws::{Clients, Config, DynamoLedger, S3BlobStore};
use ecites_aws::{S3PartnerDirectory, S3SpeciesChecklist};
use ecites_exchange::epix::serve::{serve_epix, EpixServices, SoapReply};
use ecites_exchange::epix::EPIX_PATH;
use ecites_exchange::protocol::MAX_BODY_BYTES;
use ecites_exchange::query::{
    receive_acknowledge, receive_headers, receive_query, QueryServices, ACKNOWLEDGE_PATH,
    HEADERS_PATH, QUERY_PATH,
};
use ecites_exchange::receive::{receive_message, Answer, ReceiveServices, ReceiveSettings};
use ecites_exchange::receive_use::{
    receive_use, receive_verify, UseReceiveServices, USES_PATH, VERIFY_PATH,
};
use ecites_exchange::{Clock, SystemClock};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt as _, Response};
use std::sync::Arc;
use std::time::Duration;

/// How long the partner directory (with keys) is cached in a warm function.
pub const DIRECTORY_TTL: Duration = Duration::from_secs(300);

/// The receive function's state, built once per process.
pub struct ReceiveFunction {
    blobs: S3BlobStore,
    ledger: DynamoLedger,
    partners: S3PartnerDirectory,
    species: S3SpeciesChecklist,
    /// The deliveries queue, to tell a foreign permit's issuer of a use an agency posted here
    /// (`ECITES_DELIVERIES_QUEUE_URL`; without it, such uses are recorded here only).
    deliveries: Option<ecites_aws::SqsDeliveryQueue>,
    clock: Arc<dyn Clock>,
    settings: ReceiveSettings,
    /// Pulling over EPIX for a verification of a permit never received
    /// ([`ReceiveFunction::with_epix_pull`]); `None`: verifications read the ledger only.
    epix_pull: Option<EpixPull>,
}

/// What a pull over EPIX calls with: HTTP giving up after EPIX's 5 s, and the client
/// certificates (EPIX callers are known by theirs) from the secret store. The HTTP client is
/// made on the first verification that needs it, not at start: making it loads the TLS roots,
/// which cost every cold start about 3.5 ms for a path few requests take (#20's cold-start goal).
pub struct EpixPull {
    transport: tokio::sync::OnceCell<ecites_aws::http::HyperTransport>,
    timeout: Duration,
    certificates: Option<ecites_aws::client_certificates::SecretClientCertificates>,
}

impl EpixPull {
    /// HTTP giving up on a request after `timeout` (made on first use), presenting the client
    /// certificates the partners' entries name from `certificates` (`None`: an entry naming
    /// one fails its pull, saying so).
    pub fn new(
        timeout: Duration,
        certificates: Option<ecites_aws::client_certificates::SecretClientCertificates>,
    ) -> Self {
        EpixPull {
            transport: tokio::sync::OnceCell::new(),
            timeout,
            certificates,
        }
    }

    /// The HTTP client, made on the first call. Errors: the TLS set-up failing
    /// ([`ecites_exchange::http::HttpError::Setup`]); the next call tries again.
    async fn transport(
        &self,
    ) -> Result<&ecites_aws::http::HyperTransport, ecites_exchange::http::HttpError> {
        self.transport
            .get_or_try_init(|| async {
                ecites_aws::http::HyperTransport::for_partners(self.timeout)
            })
            .await
    }
}

impl ReceiveFunction {
    /// Wires the AWS implementations.
    pub fn new(config: &Config, clients: &Clients) -> Self {
        Self::with_directory_ttl(config, clients, DIRECTORY_TTL)
    }

    /// Wires the AWS implementations with a directory cache of `ttl` (tests use a short one).
    pub fn with_directory_ttl(config: &Config, clients: &Clients, ttl: Duration) -> Self {
        ReceiveFunction {
            blobs: S3BlobStore::new(clients.s3.clone(), &config.bucket),
            ledger: DynamoLedger::on_table(clients.dynamodb.clone(), &config.table),
            partners: S3PartnerDirectory::new(
                clients.s3.clone(),
                &config.bucket,
                &config.partners_key,
                ttl,
            ),
            species: S3SpeciesChecklist::for_deployment(clients.s3.clone(), &config.bucket, ttl),
            deliveries: (!config.deliveries_queue_url.is_empty()).then(|| {
                ecites_aws::SqsDeliveryQueue::new(clients.sqs.clone(), &config.deliveries_queue_url)
            }),
            clock: Arc::new(SystemClock),
            epix_pull: None,
            settings: ReceiveSettings {
                own_country: config.country,
                max_body_bytes: MAX_BODY_BYTES,
            },
        }
    }

    /// Lets a verification of a foreign permit never received pull it first from its issuer
    /// when that is an EPIX partner (`protocol: epix-soap`, docs/epix.md).
    pub fn with_epix_pull(mut self, pull: EpixPull) -> Self {
        self.epix_pull = Some(pull);
        self
    }

    /// Whether the EPIX HTTP client has been made: only the first verification that may pull
    /// makes it ([`EpixPull`]); `false` without EPIX pulls.
    pub fn epix_client_made(&self) -> bool {
        self.epix_pull
            .as_ref()
            .is_some_and(|pull| pull.transport.initialized())
    }

    /// The ledger (for tests).
    pub fn ledger(&self) -> &DynamoLedger {
        &self.ledger
    }

    /// Handles one request: `POST /` a partner's signed envelope, `POST /uses` and
    /// `POST /verify` an agency's message, `POST /query`, `/headers` and `/acknowledge` a
    /// partner's (or, for `/query`, an agency's) pull ([`ecites_exchange::query`]), `POST /epix`
    /// an EPIX Connect SOAP request (`docs/epix.md`). Every refusal is an answer with a status
    /// and a refusal body (a SOAP fault for `/epix`), never an error (an error is a 502 at the
    /// Function URL).
    pub async fn handle(&self, request: Request) -> Result<Response<Body>, lambda_http::Error> {
        if request.uri().path().ends_with(EPIX_PATH) {
            return self.handle_epix(&request).await;
        }
        let method = request.method().as_str();
        let headers = request.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let body: &[u8] = request.body().as_ref();
        let services = ReceiveServices {
            blobs: &self.blobs,
            ledger: &self.ledger,
            partners: &self.partners,
            species: &self.species,
            uses: &self.ledger,
            clock: self.clock.as_ref(),
        };
        let path = request.uri().path();
        // Only a verification may pull over EPIX; its HTTP client is made then, not before.
        let epix_transport = match &self.epix_pull {
            Some(pull) if path.ends_with(VERIFY_PATH) => match pull.transport().await {
                Ok(transport) => Some((pull, transport)),
                Err(error) => {
                    tracing::error!(error = %error, "the EPIX client could not be made: answering 503");
                    let answer = Answer::unavailable(
                        "the receiver could not reach its EPIX partners; retry later",
                    );
                    emit_emf(
                        "receive",
                        &answer_metrics(answer.status),
                        self.clock.now().timestamp_millis(),
                    );
                    return Ok(response(&answer)?);
                }
            },
            _ => None,
        };
        let uses = UseReceiveServices {
            partners: &self.partners,
            claims: &self.ledger,
            uses: &self.ledger,
            species: &self.species,
            queue: self
                .deliveries
                .as_ref()
                .map(|queue| queue as &dyn ecites_exchange::DeliveryQueue),
            clock: self.clock.as_ref(),
            epix: epix_transport.map(|(pull, transport)| {
                ecites_exchange::epix::client::FetchServices {
                    pull: ecites_exchange::epix::client::PullServices {
                        blobs: &self.blobs,
                        inbound: &self.ledger,
                        uses: &self.ledger,
                        clock: self.clock.as_ref(),
                    },
                    partners: &self.partners,
                    ledger: &self.ledger,
                    transport,
                    certificates: pull
                        .certificates
                        .as_ref()
                        .map(|c| c as &dyn ecites_exchange::forward::ClientCertificates),
                }
            }),
        };
        let queries = QueryServices {
            partners: &self.partners,
            claims: &self.ledger,
            ledger: &self.ledger,
            tracker: &self.ledger,
            blobs: &self.blobs,
            clock: self.clock.as_ref(),
        };
        let answer = if path.ends_with(QUERY_PATH) {
            receive_query(queries, &self.settings, method, &header, body).await
        } else if path.ends_with(HEADERS_PATH) {
            receive_headers(queries, &self.settings, method, &header, body).await
        } else if path.ends_with(ACKNOWLEDGE_PATH) {
            receive_acknowledge(queries, &self.settings, method, &header, body).await
        } else if path.ends_with(USES_PATH) {
            receive_use(uses, &self.settings, method, &header, body).await
        } else if path.ends_with(VERIFY_PATH) {
            receive_verify(uses, &self.settings, method, &header, body).await
        } else {
            receive_message(services, &self.settings, method, &header, body).await
        };
        emit_emf(
            "receive",
            &answer_metrics(answer.status),
            self.clock.now().timestamp_millis(),
        );
        Ok(response(&answer)?)
    }
}

impl ReceiveFunction {
    /// `POST /epix`: the caller is who its verified client certificate says
    /// ([`client_certificate_subject`]); the answer is SOAP (`text/xml`).
    async fn handle_epix(&self, request: &Request) -> Result<Response<Body>, lambda_http::Error> {
        let soap_action = request
            .headers()
            .get("soapaction")
            .and_then(|v| v.to_str().ok());
        let services = EpixServices {
            partners: &self.partners,
            ledger: &self.ledger,
            uses: &self.ledger,
            tracker: &self.ledger,
            blobs: &self.blobs,
            clock: self.clock.as_ref(),
        };
        let reply = serve_epix(
            services,
            &self.settings,
            client_certificate_subject(request).as_deref(),
            request.method().as_str(),
            soap_action,
            request.body().as_ref(),
        )
        .await;
        emit_emf(
            "receive",
            &answer_metrics(reply.metric_status()),
            self.clock.now().timestamp_millis(),
        );
        Ok(soap_response(&reply)?)
    }
}

/// The subject of the client certificate API Gateway verified (mutual TLS on the custom
/// domain): `requestContext.identity.clientCert.subjectDN` (REST API) or
/// `requestContext.authentication.clientCert.subjectDN` (HTTP API). `None` without mutual TLS
/// (the Function URL has none). Headers are never read for it: a caller cannot claim an
/// identity.
pub fn client_certificate_subject(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => context
            .identity
            .other
            .get("clientCert")?
            .get("subjectDN")?
            .as_str()
            .map(str::to_owned),
        RequestContext::ApiGatewayV2(context) => context
            .authentication
            .as_ref()?
            .client_cert
            .as_ref()?
            .subject_dn
            .clone(),
        #[allow(unreachable_patterns)] // Other fronts are not compiled in today.
        _ => None,
    }
}

/// The HTTP response of a SOAP reply: its status and `text/xml` body.
pub fn soap_response(reply: &SoapReply) -> Result<Response<Body>, lambda_http::http::Error> {
    Response::builder()
        .status(reply.status)
        .header(
            lambda_http::http::header::CONTENT_TYPE,
            ecites_exchange::epix::CONTENT_TYPE,
        )
        .body(Body::Text(reply.body.clone()))
}

/// The metrics of one answer, for the EMF line every request writes: `RequestsAccepted` (2xx),
/// `RequestsRefused` (4xx: unsigned, forged, replayed, malformed, too large, not for us; the
/// `<stack>-receive-refusals` alarm), `RequestsUnavailable` (5xx: the sender retries).
pub fn answer_metrics(status: u16) -> [(&'static str, f64); 3] {
    let class = |range: std::ops::Range<u16>| f64::from(u8::from(range.contains(&status)));
    [
        ("RequestsAccepted", class(200..300)),
        ("RequestsRefused", class(400..500)),
        ("RequestsUnavailable", class(500..600)),
    ]
}

/// The HTTP response for an answer: its status and JSON body (text, so `lambda_http` never
/// base64-encodes it).
pub fn response(answer: &Answer) -> Result<Response<Body>, lambda_http::http::Error> {
    Response::builder()
        .status(answer.status)
        .header(lambda_http::http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(answer.body.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_answer_counts_in_its_class_and_a_refusal_moves_the_refusals_metric() {
        let count = |status, name| {
            answer_metrics(status)
                .iter()
                .find(|(metric, _)| *metric == name)
                .map(|(_, n)| *n)
                .unwrap()
        };
        for refused in [400, 401, 403, 404, 405, 409, 413, 415, 422, 429] {
            assert_eq!(count(refused, "RequestsRefused"), 1.0, "{refused}");
            assert_eq!(count(refused, "RequestsAccepted"), 0.0, "{refused}");
        }
        assert_eq!(count(200, "RequestsAccepted"), 1.0);
        assert_eq!(count(202, "RequestsRefused"), 0.0);
        assert_eq!(count(503, "RequestsUnavailable"), 1.0);
        assert_eq!(count(503, "RequestsRefused"), 0.0);
    }

    #[test]
    fn an_answer_is_its_status_with_a_json_text_body_never_base64() {
        let answer = Answer {
            status: 401,
            body: "{\"code\":\"UNAUTHENTICATED\"}".into(),
        };
        let response = response(&answer).unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()[lambda_http::http::header::CONTENT_TYPE],
            "application/json"
        );
        // A text body is what lambda_http sends as is (`isBase64Encoded: false`).
        assert_eq!(response.body(), &Body::Text(answer.body.clone()));
    }
}
