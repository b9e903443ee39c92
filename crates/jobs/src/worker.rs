//! A worker runs jobs from the job store: new ones, interrupted ones (their
//! lease expired: the host that ran them died), and unloaded ones whose wait
//! is over. A lease in the store keeps two workers from running one job; the
//! worker renews the leases of the jobs it runs and passes stop requests on.
//!
//! `drbook run` is a worker restricted to the job it just created.
//!
//! An outage of the store (PostgreSQL restarting, a connection lost:
//! [`StoreError::is_unavailable`]) is ridden out: the worker warns once,
//! asks again with a capped backoff, and goes on where it was when the store
//! is back, renewing its leases first. The runs it holds go on meanwhile
//! until their next intent: one that cannot be committed (the pool found no
//! server within its timeout) stops its run where it is, before the
//! operation ([`ExecuteError::Interrupted`]), and its job is released, not
//! failed, and resumed by replay. A run whose lease lapsed during the outage and whose
//! job another worker took writes nothing more (fencing) and is dropped.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use super::memory;
use super::runner::{execute, wake_ready, ExecuteError, Execution};
use drbook_core::job::JobStatus;
use drbook_core::lease::Lease;
use drbook_core::store::StoreError;
use drbook_runtime::{JobOutcome, StopSignal};

/// How often a worker asks the job store for its upkeep
/// ([`JobStore::maintain`](drbook_core::store::JobStore::maintain)).
const MAINTAIN_EVERY: Duration = Duration::from_secs(1);

/// How long a worker waits before asking an unreachable store again, at
/// first; it doubles at each failure, up to [`RETRY_AT_MOST`]: soon back
/// after a restart, and no flood of connection attempts during a long
/// outage.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_AT_MOST: Duration = Duration::from_secs(5);

/// Why the worker's loop stopped short of its end.
enum Halt {
    Store(StoreError),
    /// Shutdown came while the worker waited for an unreachable store.
    Shutdown,
}

impl From<StoreError> for Halt {
    fn from(e: StoreError) -> Self {
        Halt::Store(e)
    }
}

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// This worker's name in leases: unique per process.
    pub owner: String,
    /// How long a lease lasts without renewal: how soon another worker takes
    /// over the jobs of a worker that died.
    pub lease: Duration,
    /// Jobs loaded at once (unloaded, waiting jobs do not count).
    pub concurrency: usize,
    /// How often the store is polled.
    pub poll: Duration,
    /// Run only this job; return when it ends.
    pub only: Option<String>,
    /// Return when no job is left to run or wait for.
    pub exit_when_idle: bool,
    /// Look at the store now, without waiting for the next poll: whoever
    /// creates a job in this process notifies it (`drbook serve`).
    pub wake: Option<Arc<Notify>>,
}

impl WorkerOptions {
    pub fn new(owner: String) -> Self {
        WorkerOptions {
            owner,
            lease: Duration::from_secs(30),
            concurrency: 64,
            poll: Duration::from_millis(100),
            only: None,
            exit_when_idle: false,
            wake: None,
        }
    }
}

/// How the worker saw a job end, for its log.
pub type Report = Box<dyn Fn(&str, &Result<JobOutcome, ExecuteError>) + Send + Sync>;

pub struct Worker {
    exec: Execution,
    options: WorkerOptions,
    report: Report,
}

struct Loaded {
    task: JoinHandle<Result<JobOutcome, ExecuteError>>,
    stop: StopSignal,
    /// The lease it runs under (the worker's, or an earlier one that lapsed).
    lease: Lease,
}

/// Tells the worker's loop that a run's task ends, when dropped: as the task
/// returns or unwinds. The loop then awaits the task, finished or about to be.
struct RunEnded {
    to: tokio::sync::mpsc::UnboundedSender<String>,
    id: String,
}

impl Drop for RunEnded {
    fn drop(&mut self) {
        // The loop has gone (shutdown): nobody to tell.
        let _ = self.to.send(std::mem::take(&mut self.id));
    }
}

impl Worker {
    pub fn new(exec: Execution, options: WorkerOptions, report: Report) -> Self {
        Worker {
            exec,
            options,
            report,
        }
    }

    fn wanted(&self, id: &str) -> bool {
        self.options.only.as_deref().is_none_or(|only| only == id)
    }

