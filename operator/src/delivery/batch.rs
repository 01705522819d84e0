//! Batches: the JSON a partner receives, its idempotency key, and its signature.
//!
//! The key is a hash of what the batch says, so a batch re-sent after a crash carries the
//! same key and the partner keeps it once. The signature header is
//! `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp is bound in, and
//! the receiver refuses signatures outside its replay window.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::catalogue::Area;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Accord-Signature";

/// The header carrying the idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// How far a signature's timestamp may be from the receiver's clock, in seconds.
pub const REPLAY_WINDOW_SECS: i64 = 300;

/// One batch for one agreement, school and area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The idempotency key: SHA-256 of the body, hex.
    pub key: String,
    /// The body sent.
    pub body: Vec<u8>,
    /// How many records it carries.
    pub records: usize,
}

/// Builds the batch of `records` for `agreement` at `school`.
pub fn build_batch(
    agreement: &str,
    school: &str,
    area: Area,
    records: &[Map<String, Value>],
) -> Batch {
    let body = json!({ "agreement": agreement, "school": school, "area": area.as_str(), "records": records });
    let body = serde_json::to_vec(&body).unwrap_or_default();
    Batch {
        key: hex(&Sha256::digest(&body)),
        body,
        records: records.len(),
    }
}

/// The signature header value for `body` at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mac = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex(&mac))
}

/// Why a signature was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=…,v1=…`.
    #[error("the {SIGNATURE_HEADER} header is not t=<seconds>,v1=<hex>")]
    Malformed,
    /// The timestamp is outside the replay window.
    #[error("the signature is {0} s from this clock, outside the {REPLAY_WINDOW_SECS} s window")]
    Stale(i64),
    /// The HMAC does not match: wrong secret, or the body changed.
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a signature header against `body` at the receiver's time `now`.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signature = unhex(v),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Malformed);
    };
    let skew = now.saturating_sub(timestamp);
    if skew.abs() > REPLAY_WINDOW_SECS {
        return Err(SignatureError::Stale(skew));
    }
    // verify_slice compares in constant time.
    mac(secret, timestamp, body)
        .verify_slice(&signature)
        .map_err(|_| SignatureError::Mismatch)
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Vec<Map<String, Value>> {
        vec![
            json!({ "sourcedId": "stu-1", "givenName": "Ada" })
                .as_object()
                .unwrap()
                .clone(),
        ]
    }

    #[test]
    fn the_same_batch_always_has_the_same_key() {
        let a = build_batch("t/homework", "t/ashby", Area::Students, &records());
        let b = build_batch("t/homework", "t/ashby", Area::Students, &records());
        assert_eq!(a.key, b.key);
        assert_ne!(
            a.key,
            build_batch("t/homework", "t/brook", Area::Students, &records()).key
        );
        assert_eq!(a.key.len(), 64);
    }

    #[test]
    fn a_signature_verifies_only_for_its_body_secret_and_window() {
        let body = build_batch("t/homework", "t/ashby", Area::Students, &records()).body;
        let header = sign(b"partner-secret", 1_000_000, &body);
        assert_eq!(verify(b"partner-secret", &header, &body, 1_000_100), Ok(()));
        assert_eq!(
            verify(b"other-secret", &header, &body, 1_000_100),
            Err(SignatureError::Mismatch)
        );
        let mut changed = body.clone();
        changed[10] ^= 1;
        assert_eq!(
            verify(b"partner-secret", &header, &changed, 1_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"partner-secret", &header, &body, 1_000_301),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            verify(b"partner-secret", "v1=zz", &body, 1_000_000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn a_replayed_header_with_a_new_timestamp_does_not_verify() {
        let body = b"{}";
        let header = sign(b"s", 1_000_000, body);
        let replayed = header.replace("t=1000000", "t=1000200");
        assert_eq!(
            verify(b"s", &replayed, body, 1_000_200),
            Err(SignatureError::Mismatch)
        );
    }
}
