//! The ingest use case: an ingest queue message in, standard XML, ledger records and delivery
//! messages out.
//!
//! The order of effects is what makes redelivery safe: (1) the canonical XML is written under a
//! content-addressed key (rewriting it is harmless), (2) the ledger records the version and its
//! deliveries in one conditional write keyed on the content hash (the commit point: a second
//! attempt finds a duplicate), (3) the delivery messages are sent. If (3) fails the message is
//! retried, (2) reports a duplicate with its still-pending deliveries, and they are sent again;
//! the forward function deduplicates on `delivery_id`.

use crate::directory::PartnerDirectory;
use crate::keys::{outbox_key, report_key, InputSource};
use crate::ledger::{NewCancellation, NewRejection, NewVersion, Recipient, Recorded};
use crate::messages::{parse_ingest_message, DeliveryMessage, IngestMessage, Input};
use crate::ports::{BlobStore, Clock, DeliveryQueue, Fetched, Ledger, SpeciesChecklist};
use crate::Error;
use chrono::{DateTime, Months, NaiveTime, Utc};
use ecites_domain::{CountryCode, DocumentType, Finding, Permit, PermitId};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// How long audit records are kept after a permit's expiry (CITES: at least five years).
pub const RETENTION_MONTHS: u32 = 5 * 12;

/// Longest permit number the ledger records (a valid one has at most 35 characters; anything
/// far longer could exceed DynamoDB's key size and turn a bad input into a retried one).
pub const MAX_LEDGER_NUMBER_CHARS: usize = 100;

/// Most findings kept on a ledger rejection row (the report keeps every one), so a permit with
/// thousands of bad blocks cannot exceed DynamoDB's item size.
pub const MAX_RECORDED_FINDINGS: usize = 100;

fn recordable(id: &PermitId) -> bool {
    id.number.chars().count() <= MAX_LEDGER_NUMBER_CHARS
}

/// What ingest needs to know about its deployment.
#[derive(Clone, Debug)]
pub struct IngestSettings {
    /// This deployment's own MA country: only its permits are accepted (env `ECITES_COUNTRY`).
    pub own_country: CountryCode,
    /// The largest input object read, in bytes; larger ones are rejected with a report.
    pub max_object_bytes: u64,
}

/// The services ingest runs over.
#[derive(Clone, Copy)]
pub struct IngestServices<'a> {
    /// Object storage.
    pub blobs: &'a dyn BlobStore,
    /// The delivery ledger.
    pub ledger: &'a dyn Ledger,
    /// The deliveries queue.
    pub queue: &'a dyn DeliveryQueue,
    /// The partner directory.
    pub partners: &'a dyn PartnerDirectory,
    /// The CITES checklist for the `listing` tier ([`crate::NoChecklist`] for none).
    pub species: &'a dyn SpeciesChecklist,
    /// The ledger's side of customs uses.
    pub uses: &'a dyn crate::usage::UseLedger,
    /// The clock.
    pub clock: &'a dyn Clock,
}

/// A permit version that ingest recorded (or found recorded before).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IngestedPermit {
    /// `ISSUER/number`.
    pub permit: String,
    /// Its version.
    pub version: u32,
    /// True when the same content had been recorded before.
    pub duplicate: bool,
    /// True for a cancellation.
    pub cancellation: bool,
}

/// An input (or one permit in it) that was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RejectedInput {
    /// Where it came from.
    pub source: String,
    /// `ISSUER/number`, when it could be read.
    pub permit: Option<String>,
    /// Why.
    pub reason: String,
    /// Where the report was written.
    pub report_key: String,
}

/// What one ingest queue message led to (for logs, metrics and tests).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Versions recorded or found.
    pub ingested: Vec<IngestedPermit>,
    /// Inputs refused.
    pub rejected: Vec<RejectedInput>,
    /// Why the message was skipped, if it was.
    pub skipped: Option<String>,
    /// Delivery messages sent.
    pub deliveries_queued: usize,
    /// Recipients recorded without a partner.
    pub no_partner: usize,
    /// Cancellations recorded to wait for their permit (it has not arrived yet).
    pub waiting_cancellations: usize,
    /// Permits (`ISSUER/number`) whose content was sent before their current version but
    /// arrived after it: recorded as superseded, not delivered.
    pub superseded: Vec<String>,
    /// Customs uses recorded (or found recorded before).
    pub uses: Vec<IngestedUse>,
    /// Uses that had waited for a permit recorded now, checked again.
    pub uses_rechecked: usize,
    /// Uses of foreign permits whose issuer is not an active partner (recorded, not told).
    pub use_notices_without_partner: usize,
}

