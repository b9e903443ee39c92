//! Operation rows: every operation ever started, with its real start and end
//! time. The table is both the source of progress (`Fabric::operation`) and
//! the audit trail (`drbook fabric history`), with the starts refused before
//! they reached the fabric (`refusals`).

use super::record::progress;
use super::schema::SchemaError;
use chrono::{DateTime, Utc};
use drbook_core::fabric::{OperationKind, OperationRequest, OperationState, OperationStatus};
use drbook_core::scope::Rule;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// One operation as stored.
#[derive(Debug, Clone)]
pub struct OpRow {
    pub id: String,
    pub vm: String,
    pub request: OperationRequest,
    pub initiator: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub state: OperationState,
    /// Why it will fail, decided when it started.
    pub fault: Option<String>,
    pub error: Option<String>,
    pub recovery_point_id: Option<String>,
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub id: String,
    pub start_time: DateTime<Utc>,
    /// When it ended (or will end, while in progress).
    pub end_time: DateTime<Utc>,
    pub vm: String,
    pub operation: OperationKind,
    /// The request's options (direction, recovery point, network, ...).
    pub options: serde_json::Value,
    pub initiator: String,
    pub outcome: Outcome,
    /// Why it failed, or why it was refused.
    pub error: Option<String>,
    /// The rule of a job's scope a refused start broke; none for a start
    /// the fabric refused itself (a passing fault).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
}

/// How an entry of the audit trail ended: as its operation did, or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    InProgress,
    Succeeded,
    Failed,
    Canceled,
    /// Refused by drbook's host before it reached the fabric (the start was
    /// outside its job's scope: `rule` says which), or by the fabric as a
    /// passing fault (no `rule`: throttled, `drbook fabric fault
    /// refuse-next`). Nothing started.
    Refused,
}

impl From<OperationState> for Outcome {
    fn from(state: OperationState) -> Self {
        match state {
            OperationState::InProgress => Outcome::InProgress,
            OperationState::Succeeded => Outcome::Succeeded,
            OperationState::Failed => Outcome::Failed,
            OperationState::Canceled => Outcome::Canceled,
        }
    }
}

/// A request's options, as the audit trail shows them: without its kind.
pub(super) fn options(request: &OperationRequest) -> Result<serde_json::Value, SchemaError> {
    let mut options = serde_json::to_value(request)?;
    if let Some(map) = options.as_object_mut() {
        map.remove("operation");
    }
    Ok(options)
}

/// Serialises a unit enum variant to its bare name (`"PlannedFailover"`).
pub(super) fn enum_text<T: Serialize>(value: &T) -> Result<String, SchemaError> {
    Ok(match serde_json::to_value(value)? {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    })
}

pub(super) fn enum_from_text<T: DeserializeOwned>(text: String) -> Result<T, SchemaError> {
    Ok(serde_json::from_value(serde_json::Value::String(text))?)
}

pub(super) fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

pub(super) fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

const COLUMNS: &str =
    "id, vm, request, initiator, start_ms, end_ms, state, fault, error, recovery_point_id";

/// The raw columns of a row; decoded outside rusqlite's closure so that a bad
/// record is a `SchemaError`, not a panic.
type RawRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn raw(row: &Row) -> rusqlite::Result<RawRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
    ))
}

fn decode(raw: RawRow) -> Result<OpRow, SchemaError> {
    let (id, vm, request, initiator, start, end, state, fault, error, recovery_point_id) = raw;
    Ok(OpRow {
        id,
        vm,
        request: serde_json::from_str(&request)?,
        initiator,
        start: time(start),
        end: time(end),
        state: enum_from_text(state)?,
        fault,
        error,
        recovery_point_id,
    })
}

fn query(
    conn: &Connection,
    filter: &str,
    param: impl rusqlite::Params,
) -> Result<Vec<OpRow>, SchemaError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM operations {filter}"))?;
    let raws = stmt.query_map(param, raw)?.collect::<Result<Vec<_>, _>>()?;
    raws.into_iter().map(decode).collect()
}

