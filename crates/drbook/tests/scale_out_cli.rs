//! Issue 13's multi-host tests. Each host is a data dir of its own with its
//! own `drbook.toml`: `[fabric] kind = "azure"` against ONE ARM emulator
//! (a simulator is per host, so the hosts share the emulator's; its history
//! is the audit that counts the starts, its counters the POSTs) and
//! `[store]` the same PostgreSQL database (the throwaway cluster of
//! `drbook_store_postgres::testing`, feature `postgres-tests`).
//!
//! - Three `drbook worker`s run 300 jobs, each the failover of a plan of
//!   its own VM, while one of them, picked at random, is killed with
//!   SIGKILL at random moments ten times and started again (the seed is
//!   printed; `DRBOOK_TEST_SEED` repeats a run): every job completes once,
//!   every VM is failed over by one POST and one operation, jobs were taken
//!   over (their attempts), every job's stream has each line once.
//! - Two `drbook serve`s are sent the same Azure Monitor alert at once,
//!   again and again, and the same signed message (one `webhook-id`): both
//!   answer with the same job, one set of jobs is made, and each job is in
//!   `jobs list` as soon as its 202 arrives (the delivery's jobs are
//!   committed before the answer).

use drbook_fabric_sim::Estate;
use drbook_store_postgres::testing;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Barrier;
use std::time::{Duration, Instant};

#[path = "common/azure.rs"]
mod azure;
#[allow(dead_code)] // serve_arm() is for the tests of serve-arm itself
mod common;
#[path = "common/postgres.rs"]
#[allow(dead_code)] // signal() and finishes() are for the one-host tests
mod postgres;
mod runbooks;

use azure::AzureHost;
use common::Server;
use postgres::{alert, exits, json, text, PATIENCE};

/// `future` run to its end on a runtime of its own: the tests are plain
/// threads, as the emulator runs on a runtime of its own.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Random choices a failure can be replayed with: splitmix64, from
/// `DRBOOK_TEST_SEED` or the clock, the seed printed.
struct Rng(u64);

impl Rng {
    /// Seeded for the test `what`, which the printed seed names.
    fn seeded(what: &str) -> Rng {
        let seed = std::env::var("DRBOOK_TEST_SEED")
            .ok()
            .map(|s| s.parse().expect("DRBOOK_TEST_SEED: a number"))
            .unwrap_or_else(|| {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                now.unwrap().as_nanos() as u64
            });
        eprintln!("{what}: seed {seed} (DRBOOK_TEST_SEED={seed} makes the same choices)");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from))
    }
}

/// One PostgreSQL database, one ARM emulator over `estate`, and `hosts`
/// data dirs on both.
struct Site {
    azure: AzureHost,
    hosts: Vec<tempfile::TempDir>,
    url: String,
    _sim: tempfile::TempDir,
}

impl Site {
    fn new(estate: &Estate, hosts: usize) -> Site {
        let url = block_on(testing::database());
        let sim = tempfile::tempdir().unwrap();
        let hosts: Vec<_> = (0..hosts).map(|_| tempfile::tempdir().unwrap()).collect();
        let azure = AzureHost::start_on(sim.path(), hosts[0].path(), estate, &[], None, |_| {});
        let store = format!("\n[store]\nurl = {url:?}\n");
        for host in &hosts {
            azure.add_host(host.path(), &store);
        }
        Site {
            azure,
            hosts,
            url,
            _sim: sim,
        }
    }

    fn host(&self, i: usize) -> &Path {
        self.hosts[i].path()
    }
}

/// Where jobs run: hosts, each with its `drbook`, on one job store and
/// one fabric.
trait Hosts: Sync {
    /// How many.
    fn count(&self) -> usize;
    /// `drbook args` on host `i`.
    fn drbook(&self, i: usize, args: &[&str]) -> Command;
    /// A directory of host `i`'s own, for its plans and its worker's log.
    fn dir(&self, i: usize) -> PathBuf;
    /// The fabric's audit trail: every operation started.
    fn history(&self) -> Vec<Value>;
    /// The job store's URL.
    fn url(&self) -> &str;
}

