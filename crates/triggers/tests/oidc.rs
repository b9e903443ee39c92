//! Signing in through OpenID Connect over real HTTP: a real server, the
//! fake provider (drbook-oidc-fake) as the issuer, a browser played by an
//! HTTP client that follows no redirect by itself. A sign-in makes a
//! session whose scopes come from the person's groups; every way the
//! callback or the ID token can be wrong is refused with its reason and
//! makes no session; signing out ends the session, and an expired one is
//! refused.

mod common;

use chrono::{TimeDelta, Utc};
use common::Served;
use drbook_core::store::JobStore;
use drbook_core::token::{Scope, SignedInWith, StoredSession};
use drbook_oidc_fake::{Fault, Provider, User};
use drbook_triggers::{hash_secret, Oidc, OidcConfig, RoleMapping, ServeOptions};
use std::sync::Arc;

const CLIENT: &str = "drbook-console";
const SECRET: &str = "client-s3cret";

/// A server signing in with `provider`.
struct Setup {
    served: Served,
    store: Arc<dyn JobStore>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn roles() -> Vec<RoleMapping> {
    vec![
        RoleMapping {
            claim: "groups".to_string(),
            value: "dr-approvers".to_string(),
            scopes: vec![Scope::Viewer, Scope::Approver],
        },
        RoleMapping {
            claim: "groups".to_string(),
            value: "dr-operators".to_string(),
            scopes: vec![Scope::Operator],
        },
    ]
}

async fn setup(provider: &Provider) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim) = common::store(dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let oidc = Oidc::new(OidcConfig {
        issuer: provider.issuer(),
        client_id: CLIENT.to_string(),
        client_secret: SECRET.to_string(),
        redirect_url: format!("{base}/ui/callback"),
        ca_pem: None,
        roles: roles(),
    })
    .unwrap();
    let options = ServeOptions {
        oidc: Some(Arc::new(oidc)),
        ..ServeOptions::default()
    };
    let served = Served::start_on(listener, store.clone(), sim, options).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Setup {
        served,
        store,
        http,
        _dir: dir,
    }
}

/// The value of cookie `name` a response sets, if it does.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn value(cookie: &str) -> &str {
    let pair = cookie.split(';').next().unwrap();
    &pair[pair.find('=').unwrap() + 1..]
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// A sign-in started and approved by the provider, up to the callback the
/// browser is sent back to, with the flow cookie it holds.
struct Returned {
    callback: String,
    flow_cookie: String,
}

