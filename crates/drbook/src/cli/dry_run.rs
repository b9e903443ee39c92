//! `drbook run --dry-run`: the runbook on an in-memory copy of the estate,
//! so that an operator sees what a run would do before it does it.
//!
//! The estate is read through the configured backend (reads only: on Azure
//! the vault's protected items and their recovery points) and copied into
//! an in-memory simulator (`drbook_fabric_sim::Snapshot`), which refuses
//! what the estate would refuse now. The job runs there faster than real
//! time, and its durations and RTO are scaled back to the simulator's
//! time: estimates from its profile. The job itself lives in a job store in
//! a temporary directory, removed when the run ends: no worker reads it,
//! so nothing can later start the job for real. Nobody else can reach it
//! either, so its manual steps are approved as it reaches them, each said.

use anyhow::Context as _;
use std::sync::Arc;

use super::progress::Live;
use super::summary::DryRun;
use super::{Global, Host, InputError, RunOptions};
use crate::config::FabricChoice;
use drbook_core::job::Approval;
use drbook_core::store::JobStore;
use drbook_core::TimeScale;
use drbook_fabric_sim::{Options, Snapshot};
use drbook_jobs::Execution;
use drbook_runtime::Observer;
use drbook_store_sqlite::SqliteStore;

/// The dry run's speed when `--speed` does not say: ten simulated minutes
/// per second, at which a poll every 30 simulated seconds is 50 ms, so the
/// estimates keep the precision of a live run's polling.
const DEFAULT_SPEED: f64 = 600.0;

/// A dry run ready to go: its execution (the copy, the temporary store),
/// what its summary says it ran on, and the store's directory, removed when
/// dropped.
pub struct Prepared {
    pub exec: Execution,
    pub report: DryRun,
    pub store_dir: tempfile::TempDir,
}

/// Reads the estate and builds the dry run's execution.
pub async fn prepare(
    global: &Global,
    options: &RunOptions,
    observer: Observer,
) -> anyhow::Result<Prepared> {
    let speed = match global.speed {
        None => DEFAULT_SPEED,
        Some(TimeScale::Factor(factor)) => factor,
        Some(TimeScale::Instant) => {
            return Err(InputError::new(
                "--dry-run estimates durations and the RTO by running the simulator's profile faster \
                 than real time, which `--speed instant` does not: pass a factor (`--speed 600` runs ten \
                 simulated minutes per second) or leave --speed out",
            )
            .into())
        }
    };
    let estate = match &global.config()?.fabric {
        FabricChoice::Simulator { .. } => {
            format!("the simulator in {}", global.data_dir()?.display())
        }
        FabricChoice::Azure(config) => format!("the Azure vault {}", config.vault_path()),
    };
    let backend = super::open_backend(global)?;
    let snapshot = Snapshot::read(backend.as_ref())
        .await
        .with_context(|| format!("reading {estate} for the dry run"))?;
    let (copy, mismatches) = snapshot
        .load(Options::new(TimeScale::Factor(speed)))
        .map_err(|e| InputError::new(e.to_string()))?;
    let store_dir =
        private_tempdir("drbook-dry-run-").context("creating the dry run's temporary job store")?;
    let exec = Execution {
        store: Arc::new(SqliteStore::open(store_dir.path())?),
        // Its runbook's HTTP writes are journaled, not sent.
        runtime: global.runtime(true)?.dry_run(),
        fabric: Arc::new(copy),
        limits: options.limits(),
        time_scale: TimeScale::Factor(speed),
        observer,
        unload_after: options.unload_after(Host::Here),
        trust: super::execute::trust(global)?,
        checked: Default::default(),
    };
    Ok(Prepared {
        exec,
        report: DryRun {
            estate,
            speed,
            mismatches: mismatches.iter().map(ToString::to_string).collect(),
        },
        store_dir,
    })
}

/// A temporary directory, removed when dropped, `0700`: private, as
/// every job store is (it holds the job's spec and journal). A dry run's
/// store, and a runbook test's (`drbook runbook test`).
pub fn private_tempdir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let mut dir = tempfile::Builder::new();
    dir.prefix(prefix);
    #[cfg(unix)]
    dir.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    dir.tempdir()
}

/// Approves the manual step at `journal_seq` of the dry run's job `job`,
/// and says so: no one else can decide it (its store is this process's),
/// and the dry run goes on to show what follows. A real run waits there for
/// a person.
pub fn approve(
    store: &Arc<dyn JobStore>,
    job: &str,
    journal_seq: usize,
    prompt: &str,
    view: &Live,
) {
    view.note(&format!(
        "dry run: approved the manual step `{prompt}`; a real run waits here for a person \
         (`drbook jobs approve`)"
    ));
    let (store, job, prompt, view) = (
        store.clone(),
        job.to_string(),
        prompt.to_string(),
        view.clone(),
    );
    tokio::spawn(async move {
        let approval = Approval {
            approved: true,
            by: "drbook run --dry-run".to_string(),
            comment: "approved by the dry run; a real run waits here for a person".to_string(),
            at: chrono::Utc::now(),
        };
        if let Err(e) = store.decide(&job, journal_seq, &approval).await {
            view.note(&format!(
                "dry run: cannot approve the manual step `{prompt}`: {e}; end the dry run with Ctrl-C"
            ));
        }
    });
}