/// A customs use that ingest recorded (or found recorded before).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IngestedUse {
    /// `ISSUER/number`.
    pub permit: String,
    /// `export_endorsement`, `import_confirmation` or `border_refusal`.
    pub kind: String,
    /// True when recorded before.
    pub duplicate: bool,
    /// True when the permit is not on record yet (checked again when it arrives).
    pub waiting: bool,
    /// Rule ids of the findings with severity error: the alerts.
    pub alerts: Vec<String>,
}

impl IngestReport {
    fn merge(&mut self, other: IngestReport) {
        self.ingested.extend(other.ingested);
        self.rejected.extend(other.rejected);
        self.deliveries_queued += other.deliveries_queued;
        self.no_partner += other.no_partner;
        self.waiting_cancellations += other.waiting_cancellations;
        self.superseded.extend(other.superseded);
        self.uses.extend(other.uses);
        self.uses_rechecked += other.uses_rechecked;
        self.use_notices_without_partner += other.use_notices_without_partner;
    }
}

/// Ingests one ingest queue message; `sent_at` is when SQS says it was sent (its
/// `SentTimestamp`), which orders the versions of a permit sent in direct messages (S3 events
/// carry their own time).
///
/// Returns `Err` only for transient failures (the caller reports the message in
/// `batchItemFailures` so it is retried); everything permanent is reported (a rejection report
/// under `rejected/`, a REJECTED ledger record when the permit is known) and returned in the
/// report, so the message is acknowledged.
pub async fn ingest_message(
    services: IngestServices<'_>,
    settings: &IngestSettings,
    message_id: &str,
    body: &str,
    sent_at: Option<DateTime<Utc>>,
) -> Result<IngestReport, Error> {
    let message_source = InputSource::Message {
        message_id: message_id.to_owned(),
    };
    let inputs = match parse_ingest_message(body) {
        Ok(IngestMessage::Skip(reason)) => {
            tracing::info!(message_id, %reason, "message skipped");
            return Ok(IngestReport {
                skipped: Some(reason),
                ..IngestReport::default()
            });
        }
        Ok(IngestMessage::Inputs(inputs)) => inputs,
        Err(error) => {
            let problem = Problem::without_permit(error.to_string());
            return reject(
                services,
                &message_source,
                Some(body.as_bytes()),
                vec![problem],
            )
            .await;
        }
    };
    let mut report = IngestReport::default();
    for input in inputs {
        let one = match input {
            Input::Object {
                bucket,
                key,
                version_id,
                size,
                event_time,
            } => {
                let source = InputSource::Object {
                    bucket,
                    key,
                    version_id,
                };
                match size {
                    // The notification already says it is too large: no need to fetch it.
                    Some(size) if size > settings.max_object_bytes => {
                        let reason = too_large(size, settings.max_object_bytes);
                        reject(
                            services,
                            &source,
                            None,
                            vec![Problem::without_permit(reason)],
                        )
                        .await?
                    }
                    _ => ingest_object(services, settings, source, event_time.or(sent_at)).await?,
                }
            }
            Input::Inline { file_name, content } => {
                ingest_bytes(
                    services,
                    settings,
                    &message_source,
                    file_name.as_deref(),
                    content.as_bytes(),
                    sent_at,
                )
                .await?
            }
            Input::Use { content } => {
                ingest_use(services, settings, &message_source, &content).await?
            }
            Input::Cancel {
                issuer,
                permit_number,
                reason,
            } => {
                cancel(
                    services,
                    settings,
                    &message_source,
                    &issuer,
                    &permit_number,
                    &reason,
                )
                .await?
            }
        };
        report.merge(one);
    }
    Ok(report)
}

