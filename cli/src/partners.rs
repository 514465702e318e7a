//! `ecites partners list|add|accept-key|retire-key|remove|keygen`: edits the partner directory
//! (`s3://$ECITES_BUCKET/$ECITES_PARTNERS_KEY`, default `config/partners.json`) that ingest,
//! forward and receive read (cached up to 5 minutes by warm functions), and creates this MA's
//! signing key in SSM Parameter Store. The format is in `docs/exchange.md`.

use ecites_aws::s3::{edit_directory, DirectoryEdit};
use ecites_exchange::directory::{DirectoryError, Partner, PartnerKey};
use std::process::ExitCode;

/// The `partners` subcommands (embed with `#[command(subcommand)]`).
#[derive(Debug, clap::Subcommand)]
pub enum PartnersCommand {
    /// Lists the partners.
    List,
    /// Adds a partner, or replaces the entry of its country.
    Add {
        /// The partner's country (ISO 3166-1 alpha-2).
        country: String,
        /// Its receive endpoint (https://...).
        #[arg(long)]
        endpoint: String,
        /// Its Ed25519 public key, base64 (32 bytes).
        #[arg(long)]
        public_key: String,
        /// The key id it sends in X-Ecites-Key-Id.
        #[arg(long)]
        key_id: Option<String>,
        /// The MA's name.
        #[arg(long)]
        name: Option<String>,
        /// Document types it accepts (E, R, I, O); none means all.
        #[arg(long = "accepts", value_delimiter = ',')]
        accepted_document_types: Vec<String>,
        /// Record it as inactive (nothing sent to it, nothing accepted from it).
        #[arg(long)]
        inactive: bool,
    },
    /// Starts accepting a partner's new key beside its current one (a rotation overlap):
    /// messages are verified with the key their X-Ecites-Key-Id names.
    AcceptKey {
        /// The partner's country.
        country: String,
        /// The new key's id, as the partner will send it in X-Ecites-Key-Id.
        #[arg(long)]
        key_id: String,
        /// The new Ed25519 public key, base64 (32 bytes).
        #[arg(long)]
        public_key: String,
    },
    /// Stops accepting one of a partner's keys once it has moved off it; retiring the current
    /// key makes the accepted new key current.
    RetireKey {
        /// The partner's country.
        country: String,
        /// The id of the key to stop accepting.
        #[arg(long)]
        key_id: String,
    },
    /// Removes a partner.
    Remove {
        /// The partner's country.
        country: String,
    },
    /// Creates this MA's signing key in an SSM SecureString parameter and prints the public
    /// key to give to partners (the private key is never printed).
    Keygen {
        /// The SSM parameter (ECITES_SIGNING_KEY_PARAMETER of the forward function).
        #[arg(long)]
        parameter: String,
        /// The key id (ECITES_SIGNING_KEY_ID).
        #[arg(long)]
        key_id: String,
        /// Replace a key already in the parameter (without it, an existing key is kept and the
        /// command fails: partners verify with its public key).
        #[arg(long)]
        force: bool,
    },
}

fn country(text: &str) -> anyhow::Result<ecites_domain::CountryCode> {
    text.trim()
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| anyhow::anyhow!("{text:?} is not an ISO 3166-1 alpha-2 country code"))
}

/// The partner's key ids, current first, rotation keys after a `+`.
fn key_ids(partner: &Partner) -> String {
    let current = partner.key_id.clone().unwrap_or_else(|| "-".to_owned());
    std::iter::once(current)
        .chain(
            partner
                .rotation_keys
                .iter()
                .map(|k| format!("+{}", k.key_id)),
        )
        .collect::<Vec<_>>()
        .join(",")
}

/// The result of a saved edit; a refused one is explained on stderr and gives `None`.
fn saved<T>(edit: DirectoryEdit<T>) -> Option<T> {
    match edit {
        DirectoryEdit::Saved(outcome) => Some(outcome),
        DirectoryEdit::Refused(why) => {
            eprintln!("{why}; nothing was changed");
            None
        }
    }
}

/// Applies `change` to the keys of `country`'s entry in one conditional edit of the
/// directory: the key ids accepted afterwards, or `None` when refused (explained on stderr).
async fn edit_keys(
    clients: &ecites_aws::Clients,
    config: &ecites_aws::Config,
    country: ecites_domain::CountryCode,
    mut change: impl FnMut(&mut Partner) -> Result<(), DirectoryError>,
) -> anyhow::Result<Option<String>> {
    let (s3, bucket, key) = (&clients.s3, &config.bucket, &config.partners_key);
    let edit = edit_directory(s3, bucket, key, |directory| {
        let partner = directory.partner_mut(country)?;
        change(partner)?;
        Ok(partner.key_ids().join(", "))
    })
    .await?;
    Ok(saved(edit))
}

