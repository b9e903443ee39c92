//! `drbook serve`: the webhook server, with a worker and the scheduler of
//! the store's schedules in the same process.
//! Prints `listening on http://ADDR` once bound (with `--listen
//! 127.0.0.1:0`, the port chosen). Ctrl-C or SIGTERM stops it gracefully:
//! every job under way stays resumable.

use clap::Args;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

use super::{execution, Global, InputError, Outcome, RunOptions};
use drbook_jobs::{Scheduler, WorkerOptions};
use drbook_runtime::{parse_duration, Observer};
use drbook_triggers::{serve, RateLimit, ServeOptions, MAX_CONNECTIONS};

#[derive(Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Deliveries per second each webhook takes (bursts of twice that).
    #[arg(long, default_value_t = 1000.0)]
    rate_limit: f64,
    /// Connections served at once; beyond this a connection gets 503 and is
    /// closed at once.
    #[arg(long, default_value_t = MAX_CONNECTIONS)]
    max_connections: usize,
    /// Refused requests per second (bursts of twice that) an address may
    /// make with bad, expired or disabled tokens or unknown webhooks; then
    /// it gets 429 until its rate drops.
    #[arg(long, default_value_t = 10.0)]
    refusals_per_source: f64,
    /// Signed deliveries whose timestamp is further than this from now are
    /// refused, and their message ids remembered this long.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    replay_window: Duration,
    /// The bearer token of `GET /jobs/{id}`; the job API is off without it.
    #[arg(long, env = "DRBOOK_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// Jobs loaded at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How often the job store is polled for jobs other processes created.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    poll: Duration,
    #[command(flatten)]
    options: RunOptions,
}

pub async fn run(global: &Global, args: ServeArgs) -> anyhow::Result<Outcome> {
    if args.rate_limit.is_nan() || args.rate_limit <= 0.0 {
        return Err(InputError::new(
            "--rate-limit must be a positive number of deliveries per second",
        )
        .into());
    }
    if args.refusals_per_source.is_nan() || args.refusals_per_source <= 0.0 {
        return Err(InputError::new(
            "--refusals-per-source must be a positive number of refused requests per second",
        )
        .into());
    }
    if args.max_connections == 0 {
        return Err(InputError::new("--max-connections must be at least 1").into());
    }
    {
        let exec = execution(global, &args.options, super::Host::Worker, Observer::none())?;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| InputError::new(format!("cannot listen on {}: {e}", args.listen)))?;
        let mut worker = WorkerOptions::new(super::lease::owner("serve"));
        worker.concurrency = args.concurrency.max(1);
        worker.poll = args.poll;
        let options = ServeOptions {
            rate_limit: RateLimit::per_second(args.rate_limit),
            max_connections: args.max_connections,
            refusals_per_source: RateLimit::per_second(args.refusals_per_source),
            replay_window: args.replay_window,
            api_token: args.api_token.filter(|t| !t.is_empty()),
            ..ServeOptions::default()
        };
        println!("listening on http://{}", listener.local_addr()?);
        eprintln!(
            "serve: job store {}; job API {}",
            exec.store.location(),
            if options.api_token.is_some() {
                "on"
            } else {
                "off (set DRBOOK_API_TOKEN)"
            }
        );
        // Schedules fire here too, waking this process's worker.
        let wake = Arc::new(Notify::new());
        worker.wake = Some(wake.clone());
        let schedules = Scheduler::new(exec.store.clone()).waking(wake).spawn();
        let served = serve(listener, exec, worker, options, shutdown_signal()).await;
        schedules.abort();
        served?;
        Ok(Outcome::Success)
    }
}

/// Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
