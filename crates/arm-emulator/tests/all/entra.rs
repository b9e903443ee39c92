//! Entra ID's token endpoint: Entra's answers and statuses to the client
//! credentials grant, azure_identity's `ClientSecretCredential` signing in
//! through it, and ARM's checks of whom a token was issued to (another
//! tenant: 401; no role: 403).

use crate::common::{client, start, Answer, Env};
use drbook_arm_emulator::{App, AppCredential, Config};
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub(crate) const CLIENT_ID: &str = "app-with-role";
pub(crate) const SECRET: &str = "entra-test-secret";
pub(crate) const OTHER_TENANT: &str = "00000000-0000-0000-0000-0000000000f2";
const UNROLED_OBJECT_ID: &str = "object-without-role";

fn app(tenant: &str, client_id: &str, object_id: &str) -> App {
    App {
        tenant: tenant.to_string(),
        client_id: client_id.to_string(),
        object_id: object_id.to_string(),
        credential: AppCredential::Secret(SECRET.to_string()),
    }
}

pub(crate) async fn emulator() -> Env {
    let home = Config::default().tenant;
    start(
        1,
        Config {
            apps: vec![
                app(&home, CLIENT_ID, "object-with-role"),
                app(OTHER_TENANT, "app-of-another-tenant", "object-elsewhere"),
                app(&home, "app-without-role", UNROLED_OBJECT_ID),
            ],
            without_role: vec![UNROLED_OBJECT_ID.to_string()],
            ..Config::default()
        },
    )
    .await
}

/// The token endpoint's status and JSON for `form`, in `tenant`.
pub(crate) async fn token(env: &Env, tenant: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let answer = env
        .client
        .post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            env.emu.endpoints().authority_host
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    (answer.status(), answer.json().await.unwrap())
}

pub(crate) fn secret_form<'a>(client_id: &'a str, secret: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("scope", "https://management.azure.com/.default"),
    ]
}

/// The vault's protected items, read with `token`.
async fn read(env: &Env, token: &str) -> Answer {
    let url = env.url("/replicationProtectedItems");
    env.call_with(Method::GET, &url, None, Some(token), None)
        .await
        .unwrap()
}

/// A JWT's claims.
fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn the_token_endpoint_answers_as_entra_does() {
    let env = emulator().await;
    let home = env.emu.endpoints().tenant.clone();
    let before = env.emu.counters().token_fetches;

    let (status, body) = token(&env, &home, &secret_form(CLIENT_ID, SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let left = body["expires_in"].as_i64().unwrap();
    assert!((3590..=3600).contains(&left), "{left}");
    let claims = claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["tid"], home.as_str());
    assert_eq!(claims["appid"], CLIENT_ID);
    assert_eq!(claims["oid"], "object-with-role");
    assert_eq!(claims["aud"], "https://management.azure.com");
    assert_eq!(env.emu.counters().token_fetches, before + 1);

    for (tenant, form, status, error, code) in [
        (
            home.as_str(),
            secret_form(CLIENT_ID, "wrong"),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
        ),
        (
            "00000000-0000-0000-0000-0000000000f9",
            secret_form(CLIENT_ID, SECRET),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
        ),
        (
            home.as_str(),
            secret_form("no-such-app", SECRET),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
        ),
        // An app of another tenant, asked for in this one.
        (
            home.as_str(),
            secret_form("app-of-another-tenant", SECRET),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
        ),
    ] {
        let (got, body) = token(&env, tenant, &form).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["error"], error, "{body}");
        assert_eq!(body["error_codes"], serde_json::json!([code]), "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with(&format!("AADSTS{code}: ")),
            "{body}"
        );
        assert!(!body.to_string().contains(SECRET), "{body}");
    }
    let (got, body) = token(
        &env,
        &home,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error_codes"], serde_json::json!([900144]), "{body}");
    assert_eq!(env.emu.counters().token_fetches, before + 1);
}

#[tokio::test]
async fn arm_refuses_a_token_of_another_tenant_and_a_principal_without_a_role() {
    let env = emulator().await;
    let home = env.emu.endpoints().tenant.clone();
    let bearer = |body: Value| body["access_token"].as_str().unwrap().to_string();

    let (_, body) = token(
        &env,
        OTHER_TENANT,
        &secret_form("app-of-another-tenant", SECRET),
    )
    .await;
    let answer = read(&env, &bearer(body)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.body["error"]["code"],
        "InvalidAuthenticationTokenTenant"
    );
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "It must match the tenant 'https://sts.windows.net/{home}/'"
        )),
        "{message}"
    );
    assert!(answer
        .header("www-authenticate")
        .is_some_and(|h| h.contains(&format!("https://login.windows.net/{home}"))));

    let (_, body) = token(&env, &home, &secret_form("app-without-role", SECRET)).await;
    let answer = read(&env, &bearer(body)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body["error"]["code"], "AuthorizationFailed");
    let vault = env.emu.endpoints().vault_id.clone();
    assert_eq!(
        answer.body["error"]["message"],
        format!(
            "The client '{UNROLED_OBJECT_ID}' with object id '{UNROLED_OBJECT_ID}' does not have \
             authorization to perform action \
             'Microsoft.RecoveryServices/vaults/replicationProtectedItems/read' over scope \
             '{vault}/replicationProtectedItems' or the scope is invalid. If access was recently \
             granted, please refresh your credentials."
        )
    );
    // The app with a role reads.
    let (_, body) = token(&env, &home, &secret_form(CLIENT_ID, SECRET)).await;
    let answer = read(&env, &bearer(body)).await;
    assert_eq!(answer.status, StatusCode::OK);
}

