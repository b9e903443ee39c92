//! A plan has at most one job that changes it: an alert storm (one outage,
//! an alert per VM) starts one failover, and later deliveries attach to it,
//! queue behind it or are refused, as the rule says (`on-busy`); a command
//! line start of a busy plan is refused, or queued when asked.

use std::sync::Barrier;
use std::time::Duration;

use drbook_core::fabric::{Fabric, Location};
use drbook_core::job::{Approval, JobRecord, JobStatus, Wake};
use drbook_core::plan::{FailoverType, RecoveryPlan, Step};
use drbook_tests::guests;
use drbook_triggers::ServeOptions;

use crate::cli::{stderr, Cli};
use crate::webhooks::Server;

/// A Resource Health activity-log alert about `vm`: `verb` is the health
/// event's (`Activated`, `Resolved`, ...), `status` its `alertContext.status`
/// and `current` the resource's health now. Activity-log alerts are
/// stateless: they always arrive `Fired`.
pub(crate) fn resource_health(
    id: &str,
    vm: &str,
    verb: &str,
    status: &str,
    current: &str,
) -> Vec<u8> {
    serde_json::json!({
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "alertId": format!("/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{id}"),
                "alertRule": "vm-health",
                "severity": "Sev1",
                "signalType": "Activity Log",
                "monitorCondition": "Fired",
                "monitoringService": "Resource Health",
                "alertTargetIDs": [format!("/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/{vm}")],
                "configurationItems": [vm],
                "originAlertId": id,
                "firedDateTime": "2026-03-01T10:00:00.000Z",
                "description": "VM health"
            },
            "alertContext": {
                "channels": "Admin, Operation",
                "correlationId": id,
                "eventSource": "ResourceHealth",
                "eventTimestamp": "2026-03-01T09:59:54.074+00:00",
                "level": "Informational",
                "operationName": format!("Microsoft.Resourcehealth/healthevent/{verb}/action"),
                "properties": {
                    "title": "The virtual machine is unavailable",
                    "details": null,
                    "currentHealthStatus": current,
                    "previousHealthStatus": "Available",
                    "type": "Downtime",
                    "cause": "PlatformInitiated"
                },
                "status": status,
                "submissionTimestamp": "2026-03-01T10:00:20.448+00:00"
            },
            "customProperties": null
        }
    })
    .to_string()
    .into_bytes()
}

/// VM `vm` is unavailable.
pub(crate) fn vm_down(id: &str, vm: &str) -> Vec<u8> {
    resource_health(id, vm, "Activated", "Active", "Unavailable")
}

/// The demo plan with a manual step before its first group: a failover
/// stays `Suspended` there, changing the plan, until someone approves.
fn held_plan(server: &Server) -> RecoveryPlan {
    let mut plan = server.plan.clone();
    plan.groups[0].pre.push(Step {
        name: "confirm".into(),
        manual: Some("Confirm the outage, then approve".into()),
    });
    plan
}

/// A webhook whose rules file is `rules` (run: a failover of `plan`).
pub(crate) fn ruled_webhook(
    server: &Server,
    name: &str,
    plan: RecoveryPlan,
    rules: &str,
) -> String {
    let (mut run, module) = server.target(guests::FAILOVER_PLAN, FailoverType::Unplanned, &[]);
    run.plan = plan;
    server.ruled_webhook(name, (run, module), rules).0
}

fn rules(on_busy: Option<&str>) -> String {
    let on_busy = on_busy
        .map(|o| format!("on-busy = \"{o}\"\n"))
        .unwrap_or_default();
    format!(
        "[[rule]]\nname = \"vm down\"\nsignal = [\"ActivityLog\"]\ntarget-in-plan = true\n{on_busy}"
    )
}

