//! What a plan costs in ARM requests, from the emulator's counters: the
//! requests of a failover by route, exactly, so that a read added back
//! fails here (docs/benchmarks.md, "Azure backend on the ARM emulator");
//! a fresh process's concurrent first starts list the vault once between
//! them; a shared read whose leader is cancelled leaves no one waiting; and
//! a job's `Retry-After` is not kept once the job has ended; checking a
//! plan reads the vault's listing alone.

use super::{common, plan};
use drbook_arm_emulator::{Config, Counters};
use drbook_core::fabric::{Direction, Fabric, OperationRequest};

const FAILOVER: OperationRequest = OperationRequest::PlannedFailover {
    direction: Direction::PrimaryToRecovery,
};

/// The GETs and POSTs of `counters` by route, the token endpoint aside.
fn by_route(counters: &Counters) -> Vec<(String, u64)> {
    counters
        .requests
        .iter()
        .filter(|(route, _)| !route.ends_with(" token"))
        .map(|(route, n)| (route.clone(), *n))
        .collect()
}

#[tokio::test]
async fn a_planned_failover_costs_two_reads_per_vm_and_three_lists_per_group() {
    const VMS: u64 = 30;
    const GROUPS: u64 = 3;
    let env = common::start(Some(common::estate(VMS as usize)), Config::default()).await;
    let fabric = env.fabric("azure");
    let vms: Vec<String> = (0..VMS).map(|i| format!("vm-{i:03}")).collect();
    // The name index, as a process that has read the estate has it.
    fabric.get_item(&vms[0]).await.expect("the first VM");
    env.emu.reset_counters();
    let groups = plan::groups(&vms, GROUPS as usize);
    plan::run(&fabric, &groups, &FAILOVER).await;
    // Per VM: its POST; the job its POST started, read once (it had ended
    // at instant speed, and that read is its status); its recovery points,
    // for the check after the group. Per group of 10 (more than the
    // vault's one page), one list of the vault for each of the group's
    // reads of its items at once: the starts' checks, the recovery points
    // the failovers restored from, the check after the group. No GET of
    // one item, and no recovery points for a start that names none.
    assert_eq!(
        by_route(&env.emu.counters()),
        [
            ("GET jobs.get".to_string(), VMS),
            ("GET protectedItems.list".to_string(), 3 * GROUPS),
            ("GET recoveryPoints.list".to_string(), VMS),
            ("POST protectedItems.plannedFailover".to_string(), VMS),
        ]
    );
}

/// 100 items in pages of 10: a list of the vault is 10 GETs.
async fn paged_vault() -> common::Env {
    common::start(
        Some(common::estate(100)),
        Config {
            page_size: 10,
            ..Config::default()
        },
    )
    .await
}

/// What `drbook run`, `plan check` and `webhook create` read to check a
/// plan: the vault's listing, its pages only, whatever its size.
#[tokio::test]
async fn items_without_points_are_one_listing_of_the_vault() {
    let env = paged_vault().await;
    let fabric = env.fabric("azure");
    let items = fabric.list_items_without_points().await.expect("the items");
    assert_eq!(items.len(), 100);
    assert!(items.iter().all(|item| item.recovery_points.is_empty()));
    assert_eq!(
        by_route(&env.emu.counters()),
        [("GET protectedItems.list".to_string(), 10)]
    );
}

#[tokio::test]
async fn concurrent_first_starts_list_the_vault_once() {
    let env = paged_vault().await;
    let fabric = env.fabric("azure");
    let vms: Vec<String> = (0..10).map(|i| format!("vm-{i:03}")).collect();
    let starts = vms.iter().map(|vm| {
        let fabric = &fabric;
        async move {
            fabric
                .start(vm, &FAILOVER, &format!("first {vm}"))
                .await
                .unwrap_or_else(|e| panic!("{vm}: {e}"))
        }
    });
    let ids = futures::future::join_all(starts).await;
    assert_eq!(ids.len(), 10);
    let counters = env.emu.counters();
    // One list (10 pages) names every VM for the ten starts; their checks
    // are 10 reads either way (10 GETs, or a list of 10 pages): GETs.
    assert_eq!(
        by_route(&counters),
        [
            ("GET jobs.get".to_string(), 10),
            ("GET protectedItems.get".to_string(), 10),
            ("GET protectedItems.list".to_string(), 10),
            ("POST protectedItems.plannedFailover".to_string(), 10),
        ]
    );
    for vm in &vms {
        assert_eq!(counters.posts(vm, "plannedFailover"), 1, "{vm}");
    }
}

#[tokio::test]
async fn a_read_whose_leader_is_cancelled_before_sending_is_read_alone() {
    let env = common::start(Some(common::estate(3)), Config::default()).await;
    let fabric = env.fabric("azure");
    fabric.get_item("vm-000").await.expect("the name index");
    env.emu.reset_counters();
    // The first read leads a shared read and yields once before sending
    // it; the second joins it; the first is then dropped, unsent.
    let mut leader = Box::pin(fabric.get_item("vm-000"));
    assert!(futures::poll!(&mut leader).is_pending());
    let mut follower = Box::pin(fabric.get_item("vm-001"));
    assert!(futures::poll!(&mut follower).is_pending());
    drop(leader);
    let item = tokio::time::timeout(std::time::Duration::from_secs(10), follower)
        .await
        .expect("the follower does not wait for a read nobody sends")
        .expect("vm-001");
    assert_eq!(item.name, "vm-001");
    assert_eq!(
        by_route(&env.emu.counters()),
        [
            ("GET protectedItems.get".to_string(), 1),
            ("GET recoveryPoints.list".to_string(), 1),
        ]
    );
}

/// ARM's `Retry-After` for a job rules its polls while it runs, and is
/// forgotten once the job is seen ended: a worker that runs for months does
/// not keep one per job it ever polled.
#[tokio::test]
async fn a_jobs_retry_after_is_forgotten_once_the_job_has_ended() {
    use drbook_core::fabric::OperationState;
    use drbook_core::TimeScale;
    use std::time::Duration;
    // 600×: the failover runs for a fraction of a second, polled by 1 s.
    let config = Config {
        retry_after_secs: Some(1),
        ..Config::default()
    };
    let env = common::start_at(Some(common::estate(1)), config, TimeScale::Factor(600.0)).await;
    let fabric = env.fabric("azure");
    let id = fabric.start("vm-000", &FAILOVER, "test").await.unwrap();
    let running = fabric.operation(&id).await.unwrap();
    assert_eq!(running.state, OperationState::InProgress);
    assert_eq!(fabric.poll_interval(&running), Duration::from_secs(1));
    let ended = fabric.wait(&id, &mut |_| {}).await.unwrap();
    assert_eq!(ended.state, OperationState::Succeeded);
    assert_eq!(
        fabric.poll_interval(&running),
        common::config(&env.emu, env.dir.path()).poll_interval,
        "the ended job's Retry-After is still kept"
    );
}
