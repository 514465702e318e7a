//! Customs uses and verifications over HTTPS, at the receive endpoint beside the permit
//! envelopes: `POST <endpoint>/uses` records a use ([`UseMessage`]), `POST <endpoint>/verify`
//! answers a verification ([`VerifyMessage`]).
//!
//! Two kinds of sender, one signing scheme (Ed25519 over the exact body bytes, the key id in
//! `X-Ecites-Key-Id`, the signature in `X-Ecites-Signature`, `sent_at` within five minutes, the
//! message id used once), as for permit envelopes (`docs/exchange.md`):
//! - a **partner MA** tells the issuing MA what its customs did with the issuer's permit (an
//!   import confirmation, a border refusal): `from` is the partner's country, its key is the
//!   partner directory's, the permit must be the receiver's own, and the use must be reported
//!   by the sender's country;
//! - a registered **agency** (`agency` names it; `ecites agencies add`) of the receiver's
//!   country posts its customs' uses of any permit, and asks verifications before clearance.
//!
//! Before the signature is verified every refusal is the same 401, as for envelopes.

use crate::directory::{Agency, KeyChoiceError, PartnerDirectory};
use crate::protocol::{
    bounded, cap_findings, verify, within_window, Ack, AckStatus, Refusal, RefusalCode,
    WireFinding, KEY_ID_HEADER, MAX_ANSWER_TEXT_CHARS, MAX_MESSAGE_ID_CHARS, SIGNATURE_HEADER,
};
use crate::receive::{refuse, unauthenticated, Answer, InboundLedger, ReceiveSettings};
use crate::usage::{record_use_telling, UseLedger, UseOutcome, UseServices};
use crate::{Clock, Error};
use chrono::{DateTime, NaiveDate, Utc};
use ecites_domain::usage::{Border, PermitUse, UsedPermit, VerifyRequest};
use ecites_domain::{CountryCode, PermitId};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The path (suffix) uses are posted to.
pub const USES_PATH: &str = "/uses";
/// The path (suffix) verifications are posted to.
pub const VERIFY_PATH: &str = "/verify";
/// Format version of use and verify messages.
pub const USE_MESSAGE_VERSION: u32 = 1;
/// Largest use or verify message, in bytes.
pub const MAX_USE_MESSAGE_BYTES: usize = 256 * 1024;

/// A use, as a partner MA or an agency posts it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UseMessage {
    /// Format version ([`USE_MESSAGE_VERSION`]).
    pub message_version: u32,
    /// Unique per HTTP message (a new one per attempt): the replay key.
    pub message_id: String,
    /// The sender's country (ISO 3166-1 alpha-2).
    pub from: String,
    /// The registered agency sending, for an agency; absent for a partner MA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// The receiving MA's country.
    pub to: String,
    /// When it was sent (RFC 3339, UTC).
    pub sent_at: DateTime<Utc>,
    /// The use (`schema/use.schema.json`).
    #[serde(rename = "use")]
    pub used: PermitUse,
}

/// One declared block of a verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredBlock {
    /// The block letter.
    pub block: String,
    /// The declared quantity, in the permit's unit.
    pub quantity: Decimal,
}

/// A verification, as an agency asks it before clearing a shipment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyMessage {
    /// Format version ([`USE_MESSAGE_VERSION`]).
    pub message_version: u32,
    /// Unique per HTTP message.
    pub message_id: String,
    /// The sender's country.
    pub from: String,
    /// The registered agency asking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// The receiving MA's country.
    pub to: String,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// The permit.
    pub permit: UsedPermit,
    /// Export or import.
    pub at: Border,
    /// The day of the shipment.
    pub on: NaiveDate,
    /// The declared quantities, when any.
    #[serde(default)]
    pub blocks: Vec<DeclaredBlock>,
}

