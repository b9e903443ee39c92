//! ARM's shapes onto drbook's read model. Azure leaves `protectionState`,
//! `testFailoverState` and scenario names free strings, and their spellings
//! vary by provider and version (`PlannedFailoverCommitRequired`,
//! `UnplannedFailoverCommitPendingStatesBegin`, ...): each is read by the
//! words it contains, drbook's own spelling first, and where a state says
//! nothing known, `allowedOperations` (which clients gate on anyway) decides.

use crate::wire;
use chrono::{DateTime, Utc};
use drbook_core::fabric::{
    AllowedOperation, Health, HealthError, Location, OperationKind, OperationState, ProtectedItem,
    ProtectionState, RecoveryPoint, RecoveryPointType, Scenario, TestFailoverState, TestVm,
};

/// The last segment of an ARM id: a job id's job name, an item id's name.
pub fn last_segment(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

/// Lowercase without separators, for comparing ASR's spellings.
fn squash(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The A2A details of an item, when it is an Azure-to-Azure one.
pub fn a2a(item: &wire::Item) -> Option<wire::A2aDetails> {
    let raw = item.properties.provider_specific_details.as_ref()?;
    let details: wire::A2aDetails = serde_json::from_value(raw.clone()).ok()?;
    details
        .instance_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("A2A"))
        .then_some(details)
}

pub fn allowed_operation(raw: &str) -> Option<AllowedOperation> {
    use AllowedOperation::*;
    Some(match squash(raw).as_str() {
        "plannedfailover" => PlannedFailover,
        "unplannedfailover" => UnplannedFailover,
        "testfailover" => TestFailover,
        "testfailovercleanup" => TestFailoverCleanup,
        "commit" => Commit,
        "changepit" => ChangePit,
        "cancelfailover" => CancelFailover,
        "reversereplicate" => ReverseReplicate,
        "disableprotection" => DisableProtection,
        "repairreplication" => RepairReplication,
        _ => return None,
    })
}

/// An item's `protectionState`, read by its words, else from what it allows.
pub fn protection_state(raw: Option<&str>, allowed: &[AllowedOperation]) -> ProtectionState {
    use ProtectionState as P;
    let s = raw.map(squash).unwrap_or_default();
    let has = |w: &str| s.contains(w);
    let failed = has("failed") && !has("failedover");
    if has("reprotect") || has("reverse") {
        return if failed {
            P::ReprotectFailed
        } else if has("progress") {
            P::ReprotectInProgress
        } else {
            P::FailoverCommitted
        };
    }
    if has("commitpending") || has("commitrequired") || s == "failedovercommitpending" {
        return P::FailedOverCommitPending;
    }
    if has("commit") {
        return if failed {
            P::CommitFailed
        } else if has("progress") {
            P::CommitInProgress
        } else {
            P::FailoverCommitted
        };
    }
    if has("failover") {
        return if failed {
            P::FailoverFailed
        } else {
            P::FailoverInProgress
        };
    }
    if s == "protected" || s.starts_with("protected") {
        return P::Protected;
    }
    if allowed.contains(&AllowedOperation::Commit) || allowed.contains(&AllowedOperation::ChangePit)
    {
        P::FailedOverCommitPending
    } else if allowed.contains(&AllowedOperation::ReverseReplicate) {
        P::FailoverCommitted
    } else {
        P::Protected
    }
}

pub fn test_failover_state(raw: Option<&str>) -> TestFailoverState {
    use TestFailoverState as T;
    let s = raw.map(squash).unwrap_or_default();
    if s.contains("deletion") || s.contains("cleanup") {
        T::MarkedForDeletion
    } else if s.contains("waiting") || s.contains("completion") {
        T::WaitingForCompletion
    } else if s.contains("progress") {
        T::InProgress
    } else if s.contains("fail") {
        T::Failed
    } else {
        T::None
    }
}

pub fn health(raw: Option<&str>) -> Health {
    match raw.map(squash).as_deref() {
        Some("normal") => Health::Normal,
        Some("warning") => Health::Warning,
        Some("critical") => Health::Critical,
        _ => Health::None,
    }
}

pub fn location(raw: Option<&str>) -> Location {
    match raw.map(squash).as_deref() {
        Some("recovery") => Location::Recovery,
        _ => Location::Primary,
    }
}

/// The operation a scenario or job names, by its words; `None` for the
/// idle sentinel and for scenarios drbook does not drive.
pub fn operation_kind(raw: &str) -> Option<OperationKind> {
    use OperationKind::*;
    let s = squash(raw);
    let has = |w: &str| s.contains(w);
    Some(if s.is_empty() || s == "none" {
        return None;
    } else if has("cleanup") {
        TestFailoverCleanup
    } else if has("test") {
        TestFailover
    } else if has("cancel") {
        CancelFailover
    } else if has("changepit") || has("recoverypoint") || has("applyrecovery") {
        ChangeRecoveryPoint
    } else if has("reprotect") || has("reverse") {
        Reprotect
    } else if has("commit") {
        Commit
    } else if has("unplanned") {
        UnplannedFailover
    } else if has("planned") || has("failover") {
        PlannedFailover
    } else {
        return None;
    })
}

/// ASR's job states (`NotStarted, InProgress, Succeeded, Failed, Cancelled,
/// Suspended`) as an operation's; a suspended job waits, so it is running.
pub fn job_state(raw: Option<&str>) -> OperationState {
    match raw.map(squash).as_deref() {
        Some("succeeded") | Some("completed") => OperationState::Succeeded,
        Some("failed") | Some("completedwitherrors") => OperationState::Failed,
        Some("cancelled") | Some("canceled") => OperationState::Canceled,
        _ => OperationState::InProgress,
    }
}

/// A job's progress from its tasks: the share that ended. 100 once the job
/// has.
pub fn job_percent(job: &wire::Job) -> u8 {
    let state = job_state(job.properties.state.as_deref());
    if state.is_terminal() {
        return 100;
    }
    let tasks = &job.properties.tasks;
    if tasks.is_empty() {
        return 0;
    }
    let done = tasks
        .iter()
        .filter(|t| job_state(t.state.as_deref()).is_terminal())
        .count();
    u8::try_from(done * 100 / tasks.len())
        .unwrap_or(100)
        .min(99)
}

/// The first error a job reports, with ASR's message and recommended action.
pub fn job_error(job: &wire::Job) -> Option<String> {
    job.properties.errors.iter().find_map(|e| {
        if let Some(service) = &e.service_error_details {
            let message = service.message.clone().unwrap_or_default();
            let code = service.code.clone().unwrap_or_default();
            let action = service
                .recommended_action
                .as_deref()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default();
            return Some(format!("{code}: {message}{action}"));
        }
        e.provider_error_details
            .as_ref()
            .and_then(|p| p.error_message.clone())
    })
}

/// The client request id a job was started with: the first word of its
/// `activityId`.
pub fn job_request_id(job: &wire::Job) -> Option<&str> {
    job.properties
        .activity_id
        .as_deref()
        .and_then(|a| a.split_whitespace().next())
}

/// The scenario an item is busy with, or `None` for Azure's idle sentinel.
pub fn scenario(raw: Option<&wire::CurrentScenario>) -> Option<Scenario> {
    let raw = raw?;
    let kind = operation_kind(raw.scenario_name.as_deref().unwrap_or("None"))?;
    let job = last_segment(raw.job_id.as_deref()?);
    if job.is_empty() || job.eq_ignore_ascii_case("none") {
        return None;
    }
    Some(Scenario {
        scenario_name: kind,
        job_id: job.to_string(),
        start_time: raw.start_time.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        percent_complete: 0,
    })
}

pub fn recovery_point(raw: &wire::RecoveryPoint) -> Option<RecoveryPoint> {
    let kind = match raw.properties.recovery_point_type.as_deref().map(squash) {
        Some(t) if t.contains("application") => RecoveryPointType::ApplicationConsistent,
        _ => RecoveryPointType::CrashConsistent,
    };
    // A point is named within its item (a GUID in Azure): drbook shows and
    // takes the name, and sends the full id (`request::recovery_point_id`).
    Some(RecoveryPoint {
        id: if raw.name.is_empty() {
            last_segment(&raw.id).to_string()
        } else {
            raw.name.clone()
        },
        recovery_point_time: raw.properties.recovery_point_time?,
        recovery_point_type: kind,
    })
}

fn health_error(raw: &wire::HealthError) -> HealthError {
    HealthError {
        error_code: raw.error_code.clone().unwrap_or_default(),
        message: raw
            .error_message
            .clone()
            .or_else(|| raw.summary_message.clone())
            .unwrap_or_default(),
        recommended_action: raw.recommended_action.clone().unwrap_or_default(),
        creation_time: raw.creation_time_utc.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
    }
}

/// One protected item as drbook reads it, with its recovery points (the
/// item's `recoveryPoints`, in any order) and the time now (for the RPO
/// when ASR last computed it a while ago).
pub fn item(raw: &wire::Item, points: &[wire::RecoveryPoint], now: DateTime<Utc>) -> ProtectedItem {
    let p = &raw.properties;
    let a2a = a2a(raw).unwrap_or_default();
    let mut allowed: Vec<AllowedOperation> = p
        .allowed_operations
        .iter()
        .filter_map(|op| allowed_operation(op))
        .collect();
    allowed.sort();
    allowed.dedup();
    let protection_state = protection_state(p.protection_state.as_deref(), &allowed);
    let test_failover_state = test_failover_state(p.test_failover_state.as_deref());
    let mut recovery_points: Vec<RecoveryPoint> =
        points.iter().filter_map(recovery_point).collect();
    recovery_points.sort_by_key(|point| point.recovery_point_time);
    // drbook's primary region is where the VM was protected from, whichever
    // side is active; A2A's `primaryFabricLocation` follows the active side.
    let active = location(p.active_location.as_deref());
    let (now_from, now_to) = match active {
        Location::Primary => (&a2a.primary_fabric_location, &a2a.recovery_fabric_location),
        Location::Recovery => (&a2a.recovery_fabric_location, &a2a.primary_fabric_location),
    };
    let primary_region = a2a
        .initial_primary_fabric_location
        .clone()
        .or_else(|| now_from.clone())
        .or_else(|| p.primary_fabric_friendly_name.clone())
        .unwrap_or_default();
    let recovery_region = a2a
        .initial_recovery_fabric_location
        .clone()
        .or_else(|| now_to.clone())
        .or_else(|| p.recovery_fabric_friendly_name.clone())
        .unwrap_or_default();
    // ASR computes the RPO every few minutes; the age of that figure counts.
    let rpo_seconds = a2a.rpo_in_seconds.and_then(|rpo| {
        let since = a2a
            .last_rpo_calculated_time
            .map(|at| (now - at).num_seconds().max(0))
            .unwrap_or(0);
        u64::try_from(rpo.max(0) + since).ok()
    });
    let reprotect_percent = (protection_state == ProtectionState::ReprotectInProgress)
        .then_some(a2a.monitoring_percentage_completion)
        .flatten()
        .and_then(|pct| u8::try_from(pct.clamp(0, 100)).ok());
    let test_vm_name = a2a.tfo_azure_vm_name.clone().or_else(|| {
        a2a.test_failover_recovery_fabric_object_id
            .as_deref()
            .map(|id| last_segment(id).to_string())
    });
    let test_vm = match (test_failover_state, test_vm_name) {
        (TestFailoverState::None, _) | (_, None) => None,
        (_, Some(name)) => Some(TestVm {
            name,
            // The network's name, as a runbook names it; Azure gives the
            // VNet's ARM id.
            network: a2a
                .selected_tfo_azure_network_id
                .as_deref()
                .or(a2a.test_failover_network.as_deref())
                .map(|id| last_segment(id).to_string())
                .unwrap_or_default(),
            region: recovery_region.clone(),
            created_time: p
                .last_successful_test_failover_time
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        }),
    };
    let disk_bytes: i64 = a2a
        .protected_managed_disks
        .iter()
        .filter_map(|d| d.disk_capacity_in_bytes)
        .chain(
            a2a.protected_disks
                .iter()
                .filter_map(|d| d.disk_capacity_in_bytes),
        )
        .sum();
    ProtectedItem {
        name: p.friendly_name.clone().unwrap_or_else(|| raw.name.clone()),
        id: raw.id.clone(),
        primary_region,
        recovery_region,
        active_location: active,
        protection_state,
        test_failover_state,
        replication_health: health(p.replication_health.as_deref()),
        failover_health: health(p.failover_health.as_deref().or(Some("Normal"))),
        health_errors: p.health_errors.iter().map(health_error).collect(),
        allowed_operations: allowed,
        current_scenario: scenario(p.current_scenario.as_ref()),
        last_successful_failover_time: p.last_successful_failover_time,
        last_successful_test_failover_time: p.last_successful_test_failover_time,
        failover_recovery_point_id: p
            .failover_recovery_point_id
            .as_deref()
            .map(|id| last_segment(id).to_string()),
        recovery_points,
        rpo_seconds,
        reprotect_percent,
        test_vm,
        disk_size_gb: u32::try_from(disk_bytes.max(0) >> 30).unwrap_or(u32::MAX),
        role: String::new(),
    }
}
