//! The exchange's view of the partner directory (`config/partners.json`): the ingest fields
//! plus what MA-to-MA exchange needs, each partner's Ed25519 public key and key id.
//!
//! Read from the same document as [`crate::partners::Directory`] (which ignores these fields),
//! so ingest, forward and receive share one file an operator edits with
//! `ecites partners add|remove`:
//!
//! ```json
//! {"version": 1, "partners": [
//!   {"country": "XB", "name": "MA of XB", "endpoint": "https://ma.xb.example/cites",
//!    "active": true, "accepted_document_types": ["E", "R"],
//!    "public_key": "<base64 Ed25519>", "key_id": "XB-2026-1"}]}
//! ```

use async_trait::async_trait;
use ecites_domain::CountryCode;
use serde::{Deserialize, Serialize};

/// One partner MA with its keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangePartner {
    /// The partner's country.
    pub country: CountryCode,
    /// Where to deliver.
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
}

fn yes() -> bool {
    true
}

/// Ingest's view of an entry: the same document read by one loader, without the keys.
impl From<&ExchangePartner> for crate::partners::Partner {
    fn from(partner: &ExchangePartner) -> Self {
        crate::partners::Partner {
            country: partner.country,
            endpoint: partner.endpoint.clone(),
            name: partner.name.clone(),
            active: partner.active,
            accepted_document_types: partner.accepted_document_types.clone(),
        }
    }
}

/// The whole directory document, as the exchange and `ecites partners` read and write it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeDirectory {
    /// Format version, 1.
    #[serde(default = "one")]
    pub version: u32,
    /// The partners.
    #[serde(default)]
    pub partners: Vec<ExchangePartner>,
}

fn one() -> u32 {
    1
}

impl ExchangeDirectory {
    /// Reads the document.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The partner for a country (the last entry wins, as for ingest).
    pub fn get(&self, country: CountryCode) -> Option<&ExchangePartner> {
        self.partners.iter().rev().find(|p| p.country == country)
    }

    /// Adds or replaces the entry for the partner's country.
    pub fn upsert(&mut self, partner: ExchangePartner) {
        self.partners.retain(|p| p.country != partner.country);
        self.partners.push(partner);
        self.partners.sort_by_key(|p| p.country);
    }

    /// Removes a country's entry; `false` when there was none.
    pub fn remove(&mut self, country: CountryCode) -> bool {
        let before = self.partners.len();
        self.partners.retain(|p| p.country != country);
        before != self.partners.len()
    }
}

/// Looks partners up with their keys (cached by the implementation).
#[async_trait]
pub trait ExchangePartners: Send + Sync {
    /// The partner for a country, if the directory has one.
    async fn exchange_partner(
        &self,
        country: CountryCode,
    ) -> Result<Option<ExchangePartner>, crate::Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ingest_reader_and_the_exchange_reader_share_one_document() {
        let text = r#"{"version":1,"partners":[{"country":"XB","endpoint":"http://x","public_key":"AAAA","key_id":"XB-1"}]}"#;
        let ours = ExchangeDirectory::parse(text.as_bytes()).unwrap();
        let theirs = crate::partners::Directory::parse(text.as_bytes()).unwrap();
        assert_eq!(ours.partners[0].public_key.as_deref(), Some("AAAA"));
        assert!(ours.partners[0].active);
        assert_eq!(theirs.partners[0].endpoint, "http://x");
    }

    #[test]
    fn ingest_sees_the_exchange_entry_without_keys_and_the_last_entry_for_a_country_wins() {
        let text = r#"{"version":1,"partners":[
            {"country":"XB","endpoint":"https://old.example","public_key":"AAAA"},
            {"country":"XB","endpoint":"https://new.example","active":false,"accepted_document_types":["E"],"name":"MA"}]}"#;
        let exchange = ExchangeDirectory::parse(text.as_bytes()).unwrap();
        let ingest = crate::partners::Directory::parse(text.as_bytes()).unwrap();
        let country = "XB".parse().unwrap();
        let converted = exchange.get(country).map(crate::partners::Partner::from);
        assert_eq!(converted.as_ref(), ingest.by_country().get(&country));
        assert_eq!(converted.unwrap().endpoint, "https://new.example");
    }

    #[test]
    fn upsert_replaces_and_remove_reports() {
        let mut directory = ExchangeDirectory::default();
        let partner = |endpoint: &str| ExchangePartner {
            country: "XB".parse().unwrap(),
            endpoint: endpoint.into(),
            name: None,
            active: true,
            accepted_document_types: vec![],
            public_key: None,
            key_id: None,
        };
        directory.upsert(partner("a"));
        directory.upsert(partner("b"));
        assert_eq!(directory.partners.len(), 1);
        assert_eq!(directory.partners[0].endpoint, "b");
        assert!(directory.remove("XB".parse().unwrap()));
        assert!(!directory.remove("XB".parse().unwrap()));
    }
}
