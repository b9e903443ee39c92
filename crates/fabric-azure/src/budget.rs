//! The client side of ARM's throttling: one budget per subscription for
//! reads and one for writes, token buckets with ARM's own sizes (reads:
//! 250, refilled at 25/s; writes: 200, refilled at 10/s), shared by every
//! job and every [`crate::AzureFabric`] of the process. Waiting here costs
//! nothing; meeting ARM's 429 costs a `Retry-After` and a retry, and a
//! 100-VM plan polling from many jobs would meet it all the time.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The sizes of the two buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub read_burst: u32,
    pub reads_per_second: u32,
    pub write_burst: u32,
    pub writes_per_second: u32,
}

impl Limits {
    /// ARM's per-subscription, per-principal limits (arm-notes: since 2024).
    pub const ARM: Limits = Limits {
        read_burst: 250,
        reads_per_second: 25,
        write_burst: 200,
        writes_per_second: 10,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::ARM
    }
}

/// Which bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
}

/// One subscription's budget.
pub struct Budget {
    reads: DefaultDirectRateLimiter,
    writes: DefaultDirectRateLimiter,
    read_waits: Tally,
    write_waits: Tally,
}

/// The waits of one bucket: how many requests found it empty, and how long
/// they waited in all.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    nanos: AtomicU64,
}

/// What a bucket's callers waited for. Told apart per bucket because
/// that is what says what bounds a large plan: its POSTs (writes) or the
/// reads around them (the benchmark reports both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waited {
    /// Requests that found the bucket empty.
    pub requests: u64,
    /// Their waits, summed.
    pub total: Duration,
}

fn quota(burst: u32, per_second: u32) -> Quota {
    let one = NonZeroU32::MIN;
    Quota::per_second(NonZeroU32::new(per_second).unwrap_or(one))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(one))
}

impl Budget {
    pub fn new(limits: Limits) -> Self {
        Budget {
            reads: RateLimiter::direct(quota(limits.read_burst, limits.reads_per_second)),
            writes: RateLimiter::direct(quota(limits.write_burst, limits.writes_per_second)),
            read_waits: Tally::default(),
            write_waits: Tally::default(),
        }
    }

    /// The budget of `subscription` at `endpoint`, the same for every
    /// caller of this process. The first caller's limits size it.
    pub fn shared(endpoint: &str, subscription: &str, limits: Limits) -> Arc<Budget> {
        static BUDGETS: OnceLock<Mutex<HashMap<String, Arc<Budget>>>> = OnceLock::new();
        let key = format!(
            "{}|{}",
            endpoint.trim_end_matches('/').to_ascii_lowercase(),
            subscription.to_ascii_lowercase()
        );
        let mut budgets = BUDGETS
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        budgets
            .entry(key)
            .or_insert_with(|| Arc::new(Budget::new(limits)))
            .clone()
    }

    /// Waits until one request of `kind` fits the budget.
    pub async fn acquire(&self, kind: Kind) {
        let (bucket, tally) = self.bucket(kind);
        if bucket.check().is_ok() {
            return;
        }
        let started = Instant::now();
        bucket.until_ready().await;
        let waited = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        tally.requests.fetch_add(1, Ordering::Relaxed);
        tally.nanos.fetch_add(waited, Ordering::Relaxed);
    }

    /// What callers of `kind` have waited for budget, in all.
    pub fn waited(&self, kind: Kind) -> Waited {
        let (_, tally) = self.bucket(kind);
        Waited {
            requests: tally.requests.load(Ordering::Relaxed),
            total: Duration::from_nanos(tally.nanos.load(Ordering::Relaxed)),
        }
    }

    fn bucket(&self, kind: Kind) -> (&DefaultDirectRateLimiter, &Tally) {
        match kind {
            Kind::Read => (&self.reads, &self.read_waits),
            Kind::Write => (&self.writes, &self.write_waits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_subscription_has_one_budget_and_a_spent_bucket_waits_for_its_refill() {
        let limits = Limits {
            read_burst: 2,
            reads_per_second: 10,
            write_burst: 1,
            writes_per_second: 1,
        };
        let a = Budget::shared("https://arm.test/", "SUB-1", limits);
        let b = Budget::shared("https://ARM.test", "sub-1", Limits::ARM);
        assert!(
            Arc::ptr_eq(&a, &b),
            "every caller of a subscription shares it"
        );
        assert!(!Arc::ptr_eq(
            &a,
            &Budget::shared("https://arm.test", "sub-2", limits)
        ));

        let started = Instant::now();
        a.acquire(Kind::Read).await;
        a.acquire(Kind::Read).await;
        assert_eq!(a.waited(Kind::Read), Waited::default(), "the burst is free");
        a.acquire(Kind::Read).await;
        assert!(
            started.elapsed() >= Duration::from_millis(80),
            "{:?}",
            started.elapsed()
        );
        let waited = a.waited(Kind::Read);
        assert_eq!(waited.requests, 1);
        assert!(waited.total >= Duration::from_millis(80), "{waited:?}");
        // Writes have their own bucket: reads spent it not.
        a.acquire(Kind::Write).await;
        assert_eq!(a.waited(Kind::Write), Waited::default());
    }
}
