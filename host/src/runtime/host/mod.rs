//! The host side of each WIT interface, one file per interface, implemented on
//! [`JobState`](super::state::JobState). `add_to_linker` links them all, with
//! WASI p2 (which a Rust runbook's std imports) granting nothing.

mod clock;
mod convert;
mod log;
mod plan;
pub mod site_recovery;

use wasmtime::component::{HasSelf, Linker};

use super::bindings::Runbook;
use super::state::JobState;

pub fn add_to_linker(linker: &mut Linker<JobState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    Runbook::add_to_linker::<JobState, HasSelf<JobState>>(linker, |state| state)
}

/// `types` has no functions, only the vocabulary the other interfaces share.
impl super::bindings::types::Host for JobState {}
