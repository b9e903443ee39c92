//! Entra ID tokens for ARM, from `azure_identity` 1.x. There is no
//! `DefaultAzureCredential` in 1.x, so the chain is drbook's: which
//! credentials it tries, in which order, is configuration
//! ([`CredentialConfig`]). One [`Credentials`] serves a whole process, so
//! its token is fetched once and reused until `azure_identity`'s cache
//! refreshes it (five minutes before it expires).
//!
//! Secrets never leave this module: a client secret is read from the
//! environment or a file when the credential is built, kept in
//! `azure_core`'s `Secret` (whose `Debug` is redacted), and neither it nor a
//! token is ever logged or stored.

use crate::error::ArmError;
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One way to get a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialKind {
    /// Kubernetes workload identity: `AZURE_FEDERATED_TOKEN_FILE`,
    /// `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` (set by the AKS webhook).
    WorkloadIdentity,
    /// A managed identity: App Service's `IDENTITY_ENDPOINT` +
    /// `IDENTITY_HEADER` when set, else the VM's IMDS endpoint. A client id
    /// picks a user-assigned identity.
    ManagedIdentity,
    /// A service principal's client secret, read from `AZURE_CLIENT_SECRET`
    /// or from the file [`CredentialConfig::client_secret_file`] names.
    ClientSecret,
    /// The Azure CLI's signed-in account (`az login`): a developer's laptop.
    AzureCli,
    /// A token endpoint of App Service's protocol named by the
    /// configuration ([`CredentialConfig::token_endpoint`]) instead of the
    /// environment: for the ARM emulator, where several endpoints live in
    /// one process (tests). In Azure, use `managed-identity`.
    TokenEndpoint,
}

impl CredentialKind {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "workload-identity" => CredentialKind::WorkloadIdentity,
            "managed-identity" => CredentialKind::ManagedIdentity,
            "client-secret" => CredentialKind::ClientSecret,
            "azure-cli" => CredentialKind::AzureCli,
            "token-endpoint" => CredentialKind::TokenEndpoint,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            CredentialKind::WorkloadIdentity => "workload-identity",
            CredentialKind::ManagedIdentity => "managed-identity",
            CredentialKind::ClientSecret => "client-secret",
            CredentialKind::AzureCli => "azure-cli",
            CredentialKind::TokenEndpoint => "token-endpoint",
        }
    }
}

/// Which credentials to try, and their settings. `kinds` empty means the
/// chain: each one whose environment is present, in the order workload
/// identity, managed identity (only where `IDENTITY_ENDPOINT` says there is
/// one: probing IMDS off Azure only times out), client secret, Azure CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialConfig {
    pub kinds: Vec<CredentialKind>,
    /// The tenant (client secret, workload identity, Azure CLI).
    pub tenant_id: Option<String>,
    /// The application's client id (client secret, workload identity), or a
    /// user-assigned managed identity's.
    pub client_id: Option<String>,
    /// A file holding the client secret (instead of `AZURE_CLIENT_SECRET`).
    pub client_secret_file: Option<PathBuf>,
    /// The `token-endpoint` credential's URL (`IDENTITY_ENDPOINT`'s form).
    pub token_endpoint: Option<String>,
    /// Its `X-IDENTITY-HEADER` secret; `IDENTITY_HEADER` when `None`.
    pub token_endpoint_secret: Option<Redacted>,
}

