//! The route table, and the JSON API under `/api/v1/`.
//!
//! [`routes`] is the one place that says which scope each route needs: the
//! router is built from it (a route cannot be served without an entry), and
//! each route's guard checks the request's token against its entry before
//! the handler runs, so before its body is read.

use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

use super::access::{self, Principal, TokenError};
use super::audit::{trail, AuditEvent, AuditKind};
use super::console;
use super::control::{self, ControlError};
use super::events;
use super::openapi;
use super::refusal::Refusal;
use super::server::{self, Server};
use drbook_core::job::{JobRecord, JobStatus, Wake};
use drbook_core::journal::Record;
use drbook_core::store::{JobFilter, PageCursor, StoreError};
use drbook_core::token::{Scope, StoredToken};

/// Bodies of API requests are small JSON documents.
const MAX_API_BODY: usize = 64 * 1024;

/// Jobs a page holds by default, and at most.
const PAGE: usize = 50;
const MAX_PAGE: usize = 500;

/// What a route asks of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nothing here: `/healthz`, and the webhook endpoint, which checks its
    /// own token.
    Public,
    /// An API token holding a scope that allows this one.
    Scope(Scope),
}

/// One route: its method, its path (axum's syntax) and what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub need: Need,
}

/// One entry of [`table`]: the method names both the route and its filter.
macro_rules! route {
    ($method:ident $path:literal, $need:expr, $handler:expr) => {
        (
            Route {
                method: Method::$method,
                path: $path,
                need: $need,
            },
            on(MethodFilter::$method, $handler),
        )
    };
}

/// Every route the server serves, with its handler.
fn table() -> Vec<(Route, MethodRouter<Server>)> {
    use Need::Public;
    use Scope::*;
    let scope = Need::Scope;
    vec![
        route!(POST "/webhooks/{name}", Public, server::webhook),
        route!(GET "/healthz", Public, server::healthz),
        route!(GET "/metrics", scope(Viewer), server::metrics),
        route!(GET "/api/openapi.json", scope(Viewer), openapi::openapi),
        route!(GET "/api/v1/jobs", scope(Viewer), jobs),
        route!(GET "/api/v1/jobs/{id}", scope(Viewer), job),
        route!(GET "/api/v1/jobs/{id}/streams", scope(Viewer), streams),
        route!(GET "/api/v1/jobs/{id}/events", scope(Viewer), events::events),
        route!(POST "/api/v1/jobs/{id}/decision", scope(Approver), decide),
        route!(POST "/api/v1/jobs/{id}/stop", scope(Operator), stop),
        route!(POST "/api/v1/jobs/{id}/rerun", scope(Operator), rerun),
        route!(GET "/api/v1/approvals", scope(Viewer), approvals),
        route!(GET "/api/v1/audit", scope(Viewer), audit),
        route!(GET "/api/v1/fabric/items", scope(Viewer), fabric_items),
        route!(GET "/api/v1/webhooks", scope(Viewer), webhooks),
        route!(GET "/api/v1/webhooks/{name}/alerts", scope(Viewer), alerts),
        route!(POST "/api/v1/webhooks/{name}/enabled", scope(Admin), webhook_enabled),
        route!(GET "/ui/jobs", scope(Viewer), console::jobs),
        route!(GET "/ui/jobs/{id}", scope(Viewer), console::job),
        route!(POST "/ui/jobs/{id}/decision", scope(Approver), console::decide),
        route!(GET "/ui/approvals", scope(Viewer), console::approvals),
        route!(GET "/ui/fabric", scope(Viewer), console::fabric),
        route!(GET "/ui/audit", scope(Viewer), console::audit),
        route!(GET "/ui/webhooks", scope(Viewer), console::webhooks),
        route!(GET "/ui/webhooks/{name}", scope(Viewer), console::webhook),
        route!(POST "/ui/webhooks/{name}/enabled", scope(Admin), console::webhook_enabled),
        route!(GET "/ui/sign-in", Public, console::sign_in_form),
        route!(POST "/ui/sign-in", Public, console::sign_in),
        route!(GET "/ui/sign-in/oidc", Public, console::sign_in_oidc),
        route!(GET "/ui/callback", Public, console::callback),
        route!(POST "/ui/sign-out", Public, console::sign_out),
        route!(GET "/ui/assets/console.js", Public, console::script),
        route!(GET "/ui/assets/console.css", Public, console::style),
        route!(GET "/api/v1/tokens", scope(Admin), tokens),
        route!(POST "/api/v1/tokens", scope(Admin), create_token),
        route!(DELETE "/api/v1/tokens/{name}", scope(Admin), revoke_token),
    ]
}

