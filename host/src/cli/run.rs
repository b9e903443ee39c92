//! `drbook run`: creates a job for a runbook and a recovery plan, and runs it
//! here with live progress (or leaves it to a worker with `--detach`). The
//! job is durable: if this process dies, `drbook jobs resume` or any
//! `drbook worker` finishes it.

use anyhow::Context as _;
use clap::Args;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use super::{progress, Global, InputError, Outcome, RunOptions};
use crate::fabric::Direction;
use crate::jobs::JobStore;
use crate::plan::{check_against, FailoverType, RecoveryPlan};
use crate::runtime::JobSpec;

#[derive(Args)]
pub struct RunArgs {
    /// The runbook: a WebAssembly component built with drbook-sdk.
    runbook: PathBuf,
    #[command(flatten)]
    job: JobArgs,
    /// Create the job and leave it to a worker (`drbook worker`); print its id.
    #[arg(long)]
    detach: bool,
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
    #[arg(long = "type", value_enum, default_value = "planned")]
    pub failover_type: FailoverType,
    /// The direction of the failover.
    #[arg(long, value_enum, default_value = "primary-to-recovery")]
    pub direction: DirectionArg,
    /// An input of the job, `key=value`; repeat for more.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
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

pub fn run(global: &Global, args: RunArgs) -> anyhow::Result<Outcome> {
    let parameters = parse_params(&args.job.params)?;
    let plan = RecoveryPlan::load(&args.job.plan).map_err(|e| InputError::new(e.to_string()))?;
    let data_dir = global.data_dir()?;
    let module = std::fs::read(&args.runbook).map_err(|e| {
        InputError::new(format!(
            "cannot read runbook {}: {e}",
            args.runbook.display()
        ))
    })?;
    let name = args
        .runbook
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async {
        let mode = match (global.json, std::io::stderr().is_terminal()) {
            (true, _) => progress::Mode::Quiet,
            (false, true) => progress::Mode::Bars,
            (false, false) => progress::Mode::Lines,
        };
        let view = progress::Live::new(&plan, mode, args.options.verbose);
        let exec = super::execution(global, &args.options, super::Host::Here, view.observer())?;
        let runbook = exec
            .runtime
            .load_bytes(&module, &args.runbook.display().to_string())
            .map_err(|e| InputError::new(e.to_string()))?;
        let items = exec
            .fabric
            .list_items()
            .await
            .context("reading the fabric")?;
        check_against(&plan, &items).map_err(|e| InputError::new(e.to_string()))?;

        let store = JobStore::open(&data_dir).context("opening the job store")?;
        let spec = JobSpec {
            job_id: crate::jobs::new_id(),
            plan: plan.clone(),
            failover_type: args.job.failover_type,
            direction: args.job.direction.into(),
            parameters,
            webhook: None,
            alert: None,
        };
        let trigger = format!("cli:{}", super::who());
        store.create(
            &spec.job_id,
            &runbook.digest,
            &module,
            &name,
            &spec,
            &trigger,
        )?;
        if args.detach {
            println!("{}", spec.job_id);
            return Ok(Outcome::Success);
        }
        let outcome = super::run_job_here(exec, &spec.job_id, &view).await?;
        super::print_outcome(global, &plan, &outcome, &view)
    })
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
