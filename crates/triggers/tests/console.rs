//! The console's pages over real HTTP: the jobs list and its filters, a
//! job's page, the manual steps waiting, the fabric, the audit trail, the
//! webhooks and their alerts, and that what strangers write (a runbook's log
//! line, a VM's name, an alert's fields, the runbook's file name, a search,
//! a decision's comment, a person's name) renders as inert text, on pages
//! that allow no inline script; signing in (a session whose id is the
//! cookie, ended with its token), a manual step decided and a webhook
//! disabled from their pages with the session's CSRF token only.

mod common;

use chrono::{TimeDelta, Utc};
use common::Served;
use drbook_core::fabric::{Direction, OperationRequest};
use drbook_core::job::{Approval, NewJob};
use drbook_core::job::{JobStatus, Wake};
use drbook_core::journal::{Call, Entry, Record, Stream};
use drbook_core::module::digest;
use drbook_core::store::OnBusy;
use drbook_core::store::RunEnd;
use drbook_core::token::Scope;
use drbook_core::webhook::NewDelivery;
use drbook_core::TimeScale;
use drbook_fabric_sim::{Estate, Simulator};
use drbook_store_sqlite::SqliteStore;
use drbook_triggers::{create_token, NewWebhook, RunTarget, ServeOptions, Webhooks};
use std::sync::Arc;
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

/// A plan of `vms`, as the job specs and webhook targets of these tests hold it.
fn plan_json(name: &str, vms: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "name": name, "primary_region": "eastus", "recovery_region": "westus",
        "groups": [{ "name": "web", "vms": vms }]
    })
}

/// The console's page at `path` as `token` (named `watcher`) gets it,
/// checked for what every page holds: its policy, nothing of the payloads
/// as markup, a link to every page and the name of who it is shown to.
async fn shown(http: &reqwest::Client, base: &str, token: &str, path: &str) -> String {
    let answer = http
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{path}");
    let policy = answer.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"),
        "{path}: {policy}"
    );
    let page = answer.text().await.unwrap();
    inert(&page, path);
    for link in [
        "/ui/jobs",
        "/ui/approvals",
        "/ui/fabric",
        "/ui/audit",
        "/ui/webhooks",
    ] {
        assert!(
            page.contains(&format!("href=\"{link}\"")),
            "{path} has no link to {link}"
        );
    }
    assert!(
        page.contains("Signed in as <strong id=\"who\">watcher</strong>"),
        "{path}:\n{page}"
    );
    page
}

