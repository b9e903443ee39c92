//! Bad input is refused with a specific error and changes nothing: unknown
//! VMs, operations not allowed now, busy items, wrong directions, unknown
//! recovery points, bad estates, corrupt and newer stores.

use super::{planned, t0, unplanned, Fixture};
use crate::{
    demo_estate, Estate, EstateError, ManualClock, Options, SchemaError, Simulator, SimulatorError,
    SCHEMA_VERSION,
};
use drbook_core::fabric::{
    Direction, Fabric, FabricError, OperationRequest, RecoveryPointChoice, SourceSiteOperations,
};
use drbook_core::TimeScale;
use std::sync::Arc;

#[tokio::test]
async fn refused_operations_change_nothing() {
    let fx = Fixture::timed();
    let running = fx
        .start("sql-02", &planned(Direction::PrimaryToRecovery))
        .await
        .expect("failover");
    let dump = fx.dump();

    let unknown = fx.start("nope", &OperationRequest::Commit).await;
    assert!(
        matches!(unknown, Err(FabricError::ItemNotFound { .. })),
        "{unknown:?}"
    );
    assert!(matches!(
        fx.sim.get_item("nope").await,
        Err(FabricError::ItemNotFound { .. })
    ));
    assert!(matches!(
        fx.sim.operation("op-nope").await,
        Err(FabricError::OperationNotFound { .. })
    ));

    let not_allowed = fx.start("sql-01", &OperationRequest::Commit).await;
    let message = not_allowed
        .as_ref()
        .map_err(ToString::to_string)
        .expect_err("refused");
    assert!(
        message.contains("Protected") && message.contains("PlannedFailover"),
        "{message}"
    );

    let busy = fx.start("sql-02", &OperationRequest::Commit).await;
    assert!(
        matches!(&busy, Err(FabricError::Busy { operation_id, .. }) if *operation_id == running),
        "{busy:?}"
    );

    let backwards = fx
        .start("sql-01", &planned(Direction::RecoveryToPrimary))
        .await;
    let message = backwards.map_err(|e| e.to_string()).expect_err("refused");
    assert!(
        message.contains("--direction primary-to-recovery"),
        "{message}"
    );

    let no_point = OperationRequest::UnplannedFailover {
        direction: Direction::PrimaryToRecovery,
        recovery_point: RecoveryPointChoice::Id("rp-0-9999".to_string()),
        source_site_operations: SourceSiteOperations::Required,
    };
    let missing = fx.start("sql-01", &no_point).await;
    assert!(
        matches!(missing, Err(FabricError::RecoveryPointNotFound { .. })),
        "{missing:?}"
    );

    assert_eq!(fx.dump(), dump, "refusals changed the store");
    assert!(
        fx.start("sql-01", &unplanned(Direction::PrimaryToRecovery))
            .await
            .is_ok(),
        "the item itself is fine"
    );
}

#[test]
fn bad_estates_are_refused_with_the_problem_named() {
    let cases = [
        ("regions = [\"a\", \"b\"]\nvms = []", "no VMs"),
        ("regions = [\"a\", \"a\"]\n[[vms]]\nname = \"x\"\ndisk_size_gb = 1\nprimary_region = \"a\"\nrecovery_region = \"b\"", "listed twice"),
        (
            "regions = [\"a\", \"b\"]\n[[vms]]\nname = \"x\"\ndisk_size_gb = 1\nprimary_region = \"a\"\nrecovery_region = \"b\"\n\
             [[vms]]\nname = \"X\"\ndisk_size_gb = 1\nprimary_region = \"a\"\nrecovery_region = \"b\"",
            "defined twice",
        ),
        ("regions = [\"a\", \"b\"]\n[[vms]]\nname = \"x\"\ndisk_size_gb = 1\nprimary_region = \"a\"\nrecovery_region = \"c\"", "region `c`"),
        ("regions = [\"a\", \"b\"]\n[[vms]]\nname = \"x\"\ndisk_size_gb = 1\nprimary_region = \"a\"\nrecovery_region = \"A\"", "both its primary"),
        ("regions = [\"a\", \"b\"]\n[[vms]]\nname = \"x\"\nprimary_region = \"a\"\nrecovery_region = \"b\"", "disk_size_gb"),
    ];
    for (text, expected) in cases {
        let err = Estate::parse(text).expect_err(text);
        assert!(err.to_string().contains(expected), "{text}: {err}");
    }
}

