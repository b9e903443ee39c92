//! The rules file: which alerts start which runs. Rules are tried in order
//! and the first that matches decides; an alert no rule matches is recorded
//! and ignored. A `Resolved` alert never reaches the rules: it never starts
//! a job (see `deliver`).
//!
//! A health event (Resource Health, Service Health: activity-log alerts,
//! always `Fired`) carries its own status (`drbook_core::alert`'s
//! `EventStatus`): a rule without `event-status` matches only one that is
//! `Active`, so a VM coming back (`Resolved`) starts nothing unless a rule
//! names `Resolved`.
//!
//! A plan has one job at a time that changes it: `on-busy` says what an
//! alert that matches does while a job of the rule's plan has not ended:
//! `attach` (the default: no new job; the alert is recorded on the running
//! job, whose id is the answer: twelve alerts of one outage start one
//! failover), `queue` (a job that starts once the running one has ended) or
//! `refuse` (409, naming the running job; the alert is recorded).
//!
//! ```toml
//! [[rule]]
//! name = "primary region down"
//! severity = ["Sev0", "Sev1"]        # any severity when absent
//! signal = ["Metric", "Log"]         # any signal when absent
//! alert-rule = "primary-health"      # any rule when absent
//! event-status = ["Active"]          # health events: Active only when absent
//! target-in-plan = true              # an alert target must be a VM of the plan
//! on-busy = "attach"                 # attach (default), queue or refuse
//! type = "unplanned"                 # what runs: the webhook's runbook and plan,
//! # runbook = "failover-plan.wasm"   # unless named here (relative to this file, or oci://...)
//! # plan = "plans/other.toml"
//! # direction = "primary-to-recovery"
//! # params = { drill = "no" }        # added to the webhook's; cannot replace them
//!
//! [[rule]]
//! name = "everything else"
//! action = "ignore"
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::registry::RunTarget;
use drbook_core::alert::{Alert, EventStatus, Severity, SignalType};
use drbook_core::fabric::Direction;
use drbook_core::plan::{FailoverType, RecoveryPlan};
use drbook_core::store::OnBusy;

