//! (feature `testing`) A job of any size, journaled as the host journals a
//! runbook's calls, for the report's tests and benchmarks: `vms` VMs in
//! `groups` groups failed over (unplanned, `Latest`) group after group, each
//! VM's failover taking `FAILOVER` seconds from the end of the group before,
//! each restoring from a crash-consistent point `POINT_AGE` seconds older than
//! its start; the item read after each start lists that point.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use drbook_core::fabric::{
    Direction, FabricError, Health, Location, OperationRequest, OperationState, OperationStatus,
    ProtectedItem, ProtectionState, RecoveryPoint, RecoveryPointChoice, RecoveryPointType,
    SourceSiteOperations, TestFailoverState,
};
use drbook_core::job::{JobRecord, JobSpec, JobStatus};
use drbook_core::journal::{Call, Entry};
use drbook_core::plan::RecoveryPlan;

/// How long each VM's failover takes, in seconds.
pub const FAILOVER: i64 = 180;
/// How old each VM's recovery point is when its failover starts, in seconds.
pub const POINT_AGE: i64 = 120;

/// A finished job of `vms` VMs in `groups` groups, with `plan_extra`
/// (objectives, say) added to its plan's TOML; its record and journal.
pub fn job(vms: usize, groups: usize, plan_extra: &str) -> (JobRecord, Vec<Entry>) {
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
    let per_group = vms.div_ceil(groups);
    let mut text = format!(
        "name = \"synthetic\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n{plan_extra}\n"
    );
    let mut journal = Vec::new();
    for g in 0..groups {
        let names: Vec<String> = (g * per_group..((g + 1) * per_group).min(vms))
            .map(|v| format!("vm-{v:04}"))
            .collect();
        text.push_str(&format!(
            "[[groups]]\nname = \"g{g}\"\nvms = [{}]\n",
            names
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let began = start + Duration::seconds(FAILOVER * g as i64);
        let mut ids = Vec::new();
        for name in &names {
            let id = format!("op-{name}");
            let point = RecoveryPoint {
                id: format!("rp-{name}"),
                recovery_point_time: began - Duration::seconds(POINT_AGE),
                recovery_point_type: RecoveryPointType::CrashConsistent,
            };
            let request = OperationRequest::UnplannedFailover {
                direction: Direction::PrimaryToRecovery,
                recovery_point: RecoveryPointChoice::Latest,
                source_site_operations: SourceSiteOperations::NotRequired,
            };
            journal.push(entry(
                Call::Start {
                    vm: name.clone(),
                    request,
                },
                json!({ "Ok": id }),
                began,
            ));
            let item: Result<ProtectedItem, FabricError> = Ok(item(name, point));
            journal.push(entry(
                Call::GetItem { vm: name.clone() },
                serde_json::to_value(item).unwrap(),
                began,
            ));
            ids.push(id);
        }
        let ended = began + Duration::seconds(FAILOVER);
        let statuses: Vec<Result<OperationStatus, FabricError>> = names
            .iter()
            .zip(&ids)
            .map(|(name, id)| {
                Ok(OperationStatus {
                    id: id.clone(),
                    vm: name.clone(),
                    request: OperationRequest::UnplannedFailover {
                        direction: Direction::PrimaryToRecovery,
                        recovery_point: RecoveryPointChoice::Latest,
                        source_site_operations: SourceSiteOperations::NotRequired,
                    },
                    state: OperationState::Succeeded,
                    percent_complete: 100,
                    start_time: began,
                    end_time: Some(ended),
                    error: None,
                    recovery_point_id: Some(format!("rp-{name}")),
                })
            })
            .collect();
        journal.push(entry(
            Call::Wait { ids },
            serde_json::to_value(statuses).unwrap(),
            ended,
        ));
    }
    let plan = RecoveryPlan::parse(&text, "synthetic.toml").expect("a valid synthetic plan");
    let spec: JobSpec = serde_json::from_value(json!({
        "jobId": "job-synthetic",
        "plan": plan,
        "failoverType": "Unplanned",
        "direction": "PrimaryToRecovery",
        "parameters": {},
        "trigger": { "kind": "commandLine", "user": "auditor" },
    }))
    .expect("a valid job spec");
    let record = JobRecord {
        id: "job-synthetic".to_string(),
        digest: "sha256:0000".to_string(),
        runbook: "failover_plan.wasm".to_string(),
        trigger: spec.trigger.label(),
        spec,
        state: JobStatus::Completed,
        reason: None,
        wake: None,
        stop_requested: None,
        result: Some(json!({ "output": "done" })),
        created: start,
        started: Some(start),
        ended: Some(start + Duration::seconds(FAILOVER * groups as i64)),
        lease_owner: None,
        lease_until: None,
        attempts: Vec::new(),
    };
    (record, journal)
}

fn entry(call: Call, reply: serde_json::Value, at: DateTime<Utc>) -> Entry {
    Entry {
        call,
        reply: Some(reply),
        at: at.timestamp_millis(),
    }
}

fn item(name: &str, point: RecoveryPoint) -> ProtectedItem {
    ProtectedItem {
        name: name.to_string(),
        id: format!("/items/{name}"),
        primary_region: "eastus".to_string(),
        recovery_region: "westus".to_string(),
        active_location: Location::Primary,
        protection_state: ProtectionState::FailoverInProgress,
        test_failover_state: TestFailoverState::None,
        replication_health: Health::Normal,
        failover_health: Health::Normal,
        health_errors: Vec::new(),
        allowed_operations: Vec::new(),
        current_scenario: None,
        last_successful_failover_time: None,
        last_successful_test_failover_time: None,
        failover_recovery_point_id: None,
        recovery_points: vec![point],
        rpo_seconds: Some(POINT_AGE as u64),
        reprotect_percent: None,
        test_vm: None,
        disk_size_gb: 128,
        role: "app".to_string(),
    }
}
