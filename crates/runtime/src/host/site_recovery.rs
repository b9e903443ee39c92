//! `site-recovery`: the fabric's operations, as resources the runbook can wait
//! on. Every call is journaled; starting an operation is an intent first, so
//! a resumed job re-attaches to an operation it started instead of starting
//! it twice. What the job did to each VM is read back from that journal
//! (`drbook_report::runs`): the job's report comes from the host, not from
//! the runbook.
//!
//! A start outside the job's scope (`drbook_core::scope`: its plan's VMs, its
//! failover type's operations, and what a grant adds) or outside what its
//! module may do (the operations its capability manifest declares, and the
//! trust policy's cap, pinned with the job's admission) is refused before
//! its intent is journaled and before the fabric hears of it:
//! `not-allowed`, naming the rule. One check decides both (`scope::check`). The refusal is journaled as the start's reply (with a
//! warning line in the job's streams), so a replay gives the same answer,
//! and recorded in the fabric's audit trail (`Fabric::record_refusal`).

use wasmtime::component::Resource;

use crate::bindings::site_recovery::{self as sr, RecoveryPointChoice};
use crate::bindings::types::Direction;
use crate::events::{JobEvent, Observer};
use crate::job::Unload;
use crate::journal::Replay;
use crate::limits::{caps, cut, human_bytes, TooManyOperations};
use crate::state::{InstanceState, Live};
use drbook_core::fabric::{
    Fabric, FabricError, OperationKind, OperationRequest, OperationStatus, ProtectedItem,
    RefusedStart, SourceSiteOperations,
};
use drbook_core::job::Wake;
use drbook_core::journal::{Call, Stream};
use drbook_core::scope::{self, OutOfScope};

/// The host's side of an `operation` resource.
#[derive(Debug, Clone)]
pub struct OperationHandle {
    pub id: String,
    pub vm: String,
}

type Started = wasmtime::Result<Result<Resource<OperationHandle>, sr::FabricError>>;
type Statuses = Vec<Result<OperationStatus, FabricError>>;

impl InstanceState {
    async fn start(&mut self, vm: String, request: OperationRequest) -> Started {
        let (network, point) = match &request {
            OperationRequest::TestFailover {
                network,
                recovery_point,
                ..
            } => (network.as_str(), point_id(recovery_point)),
            OperationRequest::UnplannedFailover { recovery_point, .. } => {
                ("", point_id(recovery_point))
            }
            OperationRequest::ChangeRecoveryPoint { recovery_point_id } => {
                ("", recovery_point_id.as_str())
            }
            // Comments are free text, cut by `test_failover_cleanup`.
            OperationRequest::TestFailoverCleanup { .. }
            | OperationRequest::PlannedFailover { .. }
            | OperationRequest::Commit
            | OperationRequest::CancelFailover
            | OperationRequest::Reprotect => ("", ""),
        };
        let names = [
            ("VM name", &*vm),
            ("network", network),
            ("recovery point id", point),
        ];
        if let Err(e) = check_names(&names) {
            return Ok(Err(e));
        }
        let kind = request.kind();
        let call = Call::Start {
            vm: vm.clone(),
            request: request.clone(),
        };
        let replayed = self.journal.replaying();
        let reply: Result<String, FabricError> = match self.replay(&call)? {
            Replay::Reply(reply) => {
                if let Err(FabricError::OutOfScope(refusal)) = &reply {
                    self.streams
                        .remember(Stream::Warning, refusal.message.clone());
                }
                reply
            }
            // The previous run wrote the intent and died before the reply:
            // the fabric knows whether the operation started.
            Replay::Intent(intent) => {
                let initiator = self.initiator(intent.seq());
                let found = self.live.fabric.find_operation(&vm, &initiator).await;
                let reply = match found {
                    Ok(Some(status)) => Ok(status.id),
                    // An intent a host without scopes wrote: checked now.
                    Ok(None) => match scope::check(&self.spec, &vm, kind) {
                        Ok(()) => self.live.fabric.start(&vm, &request, &initiator).await,
                        Err(refusal) => {
                            let line = self.refuse(&vm, &request, initiator, &refusal).await;
                            self.streams.push(Stream::Warning, line);
                            Err(FabricError::OutOfScope(refusal))
                        }
                    },
                    Err(e) => Err(e),
                };
                self.journal.complete(intent, &reply)?;
                reply
            }
            // Outside the job's scope: refused before the intent, so the
            // fabric never hears of it but for its audit trail.
            Replay::Live => match scope::check(&self.spec, &vm, kind) {
                Err(refusal) => {
                    let initiator = self.initiator(self.journal.position());
                    let line = self.refuse(&vm, &request, initiator, &refusal).await;
                    let record = self.streams.record(Stream::Warning, line);
                    let reply = Err(FabricError::OutOfScope(refusal));
                    self.journal.record(call, &reply, record.as_ref())?;
                    reply
                }
                // An operation a retried job's earlier attempt started, and
                // whose start its cut dropped: taken back, not started again.
                Ok(()) => match self.journal.take_carried(&vm, &request) {
                    Some(id) => {
                        let reply = Ok(id);
                        self.journal.record(call, &reply, None)?;
                        reply
                    }
                    None => {
                        let intent = self.journal.intent(call).await?;
                        let reply = self
                            .live
                            .fabric
                            .start(&vm, &request, &self.initiator(intent.seq()))
                            .await;
                        self.journal.complete(intent, &reply)?;
                        reply
                    }
                },
            },
        };
        let id = match reply {
            Ok(id) => id,
            Err(e) => return Ok(Err(e.into())),
        };
        // What an unplanned or test failover may lose is the item's RPO now:
        // the item is read, journaled, right after the start, for the
        // job's summary and report (`drbook_report::runs` reads it there).
        if matches!(
            kind,
            OperationKind::UnplannedFailover | OperationKind::TestFailover
        ) {
            let vm = vm.clone();
            let _: Result<ProtectedItem, FabricError> = self
                .journaled(Call::GetItem { vm: vm.clone() }, |live| async move {
                    Ok(live.fabric.get_item(&vm).await)
                })
                .await?;
        }
        if !replayed {
            self.live.observer.notify(&JobEvent::OperationStarted {
                vm: vm.clone(),
                kind,
                id: id.clone(),
            });
        }
        Ok(Ok(self.table.push(OperationHandle { id, vm })?))
    }

