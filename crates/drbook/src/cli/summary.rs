//! The end of a run: one row per VM of the plan (group, result, recovery
//! point / RPO, duration) and the run's RTO, as a table or one JSON document.
//! A VM's row is its last start, as the job's journal keeps it: the
//! operation it started, or the refusal it met (`drbook_report::runs`,
//! which the evidence report reads the journal with too). A dry run's says
//! so, with its durations and RTO in the simulator's time.

use serde::Serialize;
use std::fmt::Write as _;

use drbook_core::job::JobStatus;
use drbook_core::journal::{Call, Entry, Record};
use drbook_core::plan::RecoveryPlan;
use drbook_report::runs::{Operation, Refusal, Run, VmRow};
use drbook_runtime::{Failure, JobOutcome};

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
    /// Every start refused (by the fabric, or outside the job's scope), in
    /// the order the job made them.
    pub refusals: Vec<Refusal>,
    /// The prompts of the manual steps the job reached, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub manual_steps: Vec<&'a str>,
    /// Every operation the job started, in order.
    pub operations: Vec<Operation>,
    pub streams: &'a [Record],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<&'a DryRun>,
}

/// What a dry run ran on ([`super::dry_run`]): an in-memory copy of
/// `estate`, at `speed`. The summary's durations and RTO are the
/// simulator's estimates, in simulated time (its `operations` keep the
/// copy's own times).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    /// The backend the estate was read from.
    pub estate: String,
    pub speed: f64,
    /// Items whose allowed operations the copy could not reproduce.
    pub mismatches: Vec<String>,
}

impl<'a> Summary<'a> {
    /// The summary of `outcome`, whose job journaled `journal`; `dry_run`
    /// when it ran on a copy of the estate, whose durations are then scaled
    /// to the simulator's time.
    pub fn new(
        plan: &'a RecoveryPlan,
        outcome: &'a JobOutcome,
        journal: &'a [Entry],
        dry_run: Option<&'a DryRun>,
    ) -> Self {
        let scale = dry_run.map_or(1.0, |d| d.speed);
        let run = Run::read(journal);
        let mut vms = run.rows(plan);
        for row in &mut vms {
            row.duration_seconds = row.duration_seconds.map(|seconds| seconds * scale);
        }
        Summary {
            job_id: &outcome.job_id,
            runbook_digest: &outcome.runbook_digest,
            plan: &plan.name,
            status: outcome.status,
            output: outcome.output.as_deref(),
            failure: outcome.failure.as_ref(),
            duration_seconds: outcome.duration_seconds,
            rto_seconds: run
                .rto_seconds(plan, outcome.started)
                .map(|seconds| seconds * scale),
            vms,
            refusals: run.refusals,
            operations: run.operations,
            manual_steps: journal
                .iter()
                .filter_map(|entry| match &entry.call {
                    Call::Approval { prompt } => Some(prompt.as_str()),
                    _ => None,
                })
                .collect(),
            streams: &outcome.streams,
            dry_run,
        }
    }

    /// The table an operator reads at the end of a run.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(dry) = self.dry_run {
            let _ = writeln!(
                out,
                "DRY RUN on an in-memory copy of {}: nothing was started there. Durations and RTO are the \
                 simulator's estimates; refusals are those the estate would answer now.\n",
                dry.estate
            );
        }
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
            "{} {} ({}) {:?} in {:.1}s",
            if self.dry_run.is_some() {
                "dry-run job"
            } else {
                "job"
            },
            self.job_id,
            self.plan,
            self.status,
            self.duration_seconds
        );
        if let Some(rto) = self.rto_seconds {
            let estimated = if self.dry_run.is_some() {
                " estimated"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "RTO{estimated}: {rto:.1}s (job start to the last VM up)"
            );
        }
        for refusal in &self.refusals {
            let _ = writeln!(
                out,
                "refused: {} of {}: {}",
                refusal.operation, refusal.vm, refusal.error
            );
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
        if let Some(dry) = self.dry_run {
            for prompt in &self.manual_steps {
                let _ = writeln!(
                    out,
                    "manual step `{prompt}`: approved by the dry run; a real run waits there for a person"
                );
            }
            for mismatch in &dry.mismatches {
                let _ = writeln!(out, "warning: {mismatch}");
            }
            let _ = writeln!(
                out,
                "this was a dry run: the job is in no job store, and nothing can resume it"
            );
        }
        out
    }
}
