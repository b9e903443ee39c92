//! The azure backend on the ARM emulator over HTTPS: issue 11's figures,
//! printed as tables (docs/benchmarks.md, "Azure backend on the ARM
//! emulator").
//!
//! - `plan`: a 100-VM plan in 10 groups (planned failover; groups in
//!   order, a group's VMs started at once, then waited on at once, then
//!   each read back) at
//!   instant speed, end to end, with the backend's budget at ARM's limits and
//!   with it lifted; ARM requests per VM by route.
//! - `overhead`: the backend's cost per ARM call beyond the HTTP round trip:
//!   `Fabric::get_item` (two GETs) and `Fabric::operation` (one) against the
//!   same GETs sent raw by the same `reqwest` client, alternated.
//! - `budget`: a 1,000-VM plan in 10 groups with the emulator enforcing
//!   ARM's budget (reads 250 + 25/s, writes 200 + 10/s) and the backend
//!   keeping to its own: the time waited for budget, per bucket, against
//!   the time the plan took. About five minutes; `DRBOOK_BENCH_BUDGET_VMS`
//!   sets another size.
//!
//! `cargo bench -p drbook-fabric-azure --bench azure [-- plan|overhead|budget]`.

#[path = "../tests/emulator/common.rs"]
mod common;
#[path = "../tests/emulator/plan.rs"]
mod plan;

use drbook_arm_emulator::{Budget, Config, Counters};
use drbook_core::fabric::{Direction, Fabric, OperationRequest};
use drbook_fabric_azure::{
    http_client, wire, AzureFabric, BudgetKind, Credentials, Limits, Waited,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FAILOVER: OperationRequest = OperationRequest::PlannedFailover {
    direction: Direction::PrimaryToRecovery,
};

/// No budget to speak of: what the backend costs without ARM's pacing.
const LIFTED: Limits = Limits {
    read_burst: 1_000_000,
    reads_per_second: 1_000_000,
    write_burst: 1_000_000,
    writes_per_second: 1_000_000,
};

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        if wanted("plan") {
            plan_100().await;
        }
        if wanted("overhead") {
            overhead().await;
        }
        if wanted("budget") {
            let vms = std::env::var("DRBOOK_BENCH_BUDGET_VMS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000);
            budget_bound(vms).await;
        }
    });
}

/// A backend over `env` with `limits`, and the HTTP client and
/// credentials it uses.
fn backend(env: &common::Env, limits: Limits) -> (AzureFabric, reqwest::Client, Arc<Credentials>) {
    let mut config = common::config(&env.emu, &env.dir.path().join("azure"));
    config.limits = limits;
    let ca = std::fs::read(&env.emu.endpoints().ca_pem_path).expect("the CA");
    let http = http_client(Some(&ca), config.timeout).expect("an HTTPS client");
    let credentials = Arc::new(Credentials::new(
        config.credential.clone(),
        http.clone(),
        config.scope(),
    ));
    let fabric = AzureFabric::with_credentials(&config, http.clone(), credentials.clone())
        .expect("the backend opens");
    (fabric, http, credentials)
}

/// An emulator of `vms` VMs with `config`, and their names.
async fn emulator(vms: usize, config: Config) -> (common::Env, Vec<String>) {
    let estate = common::estate(vms);
    let names = estate.vms.iter().map(|vm| vm.name.clone()).collect();
    (common::start(Some(estate), config).await, names)
}

/// One plan of `names` in 10 groups: how long it took, and the emulator's
/// counters of it.
async fn run_plan(
    env: &common::Env,
    fabric: &AzureFabric,
    names: &[String],
) -> (Duration, Counters) {
    let vms = names.len();
    let groups = plan::groups(names, 10);
    // The name index, as a process that has read the estate once has it:
    // a first group on an empty one would wait for one list of the vault
    // (a read per page) inside the timing.
    fabric.get_item(&names[0]).await.expect("the first VM");
    env.emu.reset_counters();
    let started = Instant::now();
    let items = plan::run(fabric, &groups, &FAILOVER).await;
    let took = started.elapsed();
    assert_eq!(items.len(), vms);
    let counters = env.emu.counters();
    assert_eq!(counters.total_posts(), vms as u64, "one POST per VM");
    (took, counters)
}

fn print_requests(counters: &Counters, vms: usize) {
    println!("| request | per VM |");
    println!("|---|---|");
    for (route, n) in &counters.requests {
        println!("| `{route}` | {:.2} |", *n as f64 / vms as f64);
    }
    println!(
        "| all ARM requests | **{:.2}** |",
        counters.total_requests() as f64 / vms as f64
    );
}

fn waits(fabric: &AzureFabric) -> (Waited, Waited) {
    let budget = fabric.arm().budget();
    (
        budget.waited(BudgetKind::Read),
        budget.waited(BudgetKind::Write),
    )
}

async fn plan_100() {
    println!("\n## plan: 100 VMs in 10 groups, planned failover, instant speed\n");
    println!("| backend budget | end to end | reads that waited for budget, their waits summed | writes that waited |");
    println!("|---|---|---|---|");
    let mut last = None;
    for (name, limits) in [("ARM's (default)", Limits::ARM), ("lifted", LIFTED)] {
        let (env, names) = emulator(100, Config::default()).await;
        let (fabric, _, _) = backend(&env, limits);
        let (took, counters) = run_plan(&env, &fabric, &names).await;
        let (reads, writes) = waits(&fabric);
        println!(
            "| {name} | **{:.2} s** | {}, {:.2} s | {}, {:.2} s |",
            took.as_secs_f64(),
            reads.requests,
            reads.total.as_secs_f64(),
            writes.requests,
            writes.total.as_secs_f64()
        );
        last = Some(counters);
    }
    println!("\nARM requests of the plan (budget lifted), per VM:\n");
    print_requests(&last.expect("a run"), 100);
}

