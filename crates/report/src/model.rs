//! The evidence of one job, as an auditor reads it: built once from what
//! the job store and the fabric keep (the job's record, journal, streams and
//! decisions; the fabric's audit trail filtered to the job), then rendered
//! in any format. The JSON format is this model as it is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use drbook_core::fabric::{OperationKind, RecoveryPointType};
use drbook_core::job::{AdmittedBy, Approval, JobRecord, JobStatus, Signer};
use drbook_core::journal::{Call, Entry, Record};
use drbook_core::outside::azure::{AzureError, ResourceResponse};
use drbook_core::outside::{HttpError, Method, Response};
use drbook_core::plan::{Objective, Objectives};

use crate::runs::{seconds, Refusal, Run, VmRow};

/// What a report is made from; the caller reads each from its store.
pub struct Inputs<'a> {
    pub job: &'a JobRecord,
    pub journal: &'a [Entry],
    pub streams: &'a [Record],
    /// The decision on each manual step, by the journal index of its
    /// approval call (`JobStore::decision`); missing: undecided.
    pub decisions: &'a [(usize, Approval)],
    /// The fabric's audit trail of this job's operations (every entry whose
    /// initiator is one of the job's journal entries), or `None` when the
    /// backend keeps it elsewhere (Azure's activity log).
    pub audit: Option<Vec<AuditEntry>>,
    pub generated: DateTime<Utc>,
}

/// One line of the fabric's audit trail, as the simulator's history keeps
/// it (`drbook fabric history --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub vm: String,
    pub operation: OperationKind,
    pub initiator: String,
    /// `Succeeded`, `Failed`, `Canceled`, `InProgress` or `Refused`.
    pub outcome: String,
    #[serde(default)]
    pub error: Option<String>,
}

impl AuditEntry {
    /// Whether `job` asked for this entry: drbook's initiators name the job
    /// and the journal entry (`job <id> call <n>`).
    pub fn of_job(&self, job: &str) -> bool {
        self.initiator
            .strip_prefix("job ")
            .and_then(|rest| rest.strip_prefix(job))
            .is_some_and(|rest| rest.starts_with(" call "))
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `drbook-report/1`: what readers of the JSON can rely on.
    pub schema: &'static str,
    pub generated: DateTime<Utc>,
    pub summary: Verdict,
    pub job: JobInfo,
    pub plan: PlanInfo,
    pub module: ModuleInfo,
    pub vms: Vec<VmResult>,
    /// One bar per operation the job started, in the order it started them.
    pub timeline: Vec<Bar>,
    pub checks: Vec<Check>,
    pub approvals: Vec<ApprovalRecord>,
    pub refusals: Vec<Refusal>,
    /// `None`: the backend keeps its audit trail elsewhere.
    pub audit: Option<Vec<AuditEntry>>,
    /// Every HTTP exchange the runbook asked for, in order: sent, refused or
    /// (dry run) recorded only.
    pub outside_calls: Vec<OutsideCall>,
    /// The runbook's streams (output, warnings, errors, verbose, progress).
    pub log: Vec<Record>,
    /// The job's retries: who, when, why the attempt before failed
    /// (`drbook jobs retry`).
    pub attempts: Vec<AttemptInfo>,
    /// The operations of the job's earlier attempts, whose starts their
    /// retries' cuts dropped (the audit check's).
    #[serde(skip)]
    earlier: Vec<String>,
}

/// A retry of the job, as the report shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptInfo {
    pub attempt: u32,
    pub by: String,
    pub at: DateTime<Utc>,
    pub previous_failed: Option<String>,
}

