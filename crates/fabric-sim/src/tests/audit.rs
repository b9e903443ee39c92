//! The audit trail keeps starts refused before they reached the fabric (a
//! job's scope) beside the operations: shown as refused, once per
//! initiator, and never taken for an operation.

use super::{planned, Fixture};
use crate::schema::SCHEMA_VERSION;
use crate::Outcome;
use drbook_core::fabric::{
    Direction, Fabric, OperationKind, OperationRequest, RecoveryPointChoice, RefusedStart,
    SourceSiteOperations,
};
use drbook_core::scope::Rule;

fn unplanned() -> OperationRequest {
    OperationRequest::UnplannedFailover {
        direction: Direction::PrimaryToRecovery,
        recovery_point: RecoveryPointChoice::Latest,
        source_site_operations: SourceSiteOperations::NotRequired,
    }
}

fn refused(vm: &str, initiator: &str) -> RefusedStart {
    RefusedStart {
        vm: vm.to_string(),
        request: unplanned(),
        initiator: initiator.to_string(),
        rule: Rule::FailoverType,
        reason: "unplanned-failover on `web-01` is outside this job's scope".to_string(),
    }
}

#[tokio::test]
async fn a_refused_start_is_in_the_history_once_and_starts_nothing() {
    let fx = Fixture::instant();
    fx.succeed("sql-01", &planned(Direction::PrimaryToRecovery))
        .await;
    let before = fx.item("web-01").await;
    for _ in 0..2 {
        fx.sim
            .record_refusal(&refused("web-01", "job j call 3"))
            .await
            .expect("recorded");
    }
    // A VM the fabric does not hold is recorded too: a refused start may
    // name any name.
    fx.sim
        .record_refusal(&refused("ghost-01", "job j call 4"))
        .await
        .expect("recorded");

    let history = fx.sim.history().expect("history");
    let outcomes: Vec<_> = history
        .iter()
        .map(|h| (h.vm.as_str(), h.operation, h.outcome, h.rule))
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                "sql-01",
                OperationKind::PlannedFailover,
                Outcome::Succeeded,
                None
            ),
            (
                "web-01",
                OperationKind::UnplannedFailover,
                Outcome::Refused,
                Some(Rule::FailoverType)
            ),
            (
                "ghost-01",
                OperationKind::UnplannedFailover,
                Outcome::Refused,
                Some(Rule::FailoverType)
            ),
        ]
    );
    let entry = &history[1];
    assert_eq!(entry.initiator, "job j call 3");
    assert!(entry.id.starts_with("refused-"), "{entry:?}");
    assert_eq!(entry.options["source_site_operations"], "NotRequired");
    assert!(entry
        .error
        .as_deref()
        .unwrap()
        .contains("outside this job's scope"));
    let json = serde_json::to_value(entry).unwrap();
    assert_eq!(
        (json["outcome"].as_str(), json["rule"].as_str()),
        (Some("Refused"), Some("failover-type"))
    );

    // Nothing started: the item is as it was, no operation by that
    // initiator exists, and no failover is counted.
    assert_eq!(fx.item("web-01").await, before);
    assert_eq!(
        fx.sim
            .find_operation("web-01", "job j call 3")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        fx.sim
            .operation_count("web-01", OperationKind::UnplannedFailover)
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_store_before_refusals_is_migrated_keeping_its_history() {
    let fx = Fixture::instant();
    fx.succeed("web-01", &planned(Direction::PrimaryToRecovery))
        .await;
    {
        let conn = fx.sim.shared.conn.lock().expect("connection");
        conn.execute_batch(
            "DROP TABLE refusals; UPDATE meta SET value = '1' WHERE key = 'schema_version';",
        )
        .expect("back to schema 1");
    }
    let sim = fx.reopen();
    sim.record_refusal(&refused("web-02", "job k call 1"))
        .await
        .expect("recorded after the migration");
    let history = sim.history().expect("history");
    assert_eq!(
        history.iter().map(|h| h.outcome).collect::<Vec<_>>(),
        [Outcome::Succeeded, Outcome::Refused]
    );
    let conn = sim.shared.conn.lock().expect("connection");
    let version: String = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION.to_string());
}
