//! The report Lambda (EventBridge schedule): configuration and clients once, then the handler.

use ecites_aws::{AwsConfig, ClientOptions, Config};
use ecites_report::ReportFunction;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecites_aws::telemetry::init_tracing();
    let config = Config::exchange_from_env()?;
    let aws = AwsConfig::load(ClientOptions::default()).await;
    let function = ReportFunction::new(&config, &aws.clients());
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        function.handle(event)
    }))
    .await
}
