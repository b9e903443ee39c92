//! `drbook serve`: the webhook server, with a worker and the scheduler of
//! the store's schedules in the same process.
//! Serves the API too (its routes behind API tokens, `drbook token`).
//! Prints `listening on http://ADDR` (`https://` with TLS) once bound (with
//! `--listen 127.0.0.1:0`, the port chosen), then, with a self-signed
//! certificate, `fingerprint SHA256` (what clients pin). Ctrl-C or SIGTERM
//! stops it gracefully: every job under way stays resumable.

use clap::Args;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

use super::{execution, Global, InputError, Outcome, RunOptions};
use crate::config::SecretSource;
use drbook_jobs::{Scheduler, WorkerOptions};
use drbook_runtime::{parse_duration, Observer};
use drbook_triggers::{
    serve, Deciders, Oidc, OidcConfig, RateLimit, ServeOptions, MAX_CONNECTIONS, MAX_STREAMS,
};

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
    /// Live streams (`/api/v1/jobs/{id}/events`) served at once; beyond
    /// this one gets 503. Each is a connection too.
    #[arg(long, default_value_t = MAX_STREAMS)]
    max_streams: usize,
    /// Refused requests per second (bursts of twice that) an address may
    /// make with bad, expired or disabled tokens or unknown webhooks; then
    /// it gets 429 until its rate drops.
    #[arg(long, default_value_t = 10.0)]
    refusals_per_source: f64,
    /// Signed deliveries whose timestamp is further than this from now are
    /// refused, and their message ids remembered this long.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    replay_window: Duration,
    /// Serve HTTPS with this certificate chain (PEM; `[serve] tls-cert`).
    #[arg(long, env = "DRBOOK_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM; `[serve] tls-key`).
    #[arg(long, env = "DRBOOK_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate made now (for a first start): its CA
    /// is written to <data-dir>/serve-ca.pem and the certificate's SHA-256
    /// printed, for clients to trust (`--ca-cert`) or pin
    /// (`--server-fingerprint`).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    tls_self_signed: bool,
    /// Four eyes: whoever started a job may not decide its manual step
    /// (`[console] four-eyes`).
    #[arg(long)]
    four_eyes: bool,
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
    if args.max_streams == 0 {
        return Err(InputError::new("--max-streams must be at least 1").into());
    }
    {
        let tls = tls(global, &args)?;
        let oidc = oidc(global)?;
        let four_eyes = args.four_eyes || global.config()?.four_eyes;
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
            max_streams: args.max_streams,
            refusals_per_source: RateLimit::per_second(args.refusals_per_source),
            replay_window: args.replay_window,
            tls: tls.as_ref().map(|t| t.config.clone()),
            oidc: oidc.clone(),
            deciders: if four_eyes {
                Deciders::NotTheStarter
            } else {
                Deciders::Any
            },
            ..ServeOptions::default()
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("listening on {scheme}://{}", listener.local_addr()?);
        if let Some(fingerprint) = tls.as_ref().and_then(|t| t.fingerprint.as_deref()) {
            println!("fingerprint {fingerprint}");
        }
        eprintln!("serve: job store {}", exec.store.location());
        if let Some(oidc) = &oidc {
            eprintln!("serve: the console signs in with {} too", oidc.issuer());
        }
        if four_eyes {
            eprintln!("serve: four eyes: whoever started a job may not decide its manual step");
        }
        if exec.store.tokens().await?.is_empty() {
            eprintln!(
                "serve: no API token yet: every route but webhooks and /healthz needs one; on this host, \
                 `drbook token create --name admin --scope admin` makes the first"
            );
        }
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

/// The server's TLS configuration, and the fingerprint to print when it
/// made its certificate.
struct Tls {
    config: Arc<rustls::ServerConfig>,
    fingerprint: Option<String>,
}

/// TLS as the flags, else `[serve]`, ask for; `None`: plain HTTP. A
/// self-signed certificate is the ARM emulator's kind (drbook-arm-emulator's
/// `tls`): a CA made now, and a certificate it signs for localhost.
fn tls(global: &Global, args: &ServeArgs) -> anyhow::Result<Option<Tls>> {
    if args.tls_self_signed {
        let made = drbook_arm_emulator::tls::make("drbook serve")
            .map_err(|e| anyhow::anyhow!("the self-signed certificate: {e}"))?;
        let ca = global.data_dir()?.join("serve-ca.pem");
        std::fs::write(&ca, &made.ca_pem)
            .map_err(|e| InputError::new(format!("cannot write {}: {e}", ca.display())))?;
        eprintln!(
            "serve: a self-signed certificate for localhost and 127.0.0.1; clients pin \
             --server-fingerprint {} or trust --ca-cert {}",
            made.fingerprint,
            ca.display()
        );
        return Ok(Some(Tls {
            config: made.server,
            fingerprint: Some(made.fingerprint),
        }));
    }
    let files = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        _ => global.config()?.serve_tls.clone(),
    };
    let Some((cert, key)) = files else {
        return Ok(None);
    };
    let bad = |file: &Path, e: &dyn std::fmt::Display| {
        InputError::new(format!("the TLS file {}: {e}", file.display()))
    };
    let chain = CertificateDer::pem_file_iter(&cert)
        .map_err(|e| bad(&cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&cert, &e))?;
    if chain.is_empty() {
        return Err(bad(&cert, &"no PEM certificate in it").into());
    }
    let private = PrivateKeyDer::from_pem_file(&key).map_err(|e| bad(&key, &e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            InputError::new(format!(
                "{} and {} do not make a TLS certificate: {e}",
                cert.display(),
                key.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Tls {
        config: Arc::new(config),
        fingerprint: None,
    }))
}

/// The OpenID Connect sign-in `[oidc]` configures, its secret read from
/// where it says.
fn oidc(global: &Global) -> anyhow::Result<Option<Arc<Oidc>>> {
    let Some(settings) = global.config()?.oidc.clone() else {
        return Ok(None);
    };
    let client_secret = match &settings.secret {
        SecretSource::Env(var) => std::env::var(var).map_err(|_| {
            InputError::new(format!(
                "[oidc] client-secret-env names {var}, which is not set: set it to the client secret of the app                  registration"
            ))
        })?,
        SecretSource::File(file) => std::fs::read_to_string(file).map_err(|e| {
            InputError::new(format!("[oidc] client-secret-file {}: {e}", file.display()))
        })?,
    };
    let ca_pem = match &settings.ca_file {
        Some(file) => Some(
            std::fs::read(file)
                .map_err(|e| InputError::new(format!("[oidc] ca-file {}: {e}", file.display())))?,
        ),
        None => None,
    };
    let config = OidcConfig {
        issuer: settings.issuer,
        client_id: settings.client_id,
        client_secret: client_secret.trim().to_string(),
        redirect_url: settings.redirect_url,
        ca_pem,
        roles: settings.roles,
    };
    let oidc = Oidc::new(config).map_err(|e| InputError::new(e.to_string()))?;
    Ok(Some(Arc::new(oidc)))
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
