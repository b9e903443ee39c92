//! The webhooks' pages: `GET /ui/webhooks` (each webhook, what it runs and
//! its latest alerts), `GET /ui/webhooks/{name}` (the alerts it took, what
//! was decided and the jobs each started) with, for an admin signed in, the
//! form that enables or disables it (`POST /ui/webhooks/{name}/enabled`,
//! the API's `webhook_enabled` from a form, CSRF-checked by the guard).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::Utc;
use maud::{html, Markup};

use super::page_of;
use crate::access::{cookie, csrf_token, Principal, SESSION_COOKIE};
use crate::api::webhook_refusal;
use crate::refusal::Refusal;
use crate::registry::Webhook;
use crate::server::Server;
use drbook_core::token::Scope;
use drbook_core::webhook::AlertRecord;

/// Alerts the list shows of each webhook.
const LATEST: usize = 3;

/// Alerts a webhook's page shows, as `GET /api/v1/webhooks/{name}/alerts`.
const ALERTS: usize = 100;

pub(crate) async fn webhooks(
    State(server): State<Server>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let registry = server.webhooks();
    let listed = match registry.list().await {
        Ok(listed) => listed,
        Err(e) => return webhook_refusal(e).into_response(),
    };
    let mut rows = Vec::with_capacity(listed.len());
    for webhook in listed {
        match registry.alerts(&webhook.name, LATEST).await {
            Ok(alerts) => rows.push((webhook, alerts)),
            Err(e) => return webhook_refusal(e).into_response(),
        }
    }
    let now = Utc::now();
    let body = html! {
        h1 { "Webhooks" }
        table.jobs.webhooks {
            thead { tr { th { "Webhook" } th { "Status" } th { "Runbook" } th { "Plan" } th { "Latest alerts" } } }
            tbody {
                @for (webhook, alerts) in &rows {
                    tr {
                        td { a href=(format!("/ui/webhooks/{}", webhook.name)) { (webhook.name) } }
                        td class=(format!("status {}", webhook.status(now))) { (webhook.status(now)) }
                        td { (webhook.run.runbook) }
                        td { (webhook.run.plan.name) (rules(webhook)) }
                        td.alerts {
                            @for alert in alerts {
                                div { (alert.received.to_rfc3339()) " " (alert.condition) " " (alert.alert_id) ": " (alert.decision) }
                            }
                        }
                    }
                }
            }
        }
        @if rows.is_empty() { p { "No webhook; " code { "drbook webhook create" } " makes one." } }
    };
    page_of("Webhooks", Some(&principal), body)
}

/// What a webhook's rules add to its plan: their count.
fn rules(webhook: &Webhook) -> Markup {
    html! {
        @if let Some(rules) = &webhook.rules {
            " (" (rules.len()) " alert rules)"
        }
    }
}

pub(crate) async fn webhook(
    State(server): State<Server>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let registry = server.webhooks();
    let (webhook, alerts) = match registry.get(&name).await {
        Ok(webhook) => match registry.alerts(&name, ALERTS).await {
            Ok(alerts) => (webhook, alerts),
            Err(e) => return webhook_refusal(e).into_response(),
        },
        Err(e) => return webhook_refusal(e).into_response(),
    };
    let now = Utc::now();
    let time = |t: Option<chrono::DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    let session = cookie(&headers, SESSION_COOKIE).filter(|_| principal.may(Scope::Admin));
    let body = html! {
        h1 { "Webhook " (webhook.name) }
        dl.summary {
            dt { "Status" } dd #status class=(format!("status {}", webhook.status(now))) { (webhook.status(now)) }
            dt { "Runbook" } dd { (webhook.run.runbook) }
            dt { "Plan" } dd { (webhook.run.plan.name) (rules(&webhook)) }
            dt { "Signed" } dd { (if webhook.signed { "yes: deliveries need a signature" } else { "no" }) }
            dt { "Created" } dd { (webhook.created.to_rfc3339()) " by " (webhook.created_by) }
            dt { "Expires" } dd { (webhook.expires.to_rfc3339()) }
            dt { "Last used" } dd { (time(webhook.last_used)) }
        }
        @if let Some(session) = session {
            (enabled_form(&webhook, session))
        }
        h2 { "Alerts" }
        (alert_table(&alerts))
    };
    page_of(&format!("Webhook {}", webhook.name), Some(&principal), body)
}

/// The admin's form that turns webhook `webhook` off or on: its action
/// carries the session's CSRF token, as the decision form's does.
fn enabled_form(webhook: &Webhook, session: &str) -> Markup {
    let action = format!(
        "/ui/webhooks/{}/enabled?csrf={}",
        webhook.name,
        csrf_token(session)
    );
    html! {
        form.enabled method="post" action=(action) {
            @if webhook.enabled {
                input type="hidden" name="enabled" value="false";
                button type="submit" { "Disable" }
            } @else {
                input type="hidden" name="enabled" value="true";
                button type="submit" { "Enable" }
            }
        }
    }
}

/// A webhook's alerts, newest first, each with its jobs linked.
fn alert_table(alerts: &[AlertRecord]) -> Markup {
    html! {
        table.jobs.alerts {
            thead { tr { th { "Received" } th { "Alert" } th { "Condition" } th { "Decision" } th { "Jobs" } } }
            tbody {
                @for alert in alerts {
                    tr {
                        td { (alert.received.to_rfc3339()) }
                        td.alert { (alert.alert_id) }
                        td { (alert.condition) }
                        td.decision { (alert.decision) }
                        td { @for job in &alert.job_ids { a href=(format!("/ui/jobs/{job}")) { (job) } " " } }
                    }
                }
            }
        }
        @if alerts.is_empty() { p { "No alert yet." } }
    }
}

/// The enable/disable form as posted.
#[derive(serde::Deserialize)]
struct Enabled {
    enabled: bool,
}

/// Enables or disables a webhook from its page, as the API does, and shows
/// it again.
pub(crate) async fn webhook_enabled(
    State(server): State<Server>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(Enabled { enabled }) = serde_urlencoded::from_bytes::<Enabled>(&body) else {
        let why = "the form needs `enabled`: `true` or `false`".to_string();
        return Refusal::Malformed(why).into_response();
    };
    match server.webhooks().set_enabled(&name, enabled).await {
        Ok(webhook) => {
            // A webhook's name is letters, digits and `-_.`: a valid header.
            let back = HeaderValue::from_str(&format!("/ui/webhooks/{}", webhook.name))
                .unwrap_or(HeaderValue::from_static("/ui/webhooks"));
            (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response()
        }
        Err(e) => webhook_refusal(e).into_response(),
    }
}