/// The route table: what each route needs (see the module docs).
pub fn routes() -> Vec<Route> {
    table().into_iter().map(|(route, _)| route).collect()
}

/// The router of `server`, each route behind its guard.
pub(crate) fn router(server: &Server) -> Router<Server> {
    let mut router = Router::new();
    for (route, handler) in table() {
        let need = route.need;
        let guarded = server.clone();
        let handler = handler.route_layer(axum::middleware::from_fn(
            move |request: Request, next: Next| guard(guarded.clone(), need, request, next),
        ));
        router = router.route(route.path, handler);
    }
    router.layer(DefaultBodyLimit::max(MAX_API_BODY))
}

/// Lets a request through if its token allows `need`, with its
/// [`Principal`] in its extensions; refused ones are counted against their
/// address and logged (never the token).
async fn guard(server: Server, need: Need, mut request: Request, next: Next) -> Response {
    let Need::Scope(scope) = need else {
        return next.run(request).await;
    };
    let source = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    let what = format!("{} {}", request.method(), request.uri().path());
    if let Some(throttled) = server.throttled(source, &what) {
        return throttled;
    }
    let store = server.store();
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    let csrf = request
        .uri()
        .query()
        .and_then(|query| query.split('&').find_map(|pair| pair.strip_prefix("csrf=")));
    let now = Utc::now();
    let principal =
        match access::authenticate(store.as_ref(), request.headers(), reads, csrf, now).await {
            Ok(principal) => principal,
            Err(refusal) => return server.refuse(source, &what, refusal),
        };
    if !principal.may(scope) {
        let held = access::scope_list(&principal.scopes);
        return server.refuse(source, &what, Refusal::Forbidden { need: scope, held });
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// A store error as the API answers it.
pub(crate) fn store_refusal(e: StoreError) -> Refusal {
    match e {
        StoreError::NoSuchJob { .. } => Refusal::NotFound(e.to_string()),
        other => Refusal::Store(other.to_string()),
    }
}

type Answer<T> = Result<Json<T>, Refusal>;

/// `GET /api/v1/jobs`'s filters and page.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// `New`, `Running`, `Suspended`, `Completed`, `Failed`, `Stopped`, ...
    #[param(value_type = Option<String>)]
    pub status: Option<JobStatus>,
    pub runbook: Option<String>,
    /// The plan's name.
    pub plan: Option<String>,
    /// The trigger's label (`webhook:NAME`, `cli:USER`, ...).
    pub trigger: Option<String>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
    /// The `next` of the page before, as it was given.
    pub cursor: Option<String>,
    /// Jobs on the page: 50 unless given, 500 at most.
    pub limit: Option<usize>,
    /// Text the job's id, runbook, plan or trigger holds.
    pub q: Option<String>,
}

impl JobQuery {
    /// The store's filter of the query.
    fn filter(&self) -> JobFilter {
        JobFilter {
            status: self.status,
            runbook: self.runbook.clone(),
            plan: self.plan.clone(),
            trigger: self.trigger.clone(),
            since: self.since,
            until: self.until,
            q: self.q.clone(),
        }
    }
}

/// A page of jobs, newest first; `next` is the cursor of the next page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct JobPage {
    /// Each as `GET /api/v1/jobs/{id}` answers it.
    #[schema(value_type = Vec<Object>)]
    pub(crate) jobs: Vec<JobRecord>,
    pub(crate) next: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(JobQuery),
    responses((status = 200, description = "A page of jobs, newest first", body = JobPage)))]
