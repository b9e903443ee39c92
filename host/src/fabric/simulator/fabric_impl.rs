//! The simulator as a [`Fabric`]: reads project the stored records onto the
//! read model; `start` checks the rules, picks the recovery point, decides
//! any injected failure and records the operation, all in one transaction.

use super::engine::Simulator;
use super::operations::{self, OpRow};
use super::record::{ItemRecord, Running};
use super::recovery_points::choose;
use super::rules;
use super::store;
use crate::fabric::{
    Fabric, FabricError, OperationRequest, OperationState, OperationStatus, ProtectedItem,
    RecoveryPointChoice,
};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use std::time::Duration as StdDuration;

#[async_trait]
impl Fabric for Simulator {
    async fn list_items(&self) -> Result<Vec<ProtectedItem>, FabricError> {
        self.read(|conn, now| {
            let faults = store::faults(conn)?;
            Ok(store::items(conn)?
                .iter()
                .map(|item| item.view(now, &faults))
                .collect())
        })
    }

    async fn get_item(&self, vm: &str) -> Result<ProtectedItem, FabricError> {
        self.read(|conn, now| {
            let item = store::item(conn, vm)?.ok_or_else(|| not_found(vm))?;
            Ok(item.view(now, &store::faults(conn)?))
        })
    }

    async fn start(
        &self,
        vm: &str,
        request: &OperationRequest,
        initiator: &str,
    ) -> Result<String, FabricError> {
        self.write(|conn, now| {
            let mut item = store::item(conn, vm)?.ok_or_else(|| not_found(vm))?;
            let mut faults = store::faults(conn)?;
            rules::check(&item, request, &faults)
                .map_err(|refusal| rules::refusal_error(&item, request, refusal, &faults))?;
            let recovery_point_id = recovery_point(&item, request, now)?;

            let seq = operations::next_seq(conn)?;
            let id = format!("op-{}-{seq:06}", self.shared.fabric_id);
            let options = self.options();
            let end = now
                + options
                    .speed
                    .real(options.profile.duration(request, item.disk_size_gb));
            let fault = faults.decide(&item.name, &id);
            if fault.is_some() {
                store::save_faults(conn, &faults)?;
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
            rules::begin(
                &mut item,
                Running {
                    kind: request.kind(),
                    op_id: id.clone(),
                    start: now,
                    end,
                },
            );
            store::save_item(conn, &item)?;
            Ok(id)
        })
    }

    async fn operation(&self, id: &str) -> Result<OperationStatus, FabricError> {
        self.read(|conn, now| {
            let op = operations::get(conn, id)?
                .ok_or_else(|| FabricError::OperationNotFound { id: id.to_string() })?;
            Ok(op.status(now))
        })
    }

    async fn find_operation(
        &self,
        vm: &str,
        initiator: &str,
    ) -> Result<Option<OperationStatus>, FabricError> {
        self.read(|conn, now| {
            Ok(operations::by_initiator(conn, vm, initiator)?.map(|op| op.status(now)))
        })
    }

    /// About 30 simulated seconds, kept between 20 ms and 2 s of real time.
    fn poll_interval(&self, _status: &OperationStatus) -> StdDuration {
        let real = self.options().speed.real(Duration::seconds(30));
        real.to_std()
            .unwrap_or_default()
            .clamp(StdDuration::from_millis(20), StdDuration::from_secs(2))
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
