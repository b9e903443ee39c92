//! ARM's request budget, enforced: one token bucket for reads and one for
//! writes, refilled continuously by the clock.

use crate::config::{Bucket, Budget};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The buckets in force, or none.
#[derive(Default)]
pub(crate) struct Buckets(Mutex<Option<State>>);

struct State {
    budget: Budget,
    reads: Level,
    writes: Level,
}

struct Level {
    tokens: f64,
    at: Instant,
}

impl Level {
    fn full(bucket: &Bucket) -> Self {
        Level {
            tokens: f64::from(bucket.capacity),
            at: Instant::now(),
        }
    }

    fn refill(&mut self, bucket: &Bucket, now: Instant) {
        let earned = now.duration_since(self.at).as_secs_f64() * bucket.refill_per_second;
        self.tokens = (self.tokens + earned).min(f64::from(bucket.capacity));
        self.at = now;
    }
}

/// What a request found in its bucket.
pub(crate) enum Take {
    /// Not enforced.
    Unlimited,
    /// Served; this many tokens are left.
    Left(u32),
    /// Spent: retry after this long.
    Spent(Duration),
}

impl Buckets {
    pub fn set(&self, budget: Option<Budget>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = budget.map(|budget| State {
            reads: Level::full(&budget.reads),
            writes: Level::full(&budget.writes),
            budget,
        });
    }

    pub fn get(&self) -> Option<Budget> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|s| s.budget)
    }

    /// Takes a token for a read (`write == false`) or a write.
    pub fn take(&self, write: bool) -> Take {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let Some(state) = state.as_mut() else {
            return Take::Unlimited;
        };
        let (bucket, level) = if write {
            (state.budget.writes, &mut state.writes)
        } else {
            (state.budget.reads, &mut state.reads)
        };
        level.refill(&bucket, Instant::now());
        if level.tokens >= 1.0 {
            level.tokens -= 1.0;
            Take::Left(level.tokens.floor() as u32)
        } else if bucket.refill_per_second > 0.0 {
            let wait = (1.0 - level.tokens) / bucket.refill_per_second;
            Take::Spent(Duration::from_secs_f64(wait))
        } else {
            Take::Spent(Duration::from_secs(3600))
        }
    }
}
