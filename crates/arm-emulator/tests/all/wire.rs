//! The wire: lists page with `nextLink`, `api-version` is required and
//! checked, ARM's error shape and statuses, the LRO headers of a POST.

use crate::common::{start, API};
use drbook_arm_emulator::{Config, SUPPORTED_API_VERSIONS};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[tokio::test]
async fn the_vault_list_pages_with_next_link() {
    let config = Config {
        page_size: 100,
        ..Config::default()
    };
    let env = start(260, config).await;
    let mut url = env.url("/replicationProtectedItems");
    let mut names = BTreeSet::new();
    let mut pages = 0;
    loop {
        let answer = env.get(&url).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        pages += 1;
        for item in answer.body["value"].as_array().unwrap() {
            assert!(names.insert(item["name"].as_str().unwrap().to_string()));
        }
        match answer.body["nextLink"].as_str() {
            // An absolute URL, GET as it is.
            Some(next) => {
                assert!(next.starts_with(&env.emu.endpoints().base_url));
                assert!(next.contains(&format!("api-version={API}")));
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 260);
    assert_eq!(env.emu.counters().requests("GET", "protectedItems.list"), 3);
}

#[tokio::test]
async fn api_version_is_required_and_checked() {
    let env = start(1, Config::default()).await;
    let ep = env.emu.endpoints();
    let base = format!("{}{}/replicationProtectedItems", ep.base_url, ep.vault_id);

    let missing = env.get(&base).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["error"]["code"], "MissingApiVersionParameter");

    for old in ["2023-08-01", "2025-08-01-preview", "garbage"] {
        let answer = env.get(&format!("{base}?api-version={old}")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{old}");
        assert_eq!(answer.body["error"]["code"], "InvalidApiVersionParameter");
        assert!(answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(old));
    }
    for version in SUPPORTED_API_VERSIONS {
        let answer = env.get(&format!("{base}?api-version={version}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{version}");
    }
    assert!(SUPPORTED_API_VERSIONS.contains(&"2024-01-01"));
    assert!(SUPPORTED_API_VERSIONS.contains(&"2025-08-01"));
}

#[tokio::test]
async fn errors_have_arms_shape_and_status() {
    let env = start(1, Config::default()).await;

    let unknown = env.get(&env.item_url("nope", "")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.body["error"]["code"],
        "ReplicationProtectedItemNotFound"
    );
    assert!(unknown.body["error"]["message"].is_string());

    // Another vault: ARM's 404 for a resource that does not exist.
    let ep = env.emu.endpoints();
    let other = format!(
        "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.RecoveryServices/vaults/other/replicationProtectedItems?api-version={API}",
        ep.base_url, ep.subscription, ep.resource_group
    );
    let answer = env.get(&other).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body["error"]["code"], "ResourceNotFound");

    // Commit is not allowed on a protected item: 409 with the state and
    // the allowed operations in the message.
    let refused = env
        .post(&env.item_url("vm-000", "/failoverCommit"), None)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(
        refused.body["error"]["code"],
        "OperationNotAllowedInCurrentState"
    );
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Protected") && message.contains("PlannedFailover"),
        "{message}"
    );

    // A failover without its direction: 400.
    let bad = env
        .post(
            &env.item_url("vm-000", "/plannedFailover"),
            Some(json!({"properties": {"providerSpecificDetails": {"instanceType": "A2A"}}})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"]["code"], "InvalidFailoverDirection");
    // A refused POST reached the simulator and started nothing; a bad
    // input never reached it.
    let counters = env.emu.counters();
    assert_eq!(counters.posts("vm-000", "failoverCommit"), 1);
    assert_eq!(counters.posts("vm-000", "plannedFailover"), 0);
    assert_eq!(
        counters.requests("POST", "protectedItems.plannedFailover"),
        1
    );
    assert!(env.emu.sim().history().unwrap().is_empty());

    // Paths are case-insensitive, as ARM's.
    let upper = env
        .get(
            &env.item_url("VM-000", "")
                .replace("/subscriptions/", "/Subscriptions/"),
        )
        .await;
    assert_eq!(upper.status, StatusCode::OK);
}

#[tokio::test]
async fn a_post_answers_202_with_lro_headers() {
    let config = Config {
        retry_after_secs: Some(7),
        ..Config::default()
    };
    let env = start(1, config).await;
    let answer = env
        .post(
            &env.item_url("vm-000", "/testFailover"),
            Some(json!({"properties": {
                "failoverDirection": "PrimaryToRecovery",
                "networkType": "VmNetworkAsInput",
                "networkId": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/virtualNetworks/vnet-drill",
                "providerSpecificDetails": {"instanceType": "A2A"},
            }})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(answer.body, serde_json::Value::Null);
    assert_eq!(answer.header("retry-after"), Some("7"));
    let ep = env.emu.endpoints();
    let status = answer.header("azure-asyncoperation").unwrap();
    let location = answer.header("location").unwrap();
    assert!(status.starts_with(&format!(
        "{}{}/replicationOperationStatus/",
        ep.base_url, ep.vault_id
    )));
    assert!(location.starts_with(&format!(
        "{}{}/replicationOperationResults/",
        ep.base_url, ep.vault_id
    )));
    assert!(status.ends_with(&format!("?api-version={API}")));

    let done = env.wait(status).await;
    assert_eq!(done["status"], "Succeeded");
    // Location: 200 with the item once done.
    let result = env.get(location).await;
    assert_eq!(result.status, StatusCode::OK);
    assert_eq!(
        result.body["properties"]["testFailoverState"],
        "WaitingForCompletion"
    );
    let network = result.body["properties"]["providerSpecificDetails"]["selectedTfoAzureNetworkId"]
        .as_str()
        .unwrap();
    assert!(
        network.ends_with("/virtualNetworks/vnet-drill"),
        "{network}"
    );
}

/// The specification's example `name`, as a fixture.
fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("the fixture is there");
    serde_json::from_str(&text).expect("a JSON fixture")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field of `example` is in `actual`, spelled and nested the same,
/// with a value of the same JSON type (objects recursively, arrays by
/// their first elements). Provider-specific objects (the example's are
/// Hyper-V's, the emulator's A2A) are compared on `instanceType` only;
/// `affectedObjectDetails` is a free map.
fn assert_shape(example: &Value, actual: &Value, path: &str) {
    assert_eq!(
        kind(example),
        kind(actual),
        "{path}: the example has {example}, the emulator {actual}"
    );
    match (example, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let here = format!("{path}.{key}");
                let Some(mine) = a.get(key) else {
                    panic!(
                        "{here} is missing: the emulator has {:?}",
                        a.keys().collect::<Vec<_>>()
                    );
                };
                match key.as_str() {
                    "providerSpecificDetails" | "customDetails" => {
                        assert!(mine["instanceType"].is_string(), "{here}.instanceType");
                    }
                    _ => assert_shape(value, mine, &here),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(e), Some(a)) = (e.first(), a.first()) {
                assert_shape(e, a, &format!("{path}[0]"));
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn bodies_have_the_specifications_shape() {
    let env = start(2, Config::default()).await;

    // An idle protected item: ReplicationProtectedItems_Get.
    let item = env.get(&env.item_url("vm-000", "")).await;
    let example = fixture("ReplicationProtectedItems_Get");
    assert_shape(&example["responses"]["200"]["body"], &item.body, "item");
    assert_eq!(
        item.body["type"],
        example["responses"]["200"]["body"]["type"]
    );
    let scenario = &item.body["properties"]["currentScenario"];
    assert_eq!(scenario["scenarioName"], "None");
    assert_eq!(scenario["startTime"], "1753-01-01T01:01:01.000000Z");
    assert!(scenario["jobId"]
        .as_str()
        .unwrap()
        .ends_with("/replicationJobs/None"));
    let a2a = &item.body["properties"]["providerSpecificDetails"];
    assert_eq!(a2a["instanceType"], "A2A");
    assert!(a2a["rpoInSeconds"].is_u64() && a2a["lastRpoCalculatedTime"].is_string());
    assert_eq!(a2a["primaryFabricLocation"], "eastus");
    assert_eq!(a2a["recoveryFabricLocation"], "westus");

    // Its recovery points: RecoveryPoints_ListByReplicationProtectedItems.
    let points = env.get(&env.item_url("vm-000", "/recoveryPoints")).await;
    let example = fixture("RecoveryPoints_ListByReplicationProtectedItems");
    assert_shape(
        &example["responses"]["200"]["body"],
        &points.body,
        "recoveryPoints",
    );
    assert!(points.body["value"].as_array().unwrap().len() > 1);

    // A test failover and its cleanup, then a planned failover, with the
    // example's input (A2A's instance type): the item afterwards has the
    // shape of the example's final result, and the 202 its headers.
    let mut input = fixture("inputs")["ReplicationProtectedItems_TestFailover"].clone();
    input["properties"]["providerSpecificDetails"]["instanceType"] = json!("A2A");
    let started = env
        .post(&env.item_url("vm-000", "/testFailover"), Some(input))
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED);
    env.wait(started.header("azure-asyncoperation").unwrap())
        .await;
    let cleanup = env
        .post(
            &env.item_url("vm-000", "/testFailoverCleanup"),
            Some(json!({"properties": {"comments": "drill over"}})),
        )
        .await;
    assert_eq!(cleanup.status, StatusCode::ACCEPTED);
    env.wait(cleanup.header("azure-asyncoperation").unwrap())
        .await;

    let example = fixture("ReplicationProtectedItems_PlannedFailover");
    let mut input = example["parameters"]["failoverInput"].clone();
    input["properties"]["providerSpecificDetails"]["instanceType"] = json!("A2A");
    let started = env
        .post(&env.item_url("vm-000", "/plannedFailover"), Some(input))
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED);
    for header in example["responses"]["202"]["headers"]
        .as_object()
        .unwrap()
        .keys()
    {
        assert!(started.header(header).is_some(), "the 202 lacks {header}");
    }
    let status_url = started.header("azure-asyncoperation").unwrap().to_string();
    env.wait(&status_url).await;
    let result = env.get(started.header("location").unwrap()).await;
    assert_eq!(result.status, StatusCode::OK);
    assert_shape(
        &example["responses"]["200"]["body"],
        &result.body,
        "plannedFailover",
    );

    // Its job: ReplicationJobs_Get.
    let job = status_url
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let answer = env.get(&env.url(&format!("/replicationJobs/{job}"))).await;
    let example = fixture("ReplicationJobs_Get");
    assert_shape(&example["responses"]["200"]["body"], &answer.body, "job");
    assert_eq!(
        answer.body["properties"]["customDetails"]["instanceType"],
        "AsrJobDetails"
    );
}

#[tokio::test]
async fn the_specifications_inputs_are_accepted() {
    let env = start(2, Config::default()).await;
    let inputs = fixture("inputs");
    let a2a = |name: &str| {
        let mut input = inputs[name].clone();
        input["properties"]["providerSpecificDetails"]["instanceType"] = json!("A2A");
        input
    };
    let run = |vm: &'static str, action: &'static str, input: Option<Value>| {
        let env = &env;
        async move {
            let started = env
                .post(&env.item_url(vm, &format!("/{action}")), input)
                .await;
            assert_eq!(
                started.status,
                StatusCode::ACCEPTED,
                "{action}: {}",
                started.body
            );
            let done = env
                .wait(started.header("azure-asyncoperation").unwrap())
                .await;
            assert_eq!(done["status"], "Succeeded", "{action}: {done}");
        }
    };

    run(
        "vm-000",
        "unplannedFailover",
        Some(a2a("ReplicationProtectedItems_UnplannedFailover")),
    )
    .await;
    // Another point than the one failed over to, by its ARM id.
    let points = env.get(&env.item_url("vm-000", "/recoveryPoints")).await;
    let point = points.body["value"].as_array().unwrap().last().unwrap()["id"].clone();
    let mut apply = a2a("ReplicationProtectedItems_ApplyRecoveryPoint");
    apply["properties"]["recoveryPointId"] = point.clone();
    run("vm-000", "applyRecoveryPoint", Some(apply)).await;
    let item = env.get(&env.item_url("vm-000", "")).await;
    assert_eq!(item.body["properties"]["failoverRecoveryPointId"], point);
    run("vm-000", "failoverCommit", None).await;
    run(
        "vm-000",
        "reProtect",
        Some(a2a("ReplicationProtectedItems_Reprotect")),
    )
    .await;

    run(
        "vm-001",
        "testFailover",
        Some(a2a("ReplicationProtectedItems_TestFailover")),
    )
    .await;
    let item = env.get(&env.item_url("vm-001", "")).await;
    assert_eq!(
        item.body["properties"]["testFailoverState"],
        "WaitingForCompletion"
    );
    assert!(
        item.body["properties"]["providerSpecificDetails"]["selectedTfoAzureNetworkId"]
            .as_str()
            .unwrap()
            .ends_with("/vnetavrai")
    );

    // Another provider's input is refused: this vault is A2A.
    let hyperv = inputs["ReplicationProtectedItems_UnplannedFailover"].clone();
    let refused = env
        .post(&env.item_url("vm-001", "/unplannedFailover"), Some(hyperv))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.body["error"]["code"],
        "InvalidProviderSpecificInput"
    );
}

#[tokio::test]
async fn recovery_plans_have_the_specifications_shape() {
    let plan = drbook_core::plan::RecoveryPlan::parse(
        r#"
name = "two-tier"
primary_region = "eastus"
recovery_region = "westus"

[[groups]]
name = "db"
vms = ["vm-000"]
post = ["check-databases"]

[[groups]]
name = "web"
vms = ["vm-001", "vm-002"]
pre = [{ name = "switch-dns", manual = "Point DNS at westus, then approve" }]
"#,
        "test",
    )
    .unwrap();
    let config = Config {
        recovery_plans: vec![plan],
        ..Config::default()
    };
    let env = start(3, config).await;

    let answer = env
        .get(&env.url("/replicationRecoveryPlans/Two-Tier"))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let example = fixture("ReplicationRecoveryPlans_Get");
    assert_shape(&example["responses"]["200"]["body"], &answer.body, "plan");
    let groups = answer.body["properties"]["groups"].as_array().unwrap();
    let kinds: Vec<&str> = groups
        .iter()
        .map(|g| g["groupType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Shutdown", "Failover", "Boot", "Boot"]);
    assert_eq!(
        groups[2]["replicationProtectedItems"][0]["id"],
        env.get(&env.item_url("vm-000", "")).await.body["id"]
    );
    assert_eq!(
        groups[3]["replicationProtectedItems"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let manual = &groups[3]["startGroupActions"][0];
    assert_eq!(manual["actionName"], "switch-dns");
    assert_eq!(
        manual["customDetails"]["instanceType"],
        "ManualActionDetails"
    );
    assert_eq!(
        manual["customDetails"]["description"],
        "Point DNS at westus, then approve"
    );
    let named = &groups[2]["endGroupActions"][0];
    assert_eq!(
        named["customDetails"]["instanceType"],
        "AutomationRunbookActionDetails"
    );

    let list = env.get(&env.url("/replicationRecoveryPlans")).await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);
    let missing = env.get(&env.url("/replicationRecoveryPlans/nope")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"]["code"], "RecoveryPlanNotFound");
}
