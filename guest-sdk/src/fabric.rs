//! Site Recovery operations on single VMs. Each `start`-style function
//! returns an [`Operation`] at once; `Operation::wait` (or [`wait_all`] for
//! many) suspends the runbook until it ends, burning none of its CPU.
//!
//! Gate actions on [`Item::allows`], never on the state: it is what Azure's
//! `allowedOperations` says.

pub use crate::bindings::drbook::runbook::site_recovery::{
    attach, cancel_failover, change_recovery_point, commit, get_item, list_items, planned_failover,
    reprotect, test_failover, test_failover_cleanup, unplanned_failover, wait_all, FabricError,
    Operation, OperationState, OperationStatus, ProtectedItem as Item, RecoveryPoint,
    RecoveryPointChoice, Scenario,
};
pub use crate::bindings::drbook::runbook::types::{
    AllowedOperation, Direction, FailoverType, Health, Location, OperationKind, ProtectionState,
    TestFailoverState,
};

impl Item {
    /// Whether the item allows `op` now.
    pub fn allows(&self, op: AllowedOperation) -> bool {
        self.allowed_operations.contains(&op)
    }
}

impl FabricError {
    /// Whether the host classes this error as passing by itself: `busy`
    /// (the item's other operation ends) and `transient` (throttling, the
    /// fabric briefly unavailable). A start so refused started nothing, and
    /// trying it again later may succeed; every other error stays until
    /// someone changes something (the item's state, the job's scope, the
    /// request), so retrying it only repeats the refusal. See the WIT's
    /// `fabric-error`.
    pub fn is_transient(&self) -> bool {
        matches!(self, FabricError::Busy(_) | FabricError::Transient(_))
    }
}

/// A one-line description of a fabric error.
pub fn describe(e: &FabricError) -> String {
    match e {
        FabricError::NotAllowed(m)
        | FabricError::Busy(m)
        | FabricError::NotFound(m)
        | FabricError::RegionUnavailable(m)
        | FabricError::Invalid(m)
        | FabricError::Transient(m) => m.clone(),
    }
}

/// Parses a recovery point choice as operators write it: `latest`,
/// `latest-processed`, `latest-app-consistent`, `latest-crash-consistent`,
/// or a recovery point id.
pub fn parse_recovery_point(text: &str) -> RecoveryPointChoice {
    match text {
        "latest" => RecoveryPointChoice::Latest,
        "latest-processed" => RecoveryPointChoice::LatestProcessed,
        "latest-app-consistent" => RecoveryPointChoice::LatestAppConsistent,
        "latest-crash-consistent" => RecoveryPointChoice::LatestCrashConsistent,
        id => RecoveryPointChoice::Id(id.to_string()),
    }
}
