//! The partner directory (`config/partners.json`): the partner MAs this deployment exchanges
//! with (endpoint, accepted document types, Ed25519 public keys) and the agencies of its own
//! country that post customs uses and verifications. One document, one model, one port
//! ([`PartnerDirectory`]): ingest reads where to deliver, forward where to send, receive whose
//! key verifies a message. Operators edit it with `ecites partners` and `ecites agencies`:
//!
//! ```json
//! {"version": 1, "partners": [
//!   {"country": "XB", "name": "MA of XB", "endpoint": "https://ma.xb.example/cites",
//!    "active": true, "accepted_document_types": ["E", "R"],
//!    "public_key": "<base64 Ed25519>", "key_id": "XB-2026-1",
//!    "rotation_keys": [{"key_id": "XB-2027-1", "public_key": "<base64 Ed25519>"}],
//!    "client_certificate_secret": "ecites/client-certificates/xb",
//!    "document_format": "v1"}]}
//! ```
//!
//! `rotation_keys` lets a key rotation overlap instead of being a switch at an agreed minute:
//! while the partner moves to its new key, messages signed with either key are accepted, each
//! key chosen by the `X-Ecites-Key-Id` the message carries ([`Partner::key_for`]).
//!
//! `client_certificate_secret` names the client certificate forward presents to a partner
//! whose endpoint requires mutual TLS ([`crate::forward::ClientCertificates`]).
//!
//! `document_format` is `"v1"` for a partner that reads only toolkit v1 (`CBFShip`): forward
//! sends it v1; absent (or `"v2"`) means the canonical v2.

use async_trait::async_trait;
use ecites_domain::CountryCode;
use serde::{Deserialize, Serialize};

/// The XML version a partner reads ([`Partner::document_format`]): `v2` or `v1`.
pub use ecites_domain::xml::Version as DocumentFormat;

/// One partner MA with its keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    /// The partner's country.
    pub country: CountryCode,
    /// Where to deliver (`https://`); may be empty for a partner that pulls
    /// ([`DeliveryMode::Pull`]).
    #[serde(default)]
    pub endpoint: String,
    /// The MA's name, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the partner currently exchanges; an inactive partner neither receives nor is
    /// accepted as a sender.
    #[serde(default = "yes")]
    pub active: bool,
    /// Document types (E, R, I, O) the partner accepts; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_document_types: Vec<String>,
    /// The partner's Ed25519 public key (base64 of the 32 bytes): messages from it are
    /// verified with this key. Without it, nothing from the partner is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// The id the partner sends in `X-Ecites-Key-Id`; when set, it must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Further keys accepted from the partner while it rotates (the new key before it becomes
    /// `public_key`, or the old one until it is retired); each is used only for messages
    /// carrying its key id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotation_keys: Vec<PartnerKey>,
    /// The Secrets Manager secret (name or ARN) holding the client certificate forward
    /// presents to this partner, for a partner whose endpoint requires mutual TLS: JSON
    /// `{"certificate": "<PEM chain, leaf first>", "private_key": "<PEM key>"}`. Without it,
    /// forward presents none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_secret: Option<String>,
    /// How the partner exchanges: this project's signed envelopes (`ecites`, the default), or
    /// only EPIX Connect's country-adapter interface (`epix-soap`, `docs/epix.md`): its
    /// `endpoint` is then its SOAP service, its permits are pulled, our import confirmations
    /// are told to it with `ConfirmQuantities`, and it needs no Ed25519 key.
    #[serde(default, skip_serializing_if = "Protocol::is_ecites")]
    pub protocol: Protocol,
    /// The CITES e-permit XML version the partner reads: `"v2"` (the default, not written) or
    /// `"v1"` for a partner on toolkit v1 (`CBFShip`), to which forward writes v1
    /// (`ecites_domain::xml::write_permit_v1`, lossy: docs/standard-format.md §7).
    #[serde(default, skip_serializing_if = "is_v2")]
    pub document_format: DocumentFormat,
    /// How the partner gets our permits: `push` (forward POSTs them to `endpoint`, the
    /// default) or `pull` (forward leaves each delivery `PENDING` and the partner fetches it
    /// through `POST <our endpoint>/headers` and `/query`, then acknowledges it through
    /// `/acknowledge`: [`crate::query`]). A pull partner's `endpoint` may be empty.
    #[serde(default, skip_serializing_if = "DeliveryMode::is_push")]
    pub delivery: DeliveryMode,
}

