//! `ecites agencies list|add|remove`: the agencies of this country (customs, enforcement, ...)
//! registered to post customs uses (`POST <receive endpoint>/uses`) and verifications
//! (`POST <receive endpoint>/verify`), signed with their Ed25519 keys. They are kept in the
//! partner directory document (`s3://$ECITES_BUCKET/$ECITES_PARTNERS_KEY`) beside the partners,
//! edited with the same conditional write; the format is in `docs/permit-use.md`.

use ecites_aws::s3::{edit_directory, DirectoryEdit};
use ecites_exchange::directory::Agency;
use ecites_exchange::notify::Role;
use std::process::ExitCode;

/// The `agencies` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AgenciesCommand {
    /// Lists the registered agencies.
    List,
    /// Registers an agency, or replaces the entry with its id.
    Add {
        /// The agency's id, as it sends it in a message's `agency` field (e.g. xb-customs).
        id: String,
        /// Its role: customs or enforcement report uses; any role may verify.
        #[arg(long)]
        role: String,
        /// Its Ed25519 public key, base64 (32 bytes).
        #[arg(long)]
        public_key: String,
        /// The key id it sends in X-Ecites-Key-Id.
        #[arg(long)]
        key_id: Option<String>,
        /// Its name.
        #[arg(long)]
        name: Option<String>,
        /// Its country (ISO 3166-1 alpha-2); this deployment's country when not given.
        #[arg(long)]
        country: Option<String>,
        /// Record it as inactive (nothing accepted from it).
        #[arg(long)]
        inactive: bool,
    },
    /// Removes an agency.
    Remove {
        /// The agency's id.
        id: String,
    },
}

/// Runs an `agencies` subcommand.
pub async fn run(command: AgenciesCommand) -> anyhow::Result<ExitCode> {
    let config = ecites_aws::Config::exchange_from_env()?;
    let aws = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default()).await;
    let s3 = aws.s3();
    let (s3, bucket, key) = (&s3, &config.bucket, &config.partners_key);
    match command {
        AgenciesCommand::List => {
            let directory = ecites_aws::s3::read_directory(s3, bucket, key).await?;
            if directory.agencies.is_empty() {
                println!("No agency is registered.");
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<24} {:<8} {:<22} {:<7} {:<16} name",
                "id", "country", "role", "active", "key id"
            );
            for agency in &directory.agencies {
                println!(
                    "{:<24} {:<8} {:<22} {:<7} {:<16} {}",
                    ecites_exchange::ledger::shown(&agency.id, 24),
                    agency.country.to_string(),
                    agency.role.as_str(),
                    if agency.active { "yes" } else { "no" },
                    agency.key_id.as_deref().unwrap_or("-"),
                    agency
                        .name
                        .as_deref()
                        .map(|n| ecites_exchange::ledger::shown(n, 60))
                        .unwrap_or_default(),
                );
            }
        }
        AgenciesCommand::Add {
            id,
            role,
            public_key,
            key_id,
            name,
            country,
            inactive,
        } => {
            ecites_exchange::protocol::check_public_key(&public_key)
                .map_err(|why| anyhow::anyhow!("--public-key: {why}"))?;
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!(
                    "--role {role:?} is not one of {}",
                    Role::ALL.map(|r| r.as_str()).join(", ")
                )
            })?;
            let country = match country {
                Some(text) => text.trim().to_ascii_uppercase().parse().map_err(|_| {
                    anyhow::anyhow!("--country {text:?} is not an ISO 3166-1 alpha-2 code")
                })?,
                None => config.country,
            };
            let agency = Agency {
                id: id.trim().to_owned(),
                country,
                role,
                name,
                active: !inactive,
                public_key: Some(public_key.trim().to_owned()),
                key_id,
                rotation_keys: Vec::new(),
            };
            let edit = edit_directory(s3, bucket, key, |directory| {
                directory.upsert_agency(agency.clone())
            })
            .await?;
            if let DirectoryEdit::Refused(why) = edit {
                eprintln!("{why}; nothing was changed");
                return Ok(ExitCode::FAILURE);
            }
            println!(
                "agency {} ({}, {}) saved in s3://{bucket}/{key} (warm functions see it within 5 minutes)",
                agency.id,
                agency.country,
                agency.role.as_str()
            );
        }
        AgenciesCommand::Remove { id } => {
            let edit = edit_directory(s3, bucket, key, |directory| {
                directory.remove_agency(id.trim())
            })
            .await?;
            if let DirectoryEdit::Refused(why) = edit {
                eprintln!("{why}; nothing was changed");
                return Ok(ExitCode::FAILURE);
            }
            println!("agency {} removed", id.trim());
        }
    }
    Ok(ExitCode::SUCCESS)
}
