//! Schedules: a cron pattern in a time zone that starts a job ([`RunTarget`])
//! at each of its ticks (`drbook schedule`, run by `drbook serve` and
//! `drbook worker`). Everything here is pure, given `now`: the store keeps
//! schedules and fires their ticks ([`crate::store::JobStore::fire_tick`]),
//! drbook-jobs' scheduler decides what to fire with [`due`].
//!
//! **Wall-clock time.** A pattern is evaluated on the zone's local wall
//! clock (`0 3 1 * *` in `Europe/Berlin` is 03:00 in Berlin, CET or CEST),
//! and each local time it names gives exactly one tick:
//! - a local time the clock skips (02:30 on the day Berlin springs forward
//!   from 02:00 to 03:00) ticks once, at the instant the clock jumps
//!   (03:00 CEST): a daily job still runs that day, as soon as it can;
//! - a local time the clock shows twice (02:30 on the day it falls back from
//!   03:00 to 02:00) ticks once, at its first occurrence (CEST): the
//!   repeated hour does not run the job again.
//!
//! Ticks are instants; several skipped local times that map to the same
//! instant are one tick.
//!
//! **Missed ticks.** A tick is *on time* if it is handled within
//! [`ON_TIME`] of its instant; ticks older than that were missed while no
//! scheduler ran. What the schedule's [`Missed`] policy does with them is
//! in [`due`].

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::job::{NewJob, RunTarget};
use crate::store::export::decode;
use crate::store::{Busy, StoreError};

/// How late a tick may be handled and still be on time: a scheduler that
/// ran late by this much (a loaded host, a worker restarting) still runs
/// the tick under either [`Missed`] policy.
pub const ON_TIME: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error(
        "`{expr}` is not a cron pattern this drbook reads ({detail}): write five fields, minute hour \
         day-of-month month day-of-week, e.g. `0 3 1 * *` for 03:00 on the 1st of each month"
    )]
    Cron { expr: String, detail: String },
    #[error(
        "`{expr}` never ticks after {after}: pick a pattern that names a date that exists, e.g. `0 3 1 * *`"
    )]
    Never { expr: String, after: DateTime<Utc> },
    #[error(
        "`{zone}` is not a time zone drbook knows: write an IANA name such as `Europe/Berlin`, \
         `America/New_York` or `UTC`"
    )]
    TimeZone { zone: String },
    #[error("`{name}` is not a valid schedule name: use 1 to 64 letters, digits, `-`, `_` or `.`")]
    Name { name: String },
}

/// A cron pattern in a time zone, parsed.
#[derive(Debug, Clone)]
pub struct Cron {
    expr: String,
    zone: Tz,
    cron: croner::Cron,
}

impl Cron {
    /// Parses `expr` (five fields, or an alias such as `@daily`) for the
    /// IANA zone `zone`.
    pub fn parse(expr: &str, zone: &str) -> Result<Cron, ScheduleError> {
        let zone: Tz = zone.parse().map_err(|_| ScheduleError::TimeZone {
            zone: zone.to_string(),
        })?;
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build()
            .parse(expr)
            .map_err(|e| ScheduleError::Cron {
                expr: expr.to_string(),
                detail: e.to_string(),
            })?;
        Ok(Cron {
            expr: expr.to_string(),
            zone,
            cron,
        })
    }

