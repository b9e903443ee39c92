//! The demo estate (`drbook fabric init --demo`): Contoso's three-tier app,
//! twelve VMs replicating from `eastus` to `westus`, and the recovery plan that
//! fails it over tier by tier (databases, then app servers, then web servers).

use super::estate::{Estate, EstateVm};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub const DEMO_PLAN_NAME: &str = "contoso-3tier";
const PRIMARY: &str = "eastus";
const RECOVERY: &str = "westus";

/// The tiers in failover order: group name, VM role, VMs with disk sizes,
/// and the check runbook that runs after the group.
const TIERS: [(&str, &str, &[(&str, u32)], &str); 3] = [
    (
        "databases",
        "database",
        &[("sql-01", 2048), ("sql-02", 2048)],
        "check-databases",
    ),
    (
        "app",
        "app-server",
        &[
            ("app-01", 256),
            ("app-02", 256),
            ("app-03", 256),
            ("app-04", 512),
        ],
        "check-app",
    ),
    (
        "web",
        "web-server",
        &[
            ("web-01", 128),
            ("web-02", 128),
            ("web-03", 128),
            ("web-04", 128),
            ("web-05", 128),
            ("web-06", 128),
        ],
        "check-web",
    ),
];

pub fn demo_estate() -> Estate {
    Estate {
        regions: vec![PRIMARY.to_string(), RECOVERY.to_string()],
        vms: TIERS
            .iter()
            .flat_map(|(_, role, vms, _)| {
                vms.iter().map(|(name, disk_size_gb)| EstateVm {
                    name: name.to_string(),
                    role: role.to_string(),
                    disk_size_gb: *disk_size_gb,
                    primary_region: PRIMARY.to_string(),
                    recovery_region: RECOVERY.to_string(),
                })
            })
            .collect(),
    }
}

/// A recovery plan file, in the format the plan parser reads.
#[derive(Serialize)]
struct PlanFile {
    name: &'static str,
    primary_region: &'static str,
    recovery_region: &'static str,
    groups: Vec<PlanGroup>,
}

#[derive(Serialize)]
struct PlanGroup {
    name: &'static str,
    vms: Vec<&'static str>,
    pre: Vec<&'static str>,
    post: Vec<&'static str>,
}

/// The demo's recovery plan as TOML.
pub fn demo_plan_toml() -> Result<String, toml::ser::Error> {
    toml::to_string(&PlanFile {
        name: DEMO_PLAN_NAME,
        primary_region: PRIMARY,
        recovery_region: RECOVERY,
        groups: TIERS
            .iter()
            .map(|(name, _, vms, check)| PlanGroup {
                name,
                vms: vms.iter().map(|(vm, _)| *vm).collect(),
                pre: Vec::new(),
                post: vec![check],
            })
            .collect(),
    })
}

/// Where `init --demo` writes the demo plan: `<data-dir>/plans/contoso-3tier.toml`.
pub fn demo_plan_path(data_dir: &Path) -> PathBuf {
    data_dir
        .join("plans")
        .join(format!("{DEMO_PLAN_NAME}.toml"))
}
