//! A copy of an estate in memory (`snapshot`): it reads back as the estate
//! it was made from, refuses what the estate refuses (states, degraded
//! replication, a region down, an operation under way), and nothing done
//! to it reaches the estate.

use super::{direction_of, planned, test_failover, unplanned, Fixture};
use crate::state_machine::probe;
use crate::{Fault, Snapshot, SnapshotError};
use chrono::Duration;
use drbook_core::fabric::{
    Direction, Fabric, FabricError, Health, OperationKind, OperationRequest, ProtectionState,
};

/// The demo estate in every kind of state: a failover pending commit, a
/// committed one, a test failover waiting for cleanup, a degraded
/// replication, and the rest protected.
async fn varied() -> Fixture {
    let fx = Fixture::instant();
    let forward = Direction::PrimaryToRecovery;
    fx.succeed("web-01", &planned(forward)).await;
    fx.succeed("app-01", &unplanned(forward)).await;
    fx.succeed("app-01", &OperationRequest::Commit).await;
    fx.succeed("sql-01", &test_failover(forward)).await;
    fx.sim
        .set_fault(Fault::Degrade {
            vm: "app-02".to_string(),
            health: Health::Warning,
        })
        .expect("degrade");
    fx
}

/// The copy of `fx`'s estate now, asserted to reproduce every item's
/// allowed operations.
async fn copy_of(fx: &Fixture) -> crate::Simulator {
    let snapshot = Snapshot::read(&fx.sim).await.expect("the estate reads");
    let (copy, mismatches) = snapshot.load(fx.options()).expect("the copy loads");
    assert_eq!(mismatches, Vec::new(), "every item's allowed operations");
    copy
}

#[tokio::test]
async fn a_copy_reads_back_as_the_estate_it_was_made_from() {
    let fx = varied().await;
    let copy = copy_of(&fx).await;
    let estate = fx.sim.list_items().await.expect("the estate");
    assert_eq!(copy.list_items().await.expect("the copy"), estate);
    let web = estate.iter().find(|i| i.name == "web-01").expect("web-01");
    assert_eq!(
        web.protection_state,
        ProtectionState::FailedOverCommitPending
    );
    assert!(
        !web.recovery_points.is_empty(),
        "a pending failover keeps its points, with their ids"
    );
}

#[tokio::test]
async fn a_copy_refuses_what_the_estate_refuses() {
    for outage in [None, Some("eastus"), Some("westus")] {
        let fx = varied().await;
        if let Some(region) = outage {
            fx.sim
                .set_fault(Fault::RegionDown(region.to_string()))
                .expect("region down");
        }
        let copy = copy_of(&fx).await;
        let mut refused = 0;
        for item in fx.sim.list_items().await.expect("the estate") {
            for kind in OperationKind::ALL {
                if item.allows(kind.gate()) {
                    continue;
                }
                let request = probe(kind, direction_of(&item));
                let live = fx.start(&item.name, &request).await.expect_err("refused");
                let predicted = copy
                    .start(&item.name, &request, "dry-run")
                    .await
                    .expect_err("refused too");
                assert_eq!(
                    predicted, live,
                    "{kind} of {} with {outage:?} down",
                    item.name
                );
                refused += 1;
            }
        }
        assert!(refused > 12 * 4, "{refused} refusals compared");
        let outage_seen = copy
            .start("sql-02", &planned(Direction::PrimaryToRecovery), "dry-run")
            .await;
        match outage {
            Some(region) => assert!(
                matches!(&outage_seen, Err(FabricError::RegionUnavailable { region: r, .. }) if r == region),
                "{outage_seen:?}"
            ),
            None => assert!(outage_seen.is_ok(), "{outage_seen:?}"),
        }
    }
}

#[tokio::test]
async fn nothing_done_to_a_copy_reaches_the_estate() {
    let fx = varied().await;
    let before = fx.dump();
    let copy = copy_of(&fx).await;
    let id = copy
        .start("sql-02", &planned(Direction::PrimaryToRecovery), "dry-run")
        .await
        .expect("the copy fails sql-02 over");
    assert!(id.starts_with("op-dry-run-"), "{id}");
    fx.clock.advance(Duration::hours(1));
    assert_eq!(
        copy.get_item("sql-02")
            .await
            .expect("sql-02")
            .protection_state,
        ProtectionState::FailedOverCommitPending
    );
    assert_eq!(fx.dump(), before);
    assert_eq!(
        fx.item("sql-02").await.protection_state,
        ProtectionState::Protected
    );
}

#[tokio::test]
async fn an_operation_under_way_keeps_its_item_busy_in_the_copy() {
    let fx = Fixture::timed();
    let id = fx
        .start("sql-01", &planned(Direction::PrimaryToRecovery))
        .await
        .expect("a planned failover starts");
    fx.clock.advance(Duration::minutes(1));
    let copy = copy_of(&fx).await;
    let item = copy.get_item("sql-01").await.expect("sql-01");
    let scenario = item.current_scenario.expect("busy in the copy");
    assert_eq!(
        (scenario.job_id.as_str(), scenario.percent_complete),
        (id.as_str(), 25),
        "the estate's operation, as far along (1 of 4 minutes)"
    );
    // Long after the estate's operation would have ended, the copy still
    // does not know it has: the item stays busy.
    fx.clock.advance(Duration::hours(1));
    let busy = copy
        .start("sql-01", &OperationRequest::Commit, "dry-run")
        .await;
    assert!(
        matches!(&busy, Err(FabricError::Busy { operation_id, .. }) if *operation_id == id),
        "{busy:?}"
    );
}

#[tokio::test]
async fn two_items_of_one_name_cannot_be_copied() {
    let fx = Fixture::instant();
    let mut snapshot = Snapshot::read(&fx.sim).await.expect("the estate reads");
    let mut twin = snapshot.items[0].clone();
    twin.name = twin.name.to_uppercase();
    snapshot.items.push(twin);
    match snapshot.load(fx.options()) {
        Err(err @ SnapshotError::DuplicateName(_)) => {
            assert!(err.to_string().contains("rename one of them"), "{err}")
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("two items named app-01 were copied"),
    }
}

#[tokio::test]
async fn the_estate_s_points_age_out_of_the_copy_as_new_ones_appear() {
    let fx = Fixture::instant();
    let copy = copy_of(&fx).await;
    let estate = fx.item("web-02").await.recovery_points;
    let window = estate.len();
    // One interval on: the copy's first point of its own, newest last, and
    // the estate's oldest gone.
    fx.clock.advance(Duration::minutes(5));
    let points = copy
        .get_item("web-02")
        .await
        .expect("web-02")
        .recovery_points;
    assert_eq!(points.len(), window);
    assert_eq!(points[..window - 1], estate[1..]);
    assert!(!estate.contains(&points[window - 1]), "{points:?}");
    assert!(points
        .windows(2)
        .all(|w| w[0].recovery_point_time < w[1].recovery_point_time));
    // A window on, none of the estate's is left.
    fx.clock.advance(Duration::hours(2));
    let points = copy
        .get_item("web-02")
        .await
        .expect("web-02")
        .recovery_points;
    assert_eq!(points.len(), window);
    assert!(points.iter().all(|p| !estate.contains(p)), "{points:?}");
}