/// The ten-second answer: did the recovery work within its objectives?
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub passed: bool,
    pub headline: String,
    pub vms: usize,
    pub succeeded: usize,
    /// The run's RTO: from the job's start until its last VM was up.
    pub rto_seconds: Option<f64>,
    pub worst_rpo_seconds: Option<u64>,
    /// Each objective missed, in words (`web-01: RTO 45.0s over 30s`).
    pub missed: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    pub id: String,
    pub status: JobStatus,
    pub reason: Option<String>,
    pub failover_type: drbook_core::plan::FailoverType,
    pub direction: drbook_core::fabric::Direction,
    /// Who or what started it: `cli:<user>`, `webhook:<name>`.
    pub trigger: String,
    /// The alert that started it, if one did: its rule and when it fired.
    pub alert: Option<String>,
    pub parameters: std::collections::BTreeMap<String, String>,
    pub created: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub output: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanInfo {
    pub name: String,
    pub primary_region: String,
    pub recovery_region: String,
    pub groups: Vec<String>,
    pub rto: Option<Objective>,
    pub rpo: Option<Objective>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleInfo {
    pub runbook: String,
    pub digest: String,
    pub source: Option<String>,
    pub signers: Vec<Signer>,
    /// What let it in: `no trust policy`, `rule <name>`, `--allow-unsigned`.
    pub admitted_by: Option<String>,
}

/// One VM: what the job did to it, against its objectives.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VmResult {
    #[serde(flatten)]
    pub row: VmRow,
    pub recovery_point_time: Option<DateTime<Utc>>,
    pub recovery_point_type: Option<RecoveryPointType>,
    /// From the job's start until this VM was up (a failover that succeeded).
    pub rto_seconds: Option<f64>,
    pub objectives: Objectives,
    pub rpo_missed: bool,
    pub rto_missed: bool,
}

/// One operation on the timeline, in seconds from the job's start.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bar {
    pub vm: String,
    pub group: String,
    pub operation: OperationKind,
    pub start_seconds: f64,
    /// `None`: the job never saw it end.
    pub end_seconds: Option<f64>,
    /// `Succeeded`, `Failed`, `Canceled` or `InProgress`.
    pub state: String,
}

/// A check the report makes on the evidence, and its result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// One outside call of the runbook (an HTTP exchange, an Azure call), from
/// its journal entry.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutsideCall {
    pub at: Option<DateTime<Utc>>,
    pub method: Method,
    /// An HTTP URL without its query, which may hold a token; an Azure
    /// call's resource id.
    pub url: String,
    pub request_bytes: usize,
    /// The response's status, when one came.
    pub status: Option<u16>,
    pub response_bytes: Option<usize>,
    /// Why none came (`not-granted`, `timeout`, `not-sent`, ...), with its
    /// message; or that the host stopped while a write was out.
    pub error: Option<String>,
}

impl OutsideCall {
    /// The call of `entry`, if it is an HTTP exchange or an Azure call.
    fn of(entry: &Entry) -> Option<OutsideCall> {
        let (method, url, request_bytes, answer) = match &entry.call {
            Call::Http { request } => (
                request.method,
                request
                    .url
                    .split(['?', '#'])
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                request.body_bytes,
                answer::<Response, HttpError>(entry, |r| (r.status, r.body.len()), HttpError::kind),
            ),
            Call::Azure { request } => (
                request.method,
                request.resource_id.clone(),
                request.body.as_ref().map_or(0, |b| b.to_string().len()),
                answer::<ResourceResponse, AzureError>(
                    entry,
                    |r| (r.status, r.body.len()),
                    AzureError::kind,
                ),
            ),
            _ => return None,
        };
        let (status, response_bytes, error) = answer;
        Some(OutsideCall {
            at: DateTime::from_timestamp_millis(entry.at),
            method,
            url,
            request_bytes,
            status,
            response_bytes,
            error,
        })
    }
}

/// What `entry`'s reply (`Result<R, E>` as journaled) says: the status and
/// length of an answer, else the error's kind and message, else that the
/// host stopped while the write was out.
fn answer<R, E>(
    entry: &Entry,
    shape: impl Fn(&R) -> (u16, usize),
    kind: impl Fn(&E) -> &'static str,
) -> (Option<u16>, Option<usize>, Option<String>)
where
    R: serde::de::DeserializeOwned,
    E: serde::de::DeserializeOwned + std::fmt::Display,
{
    let reply = entry
        .reply
        .clone()
        .map(serde_json::from_value::<Result<R, E>>);
    match reply {
        Some(Ok(Ok(response))) => {
            let (status, bytes) = shape(&response);
            (Some(status), Some(bytes), None)
        }
        Some(Ok(Err(e))) => (None, None, Some(format!("{}: {e}", kind(&e)))),
        Some(Err(e)) => (None, None, Some(format!("unreadable reply: {e}"))),
        None => (
            None,
            None,
            Some("sent; the host stopped before its answer".into()),
        ),
    }
}

