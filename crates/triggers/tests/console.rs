//! The console's pages over real HTTP: the jobs list and its filters, a
//! job's page, and that what strangers write (a runbook's log line, a VM's
//! name, an alert's fields, the runbook's file name, a search) renders as
//! inert text, on pages that allow no inline script; signing in (a session
//! whose id is the cookie, ended with its token), and a manual step decided
//! from its page with the session's CSRF token only.

mod common;

use chrono::{TimeDelta, Utc};
use common::Served;
use drbook_core::fabric::{Direction, OperationRequest};
use drbook_core::job::{JobStatus, Wake};
use drbook_core::journal::{Call, Entry, Record, Stream};
use drbook_core::store::RunEnd;
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
        "name = \"contoso\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\nrto = \"30m\"\n\
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
    // A failover of the VM with the odd name, on the timeline.
    let start = Entry {
        call: Call::Start {
            vm: IMG.to_string(),
            request: OperationRequest::PlannedFailover {
                direction: Direction::PrimaryToRecovery,
            },
        },
        reply: Some(serde_json::json!({ "Ok": "op-1" })),
        at: Utc::now().timestamp_millis(),
    };
    run.append(0, &start, None).unwrap();
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
    let chart = &page[page.find("<svg").expect("the timeline")..page.find("</svg>").unwrap()];
    assert!(
        chart.contains(&escaped(IMG)),
        "the VM's bar is labelled: {chart}"
    );
    assert!(
        chart.contains("RTO 30m"),
        "the plan's RTO is marked: {chart}"
    );
    let row = format!("<td class=\"vm\">{}</td>", escaped(IMG));
    assert!(page.contains(&row), "the VM's summary row: {page}");
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

    // The fabric: every protected item the API lists.
    let items: serde_json::Value = get("/api/v1/fabric/items".to_string())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fabric = get("/ui/fabric".to_string())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let names: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap())
        .collect();
    assert!(!names.is_empty());
    for name in names {
        let row = format!("<td class=\"vm\">{}</td>", escaped(name));
        assert!(
            fabric.contains(&row),
            "{name} is not on the fabric page:\n{fabric}"
        );
    }

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

