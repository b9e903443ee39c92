//! What tests read: requests per route and method, action POSTs per item and
//! operation, token fetches, the faults that fired, and how long clients
//! waited after a 429 before they asked again.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A snapshot of the counters. Route names are the emulator's own, stable:
/// `protectedItems.list`, `protectedItems.listByContainer`,
/// `protectedItems.get`, `dnsRecordSets.put|get|delete`,
/// `trafficManagerEndpoints.put|get|delete`, `protectedItems.<action>` (the action's ARM name,
/// e.g. `protectedItems.plannedFailover`), `recoveryPoints.list`,
/// `recoveryPoints.get`, `jobs.list`, `jobs.get`, `recoveryPlans.list`,
/// `recoveryPlans.get`, `operationStatus.get`,
/// `operationResults.get`, `unknown`; `token` for the token endpoint;
/// `metadata.endpoints`, `openidConfiguration`, `subscriptions.list` for
/// what a client reads before the vault (`az login`).
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
    /// Every 429 (injected or of the budget) that the same request followed
    /// again, in the order the retries arrived: what "the client honoured
    /// `Retry-After`" is checked against, on the emulator's clock.
    pub retries: Vec<Retry>,
    /// Each change to a network resource (a DNS record set, a Traffic
    /// Manager endpoint) applied, in order: the emulator's audit of them.
    pub network: Vec<NetworkChange>,
}

/// A change applied to a network resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkChange {
    /// `PUT` or `DELETE`.
    pub method: String,
    pub id: String,
    /// What a PUT made it; `None` for a DELETE.
    pub resource: Option<serde_json::Value>,
}

/// A request answered 429, and when the same request (method, path and
/// query, `x-ms-client-request-id`) arrived again. Two callers sending the
/// same GET are one request here: the first to come again is taken as the
/// retry, so `waited` is never longer than the retrier's own wait.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    /// As in [`Counters::requests`]: `"GET jobs.get"`.
    pub route: String,
    /// What the 429 said: `x-ms-retry-after-ms` if it said it, else
    /// `Retry-After`.
    pub retry_after: Duration,
    /// From the 429's answer to the retry's arrival.
    pub waited: Duration,
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
pub(crate) struct Live(Mutex<State>);

#[derive(Default)]
struct State {
    counters: Counters,
    /// Request key → the route, `Retry-After` and time of its last 429.
    throttled: HashMap<String, (String, Duration, Instant)>,
}

impl Live {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn with(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.state().counters);
    }

    /// A request arrived on `route` (counted); with its `key` (see
    /// [`Retry`]), a retry if its last answer was a 429.
    pub fn request(&self, method: &str, route: &str, key: Option<&str>) {
        let now = Instant::now();
        let mut state = self.state();
        let route = format!("{method} {route}");
        if let Some((route, retry_after, at)) = key.and_then(|key| state.throttled.remove(key)) {
            state.counters.retries.push(Retry {
                route,
                retry_after,
                waited: now.duration_since(at),
            });
        }
        *state.counters.requests.entry(route).or_default() += 1;
    }

    /// The request `key` on `route` is being answered 429 with `retry_after`.
    pub fn throttled(&self, method: &str, route: &str, key: &str, retry_after: Duration) {
        self.state().throttled.insert(
            key.to_string(),
            (format!("{method} {route}"), retry_after, Instant::now()),
        );
    }

    pub fn snapshot(&self) -> Counters {
        self.state().counters.clone()
    }

    pub fn reset(&self) {
        *self.state() = State::default();
    }
}