/// A rules file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    #[serde(rename = "rule", default)]
    rules: Vec<RawRule>,
    #[serde(skip)]
    base: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRule {
    name: String,
    #[serde(default)]
    severity: Vec<Severity>,
    #[serde(default)]
    signal: Vec<SignalType>,
    alert_rule: Option<String>,
    #[serde(default)]
    event_status: Vec<EventStatus>,
    #[serde(default)]
    target_in_plan: bool,
    #[serde(default)]
    on_busy: OnBusy,
    #[serde(default)]
    action: RawAction,
    runbook: Option<PathBuf>,
    plan: Option<PathBuf>,
    #[serde(rename = "type")]
    failover_type: Option<String>,
    direction: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum RawAction {
    #[default]
    Run,
    Ignore,
}

/// A rule, resolved: runbooks loaded (by digest) and plans read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub when: RuleMatch,
    pub action: RuleAction,
    /// What a run does while its plan is busy.
    #[serde(default)]
    pub on_busy: OnBusy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleMatch {
    /// Empty: any.
    pub severity: Vec<Severity>,
    /// Empty: any.
    pub signal: Vec<SignalType>,
    pub alert_rule: Option<String>,
    /// Empty: alerts that are no health event, and `Active` ones.
    #[serde(default)]
    pub event_status: Vec<EventStatus>,
    pub target_in_plan: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RuleAction {
    Ignore,
    /// Boxed: a run (its plan, grants, parameters) is far larger than
    /// `Ignore`.
    Run(Box<RunTarget>),
}

/// A runbook named by a rule: its file name, digest and bytes, and how
/// the trust policy admitted it.
pub struct LoadedRunbook {
    pub name: String,
    pub digest: String,
    pub bytes: Vec<u8>,
    pub admission: drbook_core::job::Admission,
}

impl RulesFile {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read rules file {}: {e}", path.display()))?;
        let mut file: RulesFile = toml::from_str(&text)
            .map_err(|e| format!("rules file {} is not valid: {e}", path.display()))?;
        file.base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if file.rules.is_empty() {
            return Err(format!(
                "rules file {} has no `[[rule]]`; add one, or create the webhook without --rules",
                path.display()
            ));
        }
        Ok(file)
    }

    /// Resolves every rule against the webhook's own run (`default`);
    /// `load` reads a runbook a rule names. Returns the rules and the
    /// runbooks they need stored.
    pub fn resolve(
        &self,
        default: &RunTarget,
        mut load: impl FnMut(&Path) -> Result<LoadedRunbook, String>,
    ) -> Result<(Vec<Rule>, Vec<LoadedRunbook>), String> {
        let mut rules = Vec::new();
        let mut modules = Vec::new();
        for raw in &self.rules {
            let context = |e: String| format!("rule `{}`: {e}", raw.name);
            let when = RuleMatch {
                severity: raw.severity.clone(),
                signal: raw.signal.clone(),
                alert_rule: raw.alert_rule.clone(),
                event_status: raw.event_status.clone(),
                target_in_plan: raw.target_in_plan,
            };
            let action = if raw.action == RawAction::Ignore {
                RuleAction::Ignore
            } else {
                let mut run = default.clone();
                if let Some(path) = &raw.runbook {
                    // A registry reference is no path beside the file.
                    let oci = path.to_str().is_some_and(|p| p.starts_with("oci://"));
                    let at = if oci {
                        path.clone()
                    } else {
                        self.base.join(path)
                    };
                    let loaded = load(&at).map_err(context)?;
                    run.runbook = loaded.name.clone();
                    run.digest = loaded.digest.clone();
                    run.admission = Some(loaded.admission.clone());
                    modules.push(loaded);
                }
                if let Some(path) = &raw.plan {
                    run.plan = RecoveryPlan::load(&self.base.join(path))
                        .map_err(|e| context(e.to_string()))?;
                }
                if let Some(kind) = &raw.failover_type {
                    run.failover_type = kind
                        .parse::<FailoverType>()
                        .map_err(|e| context(e.to_string()))?;
                }
                if let Some(direction) = &raw.direction {
                    run.direction = match direction.as_str() {
                        "primary-to-recovery" => Direction::PrimaryToRecovery,
                        "recovery-to-primary" => Direction::RecoveryToPrimary,
                        other => {
                            return Err(context(format!(
                            "direction `{other}` is not primary-to-recovery or recovery-to-primary"
                        )))
                        }
                    };
                }
                for (key, value) in &raw.params {
                    if default.parameters.contains_key(key) {
                        return Err(context(format!(
                            "params: `{key}` is fixed on the webhook and cannot be replaced"
                        )));
                    }
                    run.parameters.insert(key.clone(), value.clone());
                }
                RuleAction::Run(Box::new(run))
            };
            rules.push(Rule {
                name: raw.name.clone(),
                when,
                action,
                on_busy: raw.on_busy,
            });
        }
        Ok((rules, modules))
    }
}

/// What the rules decide for one alert.
pub enum Verdict<'a> {
    Run {
        rule: &'a str,
        target: &'a RunTarget,
        on_busy: OnBusy,
    },
    Ignore {
        reason: String,
    },
}

/// The first rule `alert` matches decides.
pub fn judge<'a>(rules: &'a [Rule], alert: &Alert, default: &'a RunTarget) -> Verdict<'a> {
    for rule in rules {
        let plan = match &rule.action {
            RuleAction::Run(target) => &target.plan,
            RuleAction::Ignore => &default.plan,
        };
        if !rule.matches(alert, plan) {
            continue;
        }
        return match &rule.action {
            RuleAction::Run(target) => Verdict::Run {
                rule: &rule.name,
                target,
                on_busy: rule.on_busy,
            },
            RuleAction::Ignore => Verdict::Ignore {
                reason: format!("rule `{}` ignores it", rule.name),
            },
        };
    }
    let reason = match not_by_default(alert) {
        Some(why) => format!("no rule matches it ({why})"),
        None => "no rule matches it".to_string(),
    };
    Verdict::Ignore { reason }
}

/// Why an alert starts no run unless a rule names its event status: a
/// health event not known to be `Active` (a recovery must not start a
/// failover).
pub fn not_by_default(alert: &Alert) -> Option<&'static str> {
    match alert.event_status? {
        EventStatus::Active => None,
        EventStatus::Resolved => Some(
            "the health event says the resource recovered (event status Resolved); only a rule with \
             event-status = [\"Resolved\"] runs for it",
        ),
        EventStatus::Unknown => Some(
            "the health event's status is not known (event status Unknown); only an Active one starts a run",
        ),
    }
}

