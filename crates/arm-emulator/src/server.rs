//! Starting and serving: [`Emulator`] runs in-process (tests), [`serve`]
//! until a shutdown future resolves (`drbook fabric serve-arm`). Both bind
//! 127.0.0.1: HTTPS for ARM, plain HTTP for the token endpoint.
//!
//! A dropped connection (a fault) is the server's doing, not the handler's:
//! the handler applies the POST and marks its answer; the connection loop
//! sees the mark and closes the connection instead of writing the answer.

use crate::auth::random;
use crate::auth::Tokens;
use crate::config::{App, AppCredential, Budget, Config, HttpFaults};
use crate::counters::Counters;
use crate::routes::{self, DropConnection, Shared};
use crate::tls;
use crate::wire::Vault;
use drbook_fabric_sim::Simulator;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinSet;

/// The file the CA's PEM is written to, in the directory given at start.
pub const CA_FILE: &str = "arm-emulator-ca.pem";

/// The app registered when the configuration names none.
pub const DEFAULT_CLIENT_ID: &str = "00000000-0000-0000-0000-0000000000c1";
const DEFAULT_OBJECT_ID: &str = "00000000-0000-0000-0000-0000000000d1";

/// Why an emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(
        "cannot listen on 127.0.0.1:{port}: {source}; pick another port (0 takes any free one)"
    )]
    Bind { port: u16, source: std::io::Error },

    #[error("{0}")]
    Tls(String),

    #[error("cannot write the CA certificate to {}: {source}; check the directory's permissions", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where a running emulator is, and what a client needs to use it.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// `https://127.0.0.1:<port>`: ARM's `https://management.azure.com`.
    pub base_url: String,
    /// The CA certificate to trust, as a file and as text.
    pub ca_pem_path: PathBuf,
    pub ca_pem: String,
    /// The token endpoint over plain HTTP: `IDENTITY_ENDPOINT`.
    pub token_endpoint: String,
    /// The same endpoint over HTTPS (trusting the CA).
    pub token_endpoint_https: String,
    /// The secret the token endpoint (and the admin routes) want in
    /// `X-IDENTITY-HEADER`: `IDENTITY_HEADER`.
    pub identity_header: String,
    pub subscription: String,
    pub resource_group: String,
    pub vault: String,
    /// `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.RecoveryServices/vaults/{vault}`.
    pub vault_id: String,
    /// Entra ID's authority host, `AZURE_AUTHORITY_HOST`: the ARM endpoint,
    /// which serves `POST /{tenant}/oauth2/v2.0/token`.
    pub authority_host: String,
    /// The subscription's tenant.
    pub tenant: String,
    /// The applications the token endpoint knows, secrets included (the
    /// default one's is random): what a client is configured with.
    pub apps: Vec<App>,
}

impl Endpoints {
    /// The environment a client process needs: managed identity's App
    /// Service variables, Entra ID's authority host (for a client secret or
    /// workload identity), and the CA for clients that read `SSL_CERT_FILE`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("IDENTITY_ENDPOINT", self.token_endpoint.clone()),
            ("IDENTITY_HEADER", self.identity_header.clone()),
            ("AZURE_AUTHORITY_HOST", self.authority_host.clone()),
            ("SSL_CERT_FILE", self.ca_pem_path.display().to_string()),
        ]
    }
}

/// A running emulator. Dropping it stops it.
pub struct Emulator {
    shared: Arc<Shared>,
    endpoints: Endpoints,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    /// Starts serving `sim` on 127.0.0.1 (the ports of `config`; 0 for any)
    /// and writes the CA's PEM to `ca_dir/arm-emulator-ca.pem`.
    pub async fn start(
        sim: Simulator,
        config: Config,
        ca_dir: &Path,
    ) -> Result<Emulator, EmulatorError> {
        let (https, identity) = bind(&config).await?;
        let (shared, endpoints, tls) = prepare(sim, config, ca_dir, &https, &identity)?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(https, identity, tls, shared.clone(), async {
            let _ = stopped.await;
        }));
        Ok(Emulator {
            shared,
            endpoints,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The simulator behind it (faults, history, operation counts).
    pub fn sim(&self) -> &Simulator {
        &self.shared.sim
    }

    pub fn counters(&self) -> Counters {
        self.shared.counters.snapshot()
    }

    /// The network resource at `id` (a DNS record set, a Traffic Manager
    /// endpoint; any case), as a GET would answer it.
    pub fn network_resource(&self, id: &str) -> Option<serde_json::Value> {
        self.shared.network.get(id)
    }

    pub fn reset_counters(&self) {
        self.shared.counters.reset();
    }

    pub fn faults(&self) -> HttpFaults {
        self.shared.faults()
    }

    /// Replaces the HTTP faults; counting of every-Nth faults goes on.
    pub fn set_faults(&self, faults: HttpFaults) {
        self.shared.set_faults(faults);
    }

    /// Enforces `budget` from now on (full buckets), or none.
    pub fn set_budget(&self, budget: Option<Budget>) {
        self.shared.budget.set(budget);
    }

    pub fn budget(&self) -> Option<Budget> {
        self.shared.budget.get()
    }

    /// Every token issued so far is refused from now on (401
    /// `InvalidAuthenticationToken`).
    pub fn revoke_tokens(&self) {
        self.shared.tokens.revoke_all();
    }

    /// The lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.tokens.set_lifetime(lifetime);
    }

    /// A token as the token endpoint would issue it (counted as a fetch).
    pub fn issue_token(&self) -> String {
        self.shared.counters.with(|c| c.token_fetches += 1);
        self.shared.tokens.issue(self.shared.managed_identity()).0
    }

    /// Every token issued so far (by the token endpoint or
    /// [`Emulator::issue_token`]), revoked or expired ones too: a client's
    /// store and logs must hold none of them.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.tokens.issued()
    }