pub(crate) async fn jobs(
    State(server): State<Server>,
    Query(query): Query<JobQuery>,
) -> Answer<JobPage> {
    Ok(Json(page(&server, &query).await?))
}

/// The page of jobs `query` asks for (the API's and the console's): one
/// query of the store's (see [`JobStore::page`](drbook_core::store::JobStore::page)).
pub(crate) async fn page(server: &Server, query: &JobQuery) -> Result<JobPage, Refusal> {
    let limit = query.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let after = query
        .cursor
        .as_deref()
        .map(str::parse::<PageCursor>)
        .transpose()
        .map_err(|e| Refusal::Malformed(e.to_string()))?;
    let page = server
        .store()
        .page(&query.filter(), after.as_ref(), limit)
        .await
        .map_err(store_refusal)?;
    Ok(JobPage {
        jobs: page.jobs,
        next: page.next.map(|next| next.to_string()),
    })
}

/// The page of `all` (newest first) after `cursor` (the id of the last
/// item of the page before), `limit` items of it that `matches` keeps
/// (`PAGE` unless given, `MAX_PAGE` at most), and the cursor of the next.
fn paged<T>(
    all: Vec<T>,
    cursor: Option<&str>,
    limit: Option<usize>,
    id: impl Fn(&T) -> &str,
    matches: impl Fn(&T) -> bool,
    what: &str,
) -> Result<(Vec<T>, Option<String>), Refusal> {
    let limit = limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let start = match cursor {
        None => 0,
        Some(cursor) => all
            .iter()
            .position(|item| id(item) == cursor)
            .map(|i| i + 1)
            .ok_or_else(|| {
                Refusal::Malformed(format!(
                    "cursor `{}` is no {what} of the store (pruned?); list again from the first page",
                    cursor.escape_debug()
                ))
            })?,
    };
    let mut matching = all.into_iter().skip(start).filter(|item| matches(item));
    let items: Vec<T> = matching.by_ref().take(limit).collect();
    let next = if matching.next().is_some() {
        items.last().map(|item| id(item).to_string())
    } else {
        None
    };
    Ok((items, next))
}

/// `GET /api/v1/audit`'s filters and page.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Who: a token's name, or a trigger's label (`cli:USER`,
    /// `webhook:NAME`, ...), exactly.
    pub by: Option<String>,
    /// `started`, `approved`, `rejected`, `stopped`, `retried`, `alert`,
    /// `webhook-created`, `token-created`, `token-revoked`.
    #[param(value_type = Option<String>)]
    pub kind: Option<AuditKind>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    /// The `next` of the page before: the id of its last event.
    pub cursor: Option<String>,
    /// Events on the page: 50 unless given, 500 at most.
    pub limit: Option<usize>,
}

impl AuditQuery {
    fn matches(&self, event: &AuditEvent) -> bool {
        self.by
            .as_ref()
            .is_none_or(|by| event.by.as_ref() == Some(by))
            && self.kind.is_none_or(|kind| event.kind == kind)
            && self.since.is_none_or(|t| event.at >= t)
            && self.until.is_none_or(|t| event.at < t)
    }
}

/// A page of the audit trail, newest first; `next` is the cursor of the
/// next page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AuditPage {
    pub(crate) events: Vec<AuditEvent>,
    pub(crate) next: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "A page of the audit trail, newest first: who started, decided, \
        stopped and retried which job, the alerts the webhooks took, the webhooks and tokens made and revoked",
        body = AuditPage), (status = 400, description = "A filter or the cursor cannot be read")))]
