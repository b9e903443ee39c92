//! The ARM routes. Paths are parsed by hand, case-insensitively as ARM
//! does (Azure's own links say `/Subscriptions/`), and every ARM request
//! meets the same checks in ARM's order before it is served: the injected
//! delay, the bearer token (401), the vault (404), the `api-version` (400),
//! then the injected 429s and 5xx.

use crate::auth::{self, Tokens};
use crate::budget::{Buckets, Take};
use crate::config::{HttpFaults, SimFault, SUPPORTED_API_VERSIONS};
use crate::counters::{post_key, Live};
use crate::error::ArmError;
use crate::wire::{self, container_name, fabric_name, JobContext, Vault};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use drbook_core::fabric::{
    Direction, Fabric, OperationRequest, OperationState, OperationStatus, ProtectedItem,
    RecoveryPointChoice, SourceSiteOperations,
};
use drbook_fabric_sim::Simulator;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything the handlers share.
pub(crate) struct Shared {
    pub sim: Simulator,
    pub vault: Vault,
    /// `https://127.0.0.1:<port>`: the base of `nextLink` and LRO links.
    pub base_url: String,
    pub page_size: usize,
    /// `None`: the simulator's poll interval, in whole seconds.
    pub retry_after_secs: Option<u32>,
    pub tokens: Tokens,
    pub counters: Live,
    pub faults: Mutex<HttpFaults>,
    pub budget: Buckets,
    /// What `replicationRecoveryPlans` serves.
    pub recovery_plans: Vec<drbook_core::plan::RecoveryPlan>,
    /// ARM requests that passed the checks, for the every-Nth faults.
    arm_seq: AtomicU64,
    /// Operations started by a POST, for `drop_post_every`.
    post_seq: AtomicU64,
    /// Operation id → the `x-ms-client-request-id` of the POST that
    /// started it (also recoverable from the simulator's initiator), or
    /// `None` for an operation started otherwise (`drbook fabric op`).
    client_ids: Mutex<HashMap<String, Option<String>>>,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sim: Simulator,
        vault: Vault,
        base_url: String,
        page_size: usize,
        retry_after_secs: Option<u32>,
        tokens: Tokens,
        faults: HttpFaults,
    ) -> Self {
        Shared {
            sim,
            vault,
            base_url,
            page_size: page_size.max(1),
            retry_after_secs,
            tokens,
            counters: Live::default(),
            faults: Mutex::new(faults),
            budget: Buckets::default(),
            recovery_plans: Vec::new(),
            arm_seq: AtomicU64::new(0),
            post_seq: AtomicU64::new(0),
            client_ids: Mutex::new(HashMap::new()),
        }
    }

    pub fn faults(&self) -> HttpFaults {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_faults(&self, faults: HttpFaults) {
        *self.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    }
}

/// Marks a response whose connection is to be closed instead of answered
/// (the server's connection loop reads it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DropConnection;

/// The initiator the simulator records for a POST: the client's request
/// id, so that the job's `activityId` is known after a restart too.
const INITIATOR_PREFIX: &str = "arm:";

/// The HTTPS router: the token endpoint, the admin routes, and everything
/// else as ARM.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    admin_routes()
        .route("/msi/token", get(token))
        .fallback(arm)
        .with_state(shared)
}

/// The plain-HTTP router of the token endpoint (and the admin routes).
pub(crate) fn identity_router(shared: Arc<Shared>) -> Router {
    admin_routes()
        .route("/msi/token", get(token))
        .with_state(shared)
}

fn admin_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/admin/counters", get(admin_counters))
        .route("/admin/counters/reset", post(admin_reset_counters))
        .route("/admin/faults", get(admin_faults).put(admin_set_faults))
        .route("/admin/sim-fault", post(admin_sim_fault))
        .route("/admin/tokens/revoke", post(admin_revoke))
}

async fn token(
    State(s): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    s.counters.request("GET", "token");
    let (response, issued) = auth::token_response(&s.tokens, &query, &headers);
    if issued {
        s.counters.with(|c| c.token_fetches += 1);
    }
    response
}

