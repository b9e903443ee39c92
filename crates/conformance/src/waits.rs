//! What every backend that is synchronous underneath (SQLite, say) must
//! show: a call that has to wait (for another process's lock) does not hold
//! the async thread meanwhile.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long [`blocked_by_another_writer`] holds the lock.
pub const HOLD: Duration = Duration::from_millis(300);

/// Holds the write lock of the SQLite database at `db` for [`HOLD`] from
/// another connection (as another process would) while `call` runs on a
/// runtime with a single async worker, beside a task that ticks every
/// 10 ms. Checks that the call waited for the lock and that the ticker kept
/// running meanwhile, and returns the call's result.
pub fn blocked_by_another_writer<T: Send + 'static>(
    db: &Path,
    call: impl Future<Output = T> + Send + 'static,
) -> T {
    let other = rusqlite::Connection::open(db).expect("a second connection");
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("the write lock");
    let release = std::thread::spawn(move || {
        std::thread::sleep(HOLD);
        other.execute_batch("COMMIT").expect("releasing the lock");
    });
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let ticks = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let (result, ticked) = tokio.block_on(async {
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        // Let the ticker start on the one worker.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let before = ticks.load(Ordering::Relaxed);
        let result = tokio::spawn(call).await.expect("the call");
        ticker.abort();
        (result, ticks.load(Ordering::Relaxed) - before)
    });
    release.join().expect("the other writer");
    assert!(started.elapsed() >= HOLD, "the call waited for the lock");
    assert!(
        ticked >= 10,
        "the async thread kept running: {ticked} ticks"
    );
    result
}
