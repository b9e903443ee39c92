//! Every route × every kind of caller, over real HTTP against a real server
//! (SQLite store, simulator fabric): no token, each scope, an expired
//! token, a revoked one, a malformed one. Exactly what the route table says
//! is let through; the table itself is checked against the list below, so
//! that a route added without deciding what it needs fails here.

mod common;

use chrono::{TimeDelta, Utc};
use common::Served;
use drbook_core::token::{Scope, StoredToken};
use drbook_triggers::{create_token, routes, Need, ServeOptions};
use std::collections::BTreeMap;

/// What each route needs, written out here on purpose: the route table
/// must equal it (method, path, scope; `None`: public).
const EXPECTED: &[(&str, &str, Option<Scope>)] = &[
    ("POST", "/webhooks/{name}", None),
    ("GET", "/healthz", None),
    ("GET", "/metrics", Some(Scope::Viewer)),
    ("GET", "/api/openapi.json", Some(Scope::Viewer)),
    ("GET", "/api/v1/jobs", Some(Scope::Viewer)),
    ("GET", "/api/v1/jobs/{id}", Some(Scope::Viewer)),
    ("GET", "/api/v1/jobs/{id}/streams", Some(Scope::Viewer)),
    ("GET", "/api/v1/jobs/{id}/events", Some(Scope::Viewer)),
    ("POST", "/api/v1/jobs/{id}/decision", Some(Scope::Approver)),
    ("POST", "/api/v1/jobs/{id}/stop", Some(Scope::Operator)),
    ("POST", "/api/v1/jobs/{id}/rerun", Some(Scope::Operator)),
    ("GET", "/api/v1/approvals", Some(Scope::Viewer)),
    ("GET", "/api/v1/audit", Some(Scope::Viewer)),
    ("GET", "/api/v1/fabric/items", Some(Scope::Viewer)),
    ("GET", "/api/v1/webhooks", Some(Scope::Viewer)),
    ("GET", "/api/v1/webhooks/{name}/alerts", Some(Scope::Viewer)),
    (
        "POST",
        "/api/v1/webhooks/{name}/enabled",
        Some(Scope::Admin),
    ),
    ("GET", "/ui/jobs", Some(Scope::Viewer)),
    ("GET", "/ui/jobs/{id}", Some(Scope::Viewer)),
    ("POST", "/ui/jobs/{id}/decision", Some(Scope::Approver)),
    ("GET", "/ui/approvals", Some(Scope::Viewer)),
    ("GET", "/ui/fabric", Some(Scope::Viewer)),
    ("GET", "/ui/audit", Some(Scope::Viewer)),
    ("GET", "/ui/webhooks", Some(Scope::Viewer)),
    ("GET", "/ui/webhooks/{name}", Some(Scope::Viewer)),
    ("POST", "/ui/webhooks/{name}/enabled", Some(Scope::Admin)),
    ("GET", "/ui/sign-in", None),
    ("POST", "/ui/sign-in", None),
    ("GET", "/ui/sign-in/oidc", None),
    ("GET", "/ui/callback", None),
    ("POST", "/ui/sign-out", None),
    ("GET", "/ui/assets/console.js", None),
    ("GET", "/ui/assets/console.css", None),
    ("GET", "/api/v1/tokens", Some(Scope::Admin)),
    ("POST", "/api/v1/tokens", Some(Scope::Admin)),
    ("DELETE", "/api/v1/tokens/{name}", Some(Scope::Admin)),
];

