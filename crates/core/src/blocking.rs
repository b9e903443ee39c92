//! Running a backend's synchronous call (a SQLite transaction, a sync to
//! disk) from async code without holding an async worker thread: on a
//! multi-thread runtime the call runs in place and tokio hands the worker's
//! other tasks to another thread meanwhile (`block_in_place`: no hop to
//! another thread and back, so a call costs what it did when it was made
//! inline); on a current-thread runtime, where that is not possible, it runs
//! on the blocking pool.

/// Runs `f`, a call that may block, off the async threads (see the module
/// docs). `Err(message)` if it panicked.
pub async fn call<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => Ok(tokio::task::block_in_place(f)),
        Ok(_) => tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| e.to_string()),
        Err(_) => Ok(f()),
    }
}
