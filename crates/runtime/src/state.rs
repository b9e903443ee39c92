//! The state of one runbook instance (the `T` of its `Store<T>`): what the
//! job was started with, the capabilities the host grants it, its journal,
//! and what it has done so far.

use serde::{de::DeserializeOwned, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::events::Observer;
use super::host::{JobClock, OutsideCalls};
use super::journal::{CorruptEntry, Journal, Replay};
use super::limits::{Deadline, MemoryLimiter};
use super::streams::Streams;
use drbook_core::fabric::Fabric;
use drbook_core::job::JobSpec;
use drbook_core::journal::Call;
use drbook_core::TimeScale;

/// Asks a running job to stop at its next host call (or epoch tick). Shared
/// between the instance and whoever watches the job store for stop requests.
/// Checked at every host call, so the usual answer ("no") is one atomic load.
#[derive(Clone, Default)]
pub struct StopSignal(Arc<(AtomicBool, Mutex<Option<String>>)>);

impl StopSignal {
    /// Requests the stop; `by` says who asked.
    pub fn stop(&self, by: &str) {
        *self.0 .1.lock().unwrap_or_else(|e| e.into_inner()) = Some(by.to_string());
        self.0 .0.store(true, Ordering::Release);
    }

    pub fn requested(&self) -> Option<String> {
        if !self.0 .0.load(Ordering::Acquire) {
            return None;
        }
        self.0 .1.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The job was stopped on request (the trap's cause).
#[derive(Debug, thiserror::Error)]
#[error("stopped by {by}")]
pub struct StopRequested {
    pub by: String,
}

/// What a live host call may use without borrowing the instance.
#[derive(Clone)]
pub(crate) struct Live {
    pub fabric: Arc<dyn Fabric>,
    pub observer: Observer,
    pub deadline: Deadline,
    /// Waits longer than this unload the instance (`None`: never).
    pub unload_after: Option<Duration>,
    pub stop: StopSignal,
    /// The job's monotonic clock, which WASI shows the runbook and its
    /// timers wait on.
    pub clock: JobClock,
    /// What the runtime's outside calls go through (HTTP, Azure).
    pub outside: OutsideCalls,
}

impl Live {
    /// Awaits `future` (a wait on operations, a sleep) unless the deadline
    /// passes or a stop is requested first: both end the job while it waits.
    pub async fn wait<T>(&self, future: impl Future<Output = T>) -> wasmtime::Result<T> {
        let stopped = async {
            loop {
                if let Some(by) = self.stop.requested() {
                    return by;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            result = self.deadline.wait(future) => result,
            by = stopped => Err(StopRequested { by }.into()),
        }
    }
}

/// Per-instance store data.
pub struct InstanceState {
    pub(crate) spec: Arc<JobSpec>,
    pub(crate) live: Live,
    /// Scales the runbook's `clock.sleep` as the fabric scales durations.
    pub(crate) time_scale: TimeScale,
    pub(crate) journal: Journal,
    pub(crate) streams: Streams,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) table: ResourceTable,
    pub(crate) wasi: WasiCtx,
    /// The runbook's WASI timers: when each ends on `Live::clock`, by the
    /// rep of its pollable.
    pub(crate) timers: HashMap<u32, u64>,
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl InstanceState {
    /// Every host call starts here: a stop request or the deadline ends the
    /// job now, so a job past its deadline starts nothing more.
    pub(crate) fn checkpoint(&self) -> wasmtime::Result<()> {
        if let Some(by) = self.live.stop.requested() {
            return Err(StopRequested { by }.into());
        }
        if self.live.deadline.passed() {
            return Err(self.live.deadline.exceeded().into());
        }
        Ok(())
    }

    /// Matches `call` against the journal; keeps the streams quiet while
    /// replaying (what a replay writes was stored the first time).
    pub(crate) fn replay<R: DeserializeOwned>(
        &mut self,
        call: &Call,
    ) -> wasmtime::Result<Replay<R>> {
        self.checkpoint()?;
        tracing::trace!(
            seq = self.journal.position(),
            replaying = self.journal.replaying(),
            ?call,
            "host call"
        );
        if !self.journal.replaying() {
            return self.journal.replay(call);
        }
        let replay = self.journal.replay(call)?;
        // The replay may just have ended: what the runbook writes next is new.
        self.streams.set_replaying(self.journal.replaying());
        Ok(replay)
    }

    /// The journal's reply to `call`, a call without outside effect, while
    /// replaying; `None` when it is to be made live (and recorded by the
    /// caller).
    pub(crate) fn replayed<R: DeserializeOwned>(
        &mut self,
        call: &Call,
    ) -> wasmtime::Result<Option<R>> {
        match self.replay::<R>(call)? {
            Replay::Reply(reply) => Ok(Some(reply)),
            Replay::Intent(intent) => Err(CorruptEntry {
                position: intent.seq() + 1,
                detail: "a call without effect has no reply".into(),
            }
            .into()),
            Replay::Live => Ok(None),
        }
    }

    /// A call without outside effect: answered from the journal, or made
    /// live and journaled before the runbook sees the reply.
    pub(crate) async fn journaled<R, Fut>(
        &mut self,
        call: Call,
        live: impl FnOnce(Live) -> Fut,
    ) -> wasmtime::Result<R>
    where
        R: Serialize + DeserializeOwned,
        Fut: Future<Output = wasmtime::Result<R>>,
    {
        if let Some(reply) = self.replayed(&call)? {
            return Ok(reply);
        }
        let reply = live(self.live.clone()).await?;
        self.journal.record(call, &reply, None)?;
        Ok(reply)
    }

    /// [`InstanceState::journaled`] for a call answered at once (WASI's
    /// clocks and randomness, which are not async).
    pub(crate) fn journaled_now<R>(
        &mut self,
        call: Call,
        live: impl FnOnce(&Live) -> wasmtime::Result<R>,
    ) -> wasmtime::Result<R>
    where
        R: Serialize + DeserializeOwned,
    {
        if let Some(reply) = self.replayed(&call)? {
            return Ok(reply);
        }
        let reply = live(&self.live)?;
        self.journal.record(call, &reply, None)?;
        Ok(reply)
    }
}