/// A customs use sent on the ingest queue: read (errors name the field), checked and recorded
/// ([`crate::usage::record_use`]); a broken one is refused with a report like any input.
async fn ingest_use(
    services: IngestServices<'_>,
    settings: &IngestSettings,
    source: &InputSource,
    content: &str,
) -> Result<IngestReport, Error> {
    let used = match ecites_domain::usage::PermitUse::from_json(content.as_bytes()) {
        Ok(used) => used,
        Err(error) => {
            let problem = Problem::without_permit(format!(
                "the use cannot be read: use.{}: {}",
                error.field, error.rule
            ));
            return reject(services, source, Some(content.as_bytes()), vec![problem]).await;
        }
    };
    let permit = used.permit_id();
    let kind = used.kind;
    let reported = used.clone();
    let tell = crate::usage::use_delivery(services.partners, settings.own_country, &used).await?;
    let outcome = crate::usage::record_use_telling(
        crate::usage::UseServices {
            ledger: services.uses,
            clock: services.clock,
            own_country: settings.own_country,
        },
        used,
        &source.to_string(),
        tell.clone(),
    )
    .await?;
    let alerts = outcome.alerts().into_iter().map(str::to_owned).collect();
    match outcome {
        crate::usage::UseOutcome::Refused { findings } => {
            let problem = Problem {
                permit,
                reason: format!(
                    "the {} is invalid: {}",
                    kind.label(),
                    findings
                        .iter()
                        .filter(|f| f.is_error())
                        .map(|f| format!("{} ({})", f.field, f.rule))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                findings,
                record: false,
            };
            reject(services, source, Some(content.as_bytes()), vec![problem]).await
        }
        crate::usage::UseOutcome::Recorded {
            permit: shown,
            duplicate,
            waiting,
            findings,
            xml_key,
            version,
            ..
        } => {
            let mut report = IngestReport {
                uses: vec![IngestedUse {
                    permit: shown,
                    kind: kind.as_str().to_owned(),
                    duplicate,
                    waiting,
                    alerts,
                }],
                ..IngestReport::default()
            };
            // A foreign permit: its issuing MA is told (for a duplicate too, in case the first
            // attempt stopped before; the forward function sends each delivery once).
            let foreign = permit
                .as_ref()
                .is_some_and(|id| id.issuer != settings.own_country);
            if foreign {
                match tell {
                    // Queued again for a duplicate too: the forward function sends it once.
                    Some(message) => {
                        services.queue.send(std::slice::from_ref(&message)).await?;
                        report.deliveries_queued = 1;
                    }
                    None => report.use_notices_without_partner = 1,
                }
            } else if let (Some(id), Some(xml_key)) = (permit, xml_key) {
                // Our own permit endorsed at export: the endorsed permit is its new version,
                // delivered to the importing MA (again idempotent: same content, same version).
                let blocking = [
                    "use-second-consignment",
                    "use-permit-not-issued",
                    "use-permit-cancelled",
                    "use-permit-replaced",
                ];
                if kind == ecites_domain::usage::UseKind::ExportEndorsement
                    && !findings.iter().any(|f| blocking.contains(&f.rule.as_str()))
                {
                    report.merge(
                        endorse_permit(services, source, id, &xml_key, version, &reported).await?,
                    );
                }
            }
            Ok(report)
        }
    }
}

/// Records the permit as the exporting country's customs endorsed it (box 14 filled from the
/// use, [`ecites_domain::usage::endorse`]) as its next version, delivered to the importing MA
/// as an endorsement. Validation findings of the endorsed permit are kept as warnings: the
/// use's own findings (an endorsement above the permit, say) are already recorded as alerts.
async fn endorse_permit(
    services: IngestServices<'_>,
    source: &InputSource,
    id: PermitId,
    xml_key: &str,
    current_version: Option<u32>,
    used: &ecites_domain::usage::PermitUse,
) -> Result<IngestReport, Error> {
    let xml = match services
        .blobs
        .get(
            services.blobs.bucket(),
            xml_key,
            None,
            MAX_ENDORSED_XML_BYTES,
        )
        .await?
    {
        Fetched::Bytes(bytes) => bytes,
        Fetched::TooLarge { size } => {
            return Err(Error::permanent(
                "endorse permit",
                format!("{xml_key} is {size} bytes, above {MAX_ENDORSED_XML_BYTES}"),
            ))
        }
    };
    let mut permit = ecites_domain::xml::read_permit(&xml)
        .map_err(|e| Error::permanent("endorse permit", format!("{xml_key}: {e}")))?
        .permit;
    ecites_domain::usage::endorse(&mut permit, used);
    let Some(countries) = recipient_countries(&permit) else {
        return Ok(IngestReport::default());
    };
    let findings: Vec<Finding> = ecites_domain::validate(&permit)
        .into_iter()
        .map(|mut finding| {
            finding.severity = finding.severity.min(ecites_domain::Severity::Warning);
            finding
        })
        .collect();
    accept(
        services,
        source,
        id,
        &permit,
        findings,
        countries,
        Arrival::Endorsed(current_version),
    )
    .await
}

/// Largest stored permit XML read back to endorse it.
const MAX_ENDORSED_XML_BYTES: u64 = 16 * 1024 * 1024;

async fn ingest_object(
    services: IngestServices<'_>,
    settings: &IngestSettings,
    source: InputSource,
    sent_at: Option<DateTime<Utc>>,
) -> Result<IngestReport, Error> {
    let InputSource::Object {
        bucket,
        key,
        version_id,
    } = &source
    else {
        return Ok(IngestReport::default());
    };
    match services
        .blobs
        .get(
            bucket,
            key,
            version_id.as_deref(),
            settings.max_object_bytes,
        )
        .await
    {
        Ok(Fetched::Bytes(bytes)) => {
            let file_name = key.rsplit('/').next();
            ingest_bytes(services, settings, &source, file_name, &bytes, sent_at).await
        }
        Ok(Fetched::TooLarge { size }) => {
            let reason = too_large(size, settings.max_object_bytes);
            reject(
                services,
                &source,
                None,
                vec![Problem::without_permit(reason)],
            )
            .await
        }
        Err(Error::NotFound(what)) => {
            // Deleted between the notification and now: nothing to read, nothing to retry.
            let reason = format!("the object no longer exists ({what})");
            reject(
                services,
                &source,
                None,
                vec![Problem::without_permit(reason)],
            )
            .await
        }
        Err(error) => Err(error),
    }
}

fn too_large(size: u64, limit: u64) -> String {
    format!("the object is {size} bytes, more than the limit of {limit} bytes")
}

/// One reason an input (or one permit in it) was refused.
#[derive(Clone, Debug, Serialize)]
struct Problem {
    permit: Option<PermitId>,
    reason: String,
    findings: Vec<Finding>,
    /// Whether the ledger records it against the permit (only our own permits).
    #[serde(skip)]
    record: bool,
}

impl Problem {
    fn without_permit(reason: String) -> Self {
        Problem {
            permit: None,
            reason,
            findings: Vec::new(),
            record: false,
        }
    }
}

/// The rejection report written under `rejected/`.
#[derive(Serialize)]
struct RejectionReport<'a> {
    #[serde(rename = "type")]
    report_type: &'static str,
    version: u32,
    source: String,
    received_at: String,
    problems: &'a [Problem],
    #[serde(skip_serializing_if = "Option::is_none")]
    original_message: Option<String>,
}

