//! Entra ID's token endpoint (Microsoft identity platform v2, the client
//! credentials grant), as `azure_identity`'s `ClientSecretCredential` and
//! `WorkloadIdentityCredential` call it: `POST
//! {authority_host}/{tenant}/oauth2/v2.0/token` with a form body of
//! `grant_type=client_credentials`, `client_id`, `scope`, and either
//! `client_secret` or `client_assertion_type` + `client_assertion`. Served
//! on the HTTPS port (`azure_identity` wants an https authority host), so
//! `AZURE_AUTHORITY_HOST` is the emulator's ARM endpoint.
//!
//! A token is a JWT in the shape of Entra's app-only tokens for ARM (`tid`,
//! `oid`, `appid`, `iss`, `exp`, ...) with a random signature: clients read
//! its claims (`drbook azure check` names the principal and tenant), the
//! emulator recognises it by its exact text. Refusals are Entra's: the
//! AADSTS code in `error_codes` and first in `error_description`, and
//! Entra's statuses (400, and 401 for a wrong client credential).

use crate::auth::{random, random_guid, Grant, Tokens};
use crate::config::{App, AppCredential};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use serde_json::json;
use std::collections::HashMap;

/// The `client_assertion_type` of a JWT assertion (RFC 7523).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What the token endpoint answers, and whether it issued a token.
pub(crate) fn token_response(
    tokens: &Tokens,
    apps: &[App],
    home: &str,
    tenant: &str,
    form: &HashMap<String, String>,
) -> (Response, bool) {
    let client_id = form.get("client_id").map(String::as_str).unwrap_or("");
    match grant(apps, home, tenant, form) {
        Ok((app, resource, acr)) => {
            tracing::debug!(tenant, client_id, resource, "Entra ID issues a token");
            let grant = Grant {
                tenant: app.tenant.clone(),
                object_id: app.object_id.clone(),
                audience: resource.clone(),
            };
            let mut expires_in = 0;
            let (token, _) = tokens.issue_with(grant, |expires| {
                expires_in = (expires - Utc::now()).num_seconds();
                jwt(app, &resource, acr, expires.timestamp())
            });
            let body = json!({
                "token_type": "Bearer",
                "expires_in": expires_in,
                "ext_expires_in": expires_in,
                "access_token": token,
            });
            ((StatusCode::OK, Json(body)).into_response(), true)
        }
        Err(refusal) => {
            // What a developer needs to see why: who asked, and Entra's code.
            tracing::debug!(tenant, client_id, code = refusal.code, status = %refusal.status, "Entra ID refuses a token");
            (refusal.into_response(), false)
        }
    }
}

/// Entra's refusal: its status, OAuth error, AADSTS number and text.
struct Refusal {
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let trace = random_guid();
        let correlation = random_guid();
        let now = Utc::now();
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {}",
                self.code,
                self.description,
                now.format("%Y-%m-%d %H:%M:%SZ")
            ),
            "error_codes": [self.code],
            "timestamp": now.format("%Y-%m-%d %H:%M:%SZ").to_string(),
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        (self.status, Json(body)).into_response()
    }
}

fn refuse(status: StatusCode, error: &'static str, code: u32, description: String) -> Refusal {
    Refusal {
        status,
        error,
        code,
        description,
    }
}

