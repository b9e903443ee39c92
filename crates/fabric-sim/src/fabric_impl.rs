//! The simulator as a [`Fabric`]: reads project the stored records onto the
//! read model; `start` checks the rules, picks the recovery point, decides
//! any injected failure and records the operation, all in one transaction.
//! Each call is a SQLite transaction that may wait for another process's
//! lock: it is tried in place under the promise not to wait, and made again
//! off the async threads if it would have ([`in_place`]).

use super::faults::stalled_end;
use super::operations::{self, OpRow};
use super::record::{ItemRecord, Running};
use super::recovery_points::choose;
use super::refusals;
use super::schema;
use super::simulator::{in_place, Simulator};
use super::state_machine;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use drbook_core::fabric::{
    Fabric, FabricError, OperationRequest, OperationState, OperationStatus, ProtectedItem,
    RecoveryPointChoice, RefusedStart,
};
use std::time::Duration as StdDuration;

impl Simulator {
    /// Makes `f` [`in_place`] if it need not wait, else on a clone of this
    /// handle off the async threads ([`drbook_core::blocking`]).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl Fn(&Simulator) -> Result<T, FabricError> + Send + 'static,
    ) -> Result<T, FabricError> {
        if let Some(out) = in_place(|| f(self)) {
            return out;
        }
        let sim = self.clone();
        drbook_core::blocking::call(move || f(&sim))
            .await
            .unwrap_or_else(|panic| {
                Err(FabricError::Transient {
                    message: format!("the simulator's call failed: {panic}"),
                })
            })
    }
}

#[async_trait]
impl Fabric for Simulator {
    async fn list_items(&self) -> Result<Vec<ProtectedItem>, FabricError> {
        self.blocking(|sim| sim.list_items_now()).await
    }

    async fn get_item(&self, vm: &str) -> Result<ProtectedItem, FabricError> {
        let vm = vm.to_string();
        self.blocking(move |sim| sim.get_item_now(&vm)).await
    }

    async fn start(
        &self,
        vm: &str,
        request: &OperationRequest,
        initiator: &str,
    ) -> Result<String, FabricError> {
        let (vm, request, initiator) = (vm.to_string(), request.clone(), initiator.to_string());
        self.blocking(move |sim| sim.start_now(&vm, &request, &initiator))
            .await
    }

    async fn operation(&self, id: &str) -> Result<OperationStatus, FabricError> {
        let id = id.to_string();
        self.blocking(move |sim| sim.operation_now(&id)).await
    }

    async fn find_operation(
        &self,
        vm: &str,
        initiator: &str,
    ) -> Result<Option<OperationStatus>, FabricError> {
        let (vm, initiator) = (vm.to_string(), initiator.to_string());
        self.blocking(move |sim| sim.find_operation_now(&vm, &initiator))
            .await
    }

    async fn record_refusal(&self, refused: &RefusedStart) -> Result<(), FabricError> {
        let refused = refused.clone();
        self.blocking(move |sim| sim.write(|conn, now| Ok(refusals::insert(conn, &refused, now)?)))
            .await
    }

    /// About 30 simulated seconds, kept between 20 ms and 2 s of real time.
    fn poll_interval(&self, _status: &OperationStatus) -> StdDuration {
        let real = self.options().speed.real(Duration::seconds(30));
        real.to_std()
            .unwrap_or_default()
            .clamp(StdDuration::from_millis(20), StdDuration::from_secs(2))
    }
}

/// The calls of the trait, synchronous.
impl Simulator {
    fn list_items_now(&self) -> Result<Vec<ProtectedItem>, FabricError> {
        self.read(|conn, now| {
            let faults = schema::faults(conn)?;
            Ok(schema::items(conn)?
                .iter()
                .map(|item| item.view(now, &faults))
                .collect())
        })
    }

    fn get_item_now(&self, vm: &str) -> Result<ProtectedItem, FabricError> {
        self.read(|conn, now| {
            let item = schema::item(conn, vm)?.ok_or_else(|| not_found(vm))?;
            Ok(item.view(now, &schema::faults(conn)?))
        })
    }

