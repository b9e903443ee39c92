//! drbook: a disaster-recovery runbook runtime. This crate is the `drbook`
//! command: one file per subcommand in `cli`, each validating its flags into
//! ready objects and driving the crates that do the work (see
//! `docs/architecture.md`): a command or a webhook (`drbook-triggers`) makes
//! a job in the job store (`drbook-core`'s `JobStore`, on SQLite in
//! `drbook-store-sqlite`), a worker runs it (`drbook-jobs`) as a sandboxed
//! instance of its runbook (`drbook-runtime`), against the fabric
//! (`drbook-fabric-sim` today).

pub mod cli;
pub mod config;
