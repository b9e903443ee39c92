//! Loading a runbook: recognising what the file is, compiling it once (cached
//! by content digest, on disk and in memory) and checking that it is a
//! component of the `runbook` world, so that every job of it starts from a
//! ready `RunbookPre`.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::Component;

use super::bindings::RunbookPre;
use super::budget::{self, Cost, Exceeded};
use super::engine::Runtime;
use super::state::InstanceState;
use super::wit_version;

/// A loaded runbook, ready to instantiate.
pub struct Runbook {
    /// `sha256:<hex>` of the file's bytes: what a job is pinned to.
    pub digest: String,
    pub size: usize,
    /// What its scan before compiling found ([`budget`]).
    pub cost: Cost,
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
    #[error("{path} is refused before compiling: {reason}")]
    OverBudget { path: String, reason: Exceeded },
    #[error(
        "{path} was built against {package}@{runbook} but this host speaks {package}@{host}: rebuild it \
         with the SDK this drbook writes (`drbook runbook new`, or replace the crate's `vendor/` with a new \
         one's) or run it on a drbook that speaks {package}@{runbook}",
        package = wit_version::PACKAGE
    )]
    WitVersion {
        path: String,
        runbook: String,
        host: String,
    },
    #[error(
        "{path} needs at least {} of memory to start, more than the job's {} memory limit: it could \
         never run. Give the job more with `--memory`, or make the runbook's static data smaller",
        bytesize::ByteSize(*needs),
        bytesize::ByteSize(*limit)
    )]
    NeverFits {
        path: String,
        needs: u64,
        limit: u64,
    },
}

impl Runbook {
    /// Whether an instance could ever start under a memory limit of
    /// `memory_bytes`: refused before a job of it is stored, not when the
    /// job first runs.
    pub fn fits(&self, memory_bytes: usize, origin: &str) -> Result<(), LoadError> {
        let limit = memory_bytes as u64;
        if self.cost.memory_minimum > limit {
            return Err(LoadError::NeverFits {
                path: origin.to_string(),
                needs: self.cost.memory_minimum,
                limit,
            });
        }
        Ok(())
    }
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
        let cost = budget::scan(bytes, &self.load_limits).map_err(|reason| match reason {
            // Not a cost: the module is broken, as the compiler would say too.
            Exceeded::Malformed(reason) => LoadError::Invalid {
                path: origin.to_string(),
                reason,
            },
            reason => LoadError::OverBudget {
                path: origin.to_string(),
                reason,
            },
        })?;
        let (component, compiled) = self.compile(bytes, &digest, origin)?;
        // Linking a runbook built against another WIT version only says an
        // import is missing: the versions are named instead. Read only when
        // linking failed, so that a runbook that links pays no second parse.
        let wrong_world = |reason: String| {
            wit_version::check(bytes, origin)
                .err()
                .unwrap_or(LoadError::WrongWorld {
                    path: origin.to_string(),
                    reason,
                })
        };
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| wrong_world(format!("{e:#}")))?;
        let pre = RunbookPre::new(instance_pre).map_err(|e| wrong_world(format!("{e:#}")))?;
        // Only a runbook is cached: what was refused leaves nothing behind.
        if let Some(path) = compiled.then(|| self.cache_path(&digest)).flatten() {
            // A cache that cannot be written only costs a recompile next time.
            let _ = write_atomically(&path, component.serialize().ok().as_deref());
        }
        let runbook = Arc::new(Runbook {
            digest: digest.clone(),
            size: bytes.len(),
            cost,
            component,
            pre,
        });
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(digest, runbook.clone());
        Ok(runbook)
    }

    /// The component, from the disk cache or compiled (then `true`).
    fn compile(
        &self,
        bytes: &[u8],
        digest: &str,
        origin: &str,
    ) -> Result<(Component, bool), LoadError> {
        if let Some(path) = self.cache_path(digest).filter(|p| p.exists()) {
            // SAFETY: the file was written by `Component::serialize` of an
            // engine with the same compatibility hash (it is in the name), in
            // drbook's own data directory.
            #[allow(unsafe_code)]
            if let Ok(component) = unsafe { Component::deserialize_file(&self.engine, &path) } {
                return Ok((component, false));
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| LoadError::Invalid {
            path: origin.to_string(),
            reason: format!("{e:#}"),
        })?;
        Ok((component, true))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::{tests::component, LoadLimits};

    /// A component that compiles but is no runbook is refused, and leaves
    /// nothing in the disk cache.
    #[test]
    fn what_is_refused_is_not_cached() {
        let cache = tempfile::tempdir().unwrap();
        let runtime = Runtime::new(Some(cache.path().to_path_buf())).unwrap();
        let err = runtime
            .load_bytes(&component(3, 1), "three.wasm")
            .err()
            .expect("not a runbook");
        assert!(matches!(err, LoadError::WrongWorld { .. }), "{err}");
        let left: Vec<_> = std::fs::read_dir(cache.path())
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "cached: {left:?}");
    }

    /// A module past a cap is refused by its scan, before the compiler sees
    /// it, with the error naming the cap.
    #[test]
    fn a_module_past_a_cap_is_refused_before_compiling() {
        let runtime = Runtime::new(None).unwrap().with_load_limits(LoadLimits {
            module_bytes: 1 << 20,
            functions: 1_000,
        });
        let err = runtime
            .load_bytes(&component(1_001, 1), "many.wasm")
            .err()
            .expect("over the cap");
        assert!(matches!(err, LoadError::OverBudget { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("many.wasm is refused before compiling: it defines 1001 functions"),
            "{err}"
        );
    }
}