/// The `Set-Cookie` of `response` named `name`: its value and attributes.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// The value of a `Set-Cookie` line.
fn value(cookie: &str) -> &str {
    cookie.split(';').next().unwrap().split_once('=').unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_sets_a_session_that_reads_only_and_a_form_without_its_csrf_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim) = common::store(dir.path());
    let far = Utc::now() + TimeDelta::days(1);
    let token = create_token(
        store.as_ref(),
        "person",
        &[Scope::Viewer, Scope::Operator],
        far,
        "test",
    )
    .await
    .unwrap()
    .secret;
    let served = Served::start(store.clone(), sim, ServeOptions::default()).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", served.base);

    let form = http.get(url("/ui/sign-in")).send().await.unwrap();
    assert_eq!(form.status(), 200);
    let csrf_cookie = set_cookie(&form, "drbook_csrf").expect("the form sets its CSRF cookie");
    assert!(
        csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"),
        "{csrf_cookie}"
    );
    let csrf = value(&csrf_cookie).to_string();
    let page = form.text().await.unwrap();
    assert!(
        page.contains(&format!("name=\"csrf\" value=\"{csrf}\"")),
        "{page}"
    );

    let post = |cookie: Option<String>, fields: String| {
        let mut request = http
            .post(url("/ui/sign-in"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(fields);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    let with_cookie = || Some(format!("drbook_csrf={csrf}"));
    // Without the field, with another value, without the cookie: refused.
    for (cookie, fields) in [
        (with_cookie(), format!("token={token}")),
        (
            with_cookie(),
            format!("csrf={}&token={token}", "0".repeat(64)),
        ),
        (None, format!("csrf={csrf}&token={token}")),
    ] {
        let refused = post(cookie, fields.clone()).await.unwrap();
        assert_eq!(refused.status(), 403, "{fields}");
        assert!(set_cookie(&refused, "drbook_session").is_none());
        assert!(refused.text().await.unwrap().contains("CSRF"));
    }
    // With both, a token that is no token is refused as the API refuses it.
    let unknown = post(
        with_cookie(),
        format!("csrf={csrf}&token=drbk_{}", "A".repeat(43)),
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), 401);
    assert!(set_cookie(&unknown, "drbook_session").is_none());

    let signed = post(with_cookie(), format!("csrf={csrf}&token={token}"))
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    assert_eq!(signed.headers()["location"], "/ui/jobs");
    let session = set_cookie(&signed, "drbook_session").expect("a session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Strict")
            && session.contains("Path=/"),
        "{session}"
    );
    assert!(
        value(&session).starts_with("drbs_") && !session.contains(&token),
        "the cookie holds a session's id, never the token: {session}"
    );
    let session = format!("drbook_session={}", value(&session));

    // The session reads, as the token would.
    let jobs = http
        .get(url("/ui/jobs"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(jobs.status(), 200);
    let api = http
        .get(url("/api/v1/jobs"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    // It never changes anything: a browser sends it by itself, from any page.
    let stop = http
        .post(url("/api/v1/jobs/job-none/stop"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(stop.status(), 401);
    let stop = http
        .post(url("/api/v1/jobs/job-none/stop"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stop.status(), 404, "the token itself may stop jobs");
    // Revoking the token ends the sessions it signed in.
    drbook_triggers::revoke_token(store.as_ref(), "person")
        .await
        .unwrap();
    let ended = http
        .get(url("/ui/jobs"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 401);
    assert!(ended.text().await.unwrap().contains("revoked"));
    let log = served.log.lock().unwrap().join("\n");
    assert!(log.contains("csrf"), "{log}");
    assert!(!log.contains(&token), "the log holds the token");
    served.stop().await;
}

/// Signs `token` in through the form; the session cookie to send.
async fn signed_in(http: &reqwest::Client, base: &str, token: &str) -> String {
    let form = http.get(format!("{base}/ui/sign-in")).send().await.unwrap();
    let csrf = value(&set_cookie(&form, "drbook_csrf").unwrap()).to_string();
    let signed = http
        .post(format!("{base}/ui/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("drbook_csrf={csrf}"))
        .body(format!("csrf={csrf}&token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    format!(
        "drbook_session={}",
        value(&set_cookie(&signed, "drbook_session").unwrap())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_approver_decides_a_manual_step_from_its_page_and_only_with_its_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim) = common::store(dir.path());
    let far = Utc::now() + TimeDelta::days(1);
    let token = create_token(
        store.as_ref(),
        "ic",
        &[Scope::Viewer, Scope::Approver],
        far,
        "test",
    )
    .await
    .unwrap()
    .secret;
    let plan = "name = \"manual\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
                [[groups]]\nname = \"web\"\nvms = [\"web-01\"]\n";
    let trigger = serde_json::json!({ "kind": "commandLine", "user": "starter" });
    let (job, run) = common::running_job(store.as_ref(), "r.wasm", plan, trigger).await;
    let prompt = format!("Switch DNS {SCRIPT}");
    let wake = Wake::Decision {
        journal_seq: 0,
        prompt: prompt.clone(),
    };
    run.end(RunEnd::Waiting {
        status: JobStatus::Suspended,
        reason: "waiting for a person",
        wake: &wake,
    })
    .await
    .unwrap();
    let served = Served::start(store.clone(), sim, ServeOptions::default()).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let session = signed_in(&http, &served.base, &token).await;

    let page = http
        .get(format!("{}/ui/jobs/{job}", served.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    inert(&page, "the job's page");
    assert!(page.contains(&escaped(&prompt)), "{page}");
    let start = page.find("action=\"").expect("a decision form") + "action=\"".len();
    let action = &page[start..start + page[start..].find('"').unwrap()];
    assert!(
        action.starts_with(&format!("/ui/jobs/{job}/decision?csrf=")),
        "{action}"
    );
    let post = |path: String| {
        http.post(format!("{}{path}", served.base))
            .header("cookie", &session)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("decision=approve&comment=DNS+switched")
            .send()
    };
    // What another site could send: the cookie, without the token or with
    // a guess.
    let without = post(format!("/ui/jobs/{job}/decision")).await.unwrap();
    assert_eq!(without.status(), 401);
    let guessed = post(format!("/ui/jobs/{job}/decision?csrf={}", "0".repeat(64)))
        .await
        .unwrap();
    assert_eq!(guessed.status(), 403);
    assert_eq!(
        store.decision(&job, 0).await.unwrap(),
        None,
        "nothing was decided"
    );

    let decided = post(action.to_string()).await.unwrap();
    assert_eq!(decided.status(), 303);
    assert_eq!(
        decided.headers()["location"],
        format!("/ui/jobs/{job}").as_str()
    );
    let decision = store.decision(&job, 0).await.unwrap().expect("a decision");
    assert!(decision.approved);
    assert_eq!(
        (decision.by.as_str(), decision.comment.as_str()),
        ("ic", "DNS switched")
    );
    served.stop().await;
}
