//! Recovery plans (TOML files), mirroring Site Recovery's: a name, a primary
//! and a recovery region, and ordered boot groups whose VMs fail over in
//! parallel, with named steps before and after each group.
//!
//! Layout: `file` parses and checks a plan on its own; `check` holds it
//! against a fabric's protected items.

mod check;
mod file;

pub use check::check_against;
pub use file::{Group, PlanError, RecoveryPlan, Step};

use serde::{Deserialize, Serialize};

/// What a job does with its plan; Azure's `FailoverType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum FailoverType {
    Test,
    Planned,
    Unplanned,
}
