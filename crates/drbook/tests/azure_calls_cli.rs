//! Runbooks' Azure resource calls from the command line (issue 16, item
//! 2), on the azure backend against the ARM emulator (`common/azure.rs`):
//! `failover-plan`'s DNS switch, granted what its Cargo.toml declares,
//! fails the plan over and then points the zone's A record at the new
//! address (read back from the emulator's state); a module granted another
//! zone is refused before anything is sent; a worker killed with SIGKILL
//! while the PUT is out does not send it again when the job resumes; a dry
//! run sends no write. The emulator's counters are what "sent" means.

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

#[path = "common/azure.rs"]
mod azure;
#[allow(dead_code)]
mod common;
mod runbooks;

use azure::{text, AzureHost};
use common::Server as Process;
use drbook_arm_emulator::HttpFaults;

/// The emulator, a host on it, and a plan of one demo VM on the host.
fn host(vm: &str) -> (tempfile::TempDir, tempfile::TempDir, AzureHost, String) {
    let (sim, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let emulator = AzureHost::start(sim.path(), dir.path(), &[], None);
    let plan = plan_file(dir.path(), vm);
    (sim, dir, emulator, plan)
}

fn plan_file(dir: &Path, vm: &str) -> String {
    let plan = dir.join(format!("{vm}.toml"));
    std::fs::write(
        &plan,
        format!(
            "name = {vm:?}\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\n\
             [[groups]]\nname = \"all\"\nvms = [{vm:?}]\n"
        ),
    )
    .unwrap();
    plan.display().to_string()
}

/// The `--param`s of the DNS switch of `zone`'s record `app` to `ip`.
fn dns_params(host: &AzureHost, zone: &str, ip: &str) -> Vec<String> {
    let subscription = &host.emulator().endpoints().subscription;
    [
        format!("dns-subscription={subscription}"),
        "dns-resource-group=dns".to_string(),
        format!("dns-zone={zone}"),
        "dns-record=app".to_string(),
        format!("dns-ip={ip}"),
    ]
    .into_iter()
    .flat_map(|p| ["--param".to_string(), p])
    .collect()
}

/// The record set `app` of `zone`, as the emulator holds it.
fn record(host: &AzureHost, zone: &str) -> Option<Value> {
    let subscription = &host.emulator().endpoints().subscription;
    host.emulator().network_resource(&format!(
        "/subscriptions/{subscription}/resourceGroups/dns/providers/Microsoft.Network/dnsZones/{zone}/A/app"
    ))
}

fn puts(host: &AzureHost) -> u64 {
    host.emulator()
        .counters()
        .requests("PUT", "dnsRecordSets.put")
}

fn run(host: &AzureHost, args: &[String]) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    host.run(&args)
}