/// A secret in a configuration: compared, cloned, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl CredentialConfig {
    /// The kinds to try, in order.
    pub fn chain(&self) -> Vec<CredentialKind> {
        if !self.kinds.is_empty() {
            return self.kinds.clone();
        }
        let mut chain = Vec::new();
        if self.token_endpoint.is_some() {
            chain.push(CredentialKind::TokenEndpoint);
        }
        if env("AZURE_FEDERATED_TOKEN_FILE").is_some() {
            chain.push(CredentialKind::WorkloadIdentity);
        }
        if env("IDENTITY_ENDPOINT").is_some() || env("MSI_ENDPOINT").is_some() {
            chain.push(CredentialKind::ManagedIdentity);
        }
        if env("AZURE_CLIENT_SECRET").is_some() || self.client_secret_file.is_some() {
            chain.push(CredentialKind::ClientSecret);
        }
        chain.push(CredentialKind::AzureCli);
        chain
    }

    fn build(
        &self,
        kind: &CredentialKind,
        http: &reqwest::Client,
    ) -> Result<Arc<dyn TokenCredential>, String> {
        // The credential's requests go through drbook's client: the same
        // TLS roots (an emulator's CA in tests) and connection pool.
        let client_options = ClientOptions {
            transport: Some(Transport::new(Arc::new(http.clone()))),
            ..ClientOptions::default()
        };
        let tenant = || {
            self.tenant_id
                .clone()
                .or_else(|| env("AZURE_TENANT_ID"))
                .ok_or("no tenant: set [fabric] tenant-id or AZURE_TENANT_ID")
        };
        let client_id = || {
            self.client_id
                .clone()
                .or_else(|| env("AZURE_CLIENT_ID"))
                .ok_or("no client id: set [fabric] client-id or AZURE_CLIENT_ID")
        };
        let built: azure_core::Result<Arc<dyn TokenCredential>> = match kind {
            CredentialKind::WorkloadIdentity => {
                let mut options = WorkloadIdentityCredentialOptions {
                    client_id: self.client_id.clone(),
                    tenant_id: self.tenant_id.clone(),
                    ..WorkloadIdentityCredentialOptions::default()
                };
                options.credential_options.client_options = client_options;
                WorkloadIdentityCredential::new(Some(options)).map(|c| c as _)
            }
            CredentialKind::ManagedIdentity => {
                ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    user_assigned_id: self.client_id.clone().map(UserAssignedId::ClientId),
                    client_options,
                }))
                .map(|c| c as _)
            }
            CredentialKind::ClientSecret => {
                let secret = self.client_secret()?;
                ClientSecretCredential::new(
                    &tenant()?,
                    client_id()?,
                    secret,
                    Some(ClientSecretCredentialOptions { client_options }),
                )
                .map(|c| c as _)
            }
            CredentialKind::AzureCli => AzureCliCredential::new(Some(AzureCliCredentialOptions {
                // `az account get-access-token --tenant`: the token of that
                // tenant, whichever az's default account is.
                tenant_id: self.tenant_id.clone().or_else(|| env("AZURE_TENANT_ID")),
                ..AzureCliCredentialOptions::default()
            }))
            .map(|c| c as _),
            CredentialKind::TokenEndpoint => {
                let url = self
                    .token_endpoint
                    .clone()
                    .ok_or("no token endpoint: set [fabric] token-endpoint")?;
                let secret = self
                    .token_endpoint_secret
                    .clone()
                    .map(|s| s.0)
                    .or_else(|| env("IDENTITY_HEADER"))
                    .ok_or("no secret for the token endpoint: set IDENTITY_HEADER")?;
                return Ok(Arc::new(EndpointCredential {
                    http: http.clone(),
                    url,
                    secret: Secret::new(secret),
                    cache: tokio::sync::Mutex::new(None),
                }));
            }
        };
        built.map_err(|e| e.to_string())
    }

    /// The client secret, from its file (first line, trimmed) or
    /// `AZURE_CLIENT_SECRET`. The error never contains the secret.
    fn client_secret(&self) -> Result<Secret, String> {
        if let Some(path) = &self.client_secret_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!("cannot read the client secret file {}: {e}", path.display())
            })?;
            let secret = text.lines().next().unwrap_or("").trim().to_string();
            if secret.is_empty() {
                return Err(format!(
                    "the client secret file {} is empty",
                    path.display()
                ));
            }
            return Ok(Secret::new(secret));
        }
        env("AZURE_CLIENT_SECRET").map(Secret::new).ok_or_else(|| {
            "no client secret: set AZURE_CLIENT_SECRET or [fabric] client-secret-file".into()
        })
    }
}

