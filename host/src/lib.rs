//! drbook: a disaster-recovery runbook runtime.
//!
//! The data path, and the module for each step:
//! - `cli`: an operator's command asks for a run; `serve`: so does a
//!   webhook or an alert;
//! - `plan`: the recovery plan the run is about;
//! - `jobs`: the run becomes a durable job in the job store, run by a worker;
//! - `runtime`: the job becomes a sandboxed instance of a runbook;
//! - `fabric`: the instance drives Site Recovery through the fabric trait,
//!   whose reference backend is the embedded simulator.

pub mod cli;
pub mod fabric;
pub mod jobs;
pub mod plan;
pub mod runtime;
pub mod serve;
