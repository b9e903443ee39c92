//! Faults on demand: 429 every Nth request with `Retry-After`, 5xx, slow
//! answers, a connection dropped after its POST was applied, and the
//! simulator's own faults; the counters tests read.

use crate::common::start;
use drbook_arm_emulator::{Config, HttpFaults};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

fn planned() -> serde_json::Value {
    json!({"properties": {
        "failoverDirection": "PrimaryToRecovery",
        "providerSpecificDetails": {"instanceType": "A2A"},
    }})
}

#[tokio::test]
async fn every_third_request_is_throttled_with_retry_after() {
    let config = Config {
        faults: HttpFaults {
            throttle_every: Some(3),
            throttle_retry_after_secs: 2,
            ..HttpFaults::default()
        },
        ..Config::default()
    };
    let env = start(2, config).await;
    let url = env.url("/replicationProtectedItems");
    let mut statuses = Vec::new();
    for _ in 0..9 {
        let answer = env.get(&url).await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(answer.header("retry-after"), Some("2"));
            assert_eq!(answer.body["error"]["code"], "TooManyRequests");
        }
        statuses.push(answer.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 200, 200, 429, 200, 200, 429]);
    assert_eq!(env.emu.counters().throttled, 3);
    assert_eq!(env.emu.counters().requests("GET", "protectedItems.list"), 9);

    // A throttled POST is not applied.
    env.emu.reset_counters();
    let post = env.item_url("vm-000", "/plannedFailover");
    let first = env.post(&post, Some(planned())).await; // request 10
    assert_eq!(first.status, StatusCode::ACCEPTED);
    env.get(&url).await; // 11
    let throttled = env
        .post(&env.item_url("vm-001", "/plannedFailover"), Some(planned()))
        .await; // 12
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(env.emu.counters().posts("vm-001", "plannedFailover"), 0);
    assert_eq!(env.emu.counters().posts("vm-000", "plannedFailover"), 1);
}

#[tokio::test]
async fn server_errors_and_slow_answers() {
    let env = start(1, Config::default()).await;
    env.emu.set_faults(HttpFaults {
        error_every: Some(2),
        error_status: Some(503),
        delay_ms: 150,
        ..HttpFaults::default()
    });
    let url = env.url("/replicationProtectedItems");
    let began = Instant::now();
    assert_eq!(env.get(&url).await.status, StatusCode::OK);
    let answer = env.get(&url).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body["error"]["code"], "InternalServerError");
    assert!(began.elapsed() >= Duration::from_millis(300));
    assert_eq!(env.emu.counters().errors_injected, 1);
}

