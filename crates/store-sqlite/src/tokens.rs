//! API tokens in SQLite (schema 8's `api_tokens`): the hash of each secret,
//! never the secret.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use crate::db::{decode, encode, from_millis, millis, Result, SqliteStore};
use drbook_core::token::StoredToken;

const COLUMNS: &str =
    "name, hash, scopes, created_ms, created_by, expires_ms, last_used_ms, revoked_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(StoredToken, String)> {
    let token = StoredToken {
        name: r.get(0)?,
        hash: r.get(1)?,
        scopes: Vec::new(),
        created: from_millis(r.get(3)?),
        created_by: r.get(4)?,
        expires: from_millis(r.get(5)?),
        last_used: r.get::<_, Option<i64>>(6)?.map(from_millis),
        revoked: r.get::<_, Option<i64>>(7)?.map(from_millis),
    };
    Ok((token, r.get(2)?))
}

fn decoded((mut token, scopes): (StoredToken, String)) -> Result<StoredToken> {
    token.scopes = decode("token scopes", &scopes)?;
    Ok(token)
}

/// Inserts `t` as it is (creation and import); false if its name is taken.
pub(crate) fn insert(tx: &rusqlite::Transaction<'_>, t: &StoredToken) -> Result<bool> {
    let n = tx
        .prepare_cached(&format!(
            "INSERT OR IGNORE INTO api_tokens ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ))?
        .execute(params![
            t.name,
            t.hash,
            encode(&t.scopes),
            millis(t.created),
            t.created_by,
            millis(t.expires),
            t.last_used.map(millis),
            t.revoked.map(millis)
        ])?;
    Ok(n == 1)
}

impl SqliteStore {
    pub(crate) fn create_token(&self, token: &StoredToken) -> Result<bool> {
        self.write(|tx| insert(tx, token))
    }

    pub(crate) fn token_by_hash(&self, hash: &str) -> Result<Option<StoredToken>> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM api_tokens WHERE hash = ?1"))?;
        let row = stmt.query_row([hash], row).optional()?;
        row.map(decoded).transpose()
    }

    pub(crate) fn tokens(&self) -> Result<Vec<StoredToken>> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY name"))?;
        let rows = stmt
            .query_map([], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(decoded).collect()
    }

    pub(crate) fn revoke_token(&self, name: &str, at: DateTime<Utc>) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE api_tokens SET revoked_ms = coalesce(revoked_ms, ?2) WHERE name = ?1",
                params![name, millis(at)],
            )?;
            tx.execute(
                "UPDATE sessions SET revoked_ms = coalesce(revoked_ms, ?2) WHERE token = ?1",
                params![name, millis(at)],
            )?;
            Ok(n == 1)
        })
    }

    pub(crate) fn token_used(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE api_tokens SET last_used_ms = ?2 WHERE name = ?1",
                params![name, millis(at)],
            )?;
            Ok(())
        })
    }
}
