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
    /// Remove every fault.
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
