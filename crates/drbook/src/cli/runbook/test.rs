//! `drbook runbook test COMPONENT --scenario FILE`: one job of a runbook on
//! a scenario, what drbook-test drives from a runbook's `cargo test`.
//!
//! The scenario (JSON) is an estate and its plan, the job's inputs, faults
//! and the answers to the approvals the runbook asks for. It runs as `run`
//! runs a job, with its ports swapped as a dry run swaps them: a simulator
//! made from the scenario's estate at instant speed, and a job store, both
//! in a temporary directory removed at the end, so nothing else can reach
//! the job. Only the compiled component is kept, in the data dir's cache. The module is admitted as a job's is (no trust policy: a test
//! runs what it built), its capability manifest and the job's scope
//! enforced. A manual step is decided by the scenario's first answer whose
//! `prompt` its prompt contains; one without an answer is rejected, saying
//! so, which fails the job the way a person's rejection would.

use anyhow::Context as _;
use clap::Args;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::read_module;
use crate::cli::{Global, Host, InputError, Outcome, RunOptions};
use drbook_core::fabric::{Fabric, Health};
use drbook_core::job::{new_id, Approval, JobSpec, NewJob, Trigger, Wake};
use drbook_core::plan::{check_against, FailoverType, RecoveryPlan};
use drbook_core::store::{JobStore, OnBusy};
use drbook_core::TimeScale;
use drbook_fabric_sim::{Estate, Fault, Simulator};
use drbook_jobs::{Execution, Worker, WorkerOptions};
use drbook_signing::Trust;
use drbook_store_sqlite::SqliteStore;

#[derive(Args)]
pub struct TestArgs {
    /// The runbook (a WebAssembly component), as `drbook runbook build` made it.
    component: PathBuf,
    /// The scenario, JSON: `estate`, `plan`, `failover_type`, `direction`,
    /// `params`, `faults`, `approvals` (what drbook-test's `Scenario` writes).
    #[arg(long)]
    scenario: PathBuf,
    #[command(flatten)]
    options: RunOptions,
}

/// A scenario as drbook-test writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    /// As `drbook fabric init --estate` reads it.
    estate: Estate,
    /// As a plan file has it.
    plan: RecoveryPlan,
    #[serde(default = "planned")]
    failover_type: String,
    #[serde(default = "primary_to_recovery")]
    direction: String,
    #[serde(default)]
    params: BTreeMap<String, String>,
    #[serde(default)]
    faults: Vec<ScenarioFault>,
    #[serde(default)]
    approvals: Vec<Answer>,
}

fn planned() -> String {
    "planned".to_string()
}

fn primary_to_recovery() -> String {
    "primary-to-recovery".to_string()
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum ScenarioFault {
    /// The next operation of this VM fails.
    FailNext(String),
    /// The next start on this VM is refused as transient (throttled); one
    /// entry per start to refuse.
    RefuseNext(String),
    /// The next start on this VM is refused for good (`not-allowed`).
    RefuseNextPermanently(String),
    /// The next operation of this VM hangs until the run ends.
    Stall(String),
    RegionDown(String),
    /// This VM's replication health is critical.
    Unhealthy(String),
}

/// The answer to the manual steps whose prompt contains `prompt`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    prompt: String,
    approved: bool,
    #[serde(default)]
    comment: String,
}

/// Who decides a scenario's manual steps, on their record.
const DECIDER: &str = "drbook runbook test";

