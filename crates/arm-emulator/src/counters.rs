//! What tests read: requests per route and method, action POSTs per item and
//! operation, token fetches, and the faults that fired.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A snapshot of the counters. Route names are the emulator's own, stable:
/// `protectedItems.list`, `protectedItems.listByContainer`,
/// `protectedItems.get`, `protectedItems.<action>` (the action's ARM name,
/// e.g. `protectedItems.plannedFailover`), `recoveryPoints.list`,
/// `recoveryPoints.get`, `jobs.list`, `jobs.get`, `recoveryPlans.list`,
/// `recoveryPlans.get`, `operationStatus.get`,
/// `operationResults.get`, `unknown`; `token` for the token endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// `"GET protectedItems.get"` → how many arrived (before any check).
    pub requests: BTreeMap<String, u64>,
    /// `"<item, lowercase>/<action>"` → how many POSTs were applied (the
    /// simulator was asked to start the operation, whatever it answered).
    pub posts: BTreeMap<String, u64>,
    /// Tokens issued by the token endpoint.
    pub token_fetches: u64,
    /// ARM requests refused 401.
    pub unauthorized: u64,
    /// 429s injected (`throttle_every`).
    pub throttled: u64,
    /// 429s of the enforced budget.
    pub budget_throttled: u64,
    /// 5xx injected.
    pub errors_injected: u64,
    /// POSTs applied whose connection was then dropped.
    pub dropped: u64,
}

impl Counters {
    pub fn requests(&self, method: &str, route: &str) -> u64 {
        self.requests
            .get(&format!("{method} {route}"))
            .copied()
            .unwrap_or(0)
    }

    /// POSTs applied on `item` (any case) for `action` (its ARM name).
    pub fn posts(&self, item: &str, action: &str) -> u64 {
        self.posts
            .get(&post_key(item, action))
            .copied()
            .unwrap_or(0)
    }

    /// Every POST applied, whatever item and action.
    pub fn total_posts(&self) -> u64 {
        self.posts.values().sum()
    }

    /// Every ARM request (the token endpoint not included).
    pub fn total_requests(&self) -> u64 {
        self.requests
            .iter()
            .filter(|(key, _)| !key.ends_with(" token"))
            .map(|(_, n)| n)
            .sum()
    }
}

pub(crate) fn post_key(item: &str, action: &str) -> String {
    format!("{}/{action}", item.to_ascii_lowercase())
}

/// The live counters, behind a lock held for one increment.
#[derive(Default)]
pub(crate) struct Live(Mutex<Counters>);

impl Live {
    pub fn with(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub fn request(&self, method: &str, route: &str) {
        self.with(|c| *c.requests.entry(format!("{method} {route}")).or_default() += 1);
    }

    pub fn snapshot(&self) -> Counters {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn reset(&self) {
        self.with(|c| *c = Counters::default());
    }
}
