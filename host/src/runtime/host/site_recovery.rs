//! `site-recovery`: the fabric's operations, as resources the runbook can wait
//! on. Every operation the runbook starts, and how it ends, is recorded in the
//! job's tracker: the job's report comes from the host, not from the runbook.

use wasmtime::component::Resource;

use crate::fabric::{
    Fabric, FabricError, OperationKind, OperationRequest, OperationStatus, SourceSiteOperations,
};
use crate::runtime::bindings::site_recovery::{self as sr, RecoveryPointChoice};
use crate::runtime::bindings::types::Direction;
use crate::runtime::events::{JobEvent, Observer};
use crate::runtime::state::JobState;

/// The host's side of an `operation` resource.
#[derive(Debug, Clone)]
pub struct OperationHandle {
    pub id: String,
    pub vm: String,
}

type Started = wasmtime::Result<Result<Resource<OperationHandle>, sr::FabricError>>;

impl JobState {
    async fn start(&mut self, vm: String, request: OperationRequest) -> Started {
        let kind = request.kind();
        // What an unplanned or test failover may lose is the item's RPO now.
        let rpo_seconds = match kind {
            OperationKind::PlannedFailover => Some(0),
            OperationKind::UnplannedFailover | OperationKind::TestFailover => self
                .fabric
                .get_item(&vm)
                .await
                .ok()
                .and_then(|item| item.rpo_seconds),
            _ => None,
        };
        let initiator = format!("job {}", self.spec.job_id);
        let id = match self.fabric.start(&vm, &request, &initiator).await {
            Ok(id) => id,
            Err(e) => return Ok(Err(e.into())),
        };
        self.tracker.started(&id, &vm, kind, rpo_seconds);
        self.observer.notify(&JobEvent::OperationStarted {
            vm: vm.clone(),
            kind,
            id: id.clone(),
        });
        Ok(Ok(self.table.push(OperationHandle { id, vm })?))
    }

    fn handle(&self, op: &Resource<OperationHandle>) -> wasmtime::Result<OperationHandle> {
        Ok(self.table.get(op)?.clone())
    }

    /// Records the end of an operation that the runbook saw end.
    fn observed(&mut self, result: &Result<OperationStatus, FabricError>) {
        if let Ok(status) = result {
            if status.state.is_terminal() {
                self.tracker.ended(status);
            }
        }
    }
}

/// Polls an operation until it is terminal, reporting its progress.
async fn follow(
    fabric: &dyn Fabric,
    observer: &Observer,
    id: &str,
) -> Result<OperationStatus, FabricError> {
    let mut last_percent = None;
    loop {
        let status = fabric.operation(id).await?;
        if status.state.is_terminal() {
            observer.notify(&JobEvent::OperationEnded {
                status: status.clone(),
            });
            return Ok(status);
        }
        if last_percent != Some(status.percent_complete) {
            last_percent = Some(status.percent_complete);
            observer.notify(&JobEvent::OperationProgress {
                vm: status.vm.clone(),
                id: status.id.clone(),
                percent: status.percent_complete,
            });
        }
        tokio::time::sleep(fabric.poll_interval(&status)).await;
    }
}

impl sr::Host for JobState {
    async fn list_items(
        &mut self,
    ) -> wasmtime::Result<Result<Vec<sr::ProtectedItem>, sr::FabricError>> {
        Ok(self
            .fabric
            .list_items()
            .await
            .map(|items| items.into_iter().map(Into::into).collect())
            .map_err(Into::into))
    }

    async fn get_item(
        &mut self,
        vm: String,
    ) -> wasmtime::Result<Result<sr::ProtectedItem, sr::FabricError>> {
        Ok(self
            .fabric
            .get_item(&vm)
            .await
            .map(Into::into)
            .map_err(Into::into))
    }

    async fn planned_failover(&mut self, vm: String, direction: Direction) -> Started {
        self.start(
            vm,
            OperationRequest::PlannedFailover {
                direction: direction.into(),
            },
        )
        .await
    }

