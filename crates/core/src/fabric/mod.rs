//! The Site Recovery *fabric*: the seam between drbook and whatever runs the
//! protected VMs. One narrow, object-safe async trait, in drbook's own domain
//! types; the embedded simulator is its reference implementation.
//!
//! Who implements it: `drbook-fabric-sim` (the simulator, the reference);
//! next, Azure over ARM REST. Both pass the conformance suite in
//! `drbook-conformance`'s `fabric` module.
//!
//! Layout:
//! - `types`: the read model (§2 of the reference) and operation requests (§3).
//! - `error`: the typed errors a runbook may see.

mod error;
mod types;

pub use error::FabricError;
pub use types::*;

use async_trait::async_trait;
use std::time::Duration;

/// A Site Recovery fabric. Every operation is long-running: `start` returns an
/// operation id at once; `operation` reports its progress by that id, so that a
/// caller that restarts can re-attach to an operation already under way.
#[async_trait]
pub trait Fabric: Send + Sync {
    /// Every protected item, in a stable order (by name).
    async fn list_items(&self) -> Result<Vec<ProtectedItem>, FabricError>;

    /// Every protected item as [`Self::list_items`] gives it, in the same
    /// order, but with `recovery_points` empty. For callers that check a
    /// plan's VMs against the fabric (names, regions, states), which should
    /// not pay for the points of every item: over ARM those are a read per
    /// item, and a vault of 300 items would spend its read budget on them.
    async fn list_items_without_points(&self) -> Result<Vec<ProtectedItem>, FabricError> {
        let mut items = self.list_items().await?;
        for item in &mut items {
            item.recovery_points.clear();
        }
        Ok(items)
    }

    /// One protected item by name (case-insensitive).
    async fn get_item(&self, vm: &str) -> Result<ProtectedItem, FabricError>;

    /// Starts an operation on one item and returns its operation id. Refused
    /// (`NotAllowed`, `Busy`, ...) without any change when the item does not
    /// allow it now. `initiator` says who or what asked, for the audit trail.
    async fn start(
        &self,
        vm: &str,
        request: &OperationRequest,
        initiator: &str,
    ) -> Result<String, FabricError>;

    /// The status of an operation by id.
    async fn operation(&self, id: &str) -> Result<OperationStatus, FabricError>;

    /// The latest operation that `initiator` started on `vm`, if any. A
    /// caller that died between asking for an operation and hearing its id
    /// finds it here instead of starting it twice, so initiators should be
    /// unique per request (drbook's name the job and its journal entry).
    async fn find_operation(
        &self,
        vm: &str,
        initiator: &str,
    ) -> Result<Option<OperationStatus>, FabricError>;

    /// Records in the fabric's audit trail a start that drbook's host refused
    /// before it reached the fabric: it was outside its job's scope
    /// ([`crate::scope`]). What every backend must do:
    ///
    /// - keep it in the same audit trail as the operations it started (the
    ///   simulator's history, Azure's own audit log), with who asked
    ///   (`initiator`), the operation and its options, the VM, the rule and
    ///   the reason, shown as refused: distinct from any operation, and never
    ///   returned by `operation` or `find_operation`;
    /// - change nothing else: no item, no operation, no fault;
    /// - take a VM it does not hold (a refused start may name any name);
    /// - keep one record per initiator: recording the same initiator again
    ///   changes nothing (a resumed job may record its refusal again).
    async fn record_refusal(&self, refused: &RefusedStart) -> Result<(), FabricError>;

    /// How long a poller should wait before asking about `status` again (ARM's
    /// `Retry-After`). Backends that know when an operation ends say so.
    fn poll_interval(&self, status: &OperationStatus) -> Duration;

    /// Waits until the operation is terminal, polling at `poll_interval`
    /// (at most [`MAX_POLL`] apart), and shows `progress` every status it
    /// reads, the last one terminal. The one poll loop of drbook: runbooks'
    /// waits and the operator's `fabric op --wait` both come here.
    async fn wait(
        &self,
        id: &str,
        progress: &mut (dyn for<'s> FnMut(&'s OperationStatus) + Send),
    ) -> Result<OperationStatus, FabricError> {
        loop {
            let status = self.operation(id).await?;
            progress(&status);
            if status.state.is_terminal() {
                return Ok(status);
            }
            tokio::time::sleep(self.poll_interval(&status).min(MAX_POLL)).await;
        }
    }
}

/// The longest a waiter sleeps between two polls, whatever a backend's
/// `Retry-After` says: a finished operation is seen within this.
pub const MAX_POLL: Duration = Duration::from_secs(5);
