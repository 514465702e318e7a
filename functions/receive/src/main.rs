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
    // A verification of a permit never received pulls it from an EPIX partner first
    // (docs/epix.md): HTTP giving up after EPIX's 5 s (made on the first such verification),
    // client certificates from Secrets Manager.
    let pull = ecites_receive::EpixPull::new(
        ecites_exchange::epix::DEFAULT_TIMEOUT,
        Some(
            ecites_aws::client_certificates::SecretClientCertificates::new(
                aws.secrets_manager(),
                ecites_exchange::epix::DEFAULT_TIMEOUT,
            ),
        ),
    );
    let function = ReceiveFunction::new(&config, &aws.clients()).with_epix_pull(pull);
    let function = &function;
    lambda_http::run(service_fn(move |request: Request| function.handle(request))).await
}
