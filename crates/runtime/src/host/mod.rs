//! The host side of each WIT interface, one file per interface, implemented on
//! [`InstanceState`](super::state::InstanceState). `add_to_linker` links them all, with
//! WASI p2 (which a Rust runbook's std imports) granting nothing, and its
//! clocks, randomness and waits served by `wasi`: journaled and bounded.

mod approval;
mod azure;
mod clock;
mod convert;
mod http;
mod log;
mod outside;
mod plan;
pub mod site_recovery;
mod wasi;

pub(crate) use approval::NoJobStore;
pub use http::OutsideCalls;
pub(crate) use wasi::JobClock;

use wasmtime::component::{HasSelf, Linker};

use super::bindings::Runbook;
use super::state::InstanceState;

pub fn add_to_linker(linker: &mut Linker<InstanceState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    wasi::add_to_linker(linker)?;
    Runbook::add_to_linker::<InstanceState, HasSelf<InstanceState>>(linker, |state| state)
}

/// `types` has no functions, only the vocabulary the other interfaces share.
impl super::bindings::types::Host for InstanceState {}