pub(crate) async fn audit(
    State(server): State<Server>,
    Query(query): Query<AuditQuery>,
) -> Answer<AuditPage> {
    Ok(Json(audit_page(&server, &query).await?))
}

/// The page of the audit trail `query` asks for (the API's and the
/// console's).
pub(crate) async fn audit_page(server: &Server, query: &AuditQuery) -> Result<AuditPage, Refusal> {
    let all = trail(server.store().as_ref())
        .await
        .map_err(store_refusal)?;
    let (events, next) = paged(
        all,
        query.cursor.as_deref(),
        query.limit,
        |e| e.id.as_str(),
        |e| query.matches(e),
        "event",
    )?;
    Ok(AuditPage { events, next })
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "The job's id")),
    responses((status = 200, description = "The job's record: status, reason, spec, trigger, module digest, retries",
        body = Object), (status = 404, description = "No such job")))]
pub(crate) async fn job(State(server): State<Server>, Path(id): Path<String>) -> Answer<JobRecord> {
    Ok(Json(server.store().get(&id).await.map_err(store_refusal)?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct After {
    /// The `next` of the call before (0: from the first line).
    #[serde(default)]
    after: i64,
}

/// Stream lines after a cursor: `next` is the `after` of the next call;
/// `ended` says the job had ended before they were read (there are no more).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Lines {
    pub lines: Vec<Line>,
    pub next: i64,
    pub ended: bool,
}

/// One stream line and its number (increasing, per job).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Line {
    pub seq: i64,
    /// `{"stream": "Output", "time": ms since the epoch, "text": ...}`.
    #[schema(value_type = Object)]
    pub record: Record,
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}/streams", tag = "jobs", params(("id" = String, Path, description = "The job's id"), After),
    responses((status = 200, description = "The job's stream lines after the cursor", body = Lines),
        (status = 404, description = "No such job")))]
pub(crate) async fn streams(
    State(server): State<Server>,
    Path(id): Path<String>,
    Query(After { after }): Query<After>,
) -> Answer<Lines> {
    let store = server.store();
    let ended = store.get(&id).await.map_err(store_refusal)?.is_terminal();
    let lines: Vec<Line> = store
        .streams(&id, after)
        .await
        .map_err(store_refusal)?
        .into_iter()
        .map(|(seq, record)| Line { seq, record })
        .collect();
    let next = lines.last().map_or(after, |l| l.seq);
    Ok(Json(Lines { lines, next, ended }))
}

/// A decision asked for: `POST /api/v1/jobs/{id}/decision`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    pub approved: bool,
    #[serde(default)]
    pub comment: String,
}

pub(crate) fn control_refusal(e: ControlError) -> Refusal {
    match e {
        ControlError::Store(e) => store_refusal(e),
        e @ ControlError::FourEyes { .. } => Refusal::FourEyes(e.to_string()),
        other => Refusal::Conflict(other.to_string()),
    }
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/decision", tag = "approvals", params(("id" = String, Path, description = "The job's id")),
    request_body = Decision,
    responses((status = 200, description = "Recorded with the caller's name; the job runs on", body = control::Decided),
        (status = 404, description = "No such job"),
        (status = 403, description = "The four-eyes rule: the caller started the job"),
        (status = 409, description = "The job waits for no decision, or one was made first")))]
pub(crate) async fn decide(
    State(server): State<Server>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(decision): Json<Decision>,
) -> Answer<control::Decided> {
    let store = server.store();
    let decided = control::decide(
        store.as_ref(),
        &id,
        decision.approved,
        &decision.comment,
        &principal.name,
        server.deciders(),
    )
    .await
    .map_err(control_refusal)?;
    server.woke();
    Ok(Json(decided))
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/rerun", tag = "jobs", params(("id" = String, Path, description = "The job's id")),
    responses((status = 201, description = "The new job: the same module, plan and inputs, its trigger `rerun:<id>` by the caller",
        body = Object),
        (status = 404, description = "No such job"),
        (status = 409, description = "Its plan is busy, its module was pruned, or the trust policy no longer admits it")))]
