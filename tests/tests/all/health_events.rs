//! Activity-log alerts (Resource Health, Service Health) are stateless: they
//! always arrive `Fired`, and the event's own status says whether the
//! resource recovered. A VM coming back starts no failover, unless a rule
//! names that status.

use drbook_core::alert::EventStatus;
use drbook_core::job::JobStatus;
use drbook_core::plan::FailoverType;
use drbook_tests::guests;
use drbook_triggers::ServeOptions;

use crate::busy_plans::{resource_health, ruled_webhook, vm_down};
use crate::webhooks::Server;

/// A Service Health incident in `region`, at `stage`, with `status`.
fn service_health(id: &str, status: &str, stage: &str) -> Vec<u8> {
    serde_json::json!({
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "alertId": format!("/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{id}"),
                "alertRule": "eastus-incidents",
                "severity": "Sev1",
                "signalType": "ActivityLog",
                "monitorCondition": "Fired",
                "monitoringService": "ServiceHealth",
                "alertTargetIDs": ["/subscriptions/s"],
                "originAlertId": id,
                "firedDateTime": "2021-11-17T05:34:48.0623172",
                "description": "incident"
            },
            "alertContext": {
                "authorization": null,
                "channels": 1,
                "claims": null,
                "caller": null,
                "correlationId": id,
                "eventSource": 2,
                "eventTimestamp": "2021-11-17T05:34:44.5778226+00:00",
                "httpRequest": null,
                "eventDataId": id,
                "level": 3,
                "operationName": "Microsoft.ServiceHealth/incident/action",
                "operationId": id,
                "properties": {
                    "title": "Virtual Machines - East US - Mitigated",
                    "service": "Virtual Machines",
                    "region": "East US",
                    "communication": "<p>...</p>",
                    "incidentType": "Incident",
                    "trackingId": "0NC_-3TG",
                    "impactStartTime": "2021-11-17T04:00:00Z",
                    "impactedServices": "[]",
                    "stage": stage,
                    "version": "0.1.1"
                },
                "status": status,
                "subStatus": null,
                "submissionTimestamp": "2021-11-17T05:34:47.5313497+00:00",
                "ResourceType": null
            },
            "customProperties": null
        }
    })
    .to_string()
    .into_bytes()
}

fn ignored(response: &crate::webhooks::Response) -> String {
    assert_eq!(
        response.job_ids(),
        Vec::<String>::new(),
        "{}",
        response.body
    );
    response.json()["Ignored"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A recovered VM (the health event `Resolved`, or `Updated` back to
/// `Available`) or a resolved Service Health incident starts nothing, on a
/// webhook with rules or without; the event status is in the typed alert,
/// and a rule that names `Resolved` does start a run for it.
#[test]
fn a_recovered_resource_starts_no_failover_unless_a_rule_names_it() {
    let server = Server::start(ServeOptions::default());
    let (plain, _) = server.webhook(
        "plain",
        server.target(guests::PROBE, FailoverType::Test, &[]),
        false,
    );
    let any_rule = ruled_webhook(
        &server,
        "ruled",
        server.plan.clone(),
        "[[rule]]\nname = \"anything\"\n",
    );
    let recoveries = [
        resource_health("back-1", "web-01", "Resolved", "Resolved", "Available"),
        resource_health("back-2", "web-02", "Updated", "Updated", "Available"),
        service_health("incident-1", "Resolved", "Resolved"),
        service_health("incident-2", "Active", "RCA"),
    ];
    for (path, hook) in [(&plain, "plain"), (&any_rule, "ruled")] {
        for body in &recoveries {
            let reason = ignored(&server.post(path, &[], body));
            assert!(reason.contains("recovered"), "{hook}: {reason}");
        }
        let decisions = server.webhooks.alerts(hook, 10).unwrap();
        assert_eq!(decisions.len(), recoveries.len());
        assert!(
            decisions.iter().all(|a| a.decision.contains("recovered")),
            "{decisions:#?}"
        );
    }
    assert!(
        server.store.list(None, 10).unwrap().is_empty(),
        "no job started"
    );

    // The outage itself does start a run, and the runbook's alert says so.
    let down = server
        .post(&plain, &[], &vm_down("down-1", "web-01"))
        .job_ids();
    let job = server.finished(&down[0]);
    assert_eq!(job.state, JobStatus::Completed, "{job:?}");
    let alert = job.spec.trigger.alert().unwrap();
    assert_eq!(alert.event_status, Some(EventStatus::Active));
    let incident = server
        .post(
            &plain,
            &[],
            &service_health("incident-3", "Active", "Active"),
        )
        .job_ids();
    assert_eq!(incident.len(), 1);
    server.finished(&incident[0]);

    // A rule that names `Resolved` runs for a recovery (a failback, say).
    let failback = ruled_webhook(
        &server,
        "failback",
        server.plan.clone(),
        "[[rule]]\nname = \"vm back\"\nevent-status = [\"Resolved\"]\ntype = \"test\"\n",
    );
    let back = resource_health("back-3", "web-01", "Resolved", "Resolved", "Available");
    let ids = server.post(&failback, &[], &back).job_ids();
    assert_eq!(ids.len(), 1);
    let job = server.store.get(&ids[0]).unwrap();
    assert_eq!(
        job.spec.trigger.alert().unwrap().event_status,
        Some(EventStatus::Resolved)
    );
    // ... and no other rule matches a recovery by default.
    let outage_only = server.post(&failback, &[], &vm_down("down-2", "web-02"));
    assert!(
        ignored(&outage_only).contains("no rule matches"),
        "{}",
        outage_only.body
    );
}
