//! The Fabric conformance suite on the azure backend, against the emulator
//! over HTTPS: one test per scenario, as the simulator runs them
//! (`crates/fabric-sim/tests/conformance.rs`), on the demo estate at
//! instant speed, with small pages so that every list follows `nextLink`;
//! the busy scenario, which needs operations that stay in progress, at real
//! time (its failovers are left running when the test ends).

use super::common;
use async_trait::async_trait;
use drbook_arm_emulator::Config;
use drbook_conformance::fabric::{self, Outcome, Setup};
use drbook_core::fabric::Fabric;
use drbook_core::TimeScale;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Azure {
    /// Real time, where a failover stays in progress for minutes (and is
    /// left running when the test ends); instant speed when `false`.
    real_time: bool,
    envs: Mutex<Vec<common::Env>>,
}

#[async_trait]
impl Setup for Azure {
    async fn fabric(&self) -> Arc<dyn Fabric> {
        let speed = match self.real_time {
            true => TimeScale::Factor(1.0),
            false => TimeScale::Instant,
        };
        let config = Config {
            page_size: 5,
            ..Config::default()
        };
        let env = common::start_at(None, config, speed).await;
        let fabric = Arc::new(env.fabric("azure"));
        self.envs.lock().expect("the emulators").push(env);
        fabric
    }

    fn holds_operations(&self) -> bool {
        self.real_time
    }

    fn operation_timeout(&self) -> Duration {
        Duration::from_secs(60)
    }
}

#[tokio::test]
async fn estate_reads_consistently() {
    fabric::estate_reads_consistently(&Azure::default()).await;
}

#[tokio::test]
async fn state_table() {
    fabric::state_table(&Azure::default()).await;
}

#[tokio::test]
async fn full_cycle() {
    fabric::full_cycle(&Azure::default()).await;
}

#[tokio::test]
async fn test_failover() {
    fabric::test_failover(&Azure::default()).await;
}

#[tokio::test]
async fn refusals() {
    fabric::refusals(&Azure::default()).await;
}

#[tokio::test]
async fn find_operation_reattaches() {
    fabric::find_operation_reattaches(&Azure::default()).await;
}

#[tokio::test]
async fn busy_items() {
    let setup = Azure {
        real_time: true,
        ..Azure::default()
    };
    assert_eq!(fabric::busy_items(&setup).await, Outcome::Ran);
}

#[tokio::test]
async fn refused_starts_are_recorded() {
    let setup = Azure::default();
    fabric::refused_starts_are_recorded(&setup).await;
    // The record is in the backend's own audit log, once per initiator.
    let envs = setup.envs.lock().expect("the emulators");
    let log = std::fs::read_to_string(
        envs[0]
            .dir
            .path()
            .join("azure")
            .join(drbook_fabric_azure::AUDIT_FILE),
    )
    .expect("the audit log");
    let refused = log
        .lines()
        .filter(|l| l.contains("\"record\":\"refused\""))
        .count();
    assert_eq!(refused, 1, "one per initiator: {log}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(
            envs[0]
                .dir
                .path()
                .join("azure")
                .join(drbook_fabric_azure::AUDIT_FILE),
        )
        .unwrap()
        .permissions()
        .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
