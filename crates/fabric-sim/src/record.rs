//! The persisted state of one protected item, and its projection onto the read
//! model (§2). Only what cannot be derived is stored: allowed operations,
//! health, recovery points, RPO and progress all follow from this record, the
//! faults in force and the clock.

use super::faults::Faults;
use super::recovery_points::Replication;
use super::state_machine;
use chrono::{DateTime, Utc};
use drbook_core::fabric::{
    Direction, Health, HealthError, Location, OperationKind, ProtectedItem, ProtectionState,
    Scenario, TestFailoverState, TestVm,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemRecord {
    pub name: String,
    pub role: String,
    pub disk_size_gb: u32,
    pub primary_region: String,
    pub recovery_region: String,
    pub active: Location,
    pub state: ProtectionState,
    pub test_state: TestFailoverState,
    /// `None` while the item does not replicate: after commit, until a
    /// reprotect completes.
    pub replication: Option<Replication>,
    /// The replication generation of the next reprotect.
    pub next_generation: u32,
    pub running: Option<Running>,
    pub last_failover: Option<DateTime<Utc>>,
    pub last_test_failover: Option<DateTime<Utc>>,
    pub failover_point: Option<String>,
    pub health_errors: Vec<HealthError>,
    pub test_vm: Option<TestVm>,
}

/// The operation an item is busy with (its scenario).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Running {
    pub kind: OperationKind,
    pub op_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Running {
    /// Elapsed over duration, held below 100 until the operation is settled.
    pub fn percent(&self, now: DateTime<Utc>) -> u8 {
        progress(self.start, self.end, now).min(99)
    }
}

/// The share of `start..end` that has passed at `now`, 0..=100.
pub fn progress(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> u8 {
    let total = (end - start).num_milliseconds();
    if total <= 0 || now >= end {
        return 100;
    }
    let done = (now - start).num_milliseconds().max(0);
    (done * 100 / total) as u8
}

impl ItemRecord {
    /// The side each location names for this item.
    pub fn region(&self, location: Location) -> &str {
        match location {
            Location::Primary => &self.primary_region,
            Location::Recovery => &self.recovery_region,
        }
    }

    /// The only failover direction the item's replication allows: away from
    /// the side it runs on.
    pub fn direction(&self) -> Direction {
        match self.active {
            Location::Primary => Direction::PrimaryToRecovery,
            Location::Recovery => Direction::RecoveryToPrimary,
        }
    }

    /// Replication health: `None` when nothing replicates, `Critical` when
    /// either end of the replication is in a region that is down, else the
    /// injected degradation or `Normal`.
    pub fn replication_health(&self, faults: &Faults) -> Health {
        match &self.replication {
            Some(replication) if replication.is_live() => {
                if faults.is_region_down(&self.primary_region)
                    || faults.is_region_down(&self.recovery_region)
                {
                    Health::Critical
                } else {
                    faults
                        .degraded
                        .get(&self.name)
                        .copied()
                        .unwrap_or(Health::Normal)
                }
            }
            _ => Health::None,
        }
    }

    /// The read model of §2 at `now`.
    pub fn view(&self, now: DateTime<Utc>, faults: &Faults) -> ProtectedItem {
        let recovery_points = self
            .replication
            .as_ref()
            .map(|r| r.points(now))
            .unwrap_or_default();
        let rpo_seconds = match (&self.replication, recovery_points.last()) {
            (Some(replication), Some(newest)) if replication.is_live() => {
                Some((now - newest.recovery_point_time).num_seconds().max(0) as u64)
            }
            _ => None,
        };
        let current_scenario = self.running.as_ref().map(|running| Scenario {
            scenario_name: running.kind,
            job_id: running.op_id.clone(),
            start_time: running.start,
            percent_complete: running.percent(now),
        });
        let reprotect_percent = current_scenario
            .as_ref()
            .filter(|s| s.scenario_name == OperationKind::Reprotect)
            .map(|s| s.percent_complete);
        ProtectedItem {
            name: self.name.clone(),
            id: format!(
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/drbook-simulator/providers/\
                 Microsoft.RecoveryServices/vaults/drbook-simulator/replicationFabrics/{}/\
                 replicationProtectionContainers/{}-container/replicationProtectedItems/{}",
                self.primary_region, self.primary_region, self.name
            ),
            primary_region: self.primary_region.clone(),
            recovery_region: self.recovery_region.clone(),
            active_location: self.active,
            protection_state: self.state,
            test_failover_state: self.test_state,
            replication_health: self.replication_health(faults),
            failover_health: if self.health_errors.is_empty() { Health::Normal } else { Health::Warning },
            health_errors: self.health_errors.clone(),
            allowed_operations: state_machine::allowed(self, faults),
            current_scenario,
            last_successful_failover_time: self.last_failover,
            last_successful_test_failover_time: self.last_test_failover,
            failover_recovery_point_id: self.failover_point.clone(),
            recovery_points,
            rpo_seconds,
            reprotect_percent,
            test_vm: self.test_vm.clone(),
            disk_size_gb: self.disk_size_gb,
            role: self.role.clone(),
        }
    }
}
