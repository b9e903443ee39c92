//! A job: what it runs (its spec, with the trigger that started it), where it
//! stands (its status, what an unloaded job waits for) and how the store
//! keeps it. A job is pinned to the digest of its module; its journal of
//! host calls (`journal`) is what makes it resumable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::alert::Alert;
use crate::fabric::Direction;
use crate::plan::{FailoverType, RecoveryPlan};
use crate::scope::{Capabilities, Grant};
use crate::webhook::WebhookData;

/// What a job runs: its plan and inputs, like Azure's `RecoveryPlanContext`,
/// and what started it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "StoredSpec")]
pub struct JobSpec {
    pub job_id: String,
    pub plan: RecoveryPlan,
    pub failover_type: FailoverType,
    pub direction: Direction,
    /// `--param key=value` inputs.
    pub parameters: BTreeMap<String, String>,
    pub trigger: Trigger,
    /// What this job may do beyond its scope (`--grant`), besides what its
    /// plan's `[scope]` grants: see [`crate::scope`].
    #[serde(default, skip_serializing_if = "Grant::is_empty")]
    pub grant: Grant,
    /// Why the job's module was let in: its source, digest, signers and the
    /// trust policy's rule (issue 12's audit). `None` for jobs stored before
    /// admissions were recorded, and for jobs whose creator did not check
    /// (a webhook's deliveries): their module is checked when they load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission: Option<Admission>,
}

/// One run a webhook (or one of its rules) or a schedule starts: the module
/// it is pinned to (kept in the job store while its trigger exists) and
/// the job's plan and inputs, fixed when the trigger was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunTarget {
    /// The runbook's file name.
    pub runbook: String,
    /// `sha256:<hex>` of its module, stored in the job store.
    pub digest: String,
    pub plan: RecoveryPlan,
    pub failover_type: FailoverType,
    pub direction: Direction,
    /// Fixed parameters: a caller cannot replace them.
    pub parameters: BTreeMap<String, String>,
    /// What its jobs may do beyond their scope (`--grant` at creation),
    /// recorded in each job's spec; see [`crate::scope`].
    #[serde(default, skip_serializing_if = "Grant::is_empty")]
    pub grant: Grant,
    /// How its module was admitted when the trigger was created (the trust
    /// policy's rule and signers), recorded in each job's spec; `None` for
    /// webhooks created before admissions were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission: Option<Admission>,
}

impl RunTarget {
    /// The spec of a new job of this target, started by `trigger` with
    /// `parameters` (the target's, and whatever the trigger adds).
    pub fn spec(&self, trigger: Trigger, parameters: BTreeMap<String, String>) -> JobSpec {
        JobSpec {
            job_id: new_id(),
            plan: self.plan.clone(),
            failover_type: self.failover_type,
            direction: self.direction,
            parameters,
            trigger,
            // The same scope as any job: the plan's (its `[scope]`) and
            // type's, widened only by the trigger's own grant.
            grant: self.grant.clone(),
            admission: self.admission.clone(),
        }
    }

    /// The job of `spec` (made by [`spec`](Self::spec)), pinned to this
    /// target's module.
    pub fn job<'a>(&'a self, spec: &'a JobSpec) -> NewJob<'a> {
        NewJob {
            digest: &self.digest,
            runbook: &self.runbook,
            spec,
        }
    }
}

/// How a module was admitted into a job: what it is, where it came from,
/// who signed it and what let it in. Pinned to the job when it is created,
/// so that `jobs show` answers "what ran, and who vouched for it" after the
/// policy or the files have changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Admission {
    /// `sha256:<hex>` of the module, as checked.
    pub digest: String,
    /// Where it came from: a path, a registry reference.
    pub source: String,
    /// The keys whose signatures the policy counted, with their organisations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<Signer>,
    /// What let it in.
    pub admitted_by: AdmittedBy,
    /// What the module may do: its manifest and the policy's caps, which
    /// narrow the job's scope (see [`crate::scope`]). Default for jobs
    /// admitted before manifests existed: the job's scope alone.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// The admission this one replaced when the job was re-pinned to
    /// another module (`jobs resume --module`): the audit keeps what ran
    /// before, and who vouched for it, beside what runs now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<Box<Admission>>,
}

/// A key that signed a module, as the trust policy knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signer {
    /// The organisation the policy puts the key in.
    pub organisation: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

/// What let a module in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum AdmittedBy {
    /// No trust policy is configured (no `[trust]` in `drbook.toml`): the
    /// module was not checked, as before policies existed.
    NoPolicy,
    /// The policy's rule of this name, whose required signers signed it.
    #[serde(rename_all = "camelCase")]
    Rule { rule: String },
    /// `--allow-unsigned` (development): the policy refused the module for
    /// `refusal`, and the operator ran it anyway.
    #[serde(rename_all = "camelCase")]
    AllowUnsigned { refusal: String },
}