/// Runs a `partners` subcommand.
pub async fn run(command: PartnersCommand) -> anyhow::Result<ExitCode> {
    // The directory lives in the bucket: no queue needed.
    let config = ecites_aws::Config::exchange_from_env()?;
    let aws = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default()).await;
    let clients = aws.clients();
    let (s3, bucket, key) = (&clients.s3, &config.bucket, &config.partners_key);
    let read = || ecites_aws::s3::read_directory(s3, bucket, key);
    match command {
        PartnersCommand::List => {
            let directory = read().await?;
            println!(
                "{:<8} {:<7} {:<10} {:<20} endpoint",
                "country", "active", "accepts", "key ids"
            );
            for p in &directory.partners {
                println!(
                    "{:<8} {:<7} {:<10} {:<20} {}{}",
                    p.country.to_string(),
                    if p.active { "yes" } else { "no" },
                    if p.accepted_document_types.is_empty() {
                        "all".to_owned()
                    } else {
                        p.accepted_document_types.join(",")
                    },
                    key_ids(p),
                    p.endpoint,
                    if p.public_key.is_none() && p.rotation_keys.is_empty() {
                        "  (no public key: nothing accepted from it)"
                    } else {
                        ""
                    }
                );
            }
        }
        PartnersCommand::Add {
            country: code,
            endpoint,
            public_key,
            key_id,
            name,
            accepted_document_types,
            inactive,
        } => {
            ecites_exchange::protocol::check_public_key(&public_key)
                .map_err(|why| anyhow::anyhow!("--public-key: {why}"))?;
            if !endpoint.starts_with("https://") && !endpoint.starts_with("http://127.0.0.1") {
                anyhow::bail!("--endpoint must be https:// (plain http only on 127.0.0.1)");
            }
            let country = country(&code)?;
            let accepted_document_types: Vec<String> = accepted_document_types
                .into_iter()
                .map(|t| t.trim().to_ascii_uppercase())
                .filter(|t| !t.is_empty())
                .collect();
            let edit = edit_directory(s3, bucket, key, |directory| {
                // Keys being rotated in stay accepted when an entry is re-added (say, for a
                // new endpoint), except one that the new current key replaces.
                let rotation_keys: Vec<PartnerKey> = directory
                    .get(country)
                    .map(|old| old.rotation_keys.clone())
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|k| Some(&k.key_id) != key_id.as_ref())
                    .collect();
                let kept: Vec<String> = rotation_keys.iter().map(|k| k.key_id.clone()).collect();
                directory.upsert(Partner {
                    country,
                    endpoint: endpoint.clone(),
                    name: name.clone(),
                    active: !inactive,
                    accepted_document_types: accepted_document_types.clone(),
                    public_key: Some(public_key.trim().to_owned()),
                    key_id: key_id.clone(),
                    rotation_keys,
                });
                Ok(kept)
            })
            .await?;
            let Some(kept) = saved(edit) else {
                return Ok(ExitCode::FAILURE);
            };
            if !kept.is_empty() {
                println!("still accepted beside the current key: {}", kept.join(", "));
            }
            println!(
                "{code} saved in s3://{bucket}/{key} (warm functions see it within 5 minutes)"
            );
        }
        PartnersCommand::AcceptKey {
            country: code,
            key_id,
            public_key,
        } => {
            ecites_exchange::protocol::check_public_key(&public_key)
                .map_err(|why| anyhow::anyhow!("--public-key: {why}"))?;
            let change = |partner: &mut Partner| {
                partner.accept_key(PartnerKey {
                    key_id: key_id.trim().to_owned(),
                    public_key: public_key.trim().to_owned(),
                })
            };
            let Some(accepted) = edit_keys(&clients, &config, country(&code)?, change).await?
            else {
                return Ok(ExitCode::FAILURE);
            };
            println!(
                "{code}: keys accepted now {accepted} (warm functions see it within 5 minutes)"
            );
        }
        PartnersCommand::RetireKey {
            country: code,
            key_id,
        } => {
            let change = |partner: &mut Partner| partner.retire_key(key_id.trim());
            let Some(accepted) = edit_keys(&clients, &config, country(&code)?, change).await?
            else {
                return Ok(ExitCode::FAILURE);
            };
            println!(
                "{code}: {key_id} retired; keys accepted now {accepted} (warm functions see it within 5 minutes)"
            );
        }
        PartnersCommand::Remove { country: code } => {
            let wanted = country(&code)?;
            let edit =
                edit_directory(s3, bucket, key, |directory| directory.remove(wanted)).await?;
            if saved(edit).is_none() {
                return Ok(ExitCode::FAILURE);
            }
            println!("{code} removed from s3://{bucket}/{key}");
        }
        PartnersCommand::Keygen {
            parameter,
            key_id,
            force,
        } => {
            let identity = ecites_exchange::protocol::SigningIdentity::generate(&key_id)
                .map_err(|why| anyhow::anyhow!(why))?;
            ecites_aws::signing::put_signing_identity(&aws.ssm(), &parameter, &identity, force)
                .await?;
            println!("key id:     {key_id}");
            println!("public key: {}", identity.public_key_base64());
            println!("private key stored in SSM parameter {parameter} (SecureString)");
        }
    }
    Ok(ExitCode::SUCCESS)
}
