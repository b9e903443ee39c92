//! The conformance suite of the [`Fabric`] port: what every backend (the
//! simulator, the Azure backend) does the same way, written over
//! `&dyn Fabric` alone so that it states the port's promises rather than one
//! backend's habits. A scenario panics at the first broken promise, naming
//! the VM, the operation and what it saw, so it reads as a failing test.
//!
//! A backend provides a [`Setup`]: fresh fabrics holding a known estate, and
//! two declarations. The suite needs no clock of its own: it waits for every
//! operation by polling ([`Fabric::wait`]), so it passes on a fabric whose
//! operations end as they start as well as on one where they take real time.
//!
//! The scenarios:
//! - [`estate_reads_consistently`]: `list_items`, `list_items_without_points` and `get_item` agree.
//! - [`state_table`]: every idle state × every operation, allowed with its
//!   effect or refused as `NotAllowed` with the item unchanged; an item's
//!   `allowedOperations` lists exactly what `start` accepts.
//! - [`full_cycle`]: failover → commit → reprotect → failback → commit →
//!   reprotect on every VM, back home.
//! - [`test_failover`]: a drill leaves production and replication untouched.
//! - [`refusals`]: unknown VMs, operations and recovery points, failovers
//!   against the replication.
//! - [`find_operation_reattaches`]: an initiator finds its operation again.
//! - [`refused_starts_are_recorded`]: a start refused before it reached the fabric
//!   (a job's scope) is recorded for the audit trail and changes nothing.
//! - [`busy_items`]: a busy item refuses everything, naming its operation.
//!   Only a backend that can hold an operation in progress can show this
//!   ([`Setup::holds_operations`]); on others it is skipped, and says so.
//!
//! Left to a backend's own tests, because the port cannot reach them: the
//! `*Failed` states (they need injected faults), the in-progress states past
//! a first operation (reaching them runs earlier operations to their end,
//! which takes hours on a fabric that holds operations), regions going down,
//! clocks, persistence and speed.

mod audit;
mod cycle;
mod estate;
mod reattach;
mod refusals;
mod state_table;
mod test_failover;

pub use audit::refused_starts_are_recorded;
pub use cycle::full_cycle;
pub use estate::estate_reads_consistently;
pub use reattach::find_operation_reattaches;
pub use refusals::{busy_items, refusals};
pub use state_table::state_table;
pub use test_failover::test_failover;

use async_trait::async_trait;
use drbook_core::fabric::{
    Direction, Fabric, FabricError, Health, Location, OperationKind, OperationRequest,
    OperationState, OperationStatus, ProtectedItem, ProtectionState, RecoveryPointChoice,
    SourceSiteOperations, TestFailoverState,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The fewest VMs a backend's estate may hold: the state table brings three
/// VMs into one state to try each of its (up to three) allowed operations on
/// an item of its own, and the busy scenario keeps three busy at once.
pub const MIN_VMS: usize = 3;

/// The network every test failover of the suite names.
pub const TEST_NETWORK: &str = "drbook-conformance-test-vnet";

/// What a backend gives the suite.
#[async_trait]
pub trait Setup: Send + Sync {
    /// A fabric no scenario has touched yet, holding at least [`MIN_VMS`] VMs,
    /// each `Protected` on its primary side, replicating primary → recovery
    /// with healthy replication and recovery points, idle, with no test
    /// failover. Every scenario asks for its own, and checks all that first.
    async fn fabric(&self) -> Arc<dyn Fabric>;

    /// Whether an operation this backend starts stays in progress long enough
    /// (seconds at least) for the suite to read the item and be refused. True
    /// of Azure; false of a simulator at `instant` speed, where operations
    /// are over as they start. [`busy_items`] is skipped when false.
    fn holds_operations(&self) -> bool;

    /// How long the suite waits for one operation to end before it fails the
    /// scenario rather than hang.
    fn operation_timeout(&self) -> Duration;
}

/// Whether a scenario gated on a capability ran.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ran,
    /// The backend lacks the capability the scenario needs.
    Skipped,
}

/// Runs every scenario, panicking at the first failure. Returns the names of
/// the scenarios skipped for a capability the backend lacks, so that a caller
/// can tell a pass from a skip.
pub async fn run_all(setup: &dyn Setup) -> Vec<&'static str> {
    estate_reads_consistently(setup).await;
    state_table(setup).await;
    full_cycle(setup).await;
    test_failover(setup).await;
    refusals(setup).await;
    find_operation_reattaches(setup).await;
    refused_starts_are_recorded(setup).await;
    match busy_items(setup).await {
        Outcome::Ran => Vec::new(),
        Outcome::Skipped => vec!["busy_items"],
    }
}

