//! The simulator's read model as Site Recovery's JSON (the shapes of the
//! REST specification's examples, api-version 2025-08-01): A2A protected
//! items, recovery points, jobs and async-operation statuses.
//!
//! Names the specification leaves to the service, decided here:
//! - fabrics and containers are named as A2A names them,
//!   `asr-a2a-default-{region}` and `asr-a2a-default-{region}-container`; an
//!   item stays under its primary region's container (the simulator's
//!   primary never changes; `activeLocation` says where it runs);
//! - an item's name is the VM's name, as is its `friendlyName`;
//! - `protectionState` is the simulator's closed set (`Protected`,
//!   `FailedOverCommitPending`, ...: the reference's §2 decision);
//! - the job of an operation is named by the simulator's operation id, and
//!   its `scenarioName` is [`job_scenario_name`].

use chrono::{DateTime, TimeZone, Utc};
use drbook_core::fabric::{
    Location, OperationKind, OperationState, OperationStatus, ProtectedItem, RecoveryPoint,
};
use serde_json::{json, Value};

/// The job name of an idle item's `currentScenario` (with the start time
/// 1753-01-01T01:01:01Z), as Azure shows it.
pub const JOB_NONE: &str = "None";

pub(crate) const ITEM_TYPE: &str =
    "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems";
const POINT_TYPE: &str = "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems/recoveryPoints";
const JOB_TYPE: &str = "Microsoft.RecoveryServices/vaults/replicationJobs";
const POLICY: &str = "24-hour-retention-policy";

/// The vault the emulator pretends to be.
#[derive(Debug, Clone)]
pub(crate) struct Vault {
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
}

impl Vault {
    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.RecoveryServices/vaults/{}",
            self.subscription, self.resource_group, self.name
        )
    }

    pub fn fabric_id(&self, region: &str) -> String {
        format!("{}/replicationFabrics/{}", self.id(), fabric_name(region))
    }

    pub fn container_id(&self, region: &str) -> String {
        format!(
            "{}/replicationProtectionContainers/{}",
            self.fabric_id(region),
            container_name(region)
        )
    }

    pub fn item_id(&self, item: &ProtectedItem) -> String {
        format!(
            "{}/replicationProtectedItems/{}",
            self.container_id(&item.primary_region),
            item.name
        )
    }

    pub fn job_id(&self, job: &str) -> String {
        format!("{}/replicationJobs/{job}", self.id())
    }

    pub fn policy_id(&self) -> String {
        format!("{}/replicationPolicies/{POLICY}", self.id())
    }

    fn vm_id(&self, resource_group: &str, vm: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{resource_group}/providers/Microsoft.Compute/virtualMachines/{vm}",
            self.subscription
        )
    }

    /// A test failover's network as the virtual network's ARM id (in the
    /// recovery side's resource group).
    fn network_id(&self, network: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}-asr/providers/Microsoft.Network/virtualNetworks/{network}",
            self.subscription, self.resource_group
        )
    }

    fn resource_group_id(&self, resource_group: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{resource_group}",
            self.subscription
        )
    }

    /// Where the VM (or its replica) lives on each side: the vault's
    /// resource group on the primary side, `<rg>-asr` on the recovery side.
    fn resource_group_in(&self, _item: &ProtectedItem, location: Location) -> String {
        match location {
            Location::Primary => self.resource_group.clone(),
            Location::Recovery => format!("{}-asr", self.resource_group),
        }
    }
}

pub(crate) fn fabric_name(region: &str) -> String {
    format!("asr-a2a-default-{region}")
}

pub(crate) fn container_name(region: &str) -> String {
    format!("asr-a2a-default-{region}-container")
}

fn region_of(item: &ProtectedItem, location: Location) -> &str {
    match location {
        Location::Primary => &item.primary_region,
        Location::Recovery => &item.recovery_region,
    }
}

/// The `scenarioName` of an operation's job (and of an item's
/// `currentScenario`). Reprotect is A2A's `ReverseReplicate` (the name
/// `allowedOperations` uses for it); changing the recovery point is
/// `ChangePit`.
pub fn job_scenario_name(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::PlannedFailover => "PlannedFailover",
        OperationKind::UnplannedFailover => "UnplannedFailover",
        OperationKind::TestFailover => "TestFailover",
        OperationKind::TestFailoverCleanup => "TestFailoverCleanup",
        OperationKind::Commit => "Commit",
        OperationKind::CancelFailover => "CancelFailover",
        OperationKind::ChangeRecoveryPoint => "ChangePit",
        OperationKind::Reprotect => "ReverseReplicate",
    }
}

