//! The operator console's pages, under `/ui`: the jobs (filters, search,
//! pages), a job (status, reason, plan, trigger, alert, what it did to each
//! VM, its timeline, its lines live, its manual step), the manual steps
//! waiting, the fabric's protected items (refreshed live), the audit trail
//! (`audit`) and the webhooks with the alerts they took (`webhooks`). Each
//! page's navigation names who it is shown to.
//!
//! Pages are rendered on the server with `maud`, which escapes every value
//! it interpolates: a runbook's line, a VM's name or an alert's field is
//! text, never markup. The one script is an asset of the binary (no CDN),
//! and every page is sent with a `Content-Security-Policy` that allows only
//! the server's own scripts and styles, so even an escaping mistake could
//! not run an inline script. A job's page renders the lines written so far
//! and its script follows the rest over the live stream (`events`), after
//! the last line rendered. The routes are in the route table like the
//! API's, behind the same guard (`viewer`), which takes the session cookie
//! a browser gets by signing in (`sign_in`: a token, or OpenID Connect).
//! A form that changes something (a decision, a webhook enabled, signing
//! out) carries the session's CSRF token in its action, which the guard
//! checks.

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::{html, Markup, PreEscaped, DOCTYPE};

mod audit;
mod sign_in;
mod webhooks;

pub(crate) use audit::audit;
pub(crate) use sign_in::{callback, sign_in, sign_in_form, sign_in_oidc, sign_out};
pub(crate) use webhooks::{webhook, webhook_enabled, webhooks};

use super::access::{cookie, csrf_token, Principal, SESSION_COOKIE};
use super::api::{control_refusal, page, pending, store_refusal, JobQuery};
use super::control;
use super::refusal::Refusal;
use super::server::Server;
use drbook_core::job::{JobRecord, JobStatus, Wake};
use drbook_report::{timeline, Inputs, Report};

/// What every page may load: the server's own script and style, nothing
/// inline, nothing from elsewhere; no framing.
const POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                      img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's script: follows a job's lines (`EventSource`), adding each
/// as text.
const SCRIPT: &str = include_str!("console/console.js");

/// The console's style.
const STYLE: &str = include_str!("console/console.css");

/// A page: `body` in the console's frame, its navigation naming `who` it
/// is shown to (none: the sign-in form), sent with its policy.
fn page_of(title: &str, who: Option<&Principal>, body: Markup) -> Response {
    page_with(title, who, html! {}, body)
}