/// Largest part of a refused message body copied into its report.
const MAX_ECHOED_BODY: usize = 64 * 1024;

async fn reject(
    services: IngestServices<'_>,
    source: &InputSource,
    message_body: Option<&[u8]>,
    problems: Vec<Problem>,
) -> Result<IngestReport, Error> {
    let now = services.clock.now();
    let key = report_key(source);
    let original_message = message_body.map(|body| {
        let end = body.len().min(MAX_ECHOED_BODY);
        String::from_utf8_lossy(&body[..end]).into_owned()
    });
    let document = RejectionReport {
        report_type: "rejection_report",
        version: 1,
        source: source.to_string(),
        received_at: now.to_rfc3339(),
        problems: &problems,
        original_message,
    };
    let bytes = serde_json::to_vec_pretty(&document)
        .map_err(|e| Error::permanent("serialize rejection report", e))?;
    services.blobs.put(&key, bytes, "application/json").await?;
    let mut report = IngestReport::default();
    for problem in &problems {
        if let (Some(id), true) = (&problem.permit, problem.record) {
            // Keyed on what was refused and why (not on the report, which carries the time), so
            // a redelivered input records its rejection once.
            let findings = serde_json::to_string(&problem.findings).unwrap_or_default();
            let content_sha256 =
                sha256_hex(format!("{source}\n{id}\n{}\n{findings}", problem.reason).as_bytes());
            let rejection = NewRejection {
                id: id.clone(),
                content_sha256,
                reason: problem.reason.clone(),
                // The report has them all; the ledger row keeps the first ones (item size).
                findings: problem
                    .findings
                    .iter()
                    .take(MAX_RECORDED_FINDINGS)
                    .cloned()
                    .collect(),
                source: source.to_string(),
                report_key: key.clone(),
                received_at: now,
                retain_until: retain_until(now, None),
            };
            services.ledger.record_rejection(&rejection).await?;
        }
        tracing::warn!(
            source = %source,
            permit = problem.permit.as_ref().map(|id| id.to_string()).as_deref(),
            issuer = problem.permit.as_ref().map(|id| id.issuer.to_string()).as_deref(),
            reason = %problem.reason,
            report = %key,
            "input rejected"
        );
        report.rejected.push(RejectedInput {
            source: source.to_string(),
            permit: problem.permit.as_ref().map(|id| id.to_string()),
            reason: problem.reason.clone(),
            report_key: key.clone(),
        });
    }
    Ok(report)
}

