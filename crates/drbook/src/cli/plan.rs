//! `drbook plan validate`: checks a plan file on its own and against the
//! fabric. `drbook plan check`: that, and each VM's current RPO against its
//! objective, before a drill. `drbook plan import --from-azure NAME`: writes
//! a plan file from one of the vault's Site Recovery recovery plans.

use anyhow::Context;
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Global, InputError, Outcome};
use crate::config::FabricChoice;
use drbook_core::fabric::ProtectedItem;
use drbook_core::plan::{check_against, rpo_warnings, RecoveryPlan};
use drbook_fabric_azure::ImportError;

#[derive(Args)]
pub struct PlanArgs {
    #[command(subcommand)]
    command: PlanCommand,
}

#[derive(Subcommand)]
enum PlanCommand {
    /// Checks a recovery plan: structure (groups, VMs) and the fabric's VMs.
    Validate {
        /// The plan file (TOML).
        plan: PathBuf,
    },
    /// Pre-flight: what `validate` checks, and whether each VM's current RPO
    /// is already over its objective (the plan's `rpo`, or its group's).
    /// Exit codes: 0 the plan holds and every VM is within its RPO
    /// objective; 1 at least one VM is not (each named in a warning);
    /// 2 the plan is invalid or does not hold against the fabric.
    Check {
        /// The plan file (TOML).
        plan: PathBuf,
    },
    /// Writes a plan file from a recovery plan of the Azure vault
    /// (`replicationRecoveryPlans/NAME`): its boot groups in order, script
    /// and runbook actions as named steps, manual actions as manual steps.
    Import {
        /// The recovery plan's name in the vault.
        #[arg(long, value_name = "NAME")]
        from_azure: String,
        /// The plan file to write (default: the plan on stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace `--out` if it exists.
        #[arg(long, requires = "out")]
        force: bool,
    },
}

pub async fn run(global: &Global, args: PlanArgs) -> anyhow::Result<Outcome> {
    match args.command {
        PlanCommand::Validate { plan } => validate(global, &plan).await,
        PlanCommand::Check { plan } => check(global, &plan).await,
        PlanCommand::Import {
            from_azure,
            out,
            force,
        } => import(global, &from_azure, out.as_deref(), force).await,
    }
}

/// The plan at `path`, checked on its own and against the fabric's items.
async fn load_against_fabric(
    global: &Global,
    path: &Path,
) -> anyhow::Result<(RecoveryPlan, Vec<ProtectedItem>)> {
    let plan = RecoveryPlan::load(path).map_err(|e| InputError::new(e.to_string()))?;
    let fabric = super::open_backend(global)?;
    let items = fabric.list_items_without_points().await?;
    check_against(&plan, &items).map_err(|e| InputError::new(e.to_string()))?;
    Ok((plan, items))
}

async fn validate(global: &Global, path: &Path) -> anyhow::Result<Outcome> {
    let (plan, _) = load_against_fabric(global, path).await?;
    let vms = plan.vms().count();
    if global.json {
        println!(
            "{}",
            serde_json::json!({ "plan": plan.name, "valid": true, "groups": plan.groups.len(), "vms": vms })
        );
    } else {
        println!(
            "plan `{}` is valid: {} groups, {vms} VMs, {} → {}",
            plan.name,
            plan.groups.len(),
            plan.primary_region,
            plan.recovery_region
        );
    }
    Ok(Outcome::Success)
}

