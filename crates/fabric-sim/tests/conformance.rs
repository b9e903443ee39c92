//! The simulator passes the Fabric conformance suite (`drbook-conformance`'s
//! `fabric` module), one test per scenario so that a failure names it. The
//! scenarios run on the demo estate at `instant` speed, where operations end
//! as they start; the busy scenario, which needs operations that stay in
//! progress, runs at Azure's real durations (a failover takes minutes) and is
//! left running when the test ends.

use async_trait::async_trait;
use drbook_conformance::fabric::{self, Outcome, Setup};
use drbook_core::fabric::Fabric;
use drbook_core::TimeScale;
use drbook_fabric_sim::{demo_estate, Options, Simulator};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;

/// Fresh demo fabrics, each in a temporary directory that lives as long as
/// the setup.
struct Sim {
    speed: TimeScale,
    holds_operations: bool,
    operation_timeout: Duration,
    dirs: Mutex<Vec<TempDir>>,
}

impl Sim {
    fn instant() -> Self {
        Sim {
            speed: TimeScale::Instant,
            holds_operations: false,
            operation_timeout: Duration::from_secs(30),
            dirs: Mutex::default(),
        }
    }

    /// Real time: a failover stays in progress for minutes, and the longest
    /// operation (a reprotect of a large disk) takes two hours.
    fn real_time() -> Self {
        Sim {
            speed: TimeScale::Factor(1.0),
            holds_operations: true,
            operation_timeout: Duration::from_secs(3 * 60 * 60),
            dirs: Mutex::default(),
        }
    }
}

#[async_trait]
impl Setup for Sim {
    async fn fabric(&self) -> Arc<dyn Fabric> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let sim = Simulator::init_with(dir.path(), &demo_estate(), false, Options::new(self.speed))
            .expect("the demo estate initialises");
        self.dirs.lock().expect("the directories").push(dir);
        Arc::new(sim)
    }

    fn holds_operations(&self) -> bool {
        self.holds_operations
    }

    fn operation_timeout(&self) -> Duration {
        self.operation_timeout
    }
}

#[tokio::test]
async fn estate_reads_consistently() {
    fabric::estate_reads_consistently(&Sim::instant()).await;
}

#[tokio::test]
async fn state_table() {
    fabric::state_table(&Sim::instant()).await;
}

#[tokio::test]
async fn full_cycle() {
    fabric::full_cycle(&Sim::instant()).await;
}

#[tokio::test]
async fn test_failover() {
    fabric::test_failover(&Sim::instant()).await;
}

#[tokio::test]
async fn refusals() {
    fabric::refusals(&Sim::instant()).await;
}

#[tokio::test]
async fn find_operation_reattaches() {
    fabric::find_operation_reattaches(&Sim::instant()).await;
}

#[tokio::test]
async fn refused_starts_are_recorded() {
    fabric::refused_starts_are_recorded(&Sim::instant()).await;
}

#[tokio::test]
async fn busy_items() {
    assert_eq!(fabric::busy_items(&Sim::real_time()).await, Outcome::Ran);
}

/// `run_all` runs every scenario and owns up to the one an instant fabric
/// cannot show.
#[tokio::test]
async fn run_all_skips_only_busy_items_at_instant_speed() {
    assert_eq!(fabric::run_all(&Sim::instant()).await, ["busy_items"]);
}