/// The `token-endpoint` credential: App Service's managed-identity protocol
/// (`GET {endpoint}?resource=...&api-version=2019-08-01` with
/// `X-IDENTITY-HEADER`), as `azure_identity` speaks it, with its cache
/// (refreshed five minutes before expiry).
struct EndpointCredential {
    http: reqwest::Client,
    url: String,
    secret: Secret,
    cache: tokio::sync::Mutex<Option<azure_core::credentials::AccessToken>>,
}

impl std::fmt::Debug for EndpointCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointCredential")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct EndpointToken {
    access_token: String,
    /// Unix seconds, a string or a number.
    expires_on: serde_json::Value,
}

#[async_trait::async_trait]
impl TokenCredential for EndpointCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        use azure_core::time::{Duration, OffsetDateTime};
        let fail = |message: String| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, message)
        };
        let mut cache = self.cache.lock().await;
        if let Some(token) = cache.as_ref() {
            if token.expires_on > OffsetDateTime::now_utc() + Duration::seconds(300) {
                return Ok(token.clone());
            }
        }
        let scope = scopes.first().copied().unwrap_or_default();
        let resource = scope.trim_end_matches("/.default");
        let response = self
            .http
            .get(&self.url)
            .query(&[("api-version", "2019-08-01"), ("resource", resource)])
            .header("x-identity-header", self.secret.secret())
            .send()
            .await
            .map_err(|e| {
                fail(format!(
                    "the token endpoint {}: {}",
                    self.url,
                    e.without_url()
                ))
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(fail(format!(
                "the token endpoint {} answered {status}",
                self.url
            )));
        }
        let token: EndpointToken = response
            .json()
            .await
            .map_err(|e| fail(format!("the token endpoint's answer: {}", e.without_url())))?;
        let expires = match &token.expires_on {
            serde_json::Value::String(s) => s.parse::<i64>().ok(),
            serde_json::Value::Number(n) => n.as_i64(),
            _ => None,
        }
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .ok_or_else(|| fail("the token endpoint's expires_on is not Unix seconds".into()))?;
        let token = azure_core::credentials::AccessToken::new(token.access_token, expires);
        *cache = Some(token.clone());
        Ok(token)
    }
}

/// The process's tokens for ARM: the first credential of the chain that
/// gives one, and its token, reused until five minutes before it expires.
/// The token is kept here, not only in the credential: azure_identity's
/// `AzureCliCredential` keeps none, so without this every ARM request
/// would run `az account get-access-token` (a Python process) again.
pub struct Credentials {
    config: CredentialConfig,
    http: reqwest::Client,
    scope: String,
    current: tokio::sync::Mutex<Option<Current>>,
    fetches: AtomicU64,
    refreshes: AtomicU64,
}

/// The credential that gave the last token, and that token.
struct Current {
    kind: CredentialKind,
    credential: Arc<dyn TokenCredential>,
    token: azure_core::credentials::AccessToken,
}

impl Current {
    /// The token, while it is good for five more minutes (azure_identity's
    /// own margin).
    fn fresh(&self) -> Option<Secret> {
        let margin = azure_core::time::Duration::seconds(300);
        (self.token.expires_on > azure_core::time::OffsetDateTime::now_utc() + margin)
            .then(|| self.token.token.clone())
    }
}

