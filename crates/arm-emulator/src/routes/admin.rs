//! The routers, the token endpoints (managed identity's, Entra ID's), and
//! the admin routes (counters, faults, the simulator's faults, revoking
//! tokens), guarded by the identity header's secret.

use super::cloud;
use super::handlers::arm;
use super::shared::Shared;
use crate::config::{HttpFaults, SimFault};
use crate::error::ArmError;
use crate::{auth, entra};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::collections::HashMap;
use std::sync::Arc;

/// The HTTPS router: the token endpoints (managed identity's, Entra ID's),
/// what a client reads before the vault (`cloud`), the admin routes, and
/// everything else as ARM.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    admin_routes()
        .route("/msi/token", get(token))
        .route("/{tenant}/oauth2/v2.0/token", post(entra_token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(cloud::openid_configuration),
        )
        .route("/metadata/endpoints", get(cloud::metadata))
        // `az cloud register --endpoint-resource-manager https://host/`
        // appends `/metadata/...` to the endpoint as written.
        .route("//metadata/endpoints", get(cloud::metadata))
        .route("/subscriptions", get(cloud::subscriptions))
        .fallback(arm)
        .with_state(shared)
}

/// The plain-HTTP router of the token endpoint (and the admin routes).
pub(crate) fn identity_router(shared: Arc<Shared>) -> Router {
    admin_routes()
        .route("/msi/token", get(token))
        .with_state(shared)
}

pub(super) fn admin_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/admin/counters", get(admin_counters))
        .route("/admin/counters/reset", post(admin_reset_counters))
        .route("/admin/faults", get(admin_faults).put(admin_set_faults))
        .route("/admin/sim-fault", post(admin_sim_fault))
        .route("/admin/tokens/revoke", post(admin_revoke))
}

pub(super) async fn token(
    State(s): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    s.counters.request("GET", "token", None);
    let (response, issued) =
        auth::token_response(&s.tokens, s.managed_identity(), &query, &headers);
    if issued {
        s.counters.with(|c| c.token_fetches += 1);
    }
    response
}

/// Entra ID's v2 token endpoint (`entra`); a body that is no form is read
/// as an empty one, which Entra refuses for its missing parameters.
pub(super) async fn entra_token(
    State(s): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    s.counters.request("POST", "token", None);
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let (response, issued) = entra::token_response(&s.tokens, &s.apps, &s.tenant, &tenant, &form);
    if issued {
        s.counters.with(|c| c.token_fetches += 1);
    }
    response
}

pub(super) fn admin_guard(s: &Shared, headers: &HeaderMap) -> Result<(), ArmError> {
    let ok = headers
        .get(auth::IDENTITY_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == s.tokens.secret);
    if ok {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::UNAUTHORIZED,
            "AdminUnauthorized",
            format!(
                "admin routes need the {} header (IDENTITY_HEADER's value)",
                auth::IDENTITY_HEADER
            ),
        ))
    }
}

pub(super) async fn admin_counters(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_guard(&s, &headers) {
        return r.into_response();
    }
    Json(s.counters.snapshot()).into_response()
}

pub(super) async fn admin_reset_counters(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admin_guard(&s, &headers) {
        return r.into_response();
    }
    s.counters.reset();
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn admin_faults(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_guard(&s, &headers) {
        return r.into_response();
    }
    Json(s.faults()).into_response()
}

pub(super) async fn admin_set_faults(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admin_guard(&s, &headers) {
        return r.into_response();
    }
    match serde_json::from_slice::<HttpFaults>(&body) {
        Ok(faults) => {
            s.set_faults(faults.clone());
            Json(faults).into_response()
        }
        Err(e) => ArmError::bad_request("InvalidFaults", format!("not a faults document: {e}"))
            .into_response(),
    }
}

pub(super) async fn admin_sim_fault(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admin_guard(&s, &headers) {
        return r.into_response();
    }
    let fault = match serde_json::from_slice::<SimFault>(&body) {
        Ok(fault) => fault,
        Err(e) => {
            return ArmError::bad_request("InvalidFault", format!("not a simulator fault: {e}"))
                .into_response()
        }
    };
    match s.sim.set_fault(fault.into()) {
        Ok(()) => match s.sim.faults() {
            Ok(faults) => Json(faults).into_response(),
            Err(e) => ArmError::from(e).into_response(),
        },
        Err(e) => ArmError::from(e).into_response(),
    }
}

pub(super) async fn admin_revoke(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_guard(&s, &headers) {
        return r.into_response();
    }
    s.tokens.revoke_all();
    StatusCode::NO_CONTENT.into_response()
}
