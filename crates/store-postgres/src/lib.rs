//! The job store on PostgreSQL: one database shared by the workers, servers
//! and commands of several hosts, behind the same
//! [`JobStore`](drbook_core::store::JobStore) port as SQLite, passing the same
//! conformance suite.
//!
//! Why sqlx (0.9, its postgres driver alone, no query macros): it is async
//! on tokio without a thread per connection, pools connections, speaks
//! `LISTEN`/`NOTIFY` (`PgListener`, reconnecting), and takes its TLS from
//! rustls on aws-lc-rs, the stack reqwest already brings, so the binary gets
//! no second TLS stack. tokio-postgres with a pool would have served too,
//! with one more crate for the pool and one for TLS.
//!
//! What it guarantees beyond the port's docs, and how:
//! - Claims lock one row `FOR UPDATE SKIP LOCKED` in a transaction of one
//!   statement; no transaction is held while a runbook runs.
//! - Lease deadlines and lapses are judged on the database's clock
//!   (`drbook_now_ms()`, in every statement that compares them), so hosts
//!   whose clocks differ agree on who holds a job. A worker's own check
//!   ([`Lease::held`](drbook_core::lease::Lease::held)) uses its clock with
//!   a margin of a fifth of the lease: clocks must agree within it (NTP).
//! - Every write of a run is fenced by its lease's owner and the job's
//!   attempt (see `run`).
//! - An intent is committed (WAL flushed) before `append_intent` returns;
//!   other appends are group-committed in the background, and readers see
//!   them once committed, a few milliseconds later.
//!
//! Layout:
//! - `db`: the pool, opening a store and the errors it words.
//! - `schema`: versioned migrations (`migrations/*.sql`), `schema_version`.
//! - `jobs`: the SQL of claims, busy plans, creating and ending jobs.
//! - `run`: a run's log: fenced, group-committed.
//! - `retry`: a failed job made to run again from its journal.
//! - `webhooks`: webhooks, deliveries, alerts.
//! - `schedules`: schedules and their ticks, one job each.
//! - `tokens`: API tokens (hashes only).
//! - `sessions`: browser sessions (hashes of their ids only).
//! - `export`: the whole store as portable records and back.
//! - `notify`: `LISTEN`/`NOTIFY`, to wake workers at once.
//! - `port`: the `JobStore` trait on top.
//! - `testing` (feature `testing`): a throwaway cluster for tests.

mod db;
mod export;
mod jobs;
mod notify;
mod port;
mod retry;
mod run;
mod schedules;
mod schema;
mod sessions;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;
mod webhooks;

pub use db::{Migrated, OpenError, PostgresStore};
pub use schema::SCHEMA_VERSION;