async fn check(global: &Global, path: &Path) -> anyhow::Result<Outcome> {
    let (plan, items) = load_against_fabric(global, path).await?;
    let warnings = rpo_warnings(&plan, &items);
    let with_objective = plan
        .vms()
        .filter(|vm| plan.objectives_of(vm).rpo.is_some())
        .count();
    if global.json {
        let doc = serde_json::json!({
            "plan": plan.name,
            "valid": true,
            "vms": plan.vms().count(),
            "vmsWithRpoObjective": with_objective,
            "warnings": warnings,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!(
            "plan `{}` holds against the fabric: {} groups, {} VMs ({with_objective} with an RPO objective)",
            plan.name,
            plan.groups.len(),
            plan.vms().count()
        );
        for warning in &warnings {
            println!("warning: {warning}");
        }
        if with_objective == 0 {
            println!(
                "note: the plan sets no RPO objective; add `rpo = \"15m\"` to the plan or to a group to check one"
            );
        } else if warnings.is_empty() {
            println!("every VM is within its RPO objective now");
        }
    }
    Ok(if warnings.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

async fn import(
    global: &Global,
    name: &str,
    out: Option<&Path>,
    force: bool,
) -> anyhow::Result<Outcome> {
    let FabricChoice::Azure(config) = &global.config()?.fabric else {
        return Err(InputError::new(
            "plan import --from-azure reads a recovery plan of an Azure vault, and this host \
             drives the simulator: configure the azure backend ([fabric] kind = \"azure\" in \
             drbook.toml, or --fabric azure with --azure-subscription, --azure-resource-group \
             and --azure-vault); the simulator's plans are plan files already",
        )
        .into());
    };
    if let Some(path) = out.filter(|p| p.exists() && !force) {
        return Err(exists(path).into());
    }
    let fabric = super::open_azure(config)?;
    let imported = fabric.import_plan(name).await.map_err(|e| match e {
        ImportError::Fabric(e) => anyhow::Error::new(e),
        input => InputError::new(input.to_string()).into(),
    })?;
    let text = plan_toml(&imported.plan)?;
    // What is written must read back as the plan it is, and hold against
    // the vault as `plan validate` checks it.
    let plan = RecoveryPlan::parse(&text, &format!("the import of `{name}`"))
        .map_err(|e| InputError::new(e.to_string()))?;
    let items = drbook_core::fabric::Fabric::list_items_without_points(&fabric).await?;
    check_against(&plan, &items).map_err(|e| InputError::new(e.to_string()))?;
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    match out {
        Some(path) => write_plan(path, &text, force)?,
        None if global.json => {}
        None => print!("{text}"),
    }
    let steps = plan.groups.iter().flat_map(|g| g.pre.iter().chain(&g.post));
    let manual = steps.clone().filter(|s| s.manual.is_some()).count();
    if global.json {
        println!(
            "{}",
            serde_json::json!({
                "plan": plan,
                "file": out.map(|p| p.display().to_string()),
                "notes": imported.notes,
            })
        );
    } else if let Some(path) = out {
        println!(
            "wrote plan `{}` to {}: {} groups, {} VMs, {} steps ({manual} manual), {} → {}",
            plan.name,
            path.display(),
            plan.groups.len(),
            plan.vms().count(),
            steps.count(),
            plan.primary_region,
            plan.recovery_region
        );
    }
    Ok(Outcome::Success)
}

/// `plan` as TOML, written as people write plans: a step that is only a
/// name as its name (`post = ["check-db"]`), not a table of its own, and
/// no empty step lists.
fn plan_toml(plan: &RecoveryPlan) -> anyhow::Result<String> {
    let mut value = toml::Value::try_from(plan).context("writing the plan as TOML")?;
    let groups = value.get_mut("groups").and_then(toml::Value::as_array_mut);
    let tables = groups
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_table_mut);
    for group in tables {
        for key in ["pre", "post"] {
            if group
                .get(key)
                .and_then(toml::Value::as_array)
                .is_some_and(Vec::is_empty)
            {
                group.remove(key);
            }
            let steps = group.get_mut(key).and_then(toml::Value::as_array_mut);
            for step in steps.into_iter().flatten() {
                let name = match step.as_table() {
                    Some(table) if table.len() == 1 => table.get("name").cloned(),
                    _ => None,
                };
                if let Some(name) = name {
                    *step = name;
                }
            }
        }
    }
    toml::to_string(&value).context("writing the plan as TOML")
}

/// Writes `text` to `path`; without `force`, only if nothing is there (a
/// file that appeared since the check is not replaced either).
fn write_plan(path: &Path, text: &str, force: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => exists(path),
        _ => InputError::new(format!("cannot write {}: {e}", path.display())),
    })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn exists(path: &Path) -> InputError {
    InputError::new(format!(
        "{} exists; pass --force to replace it, or choose another --out",
        path.display()
    ))
}
