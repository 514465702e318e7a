//! This MA's signing key: `ecites partners keygen` creates it straight in Secrets Manager (the
//! stack's `SigningKeySecretName`, which forward reads) or in an SSM `SecureString`, and
//! `ecites partners pubkey` / `card` read it back to print the public half. The seed is
//! generated here and sent to AWS over TLS only: it is never printed, logged, written to a
//! file or put on a command line, and no error message holds it.
//!
//! The secret's string is the JSON `{"key_id": "...", "private_key": "<base64 32-byte seed>"}`
//! that forward reads ([`ecites_aws::signing::identity_from_secret`]); the SSM form holds the
//! bare base64 seed and forward takes its key id from `ECITES_SIGNING_KEY_ID`.

use ecites_exchange::protocol::SigningIdentity;

/// Where the signing key is kept (`--secret NAME` or `--parameter NAME`).
#[derive(Clone, Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct KeyStore {
    /// The Secrets Manager secret (name or ARN): the stack's SigningKeySecretName, which the
    /// template's forward function reads (ECITES_SIGNING_KEY_SECRET).
    #[arg(long)]
    pub secret: Option<String>,
    /// An SSM SecureString parameter instead (ECITES_SIGNING_KEY_PARAMETER, for deployments
    /// that set forward's environment by hand, and the local stack).
    #[arg(long)]
    pub parameter: Option<String>,
}

impl KeyStore {
    /// For messages: `secret NAME` or `SSM parameter NAME`.
    fn describe(&self) -> String {
        match (&self.secret, &self.parameter) {
            (Some(name), _) => format!("secret {name}"),
            (None, Some(name)) => format!("SSM parameter {name}"),
            (None, None) => "no key store".to_owned(),
        }
    }
}

/// Secrets Manager's staging label of a version not in use yet (the label AWS's own rotation
/// functions give a new version before they make it current).
pub const PENDING: &str = "AWSPENDING";
/// The label of the version in use (what GetSecretValue without a stage returns).
pub const CURRENT: &str = "AWSCURRENT";

/// What `keygen` stored.
#[derive(Debug)]
pub struct Stored {
    /// The new identity (print only its public half).
    pub identity: SigningIdentity,
    /// The version created: Secrets Manager's version id, or the SSM parameter version.
    pub version: String,
    /// Whether it is a rotation (`--rotate`) rather than a new store: for a secret the new
    /// version is `AWSPENDING` until [`promote`]; for an SSM parameter it is in use at once.
    pub rotated: bool,
}

