//! The azure backend against the ARM emulator over HTTPS: the Fabric
//! conformance suite (the same scenarios as the simulator's), and what only
//! a real protocol shows: throttling, dropped connections after a POST,
//! re-attaching from another process, 401s, and no secret in the logs.

mod common;
mod conformance;
mod faults;
mod plan;
mod requests;
mod resources;
mod secrets;
