//! The webhook Lambda (SQS webhook queue): signs and POSTs notifications to subscribers.

use ecites_aws::notify::NotifyClients;
use ecites_aws::{AwsConfig, ClientOptions};
use ecites_notify::{NotifyConfig, WebhookFunction};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecites_aws::telemetry::init_tracing();
    let config = NotifyConfig::from_env()?;
    let aws = AwsConfig::load(ClientOptions::default()).await;
    let (clients, notify) = (aws.clients(), NotifyClients::from_aws(&aws));
    let function = WebhookFunction::new(&config, &clients, &notify);
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        function.handle(event)
    }))
    .await
}
