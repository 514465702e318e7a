//! Configuration of the forward and receive functions: the common [`Config`], except that the
//! deliveries queue URL is optional (receive never uses it; forward learns its queue from the
//! event's ARN), so the functions start with the environment the stack template gives them.

use crate::config::{Config, ConfigError, DEFAULT_MAX_OBJECT_BYTES, DEFAULT_PARTNERS_KEY};
use std::env;

/// Reads the configuration; `deliveries_queue_url` is empty when not set.
pub fn exchange_config_from_env() -> Result<Config, ConfigError> {
    if env::var("ECITES_DELIVERIES_QUEUE_URL").is_ok_and(|v| !v.trim().is_empty()) {
        return Config::from_env();
    }
    let required = |name: &str| {
        env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| ConfigError(format!("environment variable {name} is not set")))
    };
    let country_text = required("ECITES_COUNTRY")?;
    Ok(Config {
        country: country_text.trim().parse().map_err(|_| {
            ConfigError(format!(
                "ECITES_COUNTRY={country_text:?} is not an ISO 3166-1 alpha-2 code"
            ))
        })?,
        bucket: required("ECITES_BUCKET")?,
        table: required("ECITES_TABLE")?,
        deliveries_queue_url: String::new(),
        partners_key: env::var("ECITES_PARTNERS_KEY")
            .unwrap_or_else(|_| DEFAULT_PARTNERS_KEY.to_owned()),
        max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
        endpoint_url: env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()),
        region: env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned()),
    })
}

/// The queue URL for a queue ARN (`arn:aws:sqs:<region>:<account>:<name>`), in the form the
/// SQS API accepts in every region.
pub fn queue_url_from_arn(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [_, partition, _, region, account, name] = parts.as_slice() else {
        return None;
    };
    let domain = if partition.ends_with("-cn") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Some(format!("https://sqs.{region}.{domain}/{account}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_come_from_arns() {
        assert_eq!(
            queue_url_from_arn("arn:aws:sqs:eu-west-1:123456789012:ecites-deliveries").as_deref(),
            Some("https://sqs.eu-west-1.amazonaws.com/123456789012/ecites-deliveries")
        );
        assert_eq!(queue_url_from_arn("nonsense"), None);
    }
}
