//! `drbook fabric op <operation> <vm>...`: drive operations by hand. The raw
//! flags are checked against the operation first (a flag it does not take is
//! an input error), then turned into one request per VM; the direction
//! defaults to the one the VM's replication allows.

use super::{initiator, Global, InputError, Outcome};
use clap::{Args, ValueEnum};
use drbook_core::fabric::{
    Direction, Fabric, FabricError, OperationKind, OperationRequest, OperationState,
    OperationStatus, ProtectedItem, RecoveryPointChoice, SourceSiteOperations,
};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

#[derive(Args)]
pub struct OpArgs {
    /// planned-failover, unplanned-failover, test-failover, test-failover-cleanup, commit,
    /// cancel-failover, change-recovery-point or reprotect.
    #[arg(value_parser = parse_operation)]
    operation: OperationKind,

    /// The VMs to start it on (each gets its own operation).
    #[arg(required = true)]
    vms: Vec<String>,

    /// Failover direction; defaults to the one the VM's replication allows.
    #[arg(long, value_enum)]
    direction: Option<DirectionArg>,

    /// latest, latest-processed, latest-app-consistent, latest-crash-consistent or a
    /// recovery point id (`drbook fabric show --json` lists them).
    #[arg(long)]
    recovery_point: Option<String>,

    /// The isolated network a test failover brings the copy up in.
    #[arg(long)]
    network: Option<String>,

    /// Whether an unplanned failover tries to shut the source down first.
    #[arg(long, value_enum)]
    source_site_operations: Option<SourceSiteArg>,

    /// Comments recorded with a test failover cleanup.
    #[arg(long)]
    comments: Option<String>,

