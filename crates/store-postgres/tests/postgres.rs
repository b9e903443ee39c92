//! What only the PostgreSQL store promises, beyond the conformance suite: a
//! claim does not wait for a job another worker is claiming (`SKIP
//! LOCKED`), a change that makes a job runnable wakes the workers of other
//! processes (`NOTIFY`), and migrations: a store not migrated is refused
//! with the command to run, several migrating at once take turns, and a
//! newer store is refused and left as it is.

use std::sync::Arc;
use std::time::Duration;

use drbook_core::lease::Lease;
use drbook_core::store::{JobStore, StoreError};
use drbook_store_postgres::{testing, OpenError, PostgresStore, SCHEMA_VERSION};

/// How long a test lets a call take before it calls it stuck: a guard
/// against a hang, not a measurement.
const STUCK: Duration = Duration::from_secs(30);

async fn open(url: &str) -> Arc<PostgresStore> {
    Arc::new(PostgresStore::open(url).await.expect("open the store"))
}

/// Creates a job; its id.
async fn create(store: &PostgresStore) -> String {
    drbook_conformance::store::create_job(store, b"\0asm postgres test").await
}

/// A job whose row another worker's claim holds locked is not waited for:
/// the claim says "not taken" at once, and takes it once the lock is gone.
#[tokio::test(flavor = "multi_thread")]
async fn a_claim_skips_a_job_another_claim_holds() {
    let url = testing::database().await;
    let store = open(&url).await;
    let id = create(&store).await;
    let lease = Lease::new("worker", Duration::from_secs(600));
    assert!(store.renew(&lease).await.expect("renew"));

    let locker = testing::lock_job(&url, &id).await;
    let claimed = tokio::time::timeout(STUCK, store.claim(&id, &lease))
        .await
        .expect("a claim never waits for another's lock");
    assert!(!claimed.expect("claim"), "another claim holds the row");
    locker.release().await;
    assert!(store.claim(&id, &lease).await.expect("claim"), "free again");
}

/// A job created by one process wakes another's workers (`changed`).
#[tokio::test(flavor = "multi_thread")]
async fn a_new_job_wakes_the_workers_of_another_process() {
    let url = testing::database().await;
    let (worker, creator) = (open(&url).await, open(&url).await);
    let mut woken = {
        let worker = worker.clone();
        tokio::spawn(async move { worker.changed().await })
    };
    // A notification wakes the workers waiting when it arrives, so the
    // creator makes jobs until one arrives after the worker began to wait.
    let deadline = tokio::time::Instant::now() + STUCK;
    loop {
        create(&creator).await;
        tokio::select! {
            done = &mut woken => break done.expect("the waiting task"),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new job woke the worker"
        );
    }
    // Armed when asked, before it is polled: a job made between the call
    // and the wait (while a worker looks at the store) still wakes it.
    let changed = worker.changed();
    create(&creator).await;
    tokio::time::timeout(STUCK, changed)
        .await
        .expect("a job made after `changed` was called, before it was polled, wakes it");
}

/// A store not migrated is refused, naming `drbook store migrate`;
/// migrations run once however many hosts migrate at once; a newer store
/// is refused by both `open` and `migrate`, and left untouched.
#[tokio::test(flavor = "multi_thread")]
async fn migrations_take_turns_and_a_newer_store_is_refused() {
    let url = testing::empty_database().await;
    match PostgresStore::open(&url).await {
        Err(e @ OpenError::NotMigrated { found: 0, .. }) => {
            assert!(e.to_string().contains("drbook store migrate"), "{e}")
        }
        Err(e) => panic!("not migrated: {e}"),
        Ok(_) => panic!("a store not migrated was opened"),
    }
    let migrations: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PostgresStore::migrate(&url).await })
        })
        .collect();
    let mut from: Vec<i64> = Vec::new();
    for migration in migrations {
        from.push(migration.await.expect("task").expect("migrate").from);
    }
    from.sort();
    assert_eq!(from, [0, SCHEMA_VERSION, SCHEMA_VERSION, SCHEMA_VERSION]);
    let store = open(&url).await;
    assert!(store.list(None, 10).await.expect("list").is_empty());

    testing::execute(&url, "INSERT INTO schema_version (version) VALUES (99)").await;
    for refused in [
        PostgresStore::open(&url).await.map(|_| ()),
        PostgresStore::migrate(&url).await.map(|_| ()),
    ] {
        match refused {
            Err(OpenError::Store(StoreError::Newer { found: 99, .. })) => {}
            Err(e) => panic!("a newer store: {e}"),
            Ok(()) => panic!("a newer store was used"),
        }
    }
}
