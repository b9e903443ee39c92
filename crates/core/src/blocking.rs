//! Running a backend's synchronous call (a SQLite transaction, a sync to
//! disk) from async code without holding an async worker thread: the call is
//! handed to a small pool of threads of its own, fixed in size for the whole
//! process, and the caller's task waits for its answer.
//!
//! Why not tokio's own means: `block_in_place` and `spawn_blocking` each
//! take a thread from tokio's blocking pool, which grows to 512 threads when
//! many calls wait at once. Ten thousand jobs starting operations together
//! each sync an intent to disk; as threads of tokio's pool they doubled the
//! resident memory of a worker (`docs/benchmarks.md`, issue 9). Calls that
//! wait here queue instead: the disk serialises their syncs anyway.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, Once};
use std::time::{Duration, Instant};

/// Threads of the pool: two, so that a call that waits on another process's
/// lock (up to the store's busy timeout) does not hold up every other, and
/// no more, as each thread that allocates costs the process memory of its
/// own (glibc gives it an arena: measured in `docs/benchmarks.md`).
const THREADS: usize = 2;

type Call = Box<dyn FnOnce() + Send>;

/// Calls not yet taken, and the threads' signal that one was added.
struct Queue {
    calls: Mutex<VecDeque<Call>>,
    added: Condvar,
}

static QUEUE: Queue = Queue {
    calls: Mutex::new(VecDeque::new()),
    added: Condvar::new(),
};

/// The pool's queue; its threads start with the first call, and serve for
/// the rest of the process.
fn queue() -> &'static Queue {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        for n in 0..THREADS {
            std::thread::Builder::new()
                .name(format!("drbook-blocking-{n}"))
                .spawn(|| serve(&QUEUE))
                .expect("starting a thread of the blocking pool");
        }
    });
    &QUEUE
}

/// How long a thread of the pool looks for its next call after one before
/// it sleeps. Waking a sleeping thread costs tens of microseconds on a VM
/// (`docs/benchmarks.md`), more than many calls take; calls often come in
/// runs (a job's intents, a worker's syncs), which then never pay it.
const LINGER: Duration = Duration::from_micros(100);

fn serve(queue: &Queue) -> ! {
    loop {
        let call = {
            let lingered = Instant::now();
            let mut calls = queue.calls.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(call) = calls.pop_front() {
                    break call;
                }
                if lingered.elapsed() < LINGER {
                    drop(calls);
                    std::hint::spin_loop();
                    std::thread::yield_now();
                    calls = queue.calls.lock().unwrap_or_else(|e| e.into_inner());
                } else {
                    calls = queue.added.wait(calls).unwrap_or_else(|e| e.into_inner());
                }
            }
        };
        call();
    }
}

/// Runs `f`, a call that may block, on the pool (see the module docs).
/// `Err(message)` if it panicked.
pub async fn call<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    detach(move || {
        let result = catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a blocking call panicked".to_string())
        });
        // The caller may have gone (its task was dropped): nobody to tell.
        let _ = answer.send(result);
    });
    answered
        .await
        .map_err(|_| "the blocking pool dropped a call (it panicked)".to_string())?
}

/// Runs `f` on the pool without waiting for it: work that must not hold up
/// its caller (a spool's fold when it reaches its size limit).
pub fn detach(f: impl FnOnce() + Send + 'static) {
    let call: Call = Box::new(move || {
        // A panic is the caller's to report (see `call`); the thread goes on.
        let _ = catch_unwind(AssertUnwindSafe(f));
    });
    let queue = queue();
    queue
        .calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push_back(call);
    queue.added.notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many calls waiting at once queue on the pool's few threads instead of
    /// each taking a thread of its own, and every one is answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_waiting_calls_share_the_pools_threads() {
        use std::sync::Arc;
        let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let calls: Vec<_> = (0..64)
            .map(|n| {
                let threads = threads.clone();
                tokio::spawn(call(move || {
                    threads.lock().unwrap().insert(std::thread::current().id());
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    n
                }))
            })
            .collect();
        let mut answers = Vec::new();
        for c in calls {
            answers.push(c.await.unwrap().unwrap());
        }
        assert_eq!(answers, (0..64).collect::<Vec<_>>());
        let used = threads.lock().unwrap().len();
        assert!(
            (1..=THREADS).contains(&used),
            "{used} threads ran the calls"
        );
    }

    /// A call that panics is an error for its caller, and the pool goes on.
    #[tokio::test]
    async fn a_panicking_call_is_an_error_and_the_pool_goes_on() {
        let err = call(|| -> u32 { panic!("the backend gave up") })
            .await
            .unwrap_err();
        assert_eq!(err, "the backend gave up");
        assert_eq!(call(|| 7).await, Ok(7));
    }
}