/// How a partner gets our permits (`delivery` in its directory entry).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    /// Forward POSTs each document to the partner's endpoint.
    #[default]
    Push,
    /// The partner polls our receive endpoint and fetches what is addressed to it.
    Pull,
}

impl DeliveryMode {
    /// True for [`DeliveryMode::Push`] (the default, not written to the directory).
    pub fn is_push(&self) -> bool {
        *self == DeliveryMode::Push
    }

    /// `push` or `pull`, as the directory writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Push => "push",
            DeliveryMode::Pull => "pull",
        }
    }
}

/// How a partner exchanges ([`Partner::protocol`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Signed JSON envelopes over HTTPS (`docs/exchange.md`).
    #[default]
    Ecites,
    /// EPIX Connect's SOAP country-adapter interface (`docs/epix.md`).
    EpixSoap,
}

impl Protocol {
    /// The directory's form (`ecites`, `epix-soap`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Ecites => "ecites",
            Protocol::EpixSoap => "epix-soap",
        }
    }

    /// True for the default (skipped when the directory is written).
    pub fn is_ecites(&self) -> bool {
        *self == Protocol::Ecites
    }
}

fn is_v2(format: &DocumentFormat) -> bool {
    *format == DocumentFormat::V2
}

/// A public key accepted alongside the partner's current one during a rotation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerKey {
    /// The id the partner sends in `X-Ecites-Key-Id` with messages signed by this key.
    pub key_id: String,
    /// The Ed25519 public key, base64 of the 32 bytes.
    pub public_key: String,
}

/// Why an edit of the directory was refused; nothing is written. The message names the entry
/// and the rule, for the operator.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// No entry for the country.
    #[error("{0} is not in the partner directory")]
    UnknownPartner(CountryCode),
    /// No agency with the id.
    #[error("no agency {0:?} is registered")]
    UnknownAgency(String),
    /// A key to accept has the current key's id, which would make the choice ambiguous.
    #[error("key id {key_id:?} is already {country}'s current key")]
    KeyIdInUse {
        /// The partner.
        country: CountryCode,
        /// The key id.
        key_id: String,
    },
    /// A key to retire is not on record.
    #[error("{country} has no key {key_id:?} (on record: {})", on_record.join(", "))]
    UnknownKey {
        /// The partner.
        country: CountryCode,
        /// The key id asked for.
        key_id: String,
        /// The key ids on record.
        on_record: Vec<String>,
    },
    /// The key to retire is the partner's only one.
    #[error("{key_id:?} is {country}'s only key: accept its new key first, or remove the partner")]
    OnlyKey {
        /// The partner.
        country: CountryCode,
        /// The key id.
        key_id: String,
    },
    /// An agency id outside the allowed form.
    #[error("agency id {0:?}: 1 to {MAX_AGENCY_ID_CHARS} letters, digits, '-', '_' or '.'")]
    InvalidAgencyId(String),
}

/// Why no key of a partner can verify a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyChoiceError {
    /// The entry has no public key at all: nothing from the partner is accepted.
    NoKeyOnRecord,
    /// The message's key id (or its absence) matches none of the keys on record.
    UnknownKeyId {
        /// What the message carried in `X-Ecites-Key-Id`.
        sent: Option<String>,
        /// The key ids on record.
        on_record: Vec<String>,
    },
}

