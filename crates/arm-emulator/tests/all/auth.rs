//! Tokens: every ARM route needs one (401 with `WWW-Authenticate` without,
//! with a bad one, with an expired or revoked one, with one for another
//! audience); the token endpoint
//! speaks managed identity's App Service protocol and counts its fetches.

use crate::common::{fetch_token, start};
use drbook_arm_emulator::Config;
use reqwest::{Method, StatusCode};
use std::time::Duration;

#[tokio::test]
async fn arm_routes_need_a_valid_token() {
    let env = start(2, Config::default()).await;
    let url = env.url("/replicationProtectedItems");
    for (token, code) in [
        (None, "AuthenticationFailed"),
        (Some("not-a-token"), "InvalidAuthenticationToken"),
    ] {
        let answer = env
            .call_with(Method::GET, &url, None, token, None)
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.body["error"]["code"], code);
        assert!(answer
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer ")));
    }
    assert_eq!(env.get(&url).await.status, StatusCode::OK);
    assert_eq!(env.emu.counters().unauthorized, 2);

    // A revoked token is refused; a new one works.
    env.emu.revoke_tokens();
    let answer = env.get(&url).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["error"]["code"], "InvalidAuthenticationToken");
    let token = fetch_token(&env.client, &env.emu).await;
    let answer = env
        .call_with(Method::GET, &url, None, Some(&token), None)
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let config = Config {
        token_lifetime: Duration::from_secs(1),
        ..Config::default()
    };
    let env = start(1, config).await;
    let url = env.url("/replicationProtectedItems");
    assert_eq!(env.get(&url).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let answer = env.get(&url).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["error"]["code"], "ExpiredAuthenticationToken");
}

#[tokio::test]
async fn token_endpoint_speaks_app_service_managed_identity() {
    let env = start(1, Config::default()).await;
    let ep = env.emu.endpoints();
    assert!(ep.token_endpoint.starts_with("http://127.0.0.1:"));
    // The fetch `start` made.
    assert_eq!(env.emu.counters().token_fetches, 1);

    let answer = env
        .client
        .get(&ep.token_endpoint)
        .query(&[
            ("api-version", "2019-08-01"),
            ("resource", "https://management.azure.com"),
        ])
        .header("X-IDENTITY-HEADER", &ep.identity_header)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource"], "https://management.azure.com");
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    // A string of Unix seconds, about an hour from now: what azure_identity parses.
    let expires: i64 = body["expires_on"].as_str().unwrap().parse().unwrap();
    let left = expires - chrono::Utc::now().timestamp();
    assert!((3500..=3600).contains(&left), "{left}");

    // Without the secret: 401, and nothing issued.
    let answer = env
        .client
        .get(&ep.token_endpoint)
        .query(&[
            ("api-version", "2019-08-01"),
            ("resource", "https://management.azure.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);

    // Over HTTPS too.
    let answer = env
        .client
        .get(&ep.token_endpoint_https)
        .query(&[
            ("api-version", "2019-08-01"),
            ("resource", "https://management.azure.com"),
        ])
        .header("X-IDENTITY-HEADER", &ep.identity_header)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(env.emu.counters().token_fetches, 3);
}

/// Azure's own SDK: `azure_identity`'s `ManagedIdentityCredential` picks
/// the App Service source from `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`,
/// gets a token the ARM routes take, and caches it (one fetch for two
/// calls). The only test that sets these variables.
#[tokio::test]
async fn azure_identitys_managed_identity_credential_gets_tokens() {
    use azure_core::credentials::TokenCredential;

    let env = start(1, Config::default()).await;
    let ep = env.emu.endpoints();
    for (name, value) in ep.env() {
        std::env::set_var(name, value);
    }
    let credential = azure_identity::ManagedIdentityCredential::new(None).unwrap();
    let before = env.emu.counters().token_fetches;
    let scope = "https://management.azure.com/.default";
    let token = credential.get_token(&[scope], None).await.unwrap();
    let again = credential.get_token(&[scope], None).await.unwrap();
    assert_eq!(token.token.secret(), again.token.secret());
    assert_eq!(env.emu.counters().token_fetches, before + 1);
    let left = token.expires_on - azure_core::time::OffsetDateTime::now_utc();
    assert!(left.whole_seconds() > 3000, "{left}");

    let answer = env
        .call_with(
            Method::GET,
            &env.url("/replicationProtectedItems"),
            None,
            Some(token.token.secret()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
}

/// ARM takes a token only for its own audience: the emulator's URL (what
/// a client whose cloud is the emulator asks for, with the slash as the
/// Azure CLI asks or without as drbook does) or the public cloud's ARM; a
/// token for another resource is refused 401 as ARM refuses it.
#[tokio::test]
async fn a_token_for_another_audience_is_refused_as_arm_refuses_it() {
    let env = start(1, Config::default()).await;
    let ep = env.emu.endpoints();
    let token_for = |resource: String| {
        let (client, ep) = (&env.client, ep);
        async move {
            let body: serde_json::Value = client
                .get(&ep.token_endpoint)
                .query(&[("api-version", "2019-08-01"), ("resource", &resource)])
                .header("X-IDENTITY-HEADER", &ep.identity_header)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["access_token"].as_str().unwrap().to_string()
        }
    };
    let url = env.url("/replicationProtectedItems");
    for resource in [
        ep.base_url.clone(),
        format!("{}/", ep.base_url),
        "https://management.core.windows.net/".to_string(),
    ] {
        let token = token_for(resource.clone()).await;
        let answer = env
            .call_with(Method::GET, &url, None, Some(&token), None)
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{resource}: {}", answer.body);
    }

    let vault = token_for("https://vault.azure.net".to_string()).await;
    let answer = env
        .call_with(Method::GET, &url, None, Some(&vault), None)
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "InvalidAuthenticationToken");
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "The access token has been obtained for wrong audience or resource \
             'https://vault.azure.net'."
        ),
        "{message}"
    );
    assert!(
        message.contains(&format!("'{}/'", ep.base_url)),
        "{message}"
    );
    let subscriptions = format!("{}/subscriptions?api-version=2022-12-01", ep.base_url);
    let answer = env
        .call_with(Method::GET, &subscriptions, None, Some(&vault), None)
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
}