/// A manual step the job reached, and what a person decided.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRecord {
    pub prompt: String,
    pub decision: Option<Approval>,
}

impl Report {
    pub fn build(inputs: Inputs<'_>) -> Report {
        let job = inputs.job;
        let spec = &job.spec;
        let plan = &spec.plan;
        let run = Run::read(inputs.journal);
        let start = job.started.unwrap_or(job.created);
        let vms: Vec<VmResult> = run
            .rows(plan)
            .into_iter()
            .map(|row| {
                let op = run.last_operation(&row.vm);
                let point = op.and_then(|op| op.recovery_point.as_ref());
                let rto_seconds = run.rto_of(&row.vm, start);
                let objectives = plan.objectives_of(&row.vm);
                VmResult {
                    recovery_point_time: point.map(|p| p.recovery_point_time),
                    recovery_point_type: point.map(|p| p.recovery_point_type),
                    rpo_missed: missed(objectives.rpo, row.rpo_seconds.map(|s| s as f64)),
                    rto_missed: missed(objectives.rto, rto_seconds),
                    rto_seconds,
                    objectives,
                    row,
                }
            })
            .collect();
        let timeline = run
            .operations
            .iter()
            .map(|op| Bar {
                vm: op.vm.clone(),
                group: plan
                    .group_of(&op.vm)
                    .map(|g| g.name.clone())
                    .unwrap_or_else(|| "(outside the plan)".to_string()),
                operation: op.kind,
                start_seconds: seconds(op.started - start),
                end_seconds: op.ended.map(|end| seconds(end - start)),
                state: op
                    .state
                    .map(|s| format!("{s:?}"))
                    .unwrap_or_else(|| "InProgress".to_string()),
            })
            .collect();
        let approvals: Vec<ApprovalRecord> = inputs
            .journal
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| match &entry.call {
                Call::Approval { prompt } => Some(ApprovalRecord {
                    prompt: prompt.clone(),
                    decision: inputs
                        .decisions
                        .iter()
                        .find(|(at, _)| *at == index)
                        .map(|(_, d)| d.clone()),
                }),
                _ => None,
            })
            .collect();
        let admission = spec.admission.as_ref();
        let module = ModuleInfo {
            runbook: job.runbook.clone(),
            digest: job.digest.clone(),
            source: admission.map(|a| a.source.clone()),
            signers: admission.map(|a| a.signers.clone()).unwrap_or_default(),
            admitted_by: admission.map(|a| match &a.admitted_by {
                AdmittedBy::NoPolicy => "no trust policy configured".to_string(),
                AdmittedBy::Rule { rule } => format!("trust policy rule `{rule}`"),
                AdmittedBy::AllowUnsigned { refusal } => {
                    format!("--allow-unsigned, the policy having refused it: {refusal}")
                }
            }),
        };
        let audit = inputs.audit.map(|entries| {
            entries
                .into_iter()
                .filter(|e| e.of_job(&job.id))
                .collect::<Vec<_>>()
        });
        let mut report = Report {
            schema: "drbook-report/1",
            generated: inputs.generated,
            summary: Verdict {
                passed: false,
                headline: String::new(),
                vms: 0,
                succeeded: 0,
                rto_seconds: None,
                worst_rpo_seconds: None,
                missed: Vec::new(),
            },
            job: JobInfo {
                id: job.id.clone(),
                status: job.state,
                reason: job.reason.clone(),
                failover_type: spec.failover_type,
                direction: spec.direction,
                trigger: spec.trigger.label(),
                alert: spec.trigger.alert().map(|a| {
                    format!(
                        "{} ({:?}, {:?}) fired {}",
                        a.alert_rule, a.severity, a.monitor_condition, a.fired
                    )
                }),
                parameters: spec.parameters.clone(),
                created: job.created,
                started: job.started,
                ended: job.ended,
                output: job
                    .result
                    .as_ref()
                    .and_then(|r| r.get("output"))
                    .and_then(|o| o.as_str())
                    .map(str::to_string),
            },
            plan: PlanInfo {
                name: plan.name.clone(),
                primary_region: plan.primary_region.clone(),
                recovery_region: plan.recovery_region.clone(),
                groups: plan.groups.iter().map(|g| g.name.clone()).collect(),
                rto: plan.rto,
                rpo: plan.rpo,
            },
            module,
            vms,
            timeline,
            checks: Vec::new(),
            approvals,
            refusals: run.refusals.clone(),
            audit,
            outside_calls: inputs.journal.iter().filter_map(OutsideCall::of).collect(),
            log: inputs.streams.to_vec(),
            attempts: job
                .attempts
                .iter()
                .map(|a| AttemptInfo {
                    attempt: a.attempt,
                    by: a.by.clone(),
                    at: a.at,
                    previous_failed: a.previous_reason.clone(),
                })
                .collect(),
            earlier: job
                .attempts
                .iter()
                .flat_map(|a| Run::read(&a.dropped).operations)
                .map(|op| op.id)
                .collect(),
        };
        report.checks = report.checks_of(&run);
        report.summary = report.verdict();
        report
    }

    fn verdict(&self) -> Verdict {
        let succeeded = self
            .vms
            .iter()
            .filter(|v| v.row.result == "Succeeded")
            .count();
        let rto_seconds = self
            .vms
            .iter()
            .filter_map(|v| v.rto_seconds)
            .reduce(f64::max);
        let worst_rpo_seconds = self.vms.iter().filter_map(|v| v.row.rpo_seconds).max();
        let mut missed = Vec::new();
        for vm in &self.vms {
            if let (true, Some(objective), Some(rpo)) =
                (vm.rpo_missed, vm.objectives.rpo, vm.row.rpo_seconds)
            {
                missed.push(format!(
                    "{}: RPO {} over its objective of {objective}",
                    vm.row.vm,
                    span(rpo as f64)
                ));
            }
            if let (true, Some(objective), Some(rto)) =
                (vm.rto_missed, vm.objectives.rto, vm.rto_seconds)
            {
                missed.push(format!(
                    "{}: RTO {} over its objective of {objective}",
                    vm.row.vm,
                    span(rto)
                ));
            }
        }
        let failed_checks: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        let passed = failed_checks.is_empty();
        let kind = match self.job.failover_type {
            drbook_core::plan::FailoverType::Test => "test failover",
            drbook_core::plan::FailoverType::Planned => "planned failover",
            drbook_core::plan::FailoverType::Unplanned => "unplanned failover",
        };
        let mut headline = format!(
            "{}: {kind} of plan `{}` recovered {succeeded} of {} VMs",
            if passed { "PASSED" } else { "FAILED" },
            self.plan.name,
            self.vms.len()
        );
        if let Some(rto) = rto_seconds {
            headline.push_str(&format!(", RTO {}", span(rto)));
            if let Some(objective) = self.plan.rto {
                headline.push_str(&format!(" (objective {objective})"));
            }
        }
        if let Some(rpo) = worst_rpo_seconds {
            headline.push_str(&format!(", worst RPO {}", span(rpo as f64)));
            if let Some(objective) = self.plan.rpo {
                headline.push_str(&format!(" (objective {objective})"));
            }
        }
        headline.push('.');
        if !missed.is_empty() {
            headline.push_str(&format!(" {} objective(s) missed.", missed.len()));
        }
        if !failed_checks.is_empty() {
            headline.push_str(&format!(" Failed checks: {}.", failed_checks.join("; ")));
        }
        Verdict {
            passed,
            headline,
            vms: self.vms.len(),
            succeeded,
            rto_seconds,
            worst_rpo_seconds,
            missed,
        }
    }

    /// What the report checks on the evidence: each a question an auditor
    /// asks, answered from the journal and the fabric's own record.
    fn checks_of(&self, run: &Run) -> Vec<Check> {
        let check = |name: &str, passed: bool, detail: String| Check {
            name: name.to_string(),
            passed,
            detail,
        };
        let mut checks = vec![check(
            "the job completed",
            self.job.status == JobStatus::Completed,
            match &self.job.reason {
                Some(reason) => format!("{:?}: {reason}", self.job.status),
                None => format!("{:?}", self.job.status),
            },
        )];
        let down: Vec<&str> = self
            .vms
            .iter()
            .filter(|v| v.row.result != "Succeeded")
            .map(|v| v.row.vm.as_str())
            .collect();
        checks.push(check(
            "every VM of the plan was recovered",
            down.is_empty(),
            if down.is_empty() {
                format!("{} of {}", self.vms.len(), self.vms.len())
            } else {
                format!("not recovered: {}", down.join(", "))
            },
        ));
        for (what, objective_set, missed) in [
            (
                "RTO",
                self.vms.iter().any(|v| v.objectives.rto.is_some()),
                self.vms.iter().filter(|v| v.rto_missed).count(),
            ),
            (
                "RPO",
                self.vms.iter().any(|v| v.objectives.rpo.is_some()),
                self.vms.iter().filter(|v| v.rpo_missed).count(),
            ),
        ] {
            checks.push(check(
                &format!("every VM within its {what} objective"),
                missed == 0,
                match (objective_set, missed) {
                    (false, _) => format!("the plan sets no {what} objective"),
                    (true, 0) => "all within".to_string(),
                    (true, n) => format!("{n} VM(s) missed it"),
                },
            ));
        }
        checks.push(check(
            "no start was refused",
            run.refusals.is_empty(),
            format!("{} refused", run.refusals.len()),
        ));
        let undecided = self
            .approvals
            .iter()
            .filter(|a| a.decision.is_none())
            .count();
        let rejected = self
            .approvals
            .iter()
            .filter(|a| a.decision.as_ref().is_some_and(|d| !d.approved))
            .count();
        checks.push(check(
            "every manual step was approved",
            undecided == 0 && rejected == 0,
            format!(
                "{} step(s): {rejected} rejected, {undecided} undecided",
                self.approvals.len()
            ),
        ));
        if let Some(audit) = &self.audit {
            checks.push(audit_check(run, &self.earlier, audit));
        }
        checks
    }
}

