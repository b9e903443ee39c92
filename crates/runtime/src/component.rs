//! Loading a runbook: recognising what the file is, compiling it once (cached
//! by content digest, on disk and in memory) and checking that it is a
//! component of the `runbook` world, so that every job of it starts from a
//! ready `RunbookPre`.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::Component;

use super::bindings::RunbookPre;
use super::engine::Runtime;
use super::state::InstanceState;

/// A loaded runbook, ready to instantiate.
pub struct Runbook {
    /// `sha256:<hex>` of the file's bytes: what a job is pinned to.
    pub digest: String,
    pub size: usize,
    pub(crate) component: Component,
    pub(crate) pre: RunbookPre<InstanceState>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read runbook {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a WebAssembly file (it does not start with `\\0asm`); build a runbook with `cargo build --target wasm32-wasip2`")]
    NotWasm { path: String },
    #[error("{path} is a core WebAssembly module, not a component; build it for the `wasm32-wasip2` target (not wasm32-unknown-unknown or wasip1), which emits a component")]
    CoreModule { path: String },
    #[error("{path} is not a valid WebAssembly component: {reason}")]
    Invalid { path: String, reason: String },
    #[error("{path} is not a drbook runbook: {reason}. A runbook is a component of the world `drbook:runbook/runbook` (see wit/runbook.wit); write it with the `drbook-sdk` crate and its `runbook!` macro")]
    WrongWorld { path: String, reason: String },
}

impl Runtime {
    /// Loads a runbook file, compiling it only if this runtime or its disk
    /// cache has not seen these bytes before.
    pub fn load(&self, path: &Path) -> Result<Arc<Runbook>, LoadError> {
        let display = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: display.clone(),
            source,
        })?;
        self.load_bytes(&bytes, &display)
    }

    /// The runbook with this digest, if this runtime has loaded it: a job
    /// pinned to it starts without reading or hashing its module again.
    pub fn loaded(&self, digest: &str) -> Option<Arc<Runbook>> {
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(digest)
            .cloned()
    }

    /// Loads a runbook from bytes; `origin` names it in errors.
    pub fn load_bytes(&self, bytes: &[u8], origin: &str) -> Result<Arc<Runbook>, LoadError> {
        sniff(bytes, origin)?;
        let digest = drbook_core::module::digest(bytes);
        if let Some(loaded) = self
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest)
        {
            return Ok(loaded.clone());
        }
        let component = self.compile(bytes, &digest, origin)?;
        let wrong_world = |reason: String| LoadError::WrongWorld {
            path: origin.to_string(),
            reason,
        };
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| wrong_world(format!("{e:#}")))?;
        let pre = RunbookPre::new(instance_pre).map_err(|e| wrong_world(format!("{e:#}")))?;
        let runbook = Arc::new(Runbook {
            digest: digest.clone(),
            size: bytes.len(),
            component,
            pre,
        });
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(digest, runbook.clone());
        Ok(runbook)
    }

    fn compile(&self, bytes: &[u8], digest: &str, origin: &str) -> Result<Component, LoadError> {
        let cached = self.cache_path(digest);
        if let Some(path) = cached.as_ref().filter(|p| p.exists()) {
            // SAFETY: the file was written by `Component::serialize` of an
            // engine with the same compatibility hash (it is in the name), in
            // drbook's own data directory.
            #[allow(unsafe_code)]
            if let Ok(component) = unsafe { Component::deserialize_file(&self.engine, path) } {
                return Ok(component);
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| LoadError::Invalid {
            path: origin.to_string(),
            reason: format!("{e:#}"),
        })?;
        if let Some(path) = cached {
            // A cache that cannot be written only costs a recompile next time.
            let _ = write_atomically(&path, component.serialize().ok().as_deref());
        }
        Ok(component)
    }

    fn cache_path(&self, digest: &str) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        let hex = digest.trim_start_matches("sha256:");
        Some(dir.join(format!("{hex}-{:016x}.cwasm", hasher.finish())))
    }

    /// What a runbook imports and exports, for `drbook runbook inspect`.
    pub fn describe(&self, runbook: &Runbook) -> (Vec<String>, Vec<String>) {
        let ty = runbook.component.component_type();
        let imports = ty
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let exports = ty
            .exports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        (imports, exports)
    }
}

/// Tells apart "not wasm", "a core module" and "a component" by the header.
fn sniff(bytes: &[u8], origin: &str) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotWasm {
            path: origin.to_string(),
        });
    }
    // Bytes 4..8: version 1 and layer 0 for a core module; layer 1 for a component.
    if bytes[6..8] == [0, 0] {
        return Err(LoadError::CoreModule {
            path: origin.to_string(),
        });
    }
    Ok(())
}

fn write_atomically(path: &Path, bytes: Option<&[u8]>) -> std::io::Result<()> {
    let Some(bytes) = bytes else { return Ok(()) };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
