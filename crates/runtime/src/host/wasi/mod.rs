//! The WASI interfaces drbook serves itself, over wasmtime-wasi's: what a
//! runbook learns through them is journaled, and what it waits on is bounded.
//!
//! - `clocks`: `wasi:clocks` (std's `SystemTime`, `Instant`, and the timers
//!   `thread::sleep` waits on), on the job's own monotonic clock;
//! - `random`: `wasi:random`, the operating system's randomness;
//! - `poll`: `wasi:io/poll`, waits that end at the deadline or a stop, and
//!   unload the instance when they are long.
//!
//! Each call is a journal entry, answered from the journal in a replay, so
//! a runbook is handed the same values when its job resumes; the journal's
//! limits count them (a runbook that reads the clock in a loop fails at
//! them). wasmtime-wasi's own clocks and randomness in the `WasiCtx` are
//! never reached.

mod clocks;
mod poll;
mod random;

pub(crate) use clocks::JobClock;

use wasmtime::component::{HasSelf, Linker};
use wasmtime_wasi::p2::bindings::{clocks as wasi_clocks, io, random as wasi_random};

use crate::state::InstanceState;

/// Defines drbook's WASI interfaces in `linker`, in place of those
/// `wasmtime_wasi::p2::add_to_linker_async` defined.
pub(super) fn add_to_linker(linker: &mut Linker<InstanceState>) -> wasmtime::Result<()> {
    type Own = HasSelf<InstanceState>;
    fn own(state: &mut InstanceState) -> &mut InstanceState {
        state
    }
    let l = linker.allow_shadowing(true);
    wasi_clocks::wall_clock::add_to_linker::<InstanceState, Own>(l, own)?;
    wasi_clocks::monotonic_clock::add_to_linker::<InstanceState, Own>(l, own)?;
    io::poll::add_to_linker::<InstanceState, Own>(l, own)?;
    wasi_random::random::add_to_linker::<InstanceState, Own>(l, own)?;
    wasi_random::insecure::add_to_linker::<InstanceState, Own>(l, own)?;
    wasi_random::insecure_seed::add_to_linker::<InstanceState, Own>(l, own)?;
    l.allow_shadowing(false);
    Ok(())
}
