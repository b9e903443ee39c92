//! The fake provider over real HTTP: what a client meets at each endpoint.

use aws_lc_rs::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use drbook_oidc_fake::{Fault, Provider, User};
use serde_json::Value;
use sha2::{Digest, Sha256};

const VERIFIER: &str = "a-verifier-of-at-least-forty-three-characters-long";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `/authorize`'s redirect, parsed: its query's pairs.
async fn authorize(provider: &Provider, extra: &str) -> Vec<(String, String)> {
    let url = format!(
        "{}/authorize?response_type=code&client_id=drbook&scope=openid%20email\
         &redirect_uri=http://127.0.0.1:1/ui/callback&state=st&nonce=nn{extra}",
        provider.issuer()
    );
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status(), 303, "{:?}", response.text().await);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("http://127.0.0.1:1/ui/callback?"),
        "{location}"
    );
    url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

async fn redeem(provider: &Provider, code: &str, verifier: &str) -> (u16, Value) {
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri=http://127.0.0.1:1/ui/callback\
         &code_verifier={verifier}&client_id=drbook&client_secret=s3cret"
    );
    let response = client()
        .post(format!("{}/token", provider.issuer()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The claims of `token`, once its signature is checked against the JWKS.
async fn verified_claims(provider: &Provider, token: &str) -> Option<Value> {
    let jwks: Value = client()
        .get(format!("{}/jwks", provider.issuer()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let (header, payload) = input.split_once('.').unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])?;
    let part = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
    let public = RsaPublicKeyComponents {
        n: part("n"),
        e: part("e"),
    };
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    public
        .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &signature)
        .ok()?;
    Some(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap())
}

#[tokio::test]
async fn discovery_names_the_endpoints_and_what_they_support() {
    let provider = Provider::start("drbook", "s3cret").await.unwrap();
    let issuer = provider.issuer();
    let found: Value = client()
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["issuer"], issuer.as_str());
    assert_eq!(found["token_endpoint"], format!("{issuer}/token").as_str());
    assert_eq!(found["jwks_uri"], format!("{issuer}/jwks").as_str());
    assert_eq!(found["code_challenge_methods_supported"][0], "S256");
}

#[tokio::test]
async fn a_code_is_redeemed_once_with_its_verifier_for_a_signed_token_of_the_user() {
    let provider = Provider::start("drbook", "s3cret").await.unwrap();
    provider.set_user(
        User::new("alice-sub")
            .email("alice@example.com")
            .groups(["dr-approvers"]),
    );
    let back = authorize(
        &provider,
        &format!(
            "&code_challenge={}&code_challenge_method=S256",
            challenge(VERIFIER)
        ),
    )
    .await;
    assert_eq!(get(&back, "state"), Some("st"));
    let code = get(&back, "code").unwrap().to_string();

    let (status, refused) = redeem(&provider, &code, "another-verifier").await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The failed try used the code up, as a real provider's single use does.
    let (status, _) = redeem(&provider, &code, VERIFIER).await;
    assert_eq!(status, 400);

    let back = authorize(
        &provider,
        &format!(
            "&code_challenge={}&code_challenge_method=S256",
            challenge(VERIFIER)
        ),
    )
    .await;
    let code = get(&back, "code").unwrap().to_string();
    let (status, answer) = redeem(&provider, &code, VERIFIER).await;
    assert_eq!(status, 200, "{answer}");
    let claims = verified_claims(&provider, answer["id_token"].as_str().unwrap())
        .await
        .expect("the ID token verifies with the published key");
    assert_eq!(claims["iss"], provider.issuer().as_str());
    assert_eq!(claims["aud"], "drbook");
    assert_eq!(claims["sub"], "alice-sub");
    assert_eq!(claims["nonce"], "nn");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["groups"][0], "dr-approvers");
    let (status, replayed) = redeem(&provider, &code, VERIFIER).await;
    assert_eq!(
        (status, replayed["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(provider.tokens_issued(), 1);
}

#[tokio::test]
async fn without_pkce_the_browser_is_sent_back_with_an_error() {
    let provider = Provider::start("drbook", "s3cret").await.unwrap();
    let back = authorize(&provider, "").await;
    assert_eq!(get(&back, "error"), Some("invalid_request"));
    assert!(get(&back, "error_description").unwrap().contains("PKCE"));
    assert_eq!(get(&back, "code"), None);
}

#[tokio::test]
async fn faults_make_the_tokens_wrong_as_asked() {
    let provider = Provider::start("drbook", "s3cret").await.unwrap();
    let pkce = format!(
        "&code_challenge={}&code_challenge_method=S256",
        challenge(VERIFIER)
    );
    let issue = async |fault| {
        provider.fail_with(fault);
        let back = authorize(&provider, &pkce).await;
        let (_, answer) = redeem(&provider, get(&back, "code").unwrap(), VERIFIER).await;
        let token = answer["id_token"].as_str().unwrap().to_string();
        verified_claims(&provider, &token).await
    };
    let claims = issue(Some(Fault::WrongIssuer)).await.unwrap();
    assert_ne!(claims["iss"], provider.issuer().as_str());
    let claims = issue(Some(Fault::WrongAudience)).await.unwrap();
    assert_ne!(claims["aud"], "drbook");
    let claims = issue(Some(Fault::Expired)).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(claims["exp"].as_u64().unwrap() < now);
    let claims = issue(Some(Fault::WrongNonce)).await.unwrap();
    assert_ne!(claims["nonce"], "nn");
    let claims = issue(Some(Fault::NoNonce)).await.unwrap();
    assert!(claims.get("nonce").is_none());
    assert!(issue(Some(Fault::BadSignature)).await.is_none());
    assert!(issue(None).await.is_some());
}

#[tokio::test]
async fn a_rotated_key_signs_under_a_new_kid_and_both_are_published() {
    let provider = Provider::start("drbook", "s3cret").await.unwrap();
    provider.rotate_key();
    let back = authorize(
        &provider,
        &format!(
            "&code_challenge={}&code_challenge_method=S256",
            challenge(VERIFIER)
        ),
    )
    .await;
    let (_, answer) = redeem(&provider, get(&back, "code").unwrap(), VERIFIER).await;
    let token = answer["id_token"].as_str().unwrap();
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(header["kid"], "key-2");
    assert!(verified_claims(&provider, token).await.is_some());
    assert_eq!(provider.jwks_fetches(), 1);
}
