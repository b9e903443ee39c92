//! The job store on SQLite (`<data-dir>/jobs.db`), drbook's reference
//! [`JobStore`](drbook_core::store::JobStore): one file shared by the workers,
//! servers and commands of one host.
//!
//! Layout:
//! - `db`: the connection, the schema and its migrations, transactions.
//! - `jobs`: jobs, leases, journals, streams, approvals, stop requests.
//! - `spool`: what a running job writes, appended to a file per job and
//!   folded into the database (an optimisation invisible to callers).
//! - `retry`: a failed job made to run again from its journal, as a new
//!   attempt.
//! - `webhooks`: webhooks, their modules, alerts and seen message ids.
//! - `schedules`: schedules, their modules, and their ticks, one job each.
//! - `tokens`: API tokens (hashes only).
//! - `sessions`: browser sessions (hashes of their ids only).
//! - `export`: the whole store as portable records and back.
//! - `port`: the async `JobStore` trait on top, each call off the async
//!   threads.

mod db;
mod export;
mod jobs;
mod port;
mod retry;
mod schedules;
mod sessions;
mod spool;
mod tokens;
mod webhooks;

pub use db::{SqliteStore, SCHEMA_VERSION};
