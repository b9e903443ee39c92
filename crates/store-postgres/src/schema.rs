//! Versioned migrations: SQL files in `migrations/`, embedded in the build,
//! applied in order in one transaction, each recorded in `schema_version`.
//! Several hosts migrating at once take turns (an advisory lock), and a
//! store newer than this build is refused and left untouched, as SQLite's
//! is.

use std::path::PathBuf;

use crate::db::{backend, PostgresStore};
use drbook_core::store::StoreError;

/// `MIGRATIONS[n]` takes a store from schema `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_jobs.sql"),
    include_str!("../migrations/0002_lease_renewed.sql"),
    include_str!("../migrations/0003_schedules.sql"),
    include_str!("../migrations/0004_attempts.sql"),
    include_str!("../migrations/0005_tokens.sql"),
    include_str!("../migrations/0006_sessions.sql"),
    include_str!("../migrations/0007_job_pages.sql"),
];

/// The schema this build reads and writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock migrations take turns on (any number unique to drbook).
const MIGRATION_LOCK: i64 = 0x6472_626f_6f6b;

/// The schema the store has: 0 if it has none yet.
pub(crate) async fn version(store: &PostgresStore) -> Result<i64, StoreError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('schema_version') IS NOT NULL")
        .fetch_one(&store.pool)
        .await
        .map_err(backend)?;
    if !exists {
        return Ok(0);
    }
    let found: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM schema_version")
        .fetch_one(&store.pool)
        .await
        .map_err(backend)?;
    Ok(found.unwrap_or(0))
}

/// Applies the migrations the store lacks; returns the schema it had.
pub(crate) async fn migrate(store: &PostgresStore) -> Result<i64, StoreError> {
    let mut tx = store.pool.begin().await.map_err(backend)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version bigint PRIMARY KEY,
             applied_ms bigint NOT NULL DEFAULT floor(extract(epoch FROM now()) * 1000)::bigint
         )",
    )
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    let found: i64 = sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM schema_version")
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::Newer {
            path: PathBuf::from(&*store.location),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, migration) in (found + 1..).zip(&MIGRATIONS[found as usize..]) {
        sqlx::raw_sql(*migration)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::Backend(format!("PostgreSQL: migration {version}: {e}")))?;
        sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(found)
}
