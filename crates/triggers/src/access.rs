//! Who may use the server's routes: API tokens, and the [`Principal`] a
//! request acts as once one is checked.
//!
//! A token's secret is `drbk_` followed by 256 random bits (base64url), so a
//! leaked one is recognisable (secret scanners, logs). The job store keeps
//! only the hex SHA-256 of the secret, unique and indexed, shared by every
//! server on the store. A request is authenticated before its body is read
//! and before any other store query: a header that is not a well-formed
//! `Bearer drbk_...` of the right length is refused without a lookup; one
//! that is costs one hash and one indexed lookup. Comparing the secret in
//! constant time is the hash lookup's: equal hashes are found by the index,
//! and what the timing of a lookup could tell is about the SHA-256 of a
//! guess, which says nothing about any stored secret.
//!
//! A principal is what the routes see: a name (recorded as the person of a
//! decision or a stop) and the scopes it holds. A token is one way to
//! become one; a browser's session is the other: signing in (with a token,
//! or through OpenID Connect, `oidc`) makes a session in the store, and the
//! cookie holds only its random id (the store keeps its SHA-256, looked up
//! as a token's is). A session lives 12 hours at most, never longer than
//! the token it signed in with, and ends when its person signs out or that
//! token is revoked (the store revokes a token's sessions with it).

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use super::auth::{hash_token, same_hash};
use super::refusal::Refusal;
use drbook_core::store::{JobStore, StoreError};
use drbook_core::token::{Scope, SignedInWith, StoredSession, StoredToken, Unusable};

/// What every API token's secret starts with.
pub const TOKEN_PREFIX: &str = "drbk_";

/// The length of a secret: the prefix and 32 bytes in base64url.
const SECRET_LEN: usize = TOKEN_PREFIX.len() + 43;

/// How long a token lives when `--expires` is not given.
pub const DEFAULT_TOKEN_LIFETIME: TimeDelta = TimeDelta::days(90);

/// How stale a token's recorded last use may get before a request records
/// it again: one write a minute per token at most, not one per request.
const LAST_USED_GRAIN: TimeDelta = TimeDelta::minutes(1);

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name: who decisions and stops are recorded as.
    pub name: String,
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// Whether it may do what needs `need`.
    pub fn may(&self, need: Scope) -> bool {
        need.allows(&self.scopes)
    }
}

/// Hex SHA-256 of a secret: what the store keeps and looks tokens up by.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Scopes as a token lists them: `viewer,approver`.
pub fn scope_list(scopes: &[Scope]) -> String {
    let names: Vec<&str> = scopes.iter().map(|s| s.name()).collect();
    names.join(",")
}

/// The cookie a browser signed in (`console`'s sign-in) holds its session's
/// id in: http-only and same-site strict, so a page's script cannot read it
/// and another site's requests do not carry it.
pub const SESSION_COOKIE: &str = "drbook_session";

/// What every session id starts with (as `drbk_` for tokens).
const SESSION_PREFIX: &str = "drbs_";

/// The length of a session id: the prefix and 32 bytes in base64url.
const SESSION_ID_LEN: usize = SESSION_PREFIX.len() + 43;

/// How long a session lives at most.
pub const SESSION_LIFETIME: TimeDelta = TimeDelta::hours(12);

/// Authenticates a request by its `Authorization` header or by the
/// session cookie. A browser sends the cookie by itself, from any page, so
/// it authenticates a change only with the session's CSRF token
/// ([`csrf_token`]) in the query (`csrf`, a console form's action); without
/// one only a request that reads (`reads`: `GET`, `HEAD`).
pub async fn authenticate(
    store: &dyn JobStore,
    headers: &HeaderMap,
    reads: bool,
    csrf: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Principal, Refusal> {
    let secret = match (headers.get(header::AUTHORIZATION), csrf) {
        (Some(value), _) => value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Refusal::TokenUnknown)?,
        (None, csrf) if reads || csrf.is_some() => {
            let id = cookie(headers, SESSION_COOKIE).ok_or(Refusal::TokenMissing)?;
            let expected = csrf_token(id);
            let given = csrf.unwrap_or(&expected);
            if !same_hash(&hash_token(given), &hash_token(&expected)) {
                return Err(Refusal::Csrf);
            }
            return authenticate_session(store, id, now).await;
        }
        (None, _) => return Err(Refusal::TokenMissing),
    };
    authenticate_secret(store, secret, now).await
}

/// The CSRF token of the session `id`: its forms carry it. Another site
/// cannot read it, and it tells nothing of the id (a hash).
pub(crate) fn csrf_token(id: &str) -> String {
    hash_secret(&format!("drbook-csrf:{}", id.trim()))
}