fn admin_guard(s: &Shared, headers: &HeaderMap) -> Result<(), ArmError> {
    let ok = headers
        .get(auth::IDENTITY_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == s.tokens.secret);
    if ok {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::UNAUTHORIZED,
            "AdminUnauthorized",
            format!(
                "admin routes need the {} header (IDENTITY_HEADER's value)",
                auth::IDENTITY_HEADER
            ),
        ))
    }
}

async fn admin_counters(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_guard(&s, &headers) {
        return r.into_response();
    }
    Json(s.counters.snapshot()).into_response()
}

async fn admin_reset_counters(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_guard(&s, &headers) {
        return r.into_response();
    }
    s.counters.reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_faults(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_guard(&s, &headers) {
        return r.into_response();
    }
    Json(s.faults()).into_response()
}

async fn admin_set_faults(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admin_guard(&s, &headers) {
        return r.into_response();
    }
    match serde_json::from_slice::<HttpFaults>(&body) {
        Ok(faults) => {
            s.set_faults(faults.clone());
            Json(faults).into_response()
        }
        Err(e) => ArmError::bad_request("InvalidFaults", format!("not a faults document: {e}"))
            .into_response(),
    }
}

async fn admin_sim_fault(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admin_guard(&s, &headers) {
        return r.into_response();
    }
    let fault = match serde_json::from_slice::<SimFault>(&body) {
        Ok(fault) => fault,
        Err(e) => {
            return ArmError::bad_request("InvalidFault", format!("not a simulator fault: {e}"))
                .into_response()
        }
    };
    match s.sim.set_fault(fault.into()) {
        Ok(()) => match s.sim.faults() {
            Ok(faults) => Json(faults).into_response(),
            Err(e) => ArmError::from(e).into_response(),
        },
        Err(e) => ArmError::from(e).into_response(),
    }
}

async fn admin_revoke(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_guard(&s, &headers) {
        return r.into_response();
    }
    s.tokens.revoke_all();
    StatusCode::NO_CONTENT.into_response()
}

/// An ARM route of the vault, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    ItemsList,
    ItemsByContainer { fabric: String, container: String },
    Item(ItemPath),
    Action(ItemPath, Action),
    RecoveryPoints(ItemPath),
    RecoveryPoint(ItemPath, String),
    JobsList,
    Job(String),
    PlansList,
    Plan(String),
    OperationStatus(String),
    OperationResult(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ItemPath {
    fabric: String,
    container: String,
    item: String,
}

/// The item actions, by their ARM names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    PlannedFailover,
    UnplannedFailover,
    TestFailover,
    TestFailoverCleanup,
    FailoverCommit,
    FailoverCancel,
    ApplyRecoveryPoint,
    ReProtect,
}

impl Action {
    const ALL: [Action; 8] = [
        Action::PlannedFailover,
        Action::UnplannedFailover,
        Action::TestFailover,
        Action::TestFailoverCleanup,
        Action::FailoverCommit,
        Action::FailoverCancel,
        Action::ApplyRecoveryPoint,
        Action::ReProtect,
    ];

    fn name(self) -> &'static str {
        match self {
            Action::PlannedFailover => "plannedFailover",
            Action::UnplannedFailover => "unplannedFailover",
            Action::TestFailover => "testFailover",
            Action::TestFailoverCleanup => "testFailoverCleanup",
            Action::FailoverCommit => "failoverCommit",
            Action::FailoverCancel => "failoverCancel",
            Action::ApplyRecoveryPoint => "applyRecoveryPoint",
            Action::ReProtect => "reProtect",
        }
    }

    fn parse(segment: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(segment))
    }
}

/// The vault a path names, and the route under it.
struct Parsed {
    subscription: String,
    resource_group: String,
    vault: String,
    route: Option<Route>,
}

fn is(segment: &str, word: &str) -> bool {
    segment.eq_ignore_ascii_case(word)
}

