//! [`AzureFabric`]: the `Fabric` port over ARM. Reads list the vault's
//! protected items (across its fabrics and containers) and each item's
//! recovery points; a start checks the item as the simulator would, records
//! its intent, and POSTs the action once, with the initiator's client
//! request id; an operation is the ASR job the POST started, read from
//! `replicationJobs`.

use crate::audit::{AuditLog, Record};
use crate::budget::Budget;
use crate::client::{http_client, Answer, ArmClient, ArmSettings, PostError};
use crate::config::AzureConfig;
use crate::credential::Credentials;
use crate::error::ArmError;
use crate::item_reads::ItemReads;
use crate::map;
use crate::request::{self, request_id};
use crate::wire;
use async_trait::async_trait;
use chrono::Utc;
use drbook_core::fabric::{
    Fabric, FabricError, OperationKind, OperationState, OperationStatus, ProtectedItem,
    RefusedStart,
};
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many items' recovery points a list reads at once.
const POINT_READS_AT_ONCE: usize = 8;

/// How many ended jobs read by their starts are kept for their first
/// status (`AzureFabric::ended`): past this, a start nobody asked about is
/// forgotten, and its status costs a GET.
const ENDED_KEPT: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Arm(#[from] ArmError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error("cannot read the CA file {}: {source}", path.display())]
    CaFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

pub struct AzureFabric {
    arm: ArmClient,
    vault: String,
    audit: AuditLog,
    /// Friendly name (lowercase) → the ids of the items with that name, as
    /// the last list saw them: a start or read by name costs one read of
    /// its item, not a list.
    names: Mutex<NameIndex>,
    /// Held while the vault is listed into `names`: the starts of a fresh
    /// process, which all find the index empty, wait for one list instead
    /// of each listing the vault.
    listing: tokio::sync::Mutex<()>,
    /// Item reads, shared by the callers that ask at the same time.
    items: ItemReads,
    /// Job name (lowercase) → the job as its start read it, when it had
    /// already ended (instant at times): the first status asked of it is
    /// that read, as an ended job no longer changes. Taken once.
    ended: Mutex<HashMap<String, wire::Job>>,
    /// Job name (lowercase) → the `Retry-After` ARM last gave with it,
    /// until the job is seen ended.
    retry_after: Mutex<HashMap<String, Duration>>,
    poll_interval: Duration,
}

/// The HTTPS client (trusting `config`'s CA file too) and the credentials
/// of `config`: what the backend's fabric and its resource calls
/// ([`crate::ArmResources`]) each talk to ARM with.
pub(crate) fn connect(
    config: &AzureConfig,
) -> Result<(reqwest::Client, Arc<Credentials>), OpenError> {
    let ca = match &config.ca_file {
        Some(path) => Some(std::fs::read(path).map_err(|source| OpenError::CaFile {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    let http = http_client(ca.as_deref(), config.timeout)?;
    let credentials = Arc::new(Credentials::new(
        config.credential.clone(),
        http.clone(),
        config.scope(),
    ));
    Ok((http, credentials))
}

/// An ARM client of `config`'s endpoint, api-version, retries and timeout,
/// within the process's budget of its subscription.
pub(crate) fn arm_client(
    config: &AzureConfig,
    http: reqwest::Client,
    credentials: Arc<Credentials>,
) -> Result<ArmClient, OpenError> {
    let budget = Budget::shared(&config.arm_endpoint, &config.subscription, config.limits);
    let settings = ArmSettings {
        endpoint: config.arm_endpoint.clone(),
        api_version: config.api_version.clone(),
        retry: config.retry,
        timeout: config.timeout,
    };
    Ok(ArmClient::new(&settings, http, credentials, budget)?)
}

impl AzureFabric {
    /// The backend for `config`, with one credential chain of its own.
    pub fn open(config: &AzureConfig) -> Result<AzureFabric, OpenError> {
        let (http, credentials) = connect(config)?;
        Self::with_credentials(config, http, credentials)
    }

    /// The backend for `config` using `credentials` and `http` (shared with
    /// other fabrics of the process, or a test's).
    pub fn with_credentials(
        config: &AzureConfig,
        http: reqwest::Client,
        credentials: Arc<Credentials>,
    ) -> Result<AzureFabric, OpenError> {
        Ok(AzureFabric {
            arm: arm_client(config, http, credentials)?,
            vault: config.vault_path(),
            audit: AuditLog::open(&config.data_dir)?,
            names: Mutex::default(),
            listing: tokio::sync::Mutex::default(),
            items: ItemReads::default(),
            ended: Mutex::default(),
            retry_after: Mutex::default(),
            poll_interval: config.poll_interval,
        })
    }

    pub fn arm(&self) -> &ArmClient {
        &self.arm
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub fn vault_path(&self) -> &str {
        &self.vault
    }

    fn index(&self) -> std::sync::MutexGuard<'_, NameIndex> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every protected item of the vault as ARM gives it, following
    /// `nextLink`; refreshes the name index.
    pub(crate) async fn list_raw(&self) -> Result<Vec<wire::Item>, FabricError> {
        let _turn = self.listing.lock().await;
        self.list_into_index().await
    }

    /// [`Self::list_raw`], its caller holding `listing`.
    async fn list_into_index(&self) -> Result<Vec<wire::Item>, FabricError> {
        let seq = {
            let mut index = self.index();
            index.begun += 1;
            index.begun
        };
        let (items, pages) = self
            .arm
            .list_pages::<wire::Item>(&format!("{}/replicationProtectedItems", self.vault))
            .await
            .map_err(ArmError::into_fabric)?;
        let mut names: HashMap<String, Vec<String>> = HashMap::new();
        for item in &items {
            let name = item
                .properties
                .friendly_name
                .clone()
                .unwrap_or_else(|| item.name.clone());
            names
                .entry(name.to_ascii_lowercase())
                .or_default()
                .push(item.id.clone());
        }
        *self.index() = NameIndex {
            names,
            begun: seq,
            filled: seq,
            pages,
        };
        Ok(items)
    }

    async fn points(&self, item_id: &str) -> Result<Vec<wire::RecoveryPoint>, FabricError> {
        self.arm
            .list(&format!("{item_id}/recoveryPoints"))
            .await
            .map_err(ArmError::into_fabric)
    }

    /// The id of the one item named `vm`: from the name index, else from a
    /// list of the vault, one at a time. A caller that waited for a list
    /// takes the name from it; a list begun after the caller asked that does
    /// not name it says the vault has no such item.
    async fn resolve(&self, vm: &str) -> Result<String, FabricError> {
        let key = vm.to_ascii_lowercase();
        let asked = {
            let index = self.index();
            if let Some(ids) = index.names.get(&key) {
                return only_item(vm, ids);
            }
            index.begun
        };
        let _turn = self.listing.lock().await;
        let seen = {
            let index = self.index();
            index
                .names
                .get(&key)
                .cloned()
                .or_else(|| (index.filled > asked).then(Vec::new))
        };
        let ids = match seen {
            Some(ids) => ids,
            None => {
                self.list_into_index().await?;
                self.index().names.get(&key).cloned().unwrap_or_default()
            }
        };
        only_item(vm, &ids)
    }

    /// The item `id` as ARM gives it now: read after this call began,
    /// shared with the reads asked at the same time (`ItemReads`).
    async fn read_item(&self, id: &str) -> Result<wire::Item, ArmError> {
        let pages = {
            let index = self.index();
            // Before any list, a list's cost is unknown: GETs.
            if index.filled == 0 {
                usize::MAX
            } else {
                index.pages
            }
        };
        self.items.read(&self.arm, &self.vault, pages, id).await
    }

    /// The item named `vm` as ARM gives it now (no recovery points).
    async fn raw_item(&self, vm: &str) -> Result<wire::Item, FabricError> {
        let id = self.resolve(vm).await?;
        match self.read_item(&id).await {
            Ok(item) => Ok(item),
            Err(e) if e.status() == Some(404) => {
                // Deleted or moved since the last list: list again, once.
                self.index().names.remove(&vm.to_ascii_lowercase());
                let id = self.resolve(vm).await?;
                self.read_item(&id).await.map_err(|e| match e.status() {
                    Some(404) => FabricError::ItemNotFound { vm: vm.to_string() },
                    _ => e.into_fabric(),
                })
            }
            Err(e) => Err(e.into_fabric()),
        }
    }

    /// The item named `vm`, raw and read, with its recovery points if
    /// `with_points` (a read without them shows none).
    async fn fetch(
        &self,
        vm: &str,
        with_points: bool,
    ) -> Result<(wire::Item, ProtectedItem), FabricError> {
        let raw = self.raw_item(vm).await?;
        let points = match with_points {
            true => self.points(&raw.id).await?,
            false => Vec::new(),
        };
        let item = map::item(&raw, &points, Utc::now());
        Ok((raw, item))
    }

    async fn job(&self, name: &str) -> Result<wire::Job, ArmError> {
        let answer = self
            .arm
            .get(&format!("{}/replicationJobs/{name}", self.vault))
            .await?;
        if let Some(wait) = answer.retry_after() {
            self.retry_after
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.to_ascii_lowercase(), wait);
        }
        answer.json()
    }

    /// The job `request_id` started on the item `item_id` (named `vm`), the
    /// latest if several: the item's current job if it is one, else the
    /// vault's jobs searched by their activity id.
    async fn find_job(
        &self,
        item_id: &str,
        vm: &str,
        request_id: &str,
    ) -> Result<Option<wire::Job>, FabricError> {
        let item = self
            .read_item(item_id)
            .await
            .map_err(ArmError::into_fabric)?;
        self.find_job_in(&item, vm, request_id).await
    }

    /// [`Self::find_job`] with `item` as just read.
    async fn find_job_in(
        &self,
        item: &wire::Item,
        vm: &str,
        request_id: &str,
    ) -> Result<Option<wire::Job>, FabricError> {
        let item_id = item.id.as_str();
        if let Some(scenario) = map::scenario(item.properties.current_scenario.as_ref()) {
            match self.job(&scenario.job_id).await {
                Ok(job) if map::job_request_id(&job) == Some(request_id) => return Ok(Some(job)),
                Ok(_) => {}
                Err(e) if e.status() == Some(404) => {}
                Err(e) => return Err(e.into_fabric()),
            }
        }
        let jobs: Vec<wire::Job> = self
            .arm
            .list(&format!("{}/replicationJobs", self.vault))
            .await
            .map_err(ArmError::into_fabric)?;
        let item_name = map::last_segment(item_id);
        Ok(jobs
            .into_iter()
            .filter(|job| map::job_request_id(job) == Some(request_id))
            .filter(|job| {
                let p = &job.properties;
                p.target_object_name
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case(vm))
                    || p.target_object_id.as_deref().is_some_and(|t| {
                        t.eq_ignore_ascii_case(item_name) || t.eq_ignore_ascii_case(item_id)
                    })
            })
            .max_by_key(|job| job.properties.start_time))
    }

    /// The job a POST's answer names: in its `Location` or
    /// `Azure-AsyncOperation` (`.../replicationJobs/{name}...`), else the
    /// item's current job, else the vault's jobs by request id.
    async fn job_of(
        &self,
        answer: &Answer,
        raw: &wire::Item,
        vm: &str,
        request_id: &str,
    ) -> Result<String, FabricError> {
        for header in ["location", "azure-asyncoperation"] {
            if let Some(name) = answer.header(header).and_then(job_in_url) {
                return Ok(name);
            }
        }
        // Site Recovery names its operation results after the job at times:
        // one GET says whether this one is ours.
        if let Some(name) = answer
            .header("location")
            .and_then(|url| url.split(['?', '#']).next())
            .map(|path| map::last_segment(path).to_string())
            .filter(|name| is_segment(name))
        {
            if let Ok(job) = self.job(&name).await {
                if map::job_request_id(&job) == Some(request_id) {
                    return Ok(self.started(job));
                }
            }
        }
        if let Some(job) = self.find_job(&raw.id, vm, request_id).await? {
            return Ok(self.started(job));
        }
        Err(FabricError::Transient {
            message: format!(
                "Site Recovery accepted the operation on `{vm}` (request {request_id}) but shows \
                 no job for it yet; `drbook fabric show` shows whether it runs"
            ),
        })
    }

    /// The name of `job`, just found as a start's; kept for its first
    /// status if it has ended already.
    fn started(&self, job: wire::Job) -> String {
        let name = job.name.clone();
        if map::job_state(job.properties.state.as_deref()).is_terminal() {
            let mut ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
            if ended.len() >= ENDED_KEPT {
                ended.clear();
            }
            ended.insert(name.to_ascii_lowercase(), job);
        }
        name
    }

    /// What an operation looks like to a caller, from its job.
    async fn status_of(&self, job: &wire::Job) -> Result<OperationStatus, FabricError> {
        let p = &job.properties;
        let kind = p
            .scenario_name
            .as_deref()
            .and_then(map::operation_kind)
            .or_else(|| p.friendly_name.as_deref().and_then(map::operation_kind));
        let state = map::job_state(p.state.as_deref());
        let vm_hint = p.target_object_name.clone().unwrap_or_default();
        let known = self
            .audit
            .known(&job.name, map::job_request_id(job), &vm_hint, kind);
        let needs_item = known.is_none()
            || (state == OperationState::Succeeded && kind.is_some_and(restores_from_a_point));
        let vm = known.as_ref().map(|k| k.vm.clone()).unwrap_or(vm_hint);
        let item = match needs_item && !vm.is_empty() {
            true => self.raw_item(&vm).await.ok(),
            false => None,
        };
        let read = item.as_ref().map(|raw| map::item(raw, &[], Utc::now()));
        let request = match known {
            Some(known) => known.request,
            None => {
                let kind = kind.ok_or_else(|| FabricError::InvalidRequest {
                    message: format!(
                        "job {} is a {} job of Site Recovery, not an operation drbook drives",
                        job.name,
                        p.scenario_name.as_deref().unwrap_or("unnamed")
                    ),
                })?;
                request::rebuilt(kind, read.as_ref(), state.is_terminal())
            }
        };
        if vm.is_empty() {
            return Err(FabricError::InvalidRequest {
                message: format!("job {} names no protected item", job.name),
            });
        }
        let start_time = p.start_time.unwrap_or(chrono::DateTime::<Utc>::UNIX_EPOCH);
        let recovery_point_id = match (state, &read) {
            (OperationState::Succeeded, Some(read)) if restores_from_a_point(request.kind()) => {
                read.failover_recovery_point_id.clone()
            }
            _ => None,
        };
        Ok(OperationStatus {
            id: job.name.clone(),
            vm,
            request,
            state,
            percent_complete: map::job_percent(job),
            start_time,
            end_time: state
                .is_terminal()
                .then(|| p.end_time.unwrap_or(start_time).max(start_time)),
            error: (state == OperationState::Failed).then(|| {
                map::job_error(job)
                    .or_else(|| p.state_description.clone())
                    .unwrap_or_else(|| "Site Recovery reports the job failed".to_string())
            }),
            recovery_point_id,
        })
    }

    /// A start Site Recovery refused although the item allowed it: busy if
    /// the item is now, else ASR's own reason.
    async fn refusal(&self, err: ArmError, vm: &str, kind: OperationKind) -> FabricError {
        match &err {
            ArmError::Status { status: 404, .. } => {
                FabricError::ItemNotFound { vm: vm.to_string() }
            }
            ArmError::Status {
                status: 400 | 409,
                code,
                message,
            } => {
                if let Ok((_, fresh)) = self.fetch(vm, false).await {
                    if let Some(scenario) = fresh.current_scenario {
                        return FabricError::Busy {
                            vm: fresh.name,
                            scenario: scenario.scenario_name,
                            operation_id: scenario.job_id,
                        };
                    }
                }
                FabricError::Refused {
                    vm: vm.to_string(),
                    operation: kind,
                    code: code.clone(),
                    message: message.clone(),
                }
            }
            _ => err.into_fabric(),
        }
    }
}

/// The item names' index, and which lists filled it.
#[derive(Default)]
struct NameIndex {
    /// Friendly name (lowercase) → the ids of the items with that name.
    names: HashMap<String, Vec<String>>,
    /// Lists of the vault begun, and the one (by that count) that filled
    /// `names`: 0 before any.
    begun: u64,
    filled: u64,
    /// How many pages that list took.
    pages: usize,
}

/// The one id of `ids`, the items named `vm`.
fn only_item(vm: &str, ids: &[String]) -> Result<String, FabricError> {
    match ids {
        [] => Err(FabricError::ItemNotFound { vm: vm.to_string() }),
        [id] => Ok(id.clone()),
        several => Err(FabricError::InvalidRequest {
            message: format!(
                "{} protected items of the vault are named `{vm}` ({}); drbook names VMs by \
                 their friendly names, so rename one or protect it in another vault",
                several.len(),
                several.join(", ")
            ),
        }),
    }
}

/// Operations whose outcome is a recovery point the item restored from.
fn restores_from_a_point(kind: OperationKind) -> bool {
    matches!(
        kind,
        OperationKind::PlannedFailover
            | OperationKind::UnplannedFailover
            | OperationKind::ChangeRecoveryPoint
    )
}

/// The job name in a URL `.../replicationJobs/{name}[/...][?...]`.
pub fn job_in_url(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let mut segments = path.split('/');
    segments.find(|s| s.eq_ignore_ascii_case("replicationJobs"))?;
    segments
        .next()
        .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("none"))
        .map(str::to_string)
}

/// Whether `id` can be a name in a URL path (a job's, a recovery plan's).
pub(crate) fn is_segment(id: &str) -> bool {
    !id.is_empty() && !id.contains(['/', '?', '#', '%']) && id != "." && id != ".."
}

#[async_trait]
impl Fabric for AzureFabric {
    async fn list_items(&self) -> Result<Vec<ProtectedItem>, FabricError> {
        let raws = self.list_raw().await?;
        let now = Utc::now();
        let mut items: Vec<ProtectedItem> = stream::iter(raws)
            .map(|raw| async move {
                let points = self.points(&raw.id).await?;
                Ok::<_, FabricError>(map::item(&raw, &points, now))
            })
            .buffer_unordered(POINT_READS_AT_ONCE)
            .try_collect()
            .await?;
        items.sort_by_key(|item| item.name.to_ascii_lowercase());
        Ok(items)
    }

    /// One listing (its pages), no point reads: the RPO comes with each item.
    async fn list_items_without_points(&self) -> Result<Vec<ProtectedItem>, FabricError> {
        let now = Utc::now();
        let mut items: Vec<ProtectedItem> = self
            .list_raw()
            .await?
            .iter()
            .map(|raw| map::item(raw, &[], now))
            .collect();
        items.sort_by_key(|item| item.name.to_ascii_lowercase());
        Ok(items)
    }

    async fn get_item(&self, vm: &str) -> Result<ProtectedItem, FabricError> {
        Ok(self.fetch(vm, true).await?.1)
    }

    async fn start(
        &self,
        vm: &str,
        request: &drbook_core::fabric::OperationRequest,
        initiator: &str,
    ) -> Result<String, FabricError> {
        // The item alone unless the request names a recovery point: the
        // points only serve to check and send that one.
        let with_points = request::needs_points(request);
        let (raw, item) = self.fetch(vm, with_points).await?;
        let rid = request_id(initiator);
        if let Err(refused) = request::precheck(&item, request) {
            // The item may refuse because this initiator's operation runs
            // or ran on it: another run of the job (its worker stalled past
            // its lease after the intent) POSTed after this run, which took
            // the job over, found nothing. That operation is this start's.
            return match self.find_job_in(&raw, &item.name, &rid).await? {
                Some(job) => Ok(self.started(job)),
                None => Err(refused),
            };
        }
        let (action, body) = request::action(request, &raw, &item)?;
        let local = |e: crate::audit::AuditError| FabricError::Transient {
            message: e.to_string(),
        };
        self.audit
            .append(
                Record::Intent {
                    at: Utc::now(),
                    request_id: rid.clone(),
                    vm: item.name.clone(),
                    initiator: initiator.to_string(),
                    request: request.clone(),
                },
                true,
            )
            .map_err(local)?;
        let path = format!("{}/{action}", raw.id);
        let policy = self.arm.retry_policy();
        let mut attempt = 0;
        let job = loop {
            attempt += 1;
            match self.arm.post(&path, body.as_ref(), &rid).await {
                Ok(answer) => break self.job_of(&answer, &raw, &item.name, &rid).await?,
                Err(PostError::Refused(err)) => {
                    // A refusal may be a POST of this initiator's at work:
                    // ours, whose answer was lost, or another run's of the
                    // job (see the precheck above). It wins.
                    if let Some(job) = self.find_job(&raw.id, &item.name, &rid).await? {
                        break job.name;
                    }
                    return Err(self.refusal(err, &item.name, request.kind()).await);
                }
                Err(PostError::NotStarted(wait)) => {
                    if attempt >= policy.attempts {
                        return Err(FabricError::Transient {
                            message: format!(
                                "Azure throttled the {} of `{vm}` {attempt} times; nothing was started",
                                request.kind()
                            ),
                        });
                    }
                    self.arm.note_retry();
                    tokio::time::sleep(policy.wait(attempt, wait)).await;
                }
                Err(PostError::Unknown {
                    reason,
                    retry_after,
                }) => {
                    tracing::warn!(vm, %reason, "no answer to a POST: looking for its job before anything else");
                    tokio::time::sleep(policy.wait(attempt, retry_after)).await;
                    // One read of the item, after the wait, answers both
                    // questions: is the operation running (its current
                    // scenario), and may it still start.
                    let (fresh_raw, fresh) = self.fetch(vm, with_points).await?;
                    if let Some(job) = self.find_job_in(&fresh_raw, &item.name, &rid).await? {
                        break job.name;
                    }
                    if attempt >= policy.attempts {
                        return Err(FabricError::Transient {
                            message: format!(
                                "the {} of `{vm}` got no answer {attempt} times ({reason}) and Azure \
                                 shows no job for it; `drbook fabric show` shows whether it runs",
                                request.kind()
                            ),
                        });
                    }
                    // Azure shows nothing started: the item must still
                    // allow the operation before it is asked again.
                    request::precheck(&fresh, request)?;
                    self.arm.note_retry();
                }
            }
        };
        self.audit
            .append(
                Record::Started {
                    at: Utc::now(),
                    request_id: rid,
                    job: job.clone(),
                    vm: item.name.clone(),
                    request: request.clone(),
                },
                false,
            )
            .map_err(local)?;
        Ok(job)
    }

    async fn operation(&self, id: &str) -> Result<OperationStatus, FabricError> {
        let not_found = || FabricError::OperationNotFound { id: id.to_string() };
        if !is_segment(id) {
            return Err(not_found());
        }
        let ended = self
            .ended
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id.to_ascii_lowercase());
        let job = match ended {
            Some(job) => job,
            None => match self.job(id).await {
                Ok(job) => job,
                Err(e) if e.status() == Some(404) => return Err(not_found()),
                Err(e) => return Err(e.into_fabric()),
            },
        };
        let status = self.status_of(&job).await?;
        if status.state.is_terminal() {
            // An ended job is not polled again: its `Retry-After` goes, or
            // a worker that runs for months keeps one per job it ever ran.
            self.retry_after
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id.to_ascii_lowercase());
        }
        Ok(status)
    }

    async fn find_operation(
        &self,
        vm: &str,
        initiator: &str,
    ) -> Result<Option<OperationStatus>, FabricError> {
        let id = match self.resolve(vm).await {
            Ok(id) => id,
            Err(FabricError::ItemNotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        match self.find_job(&id, vm, &request_id(initiator)).await? {
            Some(job) => self.status_of(&job).await.map(Some),
            None => Ok(None),
        }
    }

    async fn record_refusal(&self, refused: &RefusedStart) -> Result<(), FabricError> {
        self.audit
            .refuse(refused)
            .map_err(|e| FabricError::Transient {
                message: e.to_string(),
            })
    }

    fn poll_interval(&self, status: &OperationStatus) -> Duration {
        if status.state.is_terminal() {
            return Duration::ZERO;
        }
        self.retry_after
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&status.id.to_ascii_lowercase())
            .copied()
            .unwrap_or(self.poll_interval)
    }
}
