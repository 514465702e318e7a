//! Two deployments (MAs XA and XB) on one emulator, exchanging permits end to end: each has its
//! own bucket, queues, table and signing key (in SSM), its receive function served on a
//! loopback port as the template's optional Function URL (below), and a partner directory
//! naming the other with its public key. The end-to-end tests, `ecites-local demo-exchange`
//! and the exchange bench use this.

use crate::emulation::front_door::{Front, FrontDoorServer};
use crate::{EventSource, Local, LocalOptions, PollOutcome, REGION};
use ecites_aws::s3::write_directory;
use ecites_aws::signing::{store_signing_identity, store_signing_secret};
use ecites_aws::DynamoLedger;
use ecites_aws::{AwsConfig, ClientOptions};
use ecites_domain::{Permit, PermitId};
use ecites_exchange::directory::{Directory, Partner};
use ecites_exchange::forward::RetryPolicy;
use ecites_exchange::ledger::{delivery_id, DeliveryKind};
use ecites_exchange::protocol::SigningIdentity;
use ecites_exchange::DeliveryMessage;
use ecites_forward::{ForwardFunction, ForwardSettings, KeySource};
use ecites_receive::ReceiveFunction;
use std::sync::Arc;
use std::time::Duration;

/// The delivery message forward works from, for `issuer`'s permit `number` (its `version`, as
/// `kind`) to `recipient`, without the XML's location: what hand-made envelopes are signed
/// over and what the ledger's delivery rows are looked up by.
pub fn delivery_message(
    issuer: &str,
    number: &str,
    version: u32,
    kind: DeliveryKind,
    recipient: &str,
) -> DeliveryMessage {
    let id = PermitId {
        issuer: crate::country(issuer),
        number: number.to_owned(),
    };
    DeliveryMessage {
        message_type: "delivery".into(),
        version: 1,
        delivery_id: delivery_id(&id, version, kind, crate::country(recipient)),
        kind,
        issuer: issuer.into(),
        permit_number: number.into(),
        permit_version: version,
        replaces_version: None,
        recipient: recipient.into(),
        endpoint: String::new(),
        xml_bucket: String::new(),
        xml_key: String::new(),
        content_sha256: String::new(),
        reason: None,
        use_key: None,
        sender: None,
        payload: None,
    }
}

/// Knobs of a pair.
#[derive(Clone, Debug)]
pub struct PairOptions {
    /// Use a running emulator instead of starting one.
    pub endpoint: Option<String>,
    /// Receives before the deliveries DLQ (= the forward function's `max_receives`).
    pub max_receives: u32,
    /// First backoff delay.
    pub retry_base: Duration,
    /// Longest backoff delay.
    pub retry_cap: Duration,
    /// Per-request timeout of the forward function.
    pub timeout: Duration,
    /// Partner directory cache of the functions (short, so tests can change it).
    pub directory_ttl: Duration,
    /// Prefix of the resource names (`<prefix>xa-...`), to share a running emulator.
    pub prefix: String,
    /// Latency added to each of the functions' AWS requests ([`crate::LocalOptions`]).
    pub aws_latency: Duration,
    /// Faults injected into the functions' AWS requests, each MA with its own proxy
    /// ([`crate::LocalOptions`]).
    pub aws_faults: Option<crate::emulation::aws_proxy::FaultPlan>,
}

impl Default for PairOptions {
    fn default() -> Self {
        PairOptions {
            endpoint: None,
            max_receives: 3,
            retry_base: Duration::from_millis(500),
            retry_cap: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            directory_ttl: Duration::from_millis(200),
            prefix: String::new(),
            aws_latency: Duration::ZERO,
            aws_faults: None,
        }
    }
}

/// One MA's deployment.
pub struct Ma {
    /// The ingest side (stack, clients, ingest function, request counter).
    pub local: Local,
    /// Its signing key (also stored in SSM, where the forward function read it).
    pub key: SigningIdentity,
    /// The forward function.
    pub forward: ForwardFunction,
    /// The deliveries queue's event source.
    pub forward_source: EventSource,
    /// The receive function.
    pub receive: Arc<ReceiveFunction>,
    /// Its loopback front door (the Function URL shape, below).
    pub server: FrontDoorServer,
    /// The exchange records (for inspection).
    pub store: DynamoLedger,
}

