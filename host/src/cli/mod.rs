//! The `drbook` command line: a clap enum, one file per subcommand with its own
//! `run`. Raw flags are validated into ready objects here, at the edge; errors
//! get their context here and are printed once, in `main`.
//!
//! Exit codes: 0 success, 1 the job or operation failed or was refused,
//! 2 usage or input error (see [`InputError`]).

mod execute;
mod fabric;
mod jobs;
mod plan;
mod progress;
mod run;
mod runbook;
mod serve;
mod summary;
mod webhook;
mod worker;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::fabric::simulator::{Simulator, Speed};

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

    /// Simulator speed: a factor (`600` runs ten simulated minutes per
    /// second) or `instant`.
    #[arg(long, global = true, default_value = "1")]
    pub speed: Speed,

    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

impl Global {
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
    /// Inspect runbook files.
    Runbook(runbook::RunbookArgs),
    /// List, follow, resume, approve and stop jobs.
    Jobs(jobs::JobsArgs),
    /// Run jobs from the job store: new, interrupted and woken ones.
    Worker(worker::WorkerArgs),
    /// Serve webhooks and alerts: each delivery starts jobs, run here.
    Serve(serve::ServeArgs),
    /// Create, list, enable, disable and delete webhooks.
    Webhook(webhook::WebhookArgs),
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

/// Opens the simulator's fabric in the data directory.
pub fn open_fabric(global: &Global) -> anyhow::Result<Simulator> {
    let data_dir = global.data_dir()?;
    Simulator::open(&data_dir, global.speed).map_err(|e| InputError::new(e.to_string()).into())
}

pub use execute::{execution, print_outcome, run_job_here, Host, RunOptions};

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
    // End quietly when the reader of our output goes away (`drbook fabric
    // show | head`), as Unix tools do, instead of panicking on EPIPE.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of a signal, before any
    // thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fabric(args) => fabric::run(&cli.global, args),
        Command::Plan(args) => plan::run(&cli.global, args),
        Command::Run(args) => run::run(&cli.global, args),
        Command::Runbook(args) => runbook::run(&cli.global, args),
        Command::Jobs(args) => jobs::run(&cli.global, args),
        Command::Worker(args) => worker::run(&cli.global, args),
        Command::Serve(args) => serve::run(&cli.global, args),
        Command::Webhook(args) => webhook::run(&cli.global, args),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit_code_of(&err))
        }
    }
}

fn exit_code_of(err: &anyhow::Error) -> u8 {
    use crate::fabric::FabricError;
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
