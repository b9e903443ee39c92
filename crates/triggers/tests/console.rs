//! The console's pages over real HTTP: the jobs list and its filters, a
//! job's page, and that what strangers write (a runbook's log line, a VM's
//! name, an alert's fields, the runbook's file name, a search) renders as
//! inert text, on pages that allow no inline script.

mod common;

use chrono::{TimeDelta, Utc};
use common::Served;
use drbook_core::journal::{Record, Stream};
use drbook_core::token::Scope;
use drbook_triggers::{create_token, ServeOptions};
use std::time::SystemTime;

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(2)>";

/// `text` as the pages must show it: escaped by the template.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Asserts that `page` holds neither payload as markup.
fn inert(page: &str, what: &str) {
    for payload in [SCRIPT, IMG, "<img"] {
        assert!(
            !page.contains(payload),
            "{what} holds {payload:?} as markup:\n{page}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_and_shows_jobs_and_renders_what_strangers_wrote_inert() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim) = common::store(dir.path());
    let far = Utc::now() + TimeDelta::days(1);
    let viewer = create_token(store.as_ref(), "people", &[Scope::Viewer], far, "test")
        .await
        .unwrap()
        .secret;
    let plan = format!(
        "name = \"contoso\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
         [[groups]]\nname = \"web\"\nvms = [\"web-01\", {:?}]\n",
        IMG
    );
    let alert = serde_json::json!({
        "alertId": "/subscriptions/s/alerts/a1", "alertRule": SCRIPT, "severity": "Sev1",
        "signalType": "Metric", "monitorCondition": "Fired", "monitoringService": IMG,
        "alertTargetIDs": [IMG], "firedDateTime": "2026-12-02T00:00:00Z", "description": SCRIPT
    });
    let trigger = serde_json::json!({
        "kind": "webhook",
        "request": { "name": "hook", "body": "{}", "headers": [] },
        "alert": alert
    });
    let runbook = format!("{SCRIPT}.wasm");
    let (job, run) = common::running_job(store.as_ref(), &runbook, &plan, trigger).await;
    run.append_stream(&Record {
        stream: Stream::Output,
        time: SystemTime::now(),
        text: format!("failing over {IMG} {SCRIPT}"),
    })
    .unwrap();
    let served = Served::start(store.clone(), sim, ServeOptions::default()).await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        http.get(format!("{}{path}", served.base))
            .bearer_auth(&viewer)
            .send()
    };

    // The list, its filters (a form's empty fields mean "any"), a search
    // reflected in the form (it finds the runbook).
    let listed = get(format!(
        "/ui/jobs?status=Running&runbook=&plan=contoso&q={}",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E"
    ))
    .await
    .unwrap();
    assert_eq!(listed.status(), 200);
    let policy = listed.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"),
        "{policy}"
    );
    let page = listed.text().await.unwrap();
    inert(&page, "the jobs list");
    assert!(page.contains(&format!("/ui/jobs/{job}")), "{page}");
    assert!(page.contains(&escaped(&runbook)), "{page}");
    assert!(
        page.contains(&format!("value=\"{}\"", escaped(SCRIPT))),
        "the search, escaped: {page}"
    );
    let none = get("/ui/jobs?status=Completed&runbook=&q=".to_string())
        .await
        .unwrap();
    let none = none.text().await.unwrap();
    assert!(
        none.contains("No job matches.") && !none.contains(&format!("/ui/jobs/{job}")),
        "{none}"
    );
    let bad = get("/ui/jobs?since=yesterday".to_string()).await.unwrap();
    assert_eq!(bad.status(), 400);

    // The job's page: its line, its VMs, its alert, all as text.
    let shown = get(format!("/ui/jobs/{job}")).await.unwrap();
    assert_eq!(shown.status(), 200);
    let page = shown.text().await.unwrap();
    inert(&page, "the job's page");
    for text in [
        format!("failing over {IMG} {SCRIPT}"),
        IMG.to_string(),
        SCRIPT.to_string(),
    ] {
        assert!(
            page.contains(&escaped(&text)),
            "{text:?} is not on the page:\n{page}"
        );
    }
    assert!(
        page.contains(&format!("data-events=\"/api/v1/jobs/{job}/events\"")),
        "{page}"
    );
    assert!(
        page.contains("data-after=\"1\""),
        "the stream follows after the rendered line: {page}"
    );
    let missing = get("/ui/jobs/job-none".to_string()).await.unwrap();
    assert_eq!(missing.status(), 404);

    // The script is the binary's, and adds lines as text.
    let script = http
        .get(format!("{}/ui/assets/console.js", served.base))
        .send()
        .await
        .unwrap();
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let script = script.text().await.unwrap();
    assert!(
        script.contains("textContent") && !script.contains("innerHTML"),
        "{script}"
    );
    served.stop().await;
}
