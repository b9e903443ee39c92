//! `drbook fabric serve-arm`, run as an operator would: it serves the data
//! directory's simulator over HTTPS, prints where (and, with `--json`, as
//! one JSON line), and what a client does through it reaches that
//! simulator: `drbook fabric show` sees it; its plan files are the vault's
//! recovery plans.

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;

/// `drbook` on `data_dir`, its simulator at instant speed.
fn drbook(data_dir: &Path) -> Command {
    let mut command = common::drbook(data_dir);
    command.args(["--speed", "instant"]);
    command
}

#[tokio::test]
async fn serve_arm_serves_the_data_dirs_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let init = drbook(dir.path())
        .args(["fabric", "init", "--demo"])
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );

    let (_server, ep) = common::serve_arm(dir.path(), &["--page-size", "5"]);
    let base = ep["armEndpoint"].as_str().unwrap();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let ca_file = ep["caFile"].as_str().unwrap();
    assert_eq!(Path::new(ca_file), dir.path().join("arm-emulator-ca.pem"));
    assert_eq!(ep["env"]["IDENTITY_ENDPOINT"], ep["tokenEndpoint"]);

    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca_file).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let token: Value = client
        .get(ep["tokenEndpoint"].as_str().unwrap())
        .query(&[("api-version", "2019-08-01"), ("resource", base)])
        .header("X-IDENTITY-HEADER", ep["identityHeader"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();

    // The demo's 12 VMs, five a page.
    let vault = ep["vaultId"].as_str().unwrap();
    let mut url = format!("{base}{vault}/replicationProtectedItems?api-version=2025-08-01");
    let mut names = Vec::new();
    loop {
        let page: Value = client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for item in page["value"].as_array().unwrap() {
            names.push(
                item["properties"]["friendlyName"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        match page["nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(names.len(), 12);
    assert!(names.contains(&"sql-01".to_string()));

    // The demo's plan file is the vault's recovery plan.
    let plans: Value = client
        .get(format!(
            "{base}{vault}/replicationRecoveryPlans?api-version=2025-08-01"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plans = plans["value"].as_array().unwrap();
    assert_eq!(plans.len(), 1, "{plans:?}");
    assert!(plans[0]["properties"]["groups"].as_array().unwrap().len() > 2);

    // A planned failover through ARM is the simulator's.
    let item = format!(
        "{base}{vault}/replicationFabrics/asr-a2a-default-eastus/replicationProtectionContainers/asr-a2a-default-eastus-container/replicationProtectedItems/sql-01"
    );
    let answer = client
        .post(format!("{item}/plannedFailover?api-version=2025-08-01"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"properties": {
            "failoverDirection": "PrimaryToRecovery",
            "providerSpecificDetails": {"instanceType": "A2A"},
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::ACCEPTED);

    let show = drbook(dir.path())
        .args(["--json", "fabric", "show"])
        .output()
        .unwrap();
    let items: Value = serde_json::from_slice(&show.stdout).unwrap();
    let sql = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "sql-01")
        .unwrap();
    assert_eq!(sql["activeLocation"], "Recovery");
}
