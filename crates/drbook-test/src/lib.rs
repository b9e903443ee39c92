//! Test a drbook runbook in `cargo test`.
//!
//! A test writes a small estate (groups of VMs, the plan's manual steps),
//! the faults to inject (the next operation of a VM fails, a region is
//! down, a VM's replication is unhealthy) and the answers to the approvals
//! the runbook will ask for; [`Scenario::run`] builds the runbook's
//! component, runs one job of it on drbook's simulator at instant speed in
//! a throwaway data directory, and returns the [`Outcome`]: the job's status,
//! result and streams, each VM's state at the end and the fabric's history.
//!
//! ```no_run
//! use drbook_test::Scenario;
//!
//! let outcome = Scenario::new()
//!     .group("databases", ["sql-01"])
//!     .group("web", ["web-01", "web-02"])
//!     .fail_next("web-02")
//!     .run();
//! assert_eq!(outcome.status(), "Failed");
//! assert_eq!(outcome.vm("sql-01").active_location(), "Recovery");
//! ```
//!
//! The harness embeds no WebAssembly runtime: it drives the `drbook`
//! binary (`$DRBOOK`, else `drbook` on `PATH`), so a runbook is tested by
//! the host that will run it: `drbook runbook build` builds it and
//! `drbook runbook test` runs the scenario.
//!
//! Layout: `scenario` (what a test sets up), `outcome` (what it asserts
//! on), `host` (finding and calling `drbook`).

mod host;
mod outcome;
mod scenario;

pub use host::{component, Error};
pub use outcome::{Outcome, Vm};
pub use scenario::Scenario;
