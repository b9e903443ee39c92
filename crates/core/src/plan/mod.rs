//! Recovery plans (TOML files), mirroring Site Recovery's: a name, a primary
//! and a recovery region, and ordered boot groups whose VMs fail over in
//! parallel, with named steps before and after each group.
//!
//! Layout: `file` parses and checks a plan on its own; `objectives` holds
//! its recovery objectives (RTO, RPO) as durations; `check` holds it against
//! a fabric's protected items, and each VM's current RPO against its
//! objective.

mod check;
mod file;
mod objectives;

pub use check::{check_against, rpo_warnings, RpoWarning};
pub use file::{Group, PlanError, RecoveryPlan, Step};
pub use objectives::{BadObjective, Objective, Objectives};

use serde::{Deserialize, Serialize};

/// What a job does with its plan; Azure's `FailoverType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailoverType {
    Test,
    Planned,
    Unplanned,
}

impl FailoverType {
    /// Every type, as `--type` and rules files spell them.
    pub const NAMES: [&'static str; 3] = ["test", "planned", "unplanned"];
}

/// A failover type that is not one of [`FailoverType::NAMES`].
#[derive(Debug, thiserror::Error)]
#[error("type `{0}` is not one of test, planned, unplanned")]
pub struct UnknownFailoverType(pub String);

impl std::str::FromStr for FailoverType {
    type Err = UnknownFailoverType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "test" => Ok(FailoverType::Test),
            "planned" => Ok(FailoverType::Planned),
            "unplanned" => Ok(FailoverType::Unplanned),
            _ => Err(UnknownFailoverType(s.to_string())),
        }
    }
}
