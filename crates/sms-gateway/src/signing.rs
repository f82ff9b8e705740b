//! Standard Webhooks signatures (the scheme svix uses): HMAC-SHA256 over `{id}.{timestamp}.{body}`
//! with the secret's bytes, sent as `webhook-signature: v1,{base64}` beside `webhook-id` and
//! `webhook-timestamp`. The building block of the gateway's callbacks; receivers written in Rust may
//! use [`verify`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a timestamp may be from now, in seconds, for [`verify`] to accept it.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a signature was refused or could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The secret is not `whsec_` and base64 (or plain base64).
    #[error("the signing secret is not base64 (`whsec_…`)")]
    InvalidSecret,
    /// The timestamp is too far from now (a replay, or a clock far off).
    #[error("the webhook timestamp is outside the tolerance")]
    Stale,
    /// No `v1` signature matches.
    #[error("no signature matches")]
    Mismatch,
}

fn key(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(encoded.trim())
        .ok()
        .filter(|k| !k.is_empty())
        .ok_or(SignatureError::InvalidSecret)
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value for a message: `v1,` and the base64 HMAC-SHA256.
///
/// # Errors
/// [`SignatureError::InvalidSecret`] for a secret that is not base64.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
    let key = key(secret)?;
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac(&key, id, timestamp, body).finalize().into_bytes())
    ))
}

/// Checks a received message: `signatures` is the `webhook-signature` header (space-separated
/// `v1,…` entries; others are ignored), `now` the receiver's Unix time in seconds.
///
/// # Errors
/// [`SignatureError::Stale`] when the timestamp is more than [`TOLERANCE_SECONDS`] from `now`,
/// [`SignatureError::Mismatch`] when no signature matches, [`SignatureError::InvalidSecret`].
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
    signatures: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let key = key(secret)?;
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let matched = signatures
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| STANDARD.decode(s).ok())
        // `verify_slice` compares in constant time.
        .any(|given| mac(&key, id, timestamp, body).verify_slice(&given).is_ok());
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks reference vector.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn signs_the_reference_vector() {
        assert_eq!(
            sign(SECRET, ID, TS, BODY).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn verifies_and_refuses_tampering_staleness_and_bad_secrets() {
        let sig = sign(SECRET, ID, TS, BODY).unwrap();
        let header = format!("v1a,xxx v1,bm90IGl0 {sig}");
        assert_eq!(verify(SECRET, ID, TS, BODY, &header, TS + 10), Ok(()));
        assert_eq!(
            verify(SECRET, ID, TS, br#"{"test": 1}"#, &header, TS),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, "msg_other", TS, BODY, &sig, TS),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, ID, TS, BODY, &sig, TS + TOLERANCE_SECONDS + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            sign("whsec_!!!", ID, TS, BODY),
            Err(SignatureError::InvalidSecret)
        );
        assert_eq!(sign("whsec_", ID, TS, BODY), Err(SignatureError::InvalidSecret));
    }
}
