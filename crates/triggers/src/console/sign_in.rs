//! Signing in from a browser, and out. `GET /ui/sign-in` is a page with a
//! token form and, when `[oidc]` is configured, a link that signs in with
//! the provider (`GET /ui/sign-in/oidc`, back at `GET /ui/callback`; see
//! `oidc`). Either way the server makes a session (`access::start_session`)
//! and the browser gets only its id in the session cookie
//! (`access::SESSION_COOKIE`, which authenticates reads, and changes with
//! the session's CSRF token). `POST /ui/sign-out` ends the session in the
//! store, so a copied cookie is refused from then on too.
//!
//! The token form carries a CSRF token, checked against a cookie the form's
//! page set (a double submit): another site can make a browser post the
//! form, but cannot read or set the cookie, so it cannot send the matching
//! field, and cannot sign a browser in as someone else. The provider's
//! callback is checked by its `state` against the flow cookie, for the same
//! reason. Cookies are http-only, same-site strict (the flow cookie lax: the
//! provider's redirect is a navigation from another site) and `Secure` when
//! the server is TLS.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::html;
use std::collections::HashMap;
use std::net::SocketAddr;

use super::{page_of, page_with};
use crate::access::{
    authenticate_token, cookie, csrf_token, end_session, start_session, Principal, SESSION_COOKIE,
};
use crate::auth::{hash_token, same_hash};
use crate::oidc::{OidcError, FLOW_SECS};
use crate::refusal::Refusal;
use crate::server::Server;
use drbook_core::token::SignedInWith;

/// The cookie the sign-in form's CSRF token is checked against.
const CSRF_COOKIE: &str = "drbook_csrf";

/// The cookie a sign-in with the provider keeps its flow in until the
/// callback (`oidc::Oidc::seal`).
const FLOW_COOKIE: &str = "drbook_oidc";

/// A cookie as the console sets it.
fn set_cookie(server: &Server, name: &str, value: &str) -> HeaderValue {
    let secure = if server.tls() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path=/{secure}"
    ))
    .expect("cookie values are hex or token characters")
}

/// A cookie deleted.
fn clear_cookie(name: &str, path: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{name}=; Max-Age=0; Path={path}"))
        .expect("cookie names are token characters")
}

pub(crate) async fn sign_in_form(State(server): State<Server>, headers: HeaderMap) -> Response {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let csrf = hex::encode(bytes);
    let session = cookie(&headers, SESSION_COOKIE);
    let body = html! {
        h1 { "Sign in" }
        @if let Some(oidc) = server.oidc() {
            p.oidc { a href="/ui/sign-in/oidc" { "Sign in with " (oidc.issuer()) } }
        }
        form method="post" action="/ui/sign-in" {
            input type="hidden" name="csrf" value=(csrf);
            label { "API token " input type="password" name="token" autocomplete="off" required; }
            button type="submit" { "Sign in" }
        }
        p { "A token is made with " code { "drbook token create" } "; its scopes are what you may do." }
        @if let Some(session) = session {
            form method="post" action=(format!("/ui/sign-out?csrf={}", csrf_token(session))) {
                button type="submit" { "Sign out" }
            }
        }
    };
    let mut response = page_of("Sign in", None, body);
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&server, CSRF_COOKIE, &csrf));
    response
}

/// The sign-in form as posted.
#[derive(serde::Deserialize)]
struct Form {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

pub(crate) async fn sign_in(
    State(server): State<Server>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (source, what) = (peer.ip(), "POST /ui/sign-in");
    if let Some(throttled) = server.throttled(source, what) {
        return throttled;
    }
    let Ok(form) = serde_urlencoded::from_bytes::<Form>(&body) else {
        let refusal = Refusal::Malformed("the sign-in form cannot be read".to_string());
        return server.refuse(source, what, refusal);
    };
    let expected = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    let matches = same_hash(&hash_token(expected), &hash_token(&form.csrf));
    if expected.is_empty() || !matches {
        return server.refuse(source, what, Refusal::Csrf);
    }
    let store = server.store();
    let token = match authenticate_token(store.as_ref(), &form.token, Utc::now()).await {
        Ok(token) => token,
        Err(refusal) => return server.refuse(source, what, refusal),
    };
    let principal = Principal {
        name: token.name.clone(),
        scopes: token.scopes.clone(),
    };
    let via = SignedInWith::Token { name: token.name };
    match start_session(store.as_ref(), &principal, via, Some(token.expires)).await {
        Ok(id) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, HeaderValue::from_static("/ui/jobs")),
                (header::SET_COOKIE, set_cookie(&server, SESSION_COOKIE, &id)),
            ],
        )
            .into_response(),
        Err(e) => server.refuse(source, what, Refusal::Store(e.to_string())),
    }
}

