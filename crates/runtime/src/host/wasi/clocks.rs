//! `wasi:clocks`: what std's `SystemTime::now` and `Instant::now` read, and
//! the timers its `thread::sleep` waits on. Each read is journaled: a live
//! run reads the host's clocks, a replay is handed what the live run read.
//!
//! The monotonic clock is the job's: nanoseconds since the job first
//! started, so that it goes on across unloads, restarts and hosts (a
//! runbook that measures a wait sees all of it), and never goes back from a
//! time it showed the runbook (a replay shows the journaled times; live
//! reads go on from the last of them). WASI time is real time: the
//! simulator's speed scales `clock.sleep`, not these.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, TimeDelta, Utc};
use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::clocks::{monotonic_clock, wall_clock};
use wasmtime_wasi::p2::{subscribe, DynPollable, Pollable};

use crate::state::InstanceState;
use drbook_core::journal::Call;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

impl wall_clock::Host for InstanceState {
    fn now(&mut self) -> wasmtime::Result<wall_clock::Datetime> {
        let nanos: u64 = self.journaled_now(Call::WallClock, |_| {
            let since_epoch = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            Ok(u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX))
        })?;
        Ok(wall_clock::Datetime {
            seconds: nanos / NANOS_PER_SECOND,
            nanoseconds: (nanos % NANOS_PER_SECOND) as u32,
        })
    }

    /// A constant, so that a replay shows the same.
    fn resolution(&mut self) -> wasmtime::Result<wall_clock::Datetime> {
        Ok(wall_clock::Datetime {
            seconds: 0,
            nanoseconds: 1,
        })
    }
}

impl monotonic_clock::Host for InstanceState {
    fn now(&mut self) -> wasmtime::Result<u64> {
        self.monotonic_read(Call::MonotonicClock)
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(1)
    }

    /// A timer until `end`, a time the runbook chose: nothing to journal.
    fn subscribe_instant(&mut self, end: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.timer(end)
    }

    /// A timer from now: the time now is journaled, so that a replay's timer
    /// ends when the live run's did.
    fn subscribe_duration(&mut self, nanos: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let now = self.monotonic_read(Call::Timer { nanos })?;
        self.timer(now.saturating_add(nanos))
    }
}

impl InstanceState {
    /// The job's monotonic time, read live or replayed, for `call`.
    fn monotonic_read(&mut self, call: Call) -> wasmtime::Result<u64> {
        let now = self.journaled_now(call, |live| Ok(live.clock.read()))?;
        self.live.clock.shown(now);
        Ok(now)
    }

    /// A pollable ready once the job's monotonic clock reaches `end`.
    fn timer(&mut self, end: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let timer = Timer {
            end,
            clock: self.live.clock.clone(),
        };
        let timer = self.table.push(timer)?;
        let pollable = subscribe(&mut self.table, timer)?;
        self.timers.insert(pollable.rep(), end);
        Ok(pollable)
    }
}

/// The job's monotonic clock (see the module docs). A cheap clone.
#[derive(Clone)]
pub(crate) struct JobClock(Arc<Anchor>);

struct Anchor {
    /// An instant of this run on this host's monotonic clock, and the job's
    /// time then.
    instant: Instant,
    time: u64,
    /// The latest time shown to the runbook.
    shown: AtomicU64,
}

impl JobClock {
    /// The clock of a job that first started at `started`.
    pub fn new(started: DateTime<Utc>) -> Self {
        let since = (Utc::now() - started).to_std().unwrap_or(Duration::ZERO);
        JobClock(Arc::new(Anchor {
            instant: Instant::now(),
            time: nanos(since),
            shown: AtomicU64::new(0),
        }))
    }

    /// The time now, without showing it to the runbook.
    pub fn peek(&self) -> u64 {
        let Anchor {
            instant,
            time,
            shown,
        } = &*self.0;
        time.saturating_add(nanos(instant.elapsed()))
            .max(shown.load(Ordering::Relaxed))
    }

    /// The time now, to show the runbook.
    pub fn read(&self) -> u64 {
        let now = self.peek();
        self.shown(now);
        now
    }

    /// Notes that the runbook was shown `time` (read live, or replayed): the
    /// clock never shows it less.
    pub fn shown(&self, time: u64) {
        self.0.shown.fetch_max(time, Ordering::Relaxed);
    }

    /// When, on the wall clock, this clock reaches `time`; `None`: never (past
    /// what a date holds).
    pub fn wall(&self, time: u64) -> Option<DateTime<Utc>> {
        let left = time.saturating_sub(self.peek());
        let left = TimeDelta::from_std(Duration::from_nanos(left)).ok()?;
        Utc::now().checked_add_signed(left)
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// A WASI timer: ready once the job's clock reaches `end`.
struct Timer {
    end: u64,
    clock: JobClock,
}

#[async_trait::async_trait]
impl Pollable for Timer {
    async fn ready(&mut self) {
        loop {
            let now = self.clock.peek();
            if now >= self.end {
                return;
            }
            tokio::time::sleep(Duration::from_nanos(self.end - now)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = NANOS_PER_SECOND;

    #[test]
    fn the_jobs_clock_counts_from_its_first_start_and_never_goes_back() {
        let started = Utc::now() - TimeDelta::seconds(10);
        let clock = JobClock::new(started);
        let first = clock.read();
        assert!((10 * SECOND..11 * SECOND).contains(&first), "{first}");
        assert!(clock.read() >= first);

        // A replay showed the runbook a time past this host's reckoning
        // (another host's clock ran ahead): live reads go on from it.
        clock.shown(100 * SECOND);
        assert!(clock.read() >= 100 * SECOND);
        assert!(clock.peek() >= 100 * SECOND);

        // A job started later than now (clocks apart) starts at zero.
        let ahead = JobClock::new(Utc::now() + TimeDelta::seconds(60));
        assert!(ahead.read() < SECOND);
    }

    #[test]
    fn a_time_maps_to_the_wall_clock() {
        let clock = JobClock::new(Utc::now());
        let now = clock.peek();
        let wall = clock.wall(now + 60 * SECOND).unwrap();
        let left = (wall - Utc::now()).num_seconds();
        assert!((59..=60).contains(&left), "{left}");
        // Past what a date holds, or almost: far past any deadline, never
        // an error.
        assert!(clock
            .wall(u64::MAX)
            .is_none_or(|wall| wall > Utc::now() + TimeDelta::days(365)));
    }
}
