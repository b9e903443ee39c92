//! A simulator call that must wait (another process holds the store's write
//! lock) waits without holding the async thread, and succeeds once the lock
//! is free.

use super::{planned, Fixture};
use crate::Simulator;
use drbook_core::fabric::{Direction, Fabric};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn a_start_that_must_wait_waits_off_the_async_thread() {
    let fixture = Fixture::instant();
    let other = rusqlite::Connection::open(Simulator::store_path(fixture.dir.path())).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let hold = Duration::from_millis(300);
    let release = std::thread::spawn(move || {
        std::thread::sleep(hold);
        other.execute_batch("COMMIT").unwrap();
    });

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let sim = fixture.sim.clone();
    let (result, ticked) = tokio.block_on(async {
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let before = ticks.load(Ordering::Relaxed);
        let request = planned(Direction::PrimaryToRecovery);
        let result = tokio::spawn(async move { sim.start("web-01", &request, "test").await })
            .await
            .unwrap();
        ticker.abort();
        (result, ticks.load(Ordering::Relaxed) - before)
    });
    release.join().unwrap();
    result.expect("the start succeeds once the lock is free");
    assert!(started.elapsed() >= hold, "it waited for the lock");
    assert!(
        ticked >= 10,
        "the async thread kept running: {ticked} ticks"
    );
}
