//! Durable jobs, over the job store port ([`drbook_core::store::JobStore`]).
//! Every run is a job in the store: pinned to the digest of its module, with
//! its plan, inputs and trigger, its journal of host calls, its streams and
//! its result. A job whose host dies is resumed by replaying its journal; a
//! job waiting on a long operation or a person is unloaded and woken when the
//! wait ends.
//!
//! Layout: `runner` (runs one job: replay, then live, and records how it
//! ended), `worker` (runs many: claims, leases, wake-ups), `memory` (what
//! the worker gives back to the system when runs end), `scheduler` (fires
//! schedules' ticks, one job each, in `drbook serve` and `drbook worker`),
//! `rerun` (a job started again from the top as a new job).

mod memory;
mod rerun;
mod runner;
mod scheduler;
mod worker;

pub use rerun::{rerun, still_admitted, RerunError};
pub use runner::{execute, wake_ready, Checked, ExecuteError, Execution};
pub use scheduler::{Fired, Scheduler};
pub use worker::{Report, Worker, WorkerOptions};
