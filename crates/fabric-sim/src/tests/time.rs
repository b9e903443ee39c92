//! Time: recovery points appear on schedule so RPO grows and drops; progress
//! rises with the clock; and an operation started by one process completes by
//! the clock when another opens the store.

use super::{planned, t0, Fixture};
use crate::Simulator;
use chrono::Duration;
use drbook_core::fabric::{
    Direction, Fabric, Location, OperationRequest, OperationState, ProtectionState,
    RecoveryPointType,
};

#[tokio::test]
async fn recovery_points_follow_the_clock() {
    let fx = Fixture::timed();
    let item = fx.item("web-01").await;
    assert_eq!(
        item.recovery_points.len(),
        24,
        "a full window from the start"
    );
    assert_eq!(item.rpo_seconds, Some(0));
    assert!(item
        .recovery_points
        .iter()
        .any(|p| p.recovery_point_type == RecoveryPointType::ApplicationConsistent));
    assert!(item
        .recovery_points
        .windows(2)
        .all(|w| w[0].recovery_point_time < w[1].recovery_point_time));

    fx.clock.advance(Duration::minutes(4));
    assert_eq!(
        fx.item("web-01").await.rpo_seconds,
        Some(240),
        "RPO grows between points"
    );
    fx.clock.advance(Duration::minutes(1));
    let later = fx.item("web-01").await;
    assert_eq!(later.rpo_seconds, Some(0), "and drops when a point appears");
    assert_eq!(later.recovery_points.len(), 24, "the window is bounded");
    assert_eq!(
        later.recovery_points.last().map(|p| p.recovery_point_time),
        Some(t0() + Duration::minutes(5))
    );
}

#[tokio::test]
async fn reprotect_progress_rises_with_disk_size_dependent_duration() {
    let fx = Fixture::timed();
    for vm in ["sql-01", "web-01"] {
        fx.succeed(vm, &planned(Direction::PrimaryToRecovery)).await;
        fx.succeed(vm, &OperationRequest::Commit).await;
    }
    let big = fx
        .start("sql-01", &OperationRequest::Reprotect)
        .await
        .expect("reprotect");
    let small = fx
        .start("web-01", &OperationRequest::Reprotect)
        .await
        .expect("reprotect");
    assert_eq!(fx.item("sql-01").await.reprotect_percent, Some(0));

    fx.clock.advance(Duration::minutes(60));
    let sql = fx.item("sql-01").await;
    assert_eq!(sql.protection_state, ProtectionState::ReprotectInProgress);
    assert_eq!(sql.reprotect_percent, Some(50), "2 TB reprotects in 2 h");
    assert_eq!(
        fx.sim.operation(&small).await.expect("op").state,
        OperationState::Succeeded,
        "128 GB within 1 h"
    );

    fx.clock.advance(Duration::minutes(60));
    let status = fx.sim.operation(&big).await.expect("op");
    assert_eq!(
        (status.state, status.percent_complete),
        (OperationState::Succeeded, 100)
    );
    assert_eq!(
        status.end_time,
        Some(status.start_time + Duration::hours(2))
    );
    let sql = fx.item("sql-01").await;
    assert_eq!(
        (sql.protection_state, sql.reprotect_percent),
        (ProtectionState::Protected, None)
    );
}

#[tokio::test]
async fn an_operation_in_flight_completes_by_the_clock_after_reopen() {
    let fx = Fixture::timed();
    let id = fx
        .start("app-02", &planned(Direction::PrimaryToRecovery))
        .await
        .expect("failover");
    fx.clock.advance(Duration::minutes(2));
    drop(fx.sim.clone());

    let second = fx.reopen();
    let status = second.operation(&id).await.expect("re-attach by id");
    assert_eq!(
        (status.state, status.percent_complete),
        (OperationState::InProgress, 50)
    );
    assert_eq!(
        second
            .get_item("APP-02")
            .await
            .expect("case-insensitive")
            .protection_state,
        ProtectionState::FailoverInProgress
    );

    fx.clock.advance(Duration::minutes(2));
    let third = fx.reopen();
    let item = third.get_item("app-02").await.expect("item");
    assert_eq!(
        (item.protection_state, item.active_location),
        (ProtectionState::FailedOverCommitPending, Location::Recovery)
    );
    assert_eq!(
        third.operation(&id).await.expect("op").state,
        OperationState::Succeeded
    );
    // The first handle sees the same, settled once.
    assert_eq!(fx.sim.history().expect("history").len(), 1);
    assert_eq!(
        fx.sim.history().expect("history")[0].outcome,
        crate::Outcome::Succeeded
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_is_shared_by_two_handles_writing_at_once() {
    let fx = Fixture::instant();
    let other = Simulator::open_with(fx.dir.path(), fx.options()).expect("open");
    let vms: [&'static str; 6] = ["web-01", "web-02", "web-03", "web-04", "web-05", "web-06"];
    let starts = vms.into_iter().enumerate().map(|(i, vm)| {
        let sim = if i % 2 == 0 {
            fx.sim.clone()
        } else {
            other.clone()
        };
        tokio::spawn(async move {
            sim.start(vm, &planned(Direction::PrimaryToRecovery), "race")
                .await
        })
    });
    for start in starts {
        start.await.expect("task").expect("each start succeeds");
    }
    let history = fx.sim.history().expect("history");
    assert_eq!(history.len(), vms.len());
    let mut ids: Vec<_> = history.iter().map(|h| h.id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), vms.len(), "operation ids are unique");
}
