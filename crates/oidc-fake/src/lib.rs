//! An OpenID Connect provider for tests: a real HTTP server on
//! `127.0.0.1:0` that plays Entra ID's part in a sign-in, for one client and
//! one user the test chooses, and can be told to misbehave.
//!
//! It serves:
//! - `GET /.well-known/openid-configuration`: discovery, naming the three
//!   endpoints below, `RS256` and PKCE `S256`.
//! - `GET /authorize`: approves at once (no login page, so a test's HTTP
//!   client or a browser just follows the redirect) and sends the browser
//!   back to `redirect_uri` with `code` and `state`. It requires
//!   `response_type=code`, the client's id, a `scope` with `openid` and a
//!   PKCE `code_challenge` with `code_challenge_method=S256`; a request that
//!   lacks one is sent back with `error` and `error_description` (or
//!   answered 400 when the client or the redirect is what is wrong, as real
//!   providers do).
//! - `POST /token`: the `authorization_code` grant. The client authenticates
//!   with its secret (form fields or HTTP Basic), the code is single-use and
//!   bound to its `redirect_uri`, and `code_verifier` must hash (SHA-256,
//!   base64url) to the challenge. Answers an access token and an RS256 ID
//!   token with `iss`, `sub`, `aud`, `iat`, `exp` (5 minutes), `nonce` (the
//!   one `/authorize` was given), `email`, `preferred_username`, `name` and
//!   `groups`. Refusals are OAuth's JSON `error` / `error_description`.
//! - `GET /jwks`: the public keys, `kty: RSA` with `kid`, `n`, `e`.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use drbook_oidc_fake::{Fault, Provider, User};
//! let provider = Provider::start("drbook", "s3cret").await?;
//! provider.set_user(User::new("alice-sub").email("alice@example.com").groups(["dr-approvers"]));
//! let issuer = provider.issuer(); // http://127.0.0.1:<port>
//! provider.fail_with(Some(Fault::Expired)); // the next ID token is expired
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair, RSA_PKCS1_SHA256};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// How long an ID token the provider issues is valid.
pub const TOKEN_LIFETIME_SECS: u64 = 300;

/// The person the provider signs in: every `/authorize` approves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub sub: String,
    pub email: Option<String>,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

impl User {
    /// A user known by `sub` only, in no group.
    pub fn new(sub: &str) -> User {
        User {
            sub: sub.to_string(),
            email: None,
            preferred_username: None,
            name: None,
            groups: Vec::new(),
        }
    }

    pub fn email(mut self, email: &str) -> User {
        self.email = Some(email.to_string());
        self
    }

    pub fn preferred_username(mut self, name: &str) -> User {
        self.preferred_username = Some(name.to_string());
        self
    }

    pub fn name(mut self, name: &str) -> User {
        self.name = Some(name.to_string());
        self
    }

    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> User {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }
}

/// A way the next ID tokens are wrong, for a client's checks to catch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `iss` names another provider.
    WrongIssuer,
    /// `aud` names another client.
    WrongAudience,
    /// Issued an hour ago, expired half an hour ago.
    Expired,
    /// Signed by a key that is not the published one (under its `kid`).
    BadSignature,
    /// `nonce` is not the one `/authorize` was given.
    WrongNonce,
    /// No `nonce` claim at all.
    NoNonce,
}

/// A running provider; the server stops when it is dropped.
pub struct Provider {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    client_id: String,
    client_secret: String,
    state: Mutex<Mutable>,
    jwks_fetches: AtomicUsize,
    tokens_issued: AtomicUsize,
    issuer: String,
}

struct Mutable {
    user: User,
    fault: Option<Fault>,
    /// Published keys, the current (signing) one last.
    keys: Vec<Key>,
    /// Codes not yet redeemed.
    codes: HashMap<String, Grant>,
}

struct Key {
    kid: String,
    pair: RsaKeyPair,
}

impl Key {
    fn generate(kid: String) -> Key {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("an RSA key is generated");
        Key { kid, pair }
    }

