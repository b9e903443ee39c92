//! A worker's lease on the jobs it runs.
//!
//! The store holds, per job, who leases it and until when; another worker
//! takes a job over only once its lease has lapsed (the host that ran it
//! died or stalled). All the jobs of one worker share one deadline: claims
//! take the worker's current one and a renewal moves them all at once, so the
//! worker knows, without asking the store, until when it may write for any of
//! its jobs. That local check is what lets a running job's writes skip the
//! store (drbook-store-sqlite's spool, for one). The owner's name is the
//! fencing token: a lease that lapsed is never renewed, so a stalled worker
//! goes on under a new name (`<owner>.<n>`) and nothing it wrote under the
//! old one is accepted after a takeover: its runs end.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A worker's hold on its jobs; cheap to clone (clones share the deadline).
#[derive(Clone, Debug)]
pub struct Lease {
    owner: Arc<str>,
    duration: Duration,
    /// Until when (ms since the epoch) the store holds the lease for us; 0
    /// before the first renewal.
    until_ms: Arc<AtomicI64>,
}

impl Lease {
    /// A lease named `owner` (unique per process) that lasts `duration`
    /// from each renewal. It holds nothing until renewed.
    pub fn new(owner: impl Into<Arc<str>>, duration: Duration) -> Self {
        Lease {
            owner: owner.into(),
            duration,
            until_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn duration(&self) -> Duration {
        self.duration
    }

    pub fn until_ms(&self) -> i64 {
        self.until_ms.load(Ordering::Acquire)
    }

    /// When the store last renewed the lease (its deadline less its
    /// duration, on the store's clock), which a claim records as the job's
    /// last renewal so that every job of a lease tells one heartbeat.
    pub fn renewed_ms(&self) -> i64 {
        self.until_ms() - self.duration.as_millis() as i64
    }

    /// Whether the lease was held and ran out before `now_ms`.
    pub fn lapsed(&self, now_ms: i64) -> bool {
        let until = self.until_ms();
        until != 0 && until <= now_ms
    }

    /// Records the deadline the store now holds (after it was written).
    pub fn extended_to(&self, until_ms: i64) {
        self.until_ms.store(until_ms, Ordering::Release);
    }

    /// Whether this worker may still write for its jobs: its deadline is
    /// more than a fifth of the lease away. The margin covers a stall between
    /// this check and the effect it allows (an operation started after its
    /// intent is written); a healthy worker renews every third of the lease,
    /// so it never comes near it.
    pub fn held(&self) -> bool {
        let margin = (self.duration / 5).as_millis() as i64;
        chrono::Utc::now().timestamp_millis() + margin < self.until_ms()
    }
}
