//! The MA's Ed25519 signing key, kept in Secrets Manager (the stack's: JSON `{"key_id",
//! "private_key"}`) or SSM Parameter Store (a `SecureString` holding the base64 32-byte seed),
//! read once per execution environment, by forward on its first batch with a delivery. Never
//! logged: errors name the secret or parameter, not its value.

#[cfg(any(feature = "ssm", feature = "secretsmanager"))]
use crate::config::{AwsConfig, ClientOptions};
#[cfg(any(feature = "ssm", feature = "secretsmanager"))]
use crate::errors::classify;
use ecites_exchange::protocol::SigningIdentity;
#[cfg(any(feature = "ssm", feature = "secretsmanager"))]
use ecites_exchange::Error;

/// An SSM client with an SDK configuration of its own (tests and local tools: see
/// [`crate::Clients::new`]); functions take [`AwsConfig::ssm`] from their one load.
#[cfg(feature = "ssm")]
pub async fn ssm_client(
    endpoint_url: Option<&str>,
    region: &str,
    options: &ClientOptions,
) -> aws_sdk_ssm::Client {
    AwsConfig::load(options.clone().at(endpoint_url, region))
        .await
        .ssm()
}

#[cfg(feature = "ssm")]
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

#[cfg(feature = "ssm")]
/// Stores a signing key's seed as a `SecureString` (setup, demo and tests), replacing any key
/// already there.
pub async fn store_signing_identity(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    identity: &SigningIdentity,
) -> Result<(), Error> {
    put_signing_identity(ssm, name, identity, true).await
}

#[cfg(feature = "ssm")]
/// Stores a signing key's seed as a `SecureString`. Unless `overwrite`, an existing parameter
/// is left alone and the answer is a permanent error saying so (`ecites partners keygen`
/// without `--force`: replacing the key would leave every partner with a public key that no
/// longer verifies anything we sign).
pub async fn put_signing_identity(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    identity: &SigningIdentity,
    overwrite: bool,
) -> Result<(), Error> {
    let result = ssm
        .put_parameter()
        .name(name)
        .value(identity.seed_base64())
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(overwrite)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_parameter_already_exists()) =>
        {
            Err(Error::permanent(
                "ssm:PutParameter",
                format!(
                    "{name} already holds a signing key: refusing to replace it (partners \
                     verify with its public key); use --force to replace it"
                ),
            ))
        }
        Err(error) => Err(classify("ssm:PutParameter", error)),
    }
}

/// A Secrets Manager client with an SDK configuration of its own (tests and local tools);
/// functions take [`AwsConfig::secrets_manager`] from their one load.
#[cfg(feature = "secretsmanager")]
pub async fn secrets_client(
    endpoint_url: Option<&str>,
    region: &str,
    options: &ClientOptions,
) -> aws_sdk_secretsmanager::Client {
    AwsConfig::load(options.clone().at(endpoint_url, region))
        .await
        .secrets_manager()
}

/// The signing key held in a secret's string: either JSON
/// `{"key_id": "XA-2026-1", "private_key": "<base64 seed>"}` (the key id travels with the key,
/// so rotating is one secret update) or the bare base64 seed with `default_key_id`.
pub fn identity_from_secret(
    secret: &str,
    default_key_id: Option<&str>,
) -> Result<SigningIdentity, String> {
    #[derive(serde::Deserialize)]
    struct Stored {
        key_id: String,
        private_key: String,
    }
    let trimmed = secret.trim();
    if trimmed.starts_with('{') {
        let stored: Stored = serde_json::from_str(trimmed)
            .map_err(|_| "the secret is JSON but not {\"key_id\", \"private_key\"}".to_owned())?;
        return SigningIdentity::from_base64_seed(&stored.key_id, &stored.private_key)
            .map_err(|why| why.to_string());
    }
    let key_id = default_key_id
        .ok_or_else(|| "the secret holds a bare key: set ECITES_SIGNING_KEY_ID".to_owned())?;
    SigningIdentity::from_base64_seed(key_id, trimmed).map_err(|why| why.to_string())
}

#[cfg(feature = "secretsmanager")]
/// Reads the signing key from the Secrets Manager secret `name` (see [`identity_from_secret`]):
/// its version labelled `AWSCURRENT`, asked for by name although it is GetSecretValue's default,
/// because a rotation depends on it: `ecites partners keygen --rotate` puts the new key as
/// `AWSPENDING`, which must not be used until `ecites partners promote` moves `AWSCURRENT`.
pub async fn load_signing_identity_from_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    name: &str,
    default_key_id: Option<&str>,
) -> Result<SigningIdentity, Error> {
    let output = secrets
        .get_secret_value()
        .secret_id(name)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .map_err(|e| classify("secretsmanager:GetSecretValue", e))?;
    let value = output.secret_string().ok_or_else(|| {
        Error::permanent(
            "secretsmanager:GetSecretValue",
            format!("{name} has no string"),
        )
    })?;
    identity_from_secret(value, default_key_id)
        .map_err(|why| Error::permanent("signing key", format!("secret {name}: {why}")))
}

#[cfg(feature = "secretsmanager")]
/// Stores a signing key as a JSON secret (setup, demo and tests).
pub async fn store_signing_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    name: &str,
    identity: &SigningIdentity,
) -> Result<(), Error> {
    let value =
        serde_json::json!({"key_id": identity.key_id, "private_key": identity.seed_base64()})
            .to_string();
    secrets
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .map_err(|e| classify("secretsmanager:CreateSecret", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_holds_json_with_its_key_id_or_a_bare_seed() {
        let key = SigningIdentity::generate("XA-2026-1").unwrap();
        let json = serde_json::json!({"key_id": "XA-2026-1", "private_key": key.seed_base64()})
            .to_string();
        let from_json = identity_from_secret(&json, None).unwrap();
        assert_eq!(from_json.key_id, "XA-2026-1");
        assert_eq!(from_json.public_key_base64(), key.public_key_base64());
        let bare = identity_from_secret(&key.seed_base64(), Some("K")).unwrap();
        assert_eq!(bare.key_id, "K");
        assert!(identity_from_secret(&key.seed_base64(), None).is_err());
        let error = identity_from_secret("{\"nope\": 1}", None).unwrap_err();
        assert!(!error.contains(&key.seed_base64()));
    }
}
