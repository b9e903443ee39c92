//! The demo estate (`drbook fabric init --demo`): Contoso's three-tier app,
//! twelve VMs replicating from `eastus` to `westus`, and the recovery plan that
//! fails it over tier by tier (databases, then app servers, then web servers).

use super::estate::{Estate, EstateVm};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub const DEMO_PLAN_NAME: &str = "contoso-3tier";
const PRIMARY: &str = "eastus";
const RECOVERY: &str = "westus";

/// One tier of the app: a group of the plan, in failover order.
struct Tier {
    group: &'static str,
    role: &'static str,
    /// VM names with their disk sizes (GB): reprotect time grows with them.
    vms: &'static [(&'static str, u32)],
    /// The check runbook that runs after the group.
    check: &'static str,
}

const TIERS: [Tier; 3] = [
    Tier {
        group: "databases",
        role: "database",
        vms: &[("sql-01", 2048), ("sql-02", 2048)],
        check: "check-databases",
    },
    Tier {
        group: "app",
        role: "app-server",
        vms: &[
            ("app-01", 256),
            ("app-02", 256),
            ("app-03", 256),
            ("app-04", 512),
        ],
        check: "check-app",
    },
    Tier {
        group: "web",
        role: "web-server",
        vms: &[
            ("web-01", 128),
            ("web-02", 128),
            ("web-03", 128),
            ("web-04", 128),
            ("web-05", 128),
            ("web-06", 128),
        ],
        check: "check-web",
    },
];

pub fn demo_estate() -> Estate {
    Estate {
        regions: vec![PRIMARY.to_string(), RECOVERY.to_string()],
        vms: TIERS
            .iter()
            .flat_map(|tier| {
                tier.vms.iter().map(|(name, disk_size_gb)| EstateVm {
                    name: name.to_string(),
                    role: tier.role.to_string(),
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
            .map(|tier| PlanGroup {
                name: tier.group,
                vms: tier.vms.iter().map(|(vm, _)| *vm).collect(),
                pre: Vec::new(),
                post: vec![tier.check],
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
