//! Bearer tokens: issued by the token endpoint (managed identity's App
//! Service protocol, api-version 2019-08-01: `GET IDENTITY_ENDPOINT?resource=
//! ...&api-version=2019-08-01` with the secret in `X-IDENTITY-HEADER`),
//! required on every ARM route. Tokens are random strings the emulator
//! remembers with their expiry; `revoke_all` makes every issued token
//! invalid (a revoked credential, a rotated key).

use crate::error::ArmError;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The header App Service's token endpoint reads its secret from.
pub const IDENTITY_HEADER: &str = "x-identity-header";

pub(crate) struct Tokens {
    issued: Mutex<HashMap<String, DateTime<Utc>>>,
    /// Every token ever issued, revoked ones too: what a test searches a
    /// client's files and logs for.
    history: Mutex<Vec<String>>,
    lifetime: Mutex<Duration>,
    pub secret: String,
}

/// Why a request's token was refused.
pub(crate) enum Refused {
    Missing,
    Invalid,
    Expired,
}

impl Tokens {
    pub fn new(secret: String, lifetime: Duration) -> Self {
        Tokens {
            issued: Mutex::new(HashMap::new()),
            history: Mutex::new(Vec::new()),
            lifetime: Mutex::new(lifetime),
            secret,
        }
    }

    pub fn set_lifetime(&self, lifetime: Duration) {
        *self.lifetime.lock().unwrap_or_else(|p| p.into_inner()) = lifetime;
    }

    /// A new token and when it expires.
    pub fn issue(&self) -> (String, DateTime<Utc>) {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).expect("the OS has randomness");
        let token = format!("emu.{}", hex::encode(bytes));
        let lifetime = *self.lifetime.lock().unwrap_or_else(|p| p.into_inner());
        let expires =
            Utc::now() + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(1));
        self.issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.clone(), expires);
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(token.clone());
        (token, expires)
    }

    /// Every token issued so far, in order, revoked or expired ones too.
    pub fn issued(&self) -> Vec<String> {
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn revoke_all(&self) {
        self.issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    pub fn check(&self, headers: &HeaderMap) -> Result<(), Refused> {
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Err(Refused::Missing);
        };
        let value = value.to_str().map_err(|_| Refused::Invalid)?;
        let Some((scheme, token)) = value.split_once(' ') else {
            return Err(Refused::Invalid);
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Refused::Invalid);
        }
        let issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        match issued.get(token.trim()) {
            None => Err(Refused::Invalid),
            Some(expires) if *expires <= Utc::now() => Err(Refused::Expired),
            Some(_) => Ok(()),
        }
    }
}

/// ARM's 401: its error codes, and a `WWW-Authenticate` challenge naming
/// the authority and the error.
pub(crate) fn unauthorized(refused: Refused) -> Response {
    let (code, message, error) = match refused {
        Refused::Missing => (
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            "invalid_request",
        ),
        Refused::Invalid => (
            "InvalidAuthenticationToken",
            "The access token is invalid.",
            "invalid_token",
        ),
        Refused::Expired => (
            "ExpiredAuthenticationToken",
            "The access token expiry UTC time is earlier than current UTC time.",
            "invalid_token",
        ),
    };
    let mut response = ArmError::new(StatusCode::UNAUTHORIZED, code, message).into_response();
    let challenge = format!(
        "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"{error}\", error_description=\"{message}\""
    );
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, value);
    }
    response
}

/// The token endpoint's answer to `query` with `headers`: 200 with
/// `access_token`, `expires_on` (Unix seconds, as a string: what
/// azure_identity parses), `resource`, `token_type`; 401 without the
/// secret; 400 without a resource.
pub(crate) fn token_response(
    tokens: &Tokens,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> (Response, bool) {
    let secret_ok = headers
        .get(IDENTITY_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == tokens.secret);
    if !secret_ok {
        let body = json!({"error": "unauthorized", "error_description": format!("the {IDENTITY_HEADER} header is missing or wrong; send IDENTITY_HEADER's value")});
        return (
            (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response(),
            false,
        );
    }
    let Some(resource) = query.get("resource").filter(|r| !r.is_empty()) else {
        let body = json!({"error": "invalid_request", "error_description": "the resource query parameter is required, e.g. resource=https://management.azure.com"});
        return (
            (StatusCode::BAD_REQUEST, axum::Json(body)).into_response(),
            false,
        );
    };
    let (token, expires) = tokens.issue();
    let body = json!({
        "access_token": token,
        "expires_on": expires.timestamp().to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": "00000000-0000-0000-0000-00000000e0e0",
    });
    ((StatusCode::OK, axum::Json(body)).into_response(), true)
}