/// The DNS switch end to end: the VM fails over, the record holds the new
/// address afterwards, one PUT was applied; the journal's call is in the
/// report. Then a module granted only `contoso.com` is refused
/// `fabrikam.com`, naming its grant, and the emulator sees no request.
#[test]
fn failover_plan_switches_the_dns_record_and_is_refused_a_zone_outside_its_grant() {
    let (_sim, dir, host, plan) = host("web-01");
    let runbook = runbooks::granted("failover-plan", dir.path());
    let mut args: Vec<String> = ["--json", "run", runbook.to_str().unwrap(), "--plan", &plan]
        .map(String::from)
        .to_vec();
    args.extend(dns_params(&host, "contoso.com", "10.2.0.4"));
    let out = run(&host, &args);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let set = record(&host, "contoso.com").expect("the record set was made");
    assert_eq!(set["properties"]["ARecords"][0]["ipv4Address"], "10.2.0.4");
    assert_eq!(set["properties"]["TTL"], 60);
    assert_eq!(set["properties"]["fqdn"], "app.contoso.com.");
    assert_eq!(puts(&host), 1);
    assert_eq!(host.emulator().counters().network.len(), 1);
    let job = doc["jobId"].as_str().unwrap();
    let file = dir.path().join("report.md");
    let report = host.run(&[
        "report",
        job,
        "--format",
        "md",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(report.status.success(), "{}", text(&report));
    let report = std::fs::read_to_string(&file).unwrap();
    let start = report.find("## Outside calls").expect("outside calls");
    assert!(
        report[start..].contains("PUT /subscriptions/"),
        "{}",
        &report[start..]
    );

    // Another module, granted contoso.com's records alone.
    let built = runbooks::failover_plan();
    let narrow = dir.path().join("narrow.wasm");
    let subscription = host.emulator().endpoints().subscription.clone();
    let grant = host.run(&[
        "runbook",
        "grant",
        built.to_str().unwrap(),
        "--operation",
        "planned-failover",
        "--azure",
        &format!(
            "/subscriptions/{subscription}/resourceGroups/*/providers/Microsoft.Network/dnszones/contoso.com/*"
        ),
        "-o",
        narrow.to_str().unwrap(),
    ]);
    assert!(grant.status.success(), "{}", text(&grant));
    let plan = plan_file(dir.path(), "web-02");
    let mut args: Vec<String> = ["run", narrow.to_str().unwrap(), "--plan", &plan]
        .map(String::from)
        .to_vec();
    args.extend(dns_params(&host, "fabrikam.com", "10.2.0.5"));
    let before = host.emulator().counters().requests.clone();
    let refused = run(&host, &args);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("dnszones/fabrikam.com/A/app is not granted to this job's module"),
        "{}",
        text(&refused)
    );
    assert!(
        text(&refused).contains("dnszones/contoso.com/*`, and none holds it"),
        "{}",
        text(&refused)
    );
    let after = host.emulator().counters().requests;
    let network = |c: &std::collections::BTreeMap<String, u64>| {
        c.iter()
            .filter(|(k, _)| k.contains("dnsRecordSets"))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    assert_eq!(network(&after), network(&before), "nothing was sent");
    assert!(record(&host, "fabrikam.com").is_none());
}

/// `drbook worker` killed with SIGKILL while the record's PUT is out (the
/// emulator holds it): the job resumed by another worker is answered
/// `outcome-unknown` from its journal's intent, fails naming it, and the
/// emulator saw one PUT.
#[test]
fn a_put_out_when_the_host_died_is_not_sent_again() {
    let (_sim, dir, host, plan) = host("web-01");
    let runbook = runbooks::granted("failover-plan", dir.path());
    host.emulator().set_faults(HttpFaults {
        network_write_delay_ms: 60_000,
        ..HttpFaults::default()
    });
    let mut args: Vec<String> = [
        "run",
        runbook.to_str().unwrap(),
        "--plan",
        &plan,
        "--detach",
    ]
    .map(String::from)
    .to_vec();
    args.extend(dns_params(&host, "contoso.com", "10.2.0.4"));
    let out = run(&host, &args);
    assert!(out.status.success(), "{}", text(&out));
    let job = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let mut first = Process(worker(&host));
    let start = Instant::now();
    while puts(&host) < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the PUT never came"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    host.emulator().set_faults(HttpFaults::default());

    let second = Process(worker(&host));
    let doc = wait_for_end(&host, &job);
    drop(second);
    assert_eq!(doc["status"], "Failed", "{doc:#}");
    assert!(
        doc.to_string().contains("outcome unknown")
            && doc.to_string().contains("drbook does not send it again"),
        "{doc:#}"
    );
    assert_eq!(puts(&host), 1, "the PUT was sent once");
}

/// `--dry-run` on the azure backend: the failover runs on a copy, the
/// DNS switch is recorded and not sent.
#[test]
fn a_dry_run_sends_no_write() {
    let (_sim, dir, host, plan) = host("web-01");
    let runbook = runbooks::granted("failover-plan", dir.path());
    let mut args: Vec<String> = [
        "run",
        runbook.to_str().unwrap(),
        "--plan",
        &plan,
        "--dry-run",
    ]
    .map(String::from)
    .to_vec();
    args.extend(dns_params(&host, "contoso.com", "10.2.0.4"));
    let out = run(&host, &args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("would point at 10.2.0.4"),
        "{}",
        text(&out)
    );
    assert_eq!(puts(&host), 0);
    assert!(record(&host, "contoso.com").is_none());
    assert!(host.emulator().counters().network.is_empty());
}

fn worker(host: &AzureHost) -> Child {
    host.command(&["worker", "--lease", "200ms", "--poll", "10ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting a worker")
}

/// `drbook jobs show JOB --json` once the job has ended.
fn wait_for_end(host: &AzureHost, job: &str) -> Value {
    let start = Instant::now();
    loop {
        let out = host.run(&["--json", "jobs", "show", job]);
        assert!(out.status.success(), "{}", text(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        if matches!(
            doc["status"].as_str(),
            Some("Completed" | "Failed" | "Stopped")
        ) {
            return doc;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{doc:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
