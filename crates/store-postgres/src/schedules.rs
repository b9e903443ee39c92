//! Schedules in PostgreSQL (schema 3's `schedules` and `schedule_ticks`):
//! each schedule as created, with what changes beside it, and a row per tick
//! handled, keyed by schedule and tick, written in the transaction that
//! creates the tick's job.
//!
//! Why a firing locks its schedule's row first (`FOR UPDATE`): firings of
//! one tick from several hosts take turns, and the one that comes second
//! finds the schedule moved past the tick. The (schedule, tick) key is what
//! guarantees one job even so; the lock only makes the loser wait instead
//! of failing on the key. The plan's lock comes after it (see `jobs`).

use chrono::{DateTime, Utc};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, PgExecutor, Postgres};

use crate::db::{backend, decode, encode, PostgresStore};
use crate::jobs::{lock_plans, place, store_module};
use drbook_core::job::JobStatus;
use drbook_core::schedule::{Schedule, ScheduleRow, TickOutcome, TickRecord};
use drbook_core::store::{NewTick, OnBusy, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

const COLUMNS: &str = "schedule, paused, next_ms, last, last_job";

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Inserts schedule `s` as it stands (its module already stored), unless
/// one of its name exists.
pub(crate) fn insert(s: &Schedule) -> Query<'static, Postgres, PgArguments> {
    sqlx::query(
        "INSERT INTO schedules (name, schedule, digest, paused, next_ms, last, last_job)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(s.name.clone())
    .bind(encode(s))
    .bind(s.run.digest.clone())
    .bind(s.paused)
    .bind(s.next.map(ms))
    .bind(s.last.as_ref().map(encode))
    .bind(s.last_job.clone())
}

/// Inserts a tick's record (an import's).
pub(crate) fn insert_tick(
    schedule: &str,
    record: &TickRecord,
) -> Query<'static, Postgres, PgArguments> {
    sqlx::query("INSERT INTO schedule_ticks (schedule, tick_ms, record) VALUES ($1, $2, $3)")
        .bind(schedule.to_string())
        .bind(ms(record.tick))
        .bind(encode(record))
}

pub(crate) async fn create(store: &PostgresStore, s: &Schedule, module: &[u8]) -> Result<bool> {
    let mut tx = store.pool.begin().await.map_err(backend)?;
    store_module(&mut tx, &s.run.digest, module).await?;
    let created = insert(s).execute(&mut *tx).await.map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(created.rows_affected() == 1)
}

pub(crate) async fn get(store: &PostgresStore, name: &str) -> Result<Option<Schedule>> {
    let sql = format!("SELECT {COLUMNS} FROM schedules WHERE name = $1");
    let row: Option<ScheduleRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_optional(&store.pool)
        .await
        .map_err(backend)?;
    row.map(Schedule::from_row).transpose()
}

/// The schedules (see `JobStore::schedules`), on the store's pool or an
/// export's snapshot.
pub(crate) async fn list<'e>(
    conn: impl PgExecutor<'e>,
    due_by: Option<DateTime<Utc>>,
) -> Result<Vec<Schedule>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM schedules
         WHERE $1::bigint IS NULL OR (NOT paused AND next_ms <= $1) ORDER BY name"
    );
    let rows: Vec<ScheduleRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(due_by.map(ms))
        .fetch_all(conn)
        .await
        .map_err(backend)?;
    rows.into_iter().map(Schedule::from_row).collect()
}

pub(crate) async fn next_tick(store: &PostgresStore) -> Result<Option<DateTime<Utc>>> {
    let next: Option<i64> =
        sqlx::query_scalar("SELECT min(next_ms) FROM schedules WHERE NOT paused")
            .fetch_one(&store.pool)
            .await
            .map_err(backend)?;
    Ok(next.and_then(DateTime::from_timestamp_millis))
}

