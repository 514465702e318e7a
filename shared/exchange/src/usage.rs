//! The permit-use use cases: record what customs did with a permit at a border, check it
//! against the ledger, and answer customs' verification before clearance.
//!
//! Recording a use ([`record_use`]) is one read of the permit's partition (the permit on record
//! and the uses so far, [`UseLedger::permit_uses`]), the checks of
//! [`ecites_domain::usage::check_use`], and one conditional write ([`UseLedger::record_use`]):
//! - the use is keyed by (kind, customs declaration): the same use delivered twice is one use;
//! - the first consignment of a kind claims the permit (`CONSIGNMENT#<kind>`) in the same
//!   transaction: of two different uses arriving at once exactly one is first, the other finds
//!   the claim taken, reads again and is recorded as a second consignment;
//! - a use of a permit the ledger does not know is recorded as waiting, with its finding
//!   (`use-permit-not-received`: the paper may be forged), and checked again when the permit
//!   arrives ([`recheck_waiting_uses`]): a late delivery is not fraud.
//!
//! Findings of severity error are alerts: the notify function tells subscribers from the
//! ledger's stream (event types `used` and `alert`).

use crate::keys::escape_component;
use crate::ports::Clock;
use crate::Error;
use async_trait::async_trait;
use chrono::{DateTime, Months, Utc};
use ecites_domain::usage::{
    check_use, check_use_form, verify, PermitOnRecord, PermitUse, UseOnRecord, Verification,
    VerifyRequest,
};
use ecites_domain::{CountryCode, Finding, PermitId};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// How often a use is checked again when another use claimed the consignment meanwhile.
const MAX_CLAIM_RETRIES: usize = 5;

/// How long a use is kept (CITES: records at least five years; uses outlive their permit's
/// validity, so six years from the use).
pub const USE_RETENTION_MONTHS: u32 = 6 * 12;

/// A use on the ledger, with its key and whether it waits for its permit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredUse {
    /// The use's key within the permit ([`use_key`]).
    pub key: String,
    /// The use with its recorded findings' rules.
    pub on_record: UseOnRecord,
    /// The findings recorded with it.
    pub findings: Vec<Finding>,
    /// True while the permit is unknown: checked again when it arrives.
    pub waiting: bool,
}

/// What the ledger holds on a permit for its uses: one read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PermitUses {
    /// The permit, when issued here or received.
    pub record: Option<PermitOnRecord>,
    /// The standard XML of its current version, when on record.
    pub xml_key: Option<String>,
    /// The uses so far, oldest first.
    pub uses: Vec<StoredUse>,
}

/// A use to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUse {
    /// The permit.
    pub id: PermitId,
    /// Its key ([`use_key`]).
    pub key: String,
    /// The use.
    pub used: PermitUse,
    /// Its findings.
    pub findings: Vec<Finding>,
    /// Claim the permit's consignment of this kind for this use's declaration (the first use
    /// of its kind).
    pub claim_consignment: bool,
    /// The permit is unknown: check again when it arrives.
    pub waiting: bool,
    /// The facts of the permit the use was checked against (absent while it waits): kept with
    /// the use for the annual report ([`ecites_domain::report`]).
    pub facts: Option<ecites_domain::usage::PermitFacts>,
    /// The standard XML of the permit's current version, when known (notifications summarise
    /// the permit from it).
    pub permit_xml_key: Option<String>,
    /// Where the use came from (`sqs:<message id>`, `agency:<id>`), for the audit trail.
    pub source: String,
    /// The delivery telling the permit's issuing MA (a use of a foreign permit): its ledger row
    /// (PENDING, keyed by the use) is written in the use's transaction.
    pub tell: Option<crate::DeliveryMessage>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Kept at least until then.
    pub retain_until: DateTime<Utc>,
}

/// What recording did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UseRecorded {
    /// Recorded now.
    New,
    /// The same use (kind, permit, declaration) was recorded before: nothing changed.
    Duplicate,
    /// Another use claimed the consignment meanwhile: read again and check again.
    ConsignmentTaken,
}

