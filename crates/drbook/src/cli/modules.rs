//! Where the commands that take a runbook (`run`, `webhook create`, `jobs
//! resume --module`, `runbook pull`) get its bytes: a file path, or an
//! `oci://` reference from a registry (drbook-module-oci), with the data
//! dir's local store, `[registries] insecure`, the registry credentials
//! and `--module-bytes`. A reference's tag is resolved here, once: what
//! comes back is pinned to the manifest's digest (`Module::origin`).

use drbook_core::module::{Files, Module, ModuleSource};
use drbook_module_oci::{Reference, Registry, Settings};

use super::{Global, InputError};

/// The module `runbook` names: a path or an `oci://` reference. Bad input
/// (exit 2) if it cannot be had, with the source's reason and fix.
pub async fn fetch(global: &Global, runbook: &str) -> anyhow::Result<Module> {
    let fetched = if Reference::is_oci(runbook) {
        registry(global)?.fetch(runbook).await
    } else {
        Files.fetch(runbook).await
    };
    fetched.map_err(|e| InputError::new(e.to_string()).into())
}

/// The registries as this host reaches them.
pub fn registry(global: &Global) -> anyhow::Result<Registry> {
    let config = global.config()?;
    Ok(Registry::new(Settings {
        insecure: config.insecure_registries.clone(),
        max_module_bytes: global.module_bytes as u64,
        ..Settings::new(global.data_dir()?)
    }))
}
