//! ARM's JSON for Site Recovery, as the REST API specification
//! (`Azure/azure-rest-api-specs`, `specification/recoveryservicessiterecovery`,
//! api-version 2025-08-01) spells it. Only the fields drbook reads are here;
//! every one is optional or defaulted, because ASR leaves out what does not
//! apply (an idle item has no `failoverRecoveryPointId`, a Hyper-V item no
//! A2A details) and an unknown field must never fail a read.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// A list answer: `{"value": [...], "nextLink": "..."}`. `nextLink` is an
/// absolute URL to GET as is.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(default)]
    pub next_link: Option<String>,
}

/// `ReplicationProtectedItem`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub properties: ItemProperties,
}

/// `ReplicationProtectedItemProperties`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemProperties {
    pub friendly_name: Option<String>,
    pub protection_state: Option<String>,
    pub protection_state_description: Option<String>,
    pub test_failover_state: Option<String>,
    pub replication_health: Option<String>,
    pub failover_health: Option<String>,
    #[serde(default)]
    pub health_errors: Vec<HealthError>,
    #[serde(default)]
    pub allowed_operations: Vec<String>,
    pub current_scenario: Option<CurrentScenario>,
    pub active_location: Option<String>,
    pub primary_fabric_friendly_name: Option<String>,
    pub recovery_fabric_friendly_name: Option<String>,
    pub recovery_container_id: Option<String>,
    pub policy_id: Option<String>,
    pub last_successful_failover_time: Option<DateTime<Utc>>,
    pub last_successful_test_failover_time: Option<DateTime<Utc>>,
    pub failover_recovery_point_id: Option<String>,
    /// Kept raw: its shape depends on `instanceType`; [`A2aDetails`] reads
    /// the Azure-to-Azure one.
    pub provider_specific_details: Option<serde_json::Value>,
}

/// `HealthError` (ASR's, not ARM's error shape).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthError {
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub summary_message: Option<String>,
    pub recommended_action: Option<String>,
    pub creation_time_utc: Option<DateTime<Utc>>,
}

/// `CurrentScenarioDetails`. Idle is a sentinel: `scenarioName: "None"`,
/// a job id ending in `/None`, a start time of 1753-01-01.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentScenario {
    pub scenario_name: Option<String>,
    pub job_id: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
}

/// `A2AReplicationDetails`, the `providerSpecificDetails` of an
/// Azure-to-Azure item (`instanceType: "A2A"`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct A2aDetails {
    pub instance_type: Option<String>,
    /// The regions the item was protected between: they stay when a
    /// failover makes the recovery side the active one.
    pub initial_primary_fabric_location: Option<String>,
    pub initial_recovery_fabric_location: Option<String>,
    /// The regions it replicates from and to now.
    pub primary_fabric_location: Option<String>,
    pub recovery_fabric_location: Option<String>,
    pub rpo_in_seconds: Option<i64>,
    pub last_rpo_calculated_time: Option<DateTime<Utc>>,
    pub recovery_azure_resource_group_id: Option<String>,
    #[serde(rename = "recoveryAzureVMName")]
    pub recovery_azure_vm_name: Option<String>,
    #[serde(rename = "tfoAzureVMName")]
    pub tfo_azure_vm_name: Option<String>,
    pub selected_tfo_azure_network_id: Option<String>,
    /// The test failover's VM (its ARM id), while one exists.
    pub test_failover_recovery_fabric_object_id: Option<String>,
    /// The test failover's network, as the ARM emulator names it.
    pub test_failover_network: Option<String>,
    pub monitoring_percentage_completion: Option<i64>,
    pub monitoring_job_type: Option<String>,
    #[serde(default)]
    pub protected_disks: Vec<A2aProtectedDisk>,
    #[serde(default)]
    pub protected_managed_disks: Vec<A2aProtectedManagedDisk>,
}

/// `A2AProtectedDiskDetails` (unmanaged disks).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct A2aProtectedDisk {
    pub disk_uri: Option<String>,
    pub recovery_azure_storage_account_id: Option<String>,
    pub primary_staging_azure_storage_account_id: Option<String>,
    pub disk_capacity_in_bytes: Option<i64>,
}

