//! Serving an ARM request that passed the checks: reads, lists with
//! `nextLink`, the actions and their LRO headers, jobs and operations.

use super::checks::{checks, query_map};
use super::input::parse_input;
use super::network::{self, NetworkPath};
use super::path::{parse, route_name, Action, ItemPath, Route};
use super::shared::{DropConnection, Shared, INITIATOR_PREFIX};
use crate::auth::random_guid;
use crate::config::SUPPORTED_API_VERSIONS;
use crate::counters::post_key;
use crate::error::ArmError;
use crate::wire::{self, container_name, fabric_name, JobContext};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use drbook_core::fabric::{Fabric, OperationState, OperationStatus, ProtectedItem};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// One ARM request, from the checks to its answer.
pub(super) struct Request<'a> {
    s: &'a Shared,
    method: Method,
    uri: Uri,
    body: Bytes,
    query: HashMap<String, String>,
    api_version: String,
}

pub(super) async fn arm(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = parse(uri.path());
    let route = parsed.as_ref().and_then(|p| p.route.clone());
    let network = network::parse(uri.path());
    let name = match &network {
        Some(resource) => resource.route_name(&method),
        None => route_name(route.as_ref()),
    };
    let versions = network
        .as_ref()
        .map_or(SUPPORTED_API_VERSIONS, |n| n.api_versions());
    let client_id = headers
        .get("x-ms-client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // What makes a retry the same request: a client re-sends all of it.
    let key = format!("{method} {uri} {}", client_id.as_deref().unwrap_or(""));
    let method_name = method.to_string();
    s.counters.request(&method_name, &name, Some(&key));
    let request_id = random_guid();

    let mut remaining = None;
    let checked = checks(&s, &method, &uri, &headers, parsed.as_ref(), versions).await;
    let mut response = match checked {
        Err(refusal) => refusal,
        Ok(checked) if network.is_some() => {
            remaining = checked.remaining;
            let resource = network.as_ref().expect("a network resource");
            serve_network(&s, resource, &method, &body).await
        }
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
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        let header = |name| {
            let value: u64 = response.headers().get(name)?.to_str().ok()?.parse().ok()?;
            Some(value)
        };
        let retry_after = header("x-ms-retry-after-ms")
            .map(Duration::from_millis)
            .or_else(|| header("retry-after").map(Duration::from_secs))
            .unwrap_or_default();
        s.counters.throttled(&method_name, &name, &key, retry_after);
    }
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

/// A network resource's request, in the subscription's any resource group.
async fn serve_network(
    s: &Shared,
    resource: &NetworkPath,
    method: &Method,
    body: &[u8],
) -> Response {
    if !resource
        .subscription
        .eq_ignore_ascii_case(&s.vault.subscription)
    {
        return ArmError::not_found(
            "SubscriptionNotFound",
            format!(
                "The subscription '{}' could not be found.",
                resource.subscription
            ),
        )
        .into_response();
    }
    let delay = s.faults().network_write_delay_ms;
    if *method != Method::GET && delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    match s.network.serve(resource, method, body) {
        Ok((response, change)) => {
            if let Some(change) = change {
                s.counters.with(|c| c.network.push(change));
            }
            response
        }
        Err(e) => e.into_response(),
    }
}

pub(super) fn method_not_allowed(method: &Method) -> ArmError {
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

pub(super) fn in_container(item: &ProtectedItem, fabric: &str, container: &str) -> bool {
    fabric.eq_ignore_ascii_case(&fabric_name(&item.primary_region))
        && container.eq_ignore_ascii_case(&container_name(&item.primary_region))
}