    /// Show progress until every operation is done.
    #[arg(long)]
    wait: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum DirectionArg {
    PrimaryToRecovery,
    RecoveryToPrimary,
}

#[derive(Clone, Copy, ValueEnum)]
enum SourceSiteArg {
    Required,
    NotRequired,
}

fn parse_operation(name: &str) -> Result<OperationKind, String> {
    OperationKind::ALL
        .into_iter()
        .find(|kind| kind.cli_name() == name)
        .ok_or_else(|| {
            let names: Vec<_> = OperationKind::ALL.iter().map(|k| k.cli_name()).collect();
            format!(
                "unknown operation `{name}`; use one of: {}",
                names.join(", ")
            )
        })
}

fn parse_recovery_point(text: &str) -> RecoveryPointChoice {
    match text {
        "latest" => RecoveryPointChoice::Latest,
        "latest-processed" => RecoveryPointChoice::LatestProcessed,
        "latest-app-consistent" => RecoveryPointChoice::LatestApplicationConsistent,
        "latest-crash-consistent" => RecoveryPointChoice::LatestCrashConsistent,
        id => RecoveryPointChoice::Id(id.to_string()),
    }
}

impl OpArgs {
    /// Refuses flags the operation does not take.
    fn check_flags(&self) -> Result<(), InputError> {
        use OperationKind::*;
        let kind = self.operation;
        let flags: [(&str, bool, &[OperationKind]); 5] = [
            (
                "--direction",
                self.direction.is_some(),
                &[PlannedFailover, UnplannedFailover, TestFailover],
            ),
            (
                "--recovery-point",
                self.recovery_point.is_some(),
                &[UnplannedFailover, TestFailover, ChangeRecoveryPoint],
            ),
            ("--network", self.network.is_some(), &[TestFailover]),
            (
                "--source-site-operations",
                self.source_site_operations.is_some(),
                &[UnplannedFailover],
            ),
            (
                "--comments",
                self.comments.is_some(),
                &[TestFailoverCleanup],
            ),
        ];
        for (flag, given, takes) in flags {
            if given && !takes.contains(&kind) {
                let names: Vec<_> = takes.iter().map(|k| k.cli_name()).collect();
                return Err(InputError::new(format!(
                    "{flag} does not apply to {kind}; it applies to {}",
                    names.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The request for one VM as it is now.
    fn request(&self, item: &ProtectedItem) -> Result<OperationRequest, InputError> {
        let direction = match self.direction {
            Some(DirectionArg::PrimaryToRecovery) => Direction::PrimaryToRecovery,
            Some(DirectionArg::RecoveryToPrimary) => Direction::RecoveryToPrimary,
            None => match item.active_location {
                drbook_core::fabric::Location::Primary => Direction::PrimaryToRecovery,
                drbook_core::fabric::Location::Recovery => Direction::RecoveryToPrimary,
            },
        };
        let recovery_point = self
            .recovery_point
            .as_deref()
            .map_or(RecoveryPointChoice::Latest, parse_recovery_point);
        Ok(match self.operation {
            OperationKind::PlannedFailover => OperationRequest::PlannedFailover { direction },
            OperationKind::UnplannedFailover => OperationRequest::UnplannedFailover {
                direction,
                recovery_point,
                source_site_operations: match self.source_site_operations {
                    Some(SourceSiteArg::Required) => SourceSiteOperations::Required,
                    _ => SourceSiteOperations::NotRequired,
                },
            },
            OperationKind::TestFailover => OperationRequest::TestFailover {
                direction,
                network: self.network.clone().ok_or_else(|| {
                    InputError::new("test-failover needs --network NAME: the isolated network the test VM comes up in")
                })?,
                recovery_point,
            },
            OperationKind::TestFailoverCleanup => {
                OperationRequest::TestFailoverCleanup { comments: self.comments.clone().unwrap_or_default() }
            }
            OperationKind::Commit => OperationRequest::Commit,
            OperationKind::CancelFailover => OperationRequest::CancelFailover,
            OperationKind::ChangeRecoveryPoint => match recovery_point {
                RecoveryPointChoice::Id(recovery_point_id) if self.recovery_point.is_some() => {
                    OperationRequest::ChangeRecoveryPoint { recovery_point_id }
                }
                _ => {
                    return Err(InputError::new(
                        "change-recovery-point needs --recovery-point ID, one of the VM's recovery points \
                         (`drbook fabric show --json` lists them)",
                    ));
                }
            },
            OperationKind::Reprotect => OperationRequest::Reprotect,
        })
    }
}

pub async fn run(global: &Global, args: OpArgs) -> anyhow::Result<Outcome> {
    args.check_flags()?;
    let sim = crate::cli::open_backend(global)?;
    drive(global, sim.as_ref(), &args).await
}

async fn drive(global: &Global, sim: &dyn Fabric, args: &OpArgs) -> anyhow::Result<Outcome> {
    // Every VM must exist and every request be well formed before any starts.
    let mut requests = Vec::new();
    for vm in &args.vms {
        let item = sim.get_item(vm).await?;
        requests.push((item.name.clone(), args.request(&item)?));
    }
    let initiator = initiator();
    let mut started = Vec::new();
    let mut refused: Vec<FabricError> = Vec::new();
    for (vm, request) in &requests {
        match sim.start(vm, request, &initiator).await {
            Ok(id) => started.push((vm.clone(), id)),
            Err(err) => refused.push(err),
        }
    }
    let statuses = if args.wait {
        Some(wait(sim, &started, global.json).await?)
    } else {
        None
    };
    report(global, args.operation, &started, statuses.as_deref())?;
    if let [only] = refused.as_slice() {
        if requests.len() == 1 {
            return Err(only.clone().into());
        }
    }
    if let Some((first, rest)) = refused.split_first() {
        for err in rest {
            eprintln!("error: {err}");
        }
        return Err(anyhow::Error::new(first.clone()).context(format!(
            "{} of {} VMs refused {}",
            refused.len(),
            requests.len(),
            args.operation
        )));
    }
    let failed = statuses
        .iter()
        .flatten()
        .any(|s| s.state != OperationState::Succeeded);
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// Polls every operation until it is terminal, with a bar each (not in JSON mode).
async fn wait(
    sim: &dyn Fabric,
    started: &[(String, String)],
    json: bool,
) -> anyhow::Result<Vec<OperationStatus>> {
    let multi = MultiProgress::new();
    if json {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let style = ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos:>3}% {msg}")?
        .progress_chars("=> ");
    let bars: Vec<ProgressBar> = started
        .iter()
        .map(|(vm, id)| {
            let bar = multi.add(ProgressBar::new(100).with_style(style.clone()));
            bar.set_prefix(vm.clone());
            bar.set_message(id.clone());
            bar
        })
        .collect();
    let waits = started.iter().zip(&bars).map(|((_, id), bar)| async move {
        let status = sim
            .wait(id, &mut |status| {
                bar.set_position(u64::from(status.percent_complete))
            })
            .await?;
        bar.finish_with_message(format!("{:?}", status.state));
        Ok(status)
    });
    futures::future::try_join_all(waits).await
}

fn report(
    global: &Global,
    kind: OperationKind,
    started: &[(String, String)],
    statuses: Option<&[OperationStatus]>,
) -> anyhow::Result<()> {
    if global.json {
        let json = match statuses {
            Some(statuses) => serde_json::to_value(statuses)?,
            None => serde_json::json!(started
                .iter()
                .map(|(vm, id)| serde_json::json!({ "vm": vm, "id": id }))
                .collect::<Vec<_>>()),
        };
        println!("{json}");
        return Ok(());
    }
    match statuses {
        Some(statuses) => {
            for status in statuses {
                match &status.error {
                    Some(error) => println!(
                        "{} {kind} {:?}: {error} ({})",
                        status.vm, status.state, status.id
                    ),
                    None => println!("{} {kind} {:?} ({})", status.vm, status.state, status.id),
                }
            }
        }
        None => {
            for (vm, id) in started {
                println!("{vm} {kind} started: {id}");
            }
        }
    }
    Ok(())
}
