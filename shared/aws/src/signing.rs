//! The MA's Ed25519 signing key, kept in SSM Parameter Store (a `SecureString` holding the
//! base64 32-byte seed), read once per cold start. Never logged: errors name the parameter,
//! not its value.

use crate::config::ClientOptions;
use crate::errors::classify;
use aws_config::{BehaviorVersion, Region};
use ecites_exchange::protocol::SigningIdentity;
use ecites_exchange::Error;

/// An SSM client built like the other clients (endpoint override, emulator credentials).
pub async fn ssm_client(
    endpoint_url: Option<&str>,
    region: &str,
    options: &ClientOptions,
) -> aws_sdk_ssm::Client {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned()));
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if options.emulator_credentials {
        loader = loader.credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ));
    }
    let shared = loader.load().await;
    let mut builder = aws_sdk_ssm::config::Builder::from(&shared);
    if let Some(counter) = &options.counter {
        builder = builder.interceptor(counter.clone());
    }
    aws_sdk_ssm::Client::from_conf(builder.build())
}

/// Reads the signing key from the `SecureString` parameter `name` (with decryption).
pub async fn load_signing_identity(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    key_id: &str,
) -> Result<SigningIdentity, Error> {
    let output = ssm
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| classify("ssm:GetParameter", e))?;
    let value = output
        .parameter()
        .and_then(|p| p.value())
        .ok_or_else(|| Error::permanent("ssm:GetParameter", format!("{name} has no value")))?;
    SigningIdentity::from_base64_seed(key_id, value)
        .map_err(|why| Error::permanent("signing key", format!("parameter {name}: {why}")))
}

/// Stores a signing key's seed as a `SecureString` (setup, demo and tests).
pub async fn store_signing_identity(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    identity: &SigningIdentity,
) -> Result<(), Error> {
    ssm.put_parameter()
        .name(name)
        .value(identity.seed_base64())
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| classify("ssm:PutParameter", e))?;
    Ok(())
}