/// The services the use endpoints run over.
#[derive(Clone, Copy)]
pub struct UseReceiveServices<'a> {
    /// The partner directory: partner and agency keys, and the endpoints to tell a foreign
    /// permit's issuer of a use.
    pub partners: &'a dyn PartnerDirectory,
    /// Message id claims (replay guard), shared with permit envelopes.
    pub claims: &'a dyn InboundLedger,
    /// The ledger's side of uses.
    pub uses: &'a dyn UseLedger,
    /// The deliveries queue (forward), when this deployment tells issuers of uses posted here;
    /// `None`: recorded here only.
    pub queue: Option<&'a dyn crate::ports::DeliveryQueue>,
    /// The CITES checklist, for the listing tier of verifications.
    pub species: &'a dyn crate::ports::SpeciesChecklist,
    /// The clock.
    pub clock: &'a dyn Clock,
    /// Pulling over EPIX: a verification of a permit never received, whose issuer is an EPIX
    /// partner (`protocol: epix-soap`), first fetches it ([`crate::epix::client`]); `None`:
    /// verifications read the ledger only.
    pub epix: Option<crate::epix::client::FetchServices<'a>>,
}

/// What admitting a signed message reads: whose key verifies it, the message id claims, the
/// clock (shared by the use, verify and query endpoints: [`crate::query`]).
#[derive(Clone, Copy)]
pub(crate) struct Admission<'a> {
    pub(crate) partners: &'a dyn PartnerDirectory,
    pub(crate) claims: &'a dyn InboundLedger,
    pub(crate) clock: &'a dyn Clock,
}

impl<'a> From<UseReceiveServices<'a>> for Admission<'a> {
    fn from(services: UseReceiveServices<'a>) -> Self {
        Admission {
            partners: services.partners,
            claims: services.claims,
            clock: services.clock,
        }
    }
}

/// Who sent a message, once authenticated.
pub(crate) enum Sender {
    Partner(CountryCode),
    Agency(Agency),
}

impl Sender {
    pub(crate) fn country(&self) -> CountryCode {
        match self {
            Sender::Partner(country) => *country,
            Sender::Agency(agency) => agency.country,
        }
    }

    /// The source recorded with a use.
    fn source(&self, message_id: &str) -> String {
        match self {
            Sender::Partner(country) => format!("partner:{country}/{message_id}"),
            Sender::Agency(agency) => format!("agency:{}/{message_id}", agency.id),
        }
    }

    /// The id the message id is claimed under (partners by country, agencies by id).
    fn claim_id(&self, message_id: &str) -> String {
        match self {
            Sender::Partner(_) => message_id.to_owned(),
            Sender::Agency(agency) => format!("agency:{}:{message_id}", agency.id),
        }
    }
}

/// The fields every message has.
pub(crate) struct Head<'a> {
    pub(crate) message_version: u32,
    pub(crate) message_id: &'a str,
    pub(crate) from: &'a str,
    pub(crate) agency: Option<&'a str>,
    pub(crate) to: &'a str,
    pub(crate) sent_at: DateTime<Utc>,
}

/// A signed message of this module: its common fields, and who may send it.
pub(crate) trait Signed: serde::de::DeserializeOwned {
    /// Only registered agencies send it.
    const AGENCIES_ONLY: bool;
    /// Only partner MAs send it (no `agency`).
    const PARTNERS_ONLY: bool = false;
    /// The common fields.
    fn head(&self) -> Head<'_>;
}

impl Signed for UseMessage {
    const AGENCIES_ONLY: bool = false;
    fn head(&self) -> Head<'_> {
        Head {
            message_version: self.message_version,
            message_id: &self.message_id,
            from: &self.from,
            agency: self.agency.as_deref(),
            to: &self.to,
            sent_at: self.sent_at,
        }
    }
}

impl Signed for VerifyMessage {
    const AGENCIES_ONLY: bool = true;
    fn head(&self) -> Head<'_> {
        Head {
            message_version: self.message_version,
            message_id: &self.message_id,
            from: &self.from,
            agency: self.agency.as_deref(),
            to: &self.to,
            sent_at: self.sent_at,
        }
    }
}

/// A header looked up by lower-case name.
pub(crate) type HeaderLookup<'h> = dyn Fn(&str) -> Option<String> + Sync + 'h;

