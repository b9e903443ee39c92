//! What a trigger created ahead of its jobs pins (`webhook create`,
//! `schedule create`): its module, held to the trust policy on its bytes and
//! loaded once before anything is stored, as `drbook run` does for a job;
//! and its run target: the module's digest, the plan (read and checked
//! against the fabric now), the type, direction, inputs and grants. Every
//! job the trigger starts later runs that module, kept in the job store.

use drbook_core::fabric::ProtectedItem;
use drbook_core::job::RunTarget;
use drbook_core::module::Module;
use drbook_core::plan::{check_against, RecoveryPlan};
use drbook_runtime::Runtime;
use drbook_signing::Trust;
use drbook_triggers::LoadedRunbook;

use super::run::JobArgs;
use super::{Global, InputError};

/// Admits `module` under `trust` (or `allow_unsigned`) and loads it on
/// `runtime`: refused here, with why, rather than when a job starts.
pub fn admit(
    runtime: &Runtime,
    trust: &Trust,
    module: Module,
    allow_unsigned: bool,
) -> Result<LoadedRunbook, String> {
    let admission = trust
        .admit(module.name(), &module.origin, &module.bytes, allow_unsigned)
        .map_err(|e| e.to_string())?;
    let runbook = runtime
        .load_bytes(&module.bytes, &module.origin)
        .map_err(|e| e.to_string())?;
    Ok(LoadedRunbook {
        name: module.name,
        digest: runbook.digest.clone(),
        bytes: module.bytes,
        admission,
    })
}

/// A trigger's run, pinned.
pub struct Pinned {
    pub run: RunTarget,
    /// The module's bytes, for the store.
    pub bytes: Vec<u8>,
    /// The fabric's items, as the plan was checked against them.
    pub items: Vec<ProtectedItem>,
}

/// Fetches `runbook` (a file, or an `oci://` reference resolved now, once),
/// admits it with `admit`, and reads the job's plan and grants against the
/// fabric: every input error says what to fix, before anything is stored.
pub async fn target(
    global: &Global,
    runbook: &str,
    job: &JobArgs,
    admit: impl Fn(Module) -> Result<LoadedRunbook, String>,
) -> anyhow::Result<Pinned> {
    let parameters = super::run::parse_params(&job.params)?;
    let module = super::modules::fetch(global, runbook).await?;
    let loaded = admit(module).map_err(InputError::new)?;
    let plan = RecoveryPlan::load(&job.plan).map_err(|e| InputError::new(e.to_string()))?;
    let fabric = super::open_backend(global)?;
    let items = fabric.list_items_without_points().await?;
    check_against(&plan, &items).map_err(|e| InputError::new(e.to_string()))?;
    let grant = job.grant(&items)?;
    let run = RunTarget {
        runbook: loaded.name,
        digest: loaded.digest,
        plan,
        failover_type: job.failover_type,
        direction: job.direction.into(),
        parameters,
        grant,
        admission: Some(loaded.admission),
    };
    Ok(Pinned {
        run,
        bytes: loaded.bytes,
        items,
    })
}
