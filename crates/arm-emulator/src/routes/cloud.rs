//! What a client of a cloud reads before it calls the vault, as the Azure
//! CLI does (`az cloud register`, `az login --service-principal`): ARM's
//! metadata of the cloud (no token), Entra's OpenID discovery of a tenant,
//! and the subscriptions a token sees (`GET /subscriptions`, which ARM
//! serves to a token of any tenant). These are not vault routes, so they
//! meet neither the HTTP faults nor the budget; each is counted.

use super::checks::query_map;
use super::shared::Shared;
use crate::error::ArmError;
use crate::{auth, entra};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

/// The api-versions of `/metadata/endpoints` served: the one whose answer
/// is one cloud's object (what `az cloud register` asks for).
pub(crate) const METADATA_API_VERSIONS: &[&str] = &["2022-09-01"];

/// The api-versions of Microsoft.Resources' subscription list, oldest
/// first (`specification/resources/.../subscriptions/stable/`).
pub(crate) const SUBSCRIPTION_API_VERSIONS: &[&str] = &[
    "2016-06-01",
    "2018-06-01",
    "2019-06-01",
    "2019-11-01",
    "2020-01-01",
    "2021-01-01",
    "2022-12-01",
];

/// The `api-version` of `uri` if it is one of `supported`, else ARM's 400
/// naming them.
fn api_version(uri: &Uri, supported: &[&str]) -> Result<(), ArmError> {
    match query_map(uri).get("api-version") {
        None => Err(ArmError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )),
        Some(v) if !supported.contains(&v.as_str()) => Err(ArmError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{v}' is invalid. The supported versions are '{}'.",
                supported.join(",")
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// `GET /metadata/endpoints?api-version=2022-09-01`: the cloud as ARM
/// describes it, without a token. Resource manager, login endpoint and
/// audience are all the emulator's base URL, so that a client that
/// registers the cloud from it signs in at the emulator's Entra and asks
/// for tokens of the audience drbook asks for (`{arm-endpoint}/.default`).
/// The other services have no emulator and name none.
pub(super) async fn metadata(State(s): State<Arc<Shared>>, uri: Uri) -> Response {
    s.counters.request("GET", "metadata.endpoints", None);
    if let Err(e) = api_version(&uri, METADATA_API_VERSIONS) {
        return e.into_response();
    }
    let base = format!("{}/", s.base_url);
    Json(json!({
        "name": "drbook-arm-emulator",
        "portal": base,
        "resourceManager": base,
        "authentication": {
            "loginEndpoint": base,
            "audiences": [base],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "suffixes": {},
    }))
    .into_response()
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration` (Entra's).
pub(super) async fn openid_configuration(
    State(s): State<Arc<Shared>>,
    Path(tenant): Path<String>,
) -> Response {
    s.counters.request("GET", "openidConfiguration", None);
    entra::openid_configuration(&s.apps, &s.tenant, &tenant, &s.base_url)
}

/// `GET /subscriptions`: with a valid token of any tenant, the
/// subscriptions it sees: the emulator's, to a principal of its tenant
/// with a role; none to any other (what ARM lists to a principal without a
/// role assignment, or of another directory).
pub(super) async fn subscriptions(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    s.counters.request("GET", "subscriptions.list", None);
    let grant = match s.authenticate(&headers) {
        Ok(grant) => grant,
        Err(refused) => {
            s.counters.with(|c| c.unauthorized += 1);
            return auth::unauthorized(refused);
        }
    };
    if let Err(e) = api_version(&uri, SUBSCRIPTION_API_VERSIONS) {
        return e.into_response();
    }
    let sees =
        grant.tenant.eq_ignore_ascii_case(&s.tenant) && !s.without_role.contains(&grant.object_id);
    let subscription = &s.vault.subscription;
    let value: Vec<_> = sees
        .then(|| {
            json!({
                "id": format!("/subscriptions/{subscription}"),
                "authorizationSource": "RoleBased",
                "managedByTenants": [],
                "subscriptionId": subscription,
                "tenantId": s.tenant,
                "displayName": "drbook ARM emulator",
                "state": "Enabled",
                "subscriptionPolicies": {
                    "locationPlacementId": "Public_2014-09-01",
                    "quotaId": "PayAsYouGo_2014-09-01",
                    "spendingLimit": "Off",
                },
            })
        })
        .into_iter()
        .collect();
    Json(json!({
        "count": {"type": "Total", "value": value.len()},
        "value": value,
    }))
    .into_response()
}