pub(crate) async fn rerun(
    State(server): State<Server>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    let store = server.store();
    let job = match store.get(&id).await {
        Ok(job) => job,
        Err(e) => return store_refusal(e).into_response(),
    };
    match drbook_jobs::rerun(store.as_ref(), server.trust(), &job, &principal.name).await {
        Ok(rerun) => {
            server.woke();
            (axum::http::StatusCode::CREATED, Json(rerun)).into_response()
        }
        Err(drbook_jobs::RerunError::Store(e)) => store_refusal(e).into_response(),
        Err(e) => Refusal::Conflict(e.to_string()).into_response(),
    }
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/stop", tag = "jobs", params(("id" = String, Path, description = "The job's id")),
    responses((status = 200, description = "Stopped, or asked of its worker", body = control::Stopped),
        (status = 404, description = "No such job"), (status = 409, description = "The job has ended")))]
pub(crate) async fn stop(
    State(server): State<Server>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Answer<control::Stopped> {
    let store = server.store();
    let stopped = control::stop(store.as_ref(), &id, &principal.name)
        .await
        .map_err(control_refusal)?;
    Ok(Json(stopped))
}

/// A manual step waiting for a person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Pending {
    pub(crate) job: String,
    pub(crate) prompt: String,
    pub(crate) runbook: String,
    pub(crate) plan: String,
    pub(crate) trigger: String,
}

#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals",
    responses((status = 200, description = "Every manual step waiting for a person", body = Vec<Pending>)))]
pub(crate) async fn approvals(State(server): State<Server>) -> Answer<Vec<Pending>> {
    Ok(Json(pending(&server).await?))
}

/// Every manual step waiting for a person (the API's and the console's).
pub(crate) async fn pending(server: &Server) -> Result<Vec<Pending>, Refusal> {
    let suspended = server
        .store()
        .list(Some(JobStatus::Suspended), usize::MAX)
        .await
        .map_err(store_refusal)?;
    let pending = suspended
        .into_iter()
        .filter_map(|job| match job.wake {
            Some(Wake::Decision { prompt, .. }) => Some(Pending {
                job: job.id,
                prompt,
                runbook: job.runbook,
                plan: job.spec.plan.name,
                trigger: job.trigger,
            }),
            _ => None,
        })
        .collect();
    Ok(pending)
}

#[utoipa::path(get, path = "/api/v1/fabric/items", tag = "fabric",
    responses((status = 200, description = "Every protected item: location, state, health, RPO, allowed operations",
        body = Vec<Object>)))]
pub(crate) async fn fabric_items(State(server): State<Server>) -> Response {
    match server.fabric().list_items().await {
        Ok(items) => Json(items).into_response(),
        Err(e) => Refusal::Store(format!("the fabric: {e}")).into_response(),
    }
}

pub(crate) fn webhook_refusal(e: super::registry::WebhookError) -> Refusal {
    use super::registry::WebhookError;
    match e {
        WebhookError::Store(e) => store_refusal(e),
        other => Refusal::NotFound(other.to_string()),
    }
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "Every webhook (never its token)", body = Vec<Object>)))]
pub(crate) async fn webhooks(
    State(server): State<Server>,
) -> Answer<Vec<super::registry::Webhook>> {
    Ok(Json(
        server.webhooks().list().await.map_err(webhook_refusal)?,
    ))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{name}/alerts", tag = "webhooks", params(("name" = String, Path, description = "The webhook's name")),
    responses((status = 200, description = "Its latest 100 alerts, newest first, each with its decision and jobs",
        body = Vec<Object>), (status = 404, description = "No such webhook")))]