    fn start_now(
        &self,
        vm: &str,
        request: &OperationRequest,
        initiator: &str,
    ) -> Result<String, FabricError> {
        // A start refused by a fault is refused in a transaction that
        // commits: the fault is used up and the refusal kept in the audit
        // trail.
        self.write(
            |conn, now| -> Result<Result<String, FabricError>, FabricError> {
                let mut item = schema::item(conn, vm)?.ok_or_else(|| not_found(vm))?;
                let mut faults = schema::faults(conn)?;
                if let Some(refusal) = faults.refuse(&item.name, request) {
                    schema::save_faults(conn, &faults)?;
                    let reason = refusal.to_string();
                    refusals::insert_fabric(conn, &item.name, request, initiator, &reason, now)?;
                    return Ok(Err(refusal));
                }
                state_machine::check(&item, request, &faults).map_err(|refusal| {
                    state_machine::refusal_error(&item, request, refusal, &faults)
                })?;
                let recovery_point_id = recovery_point(&item, request, now)?;

                let seq = operations::next_seq(conn)?;
                let id = format!("op-{}-{seq:06}", self.shared.fabric_id);
                let options = self.options();
                let stalled = faults.stall(&item.name);
                let end = if stalled {
                    stalled_end()
                } else {
                    now + options
                        .speed
                        .real(options.profile.duration(request, item.disk_size_gb))
                };
                let fault = faults.decide(&item.name, &id);
                if fault.is_some() || stalled {
                    schema::save_faults(conn, &faults)?;
                }
                let op = OpRow {
                    id: id.clone(),
                    vm: item.name.clone(),
                    request: request.clone(),
                    initiator: initiator.to_string(),
                    start: now,
                    end,
                    state: OperationState::InProgress,
                    fault,
                    error: None,
                    recovery_point_id,
                };
                operations::insert(conn, seq, &op)?;
                state_machine::begin(
                    &mut item,
                    Running {
                        kind: request.kind(),
                        op_id: id.clone(),
                        start: now,
                        end,
                    },
                );
                schema::save_item(conn, &item)?;
                Ok(Ok(id))
            },
        )?
    }

    fn operation_now(&self, id: &str) -> Result<OperationStatus, FabricError> {
        self.read(|conn, now| {
            let op = operations::get(conn, id)?
                .ok_or_else(|| FabricError::OperationNotFound { id: id.to_string() })?;
            Ok(op.status(now))
        })
    }

    fn find_operation_now(
        &self,
        vm: &str,
        initiator: &str,
    ) -> Result<Option<OperationStatus>, FabricError> {
        self.read(|conn, now| {
            Ok(operations::by_initiator(conn, vm, initiator)?.map(|op| op.status(now)))
        })
    }
}

fn not_found(vm: &str) -> FabricError {
    FabricError::ItemNotFound { vm: vm.to_string() }
}

/// The recovery point a failover restores from, or the point a change of
/// recovery point switches to; it must exist now.
fn recovery_point(
    item: &ItemRecord,
    request: &OperationRequest,
    now: DateTime<Utc>,
) -> Result<Option<String>, FabricError> {
    let choice = match request {
        OperationRequest::PlannedFailover { .. } => RecoveryPointChoice::Latest,
        OperationRequest::UnplannedFailover { recovery_point, .. }
        | OperationRequest::TestFailover { recovery_point, .. } => recovery_point.clone(),
        OperationRequest::ChangeRecoveryPoint { recovery_point_id } => {
            RecoveryPointChoice::Id(recovery_point_id.clone())
        }
        _ => return Ok(None),
    };
    let points = item
        .replication
        .as_ref()
        .map(|r| r.points(now))
        .unwrap_or_default();
    match choose(&points, &choice) {
        Some(point) => Ok(Some(point.id.clone())),
        None => Err(FabricError::RecoveryPointNotFound {
            vm: item.name.clone(),
            id: match choice {
                RecoveryPointChoice::Id(id) => id,
                named => format!("{named:?}"),
            },
        }),
    }
}