#[test]
fn init_refuses_a_bad_estate_or_an_existing_fabric_and_changes_nothing() {
    let fx = Fixture::instant();
    let dump = fx.dump();
    let mut bad = demo_estate();
    bad.vms[1].name = bad.vms[0].name.to_uppercase();
    let err = Simulator::init_with(fx.dir.path(), &bad, true, fx.options())
        .err()
        .expect("refused");
    assert!(
        matches!(err, SimulatorError::Estate(EstateError::DuplicateVm(_))),
        "{err}"
    );
    let err = Simulator::init_with(fx.dir.path(), &demo_estate(), false, fx.options())
        .err()
        .expect("refused");
    assert!(
        matches!(
            err,
            SimulatorError::Store(SchemaError::AlreadyInitialised { .. })
        ),
        "{err}"
    );
    assert_eq!(fx.dump(), dump);
}

fn open(dir: &std::path::Path) -> Result<Simulator, SimulatorError> {
    Simulator::open_with(
        dir,
        Options::new(TimeScale::Instant).with_clock(Arc::new(ManualClock::new(t0()))),
    )
}

#[test]
fn a_missing_or_corrupt_store_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("dir");
    let err = open(dir.path()).err().expect("refused");
    assert!(err.to_string().contains("fabric init --demo"), "{err}");
    assert!(
        !Simulator::store_path(dir.path()).exists(),
        "open does not create a store"
    );

    let path = Simulator::store_path(dir.path());
    let garbage = b"this is not an SQLite database, whatever it claims to be....".repeat(100);
    std::fs::write(&path, &garbage).expect("write");
    let err = open(dir.path()).err().expect("refused");
    assert!(
        matches!(err, SimulatorError::Store(SchemaError::Corrupt { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        garbage,
        "the corrupt file is untouched"
    );

    // --force replaces it.
    let sim = Simulator::init_with(
        dir.path(),
        &demo_estate(),
        true,
        Options::new(TimeScale::Instant),
    )
    .expect("replaced");
    drop(sim);
    assert!(open(dir.path()).is_ok());
}

#[test]
fn a_store_from_a_newer_drbook_is_refused_untouched() {
    let fx = Fixture::instant();
    {
        let conn = fx.sim.shared.conn.lock().expect("connection");
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
            [(SCHEMA_VERSION + 1).to_string()],
        )
        .expect("bump the version");
    }
    let dump = fx.dump();
    let err = open(fx.dir.path()).err().expect("refused");
    assert!(
        matches!(err, SimulatorError::Store(SchemaError::NewerSchema { found, .. }) if found == SCHEMA_VERSION + 1),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade drbook"), "{err}");
    assert_eq!(fx.dump(), dump);
}

#[tokio::test]
async fn reset_returns_to_the_initial_estate_and_keeps_history() {
    let fx = Fixture::timed();
    fx.succeed("web-01", &planned(Direction::PrimaryToRecovery))
        .await;
    let in_flight = fx
        .start("web-02", &planned(Direction::PrimaryToRecovery))
        .await
        .expect("failover");
    fx.sim
        .set_fault(crate::Fault::FailPercent(10))
        .expect("fault");
    fx.sim.reset().expect("reset");
    for item in fx.sim.list_items().await.expect("items") {
        assert_eq!(
            item.protection_state,
            drbook_core::fabric::ProtectionState::Protected,
            "{}",
            item.name
        );
        assert_eq!(item.current_scenario, None);
    }
    assert_eq!(fx.sim.faults().expect("faults"), Default::default());
    assert_eq!(
        fx.sim.operation(&in_flight).await.expect("op").state,
        drbook_core::fabric::OperationState::Canceled
    );
    assert_eq!(fx.sim.history().expect("history").len(), 2);
}