/// Waits until job `id` holds (waits on) its manual step; that step's
/// journal position.
fn suspended(server: &Server, id: &str) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job = server.store.get(id).unwrap();
        if let (JobStatus::Suspended, Some(Wake::Decision { journal_seq, .. })) =
            (job.state, &job.wake)
        {
            return *journal_seq;
        }
        assert!(!job.is_terminal(), "job {id} ended: {job:?}");
        assert!(
            std::time::Instant::now() < deadline,
            "job {id} never suspended: {job:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn approve(server: &Server, id: &str, journal_seq: usize) {
    let approval = Approval {
        approved: true,
        by: "sre".into(),
        comment: "outage confirmed".into(),
        at: chrono::Utc::now(),
    };
    server
        .tokio
        .block_on(server.store.shared().decide(id, journal_seq, &approval))
        .unwrap();
}

fn jobs(server: &Server) -> Vec<JobRecord> {
    server.store.list(None, 100).unwrap()
}

/// Twelve Resource Health alerts, one per VM of one outage, delivered at
/// once to one rule: one failover job; the other eleven deliveries are
/// answered with its id and their alerts recorded on it; the plan ends in
/// one region.
#[test]
fn an_alert_storm_starts_one_failover_and_the_other_alerts_attach_to_it() {
    let server = Server::start(ServeOptions::default());
    let path = ruled_webhook(&server, "storm", held_plan(&server), &rules(None));
    let vms: Vec<String> = server
        .plan
        .groups
        .iter()
        .flat_map(|g| g.vms.clone())
        .collect();
    assert_eq!(vms.len(), 12);
    let barrier = Barrier::new(vms.len());
    let answers: Vec<Vec<String>> = std::thread::scope(|s| {
        let posts: Vec<_> = vms
            .iter()
            .map(|vm| {
                let (server, path, barrier) = (&server, &path, &barrier);
                s.spawn(move || {
                    let body = vm_down(&format!("down-{vm}"), vm);
                    barrier.wait();
                    server.post(path, &[], &body).job_ids()
                })
            })
            .collect();
        posts.into_iter().map(|p| p.join().unwrap()).collect()
    });

    let all = jobs(&server);
    assert_eq!(all.len(), 1, "one job changes the plan: {all:#?}");
    let job = all[0].id.clone();
    for answer in &answers {
        assert_eq!(
            answer,
            &vec![job.clone()],
            "every delivery is answered with the one job"
        );
    }
    let alerts = server.webhooks.alerts("storm", 50).unwrap();
    assert_eq!(alerts.len(), 12, "every alert is recorded");
    assert!(
        alerts.iter().all(|a| a.job_ids == [job.clone()]),
        "{alerts:#?}"
    );
    let attached = alerts
        .iter()
        .filter(|a| a.decision.contains(&format!("attached to job `{job}`")))
        .count();
    assert_eq!(attached, 11, "{alerts:#?}");

    let seq = suspended(&server, &job);
    approve(&server, &job, seq);
    let done = server.finished(&job);
    assert_eq!(done.state, JobStatus::Completed, "{done:?}");
    let items = server.tokio.block_on(server.sim.list_items()).unwrap();
    for item in items.iter().filter(|i| vms.contains(&i.name)) {
        assert_eq!(item.active_location, Location::Recovery, "{}", item.name);
    }
    assert_eq!(jobs(&server).len(), 1);
}

/// A server whose webhook `on_busy` (its rule's `on-busy`) has started a
/// failover that waits for approval: the webhook's path, the job and the
/// journal position of its manual step.
fn busy(on_busy: &str) -> (Server, String, Vec<String>, usize) {
    let server = Server::start(ServeOptions::default());
    let rules = rules(Some(on_busy));
    let path = ruled_webhook(&server, on_busy, held_plan(&server), &rules);
    let first = server
        .post(&path, &[], &vm_down("down-web-01", "web-01"))
        .job_ids();
    let seq = suspended(&server, &first[0]);
    (server, path, first, seq)
}

