//! What bounds a caller: the body cap (Azure Monitor's own maximum payload),
//! a token bucket per webhook, and (in `server`) timeouts on slow clients.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Bodies above this are refused with 413 before they are read whole.
pub const MAX_BODY: usize = 256 * 1024;

/// How long a client may take to send its headers, and then its body.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

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
}