/// Azure's own SDK: `ClientSecretCredential` with the emulator as its
/// authority host (`ClientOptions::cloud`, which `AZURE_AUTHORITY_HOST`
/// stands for when unset) gets a token ARM takes, once for two calls; a
/// wrong secret is Entra's 401 with its code.
#[tokio::test]
async fn azure_identitys_client_secret_credential_signs_in() {
    use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
    use azure_core::credentials::TokenCredential;
    use azure_core::http::{ClientOptions, Transport};
    use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
    use std::sync::Arc;

    let env = emulator().await;
    let ep = env.emu.endpoints().clone();
    let options = || {
        let mut cloud = CustomConfiguration::default();
        cloud.authority_host.clone_from(&ep.authority_host);
        ClientSecretCredentialOptions {
            client_options: ClientOptions {
                transport: Some(Transport::new(Arc::new(client(&env.emu)))),
                cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
                ..ClientOptions::default()
            },
        }
    };
    let scope = "https://management.azure.com/.default";
    let before = env.emu.counters().token_fetches;
    let credential =
        ClientSecretCredential::new(&ep.tenant, CLIENT_ID.into(), SECRET.into(), Some(options()))
            .unwrap();
    let token = credential.get_token(&[scope], None).await.unwrap();
    let again = credential.get_token(&[scope], None).await.unwrap();
    assert_eq!(token.token.secret(), again.token.secret());
    assert_eq!(env.emu.counters().token_fetches, before + 1);
    let answer = read(&env, token.token.secret()).await;
    assert_eq!(answer.status, StatusCode::OK);

    let wrong = ClientSecretCredential::new(
        &ep.tenant,
        CLIENT_ID.into(),
        "wrong".into(),
        Some(options()),
    )
    .unwrap();
    let err = wrong.get_token(&[scope], None).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("AADSTS7000215: Invalid client secret provided"),
        "{text}"
    );
    // Under azure_identity's credential error, Entra's answer as it came.
    let entra = std::error::Error::source(&err)
        .and_then(|e| e.downcast_ref::<azure_core::Error>())
        .expect("the HTTP error");
    assert_eq!(entra.http_status().map(u16::from), Some(401), "{entra:?}");
    assert!(
        format!("{:?}", entra.kind()).contains("7000215"),
        "{entra:?}"
    );
}