async fn ingest_bytes(
    services: IngestServices<'_>,
    settings: &IngestSettings,
    source: &InputSource,
    file_name: Option<&str>,
    bytes: &[u8],
    sent_at: Option<DateTime<Utc>>,
) -> Result<IngestReport, Error> {
    if bytes.len() as u64 > settings.max_object_bytes {
        let reason = format!(
            "the input is {} bytes, more than the limit of {} bytes",
            bytes.len(),
            settings.max_object_bytes
        );
        return reject(
            services,
            source,
            None,
            vec![Problem::without_permit(reason)],
        )
        .await;
    }
    let decoded = ecites_domain::detect_format(bytes, file_name)
        .and_then(|format| ecites_domain::decode_all(bytes, format));
    let decoded = match decoded {
        Ok(decoded) if decoded.is_empty() => {
            let problem = Problem::without_permit("the input holds no permit".into());
            return reject(services, source, None, vec![problem]).await;
        }
        Ok(decoded) => decoded,
        Err(error) => {
            return reject(
                services,
                source,
                None,
                vec![Problem::without_permit(error.to_string())],
            )
            .await;
        }
    };
    let mut report = IngestReport::default();
    let mut problems = Vec::new();
    let checklist = services.species.checklist().await?;
    for one in decoded {
        // Reading findings, then validation without repeating a value the reader reported, capped.
        let mut findings = ecites_domain::check(&one);
        if let Some(checklist) = &checklist {
            findings.extend(ecites_domain::validate_listing(&one.permit, checklist));
        }
        let id = one.permit.id();
        if !ecites_domain::is_valid(&findings) {
            let errors = findings.iter().filter(|f| f.is_error()).count();
            problems.push(Problem {
                record: id
                    .as_ref()
                    .is_some_and(|id| id.issuer == settings.own_country && recordable(id)),
                permit: id,
                reason: format!("the permit is invalid ({errors} errors)"),
                findings,
            });
            continue;
        }
        let Some(id) = id else {
            problems.push(Problem {
                permit: None,
                reason: "the permit has no issuing country or number".into(),
                findings,
                record: false,
            });
            continue;
        };
        if id.issuer != settings.own_country {
            problems.push(Problem {
                reason: format!(
                    "the permit is issued by {}, not by this deployment's MA ({}): an MA only sends its own permits",
                    id.issuer, settings.own_country
                ),
                permit: Some(id),
                findings: Vec::new(),
                record: false,
            });
            continue;
        }
        let Some(recipient_countries) = recipient_countries(&one.permit) else {
            problems.push(Problem {
                reason: "no recipient can be worked out: the country of import (E, R, O) or export (I) is missing".into(),
                record: recordable(&id),
                permit: Some(id),
                findings,
            });
            continue;
        };
        let one_report = accept(
            services,
            source,
            id,
            &one.permit,
            findings,
            recipient_countries,
            Arrival::Sent(sent_at),
        )
        .await?;
        report.merge(one_report);
    }
    if !problems.is_empty() {
        report.merge(reject(services, source, None, problems).await?);
    }
    Ok(report)
}

/// Who receives a permit: the importing country's MA for an export permit or re-export
/// certificate (and other certificates), the exporting country's MA for an import permit.
pub fn recipient_countries(permit: &Permit) -> Option<Vec<CountryCode>> {
    let country = match permit.known_document_type() {
        Some(DocumentType::I) => permit.exporting_country(),
        Some(DocumentType::E | DocumentType::R | DocumentType::O) => permit.importing_country(),
        None => None,
    }?;
    Some(vec![country])
}