impl Rule {
    fn matches(&self, alert: &Alert, plan: &RecoveryPlan) -> bool {
        let when = &self.when;
        (when.severity.is_empty() || when.severity.contains(&alert.severity))
            && (when.signal.is_empty() || when.signal.contains(&alert.signal_type))
            && when
                .alert_rule
                .as_ref()
                .is_none_or(|r| r.eq_ignore_ascii_case(&alert.alert_rule))
            && match alert.event_status {
                _ if when.event_status.is_empty() => not_by_default(alert).is_none(),
                Some(status) => when.event_status.contains(&status),
                None => false,
            }
            && (!when.target_in_plan || targets_plan(alert, plan))
    }
}

fn targets_plan(alert: &Alert, plan: &RecoveryPlan) -> bool {
    alert.target_names().any(|target| {
        plan.groups
            .iter()
            .flat_map(|g| &g.vms)
            .any(|vm| vm.eq_ignore_ascii_case(&target))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use drbook_core::alert::parse_alert;

    fn resolved(rules: &str) -> Result<Vec<Rule>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        std::fs::write(&path, rules).unwrap();
        let plan = RecoveryPlan::parse(
            "name = \"p\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
             [[groups]]\nname = \"g\"\nvms = [\"web-01\"]\n",
            "p.toml",
        )
        .unwrap();
        let run = RunTarget {
            runbook: "failover.wasm".into(),
            digest: "sha256:0".into(),
            plan,
            failover_type: FailoverType::Unplanned,
            direction: Direction::PrimaryToRecovery,
            parameters: BTreeMap::new(),
            grant: Default::default(),
            admission: None,
        };
        let (rules, _) = RulesFile::load(&path)?.resolve(&run, |_| unreachable!())?;
        Ok(rules)
    }

    /// A Resource Health event about `web-01` with `status`.
    fn health(status: &str) -> Alert {
        let body = serde_json::json!({
            "schemaId": "azureMonitorCommonAlertSchema",
            "data": {
                "essentials": {
                    "alertId": "a", "alertRule": "r", "severity": "Sev1", "signalType": "Activity Log",
                    "monitorCondition": "Fired", "monitoringService": "Resource Health",
                    "alertTargetIDs": ["/subscriptions/s/providers/microsoft.compute/virtualmachines/web-01"],
                    "firedDateTime": "2026-01-02T03:04:05Z"
                },
                "alertContext": { "status": status }
            }
        });
        parse_alert(body.to_string().as_bytes())
            .unwrap()
            .unwrap()
            .alert
    }

    fn verdict(rules: &[Rule], alert: &Alert) -> Result<(String, OnBusy), String> {
        let default = match &rules[0].action {
            RuleAction::Run(target) => target.clone(),
            RuleAction::Ignore => unreachable!(),
        };
        match judge(rules, alert, &default) {
            Verdict::Run { rule, on_busy, .. } => Ok((rule.to_string(), on_busy)),
            Verdict::Ignore { reason } => Err(reason),
        }
    }

    #[test]
    fn on_busy_and_event_status_are_read_with_safe_defaults() {
        let rules = resolved(
            "[[rule]]\nname = \"down\"\ntarget-in-plan = true\n\n\
             [[rule]]\nname = \"back\"\nevent-status = [\"Resolved\"]\non-busy = \"queue\"\n",
        )
        .unwrap();
        assert_eq!(
            verdict(&rules, &health("Active")),
            Ok(("down".to_string(), OnBusy::Attach)),
            "attach unless the rule says otherwise"
        );
        assert_eq!(
            verdict(&rules, &health("Resolved")),
            Ok(("back".to_string(), OnBusy::Queue)),
            "only a rule that names Resolved matches a recovery"
        );
        let odd = verdict(&rules, &health("Sideways")).unwrap_err();
        assert!(odd.contains("event status Unknown"), "{odd}");

        let only_down = resolved("[[rule]]\nname = \"down\"\n").unwrap();
        let ignored = verdict(&only_down, &health("Resolved")).unwrap_err();
        assert!(
            ignored.contains("recovered") && ignored.contains("event-status = [\"Resolved\"]"),
            "{ignored}"
        );

        for (bad, named) in [
            ("on-busy = \"beside\"", "`attach`, `queue`"),
            (
                "event-status = [\"Unknown\"]",
                "expected `Active` or `Resolved`",
            ),
        ] {
            let error = resolved(&format!("[[rule]]\nname = \"x\"\n{bad}\n")).unwrap_err();
            assert!(error.contains(named), "{bad}: {error}");
        }
    }
}