impl Ma {
    async fn start(
        endpoint: Option<String>,
        prefix: &str,
        country: &str,
        options: &PairOptions,
    ) -> anyhow::Result<Ma> {
        let mut local_options = LocalOptions::new(prefix);
        local_options.endpoint = endpoint;
        local_options.country = crate::country(country);
        local_options.max_receive_count = options.max_receives;
        local_options.aws_latency = options.aws_latency;
        local_options.aws_faults = options.aws_faults.clone();
        let local = Local::start(local_options).await?;
        let function_options = ClientOptions {
            counter: Some(local.counter.clone()),
            emulator_credentials: true,
            attempt_timeout: local.attempt_timeout,
            ..ClientOptions::default()
        };
        let aws =
            AwsConfig::load(function_options.at(Some(&local.function_endpoint), REGION)).await;
        let clients = aws.clients();
        let key =
            SigningIdentity::generate(&format!("{country}-1")).map_err(|e| anyhow::anyhow!(e))?;
        // Both places a key can live are exercised: XA's in SSM, XB's in Secrets Manager.
        let source = if country == "XA" {
            let name = format!("/{prefix}/signing-key");
            store_signing_identity(&aws.ssm(), &name, &key).await?;
            KeySource::Parameter {
                name,
                key_id: key.key_id.clone(),
            }
        } else {
            let name = format!("{prefix}/signing-key");
            store_signing_secret(&aws.secrets_manager(), &name, &key).await?;
            KeySource::Secret { name, key_id: None }
        };
        let settings = ForwardSettings {
            key: source,
            max_receives_explicit: false,
            timeout: options.timeout,
            policy: RetryPolicy {
                max_receives: options.max_receives,
                base: options.retry_base,
                cap: options.retry_cap,
            },
            directory_ttl: options.directory_ttl,
        };
        let forward = ForwardFunction::from_env(&local.config, &aws, settings);
        let receive = Arc::new(ReceiveFunction::with_directory_ttl(
            &local.config,
            &clients,
            options.directory_ttl,
        ));
        // The Function URL shape, not the REST API default: the end-to-end tests were written
        // against it, and one (tests/tests/hostile.rs) relies on its joining a repeated header
        // with commas, where behind the REST API lambda_http gives the handler the header's
        // last value. The REST API front is proven by the smoke test and front_door's tests.
        let server = FrontDoorServer::start_with(receive.clone(), Front::FunctionUrl).await?;
        let forward_source = EventSource::new(
            local.clients.sqs.clone(),
            &local.stack.deliveries_queue_url,
            REGION,
        )
        .await?;
        let store = DynamoLedger::on_table(local.clients.dynamodb.clone(), &local.stack.table);
        Ok(Ma {
            local,
            key,
            forward,
            forward_source,
            receive,
            server,
            store,
        })
    }

    /// This MA as a partner entry for the other's directory.
    pub fn as_partner(&self) -> Partner {
        Partner {
            country: self.local.config.country,
            endpoint: self.server.url(),
            name: Some(format!(
                "Management Authority of {}",
                self.local.config.country
            )),
            active: true,
            accepted_document_types: Vec::new(),
            public_key: Some(self.key.public_key_base64()),
            key_id: Some(self.key.key_id.clone()),
            rotation_keys: Vec::new(),
            client_certificate_secret: None,
            protocol: Default::default(),
            document_format: Default::default(),
            delivery: Default::default(),
        }
    }

    /// Replaces this MA's partners in its directory (its agencies stay).
    pub async fn set_directory(&self, partners: Vec<Partner>) -> anyhow::Result<()> {
        let agencies = ecites_aws::s3::read_directory(
            &self.local.clients.s3,
            &self.local.stack.bucket,
            &self.local.stack.partners_key,
        )
        .await
        .map(|directory| directory.agencies)
        .unwrap_or_default();
        let directory = Directory {
            version: 1,
            partners,
            agencies,
        };
        write_directory(
            &self.local.clients.s3,
            &self.local.stack.bucket,
            &self.local.stack.partners_key,
            &directory,
        )
        .await?;
        Ok(())
    }

    /// Registers (or replaces) an agency in this MA's directory.
    pub async fn register_agency(
        &self,
        agency: ecites_exchange::directory::Agency,
    ) -> anyhow::Result<()> {
        let mut directory = ecites_aws::s3::read_directory(
            &self.local.clients.s3,
            &self.local.stack.bucket,
            &self.local.stack.partners_key,
        )
        .await?;
        directory
            .upsert_agency(agency)
            .map_err(|e| anyhow::anyhow!(e))?;
        write_directory(
            &self.local.clients.s3,
            &self.local.stack.bucket,
            &self.local.stack.partners_key,
            &directory,
        )
        .await?;
        Ok(())
    }

    /// Drops a permit (JSON form) into the inbox and runs ingest until its queue is quiet.
    pub async fn drop_permit(&self, name: &str, permit: &Permit) -> anyhow::Result<()> {
        self.local
            .put_object(&format!("inbox/{name}.json"), crate::fixtures::json(permit))
            .await?;
        self.local.drain(Duration::from_secs(60)).await?;
        Ok(())
    }

    /// Runs the forward function on the deliveries queue until it is quiet (retries included).
    pub async fn forward_until_quiet(&self, timeout: Duration) -> anyhow::Result<PollOutcome> {
        let handler = |event| self.forward.handle(event);
        self.forward_source.run_until_quiet(&handler, timeout).await
    }
}

/// Starts XA and XB on one emulator, each knowing the other.
pub async fn start_pair(options: PairOptions) -> anyhow::Result<(Ma, Ma)> {
    let xa_prefix = format!("{}xa", options.prefix);
    let xa = Ma::start(options.endpoint.clone(), &xa_prefix, "XA", &options).await?;
    let endpoint = Some(xa.local.endpoint.clone());
    let xb_prefix = format!("{}xb", options.prefix);
    let xb = Ma::start(endpoint, &xb_prefix, "XB", &options).await?;
    xa.set_directory(vec![xb.as_partner()]).await?;
    xb.set_directory(vec![xa.as_partner()]).await?;
    Ok((xa, xb))
}
