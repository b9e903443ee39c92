//! Faults an operator or a test injects on demand. They live in the store, so
//! a fault set by `drbook fabric fault` hits the next process that drives the
//! fabric. A failing operation is decided when it starts (deterministically,
//! from its id), so the outcome does not depend on who settles it.

use chrono::{DateTime, Utc};
use drbook_core::fabric::{FabricError, Health, OperationRequest};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One change to the faults, as `drbook fabric fault` asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The next operation started on this VM fails.
    FailNext {
        vm: String,
    },
    /// This percentage of operations fails (0 turns it off).
    FailPercent(u8),
    /// The next `times` starts on this VM are refused: nothing starts and
    /// the audit trail records each refusal. As a passing fault (Azure's
    /// throttling, 429, or a 503) the runbook sees `transient`; `permanent`,
    /// as Site Recovery's own refusal (a quota, a policy) it sees
    /// `not-allowed`. What a runbook's retry is tested against.
    RefuseNext {
        vm: String,
        times: u32,
        permanent: bool,
    },
    /// The next operation started on this VM hangs, at any speed (even
    /// `instant`): it stays in progress until the faults are cleared, then
    /// ends as it would have. What a runbook's wait timeout is tested
    /// against.
    Stall {
        vm: String,
    },
    RegionDown(String),
    RegionUp(String),
    /// The VM's replication health drops to `health` (Warning or Critical).
    Degrade {
        vm: String,
        health: Health,
    },
    /// Removes every fault.
    Clear,
}

/// The faults in force. VM names are the items' own spelling.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Faults {
    pub fail_next: BTreeMap<String, u32>,
    pub fail_percent: u8,
    pub regions_down: BTreeSet<String>,
    pub degraded: BTreeMap<String, Health>,
    /// Starts still to refuse, per VM. (Defaults: a store written before
    /// these faults existed reads as without them.)
    #[serde(default)]
    pub refuse_next: BTreeMap<String, Refusals>,
    /// VMs whose next operation stalls.
    #[serde(default)]
    pub stall_next: BTreeSet<String>,
}

/// Starts a VM still refuses, and how.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusals {
    pub left: u32,
    /// As Site Recovery's own refusal (`not-allowed`), not a passing fault.
    pub permanent: bool,
}

/// When a stalled operation is due to end: never, until the faults are
/// cleared (year 9999, which the store's milliseconds hold).
pub fn stalled_end() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Faults {
    pub fn is_region_down(&self, region: &str) -> bool {
        self.regions_down
            .iter()
            .any(|r| r.eq_ignore_ascii_case(region))
    }

    /// Whether operation `op_id` on `vm` is to fail, and why. Consumes a
    /// pending fail-next of the VM.
    pub fn decide(&mut self, vm: &str, op_id: &str) -> Option<String> {
        if let Some(count) = self.fail_next.get_mut(vm) {
            *count -= 1;
            if *count == 0 {
                self.fail_next.remove(vm);
            }
            return Some(format!(
                "injected fault: the next operation of `{vm}` was set to fail (`drbook fabric fault fail-next`); retry it"
            ));
        }
        if pseudo_random_percent(op_id) < self.fail_percent {
            return Some(format!(
                "injected fault: {}% of operations are set to fail (`drbook fabric fault fail-percent`); retry it",
                self.fail_percent
            ));
        }
        None
    }

    /// The refusal of a start of `request` on `vm`, if one is pending.
    /// Consumes it.
    pub fn refuse(&mut self, vm: &str, request: &OperationRequest) -> Option<FabricError> {
        let pending = self.refuse_next.get_mut(vm)?;
        pending.left -= 1;
        let Refusals { left, permanent } = *pending;
        if left == 0 {
            self.refuse_next.remove(vm);
        }
        let message = format!(
            "injected fault: starts on `{vm}` are refused ({left} more to refuse, \
             `drbook fabric fault refuse-next`)"
        );
        Some(if permanent {
            FabricError::Refused {
                vm: vm.to_string(),
                operation: request.kind(),
                code: "InjectedFault".to_string(),
                message: format!("{message}; clear it with `drbook fabric fault clear`"),
            }
        } else {
            FabricError::Transient {
                message: format!("{message}; retry it later"),
            }
        })
    }

    /// Whether the operation starting now on `vm` is to stall. Consumes the
    /// VM's pending stall.
    pub fn stall(&mut self, vm: &str) -> bool {
        self.stall_next.remove(vm)
    }

    pub fn apply(&mut self, fault: Fault) {
        match fault {
            Fault::FailNext { vm } => *self.fail_next.entry(vm).or_default() += 1,
            Fault::FailPercent(percent) => self.fail_percent = percent.min(100),
            Fault::RefuseNext {
                vm,
                times,
                permanent,
            } => {
                let pending = self.refuse_next.entry(vm).or_default();
                pending.left = pending.left.saturating_add(times);
                pending.permanent = permanent;
            }
            Fault::Stall { vm } => {
                self.stall_next.insert(vm);
            }
            Fault::RegionDown(region) => {
                self.regions_down.insert(region);
            }
            Fault::RegionUp(region) => self
                .regions_down
                .retain(|r| !r.eq_ignore_ascii_case(&region)),
            Fault::Degrade { vm, health } => {
                self.degraded.insert(vm, health);
            }
            Fault::Clear => *self = Faults::default(),
        }
    }

    /// A one-line summary for the operator, `None` when there is no fault.
    pub fn summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        for (vm, count) in &self.fail_next {
            parts.push(format!("next {count} operation(s) of {vm} fail"));
        }
        for (vm, pending) in &self.refuse_next {
            let how = if pending.permanent {
                "permanently"
            } else {
                "as transient"
            };
            parts.push(format!(
                "next {} start(s) of {vm} refused {how}",
                pending.left
            ));
        }
        for vm in &self.stall_next {
            parts.push(format!("next operation of {vm} stalls"));
        }
        if self.fail_percent > 0 {
            parts.push(format!("{}% of operations fail", self.fail_percent));
        }
        for region in &self.regions_down {
            parts.push(format!("region {region} down"));
        }
        for (vm, health) in &self.degraded {
            parts.push(format!("{vm} replication {health:?}"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// A stable number in 0..100 from an operation id (FNV-1a), so that
/// fail-percent picks the same operations on every run of a test.
fn pseudo_random_percent(op_id: &str) -> u8 {
    let hash = op_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % 100) as u8
}