/// One signed endpoint (`/uses`, `/verify`, `/query`, `/headers`, `/acknowledge`): size and
/// method, the JSON read as `T` (errors name the field), then [`admit`] (signature, sender,
/// common fields); `answer` answers the admitted message. Every refusal is an answer; a
/// failure of our own infrastructure (`Err` from either step) is a 503 `UNAVAILABLE`, so the
/// sender retries. `what` names the endpoint in that log line.
pub(crate) async fn signed_endpoint<'s, S, T, F, Fut>(
    what: &str,
    services: S,
    settings: &ReceiveSettings,
    (method, header, body): (&str, &HeaderLookup<'_>, &[u8]),
    answer: F,
) -> Answer
where
    S: Copy + Into<Admission<'s>>,
    T: Signed,
    F: FnOnce(S, T, Sender) -> Fut,
    Fut: std::future::Future<Output = Result<Answer, Error>>,
{
    if let Some(answer) = preflight(settings, method, body) {
        return answer;
    }
    let message: T = match read(body) {
        Ok(message) => message,
        Err(answer) => return answer,
    };
    if T::AGENCIES_ONLY && message.head().agency.is_none() {
        return unauthenticated("only a registered agency sends this message");
    }
    if T::PARTNERS_ONLY && message.head().agency.is_some() {
        return unauthenticated("only a partner MA sends this message");
    }
    let outcome = match admit(services.into(), settings, header, body, message.head()).await {
        Ok(Ok(sender)) => answer(services, message, sender).await,
        Ok(Err(refusal)) => Ok(refusal),
        Err(error) => Err(error),
    };
    outcome.unwrap_or_else(|error| {
        tracing::warn!(error = %error, endpoint = what, "answering 503 so the sender retries");
        refuse(
            RefusalCode::Unavailable,
            "the receiver could not answer now; retry later",
            None,
        )
    })
}

/// Authenticates and checks the common fields; `Err` is the answer to give.
async fn admit(
    services: Admission<'_>,
    settings: &ReceiveSettings,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
    body: &[u8],
    head: Head<'_>,
) -> Result<Result<Sender, Answer>, Error> {
    let Ok(from) = head.from.parse::<CountryCode>() else {
        return Ok(Err(unauthenticated("`from` is not a country code")));
    };
    let key_id = header(KEY_ID_HEADER);
    let (sender, public_key) = match head.agency {
        None => {
            let partner = match services.partners.partner(from).await? {
                Some(partner) if partner.active => partner,
                _ => return Ok(Err(unauthenticated("the sender is not an active partner"))),
            };
            match partner.key_for(key_id.as_deref()) {
                Ok(key) => (Sender::Partner(from), key.to_owned()),
                Err(e) => return Ok(Err(unauthenticated(key_problem(&e)))),
            }
        }
        Some(id) => {
            let agency = match services.partners.agency(id).await? {
                Some(agency) if agency.active && agency.country == from => agency,
                _ => {
                    return Ok(Err(unauthenticated(
                        "the sender is not an active agency of that country",
                    )))
                }
            };
            match agency.key_for(key_id.as_deref()) {
                Ok(key) => {
                    let key = key.to_owned();
                    (Sender::Agency(agency), key)
                }
                Err(e) => return Ok(Err(unauthenticated(key_problem(&e)))),
            }
        }
    };
    let Some(signature) = header(SIGNATURE_HEADER) else {
        return Ok(Err(unauthenticated("the signature header is missing")));
    };
    if let Err(why) = verify(&public_key, body, &signature) {
        return Ok(Err(unauthenticated(&why.to_string())));
    }
    // Authenticated from here on: refusals may say why.
    let now = services.clock.now();
    if !within_window(head.sent_at, now) {
        return Ok(Err(refuse(
            RefusalCode::Unauthenticated,
            format!(
                "sent_at {} is more than 5 minutes from the receiver's clock ({now})",
                head.sent_at
            ),
            None,
        )));
    }
    let id_chars = head.message_id.chars().count();
    if head.message_version != USE_MESSAGE_VERSION
        || id_chars == 0
        || id_chars > MAX_MESSAGE_ID_CHARS
        || head.message_id.chars().any(char::is_control)
    {
        return Ok(Err(refuse(
            RefusalCode::NotReadable,
            format!(
                "message_version must be {USE_MESSAGE_VERSION} and message_id 1 to {MAX_MESSAGE_ID_CHARS} characters without control characters"
            ),
            None,
        )));
    }
    if head.to != settings.own_country.to_string() {
        return Ok(Err(refuse(
            RefusalCode::Forbidden,
            format!(
                "to: the message is addressed to {:?}, not {}",
                head.to, settings.own_country
            ),
            Some(head.message_id),
        )));
    }
    if !services
        .claims
        .claim_message(from, &sender.claim_id(head.message_id), now)
        .await?
    {
        return Ok(Err(refuse(
            RefusalCode::Replayed,
            "this message id was received before",
            Some(head.message_id),
        )));
    }
    Ok(Ok(sender))
}