/// `GET /ui/sign-in/oidc`: to the provider, the flow in its cookie.
pub(crate) async fn sign_in_oidc(
    State(server): State<Server>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    let (source, what) = (peer.ip(), "GET /ui/sign-in/oidc");
    if let Some(throttled) = server.throttled(source, what) {
        return throttled;
    }
    let Some(oidc) = server.oidc() else {
        let why = "this server signs in with API tokens only: configure [oidc] in drbook.toml";
        return Refusal::NotFound(why.to_string()).into_response();
    };
    let (flow, url) = match oidc.start(Utc::now().timestamp()).await {
        Ok(started) => started,
        Err(e) => return server.refuse(source, what, Refusal::SignIn(e.to_string())),
    };
    let secure = if server.tls() { "; Secure" } else { "" };
    let flow_cookie = format!(
        "{FLOW_COOKIE}={}; HttpOnly; SameSite=Lax; Path=/ui/callback; Max-Age={FLOW_SECS}{secure}",
        oidc.seal(&flow)
    );
    let (Ok(location), Ok(flow_cookie)) = (
        HeaderValue::from_str(&url),
        HeaderValue::from_str(&flow_cookie),
    ) else {
        let why = "the provider's authorization endpoint is not a valid URL".to_string();
        return server.refuse(source, what, Refusal::SignIn(why));
    };
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::SET_COOKIE, flow_cookie),
        ],
    )
        .into_response()
}

/// `GET /ui/callback`: the provider sends the browser back here.
pub(crate) async fn callback(
    State(server): State<Server>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (source, what) = (peer.ip(), "GET /ui/callback");
    if let Some(throttled) = server.throttled(source, what) {
        return throttled;
    }
    let Some(oidc) = server.oidc() else {
        let why = "this server signs in with API tokens only: configure [oidc] in drbook.toml";
        return Refusal::NotFound(why.to_string()).into_response();
    };
    let now = Utc::now().timestamp();
    let refused = |e: OidcError| {
        let mut response = server.refuse(source, what, Refusal::SignIn(e.to_string()));
        response.headers_mut().insert(
            header::SET_COOKIE,
            clear_cookie(FLOW_COOKIE, "/ui/callback"),
        );
        response
    };
    let flow = match cookie(&headers, FLOW_COOKIE).map(|sealed| oidc.open(sealed, now)) {
        Some(Ok(flow)) => flow,
        Some(Err(e)) => return refused(e),
        None => return refused(OidcError::NoFlow),
    };
    let given = query.get("state").map(String::as_str).unwrap_or_default();
    if !same_hash(&hash_token(given), &hash_token(&flow.state)) {
        return refused(OidcError::State);
    }
    if let Some(error) = query.get("error") {
        let description = query.get("error_description").cloned().unwrap_or_default();
        return refused(OidcError::Refused {
            error: error.clone(),
            description,
        });
    }
    let Some(code) = query.get("code") else {
        return refused(OidcError::NoCode);
    };
    let person = match oidc.finish(&flow, code, now).await {
        Ok(person) => person,
        Err(e) => return refused(e),
    };
    let principal = Principal {
        name: person.name,
        scopes: person.scopes,
    };
    let via = SignedInWith::Oidc {
        subject: person.subject,
    };
    let store = server.store();
    let id = match start_session(store.as_ref(), &principal, via, None).await {
        Ok(id) => id,
        Err(e) => return server.refuse(source, what, Refusal::Store(e.to_string())),
    };
    // A page, not a redirect: after the provider's cross-site redirect a
    // browser would not send the same-site-strict cookie to the next page
    // of the same chain; a refresh from this page is same-site.
    let body = html! {
        h1 { "Signed in" }
        p { "Signed in as " strong.principal { (principal.name) } " (" (crate::access::scope_list(&principal.scopes)) "). "
            a href="/ui/jobs" { "On to the jobs" } }
    };
    let refresh = html! { meta http-equiv="refresh" content="0; url=/ui/jobs"; };
    let mut response = page_with("Signed in", Some(&principal), refresh, body);
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(&server, SESSION_COOKIE, &id));
    headers.append(
        header::SET_COOKIE,
        clear_cookie(FLOW_COOKIE, "/ui/callback"),
    );
    response
}

/// `POST /ui/sign-out?csrf=...`: ends the session in the store (even one
/// expired: the browser's cookie is cleared either way).
pub(crate) async fn sign_out(
    State(server): State<Server>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (source, what) = (peer.ip(), "POST /ui/sign-out");
    if let Some(throttled) = server.throttled(source, what) {
        return throttled;
    }
    // Without a session there is nothing to end.
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        let given = query.get("csrf").map(String::as_str).unwrap_or_default();
        if !same_hash(&hash_token(given), &hash_token(&csrf_token(id))) {
            return server.refuse(source, what, Refusal::Csrf);
        }
        if let Err(e) = end_session(server.store().as_ref(), id).await {
            return server.refuse(source, what, Refusal::Store(e.to_string()));
        }
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, HeaderValue::from_static("/ui/sign-in")),
            (header::SET_COOKIE, clear_cookie(SESSION_COOKIE, "/")),
        ],
    )
        .into_response()
}
