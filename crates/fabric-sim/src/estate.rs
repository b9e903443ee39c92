//! The estate a fabric is initialised with: regions and VMs. It is read from
//! TOML (`drbook fabric init --estate FILE`), validated as a whole before the
//! store is touched, and kept in the store so that `reset` can start over.
//!
//! ```toml
//! regions = ["eastus", "westus"]
//!
//! [[vms]]
//! name = "sql-01"
//! role = "database"          # optional, free-form
//! disk_size_gb = 1024
//! primary_region = "eastus"
//! recovery_region = "westus"
//! ```

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Estate {
    pub regions: Vec<String>,
    pub vms: Vec<EstateVm>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstateVm {
    pub name: String,
    #[serde(default)]
    pub role: String,
    pub disk_size_gb: u32,
    pub primary_region: String,
    pub recovery_region: String,
}

impl Estate {
    /// `vms` (128 GB disks, no role) replicating `primary` → `recovery`: the
    /// estate tests and benchmarks build, where only names and count matter.
    pub fn replicating(
        primary: &str,
        recovery: &str,
        vms: impl IntoIterator<Item = String>,
    ) -> Estate {
        Estate {
            regions: vec![primary.to_string(), recovery.to_string()],
            vms: vms
                .into_iter()
                .map(|name| EstateVm {
                    name,
                    role: String::new(),
                    disk_size_gb: 128,
                    primary_region: primary.to_string(),
                    recovery_region: recovery.to_string(),
                })
                .collect(),
        }
    }
}

/// What is wrong with an estate, and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum EstateError {
    #[error("cannot read the estate file {}: {source}; check the path", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the estate file is not a valid estate: {0}\nit needs `regions = [\"eastus\", \"westus\"]` and one \
         [[vms]] table per VM with name, disk_size_gb, primary_region and recovery_region (role is optional)"
    )]
    Parse(#[from] toml::de::Error),

    #[error("the estate has no VMs; add a [[vms]] table with name, disk_size_gb, primary_region and recovery_region")]
    NoVms,

    #[error("the estate has a VM with an empty name; give every [[vms]] entry a name")]
    EmptyName,

    #[error("region `{0}` is listed twice in `regions`; list each region once")]
    DuplicateRegion(String),

    #[error("VM `{0}` is defined twice (names compare case-insensitively); rename or remove one of them")]
    DuplicateVm(String),

    #[error(
        "VM `{vm}` names region `{region}`, which is not in the estate's `regions` ({known}); add it to \
         `regions` or fix the VM's region"
    )]
    UnknownRegion {
        vm: String,
        region: String,
        known: String,
    },

    #[error(
        "VM `{vm}` has `{region}` as both its primary and its recovery region; a VM must replicate to \
         another region: change its recovery_region"
    )]
    SameRegions { vm: String, region: String },
}

impl Estate {
    /// Reads and validates an estate file.
    pub fn load(path: &Path) -> Result<Self, EstateError> {
        let text = std::fs::read_to_string(path).map_err(|source| EstateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses and validates an estate from TOML.
    pub fn parse(text: &str) -> Result<Self, EstateError> {
        let estate: Estate = toml::from_str(text)?;
        estate.validate()?;
        Ok(estate)
    }

    pub fn validate(&self) -> Result<(), EstateError> {
        if self.vms.is_empty() {
            return Err(EstateError::NoVms);
        }
        let mut regions = HashSet::new();
        for region in &self.regions {
            if !regions.insert(region.to_lowercase()) {
                return Err(EstateError::DuplicateRegion(region.clone()));
            }
        }
        let mut names = HashSet::new();
        for vm in &self.vms {
            if vm.name.trim().is_empty() {
                return Err(EstateError::EmptyName);
            }
            if !names.insert(vm.name.to_lowercase()) {
                return Err(EstateError::DuplicateVm(vm.name.clone()));
            }
            for region in [&vm.primary_region, &vm.recovery_region] {
                if !regions.contains(&region.to_lowercase()) {
                    return Err(EstateError::UnknownRegion {
                        vm: vm.name.clone(),
                        region: region.clone(),
                        known: self.regions.join(", "),
                    });
                }
            }
            if vm.primary_region.eq_ignore_ascii_case(&vm.recovery_region) {
                return Err(EstateError::SameRegions {
                    vm: vm.name.clone(),
                    region: vm.primary_region.clone(),
                });
            }
        }
        Ok(())
    }
}