fn job_friendly_name(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::PlannedFailover => "Planned failover",
        OperationKind::UnplannedFailover => "Failover",
        OperationKind::TestFailover => "Test failover",
        OperationKind::TestFailoverCleanup => "Cleanup test failover",
        OperationKind::Commit => "Commit",
        OperationKind::CancelFailover => "Cancel failover",
        OperationKind::ChangeRecoveryPoint => "Change recovery point",
        OperationKind::Reprotect => "Reprotect",
    }
}

/// The tasks of a job, in order: ASR shows each step of an operation as a
/// task; their states follow the operation's progress.
fn task_names(kind: OperationKind) -> &'static [&'static str] {
    match kind {
        OperationKind::PlannedFailover => &[
            "Prerequisites check for planned failover",
            "Shut down the virtual machine",
            "Synchronize data",
            "Start the replica virtual machine",
        ],
        OperationKind::UnplannedFailover => &[
            "Prerequisites check for failover",
            "Shut down the virtual machine",
            "Start the replica virtual machine",
        ],
        OperationKind::TestFailover => &[
            "Prerequisites check for test failover",
            "Create test virtual machine",
            "Start the test virtual machine",
        ],
        OperationKind::TestFailoverCleanup => &["Delete test virtual machine"],
        OperationKind::Commit => &["Prerequisite check", "Commit"],
        OperationKind::CancelFailover => &["Cancel failover"],
        OperationKind::ChangeRecoveryPoint => &["Change recovery point"],
        OperationKind::Reprotect => &[
            "Prerequisites check",
            "Identifying the replication target",
            "Preparing the protected entities",
            "Protecting the entities",
            "Initial replication",
        ],
    }
}

fn idle_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1753, 1, 1, 1, 1, 1)
        .single()
        .expect("a valid date")
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn enum_name<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn state_description(item: &ProtectedItem) -> &'static str {
    use drbook_core::fabric::ProtectionState as P;
    match item.protection_state {
        P::Protected => "Protected",
        P::FailoverInProgress => "Failover in progress",
        P::FailedOverCommitPending => "Failover completed, commit pending",
        P::CommitInProgress => "Commit in progress",
        P::FailoverCommitted => "Failover committed",
        P::ReprotectInProgress => "Reprotect in progress",
        P::FailoverFailed => "Failover failed",
        P::CommitFailed => "Commit failed",
        P::ReprotectFailed => "Reprotect failed",
    }
}

fn test_description(item: &ProtectedItem) -> &'static str {
    use drbook_core::fabric::TestFailoverState as T;
    match item.test_failover_state {
        T::None => "None",
        T::InProgress => "Test failover in progress",
        T::WaitingForCompletion => "Test failover completed, cleanup pending",
        T::MarkedForDeletion => "Cleaning up test environment",
        T::Failed => "Test failover failed",
    }
}

