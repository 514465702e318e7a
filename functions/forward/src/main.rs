//! The forward Lambda: configuration, clients and signing key once, then the handler.

use ecites_aws::{ClientOptions, Clients};
use ecites_forward::{ForwardFunction, ForwardSettings};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecites_aws::telemetry::init_tracing();
    let config = ecites_aws::exchange_config::exchange_config_from_env()?;
    let settings = ForwardSettings::from_env()?;
    let options = ClientOptions::default();
    let clients = Clients::from_config(&config, &options).await;
    let function = ForwardFunction::from_env(&config, &clients, &options, settings).await?;
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        function.handle(event)
    }))
    .await
}
