//! Durable jobs. Every run is a job in the job store: pinned to the digest of
//! its module, with its plan, inputs and trigger, its journal of host calls,
//! its streams and its result. A job whose host dies is resumed by replaying
//! its journal; a job waiting on a long operation or a person is unloaded and
//! woken when the wait ends.
//!
//! Layout: `store` (SQLite), `spool` (what a running job writes, appended
//! to a file and folded into the store), `lease` (who may run a job),
//! `runner` (runs one job: replay, then live, and records how it ended),
//! `worker` (runs many: claims, leases, wake-ups).

mod lease;
mod runner;
mod spool;
mod store;
mod worker;

pub use lease::Lease;
pub use runner::{execute, wake_ready, ExecuteError, Execution};
pub use spool::Spool;
pub(crate) use store::{from_millis, insert_job, millis};
pub use store::{Decision, JobStore, StoreError, SCHEMA_VERSION};
pub use worker::{Report, Worker, WorkerOptions};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::runtime::JobSpec;
pub use crate::runtime::{JobStatus, Wake};

/// A job as the store keeps it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub id: String,
    /// `sha256:<hex>` of the module the job is pinned to.
    pub digest: String,
    /// The runbook's file name when the job was created.
    pub runbook: String,
    pub spec: JobSpec,
    /// Who or what started it (`cli:<user>`, `webhook:<name>`, ...).
    pub trigger: String,
    #[serde(rename = "status")]
    pub state: JobStatus,
    /// Why it is suspended, waiting, stopped or failed.
    pub reason: Option<String>,
    /// What an unloaded job waits for.
    pub wake: Option<Wake>,
    pub stop_requested: Option<String>,
    /// The summary of a finished job.
    pub result: Option<serde_json::Value>,
    pub created: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
}

impl JobRecord {
    pub fn is_terminal(&self) -> bool {
        self.state.is_terminal()
    }
}

/// A fresh job id: time-ordered and unique within a machine.
pub fn new_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("job-{:x}-{:x}-{n}", nanos, std::process::id())
}
