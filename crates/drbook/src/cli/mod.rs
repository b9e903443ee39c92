//! The `drbook` command line: a clap enum, one file per subcommand with its own
//! `run`. Raw flags are validated into ready objects here, at the edge; errors
//! get their context here and are printed once, in `main`.
//!
//! Exit codes: 0 success, 1 the job or operation failed or was refused,
//! 2 usage or input error (see [`InputError`]).

mod azure;
mod dry_run;
mod execute;
mod fabric;
mod jobs;
mod key;
mod lease;
mod modules;
mod pin;
mod plan;
mod progress;
mod remote;
mod report;
mod run;
mod runbook;
mod schedule;
mod serve;
mod store;
mod summary;
mod table;
mod token;
mod webhook;
mod worker;
mod workers;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use crate::config::{AzureOverrides, Config, FabricChoice, Overrides, StoreChoice};
use drbook_core::fabric::Fabric;
use drbook_core::store::JobStore;
use drbook_core::TimeScale;
use drbook_fabric_azure::AzureFabric;
use drbook_fabric_sim::Simulator;
use drbook_store_postgres::PostgresStore;
use drbook_store_sqlite::SqliteStore;

#[derive(Parser)]
#[command(
    name = "drbook",
    version,
    about = "Disaster-recovery runbooks, sandboxed in WebAssembly"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Flags every subcommand understands.
#[derive(Args, Clone, Debug)]
pub struct Global {
    /// Where drbook keeps its state (the simulator's fabric, caches).
    #[arg(long, global = true, env = "DRBOOK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// The configuration file (default: `<data-dir>/drbook.toml`, if any).
    #[arg(long, global = true, env = "DRBOOK_CONFIG")]
    pub config: Option<PathBuf>,

    /// The fabric backend (`[fabric] kind`): `simulator` or `azure`.
    #[arg(long, global = true, env = "DRBOOK_FABRIC")]
    pub fabric: Option<String>,

    /// Azure: the vault's subscription (`[fabric] subscription`).
    #[arg(long, global = true, env = "DRBOOK_AZURE_SUBSCRIPTION")]
    pub azure_subscription: Option<String>,

    /// Azure: the vault's resource group (`[fabric] resource-group`).
    #[arg(long, global = true, env = "DRBOOK_AZURE_RESOURCE_GROUP")]
    pub azure_resource_group: Option<String>,

    /// Azure: the Recovery Services vault (`[fabric] vault`).
    #[arg(long, global = true, env = "DRBOOK_AZURE_VAULT")]
    pub azure_vault: Option<String>,

    /// Azure: Site Recovery's api-version (`[fabric] api-version`; default 2025-08-01).
    #[arg(long, global = true, env = "DRBOOK_AZURE_API_VERSION")]
    pub azure_api_version: Option<String>,

    /// Azure: ARM's base URL (`[fabric] arm-endpoint`; default https://management.azure.com).
    #[arg(long, global = true, env = "DRBOOK_ARM_ENDPOINT")]
    pub arm_endpoint: Option<String>,

    /// Azure: the credentials to try, comma-separated (`[fabric] credential`; default chain).
    #[arg(long, global = true, env = "DRBOOK_AZURE_CREDENTIAL")]
    pub azure_credential: Option<String>,

    /// Azure: extra CA certificates to trust, PEM (`[fabric] ca-file`): an emulator's.
    #[arg(long, global = true, env = "DRBOOK_AZURE_CA_FILE")]
    pub azure_ca_file: Option<PathBuf>,

    /// Simulator speed (`[fabric] speed`): a factor (`600` runs ten simulated
    /// minutes per second) or `instant`; default 1.
    #[arg(long, global = true, env = "DRBOOK_SPEED")]
    pub speed: Option<TimeScale>,

    /// The job store backend (`[store] kind`): `sqlite` or `postgres`.
    #[arg(long, global = true, env = "DRBOOK_STORE")]
    pub store: Option<String>,