pub async fn run(global: &Global, args: TestArgs) -> anyhow::Result<Outcome> {
    let origin = args.component.display().to_string();
    let scenario_file = args.scenario.display();
    let text = std::fs::read_to_string(&args.scenario)
        .map_err(|e| InputError::new(format!("cannot read the scenario {scenario_file}: {e}")))?;
    let scenario: Scenario = serde_json::from_str(&text).map_err(|e| {
        InputError::new(format!(
            "the scenario {scenario_file} is not one drbook reads: {e}; write it with drbook-test's `Scenario`"
        ))
    })?;
    let bad = |e: String| InputError::new(format!("the scenario {scenario_file}: {e}"));
    let failover_type: FailoverType = scenario
        .failover_type
        .parse()
        .map_err(|e: drbook_core::plan::UnknownFailoverType| bad(e.to_string()))?;
    let direction = match scenario.direction.as_str() {
        "primary-to-recovery" => drbook_core::fabric::Direction::PrimaryToRecovery,
        "recovery-to-primary" => drbook_core::fabric::Direction::RecoveryToPrimary,
        other => {
            return Err(bad(format!(
                "direction `{other}` is not primary-to-recovery or recovery-to-primary"
            ))
            .into())
        }
    };
    let module = read_module(&args.component)?;

    let dir = crate::cli::dry_run::private_tempdir("drbook-runbook-test-")
        .context("creating the test's data directory")?;
    let fabric = Simulator::init(dir.path(), &scenario.estate, false, TimeScale::Instant)
        .map_err(|e| bad(e.to_string()))?;
    for fault in scenario.faults {
        fabric.set_fault(match fault {
            ScenarioFault::FailNext(vm) => Fault::FailNext { vm },
            ScenarioFault::RefuseNext(vm) => Fault::RefuseNext {
                vm,
                times: 1,
                permanent: false,
            },
            ScenarioFault::RefuseNextPermanently(vm) => Fault::RefuseNext {
                vm,
                times: 1,
                permanent: true,
            },
            ScenarioFault::Stall(vm) => Fault::Stall { vm },
            ScenarioFault::RegionDown(region) => Fault::RegionDown(region),
            ScenarioFault::Unhealthy(vm) => Fault::Degrade {
                vm,
                health: Health::Critical,
            },
        })?;
    }
    let exec = Execution {
        store: Arc::new(SqliteStore::open(dir.path())?),
        // The data dir's compiled components: a test binary's scenarios
        // compile the runbook once, not once each.
        runtime: global.runtime(true)?,
        fabric: Arc::new(fabric.clone()),
        limits: args.options.limits(),
        time_scale: TimeScale::Instant,
        observer: drbook_runtime::Observer::none(),
        unload_after: args.options.unload_after(Host::Here),
        trust: Trust::none(),
        checked: Default::default(),
    };
    let admission = exec
        .trust
        .admit(&origin, &origin, &module, false)
        .map_err(|e| InputError::new(e.to_string()))?;
    exec.runtime
        .load_bytes(&module, &origin)
        .and_then(|runbook| runbook.fits(exec.limits.memory_bytes, &origin))
        .map_err(|e| InputError::new(e.to_string()))?;
    let items = fabric.list_items().await?;
    check_against(&scenario.plan, &items).map_err(|e| bad(e.to_string()))?;
    let spec = JobSpec {
        job_id: new_id(),
        plan: scenario.plan.clone(),
        failover_type,
        direction,
        parameters: scenario.params,
        trigger: Trigger::CommandLine {
            user: DECIDER.to_string(),
        },
        grant: Default::default(),
        admission: Some(admission),
    };
    let digest = drbook_core::module::digest(&module);
    let job = NewJob {
        digest: &digest,
        runbook: &origin,
        spec: &spec,
    };
    exec.store.admit(job, &module, OnBusy::Refuse).await?;
    let store = exec.store.clone();
    let outcome = run_deciding(exec, &spec.job_id, scenario.approvals).await?;
    let Some(outcome) = outcome else {
        anyhow::bail!("job {} was interrupted", spec.job_id);
    };
    let journal = store.journal(&outcome.job_id).await?;
    let streams: Vec<_> = store
        .streams(&outcome.job_id, 0)
        .await?
        .into_iter()
        .map(|(_, record)| record)
        .collect();
    let summary = crate::cli::summary::Summary::new(&scenario.plan, &outcome, &journal, None);
    if global.json {
        let doc = serde_json::json!({
            "job": summary,
            "streams": streams,
            "fabric": fabric.list_items().await?,
            "history": fabric.history()?,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", summary.render());
    }
    Ok(match outcome.status {
        drbook_core::job::JobStatus::Completed => Outcome::Success,
        _ => Outcome::Failed,
    })
}

/// Runs job `id` here to its end, deciding each manual step it reaches
/// from `answers`.
async fn run_deciding(
    exec: Execution,
    id: &str,
    answers: Vec<Answer>,
) -> anyhow::Result<Option<drbook_runtime::JobOutcome>> {
    let store = exec.store.clone();
    let mut options = WorkerOptions::new(crate::cli::lease::owner("runbook-test"));
    options.only = Some(id.to_string());
    let report = Box::new(
        move |job: &str, result: &Result<drbook_runtime::JobOutcome, drbook_jobs::ExecuteError>| {
            if let Ok(outcome) = result {
                if let Some(Wake::Decision {
                    journal_seq,
                    prompt,
                }) = &outcome.wake
                {
                    decide(&store, job, *journal_seq, prompt, &answers);
                }
            }
        },
    );
    let worker = Worker::new(exec, options, report);
    Ok(worker.run(std::future::pending()).await?)
}

/// Records the scenario's answer to the manual step `prompt`, or a
/// rejection that names the missing answer.
fn decide(
    store: &Arc<dyn JobStore>,
    job: &str,
    journal_seq: usize,
    prompt: &str,
    answers: &[Answer],
) {
    let approval = match answers.iter().find(|a| prompt.contains(&a.prompt)) {
        Some(answer) => Approval {
            approved: answer.approved,
            by: DECIDER.to_string(),
            comment: answer.comment.clone(),
            at: chrono::Utc::now(),
        },
        None => Approval {
            approved: false,
            by: DECIDER.to_string(),
            comment: format!(
                "the scenario has no answer to the manual step `{prompt}`: add .approve(..) or .reject(..) \
                 with part of its prompt"
            ),
            at: chrono::Utc::now(),
        },
    };
    let (store, job) = (store.clone(), job.to_string());
    tokio::spawn(async move {
        if let Err(e) = store.decide(&job, journal_seq, &approval).await {
            eprintln!("cannot decide the manual step of job {job}: {e}");
        }
    });
}