/// The ledger's side of permit use.
#[async_trait]
pub trait UseLedger: Send + Sync {
    /// The permit on record and its uses, in one read.
    async fn permit_uses(&self, id: &PermitId) -> Result<PermitUses, Error>;
    /// Records a use with an audit row, in one conditional write.
    async fn record_use(&self, new: &NewUse) -> Result<UseRecorded, Error>;
    /// Marks `replaced` as replaced by the permit numbered `by` (same issuer), with an audit row
    /// (idempotent): a use of it is then `use-permit-replaced`.
    async fn mark_replaced(
        &self,
        replaced: &PermitId,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Error>;
    /// Marks that the uses waiting for the permit were checked again (idempotent), so the
    /// permit's next recordings no longer look for them.
    async fn uses_rechecked(&self, id: &PermitId, at: DateTime<Utc>) -> Result<(), Error>;
    /// Replaces the findings of a waiting use now that its permit arrived (and it is no longer
    /// waiting), and keeps the permit's `facts` with it; `false` when it was checked again
    /// before (another arrival got there first).
    async fn recheck_use(
        &self,
        id: &PermitId,
        key: &str,
        findings: &[Finding],
        facts: &ecites_domain::usage::PermitFacts,
        at: DateTime<Utc>,
    ) -> Result<bool, Error>;
}

/// The key of a use within its permit: its kind and customs declaration (a refusal without a
/// declaration: its content's digest), escaped as ledger keys are.
pub fn use_key(used: &PermitUse) -> String {
    let declaration = used.declaration_number.trim();
    if declaration.is_empty() {
        let json = serde_json::to_vec(used).unwrap_or_default();
        let digest = hex::encode(Sha256::digest(&json));
        format!("{}#~{}", used.kind.as_str(), &digest[..32])
    } else {
        format!("{}#{}", used.kind.as_str(), escape_component(declaration))
    }
}

/// What happened to one use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum UseOutcome {
    /// Recorded (or found recorded before), with its findings: errors are alerts.
    Recorded {
        /// `ISSUER/number`.
        permit: String,
        /// The use's key.
        key: String,
        /// True when recorded before.
        duplicate: bool,
        /// True when the permit is unknown and the use waits for it.
        waiting: bool,
        /// The findings.
        findings: Vec<Finding>,
        /// The standard XML of the permit's current version, when on record.
        #[serde(skip)]
        xml_key: Option<String>,
        /// The permit's current version, when on record.
        #[serde(skip)]
        version: Option<u32>,
    },
    /// Refused: the use itself is broken ([`check_use_form`]); nothing recorded.
    Refused {
        /// What is wrong, field by field.
        findings: Vec<Finding>,
    },
}

impl UseOutcome {
    /// The rule ids of the findings with severity error.
    pub fn alerts(&self) -> Vec<&str> {
        match self {
            UseOutcome::Recorded { findings, .. } => {
                ecites_domain::usage::alert_rules(findings).collect()
            }
            UseOutcome::Refused { .. } => Vec::new(),
        }
    }
}

/// The services the use cases run over.
#[derive(Clone, Copy)]
pub struct UseServices<'a> {
    /// The ledger.
    pub ledger: &'a dyn UseLedger,
    /// The clock.
    pub clock: &'a dyn Clock,
    /// This deployment's Management Authority country.
    pub own_country: CountryCode,
}

/// How long records of a use made at `at` are kept ([`USE_RETENTION_MONTHS`]).
pub fn use_retain_until(at: DateTime<Utc>) -> DateTime<Utc> {
    at.checked_add_months(Months::new(USE_RETENTION_MONTHS))
        .unwrap_or(at)
}

fn earlier(uses: &[StoredUse]) -> Vec<UseOnRecord> {
    uses.iter().map(|u| u.on_record.clone()).collect()
}

