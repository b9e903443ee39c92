//! `drbook run`: creates a job for a runbook and a recovery plan, and runs it
//! here with live progress (or leaves it to a worker with `--detach`). The
//! job is durable: if this process dies, `drbook jobs resume` or any
//! `drbook worker` finishes it. One job at a time changes a plan: while a
//! job of the plan has not ended, `run` refuses (exit 2, naming it), or with
//! `--queue` creates the job behind it (and, without `--detach`, waits here
//! for its turn). A job starts operations only within its scope (its plan's
//! VMs, its type's operations; `drbook_core::scope`); `--grant` widens it,
//! recorded in the job's spec. `--dry-run` runs it on an in-memory copy of
//! the estate instead (`dry_run`): nothing is started, nothing is stored.
//! Under a trust policy (`[trust]`), the module is checked on its bytes
//! before anything compiles it, and refused (exit 2) unless signed as its
//! rule requires or run with `--allow-unsigned`; how it was admitted is
//! pinned to the job (`JobSpec::admission`). The runbook is a file or a
//! registry reference (`oci://HOST/REPO:TAG`, `...@sha256:DIGEST`): a tag is
//! resolved to its manifest's digest once, here, and the job records the
//! reference pinned to it; the job keeps the module's bytes, so nothing
//! of it needs the registry again.

use anyhow::Context as _;
use clap::Args;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use super::{progress, Global, InputError, Outcome, RunOptions};
use drbook_core::fabric::{Direction, ProtectedItem};
use drbook_core::job::{new_id, AdmittedBy, JobSpec, NewJob, Trigger};
use drbook_core::plan::{check_against, FailoverType, RecoveryPlan};
use drbook_core::scope::Grant;
use drbook_core::store::OnBusy;

#[derive(Args)]
pub struct RunArgs {
    /// The runbook: a WebAssembly component built with drbook-sdk, as a file
    /// or in a registry (`oci://HOST[:PORT]/REPO:TAG` or `...@sha256:DIGEST`).
    runbook: String,
    #[command(flatten)]
    job: JobArgs,
    /// Create the job and leave it to a worker (`drbook worker`); print its id.
    #[arg(long)]
    detach: bool,
    /// If a job of the plan has not ended, queue this one behind it (it
    /// starts once that job has ended) instead of refusing to start.
    #[arg(long)]
    queue: bool,
    /// Run on an in-memory copy of the estate, read through the backend:
    /// nothing is started on it and the job is kept in no job store; the
    /// summary shows what would happen, with the refusals the estate would
    /// answer now and durations and RTO estimated from the simulator's
    /// profile (at --speed, default 600).
    #[arg(long, conflicts_with_all = ["detach", "queue"])]
    dry_run: bool,
    /// For development: run a module the trust policy refuses (unsigned, or
    /// not signed by the keys its rule requires), recording that on the
    /// job. A module changed after it was signed is refused even so.
    #[arg(long)]
    allow_unsigned: bool,
    #[command(flatten)]
    options: RunOptions,
}

/// What a job runs on: its plan, failover type, direction and inputs (`run`,
/// `webhook create`).
#[derive(Args)]
pub struct JobArgs {
    /// The recovery plan (TOML).
    #[arg(long)]
    pub plan: PathBuf,
    /// The kind of failover the job performs.
    #[arg(long = "type", default_value = "planned", value_parser = failover_type())]
    pub failover_type: FailoverType,
    /// The direction of the failover.
    #[arg(long, value_enum, default_value = "primary-to-recovery")]
    pub direction: DirectionArg,
    /// An input of the job, `key=value`; repeat for more.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Widens the job's scope, on its record: `op=<operation>` lets it start
    /// an operation its type does not imply (a test job starts only test
    /// failovers and their cleanup), `vm=<vm>` operate on a VM outside its
    /// plan; repeat for more.
    #[arg(long = "grant", value_name = "op=OPERATION|vm=VM")]
    pub grants: Vec<String>,
}

impl JobArgs {
    /// The `--grant`s, checked against the fabric's items.
    pub fn grant(&self, items: &[ProtectedItem]) -> anyhow::Result<Grant> {
        let grant = Grant::parse_flags(&self.grants).map_err(|e| InputError::new(e.to_string()))?;
        let problems = grant.problems_against(items, "in --grant");
        if !problems.is_empty() {
            return Err(InputError::new(problems.join("\n")).into());
        }
        Ok(grant)
    }
}

/// `--type`: one of [`FailoverType::NAMES`], listed in `--help`.
fn failover_type() -> impl clap::builder::TypedValueParser<Value = FailoverType> {
    named(&FailoverType::NAMES)
}

