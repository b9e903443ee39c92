//! `wasi:io/poll`: waits on pollables (std's `thread::sleep` is a timer and
//! a wait on it). A wait ends at the job's deadline or at a stop, which end
//! the job as they end a `clock.sleep`; a wait on timers alone past the
//! deadline lasts until the deadline, and one longer than `unload_after`
//! unloads the instance until its first timer ends. Which pollables were
//! ready is journaled once the wait is over: a replay is handed the same at
//! once, and a job reloaded mid-wait waits again for timers that end at the
//! same times (the job's clock went on meanwhile).

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::io::poll::{self, HostPollable};
use wasmtime_wasi::p2::DynPollable;

use crate::state::InstanceState;
use drbook_core::journal::Call;

impl poll::Host for InstanceState {
    async fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        let until: Vec<Option<u64>> = pollables.iter().map(|p| self.until(p)).collect();
        let call = Call::Poll {
            until: until.clone(),
        };
        if let Some(ready) = self.replayed(&call)? {
            return Ok(ready);
        }
        // On timers alone, the wait's end is known: it may unload the
        // instance, or be cut by the deadline. (An empty list is refused by
        // wasmtime-wasi's poll, below.)
        let live = self.live.clone();
        let timers: Option<Vec<u64>> = until.iter().copied().collect();
        if let Some(first) = timers.and_then(|ends| ends.into_iter().min()) {
            if self.hold(self.live.clock.wall(first))?.is_none() {
                return live.wait(std::future::pending()).await;
            }
        }
        let ready = live
            .wait(<ResourceTable as poll::Host>::poll(
                &mut self.table,
                pollables,
            ))
            .await??;
        self.journal.record(call, &ready, None)?;
        Ok(ready)
    }
}

impl HostPollable for InstanceState {
    /// A poll of one.
    async fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        poll::Host::poll(self, vec![pollable]).await.map(drop)
    }

    async fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        let call = Call::Ready {
            until: self.until(&pollable),
        };
        if let Some(ready) = self.replayed(&call)? {
            return Ok(ready);
        }
        let ready = HostPollable::ready(&mut self.table, pollable).await?;
        self.journal.record(call, &ready, None)?;
        Ok(ready)
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        self.timers.remove(&pollable.rep());
        HostPollable::drop(&mut self.table, pollable)
    }
}

impl InstanceState {
    /// When `pollable` is ready, if it is a timer.
    fn until(&self, pollable: &Resource<DynPollable>) -> Option<u64> {
        self.timers.get(&pollable.rep()).copied()
    }
}