/// A page with `head` added to its head (a refresh).
fn page_with(title: &str, who: Option<&Principal>, head: Markup, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                (head)
                title { (title) " · drbook" }
                link rel="stylesheet" href="/ui/assets/console.css";
                script src="/ui/assets/console.js" defer {}
            }
            body {
                nav {
                    a href="/ui/jobs" { "Jobs" } " "
                    a href="/ui/approvals" { "Approvals" } " "
                    a href="/ui/fabric" { "Fabric" } " "
                    a href="/ui/audit" { "Audit" } " "
                    a href="/ui/webhooks" { "Webhooks" } " "
                    span.who {
                        @if let Some(who) = who {
                            "Signed in as " strong #who { (who.name) } " "
                            a href="/ui/sign-in" { "Switch" }
                        } @else {
                            a href="/ui/sign-in" { "Sign in" }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// A list's filters: a form sends its empty fields too, which mean "any".
fn filters<T: serde::de::DeserializeOwned>(raw: Option<&str>) -> Result<T, Refusal> {
    let given: Vec<&str> = raw
        .unwrap_or_default()
        .split('&')
        .filter(|pair| pair.split_once('=').is_some_and(|(_, v)| !v.is_empty()))
        .collect();
    let uri: axum::http::Uri = format!("/?{}", given.join("&"))
        .parse()
        .map_err(|_| Refusal::Malformed("the query string cannot be read".to_string()))?;
    Query::<T>::try_from_uri(&uri)
        .map(|Query(query)| query)
        .map_err(|e| Refusal::Malformed(format!("a filter cannot be read: {e}")))
}

pub(crate) async fn jobs(
    State(server): State<Server>,
    Extension(principal): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query: JobQuery = match filters(raw.as_deref()) {
        Ok(query) => query,
        Err(refusal) => return refusal.into_response(),
    };
    let jobs = match page(&server, &query).await {
        Ok(jobs) => jobs,
        Err(refusal) => return refusal.into_response(),
    };
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let time =
        |v: Option<chrono::DateTime<chrono::Utc>>| v.map(|t| t.to_rfc3339()).unwrap_or_default();
    let body = html! {
        h1 { "Jobs" }
        form method="get" action="/ui/jobs" class="filters" {
            label { "Search " input type="search" name="q" value=(text(&query.q)); }
            label { "Status "
                select name="status" {
                    option value="" { "any" }
                    @for status in JobStatus::ALL {
                        option value=(format!("{status:?}")) selected[query.status == Some(status)] {
                            (format!("{status:?}"))
                        }
                    }
                }
            }
            label { "Runbook " input name="runbook" value=(text(&query.runbook)); }
            label { "Plan " input name="plan" value=(text(&query.plan)); }
            label { "Trigger " input name="trigger" value=(text(&query.trigger)); }
            label { "Since " input name="since" placeholder="2026-12-01T00:00:00Z" value=(time(query.since)); }
            label { "Until " input name="until" placeholder="2026-12-02T00:00:00Z" value=(time(query.until)); }
            button type="submit" { "Filter" }
        }
        table.jobs {
            thead { tr { th { "Job" } th { "Status" } th { "Runbook" } th { "Plan" } th { "Trigger" } th { "Created" } } }
            tbody {
                @for job in &jobs.jobs {
                    tr {
                        td { a href=(format!("/ui/jobs/{}", job.id)) { (job.id) } }
                        td class=(format!("status {:?}", job.state)) { (format!("{:?}", job.state)) }
                        td { (job.runbook) }
                        td { (job.spec.plan.name) }
                        td { (job.trigger) }
                        td { (job.created.to_rfc3339()) }
                    }
                }
            }
        }
        @if jobs.jobs.is_empty() { p { "No job matches." } }
        @if let Some(next) = &jobs.next {
            a.next href=(next_page("/ui/jobs", raw.as_deref(), next)) { "Older jobs" }
        }
    };
    page_of("Jobs", Some(&principal), body)
}

/// The link to the page of list `path` after the one shown: the same
/// filters, the cursor moved on.
fn next_page(path: &str, raw: Option<&str>, next: &str) -> String {
    let kept: Vec<&str> = raw
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("cursor="))
        .collect();
    let mut query = kept.join("&");
    if !query.is_empty() {
        query.push('&');
    }
    // Cursors (a job page's `created.id`, an event's id) are letters,
    // digits and `-_.:`: nothing to encode.
    format!("{path}?{query}cursor={next}")
}

pub(crate) async fn job(
    State(server): State<Server>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let store = server.store();
    let job = match store.get(&id).await {
        Ok(job) => job,
        Err(e) => return store_refusal(e).into_response(),
    };
    let lines = match store.streams(&id, 0).await {
        Ok(lines) => lines,
        Err(e) => return store_refusal(e).into_response(),
    };
    let journal = match store.journal(&id).await {
        Ok(journal) => journal,
        Err(e) => return store_refusal(e).into_response(),
    };
    // What the job did to each VM, and its timeline, as its report says.
    let report = Report::build(Inputs {
        job: &job,
        journal: &journal,
        streams: &[],
        decisions: &[],
        audit: None,
        generated: chrono::Utc::now(),
    });
    let groups: Vec<String> = job
        .spec
        .plan
        .groups
        .iter()
        .map(|g| g.name.clone())
        .collect();
    let rto = job.spec.plan.rto.map(|rto| rto.as_secs() as f64);
    let last = lines.last().map_or(0, |(seq, _)| *seq);
    let body = html! {
        h1 { "Job " (job.id) }
        (summary(&job))
        // The script renews what is inside `#decision` (when a step starts or
        // stops waiting) and `#progress` from this page while the job runs.
        div #decision {
            @if let Some(Wake::Decision { prompt, .. }) = &job.wake {
                (decision(&job.id, prompt, cookie(&headers, SESSION_COOKIE)))
            }
        }
        h2 { "Plan " (job.spec.plan.name) }
        ol.groups {
            @for group in &job.spec.plan.groups {
                li { (group.name) ": "
                    @for (i, vm) in group.vms.iter().enumerate() {
                        @if i > 0 { ", " }
                        span.vm { (vm) }
                    }
                }
            }
        }
        @if let Some(alert) = job.spec.trigger.alert() {
            h2 { "Alert" }
            dl.alert {
                dt { "Rule" } dd { (alert.alert_rule) }
                dt { "Description" } dd { (alert.description.clone().unwrap_or_default()) }
                dt { "Severity" } dd { (format!("{:?}", alert.severity)) }
                dt { "Condition" } dd { (format!("{:?}", alert.monitor_condition)) }
                dt { "Service" } dd { (alert.monitoring_service) }
                dt { "Targets" } dd { @for target in &alert.target_ids { div { (target) } } }
                dt { "Fired" } dd { (alert.fired.to_rfc3339()) }
            }
        }
        section #progress {
            h2 { "VMs" }
            table.vms {
                thead { tr { th { "VM" } th { "Group" } th { "Operation" } th { "Result" } th { "Recovery point" }
                    th { "RPO (s)" } th { "RTO (s)" } th { "Duration (s)" } } }
                tbody {
                    @for vm in &report.vms {
                        tr {
                            td.vm { (vm.row.vm) }
                            td { (vm.row.group) }
                            td { (vm.row.operation.clone().unwrap_or_default()) }
                            td class=(format!("status {}", vm.row.result)) { (vm.row.result) }
                            td { (vm.recovery_point_time.map(|t| t.to_rfc3339()).unwrap_or_default()) }
                            td { (vm.row.rpo_seconds.map(|s| s.to_string()).unwrap_or_default()) }
                            td { (vm.rto_seconds.map(|s| format!("{s:.0}")).unwrap_or_default()) }
                            td { (vm.row.duration_seconds.map(|s| format!("{s:.0}")).unwrap_or_default()) }
                        }
                    }
                }
            }
            @if !report.timeline.is_empty() {
                h2 { "Timeline" }
                // drbook-report's chart escapes every name it draws.
                figure.timeline { (PreEscaped(timeline::svg(&report.timeline, &groups, rto))) }
            }
        }
        h2 { "Lines" }
        ol #lines data-events=(format!("/api/v1/jobs/{}/events", job.id)) data-after=(last)
            data-ended=(job.is_terminal()) {
            @for (seq, record) in &lines {
                li class=(format!("{:?}", record.stream)) data-seq=(seq) { (record.text) }
            }
        }
        p #end { @if let Some(reason) = &job.reason { (reason) } }
    };
    page_of(&format!("Job {}", job.id), Some(&principal), body)
}

/// A manual step's prompt and, for a signed-in person, the form that
/// decides it: its action carries the session's CSRF token (see
/// `access::authenticate`).
fn decision(id: &str, prompt: &str, session: Option<&str>) -> Markup {
    html! {
        section.decision {
            h2 { "Waiting for a person" }
            p.prompt { (prompt) }
            @if let Some(session) = session {
                form method="post" action=(format!("/ui/jobs/{id}/decision?csrf={}", csrf_token(session))) {
                    label { "Comment " textarea name="comment" maxlength="1000" {} }
                    button type="submit" name="decision" value="approve" { "Approve" }
                    button type="submit" name="decision" value="reject" { "Reject" }
                }
            } @else {
                p { a href="/ui/sign-in" { "Sign in" } " with an approver's token to decide." }
            }
        }
    }
}

/// The decision form as posted.
#[derive(serde::Deserialize)]
struct Decision {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    comment: String,
}

/// Records a person's decision from the form, as the API does, and shows
/// the job again.
pub(crate) async fn decide(
    State(server): State<Server>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = serde_urlencoded::from_bytes::<Decision>(&body).unwrap_or(Decision {
        decision: String::new(),
        comment: String::new(),
    });
    let approved = match form.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            let why = "the form needs `decision`: `approve` or `reject`".to_string();
            return Refusal::Malformed(why).into_response();
        }
    };
    let store = server.store();
    match control::decide(
        store.as_ref(),
        &id,
        approved,
        &form.comment,
        &principal.name,
        server.deciders(),
    )
    .await
    {
        Ok(_) => {
            server.woke();
            let back = HeaderValue::from_str(&format!("/ui/jobs/{id}"))
                .unwrap_or(HeaderValue::from_static("/ui/jobs"));
            (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response()
        }
        Err(e) => control_refusal(e).into_response(),
    }
}