/// Records a use: refused when broken, else checked and recorded once (see the module doc).
pub async fn record_use(
    services: UseServices<'_>,
    used: PermitUse,
    source: &str,
) -> Result<UseOutcome, Error> {
    record_use_telling(services, used, source, None).await
}

/// [`record_use`], with the delivery that tells the permit's issuing MA recorded in the same
/// transaction (the caller sends it once recorded).
pub async fn record_use_telling(
    services: UseServices<'_>,
    used: PermitUse,
    source: &str,
    tell: Option<crate::DeliveryMessage>,
) -> Result<UseOutcome, Error> {
    let form = check_use_form(&used);
    if form.iter().any(Finding::is_error) {
        return Ok(UseOutcome::Refused { findings: form });
    }
    let Some(id) = used.permit_id() else {
        return Ok(UseOutcome::Refused { findings: form });
    };
    let key = use_key(&used);
    for _ in 0..MAX_CLAIM_RETRIES {
        let on_ledger = services.ledger.permit_uses(&id).await?;
        if let Some(same) = on_ledger.uses.iter().find(|u| u.key == key) {
            return Ok(UseOutcome::Recorded {
                permit: id.to_string(),
                key,
                duplicate: true,
                waiting: same.waiting,
                findings: same.findings.clone(),
                xml_key: on_ledger.xml_key.clone(),
                version: on_ledger.record.as_ref().map(|r| r.version),
            });
        }
        let before = earlier(&on_ledger.uses);
        let findings = check_use(
            services.own_country,
            on_ledger.record.as_ref(),
            &before,
            &used,
        );
        let claim_consignment =
            used.kind.is_consignment() && !before.iter().any(|u| u.reported.kind == used.kind);
        let now = services.clock.now();
        let new = NewUse {
            id: id.clone(),
            key: key.clone(),
            used: used.clone(),
            findings: findings.clone(),
            claim_consignment,
            waiting: on_ledger.record.is_none(),
            facts: on_ledger.record.as_ref().map(|record| record.facts.clone()),
            permit_xml_key: on_ledger.xml_key.clone(),
            source: source.to_owned(),
            tell: tell.clone(),
            recorded_at: now,
            retain_until: use_retain_until(now),
        };
        match services.ledger.record_use(&new).await? {
            UseRecorded::New => {
                let alerts: Vec<&str> = ecites_domain::usage::alert_rules(&findings).collect();
                if alerts.is_empty() {
                    tracing::info!(permit = %id, kind = %used.kind, source, "use recorded");
                } else {
                    tracing::warn!(permit = %id, kind = %used.kind, source, alerts = ?alerts, "use recorded with alerts");
                }
                return Ok(UseOutcome::Recorded {
                    permit: id.to_string(),
                    key,
                    duplicate: false,
                    waiting: new.waiting,
                    findings,
                    xml_key: new.permit_xml_key,
                    version: on_ledger.record.as_ref().map(|r| r.version),
                });
            }
            UseRecorded::Duplicate => continue,
            UseRecorded::ConsignmentTaken => continue,
        }
    }
    Err(Error::transient(
        "record use",
        format!("permit {id}: the ledger kept changing under the use; retried {MAX_CLAIM_RETRIES} times"),
    ))
}

