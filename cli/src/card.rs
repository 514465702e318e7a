//! The partner card: what two MAs exchange to become partners (`ecites partners card` prints
//! ours, `ecites partners add --card FILE --fingerprint HEX` imports theirs), and the key
//! fingerprint both operators read aloud out of band (a phone call, a letter) so a card
//! altered on its way (an e-mail, a shared drive) is refused instead of trusted.
//!
//! The card is one JSON object (JSON, because `jq`, every language and the partner directory
//! itself already speak it):
//!
//! ```json
//! {"ecites_partner_card": 1, "country": "XA", "name": "MA of XA",
//!  "endpoint": "https://abc.execute-api.eu-west-1.amazonaws.com/v1/",
//!  "key_id": "XA-2026-1", "public_key": "<base64 of the 32-byte Ed25519 public key>",
//!  "fingerprint": "3f2a 9c01 ... (16 groups of 4 hex digits)"}
//! ```
//!
//! The fingerprint is SHA-256 over the 32 raw bytes of the Ed25519 public key (not over its
//! base64 text, so the same key always has the same fingerprint however it is written), in
//! lower-case hex, in 16 groups of 4 digits separated by spaces. Comparisons ignore case,
//! spaces, `:` and `-`, and need all 64 digits: a shortened fingerprint proves too little.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The card format's version, in `ecites_partner_card`.
pub const CARD_VERSION: u32 = 1;

/// A partner card (see the module documentation for its JSON form).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Card {
    /// The card format's version: [`CARD_VERSION`].
    pub ecites_partner_card: u32,
    /// The MA's country, ISO 3166-1 alpha-2.
    pub country: String,
    /// The MA's name, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its receive endpoint (`ReceiveEndpointUrl` of its stack).
    pub endpoint: String,
    /// The key id its messages carry in `X-Ecites-Key-Id`.
    pub key_id: String,
    /// Its Ed25519 public key, base64 (standard alphabet, padded) of 32 bytes.
    pub public_key: String,
    /// [`fingerprint`] of `public_key`, as printed.
    pub fingerprint: String,
}

/// Why a card or a fingerprint is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// The public key is not 32 bytes of base64 (or not an Ed25519 point).
    #[error("public_key: {0}")]
    PublicKey(String),
    /// A fingerprint is not 64 hex digits.
    #[error("{what}: {given:?} is not a SHA-256 fingerprint (64 hex digits, spaces, ':' and '-' ignored)")]
    NotAFingerprint {
        /// Which fingerprint: `--fingerprint` or the card's `fingerprint`.
        what: &'static str,
        /// The text given.
        given: String,
    },
    /// The fingerprint read out of band is not the card key's.
    #[error(
        "fingerprint mismatch: the card's public key has fingerprint {card_key}, but \
         --fingerprint gave {given}; nothing was imported (check the card and the fingerprint \
         with the partner again, on a channel you trust)"
    )]
    Mismatch {
        /// The fingerprint of the card's public key, computed here.
        card_key: String,
        /// The fingerprint given on the command line (as normalised).
        given: String,
    },
    /// The card's own `fingerprint` field does not describe its `public_key`.
    #[error(
        "the card is inconsistent: its public_key has fingerprint {card_key}, but its \
         fingerprint field says {written}; nothing was imported"
    )]
    Inconsistent {
        /// The fingerprint of the card's public key, computed here.
        card_key: String,
        /// What the card's `fingerprint` field says (as normalised).
        written: String,
    },
    /// Not a card of a version this program reads.
    #[error("ecites_partner_card: version {0} is not supported (this ecites reads version {CARD_VERSION})")]
    Version(u32),
}

/// The fingerprint of a base64 Ed25519 public key: SHA-256 of its 32 raw bytes, grouped for
/// reading aloud (`3f2a 9c01 ...`, 16 groups of 4 lower-case hex digits).
pub fn fingerprint(public_key_b64: &str) -> Result<String, CardError> {
    ecites_exchange::protocol::check_public_key(public_key_b64)
        .map_err(|why| CardError::PublicKey(why.to_string()))?;
    let bytes = B64
        .decode(public_key_b64.trim().as_bytes())
        .map_err(|why| CardError::PublicKey(why.to_string()))?;
    Ok(group(&hex::encode(Sha256::digest(bytes))))
}

/// 64 hex digits in groups of 4.
fn group(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A fingerprint as typed (any case, spaces, `:` or `-` between digits) in the printed form,
/// or an error when it is not 64 hex digits.
pub fn normalise(what: &'static str, given: &str) -> Result<String, CardError> {
    let digits: String = given
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(CardError::NotAFingerprint {
            what,
            given: given.to_owned(),
        });
    }
    Ok(group(&digits))
}