    async fn unplanned_failover(
        &mut self,
        vm: String,
        direction: Direction,
        recovery_point: RecoveryPointChoice,
        shutdown_source: bool,
    ) -> Started {
        let source_site_operations = if shutdown_source {
            SourceSiteOperations::Required
        } else {
            SourceSiteOperations::NotRequired
        };
        let request = OperationRequest::UnplannedFailover {
            direction: direction.into(),
            recovery_point: recovery_point.into(),
            source_site_operations,
        };
        self.start(vm, request).await
    }

    async fn test_failover(
        &mut self,
        vm: String,
        direction: Direction,
        network: String,
        recovery_point: RecoveryPointChoice,
    ) -> Started {
        let request = OperationRequest::TestFailover {
            direction: direction.into(),
            network,
            recovery_point: recovery_point.into(),
        };
        self.start(vm, request).await
    }

    async fn test_failover_cleanup(&mut self, vm: String, comments: String) -> Started {
        self.start(vm, OperationRequest::TestFailoverCleanup { comments })
            .await
    }

    async fn commit(&mut self, vm: String) -> Started {
        self.start(vm, OperationRequest::Commit).await
    }

    async fn cancel_failover(&mut self, vm: String) -> Started {
        self.start(vm, OperationRequest::CancelFailover).await
    }

    async fn change_recovery_point(&mut self, vm: String, recovery_point_id: String) -> Started {
        self.start(
            vm,
            OperationRequest::ChangeRecoveryPoint { recovery_point_id },
        )
        .await
    }

    async fn reprotect(&mut self, vm: String) -> Started {
        self.start(vm, OperationRequest::Reprotect).await
    }

    async fn attach(&mut self, operation_id: String) -> Started {
        match self.fabric.operation(&operation_id).await {
            Ok(status) => Ok(Ok(self.table.push(OperationHandle {
                id: status.id,
                vm: status.vm,
            })?)),
            Err(e) => Ok(Err(e.into())),
        }
    }

    async fn wait_all(
        &mut self,
        operations: Vec<Resource<OperationHandle>>,
    ) -> wasmtime::Result<Vec<Result<sr::OperationStatus, sr::FabricError>>> {
        let handles = operations
            .iter()
            .map(|op| self.handle(op))
            .collect::<wasmtime::Result<Vec<_>>>()?;
        let fabric = self.fabric.clone();
        let observer = self.observer.clone();
        let waits = handles
            .iter()
            .map(|h| follow(fabric.as_ref(), &observer, &h.id));
        let results = self.deadline.wait(futures::future::join_all(waits)).await?;
        for result in &results {
            self.observed(result);
        }
        Ok(results
            .into_iter()
            .map(|r| r.map(Into::into).map_err(Into::into))
            .collect())
    }
}

impl sr::HostOperation for JobState {
    async fn id(&mut self, op: Resource<OperationHandle>) -> wasmtime::Result<String> {
        Ok(self.handle(&op)?.id)
    }

    async fn vm(&mut self, op: Resource<OperationHandle>) -> wasmtime::Result<String> {
        Ok(self.handle(&op)?.vm)
    }

    async fn status(
        &mut self,
        op: Resource<OperationHandle>,
    ) -> wasmtime::Result<Result<sr::OperationStatus, sr::FabricError>> {
        let handle = self.handle(&op)?;
        let result = self.fabric.operation(&handle.id).await;
        self.observed(&result);
        Ok(result.map(Into::into).map_err(Into::into))
    }

    async fn wait(
        &mut self,
        op: Resource<OperationHandle>,
    ) -> wasmtime::Result<Result<sr::OperationStatus, sr::FabricError>> {
        let handle = self.handle(&op)?;
        let (fabric, observer) = (self.fabric.clone(), self.observer.clone());
        let result = self
            .deadline
            .wait(follow(fabric.as_ref(), &observer, &handle.id))
            .await?;
        self.observed(&result);
        Ok(result.map(Into::into).map_err(Into::into))
    }

    async fn drop(&mut self, op: Resource<OperationHandle>) -> wasmtime::Result<()> {
        self.table.delete(op)?;
        Ok(())
    }
}
