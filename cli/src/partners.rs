//! `ecites partners list|init|add|accept-key|retire-key|remove|keygen|pubkey|promote|card`: edits the
//! partner directory (`s3://$ECITES_BUCKET/$ECITES_PARTNERS_KEY`, default
//! `config/partners.json`) that ingest, forward and receive read (cached up to 5 minutes by
//! warm functions), creates this MA's signing key in Secrets Manager (or SSM Parameter Store)
//! and prints its public half and our partner card (`card.rs`). The directory's format is in
//! `docs/exchange.md`.

use ecites_aws::s3::{edit_directory, DirectoryEdit};
use ecites_exchange::directory::{DirectoryError, DocumentFormat, Partner, PartnerKey, Protocol};
use std::process::ExitCode;

/// The `partners` subcommands (embed with `#[command(subcommand)]`).
#[derive(Debug, clap::Subcommand)]
pub enum PartnersCommand {
    /// Lists the partners.
    List,
    /// Creates the empty partner directory after the first deployment, so ingest can run
    /// before any partner is added (it treats a missing directory as a deployment fault and
    /// retries). The stack cannot create it: only OperatorRoleArn may write under config/.
    /// An existing directory is left as it is.
    Init,
    /// Adds a partner, or replaces the entry of its country: from options, or from the
    /// partner's card (`--card FILE --fingerprint HEX`), imported only when the fingerprint
    /// read out of band matches the card's key.
    Add {
        /// The partner's country (ISO 3166-1 alpha-2); with --card, the card's (and when given,
        /// it must be the card's).
        #[arg(required_unless_present = "card")]
        country: Option<String>,
        /// Its receive endpoint (https://...). Required, except for a partner that pulls our
        /// permits (--delivery pull), which we never call: it may have none.
        #[arg(long, conflicts_with = "card")]
        endpoint: Option<String>,
        /// Its Ed25519 public key, base64 (32 bytes). Not needed for an EPIX partner
        /// (--protocol epix-soap), which is known by its TLS client certificate.
        #[arg(long, conflicts_with = "card")]
        public_key: Option<String>,
        /// The key id it sends in X-Ecites-Key-Id.
        #[arg(long, conflicts_with = "card")]
        key_id: Option<String>,
        /// The partner's card (JSON, as `ecites partners card` prints it; `-` for standard
        /// input): country, name, endpoint, key id and public key.
        #[arg(long, value_name = "FILE", requires = "fingerprint")]
        card: Option<std::path::PathBuf>,
        /// With --card: the fingerprint of the partner's public key as its operator read it to
        /// you on a channel you trust (64 hex digits; spaces, ':' and '-' ignored). A card
        /// whose key has another fingerprint is refused.
        #[arg(long, value_name = "HEX", requires = "card")]
        fingerprint: Option<String>,
        /// The MA's name (with --card: instead of the card's).
        #[arg(long)]
        name: Option<String>,
        /// Document types it accepts (E, R, I, O); none means all.
        #[arg(long = "accepts", value_delimiter = ',')]
        accepted_document_types: Vec<String>,
        /// Record it as inactive (nothing sent to it, nothing accepted from it).
        #[arg(long)]
        inactive: bool,
        /// For a partner whose endpoint requires mutual TLS: the Secrets Manager secret (name
        /// or ARN) holding the client certificate forward presents to it, JSON
        /// {"certificate": "<PEM chain, leaf first>", "private_key": "<PEM key>"}, under the
        /// stack's ClientCertificateSecretsPrefix (forward may read no other secret). When not
        /// given, an entry being replaced keeps the one it had; "" removes it.
        #[arg(long, value_name = "SECRET")]
        client_certificate_secret: Option<String>,
        /// The CITES e-permit XML version the partner reads: v2 (the standard) or v1 for a
        /// partner still on toolkit v1 (CBFShip), to which forward then writes v1 (lossy: v1
        /// has no element for a block's identifying marks or the date of signature). When not
        /// given, an entry being replaced keeps the one it had (v2 for a new one).
        #[arg(long, value_name = "v2|v1", value_parser = parse_document_format)]
        document_format: Option<DocumentFormat>,
        /// How it exchanges: ecites (signed envelopes, the default) or epix-soap (a partner
        /// offering only EPIX Connect's SOAP country-adapter interface, docs/epix.md: --endpoint
        /// is its SOAP service, its permits are pulled with `ecites fetch`, our import
        /// confirmations are told to it with ConfirmQuantities, and nothing else is pushed).
        #[arg(long, value_name = "ecites|epix-soap", value_parser = parse_protocol, default_value = "ecites")]
        protocol: Protocol,
        /// How it gets our permits: `push` (forward POSTs them to its endpoint) or `pull` (it
        /// polls our receive endpoint, fetches them and acknowledges them; forward leaves them
        /// PENDING until it does: docs/exchange.md, "Pull and queries").
        #[arg(long, value_parser = ["push", "pull"], default_value = "push")]
        delivery: String,
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
    /// Creates this MA's signing key (Ed25519) straight in Secrets Manager (--secret: JSON
    /// {"key_id", "private_key"}, what the stack's forward function reads) or an SSM
    /// SecureString (--parameter: the bare seed), and prints the public half to give to
    /// partners. The private key is never printed. An existing key is kept (the command fails)
    /// unless --rotate.
    Keygen {
        #[command(flatten)]
        store: crate::keys::KeyStore,
        /// The key id partners see in X-Ecites-Key-Id; default <ECITES_COUNTRY>-<year>-1
        /// (e.g. KE-2026-1), which needs ECITES_COUNTRY (or --stack).
        #[arg(long)]
        key_id: Option<String>,
        /// Rotate: put a new key beside the one already there. For a secret the new version
        /// is labelled AWSPENDING, unused until `ecites partners promote` (partners accept it
        /// first: `pubkey --pending` prints it); for an SSM parameter it is in use at once.
        /// The new key needs a new --key-id. See infra/README.md, "Key and secret rotation".
        #[arg(long, visible_alias = "force")]
        rotate: bool,
        /// The KMS key (id, ARN or alias) a new secret is encrypted with: the stack's
        /// KmsKeyArn when one is set (forward may decrypt with that key only); default
        /// aws/secretsmanager.
        #[arg(long, requires = "secret")]
        kms_key_id: Option<String>,
    },
    /// Prints the public half of this MA's signing key, read from the secret or parameter:
    /// key id, public key (base64) and its fingerprint. Never the private key.
    Pubkey {
        #[command(flatten)]
        store: crate::keys::KeyStore,
        /// The key a rotation made and not yet promoted (the secret's AWSPENDING version),
        /// for partners to accept before `promote`.
        #[arg(long, requires = "secret")]
        pending: bool,
        /// The key id, for an SSM parameter (which holds the bare seed); default
        /// ECITES_SIGNING_KEY_ID. A secret holds its own.
        #[arg(long)]
        key_id: Option<String>,
    },
    /// Ends a rotation of the signing secret: its AWSPENDING key (keygen --rotate) becomes
    /// AWSCURRENT, which new forward environments sign with; the old key becomes AWSPREVIOUS.
    Promote {
        /// The Secrets Manager secret (name or ARN).
        #[arg(long)]
        secret: String,
    },
    /// Prints our partner card (JSON: country, name, endpoint, key id, public key and its
    /// SHA-256 fingerprint) to send to a partner MA, who imports it with `ecites partners add
    /// --card FILE --fingerprint HEX` after you read the fingerprint to them out of band.
    Card {
        #[command(flatten)]
        store: crate::keys::KeyStore,
        /// Our receive endpoint (the stack's ReceiveEndpointUrl output; default
        /// ECITES_RECEIVE_ENDPOINT_URL, which --stack sets).
        #[arg(long)]
        endpoint: Option<String>,
        /// Our country (default ECITES_COUNTRY).
        #[arg(long)]
        country: Option<String>,
        /// Our MA's name, as partners list it.
        #[arg(long)]
        name: Option<String>,
        /// The key id, for an SSM parameter (see `pubkey`).
        #[arg(long)]
        key_id: Option<String>,
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
    // The signing key's commands need no deployment: keygen runs before the first one.
    let command = match command {
        PartnersCommand::Keygen {
            store,
            key_id,
            rotate,
            kms_key_id,
        } => return keygen(&store, key_id, rotate, kms_key_id.as_deref()).await,
        PartnersCommand::Pubkey {
            store,
            pending,
            key_id,
        } => {
            let aws = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default()).await;
            let stage = if pending {
                crate::keys::PENDING
            } else {
                crate::keys::CURRENT
            };
            let identity = crate::keys::load_stage(&aws, &store, key_id.as_deref(), stage).await?;
            crate::keys::print_public(&identity, &store)?;
            if pending {
                println!("stage:       {stage} (not in use until ecites partners promote)");
            }
            return Ok(ExitCode::SUCCESS);
        }
        PartnersCommand::Promote { secret } => {
            let aws = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default()).await;
            let identity = crate::keys::promote(&aws, &secret).await?;
            println!(
                "secret {secret}: {} is now AWSCURRENT (new forward environments sign with it; \
                 the previous key is AWSPREVIOUS)",
                identity.key_id
            );
            return Ok(ExitCode::SUCCESS);
        }
        PartnersCommand::Card {
            store,
            endpoint,
            country: code,
            name,
            key_id,
        } => return print_card(&store, endpoint, code, name, key_id).await,
        directory_command => directory_command,
    };
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
                "{:<8} {:<7} {:<8} {:<10} {:<20} endpoint",
                "country", "active", "delivery", "accepts", "key ids"
            );
            for p in &directory.partners {
                println!(
                    "{:<8} {:<7} {:<8} {:<10} {:<20} {}{}",
                    p.country.to_string(),
                    if p.active { "yes" } else { "no" },
                    p.delivery.as_str(),
                    if p.accepted_document_types.is_empty() {
                        "all".to_owned()
                    } else {
                        p.accepted_document_types.join(",")
                    },
                    key_ids(p),
                    if p.endpoint.is_empty() {
                        "(none: it pulls from us)"
                    } else {
                        &p.endpoint
                    },
                    if p.public_key.is_none()
                        && p.rotation_keys.is_empty()
                        && p.protocol == Protocol::Ecites
                    {
                        "  (no public key: nothing accepted from it)"
                    } else {
                        ""
                    }
                );
                if let Some(secret) = &p.client_certificate_secret {
                    println!(
                        "{:<8} mutual TLS: presents the client certificate in secret {secret}",
                        ""
                    );
                }
                if p.protocol == Protocol::EpixSoap {
                    println!(
                        "{:<8} EPIX (SOAP, pull only): its permits are fetched with `ecites fetch`, nothing is pushed to it",
                        ""
                    );
                }
                if p.document_format == DocumentFormat::V1 {
                    println!(
                        "{:<8} document format v1: sent toolkit v1 (CBFShip) XML, without marks and signature dates",
                        ""
                    );
                }
            }
        }
        PartnersCommand::Init => {
            let exists = match s3.head_object().bucket(bucket).key(key).send().await {
                Ok(_) => true,
                Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => false,
                Err(error) => anyhow::bail!(
                    "s3:HeadObject s3://{bucket}/{key}: {}",
                    ecites_aws::errors::error_chain(&error)
                ),
            };
            if exists {
                let partners = read().await?.partners.len();
                println!(
                    "s3://{bucket}/{key} already exists ({partners} partners): nothing written"
                );
            } else if saved(edit_directory(s3, bucket, key, |_| Ok(())).await?).is_some() {
                println!("s3://{bucket}/{key} created, with no partner");
            } else {
                return Ok(ExitCode::FAILURE);
            }
        }
        PartnersCommand::Add {
            country: code,
            endpoint,
            public_key,
            key_id,
            card,
            fingerprint,
            name,
            accepted_document_types,
            inactive,
            client_certificate_secret,
            document_format,
            protocol,
            delivery,
        } => {
            let delivery = if delivery == "pull" {
                ecites_exchange::directory::DeliveryMode::Pull
            } else {
                ecites_exchange::directory::DeliveryMode::Push
            };
            let client_certificate_secret = client_certificate_secret
                .as_deref()
                .map(check_secret_name)
                .transpose()?;
            let (code, endpoint, public_key, key_id, name) = match card {
                Some(path) => {
                    let card = read_card(&path, fingerprint.as_deref().unwrap_or_default())?;
                    if let Some(code) = &code {
                        if country(code)? != country(&card.country)? {
                            anyhow::bail!(
                                "the card is {}'s, not {code}'s: nothing was imported",
                                card.country
                            );
                        }
                    }
                    let name = name.or(card.name);
                    (
                        card.country,
                        card.endpoint,
                        card.public_key,
                        Some(card.key_id),
                        name,
                    )
                }
                None => (
                    code.unwrap_or_default(),
                    endpoint.unwrap_or_default(),
                    public_key.unwrap_or_default(),
                    key_id,
                    name,
                ),
            };
            // An EPIX partner is known by its TLS client certificate; a key is optional.
            let public_key = match (protocol, public_key.trim()) {
                (Protocol::EpixSoap, "") => None,
                (Protocol::Ecites, "") => anyhow::bail!(
                    "--public-key is required (the partner's Ed25519 key; only an EPIX partner, --protocol epix-soap, needs none)"
                ),
                (_, key) => {
                    ecites_exchange::protocol::check_public_key(key)
                        .map_err(|why| anyhow::anyhow!("--public-key: {why}"))?;
                    Some(key.to_owned())
                }
            };
            let pulls_from_us = delivery == ecites_exchange::directory::DeliveryMode::Pull
                && protocol == Protocol::Ecites;
            if endpoint.is_empty() && !pulls_from_us {
                anyhow::bail!(
                    "--endpoint is required (the partner's receive endpoint, https://...; only a partner that pulls our permits, --delivery pull, needs none)"
                );
            }
            if !endpoint.is_empty() {
                check_endpoint(&endpoint)?;
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
                let client_certificate_secret = match &client_certificate_secret {
                    Some(given) => given.clone(),
                    None => directory
                        .get(country)
                        .and_then(|old| old.client_certificate_secret.clone()),
                };
                let document_format = document_format.unwrap_or_else(|| {
                    directory
                        .get(country)
                        .map(|old| old.document_format)
                        .unwrap_or_default()
                });
                directory.upsert(Partner {
                    country,
                    endpoint: endpoint.clone(),
                    name: name.clone(),
                    active: !inactive,
                    accepted_document_types: accepted_document_types.clone(),
                    public_key: public_key.clone(),
                    key_id: key_id.clone(),
                    rotation_keys,
                    client_certificate_secret,
                    protocol,
                    document_format,
                    delivery,
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
            if endpoint.is_empty() {
                println!(
                    "{code} has no endpoint: it fetches our permits from our receive endpoint, but the uses of its permits that our customs record cannot be told to it until it has one"
                );
            }
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
        PartnersCommand::Keygen { .. }
        | PartnersCommand::Pubkey { .. }
        | PartnersCommand::Promote { .. }
        | PartnersCommand::Card { .. } => {
            unreachable!("the signing key's commands are run before the directory is read")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `partners keygen`: a new key in the store, its public half printed.
async fn keygen(
    store: &crate::keys::KeyStore,
    key_id: Option<String>,
    rotate: bool,
    kms_key_id: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let key_id = match key_id {
        Some(key_id) => key_id,
        None => {
            let code = std::env::var("ECITES_COUNTRY").map_err(|_| {
                anyhow::anyhow!("--key-id is not given and ECITES_COUNTRY is not set to make one")
            })?;
            format!("{}-{}-1", country(&code)?, chrono::Utc::now().format("%Y"))
        }
    };
    let aws = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default()).await;
    let stored = crate::keys::keygen(&aws, store, &key_id, rotate, kms_key_id).await?;
    crate::keys::print_public(&stored.identity, store)?;
    match (stored.rotated, store.secret.as_deref()) {
        (false, _) => println!(
            "private key: stored, never shown (version {})",
            stored.version
        ),
        (true, Some(secret)) => println!(
            "private key: stored, never shown (rotation: version {} is AWSPENDING; forward signs \
             with the current key until the partners accept this one and you run `ecites partners \
             promote --secret {secret}`)",
            stored.version
        ),
        (true, None) => println!(
            "private key: stored, never shown (rotation: parameter version {}, in use by new \
             forward environments now)",
            stored.version
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// An endpoint forward will send to: the rule is forward's own
/// ([`ecites_exchange::forward::endpoint_allowed`]), so that the directory never holds an
/// endpoint every delivery to would fail on, nor refuses one forward accepts.
fn check_endpoint(endpoint: &str) -> anyhow::Result<()> {
    if !ecites_exchange::forward::endpoint_allowed(endpoint) {
        anyhow::bail!(
            "--endpoint must be https:// (plain http only to loopback: 127.0.0.1, ::1 or localhost), not {endpoint:?}"
        );
    }
    Ok(())
}

/// `partners card`: our card on standard output.
async fn print_card(
    store: &crate::keys::KeyStore,
    endpoint: Option<String>,
    code: Option<String>,
    name: Option<String>,
    key_id: Option<String>,
) -> anyhow::Result<ExitCode> {
    let endpoint = endpoint
        .or_else(|| std::env::var("ECITES_RECEIVE_ENDPOINT_URL").ok())
        .ok_or_else(|| {
            anyhow::anyhow!("--endpoint is not given and ECITES_RECEIVE_ENDPOINT_URL is not set (--stack sets it)")
        })?;
    check_endpoint(&endpoint)?;
    let code = code
        .or_else(|| std::env::var("ECITES_COUNTRY").ok())
        .ok_or_else(|| anyhow::anyhow!("--country is not given and ECITES_COUNTRY is not set"))?;
    let code = country(&code)?.to_string();
    let aws = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default()).await;
    let identity = crate::keys::load(&aws, store, key_id.as_deref()).await?;
    if identity.key_id == "-" {
        anyhow::bail!("--key-id: an SSM parameter holds no key id; give the one forward sends (ECITES_SIGNING_KEY_ID)");
    }
    let card = crate::card::Card::new(
        &code,
        name,
        &endpoint,
        &identity.key_id,
        &identity.public_key_base64(),
    )?;
    println!("{}", serde_json::to_string_pretty(&card)?);
    Ok(ExitCode::SUCCESS)
}

/// Reads a partner's card from `path` (`-`: standard input) and checks it against the
/// fingerprint read out of band; the error names both fingerprints when they differ.
fn read_card(path: &std::path::Path, fingerprint: &str) -> anyhow::Result<crate::card::Card> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--card {}: {e}", path.display()))?
    };
    let card: crate::card::Card = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("--card {}: not a partner card: {e}", path.display()))?;
    card.verify(fingerprint)
        .map_err(|why| anyhow::anyhow!("--card {}: {why}", path.display()))?;
    Ok(card)
}

/// A `--client-certificate-secret` value: `Some(name)`, or `None` for "" (remove). Errors name
/// the option and the rule.
fn check_secret_name(text: &str) -> anyhow::Result<Option<String>> {
    let name = text.trim();
    if name.is_empty() {
        return Ok(None);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-:".contains(c);
    if name.len() > 2048 || !name.chars().all(allowed) {
        anyhow::bail!(
            "--client-certificate-secret {text:?}: a Secrets Manager secret name or ARN (letters, digits and /_+=.@-:, at most 2048 characters)"
        );
    }
    Ok(Some(name.to_owned()))
}

/// A `--protocol` value: `ecites` or `epix-soap`.
fn parse_protocol(text: &str) -> Result<Protocol, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "ecites" => Ok(Protocol::Ecites),
        "epix-soap" => Ok(Protocol::EpixSoap),
        _ => Err(format!(
            "{text:?} is not a protocol: ecites (signed envelopes) or epix-soap (EPIX Connect's SOAP interface)"
        )),
    }
}

/// A `--document-format` value: `v2` or `v1` (case and surrounding spaces ignored).
fn parse_document_format(text: &str) -> Result<DocumentFormat, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "v2" => Ok(DocumentFormat::V2),
        "v1" => Ok(DocumentFormat::V1),
        _ => Err(format!(
            "{text:?} is not a document format: v2 (the CITES e-permit XML, toolkit v2) or v1 (toolkit v1, CBFShip)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_checked_by_forwards_rule_not_by_its_prefix() {
        // What forward sends to is accepted: any case of https, every loopback spelling.
        for accepted in [
            "https://ma.xb.example/cites",
            "HTTPS://ma.xb.example/cites",
            "http://127.0.0.1:8080/",
            "http://localhost:9/receive",
            "http://[::1]:9/",
        ] {
            assert!(check_endpoint(accepted).is_ok(), "{accepted}");
        }
        // A host that only starts like loopback is a host on the network: every delivery to it
        // would fail, so the directory never holds it.
        for refused in [
            "http://127.0.0.1.evil.example/cites",
            "http://127.0.0.1@evil.example/",
            "http://ma.xb.example/cites",
        ] {
            let error = check_endpoint(refused).unwrap_err().to_string();
            assert!(
                error.contains("--endpoint must be https://") && error.contains(refused),
                "{error}"
            );
        }
    }

    #[test]
    fn a_document_format_is_v2_or_v1_and_anything_else_is_refused_naming_both() {
        assert_eq!(parse_document_format("v1"), Ok(DocumentFormat::V1));
        assert_eq!(parse_document_format(" V2 "), Ok(DocumentFormat::V2));
        let refused = parse_document_format("v3").unwrap_err();
        assert!(
            refused.contains("\"v3\"") && refused.contains("v2") && refused.contains("v1"),
            "{refused}"
        );
    }

    #[test]
    fn a_client_certificate_secret_is_a_secret_name_or_arn_and_empty_removes_it() {
        assert_eq!(
            check_secret_name(" ecites/client-certificates/xb ").unwrap(),
            Some("ecites/client-certificates/xb".to_owned())
        );
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecites/client-certificates/xb-AbCdEf";
        assert_eq!(check_secret_name(arn).unwrap(), Some(arn.to_owned()));
        assert_eq!(check_secret_name("").unwrap(), None);
        let refused = check_secret_name("xb cert; rm").unwrap_err().to_string();
        assert!(
            refused.contains("--client-certificate-secret \"xb cert; rm\"")
                && refused.contains("secret name or ARN"),
            "{refused}"
        );
    }
}