/// The public key (base64) to verify a message carrying `sent_key_id` with: the rotation key
/// of that id, else the current key when its id matches or none is on record for it. Partners
/// and agencies hold their keys alike.
fn choose_key<'a>(
    current: Option<&'a str>,
    current_id: Option<&str>,
    rotation_keys: &'a [PartnerKey],
    sent_key_id: Option<&str>,
) -> Result<&'a str, KeyChoiceError> {
    if current.is_none() && rotation_keys.is_empty() {
        return Err(KeyChoiceError::NoKeyOnRecord);
    }
    if let Some(sent) = sent_key_id {
        if let Some(key) = rotation_keys.iter().find(|k| k.key_id == sent) {
            return Ok(&key.public_key);
        }
    }
    match (current, current_id) {
        (Some(key), None) => Ok(key),
        (Some(key), Some(expected)) if sent_key_id == Some(expected) => Ok(key),
        _ => Err(KeyChoiceError::UnknownKeyId {
            sent: sent_key_id.map(str::to_owned),
            on_record: current_id
                .map(str::to_owned)
                .into_iter()
                .chain(rotation_keys.iter().map(|k| k.key_id.clone()))
                .collect(),
        }),
    }
}

impl Partner {
    /// An active partner at `endpoint` accepting every document type, with no key on record
    /// yet (nothing from it is accepted until one is).
    pub fn new(country: CountryCode, endpoint: impl Into<String>) -> Self {
        Partner {
            country,
            endpoint: endpoint.into(),
            name: None,
            active: true,
            accepted_document_types: Vec::new(),
            public_key: None,
            key_id: None,
            rotation_keys: Vec::new(),
            client_certificate_secret: None,
            protocol: Protocol::Ecites,
            document_format: DocumentFormat::V2,
            delivery: DeliveryMode::Push,
        }
    }

    /// True when forward sends it none of our permits: it pulls them (`delivery: pull`), or it
    /// is an EPIX partner, which is pull-only (`docs/exchange.md`, "Pull partners"). Uses of
    /// its permits are still pushed to its endpoint.
    pub fn pulls_our_permits(&self) -> bool {
        self.delivery == DeliveryMode::Pull || self.protocol == Protocol::EpixSoap
    }

    /// The public key (base64) to verify a message carrying `sent_key_id` with: the rotation
    /// key of that id, else the current key when its id matches or none is on record for it.
    pub fn key_for(&self, sent_key_id: Option<&str>) -> Result<&str, KeyChoiceError> {
        choose_key(
            self.public_key.as_deref(),
            self.key_id.as_deref(),
            &self.rotation_keys,
            sent_key_id,
        )
    }

    /// Every key id on record (the current key's first), for messages and listings.
    pub fn key_ids(&self) -> Vec<String> {
        self.key_id
            .iter()
            .cloned()
            .chain(self.rotation_keys.iter().map(|k| k.key_id.clone()))
            .collect()
    }

    /// Starts accepting `key` beside the current key (replacing a rotation key of the same
    /// id). Refused when the id is the current key's, which would make the choice ambiguous.
    pub fn accept_key(&mut self, key: PartnerKey) -> Result<(), DirectoryError> {
        if self.key_id.as_deref() == Some(key.key_id.as_str()) {
            return Err(DirectoryError::KeyIdInUse {
                country: self.country,
                key_id: key.key_id,
            });
        }
        self.rotation_keys.retain(|k| k.key_id != key.key_id);
        self.rotation_keys.push(key);
        Ok(())
    }

