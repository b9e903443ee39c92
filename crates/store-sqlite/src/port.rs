//! The [`JobStore`] port on SQLite. SQLite is synchronous, and a call may
//! wait for another process's lock or for a sync to disk; no call waits on an
//! async worker thread. Each is first tried in place under the promise not to
//! wait ([`inline`]: a free connection, no busy timeout, no sync), which is
//! what almost every call is (a short read, or a write to the page cache),
//! and made again off the async threads ([`drbook_core::blocking`]) only if
//! it would have waited. Calls that always sync (an intent, a run's end, the
//! housekeeping) go off the async threads at once. A plain journal append of
//! a running job is a page-cache write to its spool, made where the host
//! call is.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

use crate::db::{inline, Result, SqliteStore};
use crate::jobs::{finish, set_waiting};
use crate::spool::Spool;
use drbook_core::job::{Admission, Approval, JobRecord, JobSpec, JobStatus, NewJob, Wake};
use drbook_core::journal::{Entry, Record};
use drbook_core::lease::Lease;
use drbook_core::retry::Attempt;
use drbook_core::schedule::{Schedule, TickRecord};
use drbook_core::store::export::{Export, Item};
use drbook_core::store::{
    workers_from, Busy, JobFilter, JobPage, JobStore, NewTick, NewWebhookRow, OnBusy, PageCursor,
    RunEnd, RunLog, StoreError, WorkerRow,
};
use drbook_core::token::{StoredSession, StoredToken};
use drbook_core::webhook::{
    AlertRecord, Message, NewDelivery, Recorded, StoredWebhook, WebhookModule,
};

/// Runs `f` off the async threads ([`drbook_core::blocking`]).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::result::Result<T, StoreError> {
    match drbook_core::blocking::call(f).await {
        Ok(result) => result.map_err(Into::into),
        Err(panic) => Err(StoreError::Backend(format!(
            "a job store call failed: {panic}"
        ))),
    }
}

impl SqliteStore {
    /// Makes `f` in place if it need not wait ([`inline`]), else off the
    /// async threads.
    async fn call<T: Send + 'static>(
        &self,
        f: impl Fn(&SqliteStore) -> Result<T> + Send + 'static,
    ) -> std::result::Result<T, StoreError> {
        if let Some(result) = inline(|| f(self)) {
            return result.map_err(Into::into);
        }
        self.off_thread(f).await
    }

    /// Makes `f` off the async threads: for what always waits on the disk.
    async fn off_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce(&SqliteStore) -> Result<T> + Send + 'static,
    ) -> std::result::Result<T, StoreError> {
        let store = self.clone();
        blocking(move || f(&store)).await
    }
}

/// A job to create, owned, for a call off the async threads.
struct OwnedJob {
    digest: String,
    runbook: String,
    spec: JobSpec,
}

impl OwnedJob {
    fn new(job: NewJob<'_>) -> Self {
        OwnedJob {
            digest: job.digest.to_string(),
            runbook: job.runbook.to_string(),
            spec: job.spec.clone(),
        }
    }

    fn borrow(&self) -> NewJob<'_> {
        NewJob {
            digest: &self.digest,
            runbook: &self.runbook,
            spec: &self.spec,
        }
    }
}

/// A schedule's tick to handle, owned, for a call off the async threads.
struct OwnedTick {
    schedule: String,
    job: Option<OwnedJob>,
    tick: DateTime<Utc>,
    missed: u32,
    next: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
}

impl OwnedTick {
    fn new(t: &NewTick<'_>) -> Self {
        OwnedTick {
            schedule: t.schedule.to_string(),
            job: t.job.map(OwnedJob::new),
            tick: t.tick,
            missed: t.missed,
            next: t.next,
            at: t.at,
        }
    }

    fn borrow(&self) -> NewTick<'_> {
        NewTick {
            schedule: &self.schedule,
            tick: self.tick,
            missed: self.missed,
            job: self.job.as_ref().map(OwnedJob::borrow),
            next: self.next,
            at: self.at,
        }
    }
}

#[async_trait]
impl JobStore for SqliteStore {
    fn location(&self) -> String {
        self.file().display().to_string()
    }

    async fn create(&self, job: NewJob<'_>, module: &[u8]) -> std::result::Result<(), StoreError> {
        let (job, module) = (OwnedJob::new(job), module.to_vec());
        self.off_thread(move |store| store.create(job.borrow(), &module))
            .await
    }

