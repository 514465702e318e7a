//! Webhook signatures: `X-Ecites-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//! `<t>.<body>` with the subscriber's secret (the scheme Stripe and others use, so receivers
//! know it). The timestamp inside the MAC lets receivers refuse replays of old deliveries.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Ecites-Signature";

type HmacSha256 = Hmac<Sha256>;

/// A webhook secret. Its `Debug` never shows the value, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for computing a MAC.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

fn mac(secret: &Secret, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length: this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for a body sent at `timestamp` (Unix seconds).
pub fn sign(secret: &Secret, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=<unix>,v1=<hex>`.
    #[error("malformed signature header")]
    Malformed,
    /// The timestamp is further than the tolerance from now.
    #[error("signature timestamp outside the tolerance")]
    Stale,
    /// No `v1` value matches.
    #[error("signature mismatch")]
    Mismatch,
}

/// Verifies a header against the body, with `now` and a tolerance in seconds (receivers
/// typically allow 300). Comparison is constant-time.
pub fn verify(
    secret: &Secret,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_s: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => {
                candidates.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > tolerance_s {
        return Err(SignatureError::Stale);
    }
    let ok = candidates
        .iter()
        .any(|tag| mac(secret, timestamp, body).verify_slice(tag).is_ok());
    if ok {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_an_independent_hmac_sha256() {
        // HMAC-SHA256(key="secret", "1700000000.{}"), computed with Python's hmac module.
        let header = sign(&Secret::new("secret"), 1_700_000_000, b"{}");
        assert_eq!(
            header,
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn verification_accepts_its_own_signature_and_refuses_tampering() {
        let secret = Secret::new("s3cr3t");
        let header = sign(&secret, 100, b"body");
        assert_eq!(verify(&secret, &header, b"body", 120, 300), Ok(()));
        assert_eq!(
            verify(&secret, &header, b"bodx", 120, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&Secret::new("other"), &header, b"body", 120, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&secret, &header, b"body", 1000, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(&secret, "v1=zz", b"body", 100, 300),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret(<redacted>)"
        );
    }
}