    /// The PostgreSQL job store's URL (`[store] url`), postgres://USER:PASSWORD@HOST:PORT/DATABASE;
    /// it makes `postgres` the default kind.
    #[arg(long, global = true, env = "DRBOOK_STORE_URL", hide_env_values = true)]
    pub store_url: Option<String>,

    /// The directory of the SQLite job store (`[store] path`; default: the
    /// data dir).
    #[arg(long, global = true, env = "DRBOOK_STORE_PATH")]
    pub store_path: Option<PathBuf>,

    /// The largest runbook module loaded, checked before it is compiled.
    #[arg(long, global = true, default_value = "32MiB", value_parser = drbook_runtime::parse_bytes)]
    pub module_bytes: usize,

    /// The most functions a runbook module may define, checked before it is
    /// compiled (compile time and memory grow with them).
    #[arg(long, global = true, default_value_t = 100_000)]
    pub module_functions: u64,

    /// A `drbook serve` to drive instead of the local job store
    /// (`drbook jobs list|show|logs|approve|reject|stop`): https://HOST:PORT.
    #[arg(long, global = true, env = "DRBOOK_SERVER")]
    pub server: Option<String>,

    /// The API token `--server` is reached with (`drbook token create`).
    #[arg(long, global = true, env = "DRBOOK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// `--server`: the CA certificate (PEM) its certificate is checked against.
    #[arg(long, global = true, env = "DRBOOK_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

    /// `--server`: the SHA-256 of its certificate, pinned (what `drbook serve
    /// --tls-self-signed` prints).
    #[arg(long, global = true, env = "DRBOOK_SERVER_FINGERPRINT")]
    pub server_fingerprint: Option<String>,

    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// The format of diagnostic logs on stderr, filtered by `RUST_LOG`
    /// (default `warn`; e.g. `RUST_LOG=drbook_jobs=debug,drbook_runtime=trace`).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// The resolved configuration, read once.
    #[arg(skip)]
    resolved: std::sync::OnceLock<Config>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    /// One JSON object per event, with its spans (job, request).
    Json,
}

/// Sends `tracing`'s events to stderr, filtered by `RUST_LOG`.
fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => logs.try_init(),
        LogFormat::Json => logs.json().try_init(),
    };
}

impl Global {
    /// The configuration: these flags (and their environment variables) over
    /// the configuration file over the defaults.
    pub fn config(&self) -> anyhow::Result<&Config> {
        if let Some(config) = self.resolved.get() {
            return Ok(config);
        }
        let overrides = Overrides {
            fabric: self.fabric.clone(),
            speed: self.speed,
            store: self.store.clone(),
            store_path: self.store_path.clone(),
            store_url: self.store_url.clone(),
            azure: AzureOverrides {
                subscription: self.azure_subscription.clone(),
                resource_group: self.azure_resource_group.clone(),
                vault: self.azure_vault.clone(),
                api_version: self.azure_api_version.clone(),
                arm_endpoint: self.arm_endpoint.clone(),
                credential: self.azure_credential.clone(),
                ca_file: self.azure_ca_file.clone(),
            },
        };
        let config = Config::load(&self.data_dir()?, self.config.as_deref(), &overrides)
            .map_err(|e| InputError::new(e.to_string()))?;
        Ok(self.resolved.get_or_init(|| config))
    }

    /// The time scale of the fabric (and of runbooks' sleeps).
    pub fn time_scale(&self) -> anyhow::Result<TimeScale> {
        Ok(self.config()?.time_scale())
    }