/// What started a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Trigger {
    /// An operator's command (`drbook run`), with who ran it.
    #[serde(rename_all = "camelCase")]
    CommandLine { user: String },
    /// A delivery to a webhook: the request as the runbook sees it, and the
    /// Azure Monitor alert it carried.
    #[serde(rename_all = "camelCase")]
    Webhook {
        request: WebhookData,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alert: Option<Alert>,
    },
    /// A schedule's tick (`drbook schedule`): which schedule, and the tick
    /// (the time the job was due, not when it was created).
    #[serde(rename_all = "camelCase")]
    Schedule { name: String, tick: DateTime<Utc> },
    /// `drbook jobs rerun`: a new job with the spec of job `job`, which
    /// `user` asked for; `of` is what started that job (a webhook's request
    /// stays the runbook's input).
    #[serde(rename_all = "camelCase")]
    Rerun {
        job: String,
        user: String,
        of: Box<Trigger>,
    },
}

impl Trigger {
    /// Who or what started the job, as listings show it: `cli:<user>`,
    /// `webhook:<name>`, `schedule:<name>`, `rerun:<job>`.
    pub fn label(&self) -> String {
        match self {
            Trigger::CommandLine { user } => format!("cli:{user}"),
            Trigger::Webhook { request, .. } => format!("webhook:{}", request.name),
            Trigger::Schedule { name, .. } => format!("schedule:{name}"),
            Trigger::Rerun { job, .. } => format!("rerun:{job}"),
        }
    }

    /// The person who started the job, if a person did: the user of a
    /// command or the principal (token or signed-in person) of a rerun. A
    /// webhook or a schedule is no person. What the four-eyes rule checks.
    pub fn started_by(&self) -> Option<&str> {
        match self {
            Trigger::CommandLine { user } | Trigger::Rerun { user, .. } => Some(user),
            Trigger::Webhook { .. } | Trigger::Schedule { .. } => None,
        }
    }

    /// The webhook request that started the job, if one did.
    pub fn webhook(&self) -> Option<&WebhookData> {
        match self {
            Trigger::Webhook { request, .. } => Some(request),
            Trigger::Rerun { of, .. } => of.webhook(),
            Trigger::CommandLine { .. } | Trigger::Schedule { .. } => None,
        }
    }

    /// The alert that started the job, if one did.
    pub fn alert(&self) -> Option<&Alert> {
        match self {
            Trigger::Webhook { alert, .. } => alert.as_ref(),
            Trigger::Rerun { of, .. } => of.alert(),
            Trigger::CommandLine { .. } | Trigger::Schedule { .. } => None,
        }
    }
}

/// A spec as stores hold it: specs written before `trigger` existed carry
/// the webhook request and alert beside the plan (or nothing, for a command).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredSpec {
    job_id: String,
    plan: RecoveryPlan,
    failover_type: FailoverType,
    direction: Direction,
    parameters: BTreeMap<String, String>,
    #[serde(default)]
    trigger: Option<Trigger>,
    #[serde(default)]
    webhook: Option<WebhookData>,
    #[serde(default)]
    alert: Option<Alert>,
    #[serde(default)]
    grant: Grant,
    #[serde(default)]
    admission: Option<Admission>,
}

impl From<StoredSpec> for JobSpec {
    fn from(s: StoredSpec) -> Self {
        let trigger = match (s.trigger, s.webhook) {
            (Some(trigger), _) => trigger,
            (None, Some(request)) => Trigger::Webhook {
                request,
                alert: s.alert,
            },
            (None, None) => Trigger::CommandLine {
                user: String::new(),
            },
        };
        JobSpec {
            job_id: s.job_id,
            plan: s.plan,
            failover_type: s.failover_type,
            direction: s.direction,
            parameters: s.parameters,
            trigger,
            grant: s.grant,
            admission: s.admission,
        }
    }
}

/// A job's status, with Azure Automation's names. `Running` and `Suspended`
/// jobs may be unloaded, waiting for their [`Wake`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobStatus {
    New,
    Running,
    /// Waiting for a person (a manual step).
    Suspended,
    Completed,
    Failed,
    Stopped,
}

impl JobStatus {
    pub const ALL: [JobStatus; 6] = [
        JobStatus::New,
        JobStatus::Running,
        JobStatus::Suspended,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Stopped,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Stopped
        )
    }
}