/// The next sequence number (inside the caller's write transaction).
pub fn next_seq(conn: &Connection) -> Result<i64, SchemaError> {
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM operations",
        [],
        |row| row.get(0),
    )?)
}

pub fn insert(conn: &Connection, seq: i64, op: &OpRow) -> Result<(), SchemaError> {
    conn.prepare_cached(&format!(
        "INSERT INTO operations (seq, kind, {COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    ))?
    .execute(params![
        seq,
        enum_text(&op.request.kind())?,
        op.id,
        op.vm,
        serde_json::to_string(&op.request)?,
        op.initiator,
        millis(op.start),
        millis(op.end),
        enum_text(&op.state)?,
        op.fault,
        op.error,
        op.recovery_point_id,
    ])?;
    Ok(())
}

/// Records how an operation ended.
pub fn update_outcome(conn: &Connection, op: &OpRow) -> Result<(), SchemaError> {
    conn.prepare_cached("UPDATE operations SET state = ?2, error = ?3, end_ms = ?4 WHERE id = ?1")?
        .execute(params![
            op.id,
            enum_text(&op.state)?,
            op.error,
            millis(op.end)
        ])?;
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<OpRow>, SchemaError> {
    Ok(query(conn, "WHERE id = ?1", [id])?.pop())
}

/// The latest operation `initiator` started on `vm`.
pub fn by_initiator(
    conn: &Connection,
    vm: &str,
    initiator: &str,
) -> Result<Option<OpRow>, SchemaError> {
    Ok(query(
        conn,
        "WHERE vm = ?1 AND initiator = ?2 ORDER BY seq DESC LIMIT 1",
        [vm, initiator],
    )?
    .pop())
}

/// Whether any operation in progress has reached its end time (a cheap read
/// that spares a write transaction when nothing is due).
pub fn any_due(conn: &Connection, now: DateTime<Utc>) -> Result<bool, SchemaError> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM operations WHERE state = 'InProgress' AND end_ms <= ?1 LIMIT 1",
        )?
        .query_row([millis(now)], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Operations in progress that end by `now` (all of them if `now` is `None`),
/// in the order they end.
pub fn in_progress(
    conn: &Connection,
    now: Option<DateTime<Utc>>,
) -> Result<Vec<OpRow>, SchemaError> {
    query(
        conn,
        "WHERE state = 'InProgress' AND end_ms <= ?1 ORDER BY end_ms, seq",
        [now.map_or(i64::MAX, millis)],
    )
}

pub fn all(conn: &Connection) -> Result<Vec<OpRow>, SchemaError> {
    query(conn, "ORDER BY seq", [])
}

/// How many operations of `kind` were ever started on `vm`.
pub fn count(conn: &Connection, vm: &str, kind: OperationKind) -> Result<u32, SchemaError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM operations WHERE vm = ?1 AND kind = ?2",
        params![vm, enum_text(&kind)?],
        |row| row.get(0),
    )?)
}

impl OpRow {
    pub fn status(&self, now: DateTime<Utc>) -> OperationStatus {
        let terminal = self.state.is_terminal();
        OperationStatus {
            id: self.id.clone(),
            vm: self.vm.clone(),
            request: self.request.clone(),
            state: self.state,
            percent_complete: if terminal {
                100
            } else {
                progress(self.start, self.end, now).min(99)
            },
            start_time: self.start,
            end_time: terminal.then_some(self.end),
            error: self.error.clone(),
            recovery_point_id: self.recovery_point_id.clone(),
        }
    }

    pub fn history(&self) -> Result<HistoryEntry, SchemaError> {
        Ok(HistoryEntry {
            id: self.id.clone(),
            start_time: self.start,
            end_time: self.end,
            vm: self.vm.clone(),
            operation: self.request.kind(),
            options: options(&self.request)?,
            initiator: self.initiator.clone(),
            outcome: self.state.into(),
            error: self.error.clone(),
            rule: None,
        })
    }
}