impl Credentials {
    /// `scope` is the ARM endpoint's, `https://management.azure.com/.default`
    /// for the public cloud.
    pub fn new(config: CredentialConfig, http: reqwest::Client, scope: String) -> Self {
        Credentials {
            config,
            http,
            scope,
            current: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
        }
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// A bearer token for ARM, and the kind of credential that gave it.
    pub async fn token(&self) -> Result<(Secret, CredentialKind), ArmError> {
        let mut current = self.current.lock().await;
        if let Some(held) = current.as_mut() {
            if let Some(token) = held.fresh() {
                return Ok((token, held.kind.clone()));
            }
            match held.credential.get_token(&[&self.scope], None).await {
                Ok(token) => {
                    held.token = token;
                    return Ok((held.token.token.clone(), held.kind.clone()));
                }
                Err(e) => {
                    tracing::warn!(credential = held.kind.name(), error = %failure(&held.kind, &e), "token refresh failed; trying the chain again");
                    *current = None;
                }
            }
        }
        let mut failures = Vec::new();
        for kind in self.config.chain() {
            let credential = match self.config.build(&kind, &self.http) {
                Ok(credential) => credential,
                Err(e) => {
                    failures.push(format!("{}: {e}", kind.name()));
                    continue;
                }
            };
            self.fetches.fetch_add(1, Ordering::Relaxed);
            match credential.get_token(&[&self.scope], None).await {
                Ok(token) => {
                    tracing::debug!(credential = kind.name(), "got an ARM token");
                    let secret = token.token.clone();
                    *current = Some(Current {
                        kind: kind.clone(),
                        credential,
                        token,
                    });
                    return Ok((secret, kind));
                }
                Err(e) => failures.push(format!("{}: {}", kind.name(), failure(&kind, &e))),
            }
        }
        Err(ArmError::Unauthenticated(format!(
            "no credential gave a token ({})",
            failures.join("; ")
        )))
    }

    /// Drops the cached credential, so that the next [`Credentials::token`]
    /// builds a fresh one and fetches a new token: what a 401 calls for
    /// (a revoked or rotated token the cache would keep handing out).
    pub async fn refresh(&self) {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        *self.current.lock().await = None;
    }

    /// How many tokens were fetched from a credential (not the cache's) and
    /// how many refreshes a 401 forced.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.fetches.load(Ordering::Relaxed),
            self.refreshes.load(Ordering::Relaxed),
        )
    }
}

/// Why `kind` gave no token. The Azure CLI's error is its stderr, which
/// for an unexpected error holds a Python traceback: its lines are left
/// out (az's own `ERROR:` and `WARNING:` lines, and the exceptions they
/// end in, say what happened), so that the message fits on a screen.
fn failure(kind: &CredentialKind, error: &azure_core::Error) -> String {
    let text = error.to_string();
    if *kind != CredentialKind::AzureCli {
        return text;
    }
    text.lines()
        .filter(|line| {
            !(line.starts_with(char::is_whitespace)
                || line.trim().is_empty()
                || line.starts_with("Traceback (most recent call last)")
                || line.starts_with("During handling of the above exception")
                || line.contains("Here is the traceback:")
                || line.starts_with("To check existing issues"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a token says about who holds it: its claims, decoded without
/// verification (ARM verifies; this is for `drbook azure check`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Claims {
    /// The tenant.
    pub tid: Option<String>,
    /// The principal's object id.
    pub oid: Option<String>,
    /// The application (client) id of a service principal or identity.
    pub appid: Option<String>,
    pub azp: Option<String>,
    /// A user's sign-in name.
    pub upn: Option<String>,
    pub unique_name: Option<String>,
    pub iss: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: Option<i64>,
}

impl Claims {
    /// The claims of a JWT, `None` if it is not one.
    pub fn of(token: &str) -> Option<Claims> {
        use base64::Engine;
        let payload = token.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// A name for the principal: a user's sign-in name, else its
    /// application id, else its object id.
    pub fn principal(&self) -> String {
        self.upn
            .clone()
            .or_else(|| self.unique_name.clone())
            .or_else(|| self.appid.clone().map(|id| format!("application {id}")))
            .or_else(|| self.azp.clone().map(|id| format!("application {id}")))
            .or_else(|| self.oid.clone().map(|id| format!("object {id}")))
            .unwrap_or_else(|| "an unnamed principal".to_string())
    }
}