/// One protected item (ReplicationProtectedItem), A2A.
pub(crate) fn protected_item(vault: &Vault, item: &ProtectedItem, now: DateTime<Utc>) -> Value {
    let id = vault.item_id(item);
    let (scenario, job, start) = match &item.current_scenario {
        Some(s) => (
            job_scenario_name(s.scenario_name),
            s.job_id.clone(),
            s.start_time,
        ),
        None => ("None", JOB_NONE.to_string(), idle_start()),
    };
    let active = item.active_location;
    let other = active.other();
    let health_errors: Vec<Value> = item
        .health_errors
        .iter()
        .map(|e| {
            json!({
                "errorCode": e.error_code,
                "errorMessage": e.message,
                "summaryMessage": e.message,
                "recommendedAction": e.recommended_action,
                "possibleCauses": "",
                "errorLevel": "Error",
                "errorSource": "ProtectedItem",
                "errorType": "ReplicationHealth",
                "creationTimeUtc": time(e.creation_time),
                "entityId": id,
            })
        })
        .collect();
    let disk_id = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/disks/{}-osdisk",
        vault.subscription,
        vault.resource_group_in(item, active),
        item.name
    );
    let monitoring = item.reprotect_percent.map(|_| "InitialReplication");
    let test_vm = item
        .test_vm
        .as_ref()
        .map(|vm| vault.vm_id(&vault.resource_group_in(item, Location::Recovery), &vm.name));
    let details = json!({
        "instanceType": "A2A",
        "fabricObjectId": vault.vm_id(&vault.resource_group_in(item, Location::Primary), &item.name),
        "initialPrimaryFabricLocation": item.primary_region,
        "initialRecoveryFabricLocation": item.recovery_region,
        "primaryFabricLocation": region_of(item, active),
        "recoveryFabricLocation": region_of(item, other),
        "osType": "Linux",
        "vmProtectionState": enum_name(&item.protection_state),
        "vmProtectionStateDescription": state_description(item),
        "recoveryAzureVMName": item.name,
        "recoveryAzureVMSize": "Standard_D4s_v3",
        "recoveryAzureResourceGroupId": vault.resource_group_id(&vault.resource_group_in(item, other)),
        "selectedRecoveryAzureNetworkId": Value::Null,
        "testFailoverRecoveryFabricObjectId": test_vm,
        "selectedTfoAzureNetworkId": item.test_vm.as_ref().map(|vm| vault.network_id(&vm.network)),
        "rpoInSeconds": item.rpo_seconds,
        "lastRpoCalculatedTime": item.rpo_seconds.map(|_| time(now)),
        "monitoringJobType": monitoring,
        "monitoringPercentageCompletion": item.reprotect_percent,
        "isReplicationAgentUpdateRequired": false,
        "lifecycleId": format!("{}-{}", item.primary_region, item.name),
        "protectedManagedDisks": [{
            "diskId": disk_id,
            "diskName": format!("{}-osdisk", item.name),
            "diskCapacityInBytes": u64::from(item.disk_size_gb) * 1024 * 1024 * 1024,
            "diskType": "Premium_LRS",
            "isDiskEncrypted": false,
            "recoveryResourceGroupId": vault.resource_group_id(&vault.resource_group_in(item, other)),
            "primaryStagingAzureStorageAccountId": format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/asrcache{}",
                vault.subscription, vault.resource_group_in(item, active), region_of(item, active)
            ),
            "monitoringJobType": monitoring,
            "monitoringPercentageCompletion": item.reprotect_percent,
        }],
    });
    json!({
        "id": id,
        "name": item.name,
        "type": ITEM_TYPE,
        "location": item.primary_region,
        "properties": {
            "friendlyName": item.name,
            "protectedItemType": "Microsoft.Compute/virtualMachines",
            "protectableItemId": format!(
                "{}/replicationProtectableItems/{}",
                vault.container_id(&item.primary_region),
                item.name
            ),
            "recoveryServicesProviderId": "",
            "primaryFabricFriendlyName": item.primary_region,
            "primaryFabricProvider": "Azure",
            "recoveryFabricFriendlyName": item.recovery_region,
            "recoveryFabricId": vault.fabric_id(&item.recovery_region),
            "primaryProtectionContainerFriendlyName": container_name(&item.primary_region),
            "recoveryProtectionContainerFriendlyName": container_name(&item.recovery_region),
            "protectionState": enum_name(&item.protection_state),
            "protectionStateDescription": state_description(item),
            "activeLocation": enum_name(&active),
            "testFailoverState": enum_name(&item.test_failover_state),
            "testFailoverStateDescription": test_description(item),
            "allowedOperations": item.allowed_operations.iter().map(enum_name).collect::<Vec<_>>(),
            "replicationHealth": enum_name(&item.replication_health),
            "failoverHealth": enum_name(&item.failover_health),
            "healthErrors": health_errors,
            "policyId": vault.policy_id(),
            "policyFriendlyName": POLICY,
            "lastSuccessfulFailoverTime": item.last_successful_failover_time.map(time),
            "lastSuccessfulTestFailoverTime": item.last_successful_test_failover_time.map(time),
            "currentScenario": {
                "scenarioName": scenario,
                "jobId": vault.job_id(&job),
                "startTime": time(start),
            },
            "failoverRecoveryPointId": item.failover_recovery_point_id.as_ref().map(|p| format!("{id}/recoveryPoints/{p}")),
            // The container a reprotect replicates into: the side that is
            // not active now.
            "recoveryContainerId": vault.container_id(region_of(item, other)),
            "eventCorrelationId": Value::Null,
            "providerSpecificDetails": details,
        },
    })
}

/// One recovery point of an item (RecoveryPoint), A2A.
pub(crate) fn recovery_point(vault: &Vault, item: &ProtectedItem, point: &RecoveryPoint) -> Value {
    json!({
        "id": format!("{}/recoveryPoints/{}", vault.item_id(item), point.id),
        "name": point.id,
        "type": POINT_TYPE,
        "properties": {
            "recoveryPointTime": time(point.recovery_point_time),
            "recoveryPointType": enum_name(&point.recovery_point_type),
            "providerSpecificDetails": {
                "instanceType": "A2A",
                "recoveryPointSyncType": "PerVmRecoveryPoint",
            },
        },
    })
}

