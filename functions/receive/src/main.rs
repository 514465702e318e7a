//! The receive Lambda (behind a Function URL): configuration and clients once, then the handler.

use ecites_aws::{ClientOptions, Clients};
use ecites_receive::ReceiveFunction;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecites_aws::telemetry::init_tracing();
    let config = ecites_aws::exchange_config::exchange_config_from_env()?;
    let clients = Clients::from_config(&config, &ClientOptions::default()).await;
    let function = ReceiveFunction::new(&config, &clients);
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        function.handle(event)
    }))
    .await
}