    /// Stops accepting the key `key_id`. Retiring the current key promotes the oldest
    /// rotation key to current; retiring the last key is refused (remove the partner instead).
    pub fn retire_key(&mut self, key_id: &str) -> Result<(), DirectoryError> {
        if let Some(at) = self.rotation_keys.iter().position(|k| k.key_id == key_id) {
            self.rotation_keys.remove(at);
            return Ok(());
        }
        if self.key_id.as_deref() != Some(key_id) {
            return Err(DirectoryError::UnknownKey {
                country: self.country,
                key_id: key_id.to_owned(),
                on_record: self.key_ids(),
            });
        }
        if self.rotation_keys.is_empty() {
            return Err(DirectoryError::OnlyKey {
                country: self.country,
                key_id: key_id.to_owned(),
            });
        }
        let next = self.rotation_keys.remove(0);
        self.key_id = Some(next.key_id);
        self.public_key = Some(next.public_key);
        Ok(())
    }
}

fn yes() -> bool {
    true
}

/// An agency registered with this deployment (its country's customs, enforcement, ...): it
/// posts customs uses (`POST <endpoint>/uses`) and asks verifications (`POST
/// <endpoint>/verify`) to the receive endpoint, signed with its Ed25519 key as partners sign
/// their envelopes. Registered like partners, in the same directory document
/// (`ecites agencies add|list|remove`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agency {
    /// The agency's id, as it sends it in a message's `agency` field (e.g. `xb-customs`).
    pub id: String,
    /// Its country (ISO 3166-1 alpha-2): it reports the uses of its own country's border.
    pub country: CountryCode,
    /// What it is (customs, enforcement, ...): only customs and enforcement report uses.
    pub role: crate::notify::Role,
    /// Its name, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether it is currently accepted.
    #[serde(default = "yes")]
    pub active: bool,
    /// Its Ed25519 public key (base64 of the 32 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// The id it sends in `X-Ecites-Key-Id`; when set, it must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Further keys accepted while it rotates, as for partners.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotation_keys: Vec<PartnerKey>,
}

impl Agency {
    /// The public key to verify a message carrying `sent_key_id` with (as
    /// [`Partner::key_for`]).
    pub fn key_for(&self, sent_key_id: Option<&str>) -> Result<&str, KeyChoiceError> {
        choose_key(
            self.public_key.as_deref(),
            self.key_id.as_deref(),
            &self.rotation_keys,
            sent_key_id,
        )
    }

    /// True when the agency may report customs uses (customs and enforcement).
    pub fn reports_uses(&self) -> bool {
        matches!(
            self.role,
            crate::notify::Role::Customs | crate::notify::Role::Enforcement
        )
    }
}

/// Longest agency id, in characters.
pub const MAX_AGENCY_ID_CHARS: usize = 64;

/// The whole directory document, as the exchange and `ecites partners` read and write it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// Format version, 1.
    #[serde(default = "one")]
    pub version: u32,
    /// The partners.
    #[serde(default)]
    pub partners: Vec<Partner>,
    /// The agencies of this country that post uses and verifications.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agencies: Vec<Agency>,
}

fn one() -> u32 {
    1
}

impl Directory {
    /// Reads the document.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The partner for a country (the last entry wins, as for ingest).
    pub fn get(&self, country: CountryCode) -> Option<&Partner> {
        self.partners.iter().rev().find(|p| p.country == country)
    }

    /// Adds or replaces the entry for the partner's country.
    pub fn upsert(&mut self, partner: Partner) {
        self.partners.retain(|p| p.country != partner.country);
        self.partners.push(partner);
        self.partners.sort_by_key(|p| p.country);
    }

    /// The entry of a country, to edit it; the error names the country for the operator.
    pub fn partner_mut(&mut self, country: CountryCode) -> Result<&mut Partner, DirectoryError> {
        self.partners
            .iter_mut()
            .rfind(|p| p.country == country)
            .ok_or(DirectoryError::UnknownPartner(country))
    }

    /// Removes a country's entry; refused when there is none.
    pub fn remove(&mut self, country: CountryCode) -> Result<(), DirectoryError> {
        let before = self.partners.len();
        self.partners.retain(|p| p.country != country);
        if before == self.partners.len() {
            return Err(DirectoryError::UnknownPartner(country));
        }
        Ok(())
    }