    /// The WebAssembly runtime, loading modules under `--module-bytes` and
    /// `--module-functions`, its compiled modules cached in the data dir
    /// (`cached`) or in memory only; runbooks' Azure calls sent with the
    /// azure backend's ARM client when `[fabric]` is azure (else they are
    /// `not-configured`).
    pub fn runtime(&self, cached: bool) -> anyhow::Result<drbook_runtime::Runtime> {
        let cache = if cached {
            Some(self.data_dir()?.join("cache"))
        } else {
            None
        };
        let runtime = drbook_runtime::Runtime::new(cache)
            .map_err(|e| anyhow::anyhow!("starting the WebAssembly runtime: {e:?}"))?
            .with_load_limits(drbook_runtime::LoadLimits {
                module_bytes: self.module_bytes as u64,
                functions: self.module_functions,
            });
        Ok(match &self.config()?.fabric {
            FabricChoice::Azure(config) => {
                let resources = drbook_fabric_azure::ArmResources::open(config).map_err(|e| {
                    InputError::new(format!(
                        "cannot send runbooks' Azure calls to {}: {e}",
                        config.arm_endpoint
                    ))
                })?;
                runtime.with_resources(resources)
            }
            FabricChoice::Simulator { .. } => runtime,
        })
    }

    /// `--data-dir`, else `DRBOOK_DATA_DIR`, else the platform data dir.
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.data_dir {
            Some(dir) => Ok(dir.clone()),
            None => dirs::data_dir().map(|d| d.join("drbook")).ok_or_else(|| {
                InputError::new("cannot find a data directory on this platform; pass --data-dir DIR or set DRBOOK_DATA_DIR").into()
            }),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Inspect and drive the embedded Site Recovery simulator.
    Fabric(fabric::FabricArgs),
    /// Check recovery plan files.
    Plan(plan::PlanArgs),
    /// Run a runbook against a recovery plan.
    Run(run::RunArgs),
    /// Write, build and test runbooks; inspect, sign and verify them; push them to and pull them from registries.
    Runbook(runbook::RunbookArgs),
    /// Make keys that sign runbooks.
    Key(key::KeyArgs),
    /// Write a job's signed evidence report (HTML, PDF, JSON, Markdown), or verify one.
    Report(report::ReportArgs),
    /// List, follow, resume, approve and stop jobs.
    Jobs(jobs::JobsArgs),
    /// Run jobs from the job store: new, interrupted and woken ones.
    Worker(worker::WorkerArgs),
    /// List the workers: what each holds, its last heartbeat, the lapsed ones.
    Workers(workers::WorkersArgs),
    /// Serve webhooks and alerts: each delivery starts jobs, run here.
    Serve(serve::ServeArgs),
    /// Create, list, enable, disable and delete webhooks.
    Webhook(webhook::WebhookArgs),
    /// Create, list and revoke the API tokens of `drbook serve`.
    Token(token::TokenArgs),
    /// Create, list, pause, resume and delete schedules: a job at each tick of a cron pattern.
    Schedule(schedule::ScheduleArgs),
    /// Check the Azure backend: the principal, its tenant, and the vault.
    Azure(azure::AzureArgs),
    /// The job store itself: migrate its schema.
    Store(store::StoreArgs),
}

/// An error in what the operator asked for (exit code 2), as opposed to an
/// operation or job that failed (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

impl InputError {
    pub fn new(message: impl Into<String>) -> Self {
        InputError(message.into())
    }
}

/// Opens the simulator's fabric in the data directory, for the commands
/// only the simulator has (`fabric init`, `fault`, `reset`, `history`,
/// `serve-arm`): on another backend they say so, and what to use instead.
pub fn open_fabric(global: &Global) -> anyhow::Result<Simulator> {
    let data_dir = global.data_dir()?;
    match &global.config()?.fabric {
        FabricChoice::Simulator { time_scale } => Simulator::open(&data_dir, *time_scale)
            .map_err(|e| InputError::new(e.to_string()).into()),
        FabricChoice::Azure(_) => Err(InputError::new(
            "this command needs the simulator ([fabric] kind = \"simulator\"), and this host drives \
             Azure ([fabric] kind = \"azure\"): Azure keeps its own estate, faults and history. \
             Use `drbook fabric show` and `drbook fabric op` on Azure, `drbook fabric jobs` \
             (Site Recovery's jobs) for its history, or --fabric simulator for the simulator",
        )
        .into()),
    }
}

/// Opens the configured fabric, whichever backend it is: what `run`,
/// `worker`, `serve`, `fabric show` and `fabric op` drive.
pub fn open_backend(global: &Global) -> anyhow::Result<Arc<dyn Fabric>> {
    match &global.config()?.fabric {
        FabricChoice::Simulator { .. } => Ok(Arc::new(open_fabric(global)?)),
        FabricChoice::Azure(config) => Ok(Arc::new(open_azure(config)?)),
    }
}

/// The azure backend of `config`.
pub fn open_azure(config: &drbook_fabric_azure::AzureConfig) -> anyhow::Result<AzureFabric> {
    AzureFabric::open(config).map_err(|e| {
        InputError::new(format!(
            "cannot use the Azure vault {}: {e}",
            config.vault_path()
        ))
        .into()
    })
}

/// Opens the configured job store. PostgreSQL's is opened on this
/// command's runtime, whose thread this call lends it (`block_in_place`:
/// the commands that open a store are not in a hurry, and stay sync).
pub fn open_store(global: &Global) -> anyhow::Result<Arc<dyn JobStore>> {
    match &global.config()?.store {
        StoreChoice::Sqlite { dir } => Ok(Arc::new(SqliteStore::open(dir)?)),
        StoreChoice::Postgres { url } => {
            let open = PostgresStore::open(url);
            let store =
                tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(open))
                    .map_err(|e| InputError::new(format!("cannot open the job store: {e}")))?;
            Ok(Arc::new(store))
        }
    }
}

