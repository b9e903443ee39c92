//! Refused starts: operations drbook's host refused before they reached the
//! fabric (outside their job's scope), and starts the simulator itself
//! refused as a passing fault (`Fault::RefuseNext`, Azure's throttling),
//! kept for the audit trail beside the operations and never mistaken for
//! one: `operation`, `find_operation` and the operation counts read only
//! the operations table. A fabric's own refusal breaks no rule of a scope:
//! its `rule` column is empty.

use super::operations::{enum_from_text, enum_text, millis, options, time, HistoryEntry, Outcome};
use super::schema::SchemaError;
use chrono::{DateTime, Utc};
use drbook_core::fabric::{OperationRequest, RefusedStart};
use rusqlite::{params, Connection};

/// Records `refused` at `now`, once per initiator: an initiator recorded
/// before keeps its first record.
pub fn insert(
    conn: &Connection,
    refused: &RefusedStart,
    now: DateTime<Utc>,
) -> Result<(), SchemaError> {
    conn.prepare_cached(
        "INSERT INTO refusals (initiator, vm, kind, request, rule, reason, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (initiator) DO NOTHING",
    )?
    .execute(params![
        refused.initiator,
        refused.vm,
        enum_text(&refused.request.kind())?,
        serde_json::to_string(&refused.request)?,
        enum_text(&refused.rule)?,
        refused.reason,
        millis(now),
    ])?;
    Ok(())
}

/// Records a start the simulator refused itself (a passing fault), at
/// `now`, once per initiator as [`insert`] does.
pub fn insert_fabric(
    conn: &Connection,
    vm: &str,
    request: &OperationRequest,
    initiator: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), SchemaError> {
    conn.prepare_cached(
        "INSERT INTO refusals (initiator, vm, kind, request, rule, reason, at_ms)
         VALUES (?1, ?2, ?3, ?4, '', ?5, ?6) ON CONFLICT (initiator) DO NOTHING",
    )?
    .execute(params![
        initiator,
        vm,
        enum_text(&request.kind())?,
        serde_json::to_string(request)?,
        reason,
        millis(now),
    ])?;
    Ok(())
}

/// Every refused start, oldest first, as audit entries.
pub fn history(conn: &Connection) -> Result<Vec<HistoryEntry>, SchemaError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, initiator, vm, request, rule, reason, at_ms FROM refusals ORDER BY seq",
    )?;
    let rows = stmt
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, i64>(6)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(seq, initiator, vm, request, rule, reason, at)| {
            let request: OperationRequest = serde_json::from_str(&request)?;
            let rule = match rule.as_str() {
                "" => None,
                _ => Some(enum_from_text(rule)?),
            };
            Ok(HistoryEntry {
                id: format!("refused-{seq:06}"),
                start_time: time(at),
                end_time: time(at),
                vm,
                operation: request.kind(),
                options: options(&request)?,
                initiator,
                outcome: Outcome::Refused,
                error: Some(reason),
                rule,
            })
        })
        .collect()
}
