//! The `Simulator` handle: opening and initialising the store, and the two
//! ways into it. Every read first *settles* the operations whose end time has
//! passed (applies their effects in one transaction), so time moves on even
//! while no process is running; every write is one `BEGIN IMMEDIATE`
//! transaction that settles first too.

use super::clock::{Clock, SystemClock};
use super::estate::{Estate, EstateError};
use super::operations;
use super::profile::Profile;
use super::record::ItemRecord;
use super::recovery_points::Replication;
use super::schema::{self, SchemaError};
use super::state_machine::{self, Completion};
use chrono::{DateTime, Duration, Utc};
use drbook_core::fabric::{
    FabricError, Location, OperationState, ProtectionState, TestFailoverState,
};
use drbook_core::TimeScale;
use rusqlite::{Connection, TransactionBehavior};
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

/// The file of the store inside the data directory.
pub const STORE_FILE: &str = "fabric.db";

/// How a simulator runs: its speed, its clock and its durations.
#[derive(Clone)]
pub struct Options {
    pub speed: TimeScale,
    pub clock: Arc<dyn Clock>,
    pub profile: Profile,
}

impl Options {
    /// The wall clock and Azure-like durations at `speed`.
    pub fn new(speed: TimeScale) -> Self {
        Options {
            speed,
            clock: Arc::new(SystemClock),
            profile: Profile::default(),
        }
    }

    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Options { clock, ..self }
    }
}

