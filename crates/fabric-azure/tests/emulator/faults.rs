//! What only the protocol shows: 429 on every third request (a 100-VM
//! plan), a connection dropped after a POST was applied, a resumed process
//! re-attaching, 401, a 5xx storm.

use super::{common, plan};
use drbook_arm_emulator::{Config, HttpFaults};
use drbook_core::fabric::{
    AllowedOperation, Direction, Fabric, Location, OperationRequest, OperationState,
};
use drbook_core::TimeScale;
use drbook_fabric_azure::Limits;
use std::sync::atomic::Ordering;
use std::time::Duration;

const FAILOVER: OperationRequest = OperationRequest::PlannedFailover {
    direction: Direction::PrimaryToRecovery,
};

/// Fails over and commits every VM at once through one backend, as a
/// one-group plan's jobs would.
async fn failover_and_commit(fabric: &drbook_fabric_azure::AzureFabric, vms: &[String]) {
    let group = [vms.to_vec()];
    plan::run(fabric, &group, &FAILOVER).await;
    plan::run(fabric, &group, &OperationRequest::Commit).await;
}

#[tokio::test]
async fn throttled_every_third_request_a_100_vm_plan_completes_with_one_post_each_honouring_retry_after(
) {
    // Said in `x-ms-retry-after-ms` (with `Retry-After: 1`): 1 s on each
    // of a few hundred 429s, ten groups in a row, would take minutes.
    const RETRY_AFTER: Duration = Duration::from_millis(50);
    let env = common::start(
        Some(common::estate(100)),
        Config {
            page_size: 30,
            faults: HttpFaults {
                throttle_every: Some(3),
                throttle_retry_after_secs: 1,
                throttle_retry_after_ms: Some(RETRY_AFTER.as_millis() as u32),
                ..HttpFaults::default()
            },
            ..Config::default()
        },
    )
    .await;
    // A third of all requests refused: a request may meet several 429s in
    // a row, and giving up would fail the plan. Patience, here; and no
    // client-side budget to wait for (at ARM's limits, 25 reads a second
    // after a burst of 250, the plan's 7 reads per VM would take 18 s:
    // docs/benchmarks.md), so that the 429s are what the plan meets.
    let mut config = common::config(&env.emu, &env.dir.path().join("azure"));
    config.retry.attempts = 20;
    config.limits = Limits {
        read_burst: 100_000,
        reads_per_second: 100_000,
        write_burst: 100_000,
        writes_per_second: 100_000,
    };
    let fabric = drbook_fabric_azure::AzureFabric::open(&config).expect("the backend opens");
    let vms: Vec<String> = fabric
        .list_items()
        .await
        .expect("the list")
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(vms.len(), 100, "every page followed despite the 429s");
    let groups = plan::groups(&vms, 10);
    assert_eq!(groups.len(), 10);

    let items = plan::run(&fabric, &groups, &FAILOVER).await;
    let failed_over: Vec<&str> = items
        .iter()
        .filter(|i| i.active_location == Location::Recovery && i.allows(AllowedOperation::Commit))
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(failed_over, vms, "every VM failed over, in plan order");

    let counters = env.emu.counters();
    for vm in &vms {
        assert_eq!(
            counters.posts(vm, "plannedFailover"),
            1,
            "{vm}: {counters:?}"
        );
    }
    assert_eq!(counters.total_posts(), 100, "{counters:?}");
    assert!(counters.throttled > 0, "{counters:?}");
    let seen = fabric.arm().counters().throttled.load(Ordering::Relaxed);
    assert_eq!(seen, counters.throttled, "every 429 was seen");
    // Measured on the emulator's clock: from each 429 to the same request
    // coming again.
    assert_eq!(
        counters.retries.len() as u64,
        counters.throttled,
        "every 429 was retried: {:?}",
        counters.retries
    );
    for retry in &counters.retries {
        assert_eq!(retry.retry_after, RETRY_AFTER, "{retry:?}");
        assert!(retry.waited >= RETRY_AFTER, "retried too soon: {retry:?}");
    }
    assert!(
        counters
            .retries
            .iter()
            .any(|r| r.route.starts_with("POST ")),
        "a throttled POST was sent again after its wait: {:?}",
        counters.retries
    );
}

#[tokio::test]
async fn a_post_whose_answer_is_lost_is_found_not_sent_again() {
    let env = common::start(Some(common::estate(3)), Config::default()).await;
    let fabric = env.fabric("azure");
    env.emu.set_faults(HttpFaults {
        drop_next_posts: 1,
        ..HttpFaults::default()
    });
    let id = fabric
        .start("vm-000", &FAILOVER, "job j1 call 3")
        .await
        .expect("the failover is found although its answer was lost");
    let counters = env.emu.counters();
    assert_eq!(counters.dropped, 1, "{counters:?}");
    assert_eq!(
        counters.posts("vm-000", "plannedFailover"),
        1,
        "{counters:?}"
    );
    let status = fabric.wait(&id, &mut |_| {}).await.expect("the operation");
    assert_eq!(
        (status.state, &status.request),
        (OperationState::Succeeded, &FAILOVER)
    );

    // A resumed process, with the same data dir: it finds the operation
    // by the initiator and never POSTs.
    let resumed = env.fabric("azure");
    let found = resumed
        .find_operation("vm-000", "job j1 call 3")
        .await
        .expect("find_operation");
    assert_eq!(found.map(|s| s.id), Some(id.clone()));
    // Another host, without this one's audit log: found by the job's
    // activity id, with the request rebuilt from Azure's job and item.
    let elsewhere = env.fabric("elsewhere");
    let found = elsewhere
        .find_operation("vm-000", "job j1 call 3")
        .await
        .expect("find_operation")
        .expect("found by its client request id");
    assert_eq!(
        (found.id.as_str(), &found.request),
        (id.as_str(), &FAILOVER)
    );
    assert_eq!(
        elsewhere
            .find_operation("vm-000", "job j1 call 4")
            .await
            .unwrap(),
        None
    );
    assert_eq!(env.emu.counters().total_posts(), 1);
}

