//! What `run`, `jobs resume` and `worker` share: the flags that bound a job,
//! building an [`Execution`] from them, running one job here to its end, and
//! printing how it ended.

use clap::Args;
use std::time::Duration;

use super::progress::Live;
use super::summary::{DryRun, Summary};
use super::{Global, Outcome};
use drbook_core::job::{JobStatus, Wake};
use drbook_core::plan::RecoveryPlan;
use drbook_core::store::JobStore;
use drbook_jobs::{ExecuteError, Execution, Worker, WorkerOptions};
use drbook_runtime::{parse_bytes, parse_duration, JobOutcome, Limits, Observer};
use drbook_signing::Trust;

/// Flags that bound the jobs this process runs.
#[derive(Args, Clone, Debug)]
pub struct RunOptions {
    /// A runbook's memory limit.
    #[arg(long, default_value = "64MiB", value_parser = parse_bytes)]
    pub memory: usize,
    /// A runbook's wall-clock deadline, waits included.
    #[arg(long, default_value = "4h", value_parser = parse_duration)]
    pub deadline: Duration,
    /// Entries of a job's journal (one per host call, across all its runs):
    /// the call past it fails the job.
    #[arg(long, default_value_t = 100_000)]
    pub journal_entries: usize,
    /// Bytes of a job's journal (calls and replies, across all its runs):
    /// the call past it fails the job.
    #[arg(long, default_value = "64MiB", value_parser = parse_bytes)]
    pub journal_bytes: usize,
    /// Waits longer than this unload a job's instance until the wait ends
    /// (default: 2 s in a worker, which keeps many jobs; 10 min for a job
    /// run here). Approvals always unload.
    #[arg(long, value_parser = parse_duration)]
    pub unload_after: Option<Duration>,
    /// Show the runbook's verbose stream too.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Where the default of `--unload-after` differs.
pub enum Host {
    /// One job, run here by `run` or `jobs resume`.
    Here,
    Worker,
}

pub fn execution(
    global: &Global,
    options: &RunOptions,
    host: Host,
    observer: Observer,
) -> anyhow::Result<Execution> {
    let runtime = global.runtime(true)?;
    Ok(Execution {
        store: super::open_store(global)?,
        runtime,
        fabric: super::open_backend(global)?,
        limits: options.limits(),
        time_scale: global.time_scale()?,
        observer,
        unload_after: options.unload_after(host),
        trust: trust(global)?,
        checked: Default::default(),
    })
}

/// The configured trust policy (`[trust]` in drbook.toml), or none.
pub fn trust(global: &Global) -> anyhow::Result<Trust> {
    Ok(match &global.config()?.trust {
        Some(policy) => Trust::enforce(policy.clone()),
        None => Trust::none(),
    })
}

impl RunOptions {
    /// What bounds each job.
    pub fn limits(&self) -> Limits {
        Limits {
            memory_bytes: self.memory,
            deadline: self.deadline,
            journal_entries: self.journal_entries,
            journal_bytes: self.journal_bytes,
            ..Limits::default()
        }
    }

    /// `--unload-after`, or the default for `host`.
    pub fn unload_after(&self, host: Host) -> Duration {
        self.unload_after.unwrap_or(match host {
            Host::Here => Duration::from_secs(600),
            Host::Worker => Duration::from_secs(2),
        })
    }
}

/// Where a job run here is kept, which says what can be done about it
/// while it waits, and after an interruption.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// In the job store: a person decides its manual steps (`drbook jobs
    /// approve`), and an interrupted job is resumable.
    InStore,
    /// In a dry run's throwaway store, which nothing else reaches: its
    /// manual steps are approved at once ([`super::dry_run::approve`]), and
    /// an interrupted one is gone.
    DryRun,
}

/// Runs job `id` in this process until it ends, waiting here while it is
/// unloaded (an approval, a long operation). Ctrl-C leaves it resumable.
pub async fn run_job_here(
    exec: Execution,
    id: &str,
    view: &Live,
    kept: Kept,
) -> anyhow::Result<Option<JobOutcome>> {
    let store = exec.store.clone();
    let mut options = WorkerOptions::new(super::lease::owner("run"));
    options.only = Some(id.to_string());
    let report_view = view.clone();
    let report_store = store.clone();
    let report = Box::new(
        move |job: &str, result: &Result<JobOutcome, ExecuteError>| match result {
            Ok(outcome) if !outcome.status.is_terminal() => match (&outcome.wake, kept) {
                (
                    Some(Wake::Decision {
                        journal_seq,
                        prompt,
                    }),
                    Kept::DryRun,
                ) => {
                    super::dry_run::approve(&report_store, job, *journal_seq, prompt, &report_view)
                }
                _ => {
                    let reason = outcome.reason.as_deref().unwrap_or("waiting");
                    let hint = if outcome.status == JobStatus::Suspended {
                        format!(
                            "; decide with `drbook jobs approve {job}` or `drbook jobs reject {job}`"
                        )
                    } else {
                        String::new()
                    };
                    report_view.note(&format!("job {job} {:?}: {reason}{hint}", outcome.status));
                }
            },
            Ok(_) => {}
            Err(e) => report_view.note(&format!("job {job} cannot run: {e}")),
        },
    );
    let worker = Worker::new(exec, options, report);
    let interrupted = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let outcome = worker.run(interrupted).await?;
    if outcome.is_none() {
        let job = store.get(id).await?;
        if !job.is_terminal() {
            view.note(&match kept {
                Kept::InStore => format!(
                    "interrupted; job {id} is {:?} and resumable: `drbook jobs resume {id}`, or any `drbook worker`",
                    job.state
                ),
                Kept::DryRun => format!("interrupted; the dry run's job {id} is gone with it"),
            });
        }
    }
    Ok(outcome)
}

/// Prints the end of a job, its rows read from the journal in `store`
/// (`dry_run` when it ran on a copy of the estate), and picks the exit code.
pub async fn print_outcome(
    global: &Global,
    store: &dyn JobStore,
    plan: &RecoveryPlan,
    outcome: &Option<JobOutcome>,
    view: &Live,
    dry_run: Option<&DryRun>,
) -> anyhow::Result<Outcome> {
    view.finish();
    let Some(outcome) = outcome else {
        return Ok(Outcome::Failed);
    };
    let journal = store.journal(&outcome.job_id).await?;
    let report = Summary::new(plan, outcome, &journal, dry_run);
    if global.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(match outcome.status {
        JobStatus::Completed => Outcome::Success,
        _ => Outcome::Failed,
    })
}