    /// Records a refused start (outside the job's scope or its module's
    /// grant) in the fabric's audit trail,
    /// and logs it; returns the line for the job's warning stream. A fabric
    /// that cannot take the record does not change the refusal: the line
    /// says so. (`&mut self`: the future must be `Send`, and the instance's
    /// state is not `Sync`.)
    async fn refuse(
        &mut self,
        vm: &str,
        request: &OperationRequest,
        initiator: String,
        refusal: &OutOfScope,
    ) -> String {
        tracing::warn!(
            job = %self.spec.job_id,
            vm,
            operation = %refusal.operation,
            rule = %refusal.rule,
            %initiator,
            "start refused: outside the job's scope or its module's grant"
        );
        let refused = RefusedStart {
            vm: vm.to_string(),
            request: request.clone(),
            initiator,
            rule: refusal.rule,
            reason: refusal.message.clone(),
        };
        match self.live.fabric.record_refusal(&refused).await {
            Ok(()) => refusal.message.clone(),
            Err(e) => format!(
                "{} (the fabric's audit trail did not take this refusal: {e})",
                refusal.message
            ),
        }
    }

    /// Who started an operation, for the fabric's audit trail: the job and
    /// the journal entry (and the attempt, for a retried job), which also
    /// lets a resumed job find it again.
    fn initiator(&self, seq: usize) -> String {
        let attempt = self.journal.attempt_at(seq);
        drbook_core::retry::initiator(&self.spec.job_id, seq, attempt)
    }

    fn handle(&self, op: &Resource<OperationHandle>) -> wasmtime::Result<OperationHandle> {
        Ok(self.table.get(op)?.clone())
    }

    /// Waits for operations (journaled); a wait longer than `unload_after`
    /// unloads the instance until they are all done.
    async fn wait_for(&mut self, ids: Vec<String>) -> wasmtime::Result<Statuses> {
        self.journaled(Call::Wait { ids: ids.clone() }, |live| wait_live(live, ids))
            .await
    }
}

async fn wait_live(live: Live, ids: Vec<String>) -> wasmtime::Result<Statuses> {
    let waits = futures::future::join_all(
        ids.iter()
            .map(|id| follow(live.fabric.as_ref(), &live.observer, id)),
    );
    let Some(after) = live.unload_after else {
        return live.wait(waits).await;
    };
    match tokio::time::timeout(after, live.wait(waits)).await {
        Ok(results) => results,
        Err(_) => {
            let reason = format!("waiting for {} operation(s): {}", ids.len(), ids.join(", "));
            Err(Unload::waiting(Wake::Operations { ids }, reason).into())
        }
    }
}

