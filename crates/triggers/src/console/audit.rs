//! The audit trail's page, `GET /ui/audit`: `GET /api/v1/audit`'s pages
//! and filters (see `crate::audit`), as a table.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::html;

use super::{filters, next_page, page_of};
use crate::access::Principal;
use crate::api::{audit_page, AuditQuery};
use crate::audit::AuditKind;
use crate::server::Server;

pub(crate) async fn audit(
    State(server): State<Server>,
    Extension(principal): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query: AuditQuery = match filters(raw.as_deref()) {
        Ok(query) => query,
        Err(refusal) => return refusal.into_response(),
    };
    let page = match audit_page(&server, &query).await {
        Ok(page) => page,
        Err(refusal) => return refusal.into_response(),
    };
    let time =
        |v: Option<chrono::DateTime<chrono::Utc>>| v.map(|t| t.to_rfc3339()).unwrap_or_default();
    let body = html! {
        h1 { "Audit trail" }
        form method="get" action="/ui/audit" class="filters" {
            label { "Who " input name="by" placeholder="a token's name, or cli:USER" value=(query.by.clone().unwrap_or_default()); }
            label { "What "
                select name="kind" {
                    option value="" { "any" }
                    @for kind in AuditKind::ALL {
                        option value=(kind.name()) selected[query.kind == Some(kind)] { (kind.name()) }
                    }
                }
            }
            label { "Since " input name="since" placeholder="2026-12-01T00:00:00Z" value=(time(query.since)); }
            label { "Until " input name="until" placeholder="2026-12-02T00:00:00Z" value=(time(query.until)); }
            button type="submit" { "Filter" }
        }
        table.jobs.audit {
            thead { tr { th { "When" } th { "What" } th { "Who" } th { "Jobs" } th { "Detail" } } }
            tbody {
                @for event in &page.events {
                    tr {
                        td { (event.at.to_rfc3339()) }
                        td { (event.kind.name()) }
                        td.by { @if let Some(by) = &event.by { (by) } @else { em { "not recorded" } } }
                        td { @for job in &event.jobs { a href=(format!("/ui/jobs/{job}")) { (job) } " " } }
                        td.detail { (event.detail) }
                    }
                }
            }
        }
        @if page.events.is_empty() { p { "Nothing matches." } }
        @if let Some(next) = &page.next {
            a.next href=(next_page("/ui/audit", raw.as_deref(), next)) { "Older events" }
        }
    };
    page_of("Audit", Some(&principal), body)
}