fn key_problem(error: &KeyChoiceError) -> &'static str {
    match error {
        KeyChoiceError::NoKeyOnRecord => "no public key is on record for the sender",
        KeyChoiceError::UnknownKeyId { .. } => "the key id is not on record for the sender",
    }
}

fn preflight(settings: &ReceiveSettings, method: &str, body: &[u8]) -> Option<Answer> {
    if !method.eq_ignore_ascii_case("POST") {
        return Some(refuse(RefusalCode::MethodNotAllowed, "use POST", None));
    }
    let limit = settings.max_body_bytes.min(MAX_USE_MESSAGE_BYTES);
    (body.len() > limit).then(|| {
        refuse(
            RefusalCode::TooLarge,
            format!("the body is {} bytes, above {limit}", body.len()),
            None,
        )
    })
}

/// Reads a JSON body; errors name the field.
fn read<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Answer> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        refuse(
            RefusalCode::NotReadable,
            format!("{}: {}", e.path(), e.inner()),
            None,
        )
    })
}

/// Our tracking number for a use: derived from the permit and the use's key, so the same use
/// always gets the same number.
pub fn use_tracking_number(own: CountryCode, id: &PermitId, key: &str) -> String {
    let digest = Sha256::digest(format!("{id}\n{key}").as_bytes());
    format!("{own}-U-{}", &hex::encode(digest)[..20])
}

/// Handles `POST .../uses`. Transient failures of our own infrastructure are a 503 (the sender
/// retries); bad input is a refusal naming the field and the rule.
pub async fn receive_use(
    services: UseReceiveServices<'_>,
    settings: &ReceiveSettings,
    method: &str,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
    body: &[u8],
) -> Answer {
    signed_endpoint(
        "uses",
        services,
        settings,
        (method, header, body),
        |services, message: UseMessage, sender| use_answer(services, settings, message, sender),
    )
    .await
}

