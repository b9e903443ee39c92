//! `drbook run`: runs a runbook against a recovery plan on the fabric, with
//! live progress in a terminal and a summary (or one JSON document) at the end.

use anyhow::Context as _;
use clap::Args;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use super::{progress, summary, Global, InputError, Outcome};
use crate::fabric::{Direction, Fabric};
use crate::plan::{check_against, FailoverType, RecoveryPlan};
use crate::runtime::{
    parse_bytes, parse_duration, JobOptions, JobSpec, JobStatus, Limits, Observer,
};

#[derive(Args)]
pub struct RunArgs {
    /// The runbook: a WebAssembly component built with drbook-sdk.
    runbook: PathBuf,
    /// The recovery plan (TOML).
    #[arg(long)]
    plan: PathBuf,
    /// The kind of failover the job performs.
    #[arg(long = "type", value_enum, default_value = "planned")]
    failover_type: FailoverType,
    /// The direction of the failover.
    #[arg(long, value_enum, default_value = "primary-to-recovery")]
    direction: DirectionArg,
    /// An input of the job, `key=value`; repeat for more.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// The runbook's memory limit.
    #[arg(long, default_value = "64MiB", value_parser = parse_bytes)]
    memory: usize,
    /// The runbook's wall-clock deadline, waits included.
    #[arg(long, default_value = "4h", value_parser = parse_duration)]
    deadline: std::time::Duration,
    /// Show the runbook's verbose stream too.
    #[arg(long, short)]
    verbose: bool,
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
    let parameters = parse_params(&args.params)?;
    let plan = RecoveryPlan::load(&args.plan).map_err(|e| InputError::new(e.to_string()))?;
    let data_dir = global.data_dir()?;
    let fabric: Arc<dyn Fabric> = Arc::new(super::open_fabric(global)?);
    let runtime = crate::runtime::Runtime::new(Some(data_dir.join("cache")))
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("starting the WebAssembly runtime")?;
    let runbook = runtime
        .load(&args.runbook)
        .map_err(|e| InputError::new(e.to_string()))?;

    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async {
        let items = fabric.list_items().await.context("reading the fabric")?;
        check_against(&plan, &items).map_err(|e| InputError::new(e.to_string()))?;

        let spec = JobSpec {
            job_id: super::new_job_id(),
            plan: plan.clone(),
            failover_type: args.failover_type,
            direction: args.direction.into(),
            parameters,
        };
        let mode = match (global.json, std::io::stderr().is_terminal()) {
            (true, _) => progress::Mode::Quiet,
            (false, true) => progress::Mode::Bars,
            (false, false) => progress::Mode::Lines,
        };
        let view = progress::Live::new(&plan, mode, args.verbose);
        let observer = {
            let view = view.clone();
            Observer::new(move |event| view.show(event))
        };
        let options = JobOptions {
            limits: Limits {
                memory_bytes: args.memory,
                deadline: args.deadline,
                ..Limits::default()
            },
            speed: global.speed,
            observer,
        };
        let outcome = runtime
            .run_job(&runbook, spec, fabric.clone(), options)
            .await;
        view.finish();
        let report = summary::Summary::new(&plan, &outcome);
        if global.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", report.render());
        }
        Ok(match outcome.status {
            JobStatus::Completed => Outcome::Success,
            JobStatus::Failed => Outcome::Failed,
        })
    })
}

/// `key=value` pairs into a map; an empty key, a missing `=` or a repeated
/// key is an input error.
fn parse_params(raw: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
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