    /// [`parse`](Self::parse), and checked to tick after `now` (`0 0 30 2 *`
    /// parses, and never ticks).
    pub fn parse_ticking(
        expr: &str,
        zone: &str,
        now: DateTime<Utc>,
    ) -> Result<Cron, ScheduleError> {
        let cron = Self::parse(expr, zone)?;
        if cron.next_after(now).is_none() {
            return Err(ScheduleError::Never {
                expr: expr.to_string(),
                after: now,
            });
        }
        Ok(cron)
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The first tick after `t`, if there is one (see the module docs for
    /// the local times a change of offset skips or repeats).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wall = t.with_timezone(&self.zone).naive_local();
        // Wall times at or before `t` are passed over: a repeated hour's
        // second copy maps to instants before `t`, a skipped hour's times to
        // the jump, which may be `t` itself. Bounded: a repeated hour holds
        // at most 60 minutes of ticks.
        for _ in 0..=60 * 24 {
            wall = self.cron.find_next_occurrence(&wall, false).ok()?;
            let instant = self.instant(wall)?;
            if instant > t {
                return Some(instant);
            }
        }
        None
    }

    /// The instant a local wall time names: its only one, its first if the
    /// clock shows it twice, the clock's jump if it skips it.
    fn instant(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.zone.from_local_datetime(&wall) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
            LocalResult::None => {
                // In a gap: the jump is the first local minute after `wall`
                // that exists (ticks are on minutes, gaps end on one, and
                // none is longer than a day: Samoa skipped one).
                let mut later = wall;
                for _ in 0..=24 * 60 {
                    later = later.checked_add_signed(chrono::TimeDelta::minutes(1))?;
                    if let Some(t) = self.zone.from_local_datetime(&later).earliest() {
                        return Some(t.with_timezone(&Utc));
                    }
                }
                None
            }
        }
    }

    /// The next `n` ticks after `t`.
    pub fn upcoming(&self, t: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        std::iter::successors(self.next_after(t), |&tick| self.next_after(tick))
            .take(n)
            .collect()
    }
}

/// What a schedule does with ticks missed while no scheduler ran
/// (`--missed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Missed {
    /// One job for the latest missed tick, however many were missed: a
    /// drill that was due while everything was down runs once, at start.
    #[default]
    RunOnce,
    /// No job: missed ticks are recorded as skipped, and the schedule waits
    /// for its next tick.
    Skip,
}

impl Missed {
    pub const NAMES: [&'static str; 2] = ["run-once", "skip"];

    pub fn name(self) -> &'static str {
        match self {
            Missed::RunOnce => "run-once",
            Missed::Skip => "skip",
        }
    }
}

impl std::str::FromStr for Missed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Missed::RunOnce, Missed::Skip]
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("`{s}` is not a missed-tick policy: write `run-once` or `skip`"))
    }
}

/// A schedule as the job store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub name: String,
    /// The cron pattern, as given.
    pub cron: String,
    /// The IANA time zone it is evaluated in.
    pub timezone: String,
    pub missed: Missed,
    /// What each tick runs: its module is pinned at creation and kept in
    /// the store (and from `prune`) while the schedule exists.
    pub run: RunTarget,
    pub paused: bool,
    pub created: DateTime<Utc>,
    pub created_by: String,
    /// The next tick to handle; `None` if the pattern never ticks again.
    /// Ticks before it were handled (fired or skipped), or fell while the
    /// schedule was paused or before it existed.
    pub next: Option<DateTime<Utc>>,
    /// The latest tick handled and what became of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<TickRecord>,
    /// The latest job a tick started: a tick while it has not ended is
    /// skipped (no two runs of a schedule overlap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_job: Option<String>,
}

impl Schedule {
    /// Whether `name` may name a schedule (it is in jobs' trigger labels).
    pub fn check_name(name: &str) -> Result<(), ScheduleError> {
        let valid = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid {
            return Err(ScheduleError::Name {
                name: name.to_string(),
            });
        }
        Ok(())
    }

    /// A row as both backends keep it ([`ScheduleRow`]): the schedule as
    /// created, with what changed since in the columns beside it.
    pub fn from_row(row: ScheduleRow) -> Result<Self, StoreError> {
        let (schedule, paused, next, last, last_job) = row;
        let mut schedule: Schedule = decode("schedule", &schedule)?;
        schedule.paused = paused;
        schedule.next = next.and_then(DateTime::from_timestamp_millis);
        schedule.last = last.map(|l| decode("schedule tick", &l)).transpose()?;
        schedule.last_job = last_job;
        Ok(schedule)
    }

    /// Its pattern and zone, parsed (checked when it was created).
    pub fn cron(&self) -> Result<Cron, ScheduleError> {
        Cron::parse(&self.cron, &self.timezone)
    }
}

