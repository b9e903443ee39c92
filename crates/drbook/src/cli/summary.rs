//! The end of a run: one row per VM of the plan (group, result, recovery
//! point / RPO, duration) and the run's RTO, as a table or one JSON document.

use serde::Serialize;
use std::fmt::Write as _;

use drbook_core::job::JobStatus;
use drbook_core::journal::Record;
use drbook_core::plan::RecoveryPlan;
use drbook_runtime::{Failure, JobOutcome, OperationRecord};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary<'a> {
    pub job_id: &'a str,
    pub runbook_digest: &'a str,
    pub plan: &'a str,
    pub status: JobStatus,
    pub output: Option<&'a str>,
    pub failure: Option<&'a Failure>,
    pub duration_seconds: f64,
    pub rto_seconds: Option<f64>,
    pub vms: Vec<VmRow>,
    pub operations: &'a [OperationRecord],
    pub streams: &'a [Record],
}

/// The last thing the job did to one VM.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VmRow {
    pub vm: String,
    pub group: String,
    pub operation: Option<String>,
    /// `Succeeded`, `Failed`, `Canceled`, `InProgress` or `NotStarted`.
    pub result: String,
    pub recovery_point_id: Option<String>,
    pub rpo_seconds: Option<u64>,
    pub duration_seconds: Option<f64>,
    pub error: Option<String>,
}

impl<'a> Summary<'a> {
    pub fn new(plan: &'a RecoveryPlan, outcome: &'a JobOutcome) -> Self {
        let vms = plan
            .groups
            .iter()
            .flat_map(|g| g.vms.iter().map(move |vm| (g, vm)))
            .map(|(group, vm)| {
                let last = outcome
                    .operations
                    .iter()
                    .rev()
                    .find(|r| r.vm.eq_ignore_ascii_case(vm));
                VmRow {
                    vm: vm.clone(),
                    group: group.name.clone(),
                    operation: last.map(|r| r.kind.cli_name().to_string()),
                    result: match last {
                        None => "NotStarted".to_string(),
                        Some(r) => r
                            .state
                            .map(|s| format!("{s:?}"))
                            .unwrap_or_else(|| "InProgress".to_string()),
                    },
                    recovery_point_id: last.and_then(|r| r.recovery_point_id.clone()),
                    rpo_seconds: last.and_then(|r| r.rpo_seconds),
                    duration_seconds: last.and_then(OperationRecord::duration_seconds),
                    error: last.and_then(|r| r.error.clone()),
                }
            })
            .collect();
        Summary {
            job_id: &outcome.job_id,
            runbook_digest: &outcome.runbook_digest,
            plan: &plan.name,
            status: outcome.status,
            output: outcome.output.as_deref(),
            failure: outcome.failure.as_ref(),
            duration_seconds: outcome.duration_seconds,
            rto_seconds: outcome.rto_seconds,
            vms,
            operations: &outcome.operations,
            streams: &outcome.streams,
        }
    }

    /// The table an operator reads at the end of a run.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let headers = [
            "VM",
            "GROUP",
            "OPERATION",
            "RESULT",
            "RECOVERY POINT / RPO",
            "DURATION",
        ];
        let rows: Vec<[String; 6]> = self
            .vms
            .iter()
            .map(|r| {
                let point = match (&r.recovery_point_id, r.rpo_seconds) {
                    (Some(id), Some(rpo)) => format!("{id} / {rpo}s"),
                    (Some(id), None) => id.clone(),
                    (None, Some(rpo)) => format!("RPO {rpo}s"),
                    (None, None) => "-".to_string(),
                };
                [
                    r.vm.clone(),
                    r.group.clone(),
                    r.operation.clone().unwrap_or_else(|| "-".to_string()),
                    r.result.clone(),
                    point,
                    r.duration_seconds
                        .map(|d| format!("{d:.1}s"))
                        .unwrap_or_else(|| "-".to_string()),
                ]
            })
            .collect();
        let mut widths = headers.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            padded.join("  ").trim_end().to_string()
        };
        let _ = writeln!(out, "{}", line(&headers.map(String::from)));
        for row in &rows {
            let _ = writeln!(out, "{}", line(row));
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "job {} ({}) {:?} in {:.1}s",
            self.job_id, self.plan, self.status, self.duration_seconds
        );
        if let Some(rto) = self.rto_seconds {
            let _ = writeln!(out, "RTO: {rto:.1}s (job start to the last VM up)");
        }
        if let Some(output) = self.output {
            let _ = writeln!(out, "output: {output}");
        }
        if let Some(failure) = self.failure {
            let _ = writeln!(out, "failed: {}", failure.reason);
            if !failure.completed.is_empty() {
                let _ = writeln!(
                    out,
                    "completed before the failure: {}",
                    failure.completed.join(", ")
                );
            }
            if let Some(backtrace) = &failure.backtrace {
                let _ = writeln!(out, "runbook backtrace:\n{backtrace}");
            }
        }
        out
    }
}
