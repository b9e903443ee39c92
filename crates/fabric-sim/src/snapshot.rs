//! A copy of a live estate in an in-memory simulator: what `drbook run
//! --dry-run` runs a runbook on. The estate is read through any
//! [`Fabric`] (the azure backend, the simulator itself) as its read model,
//! and loaded into a [`Simulator`] whose database lives in memory: nothing
//! the copy does reaches the estate it was read from, and it is gone when
//! dropped.
//!
//! Each item keeps its states, side, regions, health errors, test VM and
//! recovery points (with their own ids and times). What the read model
//! does not say is inferred, so that the copy refuses what the estate
//! refuses:
//! - replication health below `Normal` becomes a degraded-replication
//!   fault (a planned failover needs healthy replication);
//! - a region is taken as down when every replicating item touching it is
//!   `Critical` and marking it down makes the copy's allowed operations
//!   match the live ones on the most items (once the outages that explain
//!   refusals are found, one that changes nothing seen is taken too):
//!   Site Recovery shows an outage only through health and
//!   `allowedOperations`;
//! - an operation under way stays under way for the whole dry run, as far
//!   along as it was (its end is not known): its item is busy.
//!
//! Recovery points go on appearing at the live pace (the schedule's
//! interval in real time), so a dry run lasting seconds sees the RPO the
//! estate has now. Items whose allowed operations still differ from the
//! live ones are returned as [`Mismatch`]es: the copy's predictions for
//! them are not vouched for.

use super::faults::Faults;
use super::record::{ItemRecord, Running};
use super::recovery_points::Replication;
use super::schema::{self, SchemaError};
use super::simulator::{Options, Simulator, SimulatorError};
use super::state_machine;
use chrono::{DateTime, Duration, Utc};
use drbook_core::fabric::{AllowedOperation, Fabric, FabricError, Health, ProtectedItem};
use std::collections::BTreeSet;
use std::fmt;

/// The operation ids of a copy start with `op-dry-run-`, so that none is
/// ever taken for one of the estate's.
const FABRIC_ID: &str = "dry-run";

/// An estate as read at one instant: every protected item, with its
/// recovery points.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub items: Vec<ProtectedItem>,
}

/// Why a snapshot cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(
        "the estate has two protected items named `{0}` (names compare case-insensitively); drbook names \
         VMs by their friendly name, so a dry run cannot tell them apart: rename one of them"
    )]
    DuplicateName(String),

    #[error("cannot build the in-memory copy of the estate: {0}")]
    Store(#[from] SimulatorError),
}

impl From<SchemaError> for SnapshotError {
    fn from(err: SchemaError) -> Self {
        SnapshotError::Store(err.into())
    }
}