/// Authenticates a session's id: the same shape check before any lookup,
/// then one indexed lookup of its hash.
async fn authenticate_session(
    store: &dyn JobStore,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Principal, Refusal> {
    let id = Some(id.trim())
        .filter(|s| s.len() == SESSION_ID_LEN && s.starts_with(SESSION_PREFIX))
        .ok_or(Refusal::SessionUnknown)?;
    let session = store
        .session_by_hash(&hash_secret(id))
        .await
        .map_err(|e| Refusal::Store(e.to_string()))?
        .ok_or(Refusal::SessionUnknown)?;
    session.usable(now).map_err(|why| match why {
        Unusable::Expired => Refusal::SessionExpired,
        Unusable::Revoked => Refusal::SessionEnded,
    })?;
    Ok(Principal {
        name: session.principal,
        scopes: session.scopes,
    })
}

/// Makes a session for `principal`, signed in `via`, until `until` or
/// [`SESSION_LIFETIME`] from now, whichever is first; returns the id its
/// cookie holds. Sessions expired a day ago are pruned first, so that the
/// table holds only what could still be shown to be ended.
pub(crate) async fn start_session(
    store: &dyn JobStore,
    principal: &Principal,
    via: SignedInWith,
    until: Option<DateTime<Utc>>,
) -> Result<String, StoreError> {
    // Milliseconds: what every store keeps.
    let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default();
    if let Err(e) = store.prune_sessions(now - TimeDelta::days(1)).await {
        tracing::warn!("cannot prune expired sessions: {e}");
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let id = format!("{SESSION_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let longest = now + SESSION_LIFETIME;
    let expires = until.map_or(longest, |until| until.min(longest));
    store
        .create_session(&StoredSession {
            hash: hash_secret(&id),
            principal: principal.name.clone(),
            scopes: principal.scopes.clone(),
            via,
            created: now,
            expires: DateTime::from_timestamp_millis(expires.timestamp_millis()).unwrap_or(expires),
            revoked: None,
        })
        .await?;
    Ok(id)
}

/// Ends the session `id` (signing out); an unknown id is no error (the
/// browser is signed out either way).
pub(crate) async fn end_session(store: &dyn JobStore, id: &str) -> Result<(), StoreError> {
    store
        .revoke_session(&hash_secret(id.trim()), Utc::now())
        .await
        .map(|_| ())
}

/// The value of cookie `name` of a request, if it sent one.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Authenticates a token's secret, however it was sent.
pub(crate) async fn authenticate_secret(
    store: &dyn JobStore,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Principal, Refusal> {
    authenticate_token(store, secret, now)
        .await
        .map(|token| Principal {
            name: token.name,
            scopes: token.scopes,
        })
}

/// The usable token of `secret`, its use recorded.
pub(crate) async fn authenticate_token(
    store: &dyn JobStore,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<StoredToken, Refusal> {
    let secret = Some(secret.trim())
        .filter(|s| s.len() == SECRET_LEN && s.starts_with(TOKEN_PREFIX))
        .ok_or(Refusal::TokenUnknown)?;
    let token = store
        .token_by_hash(&hash_secret(secret))
        .await
        .map_err(|e| Refusal::Store(e.to_string()))?
        .ok_or(Refusal::TokenUnknown)?;
    token.usable(now).map_err(|why| match why {
        Unusable::Expired => Refusal::TokenExpired,
        Unusable::Revoked => Refusal::TokenRevoked,
    })?;
    if token.last_used.is_none_or(|at| now - at >= LAST_USED_GRAIN) {
        record_use(store, &token.name, now).await;
    }
    Ok(token)
}

/// Records a use; a failure to is logged, never a refusal (the request was
/// authenticated).
async fn record_use(store: &dyn JobStore, name: &str, now: DateTime<Utc>) {
    if let Err(e) = store.token_used(name, now).await {
        tracing::warn!(token = ?name, "cannot record the API token's use: {e}");
    }
}

/// Why a token cannot be created.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("`{0}` is not a valid token name: use 1 to 64 letters, digits, `-`, `_` or `.`")]
    BadName(String),
    #[error("a token needs at least one scope: viewer, operator, approver or admin")]
    NoScope,
    #[error("the token would expire at {0}, which has passed; give a later time or a duration such as 30d")]
    Past(DateTime<Utc>),
    #[error(
        "a token named `{0}` exists (revoked tokens keep their names, as decisions name them): choose another \
         name"
    )]
    Exists(String),
    #[error("no token named `{0}`; `drbook token list` lists them")]
    NoSuchToken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token made: its record and its secret, shown once.
pub struct NewToken {
    pub token: StoredToken,
    pub secret: String,
}

/// Creates token `name` holding `scopes` (sorted, without repeats), valid
/// until `expires`, made by `by`.
pub async fn create_token(
    store: &dyn JobStore,
    name: &str,
    scopes: &[Scope],
    expires: DateTime<Utc>,
    by: &str,
) -> Result<NewToken, TokenError> {
    let valid = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid {
        return Err(TokenError::BadName(name.to_string()));
    }
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(TokenError::NoScope);
    }
    // Milliseconds: what every store keeps.
    let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default();
    if expires <= now {
        return Err(TokenError::Past(expires));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let token = StoredToken {
        name: name.to_string(),
        hash: hash_secret(&secret),
        scopes,
        created: now,
        created_by: by.to_string(),
        expires: DateTime::from_timestamp_millis(expires.timestamp_millis()).unwrap_or(expires),
        last_used: None,
        revoked: None,
    };
    if !store.create_token(&token).await? {
        return Err(TokenError::Exists(name.to_string()));
    }
    Ok(NewToken { token, secret })
}

/// Revokes token `name` now.
pub async fn revoke_token(store: &dyn JobStore, name: &str) -> Result<(), TokenError> {
    if store.revoke_token(name, Utc::now()).await? {
        Ok(())
    } else {
        Err(TokenError::NoSuchToken(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_recognisable_and_hashed() {
        let hash = hash_secret("drbk_x");
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, hash_secret("drbk_y"));
        assert_eq!(SECRET_LEN, 48);
    }
}
