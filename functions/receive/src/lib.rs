//! The receive Lambda's handler (a Function URL event in, a Function URL response out), in a
//! library so that the Lambda binary, the local runner's loopback server and the tests call the
//! very same code. The protocol and every check live in [`ecites_exchange::receive`].

#![warn(missing_docs)]

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ecites_aws::{Clients, Config, DynamoLedger, S3BlobStore};
use ecites_aws::{S3PartnerDirectory, S3SpeciesChecklist};
use ecites_exchange::protocol::{RefusalCode, MAX_BODY_BYTES};
use ecites_exchange::receive::{receive_message, Answer, ReceiveServices, ReceiveSettings};
use ecites_exchange::receive_use::{
    receive_use, receive_verify, UseReceiveServices, USES_PATH, VERIFY_PATH,
};
use ecites_exchange::{Clock, SystemClock};
use lambda_runtime::LambdaEvent;
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
            ledger: DynamoLedger::new(
                clients.dynamodb.clone(),
                &config.table,
                Arc::new(SystemClock),
            ),
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
            settings: ReceiveSettings {
                own_country: config.country,
                max_body_bytes: MAX_BODY_BYTES,
            },
        }
    }

    /// The ledger (for tests).
    pub fn ledger(&self) -> &DynamoLedger {
        &self.ledger
    }

    /// Handles one request.
    pub async fn handle(
        &self,
        event: LambdaEvent<LambdaFunctionUrlRequest>,
    ) -> Result<LambdaFunctionUrlResponse, lambda_runtime::Error> {
        let request = event.payload;
        let method = request
            .request_context
            .http
            .method
            .clone()
            .unwrap_or_default();
        let body = match (&request.body, request.is_base64_encoded) {
            (None, _) => Vec::new(),
            (Some(text), false) => text.as_bytes().to_vec(),
            (Some(text), true) => match B64.decode(text.as_bytes()) {
                Ok(bytes) => bytes,
                Err(_) => {
                    return Ok(response(&refusal_answer(
                        RefusalCode::NotReadable,
                        "the body is not valid base64",
                    )))
                }
            },
        };
        let headers = request.headers;
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let services = ReceiveServices {
            blobs: &self.blobs,
            ledger: &self.ledger,
            partners: &self.partners,
            species: &self.species,
            uses: &self.ledger,
            clock: self.clock.as_ref(),
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
        };
        let path = request.raw_path.as_deref().unwrap_or("/");
        let answer = if path.ends_with(USES_PATH) {
            receive_use(uses, &self.settings, &method, &header, &body).await
        } else if path.ends_with(VERIFY_PATH) {
            receive_verify(uses, &self.settings, &method, &header, &body).await
        } else {
            receive_message(services, &self.settings, &method, &header, &body).await
        };
        Ok(response(&answer))
    }
}

fn refusal_answer(code: RefusalCode, message: &str) -> Answer {
    Answer {
        status: code.http_status(),
        body: serde_json::to_string(&ecites_exchange::protocol::Refusal::new(code, message))
            .unwrap_or_default(),
    }
}

/// The Function URL response for an answer: a JSON body, never base64.
pub fn response(answer: &Answer) -> LambdaFunctionUrlResponse {
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = i64::from(answer.status);
    response.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response.body = Some(answer.body.clone());
    response.is_base64_encoded = false;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_the_function_url_response_lambda_reads() {
        let answer = Answer {
            status: 401,
            body: "{\"code\":\"UNAUTHENTICATED\"}".into(),
        };
        assert_eq!(
            serde_json::to_value(response(&answer)).unwrap(),
            serde_json::json!({
                "statusCode": 401,
                "headers": {"content-type": "application/json"},
                "body": answer.body,
                "isBase64Encoded": false,
                "cookies": [],
            })
        );
    }
}
