//! The SQLite file behind the simulator (`<data-dir>/fabric.db`): schema and
//! migrations, opening with the checks that keep a corrupt or newer store from
//! being touched, and the rows of items, regions, faults and meta data
//! (operations are `operations`'s, refused starts `refusals`').
//!
//! Two processes may share the file: it runs in WAL mode with a busy timeout,
//! and every write is one `BEGIN IMMEDIATE` transaction.

use super::faults::Faults;
use super::record::ItemRecord;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The schema this build reads and writes.
pub const SCHEMA_VERSION: i64 = 2;

/// `MIGRATIONS[n]` takes a store from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE regions (name TEXT PRIMARY KEY COLLATE NOCASE);
    CREATE TABLE items (name TEXT PRIMARY KEY COLLATE NOCASE, record TEXT NOT NULL);
    CREATE TABLE operations (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        vm TEXT NOT NULL COLLATE NOCASE,
        kind TEXT NOT NULL,
        request TEXT NOT NULL,
        initiator TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        state TEXT NOT NULL,
        fault TEXT,
        error TEXT,
        recovery_point_id TEXT
    );
    CREATE INDEX operations_due ON operations (state, end_ms);
    CREATE INDEX operations_vm_kind ON operations (vm, kind);
",
    "
    CREATE TABLE refusals (
        seq INTEGER PRIMARY KEY,
        initiator TEXT NOT NULL UNIQUE,
        vm TEXT NOT NULL COLLATE NOCASE,
        kind TEXT NOT NULL,
        request TEXT NOT NULL,
        rule TEXT NOT NULL,
        reason TEXT NOT NULL,
        at_ms INTEGER NOT NULL
    );
",
];

pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of the store itself; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("no fabric at {}; create one with `drbook fabric init --demo` (or `--estate FILE`)", path.display())]
    NotInitialised { path: PathBuf },

    #[error(
        "a fabric already exists at {}; pass --force to replace it (its items and history are lost), \
         or `drbook fabric reset` to start its estate over",
        path.display()
    )]
    AlreadyInitialised { path: PathBuf },

    #[error(
        "{} is not a readable drbook fabric store ({detail}); it was left untouched: move it away or \
         replace it with `drbook fabric init --force`",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },

    #[error(
        "the fabric store at {} has schema version {found}, newer than the {supported} this drbook \
         understands; it was left untouched: upgrade drbook, or use another --data-dir",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error("the fabric store failed: {0}; if another drbook holds it busy, retry")]
    Sqlite(#[from] rusqlite::Error),

    /// A call tried in place found the store in use; it is made again off
    /// the async threads, so callers never see this.
    #[error("the fabric store is in use")]
    InUse,

    #[error("the fabric store holds a record it cannot read ({0}); replace it with `drbook fabric init --force`")]
    Record(#[from] serde_json::Error),
}

/// Opens an existing store, refusing (without writing) one that is missing,
/// corrupt or newer, and migrates an older one.
pub fn open(path: &Path) -> Result<Connection, SchemaError> {
    if !path.is_file() {
        return Err(SchemaError::NotInitialised {
            path: path.to_path_buf(),
        });
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let found = schema_version(&conn, path)?;
    if found > SCHEMA_VERSION {
        return Err(SchemaError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    configure(&conn)?;
    if found < SCHEMA_VERSION {
        migrate(conn, found)
    } else {
        Ok(conn)
    }
}

/// Creates an empty store at the current schema. The caller has made sure the
/// file does not exist.
pub fn create(path: &Path) -> Result<Connection, SchemaError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    configure(&conn)?;
    migrate(conn, 0)
}

/// Creates an empty store at the current schema in memory: one connection's
/// own, gone when it is dropped (a dry run's copy of an estate).
pub fn create_in_memory() -> Result<Connection, SchemaError> {
    migrate(Connection::open_in_memory()?, 0)
}

fn configure(conn: &Connection) -> Result<(), SchemaError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// Reads the schema version without writing anything; a file SQLite cannot
/// read, or one without drbook's meta table, is corrupt.
fn schema_version(conn: &Connection, path: &Path) -> Result<i64, SchemaError> {
    let corrupt = |detail: String| SchemaError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(|err| match err.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => corrupt(err.to_string()),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => SchemaError::Sqlite(err),
            _ => corrupt(format!("no drbook schema: {err}")),
        })?;
    let version = version.ok_or_else(|| corrupt("no schema version".to_string()))?;
    version
        .parse()
        .map_err(|_| corrupt(format!("schema version `{version}` is not a number")))
}

fn migrate(mut conn: Connection, from: i64) -> Result<Connection, SchemaError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for migration in &MIGRATIONS[from as usize..] {
        tx.execute_batch(migration)?;
    }
    set_meta(&tx, "schema_version", &SCHEMA_VERSION.to_string())?;
    tx.commit()?;
    Ok(conn)
}

pub fn meta(conn: &Connection, key: &str) -> Result<Option<String>, SchemaError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
            row.get(0)
        })
        .optional()?)
}

pub fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), SchemaError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub fn faults(conn: &Connection) -> Result<Faults, SchemaError> {
    Ok(match meta(conn, "faults")? {
        Some(json) => serde_json::from_str(&json)?,
        None => Faults::default(),
    })
}

pub fn save_faults(conn: &Connection, faults: &Faults) -> Result<(), SchemaError> {
    set_meta(conn, "faults", &serde_json::to_string(faults)?)
}

pub fn regions(conn: &Connection) -> Result<Vec<String>, SchemaError> {
    let mut stmt = conn.prepare_cached("SELECT name FROM regions ORDER BY name")?;
    let rows = stmt.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn insert_region(conn: &Connection, name: &str) -> Result<(), SchemaError> {
    conn.execute("INSERT INTO regions (name) VALUES (?1)", [name])?;
    Ok(())
}

/// One item by name, case-insensitively.
pub fn item(conn: &Connection, name: &str) -> Result<Option<ItemRecord>, SchemaError> {
    let json: Option<String> = conn
        .prepare_cached("SELECT record FROM items WHERE name = ?1")?
        .query_row([name], |row| row.get(0))
        .optional()?;
    Ok(json.map(|json| serde_json::from_str(&json)).transpose()?)
}

/// Every item, by name.
pub fn items(conn: &Connection) -> Result<Vec<ItemRecord>, SchemaError> {
    let mut stmt = conn.prepare_cached("SELECT record FROM items ORDER BY name")?;
    let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
    let mut items = Vec::new();
    for json in rows {
        items.push(serde_json::from_str(&json?)?);
    }
    Ok(items)
}

/// Inserts or replaces an item.
pub fn save_item(conn: &Connection, item: &ItemRecord) -> Result<(), SchemaError> {
    conn.prepare_cached("INSERT OR REPLACE INTO items (name, record) VALUES (?1, ?2)")?
        .execute(params![item.name, serde_json::to_string(item)?])?;
    Ok(())
}

/// Empties the estate (items, regions, faults), keeping the history.
pub fn clear_estate(conn: &Connection) -> Result<(), SchemaError> {
    conn.execute_batch(
        "DELETE FROM items; DELETE FROM regions; DELETE FROM meta WHERE key = 'faults';",
    )?;
    Ok(())
}
