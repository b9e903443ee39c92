//! The [`JobStore`] port on SQLite. SQLite is synchronous and a write may
//! wait for another process's lock or for a sync to disk, so no call holds an
//! async worker thread ([`drbook_core::blocking`]). The one exception is a
//! plain journal append of a running job, a page-cache write to its spool
//! (about a microsecond) made where the host call is.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

use crate::db::{Result, SqliteStore};
use crate::jobs::{finish, set_waiting};
use crate::spool::Spool;
use drbook_core::job::{Approval, JobRecord, JobSpec, JobStatus, NewJob, Wake};
use drbook_core::journal::{Entry, Record};
use drbook_core::lease::Lease;
use drbook_core::store::{JobStore, NewWebhookRow, RunEnd, RunLog, StoreError};
use drbook_core::webhook::{AlertRecord, NewDelivery, Recorded, StoredWebhook, WebhookModule};

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

#[async_trait]
impl JobStore for SqliteStore {
    fn location(&self) -> String {
        self.file().display().to_string()
    }

    async fn create(&self, job: NewJob<'_>, module: &[u8]) -> std::result::Result<(), StoreError> {
        let (store, job, module) = (self.clone(), OwnedJob::new(job), module.to_vec());
        blocking(move || store.create(job.borrow(), &module)).await
    }

    async fn get(&self, id: &str) -> std::result::Result<JobRecord, StoreError> {
        let (store, id) = (self.clone(), id.to_string());
        blocking(move || store.get(&id)).await
    }

    async fn list(
        &self,
        state: Option<JobStatus>,
        limit: usize,
    ) -> std::result::Result<Vec<JobRecord>, StoreError> {
        let store = self.clone();
        blocking(move || store.list(state, limit)).await
    }

    async fn count_by_status(&self) -> std::result::Result<Vec<(JobStatus, u64)>, StoreError> {
        let store = self.clone();
        blocking(move || store.count_by_status()).await
    }

    async fn module(&self, job: &JobRecord) -> std::result::Result<Vec<u8>, StoreError> {
        let (store, job) = (self.clone(), job.clone());
        blocking(move || store.module(&job)).await
    }

    async fn repin(
        &self,
        id: &str,
        digest: &str,
        module: &[u8],
    ) -> std::result::Result<(), StoreError> {
        let (store, id, digest, module) = (
            self.clone(),
            id.to_string(),
            digest.to_string(),
            module.to_vec(),
        );
        blocking(move || store.repin(&id, &digest, &module)).await
    }