/// The operations a VM at home allows: Protected, replicating, idle.
const HOME_KINDS: [OperationKind; 3] = [
    OperationKind::PlannedFailover,
    OperationKind::UnplannedFailover,
    OperationKind::TestFailover,
];

/// One scenario's fresh fabric, and the ways the scenario drives it.
struct Harness {
    fabric: Arc<dyn Fabric>,
    /// The estate's VMs, as `list_items` names them.
    vms: Vec<String>,
    timeout: Duration,
    scenario: &'static str,
    /// With `count`, makes every initiator unique, also across runs against
    /// an estate that keeps its history (the trait asks callers for that).
    nonce: i64,
    count: AtomicU64,
}

impl Harness {
    /// A fresh fabric from `setup`, checked to hold the estate it promises.
    async fn fresh(setup: &dyn Setup, scenario: &'static str) -> Self {
        let fabric = setup.fabric().await;
        let items = fabric
            .list_items()
            .await
            .unwrap_or_else(|err| panic!("setup: {scenario}: list_items: {err}"));
        assert!(
            items.len() >= MIN_VMS,
            "setup: {scenario}: the estate holds {} VMs, the suite needs {MIN_VMS}",
            items.len()
        );
        for item in &items {
            assert_protected(item, Location::Primary, &format!("setup: {scenario}"));
        }
        Harness {
            fabric,
            vms: items.into_iter().map(|item| item.name).collect(),
            timeout: setup.operation_timeout(),
            scenario,
            nonce: chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            count: AtomicU64::new(0),
        }
    }

    fn initiator(&self) -> String {
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        format!("drbook-conformance/{}/{}/{n}", self.scenario, self.nonce)
    }

    async fn item(&self, vm: &str) -> ProtectedItem {
        self.fabric
            .get_item(vm)
            .await
            .unwrap_or_else(|err| panic!("{}: get_item({vm}): {err}", self.scenario))
    }

    async fn start(&self, vm: &str, request: &OperationRequest) -> Result<String, FabricError> {
        self.fabric.start(vm, request, &self.initiator()).await
    }

    /// `Fabric::wait`, failing the scenario after the backend's timeout.
    async fn wait(&self, id: &str) -> Result<OperationStatus, FabricError> {
        tokio::time::timeout(self.timeout, self.fabric.wait(id, &mut |_| {}))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{}: operation {id} did not end within {:?}",
                    self.scenario, self.timeout
                )
            })
    }

    /// Waits for operation `id`, which `request` on `vm` started, and checks
    /// that it reports itself truly and succeeded.
    async fn finish(&self, vm: &str, request: &OperationRequest, id: &str) -> OperationStatus {
        let case = format!("{}: {request:?} on {vm} ({id})", self.scenario);
        let status = self
            .wait(id)
            .await
            .unwrap_or_else(|err| panic!("{case}: {err}"));
        assert_eq!(
            (status.id.as_str(), &status.request),
            (id, request),
            "{case}"
        );
        assert!(status.vm.eq_ignore_ascii_case(vm), "{case}: {status:?}");
        assert_eq!(
            (status.state, &status.error),
            (OperationState::Succeeded, &None),
            "{case}"
        );
        assert!(
            status.end_time.is_some_and(|end| end >= status.start_time),
            "{case}: a finished operation has its end time: {status:?}"
        );
        status
    }

    /// Starts `request` on `vm` and waits for it to succeed.
    async fn run(&self, vm: &str, request: &OperationRequest) {
        let id = self
            .start(vm, request)
            .await
            .unwrap_or_else(|err| panic!("{}: {request:?} on {vm}: {err}", self.scenario));
        self.finish(vm, request, &id).await;
    }

    /// Runs `kind` on every VM of `vms` at once (all started, then all
    /// awaited, so a fabric with real durations takes the time of one), and
    /// returns the items afterwards.
    async fn run_on(&self, vms: &[String], kind: OperationKind) -> Vec<ProtectedItem> {
        let mut started = Vec::new();
        for vm in vms {
            let request = request(kind, &self.item(vm).await);
            let id = self
                .start(vm, &request)
                .await
                .unwrap_or_else(|err| panic!("{}: {request:?} on {vm}: {err}", self.scenario));
            started.push((vm, request, id));
        }
        let mut items = Vec::new();
        for (vm, request, id) in started {
            self.finish(vm, &request, &id).await;
            items.push(self.item(vm).await);
        }
        items
    }

    /// Starts `request` on `vm`, which must refuse it and stay as it was;
    /// returns the refusal.
    async fn refused(&self, vm: &str, request: &OperationRequest) -> FabricError {
        let case = format!("{}: {request:?} on {vm}", self.scenario);
        let before = self.item(vm).await;
        let err = match self.start(vm, request).await {
            Ok(id) => panic!("{case}: accepted as {id}, expected a refusal"),
            Err(err) => err,
        };
        assert_eq!(
            settled(&self.item(vm).await),
            settled(&before),
            "{case}: the refusal ({err}) changed the item"
        );
        err
    }

    /// Every failover against the replication of `vm` is refused as an
    /// invalid request: the request is wrong, whatever the item's state.
    async fn assert_one_way(&self, vm: &str) {
        let item = self.item(vm).await;
        let backwards = away_from(item.active_location).reversed();
        for kind in HOME_KINDS {
            let request = request_in(kind, backwards, &item);
            match self.refused(vm, &request).await {
                FabricError::InvalidRequest { .. } => {}
                other => panic!(
                    "{}: {request:?} on {vm}, which runs on its {:?} side: expected InvalidRequest, got {other:?}",
                    self.scenario, item.active_location
                ),
            }
        }
    }
}

