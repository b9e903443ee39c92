//! A full DR cycle through HTTP: planned failover, poll its job, commit,
//! reprotect, each started by a POST and followed by its LRO headers.

use crate::common::{start, Env};
use drbook_arm_emulator::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// POSTs `action` on vm-000 with `body`; checks the 202 and its headers;
/// waits for the operation; returns the job's name.
async fn act(env: &Env, action: &str, body: Option<Value>, request_id: &str) -> String {
    let answer = env
        .call_with(
            Method::POST,
            &env.item_url("vm-000", &format!("/{action}")),
            body,
            Some(&env.token),
            Some(request_id),
        )
        .await
        .expect("an answer");
    assert_eq!(
        answer.status,
        StatusCode::ACCEPTED,
        "{action}: {}",
        answer.body
    );
    assert_eq!(answer.header("x-ms-client-request-id"), Some(request_id));
    let status_url = answer
        .header("azure-asyncoperation")
        .expect("Azure-AsyncOperation")
        .to_string();
    assert!(answer.header("location").is_some());
    // The simulator's poll interval at instant speed: poll again at once.
    assert_eq!(answer.header("retry-after"), Some("0"));
    let job = status_url
        .split('?')
        .next()
        .and_then(|u| u.rsplit('/').next())
        .expect("the job's name")
        .to_string();
    let done = env.wait(&status_url).await;
    assert_eq!(done["status"], "Succeeded", "{action}: {done}");
    assert_eq!(done["percentComplete"], 100);
    job
}

async fn item(env: &Env) -> Value {
    let answer = env.get(&env.item_url("vm-000", "")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

fn allowed(item: &Value) -> Vec<String> {
    item["properties"]["allowedOperations"]
        .as_array()
        .expect("allowedOperations")
        .iter()
        .map(|v| v.as_str().expect("a name").to_string())
        .collect()
}

#[tokio::test]
async fn planned_failover_commit_reprotect() {
    let env = start(3, Config::default()).await;
    let before = item(&env).await;
    assert_eq!(before["properties"]["activeLocation"], "Primary");
    assert!(allowed(&before).contains(&"PlannedFailover".to_string()));

    let input = json!({"properties": {
        "failoverDirection": "PrimaryToRecovery",
        "providerSpecificDetails": {"instanceType": "A2A"},
    }});
    let job = act(
        &env,
        "plannedFailover",
        Some(input),
        "11111111-aaaa-4000-8000-000000000001",
    )
    .await;

    // The job: succeeded, with its tasks, times and the client's request id.
    let answer = env.get(&env.url(&format!("/replicationJobs/{job}"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    let props = &answer.body["properties"];
    assert_eq!(props["state"], "Succeeded");
    assert_eq!(props["scenarioName"], "PlannedFailover");
    assert_eq!(props["targetObjectName"], "vm-000");
    assert!(props["activityId"]
        .as_str()
        .unwrap()
        .starts_with("11111111-aaaa-4000-8000-000000000001 "));
    assert!(props["endTime"].is_string());
    assert!(props["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["state"] == "Succeeded"));

    let failed_over = item(&env).await;
    assert_eq!(failed_over["properties"]["activeLocation"], "Recovery");
    assert_eq!(
        failed_over["properties"]["protectionState"],
        "FailedOverCommitPending"
    );
    assert!(allowed(&failed_over).contains(&"Commit".to_string()));
    assert!(failed_over["properties"]["failoverRecoveryPointId"].is_string());

    act(
        &env,
        "failoverCommit",
        None,
        "11111111-aaaa-4000-8000-000000000002",
    )
    .await;
    let committed = item(&env).await;
    assert_eq!(
        committed["properties"]["protectionState"],
        "FailoverCommitted"
    );
    assert_eq!(allowed(&committed), vec!["ReverseReplicate".to_string()]);

    let reprotect = json!({"properties": {
        "failoverDirection": "RecoveryToPrimary",
        "providerSpecificDetails": {
            "instanceType": "A2A",
            "recoveryContainerId": committed["properties"]["recoveryContainerId"],
            "policyId": committed["properties"]["policyId"],
        },
    }});
    let job = act(
        &env,
        "reProtect",
        Some(reprotect),
        "11111111-aaaa-4000-8000-000000000003",
    )
    .await;
    let reprotected = item(&env).await;
    assert_eq!(reprotected["properties"]["protectionState"], "Protected");
    assert_eq!(reprotected["properties"]["activeLocation"], "Recovery");
    assert!(allowed(&reprotected).contains(&"PlannedFailover".to_string()));
    assert_eq!(
        reprotected["properties"]["currentScenario"]["scenarioName"],
        "None"
    );

    // Every operation is a job of the vault, newest first.
    let jobs = env.get(&env.url("/replicationJobs")).await;
    let names: Vec<&str> = jobs.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["properties"]["scenarioName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ReverseReplicate", "Commit", "PlannedFailover"]);
    assert_eq!(jobs.body["value"][0]["name"], job);

    // One POST per operation, as the emulator counts them.
    let counters = env.emu.counters();
    for action in ["plannedFailover", "failoverCommit", "reProtect"] {
        assert_eq!(counters.posts("vm-000", action), 1, "{action}");
    }
    assert_eq!(counters.total_posts(), 3);
}

/// The client's request id survives the emulator: it is the simulator's
/// initiator, so a new emulator over the same store still names it in the
/// job's `activityId`, which is how a client that crashed finds its
/// operation. An operation started outside ARM has none.
#[tokio::test]
async fn a_restarted_emulator_still_knows_who_started_a_job() {
    use drbook_core::fabric::{Direction, Fabric, OperationRequest};
    let env = start(2, Config::default()).await;
    let input = json!({"properties": {
        "failoverDirection": "PrimaryToRecovery",
        "providerSpecificDetails": {"instanceType": "A2A"},
    }});
    let job = act(
        &env,
        "plannedFailover",
        Some(input),
        "33333333-cccc-4000-8000-000000000001",
    )
    .await;
    let dir = env.stop().await;

    let sim =
        drbook_fabric_sim::Simulator::open(dir.path(), drbook_core::TimeScale::Instant).unwrap();
    let other = sim
        .start(
            "vm-001",
            &OperationRequest::PlannedFailover {
                direction: Direction::PrimaryToRecovery,
            },
            "cli:operator",
        )
        .await
        .unwrap();
    let env = crate::common::start_in(dir, sim, Config::default()).await;
    let answer = env.get(&env.url(&format!("/replicationJobs/{job}"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body["properties"]["activityId"]
        .as_str()
        .unwrap()
        .starts_with("33333333-cccc-4000-8000-000000000001 "));
    let answer = env
        .get(&env.url(&format!("/replicationJobs/{other}")))
        .await;
    let activity = answer.body["properties"]["activityId"].as_str().unwrap();
    assert!(activity.starts_with("ActivityId: "), "{activity}");
    assert!(!activity.contains("operator"), "{activity}");
}
