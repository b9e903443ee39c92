//! Runbooks' Azure resource calls ([`ArmResources`]) against the emulator:
//! a DNS record set's PUT, GET and DELETE in the specification's JSON; a
//! POST that answers 202 with `Azure-AsyncOperation` followed to its end (a
//! Site Recovery action, the emulator's long-running operation); a throttled
//! PUT sent again after the wait, and applied once; ARM's refusal as the
//! runbook's `status`.

use crate::common::{config, start};
use drbook_arm_emulator::{Config, HttpFaults};
use drbook_core::outside::azure::{AzureError, ResourceRequest, Resources};
use drbook_core::outside::Method;
use drbook_fabric_azure::ArmResources;
use serde_json::json;

fn request(
    method: Method,
    id: &str,
    api: &str,
    body: Option<serde_json::Value>,
) -> ResourceRequest {
    ResourceRequest {
        method,
        resource_id: id.to_string(),
        api_version: api.to_string(),
        body,
    }
}

#[tokio::test]
async fn a_record_set_is_put_read_and_deleted_and_an_action_is_followed_to_its_end() {
    let env = start(None, Config::default()).await;
    let resources = ArmResources::open(&config(&env.emu, &env.dir.path().join("host"))).unwrap();
    let ep = env.emu.endpoints();
    let zone = format!(
        "/subscriptions/{}/resourceGroups/dns/providers/Microsoft.Network/dnsZones/contoso.com",
        ep.subscription
    );
    let id = format!("{zone}/A/app");
    let body = json!({"properties": {"TTL": 60, "ARecords": [{"ipv4Address": "10.2.0.4"}]}});
    let put = resources
        .send(&request(Method::Put, &id, "2018-05-01", Some(body.clone())))
        .await
        .unwrap();
    assert_eq!(put.status, 201, "created: {}", put.body);
    let set: serde_json::Value = serde_json::from_str(&put.body).unwrap();
    assert_eq!(set["type"], "Microsoft.Network/dnszones/A");
    assert_eq!(set["properties"]["fqdn"], "app.contoso.com.");
    let again = resources
        .send(&request(Method::Put, &id, "2018-05-01", Some(body)))
        .await
        .unwrap();
    assert_eq!(again.status, 200, "updated");
    let got = resources
        .send(&request(Method::Get, &id, "2018-05-01", None))
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&got.body).unwrap()["properties"]["ARecords"][0]
            ["ipv4Address"],
        "10.2.0.4"
    );
    // Another provider's api-version is ARM's 400, handed as a status.
    let wrong = resources
        .send(&request(Method::Get, &id, "2025-08-01", None))
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong, AzureError::Status { status: 400, code, .. } if code == "InvalidApiVersionParameter"),
        "{wrong:?}"
    );
    resources
        .send(&request(Method::Delete, &id, "2018-05-01", None))
        .await
        .unwrap();
    let gone = resources
        .send(&request(Method::Get, &id, "2018-05-01", None))
        .await
        .unwrap_err();
    assert!(
        matches!(gone, AzureError::Status { status: 404, .. }),
        "{gone:?}"
    );
    assert_eq!(env.emu.counters().network.len(), 3, "two PUTs and a DELETE");

    // A POST answered 202 with Azure-AsyncOperation: polled until it ends,
    // then the operation's result is the answer.
    let item = drbook_core::fabric::Fabric::get_item(&env.fabric("reader"), "web-01")
        .await
        .unwrap();
    let action = format!("{}/plannedFailover", item.id);
    let done = resources
        .send(&request(
            Method::Post,
            &action,
            "2025-08-01",
            Some(json!({"properties": {"failoverDirection": "PrimaryToRecovery", "providerSpecificDetails": {"instanceType": "A2A"}}})),
        ))
        .await
        .unwrap();
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        env.emu.counters().requests("GET", "operationStatus.get") >= 1,
        "{:?}",
        env.emu.counters().requests
    );
    assert_eq!(env.emu.counters().posts("web-01", "plannedFailover"), 1);
}

#[tokio::test]
async fn a_throttled_put_is_sent_again_after_the_wait_and_applied_once() {
    let env = start(None, Config::default()).await;
    let resources = ArmResources::open(&config(&env.emu, &env.dir.path().join("host"))).unwrap();
    env.emu.set_faults(HttpFaults {
        throttle_every: Some(1),
        throttle_retry_after_ms: Some(20),
        ..HttpFaults::default()
    });
    let id = format!(
        "/subscriptions/{}/resourceGroups/tm/providers/Microsoft.Network/trafficmanagerprofiles/app/externalEndpoints/west",
        env.emu.endpoints().subscription
    );
    let body = json!({"properties": {"target": "app-west.contoso.com", "endpointStatus": "Enabled", "priority": 1}});
    let throttled = resources
        .send(&request(Method::Put, &id, "2022-04-01", Some(body.clone())))
        .await
        .unwrap_err();
    assert!(
        matches!(throttled, AzureError::Unavailable { .. }),
        "{throttled:?}"
    );
    assert!(env.emu.counters().network.is_empty(), "nothing applied");
    env.emu.set_faults(HttpFaults {
        throttle_every: Some(2),
        throttle_retry_after_ms: Some(20),
        ..HttpFaults::default()
    });
    let put = resources
        .send(&request(Method::Put, &id, "2022-04-01", Some(body)))
        .await
        .unwrap();
    assert!(matches!(put.status, 200 | 201), "{}", put.body);
    let endpoint = env.emu.network_resource(&id).unwrap();
    assert_eq!(endpoint["properties"]["target"], "app-west.contoso.com");
    assert_eq!(env.emu.counters().network.len(), 1, "applied once");
}