fn parse(path: &str) -> Option<Parsed> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() < 8
        || !is(segs[0], "subscriptions")
        || !is(segs[2], "resourceGroups")
        || !is(segs[4], "providers")
        || !is(segs[5], "Microsoft.RecoveryServices")
        || !is(segs[6], "vaults")
    {
        return None;
    }
    let rest = &segs[8..];
    let owned = |s: &str| s.to_string();
    let route = match rest {
        [items] if is(items, "replicationProtectedItems") => Some(Route::ItemsList),
        [jobs] if is(jobs, "replicationJobs") => Some(Route::JobsList),
        [jobs, job] if is(jobs, "replicationJobs") => Some(Route::Job(owned(job))),
        [plans] if is(plans, "replicationRecoveryPlans") => Some(Route::PlansList),
        [plans, plan] if is(plans, "replicationRecoveryPlans") => Some(Route::Plan(owned(plan))),
        [status, op] if is(status, "replicationOperationStatus") => {
            Some(Route::OperationStatus(owned(op)))
        }
        [results, op] if is(results, "replicationOperationResults") => {
            Some(Route::OperationResult(owned(op)))
        }
        [fabrics, fabric, containers, container, items, tail @ ..]
            if is(fabrics, "replicationFabrics")
                && is(containers, "replicationProtectionContainers")
                && is(items, "replicationProtectedItems") =>
        {
            let item = |name: &str| ItemPath {
                fabric: owned(fabric),
                container: owned(container),
                item: owned(name),
            };
            match tail {
                [] => Some(Route::ItemsByContainer {
                    fabric: owned(fabric),
                    container: owned(container),
                }),
                [name] => Some(Route::Item(item(name))),
                [name, points] if is(points, "recoveryPoints") => {
                    Some(Route::RecoveryPoints(item(name)))
                }
                [name, points, point] if is(points, "recoveryPoints") => {
                    Some(Route::RecoveryPoint(item(name), owned(point)))
                }
                [name, action] => Action::parse(action).map(|a| Route::Action(item(name), a)),
                _ => None,
            }
        }
        _ => None,
    };
    Some(Parsed {
        subscription: owned(segs[1]),
        resource_group: owned(segs[3]),
        vault: owned(segs[7]),
        route,
    })
}

/// The counters' name of a route.
fn route_name(route: Option<&Route>) -> String {
    match route {
        None => "unknown".to_string(),
        Some(Route::ItemsList) => "protectedItems.list".to_string(),
        Some(Route::ItemsByContainer { .. }) => "protectedItems.listByContainer".to_string(),
        Some(Route::Item(_)) => "protectedItems.get".to_string(),
        Some(Route::Action(_, action)) => format!("protectedItems.{}", action.name()),
        Some(Route::RecoveryPoints(_)) => "recoveryPoints.list".to_string(),
        Some(Route::RecoveryPoint(..)) => "recoveryPoints.get".to_string(),
        Some(Route::JobsList) => "jobs.list".to_string(),
        Some(Route::Job(_)) => "jobs.get".to_string(),
        Some(Route::PlansList) => "recoveryPlans.list".to_string(),
        Some(Route::Plan(_)) => "recoveryPlans.get".to_string(),
        Some(Route::OperationStatus(_)) => "operationStatus.get".to_string(),
        Some(Route::OperationResult(_)) => "operationResults.get".to_string(),
    }
}

/// One ARM request, from the checks to its answer.
struct Request<'a> {
    s: &'a Shared,
    method: Method,
    uri: Uri,
    body: Bytes,
    query: HashMap<String, String>,
    api_version: String,
}

async fn arm(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = parse(uri.path());
    let route = parsed.as_ref().and_then(|p| p.route.clone());
    s.counters
        .request(method.as_str(), &route_name(route.as_ref()));
    let client_id = headers
        .get("x-ms-client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let request_id = new_request_id();

    let mut remaining = None;
    let mut response = match checks(&s, &method, &uri, &headers, parsed.as_ref()).await {
        Err(refusal) => refusal,
        Ok(checked) => {
            let api_version = checked.api_version;
            remaining = checked.remaining;
            let query = query_map(&uri);
            let request = Request {
                s: &s,
                method,
                uri,
                body,
                query,
                api_version,
            };
            match route {
                Some(route) => request
                    .serve(route, client_id.as_deref().unwrap_or(&request_id))
                    .await
                    .unwrap_or_else(IntoResponse::into_response),
                None => ArmError::bad_request(
                    "InvalidResourceType",
                    format!(
                        "The resource type could not be found at '{}'; this emulator serves Site \
                         Recovery's replicationProtectedItems, their actions and recoveryPoints, \
                         replicationJobs and the operation status routes",
                        request.uri.path()
                    ),
                )
                .into_response(),
            }
        }
    };
    let headers = response.headers_mut();
    if let Some((name, left)) = remaining {
        headers.insert(name, HeaderValue::from(left));
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-ms-request-id", value.clone());
        headers.insert("x-ms-correlation-request-id", value);
    }
    if let Some(value) = client_id.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert("x-ms-client-request-id", value);
    }
    response
}