impl Setup {
    async fn start(&self) -> Returned {
        let started = self
            .http
            .get(format!("{}/ui/sign-in/oidc", self.served.base))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 303);
        let flow = set_cookie(&started, "drbook_oidc").expect("the flow cookie");
        assert!(
            flow.contains("HttpOnly")
                && flow.contains("SameSite=Lax")
                && flow.contains("Path=/ui/callback"),
            "{flow}"
        );
        let authorize = location(&started);
        assert!(
            authorize.contains("code_challenge_method=S256"),
            "{authorize}"
        );
        let approved = self.http.get(&authorize).send().await.unwrap();
        assert_eq!(approved.status(), 303, "{:?}", approved.text().await);
        let callback = location(&approved);
        assert!(
            callback.starts_with(&format!("{}/ui/callback?", self.served.base)),
            "{callback}"
        );
        Returned {
            callback,
            flow_cookie: format!("drbook_oidc={}", value(&flow)),
        }
    }

    async fn back(&self, url: &str, cookie: &str) -> reqwest::Response {
        self.http
            .get(url)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    }

    /// Signs in all the way: the session cookie to send.
    async fn signed_in(&self) -> String {
        let returned = self.start().await;
        let done = self.back(&returned.callback, &returned.flow_cookie).await;
        assert_eq!(done.status(), 200, "{:?}", done.text().await);
        let session = set_cookie(&done, "drbook_session").expect("a session cookie");
        format!("drbook_session={}", value(&session))
    }

    /// The session of a cookie, as the store holds it.
    async fn session(&self, cookie: &str) -> Option<StoredSession> {
        let id = cookie.strip_prefix("drbook_session=").unwrap();
        self.store.session_by_hash(&hash_secret(id)).await.unwrap()
    }

    /// How many sessions the store holds (ending them all: call it last).
    async fn sessions_made(&self) -> usize {
        let later = Utc::now() + TimeDelta::days(2);
        self.store.prune_sessions(later).await.unwrap()
    }

    async fn get(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.served.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_and_their_session_holds_the_scopes_their_groups_map_to() {
    let provider = Provider::start(CLIENT, SECRET).await.unwrap();
    provider.set_user(
        User::new("alice-sub")
            .email("alice@example.com")
            .groups(["staff", "dr-approvers"]),
    );
    let setup = setup(&provider).await;

    let page = setup.get("/ui/sign-in", "").await.text().await.unwrap();
    assert!(
        page.contains(&format!(
            "href=\"/ui/sign-in/oidc\">Sign in with {}",
            provider.issuer()
        )),
        "{page}"
    );
    let returned = setup.start().await;
    let done = setup.back(&returned.callback, &returned.flow_cookie).await;
    assert_eq!(done.status(), 200);
    let session_cookie = set_cookie(&done, "drbook_session").expect("a session cookie");
    assert!(
        session_cookie.contains("HttpOnly")
            && session_cookie.contains("SameSite=Strict")
            && session_cookie.contains("Path=/"),
        "{session_cookie}"
    );
    assert!(
        set_cookie(&done, "drbook_oidc").is_some_and(|c| c.contains("Max-Age=0")),
        "the flow cookie is cleared"
    );
    let page = done.text().await.unwrap();
    assert!(page.contains("alice@example.com"), "{page}");
    assert!(page.contains("url=/ui/jobs"), "{page}");
    let cookie = format!("drbook_session={}", value(&session_cookie));
    assert!(value(&session_cookie).starts_with("drbs_"));

    let session = setup.session(&cookie).await.expect("the session is stored");
    assert_eq!(session.principal, "alice@example.com");
    assert_eq!(session.scopes, [Scope::Viewer, Scope::Approver]);
    assert_eq!(
        session.via,
        SignedInWith::Oidc {
            subject: "alice-sub".to_string()
        }
    );
    let lifetime = session.expires - session.created;
    assert_eq!(lifetime, TimeDelta::hours(12));

    assert_eq!(setup.get("/ui/jobs", &cookie).await.status(), 200);
    assert_eq!(setup.get("/api/v1/approvals", &cookie).await.status(), 200);

    // Someone the roles give nothing is refused, with no session.
    provider.set_user(User::new("mallory-sub").groups(["staff"]));
    let returned = setup.start().await;
    let refused = setup.back(&returned.callback, &returned.flow_cookie).await;
    assert_eq!(refused.status(), 401);
    assert!(set_cookie(&refused, "drbook_session").is_none());
    let message = refused.text().await.unwrap();
    assert!(
        message.contains("no [[oidc.roles]] mapping matches"),
        "{message}"
    );
    assert_eq!(setup.sessions_made().await, 1);
    setup.served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_without_its_flow_with_another_state_or_a_used_code_makes_no_session() {
    let provider = Provider::start(CLIENT, SECRET).await.unwrap();
    provider.set_user(User::new("alice-sub").groups(["dr-approvers"]));
    let setup = setup(&provider).await;

    let returned = setup.start().await;
    let refused = setup.back(&returned.callback, "").await;
    assert_eq!(refused.status(), 401);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("no sign-in is under way in this browser"));

    // Another state: the callback of a sign-in this browser did not start
    // (an attacker's, to sign the victim in as the attacker).
    let url = url::Url::parse(&returned.callback).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let forged = format!(
        "{}/ui/callback?code={code}&state=another",
        setup.served.base
    );
    let refused = setup.back(&forged, &returned.flow_cookie).await;
    assert_eq!(refused.status(), 401);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("the state sent back does not match"));
    // An altered flow cookie is no flow.
    let tampered = returned.flow_cookie.replacen('.', "x.", 1);
    let refused = setup.back(&returned.callback, &tampered).await;
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("no sign-in is under way"));

    // The code once, then again: the provider refuses it the second time.
    let done = setup.back(&returned.callback, &returned.flow_cookie).await;
    assert_eq!(done.status(), 200);
    let replayed = setup.back(&returned.callback, &returned.flow_cookie).await;
    assert_eq!(replayed.status(), 401);
    assert!(set_cookie(&replayed, "drbook_session").is_none());
    let message = replayed.text().await.unwrap();
    assert!(
        message.contains("the provider refused the code") && message.contains("invalid_grant"),
        "{message}"
    );
    // The provider says no: the person declined, say.
    let declined = format!(
        "{}/ui/callback?error=access_denied&error_description=declined&state={}",
        setup.served.base,
        url.query_pairs().find(|(k, _)| k == "state").unwrap().1
    );
    let refused = setup.back(&declined, &returned.flow_cookie).await;
    assert_eq!(refused.status(), 401);
    assert!(refused.text().await.unwrap().contains("access_denied"));

    assert_eq!(setup.sessions_made().await, 1, "only the one sign-in");
    setup.served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_tokens_the_provider_got_wrong_are_refused_each_with_its_reason() {
    let provider = Provider::start(CLIENT, SECRET).await.unwrap();
    provider.set_user(User::new("alice-sub").groups(["dr-approvers"]));
    let setup = setup(&provider).await;
    let cases = [
        (Fault::WrongIssuer, "not by the configured issuer"),
        (Fault::WrongAudience, "not this server's client_id"),
        (Fault::Expired, "the ID token expired at"),
        (Fault::BadSignature, "signature does not verify"),
        (Fault::NoNonce, "carries no nonce"),
        (Fault::WrongNonce, "nonce is not the one this sign-in sent"),
    ];
    for (fault, reason) in cases {
        provider.fail_with(Some(fault));
        let returned = setup.start().await;
        let refused = setup.back(&returned.callback, &returned.flow_cookie).await;
        assert_eq!(refused.status(), 401, "{fault:?}");
        assert!(
            set_cookie(&refused, "drbook_session").is_none(),
            "{fault:?}"
        );
        let message = refused.text().await.unwrap();
        assert!(message.contains(reason), "{fault:?}: {message}");
    }
    assert_eq!(provider.tokens_issued(), cases.len());
    assert_eq!(setup.sessions_made().await, 0);
    let log = setup.served.log.lock().unwrap().join("\n");
    assert!(log.contains("sign_in_refused"), "{log}");
    setup.served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_providers_keys_are_fetched_once_and_again_for_a_key_they_do_not_hold() {
    let provider = Provider::start(CLIENT, SECRET).await.unwrap();
    provider.set_user(User::new("alice-sub").groups(["dr-operators"]));
    let setup = setup(&provider).await;
    setup.signed_in().await;
    setup.signed_in().await;
    assert_eq!(provider.jwks_fetches(), 1, "the keys are cached");
    provider.rotate_key();
    let cookie = setup.signed_in().await;
    assert_eq!(provider.jwks_fetches(), 2, "fetched again for the new kid");
    let session = setup.session(&cookie).await.unwrap();
    assert_eq!(session.scopes, [Scope::Operator]);
    setup.served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_session_and_an_expired_session_is_refused() {
    let provider = Provider::start(CLIENT, SECRET).await.unwrap();
    provider.set_user(
        User::new("alice-sub")
            .preferred_username("alice")
            .groups(["dr-approvers"]),
    );
    let setup = setup(&provider).await;
    let cookie = setup.signed_in().await;
    assert_eq!(setup.session(&cookie).await.unwrap().principal, "alice");

    // The sign-out form, with the session's CSRF token, is on the sign-in
    // page of a signed-in browser.
    let page = setup
        .get("/ui/sign-in", &cookie)
        .await
        .text()
        .await
        .unwrap();
    let start = page
        .find("action=\"/ui/sign-out?csrf=")
        .expect("a sign-out form")
        + 8;
    let action = &page[start..start + page[start..].find('"').unwrap()];
    let out = |path: String| {
        setup
            .http
            .post(format!("{}{path}", setup.served.base))
            .header("cookie", &cookie)
            .send()
    };
    let guessed = out(format!("/ui/sign-out?csrf={}", "0".repeat(64)))
        .await
        .unwrap();
    assert_eq!(guessed.status(), 403, "another site cannot sign one out");
    assert_eq!(setup.get("/ui/jobs", &cookie).await.status(), 200);
    let signed_out = out(action.to_string()).await.unwrap();
    assert_eq!(signed_out.status(), 303);
    assert!(set_cookie(&signed_out, "drbook_session").is_some_and(|c| c.contains("Max-Age=0")));
    assert!(setup.session(&cookie).await.unwrap().revoked.is_some());
    let refused = setup.get("/ui/jobs", &cookie).await;
    assert_eq!(refused.status(), 401, "a copy of the cookie is refused too");
    assert!(refused.text().await.unwrap().contains("signed out"));

    // A session past its time, as the store holds it then.
    let id = format!("drbs_{}", "x".repeat(43));
    let now = Utc::now();
    setup
        .store
        .create_session(&StoredSession {
            hash: hash_secret(&id),
            principal: "alice".to_string(),
            scopes: vec![Scope::Viewer],
            via: SignedInWith::Oidc {
                subject: "alice-sub".to_string(),
            },
            created: now - TimeDelta::hours(13),
            expires: now - TimeDelta::hours(1),
            revoked: None,
        })
        .await
        .unwrap();
    let refused = setup.get("/ui/jobs", &format!("drbook_session={id}")).await;
    assert_eq!(refused.status(), 401);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("session has expired"));
    // Nor is a made-up one looked up as anything else.
    let refused = setup
        .get("/ui/jobs", "drbook_session=drbk_not-a-session")
        .await;
    assert_eq!(refused.status(), 401);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("session is not valid"));
    setup.served.stop().await;
}
