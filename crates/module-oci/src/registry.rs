//! [`Registry`]: runbook modules pushed to and pulled from OCI registries,
//! the [`ModuleSource`] for `oci://` references.
//!
//! A pull resolves the reference to a manifest (by tag: one manifest request,
//! as tags move; by digest: none if the local store has it), checks that it
//! is a runbook's (one `application/wasm` layer), and takes the layer from
//! the local store or the registry, checked against its digest before it is
//! stored or returned. The [`Module`] it returns is named by the repository's
//! last component and comes from the reference pinned to the manifest's
//! digest, which is what a job records.
//!
//! Offline (`DRBOOK_REGISTRY_OFFLINE=1`), no registry is asked: a tag
//! resolves to the manifest it last resolved to in this data dir (each pull
//! or push by tag records it), and what the store lacks is refused.
//!
//! Plain HTTP is spoken only to loopback hosts (`127.0.0.1`, `::1`,
//! `localhost`) and to the registries the configuration lists as insecure;
//! every other registry is HTTPS, trusting the system's roots and
//! `SSL_CERT_FILE`'s.

use async_trait::async_trait;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::RegistryOperation;
use std::path::PathBuf;
use std::time::Duration;

use crate::artifact::{self, MANIFEST_MEDIA_TYPE};
use crate::credentials::{Credentials, Lookup};
use crate::{LocalStore, OciError, Reference};
use drbook_core::module::{digest, Module, ModuleError, ModuleSource};

/// How this host reaches registries.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The data dir, whose `modules/` is the local store.
    pub data_dir: PathBuf,
    /// `host[:port]`s spoken to over plain HTTP although not loopback
    /// (`[registries] insecure` in drbook.toml).
    pub insecure: Vec<String>,
    pub credentials: Lookup,
    /// Extra roots for HTTPS (`SSL_CERT_FILE`), PEM.
    pub ca_file: Option<PathBuf>,
    /// The largest module pulled (`--module-bytes`), refused from its
    /// manifest before it is downloaded.
    pub max_module_bytes: u64,
    /// Ask no registry (`DRBOOK_REGISTRY_OFFLINE=1`): a tag resolves to the
    /// digest it last resolved to here, and what the local store lacks is
    /// an error.
    pub offline: bool,
}

impl Settings {
    /// `data_dir`'s store, credentials and `SSL_CERT_FILE` from the
    /// environment, no insecure registry, modules up to 32 MiB.
    pub fn new(data_dir: PathBuf) -> Settings {
        Settings {
            data_dir,
            insecure: Vec::new(),
            credentials: Lookup::from_env(),
            ca_file: std::env::var_os("SSL_CERT_FILE").map(PathBuf::from),
            max_module_bytes: 32 << 20,
            offline: std::env::var("DRBOOK_REGISTRY_OFFLINE").is_ok_and(|v| v == "1"),
        }
    }
}

/// Runbook modules in OCI registries, kept in a local store.
#[derive(Debug, Clone)]
pub struct Registry {
    settings: Settings,
    store: LocalStore,
}

/// What a push left in the registry.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The reference pinned to the pushed manifest's digest.
    pub reference: Reference,
    /// The module's own digest (what a job is pinned to).
    pub module_digest: String,
}

/// One conversation with one registry: its client and what it is asked with.
struct Session {
    client: oci_client::Client,
    auth: RegistryAuth,
    credentials: Option<Credentials>,
}

impl Registry {
    pub fn new(settings: Settings) -> Registry {
        Registry {
            store: LocalStore::in_data_dir(&settings.data_dir),
            settings,
        }
    }

    pub fn store(&self) -> &LocalStore {
        &self.store
    }

    /// Whether `registry` is spoken to over plain HTTP.
    pub fn plain_http(&self, registry: &str) -> bool {
        let host = crate::reference::host_of(registry);
        matches!(host, "127.0.0.1" | "[::1]" | "localhost")
            || self
                .settings
                .insecure
                .iter()
                .any(|i| i == registry || i == host)
    }

