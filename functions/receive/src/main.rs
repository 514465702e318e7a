//! The receive Lambda (behind a Function URL): configuration and clients once, then the handler
//! under `lambda_http`, which turns the Function URL event into an HTTP request and the
//! handler's HTTP response into the Function URL's response.

use ecites_aws::{AwsConfig, ClientOptions, Config};
use ecites_receive::ReceiveFunction;
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecites_aws::telemetry::init_tracing();
    let config = Config::exchange_from_env()?;
    let aws = AwsConfig::load(ClientOptions::default()).await;
    let function = ReceiveFunction::new(&config, &aws.clients());
    let function = &function;
    lambda_http::run(service_fn(move |request: Request| function.handle(request))).await
}