impl Hosts for Site {
    fn count(&self) -> usize {
        self.hosts.len()
    }
    fn drbook(&self, i: usize, args: &[&str]) -> Command {
        self.azure.command_in(self.host(i), args)
    }
    fn dir(&self, i: usize) -> PathBuf {
        self.host(i).to_path_buf()
    }
    fn history(&self) -> Vec<Value> {
        history(self.azure.on_simulator(&["fabric", "history", "--json"]))
    }
    fn url(&self) -> &str {
        &self.url
    }
}

/// Several workers on one data dir, whose simulator is their fabric, and
/// a PostgreSQL store: hosts but for the fabric (the simulator is per data
/// dir), and without the emulator's cost per request.
struct SharedSimulator {
    dir: tempfile::TempDir,
    workers: usize,
    url: String,
}

impl SharedSimulator {
    fn new(estate: &Estate, workers: usize) -> SharedSimulator {
        let url = block_on(testing::database());
        let dir = tempfile::tempdir().unwrap();
        let config = format!("[fabric]\nspeed = \"instant\"\n\n[store]\nurl = {url:?}\n");
        std::fs::write(dir.path().join("drbook.toml"), config).unwrap();
        let file = dir.path().join("estate.toml");
        std::fs::write(&file, toml::to_string(estate).unwrap()).unwrap();
        let hosts = SharedSimulator { dir, workers, url };
        let file = file.to_str().unwrap();
        exits(
            &mut hosts.drbook(0, &["fabric", "init", "--estate", file]),
            0,
        );
        hosts
    }
}

