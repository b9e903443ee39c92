//! Schedules in SQLite (schema 6's `schedules` and `schedule_ticks`): each
//! schedule as created, with what changes beside it (paused, its next tick,
//! its latest tick and job), and a row per tick handled, keyed by schedule
//! and tick, written in the transaction that creates the tick's job.

use rusqlite::{params, OptionalExtension};

use crate::db::{decode, encode, millis, Result, SqliteStore};
use crate::jobs::place;
use drbook_core::job::JobStatus;
use drbook_core::schedule::{Schedule, ScheduleRow, TickOutcome, TickRecord};
use drbook_core::store::{NewTick, OnBusy};

const COLUMNS: &str = "schedule, paused, next_ms, last, last_job";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScheduleRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn decoded(row: ScheduleRow) -> Result<Schedule> {
    Ok(Schedule::from_row(row)?)
}

impl SqliteStore {
    pub(crate) fn create_schedule(&self, s: &Schedule, module: &[u8]) -> Result<bool> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO modules (digest, bytes) VALUES (?1, ?2)",
                params![s.run.digest, module],
            )?;
            Ok(insert(tx, s)? == 1)
        })
    }

    pub(crate) fn schedule(&self, name: &str) -> Result<Option<Schedule>> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM schedules WHERE name = ?1"))?;
        let row = stmt.query_row([name], row).optional()?;
        row.map(decoded).transpose()
    }

    pub(crate) fn schedules(&self, due_by: Option<i64>) -> Result<Vec<Schedule>> {
        let conn = self.conn()?;
        let rows = match due_by {
            None => conn
                .prepare_cached(&format!("SELECT {COLUMNS} FROM schedules ORDER BY name"))?
                .query_map([], row)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
            Some(due_by) => conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM schedules WHERE paused = 0 AND next_ms <= ?1 ORDER BY name"
                ))?
                .query_map([due_by], row)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
        };
        rows.into_iter().map(decoded).collect()
    }

    pub(crate) fn next_tick(&self) -> Result<Option<i64>> {
        Ok(self.conn()?.query_row(
            "SELECT min(next_ms) FROM schedules WHERE paused = 0",
            [],
            |r| r.get(0),
        )?)
    }

    pub(crate) fn pause_schedule(&self, name: &str) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute("UPDATE schedules SET paused = 1 WHERE name = ?1", [name])? == 1)
        })
    }

    pub(crate) fn resume_schedule(&self, name: &str, next: Option<i64>) -> Result<bool> {
        self.write(|tx| {
            let paused: Option<bool> = tx
                .query_row(
                    "SELECT paused FROM schedules WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?;
            if paused == Some(true) {
                tx.execute(
                    "UPDATE schedules SET paused = 0, next_ms = ?2 WHERE name = ?1",
                    params![name, next],
                )?;
            }
            Ok(paused.is_some())
        })
    }

    pub(crate) fn delete_schedule(&self, name: &str) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute("DELETE FROM schedules WHERE name = ?1", [name])?;
            tx.execute("DELETE FROM schedule_ticks WHERE schedule = ?1", [name])?;
            Ok(n == 1)
        })
    }

    /// Ticks, each once (see `JobStore::fire_ticks`), in one durable
    /// transaction.
    pub(crate) fn fire_ticks(&self, ticks: &[NewTick<'_>]) -> Result<Vec<Option<TickRecord>>> {
        self.write_durably(|tx| ticks.iter().map(|t| fire(tx, t)).collect())
    }

    pub(crate) fn schedule_ticks(&self, name: &str, limit: usize) -> Result<Vec<TickRecord>> {
        let conn = self.conn()?;
        let rows = conn
            .prepare_cached(
                "SELECT record FROM schedule_ticks WHERE schedule = ?1 ORDER BY tick_ms DESC LIMIT ?2",
            )?
            .query_map(params![name, limit as i64], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.iter().map(|r| decode("schedule tick", r)).collect()
    }
}

/// One tick, once: the schedule is checked, the tick keyed, the job placed
/// and the schedule moved on, in `tx`.
fn fire(tx: &rusqlite::Transaction<'_>, t: &NewTick<'_>) -> Result<Option<TickRecord>> {
    let found: Option<(bool, Option<i64>, Option<String>)> = tx
        .prepare_cached("SELECT paused, next_ms, last_job FROM schedules WHERE name = ?1")?
        .query_row([t.schedule], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((paused, Some(next), last_job)) = found else {
        return Ok(None);
    };
    if paused || next > millis(t.tick) {
        return Ok(None);
    }
    let keyed = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO schedule_ticks (schedule, tick_ms, record) VALUES (?1, ?2, '')",
        )?
        .execute(params![t.schedule, millis(t.tick)])?;
    if keyed == 0 {
        return Ok(None);
    }
    let running = match last_job {
        Some(id) => still_going(tx, &id)?.then_some(id),
        None => None,
    };
    let outcome = match (t.job, running) {
        (None, _) => TickOutcome::Missed { missed: t.missed },
        (Some(_), Some(job)) => TickOutcome::Overlap { job },
        (Some(job), None) => TickOutcome::placed(job, t.missed, place(tx, job, OnBusy::Refuse)?),
    };
    let record = TickRecord {
        tick: t.tick,
        at: t.at,
        outcome,
    };
    tx.prepare_cached(
        "UPDATE schedule_ticks SET record = ?3 WHERE schedule = ?1 AND tick_ms = ?2",
    )?
    .execute(params![t.schedule, millis(t.tick), encode(&record)])?;
    tx.prepare_cached(
        "UPDATE schedules SET next_ms = ?2, last = ?3, last_job = coalesce(?4, last_job)
             WHERE name = ?1",
    )?
    .execute(params![
        t.schedule,
        t.next.map(millis),
        encode(&record),
        record.outcome.job()
    ])?;
    Ok(Some(record))
}

/// Whether job `id` has not ended (a job pruned away has).
fn still_going(tx: &rusqlite::Transaction<'_>, id: &str) -> Result<bool> {
    let state: Option<String> = tx
        .prepare_cached("SELECT state FROM jobs WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(match state {
        Some(state) => !decode::<JobStatus>("job state", &state)?.is_terminal(),
        None => false,
    })
}

/// Inserts schedule `s` as it stands (its module already stored), unless
/// one of its name exists; how many rows were inserted.
pub(crate) fn insert(tx: &rusqlite::Transaction<'_>, s: &Schedule) -> Result<usize> {
    Ok(tx
        .prepare_cached(
            "INSERT OR IGNORE INTO schedules (name, schedule, digest, paused, next_ms, last, last_job)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            s.name,
            encode(s),
            s.run.digest,
            s.paused,
            s.next.map(millis),
            s.last.as_ref().map(encode),
            s.last_job
        ])?)
}

/// Inserts a tick's record (an import's).
pub(crate) fn insert_tick(
    tx: &rusqlite::Transaction<'_>,
    schedule: &str,
    record: &TickRecord,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO schedule_ticks (schedule, tick_ms, record) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![schedule, millis(record.tick), encode(record)])?;
    Ok(())
}
