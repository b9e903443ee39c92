//! The scheduler: fires the ticks of the job store's schedules
//! ([`drbook_core::schedule`]), in `drbook serve` and `drbook worker`.
//!
//! Every scheduler on a store looks at every schedule: there is no leader
//! to elect or lose. Each tick is handled once however many fire it, by the
//! store ([`JobStore::fire_ticks`]: a key per schedule and tick, in the
//! transaction that creates the job), so a scheduler may die, run late or
//! race others and no tick starts two jobs. [`Scheduler::tick`] is one pass
//! at a given `now` (what tests drive with a clock of their own);
//! [`Scheduler::run`] makes a pass, then sleeps until the earliest next tick
//! or a change, and again.

use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

use drbook_core::job::Trigger;
use drbook_core::schedule::{due as due_tick, TickOutcome, TickRecord};
use drbook_core::store::{JobStore, NewTick, StoreError};

/// How long the loop sleeps at most: schedules another process created,
/// paused or resumed are seen within it (SQLite tells no one of a change).
const POLL: Duration = Duration::from_secs(1);

/// How many ticks a pass fires in one store transaction: one durable commit
/// for many ticks (a pass with thousands due pays a handful of syncs), while
/// a transaction stays short enough not to hold up the store's other
/// writers (runs folding their journals, webhooks admitting jobs) for long.
const BATCH: usize = 500;

/// A tick a pass handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub schedule: String,
    pub record: TickRecord,
}

/// Fires the ticks of a store's schedules; cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    store: Arc<dyn JobStore>,
    /// Told when a tick created a job: this process's worker looks at once.
    wake: Option<Arc<Notify>>,
}

impl Scheduler {
    pub fn new(store: Arc<dyn JobStore>) -> Self {
        Scheduler { store, wake: None }
    }

    /// Wakes `wake` (a worker's, [`crate::WorkerOptions::wake`]) whenever a
    /// tick creates a job.
    pub fn waking(mut self, wake: Arc<Notify>) -> Self {
        self.wake = Some(wake);
        self
    }

    /// One pass at `now`: every schedule whose next tick is due handles its
    /// latest due tick (a job, or a skip with its reason), as
    /// [`drbook_core::schedule::due`] decides, [`BATCH`] ticks to a store
    /// transaction. A schedule that cannot be fired (its pattern no longer
    /// parses, a store error on its tick) is logged and left for the next
    /// pass; the others go on. Returns the ticks this pass handled (not
    /// those another scheduler did).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Vec<Fired>, StoreError> {
        let mut due = Vec::new();
        for schedule in self.store.schedules(Some(now)).await? {
            let Some(next) = schedule.next else { continue };
            let cron = match schedule.cron() {
                Ok(cron) => cron,
                Err(e) => {
                    tracing::warn!(schedule = %schedule.name, "schedule cannot be evaluated: {e}");
                    continue;
                }
            };
            if let Some(tick) = due_tick(&cron, next, schedule.missed, now) {
                let spec = tick.start.then(|| {
                    let trigger = Trigger::Schedule {
                        name: schedule.name.clone(),
                        tick: tick.tick,
                    };
                    schedule.run.spec(trigger, schedule.run.parameters.clone())
                });
                due.push((schedule, tick, spec));
            }
        }
        let mut fired = Vec::new();
        for batch in due.chunks(BATCH) {
            let ticks: Vec<_> = batch
                .iter()
                .map(|(schedule, due, spec)| NewTick {
                    schedule: &schedule.name,
                    tick: due.tick,
                    missed: due.missed,
                    job: spec.as_ref().map(|spec| schedule.run.job(spec)),
                    next: due.next,
                    at: now,
                })
                .collect();
            for (tick, record) in self.fire(&ticks).await? {
                log(tick.schedule, &record);
                fired.push(Fired {
                    schedule: tick.schedule.to_string(),
                    record,
                });
            }
        }
        if let Some(wake) = &self.wake {
            if fired.iter().any(|f| f.record.outcome.job().is_some()) {
                wake.notify_one();
            }
        }
        Ok(fired)
    }

    /// Fires `ticks` in one transaction, or, if that fails (not for the
    /// store being unavailable), each alone: a tick that fails is logged and
    /// left for the next pass, the others are handled. Returns the ticks this scheduler
    /// handled (another may have handled the others, or a schedule been
    /// paused meanwhile), with their records.
    async fn fire<'t>(
        &self,
        ticks: &'t [NewTick<'t>],
    ) -> Result<Vec<(&'t NewTick<'t>, TickRecord)>, StoreError> {
        let records = match self.store.fire_ticks(ticks).await {
            Ok(records) => records,
            Err(e) if e.is_unavailable() => return Err(e),
            Err(e) => {
                tracing::warn!(
                    "{} ticks not fired together, firing each alone: {e}",
                    ticks.len()
                );
                let mut records = Vec::with_capacity(ticks.len());
                for tick in ticks {
                    records.push(match self.store.fire_tick(*tick).await {
                        Ok(record) => record,
                        Err(e) if e.is_unavailable() => return Err(e),
                        Err(e) => {
                            tracing::warn!(schedule = %tick.schedule, tick = %tick.tick, "tick not fired: {e}");
                            None
                        }
                    });
                }
                records
            }
        };
        Ok(ticks
            .iter()
            .zip(records)
            .filter_map(|(tick, record)| Some((tick, record?)))
            .collect())
    }

    /// [`run`](Self::run) on a task of its own, until aborted.
    pub fn spawn(self) -> tokio::task::AbortHandle {
        tokio::spawn(async move { self.run(std::future::pending()).await }).abort_handle()
    }

    /// Passes until `shutdown` resolves, each followed by a sleep until the
    /// earliest next tick, a change the store announces, or [`POLL`]. A
    /// store that cannot be reached is logged and tried again at the next
    /// pass: what was due then is handled late (on time within
    /// [`drbook_core::schedule::ON_TIME`], else by its missed-tick policy).
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let changed = self.store.changed();
            if let Err(e) = self.tick(Utc::now()).await {
                tracing::warn!("scheduler: {e}");
            }
            let sleep = match self.store.next_tick().await {
                Ok(Some(next)) => (next - Utc::now()).to_std().unwrap_or_default().min(POLL),
                Ok(None) | Err(_) => POLL,
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = changed => {}
                _ = shutdown.as_mut() => return,
            }
        }
    }
}

/// A tick's record in the log: a start at info, a skip (with why) at warn.
fn log(schedule: &str, record: &TickRecord) {
    let tick = record.tick;
    match &record.outcome {
        outcome @ TickOutcome::Started { .. } => {
            tracing::info!(schedule, %tick, "schedule {schedule}: {outcome}")
        }
        outcome => tracing::warn!(schedule, %tick, "schedule {schedule}: {outcome}"),
    }
}

#[cfg(test)]
mod tests;
