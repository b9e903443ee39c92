//! What a hop to the blocking pool costs ([`drbook_core::blocking::call`] of
//! a call that does nothing, from a current-thread runtime), after gaps of
//! increasing length: the longer the caller was busy elsewhere, the likelier
//! the pool's threads sleep and must be woken. Figures and method:
//! `docs/benchmarks.md`.
//!
//! `cargo run --release -p drbook-core --example blocking_hop`

use std::time::{Duration, Instant};

const CALLS: usize = 2_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    runtime.block_on(async {
        for gap in [0, 20, 50, 200, 1000].map(Duration::from_micros) {
            let mut times = Vec::with_capacity(CALLS);
            for _ in 0..CALLS {
                // Busy, not asleep: the caller's own thread stays awake.
                let busy = Instant::now();
                while busy.elapsed() < gap {}
                let start = Instant::now();
                drbook_core::blocking::call(|| ())
                    .await
                    .expect("a call that does nothing");
                times.push(start.elapsed());
            }
            times.sort();
            println!(
                "after a {gap:?} gap: p50 {:?}, p90 {:?}",
                times[CALLS / 2],
                times[CALLS * 9 / 10]
            );
        }
    });
}
