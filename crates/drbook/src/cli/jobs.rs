//! `drbook jobs`: the job store as an operator sees it. List and show jobs,
//! follow their streams, resume one here, decide a manual step, stop one,
//! retry a failed one from its journal or rerun one from the top (`retry`).

use clap::{Args, Subcommand};
use std::time::Duration;

use super::{progress, Global, InputError, Outcome, RunOptions};
use drbook_core::job::{AdmittedBy, Approval, JobRecord, JobStatus, Wake};
use drbook_core::journal::{Call, Stream};
use drbook_core::plan::RecoveryPlan;
use drbook_core::store::{JobStore, StoreError};
use drbook_runtime::parse_duration;

mod retry;

#[derive(Args)]
pub struct JobsArgs {
    #[command(subcommand)]
    command: JobsCommand,
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Lists jobs, newest first.
    List {
        /// Only jobs with this status (New, Running, Suspended, Completed, Failed, Stopped).
        #[arg(long, value_parser = parse_status)]
        status: Option<JobStatus>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Shows one job: spec, status, what it waits for, its result.
    Show { id: String },
    /// Prints a job's streams; `--follow` waits for more until the job ends.
    Logs {
        id: String,
        #[arg(long, short)]
        follow: bool,
    },
    /// Runs an interrupted or waiting job here, replaying its journal.
    Resume {
        id: String,
        /// Re-pin the job to this module first (e.g. a fixed runbook): a file
        /// or an `oci://` reference; the replay checks that it makes the same
        /// calls. Without it, the job runs the module it is pinned to, from
        /// the job store: no file or registry is needed.
        #[arg(long)]
        module: Option<String>,
        /// If another live process holds the job, wait for its lease to end
        /// and take the job over then (a holder on this host that no longer
        /// runs is taken over at once, without this).
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        options: RunOptions,
    },
    /// Approves the manual step a suspended job waits at.
    Approve {
        id: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Rejects the manual step a suspended job waits at.
    Reject {
        id: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Stops a job at its next host call.
    Stop { id: String },
    /// Runs a failed job again from its journal, as a new attempt: every
    /// call that succeeded is replayed (completed groups are not failed over
    /// again), and its first failed step (a refused start, or the start of
    /// an operation that failed) runs live again, once you fixed its cause.
    Retry {
        id: String,
        /// Run it here until it ends and print its summary (else a worker
        /// runs it).
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        options: RunOptions,
    },
    /// Starts a job again from the top, as a new job: the same module
    /// (by digest), plan and inputs; its trigger is `rerun:<id>`.
    Rerun {
        id: String,
        /// Run it here until it ends and print its summary (else a worker
        /// runs it).
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        options: RunOptions,
    },
    /// Deletes finished jobs older than a retention period, with their
    /// journals and streams.
    Prune {
        /// Keep jobs that ended within this period (e.g. `30d`, `12h`).
        #[arg(long, value_parser = parse_retention)]
        older_than: chrono::Duration,
    },
}

fn parse_retention(text: &str) -> Result<chrono::Duration, String> {
    let d = parse_duration(text)?;
    chrono::Duration::from_std(d).map_err(|e| e.to_string())
}

fn parse_status(text: &str) -> Result<JobStatus, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
        format!(
            "unknown status `{text}`; use New, Running, Suspended, Completed, Failed or Stopped"
        )
    })
}

pub async fn run(global: &Global, args: JobsArgs) -> anyhow::Result<Outcome> {
    let store = super::open_store(global)?;
    let store = store.as_ref();
    let input = |e: StoreError| -> anyhow::Error {
        match e {
            StoreError::NoSuchJob { .. } => InputError::new(e.to_string()).into(),
            other => other.into(),
        }
    };
    match args.command {
        JobsCommand::List { status, limit } => list(global, &store.list(status, limit).await?),
        JobsCommand::Show { id } => {
            let job = store.get(&id).await.map_err(input)?;
            println!("{}", serde_json::to_string_pretty(&job)?);
            Ok(Outcome::Success)
        }
        JobsCommand::Logs { id, follow } => {
            logs(global, store, &store.get(&id).await.map_err(input)?, follow).await
        }
        JobsCommand::Resume {
            id,
            module,
            wait,
            options,
        } => {
            let job = store.get(&id).await.map_err(input)?;
            resume(global, store, job, module, wait, options).await
        }
        JobsCommand::Approve { id, comment } => {
            decide(store, &store.get(&id).await.map_err(input)?, true, comment).await
        }
        JobsCommand::Reject { id, comment } => {
            decide(store, &store.get(&id).await.map_err(input)?, false, comment).await
        }
        JobsCommand::Stop { id } => stop(store, &store.get(&id).await.map_err(input)?).await,
        JobsCommand::Retry { id, wait, options } => {
            let job = store.get(&id).await.map_err(input)?;
            retry::retry(global, store, job, wait, options).await
        }
        JobsCommand::Rerun { id, wait, options } => {
            let job = store.get(&id).await.map_err(input)?;
            retry::rerun(global, store, job, wait, options).await
        }
        JobsCommand::Prune { older_than } => {
            let pruned = store.prune(chrono::Utc::now() - older_than).await?;
            println!("deleted {pruned} finished jobs and their journals and streams");
            Ok(Outcome::Success)
        }
    }
}