/// Waits for an operation, reporting its progress when it moves and its end.
async fn follow(
    fabric: &dyn Fabric,
    observer: &Observer,
    id: &str,
) -> Result<OperationStatus, FabricError> {
    let mut last_percent = None;
    fabric
        .wait(id, &mut |status| {
            if status.state.is_terminal() {
                observer.notify(&JobEvent::OperationEnded {
                    status: status.clone(),
                });
            } else if last_percent != Some(status.percent_complete) {
                last_percent = Some(status.percent_complete);
                observer.notify(&JobEvent::OperationProgress {
                    vm: status.vm.clone(),
                    id: status.id.clone(),
                    percent: status.percent_complete,
                });
            }
        })
        .await
}

/// Refuses a name or id longer than [`caps::NAME`]: no fabric has one, and
/// the call is neither journaled nor made. The error gives its length, not
/// the name.
fn check_names(names: &[(&str, &str)]) -> Result<(), sr::FabricError> {
    match names.iter().find(|(_, name)| name.len() > caps::NAME) {
        None => Ok(()),
        Some((what, name)) => Err(sr::FabricError::Invalid(format!(
            "the {what} passed is {} bytes long; names and ids are at most {}",
            name.len(),
            human_bytes(caps::NAME)
        ))),
    }
}

/// The recovery point id a choice names, if any.
fn point_id(choice: &drbook_core::fabric::RecoveryPointChoice) -> &str {
    match choice {
        drbook_core::fabric::RecoveryPointChoice::Id(id) => id,
        _ => "",
    }
}

fn wit<T: Into<U>, U>(result: Result<T, FabricError>) -> Result<U, sr::FabricError> {
    result.map(Into::into).map_err(Into::into)
}

impl sr::Host for InstanceState {
    async fn list_items(
        &mut self,
    ) -> wasmtime::Result<Result<Vec<sr::ProtectedItem>, sr::FabricError>> {
        let items: Result<Vec<ProtectedItem>, FabricError> = self
            .journaled(Call::ListItems, |live| async move {
                Ok(live.fabric.list_items().await)
            })
            .await?;
        Ok(items
            .map(|items| items.into_iter().map(Into::into).collect())
            .map_err(Into::into))
    }

    async fn get_item(
        &mut self,
        vm: String,
    ) -> wasmtime::Result<Result<sr::ProtectedItem, sr::FabricError>> {
        if let Err(e) = check_names(&[("VM name", &vm)]) {
            return Ok(Err(e));
        }
        let call = Call::GetItem { vm: vm.clone() };
        let item: Result<ProtectedItem, FabricError> = self
            .journaled(
                call,
                |live| async move { Ok(live.fabric.get_item(&vm).await) },
            )
            .await?;
        Ok(wit(item))
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
        let comments = cut(comments, caps::TEXT);
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
        if let Err(e) = check_names(&[("operation id", &operation_id)]) {
            return Ok(Err(e));
        }
        let call = Call::Attach {
            id: operation_id.clone(),
        };
        let status: Result<OperationStatus, FabricError> = self
            .journaled(call, |live| async move {
                Ok(live.fabric.operation(&operation_id).await)
            })
            .await?;
        match status {
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
        if operations.len() > caps::WAIT_ALL {
            return Err(TooManyOperations {
                count: operations.len(),
            }
            .into());
        }
        let ids = operations
            .iter()
            .map(|op| Ok(self.handle(op)?.id))
            .collect::<wasmtime::Result<Vec<_>>>()?;
        Ok(self.wait_for(ids).await?.into_iter().map(wit).collect())
    }
}

impl sr::HostOperation for InstanceState {
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
        let id = self.handle(&op)?.id;
        let call = Call::Status { id: id.clone() };
        let status: Result<OperationStatus, FabricError> = self
            .journaled(
                call,
                |live| async move { Ok(live.fabric.operation(&id).await) },
            )
            .await?;
        Ok(wit(status))
    }

    async fn wait(
        &mut self,
        op: Resource<OperationHandle>,
    ) -> wasmtime::Result<Result<sr::OperationStatus, sr::FabricError>> {
        let id = self.handle(&op)?.id;
        let mut results = self.wait_for(vec![id]).await?;
        Ok(wit(results.remove(0)))
    }

    async fn drop(&mut self, op: Resource<OperationHandle>) -> wasmtime::Result<()> {
        self.table.delete(op)?;
        Ok(())
    }
}
