//! `drbook fabric`: the operator's view of the embedded simulator, like the
//! portal's. One file per subcommand, each with its own `run`.

mod fault;
mod history;
mod init;
mod jobs;
mod op;
mod serve_arm;
mod show;

use super::{Global, InputError, Outcome};
use clap::{Args, Subcommand};
use drbook_fabric_sim::{SchemaError, SimulatorError};

#[derive(Args)]
pub struct FabricArgs {
    #[command(subcommand)]
    command: FabricCommand,
}

#[derive(Subcommand)]
enum FabricCommand {
    /// Create the fabric: the demo estate (`--demo`) or your own (`--estate FILE`).
    Init(init::InitArgs),
    /// One row per VM: where it runs, its state, health, RPO, allowed operations.
    Show,
    /// Start an operation on one or more VMs, as an operator would in the portal.
    Op(op::OpArgs),
    /// The audit trail: every operation ever started on this fabric.
    History,
    /// Site Recovery's jobs of the Azure vault (`replicationJobs`), newest first.
    Jobs(jobs::JobsArgs),
    /// Inject (or clear) faults: failing operations, region outages, degraded replication.
    Fault(fault::FaultArgs),
    /// Back to the freshly initialised estate (the history is kept).
    Reset,
    /// Serve this fabric behind Site Recovery's ARM routes over HTTPS, with a token endpoint.
    ServeArm(serve_arm::ServeArmArgs),
}

pub async fn run(global: &Global, args: FabricArgs) -> anyhow::Result<Outcome> {
    match args.command {
        FabricCommand::Init(args) => init::run(global, args),
        FabricCommand::Show => show::run(global).await,
        FabricCommand::Op(args) => op::run(global, args).await,
        FabricCommand::History => history::run(global),
        FabricCommand::Jobs(args) => jobs::run(global, args).await,
        FabricCommand::Fault(args) => fault::run(global, args),
        FabricCommand::Reset => init::reset(global),
        FabricCommand::ServeArm(args) => serve_arm::run(global, args).await,
    }
}

/// A bad estate, or a store that is missing, present, corrupt or newer, is
/// the operator's to fix (exit code 2); anything else is a failure (1).
fn classify(err: SimulatorError) -> anyhow::Error {
    match err {
        SimulatorError::Estate(_)
        | SimulatorError::Store(
            SchemaError::NotInitialised { .. }
            | SchemaError::AlreadyInitialised { .. }
            | SchemaError::Corrupt { .. }
            | SchemaError::NewerSchema { .. },
        ) => InputError::new(err.to_string()).into(),
        other => other.into(),
    }
}

/// Who started an operation from the command line, for the audit trail,
/// and which command did: initiators are unique per request (the `Fabric`
/// port's contract), since a backend takes a refused start for the
/// operation its initiator already started (Azure's, by the client request
/// id derived from it), so a second `fabric op` of the same user must not
/// pass for the first.
fn initiator() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "operator".to_string());
    let command = uuid::Uuid::now_v7();
    format!("cli:{user}/{command}")
}