/// Why a store could not be opened, initialised or reset.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error(transparent)]
    Store(#[from] SchemaError),

    #[error(transparent)]
    Estate(#[from] EstateError),

    #[error("cannot prepare the data directory {}: {source}; check its permissions or pass another --data-dir", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The embedded Site Recovery simulator. Cheap to clone: clones share one
/// connection, held only for the few milliseconds a transaction takes.
#[derive(Clone)]
pub struct Simulator {
    pub(super) shared: Arc<Shared>,
}

pub(super) struct Shared {
    pub(super) conn: Mutex<Connection>,
    pub(super) options: Options,
    /// Prefix of this fabric's operation ids, so that ids of a replaced
    /// fabric never resolve in the new one.
    pub(super) fabric_id: String,
}

impl Simulator {
    pub fn store_path(data_dir: &Path) -> PathBuf {
        data_dir.join(STORE_FILE)
    }

    /// Opens the fabric in `data_dir` on the wall clock.
    pub fn open(data_dir: &Path, speed: TimeScale) -> Result<Self, SimulatorError> {
        Self::open_with(data_dir, Options::new(speed))
    }

    pub fn open_with(data_dir: &Path, options: Options) -> Result<Self, SimulatorError> {
        let conn = schema::open(&Self::store_path(data_dir))?;
        Self::from_conn(conn, options)
    }

    /// Creates a fabric with `estate` in `data_dir`. An existing fabric is
    /// refused unless `force`; then it is replaced, history included. The
    /// estate is validated before anything is written.
    pub fn init(
        data_dir: &Path,
        estate: &Estate,
        force: bool,
        speed: TimeScale,
    ) -> Result<Self, SimulatorError> {
        Self::init_with(data_dir, estate, force, Options::new(speed))
    }

    pub fn init_with(
        data_dir: &Path,
        estate: &Estate,
        force: bool,
        options: Options,
    ) -> Result<Self, SimulatorError> {
        estate.validate()?;
        let io = |source| SimulatorError::Io {
            path: data_dir.to_path_buf(),
            source,
        };
        drbook_core::private::create_dir(data_dir).map_err(io)?;
        let path = Self::store_path(data_dir);
        let mut conn = if path.exists() {
            match schema::open(&path) {
                Ok(_) if !force => return Err(SchemaError::AlreadyInitialised { path }.into()),
                Ok(conn) => conn,
                Err(err) if !force => return Err(err.into()),
                Err(_) => {
                    for suffix in ["", "-wal", "-shm"] {
                        let file = PathBuf::from(format!("{}{suffix}", path.display()));
                        if file.exists() {
                            std::fs::remove_file(&file).map_err(io)?;
                        }
                    }
                    schema::create(&path)?
                }
            }
        } else {
            schema::create(&path)?
        };
        let now = options.clock.now();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(SchemaError::from)?;
        tx.execute_batch("DELETE FROM operations;")
            .map_err(SchemaError::from)?;
        schema::set_meta(&tx, "fabric_id", &new_fabric_id(now))?;
        schema::set_meta(
            &tx,
            "estate",
            &serde_json::to_string(estate).map_err(SchemaError::from)?,
        )?;
        seed(&tx, estate, now, &options)?;
        tx.commit().map_err(SchemaError::from)?;
        Self::from_conn(conn, options)
    }

    pub(super) fn from_conn(conn: Connection, options: Options) -> Result<Self, SimulatorError> {
        let fabric_id = schema::meta(&conn, "fabric_id")?.unwrap_or_else(|| "sim".to_string());
        Ok(Simulator {
            shared: Arc::new(Shared {
                conn: Mutex::new(conn),
                options,
                fabric_id,
            }),
        })
    }

    pub(super) fn options(&self) -> &Options {
        &self.shared.options
    }

    /// The connection: in a call made [`in_place`], only if it is free and
    /// with no busy timeout (SQLite gives up at once on another process's
    /// lock); waited for otherwise.
    fn lock(&self) -> Result<MutexGuard<'_, Connection>, SchemaError> {
        // A panic while holding the lock cannot leave a transaction half
        // applied (it rolls back on drop), so a poisoned lock is still usable.
        let (conn, timeout) = if IN_PLACE.get() {
            match self.shared.conn.try_lock() {
                Ok(conn) => (conn, std::time::Duration::ZERO),
                Err(TryLockError::Poisoned(poisoned)) => {
                    (poisoned.into_inner(), std::time::Duration::ZERO)
                }
                Err(TryLockError::WouldBlock) => {
                    WOULD_WAIT.set(true);
                    return Err(SchemaError::InUse);
                }
            }
        } else {
            let conn = self
                .shared
                .conn
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            (conn, schema::BUSY_TIMEOUT)
        };
        conn.busy_timeout(timeout)?;
        Ok(conn)
    }

    /// Runs `f` in one write transaction, after settling; an error rolls
    /// everything back, so a refusal changes nothing.
    pub(super) fn write<T, E: From<SchemaError>>(
        &self,
        f: impl FnOnce(&Connection, DateTime<Utc>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.lock()?;
        let now = self.options().clock.now();
        let tx = begin(&mut conn)?;
        self.settle(&tx, now)?;
        let out = f(&tx, now)?;
        tx.commit().map_err(SchemaError::from)?;
        Ok(out)
    }

    /// Runs `f` on a consistent snapshot, after settling (which writes only
    /// when some operation is due).
    pub(super) fn read<T, E: From<SchemaError>>(
        &self,
        f: impl FnOnce(&Connection, DateTime<Utc>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.lock()?;
        let now = self.options().clock.now();
        if operations::any_due(&conn, now)? {
            let tx = begin(&mut conn)?;
            self.settle(&tx, now)?;
            tx.commit().map_err(SchemaError::from)?;
        }
        let tx = conn.transaction().map_err(SchemaError::from)?;
        f(&tx, now)
    }

    /// Applies the effects of every operation that has ended by `now`, in the
    /// order they ended, each at its own end time.
    fn settle(&self, conn: &Connection, now: DateTime<Utc>) -> Result<(), SchemaError> {
        let schedule = &self.options().profile.recovery_points;
        let interval = schedule.real_interval(self.options().speed);
        for mut op in operations::in_progress(conn, Some(now))? {
            let item = schema::item(conn, &op.vm)?;
            match item {
                Some(mut item) if item.running.as_ref().is_some_and(|r| r.op_id == op.id) => {
                    state_machine::finish(
                        &mut item,
                        &Completion {
                            request: &op.request,
                            recovery_point: op.recovery_point_id.as_deref(),
                            end: op.end,
                            failure: op.fault.as_deref(),
                            interval,
                            schedule,
                        },
                    );
                    schema::save_item(conn, &item)?;
                    op.state = if op.fault.is_some() {
                        OperationState::Failed
                    } else {
                        OperationState::Succeeded
                    };
                    op.error = op.fault.clone();
                }
                _ => {
                    op.state = OperationState::Canceled;
                    op.error = Some(
                        "the item no longer runs this operation (the fabric was reset)".to_string(),
                    );
                }
            }
            operations::update_outcome(conn, &op)?;
        }
        Ok(())
    }
}

/// Writes the estate's regions and items, each `Protected` on its primary
/// side with a full window of recovery points.
pub(super) fn seed(
    conn: &Connection,
    estate: &Estate,
    now: DateTime<Utc>,
    options: &Options,
) -> Result<(), SchemaError> {
    schema::clear_estate(conn)?;
    for region in &estate.regions {
        schema::insert_region(conn, region)?;
    }
    let schedule = &options.profile.recovery_points;
    let interval = schedule.real_interval(options.speed);
    let history = Duration::milliseconds(interval.num_milliseconds() * i64::from(schedule.window));
    for vm in &estate.vms {
        let item = ItemRecord {
            name: vm.name.clone(),
            role: vm.role.clone(),
            disk_size_gb: vm.disk_size_gb,
            primary_region: vm.primary_region.clone(),
            recovery_region: vm.recovery_region.clone(),
            active: Location::Primary,
            state: ProtectionState::Protected,
            test_state: TestFailoverState::None,
            replication: Some(Replication::new(
                Location::Primary,
                0,
                now - history,
                interval,
                schedule,
            )),
            next_generation: 1,
            running: None,
            last_failover: None,
            last_test_failover: None,
            failover_point: None,
            health_errors: Vec::new(),
            test_vm: None,
        };
        schema::save_item(conn, &item)?;
    }
    Ok(())
}

/// A short id that differs between fabrics created at different times.
fn new_fabric_id(now: DateTime<Utc>) -> String {
    let digest = Sha256::digest(format!(
        "{}/{}",
        now.timestamp_nanos_opt().unwrap_or_default(),
        std::process::id()
    ));
    hex::encode(&digest[..4])
}

thread_local! {
    /// Whether this thread is making a call [`in_place`].
    static IN_PLACE: Cell<bool> = const { Cell::new(false) };
    /// Whether that call found it would have to wait.
    static WOULD_WAIT: Cell<bool> = const { Cell::new(false) };
}

/// Tries `f` (a call of this simulator) in place, on the calling async
/// thread, under the promise that it does not wait: the connection is taken
/// only if free, and a write transaction only if no other process holds the
/// database's lock. `None` if it would have waited, before anything changed:
/// the caller makes the call off the async threads instead. Most calls are
/// short reads and page-cache writes, which then cost what they did before
/// the simulator was called from async code.
pub(super) fn in_place<T>(f: impl FnOnce() -> T) -> Option<T> {
    IN_PLACE.set(true);
    WOULD_WAIT.set(false);
    let out = f();
    IN_PLACE.set(false);
    if WOULD_WAIT.replace(false) {
        None
    } else {
        Some(out)
    }
}

/// Begins a write transaction; in place, another process's lock means the
/// call would wait.
fn begin(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>, SchemaError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| {
            let busy = matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            );
            if busy && IN_PLACE.get() {
                WOULD_WAIT.set(true);
            }
            SchemaError::from(e)
        })
}

impl From<SchemaError> for FabricError {
    fn from(err: SchemaError) -> Self {
        FabricError::Transient {
            message: err.to_string(),
        }
    }
}
