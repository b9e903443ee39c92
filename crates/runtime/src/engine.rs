//! The process-wide wasmtime engine: configured once, with one linker and an
//! epoch ticker thread. "Engine once, runbook module once, job instance many
//! times": everything costly happens here or in `component`, never per job.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use super::budget::LoadLimits;
use super::component::Runbook;
use super::host::OutsideCalls;
use super::state::InstanceState;

/// How often the epoch advances: the granularity of the deadline check.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The runtime: engine, linker, and the cache of loaded runbooks. Cheap to
/// clone; share one per process.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Arc<Linker<InstanceState>>,
    /// Precompiled components, by content digest (`None`: memory only).
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) loaded: Arc<Mutex<HashMap<String, Arc<Runbook>>>>,
    /// What a module may cost to load ([`LoadLimits`]).
    pub(crate) load_limits: LoadLimits,
    /// What runbooks' outside calls go through (HTTP, Azure), and whether
    /// they are dry.
    pub(crate) outside: OutsideCalls,
}

impl Runtime {
    /// A runtime whose compiled components are cached in `cache_dir` (if
    /// given), so that a module is compiled once per machine, not per run.
    pub fn new(cache_dir: Option<PathBuf>) -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // A runbook that recurses without end traps at 1 MiB of wasm stack;
        // async fibers get 2 MiB, so the host never overflows first.
        config.max_wasm_stack(1 << 20);
        config.async_stack_size(2 << 20);
        let engine = Engine::new(&config)?;

        let mut linker = Linker::new(&engine);
        super::host::add_to_linker(&mut linker)?;

        spawn_epoch_ticker(&engine);
        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
            cache_dir,
            loaded: Arc::default(),
            load_limits: LoadLimits::default(),
            outside: OutsideCalls::default(),
        })
    }

    /// This runtime, loading modules under `limits` instead of the defaults.
    pub fn with_load_limits(mut self, limits: LoadLimits) -> Self {
        self.load_limits = limits;
        self
    }

    /// This runtime for dry runs: runbooks' HTTP writes are journaled and not
    /// sent (`not-sent`); reads go out when granted.
    pub fn dry_run(mut self) -> Self {
        self.outside.dry_run = true;
        self
    }

    /// This runtime sending runbooks' Azure calls through `resources` (the
    /// azure backend's ARM client); without it they are `not-configured`.
    pub fn with_resources(
        mut self,
        resources: Arc<dyn drbook_core::outside::azure::Resources>,
    ) -> Self {
        self.outside.resources = Some(resources);
        self
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is gone.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("drbook-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}