/// How a version reached [`accept`].
enum Arrival {
    /// Sent by the MA's system, at this time when known.
    Sent(Option<DateTime<Utc>>),
    /// Made here: the permit as customs endorsed it at export, replacing this current version.
    Endorsed(Option<u32>),
}

async fn accept(
    services: IngestServices<'_>,
    source: &InputSource,
    id: PermitId,
    permit: &Permit,
    findings: Vec<Finding>,
    countries: Vec<CountryCode>,
    arrival: Arrival,
) -> Result<IngestReport, Error> {
    let (sent_at, endorsement, known_previous) = match arrival {
        Arrival::Sent(sent_at) => (sent_at, false, None),
        Arrival::Endorsed(current) => (None, true, current),
    };
    let now = services.clock.now();
    let xml = ecites_domain::xml::write_permit(permit);
    let content_sha256 = sha256_hex(xml.as_bytes());
    let xml_key = outbox_key(&id, &content_sha256);
    services
        .blobs
        .put(&xml_key, xml.into_bytes(), "application/xml")
        .await?;
    let mut recipients = Vec::new();
    for country in countries {
        let partner = services.partners.partner(country).await?;
        let document_type = permit
            .document_type
            .as_ref()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default();
        let recipient = match partner {
            Some(partner) if !partner.active => Recipient {
                country,
                endpoint: None,
                reason: Some(format!("the partner directory lists {country} as inactive")),
            },
            Some(partner)
                if !partner.accepted_document_types.is_empty()
                    && !partner.accepted_document_types.contains(&document_type) =>
            {
                Recipient {
                    country,
                    endpoint: None,
                    reason: Some(format!(
                        "{country} does not accept document type {document_type}"
                    )),
                }
            }
            Some(partner) => Recipient {
                country,
                endpoint: Some(partner.endpoint),
                reason: None,
            },
            None => Recipient {
                country,
                endpoint: None,
                reason: Some(format!("{country} is not in the partner directory")),
            },
        };
        recipients.push(recipient);
    }
    let valid_until = permit
        .valid_until
        .map(|t| t.date().and_time(NaiveTime::MIN).and_utc());
    let version = NewVersion {
        id: id.clone(),
        content_sha256,
        xml_key,
        document_type: permit
            .document_type
            .as_ref()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        source: source.to_string(),
        received_at: now,
        sent_at,
        valid_until,
        retain_until: retain_until(now, valid_until),
        findings: findings.into_iter().take(MAX_RECORDED_FINDINGS).collect(),
        recipients,
        facts: Some(ecites_domain::usage::PermitFacts::of(permit)),
        endorsement,
        known_previous,
    };
    let recorded = services.ledger.record_version(&version).await?;
    let mut report = IngestReport::default();
    let (number, duplicate, pending, no_partner, cancellation_waiting, uses_waiting) =
        match recorded {
            Recorded::New {
                version,
                pending,
                no_partner,
                cancellation_waiting,
                uses_waiting,
            } => (
                version,
                false,
                pending,
                no_partner,
                cancellation_waiting,
                uses_waiting,
            ),
            Recorded::Duplicate {
                version,
                pending,
                cancellation_waiting,
                uses_waiting,
            } => (
                version,
                true,
                pending,
                Vec::new(),
                cancellation_waiting,
                uses_waiting,
            ),
            Recorded::Superseded { by_version } => {
                tracing::warn!(permit = %id, issuer = %id.issuer, by_version, source = %source, "content sent before the current version arrived after it: recorded as superseded, not delivered");
                let mut report = IngestReport::default();
                report.superseded.push(id.to_string());
                return Ok(report);
            }
        };
    for country in &no_partner {
        tracing::warn!(permit = %id, issuer = %id.issuer, recipient = %country, "recipient has no partner: delivery recorded as NO_PARTNER");
    }
    report.no_partner = no_partner.len();
    report.deliveries_queued = send(services, &pending).await?;
    // Customs uses of this permit that came before it are checked again now (for a duplicate
    // too: an earlier attempt may have stopped before this step). The ledger says whether any
    // wait, at no extra request when none do.
    if uses_waiting {
        report.uses_rechecked = crate::usage::recheck_waiting_uses(
            crate::usage::UseServices {
                ledger: services.uses,
                clock: services.clock,
                own_country: id.issuer,
            },
            &id,
        )
        .await?;
    }
    tracing::info!(permit = %id, issuer = %id.issuer, version = number, duplicate, source = %source, "permit version recorded");
    report.ingested.push(IngestedPermit {
        permit: id.to_string(),
        version: number,
        duplicate,
        cancellation: false,
    });
    // A permit replacing another under a new number (EU Regulation 865/2006 Art. 12): the
    // replaced permit is marked replaced (a use of it is an alert) and cancelled, so its partner
    // is told and two permits for one shipment never stand side by side. Again for a duplicate.
    if let Some(old) = ecites_domain::usage::replaced_permit_number(permit)
        .filter(|old| old.chars().count() <= MAX_LEDGER_NUMBER_CHARS)
    {
        let replaced = PermitId {
            issuer: id.issuer,
            number: old,
        };
        services
            .uses
            .mark_replaced(&replaced, &id.number, now)
            .await?;
        let cancellation = NewCancellation {
            id: replaced.clone(),
            reason: format!(
                "replaced by permit {} (EU Regulation 865/2006 Art. 12)",
                id.number
            ),
            source: source.to_string(),
            received_at: now,
        };
        match record_and_send_cancellation(services, &cancellation).await {
            Ok(cancelled) => report.merge(cancelled),
            Err(Error::NotFound(_)) => {
                tracing::warn!(permit = %id, replaced = %replaced, "the permit it replaces is not on record here: marked replaced, nothing to cancel");
            }
            Err(error) => return Err(error),
        }
    }
    // A cancellation that came first takes effect now (for a duplicate too: a retried message
    // whose first attempt stopped between the version and the cancellation finishes the work).
    if cancellation_waiting {
        if let Some(waiting) = services.ledger.waiting_cancellation(&id).await? {
            report.merge(apply_waiting_cancellation(services, waiting).await?);
        }
    }
    Ok(report)
}

