//! Crashes for real: a test whose writer must die runs it in a child
//! process (this test executable again, running only that test) that
//! aborts, so that nothing the writer buffered in its process, and no
//! destructor, outlives it; the parent goes on as the next worker would.

use std::future::Future;
use std::process::{Command, ExitStatus, Output};

use super::fixtures::{answered, completed, create, entry, holding, intent, line, runnable_soon};
use super::fixtures::{Must, LONG_LEASE, MODULE, SHORT_LEASE};
use super::Backend;
use drbook_core::job::JobStatus;

/// The environment variable that makes a test process the child of a crash
/// test; its value is where the store is ([`Backend::place`]).
pub const CRASH_CHILD: &str = "DRBOOK_CONFORMANCE_CRASH_CHILD";

/// In the child of a crash test (see [`spawn_crash_child`]): runs `child`
/// with the store's place, then aborts the process, never returning.
/// Anywhere else it returns at once, and the test goes on as the parent.
/// A crash test calls it first, before it makes anything a child must not
/// (a store of its own: an abort removes nothing).
pub async fn crash_child_or<F>(child: impl FnOnce(String) -> F)
where
    F: Future<Output = ()>,
{
    if let Ok(place) = std::env::var(CRASH_CHILD) {
        child(place).await;
        std::process::abort();
    }
}

/// Runs test `test` (its full name, as the test harness lists it) of this
/// executable again as the child of a crash test, with the store at
/// `place`, and waits for it to die of its abort; fails the test if it
/// ended any other way (a failed assertion, no such test), with what it
/// printed.
pub async fn spawn_crash_child(test: &str, place: &str) {
    let exe = std::env::current_exe().expect("the test executable's path");
    let mut command = Command::new(exe);
    command
        .args([test, "--exact", "--nocapture"])
        .env(CRASH_CHILD, place);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the crash child's waiter")
        .expect("spawn the crash child");
    assert!(aborted(output.status), "{}", failed(test, &output));
}

/// What a crash child that did not abort left, for the test's failure.
fn failed(test: &str, output: &Output) -> String {
    format!(
        "the crash child (test {test}) did not abort but {}\n--- its stdout:\n{}\n--- its stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[cfg(unix)]
fn aborted(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(libc::SIGABRT)
}

/// Elsewhere an abort is told from a test's failure (the harness's 101)
/// and its success only by its exit code.
#[cfg(not(unix))]
fn aborted(status: ExitStatus) -> bool {
    !status.success() && status.code() != Some(101)
}

/// The owner of the lease the crashing writer holds.
const CRASHED: &str = "crashed-writer";

/// The child's part: takes the store's one job, appends an entry and an
/// intent, and (once `crash_child_or` aborts) dies holding the job.
async fn write_an_intent<B: Backend>(backend: B) {
    let store = backend.open().await;
    let jobs = store.list(None, 2).await.must("list");
    let [job] = jobs.as_slice() else {
        panic!("the crash child's store holds one job, not {jobs:?}")
    };
    let lease = holding(&*store, &job.id, CRASHED, SHORT_LEASE).await;
    let (run, _) = store.open_run(&job.id, &lease).await.must("open_run");
    run.append(0, &entry(0), Some(&line("before the intent")))
        .must("append");
    run.append_intent(1, &intent()).await.must("append_intent");
}

/// An intent is durable when `append_intent` returns: its writer's process
/// dies right after (a child that aborts), and the next worker, once the
/// dead one's lease ended, claims the job and replays it with the intent,
/// unanswered, and what came before it (a replay is of a journal without
/// gaps). `test` is the full name of the test calling this (its child runs
/// it again); `fresh` makes the store, in the parent only (a backend may
/// have to create it: a database on a server).
pub async fn an_intent_survives_a_crash_of_its_writer<B: Backend, F>(
    test: &str,
    fresh: impl FnOnce() -> F,
) where
    F: Future<Output = B>,
{
    crash_child_or(|place| write_an_intent(B::at(&place))).await;
    let backend = fresh().await;
    let id = create(&*backend.open().await, MODULE).await;
    spawn_crash_child(test, &backend.place()).await;

    let store = backend.open().await;
    let job = store.get(&id).await.must("get");
    assert_eq!(job.state, JobStatus::Running, "the child ran it");
    assert_eq!(
        job.lease_owner.as_deref(),
        Some(CRASHED),
        "and died holding it"
    );
    runnable_soon(&*store, &id).await;
    let lease = holding(&*store, &id, "next-worker", LONG_LEASE).await;
    let (run, replay) = store.open_run(&id, &lease).await.must("open_run");
    assert_eq!(
        replay,
        [entry(0), intent()],
        "the intent outlived its writer"
    );
    assert_eq!(store.journal(&id).await.must("journal"), replay);

    // The resumed job learns how its operation went instead of starting it
    // again, and its reply takes the intent's place.
    run.append(1, &answered(), None).must("append");
    run.end(completed(&serde_json::json!({}))).await.must("end");
    let journal = backend.open().await.journal(&id).await.must("journal");
    assert_eq!(journal, [entry(0), answered()]);
}
