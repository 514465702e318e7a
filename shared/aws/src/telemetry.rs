//! Logs and metrics: `tracing` (JSON in Lambda as its `LoggingConfig` asks, compact text
//! elsewhere) and CloudWatch Embedded
//! Metric Format lines, which CloudWatch turns into metrics without an agent or an API call.

use serde_json::{json, Map, Value};
use tracing_subscriber::EnvFilter;

/// Initialises logging once, following the Lambda runtime's conventions (those of
/// `lambda_runtime::tracing::init_default_subscriber`, which the function's `LoggingConfig`
/// drives): JSON lines when `AWS_LAMBDA_LOG_FORMAT` is `JSON`, text otherwise; the level from
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG` (default `info`). Unlike the runtime's, the JSON
/// lines carry the current span (the SQS message id goes into every line of a record), and a
/// second call keeps the first subscriber instead of panicking.
pub fn init_tracing() {
    init_tracing_with_default("info");
}

/// Like [`init_tracing`], with another level when neither `AWS_LAMBDA_LOG_LEVEL` nor
/// `RUST_LOG` is set (the local tools default to `warn` so their own output stays readable).
pub fn init_tracing_with_default(default_level: &str) {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .filter(|level| !level.trim().is_empty())
        .map(|level| level.to_ascii_lowercase());
    let filter = match level {
        Some(level) => EnvFilter::new(level),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let result = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.compact().try_init()
    };
    // Already initialised (tests, the local runner): keep the first subscriber.
    let _ = result;
}

/// The metric namespace of the exchange.
pub const METRIC_NAMESPACE: &str = "ecites";

/// The variable that names the deployment's stack (the template sets it to `AWS::StackName`),
/// so two stacks in one account, staging and production, never share a metric.
pub const STACK_VARIABLE: &str = "ECITES_STACK";

/// One EMF log line with count metrics for a function of a stack, e.g.
/// `emf_line("ingest", Some("ecites-prod"), &[("PermitsIngested", 3.0)], now_ms)`. The
/// metrics' dimensions are `Stack` and `Function`, or `Function` alone outside a stack.
pub fn emf_line(
    function: &str,
    stack: Option<&str>,
    metrics: &[(&str, f64)],
    timestamp_ms: i64,
) -> String {
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
        .collect();
    let mut document = Map::new();
    document.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [if stack.is_some() { vec!["Stack", "Function"] } else { vec!["Function"] }],
                "Metrics": definitions,
            }],
        }),
    );
    document.insert("Function".into(), json!(function));
    if let Some(stack) = stack {
        document.insert("Stack".into(), json!(stack));
    }
    for (name, value) in metrics {
        document.insert((*name).to_owned(), json!(value));
    }
    Value::Object(document).to_string()
}

/// Emits one EMF line (see [`emf_line`]) where CloudWatch reads it: on stdout inside Lambda
/// (`AWS_LAMBDA_FUNCTION_NAME` is set there), and as a `debug` log event of target `emf`
/// elsewhere, so local tools and demos print their own sentences, not metric JSON.
pub fn emit_emf(function: &str, metrics: &[(&str, f64)], timestamp_ms: i64) {
    let stack = std::env::var(STACK_VARIABLE)
        .ok()
        .filter(|stack| !stack.trim().is_empty());
    let line = emf_line(function, stack.as_deref(), metrics, timestamp_ms);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        println!("{line}");
    } else {
        tracing::debug!(target: "emf", "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_lines_declare_every_metric() {
        let line = emf_line(
            "ingest",
            None,
            &[("PermitsIngested", 2.0), ("PermitsRejected", 1.0)],
            1,
        );
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["PermitsIngested"], 2.0);
        assert_eq!(
            value["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"],
            "PermitsRejected"
        );
    }

    #[test]
    fn a_stacks_metrics_carry_its_name_so_two_stacks_never_share_a_metric() {
        let line = emf_line(
            "forward",
            Some("ecites-staging"),
            &[("DeliveriesFailed", 1.0)],
            1,
        );
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Stack", "Function"]])
        );
        assert_eq!(value["Stack"], "ecites-staging");
        assert_eq!(value["Function"], "forward");
        let local = emf_line("forward", None, &[("DeliveriesFailed", 1.0)], 1);
        let value: Value = serde_json::from_str(&local).unwrap();
        assert_eq!(
            value["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"]])
        );
        assert!(value.get("Stack").is_none());
    }
}