/// `on-busy = "queue"`: a delivery to a busy plan creates its job, which no
/// worker starts before the busy job has ended.
#[test]
fn a_queued_delivery_starts_only_once_the_busy_job_has_ended() {
    let (server, path, first, seq) = busy("queue");
    let queued = server.post(&path, &[], &vm_down("down-sql-01", "sql-01"));
    let second = queued.job_ids();
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);
    assert_eq!(
        queued.json()["QueuedBehind"],
        first[0].as_str(),
        "{}",
        queued.body
    );

    // However often the worker looks, the queued job waits.
    std::thread::sleep(Duration::from_millis(300));
    let waiting = server.store.get(&second[0]).unwrap();
    assert_eq!(
        (waiting.state, waiting.started),
        (JobStatus::New, None),
        "{waiting:?}"
    );
    assert!(!server
        .store
        .runnable(chrono::Utc::now(), 100)
        .unwrap()
        .contains(&second[0]));

    approve(&server, &first[0], seq);
    let first = server.finished(&first[0]);
    assert_eq!(first.state, JobStatus::Completed, "{first:?}");
    // The queued failover runs next: the plan has failed over, so its own
    // manual step holds it (or it ends), and it started after the first ended.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let second = loop {
        let job = server.store.get(&second[0]).unwrap();
        if job.started.is_some() {
            break job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the queued job never started: {job:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        second.started >= first.ended,
        "{second:?} started before {first:?} ended"
    );
}

/// `on-busy = "refuse"`: a delivery to a busy plan gets 409 naming the busy
/// job, creates nothing, and is recorded with its alert.
#[test]
fn a_refused_delivery_gets_409_naming_the_busy_job_and_is_recorded() {
    let (server, path, first, _) = busy("refuse");
    let refused = server.post(&path, &[], &vm_down("down-sql-01", "sql-01"));
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(
        refused.json()["RunningJob"],
        first[0].as_str(),
        "{}",
        refused.body
    );
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains(&first[0]),
        "{}",
        refused.body
    );
    assert_eq!(jobs(&server).len(), 1);
    let alerts = server.webhooks.alerts("refuse", 10).unwrap();
    assert_eq!(alerts.len(), 2);
    assert!(alerts[0].alert_id.ends_with("down-sql-01"), "{alerts:#?}");
    assert!(alerts[0].job_ids.is_empty());
    assert!(alerts[0].decision.contains("refused"), "{alerts:#?}");
    // The same alert again is answered as it was the first time.
    let again = server.post(&path, &[], &vm_down("down-sql-01", "sql-01"));
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        server.log().join("\n").contains("plan_busy"),
        "{:#?}",
        server.log()
    );
}

/// `drbook run` of a busy plan is refused (exit 2), naming the busy job and
/// what to do; `--queue` creates the job behind it.
#[test]
fn the_command_line_refuses_to_run_a_busy_plan_unless_asked_to_queue() {
    let cli = Cli::demo();
    let plan = cli.plan();
    let detach = |extra: &[&str]| {
        let mut args = vec!["run", guests::FAILOVER_PLAN, "--plan", &plan, "--detach"];
        args.extend_from_slice(extra);
        cli.run(&args)
    };
    let first = detach(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let first = String::from_utf8(first.stdout).unwrap().trim().to_string();

    for args in [
        vec!["run", guests::FAILOVER_PLAN, "--plan", &plan, "--detach"],
        vec!["run", guests::FAILOVER_PLAN, "--plan", &plan],
    ] {
        let refused = cli.run(&args);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&refused)
        );
        let message = stderr(&refused);
        for needed in [
            first.as_str(),
            "contoso-3tier",
            "--queue",
            "drbook jobs stop",
        ] {
            assert!(message.contains(needed), "`{needed}` missing: {message}");
        }
    }

    let queued = detach(&["--queue"]);
    assert_eq!(queued.status.code(), Some(0), "{}", stderr(&queued));
    let queued = String::from_utf8(queued.stdout).unwrap().trim().to_string();
    assert_ne!(queued, first);
    let out = cli.run(&["--json", "jobs", "list"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
}