/// The delivery of a use of a foreign permit to the permit's issuing MA, when the issuer is an
/// active partner: the forward function signs it and posts it to the issuer's `<endpoint>/uses`
/// ([`crate::receive_use`]). It carries the use itself (no object to store and read back), and
/// its ledger row is written in the use's own transaction.
pub async fn use_delivery(
    partners: &dyn crate::PartnerDirectory,
    own_country: CountryCode,
    used: &PermitUse,
) -> Result<Option<crate::DeliveryMessage>, Error> {
    let Some(id) = used.permit_id() else {
        return Ok(None);
    };
    if id.issuer == own_country {
        return Ok(None);
    }
    let endpoint = match partners.partner(id.issuer).await? {
        Some(partner) if partner.active => partner.endpoint,
        _ => {
            tracing::warn!(permit = %id, issuer = %id.issuer, "the issuer is not an active partner: the use is recorded here but not told to it");
            return Ok(None);
        }
    };
    let key = use_key(used);
    let json = serde_json::to_string(used).map_err(|e| Error::permanent("serialize use", e))?;
    Ok(Some(crate::DeliveryMessage {
        message_type: "delivery".into(),
        version: 1,
        delivery_id: crate::ledger::use_delivery_id(&id, &key, id.issuer),
        kind: crate::ledger::DeliveryKind::Use,
        issuer: id.issuer.to_string(),
        permit_number: id.number.clone(),
        permit_version: 1,
        replaces_version: None,
        recipient: id.issuer.to_string(),
        endpoint,
        xml_bucket: String::new(),
        xml_key: String::new(),
        content_sha256: hex::encode(Sha256::digest(json.as_bytes())),
        reason: None,
        use_key: Some(key),
        sender: Some(own_country.to_string()),
        payload: Some(json),
    }))
}

/// Checks again the uses that waited for a permit, now that it is on record (called after a
/// permit version is recorded or a permit received). Returns how many were checked again.
pub async fn recheck_waiting_uses(
    services: UseServices<'_>,
    id: &PermitId,
) -> Result<usize, Error> {
    let on_ledger = services.ledger.permit_uses(id).await?;
    let Some(record) = on_ledger.record.as_ref() else {
        return Ok(0);
    };
    let mut rechecked = 0;
    for (index, stored) in on_ledger.uses.iter().enumerate() {
        if !stored.waiting {
            continue;
        }
        // Checked against the uses recorded before it, as if the permit had been there.
        let before = earlier(&on_ledger.uses[..index]);
        let findings = check_use(
            services.own_country,
            Some(record),
            &before,
            &stored.on_record.reported,
        );
        if services
            .ledger
            .recheck_use(
                id,
                &stored.key,
                &findings,
                &record.facts,
                services.clock.now(),
            )
            .await?
        {
            tracing::info!(permit = %id, key = %stored.key, alerts = findings.iter().filter(|f| f.is_error()).count(), "waiting use checked again now that its permit is on record");
            rechecked += 1;
        }
    }
    services
        .ledger
        .uses_rechecked(id, services.clock.now())
        .await?;
    Ok(rechecked)
}

/// Answers customs' verification from the ledger: one read, nothing recorded.
pub async fn verify_permit(
    services: UseServices<'_>,
    request: &VerifyRequest,
) -> Result<Verification, Error> {
    verify_permit_listed(services, request, None).await
}

/// [`verify_permit`], with the `listing` tier over the permit's species when the deployment
/// has a CITES checklist loaded. A foreign permit's listing findings are warnings (its issuer
/// is the authority, as for receive); a permit of our own with a listing error was refused at
/// ingest, so its findings stand as they are.
pub async fn verify_permit_listed(
    services: UseServices<'_>,
    request: &VerifyRequest,
    checklist: Option<&ecites_domain::Checklist>,
) -> Result<Verification, Error> {
    let on_ledger = services.ledger.permit_uses(&request.id).await?;
    let mut answer = verify(
        services.own_country,
        request,
        on_ledger.record.as_ref(),
        &earlier(&on_ledger.uses),
    );
    if let (Some(checklist), Some(record)) = (checklist, on_ledger.record.as_ref()) {
        let foreign = record.id.issuer != services.own_country;
        answer.findings.extend(
            ecites_domain::validate_listing(&record.facts.listing_view(), checklist)
                .into_iter()
                .map(|mut finding| {
                    if foreign {
                        finding.severity = finding.severity.min(ecites_domain::Severity::Warning);
                    }
                    finding
                }),
        );
        answer.usable = !answer.findings.iter().any(Finding::is_error);
    }
    Ok(answer)
}
