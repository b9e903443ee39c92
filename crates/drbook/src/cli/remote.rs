//! A remote `drbook serve`, reached through its JSON API (`--server URL
//! --token T`, or `DRBOOK_SERVER` and `DRBOOK_TOKEN`): what `drbook jobs`
//! drives instead of a local job store.
//!
//! The server's certificate is checked against the system's roots, or
//! against `--ca-cert FILE`'s, or pinned (`--server-fingerprint`: the
//! SHA-256 that `drbook serve --tls-self-signed` prints), which is how a
//! client trusts a self-signed server without its CA file.

use anyhow::Context as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

use super::{Global, InputError};

/// How long one connection of a live stream lasts at most (the client's
/// timeout of every other request is a minute): a longer follow opens it
/// again, resuming where it was.
const STREAM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// A server and the token its requests carry.
pub struct Remote {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Remote {
    /// The server `global` names, if it names one.
    pub fn of(global: &Global) -> anyhow::Result<Option<Remote>> {
        let Some(server) = &global.server else {
            return Ok(None);
        };
        let base = server.trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(InputError::new(format!(
                "--server {server}: give the server's URL, https://HOST:PORT (or http:// for one without TLS)"
            ))
            .into());
        }
        let token = global.token.clone().filter(|t| !t.is_empty()).ok_or_else(|| {
            InputError::new(
                "--server needs an API token: --token or DRBOOK_TOKEN (`drbook token create` on the server's host \
                 makes one)",
            )
        })?;
        let mut http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(60));
        if let Some(tls) = client_tls(global)? {
            http = http.tls_backend_preconfigured(tls);
        }
        let http = http.build().context("making the HTTP client")?;
        Ok(Some(Remote { base, token, http }))
    }

    /// `GET path` with `query`, its JSON answer.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let request = self.http.get(format!("{}{path}", self.base)).query(query);
        self.send(request).await
    }

    /// `POST path` with a JSON `body`, its JSON answer.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<T> {
        let request = self.http.post(format!("{}{path}", self.base)).json(body);
        self.send(request).await
    }

    /// `GET path`, a live stream of server-sent events, resumed after
    /// event `after` (its `Last-Event-ID`): the response, its body (the
    /// events) still to read. Its connection lasts up to [`STREAM_TIMEOUT`]
    /// (a caller opens it again, resuming).
    pub async fn events(&self, path: &str, after: i64) -> anyhow::Result<reqwest::Response> {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .header("accept", "text/event-stream")
            .header("last-event-id", after.to_string())
            .timeout(STREAM_TIMEOUT);
        self.respond(request).await
    }

    /// Sends `request` with the token; its JSON answer.
    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<T> {
        let response = self.respond(request).await?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .context("reading the server's answer")?;
        serde_json::from_slice(&body).with_context(|| {
            format!("the server's answer is not what this drbook reads ({status})")
        })
    }

    /// Sends `request` with the token; the response if it succeeded. A
    /// refusal (4xx) is the caller's input error (exit 2), with the
    /// server's message.
    async fn respond(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response
            .bytes()
            .await
            .context("reading the server's answer")?;
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        let error = format!("the server refused ({status}): {message}");
        if status.is_client_error() {
            Err(InputError::new(error).into())
        } else {
            Err(anyhow::anyhow!(error))
        }
    }
}

/// The TLS configuration `--ca-cert` or `--server-fingerprint` asks for;
/// `None`: reqwest's own (the system's roots).
fn client_tls(global: &Global) -> anyhow::Result<Option<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("the TLS configuration")?;
    let config = match (&global.server_fingerprint, &global.ca_cert) {
        (Some(_), Some(_)) => return Err(InputError::new(
            "give --ca-cert or --server-fingerprint, not both: a pinned certificate needs no CA",
        )
        .into()),
        (Some(pin), None) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned::new(pin, provider)?))
            .with_no_client_auth(),
        (None, Some(file)) => builder
            .with_root_certificates(roots(file)?)
            .with_no_client_auth(),
        (None, None) => return Ok(None),
    };
    Ok(Some(config))
}

fn roots(file: &Path) -> anyhow::Result<rustls::RootCertStore> {
    let bad = |detail: String| InputError::new(format!("--ca-cert {}: {detail}", file.display()));
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(file).map_err(|e| bad(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no PEM certificate in it".to_string()).into());
    }
    Ok(roots)
}

/// Accepts exactly the server certificate whose SHA-256 is pinned; the
/// handshake's signatures are still checked with that certificate's key.
#[derive(Debug)]
struct Pinned {
    sha256: String,
    provider: Arc<CryptoProvider>,
}

impl Pinned {
    fn new(pin: &str, provider: Arc<CryptoProvider>) -> anyhow::Result<Self> {
        let sha256: String = pin
            .chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_ascii_lowercase();
        if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(InputError::new(format!(
                "--server-fingerprint {pin}: give the SHA-256 `drbook serve` printed (64 hex digits, colons allowed)"
            ))
            .into());
        }
        Ok(Pinned { sha256, provider })
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let found = hex::encode(Sha256::digest(end_entity.as_ref()));
        if found == self.sha256 {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate has SHA-256 {found}, not the pinned {}",
                self.sha256
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
