//! A job's scope: what it may change on its fabric. By default a job starts
//! operations only on the VMs of its plan, and only the operations its
//! failover type implies ([`implied`]): a test job never touches production,
//! a planned failover job never runs an unplanned one. Reads are free.
//!
//! A [`Grant`] widens it, explicitly and on the record: in the plan file
//! (`[scope]`, kept in every job's spec with the plan) or on one job
//! (`drbook run --grant`, `drbook webhook create --grant`: the job spec's
//! `grant`). The host checks every start against the scope ([`check`])
//! before the start is journaled or reaches the fabric; a refusal is an
//! [`OutOfScope`] naming the [`Rule`] and how to widen the scope.
//!
//! The module narrows it: what a job may start is the intersection of its
//! scope, what its module declares in its capability manifest
//! ([`Manifest`]) and what the trust policy's rule that admitted the module
//! caps its modules at ([`PolicyCap`]), both pinned with the job's admission
//! ([`Capabilities`]) so that a resumed job is held to what its first run
//! was. One [`check`] decides all of it, once per start.

use serde::{Deserialize, Serialize};

use crate::fabric::{OperationKind, ProtectedItem};
use crate::job::JobSpec;
use crate::plan::FailoverType;

/// A WIT interface of the `runbook` world (`wit/runbook.wit`) that a
/// module's manifest declares it imports. `types` (no functions) and WASI
/// (which grants nothing: no files, sockets or environment) need no
/// declaration. New capabilities (an HTTP client, Azure calls) are new
/// variants, named in manifests by their kebab-case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Interface {
    SiteRecovery,
    Plan,
    Log,
    Clock,
    Approval,
    /// Outside calls over HTTP, to the destinations the manifest's `http`
    /// grants ([`crate::outside`]).
    Http,
    /// Azure resource calls over ARM, on the resource ids the manifest's
    /// `azure` grants ([`crate::outside::azure`]).
    Azure,
}

impl Interface {
    pub const ALL: [Interface; 7] = [
        Interface::SiteRecovery,
        Interface::Plan,
        Interface::Log,
        Interface::Clock,
        Interface::Approval,
        Interface::Http,
        Interface::Azure,
    ];

    /// Its name in the WIT package, and in manifests: `site-recovery`.
    pub fn name(self) -> &'static str {
        match self {
            Interface::SiteRecovery => "site-recovery",
            Interface::Plan => "plan",
            Interface::Log => "log",
            Interface::Clock => "clock",
            Interface::Approval => "approval",
            Interface::Http => "http",
            Interface::Azure => "azure",
        }
    }

    /// The interface of this name (`site-recovery`), if drbook knows it.
    pub fn named(name: &str) -> Option<Interface> {
        Interface::ALL.into_iter().find(|i| i.name() == name)
    }
}

impl std::fmt::Display for Interface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a module declares it needs, in its capability manifest (a custom
/// section, read and written by drbook-signing's `manifest`): the
/// interfaces it imports, the operations it may start, and the HTTP
/// destinations it may reach. A drill: `test-failover` and
/// `test-failover-cleanup`; a read-only runbook: none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub interfaces: Vec<Interface>,
    #[serde(default, with = "names")]
    pub operations: Vec<OperationKind>,
    /// Destination patterns ([`crate::outside::Pattern`], with `{param}`
    /// placeholders): none, no HTTP at all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<String>,
    /// Azure resource id patterns ([`crate::outside::azure::ResourcePattern`],
    /// with `{param}` placeholders): none, no Azure call at all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub azure: Vec<String>,
}

/// A trust policy rule's cap on what the modules it admits may start
/// (`operations = [...]` in a `[[trust.rules]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyCap {
    /// The rule's name.
    pub rule: String,
    #[serde(with = "names")]
    pub operations: Vec<OperationKind>,
    /// The HTTP destinations its modules may reach at most (`http = [...]`,
    /// patterns without placeholders); `None`: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Vec<String>>,
    /// The Azure resource ids its modules may call at most (`azure =
    /// [...]`, patterns without placeholders); `None`: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<Vec<String>>,
}