/// The text between `start` and the next `"` after it, in `page`.
fn attribute_after<'a>(page: &'a str, start: &str) -> &'a str {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in:\n{page}"));
    let rest = &page[from..];
    &rest[..rest.find('"').unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_webhook_approval_and_fabric_pages_render_what_strangers_wrote_inert() {
    let dir = tempfile::tempdir().unwrap();
    // VMs named by whoever wrote the estate.
    let estate = Estate::replicating("eastus", "westus", [SCRIPT, IMG].map(String::from));
    let sim = Simulator::init(dir.path(), &estate, false, TimeScale::Instant).unwrap();
    let store: Arc<dyn drbook_core::store::JobStore> =
        Arc::new(SqliteStore::open(dir.path()).unwrap());
    let far = Utc::now() + TimeDelta::days(1);
    let viewer = create_token(store.as_ref(), "watcher", &[Scope::Viewer], far, "test")
        .await
        .unwrap()
        .secret;
    let admin = create_token(store.as_ref(), "root", &[Scope::Admin], far, "test")
        .await
        .unwrap()
        .secret;

    // A job started by a user of an odd name, waiting at a manual step.
    let plan = format!(
        "name = \"contoso\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
         [[groups]]\nname = \"web\"\nvms = [{:?}]\n",
        IMG
    );
    let trigger = serde_json::json!({ "kind": "commandLine", "user": SCRIPT });
    let (job, run) = common::running_job(store.as_ref(), "r.wasm", &plan, trigger).await;
    let prompt = format!("Switch DNS {IMG}");
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

    // A webhook made by someone of an odd name, and an alert it took, with
    // the job it started. Its own name cannot be odd.
    let module = b"module".to_vec();
    let module_digest = digest(&module);
    let run_target: RunTarget = serde_json::from_value(serde_json::json!({
        "runbook": format!("{SCRIPT}.wasm"), "digest": module_digest, "plan": plan_json("alerted", &["web-01"]),
        "failoverType": "Planned", "direction": "PrimaryToRecovery", "parameters": {}
    }))
    .unwrap();
    let webhooks = Webhooks::new(store.clone());
    let new = |name: &str| NewWebhook {
        name: name.to_string(),
        run: run_target.clone(),
        rules: None,
        expires: far,
        signed: false,
        modules: vec![(module_digest.clone(), module.clone())],
    };
    assert!(
        webhooks.create(new(SCRIPT), "test").await.is_err(),
        "a webhook's name is letters and digits"
    );
    webhooks.create(new("hook"), SCRIPT).await.unwrap();
    let spec: drbook_core::job::JobSpec = serde_json::from_value(serde_json::json!({
        "jobId": "job-alerted", "plan": plan_json("alerted", &["web-01"]), "failoverType": "Planned",
        "direction": "PrimaryToRecovery", "parameters": {},
        "trigger": { "kind": "webhook", "request": { "name": "hook", "body": "{}", "headers": [] } }
    }))
    .unwrap();
    let runbook = format!("{SCRIPT}.wasm");
    store
        .record_delivery(NewDelivery {
            webhook: "hook",
            message: None,
            alert: Some((SCRIPT, "Fired")),
            decision: IMG,
            on_busy: OnBusy::Attach,
            jobs: vec![NewJob {
                digest: &module_digest,
                runbook: &runbook,
                spec: &spec,
            }],
        })
        .await
        .unwrap();

    let served = Served::start(store.clone(), sim, ServeOptions::default()).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str, token: &str| {
        http.get(format!("{}{path}", served.base))
            .bearer_auth(token)
            .send()
    };
    let page = |path: &'static str| shown(&http, &served.base, &viewer, path);

    // The manual step waiting, linked to its job.
    let approvals = page("/ui/approvals").await;
    assert!(approvals.contains(&escaped(&prompt)), "{approvals}");
    assert!(
        approvals.contains(&format!("href=\"/ui/jobs/{job}\"")),
        "{approvals}"
    );

    // The fabric's VMs, in a table the script refreshes from the API.
    let fabric = page("/ui/fabric").await;
    for name in [SCRIPT, IMG] {
        let row = format!("<td class=\"vm\">{}</td>", escaped(name));
        assert!(
            fabric.contains(&row),
            "{name} is not on the fabric page:\n{fabric}"
        );
    }
    assert!(
        fabric.contains("data-source=\"/api/v1/fabric/items\""),
        "{fabric}"
    );

    // The webhooks: what each runs, its latest alert and what was decided.
    let listed = page("/ui/webhooks").await;
    assert!(listed.contains("href=\"/ui/webhooks/hook\""), "{listed}");
    for text in [SCRIPT, IMG, runbook.as_str()] {
        assert!(
            listed.contains(&escaped(text)),
            "{text:?} is not on the list:\n{listed}"
        );
    }
    let one = page("/ui/webhooks/hook").await;
    assert!(one.contains("href=\"/ui/jobs/job-alerted\""), "{one}");
    assert!(
        one.contains(&format!("by {}", escaped(SCRIPT))),
        "its maker: {one}"
    );
    assert!(
        one.contains(&format!("<td class=\"decision\">{}</td>", escaped(IMG))),
        "{one}"
    );
    assert!(!one.contains("/enabled"), "a viewer gets no form: {one}");
    let missing = get("/ui/webhooks/none", viewer.as_str()).await.unwrap();
    assert_eq!(missing.status(), 404);

    // A decision by a person of an odd name, with an odd comment.
    let decision = Approval {
        approved: true,
        by: IMG.to_string(),
        comment: SCRIPT.to_string(),
        at: Utc::now(),
    };
    store.decide(&job, 0, &decision).await.unwrap();
    let audit = page("/ui/audit").await;
    for text in [
        IMG,
        SCRIPT,
        format!("cli:{SCRIPT}").as_str(),
        "webhook:hook",
        "root",
    ] {
        assert!(
            audit.contains(&escaped(text)),
            "{text:?} is not in the audit:\n{audit}"
        );
    }
    assert!(
        audit.contains(&format!("href=\"/ui/jobs/{job}\"")),
        "{audit}"
    );
    assert!(audit.contains("href=\"/ui/jobs/job-alerted\""), "{audit}");

    // The API's trail: every kind recorded, its filters and its pages.
    let trail = |query: String| {
        let answer = get(&format!("/api/v1/audit{query}"), viewer.as_str());
        async move {
            let answer = answer.await.unwrap();
            let status = answer.status().as_u16();
            // A filter that cannot be read is answered as text.
            let text = answer.text().await.unwrap();
            let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
            (status, body)
        }
    };
    let (status, all) = trail(String::new()).await;
    assert_eq!(status, 200, "{all}");
    let events = all["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in [
        "started",
        "approved",
        "alert",
        "webhook-created",
        "token-created",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in {all:#}");
    }
    let times: Vec<&str> = events.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut newest_first = times.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, newest_first, "newest first");
    let (_, approved) = trail("?kind=approved".to_string()).await;
    let approved = approved["events"].as_array().unwrap();
    assert_eq!(approved.len(), 1, "{approved:#?}");
    assert_eq!(approved[0]["by"], IMG);
    assert_eq!(approved[0]["jobs"], serde_json::json!([job]));
    assert!(
        approved[0]["detail"].as_str().unwrap().contains(SCRIPT),
        "{approved:#?}"
    );
    let (_, by_root) = trail("?by=test&kind=token-created".to_string()).await;
    assert_eq!(
        by_root["events"].as_array().unwrap().len(),
        2,
        "{by_root:#}"
    );
    let (_, first) = trail("?limit=1".to_string()).await;
    let next = first["next"].as_str().expect("a next page").to_string();
    let (_, second) = trail(format!("?limit=1&cursor={next}")).await;
    assert_eq!(
        second["events"][0], events[1],
        "the second page starts after the first"
    );
    let (status, _) = trail("?cursor=nothing".to_string()).await;
    assert_eq!(status, 400);
    let (status, why) = trail("?kind=everything".to_string()).await;
    assert_eq!(status, 400);
    assert!(why.to_string().contains("everything"), "{why}");

    // An admin disables the webhook from its page, with the session's CSRF
    // token only; what another site could send is refused.
    let session = signed_in(&http, &served.base, &admin).await;
    let shown = http
        .get(format!("{}/ui/webhooks/hook", served.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action = attribute_after(&shown, "/ui/webhooks/hook/enabled?csrf=").to_string();
    let post = |path: String, session: String| {
        http.post(format!("{}{path}", served.base))
            .header("cookie", session)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("enabled=false")
            .send()
    };
    let without = post("/ui/webhooks/hook/enabled".to_string(), session.clone())
        .await
        .unwrap();
    assert_eq!(without.status(), 401);
    let guessed = post(
        format!("/ui/webhooks/hook/enabled?csrf={}", "0".repeat(64)),
        session.clone(),
    )
    .await
    .unwrap();
    assert_eq!(guessed.status(), 403);
    // A viewer signed in, with its own session's token, may not.
    let viewing = signed_in(&http, &served.base, &viewer).await;
    let viewer_page = http
        .get(format!("{}/ui/webhooks/hook", served.base))
        .header("cookie", &viewing)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!viewer_page.contains("/enabled"), "{viewer_page}");
    // Its session's CSRF token, as `access::csrf_token` derives it.
    let viewer_session = viewing.trim_start_matches("drbook_session=");
    let viewer_csrf = drbook_triggers::hash_secret(&format!("drbook-csrf:{viewer_session}"));
    let forbidden = post(
        format!("/ui/webhooks/hook/enabled?csrf={viewer_csrf}"),
        viewing.clone(),
    )
    .await
    .unwrap();
    assert_eq!(forbidden.status(), 403);
    assert!(forbidden.text().await.unwrap().contains("admin"));
    assert!(
        store.webhook("hook").await.unwrap().unwrap().enabled,
        "nothing was changed"
    );

    let disabled = post(action, session.clone()).await.unwrap();
    assert_eq!(disabled.status(), 303);
    assert_eq!(disabled.headers()["location"], "/ui/webhooks/hook");
    assert!(!store.webhook("hook").await.unwrap().unwrap().enabled);
    let again = http
        .get(format!("{}/ui/webhooks/hook", served.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        again.contains(">disabled<") && again.contains("value=\"true\""),
        "{again}"
    );
    served.stop().await;
}
