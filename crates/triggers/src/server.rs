//! The HTTP server: routes, the accept loop with its timeouts, and graceful
//! shutdown. It takes an already-bound listener and a shutdown future (tests
//! bind port 0), and runs one worker in the same process, woken by every
//! delivery that creates a job.
//!
//! Routes: `POST /webhooks/{name}?token=...` (a delivery), `GET /healthz`,
//! and, behind an API token, `GET /metrics`, the JSON API (`api`, whose
//! route table says what each route needs), its live streams (`events`)
//! and its OpenAPI document (`openapi`). With a TLS configuration every
//! connection is TLS, and answers carry HSTS.
//!
//! What an unauthenticated client can cost is bounded: connections beyond
//! `max_connections` get 503 and are closed at once; a webhook's token is
//! checked before its body is read; an address whose requests keep being
//! refused gets 429 before anything is looked up; and refusals are logged
//! at a bounded rate.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tracing::Instrument as _;

use super::api;
use super::control::Deciders;
use super::deliver::{Delivery, Intake};
use super::events::{Streams, MAX_STREAMS};
use super::limits::{
    Buckets, RateLimit, SourceLimiter, BODY_TIMEOUT, HEADER_TIMEOUT, MAX_BODY, MAX_CONNECTIONS,
};
use super::log::{escaping, Bounded, LogSink};
use super::metrics::Metrics;
use super::oidc::Oidc;
use super::refusal::Refusal;
use super::registry::Webhooks;
use drbook_core::fabric::Fabric;
use drbook_core::store::{JobStore, StoreError};
use drbook_jobs::{ExecuteError, Execution, Worker, WorkerOptions};
use drbook_runtime::JobOutcome;
use drbook_signing::Trust;

/// How the server behaves.
#[derive(Clone)]
pub struct ServeOptions {
    pub rate_limit: RateLimit,
    /// Signed deliveries older or newer than this are refused.
    pub replay_window: Duration,
    /// Serve HTTPS with this configuration (and send HSTS); plain HTTP
    /// without.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How long shutdown waits for requests under way.
    pub grace: Duration,
    /// Connections served at once; more get 503 and are closed.
    pub max_connections: usize,
    /// Live streams (`events`) served at once; more get 503.
    pub max_streams: usize,
    /// Unauthenticated refusals an address may have (`burst` at once, then
    /// `per_second`) before it gets 429 without being looked at.
    pub refusals_per_source: RateLimit,
    /// Refusal lines logged a second at most; the rest are counted.
    pub refusal_log_per_second: u32,
    /// Where log lines go; every line is escaped first (see `log`).
    pub log: LogSink,
    pub metrics: Metrics,
    /// Sign-in through this OpenID Connect provider besides API tokens.
    pub oidc: Option<Arc<Oidc>>,
    /// Who may decide a job's manual step (four eyes: not who started it).
    pub deciders: Deciders,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            rate_limit: RateLimit::default(),
            replay_window: Duration::from_secs(300),
            tls: None,
            grace: Duration::from_secs(10),
            max_connections: MAX_CONNECTIONS,
            max_streams: MAX_STREAMS,
            refusals_per_source: RateLimit::per_second(10.0),
            refusal_log_per_second: 20,
            log: Arc::new(|line| eprintln!("{line}")),
            metrics: Metrics::default(),
            oidc: None,
            deciders: Deciders::Any,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the worker stopped: {0}")]
    Worker(#[from] StoreError),
}

/// The state the handlers share; cheap to clone.
#[derive(Clone)]
pub struct Server(Arc<Shared>);

struct Shared {
    intake: Intake,
    fabric: Arc<dyn Fabric>,
    sources: SourceLimiter,
    streams: Streams,
    /// Every connection is TLS: cookies are `Secure`.
    tls: bool,
    log: LogSink,
    refusal_log: Bounded,
    oidc: Option<Arc<Oidc>>,
    deciders: Deciders,
    /// The worker's trust policy, which a rerun's module is checked against
    /// before its job is made.
    trust: Trust,
}

impl Server {
    /// Counts, logs (at a bounded rate) and charges `source` for a refusal.
    fn refused(&self, source: IpAddr, what: &str, refusal: &Refusal) {
        if refusal.unauthenticated() {
            self.0.sources.refused(source);
        }
        self.0.intake.metrics.rejected(refusal.reason());
        self.0.refusal_log.log(
            &self.0.log,
            &format!(
                "serve: refused {what} from {source}: {} ({})",
                refusal.reason(),
                refusal
            ),
        );
    }

    pub(crate) fn refuse(&self, source: IpAddr, what: &str, refusal: Refusal) -> Response {
        self.refused(source, what, &refusal);
        refusal.into_response()
    }