pub(crate) async fn alerts(
    State(server): State<Server>,
    Path(name): Path<String>,
) -> Answer<Vec<drbook_core::webhook::AlertRecord>> {
    Ok(Json(
        server
            .webhooks()
            .alerts(&name, 100)
            .await
            .map_err(webhook_refusal)?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Enabled {
    enabled: bool,
}

#[utoipa::path(post, path = "/api/v1/webhooks/{name}/enabled", tag = "webhooks", params(("name" = String, Path, description = "The webhook's name")),
    request_body = Enabled,
    responses((status = 200, description = "The webhook as it is now", body = Object),
        (status = 404, description = "No such webhook")))]
pub(crate) async fn webhook_enabled(
    State(server): State<Server>,
    Path(name): Path<String>,
    Json(Enabled { enabled }): Json<Enabled>,
) -> Answer<super::registry::Webhook> {
    Ok(Json(
        server
            .webhooks()
            .set_enabled(&name, enabled)
            .await
            .map_err(webhook_refusal)?,
    ))
}

/// A token as listed: never its secret nor its hash.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub name: String,
    /// `viewer`, `operator`, `approver`, `admin`.
    #[schema(value_type = Vec<String>)]
    pub scopes: Vec<Scope>,
    pub created: DateTime<Utc>,
    pub created_by: String,
    pub expires: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
    pub revoked: Option<DateTime<Utc>>,
}

impl From<StoredToken> for TokenView {
    fn from(t: StoredToken) -> Self {
        TokenView {
            name: t.name,
            scopes: t.scopes,
            created: t.created,
            created_by: t.created_by,
            expires: t.expires,
            last_used: t.last_used,
            revoked: t.revoked,
        }
    }
}

fn token_refusal(e: TokenError) -> Refusal {
    match e {
        TokenError::Store(e) => store_refusal(e),
        TokenError::NoSuchToken(_) => Refusal::NotFound(e.to_string()),
        TokenError::Exists(_) => Refusal::Conflict(e.to_string()),
        other => Refusal::Malformed(other.to_string()),
    }
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, description = "Every token, revoked ones too (never a secret)", body = Vec<TokenView>)))]
pub(crate) async fn tokens(State(server): State<Server>) -> Answer<Vec<TokenView>> {
    let tokens = server.store().tokens().await.map_err(store_refusal)?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

/// `POST /api/v1/tokens`: the token to make.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct NewToken {
    name: String,
    #[schema(value_type = Vec<String>)]
    scopes: Vec<Scope>,
    /// 90 days from now unless given.
    expires: Option<DateTime<Utc>>,
}

/// A token made, with its secret: the only time it is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Made {
    token: TokenView,
    secret: String,
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, description = "Made; its secret is shown this once", body = Made),
        (status = 400, description = "A bad name, no scope, or an expiry passed"),
        (status = 409, description = "A token of that name exists")))]
pub(crate) async fn create_token(
    State(server): State<Server>,
    Extension(principal): Extension<Principal>,
    Json(new): Json<NewToken>,
) -> Response {
    let expires = new
        .expires
        .unwrap_or_else(|| Utc::now() + access::DEFAULT_TOKEN_LIFETIME);
    let store = server.store();
    let by = format!("token:{}", principal.name);
    match access::create_token(store.as_ref(), &new.name, &new.scopes, expires, &by).await {
        Ok(made) => (
            axum::http::StatusCode::CREATED,
            Json(Made {
                token: made.token.into(),
                secret: made.secret,
            }),
        )
            .into_response(),
        Err(e) => token_refusal(e).into_response(),
    }
}

#[utoipa::path(delete, path = "/api/v1/tokens/{name}", tag = "tokens", params(("name" = String, Path, description = "The token's name")),
    responses((status = 200, description = "Revoked: refused from now on", body = Object),
        (status = 404, description = "No such token")))]
pub(crate) async fn revoke_token(
    State(server): State<Server>,
    Path(name): Path<String>,
) -> Answer<serde_json::Value> {
    let store = server.store();
    access::revoke_token(store.as_ref(), &name)
        .await
        .map_err(token_refusal)?;
    Ok(Json(serde_json::json!({ "revoked": name })))
}
