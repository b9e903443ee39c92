//! Browser sessions in PostgreSQL (`sessions`, migration 0006): the hash of
//! each session id, never the id.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::db::{backend, decode, encode, from_millis, PostgresStore};
use drbook_core::store::StoreError;
use drbook_core::token::{SignedInWith, StoredSession};

type Result<T> = std::result::Result<T, StoreError>;

const COLUMNS: &str = "hash, principal, scopes, token, subject, created_ms, expires_ms, revoked_ms";

fn session(row: &PgRow) -> Result<StoredSession> {
    let text = |name: &str| row.try_get::<Option<String>, _>(name).map_err(backend);
    let via = match (text("token")?, text("subject")?) {
        (Some(name), _) => SignedInWith::Token { name },
        (None, subject) => SignedInWith::Oidc {
            subject: subject.unwrap_or_default(),
        },
    };
    Ok(StoredSession {
        hash: row.try_get("hash").map_err(backend)?,
        principal: row.try_get("principal").map_err(backend)?,
        scopes: decode(
            "session scopes",
            &row.try_get::<String, _>("scopes").map_err(backend)?,
        )?,
        via,
        created: from_millis(row.try_get("created_ms").map_err(backend)?),
        expires: from_millis(row.try_get("expires_ms").map_err(backend)?),
        revoked: row
            .try_get::<Option<i64>, _>("revoked_ms")
            .map_err(backend)?
            .map(from_millis),
    })
}

impl PostgresStore {
    pub(crate) async fn create_session(&self, s: &StoredSession) -> Result<()> {
        let (token, subject) = match &s.via {
            SignedInWith::Token { name } => (Some(name.clone()), None),
            SignedInWith::Oidc { subject } => (None, Some(subject.clone())),
        };
        sqlx::query(
            "INSERT INTO sessions (hash, principal, scopes, token, subject, created_ms, expires_ms,
             revoked_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(s.hash.clone())
        .bind(s.principal.clone())
        .bind(encode(&s.scopes))
        .bind(token)
        .bind(subject)
        .bind(s.created.timestamp_millis())
        .bind(s.expires.timestamp_millis())
        .bind(s.revoked.map(|t| t.timestamp_millis()))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn session_by_hash(&self, hash: &str) -> Result<Option<StoredSession>> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE hash = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(session).transpose()
    }

    pub(crate) async fn revoke_session(&self, hash: &str, at: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_ms = coalesce(revoked_ms, $2) WHERE hash = $1",
        )
        .bind(hash)
        .bind(at.timestamp_millis())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn prune_sessions(&self, before: DateTime<Utc>) -> Result<usize> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_ms < $1")
            .bind(before.timestamp_millis())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() as usize)
    }
}
