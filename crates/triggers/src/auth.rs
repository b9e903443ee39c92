//! Secrets: a webhook's token and its optional signing secret.
//!
//! A token is 256 random bits in the URL. Only its SHA-256 is stored, and a
//! presented token is checked by hashing it and comparing hashes in constant
//! time, so neither the store nor the timing tells anything about the token.
//! (A plain hash suffices: the token is random, not a password.)
//!
//! The signature is the Standard Webhooks scheme: `webhook-id`,
//! `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,<base64>`,
//! space-separated when several) headers; HMAC-SHA256 keyed with the
//! base64-decoded part of the `whsec_...` secret over `id.timestamp.body`.
//! The server keeps the secret itself: it must recompute the signature.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::refusal::Refusal;

/// The headers of a signed delivery; never passed to a runbook.
pub const SIGNATURE_HEADERS: [&str; 3] = ["webhook-id", "webhook-timestamp", "webhook-signature"];

const SECRET_PREFIX: &str = "whsec_";

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes
}

/// A new URL token: 256 random bits, URL-safe.
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(random::<32>())
}

/// A new Standard Webhooks signing secret (`whsec_` + base64 of 32 bytes).
pub fn new_signing_secret() -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random::<32>()))
}

/// What the store keeps of a token.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares two hashes without stopping at the first difference.
pub fn same_hash(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn key(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()
}

fn mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` header value for a delivery (what a sender
/// computes; tests and benchmarks use it).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = key(secret).unwrap_or_default();
    let tag = mac(&key, id, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// The signature headers of one request.
pub struct Signed<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Checks a signed delivery: headers present, timestamp within `window` of
/// `now` (either way), and one `v1` signature that matches. The message id
/// is returned: the store answers a retry of it as it answered the first.
pub fn verify_signature<'a>(
    secret: &str,
    signed: &Signed<'a>,
    body: &[u8],
    now: i64,
    window: std::time::Duration,
) -> Result<&'a str, Refusal> {
    let (Some(id), Some(timestamp), Some(signatures)) =
        (signed.id, signed.timestamp, signed.signature)
    else {
        return Err(Refusal::MissingSignature);
    };
    if id.is_empty() || id.len() > 256 {
        return Err(Refusal::MissingSignature);
    }
    let sent: i64 = timestamp.parse().map_err(|_| Refusal::StaleTimestamp)?;
    if now.abs_diff(sent) > window.as_secs() {
        return Err(Refusal::StaleTimestamp);
    }
    let key = key(secret).ok_or(Refusal::BadSignature)?;
    let expected = mac(&key, id, timestamp, body);
    let matches = signatures
        .split_ascii_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| STANDARD.decode(s).ok())
        // `verify_slice` compares in constant time.
        .any(|tag| expected.clone().verify_slice(&tag).is_ok());
    if matches {
        Ok(id)
    } else {
        Err(Refusal::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const WINDOW: Duration = Duration::from_secs(300);

    #[test]
    fn standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let signed = Signed {
            id: Some("msg_p5jXN8AQM9LWM0D4loKWxJek"),
            timestamp: Some("1614265330"),
            signature: Some(&format!("v1,bm90IGl0 {signature}")),
        };
        assert!(verify_signature(secret, &signed, body, 1614265330 + 10, WINDOW).is_ok());
        assert!(matches!(
            verify_signature(secret, &signed, body, 1614265330 + 301, WINDOW),
            Err(Refusal::StaleTimestamp)
        ));
        assert!(matches!(
            verify_signature(secret, &signed, b"{}", 1614265330, WINDOW),
            Err(Refusal::BadSignature)
        ));
    }

    #[test]
    fn tokens_are_random_and_hashes_compare() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(same_hash(&hash_token(&a), &hash_token(&a)));
        assert!(!same_hash(&hash_token(&a), &hash_token(&b)));
    }
}