/// A job's status, reason, runbook, module, trigger and times.
fn summary(job: &JobRecord) -> Markup {
    let time =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    html! {
        dl.summary #summary {
            dt { "Status" } dd #status class=(format!("status {:?}", job.state)) { (format!("{:?}", job.state)) }
            dt { "Reason" } dd { (job.reason.clone().unwrap_or_default()) }
            dt { "Runbook" } dd { (job.runbook) }
            dt { "Module" } dd { code { (job.digest) } }
            dt { "Trigger" } dd { (job.trigger) }
            dt { "Created" } dd { (job.created.to_rfc3339()) }
            dt { "Started" } dd { (time(job.started)) }
            dt { "Ended" } dd { (time(job.ended)) }
        }
    }
}

/// Every protected item: where it runs, its state and health, its RPO and
/// what it allows now (as of the page's load).
pub(crate) async fn fabric(
    State(server): State<Server>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let items = match server.fabric().list_items().await {
        Ok(items) => items,
        Err(e) => return Refusal::Store(format!("the fabric: {e}")).into_response(),
    };
    let body = html! {
        h1 { "Protected items" }
        // The script refreshes the rows from the API every few seconds.
        table.items #items data-source="/api/v1/fabric/items" {
            thead { tr { th { "VM" } th { "Active in" } th { "Protection" } th { "Replication" }
                th { "Failover health" } th { "RPO (s)" } th { "Allowed operations" } } }
            tbody {
                @for item in &items {
                    tr {
                        td.vm { (item.name) }
                        td { (item.active_region()) " (" (format!("{:?}", item.active_location)) ")" }
                        td { (format!("{:?}", item.protection_state)) }
                        td { (format!("{:?}", item.replication_health)) }
                        td { (format!("{:?}", item.failover_health)) }
                        td { (item.rpo_seconds.map(|s| s.to_string()).unwrap_or_default()) }
                        td { (item.allowed_operations.iter().map(|op| format!("{op:?}")).collect::<Vec<_>>().join(", ")) }
                    }
                }
            }
        }
        p #refreshed { "As of " (chrono::Utc::now().to_rfc3339()) }
    };
    page_of("Fabric", Some(&principal), body)
}

/// Every manual step waiting for a person, linked to its job's page (where
/// it is decided).
pub(crate) async fn approvals(
    State(server): State<Server>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let pending = match pending(&server).await {
        Ok(pending) => pending,
        Err(refusal) => return refusal.into_response(),
    };
    let body = html! {
        h1 { "Waiting for a person" }
        table.jobs.approvals {
            thead { tr { th { "Job" } th { "Prompt" } th { "Runbook" } th { "Plan" } th { "Trigger" } } }
            tbody {
                @for step in &pending {
                    tr {
                        td { a href=(format!("/ui/jobs/{}", step.job)) { (step.job) } }
                        td.prompt { (step.prompt) }
                        td { (step.runbook) }
                        td { (step.plan) }
                        td { (step.trigger) }
                    }
                }
            }
        }
        @if pending.is_empty() { p { "No manual step is waiting." } }
    };
    page_of("Approvals", Some(&principal), body)
}

/// An asset of the binary, long cached (it changes with the binary only).
fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}
