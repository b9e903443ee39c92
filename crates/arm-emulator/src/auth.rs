//! Bearer tokens: issued by the token endpoint (managed identity's App
//! Service protocol, api-version 2019-08-01: `GET IDENTITY_ENDPOINT?resource=
//! ...&api-version=2019-08-01` with the secret in `X-IDENTITY-HEADER`),
//! required on every ARM route. Tokens are random strings (Entra ID's, in
//! `entra`: JWTs with a random signature) the emulator remembers with their
//! expiry and [`Grant`]; `revoke_all` makes every issued token invalid (a
//! revoked credential, a rotated key).

use crate::config::MANAGED_IDENTITY_OBJECT_ID;
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

/// Whom a token was issued to, and for what: what ARM checks after its
/// validity (the audience, the tenant against the subscription's, the
/// principal's role).
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub tenant: String,
    pub object_id: String,
    /// The resource it was asked for (`resource`, or the scope without
    /// `/.default`): its `aud`.
    pub audience: String,
}

/// ARM's own audiences, which it accepts besides none: the public cloud's,
/// with and without the slash.
const ARM_AUDIENCES: &[&str] = &[
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
];

impl Grant {
    /// Whether ARM at `base` (the emulator's `https://127.0.0.1:<port>`)
    /// takes a token of this audience: its own URL, with or without the
    /// slash (what a client whose cloud is the emulator asks for), or the
    /// public cloud's audiences.
    pub fn for_arm(&self, base: &str) -> Result<(), Refused> {
        let audience = self.audience.as_str();
        if audience.trim_end_matches('/') == base.trim_end_matches('/')
            || ARM_AUDIENCES.contains(&audience)
        {
            return Ok(());
        }
        Err(Refused::WrongAudience {
            audience: audience.to_string(),
            base: base.trim_end_matches('/').to_string(),
        })
    }
}

pub(crate) struct Tokens {
    issued: Mutex<HashMap<String, (DateTime<Utc>, Grant)>>,
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
    /// Issued for another resource than ARM at `base`.
    WrongAudience {
        audience: String,
        base: String,
    },
    /// Issued in `token` (a tenant id), not the subscription's `home`.
    WrongTenant {
        token: String,
        home: String,
    },
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

    /// A new opaque token for `grant` and when it expires.
    pub fn issue(&self, grant: Grant) -> (String, DateTime<Utc>) {
        self.issue_with(grant, |_| format!("emu.{}", hex::encode(random::<24>())))
    }

    /// A new token for `grant`, made by `make` from its expiry (it must
    /// make a different one each time), and when it expires.
    pub fn issue_with(
        &self,
        grant: Grant,
        make: impl FnOnce(DateTime<Utc>) -> String,
    ) -> (String, DateTime<Utc>) {
        let lifetime = *self.lifetime.lock().unwrap_or_else(|p| p.into_inner());
        let expires =
            Utc::now() + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(1));
        let token = make(expires);
        self.issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.clone(), (expires, grant));
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

    /// Whom the request's token was issued to, if it is valid.
    pub fn check(&self, headers: &HeaderMap) -> Result<Grant, Refused> {
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
            Some((expires, _)) if *expires <= Utc::now() => Err(Refused::Expired),
            Some((_, grant)) => Ok(grant.clone()),
        }
    }
}

/// `N` random bytes.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    bytes
}

/// A random GUID's text (ARM's request ids, Entra's trace ids).
pub(crate) fn random_guid() -> String {
    uuid::Uuid::from_bytes(random::<16>()).to_string()
}

/// ARM's 401: its error codes, and a `WWW-Authenticate` challenge naming
/// the authority and the error.
pub(crate) fn unauthorized(refused: Refused) -> Response {
    let mut authority = "https://login.microsoftonline.com/common".to_string();
    let (code, message, error) = match refused {
        Refused::Missing => (
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.".to_string(),
            "invalid_request",
        ),
        Refused::Invalid => (
            "InvalidAuthenticationToken",
            "The access token is invalid.".to_string(),
            "invalid_token",
        ),
        Refused::Expired => (
            "ExpiredAuthenticationToken",
            "The access token expiry UTC time is earlier than current UTC time.".to_string(),
            "invalid_token",
        ),
        Refused::WrongAudience { audience, base } => (
            "InvalidAuthenticationToken",
            format!(
                "The access token has been obtained for wrong audience or resource '{audience}'. \
                 It should exactly match with one of the allowed audiences '{base}/','{base}',{}.",
                ARM_AUDIENCES
                    .iter()
                    .map(|a| format!("'{a}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            "invalid_token",
        ),
        Refused::WrongTenant { token, home } => {
            authority = format!("https://login.windows.net/{home}");
            (
                "InvalidAuthenticationTokenTenant",
                format!(
                    "The access token is from the wrong issuer 'https://sts.windows.net/{token}/'. \
                     It must match the tenant 'https://sts.windows.net/{home}/' associated with this \
                     subscription. Please use the authority (URL) '{authority}' to get the token. \
                     Note, if the subscription is transferred to another tenant there is no impact to \
                     the services, but information about new tenant could take time to propagate (up \
                     to an hour). If you just transferred your subscription and see this error \
                     message, please try back later."
                ),
                "invalid_token",
            )
        }
    };
    let mut response = ArmError::new(StatusCode::UNAUTHORIZED, code, &message).into_response();
    let challenge = format!(
        "Bearer authorization_uri=\"{authority}\", error=\"{error}\", error_description=\"{message}\""
    );
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, value);
    }
    response
}

/// ARM's 403 for a principal with no role on the scope: the action its
/// request needs (`{provider}/{type}/.../read`, or `.../{action}/action` for
/// a POST) and the scope, as Azure's RBAC names them.
pub(crate) fn forbidden(grant: &Grant, method: &axum::http::Method, path: &str) -> Response {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let provider = segments
        .iter()
        .position(|s| s.eq_ignore_ascii_case("providers"))
        .map_or(segments.len(), |i| i + 1);
    // After the provider, types and names alternate; a POST's action sits
    // where a type would.
    let types: Vec<&str> = segments
        .get(provider + 1..)
        .unwrap_or_default()
        .iter()
        .step_by(2)
        .copied()
        .collect();
    let post = method == axum::http::Method::POST;
    let action = format!(
        "{}/{}/{}",
        segments
            .get(provider)
            .copied()
            .unwrap_or("Microsoft.RecoveryServices"),
        types.join("/"),
        if post { "action" } else { "read" }
    );
    let scope = if post {
        path.rsplit_once('/').map_or(path, |(scope, _)| scope)
    } else {
        path
    };
    let oid = &grant.object_id;
    ArmError::new(
        StatusCode::FORBIDDEN,
        "AuthorizationFailed",
        format!(
            "The client '{oid}' with object id '{oid}' does not have authorization to perform \
             action '{action}' over scope '{scope}' or the scope is invalid. If access was \
             recently granted, please refresh your credentials."
        ),
    )
    .into_response()
}

/// The token endpoint's answer to `query` with `headers`: 200 with
/// `access_token`, `expires_on` (Unix seconds, as a string: what
/// azure_identity parses), `resource`, `token_type`; 401 without the
/// secret; 400 without a resource.
pub(crate) fn token_response(
    tokens: &Tokens,
    grant: Grant,
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
    let grant = Grant {
        audience: resource.clone(),
        ..grant
    };
    let (token, expires) = tokens.issue(grant);
    let body = json!({
        "access_token": token,
        "expires_on": expires.timestamp().to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": MANAGED_IDENTITY_OBJECT_ID,
    });
    ((StatusCode::OK, axum::Json(body)).into_response(), true)
}