/// A caller: a name for messages, its token, and the scopes it holds when
/// the token is good.
struct Caller {
    name: &'static str,
    token: Option<String>,
    scopes: Option<Vec<Scope>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_lets_through_exactly_the_scopes_its_entry_names() {
    let table: Vec<(String, &str, Option<Scope>)> = routes()
        .into_iter()
        .map(|r| {
            let scope = match r.need {
                Need::Public => None,
                Need::Scope(s) => Some(s),
            };
            (r.method.to_string(), r.path, scope)
        })
        .collect();
    let expected: Vec<(String, &str, Option<Scope>)> = EXPECTED
        .iter()
        .map(|(m, p, s)| (m.to_string(), *p, *s))
        .collect();
    assert_eq!(
        table, expected,
        "the route table changed: decide what each route needs, and write it in EXPECTED"
    );

    let dir = tempfile::tempdir().unwrap();
    let (store, sim) = common::store(dir.path());
    let mut callers = vec![
        Caller {
            name: "no token",
            token: None,
            scopes: None,
        },
        Caller {
            name: "not a drbook token",
            token: Some("s3cret".to_string()),
            scopes: None,
        },
        Caller {
            name: "an unknown drbook token",
            token: Some(format!("drbk_{}", "A".repeat(43))),
            scopes: None,
        },
    ];
    let far = Utc::now() + TimeDelta::days(1);
    let sets: [(&str, &[Scope]); 6] = [
        ("viewer", &[Scope::Viewer]),
        ("operator", &[Scope::Operator]),
        ("approver", &[Scope::Approver]),
        ("operator+approver", &[Scope::Operator, Scope::Approver]),
        ("admin", &[Scope::Admin]),
        ("viewer+admin", &[Scope::Viewer, Scope::Admin]),
    ];
    for (name, scopes) in sets {
        let made = create_token(store.as_ref(), &name.replace('+', "-"), scopes, far, "test")
            .await
            .unwrap();
        callers.push(Caller {
            name,
            token: Some(made.secret),
            scopes: Some(scopes.to_vec()),
        });
    }
    let revoked = create_token(store.as_ref(), "revoked", &[Scope::Admin], far, "test")
        .await
        .unwrap();
    drbook_triggers::revoke_token(store.as_ref(), "revoked")
        .await
        .unwrap();
    callers.push(Caller {
        name: "revoked admin",
        token: Some(revoked.secret),
        scopes: None,
    });
    // An expired token, as a store holds it once its time has passed.
    let expired = &format!("drbk_{}", "e".repeat(43));
    let past = Utc::now() - TimeDelta::seconds(1);
    store
        .create_token(&StoredToken {
            name: "expired".to_string(),
            hash: drbook_triggers::hash_secret(expired),
            scopes: vec![Scope::Admin],
            created: past - TimeDelta::days(1),
            created_by: "test".to_string(),
            expires: past,
            last_used: None,
            revoked: None,
        })
        .await
        .unwrap();
    callers.push(Caller {
        name: "expired admin",
        token: Some(expired.clone()),
        scopes: None,
    });

    let served = Served::start(store.clone(), sim, ServeOptions::default()).await;
    let base = &served.base;

    let http = reqwest::Client::new();
    let mut failures = Vec::new();
    for (method, path, need) in EXPECTED {
        let url = format!(
            "{base}{}",
            path.replace("{name}", "nothing-here")
                .replace("{id}", "job-none")
        );
        for caller in &callers {
            let mut request = http.request(method.parse().unwrap(), &url);
            if let Some(token) = &caller.token {
                request = request.bearer_auth(token);
            }
            if *method == "POST" {
                request = request.json(&serde_json::json!({}));
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            let outcome = match (need, &caller.scopes) {
                // The sign-in form refuses a post without its CSRF token
                // (403), whatever token the caller holds.
                (None, _) if status == 403 => body.contains("CSRF"),
                (None, _) => status != 401,
                (Some(_), None) => status == 401,
                (Some(need), Some(held)) if need.allows(held) => status != 401 && status != 403,
                (Some(_), Some(_)) => status == 403,
            };
            if !outcome {
                failures.push(format!("{method} {path} as {}: {status}", caller.name));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");

    let log = served.log.lock().unwrap().join("\n");
    assert!(
        log.contains("token_expired") && log.contains("token_revoked"),
        "{log}"
    );
    for caller in &callers {
        if let Some(token) = caller.token.as_deref().filter(|t| t.starts_with("drbk_")) {
            assert!(
                !log.contains(token),
                "the log holds {}'s secret",
                caller.name
            );
        }
    }
    let listed = store.tokens().await.unwrap();
    assert!(
        listed
            .iter()
            .find(|t| t.name == "viewer")
            .unwrap()
            .last_used
            .is_some(),
        "a use is recorded"
    );
    served.stop().await;
}

/// The OpenAPI document the server serves holds exactly the routes of the
/// router, each with the role its entry needs (none for the public ones)
/// and, when it needs one, the refusals of a missing or weaker token; every
/// schema it refers to is in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_holds_exactly_the_routes_served_with_their_roles() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim) = common::store(dir.path());
    let far = Utc::now() + TimeDelta::days(1);
    let viewer = create_token(store.as_ref(), "docs", &[Scope::Viewer], far, "test")
        .await
        .unwrap();
    let served = Served::start(store, sim, ServeOptions::default()).await;
    let document: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/openapi.json", served.base))
        .bearer_auth(&viewer.secret)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    served.stop().await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));

    let mut documented = BTreeMap::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let role = operation["security"][0]["token"][0].as_str();
            if role.is_some() {
                let responses = &operation["responses"];
                assert!(
                    responses.get("401").is_some() && responses.get("403").is_some(),
                    "{method} {path} documents no refusal of its token"
                );
            }
            documented.insert(
                (method.to_uppercase(), path.clone()),
                role.map(str::to_string),
            );
        }
    }
    // The console's pages are HTML for people, not the API's.
    let served: BTreeMap<(String, String), Option<String>> = routes()
        .into_iter()
        .filter(|r| !r.path.starts_with("/ui/"))
        .map(|r| {
            let role = match r.need {
                Need::Public => None,
                Need::Scope(s) => Some(s.name().to_string()),
            };
            ((r.method.to_string(), r.path.to_string()), role)
        })
        .collect();
    assert_eq!(
        documented, served,
        "the document and the router differ: annotate the handler (#[utoipa::path]) and list it in openapi.rs"
    );

    let mut refs = Vec::new();
    references(&document, &mut refs);
    assert!(!refs.is_empty(), "the document refers to no schema");
    for reference in refs {
        let name = reference.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "{reference} is not in the document"
        );
    }
}

/// Every `$ref` in `value`.
fn references(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match value.as_str() {
                    Some(reference) if key == "$ref" => into.push(reference.to_string()),
                    _ => references(value, into),
                }
            }
        }
        serde_json::Value::Array(values) => values.iter().for_each(|v| references(v, into)),
        _ => {}
    }
}
