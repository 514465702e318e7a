//! The forward Lambda: configuration and clients once, then the handler (which reads the
//! signing key on its first batch with a delivery).

use ecites_aws::{AwsConfig, ClientOptions, Config};
use ecites_forward::{ForwardFunction, ForwardSettings};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecites_aws::telemetry::init_tracing();
    let config = Config::exchange_from_env()?;
    let settings = ForwardSettings::from_env()?;
    let aws = AwsConfig::load(ClientOptions::default()).await;
    let function = ForwardFunction::from_env(&config, &aws, settings);
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        function.handle(event)
    }))
    .await
}
