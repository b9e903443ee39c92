//! The runbook runtime: wasmtime with the component model, async host
//! functions on tokio, WASI p2 linked granting nothing.
//!
//! Layout, in the order a job meets them:
//! - `engine`: the process-wide engine, linker and epoch ticker.
//! - `component`: loading a runbook file, compiled once, cached by digest;
//!   `budget`: what a module may cost to load, checked before compiling;
//!   `wit_version`: the `drbook:runbook` version it was built against.
//! - `job`: one job = one sandboxed instance, `run` called once, its outcome.
//! - `state`: the store data of an instance; `host/`: the WIT interfaces
//!   implemented on it; `bindings`: the generated types.
//! - `journal`: every host call, journaled: what makes a job resumable.
//! - `limits`, `streams`, `events`, `report`: what bounds a job, what it
//!   writes, what it tells observers, what it did.

mod bindings;
mod budget;
mod component;
mod engine;
mod events;
mod host;
mod job;
mod journal;
mod limits;
mod state;
mod streams;
pub mod wit_version;

pub use budget::{Cost, Exceeded, LoadLimits};
pub use component::{LoadError, Runbook};
pub use engine::Runtime;
pub use events::{JobEvent, Observer};
pub use job::{Failure, JobOptions, JobOutcome, Unload};
pub use journal::{Divergence, Intent, Journal, Replay};
pub use limits::{human_duration, parse_bytes, parse_duration, Limits};
pub use state::StopSignal;
