//! Errors a fabric returns. These are the errors a runbook may see (mapped onto
//! the WIT `fabric-error`), so each names the problem and what to do about it.

use super::types::{AllowedOperation, OperationKind, ProtectionState, TestFailoverState};
use crate::scope::OutOfScope;

/// Serialisable: a job's journal keeps the errors its runbook saw.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "error", rename_all = "camelCase")]
pub enum FabricError {
    #[error(
        "{operation} is not allowed on `{vm}` now: it is {state:?} (test failover {test_failover_state:?}); \
         allowed operations: {}",
        allowed_list(allowed)
    )]
    NotAllowed {
        vm: String,
        operation: OperationKind,
        state: ProtectionState,
        test_failover_state: TestFailoverState,
        allowed: Vec<AllowedOperation>,
    },

    #[error(
        "`{vm}` is busy with {scenario:?} (operation {operation_id}); wait for it to finish \
         (`drbook fabric show`) and try again"
    )]
    Busy {
        vm: String,
        scenario: OperationKind,
        operation_id: String,
    },

    /// The fabric itself refused a start the item's `allowedOperations`
    /// admitted, for a reason of its own (Site Recovery's checks of health,
    /// regions, quotas): its code and message say which. A runbook sees it
    /// as `not-allowed`, with the fabric's words.
    #[error("{operation} of `{vm}` was refused by Site Recovery ({code}): {message}")]
    Refused {
        vm: String,
        operation: OperationKind,
        code: String,
        message: String,
    },

    #[error("no protected item named `{vm}`; `drbook fabric show` lists the VMs of this fabric")]
    ItemNotFound { vm: String },

    #[error(
        "no operation with id `{id}`; `drbook fabric history` lists the operations of this fabric"
    )]
    OperationNotFound { id: String },

    #[error("no recovery point `{id}` on `{vm}`; the item's recovery points are listed by `drbook fabric show --json`")]
    RecoveryPointNotFound { vm: String, id: String },

    #[error("region `{region}` is unavailable: {reason}")]
    RegionUnavailable { region: String, reason: String },

    #[error("{message}")]
    InvalidRequest { message: String },

    #[error("transient fabric error, retry later: {message}")]
    Transient { message: String },

    /// Not the fabric's answer but the host's: the start is outside its
    /// job's scope ([`crate::scope`]) and never reached the fabric. Kept
    /// with the fabric's errors because a runbook sees it where it sees
    /// theirs (as `not-allowed`), and the journal keeps it as the start's
    /// reply.
    #[error(transparent)]
    OutOfScope(OutOfScope),
}

fn allowed_list(allowed: &[AllowedOperation]) -> String {
    if allowed.is_empty() {
        "none".to_string()
    } else {
        allowed
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for OperationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.cli_name())
    }
}