/// A flag whose value is one of `names`, listed in `--help`, each of which
/// parses as a `T`.
pub fn named<T>(names: &'static [&'static str]) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
{
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(names).map(|name| {
        name.parse()
            .unwrap_or_else(|_| unreachable!("a listed name parses"))
    })
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum DirectionArg {
    PrimaryToRecovery,
    RecoveryToPrimary,
}

impl From<DirectionArg> for Direction {
    fn from(d: DirectionArg) -> Self {
        match d {
            DirectionArg::PrimaryToRecovery => Direction::PrimaryToRecovery,
            DirectionArg::RecoveryToPrimary => Direction::RecoveryToPrimary,
        }
    }
}

pub async fn run(global: &Global, args: RunArgs) -> anyhow::Result<Outcome> {
    let parameters = parse_params(&args.job.params)?;
    let plan = RecoveryPlan::load(&args.job.plan).map_err(|e| InputError::new(e.to_string()))?;
    let module = super::modules::fetch(global, &args.runbook).await?;

    let mode = match (global.json, std::io::stderr().is_terminal()) {
        (true, _) => progress::Mode::Quiet,
        (false, true) => progress::Mode::Bars,
        (false, false) => progress::Mode::Lines,
    };
    let view = progress::Live::new(&plan, mode, args.options.verbose);
    let (exec, dry_run) = if args.dry_run {
        let prepared = super::dry_run::prepare(global, &args.options, view.observer()).await?;
        view.note(&format!(
            "dry run on an in-memory copy of {}: nothing will be started there",
            prepared.report.estate
        ));
        (prepared.exec, Some((prepared.report, prepared.store_dir)))
    } else {
        let exec = super::execution(global, &args.options, super::Host::Here, view.observer())?;
        (exec, None)
    };
    // Trusted or not is decided on the bytes, before anything compiles them.
    let admission = exec
        .trust
        .admit(
            module.name(),
            &module.origin,
            &module.bytes,
            args.allow_unsigned,
        )
        .map_err(|e| InputError::new(e.to_string()))?;
    if let AdmittedBy::AllowUnsigned { refusal } = &admission.admitted_by {
        view.note(&format!(
            "--allow-unsigned: running a module the trust policy refuses, recorded on the job ({refusal})"
        ));
    }
    // A runbook that could never start under the job's memory limit is
    // refused here, before the job (and its module) is stored.
    exec.runtime
        .load_bytes(&module.bytes, &module.origin)
        .and_then(|runbook| runbook.fits(exec.limits.memory_bytes, &module.origin))
        .map_err(|e| InputError::new(e.to_string()))?;
    // Checked just now: the worker below need not verify it again.
    exec.checked
        .note(&module.digest, module.name(), Some(&admission));
    let items = exec
        .fabric
        .list_items_without_points()
        .await
        .context("reading the fabric")?;
    check_against(&plan, &items).map_err(|e| InputError::new(e.to_string()))?;
    let grant = args.job.grant(&items)?;

    let spec = JobSpec {
        job_id: new_id(),
        plan: plan.clone(),
        failover_type: args.job.failover_type,
        direction: args.job.direction.into(),
        parameters,
        trigger: Trigger::CommandLine { user: super::who() },
        grant,
        admission: Some(admission),
    };
    let job = NewJob {
        digest: &module.digest,
        runbook: module.name(),
        spec: &spec,
    };
    // One job at a time changes a plan: a busy one is refused, or queued.
    let on_busy = if args.queue {
        OnBusy::Queue
    } else {
        OnBusy::Refuse
    };
    match exec.store.admit(job, &module.bytes, on_busy).await? {
        Some(busy) if busy.on_busy == OnBusy::Queue => {
            eprintln!(
                "job {} {busy}; it starts once that job has ended",
                spec.job_id
            );
        }
        Some(busy) => {
            let job = &busy.job;
            return Err(InputError::new(format!(
                "plan `{}` is busy: job {job} has not ended, and one job at a time changes a plan; follow it \
                 (`drbook jobs logs {job} --follow`), stop it (`drbook jobs stop {job}`), or add --queue to \
                 run this one once it has ended",
                busy.plan
            ))
            .into());
        }
        None => {}
    }
    if args.detach {
        println!("{}", spec.job_id);
        return Ok(Outcome::Success);
    }
    let store = exec.store.clone();
    let kept = if dry_run.is_some() {
        super::Kept::DryRun
    } else {
        super::Kept::InStore
    };
    let outcome = super::run_job_here(exec, &spec.job_id, &view, kept).await?;
    let dry_run = dry_run.as_ref().map(|(report, _store_dir)| report);
    super::print_outcome(global, &*store, &plan, &outcome, &view, dry_run).await
}

/// `key=value` pairs into a map; an empty key, a missing `=` or a repeated
/// key is an input error.
pub(super) fn parse_params(raw: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    for pair in raw {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(InputError::new(format!(
                "--param `{pair}` has no `=`; write it as --param key=value"
            ))
            .into());
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(InputError::new(format!(
                "--param `{pair}` has an empty key; write it as --param key=value"
            ))
            .into());
        }
        if params.insert(key.to_string(), value.to_string()).is_some() {
            return Err(InputError::new(format!(
                "--param `{key}` is given twice; give each input once"
            ))
            .into());
        }
    }
    Ok(params)
}
