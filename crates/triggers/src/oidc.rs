//! Signing in through OpenID Connect (Entra ID, or any provider): the
//! authorization code flow with PKCE (`S256`), `state` and `nonce`, as a
//! confidential client.
//!
//! `GET /ui/sign-in/oidc` makes a random state, nonce and PKCE verifier,
//! keeps them in a short-lived cookie (`drbook_oidc`, ten minutes, only sent
//! to `/ui/callback`) that carries an HMAC under a key derived from the
//! client secret, so every server of one deployment can finish a sign-in
//! any of them started and none needs to remember it, and sends the browser
//! to the provider. `GET /ui/callback` checks the cookie and the `state`,
//! redeems the code with the verifier and the client secret, and checks the
//! ID token: RS256 signed by a key of the provider's JWKS (fetched once and
//! cached; fetched again when a token names a key it does not hold, as after
//! a rotation), `iss` the configured issuer, `aud` the client id, `exp` not
//! passed (60 s of clock leeway), `nonce` the cookie's. The person's claims
//! map to scopes by the configured roles; a person none maps is refused.
//! Only then is a session made (`access::start_session`).
//!
//! What a stranger can cost: a callback without the cookie's HMAC is refused
//! before anything else; the provider is asked for a code only with a valid
//! one, and its JWKS again only for an ID token it issued.

use aws_lc_rs::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::sync::Mutex;

use drbook_core::token::Scope;

/// How far a token's `exp` may be behind this host's clock.
const LEEWAY_SECS: i64 = 60;

/// How long a sign-in started may take to finish.
pub(crate) const FLOW_SECS: i64 = 600;

/// Answers of the provider are small JSON documents.
const MAX_ANSWER: usize = 256 * 1024;

/// What `drbook serve` is configured with (`[oidc]` in `drbook.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The issuer exactly as its ID tokens' `iss` says it, e.g. Entra ID's
    /// `https://login.microsoftonline.com/<tenant>/v2.0`; discovery is at
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// This server's `/ui/callback` as registered with the provider.
    pub redirect_url: String,
    /// PEM certificates trusted for the provider's TLS besides the system's
    /// roots (a test or private issuer).
    pub ca_pem: Option<Vec<u8>>,
    /// Which claims give which scopes; a person's scopes are the union of
    /// every mapping that matches.
    pub roles: Vec<RoleMapping>,
}

/// `[[oidc.roles]]`: a person whose claim `claim` is `value` (or, for a
/// list such as `groups`, holds it) gets `scopes`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleMapping {
    pub claim: String,
    pub value: String,
    pub scopes: Vec<Scope>,
}

/// Why a configuration is refused or a sign-in fails. Values a provider
/// sent are shown escaped (`{:?}`).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("[oidc] {0}")]
    Config(String),
    #[error("cannot reach the provider at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the provider's answer at {url} cannot be read: {detail}")]
    Answer { url: String, detail: String },
    #[error(
        "the provider's discovery document names issuer {found:?}, not the configured `{issuer}`: set [oidc] \
         issuer to exactly what the provider names"
    )]
    DiscoveredIssuer { found: String, issuer: String },
    #[error("no sign-in is under way in this browser (its cookie is missing, expired or altered): start again at /ui/sign-in")]
    NoFlow,
    #[error("the state sent back does not match the sign-in this browser started: start again at /ui/sign-in")]
    State,
    #[error("the provider refused the sign-in: {error:?}: {description:?}")]
    Refused { error: String, description: String },
    #[error("the provider sent back neither a code nor an error: start again at /ui/sign-in")]
    NoCode,
    #[error("the provider refused the code ({status}): {error:?}: {description:?}; a code is good once: start again at /ui/sign-in")]
    Code {
        status: u16,
        error: String,
        description: String,
    },
    #[error("the ID token is not a signed JWT: {0}")]
    Malformed(String),
    #[error("the ID token is signed with {0:?}; drbook accepts RS256 (what Entra ID uses)")]
    Algorithm(String),
    #[error("the ID token names key {0:?}, which the provider's JWKS does not publish")]
    UnknownKey(String),
    #[error("the ID token's signature does not verify with the provider's key: it was not issued by the configured issuer")]
    Signature,
    #[error("the ID token was issued by {found:?}, not by the configured issuer `{issuer}`")]
    Issuer { found: String, issuer: String },
    #[error("the ID token's audience is {found}, not this server's client_id `{client_id}`")]
    Audience { found: String, client_id: String },
    #[error("the ID token expired at {0} (Unix time; 60 s of leeway): sign in again, and if this repeats check this host's clock")]
    Expired(i64),
    #[error("the ID token carries no nonce: the provider must send back the nonce of the sign-in")]
    NoNonce,
    #[error("the ID token's nonce is not the one this sign-in sent (a token of another sign-in, replayed?)")]
    Nonce,
    #[error("the ID token has no subject (`sub`)")]
    NoSubject,
    #[error(
        "{name:?} signed in, but no [[oidc.roles]] mapping matches their claims, so they may do nothing: map one \
         of their groups (or another claim) to scopes in drbook.toml"
    )]
    NoRole { name: String },
}

