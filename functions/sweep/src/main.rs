//! The sweep Lambda (EventBridge schedule): configuration, window and clients once, then the
//! handler.

use ecites_aws::{AwsConfig, ClientOptions, Config, SweepSettings};
use ecites_sweep::SweepFunction;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecites_aws::telemetry::init_tracing();
    let config = Config::exchange_from_env()?;
    let window = ecites_aws::sweep::window_from_settings(SweepSettings::from_env()?)?;
    let aws = AwsConfig::load(ClientOptions::default()).await;
    let function = SweepFunction::new(&config, &aws.clients(), window);
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        function.handle(event)
    }))
    .await
}
