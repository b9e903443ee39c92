//! What the operator (and tests) do to the simulator beyond the `Fabric`
//! trait: inject faults, read the audit trail, count operations, reset.

use super::estate::Estate;
use super::faults::{stalled_end, Fault, Faults};
use super::operations::{self, HistoryEntry};
use super::refusals;
use super::schema::{self, SchemaError};
use super::simulator::{seed, Simulator, SimulatorError};
use chrono::{DateTime, Utc};
use drbook_core::fabric::{FabricError, Health, OperationKind, OperationState};
use rusqlite::Connection;

impl Simulator {
    /// Applies `fault`. VM and region names must exist in this fabric.
    pub fn set_fault(&self, fault: Fault) -> Result<(), FabricError> {
        self.write(|conn, now| {
            let fault = match fault {
                Fault::FailNext { vm } => Fault::FailNext {
                    vm: item_name(conn, &vm)?,
                },
                Fault::RefuseNext { times: 0, .. } => {
                    return Err(FabricError::InvalidRequest {
                        message: "refuse-next refuses no start with --times 0; give 1 or more"
                            .to_string(),
                    })
                }
                Fault::RefuseNext {
                    vm,
                    times,
                    permanent,
                } => Fault::RefuseNext {
                    vm: item_name(conn, &vm)?,
                    times,
                    permanent,
                },
                Fault::Stall { vm } => Fault::Stall {
                    vm: item_name(conn, &vm)?,
                },
                Fault::Clear => {
                    release_stalled(conn, now)?;
                    Fault::Clear
                }
                Fault::Degrade { vm, health } => {
                    if !matches!(health, Health::Warning | Health::Critical) {
                        return Err(FabricError::InvalidRequest {
                            message: format!(
                                "cannot degrade replication to {health:?}; use warning or critical"
                            ),
                        });
                    }
                    Fault::Degrade {
                        vm: item_name(conn, &vm)?,
                        health,
                    }
                }
                Fault::RegionDown(region) => Fault::RegionDown(region_name(conn, &region)?),
                Fault::RegionUp(region) => Fault::RegionUp(region_name(conn, &region)?),
                other => other,
            };
            let mut faults = schema::faults(conn)?;
            faults.apply(fault);
            schema::save_faults(conn, &faults)?;
            Ok(())
        })
    }

    pub fn faults(&self) -> Result<Faults, FabricError> {
        self.read(|conn, _| Ok(schema::faults(conn)?))
    }

    /// Every operation ever started on this fabric and every start refused
    /// before it reached it (`Outcome::Refused`), oldest first.
    pub fn history(&self) -> Result<Vec<HistoryEntry>, FabricError> {
        self.read(|conn, _| {
            let mut history = operations::all(conn)?
                .iter()
                .map(|op| op.history())
                .collect::<Result<Vec<_>, _>>()?;
            history.extend(refusals::history(conn)?);
            // Stable: operations keep their order among equal times.
            history.sort_by_key(|entry| entry.start_time);
            Ok(history)
        })
    }

    /// How many operations of `kind` were ever started on `vm` (whatever
    /// their outcome).
    pub fn operation_count(&self, vm: &str, kind: OperationKind) -> Result<u32, FabricError> {
        self.read(|conn, _| Ok(operations::count(conn, vm, kind)?))
    }

    /// Back to the freshly initialised estate: every item `Protected` on its
    /// primary side, no faults. Operations in flight are canceled; the
    /// history is kept.
    pub fn reset(&self) -> Result<(), SimulatorError> {
        self.write(|conn, now| {
            for mut op in operations::in_progress(conn, None)? {
                op.state = OperationState::Canceled;
                op.error = Some("canceled by `drbook fabric reset`".to_string());
                op.end = now;
                operations::update_outcome(conn, &op)?;
            }
            let json = schema::meta(conn, "estate")?.unwrap_or_default();
            let estate: Estate = serde_json::from_str(&json).map_err(SchemaError::from)?;
            Ok(seed(conn, &estate, now, self.options())?)
        })
    }
}

/// Lets every stalled operation end now, as it would have: the next
/// settle finishes it.
fn release_stalled(conn: &Connection, now: DateTime<Utc>) -> Result<(), SchemaError> {
    for mut op in operations::in_progress(conn, None)? {
        if op.end != stalled_end() {
            continue;
        }
        op.end = now;
        operations::update_outcome(conn, &op)?;
        if let Some(mut item) = schema::item(conn, &op.vm)? {
            if let Some(running) = item.running.as_mut().filter(|r| r.op_id == op.id) {
                running.end = now;
                schema::save_item(conn, &item)?;
            }
        }
    }
    Ok(())
}

/// The item's own spelling of `vm`, or `ItemNotFound`.
fn item_name(conn: &Connection, vm: &str) -> Result<String, FabricError> {
    match schema::item(conn, vm)? {
        Some(item) => Ok(item.name),
        None => Err(FabricError::ItemNotFound { vm: vm.to_string() }),
    }
}

fn region_name(conn: &Connection, region: &str) -> Result<String, FabricError> {
    let regions = schema::regions(conn)?;
    regions
        .iter()
        .find(|r| r.eq_ignore_ascii_case(region))
        .cloned()
        .ok_or_else(|| FabricError::InvalidRequest {
            message: format!(
                "no region `{region}` in this fabric; its regions are {}",
                regions.join(", ")
            ),
        })
}
