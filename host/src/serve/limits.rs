//! What bounds a caller: the body cap (Azure Monitor's own maximum payload),
//! a token bucket per webhook, and (in `server`) timeouts on slow clients.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
}

/// Token buckets by webhook name.
pub struct Buckets {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Buckets {
    pub fn new(limit: RateLimit) -> Self {
        Buckets {
            limit,
            buckets: Mutex::default(),
        }
    }

    /// Takes one token of `webhook`'s bucket; false when it is empty.
    pub fn take(&self, webhook: &str) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(webhook) {
            // Bounded by the number of webhooks: only authenticated
            // deliveries reach here.
            buckets.insert(webhook.to_string(), (self.limit.burst, now));
        }
        let (tokens, at) = buckets.get_mut(webhook).expect("inserted above");
        let refill = now.duration_since(*at).as_secs_f64() * self.limit.per_second;
        *tokens = (*tokens + refill).min(self.limit.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
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
}
