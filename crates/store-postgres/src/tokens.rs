//! API tokens in PostgreSQL (`api_tokens`, migration 0005): the hash of each
//! secret, never the secret.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row};

use crate::db::{backend, decode, encode, from_millis, PostgresStore};
use drbook_core::store::StoreError;
use drbook_core::token::StoredToken;

type Result<T> = std::result::Result<T, StoreError>;

const COLUMNS: &str =
    "name, hash, scopes, created_ms, created_by, expires_ms, last_used_ms, revoked_ms";

fn token(row: &PgRow) -> Result<StoredToken> {
    let millis = |name: &str| row.try_get::<Option<i64>, _>(name).map_err(backend);
    Ok(StoredToken {
        name: row.try_get("name").map_err(backend)?,
        hash: row.try_get("hash").map_err(backend)?,
        scopes: decode(
            "token scopes",
            &row.try_get::<String, _>("scopes").map_err(backend)?,
        )?,
        created: from_millis(row.try_get("created_ms").map_err(backend)?),
        created_by: row.try_get("created_by").map_err(backend)?,
        expires: from_millis(row.try_get("expires_ms").map_err(backend)?),
        last_used: millis("last_used_ms")?.map(from_millis),
        revoked: millis("revoked_ms")?.map(from_millis),
    })
}

/// The insert of `t` as it is (creation and import); affects no row if its
/// name or hash is taken.
pub(crate) fn insert(t: &StoredToken) -> Query<'static, Postgres, PgArguments> {
    sqlx::query(
        "INSERT INTO api_tokens (name, hash, scopes, created_ms, created_by, expires_ms, last_used_ms,
         revoked_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(t.name.clone())
    .bind(t.hash.clone())
    .bind(encode(&t.scopes))
    .bind(t.created.timestamp_millis())
    .bind(t.created_by.clone())
    .bind(t.expires.timestamp_millis())
    .bind(t.last_used.map(|t| t.timestamp_millis()))
    .bind(t.revoked.map(|t| t.timestamp_millis()))
}

/// Every token, by name (the store's, or an export's snapshot's).
pub(crate) async fn all<'e>(conn: impl sqlx::PgExecutor<'e>) -> Result<Vec<StoredToken>> {
    let sql = format!("SELECT {COLUMNS} FROM api_tokens ORDER BY name");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await
        .map_err(backend)?;
    rows.iter().map(token).collect()
}

impl PostgresStore {
    pub(crate) async fn create_token(&self, t: &StoredToken) -> Result<bool> {
        let done = insert(t).execute(&self.pool).await.map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn token_by_hash(&self, hash: &str) -> Result<Option<StoredToken>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE hash = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(token).transpose()
    }

    pub(crate) async fn revoke_token(&self, name: &str, at: DateTime<Utc>) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_ms = coalesce(revoked_ms, $2) WHERE name = $1",
        )
        .bind(name)
        .bind(at.timestamp_millis())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query("UPDATE sessions SET revoked_ms = coalesce(revoked_ms, $2) WHERE token = $1")
            .bind(name)
            .bind(at.timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn token_used(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_used_ms = $2 WHERE name = $1")
            .bind(name)
            .bind(at.timestamp_millis())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
