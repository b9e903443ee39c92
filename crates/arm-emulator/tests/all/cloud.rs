//! What a client reads before the vault, as the Azure CLI reads it: ARM's
//! metadata of the cloud (no token), Entra's OpenID discovery of a tenant,
//! and the subscriptions a token sees. Other routes stay refused.

use crate::entra::{emulator, secret_form, token, CLIENT_ID, OTHER_TENANT, SECRET};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn the_clouds_metadata_is_served_without_a_token_and_points_at_the_emulator() {
    let env = emulator().await;
    let base = env.emu.endpoints().base_url.clone();
    // As the endpoint is written, with or without its trailing slash
    // (`az cloud register` appends the path to it).
    for path in ["/metadata/endpoints", "//metadata/endpoints"] {
        let url = format!("{base}{path}?api-version=2022-09-01");
        let answer = env
            .call_with(Method::GET, &url, None, None, None)
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
        let body = &answer.body;
        let root = format!("{base}/");
        assert_eq!(body["resourceManager"], root.as_str(), "{body}");
        assert_eq!(body["authentication"]["loginEndpoint"], root.as_str());
        assert_eq!(body["authentication"]["audiences"], json!([root]));
        assert_eq!(body["authentication"]["identityProvider"], "AAD");
        assert!(body["name"].is_string() && body["suffixes"].is_object());
    }

    let old = format!("{base}/metadata/endpoints?api-version=2019-05-01");
    let answer = env
        .call_with(Method::GET, &old, None, None, None)
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "InvalidApiVersionParameter");
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2022-09-01"),
        "{}",
        answer.body
    );
    let counters = env.emu.counters();
    assert_eq!(counters.requests("GET", "metadata.endpoints"), 3);
    assert_eq!(counters.unauthorized, 0);
}

#[tokio::test]
async fn openid_discovery_names_the_tenants_endpoints_and_refuses_an_unknown_tenant() {
    let env = emulator().await;
    let base = env.emu.endpoints().base_url.clone();
    let home = env.emu.endpoints().tenant.clone();
    let discovery = |tenant: &str| format!("{base}/{tenant}/v2.0/.well-known/openid-configuration");

    for tenant in [home.as_str(), OTHER_TENANT] {
        let answer = env
            .call_with(Method::GET, &discovery(tenant), None, None, None)
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let body = &answer.body;
        assert_eq!(body["issuer"], format!("{base}/{tenant}/v2.0"));
        assert_eq!(
            body["authorization_endpoint"],
            format!("{base}/{tenant}/oauth2/v2.0/authorize")
        );
        // The token endpoint it names is the one that issues tokens.
        let named = body["token_endpoint"].as_str().unwrap();
        assert_eq!(named, format!("{base}/{tenant}/oauth2/v2.0/token"));
    }
    let (status, issued) = token(&env, &home, &secret_form(CLIENT_ID, SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{issued}");

    let nowhere = "00000000-0000-0000-0000-0000000000f9";
    let answer = env
        .call_with(Method::GET, &discovery(nowhere), None, None, None)
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"], "invalid_tenant");
    assert_eq!(answer.body["error_codes"], json!([90002]));
    assert!(
        answer.body["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AADSTS90002: Tenant '{nowhere}' not found.")),
        "{}",
        answer.body
    );
    assert_eq!(env.emu.counters().requests("GET", "openidConfiguration"), 3);
}

/// `GET /subscriptions` with `token`: its status and body.
async fn subscriptions(
    env: &crate::common::Env,
    token: Option<&str>,
    query: &str,
) -> (StatusCode, Value) {
    let url = format!("{}/subscriptions{query}", env.emu.endpoints().base_url);
    let answer = env
        .call_with(Method::GET, &url, None, token, None)
        .await
        .unwrap();
    (answer.status, answer.body)
}

#[tokio::test]
async fn subscriptions_are_listed_to_a_token_of_any_tenant_and_refused_without_one() {
    let env = emulator().await;
    let ep = env.emu.endpoints();
    let query = "?api-version=2022-12-01";

    let (status, body) = subscriptions(&env, None, query).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "AuthenticationFailed");
    let (status, body) = subscriptions(&env, Some("not-a-token"), query).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    // Managed identity's token (the subscription's tenant, with a role).
    let (status, body) = subscriptions(&env, Some(&env.token), query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["count"], json!({"type": "Total", "value": 1}));
    let listed = &body["value"][0];
    assert_eq!(listed["id"], format!("/subscriptions/{}", ep.subscription));
    assert_eq!(listed["subscriptionId"], ep.subscription.as_str());
    assert_eq!(listed["tenantId"], ep.tenant.as_str());
    assert_eq!(listed["state"], "Enabled");

    // Another tenant's principal, and one without a role: ARM lists them
    // no subscription (a token of another tenant is no 401 here).
    let (_, other) = token(
        &env,
        OTHER_TENANT,
        &secret_form("app-of-another-tenant", SECRET),
    )
    .await;
    let (_, unroled) = token(&env, &ep.tenant, &secret_form("app-without-role", SECRET)).await;
    for issued in [&other, &unroled] {
        let token = issued["access_token"].as_str().unwrap();
        let (status, body) = subscriptions(&env, Some(token), query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["value"], json!([]), "{body}");
    }

    let (status, body) = subscriptions(&env, Some(&env.token), "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "MissingApiVersionParameter");
    // Site Recovery's api-version is not Microsoft.Resources'.
    let (status, body) = subscriptions(&env, Some(&env.token), "?api-version=2025-08-01").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "InvalidApiVersionParameter");
    assert_eq!(env.emu.counters().requests("GET", "subscriptions.list"), 7);

    // What the emulator does not serve stays refused (`az login` as a
    // user lists `/tenants`; as a service principal it does not).
    let tenants = format!("{}/tenants?api-version={}", ep.base_url, crate::common::API);
    let answer = env
        .call_with(Method::GET, &tenants, None, Some(&env.token), None)
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "InvalidResourceType");
}