    /// A connection beyond the cap: a 503 written without waiting (a
    /// client that does not read it loses nothing it could use), then
    /// closed.
    fn refuse_connection(&self, stream: tokio::net::TcpStream, peer: SocketAddr) {
        let refusal = Refusal::TooManyConnections;
        self.refused(peer.ip(), "a connection", &refusal);
        let body = serde_json::json!({ "error": refusal.to_string() }).to_string();
        let status = refusal.status();
        let response = format!(
            "HTTP/1.1 {} {}\r\nretry-after: 1\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len()
        );
        let _ = stream.try_write(response.as_bytes());
    }

    /// Whether requests from `source` are heard at all.
    pub(crate) fn throttled(&self, source: IpAddr, what: &str) -> Option<Response> {
        (!self.0.sources.admits(source))
            .then(|| self.refuse(source, what, Refusal::SourceThrottled))
    }

    pub(crate) fn store(&self) -> &Arc<dyn JobStore> {
        self.0.intake.webhooks.store()
    }

    pub(crate) fn fabric(&self) -> &Arc<dyn Fabric> {
        &self.0.fabric
    }

    pub(crate) fn tls(&self) -> bool {
        self.0.tls
    }

    pub(crate) fn oidc(&self) -> Option<&Oidc> {
        self.0.oidc.as_deref()
    }

    pub(crate) fn deciders(&self) -> Deciders {
        self.0.deciders
    }

    pub(crate) fn trust(&self) -> &Trust {
        &self.0.trust
    }

    pub(crate) fn streams(&self) -> &Streams {
        &self.0.streams
    }

    pub(crate) fn webhooks(&self) -> &Webhooks {
        &self.0.intake.webhooks
    }

    /// Wakes this process's worker: a job may have become runnable.
    pub(crate) fn woke(&self) {
        self.0.intake.wake.notify_one();
    }

    fn router(self, hsts: bool) -> Router {
        let router = api::router(&self).layer(axum::middleware::from_fn(traced));
        let router = if hsts {
            router.layer(axum::middleware::from_fn(strict_transport))
        } else {
            router
        };
        router.with_state(self)
    }
}

/// Runs a request in a span of its own, with its method and path (never
/// its query: a webhook's token is there). Fields are `Debug`-formatted, so
/// whatever a client puts in the path is escaped in the log.
async fn traced(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let span = tracing::info_span!(
        "request",
        method = ?request.method(),
        path = ?request.uri().path()
    );
    async move {
        let started = Instant::now();
        let response = next.run(request).await;
        tracing::debug!(status = response.status().as_u16(), elapsed = ?started.elapsed(), "answered");
        response
    }
    .instrument(span)
    .await
}

/// Tells browsers to come back over HTTPS only (a year, as is usual).
async fn strict_transport(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        header::HeaderValue::from_static("max-age=31536000"),
    );
    response
}

/// Serves on `listener` until `shutdown` resolves, running jobs with `exec`
/// in a worker of this process. On shutdown it stops accepting, lets
/// requests under way finish (up to `grace`), and stops the worker: jobs
/// under way stay in the store, resumable by any worker.
pub async fn serve(
    listener: TcpListener,
    mut exec: Execution,
    mut worker: WorkerOptions,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let log = escaping(options.log.clone());
    // A wake the caller gave (its scheduler's) serves deliveries too.
    let wake = worker
        .wake
        .get_or_insert_with(|| Arc::new(Notify::new()))
        .clone();
    exec.observer = options.metrics.observer(exec.observer.clone());
    let server = Server(Arc::new(Shared {
        intake: Intake {
            webhooks: Webhooks::new(exec.store.clone()),
            buckets: Buckets::new(options.rate_limit),
            replay_window: options.replay_window,
            metrics: options.metrics.clone(),
            wake,
        },
        fabric: exec.fabric.clone(),
        sources: SourceLimiter::new(options.refusals_per_source),
        streams: Streams::new(options.max_streams),
        tls: options.tls.is_some(),
        log: log.clone(),
        refusal_log: Bounded::new(options.refusal_log_per_second),
        oidc: options.oidc.clone(),
        deciders: options.deciders,
        trust: exec.trust.clone(),
    }));

    let report_log = log.clone();
    let report = Box::new(
        move |job: &str, result: &Result<JobOutcome, ExecuteError>| match result {
            Ok(o) => report_log(&format!(
                "serve: job {job} {:?}{}",
                o.status,
                o.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )),
            Err(e) => report_log(&format!("serve: job {job} cannot run: {e}")),
        },
    );
    let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(exec, worker, report);
    let worker = tokio::spawn(async move {
        worker
            .run(async {
                let _ = worker_stopped.await;
            })
            .await
    });

    let connections = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let router = server.clone().router(options.tls.is_some());
    let tls = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(true);
    tokio::pin!(shutdown);
    let mut worker = Some(worker);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: pass.
                        log(&format!("serve: accept failed: {e}"));
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    server.refuse_connection(stream, peer);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let routes = TowerToHyperService::new(router.clone());
                // The handlers see the peer's address (`ConnectInfo`).
                let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    hyper::service::Service::call(&routes, request)
                });
                let watcher = graceful.watcher();
                let http = http.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => {
                            let _ = watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await;
                        }
                        // The handshake within the header timeout: a client
                        // that never finishes it holds its slot no longer.
                        Some(tls) => {
                            if let Ok(Ok(stream)) = tokio::time::timeout(HEADER_TIMEOUT, tls.accept(stream)).await {
                                let _ = watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await;
                            }
                        }
                    }
                    drop(permit);
                });
            }
            ended = async { worker.as_mut().expect("the worker runs").await } => {
                worker = None;
                let error = match ended {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(e),
                    Err(panic) => Some(StoreError::Decode { what: "worker task", detail: panic.to_string() }),
                };
                if let Some(e) = error {
                    log(&format!("serve: the worker stopped: {e}; shutting down"));
                    drop(listener);
                    server.0.streams.close();
                    let _ = tokio::time::timeout(options.grace, graceful.shutdown()).await;
                    return Err(e.into());
                }
                break;
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    log("serve: shutting down; requests under way may finish");
    server.0.streams.close();
    if tokio::time::timeout(options.grace, graceful.shutdown())
        .await
        .is_err()
    {
        log("serve: requests still under way after the grace period were cut");
    }
    let _ = stop_worker.send(());
    if let Some(worker) = worker {
        if let Ok(Err(e)) = worker.await {
            return Err(e.into());
        }
    }
    log("serve: stopped; jobs under way are resumable");
    Ok(())
}

