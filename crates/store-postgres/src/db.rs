//! The connection pool, what opening a store checks, and how this crate
//! words PostgreSQL's errors.
//!
//! Why an error of its own for opening: what goes wrong then is the
//! operator's to fix (a URL, a server down, a password, a database not
//! created, a schema not migrated), and each message says how; once open,
//! errors are the port's [`StoreError`].

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection as _;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::schema::{self, SCHEMA_VERSION};
use drbook_core::store::StoreError;

/// Connections per process: a worker's runs commit through one at a time
/// each (group commit), readers and claims take the others.
const POOL_SIZE: u32 = 8;

/// How long a call waits for a free connection, or for the server to answer
/// a new one, before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server lets one of this process's connections sit idle in a
/// transaction before it ends the session (`idle_in_transaction_session_timeout`):
/// a process stopped mid-transaction (SIGSTOP, a frozen VM) must not hold
/// the rows its transaction locked, and so every other worker, for longer.
/// drbook's transactions are a few statements with no wait between them.
const IDLE_IN_TRANSACTION: &str = "10s";

/// The job store on PostgreSQL; cheap to clone.
#[derive(Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    /// The URL without its password, for messages.
    pub(crate) location: Arc<str>,
    /// Wakes the workers of this process when another process (or host)
    /// makes a job runnable (see `notify`).
    pub(crate) events: Arc<tokio::sync::Notify>,
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// The store's URL without its password.
    pub location: String,
    /// The schema it had ([`SCHEMA_VERSION`] now).
    pub from: i64,
}