    /// The agency with this id.
    pub fn agency(&self, id: &str) -> Option<&Agency> {
        self.agencies.iter().rev().find(|a| a.id == id)
    }

    /// Adds or replaces an agency (by id); refused for an id that is empty, too long or holds
    /// characters other than letters, digits, `-`, `_` and `.`.
    pub fn upsert_agency(&mut self, agency: Agency) -> Result<(), DirectoryError> {
        let id = agency.id.as_str();
        if id.is_empty()
            || id.chars().count() > MAX_AGENCY_ID_CHARS
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(DirectoryError::InvalidAgencyId(id.to_owned()));
        }
        self.agencies.retain(|a| a.id != agency.id);
        self.agencies.push(agency);
        self.agencies.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(())
    }

    /// Removes an agency; refused when none has the id.
    pub fn remove_agency(&mut self, id: &str) -> Result<(), DirectoryError> {
        let before = self.agencies.len();
        self.agencies.retain(|a| a.id != id);
        if before == self.agencies.len() {
            return Err(DirectoryError::UnknownAgency(id.to_owned()));
        }
        Ok(())
    }
}

/// Looks partners and agencies up (cached by the implementation): ingest for where to deliver,
/// forward for where to send, receive for the key that verifies a message.
#[async_trait]
pub trait PartnerDirectory: Send + Sync {
    /// The partner for a country, if the directory has one.
    async fn partner(&self, country: CountryCode) -> Result<Option<Partner>, crate::Error>;