impl Card {
    /// Our card, its fingerprint computed from `public_key`.
    pub fn new(
        country: &str,
        name: Option<String>,
        endpoint: &str,
        key_id: &str,
        public_key: &str,
    ) -> Result<Card, CardError> {
        Ok(Card {
            ecites_partner_card: CARD_VERSION,
            country: country.to_owned(),
            name,
            endpoint: endpoint.to_owned(),
            key_id: key_id.to_owned(),
            public_key: public_key.trim().to_owned(),
            fingerprint: fingerprint(public_key)?,
        })
    }

    /// Checks a partner's card against the fingerprint its operator read out of band: the
    /// card's key must have `given` as its fingerprint (and the card's own `fingerprint` field
    /// must agree with its key). Only then may the card be imported.
    pub fn verify(&self, given: &str) -> Result<(), CardError> {
        if self.ecites_partner_card != CARD_VERSION {
            return Err(CardError::Version(self.ecites_partner_card));
        }
        let given = normalise("--fingerprint", given)?;
        let card_key = fingerprint(&self.public_key)?;
        if card_key != given {
            return Err(CardError::Mismatch { card_key, given });
        }
        let written = normalise("the card's fingerprint", &self.fingerprint)?;
        if written != card_key {
            return Err(CardError::Inconsistent { card_key, written });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032, section 7.1, TEST 1: the public key of the all-`9d61...` secret key.
    const RFC8032_TEST1_PUBLIC: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

    #[test]
    fn the_fingerprint_is_sha256_of_the_raw_key_bytes_in_groups_of_four() {
        // Independently: printf d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a
        // | xxd -r -p | sha256sum
        let expected =
            "21fe 31df a154 a261 626b f854 046f d227 1b7b ed4b 6abe 45aa 5887 7ef4 7f97 21b9";
        assert_eq!(fingerprint(RFC8032_TEST1_PUBLIC).unwrap(), expected);
        // Not a hash of the base64 text: the same key with surrounding spaces has the same one.
        assert_eq!(
            fingerprint(&format!("  {RFC8032_TEST1_PUBLIC}\n")).unwrap(),
            expected
        );
        assert!(matches!(
            fingerprint("c2hvcnQ="),
            Err(CardError::PublicKey(_))
        ));
    }

    #[test]
    fn a_fingerprint_is_compared_ignoring_case_and_separators_but_never_shortened() {
        let printed = fingerprint(RFC8032_TEST1_PUBLIC).unwrap();
        let typed = printed.replace(' ', ":").to_uppercase();
        assert_eq!(normalise("--fingerprint", &typed).unwrap(), printed);
        let short = &printed[..20];
        assert!(matches!(
            normalise("--fingerprint", short),
            Err(CardError::NotAFingerprint { .. })
        ));
        assert!(normalise("--fingerprint", &printed.replace('2', "g")).is_err());
    }

    fn card() -> Card {
        Card::new(
            "XB",
            Some("MA of XB".into()),
            "https://ma.xb.example/cites",
            "XB-2026-1",
            RFC8032_TEST1_PUBLIC,
        )
        .unwrap()
    }

    #[test]
    fn a_card_is_accepted_with_the_fingerprint_of_its_key() {
        let card = card();
        card.verify(&card.fingerprint).unwrap();
        card.verify(&card.fingerprint.replace(' ', "").to_uppercase())
            .unwrap();
        let json = serde_json::to_string(&card).unwrap();
        let back: Card = serde_json::from_str(&json).unwrap();
        assert_eq!(back, card);
    }

    #[test]
    fn a_card_whose_key_was_swapped_is_refused_naming_both_fingerprints() {
        let genuine = card();
        let attacker = ecites_exchange::protocol::SigningIdentity::generate("XB-2026-1").unwrap();
        // The card altered on its way: the key replaced, and its fingerprint field with it.
        let forged = Card::new(
            "XB",
            genuine.name.clone(),
            &genuine.endpoint,
            &genuine.key_id,
            &attacker.public_key_base64(),
        )
        .unwrap();
        let error = forged.verify(&genuine.fingerprint).unwrap_err();
        let CardError::Mismatch { card_key, given } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(card_key, &forged.fingerprint);
        assert_eq!(given, &genuine.fingerprint);
        let message = error.to_string();
        assert!(message.contains(&forged.fingerprint), "{message}");
        assert!(message.contains(&genuine.fingerprint), "{message}");
    }

    #[test]
    fn a_card_whose_fingerprint_field_disagrees_with_its_key_is_refused() {
        let mut card = card();
        let other = ecites_exchange::protocol::SigningIdentity::generate("K").unwrap();
        card.fingerprint = fingerprint(&other.public_key_base64()).unwrap();
        let genuine = fingerprint(RFC8032_TEST1_PUBLIC).unwrap();
        assert!(matches!(
            card.verify(&genuine),
            Err(CardError::Inconsistent { .. })
        ));
        card.fingerprint = genuine.clone();
        card.ecites_partner_card = 2;
        assert_eq!(card.verify(&genuine), Err(CardError::Version(2)));
    }
}