    async fn runnable(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> std::result::Result<Vec<String>, StoreError> {
        let store = self.clone();
        blocking(move || store.runnable(now, limit)).await
    }

    async fn waiting(&self) -> std::result::Result<Vec<(String, Wake)>, StoreError> {
        let store = self.clone();
        blocking(move || store.waiting()).await
    }

    async fn wake(&self, id: &str) -> std::result::Result<(), StoreError> {
        let (store, id) = (self.clone(), id.to_string());
        blocking(move || store.set_running(&id)).await
    }

    async fn finish(
        &self,
        id: &str,
        state: JobStatus,
        reason: Option<&str>,
        result: &serde_json::Value,
    ) -> std::result::Result<(), StoreError> {
        let (store, id, reason, result) = (
            self.clone(),
            id.to_string(),
            reason.map(str::to_string),
            result.clone(),
        );
        blocking(move || store.finish(&id, state, reason.as_deref(), &result)).await
    }

    async fn prune(&self, before: DateTime<Utc>) -> std::result::Result<usize, StoreError> {
        let store = self.clone();
        blocking(move || store.prune(before)).await
    }

    async fn claim(&self, id: &str, lease: &Lease) -> std::result::Result<bool, StoreError> {
        let (store, id, lease) = (self.clone(), id.to_string(), lease.clone());
        blocking(move || store.claim(&id, &lease)).await
    }

    async fn renew(&self, lease: &Lease) -> std::result::Result<bool, StoreError> {
        let (store, lease) = (self.clone(), lease.clone());
        blocking(move || store.renew(&lease)).await
    }

    async fn release(&self, id: &str, owner: &str) -> std::result::Result<(), StoreError> {
        let (store, id, owner) = (self.clone(), id.to_string(), owner.to_string());
        blocking(move || store.release(&id, &owner)).await
    }

    async fn open_run(
        &self,
        id: &str,
        lease: &Lease,
    ) -> std::result::Result<(Arc<dyn RunLog>, Vec<Entry>), StoreError> {
        let (store, id, lease) = (self.clone(), id.to_string(), lease.clone());
        let (spool, entries) = blocking(move || store.open_spool(&id, &lease)).await?;
        Ok((Arc::new(Run(spool)), entries))
    }

    async fn tidy(&self) -> std::result::Result<usize, StoreError> {
        let store = self.clone();
        blocking(move || store.tidy_spools()).await
    }

    async fn maintain(&self) -> std::result::Result<(), StoreError> {
        let store = self.clone();
        blocking(move || store.checkpoint()).await
    }

    async fn journal(&self, id: &str) -> std::result::Result<Vec<Entry>, StoreError> {
        let (store, id) = (self.clone(), id.to_string());
        blocking(move || store.journal(&id)).await
    }

    async fn streams(
        &self,
        id: &str,
        after: i64,
    ) -> std::result::Result<Vec<(i64, Record)>, StoreError> {
        let (store, id) = (self.clone(), id.to_string());
        blocking(move || store.streams(&id, after)).await
    }

    async fn decide(
        &self,
        id: &str,
        journal_seq: usize,
        approval: &Approval,
    ) -> std::result::Result<(), StoreError> {
        let (store, id, approval) = (self.clone(), id.to_string(), approval.clone());
        blocking(move || store.decide(&id, journal_seq, &approval)).await
    }

    async fn decision(
        &self,
        id: &str,
        journal_seq: usize,
    ) -> std::result::Result<Option<Approval>, StoreError> {
        let (store, id) = (self.clone(), id.to_string());
        blocking(move || store.decision(&id, journal_seq)).await
    }

    async fn request_stop(&self, id: &str, by: &str) -> std::result::Result<(), StoreError> {
        let (store, id, by) = (self.clone(), id.to_string(), by.to_string());
        blocking(move || store.request_stop(&id, &by)).await
    }

    async fn stops_requested(
        &self,
        ids: &[String],
    ) -> std::result::Result<Vec<(String, String)>, StoreError> {
        let (store, ids) = (self.clone(), ids.to_vec());
        blocking(move || store.stops_requested(&ids)).await
    }

    async fn create_webhook(
        &self,
        new: NewWebhookRow<'_>,
    ) -> std::result::Result<bool, StoreError> {
        let store = self.clone();
        let webhook = new.webhook.clone();
        let modules: Vec<(String, Vec<u8>)> = new
            .modules
            .iter()
            .map(|m| (m.digest.to_string(), m.bytes.to_vec()))
            .collect();
        blocking(move || {
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
        let (store, name) = (self.clone(), name.to_string());
        blocking(move || store.webhook(&name)).await
    }

    async fn webhooks(&self) -> std::result::Result<Vec<StoredWebhook>, StoreError> {
        let store = self.clone();
        blocking(move || store.webhooks()).await
    }

    async fn set_webhook_enabled(
        &self,
        name: &str,
        enabled: bool,
    ) -> std::result::Result<bool, StoreError> {
        let (store, name) = (self.clone(), name.to_string());
        blocking(move || store.set_webhook_enabled(&name, enabled)).await
    }

    async fn delete_webhook(&self, name: &str) -> std::result::Result<bool, StoreError> {
        let (store, name) = (self.clone(), name.to_string());
        blocking(move || store.delete_webhook(&name)).await
    }

    async fn first_delivery(
        &self,
        webhook: &str,
        message_id: &str,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> std::result::Result<bool, StoreError> {
        let (store, webhook, message_id) =
            (self.clone(), webhook.to_string(), message_id.to_string());
        blocking(move || store.first_delivery(&webhook, &message_id, now, forget_before)).await
    }

    async fn record_delivery(
        &self,
        delivery: NewDelivery<'_>,
    ) -> std::result::Result<Recorded, StoreError> {
        let store = self.clone();
        let webhook = delivery.webhook.to_string();
        let alert = delivery
            .alert
            .map(|(id, condition)| (id.to_string(), condition.to_string()));
        let decision = delivery.decision.to_string();
        let jobs: Vec<OwnedJob> = delivery.jobs.iter().copied().map(OwnedJob::new).collect();
        blocking(move || {
            store.record_delivery(&NewDelivery {
                webhook: &webhook,
                alert: alert.as_ref().map(|(id, c)| (id.as_str(), c.as_str())),
                decision: &decision,
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
        let (store, webhook) = (self.clone(), webhook.to_string());
        blocking(move || store.alerts(&webhook, limit)).await
    }
}

/// One run of a job: its spool, with the port's calls.
struct Run(Spool);

impl Run {
    /// Folds a spool that grew to its limit on the blocking pool, off the
    /// host call that filled it (which does not wait for it). A fold that fails leaves the lines in the
    /// spool: the next fold (at the latest, the run's end) moves them, or
    /// fails the run with the same error; a lost lease is marked on the
    /// spool and ends the run at its next call.
    fn fold_in_background(&self) {
        let spool = self.0.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(move || spool.fold_if_due());
            }
            Err(_) => {
                let _ = spool.fold_if_due();
            }
        }
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
        let spool = self.0.clone();
        blocking(move || {
            let id = spool.job_id().to_string();
            spool.fold_with(|tx| match &end {
                End::Waiting {
                    status,
                    reason,
                    wake,
                } => set_waiting(tx, &id, *status, reason, wake),
                End::Finished {
                    status,
                    reason,
                    result,
                } => finish(tx, &id, *status, reason.as_deref(), result),
            })
        })
        .await
    }

    fn lease_lost(&self) -> bool {
        self.0.lease_lost()
    }

    async fn decision(
        &self,
        journal_seq: usize,
    ) -> std::result::Result<Option<Approval>, StoreError> {
        let (store, id) = (self.0.store().clone(), self.0.job_id().to_string());
        blocking(move || store.decision(&id, journal_seq)).await
    }
}