/// Why a store could not be opened: each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "`{url}` is not a PostgreSQL URL ({detail}); write it as \
         postgres://USER:PASSWORD@HOST:PORT/DATABASE ([store] url, DRBOOK_STORE_URL or --store-url)"
    )]
    BadUrl { url: String, detail: String },
    #[error(
        "cannot reach PostgreSQL at {location} ({detail}); start the server, or fix the host and port \
         in [store] url (DRBOOK_STORE_URL, --store-url)"
    )]
    Unreachable { location: String, detail: String },
    #[error(
        "PostgreSQL at {location} refused user `{user}` ({detail}); check the user and password in \
         [store] url (DRBOOK_STORE_URL, --store-url)"
    )]
    Refused {
        location: String,
        user: String,
        detail: String,
    },
    #[error(
        "database `{database}` does not exist at {location}; create it (`createdb -h HOST -p PORT -U USER \
         {database}`, or `CREATE DATABASE {database}`), then run `drbook store migrate`"
    )]
    NoDatabase { location: String, database: String },
    #[error(
        "the job store at {location} has schema {found} and this build needs {needed}: run \
         `drbook store migrate` (with this build) to bring it up to date"
    )]
    NotMigrated {
        location: String,
        found: i64,
        needed: i64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PostgresStore {
    /// Opens the store at `url`, migrated to this build's schema: a store
    /// not migrated yet is refused (`drbook store migrate` migrates it, so
    /// that an upgrade is the operator's step, not a side effect of the
    /// first worker to start), and so is a newer one.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let store = Self::connect(url).await?;
        let found = schema::version(&store).await?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::Newer {
                path: PathBuf::from(&*store.location),
                found,
                supported: SCHEMA_VERSION,
            }
            .into());
        }
        if found < SCHEMA_VERSION {
            return Err(OpenError::NotMigrated {
                location: store.location.to_string(),
                found,
                needed: SCHEMA_VERSION,
            });
        }
        store.listen().await;
        Ok(store)
    }

    /// Migrates the store at `url` to this build's schema (several hosts
    /// migrating at once take turns). A newer store is refused, and left
    /// untouched.
    pub async fn migrate(url: &str) -> Result<Migrated, OpenError> {
        let store = Self::connect(url).await?;
        let migrated = schema::migrate(&store).await;
        // Its connections closed now: a database is copied (a template) only
        // when nobody is connected to it.
        store.pool.close().await;
        Ok(Migrated {
            location: store.location.to_string(),
            from: migrated?,
        })
    }

    /// A pool on `url`, after one connection made on its own to check the
    /// server, the user and the database (a pool would retry until its
    /// timeout and then say only that it timed out).
    async fn connect(url: &str) -> Result<Self, OpenError> {
        let bad_url = |detail: String| OpenError::BadUrl {
            url: redact(url),
            detail,
        };
        if !["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
        {
            return Err(bad_url("it must start with postgres://".to_string()));
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| bad_url(e.to_string()))?
            .options([("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION)]);
        let location = location(&options);
        let first = tokio::time::timeout(ACQUIRE_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| OpenError::Unreachable {
                location: location.clone(),
                detail: format!("no answer within {ACQUIRE_TIMEOUT:?}"),
            })?
            .map_err(|e| open_error(e, &location, &options))?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // sqlx warns of every slow acquire, one per call that waited out
            // an outage; the worker warns of an outage once (drbook-jobs'
            // `worker`), and an acquire never outlasts its timeout.
            .acquire_slow_threshold(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Ok(PostgresStore {
            pool,
            location: location.into(),
            events: Arc::new(tokio::sync::Notify::new()),
        })
    }
}

/// `postgres://user@host:port/database`: what messages name, never the
/// password.
fn location(options: &PgConnectOptions) -> String {
    let host = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => options.get_host().to_string(),
    };
    format!(
        "postgres://{}@{host}:{}/{}",
        options.get_username(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username())
    )
}

/// `url` with the password of its user part (`user:password@`) replaced,
/// for a message about a URL that did not parse.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// What a first connection's failure means for the operator.
fn open_error(e: sqlx::Error, location: &str, options: &PgConnectOptions) -> OpenError {
    let location = location.to_string();
    let detail = e.to_string();
    match &e {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // invalid_password, invalid_authorization_specification
            Some("28P01") | Some("28000") => OpenError::Refused {
                location,
                user: options.get_username().to_string(),
                detail,
            },
            // invalid_catalog_name
            Some("3D000") => OpenError::NoDatabase {
                location,
                database: options
                    .get_database()
                    .unwrap_or(options.get_username())
                    .to_string(),
            },
            _ => OpenError::Store(backend(e)),
        },
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => {
            OpenError::Unreachable { location, detail }
        }
        _ => OpenError::Store(backend(e)),
    }
}

/// A PostgreSQL error as the port's: [`StoreError::Unavailable`] if the
/// server could not be reached ([`unreachable`]), else `Backend`.
pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    let text = format!("PostgreSQL: {e}");
    if unreachable(&e) {
        StoreError::Unavailable(text)
    } else {
        StoreError::Backend(text)
    }
}

/// Whether `e` says the server is down, restarting or cut off, rather than
/// that the statement is wrong: the socket failed (refused, reset, closed
/// mid-answer), no connection could be had within [`ACQUIRE_TIMEOUT`] (the
/// pool keeps trying to connect until then), a connection exception
/// (SQLSTATE class 08), or the server said it is going away or not there
/// yet (`57P01 admin_shutdown`, `57P02 crash_shutdown`, `57P03
/// cannot_connect_now`).
fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || ["57P01", "57P02", "57P03"].contains(&&*code)
        }),
        _ => false,
    }
}

pub(crate) fn decode<T: for<'de> serde::Deserialize<'de>>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Decode {
        what,
        detail: e.to_string(),
    })
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("job store values serialise")
}

pub(crate) fn from_millis(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_that_cannot_be_reached_is_unavailable_and_a_bad_statement_is_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        for e in [
            sqlx::Error::Io(refused),
            sqlx::Error::Io(reset),
            sqlx::Error::PoolTimedOut,
        ] {
            assert!(backend(e).is_unavailable());
        }
        for e in [
            sqlx::Error::RowNotFound,
            sqlx::Error::Protocol("bad".into()),
        ] {
            assert!(matches!(backend(e), StoreError::Backend(_)));
        }
    }

    #[test]
    fn a_urls_password_is_never_shown() {
        let options = PgConnectOptions::from_str("postgres://drbook:s3cret@db.example:5433/jobs")
            .expect("a URL");
        assert_eq!(location(&options), "postgres://drbook@db.example:5433/jobs");
        assert_eq!(
            redact("postgres://drbook:s3cret@db.example/jobs?sslmode=require"),
            "postgres://drbook:***@db.example/jobs?sslmode=require"
        );
        assert_eq!(
            redact("postgres://db.example/jobs"),
            "postgres://db.example/jobs"
        );
    }
}