    /// The registered agency with this id, if any. Directories without agencies (partners
    /// only) know none, so no agency message is accepted.
    async fn agency(&self, _id: &str) -> Result<Option<Agency>, crate::Error> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_written_without_keys_reads_active_and_the_last_entry_for_a_country_wins() {
        let text = r#"{"version":1,"partners":[
            {"country":"XB","endpoint":"https://old.example","public_key":"AAAA"},
            {"country":"XB","endpoint":"https://new.example","accepted_document_types":["E"],"name":"MA"}]}"#;
        let directory = Directory::parse(text.as_bytes()).unwrap();
        let entry = directory.get("XB".parse().unwrap()).unwrap();
        assert_eq!(entry.endpoint, "https://new.example");
        assert!(entry.active);
        assert_eq!(entry.public_key, None);
        assert_eq!(directory.partners[0].public_key.as_deref(), Some("AAAA"));
    }

    #[test]
    fn upsert_replaces_and_remove_reports() {
        let mut directory = Directory::default();
        let partner = |endpoint: &str| Partner::new("XB".parse().unwrap(), endpoint);
        directory.upsert(partner("a"));
        directory.upsert(partner("b"));
        assert_eq!(directory.partners.len(), 1);
        assert_eq!(directory.partners[0].endpoint, "b");
        assert_eq!(directory.remove("XB".parse().unwrap()), Ok(()));
        assert_eq!(
            directory
                .remove("XB".parse().unwrap())
                .unwrap_err()
                .to_string(),
            "XB is not in the partner directory"
        );
    }

    fn rotating() -> Partner {
        Partner {
            public_key: Some("OLD".into()),
            key_id: Some("XB-1".into()),
            ..Partner::new("XB".parse().unwrap(), "https://x")
        }
    }

    fn key(id: &str, public_key: &str) -> PartnerKey {
        PartnerKey {
            key_id: id.into(),
            public_key: public_key.into(),
        }
    }

    #[test]
    fn during_a_rotation_each_key_is_chosen_by_the_key_id_the_message_carries() {
        let mut partner = rotating();
        partner.accept_key(key("XB-2", "NEW")).unwrap();
        assert_eq!(partner.key_for(Some("XB-1")), Ok("OLD"));
        assert_eq!(partner.key_for(Some("XB-2")), Ok("NEW"));
        assert_eq!(
            partner.key_for(Some("XB-3")),
            Err(KeyChoiceError::UnknownKeyId {
                sent: Some("XB-3".into()),
                on_record: vec!["XB-1".into(), "XB-2".into()],
            })
        );
        assert!(partner.key_for(None).is_err(), "a key id is on record");
    }

    #[test]
    fn a_current_key_without_an_id_verifies_whatever_id_is_sent_unless_a_rotation_key_matches() {
        let mut partner = rotating();
        partner.key_id = None;
        assert_eq!(partner.key_for(None), Ok("OLD"));
        assert_eq!(partner.key_for(Some("anything")), Ok("OLD"));
        partner.accept_key(key("XB-2", "NEW")).unwrap();
        assert_eq!(partner.key_for(Some("XB-2")), Ok("NEW"));
        partner.public_key = None;
        partner.rotation_keys.clear();
        assert_eq!(partner.key_for(None), Err(KeyChoiceError::NoKeyOnRecord));
    }

    #[test]
    fn retiring_the_current_key_promotes_the_accepted_one_and_the_last_key_cannot_be_retired() {
        let mut partner = rotating();
        assert!(partner
            .accept_key(key("XB-1", "OTHER"))
            .unwrap_err()
            .to_string()
            .contains("already XB's current key"));
        assert!(partner
            .retire_key("XB-1")
            .unwrap_err()
            .to_string()
            .contains("only key"));
        partner.accept_key(key("XB-2", "NEW")).unwrap();
        partner.accept_key(key("XB-2", "NEWER")).unwrap();
        assert_eq!(partner.rotation_keys.len(), 1, "same id replaced");
        assert!(partner
            .retire_key("XB-9")
            .unwrap_err()
            .to_string()
            .contains("XB-1, XB-2"));
        partner.retire_key("XB-1").unwrap();
        assert_eq!(partner.key_id.as_deref(), Some("XB-2"));
        assert_eq!(partner.public_key.as_deref(), Some("NEWER"));
        assert!(partner.rotation_keys.is_empty());
        assert!(partner.key_for(Some("XB-1")).is_err(), "retired");
    }

    #[test]
    fn rotation_keys_are_read_and_written_with_the_entry_and_omitted_when_empty() {
        let text = r#"{"partners":[{"country":"XB","endpoint":"https://x","public_key":"OLD","key_id":"XB-1",
            "rotation_keys":[{"key_id":"XB-2","public_key":"NEW"}]}]}"#;
        let directory = Directory::parse(text.as_bytes()).unwrap();
        assert_eq!(
            directory.partners[0].rotation_keys,
            vec![key("XB-2", "NEW")]
        );
        let written = serde_json::to_string(&Directory {
            version: 1,
            partners: vec![rotating()],
            agencies: Vec::new(),
        })
        .unwrap();
        assert!(!written.contains("rotation_keys"), "{written}");
    }

    #[test]
    fn document_format_defaults_to_v2_is_omitted_when_v2_and_reads_v1() {
        let text = r#"{"partners":[{"country":"XB","endpoint":"https://x"},
            {"country":"XC","endpoint":"https://y","document_format":"v1"}]}"#;
        let directory = Directory::parse(text.as_bytes()).unwrap();
        assert_eq!(directory.partners[0].document_format, DocumentFormat::V2);
        assert_eq!(directory.partners[1].document_format, DocumentFormat::V1);
        let written = serde_json::to_string(&directory).unwrap();
        assert_eq!(written.matches("document_format").count(), 1, "{written}");
        assert!(written.contains(r#""document_format":"v1""#), "{written}");
        assert_eq!(Directory::parse(written.as_bytes()).unwrap(), directory);
        let unknown =
            r#"{"partners":[{"country":"XB","endpoint":"https://x","document_format":"v3"}]}"#;
        let error = Directory::parse(unknown.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(error.contains("v3") && error.contains("v1"), "{error}");
    }
}