    async fn admit(
        &self,
        job: NewJob<'_>,
        module: &[u8],
        on_busy: OnBusy,
    ) -> std::result::Result<Option<Busy>, StoreError> {
        let (job, module) = (OwnedJob::new(job), module.to_vec());
        self.off_thread(move |store| store.admit(job.borrow(), &module, on_busy))
            .await
    }

    async fn get(&self, id: &str) -> std::result::Result<JobRecord, StoreError> {
        let id = id.to_string();
        self.call(move |store| store.get(&id)).await
    }

    async fn list(
        &self,
        state: Option<JobStatus>,
        limit: usize,
    ) -> std::result::Result<Vec<JobRecord>, StoreError> {
        self.call(move |store| store.list(state, limit)).await
    }

    async fn page(
        &self,
        filter: &JobFilter,
        after: Option<&PageCursor>,
        limit: usize,
    ) -> std::result::Result<JobPage, StoreError> {
        let (filter, after) = (filter.clone(), after.cloned());
        self.call(move |store| store.page(&filter, after.as_ref(), limit))
            .await
    }

    async fn count_by_status(&self) -> std::result::Result<Vec<(JobStatus, u64)>, StoreError> {
        self.call(move |store| store.count_by_status()).await
    }

    async fn module(&self, job: &JobRecord) -> std::result::Result<Vec<u8>, StoreError> {
        let job = job.clone();
        self.call(move |store| store.module(&job)).await
    }

    async fn repin(
        &self,
        id: &str,
        digest: &str,
        module: &[u8],
        admission: &Admission,
    ) -> std::result::Result<(), StoreError> {
        let (id, digest, module) = (id.to_string(), digest.to_string(), module.to_vec());
        let admission = admission.clone();
        self.call(move |store| store.repin(&id, &digest, &module, &admission))
            .await
    }

