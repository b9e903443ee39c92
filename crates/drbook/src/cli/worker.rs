//! `drbook worker`: runs jobs from the job store until stopped (Ctrl-C or
//! SIGTERM leaves every job resumable, its lease released), resuming the
//! ones an earlier host left behind, and fires the store's schedules.

use clap::Args;
use std::time::Duration;

use super::{execution, Global, Outcome, RunOptions};
use drbook_jobs::{ExecuteError, Scheduler, Worker, WorkerOptions};
use drbook_runtime::{parse_duration, JobOutcome, Observer};

#[derive(Args)]
pub struct WorkerArgs {
    /// Jobs loaded at once; unloaded, waiting jobs do not count.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long this worker's leases last: how soon another worker takes
    /// over its jobs if it dies.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    lease: Duration,
    /// How often the job store is polled.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    poll: Duration,
    /// Exit when no job is left to run or to wait for.
    #[arg(long)]
    exit_when_idle: bool,
    #[command(flatten)]
    options: RunOptions,
}

pub async fn run(global: &Global, args: WorkerArgs) -> anyhow::Result<Outcome> {
    {
        let exec = execution(global, &args.options, super::Host::Worker, Observer::none())?;
        let mut options = WorkerOptions::new(super::lease::owner("worker"));
        options.concurrency = args.concurrency.max(1);
        options.lease = args.lease;
        options.poll = args.poll;
        options.exit_when_idle = args.exit_when_idle;
        eprintln!("worker {} on {}", options.owner, exec.store.location());
        let json = global.json;
        let report = Box::new(
            move |job: &str, result: &Result<JobOutcome, ExecuteError>| {
                let line = match result {
                    Ok(o) => {
                        serde_json::json!({ "job": job, "status": o.status, "reason": o.reason, "replayed": o.replayed })
                    }
                    // Left as it was, for whoever runs it next.
                    Err(e) if e.leaves_job() => {
                        serde_json::json!({ "job": job, "status": "Released", "reason": e.to_string() })
                    }
                    Err(e) => {
                        serde_json::json!({ "job": job, "status": "Failed", "reason": e.to_string() })
                    }
                };
                if json {
                    println!("{line}");
                } else {
                    eprintln!(
                        "job {job}: {} {}",
                        line["status"].as_str().unwrap_or("?"),
                        line["reason"].as_str().unwrap_or("")
                    );
                }
            },
        );
        // The store's schedules fire here too (every worker and server
        // fires them; the store makes each tick one job).
        let schedules = Scheduler::new(exec.store.clone()).spawn();
        let worker = Worker::new(exec, options, report);
        // Ctrl-C or SIGTERM (a service manager's stop, a rolling deploy):
        // the jobs under way are dropped where they are and their leases
        // released, so another worker resumes them from their journals at
        // once, not when their leases would have lapsed.
        let worked = worker.run(super::serve::shutdown_signal()).await;
        schedules.abort();
        worked?;
        Ok(Outcome::Success)
    }
}