/// Generates a new Ed25519 identity and stores it in `store` (a new secret is encrypted with
/// `kms_key_id`, else `aws/secretsmanager`). Without `rotate`, a store that
/// already exists is left alone and the answer is an error naming `--rotate` (partners verify
/// with the public key of the key already there). With `rotate`, the key is put as a new
/// version: in Secrets Manager labelled `AWSPENDING` (forward keeps the `AWSCURRENT` key until
/// [`promote`], so partners can accept the new key first; a pending key not yet promoted is
/// replaced), in SSM a new parameter version, in use at once. `key_id` must differ from the
/// current key's, since partners accept a new key beside the current one by its id
/// (infra/README.md, "Key and secret rotation").
pub async fn keygen(
    aws: &ecites_aws::AwsConfig,
    store: &KeyStore,
    key_id: &str,
    rotate: bool,
    kms_key_id: Option<&str>,
) -> anyhow::Result<Stored> {
    let key_id = key_id.trim();
    if key_id.is_empty() || key_id.len() > 64 || key_id.chars().any(|c| c.is_control()) {
        anyhow::bail!("--key-id: {key_id:?} must be 1 to 64 printable characters (it travels in the X-Ecites-Key-Id header)");
    }
    let identity = SigningIdentity::generate(key_id).map_err(|why| anyhow::anyhow!(why))?;
    match (&store.secret, &store.parameter) {
        (Some(name), _) => {
            let secrets = aws.secrets_manager();
            let value = serde_json::json!({
                "key_id": identity.key_id,
                "private_key": identity.seed_base64(),
            })
            .to_string();
            let created = secrets
                .create_secret()
                .name(name)
                .description("ecites-exchange signing key: {\"key_id\", \"private_key\"} (ecites partners keygen)")
                .secret_string(&value)
                .set_kms_key_id(kms_key_id.map(str::to_owned))
                .send()
                .await;
            match created {
                Ok(output) => Ok(Stored {
                    identity,
                    version: output.version_id().unwrap_or("-").to_owned(),
                    rotated: false,
                }),
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_exists_exception()) =>
                {
                    if !rotate {
                        anyhow::bail!(
                            "secret {name} already exists: refusing to replace the signing key \
                             partners verify with; use --rotate for a new key version (infra/README.md, \
                             \"Key and secret rotation\")"
                        );
                    }
                    // An unreadable current key (a bare seed, a broken value) does not stop a
                    // rotation: replacing it is the fix.
                    let current = load(aws, store, None).await.ok().map(|i| i.key_id);
                    if current.as_deref() == Some(key_id) {
                        anyhow::bail!(
                            "--key-id {key_id} is the current key's id: a rotation needs a new id, \
                             so partners can accept the new key beside the current one"
                        );
                    }
                    // AWSPENDING, not AWSCURRENT: forward (GetSecretValue without a stage reads
                    // AWSCURRENT) keeps signing with the current key until `promote`.
                    let output = secrets
                        .put_secret_value()
                        .secret_id(name)
                        .secret_string(&value)
                        .version_stages(PENDING)
                        .send()
                        .await
                        .map_err(|e| aws_error("secretsmanager:PutSecretValue", name, &e))?;
                    Ok(Stored {
                        identity,
                        version: output.version_id().unwrap_or("-").to_owned(),
                        rotated: true,
                    })
                }
                Err(error) => Err(aws_error("secretsmanager:CreateSecret", name, &error)),
            }
        }
        (None, Some(name)) => {
            let ssm = aws.ssm();
            let exists = match ssm.get_parameter().name(name).send().await {
                Ok(_) => true,
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_parameter_not_found()) =>
                {
                    false
                }
                Err(error) => return Err(aws_error("ssm:GetParameter", name, &error)),
            };
            if exists && !rotate {
                anyhow::bail!(
                    "SSM parameter {name} already holds a signing key: refusing to replace the key \
                     partners verify with; use --rotate for a new key version"
                );
            }
            ecites_aws::signing::put_signing_identity(&ssm, name, &identity, rotate).await?;
            let version = ssm
                .get_parameter()
                .name(name)
                .send()
                .await
                .ok()
                .and_then(|o| o.parameter().map(|p| p.version().to_string()))
                .unwrap_or_else(|| "-".to_owned());
            Ok(Stored {
                identity,
                version,
                rotated: exists,
            })
        }
        (None, None) => anyhow::bail!("give --secret NAME or --parameter NAME"),
    }
}

/// Reads the signing key from `store`: the secret's JSON (its own key id), or the parameter's
/// bare seed with `key_id` (`--key-id`, else `ECITES_SIGNING_KEY_ID`, else `-`: an SSM
/// parameter holds no key id). Errors name the store, never its value.
pub async fn load(
    aws: &ecites_aws::AwsConfig,
    store: &KeyStore,
    key_id: Option<&str>,
) -> anyhow::Result<SigningIdentity> {
    load_stage(aws, store, key_id, CURRENT).await
}

