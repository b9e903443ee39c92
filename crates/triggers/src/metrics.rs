//! `/metrics` in the Prometheus text format: jobs by status (read from the
//! job store at each scrape), deliveries by outcome, refusals by reason, and
//! the trigger-to-start latency: from a delivery's arrival to its job's
//! runbook reading its context (its first host call).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drbook_core::store::{JobStore, StoreError};
use drbook_runtime::{JobEvent, Observer};

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0,
];

/// Triggers not started after this are forgotten (the job waits for a
/// worker that is gone, or was not run here).
const PENDING_TTL: Duration = Duration::from_secs(600);

/// The server's counters; cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics(Arc<Inner>);

#[derive(Default)]
struct Inner {
    rejections: Mutex<BTreeMap<&'static str, u64>>,
    deliveries: Mutex<BTreeMap<&'static str, u64>>,
    pending: Mutex<HashMap<String, Instant>>,
    latency: Mutex<Histogram>,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// One labelled counter family in Prometheus text format.
fn counter(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    values: &BTreeMap<&'static str, u64>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (value, n) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    pub fn rejected(&self, reason: &'static str) {
        *lock(&self.0.rejections).entry(reason).or_default() += 1;
    }

    /// A delivery accepted: `started`, `queued` (its plan busy), `attached`
    /// (to its plan's running job), `duplicate` or `ignored`.
    pub fn delivered(&self, outcome: &'static str) {
        *lock(&self.0.deliveries).entry(outcome).or_default() += 1;
    }

    /// Job `id` was created for a delivery that arrived at `at`.
    pub fn triggered(&self, id: &str, at: Instant) {
        let mut pending = lock(&self.0.pending);
        if pending.len() >= 10_000 {
            pending.retain(|_, t| t.elapsed() < PENDING_TTL);
        }
        pending.insert(id.to_string(), at);
    }

    fn started(&self, id: &str) {
        let Some(at) = lock(&self.0.pending).remove(id) else {
            return;
        };
        let seconds = at.elapsed().as_secs_f64();
        let mut h = lock(&self.0.latency);
        h.count += 1;
        h.sum += seconds;
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
    }

    /// An observer that times job starts, then passes events to `next`.
    pub fn observer(&self, next: Observer) -> Observer {
        let metrics = self.clone();
        Observer::new(move |event| {
            if let JobEvent::Started { job_id } = event {
                metrics.started(job_id);
            }
            next.notify(event);
        })
    }

    /// Jobs started and timed so far.
    pub fn started_count(&self) -> u64 {
        lock(&self.0.latency).count
    }

    pub async fn render(&self, store: &dyn JobStore) -> Result<String, StoreError> {
        let mut jobs: Vec<(String, u64)> = store
            .count_by_status()
            .await?
            .into_iter()
            .map(|(status, n)| (format!("{status:?}").to_lowercase(), n))
            .collect();
        jobs.sort();
        let mut out = String::new();
        out.push_str(
            "# HELP drbook_jobs Jobs in the job store, by status.\n# TYPE drbook_jobs gauge\n",
        );
        for (status, n) in jobs {
            let _ = writeln!(out, "drbook_jobs{{status=\"{status}\"}} {n}");
        }
        counter(
            &mut out,
            "drbook_webhook_deliveries_total",
            "Deliveries accepted, by outcome.",
            "outcome",
            &lock(&self.0.deliveries),
        );
        counter(
            &mut out,
            "drbook_webhook_rejections_total",
            "Requests refused, by reason.",
            "reason",
            &lock(&self.0.rejections),
        );
        out.push_str(
            "# HELP drbook_trigger_to_start_seconds From a delivery's arrival to its runbook's first instruction.\n\
             # TYPE drbook_trigger_to_start_seconds histogram\n",
        );
        let h = lock(&self.0.latency);
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
            let _ = writeln!(
                out,
                "drbook_trigger_to_start_seconds_bucket{{le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "drbook_trigger_to_start_seconds_bucket{{le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(out, "drbook_trigger_to_start_seconds_sum {}", h.sum);
        let _ = writeln!(out, "drbook_trigger_to_start_seconds_count {}", h.count);
        Ok(out)
    }
}