/// Entra's OpenID Connect discovery document of `tenant` (`GET
/// /{tenant}/v2.0/.well-known/openid-configuration`), what MSAL reads
/// before its first token (`az login`): the endpoints under `base` (the
/// emulator's authority host), the v2 issuer. An unknown tenant gets
/// Entra's 400 `invalid_tenant`, AADSTS90002.
pub(crate) fn openid_configuration(apps: &[App], home: &str, tenant: &str, base: &str) -> Response {
    if let Err(refusal) = known_tenant(apps, home, tenant, "invalid_tenant") {
        return refusal.into_response();
    }
    let at = |path: &str| format!("{base}/{tenant}/{path}");
    let body = json!({
        "token_endpoint": at("oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": at("discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": at("v2.0"),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": at("oauth2/v2.0/authorize"),
        "device_authorization_endpoint": at("oauth2/v2.0/devicecode"),
        "end_session_endpoint": at("oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "tenant_region_scope": null,
        "cloud_instance_name": "drbook-arm-emulator",
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// Whether Entra knows `tenant` (the subscription's, or one of an app's);
/// its refusal, AADSTS90002 under the OAuth `error` its endpoint uses.
fn known_tenant(
    apps: &[App],
    home: &str,
    tenant: &str,
    error: &'static str,
) -> Result<(), Refusal> {
    let known = tenant.eq_ignore_ascii_case(home)
        || apps.iter().any(|a| a.tenant.eq_ignore_ascii_case(tenant));
    if known {
        return Ok(());
    }
    Err(refuse(
        StatusCode::BAD_REQUEST,
        error,
        90002,
        format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and \
             are signing into the correct cloud. Check with your subscription administrator, this \
             may happen if there are no active subscriptions for the tenant."
        ),
    ))
}

/// The app the form authenticates, the resource of its scope, and its
/// `appidacr` ("1": a secret, "2": an assertion); or Entra's refusal, in
/// Entra's order: the tenant, the request's parameters, the app, its
/// credential.
fn grant<'a>(
    apps: &'a [App],
    home: &str,
    tenant: &str,
    form: &HashMap<String, String>,
) -> Result<(&'a App, String, &'static str), Refusal> {
    known_tenant(apps, home, tenant, "invalid_request")?;
    let param = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let missing = |name: &str| {
        refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    };
    let grant_type = param("grant_type").ok_or_else(|| missing("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let client_id = param("client_id").ok_or_else(|| missing("client_id"))?;
    let scope = param("scope").ok_or_else(|| missing("scope"))?;
    let Some(resource) = scope.strip_suffix("/.default") else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must \
                 have a scope value with /.default suffixed to the resource identifier (application \
                 ID URI)."
            ),
        ));
    };
    let Some(app) = apps
        .iter()
        .find(|a| a.tenant.eq_ignore_ascii_case(tenant) && a.client_id == client_id)
    else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory \
                 '{tenant}'. This can happen if the application has not been installed by the \
                 administrator of the tenant or consented to by any user in the tenant. You may \
                 have sent your authentication request to the wrong tenant."
            ),
        ));
    };
    let invalid_client = |code: u32, description: String| {
        refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            code,
            description,
        )
    };
    let acr = match (
        &app.credential,
        param("client_secret"),
        param("client_assertion"),
    ) {
        (AppCredential::Secret(secret), Some(sent), _) => {
            if sent != secret {
                return Err(invalid_client(
                    7000215,
                    format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request \
                         is the client secret value, not the client secret ID, for a secret added to \
                         app '{client_id}'."
                    ),
                ));
            }
            "1"
        }
        (AppCredential::FederatedTokenFile(path), _, Some(sent)) => {
            if param("client_assertion_type") != Some(ASSERTION_TYPE) {
                return Err(invalid_client(
                    7000219,
                    "'client_assertion' or 'client_secret' is required, with \
                     client_assertion_type 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'."
                        .to_string(),
                ));
            }
            let expected = std::fs::read_to_string(path).unwrap_or_default();
            if expected.is_empty() || sent != expected {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    700213,
                    format!(
                        "No matching federated identity record found for presented assertion \
                         subject of app '{client_id}'. Check your federated identity credential \
                         Subject, Audience and Issuer against the presented assertion."
                    ),
                ));
            }
            "2"
        }
        _ => {
            return Err(invalid_client(
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or \
                 'client_secret'."
                    .to_string(),
            ))
        }
    };
    Ok((app, resource.to_string(), acr))
}

/// An app-only access token of Entra's v1 shape (what ARM's audience
/// gets), signed with random bytes.
fn jwt(app: &App, resource: &str, acr: &str, exp: i64) -> String {
    let now = Utc::now().timestamp();
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "drbook-arm-emulator"});
    let claims = json!({
        "aud": resource,
        "iss": format!("https://sts.windows.net/{}/", app.tenant),
        "iat": now,
        "nbf": now,
        "exp": exp,
        "appid": app.client_id,
        "appidacr": acr,
        "idtyp": "app",
        "oid": app.object_id,
        "sub": app.object_id,
        "tid": app.tenant,
        "ver": "1.0",
    });
    let part = |value: &serde_json::Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.{}",
        part(&header),
        part(&claims),
        URL_SAFE_NO_PAD.encode(random::<32>())
    )
}
