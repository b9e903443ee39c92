//! The module source port: where a runbook's bytes come from. A job is
//! pinned to the digest of its module; the module itself is fetched once,
//! from a file (the [`Files`] source here) or an OCI registry
//! (drbook-module-oci), and kept in the job store for every later run of
//! the job, which therefore never needs the source again.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// A runbook module, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
    /// Where it came from, for messages and the job's record (a path, a
    /// registry reference pinned to its manifest's digest).
    pub origin: String,
    /// The runbook's name, which the trust policy's rules match and jobs
    /// list: a file's name (`failover_plan.wasm`), a registry repository's
    /// last component (`failover_plan`).
    pub name: String,
}

impl Module {
    /// A module read from `origin`, a path: named by its last part.
    pub fn new(bytes: Vec<u8>, origin: impl Into<String>) -> Self {
        let origin = origin.into();
        let name = origin
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(&origin)
            .to_string();
        Module::named(bytes, origin, name)
    }

    /// A module from `origin` (a registry reference, say) called `name`.
    pub fn named(bytes: Vec<u8>, origin: impl Into<String>, name: impl Into<String>) -> Self {
        Module {
            digest: digest(&bytes),
            bytes,
            origin: origin.into(),
            name: name.into(),
        }
    }

    /// The runbook's name (see [`Module::name`]'s field).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `sha256:<hex>` of a module's bytes: what jobs are pinned to.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error("cannot read runbook {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no module {reference} in {source_name}")]
    NotFound {
        reference: String,
        source_name: String,
    },
    /// A source's own failure (a registry down, refusing, serving a blob
    /// that does not match its digest), its message naming the fix.
    #[error("cannot fetch runbook {reference}: {source}")]
    Fetch {
        reference: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Where runbook modules come from. Every source guarantees that the bytes
/// it returns hash to the digest it reports.
#[async_trait]
pub trait ModuleSource: Send + Sync {
    /// The module `reference` names (a path for files,
    /// `oci://host/repo:tag` or `oci://host/repo@sha256:...` for a registry).
    async fn fetch(&self, reference: &str) -> Result<Module, ModuleError>;
}

/// Modules from local files: the reference is a path.
#[derive(Debug, Clone, Copy, Default)]
pub struct Files;

#[async_trait]
impl ModuleSource for Files {
    async fn fetch(&self, reference: &str) -> Result<Module, ModuleError> {
        let path = PathBuf::from(reference);
        let read = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || std::fs::read(path)).await
        };
        let bytes = read
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
            .map_err(|source| ModuleError::Read { path, source })?;
        Ok(Module::new(bytes, reference))
    }
}
