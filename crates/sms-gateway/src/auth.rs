//! API keys: bearer tokens checked against SHA-256 hashes, each with scopes.

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};
use sms_config::{ApiKeyConfig, ApiScope};

use crate::error::{ApiError, ErrorCode};

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Reading messages, balances, providers, suppressions.
    Read,
    /// Sending.
    Send,
    /// Changing suppressions.
    Admin,
}

/// One accepted key: its label, its hash and scopes.
#[derive(Debug, Clone)]
struct Key {
    name: String,
    hash: [u8; 32],
    scopes: Vec<ApiScope>,
}

/// The keys the API accepts. Only hashes are held.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Vec<Key>,
}

impl ApiKeys {
    /// The keys of `[[gateway.api_keys]]`.
    ///
    /// # Errors
    /// A message naming the key whose hash is not `sha256:` and 64 hex digits (the config loader
    /// already checks this, so only hand-built configs fail).
    pub fn from_config(keys: &[ApiKeyConfig]) -> Result<Self, String> {
        let mut out = ApiKeys::default();
        for key in keys {
            out.add(&key.name, &key.hash, key.scopes.clone())
                .map_err(|e| format!("api key {:?}: {e}", key.name))?;
        }
        Ok(out)
    }

    /// Adds a key by its hash (`sha256:` and 64 hex digits).
    ///
    /// # Errors
    /// When the hash is not in that form.
    pub fn add(&mut self, name: &str, hash: &str, scopes: Vec<ApiScope>) -> Result<(), String> {
        let hex_digits = hash
            .strip_prefix("sha256:")
            .ok_or("the hash must start with `sha256:`")?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut bytes).map_err(|_| "the hash must be 64 hex digits")?;
        self.keys.push(Key {
            name: name.to_owned(),
            hash: bytes,
            scopes,
        });
        Ok(())
    }

    /// True when no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The name and scopes of `presented` (a key typed into the dashboard's login form), when known.
    pub(crate) fn identify(&self, presented: &str) -> Option<(&str, &[ApiScope])> {
        let hash: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        self.keys
            .iter()
            .find(|k| k.hash == hash)
            .map(|k| (k.name.as_str(), k.scopes.as_slice()))
    }

    /// The caller's key name, when the request's bearer key is known and has a scope that covers
    /// `need`.
    pub(crate) fn check(&self, headers: &HeaderMap, need: Need) -> Result<&str, ApiError> {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Unauthorized,
                    "an `Authorization: Bearer KEY` header is required",
                )
            })?;
        // Comparing hashes, not keys: the time taken says nothing about the key.
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let key = self
            .keys
            .iter()
            .find(|k| k.hash == hash)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "unknown API key"))?;
        let allowed = key.scopes.iter().any(|scope| {
            matches!(
                (scope, need),
                (ApiScope::Admin, _) | (ApiScope::Read, Need::Read) | (ApiScope::Send, Need::Send)
            )
        });
        if !allowed {
            let scope = match need {
                Need::Read => "read",
                Need::Send => "send",
                Need::Admin => "admin",
            };
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("this key lacks the `{scope}` scope"),
            ));
        }
        Ok(&key.name)
    }
}

/// `sha256:` and the 64 hex digits of the key's SHA-256: what `[[gateway.api_keys]] hash` holds.
pub fn hash_key(key: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

/// A new random secret: `prefix` and 48 hex digits from the operating system's random source.
pub(crate) fn random_secret(prefix: &str) -> Result<String, String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random source: {e}"))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn scopes_cover_what_they_name_and_admin_covers_all() {
        let mut keys = ApiKeys::default();
        keys.add("reader", &hash_key("r-key"), vec![ApiScope::Read])
            .unwrap();
        keys.add("sender", &hash_key("s-key"), vec![ApiScope::Send])
            .unwrap();
        keys.add("admin", &hash_key("a-key"), vec![ApiScope::Admin])
            .unwrap();
        let code = |key: &str, need| {
            keys.check(&headers(key), need)
                .map(str::to_owned)
                .map_err(|e| e.code())
        };
        assert_eq!(code("Bearer r-key", Need::Read), Ok("reader".into()));
        assert_eq!(code("Bearer r-key", Need::Send), Err(ErrorCode::Forbidden));
        assert_eq!(code("Bearer s-key", Need::Send), Ok("sender".into()));
        assert_eq!(code("Bearer s-key", Need::Read), Err(ErrorCode::Forbidden));
        assert_eq!(code("Bearer s-key", Need::Admin), Err(ErrorCode::Forbidden));
        assert_eq!(code("Bearer a-key", Need::Admin), Ok("admin".into()));
        assert_eq!(code("Bearer a-key", Need::Send), Ok("admin".into()));
        assert_eq!(code("Bearer nope", Need::Read), Err(ErrorCode::Unauthorized));
        assert_eq!(code("Basic r-key", Need::Read), Err(ErrorCode::Unauthorized));
        assert_eq!(code("Bearer ", Need::Read), Err(ErrorCode::Unauthorized));
    }

    #[test]
    fn hashes_are_checked_and_secrets_are_random() {
        let mut keys = ApiKeys::default();
        assert!(keys.add("x", "sha256:zz", vec![]).is_err());
        assert!(keys.add("x", "md5:00", vec![]).is_err());
        let a = random_secret("k_").unwrap();
        assert_eq!(a.len(), 2 + 48);
        assert_ne!(a, random_secret("k_").unwrap());
    }
}
