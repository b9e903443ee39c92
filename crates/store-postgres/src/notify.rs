//! Waking workers on every host: a change that makes a job runnable (a new
//! job, a job ended, woken or decided) sends a `NOTIFY` on [`CHANNEL`] in
//! its transaction, so it is delivered when, and only if, it commits; each
//! store listens on one connection of its own and wakes this process's
//! workers ([`JobStore::changed`](drbook_core::store::JobStore::changed)).
//!
//! A notification can be lost (the listening connection drops and
//! reconnects, and what was sent meanwhile is not replayed): workers keep
//! polling, so a lost one costs a poll interval, never a job.

use sqlx::postgres::PgListener;
use sqlx::PgConnection;
use std::sync::Weak;

use crate::db::{backend, PostgresStore};
use drbook_core::store::StoreError;

/// The channel drbook's stores notify and listen on.
pub(crate) const CHANNEL: &str = "drbook_jobs";

/// How often a listener with nothing received checks that its store still
/// exists.
const GONE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Tells every listening store, once the caller's transaction commits, that
/// a job may be runnable.
pub(crate) async fn runnable(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

impl PostgresStore {
    /// Starts listening on [`CHANNEL`] in the background, for as long as
    /// this store (any clone of it) exists. A store that cannot listen only
    /// polls: listening is a speed-up.
    pub(crate) async fn listen(&self) {
        let mut listener = match PgListener::connect_with(&self.pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!("cannot listen for new jobs ({e}); workers poll the store");
                return;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!("cannot listen for new jobs ({e}); workers poll the store");
            return;
        }
        let events: Weak<tokio::sync::Notify> = std::sync::Arc::downgrade(&self.events);
        tokio::spawn(async move {
            loop {
                // `recv` reconnects after a dropped connection; the timeout
                // lets the task see that its store is gone.
                let received = tokio::time::timeout(GONE_CHECK, listener.recv()).await;
                let Some(events) = events.upgrade() else {
                    return;
                };
                match received {
                    Err(_elapsed) => {}
                    Ok(Ok(_)) => events.notify_waiters(),
                    Ok(Err(e)) => {
                        tracing::debug!("listening for new jobs: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
            }
        });
    }
}