    fn session(&self, reference: &Reference) -> Result<Session, OciError> {
        let protocol = if self.plain_http(&reference.registry) {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let roots = match &self.settings.ca_file {
            Some(file) => pem_certificates(file)?,
            None => Vec::new(),
        };
        let config = |merge: bool| ClientConfig {
            protocol: protocol.clone(),
            extra_root_certificates: if merge { roots.clone() } else { Vec::new() },
            tls_certs_only: if merge { Vec::new() } else { roots.clone() },
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            user_agent: concat!("drbook/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        // The system's roots and SSL_CERT_FILE's where the verifier merges
        // them; SSL_CERT_FILE's alone where it cannot (as OpenSSL does).
        let client = oci_client::Client::try_from(config(true))
            .or_else(|_| oci_client::Client::try_from(config(false)))
            .map_err(|e| OciError::Client {
                problem: format!("cannot build the HTTPS client: {e}"),
            })?;
        let credentials = self
            .settings
            .credentials
            .for_registry(&reference.registry)?;
        let auth = match &credentials {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
            None => RegistryAuth::Anonymous,
        };
        Ok(Session {
            client,
            auth,
            credentials,
        })
    }

    /// Pushes `module` (a component's bytes, signatures and all) to
    /// `reference`'s repository as a CNCF Wasm artifact, tagged with its
    /// tag; keeps it in the local store too.
    pub async fn push(&self, module: &[u8], reference: &Reference) -> Result<Pushed, OciError> {
        let (config, manifest) =
            artifact::pack(module, None).map_err(|problem| OciError::NotAModule {
                reference: reference.to_string(),
                problem,
            })?;
        let session = self.session(reference)?;
        let target = reference.to_client();
        let fail = |e| classify(e, reference, &session, "push");
        session
            .client
            .auth(&target, &session.auth, RegistryOperation::Push)
            .await
            .map_err(fail)?;
        let module_digest = digest(module);
        let config_digest = digest(&config);
        for (bytes, blob) in [(module, &module_digest), (&config[..], &config_digest)] {
            session
                .client
                .push_blob(&target, bytes.to_vec(), blob)
                .await
                .map_err(fail)?;
        }
        session
            .client
            .push_manifest_raw(
                &target,
                manifest.clone(),
                MANIFEST_MEDIA_TYPE
                    .parse()
                    .expect("a media type is a header value"),
            )
            .await
            .map_err(fail)?;
        let manifest_digest = digest(&manifest);
        self.store.put(&module_digest, module)?;
        self.store.put(&manifest_digest, &manifest)?;
        if let Some(tag) = &reference.tag {
            self.store.put_tag(
                &reference.registry,
                &reference.repository,
                tag,
                &manifest_digest,
            )?;
        }
        Ok(Pushed {
            reference: reference.pinned(&manifest_digest),
            module_digest,
        })
    }

    /// The module `reference` names (see the module docs).
    pub async fn pull(&self, reference: &Reference) -> Result<Module, OciError> {
        if let Some(pinned) = &reference.digest {
            if let Some(module) = self.stored(reference, pinned)? {
                return Ok(module);
            }
        }
        if self.settings.offline {
            let known = reference.tag.as_ref().and_then(|tag| {
                self.store
                    .tag(&reference.registry, &reference.repository, tag)
            });
            let stored = match (&reference.digest, known) {
                (None, Some(digest)) => self.stored(&reference.pinned(&digest), &digest)?,
                _ => None,
            };
            return stored.ok_or_else(|| OciError::Offline {
                reference: reference.to_string(),
            });
        }
        let session = self.session(reference)?;
        let target = reference.to_client();
        let fail = |e| classify(e, reference, &session, "pull");
        let (manifest, manifest_digest) = session
            .client
            .pull_manifest_raw(&target, &session.auth, &[MANIFEST_MEDIA_TYPE])
            .await
            .map_err(fail)?;
        // oci-client checks the body against a pinned digest and the
        // registry's Docker-Content-Digest; the digest is the body's either way.
        let actual = digest(&manifest);
        if actual != manifest_digest || reference.digest.as_ref().is_some_and(|d| *d != actual) {
            return Err(OciError::DigestMismatch {
                what: format!("the manifest of {reference}"),
                expected: reference.digest.clone().unwrap_or(manifest_digest),
                actual,
            });
        }
        let pinned = reference.pinned(&actual);
        let layer = artifact::module_layer(&pinned.to_string(), &manifest)?;
        if u64::try_from(layer.size).unwrap_or(u64::MAX) > self.settings.max_module_bytes {
            return Err(OciError::TooLarge {
                reference: pinned.to_string(),
                size: layer.size,
                limit: self.settings.max_module_bytes,
            });
        }
        let bytes = match self.store.get(&layer.digest) {
            Some(bytes) => bytes,
            None => {
                let mut bytes = Vec::new();
                let descriptor = oci_client::manifest::OciDescriptor {
                    media_type: layer.media_type.clone(),
                    digest: layer.digest.clone(),
                    size: layer.size,
                    ..Default::default()
                };
                session
                    .client
                    .pull_blob(&target, &descriptor, &mut bytes)
                    .await
                    .map_err(fail)?;
                // Checked by pull_blob against the layer's digest, and by
                // put again: the layer first, so that a manifest in the
                // store always has its module there.
                self.store.put(&layer.digest, &bytes)?;
                bytes
            }
        };
        self.store.put(&actual, &manifest)?;
        if let Some(tag) = &reference.tag {
            self.store
                .put_tag(&reference.registry, &reference.repository, tag, &actual)?;
        }
        Ok(module(&pinned, bytes))
    }

    /// The module of manifest `pinned`, if the store has both.
    fn stored(&self, reference: &Reference, pinned: &str) -> Result<Option<Module>, OciError> {
        let Some(manifest) = self.store.get(pinned) else {
            return Ok(None);
        };
        let layer = artifact::module_layer(&reference.to_string(), &manifest)?;
        Ok(self
            .store
            .get(&layer.digest)
            .map(|bytes| module(reference, bytes)))
    }
}

fn module(pinned: &Reference, bytes: Vec<u8>) -> Module {
    Module::named(bytes, pinned.to_string(), pinned.name())
}

#[async_trait]
impl ModuleSource for Registry {
    async fn fetch(&self, reference: &str) -> Result<Module, ModuleError> {
        let fetched = match reference.parse::<Reference>() {
            Ok(parsed) => self.pull(&parsed).await,
            Err(e) => Err(e),
        };
        fetched.map_err(|e| ModuleError::Fetch {
            reference: reference.to_string(),
            source: Box::new(e),
        })
    }
}

/// The certificates of PEM file `file`, one by one.
fn pem_certificates(file: &std::path::Path) -> Result<Vec<Certificate>, OciError> {
    let bad = |problem: String| OciError::Client {
        problem: format!(
            "SSL_CERT_FILE {}: {problem}; point it at a PEM file of CA certificates, or unset it",
            file.display()
        ),
    };
    let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read it: {e}")))?;
    const END: &str = "-----END CERTIFICATE-----";
    let certs: Vec<Certificate> = text
        .split_inclusive(END)
        .filter_map(|block| {
            block
                .find("-----BEGIN CERTIFICATE-----")
                .map(|at| &block[at..])
        })
        .filter(|block| block.ends_with(END))
        .map(|block| Certificate {
            encoding: CertificateEncoding::Pem,
            data: block.as_bytes().to_vec(),
        })
        .collect();
    if certs.is_empty() {
        return Err(bad("it holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// oci-client's error as one that names the problem and its fix.
fn classify(
    error: OciDistributionError,
    reference: &Reference,
    session: &Session,
    operation: &'static str,
) -> OciError {
    let registry = reference.registry.clone();
    let unauthorized = || match &session.credentials {
        Some(c) => OciError::Refused {
            registry: registry.clone(),
            from: c.from.clone(),
        },
        None => OciError::NoCredentials {
            registry: registry.clone(),
        },
    };
    let denied = || OciError::Denied {
        registry: registry.clone(),
        from: session
            .credentials
            .as_ref()
            .map_or_else(|| "nobody (anonymous)".to_string(), |c| c.from.clone()),
        operation,
    };
    let not_found = |detail: String| OciError::NotFound {
        reference: reference.to_string(),
        detail,
    };
    match error {
        OciDistributionError::RequestError(e) if e.is_connect() || e.is_timeout() => {
            OciError::Unreachable {
                registry,
                detail: innermost(&e),
            }
        }
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => unauthorized(),
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            let message = envelope
                .errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            if codes.contains(&&OciErrorCode::Unauthorized) {
                unauthorized()
            } else if codes.contains(&&OciErrorCode::Denied) {
                denied()
            } else if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound
                )
            }) {
                not_found(message)
            } else {
                OciError::Registry {
                    reference: reference.to_string(),
                    detail: message,
                }
            }
        }
        OciDistributionError::ServerError { code: 401, .. } => unauthorized(),
        OciDistributionError::ServerError { code: 403, .. } => denied(),
        OciDistributionError::ServerError { code: 404, .. } => not_found("404 Not Found".into()),
        OciDistributionError::ImageManifestNotFoundError(detail) => not_found(detail),
        OciDistributionError::DigestError(oci_client::errors::DigestError::VerificationError {
            expected,
            actual,
        }) => OciError::DigestMismatch {
            what: format!("a blob of {reference}"),
            expected,
            actual,
        },
        other => OciError::Registry {
            reference: reference.to_string(),
            detail: other.to_string(),
        },
    }
}

/// The last cause of `error`: "Connection refused (os error 111)".
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_for_loopback_and_the_insecure_list_only() {
        let registry = Registry::new(Settings {
            insecure: vec!["reg.lab:5000".into(), "10.0.0.7".into()],
            ..Settings::new(PathBuf::from("/nonexistent"))
        });
        for plain in [
            "127.0.0.1:5000",
            "localhost",
            "[::1]:5000",
            "reg.lab:5000",
            "10.0.0.7:443",
        ] {
            assert!(registry.plain_http(plain), "{plain}");
        }
        for https in [
            "reg.lab:5001",
            "reg.lab",
            "registry.example.com",
            "127.0.0.2:5000",
            "localhost.example.com",
        ] {
            assert!(!registry.plain_http(https), "{https}");
        }
    }
}