#[tokio::test]
async fn a_dropped_post_was_applied_all_the_same() {
    let env = start(2, Config::default()).await;
    env.emu.set_faults(HttpFaults {
        drop_next_posts: 1,
        ..HttpFaults::default()
    });
    let request_id = "22222222-bbbb-4000-8000-000000000001";
    let sent = env
        .call_with(
            Method::POST,
            &env.item_url("vm-000", "/plannedFailover"),
            Some(planned()),
            Some(&env.token),
            Some(request_id),
        )
        .await;
    let err = sent
        .err()
        .expect("the connection is closed without an answer");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    assert_eq!(env.emu.counters().dropped, 1);
    assert_eq!(env.emu.counters().posts("vm-000", "plannedFailover"), 1);

    // The operation started: the item names its job, and the job carries
    // the request id the caller sent, so a caller can re-attach.
    let item = env.get(&env.item_url("vm-000", "")).await;
    let props = &item.body["properties"];
    let job_id = props["currentScenario"]["jobId"].as_str().unwrap();
    let job = if props["currentScenario"]["scenarioName"] == "None" {
        // At instant speed it may be over already: find it in the jobs.
        let jobs = env.get(&env.url("/replicationJobs")).await;
        jobs.body["value"][0].clone()
    } else {
        env.get(&format!(
            "{}{job_id}?api-version=2025-08-01",
            env.emu.endpoints().base_url
        ))
        .await
        .body
    };
    assert!(job["properties"]["activityId"]
        .as_str()
        .unwrap()
        .starts_with(request_id));
    assert_eq!(props["activeLocation"], "Recovery");

    // The next POST is answered.
    let answer = env
        .post(&env.item_url("vm-001", "/plannedFailover"), Some(planned()))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn the_simulators_faults_through_the_admin_route() {
    let env = start(1, Config::default()).await;
    let ep = env.emu.endpoints();
    let answer = env
        .client
        .post(format!("{}/admin/sim-fault", ep.base_url))
        .header("X-IDENTITY-HEADER", &ep.identity_header)
        .json(&json!({"failNext": "vm-000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let started = env
        .post(&env.item_url("vm-000", "/plannedFailover"), Some(planned()))
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED);
    let done = env
        .wait(started.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(done["status"], "Failed");
    assert!(done["error"]["message"]
        .as_str()
        .unwrap()
        .contains("injected fault"));

    // Without the secret the admin routes refuse.
    let answer = env
        .client
        .get(format!("{}/admin/counters", ep.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_enforced_budget_throttles_reads_and_writes_apart() {
    use drbook_arm_emulator::{Bucket, Budget};
    let config = Config {
        budget: Some(Budget {
            reads: Bucket {
                capacity: 3,
                refill_per_second: 4.0,
            },
            writes: Bucket {
                capacity: 1,
                refill_per_second: 0.5,
            },
        }),
        ..Config::default()
    };
    let env = start(2, config).await;
    let url = env.url("/replicationProtectedItems");
    let mut left = Vec::new();
    for _ in 0..3 {
        let answer = env.get(&url).await;
        assert_eq!(answer.status, StatusCode::OK);
        left.push(
            answer
                .header("x-ms-ratelimit-remaining-subscription-reads")
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(left, ["2", "1", "0"]);
    let spent = env.get(&url).await;
    assert_eq!(spent.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(spent.header("retry-after"), Some("1"));
    assert_eq!(spent.body["error"]["code"], "TooManyRequests");

    // Writes have their own bucket: one POST, then 429 for two seconds.
    let post = env
        .post(&env.item_url("vm-000", "/plannedFailover"), Some(planned()))
        .await;
    assert_eq!(post.status, StatusCode::ACCEPTED);
    assert_eq!(
        post.header("x-ms-ratelimit-remaining-subscription-writes"),
        Some("0")
    );
    let refused = env
        .post(&env.item_url("vm-001", "/plannedFailover"), Some(planned()))
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.header("retry-after"), Some("2"));
    assert_eq!(env.emu.counters().posts("vm-001", "plannedFailover"), 0);

    // Reads refill at their rate.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.get(&url).await.status, StatusCode::OK);
    assert_eq!(env.emu.counters().budget_throttled, 2);
}

#[tokio::test]
async fn faults_and_counters_through_the_admin_routes() {
    let env = start(1, Config::default()).await;
    let ep = env.emu.endpoints();
    // Over the plain-HTTP identity port, as a test harness in another
    // process would.
    let admin = ep.token_endpoint.trim_end_matches("/msi/token").to_string();
    let set = env
        .client
        .put(format!("{admin}/admin/faults"))
        .header("X-IDENTITY-HEADER", &ep.identity_header)
        .json(&json!({"throttleEvery": 1, "throttleRetryAfterSecs": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(env.emu.faults().throttle_every, Some(1));
    let answer = env.get(&env.url("/replicationProtectedItems")).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.header("retry-after"), Some("5"));

    let counters: serde_json::Value = env
        .client
        .get(format!("{admin}/admin/counters"))
        .header("X-IDENTITY-HEADER", &ep.identity_header)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["throttled"], 1);
    assert_eq!(counters["tokenFetches"], 1);
    assert_eq!(counters["requests"]["GET protectedItems.list"], 1);

    // A document that is not faults is refused, and changes nothing.
    let bad = env
        .client
        .put(format!("{admin}/admin/faults"))
        .header("X-IDENTITY-HEADER", &ep.identity_header)
        .body("{\"throttleEvery\": \"often\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(env.emu.faults().throttle_every, Some(1));
}