/// `A2AProtectedManagedDiskDetails`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct A2aProtectedManagedDisk {
    pub disk_id: Option<String>,
    pub disk_name: Option<String>,
    pub disk_capacity_in_bytes: Option<i64>,
    pub primary_staging_azure_storage_account_id: Option<String>,
    pub recovery_resource_group_id: Option<String>,
}

/// `RecoveryPoint`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPoint {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub properties: RecoveryPointProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPointProperties {
    pub recovery_point_time: Option<DateTime<Utc>>,
    pub recovery_point_type: Option<String>,
}

/// `Job` (`replicationJobs/{name}`): the real progress of an operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub properties: JobProperties,
}

/// `JobProperties`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobProperties {
    /// `"<client request id> ActivityId: <ASR's activity id>"`: the first
    /// word is the `x-ms-client-request-id` of the request that started it.
    pub activity_id: Option<String>,
    pub scenario_name: Option<String>,
    pub friendly_name: Option<String>,
    pub state: Option<String>,
    pub state_description: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub target_object_id: Option<String>,
    pub target_object_name: Option<String>,
    pub target_instance_type: Option<String>,
    #[serde(default)]
    pub tasks: Vec<JobTask>,
    #[serde(default)]
    pub errors: Vec<JobError>,
}

/// `ASRTask`: a job's step, with the job's states.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTask {
    pub name: Option<String>,
    pub state: Option<String>,
}

/// `JobErrorDetails`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobError {
    pub service_error_details: Option<ServiceError>,
    pub provider_error_details: Option<ProviderError>,
}

/// `ServiceError`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceError {
    pub code: Option<String>,
    pub message: Option<String>,
    pub recommended_action: Option<String>,
}

/// `ProviderError`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderError {
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
}

/// ARM's error body: `{"error": {"code": ..., "message": ..., "details": [...]}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

/// The body of an `Azure-AsyncOperation` URL.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AsyncOperation {
    pub status: Option<String>,
    pub error: Option<ErrorDetail>,
}

/// `RecoveryPlan` (`replicationRecoveryPlans/{name}`): what
/// `drbook plan import --from-azure` reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPlan {
    pub name: String,
    #[serde(default)]
    pub properties: RecoveryPlanProperties,
}

/// `RecoveryPlanProperties`. Its regions are its items' (the fabrics it
/// names are A2A's per-region fabrics, or a Hyper-V site).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPlanProperties {
    /// `Shutdown`, `Failover`, then the `Boot` groups, in the order ASR
    /// runs them.
    #[serde(default)]
    pub groups: Vec<RecoveryPlanGroup>,
}

/// `RecoveryPlanGroup`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPlanGroup {
    /// `Shutdown`, `Failover` or `Boot`.
    pub group_type: Option<String>,
    #[serde(default)]
    pub replication_protected_items: Vec<RecoveryPlanProtectedItem>,
    #[serde(default)]
    pub start_group_actions: Vec<RecoveryPlanAction>,
    #[serde(default)]
    pub end_group_actions: Vec<RecoveryPlanAction>,
}

/// `RecoveryPlanProtectedItem`: the item's ARM id, and its name as
/// `virtualMachineId`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPlanProtectedItem {
    pub id: Option<String>,
    pub virtual_machine_id: Option<String>,
}

/// `RecoveryPlanAction`: a step before (`startGroupActions`) or after
/// (`endGroupActions`) a group, for some failover types and directions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPlanAction {
    #[serde(default)]
    pub action_name: String,
    #[serde(default)]
    pub failover_types: Vec<String>,
    #[serde(default)]
    pub failover_directions: Vec<String>,
    #[serde(default)]
    pub custom_details: RecoveryPlanActionDetails,
}

/// `RecoveryPlanActionDetails`, its kinds in one: `instanceType` says
/// which field applies (`AutomationRunbookActionDetails`: `runbookId`;
/// `ScriptActionDetails`: `path`; `ManualActionDetails`: `description`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPlanActionDetails {
    #[serde(default)]
    pub instance_type: String,
    pub runbook_id: Option<String>,
    pub path: Option<String>,
    pub description: Option<String>,
}
