//! The API's OpenAPI 3.1 document, served at `GET /api/openapi.json`.
//!
//! Each handler's `#[utoipa::path]` describes its path, parameters, body
//! and answers, next to its code; the types it answers with derive their
//! schemas. What each operation needs is not written twice: [`Scopes`]
//! copies it from the route table (`api::routes`), as the bearer scheme
//! `token` with the scope as its role, and adds the 401 and 403 answers
//! every guarded route may give. `tests/routes.rs` checks that the document
//! and the router hold the same routes.

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::api::{self, Need};
use super::events;
use super::server;

/// The name of the bearer scheme in the document.
const SCHEME: &str = "token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "drbook",
        description = "drbook serve: webhooks in; jobs, their streams, approvals, stops, the audit trail, \
                       the fabric, webhooks and API tokens. Every route but the webhook endpoint and /healthz \
                       needs an API token (`Authorization: Bearer drbk_...`, `drbook token create`) \
                       holding the role its security names (admin holds every role)."
    ),
    paths(
        server::webhook,
        server::healthz,
        server::metrics,
        openapi,
        api::jobs,
        api::job,
        api::streams,
        events::events,
        api::decide,
        api::stop,
        api::rerun,
        api::approvals,
        api::audit,
        api::fabric_items,
        api::webhooks,
        api::alerts,
        api::webhook_enabled,
        api::tokens,
        api::create_token,
        api::revoke_token,
    ),
    modifiers(&Scopes)
)]
struct ApiDoc;

/// Sets each operation's security and refusals from the route table.
struct Scopes;

impl Modify for Scopes {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SCHEME,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        for route in api::routes() {
            let Need::Scope(scope) = route.need else {
                continue;
            };
            let Some(operation) = operation(document, &route.method, route.path) else {
                // Not documented: the test of the document names it.
                continue;
            };
            operation.security = Some(vec![SecurityRequirement::new(SCHEME, [scope.name()])]);
            let responses = &mut operation.responses.responses;
            for (status, why) in [
                ("401", "No API token, or one unknown, expired or revoked"),
                ("403", "The token does not hold the role this needs"),
            ] {
                responses.insert(
                    status.to_string(),
                    ResponseBuilder::new().description(why).build().into(),
                );
            }
        }
    }
}

/// The operation of `document` at `method` `path`, if it has one.
fn operation<'a>(
    document: &'a mut Document,
    method: &Method,
    path: &str,
) -> Option<&'a mut Operation> {
    let item = document.paths.paths.get_mut(path)?;
    match *method {
        Method::GET => item.get.as_mut(),
        Method::POST => item.post.as_mut(),
        Method::PUT => item.put.as_mut(),
        Method::DELETE => item.delete.as_mut(),
        Method::PATCH => item.patch.as_mut(),
        _ => None,
    }
}

/// The document, built once.
pub fn document() -> &'static Document {
    static DOCUMENT: LazyLock<Document> = LazyLock::new(ApiDoc::openapi);
    &DOCUMENT
}

#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "This document", body = Object)))]
pub(crate) async fn openapi() -> Response {
    axum::Json(document()).into_response()
}
