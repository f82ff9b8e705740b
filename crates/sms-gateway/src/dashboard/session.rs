//! Dashboard sessions: a random id in a `Secure; HttpOnly; SameSite=Strict` cookie, the session
//! itself (key name, admin or not, CSRF token, expiry, opaque tokens) held on the server only.
//! Every change is checked for the session's CSRF token and a same-origin `Origin`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};
use sms_store::RecipientQuery;
use tokio::time::Instant;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "sms_dashboard";
/// The path every dashboard page is under (and the cookie's path).
pub(crate) const BASE: &str = "/dashboard";
/// How long a session lasts after login.
pub(crate) const LIFETIME: Duration = Duration::from_secs(8 * 60 * 60);
/// Most sessions held at once; the oldest goes first.
const MAX_SESSIONS: usize = 10_000;
/// Most opaque tokens a session holds; the oldest goes first.
const MAX_TOKENS: usize = 256;

/// What an opaque token in a URL or form stands for: never a number in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Opaque {
    /// A message search (it may hold a number) with its page cursor.
    Search(RecipientQuery),
    /// A number, for removing its suppression.
    Number(String),
}

/// One logged-in operator.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The API key's name (never the key).
    pub key_name: String,
    /// True for a key with the admin scope: it may change things and unmask numbers.
    pub admin: bool,
    /// The token every form of this session carries.
    pub csrf: String,
    expires: Instant,
    tokens: Vec<(String, Opaque)>,
}

/// Every live session, by the SHA-256 of its id (a memory dump shows no usable cookie).
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// 32 random bytes, hex.
fn random_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random source: {e}"))?;
    Ok(hex::encode(bytes))
}

impl Sessions {
    /// A new session for `key_name`; returns its id (for the cookie).
    pub(crate) fn create(&self, key_name: &str, admin: bool) -> Result<String, String> {
        let id = random_token()?;
        let session = Session {
            key_name: key_name.to_owned(),
            admin,
            csrf: random_token()?,
            expires: Instant::now() + LIFETIME,
            tokens: Vec::new(),
        };
        let mut map = self.lock();
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(digest(&id), session);
        Ok(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The session of the request's cookie, unless it is unknown or expired.
    pub(crate) fn of(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers)?;
        let key = digest(&id);
        let mut map = self.lock();
        match map.get(&key) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the request's session.
    pub(crate) fn end(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers) {
            self.lock().remove(&digest(&id));
        }
    }

    /// Stores `value` in the request's session under a new opaque token.
    pub(crate) fn token(&self, headers: &HeaderMap, value: Opaque) -> Option<String> {
        let id = cookie(headers)?;
        let mut map = self.lock();
        let session = map.get_mut(&digest(&id))?;
        if let Some((token, _)) = session.tokens.iter().find(|(_, v)| *v == value) {
            return Some(token.clone());
        }
        // 16 random bytes are plenty for a token that only means something inside one session.
        let token = random_token().ok()?[..32].to_owned();
        if session.tokens.len() >= MAX_TOKENS {
            session.tokens.remove(0);
        }
        session.tokens.push((token.clone(), value));
        Some(token)
    }

    /// What `token` stands for in the request's session.
    pub(crate) fn resolve(&self, headers: &HeaderMap, token: &str) -> Option<Opaque> {
        let id = cookie(headers)?;
        let map = self.lock();
        let session = map.get(&digest(&id))?;
        session
            .tokens
            .iter()
            .find(|(t, _)| t == token)
            .map(|(_, v)| v.clone())
    }
}

/// The session id from the request's `Cookie` header.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value for a new session.
pub(crate) fn set_cookie(id: &str) -> String {
    format!(
        "{COOKIE}={id}; Path={BASE}; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
        LIFETIME.as_secs()
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path={BASE}; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

/// Why a form post is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `Origin` (or `Sec-Fetch-Site`) says another site sent it.
    CrossSite,
    /// The CSRF token is missing or wrong.
    Token,
}

/// Checks that a form post comes from this site: `Sec-Fetch-Site`, when sent, must not be
/// `cross-site` or `same-site`, and `Origin`, when sent, must name this host.
pub(crate) fn same_origin(headers: &HeaderMap) -> Result<(), Refusal> {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(fetch_site, Some("cross-site" | "same-site")) {
        return Err(Refusal::CrossSite);
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::CrossSite)?;
    let origin = origin.to_str().map_err(|_| Refusal::CrossSite)?;
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or(Refusal::CrossSite)?;
    if authority.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(Refusal::CrossSite)
    }
}

/// Checks a form post: same origin and the session's CSRF token in the `csrf` field.
pub(crate) fn check_post(headers: &HeaderMap, session: &Session, form: &Form) -> Result<(), Refusal> {
    same_origin(headers)?;
    let given = form.get("csrf").unwrap_or("");
    // Comparing digests: the time taken says nothing about the token.
    if digest(given) == digest(&session.csrf) {
        Ok(())
    } else {
        Err(Refusal::Token)
    }
}

/// A parsed `application/x-www-form-urlencoded` body.
#[derive(Debug, Default)]
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    /// Parses a body.
    pub(crate) fn parse(body: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, trimmed, when not empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// The sessions, shared by every dashboard handler.
pub(crate) type SharedSessions = Arc<Sessions>;

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, format!("other=1; {COOKIE}={id}").parse().unwrap());
        h
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_expire_and_tokens_stay_inside_their_session() {
        let sessions = Sessions::default();
        let id = sessions.create("ops", false).unwrap();
        let other = sessions.create("ops", true).unwrap();
        assert_ne!(id, other);
        let headers = with_cookie(&id);
        let session = sessions.of(&headers).unwrap();
        assert!(!session.admin);
        assert_eq!(session.key_name, "ops");
        let token = sessions
            .token(&headers, Opaque::Number("+8613800138000".into()))
            .unwrap();
        // The token is random: it does not carry the number (a 3-digit check would fail by chance).
        assert!(!token.contains("13800138000"), "{token}");
        assert_eq!(
            sessions.resolve(&headers, &token),
            Some(Opaque::Number("+8613800138000".into()))
        );
        assert_eq!(sessions.resolve(&with_cookie(&other), &token), None);
        tokio::time::advance(LIFETIME + Duration::from_secs(1)).await;
        assert!(sessions.of(&headers).is_none());
        assert!(sessions.of(&with_cookie("0".repeat(64).as_str())).is_none());
    }

    #[test]
    fn posts_from_other_sites_and_without_the_token_are_refused() {
        let session = Session {
            key_name: "a".into(),
            admin: true,
            csrf: "t0k".into(),
            expires: Instant::now(),
            tokens: Vec::new(),
        };
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        let good = Form::parse(b"csrf=t0k");
        assert_eq!(check_post(&h, &session, &good), Ok(()));
        assert_eq!(
            check_post(&h, &session, &Form::parse(b"csrf=nope")),
            Err(Refusal::Token)
        );
        assert_eq!(check_post(&h, &session, &Form::default()), Err(Refusal::Token));
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert_eq!(check_post(&h, &session, &good), Ok(()));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert_eq!(check_post(&h, &session, &good), Err(Refusal::CrossSite));
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert_eq!(check_post(&h, &session, &good), Err(Refusal::CrossSite));
    }
}