/// Exactly once, as the fabric saw it: every operation the journal says the
/// job started is in the fabric's audit trail under the job's name, once,
/// and the fabric holds no other operation the job asked for but those of
/// its `earlier` attempts (a retried job's operations whose starts a cut
/// dropped: one that failed, and the attempt after it started another).
fn audit_check(run: &Run, earlier: &[String], audit: &[AuditEntry]) -> Check {
    let started: Vec<&AuditEntry> = audit.iter().filter(|e| e.outcome != "Refused").collect();
    let missing: Vec<&str> = run
        .operations
        .iter()
        .filter(|op| !started.iter().any(|e| e.id == op.id))
        .map(|op| op.id.as_str())
        .collect();
    let extra: Vec<String> = started
        .iter()
        .filter(|e| !run.operations.iter().any(|op| op.id == e.id) && !earlier.contains(&e.id))
        .map(|e| format!("{} of {} ({})", e.operation.cli_name(), e.vm, e.id))
        .collect();
    let passed = missing.is_empty() && extra.is_empty();
    Check {
        name: "the fabric's audit trail matches the journal, one operation per start".to_string(),
        passed,
        detail: if passed {
            let mut detail = format!("{} operation(s) in both, each once", run.operations.len());
            let retried = earlier
                .iter()
                .filter(|id| !run.operations.iter().any(|op| op.id == **id))
                .count();
            if retried > 0 {
                detail.push_str(&format!(", and {retried} of earlier attempts"));
            }
            detail
        } else {
            format!(
                "in the journal only: [{}]; in the audit trail only: [{}]",
                missing.join(", "),
                extra.join(", ")
            )
        },
    }
}

fn missed(objective: Option<Objective>, achieved: Option<f64>) -> bool {
    matches!((objective, achieved), (Some(o), Some(a)) if o.missed_by(a))
}

/// A span as people read it: `12.3s`, `4m 12s`, `1h 02m`.
pub fn span(seconds: f64) -> String {
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let whole = seconds.round() as u64;
    if whole < 3600 {
        format!("{}m {:02}s", whole / 60, whole % 60)
    } else {
        format!("{}h {:02}m", whole / 3600, (whole % 3600) / 60)
    }
}