/// A schedule's row in both backends: the schedule as created (JSON),
/// paused, its next tick (ms), its latest tick's record (JSON), its latest
/// job.
pub type ScheduleRow = (String, bool, Option<i64>, Option<String>, Option<String>);

/// A tick handled, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickRecord {
    /// The tick (when it was due).
    pub tick: DateTime<Utc>,
    /// When it was handled.
    pub at: DateTime<Utc>,
    pub outcome: TickOutcome,
}

/// What a tick did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum TickOutcome {
    /// It started `job`; `missed` earlier ticks were missed since the last
    /// one handled (run once for all of them, or skipped before an on-time
    /// tick).
    #[serde(rename_all = "camelCase")]
    Started { job: String, missed: u32 },
    /// Skipped: the schedule's previous job had not ended.
    #[serde(rename_all = "camelCase")]
    Overlap { job: String },
    /// Skipped: the plan was busy with another job (one job at a time
    /// changes a plan).
    #[serde(rename_all = "camelCase")]
    Busy { busy: Busy },
    /// Skipped: it and `missed` earlier ticks were missed while no
    /// scheduler ran, under [`Missed::Skip`].
    #[serde(rename_all = "camelCase")]
    Missed { missed: u32 },
}

impl TickOutcome {
    /// What a tick's start did once its job was placed as
    /// [`JobStore::admit`](crate::store::JobStore::admit) with
    /// [`OnBusy::Refuse`](crate::store::OnBusy::Refuse) places one: started,
    /// or skipped for the busy plan `placed` names.
    pub fn placed(job: NewJob<'_>, missed: u32, placed: Option<Busy>) -> TickOutcome {
        match placed {
            None => TickOutcome::Started {
                job: job.spec.job_id.clone(),
                missed,
            },
            Some(busy) => TickOutcome::Busy { busy },
        }
    }

    /// The job it started, if it started one.
    pub fn job(&self) -> Option<&str> {
        match self {
            TickOutcome::Started { job, .. } => Some(job),
            _ => None,
        }
    }
}

impl std::fmt::Display for TickOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TickOutcome::Started { job, missed: 0 } => write!(f, "started {job}"),
            TickOutcome::Started { job, missed } => {
                write!(f, "started {job}, once for {} ticks missed", missed + 1)
            }
            TickOutcome::Overlap { job } => {
                write!(f, "skipped: the previous run, {job}, had not ended")
            }
            TickOutcome::Busy { busy } => write!(f, "skipped: {busy}"),
            TickOutcome::Missed { missed } => write!(
                f,
                "skipped: missed while no scheduler ran ({} ticks; --missed skip)",
                missed + 1
            ),
        }
    }
}

/// What a scheduler does at `now` with a schedule whose next tick is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// The tick to handle: the latest at or before `now`.
    pub tick: DateTime<Utc>,
    /// How many ticks before it were missed (since the one that was next).
    pub missed: u32,
    /// Whether to start a job for it; if not, it is recorded as missed.
    pub start: bool,
    /// The schedule's next tick after `now`.
    pub next: Option<DateTime<Utc>>,
}

/// What to do at `now` for a schedule of `cron` whose next tick is `next`:
/// nothing if it is not due; else handle the latest tick due, which starts
/// a job if it is on time ([`ON_TIME`]) or if missed ticks run once, and is
/// recorded as missed under [`Missed::Skip`].
pub fn due(cron: &Cron, next: DateTime<Utc>, missed: Missed, now: DateTime<Utc>) -> Option<Due> {
    if next > now {
        return None;
    }
    // Counted one by one: a year of a minutely schedule's downtime is half
    // a million steps, once, when a scheduler starts again.
    let (mut tick, mut count) = (next, 0u32);
    let mut after = cron.next_after(next);
    while let Some(t) = after.filter(|t| *t <= now) {
        (tick, count) = (t, count.saturating_add(1));
        after = cron.next_after(t);
    }
    let on_time = (now - tick).to_std().unwrap_or_default() <= ON_TIME;
    Some(Due {
        tick,
        missed: count,
        start: on_time || missed == Missed::RunOnce,
        next: after,
    })
}

#[cfg(test)]
mod tests;
