//! `drbook schedule`: create, list, pause, resume and delete schedules, and
//! list the ticks one handled. A schedule starts a job at each tick of its
//! cron pattern, evaluated on its time zone's wall clock
//! (`drbook_core::schedule`); `drbook serve` and `drbook worker` fire the
//! ticks (`drbook_jobs::Scheduler`), one job per tick however many run. Its
//! module is pinned at creation, as `drbook run` and `webhook create` pin
//! one (`pin`): held to the trust policy, kept in the job store.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use super::{Global, InputError, Outcome};
use drbook_core::module::Module;
use drbook_core::schedule::{Cron, Missed, Schedule, TickRecord};

#[derive(Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    command: ScheduleCommand,
}

#[derive(Subcommand)]
enum ScheduleCommand {
    /// Create a schedule: a job of the runbook and plan at each tick.
    Create(CreateArgs),
    /// List schedules with their next runs and what their latest tick did.
    List {
        /// How many next runs to show for each.
        #[arg(long, default_value_t = 3)]
        next: usize,
    },
    /// Pause a schedule: its ticks start nothing until it is resumed.
    Pause { name: String },
    /// Resume a paused schedule at its next tick from now (ticks that fell
    /// while it was paused are not run).
    Resume { name: String },
    /// Delete a schedule and its ticks' records; its jobs stay.
    Delete { name: String },
    /// The ticks a schedule handled, newest first: the job each started, or
    /// why it started none.
    Ticks {
        name: String,
        /// How many, at most.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Args)]
struct CreateArgs {
    /// The schedule's name, in its jobs' trigger (`schedule:<name>`):
    /// letters, digits, `-`, `_`, `.`.
    #[arg(long)]
    name: String,
    /// When: five cron fields, minute hour day-of-month month day-of-week
    /// (`0 3 1 * *`: 03:00 on the 1st of each month), or `@daily` and the
    /// like.
    #[arg(long)]
    cron: String,
    /// The IANA time zone whose wall clock the pattern is read on (e.g.
    /// `Europe/Berlin`): a local time a daylight-saving change skips runs
    /// at the change, one it repeats runs once.
    #[arg(long, default_value = "UTC")]
    timezone: String,
    /// The runbook each tick runs (stored in the job store now): a file or
    /// an `oci://` reference, whose tag is resolved now, once.
    #[arg(long)]
    runbook: String,
    /// The plan (read now), type, direction, inputs and grants of its jobs.
    #[command(flatten)]
    job: super::run::JobArgs,
    /// Ticks missed while no scheduler ran (every `serve` and `worker`
    /// down): `run-once` starts one job for the latest of them at start,
    /// `skip` starts none and waits for the next tick.
    #[arg(long, default_value = "run-once", value_parser = super::run::named::<Missed>(&Missed::NAMES))]
    missed: Missed,
    /// For development: pin a module the trust policy refuses, recorded on
    /// every job the schedule starts.
    #[arg(long)]
    allow_unsigned: bool,
}

pub async fn run(global: &Global, args: ScheduleArgs) -> anyhow::Result<Outcome> {
    let now = Utc::now();
    match args.command {
        ScheduleCommand::Create(args) => create(global, args, now).await,
        ScheduleCommand::List { next } => {
            let store = super::open_store(global)?;
            let schedules = store.schedules(None).await?;
            if global.json {
                let listed: Vec<_> = schedules
                    .iter()
                    .map(|s| {
                        let mut value = serde_json::to_value(s).expect("a schedule serialises");
                        value["nextRuns"] = serde_json::json!(next_runs(s, next));
                        value
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&listed)?);
            } else {
                print_list(&schedules, next);
            }
            Ok(Outcome::Success)
        }
        ScheduleCommand::Pause { name } => {
            let store = super::open_store(global)?;
            if !store.pause_schedule(&name).await? {
                return Err(not_found(&name));
            }
            eprintln!("schedule {name} paused");
            Ok(Outcome::Success)
        }
        ScheduleCommand::Resume { name } => {
            let store = super::open_store(global)?;
            let schedule = store
                .schedule(&name)
                .await?
                .ok_or_else(|| not_found(&name))?;
            let cron = schedule
                .cron()
                .map_err(|e| InputError::new(e.to_string()))?;
            let next = cron.next_after(now);
            store.resume_schedule(&name, next).await?;
            eprintln!("schedule {name} resumed; next run {}", when(next, &cron));
            Ok(Outcome::Success)
        }
        ScheduleCommand::Delete { name } => {
            let store = super::open_store(global)?;
            if !store.delete_schedule(&name).await? {
                return Err(not_found(&name));
            }
            eprintln!("schedule {name} deleted; its jobs stay");
            Ok(Outcome::Success)
        }
        ScheduleCommand::Ticks { name, limit } => {
            let store = super::open_store(global)?;
            store
                .schedule(&name)
                .await?
                .ok_or_else(|| not_found(&name))?;
            let ticks = store.schedule_ticks(&name, limit).await?;
            if global.json {
                println!("{}", serde_json::to_string_pretty(&ticks)?);
            } else {
                print_ticks(&name, &ticks);
            }
            Ok(Outcome::Success)
        }
    }
}

fn not_found(name: &str) -> anyhow::Error {
    InputError::new(format!(
        "no schedule named `{name}`; `drbook schedule list` lists them"
    ))
    .into()
}

async fn create(global: &Global, args: CreateArgs, now: DateTime<Utc>) -> anyhow::Result<Outcome> {
    // The pattern, zone and name first: a bad one stores nothing and
    // fetches nothing.
    Schedule::check_name(&args.name).map_err(|e| InputError::new(e.to_string()))?;
    let cron = Cron::parse_ticking(&args.cron, &args.timezone, now)
        .map_err(|e| InputError::new(e.to_string()))?;
    let runtime = global.runtime(true)?;
    let trust = super::execute::trust(global)?;
    let admit = |module: Module| super::pin::admit(&runtime, &trust, module, args.allow_unsigned);
    let pinned = super::pin::target(global, &args.runbook, &args.job, admit).await?;
    let schedule = Schedule {
        name: args.name,
        cron: args.cron,
        timezone: args.timezone,
        missed: args.missed,
        run: pinned.run,
        paused: false,
        created: now,
        created_by: format!("cli:{}", super::who()),
        next: cron.next_after(now),
        last: None,
        last_job: None,
    };
    let store = super::open_store(global)?;
    if !store.create_schedule(&schedule, &pinned.bytes).await? {
        return Err(InputError::new(format!(
            "a schedule named `{}` exists; delete it first or pick another name",
            schedule.name
        ))
        .into());
    }
    if global.json {
        let mut value = serde_json::to_value(&schedule)?;
        value["nextRuns"] = serde_json::json!(next_runs(&schedule, 3));
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "schedule {} created: {} {} ({}, missed ticks: {}); next runs {}",
            schedule.name,
            schedule.run.runbook,
            schedule.run.plan.name,
            schedule.cron,
            schedule.missed.name(),
            runs_text(&schedule, 3, &cron)
        );
    }
    Ok(Outcome::Success)
}

/// The next `n` runs of a schedule not paused: its next tick, then the
/// pattern's after it.
fn next_runs(s: &Schedule, n: usize) -> Vec<DateTime<Utc>> {
    let (Some(next), Ok(cron), false) = (s.next, s.cron(), s.paused) else {
        return vec![];
    };
    let mut runs = vec![next];
    runs.extend(cron.upcoming(next, n.saturating_sub(1)));
    runs.truncate(n);
    runs
}

/// A tick on the schedule's wall clock.
fn when(t: Option<DateTime<Utc>>, cron: &Cron) -> String {
    t.map_or_else(
        || "never".to_string(),
        |t| {
            t.with_timezone(&cron.zone())
                .format("%Y-%m-%d %H:%M %Z")
                .to_string()
        },
    )
}

fn runs_text(s: &Schedule, n: usize, cron: &Cron) -> String {
    let runs = next_runs(s, n);
    if runs.is_empty() {
        return if s.paused { "paused" } else { "never" }.to_string();
    }
    runs.iter()
        .map(|t| when(Some(*t), cron))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_list(schedules: &[Schedule], next: usize) {
    if schedules.is_empty() {
        println!("no schedules; create one with `drbook schedule create`");
        return;
    }
    let rows: Vec<Vec<String>> = schedules
        .iter()
        .map(|s| {
            let runs = match s.cron() {
                Ok(cron) => runs_text(s, next, &cron),
                Err(e) => e.to_string(),
            };
            vec![
                s.name.clone(),
                if s.paused { "paused" } else { "active" }.to_string(),
                format!("{} {}", s.cron, s.timezone),
                s.run.runbook.clone(),
                s.run.plan.name.clone(),
                runs,
                s.last.as_ref().map_or_else(
                    || "-".to_string(),
                    |l| format!("{}: {}", l.tick.format("%Y-%m-%d %H:%M UTC"), l.outcome),
                ),
            ]
        })
        .collect();
    let headers = [
        "NAME",
        "STATUS",
        "WHEN",
        "RUNBOOK",
        "PLAN",
        "NEXT RUNS",
        "LAST TICK",
    ];
    println!("{}", super::table::render(&headers, &rows));
}

fn print_ticks(name: &str, ticks: &[TickRecord]) {
    if ticks.is_empty() {
        println!("schedule {name} has handled no tick yet");
        return;
    }
    let rows: Vec<Vec<String>> = ticks
        .iter()
        .map(|t| {
            vec![
                t.tick.format("%Y-%m-%d %H:%M UTC").to_string(),
                t.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                t.outcome.to_string(),
            ]
        })
        .collect();
    println!(
        "{}",
        super::table::render(&["TICK", "HANDLED", "WHAT"], &rows)
    );
}
