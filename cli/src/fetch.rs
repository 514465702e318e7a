//! `ecites fetch COUNTRY NUMBER [--final]`: pulls a permit from a partner that only offers EPIX
//! Connect's SOAP country-adapter interface (its directory entry says `protocol: epix-soap`,
//! `docs/epix.md`), presenting the client certificate its entry names, and records it as
//! received, as a pushed permit is. Configured like the receive function (`ECITES_COUNTRY`,
//! `ECITES_BUCKET`, `ECITES_TABLE`, `ECITES_PARTNERS_KEY`, `AWS_*`; no deliveries queue: a pull
//! sends nothing to it).
//!
//! Exit status: 0 recorded (or on record already), 1 the partner answered a fault, an unreadable
//! answer or nothing in time (the sentence says which, and where the answer is kept), 2 our own
//! configuration or AWS could not be used.

use ecites_exchange::epix::client::{fetch_from_partner, FetchServices, PullServices};
use std::process::ExitCode;
use std::time::Duration;

/// Pulls `number` from `country` and prints what happened in a sentence.
pub async fn run(country: &str, number: &str, final_certificate: bool) -> anyhow::Result<ExitCode> {
    let issuer: ecites_domain::CountryCode =
        country.trim().to_ascii_uppercase().parse().map_err(|_| {
            anyhow::anyhow!("{country:?} is not an ISO 3166-1 alpha-2 country code")
        })?;
    let config = ecites_aws::Config::exchange_from_env()?;
    let aws = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default()).await;
    let clients = aws.clients();
    let blobs = ecites_aws::S3BlobStore::new(clients.s3.clone(), &config.bucket);
    let ledger = ecites_aws::DynamoLedger::on_table(clients.dynamodb.clone(), &config.table);
    let partners = ecites_aws::S3PartnerDirectory::new(
        clients.s3.clone(),
        &config.bucket,
        &config.partners_key,
        Duration::from_secs(0),
    );
    let transport =
        ecites_aws::http::HyperTransport::for_partners(ecites_exchange::epix::DEFAULT_TIMEOUT)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let certificates = ecites_aws::client_certificates::SecretClientCertificates::new(
        aws.secrets_manager(),
        ecites_exchange::epix::DEFAULT_TIMEOUT,
    );
    let services = FetchServices {
        pull: PullServices {
            blobs: &blobs,
            inbound: &ledger,
            uses: &ledger,
            clock: &ecites_exchange::SystemClock,
        },
        partners: &partners,
        ledger: &ledger,
        transport: &transport,
        certificates: Some(&certificates),
    };
    let what = if final_certificate {
        "final certificate (box 14 filled)"
    } else {
        "permit"
    };
    match fetch_from_partner(services, config.country, issuer, number, final_certificate).await {
        Ok(pulled) => {
            println!(
                "{issuer}'s {what} {number} is recorded as received (version {}, tracking number {}){}.",
                pulled.version,
                pulled.tracking_number,
                if pulled.duplicate {
                    ": it was on record already"
                } else {
                    ""
                }
            );
            for warning in &pulled.warnings {
                println!("  warning: {warning}");
            }
            println!("  `ecites status {issuer} {number}` shows it under \"received\".");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            let again = if error.is_transient() {
                " Try again later."
            } else {
                ""
            };
            println!("Could not fetch {issuer}'s {what} {number}: {error}.{again}");
            Ok(ExitCode::FAILURE)
        }
    }
}