#[utoipa::path(post, path = "/webhooks/{name}", tag = "webhooks",
    params(("name" = String, Path, description = "The webhook's name"),
        ("token" = String, Query, description = "The webhook's token (its secret URL)")),
    request_body(content = Object, description = "An Azure Monitor alert (common schema), or any JSON the runbook reads"),
    responses((status = 202, description = "The jobs it started (or attached to)", body = super::Accepted),
        (status = 401, description = "A missing or wrong webhook token, or a bad signature"),
        (status = 409, description = "The plan is busy and the webhook refuses to queue"),
        (status = 413, description = "The body is over the limit"),
        (status = 429, description = "Too many deliveries, or too many refusals from the address")))]
pub(crate) async fn webhook(
    State(server): State<Server>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let received = Instant::now();
    let source = peer.ip();
    // The path, never the query: the query holds the token.
    let what = format!("POST /webhooks/{name}");
    if let Some(throttled) = server.throttled(source, &what) {
        return throttled;
    }
    let Ok(Query(query)) = query else {
        return server.refuse(
            source,
            &what,
            Refusal::Malformed("the query string cannot be read".into()),
        );
    };
    // Before the body: an unauthenticated request never has it buffered.
    let authorized = match server.0.intake.authenticate(&name, &query).await {
        Ok(authorized) => authorized,
        Err(refusal) => return server.refuse(source, &what, refusal),
    };
    let body = match read_body(&headers, body).await {
        Ok(body) => body,
        Err(refusal) => return server.refuse(source, &what, refusal),
    };
    let delivery = Delivery {
        webhook: &name,
        query: &query,
        headers: &headers,
        body: &body,
        received,
    };
    match server.0.intake.deliver(authorized, delivery).await {
        Ok(accepted) => {
            (server.0.log)(&format!(
                "serve: {what}: {} job(s) {:?}{}{}",
                accepted.job_ids.len(),
                accepted.job_ids,
                if accepted.duplicate {
                    " (duplicate)"
                } else if accepted.attached {
                    " (attached: its plan is busy with it)"
                } else if accepted.queued_behind.is_some() {
                    " (queued: its plan is busy)"
                } else {
                    ""
                },
                accepted
                    .ignored
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
            ));
            (StatusCode::ACCEPTED, Json(accepted)).into_response()
        }
        Err(refusal) => server.refuse(source, &what, refusal),
    }
}

/// Reads a body of at most `MAX_BODY` bytes within `BODY_TIMEOUT`.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, Refusal> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(Refusal::TooLarge(MAX_BODY));
    }
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await {
        Err(_) => Err(Refusal::SlowClient),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                Err(Refusal::TooLarge(MAX_BODY))
            } else {
                Err(Refusal::Malformed(format!("the body cannot be read: {e}")))
            }
        }
    }
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The job store answers", body = String, content_type = "text/plain"),
        (status = 503, description = "The job store does not answer", body = String, content_type = "text/plain")))]
pub(crate) async fn healthz(State(server): State<Server>) -> Response {
    match server.0.intake.webhooks.store().list(None, 1).await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("job store: {e}\n")).into_response(),
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 503, description = "The job store does not answer")))]
pub(crate) async fn metrics(State(server): State<Server>) -> Response {
    let intake = &server.0.intake;
    match intake
        .metrics
        .render(intake.webhooks.store().as_ref())
        .await
    {
        Ok(mut text) => {
            text.push_str(&server.streams().gauges());
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("job store: {e}\n")).into_response(),
    }
}