    fn jwk(&self) -> Value {
        let public = self.pair.public_key();
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// A compact JWS of `claims`, RS256 under this key (or, with `kid`,
    /// claiming to be another key).
    fn sign(&self, kid: &str, claims: &Value) -> String {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .expect("RS256 signs");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// What a code stands for until it is redeemed.
struct Grant {
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
}

impl Provider {
    /// Starts a provider for the confidential client `client_id` with
    /// `client_secret`, signing in `User::new("user")` until told otherwise.
    pub async fn start(client_id: &str, client_secret: &str) -> std::io::Result<Provider> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            state: Mutex::new(Mutable {
                user: User::new("user"),
                fault: None,
                keys: vec![Key::generate("key-1".to_string())],
                codes: HashMap::new(),
            }),
            jwks_fetches: AtomicUsize::new(0),
            tokens_issued: AtomicUsize::new(0),
            issuer: format!("http://{addr}"),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/jwks", get(jwks))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Provider { shared, addr, task })
    }

    /// The issuer, `http://127.0.0.1:<port>` (no trailing slash): what a
    /// client is configured with and what ID tokens carry as `iss`.
    pub fn issuer(&self) -> String {
        self.shared.issuer()
    }

    /// The address the provider listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Who the next sign-ins are.
    pub fn set_user(&self, user: User) {
        self.shared.lock().user = user;
    }

    /// Makes the ID tokens issued from now on wrong in one way, or right
    /// again with `None`.
    pub fn fail_with(&self, fault: Option<Fault>) {
        self.shared.lock().fault = fault;
    }

    /// Publishes a new key (the old ones stay published) and signs with it
    /// from now on: a client that cached the JWKS meets an unknown `kid`.
    pub fn rotate_key(&self) {
        let mut state = self.shared.lock();
        let kid = format!("key-{}", state.keys.len() + 1);
        state.keys.push(Key::generate(kid));
    }

    /// How many times `/jwks` was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many ID tokens `/token` issued.
    pub fn tokens_issued(&self) -> usize {
        self.shared.tokens_issued.load(Ordering::SeqCst)
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Mutable> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn issuer(&self) -> String {
        self.issuer.clone()
    }
}

fn random() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let issuer = shared.issuer();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "scopes_supported": ["openid", "profile", "email"],
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = shared.lock().keys.iter().map(Key::jwk).collect();
    Json(json!({ "keys": keys }))
}

fn bad_request(why: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response()
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != shared.client_id {
        return bad_request("unknown client_id");
    }
    let Ok(mut back) = url::Url::parse(field("redirect_uri")) else {
        return bad_request("redirect_uri is not an absolute URL");
    };
    let refusal = if field("response_type") != "code" {
        Some("response_type must be code")
    } else if !field("scope").split(' ').any(|s| s == "openid") {
        Some("scope must include openid")
    } else if field("code_challenge_method") != "S256" || field("code_challenge").is_empty() {
        Some("PKCE is required: code_challenge with code_challenge_method=S256")
    } else {
        None
    };
    {
        let mut pairs = back.query_pairs_mut();
        match refusal {
            Some(why) => {
                pairs.append_pair("error", "invalid_request");
                pairs.append_pair("error_description", why);
            }
            None => {
                let code = random();
                shared.lock().codes.insert(
                    code.clone(),
                    Grant {
                        redirect_uri: field("redirect_uri").to_string(),
                        challenge: field("code_challenge").to_string(),
                        nonce: query.get("nonce").cloned(),
                    },
                );
                pairs.append_pair("code", &code);
            }
        }
        if let Some(state) = query.get("state") {
            pairs.append_pair("state", state);
        }
    }
    Redirect::to(back.as_str()).into_response()
}

/// An OAuth error answer of `/token`.
fn grant_error(status: StatusCode, error: &str, why: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": why })),
    )
        .into_response()
}

/// The client's id and secret as sent: HTTP Basic, or the form's fields.
fn client_of(headers: &HeaderMap, form: &HashMap<String, String>) -> (String, String) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| {
            let (id, secret) = v.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    basic.unwrap_or_else(|| {
        let field = |name: &str| form.get(name).cloned().unwrap_or_default();
        (field("client_id"), field("client_secret"))
    })
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<HashMap<String, String>>(&body) else {
        return grant_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the form cannot be read",
        );
    };
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let (id, secret) = client_of(&headers, &form);
    if id != shared.client_id || secret != shared.client_secret {
        return grant_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    if field("grant_type") != "authorization_code" {
        return grant_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code",
        );
    }
    let mut state = shared.lock();
    // Taken out whatever follows: a code is good for one try.
    let Some(grant) = state.codes.remove(field("code")) else {
        return grant_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or already used code",
        );
    };
    if grant.redirect_uri != field("redirect_uri") {
        return grant_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
        );
    }
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if field("code_verifier").is_empty() || challenge != grant.challenge {
        return grant_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        );
    }
    let id_token = id_token(&shared, &state, grant.nonce);
    drop(state);
    shared.tokens_issued.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "access_token": random(),
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
        "scope": "openid profile email",
        "id_token": id_token,
    }))
    .into_response()
}

/// The ID token of the current user, with the current fault.
fn id_token(shared: &Shared, state: &Mutable, nonce: Option<String>) -> String {
    let fault = state.fault;
    let user = &state.user;
    let issued = match fault {
        Some(Fault::Expired) => now() - 3600,
        _ => now(),
    };
    let mut claims = json!({
        "iss": match fault {
            Some(Fault::WrongIssuer) => "https://elsewhere.invalid/v2.0".to_string(),
            _ => shared.issuer(),
        },
        "aud": match fault {
            Some(Fault::WrongAudience) => "another-client".to_string(),
            _ => shared.client_id.clone(),
        },
        "sub": user.sub,
        "iat": issued,
        "nbf": issued,
        "exp": issued + TOKEN_LIFETIME_SECS,
        "groups": user.groups,
    });
    let extra = [
        ("email", &user.email),
        ("preferred_username", &user.preferred_username),
        ("name", &user.name),
    ];
    for (claim, value) in extra {
        if let Some(value) = value {
            claims[claim] = json!(value);
        }
    }
    match (fault, nonce) {
        (Some(Fault::NoNonce), _) | (_, None) => {}
        (Some(Fault::WrongNonce), Some(_)) => claims["nonce"] = json!("not-the-nonce-sent"),
        (_, Some(nonce)) => claims["nonce"] = json!(nonce),
    }
    let current = state.keys.last().expect("a provider has a key");
    if fault == Some(Fault::BadSignature) {
        Key::generate(String::new()).sign(&current.kid, &claims)
    } else {
        current.sign(&current.kid, &claims)
    }
}
