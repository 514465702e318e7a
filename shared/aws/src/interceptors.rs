//! SDK interceptors: a counter of AWS requests per operation (for the bench and for checking
//! the request budget per permit) and a fault injector (for tests: moto never throttles).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Counts the HTTP requests sent to AWS, per `service:Operation` (retries count as requests).
///
/// Cloning shares the counts, so one counter can be attached to every client.
#[derive(Clone, Debug, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl RequestCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts so far, by `service:Operation`.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The total number of requests so far.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    /// Back to zero.
    pub fn reset(&self) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.clear();
        }
    }
}

fn operation_name(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map(|m| format!("{}:{}", m.service(), m.name()))
        .unwrap_or_else(|| "unknown".to_owned())
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = operation_name(cfg);
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(name).or_default() += 1;
        }
        Ok(())
    }
}

/// Replaces the responses of one DynamoDB operation with an error (throttling or 5xx), a number
/// of times.
///
/// moto never throttles, so tests use this to prove that throttling ends up in
/// `batchItemFailures` rather than in an acknowledged, lost message.
#[derive(Clone, Debug)]
pub struct FaultInjector {
    operation: String,
    remaining: Arc<Mutex<u64>>,
    status: u16,
    error_type: &'static str,
    message: &'static str,
}

impl FaultInjector {
    /// Throttles the next `times` responses of `operation` (the operation name, e.g.
    /// `TransactWriteItems`).
    pub fn throttle(operation: &str, times: u64) -> Self {
        FaultInjector {
            operation: operation.to_owned(),
            remaining: Arc::new(Mutex::new(times)),
            status: 400,
            error_type: "ThrottlingException",
            message: "Rate of requests exceeds the allowed throughput (injected)",
        }
    }

    /// Answers the next `times` requests of a DynamoDB `operation` with HTTP 500
    /// `InternalServerError`.
    pub fn server_error(operation: &str, times: u64) -> Self {
        FaultInjector {
            status: 500,
            error_type: "InternalServerError",
            message: "Internal server error (injected)",
            ..FaultInjector::throttle(operation, times)
        }
    }

    /// How many throttles are left to inject.
    pub fn remaining(&self) -> u64 {
        self.remaining.lock().map(|r| *r).unwrap_or(0)
    }
}

impl Intercept for FaultInjector {
    fn name(&self) -> &'static str {
        "FaultInjector"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        if metadata.name() != self.operation {
            return Ok(());
        }
        let mut remaining = self
            .remaining
            .lock()
            .map_err(|_| "poisoned fault injector")?;
        if *remaining == 0 {
            return Ok(());
        }
        *remaining -= 1;
        let body = serde_json::json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{}", self.error_type),
            "message": self.message,
        })
        .to_string();
        let response = context.response_mut();
        *response.status_mut() = StatusCode::try_from(self.status)?;
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", self.error_type);
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        response.headers_mut().remove("content-length");
        response.headers_mut().remove("x-amz-crc32");
        *response.body_mut() = SdkBody::from(body);
        Ok(())
    }
}