/// Where a VM is at home and where a reprotect leaves it: Protected on
/// `location`, replicating away from it, healthy, idle, with recovery points.
fn assert_protected(item: &ProtectedItem, location: Location, context: &str) {
    let at = format!("{context}: {}", item.name);
    assert_eq!(
        (
            item.active_location,
            item.protection_state,
            item.test_failover_state
        ),
        (
            location,
            ProtectionState::Protected,
            TestFailoverState::None
        ),
        "{at}"
    );
    assert_eq!(item.current_scenario, None, "{at}: busy");
    assert_eq!(
        (item.replication_health, item.failover_health),
        (Health::Normal, Health::Normal),
        "{at}: health"
    );
    assert!(
        item.health_errors.is_empty(),
        "{at}: {:?}",
        item.health_errors
    );
    assert!(
        !item.recovery_points.is_empty() && item.rpo_seconds.is_some(),
        "{at}: does not replicate: {item:?}"
    );
    assert_eq!(kinds(item), HOME_KINDS, "{at}: allowed operations");
}

/// The operations of the port that `item` lists in `allowedOperations`. Azure
/// also lists operations drbook does not drive (`DisableProtection`, ...);
/// they are no business of the suite.
fn kinds(item: &ProtectedItem) -> Vec<OperationKind> {
    OperationKind::ALL
        .into_iter()
        .filter(|kind| item.allows(kind.gate()))
        .collect()
}

/// `item` without what moves with time alone (recovery points arrive, RPO
/// grows, progress advances), so that two reads compare equal when nothing
/// happened to the item in between.
fn settled(item: &ProtectedItem) -> ProtectedItem {
    let mut item = item.clone();
    item.recovery_points.clear();
    item.rpo_seconds = None;
    item.reprotect_percent = None;
    if let Some(scenario) = item.current_scenario.as_mut() {
        scenario.percent_complete = 0;
    }
    item
}

/// The one direction a failover from `location` can go.
fn away_from(location: Location) -> Direction {
    match location {
        Location::Primary => Direction::PrimaryToRecovery,
        Location::Recovery => Direction::RecoveryToPrimary,
    }
}

/// A request of `kind` that `item` accepts whenever it allows `kind`.
fn request(kind: OperationKind, item: &ProtectedItem) -> OperationRequest {
    request_in(kind, away_from(item.active_location), item)
}

/// A request of `kind`, going in `direction` if it is a failover. A change of
/// recovery point goes to the oldest point, so that it moves away from the
/// newest, which the suite's failovers restore from.
fn request_in(kind: OperationKind, direction: Direction, item: &ProtectedItem) -> OperationRequest {
    match kind {
        OperationKind::PlannedFailover => OperationRequest::PlannedFailover { direction },
        OperationKind::UnplannedFailover => OperationRequest::UnplannedFailover {
            direction,
            recovery_point: RecoveryPointChoice::LatestProcessed,
            source_site_operations: SourceSiteOperations::NotRequired,
        },
        OperationKind::TestFailover => OperationRequest::TestFailover {
            direction,
            network: TEST_NETWORK.to_string(),
            recovery_point: RecoveryPointChoice::LatestProcessed,
        },
        OperationKind::TestFailoverCleanup => OperationRequest::TestFailoverCleanup {
            comments: "drbook conformance drill done".to_string(),
        },
        OperationKind::Commit => OperationRequest::Commit,
        OperationKind::CancelFailover => OperationRequest::CancelFailover,
        OperationKind::ChangeRecoveryPoint => OperationRequest::ChangeRecoveryPoint {
            recovery_point_id: item
                .recovery_points
                .first()
                .map_or_else(|| "no-recovery-point".to_string(), |point| point.id.clone()),
        },
        OperationKind::Reprotect => OperationRequest::Reprotect,
    }
}