/// Applies a cancellation that arrived before its permit, now that a version is recorded: the
/// permit is cancelled (its history shows the version, then the cancellation) and the
/// cancellation goes to the recipients like any other.
async fn apply_waiting_cancellation(
    services: IngestServices<'_>,
    waiting: NewCancellation,
) -> Result<IngestReport, Error> {
    let now = services.clock.now();
    let cancellation = NewCancellation {
        source: format!(
            "{} (received {}, before the permit)",
            waiting.source,
            waiting.received_at.to_rfc3339()
        ),
        received_at: now,
        ..waiting
    };
    let report = record_and_send_cancellation(services, &cancellation).await?;
    services
        .ledger
        .waiting_cancellation_applied(&cancellation.id, now)
        .await?;
    Ok(report)
}

async fn send(
    services: IngestServices<'_>,
    pending: &[crate::ledger::PendingDelivery],
) -> Result<usize, Error> {
    if pending.is_empty() {
        return Ok(0);
    }
    let bucket = services.blobs.bucket();
    let messages: Vec<DeliveryMessage> = pending
        .iter()
        .map(|p| DeliveryMessage::from_pending(p, bucket))
        .collect();
    services.queue.send(&messages).await?;
    for message in &messages {
        tracing::info!(permit = %format!("{}/{}", message.issuer, message.permit_number), issuer = %message.issuer, recipient = %message.recipient, delivery_id = %message.delivery_id, kind = message.kind.as_str(), "delivery queued");
    }
    Ok(messages.len())
}

