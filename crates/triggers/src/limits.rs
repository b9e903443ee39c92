//! What bounds a caller: the body cap (Azure Monitor's own maximum payload),
//! a token bucket per webhook, one per source address for refused requests,
//! the connection cap, and (in `server`) timeouts on slow clients.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Bodies above this are refused with 413 before they are read whole.
pub const MAX_BODY: usize = 256 * 1024;

/// How long a client may take to send its headers, and then its body.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once by default; beyond the cap a connection gets
/// 503 and is closed at once (it holds a file descriptor and a task, and
/// up to a body's worth of buffers, while open).
pub const MAX_CONNECTIONS: usize = 1024;

/// Source addresses whose refusals are tracked at once; beyond this the
/// ones whose buckets refilled are forgotten first.
const MAX_SOURCES: usize = 65_536;

/// A per-webhook rate: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::per_second(1000.0)
    }
}

impl RateLimit {
    /// `n` per second, bursts of `2n`.
    pub fn per_second(n: f64) -> Self {
        RateLimit {
            per_second: n,
            burst: (2.0 * n).max(1.0),
        }
    }

    /// The governor quota: `burst` cells at once (at least 1), one more every
    /// `1 / per_second`. A rate that is not positive, or so slow that the
    /// bucket would take centuries to refill, refills once a century.
    fn quota(&self) -> Quota {
        const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
        let burst = NonZeroU32::new(self.burst.clamp(1.0, u32::MAX as f64) as u32)
            .unwrap_or(NonZeroU32::MIN);
        let period = Duration::try_from_secs_f64(1.0 / self.per_second)
            .unwrap_or(Duration::MAX)
            .clamp(Duration::from_nanos(1), CENTURY / burst.get());
        Quota::with_period(period)
            .expect("a period of at least 1ns")
            .allow_burst(burst)
    }
}

/// Token buckets by webhook name (GCRA, from `governor`).
pub struct Buckets {
    // Bounded by the number of webhooks: only authenticated deliveries
    // reach here.
    limiter: DefaultKeyedRateLimiter<String>,
}

impl Buckets {
    pub fn new(limit: RateLimit) -> Self {
        Buckets {
            limiter: RateLimiter::keyed(limit.quota()),
        }
    }

    /// Takes one token of `webhook`'s bucket; false when it is empty.
    pub fn take(&self, webhook: &str) -> bool {
        self.limiter.check_key(&webhook.to_string()).is_ok()
    }
}

/// Refused requests by source address: each unauthenticated refusal takes
/// a token of its address's bucket, and while the bucket is empty the
/// address gets 429 before anything is looked up. A bad-token storm from
/// one address thus costs one map lookup per request, while a caller with
/// a good token from that address is only held up for as long as the storm
/// lasts (Azure retries a 429).
pub struct SourceLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, limit: &RateLimit, now: Instant) {
        let rate = if limit.per_second.is_finite() {
            limit.per_second.max(0.0)
        } else {
            0.0
        };
        let gained = now.duration_since(self.at).as_secs_f64() * rate;
        self.tokens = (self.tokens + gained).min(limit.burst.max(1.0));
        self.at = now;
    }
}

impl SourceLimiter {
    pub fn new(limit: RateLimit) -> Self {
        SourceLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Bucket>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `source` may be heard: its bucket is not empty.
    pub fn admits(&self, source: IpAddr) -> bool {
        let now = Instant::now();
        self.lock().get_mut(&source).is_none_or(|bucket| {
            bucket.refill(&self.limit, now);
            bucket.tokens >= 1.0
        })
    }

    /// `source` was refused: one token less.
    pub fn refused(&self, source: IpAddr) {
        let now = Instant::now();
        let burst = self.limit.burst.max(1.0);
        let mut buckets = self.lock();
        if buckets.len() >= MAX_SOURCES && !buckets.contains_key(&source) {
            buckets.retain(|_, b| {
                b.refill(&self.limit, now);
                b.tokens < burst
            });
            if buckets.len() >= MAX_SOURCES {
                // Memory stays bounded; the limit forgets rather than grows.
                buckets.clear();
            }
        }
        let bucket = buckets.entry(source).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.refill(&self.limit, now);
        bucket.tokens = (bucket.tokens - 1.0).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_refills() {
        let buckets = Buckets::new(RateLimit {
            per_second: 1000.0,
            burst: 3.0,
        });
        assert!((0..3).all(|_| buckets.take("a")));
        assert!(!buckets.take("a"));
        assert!(buckets.take("b"));
        std::thread::sleep(Duration::from_millis(5));
        assert!(buckets.take("a"));
    }

    #[test]
    fn a_rate_below_one_per_second_still_allows_one() {
        let buckets = Buckets::new(RateLimit::per_second(0.5));
        assert!(buckets.take("a"));
        assert!(!buckets.take("a"));
        for silly in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300] {
            let buckets = Buckets::new(RateLimit::per_second(silly));
            assert!(buckets.take("a"), "{silly}");
        }
    }

    #[test]
    fn a_source_is_throttled_after_a_burst_of_refusals_and_recovers() {
        let limiter = SourceLimiter::new(RateLimit {
            per_second: 200.0,
            burst: 3.0,
        });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(limiter.admits(a));
            limiter.refused(a);
        }
        assert!(!limiter.admits(a));
        assert!(limiter.admits(b), "other sources are not held up");
        std::thread::sleep(Duration::from_millis(20));
        assert!(limiter.admits(a));
    }
}
