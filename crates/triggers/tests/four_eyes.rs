//! Rerunning a job through the API records who asked, and under the
//! four-eyes rule that person may not decide the new job's manual step,
//! from the API or the console; another approver may, and without the rule
//! the starter may too.

mod common;

use chrono::{TimeDelta, Utc};
use common::Served;
use drbook_core::job::{JobRecord, JobStatus, Trigger, Wake};
use drbook_core::store::{JobStore, RunEnd};
use drbook_core::token::Scope;
use drbook_triggers::{create_token, Deciders, ServeOptions};
use std::sync::Arc;

const PLAN: &str = "name = \"manual\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
                    [[groups]]\nname = \"web\"\nvms = [\"web-01\"]\n";

/// A token named `name` holding `scopes`; its secret.
async fn token(store: &dyn JobStore, name: &str, scopes: &[Scope]) -> String {
    let far = Utc::now() + TimeDelta::days(1);
    create_token(store, name, scopes, far, "test")
        .await
        .unwrap()
        .secret
}

/// A job waiting at a manual step, started by a rerun `user` asked for.
async fn waiting_for_a_person(store: &dyn JobStore, user: &str) -> String {
    let trigger = serde_json::json!({ "kind": "rerun", "job": "job-before", "user": user,
        "of": { "kind": "commandLine", "user": "ops" } });
    let (job, run) = common::running_job(store, "r.wasm", PLAN, trigger).await;
    let wake = Wake::Decision {
        journal_seq: 0,
        prompt: "Switch DNS".to_string(),
    };
    run.end(RunEnd::Waiting {
        status: JobStatus::Suspended,
        reason: "waiting for a person",
        wake: &wake,
    })
    .await
    .unwrap();
    job
}

async fn approve(base: &str, job: &str, secret: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/jobs/{job}/decision"))
        .bearer_auth(secret)
        .json(&serde_json::json!({ "approved": true, "comment": "go" }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_through_the_api_is_a_new_job_started_by_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim) = common::store(dir.path());
    let ops = token(store.as_ref(), "ops", &[Scope::Operator]).await;
    let viewer = token(store.as_ref(), "watcher", &[Scope::Viewer]).await;
    let trigger = serde_json::json!({ "kind": "commandLine", "user": "first" });
    let (job, _run) = common::running_job(store.as_ref(), "r.wasm", PLAN, trigger).await;
    store
        .finish(
            &job,
            JobStatus::Failed,
            Some("it failed"),
            &serde_json::Value::Null,
        )
        .await
        .unwrap();
    let served = Served::start(store.clone(), sim, ServeOptions::default()).await;
    let rerun = |secret: String, id: String| {
        let url = format!("{}/api/v1/jobs/{id}/rerun", served.base);
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(secret)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(rerun(viewer, job.clone()).await.status(), 403);
    assert_eq!(rerun(ops.clone(), "job-none".into()).await.status(), 404);
    let made = rerun(ops, job.clone()).await;
    assert_eq!(made.status(), 201);
    let made: JobRecord = made.json().await.unwrap();
    assert_ne!(made.id, job);
    assert_eq!(made.trigger, format!("rerun:{job}"));
    let Trigger::Rerun { job: of, user, .. } = &made.spec.trigger else {
        panic!("{:?}", made.spec.trigger);
    };
    assert_eq!((of.as_str(), user.as_str()), (job.as_str(), "ops"));
    assert_eq!(made.spec.trigger.started_by(), Some("ops"));
    let original = store.get(&job).await.unwrap();
    assert_eq!(made.spec.plan, original.spec.plan);
    assert_eq!(made.digest, original.digest);
    served.stop().await;
}

async fn served(four_eyes: bool) -> (Served, Arc<dyn JobStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim) = common::store(dir.path());
    let options = ServeOptions {
        deciders: if four_eyes {
            Deciders::NotTheStarter
        } else {
            Deciders::Any
        },
        ..ServeOptions::default()
    };
    let served = Served::start(store.clone(), sim, options).await;
    (served, store, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_four_eyes_the_starter_may_not_approve_and_another_approver_may() {
    let (served, store, _dir) = served(true).await;
    let alice = token(store.as_ref(), "alice", &[Scope::Approver, Scope::Operator]).await;
    let bob = token(store.as_ref(), "bob", &[Scope::Approver]).await;
    let job = waiting_for_a_person(store.as_ref(), "alice").await;

    let (status, body) = approve(&served.base, &job, &alice).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("four-eyes rule") && body.contains("alice started job"),
        "{body}"
    );
    assert_eq!(store.decision(&job, 0).await.unwrap(), None);

    // The console's form is refused alike.
    let form = reqwest::Client::new()
        .post(format!("{}/ui/jobs/{job}/decision", served.base))
        .bearer_auth(&alice)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("decision=approve&comment=mine")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 403);
    assert!(form.text().await.unwrap().contains("four-eyes rule"));
    assert_eq!(store.decision(&job, 0).await.unwrap(), None);

    let (status, body) = approve(&served.base, &job, &bob).await;
    assert_eq!(status, 200, "{body}");
    let decision = store.decision(&job, 0).await.unwrap().expect("decided");
    assert!(decision.approved);
    assert_eq!(decision.by, "bob");
    let log = served.log.lock().unwrap().join("\n");
    assert!(!log.contains(&alice) && !log.contains(&bob));
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_four_eyes_the_starter_may_approve() {
    let (served, store, _dir) = served(false).await;
    let alice = token(store.as_ref(), "alice", &[Scope::Approver]).await;
    let job = waiting_for_a_person(store.as_ref(), "alice").await;
    let (status, body) = approve(&served.base, &job, &alice).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(store.decision(&job, 0).await.unwrap().unwrap().by, "alice");
    served.stop().await;
}
