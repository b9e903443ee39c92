//! Signing in from a browser with an API token: `GET /ui/sign-in` is a
//! form, `POST /ui/sign-in` checks it and answers with the session cookie
//! (`access::SESSION_COOKIE`, which authenticates reads only).
//!
//! The form carries a CSRF token, checked against a cookie the form's page
//! set (a double submit): another site can make a browser post the form,
//! but cannot read or set the cookie, so it cannot send the matching
//! field, and cannot sign a browser in as someone else. Both cookies are
//! http-only and same-site strict, and `Secure` when the server is TLS.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::html;
use std::net::SocketAddr;

use super::page_of;
use crate::access::{authenticate_secret, cookie, SESSION_COOKIE};
use crate::auth::{hash_token, same_hash};
use crate::refusal::Refusal;
use crate::server::Server;

/// The cookie the sign-in form's CSRF token is checked against.
const CSRF_COOKIE: &str = "drbook_csrf";

/// A cookie as the console sets it.
fn set_cookie(server: &Server, name: &str, value: &str) -> HeaderValue {
    let secure = if server.tls() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path=/{secure}"
    ))
    .expect("cookie values are hex or token characters")
}

pub(crate) async fn sign_in_form(State(server): State<Server>) -> Response {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let csrf = hex::encode(bytes);
    let body = html! {
        h1 { "Sign in" }
        form method="post" action="/ui/sign-in" {
            input type="hidden" name="csrf" value=(csrf);
            label { "API token " input type="password" name="token" autocomplete="off" required; }
            button type="submit" { "Sign in" }
        }
        p { "A token is made with " code { "drbook token create" } "; its scopes are what you may do." }
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
    match authenticate_secret(store.as_ref(), &form.token, Utc::now()).await {
        Ok(_) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, HeaderValue::from_static("/ui/jobs")),
                (
                    header::SET_COOKIE,
                    set_cookie(&server, SESSION_COOKIE, form.token.trim()),
                ),
            ],
        )
            .into_response(),
        Err(refusal) => server.refuse(source, what, refusal),
    }
}