/// The state of a job, in ASR's words (`Cancelled`, two l's, unlike ARM's
/// async operations).
fn job_state(state: OperationState) -> (&'static str, &'static str) {
    match state {
        OperationState::InProgress => ("InProgress", "InProgress"),
        OperationState::Succeeded => ("Succeeded", "Completed"),
        OperationState::Failed => ("Failed", "Failed"),
        OperationState::Canceled => ("Cancelled", "Cancelled"),
    }
}

/// What the emulator knows of an operation beyond the simulator's status.
pub(crate) struct JobContext<'a> {
    /// The item's ARM id, when the item is still there.
    pub item_id: Option<String>,
    /// The `x-ms-client-request-id` of the POST that started it, if any.
    pub client_request_id: Option<&'a str>,
}

/// One job (Job) for an operation of the simulator.
pub(crate) fn job(vault: &Vault, op: &OperationStatus, ctx: &JobContext<'_>) -> Value {
    let kind = op.request.kind();
    let (state, description) = job_state(op.state);
    let names = task_names(kind);
    let n = names.len();
    let task_time = |i: usize| -> Option<DateTime<Utc>> {
        // Task i starts when the operation is i/n of the way.
        let end = op.end_time?;
        let span = end - op.start_time;
        Some(op.start_time + span * (i as i32) / (n as i32))
    };
    let tasks: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let done_at = ((i + 1) * 100 / n) as u8;
            let started_at = (i * 100 / n) as u8;
            let task_state = match op.state {
                OperationState::Succeeded => "Succeeded",
                OperationState::InProgress if op.percent_complete >= done_at => "Succeeded",
                OperationState::InProgress if op.percent_complete >= started_at => "InProgress",
                OperationState::InProgress => "NotStarted",
                // A failed or canceled operation fails at its last task.
                OperationState::Failed if i + 1 == n => "Failed",
                OperationState::Canceled if i + 1 == n => "Cancelled",
                _ => "Succeeded",
            };
            let started = task_state != "NotStarted";
            let ended = matches!(task_state, "Succeeded" | "Failed" | "Cancelled");
            json!({
                "name": format!("{}Task{i}", job_scenario_name(kind)),
                "taskId": format!("{}-task-{i}", op.id),
                "taskType": "TaskDetails",
                "friendlyName": name,
                "state": task_state,
                "stateDescription": task_state,
                "allowedActions": [],
                "errors": [],
                "customDetails": {"instanceType": "TaskDetails"},
                "startTime": if started { Some(time(task_time(i).unwrap_or(op.start_time))) } else { None },
                "endTime": if ended { task_time(i + 1).or(op.end_time).map(time) } else { None },
            })
        })
        .collect();
    let errors: Vec<Value> = match (&op.error, op.state) {
        (Some(message), OperationState::Failed | OperationState::Canceled) => vec![json!({
            "serviceErrorDetails": {
                "code": if op.state == OperationState::Failed { "OperationFailed" } else { "OperationCancelled" },
                "message": message,
                "possibleCauses": message,
                "recommendedAction": "Retry the operation.",
                "activityId": ctx.client_request_id,
            },
            "providerErrorDetails": Value::Null,
            "errorLevel": "Error",
            "creationTime": op.end_time.map(time),
            "taskId": format!("{}-task-{}", op.id, n - 1),
        })],
        _ => Vec::new(),
    };
    let activity = match ctx.client_request_id {
        Some(client) => format!("{client} ActivityId: {}", op.id),
        None => format!("ActivityId: {}", op.id),
    };
    json!({
        "id": vault.job_id(&op.id),
        "name": op.id,
        "type": JOB_TYPE,
        "properties": {
            "activityId": activity,
            "scenarioName": job_scenario_name(kind),
            "friendlyName": job_friendly_name(kind),
            "state": state,
            "stateDescription": description,
            "tasks": tasks,
            "errors": errors,
            "startTime": time(op.start_time),
            "endTime": if op.state.is_terminal() { op.end_time.map(time) } else { None },
            "allowedActions": if op.state.is_terminal() { vec![] } else { vec!["Cancel"] },
            "targetObjectId": ctx.item_id.clone().unwrap_or_default(),
            "targetObjectName": op.vm,
            "targetInstanceType": "ProtectionEntity",
            "customDetails": {
                "instanceType": "AsrJobDetails",
                "affectedObjectDetails": {
                    "ProtectedItemName": op.vm,
                    "PercentComplete": op.percent_complete.to_string(),
                },
            },
        },
    })
}