    /// Stops serving and waits until it has.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `sim` until `shutdown` resolves; `ready` is told where, once
/// listening.
pub async fn serve(
    sim: Simulator,
    config: Config,
    ca_dir: &Path,
    ready: impl FnOnce(&Endpoints),
    shutdown: impl Future<Output = ()>,
) -> Result<(), EmulatorError> {
    let (https, identity) = bind(&config).await?;
    let (shared, endpoints, tls) = prepare(sim, config, ca_dir, &https, &identity)?;
    ready(&endpoints);
    run(https, identity, tls, shared, shutdown).await;
    Ok(())
}

async fn bind(config: &Config) -> Result<(TcpListener, TcpListener), EmulatorError> {
    let listen = |port: u16| async move {
        TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|source| EmulatorError::Bind { port, source })
    };
    Ok((
        listen(config.port).await?,
        listen(config.identity_port).await?,
    ))
}

fn prepare(
    sim: Simulator,
    config: Config,
    ca_dir: &Path,
    https: &TcpListener,
    identity: &TcpListener,
) -> Result<(Arc<Shared>, Endpoints, tokio_rustls::TlsAcceptor), EmulatorError> {
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).unwrap_or_default();
    let tls = tls::make("drbook ARM emulator").map_err(EmulatorError::Tls)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EmulatorError::Io { path, source }
    };
    std::fs::create_dir_all(ca_dir).map_err(io(ca_dir))?;
    let ca_pem_path = ca_dir.join(CA_FILE);
    std::fs::write(&ca_pem_path, &tls.ca_pem).map_err(io(&ca_pem_path))?;

    let secret = config
        .identity_secret
        .clone()
        .unwrap_or_else(|| hex::encode(random::<16>()));
    let apps = if config.apps.is_empty() {
        vec![App {
            tenant: config.tenant.clone(),
            client_id: DEFAULT_CLIENT_ID.to_string(),
            object_id: DEFAULT_OBJECT_ID.to_string(),
            credential: AppCredential::Secret(hex::encode(random::<16>())),
        }]
    } else {
        config.apps.clone()
    };
    let base_url = format!("https://127.0.0.1:{}", port(https));
    let vault = Vault {
        subscription: config.subscription.clone(),
        resource_group: config.resource_group.clone(),
        name: config.vault.clone(),
    };
    let endpoints = Endpoints {
        base_url: base_url.clone(),
        ca_pem_path,
        ca_pem: tls.ca_pem.clone(),
        token_endpoint: format!("http://127.0.0.1:{}/msi/token", port(identity)),
        token_endpoint_https: format!("{base_url}/msi/token"),
        identity_header: secret.clone(),
        subscription: config.subscription.clone(),
        resource_group: config.resource_group.clone(),
        vault: config.vault.clone(),
        vault_id: vault.id(),
        authority_host: base_url.clone(),
        tenant: config.tenant.clone(),
        apps: apps.clone(),
    };
    let mut shared = Shared::new(
        sim,
        vault,
        base_url,
        config.page_size,
        config.retry_after_secs,
        Tokens::new(secret, config.token_lifetime),
        config.faults,
    );
    shared.recovery_plans = config.recovery_plans;
    shared.network = routes::Network::open(ca_dir);
    shared.tenant = config.tenant;
    shared.apps = apps;
    shared.without_role = config.without_role;
    let shared = Arc::new(shared);
    shared.budget.set(config.budget);
    Ok((
        shared,
        endpoints,
        tokio_rustls::TlsAcceptor::from(tls.server),
    ))
}

/// The accept loops of both listeners, until `shutdown`; then every
/// connection is cut.
async fn run(
    https: TcpListener,
    identity: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) {
    let arm = routes::router(shared.clone());
    let plain = routes::identity_router(shared);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = https.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let (tls, arm) = (tls.clone(), arm.clone());
                connections.spawn(async move {
                    let handshake = tokio::time::timeout(Duration::from_secs(10), tls.accept(stream));
                    if let Ok(Ok(stream)) = handshake.await {
                        connection(stream, arm).await;
                    }
                });
            }
            accepted = identity.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                connections.spawn(connection(stream, plain.clone()));
            }
            _ = &mut shutdown => break,
        }
        while connections.try_join_next().is_some() {}
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// One HTTP/1.1 connection; closed without an answer when a handler marks
/// its response [`DropConnection`].
async fn connection<S>(io: S, router: axum::Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let kill = Arc::new(Notify::new());
    let routes = TowerToHyperService::new(router);
    let marked = kill.clone();
    let service = hyper::service::service_fn(move |request| {
        let (routes, marked) = (routes.clone(), marked.clone());
        async move {
            let response = hyper::service::Service::call(&routes, request).await?;
            if response.extensions().get::<DropConnection>().is_some() {
                marked.notify_one();
                std::future::pending::<()>().await;
            }
            Ok::<_, Infallible>(response)
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).keep_alive(true);
    let served = http.serve_connection(TokioIo::new(io), service);
    tokio::select! {
        _ = served => {}
        _ = kill.notified() => {}
    }
}
