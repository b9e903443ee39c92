//! drbook's model and its ports, shared by every other crate and depending on
//! none of the backends (no SQLite, HTTP server, CLI or WebAssembly engine).
//!
//! The data path, in the model's words: a [`job::Trigger`] (a command, a
//! webhook with its [`alert`], a [`schedule`]'s tick) creates a job ([`job`]) in the job store
//! ([`store`]); a worker runs it as an instance of its module ([`module`]),
//! every host call journaled ([`journal`]), against a Site Recovery fabric
//! ([`fabric`]) and a recovery plan ([`plan`]), within the job's [`scope`]; what it may reach beyond the fabric is
//! [`outside`].
//!
//! The ports, each an object-safe async trait whose docs say what every
//! backend guarantees: [`fabric::Fabric`], [`store::JobStore`] (with the
//! [`store::RunLog`] of one run), [`module::ModuleSource`].

pub mod alert;
pub mod blocking;
pub mod fabric;
pub mod job;
pub mod journal;
pub mod lease;
pub mod module;
pub mod outside;
pub mod plan;
pub mod private;
pub mod retry;
pub mod schedule;
pub mod scope;
pub mod store;
pub mod time;
pub mod token;
pub mod webhook;

pub use time::{TimeScale, TimeScaleError};