async fn cancel(
    services: IngestServices<'_>,
    settings: &IngestSettings,
    source: &InputSource,
    issuer: &str,
    permit_number: &str,
    reason: &str,
) -> Result<IngestReport, Error> {
    let issuer_code: Option<CountryCode> = issuer.trim().parse().ok();
    let number = permit_number.trim();
    let problem = match issuer_code {
        None => Some(format!("the issuer {issuer:?} is not an ISO 3166-1 alpha-2 code")),
        Some(_) if number.is_empty() => Some("the permit number is empty".to_owned()),
        Some(_) if number.chars().count() > MAX_LEDGER_NUMBER_CHARS => Some(format!(
            "the permit number is longer than {MAX_LEDGER_NUMBER_CHARS} characters"
        )),
        Some(code) if code != settings.own_country => Some(format!(
            "the permit is issued by {code}, not by this deployment's MA ({}): an MA only cancels its own permits",
            settings.own_country
        )),
        Some(_) => None,
    };
    if let Some(problem) = problem {
        return reject(
            services,
            source,
            None,
            vec![Problem::without_permit(problem)],
        )
        .await;
    }
    let Some(issuer) = issuer_code else {
        return Ok(IngestReport::default());
    };
    let id = PermitId {
        issuer,
        number: number.to_owned(),
    };
    let cancellation = NewCancellation {
        id: id.clone(),
        reason: reason.to_owned(),
        source: source.to_string(),
        received_at: services.clock.now(),
    };
    match record_and_send_cancellation(services, &cancellation).await {
        Err(Error::NotFound(_)) => {}
        done => return done,
    }
    // No version yet: a standard queue may deliver a cancellation before its permit. It waits
    // in the ledger and takes effect when the permit arrives. Written first, checked again
    // after: a permit recorded in between is then cancelled here (the permit's own check may
    // have run before this write).
    services
        .ledger
        .record_waiting_cancellation(&cancellation)
        .await?;
    match services.ledger.waiting_cancellation(&id).await? {
        Some(waiting) => match apply_waiting_cancellation(services, waiting).await {
            Err(Error::NotFound(_)) => {}
            done => return done,
        },
        // Applied already, by the permit that arrived meanwhile.
        None => return Ok(IngestReport::default()),
    }
    tracing::info!(permit = %id, issuer = %id.issuer, "cancellation waits for its permit");
    Ok(IngestReport {
        waiting_cancellations: 1,
        ..IngestReport::default()
    })
}

/// Records a cancellation of a recorded permit and queues its deliveries. An unknown permit is
/// [`Error::NotFound`].
async fn record_and_send_cancellation(
    services: IngestServices<'_>,
    cancellation: &NewCancellation,
) -> Result<IngestReport, Error> {
    let id = cancellation.id.clone();
    let recorded = services.ledger.record_cancellation(cancellation).await?;
    let (version, duplicate, pending) = match recorded {
        Recorded::New {
            version, pending, ..
        } => (version, false, pending),
        Recorded::Duplicate {
            version, pending, ..
        } => (version, true, pending),
        Recorded::Superseded { by_version } => (by_version, true, Vec::new()),
    };
    let queued = send(services, &pending).await?;
    tracing::info!(permit = %id, issuer = %id.issuer, version, duplicate, "permit cancelled");
    Ok(IngestReport {
        ingested: vec![IngestedPermit {
            permit: id.to_string(),
            version,
            duplicate,
            cancellation: true,
        }],
        deliveries_queued: queued,
        ..IngestReport::default()
    })
}

/// The retention deadline of a permit's records: five years after its expiry (or after it was
/// received, when later or when the expiry is unknown).
pub fn retain_until(
    received_at: DateTime<Utc>,
    valid_until: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let base = valid_until.map_or(received_at, |until| until.max(received_at));
    base.checked_add_months(Months::new(RETENTION_MONTHS))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// SHA-256 of some bytes, as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecites_domain::model::{Address, Party};

    fn party(country: &str) -> Option<Party> {
        Some(Party {
            address: Address {
                country: Some(ecites_domain::Coded::parse(country)),
                ..Address::default()
            },
            ..Party::default()
        })
    }

    #[test]
    fn recipients_follow_the_document_type() {
        let mut permit = Permit {
            importer: party("XB"),
            exporter: party("XC"),
            ..Permit::default()
        };
        let codes = |permit: &Permit| {
            recipient_countries(permit).map(|c| c.iter().map(|c| c.to_string()).collect::<Vec<_>>())
        };
        for (document_type, expected) in [
            (DocumentType::E, "XB"),
            (DocumentType::R, "XB"),
            (DocumentType::O, "XB"),
            (DocumentType::I, "XC"),
        ] {
            permit.document_type = Some(document_type.into());
            assert_eq!(
                codes(&permit),
                Some(vec![expected.to_owned()]),
                "{document_type:?}"
            );
        }
        permit.document_type = None;
        assert_eq!(codes(&permit), None);
        permit.document_type = Some(DocumentType::E.into());
        permit.importer = None;
        assert_eq!(codes(&permit), None);
    }

    #[test]
    fn retention_is_five_years_after_expiry() {
        let received = "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let until = "2026-07-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            retain_until(received, Some(until)).to_rfc3339(),
            "2031-07-01T00:00:00+00:00"
        );
        assert_eq!(
            retain_until(received, None).to_rfc3339(),
            "2031-01-01T00:00:00+00:00"
        );
    }
}