pub use execute::{execution, print_outcome, run_job_here, Host, Kept, RunOptions};

/// Who runs this command, for triggers and decisions.
pub fn who() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "operator".to_string())
}

/// How a subcommand ended when it did not fail outright.
pub enum Outcome {
    Success,
    /// The job or operation failed; the details were already printed.
    Failed,
}

pub fn main() -> ExitCode {
    end_quietly_on_a_closed_stdout();
    let cli = Cli::parse();
    init_logs(cli.global.log_format);
    // One runtime for the whole process, whatever the command.
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|tokio| tokio.block_on(dispatch(cli)));
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit_code_of(&err))
        }
    }
}

/// Ends the process quietly, as Unix tools do, when the reader of its
/// output went away (`drbook jobs list | head`): `println!` panics on the
/// broken pipe, and this hook exits instead of printing the panic.
///
/// Not by SIGPIPE's default action, which Rust's runtime leaves ignored on
/// purpose: with it, a write to a socket whose peer has gone (a webhook
/// client that hangs up before its answer, an ARM connection dropped) kills
/// the whole process instead of failing that one write. `drbook serve` and
/// `fabric serve-arm` died that way.
fn end_quietly_on_a_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    let global = &cli.global;
    match cli.command {
        Command::Fabric(args) => fabric::run(global, args).await,
        Command::Plan(args) => plan::run(global, args).await,
        Command::Run(args) => run::run(global, args).await,
        Command::Runbook(args) => runbook::run(global, args).await,
        Command::Key(args) => key::run(global, args),
        Command::Report(args) => report::run(global, args).await,
        Command::Jobs(args) => jobs::run(global, args).await,
        Command::Worker(args) => worker::run(global, args).await,
        Command::Workers(args) => workers::run(global, args).await,
        Command::Serve(args) => serve::run(global, args).await,
        Command::Webhook(args) => webhook::run(global, args).await,
        Command::Token(args) => token::run(global, args).await,
        Command::Schedule(args) => schedule::run(global, args).await,
        Command::Azure(args) => azure::run(global, args).await,
        Command::Store(args) => store::run(global, args).await,
    }
}

fn exit_code_of(err: &anyhow::Error) -> u8 {
    use drbook_core::fabric::FabricError;
    for cause in err.chain() {
        if cause.is::<InputError>() {
            return 2;
        }
        if let Some(fabric) = cause.downcast_ref::<FabricError>() {
            return match fabric {
                FabricError::ItemNotFound { .. }
                | FabricError::OperationNotFound { .. }
                | FabricError::RecoveryPointNotFound { .. }
                | FabricError::InvalidRequest { .. } => 2,
                _ => 1,
            };
        }
    }
    1
}
