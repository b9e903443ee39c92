//! drbook: a disaster-recovery runbook runtime.
//!
//! The data path, and the module for each step:
//! - `cli`: an operator's command asks for a run (later: a webhook);
//! - `plan`: the recovery plan the run is about;
//! - `runtime`: the job becomes a sandboxed instance of a runbook;
//! - `fabric`: the instance drives Site Recovery through the fabric trait,
//!   whose reference backend is the embedded simulator.

pub mod cli;
pub mod fabric;
pub mod plan;
pub mod runtime;
