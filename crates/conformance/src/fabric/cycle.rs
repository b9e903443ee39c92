//! The full cycle of §3 on every VM of the estate: failover → commit →
//! reprotect → failback (a failover `RecoveryToPrimary`) → commit →
//! reprotect, which brings every VM home.

use super::{assert_protected, kinds, Harness, Setup};
use drbook_core::fabric::{Health, Location, OperationKind, ProtectionState};

/// A planned failover out and an unplanned one back, so that both kinds go
/// through commit and reprotect.
pub async fn full_cycle(setup: &dyn Setup) {
    let h = Harness::fresh(setup, "full_cycle").await;
    leg(&h, OperationKind::PlannedFailover, Location::Recovery).await;
    for vm in &h.vms {
        // The replication runs the other way now: only a failback is possible.
        h.assert_one_way(vm).await;
    }
    leg(&h, OperationKind::UnplannedFailover, Location::Primary).await;
}

/// One failover of every VM with `failover` to `to`, its commit and the
/// reprotect that makes `to` the protected side.
async fn leg(h: &Harness, failover: OperationKind, to: Location) {
    let context = format!("full_cycle: {failover:?} to {to:?}");
    for item in h.run_on(&h.vms, failover).await {
        let at = format!("{context}: {}", item.name);
        assert_eq!(
            (item.active_location, item.protection_state),
            (to, ProtectionState::FailedOverCommitPending),
            "{at}"
        );
        assert!(item.last_successful_failover_time.is_some(), "{at}");
        let point = item
            .failover_recovery_point_id
            .as_deref()
            .unwrap_or_else(|| panic!("{at}: no point it restored from"));
        assert!(
            item.recovery_points.iter().any(|p| p.id == point),
            "{at}: restored from {point}, not one of its recovery points"
        );
    }
    for item in h.run_on(&h.vms, OperationKind::Commit).await {
        let at = format!("{context}, committed: {}", item.name);
        assert_eq!(
            (item.active_location, item.protection_state),
            (to, ProtectionState::FailoverCommitted),
            "{at}"
        );
        assert!(
            item.recovery_points.is_empty(),
            "{at}: commit deletes the recovery points"
        );
        assert_eq!(
            (item.rpo_seconds, item.replication_health),
            (None, Health::None),
            "{at}: nothing replicates until the reprotect"
        );
        assert_eq!(kinds(&item), [OperationKind::Reprotect], "{at}");
    }
    for item in h.run_on(&h.vms, OperationKind::Reprotect).await {
        assert_protected(&item, to, &format!("{context}, reprotected"));
    }
}