    /// Makes `call` until the store answers it, waiting between attempts
    /// while the store is unreachable (from [`RETRY_FIRST`], doubling, at
    /// most [`RETRY_AT_MOST`]): one warning when the outage begins, one line
    /// when it ends, however many attempts it took. The worker's calls are
    /// made one at a time, so an outage is one call's retries. Other errors
    /// are returned at once; `shutdown` ends the wait.
    async fn retrying<T, F, Fut, S>(
        &self,
        shutdown: &mut Pin<&mut S>,
        mut call: F,
    ) -> Result<T, Halt>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
        S: Future<Output = ()>,
    {
        let mut wait = RETRY_FIRST;
        let mut outage: Option<Instant> = None;
        loop {
            let asked = Instant::now();
            match call().await {
                Ok(answer) => {
                    if let Some(since) = outage {
                        // At the warning's level: whoever saw the outage
                        // sees its end.
                        tracing::warn!(
                            "the job store at {} is back after {:.1?}; going on",
                            self.exec.store.location(),
                            since.elapsed()
                        );
                    }
                    return Ok(answer);
                }
                Err(e) if e.is_unavailable() => {
                    if outage.is_none() {
                        tracing::warn!(
                            "{e}; this worker keeps its jobs and asks again, every {RETRY_AT_MOST:?} at most"
                        );
                        // A call may wait for the store before it fails
                        // (a pool connecting): the outage began as it was made.
                        outage = Some(asked);
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = shutdown.as_mut() => return Err(Halt::Shutdown),
                    }
                    wait = (wait * 2).min(RETRY_AT_MOST);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Renews `lease`, or replaces it if it lapsed (this worker stalled past
    /// it, or the store was unreachable for longer than it): the runs under
    /// the old one stop at their next write and end, and their jobs are
    /// resumed by whoever claims them next.
    async fn renew<S: Future<Output = ()>>(
        &self,
        shutdown: &mut Pin<&mut S>,
        lease: &mut Lease,
        generation: &mut u32,
    ) -> Result<(), Halt> {
        let store = &self.exec.store;
        let current = lease.clone();
        if !self.retrying(shutdown, || store.renew(&current)).await? {
            *generation += 1;
            let owner = format!("{}.{generation}", self.options.owner);
            let fresh = Lease::new(owner, self.options.lease);
            self.retrying(shutdown, || store.renew(&fresh)).await?;
            *lease = fresh;
        }
        Ok(())
    }

    /// Runs jobs until `shutdown` resolves (or, with `only`, until that job
    /// ends: its last outcome is returned). On shutdown the jobs under way
    /// are dropped where they are: their journals make them resumable.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Option<JobOutcome>, StoreError> {
        tokio::pin!(shutdown);
        let mut loaded: HashMap<String, Loaded> = HashMap::new();
        match self.work(&mut shutdown, &mut loaded).await {
            Ok(outcome) => Ok(outcome),
            Err(Halt::Store(e)) => Err(e),
            // Stopped while the store was unreachable: the runs end here and
            // their leases lapse, as if this host had died.
            Err(Halt::Shutdown) => {
                for (_, job) in loaded.drain() {
                    job.task.abort();
                }
                Ok(None)
            }
        }
    }

    async fn work<S: Future<Output = ()>>(
        &self,
        shutdown: &mut Pin<&mut S>,
        loaded: &mut HashMap<String, Loaded>,
    ) -> Result<Option<JobOutcome>, Halt> {
        let store = &self.exec.store;
        let mut lease = Lease::new(self.options.owner.as_str(), self.options.lease);
        let mut generation = 0;
        self.renew(shutdown, &mut lease, &mut generation).await?;
        // What a killed worker may have left behind for jobs that ended.
        self.retrying(shutdown, || store.tidy()).await?;
        // Each run sends its job's id as its task ends (panicking or not),
        // so the loop deals with it at once: a wake-up alone could come
        // before the task counts as finished, be used up, and leave the
        // job's end to the next poll.
        let (ended, mut ends) = tokio::sync::mpsc::unbounded_channel::<String>();
        let mut ended_ids: Vec<String> = Vec::new();
        let mut renewed = Instant::now();
        let mut maintained = Instant::now();
        let mut upkeep: Option<JoinHandle<Result<(), StoreError>>> = None;
        // Whether runs ended since the last upkeep (which then trims memory).
        let mut runs_ended = false;
        let mut woken = Instant::now() - Duration::from_secs(3600);
        loop {
            // Armed before this pass looks at the store: a job made
            // runnable while it looks wakes the next wait, not the poll.
            let changed = store.changed();
            while let Ok(id) = ends.try_recv() {
                ended_ids.push(id);
            }
            for id in std::mem::take(&mut ended_ids) {
                let Some(job) = loaded.remove(&id) else {
                    continue;
                };
                runs_ended = true;
                let result = job.task.await.unwrap_or_else(|panic| {
                    Err(ExecuteError::Store(StoreError::Decode {
                        what: "job task",
                        detail: panic.to_string(),
                    }))
                });
                self.retrying(shutdown, || store.release(&id, job.lease.owner()))
                    .await?;
                (self.report)(&id, &result);
                if let Err(e) = &result {
                    // A job that cannot run at all (its module, its store)
                    // must not be retried forever; one that ended, that
                    // another worker took over, or whose run the store's
                    // outage stopped, is not this worker's to fail.
                    if !e.leaves_job() {
                        let reason = e.to_string();
                        self.retrying(shutdown, || {
                            store.finish(
                                &id,
                                JobStatus::Failed,
                                Some(&reason),
                                &serde_json::Value::Null,
                            )
                        })
                        .await?;
                    }
                }
                if self.options.only.as_deref() == Some(id.as_str()) {
                    match &result {
                        Ok(outcome) if outcome.status.is_terminal() => {
                            return Ok(Some(outcome.clone()));
                        }
                        Ok(_) => {}
                        // Lost while this process stalled, or stopped by the
                        // store's outage: claimed again below, unless
                        // another worker has it now.
                        Err(e) if e.leaves_job() && !matches!(e, ExecuteError::Ended { .. }) => {}
                        Err(_) => return Ok(None),
                    }
                }
            }

            if !loaded.is_empty() {
                let ids: Vec<String> = loaded.keys().cloned().collect();
                for (id, by) in self
                    .retrying(shutdown, || store.stops_requested(&ids))
                    .await?
                {
                    if let Some(job) = loaded.get(&id) {
                        job.stop.stop(&by);
                    }
                }
            }

            // Unloaded jobs whose wait is over become runnable again. Their
            // conditions are checked less often than the store is polled.
            if woken.elapsed() >= self.options.poll * 5 {
                woken = Instant::now();
                for (id, wake) in self.retrying(shutdown, || store.waiting()).await? {
                    let fabric = self.exec.fabric.as_ref();
                    if self.wanted(&id)
                        && self
                            .retrying(shutdown, || wake_ready(store.as_ref(), fabric, &id, &wake))
                            .await?
                    {
                        self.retrying(shutdown, || store.wake(&id)).await?;
                    }
                    // Thousands of waiting jobs take a while to check: the
                    // leases of the loaded ones must not lapse meanwhile.
                    if renewed.elapsed() >= self.options.lease / 3 {
                        self.renew(shutdown, &mut lease, &mut generation).await?;
                        renewed = Instant::now();
                    }
                }
            }

            let free = self.options.concurrency.saturating_sub(loaded.len());
            if free > 0 {
                let now = chrono::Utc::now();
                for id in self
                    .retrying(shutdown, || store.runnable(now, free))
                    .await?
                {
                    if !self.wanted(&id)
                        || loaded.contains_key(&id)
                        || !self.retrying(shutdown, || store.claim(&id, &lease)).await?
                    {
                        continue;
                    }
                    let stop = StopSignal::default();
                    let (exec, job_id, signal) = (self.exec.clone(), id.clone(), stop.clone());
                    let held = lease.clone();
                    // Everything the run logs (its host calls, its store and
                    // fabric calls) is in the job's span.
                    let span = tracing::info_span!("job", job = %id, lease = %lease.owner());
                    let ended = RunEnded {
                        to: ended.clone(),
                        id: id.clone(),
                    };
                    let task = tokio::spawn(
                        async move {
                            let _ended = ended;
                            execute(&exec, &job_id, &held, signal).await
                        }
                        .instrument(span),
                    );
                    loaded.insert(
                        id,
                        Loaded {
                            task,
                            stop,
                            lease: lease.clone(),
                        },
                    );
                }
            }

            if renewed.elapsed() >= self.options.lease / 3 {
                self.renew(shutdown, &mut lease, &mut generation).await?;
                renewed = Instant::now();
            }

            if maintained.elapsed() >= MAINTAIN_EVERY
                && upkeep.as_ref().is_none_or(|c| c.is_finished())
            {
                let store = store.clone();
                let trim = std::mem::take(&mut runs_ended);
                upkeep = Some(tokio::spawn(async move {
                    store.maintain().await?;
                    if trim {
                        // A panic in it is no reason to stop the worker.
                        let _ = drbook_core::blocking::call(memory::give_back).await;
                    }
                    Ok(())
                }));
                maintained = Instant::now();
            }

            if loaded.is_empty() {
                if let Some(only) = &self.options.only {
                    let job = self.retrying(shutdown, || store.get(only)).await?;
                    if job.is_terminal() {
                        return Ok(None);
                    }
                } else if self.options.exit_when_idle
                    && {
                        let later = chrono::Utc::now() + self.options.lease;
                        self.retrying(shutdown, || store.runnable(later, 1))
                            .await?
                            .is_empty()
                    }
                    && self
                        .retrying(shutdown, || store.waiting())
                        .await?
                        .is_empty()
                {
                    return Ok(None);
                }
            }

            let woken_up = async {
                match &self.options.wake {
                    Some(wake) => wake.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(self.options.poll) => {}
                _ = woken_up => {}
                // Another process or host made a job runnable (PostgreSQL's
                // NOTIFY); the poll above stays for a wake-up that was lost.
                _ = changed => {}
                Some(id) = ends.recv() => ended_ids.push(id),
                _ = shutdown.as_mut() => {
                    for (id, job) in loaded.drain() {
                        job.task.abort();
                        match store.release(&id, job.lease.owner()).await {
                            // Its lease lapses instead: shutdown does not
                            // wait for the store.
                            Err(e) if e.is_unavailable() => {}
                            released => released?,
                        }
                    }
                    return Ok(None);
                }
            }
        }
    }
}