/// A job's run that stalled past its lease after its intent (host A)
/// POSTs after the run that took the job over (host B) looked for the
/// operation and found none: B's start, with the same initiator, finds the
/// item running, then done, by A's POST, and takes that operation as its
/// own rather than failing the job on a refusal. One POST.
#[tokio::test]
async fn a_start_refused_by_its_own_initiators_operation_takes_that_operation() {
    let config = Config::default();
    let env = common::start_at(Some(common::estate(1)), config, TimeScale::Factor(600.0)).await;
    let (stalled, taker) = (env.fabric("host-a"), env.fabric("host-b"));
    let initiator = "job j7 call 3";
    assert_eq!(
        taker.find_operation("vm-000", initiator).await.unwrap(),
        None
    );
    let id = stalled.start("vm-000", &FAILOVER, initiator).await.unwrap();
    // Running: the item is busy with it.
    let running = taker.start("vm-000", &FAILOVER, initiator).await;
    assert_eq!(running.as_deref(), Ok(id.as_str()), "while it runs");
    taker.wait(&id, &mut |_| {}).await.expect("the operation");
    // Ended: the item no longer allows a failover.
    let ended = taker.start("vm-000", &FAILOVER, initiator).await;
    assert_eq!(ended.as_deref(), Ok(id.as_str()), "once it has ended");
    assert_eq!(env.emu.counters().total_posts(), 1);
    // Another initiator's start is refused as before.
    let other = taker.start("vm-000", &FAILOVER, "job j8 call 3").await;
    assert!(other.is_err(), "{other:?}");
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once() {
    let env = common::start(Some(common::estate(3)), Config::default()).await;
    let fabric = env.fabric("azure");
    fabric.list_items().await.expect("the list");
    fabric.get_item("vm-001").await.expect("an item");
    assert_eq!(env.emu.counters().token_fetches, 1, "one token, reused");
    env.emu.revoke_tokens();
    fabric.get_item("vm-001").await.expect("after one refresh");
    let counters = env.emu.counters();
    assert_eq!(
        (counters.token_fetches, counters.unauthorized),
        (2, 1),
        "{counters:?}"
    );
    let (_, refreshes) = fabric.arm().credentials().counts();
    assert_eq!(refreshes, 1);
}

#[tokio::test]
async fn unknown_vaults_and_vms_are_clear() {
    let env = common::start(Some(common::estate(3)), Config::default()).await;
    let mut config = common::config(&env.emu, &env.dir.path().join("azure"));
    config.vault = "no-such-vault".to_string();
    let fabric = drbook_fabric_azure::AzureFabric::open(&config).unwrap();
    let err = fabric.list_items().await.unwrap_err().to_string();
    assert!(err.contains("404"), "{err}");
    let fabric = env.fabric("azure");
    match fabric.get_item("nope").await {
        Err(drbook_core::fabric::FabricError::ItemNotFound { vm }) => assert_eq!(vm, "nope"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_token_is_reused_then_refreshed_before_it_expires() {
    // A token good for 302 s: cached, then due for a refresh once fewer
    // than 300 s are left, before it expires (azure_identity's margin).
    let env = common::start(
        Some(common::estate(2)),
        Config {
            token_lifetime: Duration::from_secs(302),
            ..Config::default()
        },
    )
    .await;
    let fabric = env.fabric("azure");
    fabric.list_items().await.expect("the list");
    fabric.get_item("vm-000").await.expect("an item");
    assert_eq!(env.emu.counters().token_fetches, 1, "one token, reused");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    fabric.get_item("vm-000").await.expect("an item");
    let counters = env.emu.counters();
    assert_eq!(
        (counters.token_fetches, counters.unauthorized),
        (2, 0),
        "refreshed before it expired, never refused: {counters:?}"
    );
}

#[tokio::test]
async fn a_5xx_storm_is_ridden_out_and_no_operation_starts_twice() {
    // Every fourth request fails with a 503 unserved: a POST among them may
    // have started for all the client knows, so it is looked up first.
    let env = common::start(
        Some(common::estate(8)),
        Config {
            faults: HttpFaults {
                error_every: Some(4),
                error_status: Some(503),
                ..HttpFaults::default()
            },
            ..Config::default()
        },
    )
    .await;
    let fabric = env.fabric("azure");
    let vms: Vec<String> = (0..8).map(|i| format!("vm-{i:03}")).collect();
    failover_and_commit(&fabric, &vms).await;
    let counters = env.emu.counters();
    assert!(counters.errors_injected > 0, "{counters:?}");
    for vm in &vms {
        for action in ["plannedFailover", "failoverCommit"] {
            assert_eq!(counters.posts(vm, action), 1, "{vm} {action}: {counters:?}");
        }
    }
}