fn list(global: &Global, jobs: &[JobRecord]) -> anyhow::Result<Outcome> {
    if global.json {
        println!("{}", serde_json::to_string_pretty(jobs)?);
        return Ok(Outcome::Success);
    }
    let headers = [
        "ID", "STATUS", "RUNBOOK", "PLAN", "TYPE", "CREATED", "REASON",
    ];
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|job| {
            vec![
                job.id.clone(),
                format!("{:?}", job.state),
                job.runbook.clone(),
                job.spec.plan.name.clone(),
                format!("{:?}", job.spec.failover_type),
                job.created.format("%Y-%m-%d %H:%M:%S").to_string(),
                job.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    println!("{}", super::table::render(&headers, &rows));
    Ok(Outcome::Success)
}

async fn logs(
    global: &Global,
    store: &dyn JobStore,
    job: &JobRecord,
    follow: bool,
) -> anyhow::Result<Outcome> {
    let mut after = 0;
    loop {
        // Whether the job had ended before its lines are read: then they are
        // all there, and this is the last read.
        let ended = !follow || store.get(&job.id).await?.is_terminal();
        // A retried job's lines are marked with their attempt (the record's
        // `attempts` say where each begins), those of earlier ones kept.
        let attempts = store.get(&job.id).await?.attempts;
        for (seq, record) in store.streams(&job.id, after).await? {
            let attempt = drbook_core::retry::attempt_of_line(&attempts, seq);
            let begins = attempts
                .iter()
                .find(|a| a.attempt == attempt && a.streams_after == seq - 1);
            after = seq;
            if global.json {
                let mut line = serde_json::to_value(&record)?;
                if !attempts.is_empty() {
                    line["attempt"] = attempt.into();
                }
                println!("{line}");
                continue;
            }
            if let Some(a) = begins {
                println!(
                    "--- attempt {}: retried by {} at {} (attempt {} failed: {}) ---",
                    a.attempt,
                    a.by,
                    a.at.format("%Y-%m-%d %H:%M:%S"),
                    a.attempt - 1,
                    a.previous_reason.as_deref().unwrap_or("no reason recorded")
                );
            }
            if record.stream == Stream::Output {
                println!("{}", record.text);
            } else {
                println!(
                    "{}: {}",
                    format!("{:?}", record.stream).to_lowercase(),
                    record.text
                );
            }
        }
        if ended {
            return Ok(Outcome::Success);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn resume(
    global: &Global,
    store: &dyn JobStore,
    job: JobRecord,
    module: Option<String>,
    wait: bool,
    options: RunOptions,
) -> anyhow::Result<Outcome> {
    if job.is_terminal() {
        return Err(InputError::new(format!(
            "job {} has already ended ({:?}); nothing to resume",
            job.id, job.state
        ))
        .into());
    }
    if let (Some(owner), Some(until)) = (&job.lease_owner, job.lease_until) {
        let left = (until - chrono::Utc::now()).to_std().unwrap_or_default();
        if left.is_zero() {
            // The lease has ended: the job is anyone's to claim.
        } else if super::lease::holder_is_gone(owner) {
            // Its process died (`kill -9`, a crash): nobody can write for
            // it any more, so the lease is let go now, not in `left`.
            store.release(&job.id, owner).await?;
            eprintln!(
                "job {} was held by {owner}, which no longer runs on this host; taking it over",
                job.id
            );
        } else if wait {
            eprintln!(
                "job {} is held by {owner} until {until}; waiting {left:.0?} to take it over",
                job.id
            );
            tokio::time::sleep(left).await;
        } else {
            return Err(InputError::new(format!(
                "job {} is being run by {owner} until {until} ({left:.0?} from now); stop that process first, or \
                 pass --wait to take the job over when its lease ends",
                job.id
            ))
            .into());
        }
    }
    {
        let view = foreground(global, &job.spec.plan, &options);
        let exec = super::execution(global, &options, super::Host::Here, view.observer())?;
        if let Some(reference) = module {
            let module = super::modules::fetch(global, &reference).await?;
            // The new module is held to the policy as the job's own is when
            // it loads (a job run with --allow-unsigned keeps that), before
            // anything compiles it.
            let allowed = job
                .spec
                .admission
                .as_ref()
                .is_some_and(|a| matches!(a.admitted_by, AdmittedBy::AllowUnsigned { .. }));
            let mut admission = exec
                .trust
                .admit(&job.runbook, &module.origin, &module.bytes, allowed)
                .map_err(|e| {
                    InputError::new(format!(
                        "--module {reference}: {}; re-pin the job only to a module the policy trusts \
                         (`drbook runbook sign FILE --key KEY`)",
                        e.problem()
                    ))
                })?;
            exec.runtime
                .load_bytes(&module.bytes, &module.origin)
                .map_err(|e| InputError::new(e.to_string()))?;
            admission.replaces = job.spec.admission.clone().map(Box::new);
            store
                .repin(&job.id, &module.digest, &module.bytes, &admission)
                .await?;
            view.note(&format!("job {} re-pinned to {}", job.id, module.digest));
        }
        if job.wake.is_some() {
            // An unloaded job is not runnable until its wake-up; resuming it
            // means replaying it now (which checks a re-pinned module at
            // once). If it still waits, it is unloaded again and this
            // process waits with it, as `drbook run` does.
            store.wake(&job.id).await?;
        }
        let outcome = super::run_job_here(exec, &job.id, &view, super::Kept::InStore).await?;
        super::print_outcome(global, store, &job.spec.plan, &outcome, &view, None).await
    }
}

/// How a job run here shows its progress: lines, or nothing with `--json`
/// (whose summary is the output).
fn foreground(global: &Global, plan: &RecoveryPlan, options: &RunOptions) -> progress::Live {
    let mode = if global.json {
        progress::Mode::Quiet
    } else {
        progress::Mode::Lines
    };
    progress::Live::new(plan, mode, options.verbose)
}

/// Runs `job` (runnable: new, retried) here until it ends, as `drbook run`
/// does, and prints its summary.
async fn run_here(
    global: &Global,
    store: &dyn JobStore,
    job: &JobRecord,
    options: &RunOptions,
) -> anyhow::Result<Outcome> {
    let view = foreground(global, &job.spec.plan, options);
    let exec = super::execution(global, options, super::Host::Here, view.observer())?;
    let outcome = super::run_job_here(exec, &job.id, &view, super::Kept::InStore).await?;
    super::print_outcome(global, store, &job.spec.plan, &outcome, &view, None).await
}

async fn decide(
    store: &dyn JobStore,
    job: &JobRecord,
    approved: bool,
    comment: String,
) -> anyhow::Result<Outcome> {
    let Some(Wake::Decision {
        journal_seq,
        prompt,
    }) = &job.wake
    else {
        // Decided a moment ago by someone else, most likely: say who.
        if let Some(earlier) = last_decision(store, job).await? {
            return Err(InputError::new(
                StoreError::AlreadyDecided {
                    job: job.id.clone(),
                    approved: earlier.approved,
                    by: earlier.by,
                    at: earlier.at,
                }
                .to_string(),
            )
            .into());
        }
        return Err(InputError::new(format!(
            "job {} is not waiting for an approval (it is {:?}); `drbook jobs list --status Suspended` lists the jobs that are",
            job.id, job.state
        ))
        .into());
    };
    let decision = Approval {
        approved,
        by: super::who(),
        comment,
        at: chrono::Utc::now(),
    };
    store
        .decide(&job.id, *journal_seq, &decision)
        .await
        .map_err(|e| match e {
            StoreError::AlreadyDecided { .. } => InputError::new(e.to_string()).into(),
            other => anyhow::Error::from(other),
        })?;
    let verb = if approved { "approved" } else { "rejected" };
    println!(
        "{verb} \"{prompt}\" for job {} as {}; a worker (or `drbook jobs resume`) continues it",
        job.id, decision.by
    );
    Ok(Outcome::Success)
}

/// The latest decision on a manual step of `job`: at the step it was
/// suspended at (the journal's next position, until the job runs again) or at
/// an approval its journal holds.
async fn last_decision(store: &dyn JobStore, job: &JobRecord) -> anyhow::Result<Option<Approval>> {
    let journal = store.journal(&job.id).await?;
    let approvals = journal
        .iter()
        .enumerate()
        .filter(|(_, entry)| matches!(entry.call, Call::Approval { .. }))
        .map(|(seq, _)| seq);
    let mut steps: Vec<usize> = approvals.chain([journal.len()]).collect();
    steps.sort_unstable_by(|a, b| b.cmp(a));
    for seq in steps {
        if let Some(decision) = store.decision(&job.id, seq).await? {
            return Ok(Some(decision));
        }
    }
    Ok(None)
}

async fn stop(store: &dyn JobStore, job: &JobRecord) -> anyhow::Result<Outcome> {
    if job.is_terminal() {
        return Err(InputError::new(format!(
            "job {} has already ended ({:?})",
            job.id, job.state
        ))
        .into());
    }
    let by = super::who();
    let leased = job
        .lease_until
        .is_some_and(|until| until > chrono::Utc::now());
    if leased && job.wake.is_none() {
        store.request_stop(&job.id, &by).await?;
        println!("stop requested: job {} stops at its next host call", job.id);
    } else {
        // Nothing runs it now: stop it here.
        store.request_stop(&job.id, &by).await?;
        store
            .finish(
                &job.id,
                JobStatus::Stopped,
                Some(&format!("stopped by {by}")),
                &serde_json::Value::Null,
            )
            .await?;
        println!("job {} stopped", job.id);
    }
    Ok(Outcome::Success)
}
