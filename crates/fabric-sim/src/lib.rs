//! The embedded Site Recovery simulator: a [`Fabric`](drbook_core::fabric::Fabric)
//! with the semantics of the reference's §3, persisted in SQLite at
//! `<data-dir>/fabric.db` and driven by a clock, so that an operation started
//! by one process is further along (or done) when the next opens the store.
//!
//! Layout:
//! - `simulator`: the [`Simulator`] handle, opening/initialising the store, and
//!   settling operations whose end time has passed.
//! - `fabric_impl`: the `Fabric` trait on top of it.
//! - `admin`: faults, history, operation counts, reset.
//! - `state_machine`: the state machine (allowed operations, refusals, effects).
//! - `record`: an item's stored state and its read model.
//! - `recovery_points`: points derived from the replication's schedule.
//! - `operations`: operation rows, which are also the audit trail.
//! - `refusals`: starts drbook refused before they reached the fabric (a
//!   job's scope), in the audit trail too.
//! - `schema`: the SQLite schema, migrations and rows.
//! - `snapshot`: a live estate read through any `Fabric`, copied into an
//!   in-memory simulator (what a dry run runs on).
//! - `faults`, `estate`, `demo`, `profile`, `clock`: the inputs (the
//!   time scale is drbook-core's `TimeScale`).

mod admin;
mod clock;
mod demo;
mod estate;
mod fabric_impl;
mod faults;
mod operations;
mod profile;
mod record;
mod recovery_points;
mod refusals;
mod schema;
mod simulator;
mod snapshot;
mod state_machine;

#[cfg(test)]
mod tests;

pub use clock::{Clock, ManualClock, SystemClock};
pub use demo::{demo_estate, demo_plan_path, demo_plan_toml, DEMO_PLAN_NAME};
pub use estate::{Estate, EstateError, EstateVm};
pub use faults::{Fault, Faults, Refusals};
pub use operations::{HistoryEntry, Outcome};
pub use profile::{Profile, Schedule};
pub use schema::{SchemaError, SCHEMA_VERSION};
pub use simulator::{Options, Simulator, SimulatorError, STORE_FILE};
pub use snapshot::{Mismatch, Snapshot, SnapshotError};
pub use state_machine::direction_flag;
