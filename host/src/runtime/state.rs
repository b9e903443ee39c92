//! The state of one runbook instance (the `T` of its `Store<T>`): what the
//! job was started with, the capabilities the host grants it, and what it has
//! done so far.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::events::Observer;
use super::limits::{Deadline, MemoryLimiter};
use super::report::Tracker;
use super::streams::Streams;
use crate::fabric::simulator::Speed;
use crate::fabric::{Direction, Fabric};
use crate::plan::{FailoverType, RecoveryPlan};

/// What a job runs: its plan and inputs, like Azure's `RecoveryPlanContext`.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub job_id: String,
    pub plan: RecoveryPlan,
    pub failover_type: FailoverType,
    pub direction: Direction,
    /// `--param key=value` inputs.
    pub parameters: BTreeMap<String, String>,
}

/// Per-instance store data.
pub struct JobState {
    pub(crate) spec: Arc<JobSpec>,
    pub(crate) fabric: Arc<dyn Fabric>,
    /// Scales the runbook's `clock.sleep` as the simulator scales durations.
    pub(crate) speed: Speed,
    pub(crate) deadline: Deadline,
    pub(crate) streams: Streams,
    pub(crate) observer: Observer,
    pub(crate) tracker: Tracker,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) table: ResourceTable,
    pub(crate) wasi: WasiCtx,
}

impl WasiView for JobState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
