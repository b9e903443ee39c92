//! The embedded Site Recovery simulator: a [`Fabric`](crate::fabric::Fabric)
//! with the semantics of the reference's §3, persisted in SQLite at
//! `<data-dir>/fabric.db` and driven by a clock, so that an operation started
//! by one process is further along (or done) when the next opens the store.
//!
//! Layout:
//! - `engine`: the [`Simulator`] handle, opening/initialising the store, and
//!   settling operations whose end time has passed.
//! - `fabric_impl`: the `Fabric` trait on top of it.
//! - `admin`: faults, history, operation counts, reset.
//! - `rules`: the state machine (allowed operations, refusals, effects).
//! - `record`: an item's stored state and its read model.
//! - `recovery_points`: points derived from the replication's schedule.
//! - `operations`: operation rows, which are also the audit trail.
//! - `store`: the SQLite schema, migrations and rows.
//! - `faults`, `estate`, `demo`, `profile`, `speed`, `clock`: the inputs.

mod admin;
mod clock;
mod demo;
mod engine;
mod estate;
mod fabric_impl;
mod faults;
mod operations;
mod profile;
mod record;
mod recovery_points;
mod rules;
mod speed;
mod store;

#[cfg(test)]
mod tests;

pub use clock::{Clock, ManualClock, SystemClock};
pub use demo::{demo_estate, demo_plan_path, demo_plan_toml, DEMO_PLAN_NAME};
pub use engine::{Options, Simulator, SimulatorError, STORE_FILE};
pub use estate::{Estate, EstateError, EstateVm};
pub use faults::{Fault, Faults};
pub use operations::HistoryEntry;
pub use profile::{Profile, Schedule};
pub use rules::direction_flag;
pub use speed::{Speed, SpeedError};
pub use store::{StoreError, SCHEMA_VERSION};
