//! What drbook sends to start an operation: the action's name and its A2A
//! body (REST specification, `ReplicationProtectedItems_*` inputs), and the
//! client request id derived from the initiator.

use crate::map;
use crate::wire;
use drbook_core::fabric::{
    Direction, FabricError, Location, OperationKind, OperationRequest, ProtectedItem,
    RecoveryPointChoice, RecoveryPointType, SourceSiteOperations,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The `x-ms-client-request-id` of every POST an initiator makes: a UUID
/// (version 8, name-based) of the initiator, so that a resumed job asks for
/// the same id and finds the operation its first run started. ASR keeps it
/// as the first word of the job's `activityId`.
pub fn request_id(initiator: &str) -> String {
    let digest = Sha256::digest(format!("drbook-initiator:{initiator}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

fn direction(direction: Direction) -> &'static str {
    match direction {
        Direction::PrimaryToRecovery => "PrimaryToRecovery",
        Direction::RecoveryToPrimary => "RecoveryToPrimary",
    }
}

/// The direction of a failover (or a replication) from `location`.
pub fn away_from(location: Location) -> Direction {
    match location {
        Location::Primary => Direction::PrimaryToRecovery,
        Location::Recovery => Direction::RecoveryToPrimary,
    }
}

/// Why `request` cannot start on `item` now, as the simulator would say it:
/// busy, then not allowed, then against the replication, then an unknown
/// recovery point. Azure would refuse each too; asking first keeps the
/// refusal's shape (and spends no write).
pub fn precheck(item: &ProtectedItem, request: &OperationRequest) -> Result<(), FabricError> {
    let kind = request.kind();
    if let Some(scenario) = &item.current_scenario {
        return Err(FabricError::Busy {
            vm: item.name.clone(),
            scenario: scenario.scenario_name,
            operation_id: scenario.job_id.clone(),
        });
    }
    if !item.allows(kind.gate()) {
        return Err(FabricError::NotAllowed {
            vm: item.name.clone(),
            operation: kind,
            state: item.protection_state,
            test_failover_state: item.test_failover_state,
            allowed: item.allowed_operations.clone(),
        });
    }
    let requested = match request {
        OperationRequest::PlannedFailover { direction }
        | OperationRequest::UnplannedFailover { direction, .. }
        | OperationRequest::TestFailover { direction, .. } => Some(*direction),
        _ => None,
    };
    if let Some(requested) = requested {
        let replication = away_from(item.active_location);
        if requested != replication {
            return Err(FabricError::InvalidRequest {
                message: format!(
                    "`{}` runs on its {:?} side and replicates {replication:?}, so a {kind} can only go {replication:?}",
                    item.name, item.active_location
                ),
            });
        }
    }
    recovery_point_id(item, request).map(|_| ())
}

/// The recovery point `request` names, if it names one: a failover's or
/// test failover's choice other than `Latest`/`LatestProcessed` (sent as no
/// `recoveryPointId`, which ASR reads as the latest processed point: the
/// A2A inputs of the specification), or the point a change of recovery
/// point applies. No other operation takes a point.
fn named_point(request: &OperationRequest) -> Option<RecoveryPointChoice> {
    match request {
        OperationRequest::UnplannedFailover { recovery_point, .. }
        | OperationRequest::TestFailover { recovery_point, .. } => match recovery_point {
            RecoveryPointChoice::Latest | RecoveryPointChoice::LatestProcessed => None,
            choice => Some(choice.clone()),
        },
        OperationRequest::ChangeRecoveryPoint { recovery_point_id } => {
            Some(RecoveryPointChoice::Id(recovery_point_id.clone()))
        }
        _ => None,
    }
}

/// Whether checking and sending `request` needs the item's recovery points:
/// only when it names one. A start of any other request reads the item
/// alone.
pub fn needs_points(request: &OperationRequest) -> bool {
    named_point(request).is_some()
}

/// The full ARM id of the recovery point `request` names (by its name or
/// its id), if it names one; a
/// `LatestApplicationConsistent`/`LatestCrashConsistent` choice is the newest
/// point of that type. `Latest` and `LatestProcessed` name none: an A2A
/// item's failover without a `recoveryPointId` restores from the latest
/// processed point.
pub fn recovery_point_id(
    item: &ProtectedItem,
    request: &OperationRequest,
) -> Result<Option<String>, FabricError> {
    let Some(choice) = named_point(request) else {
        return Ok(None);
    };
    // A point's full id is its item's id and its name.
    let full = |name: &str| format!("{}/recoveryPoints/{name}", item.id);
    let newest = |kind: RecoveryPointType| {
        item.recovery_points
            .iter()
            .rev()
            .find(|p| p.recovery_point_type == kind)
            .map(|p| full(&p.id))
    };
    match choice {
        RecoveryPointChoice::Latest | RecoveryPointChoice::LatestProcessed => Ok(None),
        RecoveryPointChoice::LatestApplicationConsistent => {
            Ok(newest(RecoveryPointType::ApplicationConsistent))
        }
        RecoveryPointChoice::LatestCrashConsistent => {
            Ok(newest(RecoveryPointType::CrashConsistent))
        }
        RecoveryPointChoice::Id(id) => item
            .recovery_points
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(map::last_segment(&id)))
            .map(|p| Some(full(&p.id)))
            .ok_or(FabricError::RecoveryPointNotFound {
                vm: item.name.clone(),
                id,
            }),
    }
}

/// The action to POST under the item and its body (`None`: no body, as
/// commit and cancel take none).
pub fn action(
    request: &OperationRequest,
    raw: &wire::Item,
    item: &ProtectedItem,
) -> Result<(&'static str, Option<Value>), FabricError> {
    let point = recovery_point_id(item, request)?;
    let a2a = |point: Option<String>| match point {
        Some(id) => json!({ "instanceType": "A2A", "recoveryPointId": id }),
        None => json!({ "instanceType": "A2A" }),
    };
    Ok(match request {
        // No provider input: the specification's planned-failover inputs
        // (`PlannedFailoverProviderSpecificFailoverInput`) are Hyper-V's and
        // InMage's only, and Azure's SDKs, generated from it, send none for
        // A2A (the Python SDK's run against the emulator,
        // `crates/drbook/tests/azure_sdk_cli.rs`).
        OperationRequest::PlannedFailover { direction: d } => (
            "plannedFailover",
            Some(json!({ "properties": { "failoverDirection": direction(*d) } })),
        ),
        OperationRequest::UnplannedFailover {
            direction: d,
            source_site_operations,
            ..
        } => (
            "unplannedFailover",
            Some(json!({ "properties": {
                "failoverDirection": direction(*d),
                "sourceSiteOperations": match source_site_operations {
                    SourceSiteOperations::Required => "Required",
                    SourceSiteOperations::NotRequired => "NotRequired",
                },
                "providerSpecificDetails": a2a(point),
            }})),
        ),
        OperationRequest::TestFailover {
            direction: d,
            network,
            ..
        } => (
            "testFailover",
            Some(json!({ "properties": {
                "failoverDirection": direction(*d),
                "networkType": "VmNetworkAsInput",
                "networkId": network,
                "providerSpecificDetails": a2a(point),
            }})),
        ),
        OperationRequest::TestFailoverCleanup { comments } => (
            "testFailoverCleanup",
            Some(json!({ "properties": { "comments": comments } })),
        ),
        OperationRequest::Commit => ("failoverCommit", None),
        OperationRequest::CancelFailover => ("failoverCancel", None),
        OperationRequest::ChangeRecoveryPoint { .. } => (
            "applyRecoveryPoint",
            Some(json!({ "properties": {
                "recoveryPointId": point,
                "providerSpecificDetails": { "instanceType": "A2A" },
            }})),
        ),
        OperationRequest::Reprotect => ("reProtect", Some(reprotect(raw, item))),
    })
}

/// `ReverseReplicationInput` for A2A: replication from the side the VM
/// runs on now, into the container, policy and resource group the item
/// names, with its unmanaged disks (managed disks need no input).
fn reprotect(raw: &wire::Item, item: &ProtectedItem) -> Value {
    let p = &raw.properties;
    let a2a = map::a2a(raw).unwrap_or_default();
    let mut details = json!({ "instanceType": "A2A" });
    let set = |details: &mut Value, key: &str, value: &Option<String>| {
        if let Some(value) = value {
            details[key] = json!(value);
        }
    };
    set(
        &mut details,
        "recoveryContainerId",
        &p.recovery_container_id,
    );
    set(&mut details, "policyId", &p.policy_id);
    set(
        &mut details,
        "recoveryResourceGroupId",
        &a2a.recovery_azure_resource_group_id,
    );
    let disks: Vec<Value> = a2a
        .protected_disks
        .iter()
        .filter_map(|d| {
            Some(json!({
                "diskUri": d.disk_uri.clone()?,
                "recoveryAzureStorageAccountId": d.recovery_azure_storage_account_id,
                "primaryStagingAzureStorageAccountId": d.primary_staging_azure_storage_account_id,
            }))
        })
        .collect();
    if !disks.is_empty() {
        details["vmDisks"] = Value::Array(disks);
    }
    json!({ "properties": {
        "failoverDirection": direction(away_from(item.active_location)),
        "providerSpecificDetails": details,
    }})
}

/// A request of `kind` rebuilt from what Azure shows, for a job this host
/// has no record of (started elsewhere, or before its audit log): ASR's job
/// does not keep the request's options, so they are the neutral ones and
/// the direction is read from the item (away from where it runs, or towards
/// it once a failover ended).
pub fn rebuilt(kind: OperationKind, item: Option<&ProtectedItem>, ended: bool) -> OperationRequest {
    let active = item.map(|i| i.active_location).unwrap_or(Location::Primary);
    let d = if ended {
        away_from(active.other())
    } else {
        away_from(active)
    };
    match kind {
        OperationKind::PlannedFailover => OperationRequest::PlannedFailover { direction: d },
        OperationKind::UnplannedFailover => OperationRequest::UnplannedFailover {
            direction: d,
            recovery_point: RecoveryPointChoice::LatestProcessed,
            source_site_operations: SourceSiteOperations::NotRequired,
        },
        OperationKind::TestFailover => OperationRequest::TestFailover {
            direction: away_from(active),
            network: item
                .and_then(|i| i.test_vm.as_ref())
                .map(|t| t.network.clone())
                .unwrap_or_default(),
            recovery_point: RecoveryPointChoice::LatestProcessed,
        },
        OperationKind::TestFailoverCleanup => OperationRequest::TestFailoverCleanup {
            comments: String::new(),
        },
        OperationKind::Commit => OperationRequest::Commit,
        OperationKind::CancelFailover => OperationRequest::CancelFailover,
        OperationKind::ChangeRecoveryPoint => OperationRequest::ChangeRecoveryPoint {
            recovery_point_id: item
                .and_then(|i| i.failover_recovery_point_id.clone())
                .unwrap_or_default(),
        },
        OperationKind::Reprotect => OperationRequest::Reprotect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_a_uuid_of_the_initiator_alone() {
        let id = request_id("job 0193 call 7");
        assert_eq!(
            id,
            request_id("job 0193 call 7"),
            "a resumed job asks again"
        );
        assert_ne!(id, request_id("job 0193 call 8"));
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert_eq!(&id[14..15], "8", "version 8: {id}");
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }
}
