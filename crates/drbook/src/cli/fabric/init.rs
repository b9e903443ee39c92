//! `drbook fabric init` and `drbook fabric reset`.

use super::{classify, Global, Outcome};
use crate::cli::InputError;
use anyhow::Context;
use clap::Args;
use drbook_fabric_sim::{demo_estate, demo_plan_path, demo_plan_toml, Estate, Simulator};
use std::path::PathBuf;

#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["demo", "estate"])))]
pub struct InitArgs {
    /// The demo estate: a 3-tier app of 12 VMs, eastus → westus, and its
    /// recovery plan (written to `<data-dir>/plans/contoso-3tier.toml`).
    #[arg(long)]
    demo: bool,

    /// Your estate, as TOML: `regions = ["eastus", "westus"]` and one
    /// `[[vms]]` table per VM with name, role (optional), disk_size_gb,
    /// primary_region and recovery_region.
    #[arg(long, value_name = "FILE")]
    estate: Option<PathBuf>,

    /// Replace an existing fabric (its items and history are lost).
    #[arg(long)]
    force: bool,
}

pub fn run(global: &Global, args: InitArgs) -> anyhow::Result<Outcome> {
    let data_dir = global.data_dir()?;
    let estate = match &args.estate {
        Some(path) => {
            Estate::load(path).map_err(|e| InputError::new(format!("{}: {e}", path.display())))?
        }
        None => demo_estate(),
    };
    let sim =
        Simulator::init(&data_dir, &estate, args.force, global.time_scale()?).map_err(classify)?;
    drop(sim);
    let plan = if args.demo {
        let path = demo_plan_path(&data_dir);
        let dir = path.parent().unwrap_or(&data_dir);
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(&path, demo_plan_toml()?)
            .with_context(|| format!("cannot write the demo plan to {}", path.display()))?;
        Some(path)
    } else {
        None
    };
    let store = Simulator::store_path(&data_dir);
    if global.json {
        let json = serde_json::json!({ "store": store, "vms": estate.vms.len(), "regions": estate.regions, "plan": plan });
        println!("{json}");
    } else {
        println!(
            "fabric initialised at {}: {} VMs in {}",
            store.display(),
            estate.vms.len(),
            estate.regions.join(", ")
        );
        if let Some(plan) = plan {
            println!("recovery plan: {}", plan.display());
        }
    }
    Ok(Outcome::Success)
}

pub fn reset(global: &Global) -> anyhow::Result<Outcome> {
    let sim = crate::cli::open_fabric(global)?;
    sim.reset().map_err(classify)?;
    if global.json {
        println!("{}", serde_json::json!({ "reset": true }));
    } else {
        println!("fabric reset to its initial estate; faults cleared, history kept");
    }
    Ok(Outcome::Success)
}