/// An item whose allowed operations in the copy differ from the live ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub vm: String,
    pub live: Vec<AllowedOperation>,
    pub copy: Vec<AllowedOperation>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}`: the estate allows {:?} now, its copy {:?}; the dry run's prediction for it may differ \
             from a real run",
            self.vm, self.live, self.copy
        )
    }
}

impl Snapshot {
    /// Reads every item of `fabric` now. Only reads: nothing is started.
    pub async fn read(fabric: &dyn Fabric) -> Result<Snapshot, FabricError> {
        Ok(Snapshot {
            items: fabric.list_items().await?,
        })
    }

    /// The copy: an in-memory simulator holding this estate as of now on
    /// `options`' clock, running at its speed and profile, and the items
    /// whose allowed operations it could not reproduce.
    pub fn load(&self, options: Options) -> Result<(Simulator, Vec<Mismatch>), SnapshotError> {
        let mut names = BTreeSet::new();
        if let Some(twice) = self
            .items
            .iter()
            .find(|item| !names.insert(item.name.to_lowercase()))
        {
            return Err(SnapshotError::DuplicateName(twice.name.clone()));
        }
        let taken = options.clock.now();
        let live_interval = options.profile.recovery_points.crash_interval;
        let records = self
            .items
            .iter()
            .map(|item| record(item, taken, live_interval, &options))
            .collect::<Vec<_>>();
        let faults = infer_faults(&records, &self.items);
        let mismatches = records
            .iter()
            .zip(&self.items)
            .filter_map(|(record, item)| {
                let copy = state_machine::allowed(record, &faults);
                (copy != sorted(&item.allowed_operations)).then(|| Mismatch {
                    vm: item.name.clone(),
                    live: sorted(&item.allowed_operations),
                    copy,
                })
            })
            .collect();

        let mut conn = schema::create_in_memory()?;
        let tx = conn.transaction().map_err(SchemaError::from)?;
        schema::set_meta(&tx, "fabric_id", FABRIC_ID)?;
        for record in &records {
            schema::save_item(&tx, record)?;
        }
        for region in regions(&records) {
            schema::insert_region(&tx, &region)?;
        }
        schema::save_faults(&tx, &faults)?;
        tx.commit().map_err(SchemaError::from)?;
        Ok((Simulator::from_conn(conn, options)?, mismatches))
    }
}

/// The stored state that reads back as `item` (but for inferred faults).
fn record(
    item: &ProtectedItem,
    taken: DateTime<Utc>,
    live_interval: Duration,
    options: &Options,
) -> ItemRecord {
    let schedule = &options.profile.recovery_points;
    let replicating = item.replication_health != Health::None;
    let replication = (replicating || !item.recovery_points.is_empty()).then(|| {
        let mut replication = Replication::new(
            item.active_location,
            0,
            taken + live_interval,
            live_interval,
            schedule,
        );
        replication.imported = item.recovery_points.clone();
        // Points but no replication: a failover froze them (pending commit).
        replication.frozen_at = (!replicating).then_some(taken);
        replication
    });
    let running = item.current_scenario.as_ref().map(|scenario| {
        // As far along as it was: its end is where that share puts it.
        let elapsed = (taken - scenario.start_time).max(Duration::zero());
        let percent = i32::from(scenario.percent_complete.clamp(1, 99));
        Running {
            kind: scenario.scenario_name,
            op_id: scenario.job_id.clone(),
            start: scenario.start_time,
            end: scenario.start_time + elapsed * 100 / percent,
        }
    });
    ItemRecord {
        name: item.name.clone(),
        role: item.role.clone(),
        disk_size_gb: item.disk_size_gb,
        primary_region: item.primary_region.clone(),
        recovery_region: item.recovery_region.clone(),
        active: item.active_location,
        state: item.protection_state,
        test_state: item.test_failover_state,
        replication,
        next_generation: 1,
        running,
        last_failover: item.last_successful_failover_time,
        last_test_failover: item.last_successful_test_failover_time,
        failover_point: item.failover_recovery_point_id.clone(),
        health_errors: item.health_errors.clone(),
        test_vm: item.test_vm.clone(),
    }
}

/// The faults that make the copy refuse what the estate refuses: its
/// degraded replications, and the regions that look down (see the module's
/// doc), tried in name order.
fn infer_faults(records: &[ItemRecord], live: &[ProtectedItem]) -> Faults {
    let mut faults = Faults::default();
    for item in live {
        if matches!(item.replication_health, Health::Warning | Health::Critical) {
            faults
                .degraded
                .insert(item.name.clone(), item.replication_health);
        }
    }
    let matching = |faults: &Faults| {
        records
            .iter()
            .zip(live)
            .filter(|(record, item)| {
                state_machine::allowed(record, faults) == sorted(&item.allowed_operations)
            })
            .count()
    };
    let looks_down = |region: &str| {
        let mut touching = live.iter().filter(|item| {
            item.replication_health != Health::None
                && (item.primary_region.eq_ignore_ascii_case(region)
                    || item.recovery_region.eq_ignore_ascii_case(region))
        });
        let first = touching.next();
        first.is_some()
            && first
                .into_iter()
                .chain(touching)
                .all(|item| item.replication_health == Health::Critical)
    };
    let candidates: Vec<String> = regions(records)
        .into_iter()
        .filter(|r| looks_down(r))
        .collect();
    // The outage that explains the most refusals first, while one explains
    // more; then those that change nothing seen (a lost source region
    // refuses only what its items' critical health refuses already).
    let with_down = |faults: &Faults, region: &str| {
        let mut down = faults.clone();
        down.regions_down.insert(region.to_string());
        down
    };
    loop {
        let now = matching(&faults);
        let best = candidates
            .iter()
            .filter(|r| !faults.is_region_down(r))
            .map(|r| (matching(&with_down(&faults, r)), r))
            .filter(|(with, _)| *with > now)
            .max_by_key(|(with, _)| *with);
        match best {
            Some((_, region)) => faults = with_down(&faults, region),
            None => break,
        }
    }
    for region in &candidates {
        let down = with_down(&faults, region);
        if matching(&down) == matching(&faults) {
            faults = down;
        }
    }
    faults
}

/// The regions the items name, each once (case-insensitively), by name.
fn regions(records: &[ItemRecord]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut regions: Vec<String> = records
        .iter()
        .flat_map(|r| [&r.primary_region, &r.recovery_region])
        .filter(|region| seen.insert(region.to_lowercase()))
        .cloned()
        .collect();
    regions.sort_by_key(|r| r.to_lowercase());
    regions
}

fn sorted(allowed: &[AllowedOperation]) -> Vec<AllowedOperation> {
    let mut allowed = allowed.to_vec();
    allowed.sort();
    allowed.dedup();
    allowed
}
