//! `drbook jobs`: the job store as an operator sees it. List and show jobs,
//! follow their streams (of the local job store, or of a server's with
//! `--server`: the same commands, the same output), resume one here, decide a manual step, stop one,
//! retry a failed one from its journal or rerun one from the top (`retry`).

use clap::{Args, Subcommand};
use std::time::Duration;

use super::{progress, Global, InputError, Outcome, RunOptions};
use drbook_core::job::{AdmittedBy, JobRecord, JobStatus};
use drbook_core::journal::{Record, Stream};
use drbook_core::plan::RecoveryPlan;
use drbook_core::retry::Attempt;
use drbook_core::store::{JobStore, StoreError};
use drbook_runtime::parse_duration;
use drbook_triggers::{ControlError, Deciders};

mod remote;

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
    if let Some(server) = super::remote::Remote::of(global)? {
        return remote::run(global, &server, args.command).await;
    }
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
        JobsCommand::Show { id } => show(&store.get(&id).await.map_err(input)?),
        JobsCommand::Logs { id, follow } => {
            let job = store.get(&id).await.map_err(input)?;
            logs(global, Source::Store(store), &job, follow).await
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
            let decided =
                drbook_triggers::decide(store, &id, true, &comment, &super::who(), Deciders::Any)
                    .await;
            done(decided.map_err(control)?)
        }
        JobsCommand::Reject { id, comment } => {
            let decided =
                drbook_triggers::decide(store, &id, false, &comment, &super::who(), Deciders::Any)
                    .await;
            done(decided.map_err(control)?)
        }
        JobsCommand::Stop { id } => done(
            drbook_triggers::stop(store, &id, &super::who())
                .await
                .map_err(control)?,
        ),
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

fn show(job: &JobRecord) -> anyhow::Result<Outcome> {
    println!("{}", serde_json::to_string_pretty(job)?);
    Ok(Outcome::Success)
}

/// A decision or a stop that was not made: the asker's error (exit 2) but
/// for a store that failed.
fn control(e: ControlError) -> anyhow::Error {
    if e.is_input() {
        InputError::new(e.to_string()).into()
    } else {
        e.into()
    }
}

/// What a decision or a stop says once made (here or by a server).
fn done(what: impl std::fmt::Display) -> anyhow::Result<Outcome> {
    println!("{what}");
    Ok(Outcome::Success)
}

/// Where `jobs logs` reads a job from: the job store, or a server's API.
enum Source<'a> {
    Store(&'a dyn JobStore),
    Remote(&'a super::remote::Remote),
}

impl Source<'_> {
    async fn get(&self, id: &str) -> anyhow::Result<JobRecord> {
        match self {
            Source::Store(store) => Ok(store.get(id).await?),
            Source::Remote(server) => server.get(&format!("/api/v1/jobs/{id}"), &[]).await,
        }
    }

    async fn streams(&self, id: &str, after: i64) -> anyhow::Result<Vec<(i64, Record)>> {
        match self {
            Source::Store(store) => Ok(store.streams(id, after).await?),
            Source::Remote(server) => {
                let path = format!("/api/v1/jobs/{id}/streams");
                let lines: drbook_triggers::Lines =
                    server.get(&path, &[("after", after.to_string())]).await?;
                Ok(lines.lines.into_iter().map(|l| (l.seq, l.record)).collect())
            }
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

/// How often `jobs logs --follow` reads a local store for new lines, unless
/// the store's change signal comes first (PostgreSQL's, at a job's end).
const FOLLOW_POLL: Duration = Duration::from_millis(200);

async fn logs(
    global: &Global,
    source: Source<'_>,
    job: &JobRecord,
    follow: bool,
) -> anyhow::Result<Outcome> {
    if let (Source::Remote(server), true) = (&source, follow) {
        // Over the server's live stream: lines as they are written.
        let print = |seq, record: Record| print_line(global, seq, &record, &job.attempts);
        remote::follow(server, &job.id, print).await?;
        return Ok(Outcome::Success);
    }
    let mut after = 0;
    loop {
        // Armed before the store is read: a change while it reads still
        // wakes the wait below.
        let changed = match &source {
            Source::Store(store) => Some(store.changed()),
            Source::Remote(_) => None,
        };
        // Whether the job had ended before its lines are read: then they are
        // all there, and this is the last read. A retried job's lines are
        // marked with their attempt (the record's `attempts` say where each
        // begins), those of earlier ones kept.
        let now = source.get(&job.id).await?;
        let ended = !follow || now.is_terminal();
        for (seq, record) in source.streams(&job.id, after).await? {
            after = seq;
            print_line(global, seq, &record, &now.attempts)?;
        }
        if ended {
            return Ok(Outcome::Success);
        }
        let changed = changed.unwrap_or_else(|| Box::pin(std::future::pending()));
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
            _ = changed => {}
        }
    }
}

/// Prints stream line `seq` as `jobs logs` shows it: its text (after its
/// stream's name unless it is the output), or as JSON with `--json`; the
/// first line of a retry's attempt after a heading that says so.
fn print_line(
    global: &Global,
    seq: i64,
    record: &Record,
    attempts: &[Attempt],
) -> anyhow::Result<()> {
    let attempt = drbook_core::retry::attempt_of_line(attempts, seq);
    if global.json {
        let mut line = serde_json::to_value(record)?;
        if !attempts.is_empty() {
            line["attempt"] = attempt.into();
        }
        println!("{line}");
        return Ok(());
    }
    let begins = attempts
        .iter()
        .find(|a| a.attempt == attempt && a.streams_after == seq - 1);
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
    Ok(())
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