/// What a job's module may do, pinned with its admission: its manifest and
/// the policy's caps. The default (no manifest, no cap) leaves the job's
/// scope as it is: what modules without a manifest get, and jobs admitted
/// before manifests existed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// The module's manifest; `None`: it has none.
    #[serde(default)]
    pub manifest: Option<Manifest>,
    /// Whether signatures the trust policy counted cover the manifest
    /// (they cover the whole module): false with no policy configured or a
    /// module let in with `--allow-unsigned`, whose manifest still narrows.
    #[serde(default)]
    pub signed: bool,
    /// The caps of the policy's rules: the one that admitted the module,
    /// and the one that covers it when a resumed job loads, if the policy
    /// changed since; each narrows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<PolicyCap>,
}

impl Capabilities {
    /// Adds `cap` unless it is there already: a policy that changed never
    /// widens what a job may do, only narrows it.
    pub fn narrow(&mut self, cap: PolicyCap) {
        if !self.caps.contains(&cap) {
            self.caps.push(cap);
        }
    }

    /// The manifest's operations, for listings: `test-failover, commit`,
    /// `none`, or `no manifest`.
    pub fn describe_operations(&self) -> String {
        match &self.manifest {
            None => "no manifest".to_string(),
            Some(m) if m.operations.is_empty() => "none".to_string(),
            Some(m) => m
                .operations
                .iter()
                .map(|k| k.cli_name())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// A widening of a job's scope: VMs beyond its plan's, operations beyond
/// its failover type's. As a plan file's `[scope]` table:
///
/// ```toml
/// [scope]
/// vms = ["jump-01"]                    # outside the groups, operated on too
/// operations = ["unplanned-failover"]  # beyond what the job's type implies
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// VMs outside the plan's groups the job may start operations on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vms: Vec<String>,
    /// Operations beyond those its failover type implies, by their
    /// kebab-case names (`unplanned-failover`).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "names")]
    pub operations: Vec<OperationKind>,
}

/// A `--grant` that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("--grant `{given}`: {problem}; write --grant op=<operation> or --grant vm=<vm>")]
pub struct GrantError {
    pub given: String,
    pub problem: String,
}

impl Grant {
    pub fn is_empty(&self) -> bool {
        self.vms.is_empty() && self.operations.is_empty()
    }

    /// Reads `--grant` flags: each `op=<operation>` or `vm=<vm>`.
    pub fn parse_flags(flags: &[String]) -> Result<Grant, GrantError> {
        let mut grant = Grant::default();
        for flag in flags {
            let error = |problem: String| GrantError {
                given: flag.clone(),
                problem,
            };
            let Some((key, value)) = flag.split_once('=') else {
                return Err(error("it has no `=`".into()));
            };
            let value = value.trim();
            match key.trim() {
                "op" => {
                    let kind = operation(value).ok_or_else(|| error(unknown_operation(value)))?;
                    if !grant.operations.contains(&kind) {
                        grant.operations.push(kind);
                    }
                }
                "vm" if value.is_empty() => return Err(error("the VM name is empty".into())),
                "vm" => {
                    if !grant.vms.iter().any(|vm| vm.eq_ignore_ascii_case(value)) {
                        grant.vms.push(value.to_string());
                    }
                }
                other => return Err(error(format!("`{other}` is neither `op` nor `vm`"))),
            }
        }
        Ok(grant)
    }

    /// What it names that the fabric does not hold: one line per VM.
    pub fn problems_against(&self, items: &[ProtectedItem], origin: &str) -> Vec<String> {
        self.vms
            .iter()
            .filter(|vm| !items.iter().any(|item| item.name.eq_ignore_ascii_case(vm)))
            .map(|vm| {
                format!(
                    "VM `{vm}` ({origin}) is not a protected item of this fabric; `drbook fabric show` lists them"
                )
            })
            .collect()
    }

    fn names_vm(&self, vm: &str) -> bool {
        self.vms.iter().any(|v| v.eq_ignore_ascii_case(vm))
    }
}

/// The rule a start broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// A job operates only on its plan's VMs.
    PlanVms,
    /// A job starts only the operations its failover type implies.
    FailoverType,
    /// A module starts only the operations its manifest declares.
    ModuleManifest,
    /// A module starts only the operations its trust policy rule caps it at.
    TrustPolicy,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::PlanVms => "plan-vms",
            Rule::FailoverType => "failover-type",
            Rule::ModuleManifest => "module-manifest",
            Rule::TrustPolicy => "trust-policy",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A start outside its job's scope, refused before it reached the fabric.
/// Journaled as the start's reply, so a replay gives the same answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct OutOfScope {
    pub vm: String,
    pub operation: OperationKind,
    pub rule: Rule,
    /// What the runbook and the operator read: the rule and the fix.
    pub message: String,
}

/// The operations a job of `failover_type` may start without a grant. A
/// test job: the drill and its cleanup, nothing that touches production. A
/// planned or unplanned job: its own kind of failover, and what follows a
/// failover in the cycle (cancel it, commit it, reprotect); the unplanned
/// one may also pick another recovery point, which only it restored from.
/// Commit and reprotect jobs (`commit-plan`, `reprotect-plan`) are planned
/// unless started with another type.
pub fn implied(failover_type: FailoverType) -> &'static [OperationKind] {
    use OperationKind as K;
    match failover_type {
        FailoverType::Test => &[K::TestFailover, K::TestFailoverCleanup],
        FailoverType::Planned => &[
            K::PlannedFailover,
            K::CancelFailover,
            K::Commit,
            K::Reprotect,
        ],
        FailoverType::Unplanned => &[
            K::UnplannedFailover,
            K::ChangeRecoveryPoint,
            K::CancelFailover,
            K::Commit,
            K::Reprotect,
        ],
    }
}

