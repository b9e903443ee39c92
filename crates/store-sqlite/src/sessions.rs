//! Browser sessions in SQLite (schema 9's `sessions`): the hash of each
//! session id, never the id.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use crate::db::{decode, encode, from_millis, millis, Result, SqliteStore};
use drbook_core::token::{SignedInWith, StoredSession};

const COLUMNS: &str = "hash, principal, scopes, token, subject, created_ms, expires_ms, revoked_ms";

/// A row, its scopes still JSON.
type Row = (StoredSession, String);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let via = match (
        r.get::<_, Option<String>>(3)?,
        r.get::<_, Option<String>>(4)?,
    ) {
        (Some(name), _) => SignedInWith::Token { name },
        (None, subject) => SignedInWith::Oidc {
            subject: subject.unwrap_or_default(),
        },
    };
    let session = StoredSession {
        hash: r.get(0)?,
        principal: r.get(1)?,
        scopes: Vec::new(),
        via,
        created: from_millis(r.get(5)?),
        expires: from_millis(r.get(6)?),
        revoked: r.get::<_, Option<i64>>(7)?.map(from_millis),
    };
    Ok((session, r.get(2)?))
}

impl SqliteStore {
    pub(crate) fn create_session(&self, s: &StoredSession) -> Result<()> {
        let (token, subject) = match &s.via {
            SignedInWith::Token { name } => (Some(name), None),
            SignedInWith::Oidc { subject } => (None, Some(subject)),
        };
        self.write(|tx| {
            tx.prepare_cached(&format!(
                "INSERT INTO sessions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))?
            .execute(params![
                s.hash,
                s.principal,
                encode(&s.scopes),
                token,
                subject,
                millis(s.created),
                millis(s.expires),
                s.revoked.map(millis)
            ])?;
            Ok(())
        })
    }

    pub(crate) fn session_by_hash(&self, hash: &str) -> Result<Option<StoredSession>> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM sessions WHERE hash = ?1"))?;
        let found = stmt.query_row([hash], row).optional()?;
        found
            .map(|(mut session, scopes)| {
                session.scopes = decode("session scopes", &scopes)?;
                Ok(session)
            })
            .transpose()
    }

    pub(crate) fn revoke_session(&self, hash: &str, at: DateTime<Utc>) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE sessions SET revoked_ms = coalesce(revoked_ms, ?2) WHERE hash = ?1",
                params![hash, millis(at)],
            )?;
            Ok(n == 1)
        })
    }

    pub(crate) fn prune_sessions(&self, before: DateTime<Utc>) -> Result<usize> {
        self.write(|tx| {
            let n = tx.execute(
                "DELETE FROM sessions WHERE expires_ms < ?1",
                [millis(before)],
            )?;
            Ok(n)
        })
    }
}
