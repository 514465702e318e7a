//! The partner directory document: which Management Authority receives for which country.
//!
//! It is a JSON document (by default `config/partners.json` in the deployment's bucket) so an
//! operator can edit it without a deployment:
//!
//! ```json
//! {"version": 1, "partners": [
//!   {"country": "XB", "name": "MA of XB", "endpoint": "https://ma.xb.example/cites"}
//! ]}
//! ```
//!
//! Unknown fields are ignored and every field beyond `country` and `endpoint` is optional, so
//! later issues can add public keys, accepted document types and more without breaking readers.

use ecites_domain::CountryCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One partner MA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    /// The partner's country.
    pub country: CountryCode,
    /// Where to deliver.
    pub endpoint: String,
    /// The MA's name, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the partner currently receives; an inactive partner is treated as missing.
    #[serde(default = "yes")]
    pub active: bool,
    /// Document types (E, R, I, O) the partner accepts; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_document_types: Vec<String>,
}

fn yes() -> bool {
    true
}

/// The directory document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// Format version, 1.
    #[serde(default = "one")]
    pub version: u32,
    /// The partners.
    #[serde(default)]
    pub partners: Vec<Partner>,
}

fn one() -> u32 {
    1
}

impl Directory {
    /// Reads the directory document.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// An index by country (the last entry for a country wins).
    pub fn by_country(&self) -> BTreeMap<CountryCode, Partner> {
        self.partners
            .iter()
            .map(|partner| (partner.country, partner.clone()))
            .collect()
    }
}