/// Whether the job of `spec` may start `operation` on `vm`: a VM of its plan
/// (by name, case-insensitively, as the fabric names items) or granted, and
/// an operation its type implies or granted, by the plan's `[scope]` or the
/// job's own grant; then an operation its module's manifest declares and
/// every policy cap pinned with it allows. Checked in that order: the VM,
/// the type, the manifest, the policy.
pub fn check(spec: &JobSpec, vm: &str, operation: OperationKind) -> Result<(), OutOfScope> {
    let plan = &spec.plan;
    let grants = [&plan.scope, &spec.grant];
    let refuse = |rule: Rule, why: String, fix: String| {
        let lead = match rule {
            Rule::PlanVms | Rule::FailoverType => "is outside this job's scope",
            Rule::ModuleManifest | Rule::TrustPolicy => "is not granted to this job's module",
        };
        OutOfScope {
            vm: vm.to_string(),
            operation,
            rule,
            message: format!(
                "{operation} on `{vm}` {lead}: {why} (rule `{rule}`); to allow it, {fix}"
            ),
        }
    };
    if plan.group_of(vm).is_none() && !grants.iter().any(|g| g.names_vm(vm)) {
        return Err(refuse(
            Rule::PlanVms,
            format!(
                "`{vm}` is not in plan `{}`, and a job operates only on its plan's VMs",
                plan.name
            ),
            format!("add it to the plan's `[scope] vms` or start the job with `--grant vm={vm}`"),
        ));
    }
    let implied = implied(spec.failover_type);
    if !implied.contains(&operation) && !grants.iter().any(|g| g.operations.contains(&operation)) {
        return Err(refuse(
            Rule::FailoverType,
            format!(
                "a {} job starts only {}",
                type_name(spec.failover_type),
                list(implied)
            ),
            format!(
                "add it to the plan's `[scope] operations` or start the job with `--grant op={operation}`"
            ),
        ));
    }
    let Some(module) = spec.admission.as_ref().map(|a| &a.capabilities) else {
        return Ok(());
    };
    if let Some(manifest) = module.manifest.as_ref() {
        if !manifest.operations.contains(&operation) {
            return Err(refuse(
                Rule::ModuleManifest,
                format!(
                    "the module's manifest grants {}; {operation} is not among them",
                    list_or_none(&manifest.operations)
                ),
                format!(
                    "its author declares it (`drbook runbook grant FILE --operation {operation}`, \
                     with the operations it has) and signs the module again"
                ),
            ));
        }
    }
    if let Some(cap) = module
        .caps
        .iter()
        .find(|cap| !cap.operations.contains(&operation))
    {
        return Err(refuse(
            Rule::TrustPolicy,
            format!(
                "the trust policy's rule `{}` caps the modules it admits at {}; {operation} is not \
                 among them",
                cap.rule,
                list_or_none(&cap.operations)
            ),
            "add it to that rule's `operations` in `[trust]`".to_string(),
        ));
    }
    Ok(())
}

