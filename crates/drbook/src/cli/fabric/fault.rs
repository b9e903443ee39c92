//! `drbook fabric fault`: inject faults on demand. They are stored with the
//! fabric, so they hit whichever process drives it next.

use super::{Global, Outcome};
use clap::{Args, Subcommand, ValueEnum};
use drbook_core::fabric::Health;
use drbook_fabric_sim::Fault;

#[derive(Args)]
pub struct FaultArgs {
    #[command(subcommand)]
    fault: FaultCommand,
}

#[derive(Subcommand)]
enum FaultCommand {
    /// The next operation started on this VM fails.
    FailNext { vm: String },
    /// Refuse the next starts on this VM: nothing starts, the audit trail shows each refusal. A passing fault (Azure's throttling: the runbook sees `transient`) unless --permanent (Site Recovery's own refusal: `not-allowed`).
    RefuseNext {
        vm: String,
        /// How many starts to refuse.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        times: u32,
        /// Refuse as Site Recovery does for good (a quota, a policy), not as a passing fault.
        #[arg(long)]
        permanent: bool,
    },
    /// The next operation started on this VM hangs, even at `--speed instant`, until `drbook fabric fault clear`; then it ends as it would have.
    Stall { vm: String },
    /// This percentage of operations fails (chosen deterministically by operation id; 0 turns it off).
    FailPercent {
        #[arg(value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: u8,
    },
    /// Mark a region down: planned failover and reprotect to or from it are refused; unplanned failover works.
    RegionDown { region: String },
    /// End a region outage.
    RegionUp { region: String },
    /// Degrade a VM's replication health (planned failover is then refused).
    Degrade {
        vm: String,
        #[arg(long, value_enum, default_value = "warning")]
        health: HealthArg,
    },
    /// Remove every fault, and let stalled operations end.
    Clear,
}

#[derive(Clone, Copy, ValueEnum)]
enum HealthArg {
    Warning,
    Critical,
}

pub fn run(global: &Global, args: FaultArgs) -> anyhow::Result<Outcome> {
    let fault = match args.fault {
        FaultCommand::FailNext { vm } => Fault::FailNext { vm },
        FaultCommand::RefuseNext {
            vm,
            times,
            permanent,
        } => Fault::RefuseNext {
            vm,
            times,
            permanent,
        },
        FaultCommand::Stall { vm } => Fault::Stall { vm },
        FaultCommand::FailPercent { percent } => Fault::FailPercent(percent),
        FaultCommand::RegionDown { region } => Fault::RegionDown(region),
        FaultCommand::RegionUp { region } => Fault::RegionUp(region),
        FaultCommand::Degrade { vm, health } => Fault::Degrade {
            vm,
            health: match health {
                HealthArg::Warning => Health::Warning,
                HealthArg::Critical => Health::Critical,
            },
        },
        FaultCommand::Clear => Fault::Clear,
    };
    let sim = crate::cli::open_fabric(global)?;
    sim.set_fault(fault)?;
    let faults = sim.faults()?;
    if global.json {
        println!("{}", serde_json::to_string(&faults)?);
    } else {
        println!(
            "faults: {}",
            faults.summary().unwrap_or_else(|| "none".to_string())
        );
    }
    Ok(Outcome::Success)
}