/// ARM's async-operation status (what `Azure-AsyncOperation` points at).
pub(crate) fn operation_status(vault: &Vault, op: &OperationStatus) -> Value {
    let status = match op.state {
        OperationState::InProgress => "InProgress",
        OperationState::Succeeded => "Succeeded",
        OperationState::Failed => "Failed",
        OperationState::Canceled => "Canceled",
    };
    let mut body = json!({
        "id": format!("{}/replicationOperationStatus/{}", vault.id(), op.id),
        "name": op.id,
        "status": status,
        "startTime": time(op.start_time),
        "percentComplete": op.percent_complete,
    });
    if op.state.is_terminal() {
        body["endTime"] = json!(op.end_time.map(time));
    }
    if matches!(op.state, OperationState::Failed | OperationState::Canceled) {
        body["error"] = json!({
            "code": if op.state == OperationState::Failed { "OperationFailed" } else { "OperationCanceled" },
            "message": op.error.clone().unwrap_or_else(|| "the operation did not succeed".to_string()),
        });
    }
    body
}

const PLAN_TYPE: &str = "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans";

/// A recovery plan (RecoveryPlan) from a drbook plan file: a Shutdown and a
/// Failover group (empty, as Azure shows them), then one Boot group per
/// plan group, in order, with its items; a group's `pre` steps are its
/// `startGroupActions`, its `post` steps its `endGroupActions`: manual
/// steps as manual actions (their prompt the description), named steps as
/// Automation runbook actions named after the step.
pub(crate) fn recovery_plan(
    vault: &Vault,
    plan: &drbook_core::plan::RecoveryPlan,
    items: &[ProtectedItem],
) -> Value {
    let item_ref = |vm: &str| {
        let id = match items.iter().find(|i| i.name.eq_ignore_ascii_case(vm)) {
            Some(item) => vault.item_id(item),
            None => format!(
                "{}/replicationProtectedItems/{vm}",
                vault.container_id(&plan.primary_region)
            ),
        };
        json!({"id": id, "virtualMachineId": vm})
    };
    let action = |step: &drbook_core::plan::Step| {
        let details = match &step.manual {
            Some(prompt) => json!({"instanceType": "ManualActionDetails", "description": prompt}),
            None => json!({
                "instanceType": "AutomationRunbookActionDetails",
                "runbookId": format!(
                    "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Automation/automationAccounts/drbook/runbooks/{}",
                    vault.subscription, vault.resource_group, step.name
                ),
                "timeout": "PT1H",
                "fabricLocation": "Recovery",
            }),
        };
        json!({
            "actionName": step.name,
            "failoverTypes": ["PlannedFailover", "UnplannedFailover", "TestFailover"],
            "failoverDirections": ["PrimaryToRecovery", "RecoveryToPrimary"],
            "customDetails": details,
        })
    };
    let empty = |kind: &str| json!({"groupType": kind, "replicationProtectedItems": [], "startGroupActions": [], "endGroupActions": []});
    let mut groups = vec![empty("Shutdown"), empty("Failover")];
    groups.extend(plan.groups.iter().map(|group| {
        json!({
            "groupType": "Boot",
            "replicationProtectedItems": group.vms.iter().map(|vm| item_ref(vm)).collect::<Vec<_>>(),
            "startGroupActions": group.pre.iter().map(action).collect::<Vec<_>>(),
            "endGroupActions": group.post.iter().map(action).collect::<Vec<_>>(),
        })
    }));
    json!({
        "id": format!("{}/replicationRecoveryPlans/{}", vault.id(), plan.name),
        "name": plan.name,
        "type": PLAN_TYPE,
        "properties": {
            "friendlyName": plan.name,
            "primaryFabricId": vault.fabric_id(&plan.primary_region),
            "primaryFabricFriendlyName": plan.primary_region,
            "recoveryFabricId": vault.fabric_id(&plan.recovery_region),
            "recoveryFabricFriendlyName": plan.recovery_region,
            "failoverDeploymentModel": "ResourceManager",
            "replicationProviders": ["A2A"],
            "allowedOperations": ["PlannedFailover", "UnplannedFailover", "TestFailover"],
            "groups": groups,
        },
    })
}
