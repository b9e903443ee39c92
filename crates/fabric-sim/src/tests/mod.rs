//! Unit tests of the simulator. Time never comes from sleeping: a manual
//! clock moves it, and `instant` speed ends operations as they start.
//!
//! - `transitions`: every (state × operation) pair, allowed or refused.
//! - `cycle`: the full failover/failback cycle on every demo VM.
//! - `test_failover`: a drill leaves production and replication untouched.
//! - `time`: recovery points, RPO, progress and persistence across reopen.
//! - `faults`: each injected fault, and a region outage.
//! - `bad_input`: refusals and bad stores leave the store unchanged.
//! - `blocking`: a call that must wait does not hold the async thread.
//! - `audit`: refused starts in the audit trail, apart from operations.
//! - `snapshot`: an estate copied into memory refuses what it refuses.

mod audit;
mod bad_input;
mod blocking;
mod cycle;
mod faults;
mod snapshot;
mod test_failover;
mod time;
mod transitions;

use crate::{demo_estate, ManualClock, Options, Simulator};
use chrono::{DateTime, Duration, TimeZone, Utc};
use drbook_core::fabric::{
    Direction, Fabric, FabricError, Location, OperationRequest, OperationState, OperationStatus,
    ProtectedItem, RecoveryPointChoice, SourceSiteOperations,
};
use drbook_core::TimeScale;
use std::sync::Arc;
use tempfile::TempDir;

pub(super) const INITIATOR: &str = "unit-test";

/// A demo fabric in a temporary directory on a manual clock.
pub(super) struct Fixture {
    pub dir: TempDir,
    pub sim: Simulator,
    pub clock: Arc<ManualClock>,
    pub speed: TimeScale,
}

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

impl Fixture {
    /// Real durations (speed 1) on a manual clock: operations stay in
    /// progress until the test moves the clock.
    pub fn timed() -> Self {
        Self::new(TimeScale::Factor(1.0))
    }

    pub fn instant() -> Self {
        Self::new(TimeScale::Instant)
    }

    fn new(speed: TimeScale) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let clock = Arc::new(ManualClock::new(t0()));
        let sim = Simulator::init_with(
            dir.path(),
            &demo_estate(),
            false,
            Options::new(speed).with_clock(clock.clone()),
        )
        .expect("the demo estate initialises");
        Fixture {
            dir,
            sim,
            clock,
            speed,
        }
    }

    /// The same store, opened again as a new process would.
    pub fn reopen(&self) -> Simulator {
        Simulator::open_with(
            self.dir.path(),
            Options::new(self.speed).with_clock(self.clock.clone()),
        )
        .expect("the store reopens")
    }

    pub fn options(&self) -> Options {
        Options::new(self.speed).with_clock(self.clock.clone())
    }

    pub async fn item(&self, vm: &str) -> ProtectedItem {
        self.sim.get_item(vm).await.expect("the item exists")
    }

    pub async fn start(&self, vm: &str, request: &OperationRequest) -> Result<String, FabricError> {
        self.sim.start(vm, request, INITIATOR).await
    }

    /// Starts `request`, moves the clock past its end and returns its status.
    pub async fn run(&self, vm: &str, request: &OperationRequest) -> OperationStatus {
        let id = self
            .start(vm, request)
            .await
            .unwrap_or_else(|err| panic!("{request:?} on {vm}: {err}"));
        self.clock.advance(Duration::hours(3));
        let status = self.sim.operation(&id).await.expect("the operation exists");
        assert!(status.state.is_terminal(), "{status:?}");
        status
    }

    /// Runs `request` and asserts it succeeded.
    pub async fn succeed(&self, vm: &str, request: &OperationRequest) {
        let status = self.run(vm, request).await;
        assert_eq!(status.state, OperationState::Succeeded, "{status:?}");
    }

    /// Every row of every table, to show that something changed nothing.
    pub fn dump(&self) -> String {
        let conn = self.sim.shared.conn.lock().expect("the connection");
        let mut out = String::new();
        for table in ["meta", "regions", "items", "operations", "refusals"] {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
                .expect("a table");
            let columns = stmt.column_count();
            let rows = stmt
                .query_map([], |row| {
                    (0..columns)
                        .map(|i| {
                            row.get::<_, rusqlite::types::Value>(i)
                                .map(|v| format!("{v:?}"))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .expect("rows");
            for row in rows {
                out.push_str(&format!("{table}: {}\n", row.expect("a row").join(" | ")));
            }
        }
        out
    }
}

/// The direction an item's replication allows now.
pub(super) fn direction_of(item: &ProtectedItem) -> Direction {
    match item.active_location {
        Location::Primary => Direction::PrimaryToRecovery,
        Location::Recovery => Direction::RecoveryToPrimary,
    }
}

pub(super) fn planned(direction: Direction) -> OperationRequest {
    OperationRequest::PlannedFailover { direction }
}

pub(super) fn unplanned(direction: Direction) -> OperationRequest {
    OperationRequest::UnplannedFailover {
        direction,
        recovery_point: RecoveryPointChoice::LatestProcessed,
        source_site_operations: SourceSiteOperations::NotRequired,
    }
}

pub(super) fn test_failover(direction: Direction) -> OperationRequest {
    OperationRequest::TestFailover {
        direction,
        network: "test-vnet".to_string(),
        recovery_point: RecoveryPointChoice::LatestProcessed,
    }
}

pub(super) fn cleanup() -> OperationRequest {
    OperationRequest::TestFailoverCleanup {
        comments: "drill done".to_string(),
    }
}