/// Median of `samples`.
fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn overhead() {
    const ROUNDS: usize = 2000;
    let (env, names) = emulator(10, Config::default()).await;
    let vm = &names[0];
    let (fabric, http, credentials) = backend(&env, LIFTED);
    let vault = fabric.vault_path().to_string();
    let items: Vec<wire::Item> = fabric
        .arm()
        .list(&format!("{vault}/replicationProtectedItems"))
        .await
        .expect("the items");
    let item = items
        .iter()
        .find(|i| &i.name == vm)
        .expect("the VM")
        .id
        .clone();
    // A committed failover: its status needs its job only (one GET).
    let mut commit = String::new();
    for request in [FAILOVER, OperationRequest::Commit] {
        commit = fabric
            .start(vm, &request, &format!("bench {:?}", request.kind()))
            .await
            .expect("a start");
        fabric.wait(&commit, &mut |_| {}).await.expect("it ends");
    }
    let urls = [
        fabric.arm().url(&item).expect("a URL"),
        fabric
            .arm()
            .url(&format!("{item}/recoveryPoints"))
            .expect("a URL"),
        fabric
            .arm()
            .url(&format!("{vault}/replicationJobs/{commit}"))
            .expect("a URL"),
    ];
    let (token, _) = credentials.token().await.expect("a token");
    let raw = |url: reqwest::Url| {
        let request = http.get(url).bearer_auth(token.secret());
        async move {
            let response = request.send().await.expect("an answer");
            assert!(response.status().is_success(), "{}", response.status());
            response.bytes().await.expect("a body");
        }
    };
    let time = |started: Instant, samples: &mut Vec<Duration>| samples.push(started.elapsed());
    let (mut get_item, mut raw_two, mut operation, mut raw_one) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS + ROUNDS / 10 {
        let warm = round < ROUNDS / 10;
        let started = Instant::now();
        fabric.get_item(vm).await.expect("get_item");
        if !warm {
            time(started, &mut get_item);
        }
        let started = Instant::now();
        raw(urls[0].clone()).await;
        raw(urls[1].clone()).await;
        if !warm {
            time(started, &mut raw_two);
        }
        let started = Instant::now();
        fabric.operation(&commit).await.expect("operation");
        if !warm {
            time(started, &mut operation);
        }
        let started = Instant::now();
        raw(urls[2].clone()).await;
        if !warm {
            time(started, &mut raw_one);
        }
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let (get_item, raw_two) = (median(&mut get_item), median(&mut raw_two));
    let (operation, raw_one) = (median(&mut operation), median(&mut raw_one));
    println!("\n## overhead: median of {ROUNDS} rounds, each call after the other\n");
    println!("| call | ARM calls | backend | raw, same client | overhead per ARM call |");
    println!("|---|---|---|---|---|");
    println!(
        "| `Fabric::get_item` (item + recoveryPoints) | 2 | {:.0} µs | {:.0} µs | **{:.0} µs** |",
        us(get_item),
        us(raw_two),
        (us(get_item) - us(raw_two)) / 2.0
    );
    println!(
        "| `Fabric::operation` (a committed job) | 1 | {:.0} µs | {:.0} µs | **{:.0} µs** |",
        us(operation),
        us(raw_one),
        us(operation) - us(raw_one)
    );
}

async fn budget_bound(vms: usize) {
    let config = Config {
        budget: Some(Budget::ARM),
        ..Config::default()
    };
    let (env, names) = emulator(vms, config).await;
    let fabric = env.fabric("azure");
    let (took, counters) = run_plan(&env, &fabric, &names).await;
    let (reads, writes) = waits(&fabric);
    let gets = counters.total_requests() - counters.total_posts();
    let floor = |requests: u64, bucket: drbook_arm_emulator::Bucket| {
        requests.saturating_sub(u64::from(bucket.capacity)) as f64 / bucket.refill_per_second
    };
    println!(
        "\n## budget: {vms} VMs in 10 groups, the emulator enforcing ARM's budget, the backend its own\n"
    );
    println!("| figure | value |");
    println!("|---|---|");
    println!("| end to end | **{:.1} s** |", took.as_secs_f64());
    println!(
        "| reads: requests, of them waited for budget, their waits summed | {gets}, {}, {:.1} s |",
        reads.requests,
        reads.total.as_secs_f64()
    );
    println!(
        "| writes (POSTs): requests, of them waited for budget, their waits summed | {}, {}, {:.1} s |",
        counters.total_posts(),
        writes.requests,
        writes.total.as_secs_f64()
    );
    println!(
        "| the least time ARM's buckets allow these requests: reads, writes | {:.1} s, {:.1} s |",
        floor(gets, Budget::ARM.reads),
        floor(counters.total_posts(), Budget::ARM.writes)
    );
    println!(
        "| POSTs per second over the plan (ARM allows 10 after the first 200) | {:.1} |",
        counters.total_posts() as f64 / took.as_secs_f64()
    );
    println!(
        "| 429s of the emulator's budget met | {} |",
        counters.budget_throttled
    );
    println!();
    print_requests(&counters, vms);
}