/// [`load`] for a secret's version labelled `stage` (`AWSCURRENT`, `AWSPENDING`); an SSM
/// parameter has no stages and is read as it is.
pub async fn load_stage(
    aws: &ecites_aws::AwsConfig,
    store: &KeyStore,
    key_id: Option<&str>,
    stage: &str,
) -> anyhow::Result<SigningIdentity> {
    let key_id = key_id
        .map(str::to_owned)
        .or_else(|| std::env::var("ECITES_SIGNING_KEY_ID").ok());
    let identity = match (&store.secret, &store.parameter) {
        (Some(name), _) => {
            let output = aws
                .secrets_manager()
                .get_secret_value()
                .secret_id(name)
                .version_stage(stage)
                .send()
                .await
                .map_err(|e| {
                    aws_error(
                        &format!("secretsmanager:GetSecretValue ({stage})"),
                        name,
                        &e,
                    )
                })?;
            let value = output
                .secret_string()
                .ok_or_else(|| anyhow::anyhow!("secret {name} ({stage}) holds no string"))?;
            ecites_aws::signing::identity_from_secret(value, key_id.as_deref())
                .map_err(|why| anyhow::anyhow!("secret {name} ({stage}): {why}"))?
        }
        (None, Some(name)) => {
            ecites_aws::signing::load_signing_identity(
                &aws.ssm(),
                name,
                key_id.as_deref().unwrap_or("-"),
            )
            .await?
        }
        (None, None) => anyhow::bail!("give --secret NAME or --parameter NAME"),
    };
    Ok(identity)
}

/// Ends a rotation: the secret's `AWSPENDING` version (made by `keygen --rotate`) becomes
/// `AWSCURRENT`, which Secrets Manager gives the current version's old label `AWSPREVIOUS`; the
/// `AWSPENDING` label is removed. The promoted key's identity is returned. Errors: no pending
/// version (nothing to promote), or AWS's.
pub async fn promote(aws: &ecites_aws::AwsConfig, name: &str) -> anyhow::Result<SigningIdentity> {
    let secrets = aws.secrets_manager();
    let described = secrets
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| aws_error("secretsmanager:DescribeSecret", name, &e))?;
    let version_with = |label: &str| {
        described.version_ids_to_stages().and_then(|versions| {
            versions
                .iter()
                .find(|(_, stages)| stages.iter().any(|s| s == label))
                .map(|(id, _)| id.clone())
        })
    };
    let pending = version_with(PENDING).ok_or_else(|| {
        anyhow::anyhow!("secret {name} has no {PENDING} version: make one with keygen --rotate")
    })?;
    let store = KeyStore {
        secret: Some(name.to_owned()),
        parameter: None,
    };
    let identity = load_stage(aws, &store, None, PENDING).await?;
    let current = version_with(CURRENT);
    if current.as_deref() != Some(pending.as_str()) {
        secrets
            .update_secret_version_stage()
            .secret_id(name)
            .version_stage(CURRENT)
            .move_to_version_id(&pending)
            .set_remove_from_version_id(current)
            .send()
            .await
            .map_err(|e| aws_error("secretsmanager:UpdateSecretVersionStage", name, &e))?;
    }
    secrets
        .update_secret_version_stage()
        .secret_id(name)
        .version_stage(PENDING)
        .remove_from_version_id(&pending)
        .send()
        .await
        .map_err(|e| aws_error("secretsmanager:UpdateSecretVersionStage", name, &e))?;
    Ok(identity)
}

/// An AWS error as the operator needs it: the action, the store's name and the SDK's error
/// chain (AWS's code and message; the request, which holds the key, is never part of it).
fn aws_error<E: std::error::Error>(action: &str, name: &str, error: &E) -> anyhow::Error {
    anyhow::anyhow!(
        "{action} {name}: {}",
        ecites_aws::errors::error_chain(error)
    )
}

/// Prints the public half of `identity`: key id, public key and its fingerprint.
pub fn print_public(identity: &SigningIdentity, store: &KeyStore) -> anyhow::Result<()> {
    let fingerprint = crate::card::fingerprint(&identity.public_key_base64())?;
    println!("key id:      {}", identity.key_id);
    println!("public key:  {}", identity.public_key_base64());
    println!("fingerprint: {fingerprint}");
    println!("stored in:   {}", store.describe());
    Ok(())
}