/// What an unloaded job waits for before it is loaded again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "camelCase")]
pub enum Wake {
    /// Every one of these operations is terminal.
    Operations { ids: Vec<String> },
    /// A person decided on the approval at this journal position.
    Decision { journal_seq: usize, prompt: String },
    /// This time has come.
    Time { at: DateTime<Utc> },
}

/// A person's decision on a manual step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub approved: bool,
    pub by: String,
    pub comment: String,
    pub at: DateTime<Utc>,
}

/// A job as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub id: String,
    /// `sha256:<hex>` of the module the job is pinned to.
    pub digest: String,
    /// The runbook's file name when the job was created.
    pub runbook: String,
    pub spec: JobSpec,
    /// Who or what started it ([`Trigger::label`]).
    pub trigger: String,
    #[serde(rename = "status")]
    pub state: JobStatus,
    /// Why it is suspended, waiting, stopped or failed.
    pub reason: Option<String>,
    /// What an unloaded job waits for.
    pub wake: Option<Wake>,
    pub stop_requested: Option<String>,
    /// The summary of a finished job.
    pub result: Option<serde_json::Value>,
    pub created: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// Its retries (`drbook jobs retry`), oldest first; none for a job
    /// that ran once (see [`crate::retry`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<crate::retry::Attempt>,
}

impl JobRecord {
    pub fn is_terminal(&self) -> bool {
        self.state.is_terminal()
    }
}

/// A job to create: its id and spec, and the module it is pinned to.
#[derive(Debug, Clone, Copy)]
pub struct NewJob<'a> {
    /// `sha256:<hex>` of the module.
    pub digest: &'a str,
    /// The runbook's file name.
    pub runbook: &'a str,
    pub spec: &'a JobSpec,
}

/// A fresh job id, `job-<UUIDv7>`: unique, and ordered by creation time as
/// text (within a process, strictly).
pub fn new_id() -> String {
    format!("job-{}", uuid::Uuid::now_v7())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_stored_before_triggers_reads_its_webhook_as_the_trigger() {
        let old = r#"{"jobId":"j","plan":{"name":"p","primary_region":"a","recovery_region":"b","groups":[]},
            "failoverType":"Planned","direction":"PrimaryToRecovery","parameters":{},
            "webhook":{"name":"w","body":"{}","headers":[]}}"#;
        let spec: JobSpec = serde_json::from_str(old).unwrap();
        assert_eq!(spec.trigger.label(), "webhook:w");
        assert!(spec.trigger.alert().is_none());
        let again: JobSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(again, spec);
    }

    #[test]
    fn an_admission_is_kept_with_the_spec_and_old_specs_have_none() {
        let old = r#"{"jobId":"j","plan":{"name":"p","primary_region":"a","recovery_region":"b","groups":[]},
            "failoverType":"Planned","direction":"PrimaryToRecovery","parameters":{},
            "trigger":{"kind":"commandLine","user":"ops"}}"#;
        let mut spec: JobSpec = serde_json::from_str(old).unwrap();
        assert_eq!(spec.admission, None);
        assert!(!serde_json::to_string(&spec).unwrap().contains("admission"));
        spec.admission = Some(Admission {
            digest: "sha256:00".into(),
            source: "runbooks/failover_plan.wasm".into(),
            signers: vec![Signer {
                organisation: "platform".into(),
                fingerprint: "SHA256:abc".into(),
            }],
            admitted_by: AdmittedBy::Rule {
                rule: "shared".into(),
            },
            capabilities: Capabilities::default(),
            replaces: None,
        });
        let text = serde_json::to_string(&spec).unwrap();
        assert!(
            text.contains(r#""admittedBy":{"kind":"rule","rule":"shared"}"#),
            "{text}"
        );
        let again: JobSpec = serde_json::from_str(&text).unwrap();
        assert_eq!(again, spec);
    }

    #[test]
    fn a_schedule_trigger_is_labelled_by_its_schedule_and_keeps_its_tick() {
        let tick = "2026-03-01T02:00:00Z".parse().unwrap();
        let trigger = Trigger::Schedule {
            name: "monthly-drill".into(),
            tick,
        };
        assert_eq!(trigger.label(), "schedule:monthly-drill");
        let text = serde_json::to_string(&trigger).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"schedule","name":"monthly-drill","tick":"2026-03-01T02:00:00Z"}"#
        );
        assert_eq!(serde_json::from_str::<Trigger>(&text).unwrap(), trigger);
        assert!(trigger.webhook().is_none() && trigger.alert().is_none());
    }

    #[test]
    fn job_ids_are_unique_and_sort_by_creation() {
        let ids: Vec<String> = (0..1000).map(|_| new_id()).collect();
        assert!(
            ids[0].starts_with("job-") && ids[0].len() == 40,
            "{}",
            ids[0]
        );
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    }
}