fn type_name(failover_type: FailoverType) -> &'static str {
    match failover_type {
        FailoverType::Test => "test",
        FailoverType::Planned => "planned",
        FailoverType::Unplanned => "unplanned",
    }
}

/// `a, b and c`.
fn list(kinds: &[OperationKind]) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| k.cli_name()).collect();
    match names.split_last() {
        None => "nothing".to_string(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// `a, b and c`, or `no operation` (a read-only runbook's).
fn list_or_none(kinds: &[OperationKind]) -> String {
    match kinds {
        [] => "no operation".to_string(),
        kinds => list(kinds),
    }
}

/// An operation by its kebab-case name.
pub fn operation(name: &str) -> Option<OperationKind> {
    OperationKind::ALL
        .into_iter()
        .find(|kind| kind.cli_name().eq_ignore_ascii_case(name))
}

/// Why `name` is no operation, with the names that are.
pub fn unknown_operation(name: &str) -> String {
    let names: Vec<&str> = OperationKind::ALL.iter().map(|k| k.cli_name()).collect();
    format!("`{name}` is not an operation; one of {}", names.join(", "))
}

/// Operations as their kebab-case names, in plan files and job specs alike.
mod names {
    use super::{operation, unknown_operation, OperationKind};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kinds: &[OperationKind], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(kinds.iter().map(|k| k.cli_name()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<OperationKind>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|name| {
                operation(name).ok_or_else(|| serde::de::Error::custom(unknown_operation(name)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fabric::{Direction, FabricError};
    use crate::job::Trigger;
    use crate::plan::RecoveryPlan;
    use OperationKind as K;

    const PLAN: &str = r#"
name = "app"
primary_region = "eastus"
recovery_region = "westus"
[[groups]]
name = "db"
vms = ["sql-01"]
"#;

    fn spec(failover_type: FailoverType, plan: &str, grant: Grant) -> JobSpec {
        JobSpec {
            job_id: "job-1".into(),
            plan: RecoveryPlan::parse(plan, "test.toml").unwrap(),
            failover_type,
            direction: Direction::PrimaryToRecovery,
            parameters: Default::default(),
            trigger: Trigger::CommandLine { user: "t".into() },
            grant,
            admission: None,
        }
    }

    fn allowed(spec: &JobSpec, vm: &str) -> Vec<OperationKind> {
        K::ALL
            .into_iter()
            .filter(|kind| check(spec, vm, *kind).is_ok())
            .collect()
    }

    #[test]
    fn each_failover_type_implies_its_own_operations_only() {
        let test = spec(FailoverType::Test, PLAN, Grant::default());
        assert_eq!(
            allowed(&test, "sql-01"),
            [K::TestFailover, K::TestFailoverCleanup]
        );
        let planned = spec(FailoverType::Planned, PLAN, Grant::default());
        assert_eq!(
            allowed(&planned, "SQL-01"),
            [
                K::PlannedFailover,
                K::Commit,
                K::CancelFailover,
                K::Reprotect
            ],
            "names compare as the fabric compares them"
        );
        let unplanned = spec(FailoverType::Unplanned, PLAN, Grant::default());
        assert_eq!(
            allowed(&unplanned, "sql-01"),
            [
                K::UnplannedFailover,
                K::Commit,
                K::CancelFailover,
                K::ChangeRecoveryPoint,
                K::Reprotect
            ]
        );
    }

    #[test]
    fn a_refusal_names_the_rule_and_the_fix() {
        let test = spec(FailoverType::Test, PLAN, Grant::default());
        let err = check(&test, "sql-01", K::UnplannedFailover).unwrap_err();
        assert_eq!(err.rule, Rule::FailoverType);
        assert_eq!(
            err.to_string(),
            "unplanned-failover on `sql-01` is outside this job's scope: a test job starts only \
             test-failover and test-failover-cleanup (rule `failover-type`); to allow it, add it to \
             the plan's `[scope] operations` or start the job with `--grant op=unplanned-failover`"
        );
        // A VM outside the plan is refused first, whatever the operation.
        let err = check(&test, "web-09", K::UnplannedFailover).unwrap_err();
        assert_eq!((err.rule, err.vm.as_str()), (Rule::PlanVms, "web-09"));
        assert!(
            err.message.contains("`web-09` is not in plan `app`")
                && err.message.contains("`--grant vm=web-09`"),
            "{err}"
        );
        assert!(allowed(&test, "web-09").is_empty());

        // Journaled as the start's reply, and read back the same.
        let reply: Result<String, FabricError> = Err(FabricError::OutOfScope(err));
        let stored = serde_json::to_string(&reply).unwrap();
        assert_eq!(
            serde_json::from_str::<Result<String, FabricError>>(&stored).unwrap(),
            reply
        );
    }

    #[test]
    fn a_grant_in_the_plan_or_on_the_job_widens_the_scope() {
        let scoped =
            format!("{PLAN}\n[scope]\nvms = [\"web-09\"]\noperations = [\"unplanned-failover\"]\n");
        let by_plan = spec(FailoverType::Planned, &scoped, Grant::default());
        assert!(check(&by_plan, "Web-09", K::PlannedFailover).is_ok());
        assert!(check(&by_plan, "sql-01", K::UnplannedFailover).is_ok());
        assert!(check(&by_plan, "web-10", K::PlannedFailover).is_err());
        assert!(check(&by_plan, "sql-01", K::TestFailover).is_err());

        let flags = ["op=test-failover".to_string(), "vm=web-10".to_string()];
        let grant = Grant::parse_flags(&flags).unwrap();
        let by_job = spec(FailoverType::Planned, PLAN, grant);
        assert!(check(&by_job, "web-10", K::TestFailover).is_ok());
        assert!(check(&by_job, "web-09", K::PlannedFailover).is_err());
    }

    #[test]
    fn the_module_and_its_policy_narrow_the_scope_and_name_the_grant() {
        use crate::job::{Admission, AdmittedBy};
        let mut unplanned = spec(FailoverType::Unplanned, PLAN, Grant::default());
        let mut capabilities = Capabilities {
            manifest: Some(Manifest {
                interfaces: vec![Interface::SiteRecovery],
                operations: vec![K::TestFailover, K::TestFailoverCleanup, K::Commit],
                http: vec![],
                azure: vec![],
            }),
            signed: true,
            caps: vec![],
        };
        let admit = |spec: &mut JobSpec, capabilities: &Capabilities| {
            spec.admission = Some(Admission {
                digest: "sha256:00".into(),
                source: "dr_drill.wasm".into(),
                signers: vec![],
                admitted_by: AdmittedBy::NoPolicy,
                capabilities: capabilities.clone(),
                replaces: None,
            });
        };
        admit(&mut unplanned, &capabilities);
        // The intersection: the job's type allows commit and the unplanned
        // failover, the manifest only commit of the two.
        assert_eq!(allowed(&unplanned, "sql-01"), [K::Commit]);
        let err = check(&unplanned, "sql-01", K::UnplannedFailover).unwrap_err();
        assert_eq!(err.rule, Rule::ModuleManifest);
        assert_eq!(
            err.message,
            "unplanned-failover on `sql-01` is not granted to this job's module: the module's \
             manifest grants test-failover, test-failover-cleanup and commit; unplanned-failover \
             is not among them (rule `module-manifest`); to allow it, its author declares it \
             (`drbook runbook grant FILE --operation unplanned-failover`, with the operations it \
             has) and signs the module again"
        );
        // The job's scope is checked first.
        let err = check(&unplanned, "web-09", K::Commit).unwrap_err();
        assert_eq!(err.rule, Rule::PlanVms);

        // A policy cap narrows further, naming its rule; the same cap twice
        // is kept once, and a wider one changes nothing.
        capabilities.narrow(PolicyCap {
            rule: "drills".into(),
            operations: vec![K::TestFailover],
            http: None,
            azure: None,
        });
        capabilities.narrow(PolicyCap {
            rule: "drills".into(),
            operations: vec![K::TestFailover],
            http: None,
            azure: None,
        });
        assert_eq!(capabilities.caps.len(), 1);
        capabilities.narrow(PolicyCap {
            rule: "wide".into(),
            operations: K::ALL.to_vec(),
            http: None,
            azure: None,
        });
        admit(&mut unplanned, &capabilities);
        let err = check(&unplanned, "sql-01", K::Commit).unwrap_err();
        assert_eq!(err.rule, Rule::TrustPolicy);
        assert!(
            err.message.contains(
                "the trust policy's rule `drills` caps the modules it admits at test-failover; \
                 commit is not among them (rule `trust-policy`)"
            ),
            "{err}"
        );
        assert!(allowed(&unplanned, "sql-01").is_empty());

        // A read-only runbook's manifest grants nothing; no manifest leaves
        // the job's scope as it is.
        let mut test = spec(FailoverType::Test, PLAN, Grant::default());
        let read_only = Capabilities {
            manifest: Some(Manifest::default()),
            ..Capabilities::default()
        };
        admit(&mut test, &read_only);
        let err = check(&test, "sql-01", K::TestFailover).unwrap_err();
        assert!(
            err.message
                .contains("the module's manifest grants no operation"),
            "{err}"
        );
        admit(&mut test, &Capabilities::default());
        assert_eq!(
            allowed(&test, "sql-01"),
            [K::TestFailover, K::TestFailoverCleanup]
        );
        let stored = serde_json::to_value(&capabilities).unwrap();
        assert_eq!(stored["manifest"]["operations"][2], "commit");
        assert_eq!(
            serde_json::from_value::<Capabilities>(stored).unwrap(),
            capabilities
        );
    }

    #[test]
    fn grants_are_read_strictly() {
        let bad = |flag: &str| {
            Grant::parse_flags(&[flag.to_string()])
                .unwrap_err()
                .to_string()
        };
        assert!(bad("op").contains("has no `=`"), "{}", bad("op"));
        assert!(
            bad("op=failover").contains("`failover` is not an operation; one of planned-failover"),
            "{}",
            bad("op=failover")
        );
        assert!(bad("vm=").contains("the VM name is empty"));
        assert!(bad("host=x").contains("`host` is neither `op` nor `vm`"));
        let err = RecoveryPlan::parse(
            &format!("{PLAN}\n[scope]\noperations = [\"delete-everything\"]\n"),
            "x.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`delete-everything` is not an operation"),
            "{err}"
        );
        let err = RecoveryPlan::parse(&format!("{PLAN}\n[scope]\nvm = [\"a\"]\n"), "x.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `vm`"), "{err}");
    }

    #[test]
    fn a_grant_is_stored_with_its_operations_by_name() {
        let grant = Grant::parse_flags(&["op=Commit".into(), "op=commit".into()]).unwrap();
        let json = serde_json::to_value(&grant).unwrap();
        assert_eq!(json, serde_json::json!({ "operations": ["commit"] }));
        assert_eq!(serde_json::from_value::<Grant>(json).unwrap(), grant);
    }
}