/// Answers an admitted `uses` message from `sender`.
async fn use_answer(
    services: UseReceiveServices<'_>,
    settings: &ReceiveSettings,
    message: UseMessage,
    sender: Sender,
) -> Result<Answer, Error> {
    let message_id = Some(message.message_id.as_str());
    // Authorisation: a party reports its own border's uses; a partner only of our permits.
    if message.used.reporter() != Some(sender.country()) {
        return Ok(refuse(
            RefusalCode::Forbidden,
            format!(
                "use.reported_by: {} may only report the uses of its own customs ({:?} given)",
                sender.country(),
                message.used.reported_by
            ),
            message_id,
        ));
    }
    match &sender {
        Sender::Partner(country) => {
            if message.used.permit_id().map(|id| id.issuer) != Some(settings.own_country) {
                return Ok(refuse(
                    RefusalCode::Forbidden,
                    format!(
                        "use.permit.issuer: {country} may tell {} only of {}'s own permits",
                        settings.own_country, settings.own_country
                    ),
                    message_id,
                ));
            }
        }
        Sender::Agency(agency) if !agency.reports_uses() => {
            return Ok(refuse(
                RefusalCode::Forbidden,
                format!(
                    "agency {}: a {} agency does not report uses (customs and enforcement do)",
                    agency.id,
                    agency.role.as_str()
                ),
                message_id,
            ));
        }
        Sender::Agency(_) => {}
    }
    let permit = message.used.permit_id();
    // An agency's use of a foreign permit is told to its issuer, as one sent on the queue is.
    let tell = match (&sender, services.queue) {
        (Sender::Agency(_), Some(_)) => {
            crate::usage::use_delivery(services.partners, settings.own_country, &message.used)
                .await?
        }
        _ => None,
    };
    let outcome = record_use_telling(
        UseServices {
            ledger: services.uses,
            clock: services.clock,
            own_country: settings.own_country,
        },
        message.used,
        &sender.source(&message.message_id),
        tell.clone(),
    )
    .await?;
    if let (Some(message), Some(queue), UseOutcome::Recorded { .. }) =
        (&tell, services.queue, &outcome)
    {
        queue.send(std::slice::from_ref(message)).await?;
    }
    match outcome {
        UseOutcome::Refused { findings } => {
            let (findings, omitted) =
                cap_findings(findings.iter().map(WireFinding::from).collect());
            let mut refusal = Refusal::new(RefusalCode::Invalid, "the use is invalid");
            refusal.message_id = Some(message.message_id.clone());
            refusal.findings = findings;
            refusal.findings_omitted = omitted;
            Ok(Answer::refuse(refusal))
        }
        UseOutcome::Recorded {
            key,
            duplicate,
            findings,
            ..
        } => {
            let (wire, omitted) = cap_findings(findings.iter().map(WireFinding::from).collect());
            let id = permit.ok_or_else(|| Error::permanent("use", "recorded without a permit"))?;
            Ok(Answer::ack(&Ack {
                kind: "ack".into(),
                tracking_number: use_tracking_number(settings.own_country, &id, &key),
                message_id: message.message_id,
                status: if wire.is_empty() {
                    AckStatus::Delivered
                } else {
                    AckStatus::DeliveredWithWarnings
                },
                findings: wire,
                findings_omitted: omitted,
                duplicate,
            }))
        }
    }
}

/// Handles `POST .../verify`: the answer is [`ecites_domain::usage::Verification`] as JSON.
/// Only registered agencies ask.
pub async fn receive_verify(
    services: UseReceiveServices<'_>,
    settings: &ReceiveSettings,
    method: &str,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
    body: &[u8],
) -> Answer {
    signed_endpoint(
        "verify",
        services,
        settings,
        (method, header, body),
        |services, message: VerifyMessage, sender| {
            verify_answer(services, settings, message, sender)
        },
    )
    .await
}

/// Answers an admitted `verify` message from `sender`.
async fn verify_answer(
    services: UseReceiveServices<'_>,
    settings: &ReceiveSettings,
    message: VerifyMessage,
    sender: Sender,
) -> Result<Answer, Error> {
    let (Ok(issuer), number) = (
        message.permit.issuer.trim().parse::<CountryCode>(),
        message.permit.number.trim(),
    ) else {
        return Ok(refuse(
            RefusalCode::NotReadable,
            format!(
                "permit.issuer: {:?} is not an ISO 3166-1 alpha-2 code",
                bounded(&message.permit.issuer, MAX_ANSWER_TEXT_CHARS)
            ),
            Some(&message.message_id),
        ));
    };
    if number.is_empty() || number.chars().count() > ecites_domain::usage::MAX_USE_ID_CHARS {
        return Ok(refuse(
            RefusalCode::NotReadable,
            "permit.number: 1 to 35 characters",
            Some(&message.message_id),
        ));
    }
    let request = VerifyRequest {
        id: PermitId {
            issuer,
            number: number.to_owned(),
        },
        at: message.at,
        by: sender.country(),
        on: message.on,
        declared: message
            .blocks
            .into_iter()
            .take(ecites_domain::usage::MAX_USE_BLOCKS)
            .map(|b| (b.block, b.quantity))
            .collect(),
    };
    if let Some(fetch) = services.epix {
        fetch_if_never_received(services, fetch, settings, &request.id).await?;
    }
    let checklist = services.species.checklist().await?;
    let answer = crate::usage::verify_permit_listed(
        UseServices {
            ledger: services.uses,
            clock: services.clock,
            own_country: settings.own_country,
        },
        &request,
        checklist.as_deref(),
    )
    .await?;
    Ok(Answer {
        status: 200,
        body: serde_json::to_string(&answer)
            .map_err(|e| Error::permanent("serialize verification", e))?,
    })
}