    async fn runnable(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> std::result::Result<Vec<String>, StoreError> {
        self.call(move |store| store.runnable(now, limit)).await
    }

    async fn waiting(&self) -> std::result::Result<Vec<(String, Wake)>, StoreError> {
        self.call(move |store| store.waiting()).await
    }

    async fn wake(&self, id: &str) -> std::result::Result<(), StoreError> {
        let id = id.to_string();
        self.call(move |store| store.set_running(&id)).await
    }

    async fn finish(
        &self,
        id: &str,
        state: JobStatus,
        reason: Option<&str>,
        result: &serde_json::Value,
    ) -> std::result::Result<(), StoreError> {
        let (id, reason, result) = (id.to_string(), reason.map(str::to_string), result.clone());
        self.call(move |store| store.finish(&id, state, reason.as_deref(), &result))
            .await
    }

    async fn retry(
        &self,
        id: &str,
        by: &str,
        cut: usize,
    ) -> std::result::Result<Attempt, StoreError> {
        let (id, by) = (id.to_string(), by.to_string());
        self.off_thread(move |store| store.retry(&id, &by, cut))
            .await
    }

    async fn prune(&self, before: DateTime<Utc>) -> std::result::Result<usize, StoreError> {
        self.call(move |store| store.prune(before)).await
    }

    async fn claim(&self, id: &str, lease: &Lease) -> std::result::Result<bool, StoreError> {
        let (id, lease) = (id.to_string(), lease.clone());
        self.call(move |store| store.claim(&id, &lease)).await
    }

    async fn renew(&self, lease: &Lease) -> std::result::Result<bool, StoreError> {
        let lease = lease.clone();
        self.call(move |store| store.renew(&lease)).await
    }

    async fn workers(
        &self,
        lapsed_within: std::time::Duration,
    ) -> std::result::Result<Vec<WorkerRow>, StoreError> {
        let rows = self.call(move |store| store.lease_rows()).await?;
        Ok(workers_from(
            rows,
            Utc::now().timestamp_millis(),
            lapsed_within,
        ))
    }

    async fn release(&self, id: &str, owner: &str) -> std::result::Result<(), StoreError> {
        let (id, owner) = (id.to_string(), owner.to_string());
        self.call(move |store| store.release(&id, &owner)).await
    }

    async fn open_run(
        &self,
        id: &str,
        lease: &Lease,
    ) -> std::result::Result<(Arc<dyn RunLog>, Vec<Entry>), StoreError> {
        let (id, lease) = (id.to_string(), lease.clone());
        let (spool, entries) = self
            .call(move |store| store.open_spool(&id, &lease))
            .await?;
        Ok((Arc::new(Run(spool)), entries))
    }

    async fn tidy(&self) -> std::result::Result<usize, StoreError> {
        self.off_thread(|store| store.tidy_spools()).await
    }

    async fn maintain(&self) -> std::result::Result<(), StoreError> {
        self.off_thread(|store| store.checkpoint()).await
    }

    async fn export(&self) -> std::result::Result<Export, StoreError> {
        self.off_thread(SqliteStore::export).await
    }

    async fn import(&self, items: Vec<Item>) -> std::result::Result<(), StoreError> {
        self.off_thread(move |store| SqliteStore::import(store, &items))
            .await
    }

    async fn journal(&self, id: &str) -> std::result::Result<Vec<Entry>, StoreError> {
        let id = id.to_string();
        self.call(move |store| store.journal(&id)).await
    }

    async fn streams(
        &self,
        id: &str,
        after: i64,
    ) -> std::result::Result<Vec<(i64, Record)>, StoreError> {
        let id = id.to_string();
        self.call(move |store| store.streams(&id, after)).await
    }

    async fn decide(
        &self,
        id: &str,
        journal_seq: usize,
        approval: &Approval,
    ) -> std::result::Result<(), StoreError> {
        let (id, approval) = (id.to_string(), approval.clone());
        self.call(move |store| store.decide(&id, journal_seq, &approval))
            .await
    }

    async fn decision(
        &self,
        id: &str,
        journal_seq: usize,
    ) -> std::result::Result<Option<Approval>, StoreError> {
        let id = id.to_string();
        self.call(move |store| store.decision(&id, journal_seq))
            .await
    }

    async fn request_stop(&self, id: &str, by: &str) -> std::result::Result<(), StoreError> {
        let (id, by) = (id.to_string(), by.to_string());
        self.call(move |store| store.request_stop(&id, &by)).await
    }

    async fn stops_requested(
        &self,
        ids: &[String],
    ) -> std::result::Result<Vec<(String, String)>, StoreError> {
        let ids = ids.to_vec();
        self.call(move |store| store.stops_requested(&ids)).await
    }

    async fn create_schedule(
        &self,
        schedule: &Schedule,
        module: &[u8],
    ) -> std::result::Result<bool, StoreError> {
        let (schedule, module) = (schedule.clone(), module.to_vec());
        self.call(move |store| store.create_schedule(&schedule, &module))
            .await
    }

    async fn schedule(&self, name: &str) -> std::result::Result<Option<Schedule>, StoreError> {
        let name = name.to_string();
        self.call(move |store| store.schedule(&name)).await
    }

    async fn schedules(
        &self,
        due_by: Option<DateTime<Utc>>,
    ) -> std::result::Result<Vec<Schedule>, StoreError> {
        let due_by = due_by.map(|t| t.timestamp_millis());
        self.call(move |store| store.schedules(due_by)).await
    }

    async fn next_tick(&self) -> std::result::Result<Option<DateTime<Utc>>, StoreError> {
        let next = self.call(|store| store.next_tick()).await?;
        Ok(next.and_then(DateTime::from_timestamp_millis))
    }

    async fn pause_schedule(&self, name: &str) -> std::result::Result<bool, StoreError> {
        let name = name.to_string();
        self.call(move |store| store.pause_schedule(&name)).await
    }

    async fn resume_schedule(
        &self,
        name: &str,
        next: Option<DateTime<Utc>>,
    ) -> std::result::Result<bool, StoreError> {
        let (name, next) = (name.to_string(), next.map(|t| t.timestamp_millis()));
        self.call(move |store| store.resume_schedule(&name, next))
            .await
    }

    async fn delete_schedule(&self, name: &str) -> std::result::Result<bool, StoreError> {
        let name = name.to_string();
        self.call(move |store| store.delete_schedule(&name)).await
    }

    async fn fire_ticks(
        &self,
        ticks: &[NewTick<'_>],
    ) -> std::result::Result<Vec<Option<TickRecord>>, StoreError> {
        let owned: Vec<_> = ticks.iter().map(OwnedTick::new).collect();
        self.off_thread(move |store| {
            let ticks: Vec<_> = owned.iter().map(OwnedTick::borrow).collect();
            store.fire_ticks(&ticks)
        })
        .await
    }

    async fn schedule_ticks(
        &self,
        name: &str,
        limit: usize,
    ) -> std::result::Result<Vec<TickRecord>, StoreError> {
        let name = name.to_string();
        self.call(move |store| store.schedule_ticks(&name, limit))
            .await
    }

    async fn create_webhook(
        &self,
        new: NewWebhookRow<'_>,
    ) -> std::result::Result<bool, StoreError> {
        let webhook = new.webhook.clone();
        let modules: Vec<(String, Vec<u8>)> = new
            .modules
            .iter()
            .map(|m| (m.digest.to_string(), m.bytes.to_vec()))
            .collect();
        self.call(move |store| {
            let modules = modules
                .iter()
                .map(|(digest, bytes)| WebhookModule { digest, bytes })
                .collect();
            store.create_webhook(NewWebhookRow {
                webhook: &webhook,
                modules,
            })
        })
        .await
    }

    async fn webhook(&self, name: &str) -> std::result::Result<Option<StoredWebhook>, StoreError> {
        let name = name.to_string();
        self.call(move |store| store.webhook(&name)).await
    }

    async fn webhooks(&self) -> std::result::Result<Vec<StoredWebhook>, StoreError> {
        self.call(move |store| store.webhooks()).await
    }

    async fn set_webhook_enabled(
        &self,
        name: &str,
        enabled: bool,
    ) -> std::result::Result<bool, StoreError> {
        let name = name.to_string();
        self.call(move |store| store.set_webhook_enabled(&name, enabled))
            .await
    }

    async fn delete_webhook(&self, name: &str) -> std::result::Result<bool, StoreError> {
        let name = name.to_string();
        self.call(move |store| store.delete_webhook(&name)).await
    }

    async fn record_delivery(
        &self,
        delivery: NewDelivery<'_>,
    ) -> std::result::Result<Recorded, StoreError> {
        let webhook = delivery.webhook.to_string();
        let message = delivery
            .message
            .map(|m| (m.id.to_string(), m.body_sha256.to_string(), m.forget_before));
        let alert = delivery
            .alert
            .map(|(id, condition)| (id.to_string(), condition.to_string()));
        let decision = delivery.decision.to_string();
        let on_busy = delivery.on_busy;
        let jobs: Vec<OwnedJob> = delivery.jobs.iter().copied().map(OwnedJob::new).collect();
        self.call(move |store| {
            store.record_delivery(&NewDelivery {
                webhook: &webhook,
                message: message.as_ref().map(|(id, body, forget)| Message {
                    id,
                    body_sha256: body,
                    forget_before: *forget,
                }),
                alert: alert.as_ref().map(|(id, c)| (id.as_str(), c.as_str())),
                decision: &decision,
                on_busy,
                jobs: jobs.iter().map(OwnedJob::borrow).collect(),
            })
        })
        .await
    }

    async fn alerts(
        &self,
        webhook: &str,
        limit: usize,
    ) -> std::result::Result<Vec<AlertRecord>, StoreError> {
        let webhook = webhook.to_string();
        self.call(move |store| store.alerts(&webhook, limit)).await
    }

    async fn create_token(&self, token: &StoredToken) -> std::result::Result<bool, StoreError> {
        let token = token.clone();
        self.call(move |store| store.create_token(&token)).await
    }

    async fn token_by_hash(
        &self,
        hash: &str,
    ) -> std::result::Result<Option<StoredToken>, StoreError> {
        let hash = hash.to_string();
        self.call(move |store| store.token_by_hash(&hash)).await
    }

    async fn tokens(&self) -> std::result::Result<Vec<StoredToken>, StoreError> {
        self.call(move |store| store.tokens()).await
    }

    async fn revoke_token(
        &self,
        name: &str,
        at: DateTime<Utc>,
    ) -> std::result::Result<bool, StoreError> {
        let name = name.to_string();
        self.call(move |store| store.revoke_token(&name, at)).await
    }

    async fn token_used(
        &self,
        name: &str,
        at: DateTime<Utc>,
    ) -> std::result::Result<(), StoreError> {
        let name = name.to_string();
        self.call(move |store| store.token_used(&name, at)).await
    }

    async fn create_session(&self, session: &StoredSession) -> std::result::Result<(), StoreError> {
        let session = session.clone();
        self.call(move |store| store.create_session(&session)).await
    }

    async fn session_by_hash(
        &self,
        hash: &str,
    ) -> std::result::Result<Option<StoredSession>, StoreError> {
        let hash = hash.to_string();
        self.call(move |store| store.session_by_hash(&hash)).await
    }

    async fn revoke_session(
        &self,
        hash: &str,
        at: DateTime<Utc>,
    ) -> std::result::Result<bool, StoreError> {
        let hash = hash.to_string();
        self.call(move |store| store.revoke_session(&hash, at))
            .await
    }

    async fn prune_sessions(
        &self,
        before: DateTime<Utc>,
    ) -> std::result::Result<usize, StoreError> {
        self.call(move |store| store.prune_sessions(before)).await
    }
}

/// One run of a job: its spool, with the port's calls.
struct Run(Spool);

impl Run {
    /// Folds a spool that grew to its limit on the blocking pool
    /// ([`drbook_core::blocking::detach`]), off the host call that filled it
    /// (which does not wait for it). A fold that fails leaves the lines in the
    /// spool: the next fold (at the latest, the run's end) moves them, or
    /// fails the run with the same error; a lost lease is marked on the
    /// spool and ends the run at its next call.
    fn fold_in_background(&self) {
        let spool = self.0.clone();
        drbook_core::blocking::detach(move || {
            let _ = spool.fold_if_due();
        });
    }
}

/// How a run ended, owned, for a call off the async threads.
enum End {
    Waiting {
        status: JobStatus,
        reason: String,
        wake: Wake,
    },
    Finished {
        status: JobStatus,
        reason: Option<String>,
        result: serde_json::Value,
    },
}

impl End {
    /// Folds `spool` with how its run ended, in one transaction.
    fn record(&self, spool: &Spool) -> Result<()> {
        let id = spool.job_id();
        spool.fold_with(|tx| match self {
            End::Waiting {
                status,
                reason,
                wake,
            } => set_waiting(tx, id, *status, reason, wake),
            End::Finished {
                status,
                reason,
                result,
            } => finish(tx, id, *status, reason.as_deref(), result),
        })
    }
}

#[async_trait]
impl RunLog for Run {
    fn job_id(&self) -> &str {
        self.0.job_id()
    }

    fn append(
        &self,
        seq: usize,
        entry: &Entry,
        stream: Option<&Record>,
    ) -> std::result::Result<(), StoreError> {
        if self.0.write_lines(Some((seq, entry)), stream, false)? {
            self.fold_in_background();
        }
        Ok(())
    }

    async fn append_intent(
        &self,
        seq: usize,
        entry: &Entry,
    ) -> std::result::Result<(), StoreError> {
        let (spool, entry) = (self.0.clone(), entry.clone());
        blocking(move || spool.append_intent(seq, &entry)).await
    }

    fn append_stream(&self, record: &Record) -> std::result::Result<(), StoreError> {
        if self.0.write_lines(None, Some(record), false)? {
            self.fold_in_background();
        }
        Ok(())
    }

    async fn end(&self, end: RunEnd<'_>) -> std::result::Result<(), StoreError> {
        let end = match end {
            RunEnd::Waiting {
                status,
                reason,
                wake,
            } => End::Waiting {
                status,
                reason: reason.to_string(),
                wake: wake.clone(),
            },
            RunEnd::Finished {
                status,
                reason,
                result,
            } => End::Finished {
                status,
                reason: reason.map(str::to_string),
                result: result.clone(),
            },
        };
        // In place when nothing waits (no spool lines to sync: a run that
        // only replayed), else off the async threads.
        if let Some(ended) = inline(|| end.record(&self.0)) {
            return ended.map_err(Into::into);
        }
        let spool = self.0.clone();
        blocking(move || end.record(&spool)).await
    }

    fn lease_lost(&self) -> bool {
        self.0.lease_lost()
    }

    async fn decision(
        &self,
        journal_seq: usize,
    ) -> std::result::Result<Option<Approval>, StoreError> {
        let id = self.0.job_id().to_string();
        self.0
            .store()
            .call(move |store| store.decision(&id, journal_seq))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// While another process holds the database's write lock, a write waits
    /// for it without holding the async thread, and succeeds once the lock
    /// is released (tried in place, busy, then made again off the async
    /// threads).
    #[test]
    fn a_call_that_must_wait_waits_off_the_async_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let stop = async move { JobStore::request_stop(&store, "a job", "me").await };
        drbook_conformance::waits::blocked_by_another_writer(&SqliteStore::path(dir.path()), stop)
            .expect("the write succeeds once the lock is free");
    }
}