/// What the checks found: the api-version, and what is left of the
/// request's budget (its header's name and value) when one is enforced.
struct Checked {
    api_version: String,
    remaining: Option<(&'static str, u32)>,
}

/// The checks of every ARM request, in ARM's order; the refusal's answer
/// when one fails.
#[allow(
    clippy::result_large_err,
    reason = "a refusal is the answer, made once per request"
)]
async fn checks(
    s: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    parsed: Option<&Parsed>,
) -> Result<Checked, Response> {
    let faults = s.faults();
    if faults.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
    }
    if let Err(refused) = s.tokens.check(headers) {
        s.counters.with(|c| c.unauthorized += 1);
        return Err(auth::unauthorized(refused));
    }
    if let Some(parsed) = parsed {
        if !parsed
            .subscription
            .eq_ignore_ascii_case(&s.vault.subscription)
        {
            return Err(ArmError::not_found(
                "SubscriptionNotFound",
                format!(
                    "The subscription '{}' could not be found.",
                    parsed.subscription
                ),
            )
            .into_response());
        }
        if !parsed
            .resource_group
            .eq_ignore_ascii_case(&s.vault.resource_group)
        {
            return Err(ArmError::not_found(
                "ResourceGroupNotFound",
                format!(
                    "Resource group '{}' could not be found.",
                    parsed.resource_group
                ),
            )
            .into_response());
        }
        if !parsed.vault.eq_ignore_ascii_case(&s.vault.name) {
            return Err(ArmError::not_found(
                "ResourceNotFound",
                format!(
                    "The Resource 'Microsoft.RecoveryServices/vaults/{}' under resource group '{}' was not found.",
                    parsed.vault, parsed.resource_group
                ),
            )
            .into_response());
        }
    }
    let query = query_map(uri);
    let api_version = match query.get("api-version") {
        None => {
            return Err(ArmError::bad_request(
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
            .into_response())
        }
        Some(v) if !SUPPORTED_API_VERSIONS.contains(&v.as_str()) => {
            return Err(ArmError::bad_request(
                "InvalidApiVersionParameter",
                format!(
                    "The api-version '{v}' is invalid. The supported versions are '{}'.",
                    SUPPORTED_API_VERSIONS.join(",")
                ),
            )
            .into_response())
        }
        Some(v) => v.clone(),
    };
    let write = method != Method::GET;
    let header = if write {
        "x-ms-ratelimit-remaining-subscription-writes"
    } else {
        "x-ms-ratelimit-remaining-subscription-reads"
    };
    let remaining = match s.budget.take(write) {
        Take::Unlimited => None,
        Take::Left(left) => Some((header, left)),
        Take::Spent(wait) => {
            s.counters.with(|c| c.budget_throttled += 1);
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = throttled(secs.max(1));
            response
                .headers_mut()
                .insert(header, HeaderValue::from(0u32));
            return Err(response);
        }
    };
    let seq = s.arm_seq.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(n) = faults.throttle_every.filter(|n| *n > 0) {
        if seq.is_multiple_of(u64::from(n)) {
            s.counters.with(|c| c.throttled += 1);
            return Err(throttled(u64::from(faults.throttle_retry_after_secs)));
        }
    }
    if let Some(n) = faults.error_every.filter(|n| *n > 0) {
        if seq.is_multiple_of(u64::from(n)) {
            s.counters.with(|c| c.errors_injected += 1);
            let status = faults
                .error_status
                .and_then(|code| StatusCode::from_u16(code).ok())
                .filter(|code| code.is_server_error())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(ArmError::new(
                status,
                "InternalServerError",
                "Encountered internal server error (injected by the emulator). Please retry.",
            )
            .into_response());
        }
    }
    Ok(Checked {
        api_version,
        remaining,
    })
}