/// Builds the signed use message for a delivery to the permit's issuing MA: the body and the
/// headers (as [`crate::forward::build_message`] does for permits).
pub fn build_use_message(
    sender: &str,
    recipient: &str,
    used: &PermitUse,
    message_id: &str,
    signer: &crate::protocol::SigningIdentity,
    now: DateTime<Utc>,
) -> (Vec<u8>, Vec<(&'static str, String)>) {
    let message = UseMessage {
        message_version: USE_MESSAGE_VERSION,
        message_id: message_id.to_owned(),
        from: sender.to_owned(),
        agency: None,
        to: recipient.to_owned(),
        sent_at: now,
        used: used.clone(),
    };
    let body = serde_json::to_vec(&message).unwrap_or_default();
    let headers = vec![
        ("content-type", "application/json".to_owned()),
        (SIGNATURE_HEADER, signer.sign(&body)),
        (KEY_ID_HEADER, signer.key_id.clone()),
    ];
    (body, headers)
}

/// Before a verification of a foreign permit never received: when its issuer is an active EPIX
/// partner, pulls the permit from it (and records it as received) so the verification reads
/// it. A failed pull is recorded on the permit ([`crate::epix::client::fetch_from_partner`])
/// and the verification goes on with what the ledger holds (the permit then reads as never
/// received). Errors: only the ledger's.
async fn fetch_if_never_received(
    services: UseReceiveServices<'_>,
    fetch: crate::epix::client::FetchServices<'_>,
    settings: &ReceiveSettings,
    id: &PermitId,
) -> Result<(), Error> {
    if id.issuer == settings.own_country || services.uses.permit_uses(id).await?.record.is_some() {
        return Ok(());
    }
    let epix = matches!(
        services.partners.partner(id.issuer).await?,
        Some(partner) if partner.active && partner.protocol == crate::directory::Protocol::EpixSoap
    );
    if !epix {
        return Ok(());
    }
    match crate::epix::client::fetch_from_partner(
        fetch,
        settings.own_country,
        id.issuer,
        &id.number,
        false,
    )
    .await
    {
        Ok(pulled) => {
            tracing::info!(permit = %id, tracking_number = %pulled.tracking_number, "pulled over EPIX for a verification");
            Ok(())
        }
        Err(error) => {
            tracing::warn!(permit = %id, %error, "EPIX pull for a verification failed");
            Ok(())
        }
    }
}

/// The URL uses are posted to, from a partner's endpoint.
pub fn uses_url(endpoint: &str) -> String {
    format!("{}{USES_PATH}", endpoint.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::NoChecklist;
    use crate::protocol::{SigningIdentity, KEY_ID_HEADER, SIGNATURE_HEADER};
    use crate::testing::{FixedClock, MemoryDirectory, MemoryInbound, NoUses};
    use crate::usage::{NewUse, PermitUses, UseRecorded};
    use async_trait::async_trait;
    use ecites_domain::Finding;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A ledger without uses that counts what it is asked to record; `.1`: its writes fail
    /// transiently (throttled).
    #[derive(Default)]
    struct CountingUses(AtomicUsize, bool);

    #[async_trait]
    impl UseLedger for CountingUses {
        async fn permit_uses(&self, id: &PermitId) -> Result<PermitUses, Error> {
            NoUses.permit_uses(id).await
        }
        async fn record_use(&self, new: &NewUse) -> Result<UseRecorded, Error> {
            self.0.fetch_add(1, Ordering::SeqCst);
            if self.1 {
                return Err(Error::transient(
                    "dynamodb:TransactWriteItems",
                    "ThrottlingException",
                ));
            }
            NoUses.record_use(new).await
        }
        async fn uses_rechecked(&self, id: &PermitId, at: DateTime<Utc>) -> Result<(), Error> {
            NoUses.uses_rechecked(id, at).await
        }
        async fn mark_replaced(
            &self,
            id: &PermitId,
            by: &str,
            at: DateTime<Utc>,
        ) -> Result<(), Error> {
            NoUses.mark_replaced(id, by, at).await
        }
        async fn recheck_use(
            &self,
            id: &PermitId,
            key: &str,
            findings: &[Finding],
            facts: &ecites_domain::usage::PermitFacts,
            at: DateTime<Utc>,
        ) -> Result<bool, Error> {
            NoUses.recheck_use(id, key, findings, facts, at).await
        }
    }

    /// XA's use endpoints, XB its partner.
    struct World {
        key: SigningIdentity,
        partners: MemoryDirectory,
        claims: MemoryInbound,
        uses: CountingUses,
        clock: FixedClock,
    }

    const MAX_BODY: usize = 16 * 1024;

    fn world() -> World {
        let key = SigningIdentity::generate("XB-1").unwrap();
        let partner = crate::testing::loopback_partner("XB", &key);
        World {
            key,
            partners: MemoryDirectory::of([partner]),
            claims: MemoryInbound::default(),
            uses: CountingUses::default(),
            clock: FixedClock(Utc::now()),
        }
    }

    /// XB's customs confirm the import of XA's permit 26XA0001, reported as `reported_by`.
    fn import_confirmation(reported_by: &str) -> PermitUse {
        serde_json::from_value(serde_json::json!({
            "kind": "import_confirmation",
            "permit": {"issuer": "XA", "number": "26XA0001"},
            "reported_by": reported_by,
            "declaration_number": "XB-DEC-1",
            "date": "2026-02-12",
            "blocks": [{"block": "A", "quantity": {"value": "3"}}]
        }))
        .unwrap()
    }

    async fn post(
        w: &World,
        verify: bool,
        body: &[u8],
        headers: &[(&'static str, String)],
    ) -> (u16, String) {
        let services = UseReceiveServices {
            partners: &w.partners,
            claims: &w.claims,
            uses: &w.uses,
            queue: None,
            species: &NoChecklist,
            clock: &w.clock,
            epix: None,
        };
        let settings = ReceiveSettings {
            own_country: "XA".parse().unwrap(),
            max_body_bytes: MAX_BODY,
        };
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        let answer = if verify {
            receive_verify(services, &settings, "POST", &header, body).await
        } else {
            receive_use(services, &settings, "POST", &header, body).await
        };
        (answer.status, answer.body)
    }

    /// Generated hostile use and verification messages (fixed seed): truncated and re-signed,
    /// one byte tampered under the sender's signature, oversized, signed by a key no partner
    /// holds, garbage signed by the genuine sender, a use reported for another country's
    /// customs (wrong sender), a partner asking a verification only agencies may ask, and a
    /// genuine use replayed. Each gets its 4xx (never a 5xx, never a panic) and nothing is
    /// recorded but the genuine use, once.
    #[test]
    fn hostile_use_and_verify_messages_at_volume_get_their_status_and_record_nothing() {
        use proptest::prelude::*;
        let mut runner = crate::testing::hostile_runner(29);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let stranger = SigningIdentity::generate("XB-1").unwrap();
        let strategy = (0..8u8, any::<u32>(), 1..=255u8, 1..400usize);
        runner
            .run(&strategy, |(kind, position, byte, garbage)| {
                let w = world();
                let now = w.clock.0;
                let id = format!("m-{position}");
                let (body, headers) =
                    build_use_message("XB", "XA", &import_confirmation("XB"), &id, &w.key, now);
                let signed = |bytes: &[u8]| {
                    vec![
                        (SIGNATURE_HEADER, w.key.sign(bytes)),
                        (KEY_ID_HEADER, w.key.key_id.clone()),
                    ]
                };
                let at = position as usize % body.len();
                let (verify, request, headers, allowed): (bool, Vec<u8>, _, &[u16]) = match kind {
                    0 => {
                        let cut = body[..at].to_vec();
                        let headers = signed(&cut);
                        (false, cut, headers, &[400])
                    }
                    1 => {
                        let mut tampered = body.clone();
                        tampered[at] ^= byte;
                        (false, tampered, headers, &[400, 401])
                    }
                    2 => {
                        let mut big = body.clone();
                        big.resize(MAX_BODY + garbage, b' ');
                        let headers = signed(&big);
                        (false, big, headers, &[413])
                    }
                    3 => {
                        let headers = vec![
                            (SIGNATURE_HEADER, stranger.sign(&body)),
                            (KEY_ID_HEADER, stranger.key_id.clone()),
                        ];
                        (false, body.clone(), headers, &[401])
                    }
                    4 => {
                        let junk: Vec<u8> = (0..garbage)
                            .map(|i| (i as u8).wrapping_mul(byte).wrapping_add(position as u8))
                            .collect();
                        let headers = signed(&junk);
                        // To either endpoint.
                        (byte % 2 == 0, junk, headers, &[400])
                    }
                    5 => {
                        let (body, headers) = build_use_message(
                            "XB",
                            "XA",
                            &import_confirmation("XC"),
                            &id,
                            &w.key,
                            now,
                        );
                        (false, body, headers, &[403])
                    }
                    6 => {
                        let message = VerifyMessage {
                            message_version: USE_MESSAGE_VERSION,
                            message_id: id.clone(),
                            from: "XB".into(),
                            agency: None,
                            to: "XA".into(),
                            sent_at: now,
                            permit: UsedPermit {
                                issuer: "XA".into(),
                                number: "26XA0001".into(),
                                version: None,
                            },
                            at: Border::Import,
                            on: now.date_naive(),
                            blocks: vec![],
                        };
                        let body = serde_json::to_vec(&message).unwrap();
                        let headers = signed(&body);
                        (true, body, headers, &[401, 403])
                    }
                    _ => {
                        let (first, answer) = runtime.block_on(post(&w, false, &body, &headers));
                        prop_assert!((200..300).contains(&first), "{}", answer);
                        prop_assert_eq!(w.uses.0.load(Ordering::SeqCst), 1);
                        let (again, replayed) = runtime.block_on(post(&w, false, &body, &headers));
                        prop_assert_eq!(again, 409, "{}", replayed);
                        prop_assert!(replayed.contains("REPLAYED"), "{}", replayed);
                        prop_assert_eq!(
                            w.uses.0.load(Ordering::SeqCst),
                            1,
                            "the replay recorded nothing"
                        );
                        return Ok(());
                    }
                };
                let (status, refusal) = runtime.block_on(post(&w, verify, &request, &headers));
                prop_assert!(
                    allowed.contains(&status),
                    "kind {}: status {} not in {:?}: {}",
                    kind,
                    status,
                    allowed,
                    refusal
                );
                prop_assert_eq!(
                    w.uses.0.load(Ordering::SeqCst),
                    0,
                    "kind {}: recorded",
                    kind
                );
                Ok(())
            })
            .unwrap();
    }

    /// A genuine use whose recording fails transiently (our ledger throttled) is answered 503
    /// `UNAVAILABLE`, so the sender retries it; it is not refused for good, and the failure's
    /// text is not shown to the sender.
    #[tokio::test]
    async fn a_use_our_ledger_cannot_record_now_is_answered_503_so_the_sender_retries() {
        let mut w = world();
        w.uses = CountingUses(AtomicUsize::new(0), true);
        let (body, headers) = build_use_message(
            "XB",
            "XA",
            &import_confirmation("XB"),
            "m-throttled",
            &w.key,
            w.clock.0,
        );
        let (status, answer) = post(&w, false, &body, &headers).await;
        assert_eq!(status, 503, "{answer}");
        assert!(answer.contains("UNAVAILABLE"), "{answer}");
        assert!(!answer.contains("Throttling"), "{answer}");
        assert_eq!(w.uses.0.load(Ordering::SeqCst), 1, "the write was tried");
    }
}