/// The provider's endpoints, from its discovery document.
#[derive(Debug, Clone, Deserialize)]
struct Endpoints {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// One RSA signing key of the provider's JWKS.
#[derive(Debug, Clone)]
struct Key {
    kid: Option<String>,
    n: Vec<u8>,
    e: Vec<u8>,
}

/// A sign-in under way: what the flow cookie holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flow {
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) verifier: String,
    /// Unix seconds.
    pub(crate) expires: i64,
}

/// Who signed in: the principal's name, the provider's subject, the scopes
/// the roles give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Person {
    pub(crate) name: String,
    pub(crate) subject: String,
    pub(crate) scopes: Vec<Scope>,
}

/// The relying party of one provider; cheap to share (`Arc`).
pub struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    flow_key: [u8; 32],
    endpoints: Mutex<Option<Endpoints>>,
    keys: Mutex<Vec<Key>>,
}

fn random() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Oidc {
    /// Checks `config` (URLs, certificates, roles); the provider itself is
    /// first asked at the first sign-in, so a server starts while it is
    /// down.
    pub fn new(config: OidcConfig) -> Result<Oidc, OidcError> {
        let bad = OidcError::Config;
        let issuer = url::Url::parse(&config.issuer)
            .map_err(|e| bad(format!("issuer `{}` is not a URL: {e}", config.issuer)))?;
        let loopback = matches!(issuer.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if issuer.scheme() != "https" && !loopback {
            return Err(bad(format!(
                "issuer `{}` must be https:// (http:// only for a provider on this host)",
                config.issuer
            )));
        }
        let redirect = url::Url::parse(&config.redirect_url).map_err(|e| {
            bad(format!(
                "redirect_url `{}` is not a URL: {e}",
                config.redirect_url
            ))
        })?;
        if redirect.path() != "/ui/callback" {
            return Err(bad(format!(
                "redirect_url `{}` must be this server's /ui/callback, e.g. https://drbook.example.com/ui/callback",
                config.redirect_url
            )));
        }
        if config.client_id.is_empty() || config.client_secret.is_empty() {
            return Err(bad(
                "client_id and the client secret are needed: the provider's app registration has both".to_string(),
            ));
        }
        if config.roles.is_empty() || config.roles.iter().any(|r| r.scopes.is_empty()) {
            return Err(bad(
                "give at least one [[oidc.roles]], each with scopes, e.g. claim = \"groups\", value = \"dr-approvers\", \
                 scopes = [\"approver\"]"
                    .to_string(),
            ));
        }
        let mut http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(20));
        if let Some(pem) = &config.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| bad(format!("ca_file holds no PEM certificate: {e}")))?;
            if certs.is_empty() {
                return Err(bad("ca_file holds no PEM certificate".to_string()));
            }
            for cert in certs {
                http = http.add_root_certificate(cert);
            }
        }
        let http = http
            .build()
            .map_err(|e| bad(format!("the HTTP client: {e}")))?;
        let flow_key = Sha256::digest(format!("drbook-oidc-flow:{}", config.client_secret)).into();
        Ok(Oidc {
            config,
            http,
            flow_key,
            endpoints: Mutex::new(None),
            keys: Mutex::new(Vec::new()),
        })
    }

    /// The issuer, as the sign-in page names it.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// A new sign-in: its flow (for the cookie) and the provider's URL to
    /// send the browser to.
    pub(crate) async fn start(&self, now: i64) -> Result<(Flow, String), OidcError> {
        let endpoints = self.endpoints().await?;
        let flow = Flow {
            state: random(),
            nonce: random(),
            verifier: random(),
            expires: now + FLOW_SECS,
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(flow.verifier.as_bytes()));
        let mut url =
            url::Url::parse(&endpoints.authorization_endpoint).map_err(|e| OidcError::Answer {
                url: endpoints.authorization_endpoint.clone(),
                detail: e.to_string(),
            })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &self.config.redirect_url)
            .append_pair("scope", "openid profile email")
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok((flow, url.into()))
    }

    /// The flow cookie's value: the flow and its HMAC.
    pub(crate) fn seal(&self, flow: &Flow) -> String {
        let text = format!(
            "{}.{}.{}.{}",
            flow.state, flow.nonce, flow.verifier, flow.expires
        );
        let tag = self.mac(&text).finalize().into_bytes();
        format!("{text}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The flow of a cookie's value, if its HMAC holds and it has not
    /// expired.
    pub(crate) fn open(&self, sealed: &str, now: i64) -> Result<Flow, OidcError> {
        let (text, tag) = sealed.rsplit_once('.').ok_or(OidcError::NoFlow)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| OidcError::NoFlow)?;
        // `verify_slice` compares in constant time.
        self.mac(text)
            .verify_slice(&tag)
            .map_err(|_| OidcError::NoFlow)?;
        let mut parts = text.split('.');
        let mut part = || parts.next().map(str::to_string).ok_or(OidcError::NoFlow);
        let flow = Flow {
            state: part()?,
            nonce: part()?,
            verifier: part()?,
            expires: part()?.parse().map_err(|_| OidcError::NoFlow)?,
        };
        if flow.expires <= now {
            return Err(OidcError::NoFlow);
        }
        Ok(flow)
    }

    fn mac(&self, text: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.flow_key).expect("HMAC takes any key");
        mac.update(text.as_bytes());
        mac
    }

    /// Finishes a sign-in: redeems `code` for the flow's ID token, checks
    /// it and maps the person's claims to scopes.
    pub(crate) async fn finish(
        &self,
        flow: &Flow,
        code: &str,
        now: i64,
    ) -> Result<Person, OidcError> {
        let endpoints = self.endpoints().await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.config.redirect_url.as_str()),
            ("code_verifier", flow.verifier.as_str()),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.as_str()),
        ];
        let body = serde_urlencoded::to_string(form).expect("a form of strings encodes");
        let request = self
            .http
            .post(&endpoints.token_endpoint)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        let (status, answer) = self.send(&endpoints.token_endpoint, request).await?;
        let text = |v: &Value, name: &str| v[name].as_str().unwrap_or_default().to_string();
        if status != 200 {
            return Err(OidcError::Code {
                status,
                error: text(&answer, "error"),
                description: text(&answer, "error_description"),
            });
        }
        let token = answer["id_token"]
            .as_str()
            .ok_or_else(|| OidcError::Malformed("the token endpoint sent no id_token".into()))?;
        let claims = self.verify(&endpoints, token).await?;
        self.check(&claims, &flow.nonce, now)?;
        self.person(&claims)
    }

    /// The claims of `token` once its signature verifies.
    async fn verify(&self, endpoints: &Endpoints, token: &str) -> Result<Value, OidcError> {
        let malformed = |why: &str| OidcError::Malformed(why.to_string());
        let (input, signature) = token
            .rsplit_once('.')
            .ok_or_else(|| malformed("no signature"))?;
        let (header, payload) = input
            .split_once('.')
            .ok_or_else(|| malformed("no payload"))?;
        let decode = |part: &str| -> Result<Value, OidcError> {
            let bytes = URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| malformed("a part is not base64url"))?;
            serde_json::from_slice(&bytes).map_err(|_| malformed("a part is not JSON"))
        };
        let header = decode(header)?;
        let alg = header["alg"].as_str().unwrap_or_default();
        if alg != "RS256" {
            return Err(OidcError::Algorithm(alg.to_string()));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| malformed("the signature is not base64url"))?;
        let kid = header["kid"].as_str();
        let keys = self.keys_for(endpoints, kid).await?;
        let verified = keys.iter().any(|key| {
            RsaPublicKeyComponents {
                n: &key.n,
                e: &key.e,
            }
            .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &signature)
            .is_ok()
        });
        if !verified {
            return Err(OidcError::Signature);
        }
        decode(payload)
    }

    /// The keys a token naming `kid` may be signed by: that key (the JWKS
    /// fetched again if the cache lacks it), or every key without a `kid`.
    async fn keys_for(
        &self,
        endpoints: &Endpoints,
        kid: Option<&str>,
    ) -> Result<Vec<Key>, OidcError> {
        let mut cached = self.keys.lock().await;
        let pick = |keys: &[Key]| -> Vec<Key> {
            keys.iter()
                .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
                .cloned()
                .collect()
        };
        let found = pick(&cached);
        if !found.is_empty() {
            return Ok(found);
        }
        *cached = self.fetch_keys(endpoints).await?;
        let found = pick(&cached);
        if found.is_empty() {
            return Err(OidcError::UnknownKey(kid.unwrap_or_default().to_string()));
        }
        Ok(found)
    }

    async fn fetch_keys(&self, endpoints: &Endpoints) -> Result<Vec<Key>, OidcError> {
        let url = &endpoints.jwks_uri;
        let (status, jwks) = self.send(url, self.http.get(url)).await?;
        let keys = jwks["keys"]
            .as_array()
            .filter(|_| status == 200)
            .ok_or_else(|| OidcError::Answer {
                url: url.clone(),
                detail: format!("{status}, and no `keys` list"),
            })?;
        let part = |key: &Value, name: &str| {
            key[name]
                .as_str()
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                .map(|v| {
                    // Big-endian without leading zeros, as the check wants.
                    let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
                    v[start..].to_vec()
                })
        };
        Ok(keys
            .iter()
            .filter(|k| k["kty"] == "RSA" && k["use"].as_str().is_none_or(|u| u == "sig"))
            .filter_map(|k| {
                Some(Key {
                    kid: k["kid"].as_str().map(str::to_string),
                    n: part(k, "n")?,
                    e: part(k, "e")?,
                })
            })
            .collect())
    }

    /// The checks of a verified token's claims.
    fn check(&self, claims: &Value, nonce: &str, now: i64) -> Result<(), OidcError> {
        let issuer = claims["iss"].as_str().unwrap_or_default();
        if issuer != self.config.issuer {
            return Err(OidcError::Issuer {
                found: issuer.to_string(),
                issuer: self.config.issuer.clone(),
            });
        }
        let client = self.config.client_id.as_str();
        let audience_ok = match &claims["aud"] {
            Value::String(aud) => aud == client,
            Value::Array(auds) => {
                auds.iter().any(|a| a == client)
                    && (auds.len() == 1 || claims["azp"].as_str() == Some(client))
            }
            _ => false,
        };
        if !audience_ok {
            return Err(OidcError::Audience {
                // JSON: whatever the provider sent, escaped.
                found: claims["aud"].to_string(),
                client_id: self.config.client_id.clone(),
            });
        }
        let expires = claims["exp"].as_i64().unwrap_or(0);
        if now > expires + LEEWAY_SECS {
            return Err(OidcError::Expired(expires));
        }
        let sent = claims["nonce"].as_str().ok_or(OidcError::NoNonce)?;
        let same = Sha256::digest(sent.as_bytes()) == Sha256::digest(nonce.as_bytes());
        if !same {
            return Err(OidcError::Nonce);
        }
        Ok(())
    }

    /// Who the claims name, with the scopes the roles give them.
    fn person(&self, claims: &Value) -> Result<Person, OidcError> {
        let subject = claims["sub"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or(OidcError::NoSubject)?
            .to_string();
        let name = ["email", "preferred_username"]
            .iter()
            .find_map(|claim| claims[claim].as_str().filter(|s| !s.is_empty()))
            .unwrap_or(&subject)
            .to_string();
        let holds = |claim: &Value, value: &str| match claim {
            Value::Array(values) => values.iter().any(|v| v.as_str() == Some(value)),
            Value::String(v) => v == value,
            // A number or a boolean, as TOML's string writes it.
            other => serde_json::from_str::<Value>(value).is_ok_and(|v| v == *other),
        };
        let mut scopes: Vec<Scope> = self
            .config
            .roles
            .iter()
            .filter(|role| holds(&claims[role.claim.as_str()], &role.value))
            .flat_map(|role| role.scopes.iter().copied())
            .collect();
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(OidcError::NoRole { name });
        }
        Ok(Person {
            name,
            subject,
            scopes,
        })
    }

    /// The provider's endpoints, discovered once.
    async fn endpoints(&self) -> Result<Endpoints, OidcError> {
        let mut cached = self.endpoints.lock().await;
        if let Some(endpoints) = cached.as_ref() {
            return Ok(endpoints.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let (status, answer) = self.send(&url, self.http.get(&url)).await?;
        let endpoints: Endpoints = serde_json::from_value(answer)
            .ok()
            .filter(|_| status == 200)
            .ok_or_else(|| OidcError::Answer {
                url: url.clone(),
                detail: format!("{status}, not a discovery document"),
            })?;
        if endpoints.issuer != self.config.issuer {
            return Err(OidcError::DiscoveredIssuer {
                found: endpoints.issuer,
                issuer: self.config.issuer.clone(),
            });
        }
        *cached = Some(endpoints.clone());
        Ok(endpoints)
    }

    /// Sends `request` to the provider: its status and JSON answer.
    async fn send(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Value), OidcError> {
        let unreachable = |e: reqwest::Error| OidcError::Unreachable {
            url: url.to_string(),
            detail: e.to_string(),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(unreachable)?;
        let unreadable = |detail: &str| OidcError::Answer {
            url: url.to_string(),
            detail: format!("{status}, {detail}"),
        };
        if body.len() > MAX_ANSWER {
            return Err(unreadable("larger than 256 KiB"));
        }
        let answer = serde_json::from_slice(&body).map_err(|_| unreadable("not JSON"))?;
        Ok((status, answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc() -> Oidc {
        Oidc::new(OidcConfig {
            issuer: "https://login.microsoftonline.com/tenant/v2.0".to_string(),
            client_id: "drbook".to_string(),
            client_secret: "s3cret".to_string(),
            redirect_url: "https://drbook.example.com/ui/callback".to_string(),
            ca_pem: None,
            roles: vec![RoleMapping {
                claim: "groups".to_string(),
                value: "dr-approvers".to_string(),
                scopes: vec![Scope::Approver],
            }],
        })
        .unwrap()
    }

    #[test]
    fn a_sealed_flow_opens_until_it_expires_and_not_once_altered() {
        let oidc = oidc();
        let flow = Flow {
            state: random(),
            nonce: random(),
            verifier: random(),
            expires: 1_000,
        };
        let sealed = oidc.seal(&flow);
        assert_eq!(oidc.open(&sealed, 999).unwrap(), flow);
        assert!(matches!(oidc.open(&sealed, 1_000), Err(OidcError::NoFlow)));
        let altered = sealed.replacen(&flow.state, &random(), 1);
        assert!(matches!(oidc.open(&altered, 999), Err(OidcError::NoFlow)));
    }

    #[test]
    fn a_configuration_is_checked_with_a_message_naming_the_fix() {
        let config = oidc().config;
        let refused = |config: OidcConfig| Oidc::new(config).err().unwrap().to_string();
        let plain = OidcConfig {
            issuer: "http://login.example.com".to_string(),
            ..config.clone()
        };
        assert!(refused(plain).contains("must be https://"));
        let elsewhere = OidcConfig {
            redirect_url: "https://drbook.example.com/".to_string(),
            ..config.clone()
        };
        assert!(refused(elsewhere).contains("/ui/callback"));
        let no_roles = OidcConfig {
            roles: Vec::new(),
            ..config
        };
        assert!(refused(no_roles).contains("[[oidc.roles]]"));
    }

    #[test]
    fn claims_map_to_the_union_of_the_matching_roles_scopes() {
        let mut oidc = oidc();
        oidc.config.roles.push(RoleMapping {
            claim: "roles".to_string(),
            value: "DR.Operator".to_string(),
            scopes: vec![Scope::Operator, Scope::Viewer],
        });
        let claims = serde_json::json!({ "sub": "s", "email": "a@example.com",
            "groups": ["other", "dr-approvers"], "roles": "DR.Operator" });
        let person = oidc.person(&claims).unwrap();
        assert_eq!(person.name, "a@example.com");
        assert_eq!(
            person.scopes,
            [Scope::Viewer, Scope::Operator, Scope::Approver]
        );
        let outsider = serde_json::json!({ "sub": "s", "groups": ["other"] });
        assert!(matches!(
            oidc.person(&outsider),
            Err(OidcError::NoRole { name }) if name == "s"
        ));
    }
}
