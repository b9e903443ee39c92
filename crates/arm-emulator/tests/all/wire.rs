//! The wire: lists page with `nextLink`, `api-version` is required and
//! checked, ARM's error shape and statuses, the LRO headers of a POST.

use crate::common::{start, API};
use drbook_arm_emulator::{Config, SUPPORTED_API_VERSIONS};
use reqwest::StatusCode;
use serde_json::json;
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
        retry_after_secs: 7,
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
    assert_eq!(
        result.body["properties"]["providerSpecificDetails"]["testFailoverNetwork"],
        "vnet-drill"
    );
}