impl Hosts for SharedSimulator {
    fn count(&self) -> usize {
        self.workers
    }
    fn drbook(&self, _: usize, args: &[&str]) -> Command {
        let mut command = common::drbook(self.dir.path());
        command.args(args);
        command
    }
    fn dir(&self, i: usize) -> PathBuf {
        let dir = self.dir.path().join(format!("host-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
    fn history(&self) -> Vec<Value> {
        history(
            self.drbook(0, &["fabric", "history", "--json"])
                .output()
                .unwrap(),
        )
    }
    fn url(&self) -> &str {
        &self.url
    }
}

/// `drbook fabric history --json`'s answer: the operations.
fn history(output: std::process::Output) -> Vec<Value> {
    assert!(output.status.success(), "{}", text(&output));
    let history: Value = serde_json::from_slice(&output.stdout).expect("JSON history");
    history.as_array().expect("the operations").clone()
}

/// Every job in the store, from host `i`.
fn jobs(hosts: &impl Hosts, i: usize) -> Vec<Value> {
    let mut list = hosts.drbook(i, &["--json", "jobs", "list", "--limit", "100000"]);
    json(&mut list).as_array().expect("a list of jobs").clone()
}

/// Waits until the store holds `count` jobs, all ended; them.
fn all_ended(hosts: &impl Hosts, count: usize, patience: Duration) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let jobs = jobs(hosts, 0);
        let ended = jobs.iter().filter(|j| ended(j)).count();
        if jobs.len() == count && ended == count {
            return jobs;
        }
        assert!(
            start.elapsed() < patience,
            "{ended} of {} jobs ended ({count} expected) after {patience:?}",
            jobs.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ended(job: &Value) -> bool {
    ["Completed", "Failed", "Stopped"].contains(&job["status"].as_str().unwrap_or(""))
}

/// Each job's attempt (the fencing token, one more at every claim), from
/// the store at `url`: no command shows it.
fn attempts(url: &str) -> HashMap<String, i64> {
    block_on(async {
        use sqlx::Connection as _;
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_as("SELECT id, attempt FROM jobs")
            .fetch_all(&mut db)
            .await
            .unwrap()
            .into_iter()
            .collect()
    })
}

/// A plan of one group, `name`, failing `vms` over, eastus → westus.
fn plan_toml(name: &str, vms: &[&str]) -> String {
    format!(
        "name = {name:?}\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\n\
         [[groups]]\nname = \"all\"\nvms = {vms:?}\npre = []\npost = []\n"
    )
}

/// `n` VMs replicating eastus → westus: `vm-001`, ...
fn estate(n: usize) -> (Vec<String>, Estate) {
    let vms: Vec<String> = (1..=n).map(|n| format!("vm-{n:03}")).collect();
    let estate = Estate::replicating("eastus", "westus", vms.clone());
    (vms, estate)
}

/// How many times a worker is killed mid-run.
const KILLS: usize = 10;

/// Host `i`'s worker, its stderr appended to `log`: leases of 200 ms, so a
/// killed worker's jobs are taken over at once; several jobs at a time.
/// Killed when dropped, the test passed or not.
fn worker(hosts: &impl Hosts, i: usize, log: &Path) -> Server {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let command = hosts.drbook(i, &[]);
    Server(postgres::worker(
        command,
        "200ms",
        &["--concurrency", "16"],
        log.into(),
    ))
}

/// Runs the failover of each VM of `vms` (a plan of its own each) as a job,
/// each host making its share of them (`drbook run --detach`, the hosts at
/// once) and running them with its worker, while one worker or another is
/// killed with SIGKILL, [`KILLS`] times at random moments spread over the
/// run, and started again. Then checks what must hold: every job
/// completed, every VM failed over once (the fabric's audit), the kills
/// took jobs over (their attempts), each job's stream has each line once
/// and the same lines as the others'. The seed, the kills, how long it took
/// and the claims are printed, named `what` (the tests run at once).
fn run_through_kills(what: &str, hosts: &impl Hosts, vms: &[String]) {
    let mut rng = Rng::seeded(what);
    let runbook = runbooks::failover_plan();
    let runbook = runbook.to_str().unwrap();
    let count = hosts.count();
    let plans: Vec<PathBuf> = vms
        .iter()
        .enumerate()
        .map(|(n, vm)| {
            let path = hosts.dir(n % count).join(format!("{vm}.toml"));
            std::fs::write(&path, plan_toml(vm, &[vm])).unwrap();
            path
        })
        .collect();
    let logs: Vec<PathBuf> = (0..count)
        .map(|i| hosts.dir(i).join("worker.log"))
        .collect();
    let mut workers: Vec<Server> = (0..count).map(|i| worker(hosts, i, &logs[i])).collect();
    // Kill at random points of the run, as many VMs started: spread over
    // it, not all at its start.
    let mut kill_at: Vec<usize> = (0..KILLS)
        .map(|_| vms.len() / 20 + rng.below(vms.len() as u64 * 17 / 20) as usize)
        .collect();
    kill_at.sort_unstable();
    let began = Instant::now();

    let (made, kills) = std::thread::scope(|s| {
        let making: Vec<_> = (0..count)
            .map(|i| {
                let plans = &plans;
                s.spawn(move || {
                    let mut made = Vec::new();
                    for plan in plans.iter().skip(i).step_by(count) {
                        let plan = plan.to_str().unwrap();
                        let mut run =
                            hosts.drbook(i, &["run", runbook, "--plan", plan, "--detach"]);
                        let id = String::from_utf8(exits(&mut run, 0).stdout).unwrap();
                        made.push(id.trim().to_string());
                    }
                    made
                })
            })
            .collect();
        let mut kills = Vec::new();
        for (k, &at) in kill_at.iter().enumerate() {
            let started = loop {
                let started = hosts.history().len();
                if started >= at {
                    break started;
                }
                assert!(began.elapsed() < PATIENCE * 2, "{started} VMs started");
                std::thread::sleep(Duration::from_millis(20));
            };
            assert!(
                started < vms.len(),
                "every VM was failed over after {k} of {KILLS} kills: kill sooner"
            );
            let i = rng.below(count as u64) as usize;
            workers[i].0.kill().expect("SIGKILL the worker");
            workers[i].0.wait().unwrap();
            kills.push(format!(
                "kill {k}: host {i}'s worker at {:.1?}, {started} VMs started",
                began.elapsed()
            ));
            // Down for a while, or back at once: its jobs wait for their
            // leases to lapse either way.
            std::thread::sleep(rng.millis(0, 400));
            workers[i] = worker(hosts, i, &logs[i]);
        }
        let made: Vec<String> = making.into_iter().flat_map(|m| m.join().unwrap()).collect();
        (made, kills)
    });
    let made_in = began.elapsed();
    let jobs = all_ended(hosts, vms.len(), PATIENCE * 2);
    let ran_in = began.elapsed();
    drop(workers);
    eprintln!("{what}:\n{}", kills.join("\n"));
    eprintln!(
        "{what}: {} jobs on {count} workers: made in {made_in:.1?}, all ended in {ran_in:.1?}",
        vms.len()
    );
    let worker_logs: String = logs
        .iter()
        .map(|log| std::fs::read_to_string(log).unwrap())
        .collect();

    assert_eq!(made.len(), vms.len());
    let failed: Vec<&Value> = jobs.iter().filter(|j| j["status"] != "Completed").collect();
    assert!(failed.is_empty(), "{failed:#?}\nworkers:\n{worker_logs}");
    assert!(!worker_logs.contains(": Failed"), "{worker_logs}");

    // One operation per VM: a job resumed or taken over found its first
    // run's operation and did not start it again.
    let history = hosts.history();
    let mut per_vm: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for op in &history {
        per_vm
            .entry(op["vm"].as_str().unwrap())
            .or_default()
            .push(op);
    }
    for vm in vms {
        let ops = per_vm.get(vm.as_str()).cloned().unwrap_or_default();
        assert_eq!(ops.len(), 1, "{vm}: {ops:#?}");
        assert_eq!(ops[0]["operation"], "PlannedFailover", "{vm}: {ops:#?}");
        assert_eq!(ops[0]["outcome"], "Succeeded", "{vm}: {ops:#?}");
    }
    assert_eq!(history.len(), vms.len(), "{history:#?}");

    // The kills took jobs over: their attempts say how often each was
    // claimed.
    let attempts = attempts(hosts.url());
    assert_eq!(attempts.len(), vms.len());
    let mut claims: BTreeMap<i64, usize> = BTreeMap::new();
    for attempt in attempts.values() {
        *claims.entry(*attempt).or_default() += 1;
    }
    eprintln!("{what}: jobs by how many claims they took: {claims:?}");
    assert!(
        !claims.contains_key(&0),
        "a job that ran unclaimed: {claims:?}"
    );
    assert!(
        claims.keys().any(|&n| n > 1),
        "no job was taken over: the kills missed the runs ({claims:?})"
    );

    // Each job's stream, each line once: the same lines as every other
    // job's, its VM's name aside (a lost or repeated line stands out).
    let streams: Vec<(String, String)> = std::thread::scope(|s| {
        let reading: Vec<_> = (0..count)
            .map(|i| {
                let jobs = &jobs;
                s.spawn(move || {
                    jobs.iter()
                        .skip(i)
                        .step_by(count)
                        .map(|job| {
                            let id = job["id"].as_str().unwrap();
                            let vm = job["spec"]["plan"]["name"].as_str().unwrap().to_string();
                            let logs = exits(&mut hosts.drbook(i, &["jobs", "logs", id]), 0);
                            let logs = String::from_utf8(logs.stdout).unwrap();
                            (vm.clone(), logs.replace(&vm, "VM"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        reading
            .into_iter()
            .flat_map(|r| r.join().unwrap())
            .collect()
    });
    let (_, first) = &streams[0];
    for line in first.lines() {
        let n = first.lines().filter(|l| *l == line).count();
        assert_eq!(n, 1, "`{line}` {n} times:\n{first}");
    }
    assert!(
        first.contains("planned failover of VM: succeeded"),
        "{first}"
    );
    for (vm, stream) in &streams {
        assert_eq!(stream, first, "{vm}'s stream differs from the first job's");
    }
}

/// Three hosts on the ARM emulator, each its own data dir and
/// `drbook.toml`, run 300 one-VM failovers through ten kills of their
/// workers (see [`run_through_kills`]: one operation per VM). A VM may get
/// a second POST, refused: a run that stalled past its lease (its worker
/// starved of CPU, not only a killed one) POSTs after the run that took
/// its job over started the operation, or before it; Site Recovery runs
/// one operation per item, and the refused start takes the operation of
/// its client request id, the same for both runs (fabric-azure's `start`),
/// rather than failing its job. `drbook run` checks a job's plan against
/// one listing of the vault, without the recovery points of its 300 items.
#[test]
fn postgres_three_hosts_on_one_emulator_run_300_jobs_through_ten_kills_with_one_operation_each() {
    let (vms, estate) = estate(300);
    let site = Site::new(&estate, 3);
    run_through_kills("emulator", &site, &vms);
    let posts = site.azure.emulator().counters().posts;
    assert_eq!(posts.len(), vms.len(), "every VM POSTed to: {posts:#?}");
    let refused: u64 = posts.values().map(|n| n - 1).sum();
    eprintln!("emulator: {refused} POSTs refused as their VM's second");
}

/// Three workers on one PostgreSQL store and one simulator run 300
/// one-VM failovers through ten kills (see [`run_through_kills`]).
#[test]
fn postgres_three_workers_run_300_jobs_through_ten_kills_with_one_operation_each() {
    let (vms, estate) = estate(300);
    let hosts = SharedSimulator::new(&estate, 3);
    run_through_kills("simulator", &hosts, &vms);
}

/// How long two servers are given to run a drill.
const DRILL: Duration = Duration::from_secs(60);

/// A POST of `body` with `headers` to `path` on `addr`: the status and the
/// body of the answer.
fn post(addr: SocketAddr, path: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
    block_on(async {
        let mut request = reqwest::Client::new()
            .post(format!("http://{addr}{path}"))
            .timeout(DRILL)
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let answer = request.send().await.expect("an answer");
        let status = answer.status().as_u16();
        (status, answer.text().await.expect("its body"))
    })
}

/// `drbook serve` on host `i` of `site`, on an ephemeral port: the child
/// and the address it printed.
fn serve(site: &Site, i: usize) -> (Server, SocketAddr) {
    let (server, url) =
        common::serve(&mut site.drbook(i, &["serve", "--listen", "127.0.0.1:0", "--poll", "10ms"]));
    (
        server,
        url.strip_prefix("http://").unwrap().parse().unwrap(),
    )
}

/// What one server answered to a delivery, and the jobs `jobs list` (on
/// another host) showed right after its 202.
struct Answered {
    job_ids: Vec<String>,
    duplicate: bool,
    listed: Vec<String>,
}

/// The same delivery (`headers`, `body`) POSTed to every server at once.
fn to_all_at_once(
    site: &Site,
    servers: &[SocketAddr],
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Vec<Answered> {
    let barrier = Barrier::new(servers.len());
    std::thread::scope(|s| {
        let posting: Vec<_> = servers
            .iter()
            .map(|&addr| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let (status, answer) = post(addr, path, headers, body);
                    let listed = jobs(site, 2);
                    assert_eq!(status, 202, "{answer}");
                    let answer: Value = serde_json::from_str(&answer).expect("a JSON answer");
                    let ids = |v: &Value| -> Vec<String> {
                        v.as_array()
                            .unwrap_or(&Vec::new())
                            .iter()
                            .map(|id| id.as_str().unwrap().to_string())
                            .collect()
                    };
                    Answered {
                        job_ids: ids(&answer["JobIds"]),
                        duplicate: answer["Duplicate"] == true,
                        listed: listed
                            .iter()
                            .map(|j| j["id"].as_str().unwrap().to_string())
                            .collect(),
                    }
                })
            })
            .collect();
        posting.into_iter().map(|p| p.join().unwrap()).collect()
    })
}

/// `drbook webhook create` on host 0 of `site`: the drill of `plan` on
/// every delivery; the URL's path and, if `signed`, its signing secret.
fn drill_webhook(site: &Site, name: &str, plan: &Path, signed: bool) -> (String, Option<String>) {
    let runbook = runbooks::dr_drill();
    let mut create = site.drbook(0, &["--json", "webhook", "create", "--name", name]);
    create
        .arg("--runbook")
        .arg(runbook)
        .arg("--plan")
        .arg(plan)
        .args(["--type", "test", "--url-base", "http://placeholder"]);
    if signed {
        create.arg("--signed");
    }
    let created = json(&mut create);
    let url = created["url"].as_str().expect("its URL");
    let path = url.strip_prefix("http://placeholder").unwrap().to_string();
    (path, created["signingSecret"].as_str().map(str::to_string))
}

/// Two `drbook serve`s on two hosts (a third lists the jobs), on one store
/// and one emulator, are sent each alert at once, three alerts one after
/// another, then the same signed message (one `webhook-id`) at once, three
/// times: each pair of answers names the same one job (one of them a
/// duplicate), each job is listed as soon as its 202 arrives, one job per
/// alert and per message is made, and each drills its plan once.
#[test]
fn postgres_two_servers_sent_the_same_alert_at_once_make_one_set_of_jobs() {
    let site = Site::new(
        &Estate::replicating("eastus", "westus", ["app-1".into(), "app-2".into()]),
        3,
    );
    let plan = site.host(0).join("drill.toml");
    std::fs::write(&plan, plan_toml("drill", &["app-1", "app-2"])).unwrap();
    let (alerts, _) = drill_webhook(&site, "alerts", &plan, false);
    let (signed, secret) = drill_webhook(&site, "signed", &plan, true);
    let secret = secret.expect("a signing secret");
    let (_first, a) = serve(&site, 0);
    let (_second, b) = serve(&site, 1);
    let servers = [a, b];

    let mut made = Vec::new();
    let deliveries = (0..3).map(|n| (alerts.as_str(), Vec::new(), alert(&format!("outage-{n}"))));
    let messages = (0..3).map(|n| {
        let body = alert(&format!("signed-{n}"));
        let id = format!("msg-{n}");
        let now = chrono::Utc::now().timestamp();
        let headers = vec![
            ("webhook-id", id.clone()),
            ("webhook-timestamp", now.to_string()),
            (
                "webhook-signature",
                drbook_triggers::sign(&secret, &id, now, &body),
            ),
        ];
        (signed.as_str(), headers, body)
    });
    for (path, headers, body) in deliveries.chain(messages) {
        let answers = to_all_at_once(&site, &servers, path, &headers, &body);
        let job_ids = &answers[0].job_ids;
        assert_eq!(job_ids.len(), 1, "one job per delivery: {job_ids:?}");
        for answer in &answers {
            assert_eq!(&answer.job_ids, job_ids, "both servers answer with one job");
            assert!(
                answer.listed.contains(&job_ids[0]),
                "a 202 came before its job was committed: {job_ids:?} not in {:?}",
                answer.listed
            );
        }
        let duplicates = answers.iter().filter(|a| a.duplicate).count();
        assert_eq!(duplicates, 1, "one first delivery, one duplicate");
        made.push(job_ids[0].clone());
        // The plan is drilled again only once its last drill has ended.
        all_ended(&site, made.len(), DRILL);
    }

    let jobs = all_ended(&site, made.len(), DRILL);
    for job in &jobs {
        assert_eq!(job["status"], "Completed", "{job:#}");
    }
    let mut listed: Vec<&str> = jobs.iter().map(|j| j["id"].as_str().unwrap()).collect();
    let mut made: Vec<&str> = made.iter().map(String::as_str).collect();
    listed.sort_unstable();
    made.sort_unstable();
    assert_eq!(listed, made, "one job per delivery, and no other");
    let history = site.history();
    for vm in ["app-1", "app-2"] {
        for operation in ["TestFailover", "TestFailoverCleanup"] {
            let n = history
                .iter()
                .filter(|op| op["vm"] == vm && op["operation"] == operation)
                .count();
            assert_eq!(n, made.len(), "{vm}: {n} of {operation}: {history:#?}");
        }
    }
}
