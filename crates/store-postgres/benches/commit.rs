//! What a run's writes cost on PostgreSQL (issue 13's targets: an intent's
//! commit p50 ≤ 1 ms; other journal entries ≤ 20 µs per host call,
//! amortised), on the throwaway cluster of `testing` (fsync on, 127.0.0.1).
//! Figures are kept in `docs/benchmarks.md`.
//!
//! `cargo bench -p drbook-store-postgres --features testing --bench commit`

use std::time::{Duration, Instant};

use drbook_core::fabric::{Direction, OperationRequest};
use drbook_core::journal::{Call, Entry, Record, Stream};
use drbook_core::lease::Lease;
use drbook_core::store::{JobStore, RunEnd, RunLog};
use drbook_store_postgres::{testing, PostgresStore};

/// Intents timed one by one.
const INTENTS: usize = 2000;

/// Plain appends (an entry and a stream line each) timed together.
const APPENDS: usize = 100_000;

/// A run of a new job, claimed under a long lease.
async fn run(store: &PostgresStore) -> std::sync::Arc<dyn RunLog> {
    let id = drbook_conformance::store::create_job(store, b"\0asm bench").await;
    let lease = Lease::new("bench", Duration::from_secs(3600));
    assert!(store.renew(&lease).await.expect("renew"));
    assert!(store.claim(&id, &lease).await.expect("claim"));
    store.open_run(&id, &lease).await.expect("open_run").0
}

fn intent() -> Entry {
    Entry {
        call: Call::Start {
            vm: "vm-1".to_string(),
            request: OperationRequest::PlannedFailover {
                direction: Direction::PrimaryToRecovery,
            },
        },
        reply: None,
        at: 1_700_000_000_000,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    // `cargo bench` passes `--bench`; this bench takes no other argument.
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    tokio.block_on(async {
        let store = PostgresStore::open(&testing::database().await)
            .await
            .expect("open");

        let intents = run(&store).await;
        let mut times = Vec::with_capacity(INTENTS);
        for seq in 0..INTENTS + 100 {
            let start = Instant::now();
            intents.append_intent(seq, &intent()).await.expect("intent");
            if seq >= 100 {
                times.push(start.elapsed());
            }
        }
        times.sort();
        println!(
            "append_intent ({INTENTS} after 100 of warm-up): p50 {:?}, p90 {:?}, p99 {:?}",
            percentile(&times, 0.5),
            percentile(&times, 0.9),
            percentile(&times, 0.99)
        );

        let appends = run(&store).await;
        let line = Record {
            stream: Stream::Output,
            time: std::time::UNIX_EPOCH,
            text: "a line of the runbook's output".to_string(),
        };
        let now = |n: usize| Entry {
            call: Call::Now,
            reply: Some(serde_json::json!(n)),
            at: 1_700_000_000_000,
        };
        let start = Instant::now();
        for seq in 0..APPENDS {
            appends.append(seq, &now(seq), Some(&line)).expect("append");
        }
        let appended = start.elapsed();
        let result = serde_json::json!({});
        let end = RunEnd::Finished {
            status: drbook_core::job::JobStatus::Completed,
            reason: None,
            result: &result,
        };
        appends.end(end).await.expect("end");
        let committed = start.elapsed();
        println!(
            "append ({APPENDS}, an entry and a line each): {:?} a call on the host call's path, \
             {:?} a call amortised until the end committed them all",
            appended / APPENDS as u32,
            committed / APPENDS as u32
        );
    });
}