pub(crate) async fn pause(store: &PostgresStore, name: &str) -> Result<bool> {
    let done = sqlx::query("UPDATE schedules SET paused = true WHERE name = $1")
        .bind(name)
        .execute(&store.pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn resume(
    store: &PostgresStore,
    name: &str,
    next: Option<DateTime<Utc>>,
) -> Result<bool> {
    // One statement: the next tick is set only on a paused schedule (a
    // data-modifying WITH always runs), and one that exists answers true.
    let found: bool = sqlx::query_scalar(
        "WITH resumed AS (UPDATE schedules SET paused = false, next_ms = $2 WHERE name = $1 AND paused)
         SELECT EXISTS (SELECT 1 FROM schedules WHERE name = $1)",
    )
    .bind(name)
    .bind(next.map(ms))
    .fetch_one(&store.pool)
    .await
    .map_err(backend)?;
    Ok(found)
}

pub(crate) async fn delete(store: &PostgresStore, name: &str) -> Result<bool> {
    let mut tx = store.pool.begin().await.map_err(backend)?;
    let done = sqlx::query("DELETE FROM schedules WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    sqlx::query("DELETE FROM schedule_ticks WHERE schedule = $1")
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(done.rows_affected() == 1)
}

/// Ticks, each once (see `JobStore::fire_ticks`), in one transaction. Its
/// locks are taken first, in the one order every firing takes them (the
/// schedules by name, then the plans, see the module docs), so that two
/// firings of overlapping ticks never wait for each other in a cycle.
pub(crate) async fn fire(
    store: &PostgresStore,
    ticks: &[NewTick<'_>],
) -> Result<Vec<Option<TickRecord>>> {
    let mut tx = store.pool.begin().await.map_err(backend)?;
    let names: Vec<&str> = ticks.iter().map(|t| t.schedule).collect();
    sqlx::query("SELECT name FROM schedules WHERE name = ANY($1) ORDER BY name FOR UPDATE")
        .bind(&names)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    let jobs: Vec<_> = ticks.iter().filter_map(|t| t.job).collect();
    lock_plans(&mut tx, &jobs).await?;
    let mut records = Vec::with_capacity(ticks.len());
    for t in ticks {
        records.push(fire_one(&mut tx, t).await?);
    }
    tx.commit().await.map_err(backend)?;
    Ok(records)
}

/// One tick, once, in `tx`, which holds its schedule's and its plan's locks.
async fn fire_one(tx: &mut PgConnection, t: &NewTick<'_>) -> Result<Option<TickRecord>> {
    let found: Option<(bool, Option<i64>, Option<String>)> =
        sqlx::query_as("SELECT paused, next_ms, last_job FROM schedules WHERE name = $1")
            .bind(t.schedule)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
    let Some((false, Some(next), last_job)) = found else {
        return Ok(None);
    };
    if next > ms(t.tick) {
        return Ok(None);
    }
    let keyed = sqlx::query(
        "INSERT INTO schedule_ticks (schedule, tick_ms, record) VALUES ($1, $2, '')
         ON CONFLICT DO NOTHING",
    )
    .bind(t.schedule)
    .bind(ms(t.tick))
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if keyed.rows_affected() == 0 {
        return Ok(None);
    }
    let running = match last_job {
        Some(id) => still_going(&mut *tx, &id).await?.then_some(id),
        None => None,
    };
    let outcome = match (t.job, running) {
        (None, _) => TickOutcome::Missed { missed: t.missed },
        (Some(_), Some(job)) => TickOutcome::Overlap { job },
        (Some(job), None) => {
            let busy = place(&mut *tx, job, OnBusy::Refuse).await?;
            TickOutcome::placed(job, t.missed, busy)
        }
    };
    let record = TickRecord {
        tick: t.tick,
        at: t.at,
        outcome,
    };
    sqlx::query("UPDATE schedule_ticks SET record = $3 WHERE schedule = $1 AND tick_ms = $2")
        .bind(t.schedule)
        .bind(ms(t.tick))
        .bind(encode(&record))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    sqlx::query(
        "UPDATE schedules SET next_ms = $2, last = $3, last_job = coalesce($4, last_job)
         WHERE name = $1",
    )
    .bind(t.schedule)
    .bind(t.next.map(ms))
    .bind(encode(&record))
    .bind(record.outcome.job())
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    Ok(Some(record))
}

/// Whether job `id` has not ended (a job pruned away has).
async fn still_going(conn: &mut PgConnection, id: &str) -> Result<bool> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(backend)?;
    Ok(match state {
        Some(state) => !decode::<JobStatus>("job state", &state)?.is_terminal(),
        None => false,
    })
}

/// A schedule's latest `limit` ticks, newest first, on the store's pool or
/// an export's snapshot.
pub(crate) async fn ticks<'e>(
    conn: impl PgExecutor<'e>,
    name: &str,
    limit: usize,
) -> Result<Vec<TickRecord>> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT record FROM schedule_ticks WHERE schedule = $1 ORDER BY tick_ms DESC LIMIT $2",
    )
    .bind(name)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(conn)
    .await
    .map_err(backend)?;
    rows.iter().map(|r| decode("schedule tick", r)).collect()
}
