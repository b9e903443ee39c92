//! The checks every ARM request meets before it is served, in ARM's order:
//! the injected delay, the bearer token (401: missing, unknown, expired, for
//! another audience, of another tenant), the vault (404), the
//! `api-version` (400: Site Recovery's, or a network resource's own), the enforced budget (429), then the injected 429s
//! and 5xx.

use super::path::Parsed;
use super::shared::Shared;
use crate::auth;
use crate::budget::Take;
use crate::error::ArmError;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// What the checks found: the api-version, and what is left of the
/// request's budget (its header's name and value) when one is enforced.
pub(super) struct Checked {
    pub(super) api_version: String,
    pub(super) remaining: Option<(&'static str, u32)>,
}

/// The checks of every ARM request, in ARM's order; the refusal's answer
/// when one fails.
#[allow(
    clippy::result_large_err,
    reason = "a refusal is the answer, made once per request"
)]
pub(super) async fn checks(
    s: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    parsed: Option<&Parsed>,
    versions: &[&str],
) -> Result<Checked, Response> {
    let faults = s.faults();
    if faults.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
    }
    let grant = s.authenticate(headers).and_then(|grant| {
        if grant.tenant.eq_ignore_ascii_case(&s.tenant) {
            Ok(grant)
        } else {
            Err(auth::Refused::WrongTenant {
                token: grant.tenant,
                home: s.tenant.clone(),
            })
        }
    });
    let grant = match grant {
        Ok(grant) => grant,
        Err(refused) => {
            s.counters.with(|c| c.unauthorized += 1);
            return Err(auth::unauthorized(refused));
        }
    };
    if s.without_role.contains(&grant.object_id) {
        return Err(auth::forbidden(&grant, method, uri.path()));
    }
    if let Some(parsed) = parsed {
        if !parsed
            .subscription
            .eq_ignore_ascii_case(&s.vault.subscription)
        {
            return Err(ArmError::not_found(
                "SubscriptionNotFound",
                format!(
                    "The subscription '{}' could not be found.",
                    parsed.subscription
                ),
            )
            .into_response());
        }
        if !parsed
            .resource_group
            .eq_ignore_ascii_case(&s.vault.resource_group)
        {
            return Err(ArmError::not_found(
                "ResourceGroupNotFound",
                format!(
                    "Resource group '{}' could not be found.",
                    parsed.resource_group
                ),
            )
            .into_response());
        }
        if !parsed.vault.eq_ignore_ascii_case(&s.vault.name) {
            return Err(ArmError::not_found(
                "ResourceNotFound",
                format!(
                    "The Resource 'Microsoft.RecoveryServices/vaults/{}' under resource group '{}' was not found.",
                    parsed.vault, parsed.resource_group
                ),
            )
            .into_response());
        }
    }
    let query = query_map(uri);
    let api_version = match query.get("api-version") {
        None => {
            return Err(ArmError::bad_request(
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
            .into_response())
        }
        Some(v) if !versions.contains(&v.as_str()) => {
            return Err(ArmError::bad_request(
                "InvalidApiVersionParameter",
                format!(
                    "The api-version '{v}' is invalid. The supported versions are '{}'.",
                    versions.join(",")
                ),
            )
            .into_response())
        }
        Some(v) => v.clone(),
    };
    let write = method != Method::GET;
    let header = if write {
        "x-ms-ratelimit-remaining-subscription-writes"
    } else {
        "x-ms-ratelimit-remaining-subscription-reads"
    };
    let remaining = match s.budget.take(write) {
        Take::Unlimited => None,
        Take::Left(left) => Some((header, left)),
        Take::Spent(wait) => {
            s.counters.with(|c| c.budget_throttled += 1);
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = throttled(secs.max(1));
            response
                .headers_mut()
                .insert(header, HeaderValue::from(0u32));
            return Err(response);
        }
    };
    let seq = s.arm_seq.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(n) = faults.throttle_every.filter(|n| *n > 0) {
        if seq.is_multiple_of(u64::from(n)) {
            s.counters.with(|c| c.throttled += 1);
            let mut response = throttled(u64::from(faults.throttle_retry_after_secs));
            if let Some(ms) = faults.throttle_retry_after_ms {
                response
                    .headers_mut()
                    .insert("x-ms-retry-after-ms", HeaderValue::from(ms));
            }
            return Err(response);
        }
    }
    if let Some(n) = faults.error_every.filter(|n| *n > 0) {
        if seq.is_multiple_of(u64::from(n)) {
            s.counters.with(|c| c.errors_injected += 1);
            let status = faults
                .error_status
                .and_then(|code| StatusCode::from_u16(code).ok())
                .filter(|code| code.is_server_error())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(ArmError::new(
                status,
                "InternalServerError",
                "Encountered internal server error (injected by the emulator). Please retry.",
            )
            .into_response());
        }
    }
    Ok(Checked {
        api_version,
        remaining,
    })
}

/// ARM's 429.
pub(super) fn throttled(retry_after_secs: u64) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"error": {
            "code": "TooManyRequests",
            "message": "The request is being throttled as the limit has been reached for operation type. Please retry after the time in the Retry-After header.",
        }})),
    )
        .into_response();
    response
        .headers_mut()
        .insert("retry-after", HeaderValue::from(retry_after_secs));
    response
}

pub(super) fn query_map(uri: &Uri) -> HashMap<String, String> {
    let Some(query) = uri.query() else {
        return HashMap::new();
    };
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

pub(super) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}