/// ARM's 429.
fn throttled(retry_after_secs: u64) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"error": {
            "code": "TooManyRequests",
            "message": "The request is being throttled as the limit has been reached for operation type. Please retry after the time in the Retry-After header.",
        }})),
    )
        .into_response();
    response
        .headers_mut()
        .insert("retry-after", HeaderValue::from(retry_after_secs));
    response
}

fn query_map(uri: &Uri) -> HashMap<String, String> {
    let Some(query) = uri.query() else {
        return HashMap::new();
    };
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    let h = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn method_not_allowed(method: &Method) -> ArmError {
    ArmError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("The requested resource does not support http method '{method}'."),
    )
}

impl Request<'_> {
    async fn serve(&self, route: Route, client_id: &str) -> Result<Response, ArmError> {
        let want = match &route {
            Route::Action(..) => Method::POST,
            _ => Method::GET,
        };
        if self.method != want {
            return Err(method_not_allowed(&self.method));
        }
        match route {
            Route::ItemsList => self.items(None).await,
            Route::ItemsByContainer { fabric, container } => {
                self.items(Some((fabric, container))).await
            }
            Route::Item(path) => {
                let item = self.item(&path).await?;
                Ok(Json(wire::protected_item(&self.s.vault, &item, Utc::now())).into_response())
            }
            Route::RecoveryPoints(path) => {
                let item = self.item(&path).await?;
                let value: Vec<Value> = item
                    .recovery_points
                    .iter()
                    .rev()
                    .map(|p| wire::recovery_point(&self.s.vault, &item, p))
                    .collect();
                Ok(Json(json!({"value": value})).into_response())
            }
            Route::RecoveryPoint(path, name) => {
                let item = self.item(&path).await?;
                let point = item
                    .recovery_points
                    .iter()
                    .find(|p| p.id.eq_ignore_ascii_case(&name))
                    .ok_or_else(|| {
                        ArmError::not_found(
                            "RecoveryPointNotFound",
                            format!(
                                "The recovery point '{name}' of '{}' was not found.",
                                item.name
                            ),
                        )
                    })?;
                Ok(Json(wire::recovery_point(&self.s.vault, &item, point)).into_response())
            }
            Route::Action(path, action) => self.action(&path, action, client_id).await,
            Route::JobsList => self.jobs().await,
            Route::PlansList => {
                let items = self.s.sim.list_items().await?;
                let plans = &self.s.recovery_plans;
                let (page, next) = self.page(plans.len())?;
                let value: Vec<Value> = plans[page]
                    .iter()
                    .map(|plan| wire::recovery_plan(&self.s.vault, plan, &items))
                    .collect();
                Ok(Json(self.list_body(value, next)).into_response())
            }
            Route::Plan(name) => {
                let plan = self
                    .s
                    .recovery_plans
                    .iter()
                    .find(|p| p.name.eq_ignore_ascii_case(&name))
                    .ok_or_else(|| {
                        ArmError::not_found(
                            "RecoveryPlanNotFound",
                            format!(
                                "The recovery plan '{name}' was not found in vault '{}'.",
                                self.s.vault.name
                            ),
                        )
                    })?;
                let items = self.s.sim.list_items().await?;
                Ok(Json(wire::recovery_plan(&self.s.vault, plan, &items)).into_response())
            }
            Route::Job(name) => {
                let op = self.operation(&name).await?;
                let body = self.job(&op).await;
                let mut response = Json(body).into_response();
                if !op.state.is_terminal() {
                    self.retry_after(&mut response, Some(&op));
                }
                Ok(response)
            }
            Route::OperationStatus(name) => {
                let op = self.operation(&name).await?;
                let mut response = Json(wire::operation_status(&self.s.vault, &op)).into_response();
                if !op.state.is_terminal() {
                    self.retry_after(&mut response, Some(&op));
                }
                Ok(response)
            }
            Route::OperationResult(name) => {
                let op = self.operation(&name).await?;
                match op.state {
                    OperationState::InProgress => {
                        let mut response = StatusCode::ACCEPTED.into_response();
                        self.lro_headers(&mut response, &op.id, Some(&op));
                        Ok(response)
                    }
                    OperationState::Succeeded => {
                        let item = self.s.sim.get_item(&op.vm).await?;
                        Ok(Json(wire::protected_item(&self.s.vault, &item, Utc::now()))
                            .into_response())
                    }
                    OperationState::Failed | OperationState::Canceled => {
                        let body = wire::operation_status(&self.s.vault, &op);
                        Err(ArmError::bad_request(
                            body["error"]["code"].as_str().unwrap_or("OperationFailed"),
                            body["error"]["message"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                        ))
                    }
                }
            }
        }
    }

    /// `Retry-After`: as configured, else the simulator's poll interval for
    /// `op` rounded to whole seconds (0 at instant speed: poll again now).
    fn retry_after(&self, response: &mut Response, op: Option<&OperationStatus>) {
        let secs = match (self.s.retry_after_secs, op) {
            (Some(secs), _) => secs,
            (None, Some(op)) => self.s.sim.poll_interval(op).as_secs_f64().round() as u32,
            (None, None) => 1,
        };
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
    }

    fn link(&self, path: &str) -> String {
        format!("{}{path}?api-version={}", self.s.base_url, self.api_version)
    }

    fn lro_headers(&self, response: &mut Response, op: &str, status: Option<&OperationStatus>) {
        let vault = self.s.vault.id();
        let headers = response.headers_mut();
        let status_url = self.link(&format!("{vault}/replicationOperationStatus/{op}"));
        let result = self.link(&format!("{vault}/replicationOperationResults/{op}"));
        if let Ok(v) = HeaderValue::from_str(&status_url) {
            headers.insert("azure-asyncoperation", v);
        }
        if let Ok(v) = HeaderValue::from_str(&result) {
            headers.insert("location", v);
        }
        self.retry_after(response, status);
    }

    /// One page of items, vault-wide or of one container, with `nextLink`
    /// while more follow (`$skiptoken` is the offset).
    async fn items(&self, container: Option<(String, String)>) -> Result<Response, ArmError> {
        let items = self.s.sim.list_items().await?;
        let items: Vec<ProtectedItem> = match &container {
            None => items,
            Some((fabric, container)) => items
                .into_iter()
                .filter(|item| in_container(item, fabric, container))
                .collect(),
        };
        let now = Utc::now();
        let (page, next) = self.page(items.len())?;
        let value: Vec<Value> = items[page]
            .iter()
            .map(|item| wire::protected_item(&self.s.vault, item, now))
            .collect();
        Ok(Json(self.list_body(value, next)).into_response())
    }

    /// The range of this page and the offset of the next.
    fn page(&self, total: usize) -> Result<(std::ops::Range<usize>, Option<usize>), ArmError> {
        let skip = match self
            .query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("$skiptoken"))
        {
            None => 0,
            Some((_, v)) => v.parse::<usize>().map_err(|_| {
                ArmError::bad_request(
                    "InvalidSkipToken",
                    format!("The $skiptoken '{v}' is invalid; follow nextLink as it is."),
                )
            })?,
        };
        let start = skip.min(total);
        let end = (start + self.s.page_size).min(total);
        Ok((start..end, (end < total).then_some(end)))
    }

    fn list_body(&self, value: Vec<Value>, next: Option<usize>) -> Value {
        let mut body = json!({ "value": value });
        if let Some(next) = next {
            body["nextLink"] = json!(format!("{}&$skiptoken={next}", self.link(self.uri.path())));
        }
        body
    }

    async fn item(&self, path: &ItemPath) -> Result<ProtectedItem, ArmError> {
        let not_found = || {
            ArmError::not_found(
                "ReplicationProtectedItemNotFound",
                format!(
                    "The replication protected item '{}' was not found in protection container '{}' of fabric '{}'.",
                    path.item, path.container, path.fabric
                ),
            )
        };
        let item = match self.s.sim.get_item(&path.item).await {
            Ok(item) => item,
            Err(drbook_core::fabric::FabricError::ItemNotFound { .. }) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        if !in_container(&item, &path.fabric, &path.container) {
            return Err(not_found());
        }
        Ok(item)
    }

    async fn operation(
        &self,
        name: &str,
    ) -> Result<drbook_core::fabric::OperationStatus, ArmError> {
        match self.s.sim.operation(name).await {
            Ok(op) => Ok(op),
            Err(drbook_core::fabric::FabricError::OperationNotFound { .. }) => {
                Err(ArmError::not_found(
                    "JobNotFound",
                    format!(
                        "The job '{name}' was not found in vault '{}'.",
                        self.s.vault.name
                    ),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The client request id of the POST that started `op`: remembered, or
    /// read back from the simulator's audit trail (once for every operation
    /// it holds, so that a page of jobs reads it at most once).
    fn client_id_of(&self, op: &str) -> Option<String> {
        if let Some(id) = self
            .s
            .client_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(op)
        {
            return id.clone();
        }
        let history = self.s.sim.history().ok()?;
        let mut ids = self.s.client_ids.lock().unwrap_or_else(|p| p.into_inner());
        for entry in history {
            let client = entry
                .initiator
                .strip_prefix(INITIATOR_PREFIX)
                .map(str::to_string);
            ids.entry(entry.id).or_insert(client);
        }
        ids.get(op).cloned().flatten()
    }

    async fn job(&self, op: &drbook_core::fabric::OperationStatus) -> Value {
        let item_id = self
            .s
            .sim
            .get_item(&op.vm)
            .await
            .ok()
            .map(|item| self.s.vault.item_id(&item));
        let client = self.client_id_of(&op.id);
        wire::job(
            &self.s.vault,
            op,
            &JobContext {
                item_id,
                client_request_id: client.as_deref(),
            },
        )
    }

    /// The vault's jobs, newest first, paged like the items.
    async fn jobs(&self) -> Result<Response, ArmError> {
        let history = self.s.sim.history()?;
        let mut ids: Vec<String> = history
            .into_iter()
            .filter(|entry| entry.outcome != drbook_fabric_sim::Outcome::Refused)
            .map(|entry| entry.id)
            .collect();
        ids.reverse();
        let (page, next) = self.page(ids.len())?;
        let mut value = Vec::new();
        for id in &ids[page] {
            let op = self.operation(id).await?;
            value.push(self.job(&op).await);
        }
        Ok(Json(self.list_body(value, next)).into_response())
    }

    /// A POST: parse its input, start the operation, answer 202 with the
    /// LRO headers (or close the connection, when a fault says so).
    async fn action(
        &self,
        path: &ItemPath,
        action: Action,
        client_id: &str,
    ) -> Result<Response, ArmError> {
        let item = self.item(path).await?;
        let input: Value = if self.body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&self.body).map_err(|e| {
                ArmError::bad_request(
                    "InvalidRequestContent",
                    format!("The request content is not valid JSON: {e}"),
                )
            })?
        };
        let request = parse_input(action, &input)?;
        self.s.counters.with(|c| {
            *c.posts
                .entry(post_key(&item.name, action.name()))
                .or_default() += 1
        });
        let initiator = format!("{INITIATOR_PREFIX}{client_id}");
        let op = self.s.sim.start(&item.name, &request, &initiator).await?;
        self.s
            .client_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(op.clone(), Some(client_id.to_string()));
        let status = self.s.sim.operation(&op).await.ok();
        let mut response = StatusCode::ACCEPTED.into_response();
        self.lro_headers(&mut response, &op, status.as_ref());
        if self.drop_this_post() {
            self.s.counters.with(|c| c.dropped += 1);
            response.extensions_mut().insert(DropConnection);
        }
        Ok(response)
    }

    /// Whether the POST just applied is one whose answer a fault drops.
    fn drop_this_post(&self) -> bool {
        let seq = self.s.post_seq.fetch_add(1, Ordering::SeqCst) + 1;
        let mut faults = self.s.faults.lock().unwrap_or_else(|p| p.into_inner());
        if faults.drop_next_posts > 0 {
            faults.drop_next_posts -= 1;
            return true;
        }
        faults
            .drop_post_every
            .filter(|n| *n > 0)
            .is_some_and(|n| seq.is_multiple_of(u64::from(n)))
    }
}

fn in_container(item: &ProtectedItem, fabric: &str, container: &str) -> bool {
    fabric.eq_ignore_ascii_case(&fabric_name(&item.primary_region))
        && container.eq_ignore_ascii_case(&container_name(&item.primary_region))
}

/// An action's input (`{"properties":{...}}`) as the simulator's request.
fn parse_input(action: Action, input: &Value) -> Result<OperationRequest, ArmError> {
    let props = &input["properties"];
    let details = &props["providerSpecificDetails"];
    if let Some(kind) = details.get("instanceType") {
        if kind.as_str() != Some("A2A") {
            return Err(ArmError::bad_request(
                "InvalidProviderSpecificInput",
                format!("providerSpecificDetails.instanceType is {kind}; this vault protects Azure VMs: use \"A2A\""),
            ));
        }
    }
    let direction = || -> Result<Direction, ArmError> {
        match props["failoverDirection"].as_str() {
            Some(d) if d.eq_ignore_ascii_case("PrimaryToRecovery") => Ok(Direction::PrimaryToRecovery),
            Some(d) if d.eq_ignore_ascii_case("RecoveryToPrimary") => Ok(Direction::RecoveryToPrimary),
            other => Err(ArmError::bad_request(
                "InvalidFailoverDirection",
                format!(
                    "properties.failoverDirection must be PrimaryToRecovery or RecoveryToPrimary, not {}",
                    other.map_or("missing".to_string(), |d| format!("'{d}'"))
                ),
            )),
        }
    };
    let recovery_point = || -> Result<RecoveryPointChoice, ArmError> {
        if let Some(id) = details["recoveryPointId"]
            .as_str()
            .filter(|s| !s.is_empty())
        {
            return Ok(RecoveryPointChoice::Id(last_segment(id)));
        }
        match details["recoveryPointType"].as_str() {
            None => Ok(RecoveryPointChoice::LatestProcessed),
            Some(t) if t.eq_ignore_ascii_case("Latest") => Ok(RecoveryPointChoice::Latest),
            Some(t) if t.eq_ignore_ascii_case("LatestProcessed") => {
                Ok(RecoveryPointChoice::LatestProcessed)
            }
            Some(t) if t.eq_ignore_ascii_case("LatestApplicationConsistent") => {
                Ok(RecoveryPointChoice::LatestApplicationConsistent)
            }
            Some(t) if t.eq_ignore_ascii_case("LatestCrashConsistent") => {
                Ok(RecoveryPointChoice::LatestCrashConsistent)
            }
            Some(t) => Err(ArmError::bad_request(
                "InvalidRecoveryPointType",
                format!("recoveryPointType '{t}' is not one of Latest, LatestProcessed, LatestApplicationConsistent, LatestCrashConsistent"),
            )),
        }
    };
    Ok(match action {
        Action::PlannedFailover => OperationRequest::PlannedFailover {
            direction: direction()?,
        },
        Action::UnplannedFailover => OperationRequest::UnplannedFailover {
            direction: direction()?,
            recovery_point: recovery_point()?,
            source_site_operations: match props["sourceSiteOperations"].as_str() {
                Some(s) if s.eq_ignore_ascii_case("Required") => SourceSiteOperations::Required,
                None => SourceSiteOperations::NotRequired,
                Some(s) if s.eq_ignore_ascii_case("NotRequired") => {
                    SourceSiteOperations::NotRequired
                }
                Some(s) => {
                    return Err(ArmError::bad_request(
                        "InvalidSourceSiteOperations",
                        format!("sourceSiteOperations must be Required or NotRequired, not '{s}'"),
                    ))
                }
            },
        },
        Action::TestFailover => OperationRequest::TestFailover {
            direction: direction()?,
            network: props["networkId"]
                .as_str()
                .map(last_segment)
                .unwrap_or_default(),
            recovery_point: recovery_point()?,
        },
        Action::TestFailoverCleanup => OperationRequest::TestFailoverCleanup {
            comments: props["comments"].as_str().unwrap_or_default().to_string(),
        },
        Action::FailoverCommit => OperationRequest::Commit,
        Action::FailoverCancel => OperationRequest::CancelFailover,
        Action::ApplyRecoveryPoint => OperationRequest::ChangeRecoveryPoint {
            recovery_point_id: props["recoveryPointId"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(last_segment)
                .ok_or_else(|| {
                    ArmError::bad_request(
                        "InvalidRecoveryPointId",
                        "properties.recoveryPointId is required: the id of one of the item's recoveryPoints",
                    )
                })?,
        },
        Action::ReProtect => OperationRequest::Reprotect,
    })
}

/// The last segment of an ARM id (a bare name is its own last segment).
fn last_segment(id: &str) -> String {
    id.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(id)
        .to_string()
}
